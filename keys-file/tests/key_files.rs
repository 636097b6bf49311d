//! Key files as real tools write them (the `openssl` command line, which `.ci/run` makes
//! sure of), published JWKS, rotation states and reload.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use idpkit_core::crypto;
use idpkit_core::{Algorithm, KeyProvider};
use idpkit_keys_file::{KeyDir, KeyFileError, MANIFEST};

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, name: &str, content: &str) {
    std::fs::write(dir.join(name), content).expect("write");
}

async fn sign_and_verify(keys: &dyn KeyProvider, alg: Algorithm) -> String {
    let key = keys.signing_key(alg).await.expect("active key");
    let sig = keys.sign(&key, b"header.payload").await.expect("sign");
    let jwks = keys.jwks().await.expect("jwks");
    let jwk = jwks.find(&key.kid).expect("signing key is published");
    assert!(
        idpkit_core::jose::verify_with_jwk(jwk, alg, b"header.payload", &sig),
        "{alg} signature verifies with the published key"
    );
    key.kid
}

fn err_of(dir: &Path) -> String {
    KeyDir::open(dir).expect_err("must be refused").to_string()
}

#[tokio::test]
async fn loads_every_supported_pem_form() {
    let cases: &[(&str, &[&[&str]], Algorithm)] = &[
        (
            "rsa-pkcs8",
            &[&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "k.pem",
            ]],
            Algorithm::RS256,
        ),
        (
            "rsa-pkcs1",
            &[
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-out",
                    "tmp",
                ],
                &["pkey", "-in", "tmp", "-traditional", "-out", "k.pem"],
            ],
            Algorithm::RS256,
        ),
        (
            "ec-sec1",
            &[&[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "k.pem",
            ]],
            Algorithm::ES256,
        ),
        (
            "ec-pkcs8",
            &[&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "k.pem",
            ]],
            Algorithm::ES256,
        ),
        (
            "ed25519",
            &[&["genpkey", "-algorithm", "ed25519", "-out", "k.pem"]],
            Algorithm::EdDSA,
        ),
    ];
    for (name, commands, alg) in cases {
        let dir = tempfile::tempdir().expect("dir");
        for c in *commands {
            openssl(c, dir.path());
        }
        let _ = std::fs::remove_file(dir.path().join("tmp"));
        let head = std::fs::read_to_string(dir.path().join("k.pem")).expect("pem");
        let keys = KeyDir::open(dir.path()).unwrap_or_else(|e| panic!("{name}: {e}\n{head}"));
        let kid = sign_and_verify(&keys, *alg).await;
        // The kid is the RFC 7638 thumbprint, the same for every process loading the file.
        let again = KeyDir::open(dir.path()).expect("reload");
        assert_eq!(
            again.signing_key(*alg).await.expect("key").kid,
            kid,
            "{name}: stable kid"
        );
        let jwks = keys.jwks().await.expect("jwks");
        assert_eq!(jwks.keys()[0].thumbprint(), kid, "{name}");
        assert_eq!(
            jwks.to_json(),
            again.jwks().await.expect("jwks").to_json(),
            "{name}: identical JWKS bytes"
        );
    }
}

#[tokio::test]
async fn certificate_and_key_publish_x5c_and_x5t() {
    let dir = tempfile::tempdir().expect("dir");
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "privateKey.key",
            "-out",
            "certificate.crt",
            "-subj",
            "/CN=idpkit test",
            "-days",
            "30",
        ],
        dir.path(),
    );
    write(
        dir.path(),
        MANIFEST,
        r#"{"keys":[{"file":"certificate.crt","key":"privateKey.key","state":"active"}]}"#,
    );
    let keys = KeyDir::open(dir.path()).expect("loads");
    sign_and_verify(&keys, Algorithm::RS256).await;
    let jwks = keys.jwks().await.expect("jwks");
    let jwk = &jwks.keys()[0];
    let x5c = jwk.x5c.as_ref().expect("x5c published");
    let pem = std::fs::read(dir.path().join("certificate.crt")).expect("cert");
    let der = pem::parse(pem).expect("pem").into_contents();
    use base64::Engine;
    assert_eq!(
        x5c[0],
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    assert_eq!(
        jwk.x5t_s256.as_deref(),
        Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(crypto::sha256(&der))
                .as_str()
        )
    );

    // A certificate of another key is refused with both names in the message.
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "other.key",
        ],
        dir.path(),
    );
    write(
        dir.path(),
        MANIFEST,
        r#"{"keys":[{"file":"certificate.crt","key":"other.key","state":"active"}]}"#,
    );
    let e = err_of(dir.path());
    assert!(
        e.contains("certificate.crt") && e.contains("does not match"),
        "{e}"
    );
}

/// Reads `openssl pkey -text` hex fields into base64url JWK members.
fn rsa_jwk_from_openssl(dir: &Path) -> serde_json::Value {
    let out = Command::new("openssl")
        .args(["pkey", "-in", "k.pem", "-text", "-noout"])
        .current_dir(dir)
        .output()
        .expect("openssl");
    let text = String::from_utf8(out.stdout).expect("utf8");
    let mut fields = std::collections::HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_suffix(':').filter(|l| !l.starts_with(' ')) {
            current = Some(name.to_owned());
            fields.insert(name.to_owned(), String::new());
        } else if line.starts_with("publicExponent") {
            let e: u64 = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .expect("exponent");
            fields.insert("publicExponent".into(), format!("{e:x}"));
            current = None;
        } else if let Some(c) = &current {
            fields
                .get_mut(c)
                .expect("field")
                .push_str(&line.trim().replace(':', ""));
        }
    }
    let b64 = |name: &str| {
        let mut hex = fields
            .get(name)
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .clone();
        if hex.len() % 2 == 1 {
            hex.insert(0, '0');
        }
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(0);
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[start..])
    };
    serde_json::json!({
        "kty": "RSA", "kid": "from-jwk", "n": b64("modulus"), "e": b64("publicExponent"), "d": b64("privateExponent"),
        "p": b64("prime1"), "q": b64("prime2"), "dp": b64("exponent1"), "dq": b64("exponent2"), "qi": b64("coefficient"),
    })
}

#[tokio::test]
async fn jwk_and_jwks_files_with_private_members() {
    // RSA: the same key as PEM and as JWK signs with the same public key.
    let dir = tempfile::tempdir().expect("dir");
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "k.pem",
        ],
        dir.path(),
    );
    let jwk = rsa_jwk_from_openssl(dir.path());
    let pem_keys = KeyDir::open(dir.path()).expect("pem");
    let pem_jwks = pem_keys.jwks().await.expect("jwks");
    std::fs::remove_file(dir.path().join("k.pem")).expect("rm");
    write(dir.path(), "k.json", &jwk.to_string());
    let jwk_keys = KeyDir::open(dir.path()).expect("jwk");
    let kid = sign_and_verify(&jwk_keys, Algorithm::RS256).await;
    assert_eq!(kid, "from-jwk", "a JWK's own kid is kept");
    assert_eq!(
        jwk_keys.jwks().await.expect("jwks").keys()[0].n,
        pem_jwks.keys()[0].n
    );

    // Ed25519 from RFC 8037 §A.1, whose thumbprint RFC 8037 §A.3 gives; as a JWKS.
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "keys.jwks.json",
        r#"{"keys":[{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
    );
    let keys = KeyDir::open(dir.path()).expect("ed25519 jwks");
    let kid = sign_and_verify(&keys, Algorithm::EdDSA).await;
    assert_eq!(kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");

    // EC P-256 (x and y computed from d with an independent library).
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "ec.jwk",
        r#"{"kty":"EC","crv":"P-256","x":"jZS1ENKffKg1DdWU_5o2WIbGXXxqYiKaTX6WyU9i-XI","y":"U9qU-ltD7dfMl86HP8fQHNaSiwIYVVL7sAtfwpZgjQM","d":"jpsQnnGQmL-YBIffH1136cLwF4z5Cy4hbH1zPvH9lw0"}"#,
    );
    let keys = KeyDir::open(dir.path()).expect("ec jwk");
    sign_and_verify(&keys, Algorithm::ES256).await;
    let jwks = keys.jwks().await.expect("jwks");
    assert_eq!(
        jwks.keys()[0].x.as_deref(),
        Some("jZS1ENKffKg1DdWU_5o2WIbGXXxqYiKaTX6WyU9i-XI")
    );

    // Public members that do not belong to d are refused.
    write(
        dir.path(),
        "ec.jwk",
        r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cLwF4z5Cy4hbH1zPvH9lw0"}"#,
    );
    let e = err_of(dir.path());
    assert!(e.contains("ec.jwk") && e.contains("does not match"), "{e}");
}

#[tokio::test]
async fn bad_files_are_named_with_the_reason() {
    let case = |setup: &dyn Fn(&Path), expect: &str| {
        let dir = tempfile::tempdir().expect("dir");
        setup(dir.path());
        let e = err_of(dir.path());
        assert!(e.contains(expect), "expected {expect:?} in {e:?}");
        assert!(
            e.contains(".pem") || e.contains(".json") || e.contains(".jwk"),
            "names the file: {e}"
        );
    };
    case(
        &|d| {
            openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-aes256",
                    "-pass",
                    "pass:x",
                    "-out",
                    "k.pem",
                ],
                d,
            )
        },
        "encrypted PEM",
    );
    case(
        &|d| {
            openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-384",
                    "-out",
                    "k.pem",
                ],
                d,
            )
        },
        "unsupported curve P-384",
    );
    case(
        &|d| {
            openssl(
                &[
                    "ecparam",
                    "-name",
                    "secp384r1",
                    "-genkey",
                    "-noout",
                    "-out",
                    "k.pem",
                ],
                d,
            )
        },
        "P-384",
    );
    case(
        &|d| {
            openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-out",
                    "tmp",
                ],
                d,
            );
            openssl(&["pkey", "-in", "tmp", "-pubout", "-out", "k.pem"], d);
            std::fs::remove_file(d.join("tmp")).expect("rm");
        },
        "public key or certificate only",
    );
    case(
        &|d| {
            openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:1024",
                    "-out",
                    "k.pem",
                ],
                d,
            )
        },
        "at least 2048",
    );
    case(
        &|d| {
            write(
                d,
                "k.pem",
                "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
            )
        },
        "k.pem",
    );
    case(
        &|d| {
            write(
                d,
                "k.json",
                r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
            )
        },
        "public JWK only",
    );
}

#[tokio::test]
async fn rotation_states_and_reload() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    for f in ["a.pem", "b.pem", "c.pem"] {
        openssl(
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                f,
            ],
            d,
        );
    }
    write(
        d,
        MANIFEST,
        r#"{"keys":[{"file":"a.pem","state":"active"},{"file":"b.pem","state":"next"}]}"#,
    );
    let keys = Arc::new(KeyDir::open(d).expect("open"));
    let jwks = keys.jwks().await.expect("jwks");
    assert_eq!(
        jwks.keys().len(),
        2,
        "next keys are published before they sign"
    );
    let a_kid = keys.signing_key(Algorithm::ES256).await.expect("key").kid;
    let b_kid = jwks
        .keys()
        .iter()
        .map(|k| k.kid.clone().expect("kid"))
        .find(|k| *k != a_kid)
        .expect("b");

    // Unchanged directory: reload keeps the very same JWKS (cached bytes reused).
    keys.reload().expect("reload");
    assert!(Arc::ptr_eq(&jwks, &keys.jwks().await.expect("jwks")));

    // Promote b, retire a.
    write(
        d,
        MANIFEST,
        r#"{"keys":[{"file":"b.pem","state":"active"},{"file":"a.pem","state":"retiring","until":"2999-01-01T00:00:00Z"},{"file":"c.pem","state":"next"}]}"#,
    );
    keys.reload().expect("reload");
    assert_eq!(
        keys.signing_key(Algorithm::ES256).await.expect("key").kid,
        b_kid
    );
    let published: Vec<String> = keys
        .jwks()
        .await
        .expect("jwks")
        .keys()
        .iter()
        .filter_map(|k| k.kid.clone())
        .collect();
    assert!(published.contains(&a_kid), "retiring keys stay published");
    assert_eq!(published.len(), 3);
    let refused = keys
        .sign(
            &idpkit_core::KeyRef {
                kid: a_kid.clone(),
                alg: Algorithm::ES256,
            },
            b"x",
        )
        .await;
    assert!(refused.is_err(), "retiring keys never sign");

    // A retiring key past its time is dropped.
    write(
        d,
        MANIFEST,
        r#"{"keys":[{"file":"b.pem","state":"active"},{"file":"a.pem","state":"retiring","until":"2000-01-01T00:00:00Z"}]}"#,
    );
    keys.reload().expect("reload");
    assert_eq!(keys.jwks().await.expect("jwks").keys().len(), 1);

    // A broken manifest keeps the last good set and says why.
    write(d, MANIFEST, "{ not json");
    let e = keys.reload().expect_err("broken manifest");
    assert!(matches!(e, KeyFileError::Manifest { .. }), "{e}");
    assert!(keys.last_error().expect("kept").contains(MANIFEST));
    assert_eq!(
        keys.signing_key(Algorithm::ES256)
            .await
            .expect("still signs")
            .kid,
        b_kid
    );
    // Two active keys of one algorithm are ambiguous.
    write(
        d,
        MANIFEST,
        r#"{"keys":[{"file":"b.pem","state":"active"},{"file":"c.pem","state":"active"}]}"#,
    );
    assert!(
        keys.reload()
            .expect_err("two active")
            .to_string()
            .contains("more than one active ES256")
    );
    write(
        d,
        MANIFEST,
        r#"{"keys":[{"file":"b.pem","state":"active"}]}"#,
    );
    keys.reload().expect("good again");
    assert!(keys.last_error().is_none());
}

#[tokio::test]
async fn create_if_missing_writes_private_files_and_keeps_them() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path().join("keys");
    let first = KeyDir::open_or_create(&d, &[Algorithm::RS256, Algorithm::ES256]).expect("create");
    let kid = sign_and_verify(&first, Algorithm::RS256).await;
    sign_and_verify(&first, Algorithm::ES256).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("signing-rs256.pem"))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "private key files are 0600");
    }
    // A restart finds the same keys: tokens stay valid.
    let second = KeyDir::open_or_create(&d, &[Algorithm::RS256, Algorithm::ES256]).expect("reopen");
    assert_eq!(
        second.signing_key(Algorithm::RS256).await.expect("key").kid,
        kid
    );
    // An empty directory without create is an error naming it.
    let empty = tempfile::tempdir().expect("dir");
    assert!(err_of(empty.path()).contains("no active signing key"));
}

/// Encryption keys (`use: enc`, #17 item 6) beside signing keys: openssl-made RSA and
/// P-256 keys, published with `use: enc` in every state, decrypting JWEs encrypted to
/// their published halves; a retiring one is dropped after `until`.
#[tokio::test]
async fn encryption_keys_are_published_and_decrypt() {
    use idpkit_core::jose::jwe::{self, HeaderOptions, JweAlgorithm, JweEncryption};
    if !jwe::SUPPORTED {
        return; // core built with ring: no JWE (its own tests cover the refusal)
    }
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "sig.pem",
        ],
        d,
    );
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "enc-rsa.pem",
        ],
        d,
    );
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "enc-ec.pem",
        ],
        d,
    );
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "enc-old.pem",
        ],
        d,
    );
    let manifest = |until: &str| {
        format!(
            r#"{{"keys": [
            {{"file": "sig.pem", "state": "active"}},
            {{"file": "enc-rsa.pem", "use": "enc", "state": "active"}},
            {{"file": "enc-ec.pem", "use": "enc", "state": "next"}},
            {{"file": "enc-old.pem", "use": "enc", "state": "retiring", "until": "{until}"}}
        ]}}"#
        )
    };
    write(d, MANIFEST, &manifest("2999-01-01T00:00:00Z"));
    let keys = KeyDir::open(d).expect("opens");
    let jwks = keys.jwks().await.expect("jwks");
    let json: serde_json::Value = serde_json::from_slice(&jwks.to_json()).expect("json");
    let uses: Vec<&str> = json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["use"].as_str())
        .collect();
    assert_eq!(uses, ["sig", "enc", "enc", "enc"]);
    let enc = jwks.encryption_keys();
    assert_eq!(enc.len(), 3);
    let decryption = keys.decryption_keys();
    let refs: Vec<&idpkit_core::DecryptionKey> = decryption.iter().map(|k| k.as_ref()).collect();
    for (to, alg) in [
        (&enc[0], JweAlgorithm::RsaOaep256),
        (&enc[1], JweAlgorithm::EcdhEs),
        (&enc[2], JweAlgorithm::EcdhEsA256kw),
    ] {
        let t = jwe::encrypt(
            to,
            alg,
            JweEncryption::A128GCM,
            HeaderOptions::default(),
            b"x",
        )
        .expect("encrypt");
        assert_eq!(jwe::decrypt(&t, &refs).expect("decrypts").plaintext, b"x");
    }
    // Past `until` the retiring key is neither published nor used.
    write(d, MANIFEST, &manifest("2000-01-01T00:00:00Z"));
    let keys = KeyDir::open(d).expect("opens");
    assert_eq!(keys.jwks().await.expect("jwks").encryption_keys().len(), 2);
    assert_eq!(keys.decryption_keys().len(), 2);
    // A signing-only key file cannot be an encryption key; unknown `use` is refused.
    openssl(&["genpkey", "-algorithm", "ED25519", "-out", "ed.pem"], d);
    write(
        d,
        MANIFEST,
        r#"{"keys": [{"file": "sig.pem", "state": "active"}, {"file": "ed.pem", "use": "enc", "state": "active"}]}"#,
    );
    assert!(err_of(d).contains("ed.pem"), "{}", err_of(d));
    write(
        d,
        MANIFEST,
        r#"{"keys": [{"file": "sig.pem", "state": "active"}, {"file": "enc-ec.pem", "use": "wrap", "state": "active"}]}"#,
    );
    assert!(err_of(d).contains("expected sig or enc"), "{}", err_of(d));
}
