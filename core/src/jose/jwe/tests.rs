// With the ring backend only the backend-independent tests run.
#![cfg_attr(feature = "ring", allow(dead_code))]

use super::*;

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// RFC 7518 Appendix C: Bob's key (the recipient), as PKCS#8.
const BOB_PKCS8: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104205449836690d75caf29f0dd029ddb31b3ddb8aba9d2d515c5012465e817d4a9dca14403420004c1e349cb61ec70248ce801034c3834e1b88ebe1161cb25af38741f785fcfc4c47bc96708ef80952b53f8d2555fe72b841ed04588628b1d378a594939500ec9c9";

/// RFC 7518 Appendix C: Alice's ephemeral public key.
const ALICE_EPK: &str = r#"{"kty":"EC","crv":"P-256","x":"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0","y":"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"}"#;

#[test]
fn concat_kdf_matches_rfc7518_appendix_c() {
    let z = [
        158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49, 110,
        163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
    ];
    let key = concat_kdf(&z, "A128GCM", b"Alice", b"Bob", 16);
    assert_eq!(b64(&key), "VqqN6vgjbSBcIijNcacQGg");
}

#[test]
fn names_are_an_allow_list_rfc7518_4_1_and_5_1() {
    for n in ["RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A256KW"] {
        assert_eq!(JweAlgorithm::from_name(n).map(|a| a.as_str()), Some(n));
    }
    for n in [
        "dir",
        "RSA1_5",
        "RSA-OAEP",
        "A256KW",
        "ECDH-ES+A128KW",
        "none",
        "rsa-oaep-256",
    ] {
        assert_eq!(JweAlgorithm::from_name(n), None, "{n}");
    }
    for n in ["A128CBC-HS256", "A192GCM", "a128gcm"] {
        assert_eq!(JweEncryption::from_name(n), None, "{n}");
    }
}

#[test]
fn encryption_jwks_are_read_by_use_type_and_alg_rfc7517_4() {
    let doc = serde_json::json!({"keys": [
        {"kty": "EC", "crv": "P-256", "use": "sig", "x": b64(&[1; 32]), "y": b64(&[2; 32])},
        {"kty": "EC", "crv": "P-384", "use": "enc", "x": b64(&[1; 48]), "y": b64(&[2; 48])},
        {"kty": "RSA", "alg": "RS256", "n": b64(&[3; 256]), "e": "AQAB"},
        {"kty": "RSA", "alg": "RSA1_5", "n": b64(&[3; 256]), "e": "AQAB"},
        {"kty": "EC", "crv": "P-256", "alg": "RSA-OAEP-256", "x": b64(&[1; 32]), "y": b64(&[2; 32])},
        {"kty": "EC", "crv": "P-256", "kid": "e1", "x": b64(&[1; 32]), "y": b64(&[2; 32])},
        {"kty": "RSA", "kid": "r1", "use": "enc", "alg": "RSA-OAEP-256", "n": b64(&[3; 256]), "e": "AQAB"},
    ]});
    let keys = EncryptionJwk::from_document(&doc);
    let kids: Vec<_> = keys.iter().map(|k| k.kid.as_deref()).collect();
    assert_eq!(
        kids,
        [Some("e1"), Some("r1")],
        "sig, P-384, signing or foreign algs skipped"
    );
    assert_eq!(
        select_recipient(&keys, JweAlgorithm::RsaOaep256).and_then(|k| k.kid.as_deref()),
        Some("r1")
    );
    assert_eq!(
        select_recipient(&keys, JweAlgorithm::EcdhEs).and_then(|k| k.kid.as_deref()),
        Some("e1")
    );
    let back = EncryptionJwk::from_value(&keys[1].to_value()).expect("round trip");
    assert_eq!(back, keys[1]);
}

fn key(alg: JweAlgorithm) -> DecryptionKey {
    DecryptionKey::generate(alg).expect("key").0
}

#[cfg(not(feature = "ring"))]
mod aws {
    use super::*;
    use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

    fn roundtrip(alg: JweAlgorithm, enc: JweEncryption) {
        let k = key(alg);
        let token = encrypt(
            k.public_jwk(),
            alg,
            enc,
            HeaderOptions {
                typ: Some("JWT"),
                cty: Some("JWT"),
            },
            b"hello",
        )
        .expect("encrypt");
        assert_eq!(token.split('.').count(), 5);
        let out = decrypt(&token, &[&k]).expect("decrypt");
        assert_eq!(out.plaintext, b"hello");
        assert_eq!(out.header.alg, alg);
        assert_eq!(out.header.enc, enc);
        assert_eq!(
            out.header.kid.as_deref(),
            Some(k.kid()),
            "recipient kid in the header"
        );
        assert!(out.header.is_nested_jwt());
    }

    #[test]
    fn every_alg_and_enc_round_trips_rfc7516_5() {
        for alg in JweAlgorithm::ALL {
            for enc in JweEncryption::ALL {
                roundtrip(alg, enc);
            }
        }
    }

    #[test]
    fn a256gcm_matches_rfc7516_appendix_a1_content_encryption() {
        // RFC 7516 A.1.2–A.1.6: the CEK, IV and AAD of the example and its ciphertext and tag.
        let cek = [
            177, 161, 244, 128, 84, 143, 225, 115, 63, 180, 3, 255, 107, 154, 212, 246, 138, 7,
            110, 91, 112, 46, 34, 105, 47, 130, 203, 46, 122, 234, 64, 252,
        ];
        let iv = [227, 197, 117, 252, 2, 219, 233, 68, 180, 225, 77, 219];
        let aad = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ";
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &cek).expect("key"));
        let mut m = b"The true sign of intelligence is not knowledge but imagination.".to_vec();
        let tag = k
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(aad.as_bytes()),
                &mut m,
            )
            .expect("seal");
        assert_eq!(
            b64(&m),
            "5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A"
        );
        assert_eq!(b64(tag.as_ref()), "XFBoMYUZodetZdvTiFvSkQ");
    }

    #[test]
    fn aes_key_wrap_matches_rfc3394_4_6() {
        use aws_lc_rs::key_wrap::{AES_256, KeyEncryptionKey, KeyWrap};
        let kek = hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
        let data = hex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
        let mut out = [0u8; 40];
        let wrapped = KeyEncryptionKey::new(&AES_256, &kek)
            .expect("kek")
            .wrap(&data, &mut out)
            .expect("wrap");
        assert_eq!(
            wrapped.to_vec(),
            hex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21")
        );
    }

    /// A JWE made by hand from RFC 7518 Appendix C (Alice's epk, apu "Alice", apv "Bob",
    /// the derived key of C): Bob's key decrypts it, so agreement, KDF and the
    /// `apu`/`apv` handling match the RFC.
    #[test]
    fn ecdh_es_decrypts_the_rfc7518_appendix_c_agreement() {
        let bob = DecryptionKey::from_pkcs8(&hex(BOB_PKCS8)).expect("bob");
        let header = format!(
            r#"{{"alg":"ECDH-ES","enc":"A128GCM","apu":"QWxpY2U","apv":"Qm9i","epk":{ALICE_EPK}}}"#
        );
        let h = b64(header.as_bytes());
        let cek = URL_SAFE_NO_PAD
            .decode("VqqN6vgjbSBcIijNcacQGg")
            .expect("cek");
        let k = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek).expect("key"));
        let iv = [7u8; 12];
        let mut m = b"appendix C".to_vec();
        let tag = k
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(h.as_bytes()),
                &mut m,
            )
            .expect("seal");
        let token = format!("{h}..{}.{}.{}", b64(&iv), b64(&m), b64(tag.as_ref()));
        let out = decrypt(&token, &[&bob]).expect("decrypts");
        assert_eq!(out.plaintext, b"appendix C");
        // Without apu/apv the derived key differs: the tag no longer verifies.
        let no_party = format!(r#"{{"alg":"ECDH-ES","enc":"A128GCM","epk":{ALICE_EPK}}}"#);
        let h2 = b64(no_party.as_bytes());
        let token2 = format!("{h2}..{}.{}.{}", b64(&iv), b64(&m), b64(tag.as_ref()));
        assert_eq!(decrypt(&token2, &[&bob]).err(), Some(JweError::Decryption));
    }

    #[derive(serde::Deserialize)]
    struct Vectors {
        der: String,
        t1: String,
        t2: String,
        t3: String,
    }

    /// Tokens made by the npm `jose` library (6.2.18, `CompactEncrypt`): RSA-OAEP-256 +
    /// A256GCM to an RSA key, ECDH-ES+A256KW + A128GCM and ECDH-ES + A256GCM (with apu and
    /// apv) to Bob's key of RFC 7518 Appendix C.
    #[test]
    fn tokens_made_by_npm_jose_decrypt() {
        use base64::engine::general_purpose::STANDARD;
        let v: Vectors =
            serde_json::from_str(include_str!("npm_jose_vectors.json")).expect("vectors");
        let rsa = DecryptionKey::from_pkcs8(&STANDARD.decode(&v.der).expect("b64")).expect("rsa");
        let bob = DecryptionKey::from_pkcs8(&hex(BOB_PKCS8)).expect("bob");
        for t in [&v.t1, &v.t2, &v.t3] {
            let out = decrypt(t, &[&rsa, &bob]).expect("decrypts");
            assert_eq!(out.plaintext, b"Live long and prosper.");
        }
        assert_eq!(
            decrypt(&v.t1, &[&rsa]).expect("rsa").header.alg,
            JweAlgorithm::RsaOaep256
        );
        assert_eq!(
            decrypt(&v.t2, &[&bob]).expect("kw").header.enc,
            JweEncryption::A128GCM
        );
    }

    fn token(alg: JweAlgorithm, k: &DecryptionKey) -> String {
        encrypt(
            k.public_jwk(),
            alg,
            JweEncryption::A128GCM,
            HeaderOptions::default(),
            b"secret claims",
        )
        .expect("encrypt")
    }

    fn replace_part(token: &str, i: usize, f: impl FnOnce(Vec<u8>) -> Vec<u8>) -> String {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[i] = b64(&f(URL_SAFE_NO_PAD.decode(&parts[i]).expect("b64")));
        parts.join(".")
    }

    fn with_header(
        token: &str,
        edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
    ) -> String {
        replace_part(token, 0, |h| {
            let mut v: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&h).expect("header");
            edit(&mut v);
            serde_json::to_vec(&v).expect("json")
        })
    }

    #[test]
    fn tampering_with_any_part_fails_the_tag_rfc7516_5_2() {
        for alg in JweAlgorithm::ALL {
            let k = key(alg);
            let t = token(alg, &k);
            // Ciphertext, tag, IV.
            for i in [2, 3, 4] {
                let bad = replace_part(&t, i, |mut v| {
                    v[0] ^= 1;
                    v
                });
                assert_eq!(
                    decrypt(&bad, &[&k]).err(),
                    Some(JweError::Decryption),
                    "{alg} part {i}"
                );
            }
            // The header is the AAD: any change (here an added typ) fails the tag.
            let bad = with_header(&t, |h| {
                h.insert("typ".into(), "JWT".into());
            });
            assert_eq!(
                decrypt(&bad, &[&k]).err(),
                Some(JweError::Decryption),
                "{alg} header"
            );
            if alg != JweAlgorithm::EcdhEs {
                let bad = replace_part(&t, 1, |mut v| {
                    v[5] ^= 1;
                    v
                });
                assert_eq!(
                    decrypt(&bad, &[&k]).err(),
                    Some(JweError::Decryption),
                    "{alg} key"
                );
            }
        }
    }

    #[test]
    fn a_key_of_the_wrong_type_is_never_used_no_key_confusion() {
        let rsa = key(JweAlgorithm::RsaOaep256);
        let ec = key(JweAlgorithm::EcdhEs);
        let t = token(JweAlgorithm::RsaOaep256, &rsa);
        assert!(matches!(decrypt(&t, &[&ec]), Err(JweError::NoKey { .. })));
        // A header claiming ECDH-ES over an RSA-encrypted token finds no RSA key to use.
        let t = token(JweAlgorithm::EcdhEs, &ec);
        assert!(matches!(decrypt(&t, &[&rsa]), Err(JweError::NoKey { .. })));
        // Encrypting: the recipient key must fit alg.
        assert!(matches!(
            encrypt(
                rsa.public_jwk(),
                JweAlgorithm::EcdhEs,
                JweEncryption::A128GCM,
                HeaderOptions::default(),
                b"x"
            ),
            Err(JweError::KeyMismatch { .. })
        ));
        // Even under the kid the token names, a key of another type is not tried.
        let t = token(JweAlgorithm::RsaOaep256, &rsa);
        let ec_same_kid = key(JweAlgorithm::EcdhEs).with_kid(rsa.kid());
        assert!(matches!(
            decrypt(&t, &[&ec_same_kid]),
            Err(JweError::NoKey { .. })
        ));
        // A key limited to ECDH-ES does not serve ECDH-ES+A256KW, to decrypt or encrypt.
        let kw = key(JweAlgorithm::EcdhEsA256kw);
        let t = token(JweAlgorithm::EcdhEsA256kw, &kw);
        let direct_only = key(JweAlgorithm::EcdhEs).with_kid(kw.kid());
        assert!(matches!(
            decrypt(&t, &[&direct_only]),
            Err(JweError::NoKey { .. })
        ));
        assert!(matches!(
            encrypt(
                direct_only.public_jwk(),
                JweAlgorithm::EcdhEsA256kw,
                JweEncryption::A128GCM,
                HeaderOptions::default(),
                b"x"
            ),
            Err(JweError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn a_kid_in_the_header_picks_the_key_rfc7516_4_1_6() {
        let a = key(JweAlgorithm::RsaOaep256);
        let b = key(JweAlgorithm::RsaOaep256).with_kid("b");
        let t = token(JweAlgorithm::RsaOaep256, &a);
        assert_eq!(decrypt(&t, &[&b, &a]).expect("a").key_id, a.kid());
        assert!(matches!(
            decrypt(&t, &[&b]),
            Err(JweError::NoKey { kid: Some(_), .. })
        ));
        // Without kid every fitting key is tried.
        let no_kid = with_header(&t, |h| {
            h.remove("kid");
        });
        // (The header changed, so the tag fails: what matters is that a key was tried.)
        assert_eq!(
            decrypt(&no_kid, &[&b, &a]).err(),
            Some(JweError::Decryption)
        );
    }

    #[test]
    fn unknown_alg_enc_dir_rsa1_5_zip_and_crit_are_refused_rfc7516_4_1() {
        let k = key(JweAlgorithm::RsaOaep256);
        let t = token(JweAlgorithm::RsaOaep256, &k);
        for alg in ["dir", "RSA1_5", "RSA-OAEP", "A128KW", "none"] {
            let bad = with_header(&t, |h| {
                h.insert("alg".into(), alg.into());
            });
            assert_eq!(
                decrypt(&bad, &[&k]).err(),
                Some(JweError::UnsupportedAlgorithm { found: alg.into() })
            );
        }
        for enc in ["A128CBC-HS256", "A192GCM"] {
            let bad = with_header(&t, |h| {
                h.insert("enc".into(), enc.into());
            });
            assert_eq!(
                decrypt(&bad, &[&k]).err(),
                Some(JweError::UnsupportedEncryption { found: enc.into() })
            );
        }
        let bad = with_header(&t, |h| {
            h.insert("zip".into(), "DEF".into());
        });
        assert_eq!(
            decrypt(&bad, &[&k]).err(),
            Some(JweError::Compressed {
                found: "DEF".into()
            })
        );
        let bad = with_header(&t, |h| {
            h.insert("crit".into(), serde_json::json!(["exp"]));
            h.insert("exp".into(), 1.into());
        });
        assert_eq!(decrypt(&bad, &[&k]).err(), Some(JweError::Critical));
        let bad = with_header(&t, |h| {
            h.insert("jku".into(), "https://attacker.example/jwks".into());
        });
        assert_eq!(
            decrypt(&bad, &[&k]).err(),
            Some(JweError::UnknownMember { name: "jku".into() })
        );
        // epk with RSA does not belong.
        let bad = with_header(&t, |h| {
            h.insert("epk".into(), serde_json::from_str(ALICE_EPK).expect("epk"));
        });
        assert_eq!(
            decrypt(&bad, &[&k]).err(),
            Some(JweError::UnknownMember { name: "epk".into() })
        );
        let bad = with_header(&t, |h| {
            h.insert("kid".into(), 5.into());
        });
        assert!(matches!(
            decrypt(&bad, &[&k]),
            Err(JweError::HeaderMember { name: "kid", .. })
        ));
    }

    #[test]
    fn a_bad_epk_is_refused_rfc7518_4_6_1_1_and_rfc8725_3_4() {
        let k = key(JweAlgorithm::EcdhEs);
        let t = token(JweAlgorithm::EcdhEs, &k);
        let epk = |edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
            with_header(&t, |h| {
                let e = h
                    .get_mut("epk")
                    .and_then(|e| e.as_object_mut())
                    .expect("epk");
                edit(e);
            })
        };
        let cases: Vec<(String, &str)> = vec![
            (
                with_header(&t, |h| {
                    h.remove("epk");
                }),
                "missing",
            ),
            (
                epk(&|e| {
                    e.insert("crv".into(), "P-384".into());
                }),
                "crv",
            ),
            (
                epk(&|e| {
                    e.insert("kty".into(), "OKP".into());
                }),
                "kty",
            ),
            (
                epk(&|e| {
                    e.insert("d".into(), "AAAA".into());
                }),
                "private",
            ),
            (
                epk(&|e| {
                    e.insert("x".into(), b64(&[1; 31]).into());
                }),
                "32-byte",
            ),
            // A point not on P-256 (invalid-curve attack).
            (
                epk(&|e| {
                    e.insert("y".into(), b64(&[1; 32]).into());
                }),
                "not on P-256",
            ),
        ];
        for (bad, reason) in cases {
            match decrypt(&bad, &[&k]) {
                Err(JweError::EphemeralKey { reason: r }) => {
                    assert!(r.contains(reason), "{r} / {reason}")
                }
                other => panic!("{reason}: {other:?}"),
            }
        }
    }

    #[test]
    fn lengths_and_parts_are_bounded_rfc7518_5_3() {
        let k = key(JweAlgorithm::EcdhEsA256kw);
        let t = token(JweAlgorithm::EcdhEsA256kw, &k);
        let short_tag = replace_part(&t, 4, |mut v| {
            v.truncate(12);
            v
        });
        assert_eq!(
            decrypt(&short_tag, &[&k]).err(),
            Some(JweError::Length {
                part: "tag",
                expected: 16,
                found: 12
            })
        );
        let long_iv = replace_part(&t, 2, |mut v| {
            v.push(0);
            v
        });
        assert!(matches!(
            decrypt(&long_iv, &[&k]),
            Err(JweError::Length { part: "iv", .. })
        ));
        let wrapped = replace_part(&t, 1, |mut v| {
            v.push(0);
            v
        });
        assert!(matches!(
            decrypt(&wrapped, &[&k]),
            Err(JweError::Length {
                part: "encrypted key",
                expected: 24,
                ..
            })
        ));
        let d = key(JweAlgorithm::EcdhEs);
        let direct = replace_part(&token(JweAlgorithm::EcdhEs, &d), 1, |_| vec![1; 24]);
        assert!(matches!(
            decrypt(&direct, &[&d]),
            Err(JweError::Length {
                part: "encrypted key",
                expected: 0,
                ..
            })
        ));
        assert_eq!(
            decrypt("a.b.c", &[&k]).err(),
            Some(JweError::Parts { found: 3 })
        );
        let huge = format!("{t}{}", "A".repeat(MAX_JWE_LEN));
        assert!(matches!(
            decrypt(&huge, &[&k]),
            Err(JweError::TooLarge { part: "token", .. })
        ));
    }

    #[test]
    fn a_small_rsa_key_is_refused_rfc7518_4_3() {
        let small = EncryptionJwk::new(PublicKey::Rsa {
            n: vec![0xC1; 128],
            e: vec![1, 0, 1],
        });
        assert!(matches!(
            encrypt(
                &small,
                JweAlgorithm::RsaOaep256,
                JweEncryption::A128GCM,
                HeaderOptions::default(),
                b"x"
            ),
            Err(JweError::BadKey(_))
        ));
    }
}

#[cfg(feature = "ring")]
#[test]
fn the_ring_backend_answers_unsupported_not_a_panic() {
    assert_eq!(
        DecryptionKey::generate(JweAlgorithm::EcdhEs).err(),
        Some(JweError::Unsupported)
    );
    let jwk = EncryptionJwk::new(PublicKey::P256 {
        x: [1; 32],
        y: [2; 32],
    });
    assert_eq!(
        encrypt(
            &jwk,
            JweAlgorithm::EcdhEs,
            JweEncryption::A128GCM,
            HeaderOptions::default(),
            b"x"
        )
        .err(),
        Some(JweError::Unsupported)
    );
    assert!(JweError::Unsupported.to_string().contains("aws-lc-rs"));
}
