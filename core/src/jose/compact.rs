//! The JWS compact serialisation (RFC 7515 §7.1): one parser for the provider and the
//! validator. It splits the three parts, decodes base64url (no padding, RFC 7515 §2),
//! reads the header (`alg`, `kid`, `typ`, `nonce`) and refuses what no idpkit verifier may
//! accept: `crit` (RFC 7515 §4.1.11), `alg` values idpkit does not implement (`none`, HMAC,
//! unknown: RFC 8725 §3.1), repeated header members (RFC 7515 §5.2 step 4). Deciding which
//! algorithm and key are acceptable is [`super::KeySet`]'s job.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Algorithm;

/// The longest signature accepted, in bytes (RSA-8192).
pub const MAX_SIGNATURE_LEN: usize = 1024;

/// Why the parser refused a compact JWS. `Display` says what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// Not three dot-separated parts (a JWE has five).
    #[error("has {found} parts, not the three dot-separated parts of a JWS compact serialisation")]
    Parts {
        /// How many parts the token has.
        found: usize,
    },
    /// A part is not base64url without padding.
    #[error("the JWS {part} is not base64url")]
    NotBase64url {
        /// `header`, `payload` or `signature`.
        part: &'static str,
    },
    /// The header is not a JSON object with unique members of the right types.
    #[error("the JWS header is not a JSON object with unique members ({reason})")]
    Header {
        /// What the JSON parser said.
        reason: String,
    },
    /// The header names critical extensions; idpkit understands none.
    #[error("the JWS header names critical extensions (crit) that are not supported: {names:?}")]
    Critical {
        /// The extension names listed (empty when `crit` is not a list of strings).
        names: Vec<String>,
    },
    /// `alg` is missing, `none`, HMAC or unknown.
    #[error(
        "the JWS algorithm {found:?} is not supported (only RS256, PS256, ES256 and EdDSA are; `none` and HMAC never)"
    )]
    UnsupportedAlgorithm {
        /// The header's `alg` (empty when missing or not a string).
        found: String,
    },
    /// The signature is longer than any supported key produces.
    #[error("the JWS signature has {found} bytes; supported keys produce at most {max}")]
    SignatureTooLong {
        /// Decoded length (at least).
        found: usize,
        /// [`MAX_SIGNATURE_LEN`].
        max: usize,
    },
}

/// The JOSE header members idpkit reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// `alg` (RFC 7515 §4.1.1), one idpkit implements.
    pub alg: Algorithm,
    /// `kid` (RFC 7515 §4.1.4).
    pub kid: Option<String>,
    /// `typ` (RFC 7515 §4.1.9).
    pub typ: Option<String>,
    /// Whether the header carries a `nonce` member (Microsoft Graph tokens do: only that
    /// API can validate them).
    pub nonce: bool,
}

impl Header {
    /// Whether `typ` is `expected` (see [`typ_matches`]); `false` when there is no `typ`.
    pub fn typ_is(&self, expected: &str) -> bool {
        self.typ
            .as_deref()
            .is_some_and(|t| typ_matches(t, expected))
    }
}

/// `typ` equals `expected`, or `application/` + `expected`, ignoring ASCII case
/// (RFC 7515 §4.1.9: the `application/` prefix may be left out; RFC 8725 §3.11).
pub fn typ_matches(typ: &str, expected: &str) -> bool {
    let bare = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    bare.eq_ignore_ascii_case(expected)
}

/// A parsed, not yet verified, compact JWS.
pub struct CompactJws<'t> {
    signing_input: &'t str,
    header: Header,
    payload: Vec<u8>,
    signature: [u8; MAX_SIGNATURE_LEN],
    signature_len: usize,
}

impl std::fmt::Debug for CompactJws<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompactJws")
            .field("header", &self.header)
            .field("payload_len", &self.payload.len())
            .field("signature_len", &self.signature_len)
            .finish()
    }
}

impl<'t> CompactJws<'t> {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The decoded payload bytes (not yet known to be JSON).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The decoded payload, taken out.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature[..self.signature_len]
    }

    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: what was signed (RFC 7515 §5.2
    /// step 8).
    pub fn signing_input(&self) -> &'t [u8] {
        self.signing_input.as_bytes()
    }
}

#[derive(serde::Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow, default)]
    alg: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    nonce: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// Parses a compact JWS. Checks, in this order: three parts; header base64url; header a
/// JSON object with unique members; no `crit`; `alg` implemented; payload base64url;
/// signature base64url and not longer than [`MAX_SIGNATURE_LEN`].
pub fn parse_compact(token: &str) -> Result<CompactJws<'_>, JoseError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Parts {
            found: token.split('.').count(),
        });
    };
    // Headers are short: decode into the stack, falling back to the heap for long ones.
    let mut header_buf = [0u8; 1024];
    let header_vec;
    let header_bytes: &[u8] = match URL_SAFE_NO_PAD.decode_slice(h, &mut header_buf) {
        Ok(n) => &header_buf[..n],
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            header_vec = URL_SAFE_NO_PAD
                .decode(h)
                .map_err(|_| JoseError::NotBase64url { part: "header" })?;
            &header_vec
        }
        Err(_) => return Err(JoseError::NotBase64url { part: "header" }),
    };
    // RFC 7515 §4: the header is a JSON object. (serde would also read a struct from an
    // array, `["RS256","kid"]`.)
    if header_bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(JoseError::Header {
            reason: "not a JSON object".into(),
        });
    }
    // serde refuses repeated members of the fields read here ("duplicate field").
    let raw: RawHeader<'_> =
        serde_json::from_slice(header_bytes).map_err(|e| JoseError::Header {
            reason: e.to_string(),
        })?;
    if let Some(crit) = &raw.crit {
        // RFC 7515 §4.1.11: a recipient that does not understand every listed extension
        // must refuse the JWS; idpkit understands none (and an empty list is invalid).
        let names = crit
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        return Err(JoseError::Critical { names });
    }
    let alg_name = raw.alg.as_deref().unwrap_or_default();
    let alg = Algorithm::from_name(alg_name).ok_or_else(|| JoseError::UnsupportedAlgorithm {
        found: alg_name.to_owned(),
    })?;
    let header = Header {
        alg,
        kid: raw.kid.map(|k| k.into_owned()),
        typ: raw.typ.map(|t| t.into_owned()),
        nonce: raw.nonce.is_some(),
    };
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| JoseError::NotBase64url { part: "payload" })?;
    let mut signature = [0u8; MAX_SIGNATURE_LEN];
    let signature_len = match URL_SAFE_NO_PAD.decode_slice(s, &mut signature) {
        Ok(n) => n,
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            return Err(JoseError::SignatureTooLong {
                found: s.len() * 3 / 4,
                max: MAX_SIGNATURE_LEN,
            });
        }
        Err(_) => return Err(JoseError::NotBase64url { part: "signature" }),
    };
    Ok(CompactJws {
        signing_input: &token[..h.len() + 1 + p.len()],
        header,
        payload,
        signature,
        signature_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.{}", b64(header), b64("{}"), b64("sig"))
    }

    #[test]
    fn a_compact_jws_has_exactly_three_parts_rfc7515_7_1() {
        for (t, n) in [("", 1), ("a.b", 2), ("a.b.c.d", 4), ("a.b.c.d.e", 5)] {
            assert_eq!(
                parse_compact(t).err(),
                Some(JoseError::Parts { found: n }),
                "{t:?}"
            );
        }
        let t = token(r#"{"alg":"ES256","kid":"k","typ":"at+jwt"}"#);
        let ok = parse_compact(&t).expect("parses");
        assert_eq!(ok.header().alg, Algorithm::ES256);
        assert_eq!(ok.header().kid.as_deref(), Some("k"));
        assert_eq!(ok.payload(), b"{}");
        assert_eq!(ok.signature(), b"sig");
        assert!(!ok.header().nonce);
    }

    #[test]
    fn the_signing_input_is_the_first_two_parts_rfc7515_5_2() {
        let t = token(r#"{"alg":"EdDSA"}"#);
        let jws = parse_compact(&t).expect("parses");
        let (input, _) = t.rsplit_once('.').expect("dots");
        assert_eq!(jws.signing_input(), input.as_bytes());
    }

    #[test]
    fn parts_are_base64url_without_padding_rfc7515_2() {
        let h = b64(r#"{"alg":"ES256"}"#);
        for (t, part) in [
            (format!("{h}=.e30.AA"), "header"),
            ("!!.e30.AA".to_owned(), "header"),
            (format!("{h}.e30=.AA"), "payload"),
            (format!("{h}.e30.A+/A"), "signature"),
        ] {
            assert_eq!(
                parse_compact(&t).err(),
                Some(JoseError::NotBase64url { part }),
                "{t}"
            );
        }
    }

    #[test]
    fn crit_is_refused_whatever_it_lists_rfc7515_4_1_11() {
        for header in [
            r#"{"alg":"ES256","crit":["exp-ext"],"exp-ext":1}"#,
            r#"{"alg":"ES256","crit":[]}"#,
            r#"{"alg":"ES256","crit":["b64"],"b64":false}"#,
            r#"{"alg":"ES256","crit":"b64"}"#,
        ] {
            let err = parse_compact(&token(header)).expect_err(header);
            assert!(matches!(err, JoseError::Critical { .. }), "{header}: {err}");
        }
        let err = parse_compact(&token(r#"{"alg":"ES256","crit":["exp-ext"]}"#)).expect_err("crit");
        assert_eq!(
            err,
            JoseError::Critical {
                names: vec!["exp-ext".into()]
            }
        );
    }

    #[test]
    fn alg_none_hmac_unknown_and_missing_are_refused_rfc7518_3_6_rfc8725_3_1() {
        for (header, found) in [
            (r#"{"alg":"none"}"#, "none"),
            (r#"{"alg":"HS256"}"#, "HS256"),
            (r#"{"alg":"RS512"}"#, "RS512"),
            (r#"{"alg":"es256"}"#, "es256"),
            (r#"{"typ":"JWT"}"#, ""),
        ] {
            assert_eq!(
                parse_compact(&token(header)).err(),
                Some(JoseError::UnsupportedAlgorithm {
                    found: found.into()
                }),
                "{header}"
            );
        }
    }

    #[test]
    fn repeated_header_members_and_non_objects_are_refused_rfc7515_5_2() {
        for header in [
            r#"{"alg":"ES256","alg":"none"}"#,
            r#"{"alg":"none","alg":"ES256"}"#,
            r#"{"alg":"ES256","kid":"a","kid":"b"}"#,
            r#"["alg","ES256"]"#,
            r#"{"alg":"ES256","kid":7}"#,
            "not json",
        ] {
            let err = parse_compact(&token(header)).expect_err(header);
            assert!(matches!(err, JoseError::Header { .. }), "{header}: {err}");
        }
    }

    #[test]
    fn a_header_nonce_is_detected() {
        let t = token(r#"{"alg":"RS256","nonce":"abc"}"#);
        let jws = parse_compact(&t).expect("parses");
        assert!(jws.header().nonce);
    }

    #[test]
    fn overlong_signatures_are_refused_before_any_key_is_used() {
        let t = format!(
            "{}.e30.{}",
            b64(r#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode([0u8; MAX_SIGNATURE_LEN + 1])
        );
        assert!(matches!(
            parse_compact(&t),
            Err(JoseError::SignatureTooLong { .. })
        ));
    }

    #[test]
    fn typ_may_omit_application_and_ignores_case_rfc7515_4_1_9() {
        assert!(typ_matches("at+jwt", "at+jwt"));
        assert!(typ_matches("application/AT+JWT", "at+jwt"));
        assert!(!typ_matches("JWT", "at+jwt"));
        assert!(!typ_matches("application/", "at+jwt"));
        assert!(!typ_matches("text/at+jwt", "at+jwt"));
    }
}
