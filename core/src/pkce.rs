//! PKCE (RFC 7636), S256 only: `plain` is refused (RFC 9700 §2.1.1).

use crate::crypto;
use crate::error::OAuthError;

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Checks a `code_challenge` / `code_challenge_method` pair at the authorization endpoint.
pub fn check_challenge(challenge: &str, method: Option<&str>) -> Result<(), OAuthError> {
    match method {
        Some("S256") => {}
        None => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method must be S256",
            ));
        }
        Some("plain") => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method plain is not supported; use S256",
            ));
        }
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "unsupported code_challenge_method; use S256",
            ));
        }
    }
    // An S256 challenge is base64url(SHA-256) = 43 characters.
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(OAuthError::invalid_request(
            "code_challenge must be the 43-character base64url SHA-256 of the verifier",
        ));
    }
    Ok(())
}

/// Checks a `code_verifier` against the stored challenge (RFC 7636 §4.6).
pub fn verify(verifier: &str, challenge: &str) -> Result<(), OAuthError> {
    if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(is_unreserved) {
        return Err(OAuthError::invalid_grant(
            "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]",
        ));
    }
    let computed = crypto::sha256_b64(verifier.as_bytes());
    if crypto::constant_time_eq(computed.as_bytes(), challenge.as_bytes()) {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_verifier_matches() {
        assert!(check_challenge(CHALLENGE, Some("S256")).is_ok());
        assert!(verify(VERIFIER, CHALLENGE).is_ok());
    }

    #[test]
    fn wrong_or_malformed_verifiers_are_invalid_grant() {
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert_eq!(
            verify(wrong, CHALLENGE).unwrap_err().code.as_str(),
            "invalid_grant"
        );
        assert!(verify("short", CHALLENGE).is_err());
        assert!(verify(&format!("{VERIFIER}!"), CHALLENGE).is_err());
    }

    #[test]
    fn a_verifier_of_the_wrong_length_is_refused_even_when_its_hash_matches_rfc7636_4_1() {
        // "minimum length of 43 characters and a maximum length of 128 characters": the
        // syntax is checked on its own, not only through the hash comparison.
        for len in [42, 129] {
            let v = "a".repeat(len);
            let e = verify(&v, &crypto::sha256_b64(v.as_bytes())).expect_err("length");
            assert!(e.description.contains("43-128"), "{len}: {}", e.description);
        }
        for len in [43, 128] {
            let v = "a".repeat(len);
            assert!(
                verify(&v, &crypto::sha256_b64(v.as_bytes())).is_ok(),
                "{len}"
            );
        }
    }

    #[test]
    fn a_verifier_outside_the_unreserved_set_is_refused_even_when_its_hash_matches_rfc7636_4_1() {
        // code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
        for bad in ['+', '/', '=', ' ', '%', '\u{e9}'] {
            let v = format!("{}{bad}", "a".repeat(42));
            let e = verify(&v, &crypto::sha256_b64(v.as_bytes())).expect_err("charset");
            assert!(e.description.contains("[A-Za-z0-9-._~]"), "{bad:?}");
        }
        let all = format!("{}-._~", "aZ09".repeat(10));
        assert!(verify(&all, &crypto::sha256_b64(all.as_bytes())).is_ok());
    }

    #[test]
    fn an_s256_challenge_is_43_base64url_characters_rfc7636_4_2() {
        // BASE64URL-ENCODE(SHA256(...)): the alphabet is A-Z a-z 0-9 "-" "_", no padding.
        let ok = format!("{}-_", "A".repeat(41));
        assert!(check_challenge(&ok, Some("S256")).is_ok());
        for bad in ['+', '/', '=', '.', '~'] {
            let c = format!("{}{bad}", "A".repeat(42));
            assert!(check_challenge(&c, Some("S256")).is_err(), "{bad:?}");
        }
        assert!(check_challenge(&"A".repeat(44), Some("S256")).is_err());
    }

    #[test]
    fn plain_and_missing_methods_are_refused() {
        assert!(check_challenge(CHALLENGE, Some("plain")).is_err());
        assert!(check_challenge(CHALLENGE, None).is_err());
        assert!(check_challenge("too-short", Some("S256")).is_err());
    }
}
