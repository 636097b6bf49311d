//! Compact JWS signing (RFC 7515 §7.1): core builds `header.payload` itself and asks the
//! [`KeyProvider`] for the signature only, so a key whose private half never leaves a KMS
//! signs exactly like a file key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::Algorithm;
use crate::error::OAuthError;
use crate::keys::KeyProvider;

/// The protected header: `alg`, `kid` (JSON-escaped) and `typ`.
pub(crate) fn header(alg: Algorithm, kid: &str, typ: &str) -> String {
    format!(
        r#"{{"alg":"{}","kid":{},"typ":{}}}"#,
        alg.as_str(),
        serde_json::to_string(kid).unwrap_or_default(),
        serde_json::to_string(typ).unwrap_or_default(),
    )
}

/// `base64url(header) . base64url(payload)`, with room for the signature.
pub(crate) fn signing_input(header: &str, payload: &[u8]) -> String {
    let mut jws = String::with_capacity(header.len() * 4 / 3 + payload.len() * 4 / 3 + 360);
    URL_SAFE_NO_PAD.encode_string(header.as_bytes(), &mut jws);
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut jws);
    jws
}

/// Signs `claims` as a compact JWS with the active key for `alg`.
pub(crate) async fn sign<T: Serialize>(
    keys: &dyn KeyProvider,
    alg: Algorithm,
    typ: &str,
    claims: &T,
) -> Result<String, OAuthError> {
    let key = keys.signing_key(alg).await?;
    // Plain structs and JSON maps: serialising cannot fail.
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let mut jws = signing_input(&header(alg, &key.kid, typ), &payload);
    let sig = keys.sign(&key, jws.as_bytes()).await?;
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(&sig, &mut jws);
    Ok(jws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_alg_kid_and_typ_rfc7515_4_1() {
        let h = header(Algorithm::ES256, "k\"1", "at+jwt");
        let v: serde_json::Value = serde_json::from_str(&h).expect("json");
        assert_eq!(v["alg"], "ES256");
        assert_eq!(v["kid"], "k\"1", "kid is JSON-escaped");
        assert_eq!(v["typ"], "at+jwt");
        assert_eq!(
            v.as_object().map(|o| o.len()),
            Some(3),
            "nothing else, never crit"
        );
    }

    #[test]
    fn the_signing_input_is_two_base64url_parts_rfc7515_7_1() {
        let s = signing_input("{\"alg\":\"ES256\"}", b"{\"a\":1}");
        let (h, p) = s.split_once('.').expect("two parts");
        assert_eq!(
            URL_SAFE_NO_PAD.decode(h).expect("b64"),
            b"{\"alg\":\"ES256\"}"
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(p).expect("b64"), b"{\"a\":1}");
        assert!(!s.contains('='), "no padding");
    }

    #[tokio::test]
    async fn a_signed_token_verifies_against_the_published_key() {
        let keys = crate::keys::LocalKeys::ephemeral_for_development().expect("keys");
        let jws = sign(
            &keys,
            Algorithm::ES256,
            "JWT",
            &serde_json::json!({"sub": "a"}),
        )
        .await
        .expect("signed");
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let jwks = keys.jwks().await.expect("jwks");
        let hdr: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        let jwk = jwks
            .find(hdr["kid"].as_str().expect("kid"))
            .expect("published");
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).expect("b64");
        let input = &jws[..parts[0].len() + 1 + parts[1].len()];
        assert!(crate::jose::verify_with_jwk(
            jwk,
            Algorithm::ES256,
            input.as_bytes(),
            &sig
        ));
    }
}
