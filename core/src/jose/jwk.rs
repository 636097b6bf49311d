//! JSON Web Keys (RFC 7517), their thumbprints (RFC 7638) and published key sets.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::Algorithm;
use super::jwe::EncryptionJwk;
use crate::crypto::{self, PublicKey, VerifyingKey};

/// A public JSON Web Key (RFC 7517) as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use (`sig`).
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// Algorithm this key is used with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<Algorithm>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Curve name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Curve x coordinate (or Ed25519 public key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Curve y coordinate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// X.509 certificate chain (base64 DER).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x5c: Option<Vec<String>>,
    /// X.509 certificate SHA-256 thumbprint.
    #[serde(rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

impl Jwk {
    pub(crate) fn empty(kty: &str) -> Self {
        Self {
            kty: kty.to_owned(),
            kid: None,
            key_use: None,
            alg: None,
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
            x5c: None,
            x5t_s256: None,
        }
    }

    /// An RSA public key from big-endian modulus and exponent (RFC 7518 §6.3.1).
    pub fn rsa(n: &[u8], e: &[u8]) -> Self {
        Self {
            n: Some(URL_SAFE_NO_PAD.encode(n)),
            e: Some(URL_SAFE_NO_PAD.encode(e)),
            ..Self::empty("RSA")
        }
    }

    /// A P-256 public key from its coordinates (RFC 7518 §6.2.1).
    pub fn ec_p256(x: &[u8], y: &[u8]) -> Self {
        Self {
            crv: Some("P-256".to_owned()),
            x: Some(URL_SAFE_NO_PAD.encode(x)),
            y: Some(URL_SAFE_NO_PAD.encode(y)),
            ..Self::empty("EC")
        }
    }

    /// An Ed25519 public key (RFC 8037 §2).
    pub fn ed25519(x: &[u8]) -> Self {
        Self {
            crv: Some("Ed25519".to_owned()),
            x: Some(URL_SAFE_NO_PAD.encode(x)),
            ..Self::empty("OKP")
        }
    }

    /// The JWK of a public key (no `kid`, `alg` or `use` yet).
    pub fn from_public_key(key: &PublicKey) -> Self {
        match key {
            PublicKey::Rsa { n, e } => Self::rsa(n, e),
            PublicKey::P256 { x, y } => Self::ec_p256(x, y),
            PublicKey::Ed25519(x) => Self::ed25519(x),
        }
    }

    /// The key's components; `None` for key types idpkit does not verify with (other
    /// curves, symmetric keys) or malformed members.
    pub fn public_key(&self) -> Option<PublicKey> {
        let decode = |v: &Option<String>| v.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
        let fixed = |v: &Option<String>| decode(v).and_then(|b| <[u8; 32]>::try_from(b).ok());
        match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => Some(PublicKey::Rsa {
                n: decode(&self.n)?,
                e: decode(&self.e)?,
            }),
            ("EC", Some("P-256")) => Some(PublicKey::P256 {
                x: fixed(&self.x)?,
                y: fixed(&self.y)?,
            }),
            ("OKP", Some("Ed25519")) => Some(PublicKey::Ed25519(fixed(&self.x)?)),
            _ => None,
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url): the required members in
    /// lexicographic order, no whitespace (§3.2, §3.3).
    pub fn thumbprint(&self) -> String {
        let s = |v: &Option<String>| {
            // Serialising a `&str` to JSON cannot fail.
            serde_json::to_string(v.as_deref().unwrap_or_default()).unwrap_or_default()
        };
        let canonical = match self.kty.as_str() {
            "RSA" => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, s(&self.e), s(&self.n)),
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                s(&self.crv),
                s(&self.x),
                s(&self.y)
            ),
            _ => format!(
                r#"{{"crv":{},"kty":{},"x":{}}}"#,
                s(&self.crv),
                s(&Some(self.kty.clone())),
                s(&self.x)
            ),
        };
        crypto::sha256_b64(canonical.as_bytes())
    }
}

impl VerifyingKey {
    /// Decodes a JWK once for verification (its `alg`, when present, limits the algorithm);
    /// `None` for key types idpkit does not verify or malformed members.
    pub fn from_jwk(jwk: &Jwk) -> Option<Self> {
        Some(Self::new(jwk.public_key()?, jwk.alg))
    }
}

/// A public JWK from an X.509 `SubjectPublicKeyInfo` (DER), as KMS `GetPublicKey` and
/// `openssl pkey -pubout` give it: RSA, or EC P-256. `None` for anything else.
pub fn jwk_from_spki(der: &[u8]) -> Option<Jwk> {
    PublicKey::from_spki(der).map(|k| Jwk::from_public_key(&k))
}

/// Verifies a JWS signature with a public JWK, decoding the key for this one call (use a
/// [`super::KeySet`] to verify many). The algorithm comes from the caller's allow-list
/// and must fit the key type and the JWK's `alg`; the token never picks it.
pub fn verify_with_jwk(jwk: &Jwk, alg: Algorithm, msg: &[u8], sig: &[u8]) -> bool {
    jwk.alg.is_none_or(|a| a == alg)
        && VerifyingKey::from_jwk(jwk).is_some_and(|k| k.verify(alg, msg, sig))
}

/// A published key set, with its JSON serialised once: signature keys
/// ([`keys`](Self::keys)) and encryption keys ([`encryption_keys`](Self::encryption_keys),
/// RFC 7517 §4.2 `use: enc`, for JWE, [`super::jwe`]).
#[derive(Debug, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
    encryption: Vec<EncryptionJwk>,
    json: OnceLock<Arc<[u8]>>,
}

impl Jwks {
    /// A key set from public signature keys.
    pub fn new(keys: Vec<Jwk>) -> Self {
        Self {
            keys,
            encryption: Vec::new(),
            json: OnceLock::new(),
        }
    }

    /// The set with these encryption keys too (published after the signature keys).
    pub fn with_encryption_keys(mut self, keys: Vec<EncryptionJwk>) -> Self {
        self.encryption = keys;
        self.json = OnceLock::new();
        self
    }

    /// The signature keys (`use` `sig` or none).
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The encryption keys (`use` `enc` or none, RSA or EC P-256, no signing `alg`): what
    /// a JWE may be encrypted to. A key without `use` and `alg` is in both lists.
    pub fn encryption_keys(&self) -> &[EncryptionJwk] {
        &self.encryption
    }

    /// Reads a JWKS document (RFC 7517 §5: `{"keys": [...]}`) published by someone else (a
    /// client's `jwks` or `jwks_uri`, an issuer's JWKS). Keys idpkit cannot verify with
    /// (other key types, encryption keys with `use` other than `sig`, unknown `alg`
    /// values) are skipped, not fatal; a document that is not such an object is an error.
    pub fn from_document(json: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Doc {
            keys: Vec<serde_json::Value>,
        }
        let doc: Doc = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        let encryption = doc
            .keys
            .iter()
            .filter_map(EncryptionJwk::from_value)
            .collect();
        Ok(Self::new(
            doc.keys
                .into_iter()
                .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
                .filter(|k| k.key_use.as_deref().is_none_or(|u| u == "sig"))
                .collect(),
        )
        .with_encryption_keys(encryption))
    }

    /// The key with `kid`, if published.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// `{"keys":[...]}` (RFC 7517 §5), serialised on first use and shared afterwards.
    pub fn to_json(&self) -> Arc<[u8]> {
        self.json
            .get_or_init(|| {
                #[derive(Serialize)]
                struct Doc {
                    keys: Vec<serde_json::Value>,
                }
                let mut keys: Vec<serde_json::Value> = self
                    .keys
                    .iter()
                    .filter_map(|k| serde_json::to_value(k).ok())
                    .collect();
                // A key without `use` and `alg` is in both lists: published once.
                keys.extend(
                    self.encryption
                        .iter()
                        .filter(|k| k.key_use.is_some() || k.alg.is_some())
                        .map(EncryptionJwk::to_value),
                );
                // Serialising strings and options to JSON cannot fail.
                serde_json::to_vec(&Doc { keys }).unwrap_or_default().into()
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc7638_3_1_example() {
        let jwk = Jwk {
            n: Some("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".to_owned()),
            e: Some("AQAB".to_owned()),
            kid: Some("2011-04-29".to_owned()),
            alg: Some(Algorithm::RS256),
            ..Jwk::empty("RSA")
        };
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn thumbprint_ignores_optional_members_rfc7638_3_2() {
        let a = Jwk::ec_p256(&[1; 32], &[2; 32]);
        let b = Jwk {
            kid: Some("x".into()),
            alg: Some(Algorithm::ES256),
            key_use: Some("sig".into()),
            ..a.clone()
        };
        assert_eq!(a.thumbprint(), b.thumbprint());
    }

    #[test]
    fn jwk_members_decode_to_public_keys_rfc7518_6_and_rfc8037_2() {
        assert!(matches!(
            Jwk::ec_p256(&[1; 32], &[2; 32]).public_key(),
            Some(PublicKey::P256 { .. })
        ));
        assert!(
            Jwk::ec_p256(&[1; 31], &[2; 32]).public_key().is_none(),
            "a P-256 coordinate has 32 bytes"
        );
        let p384 = Jwk {
            crv: Some("P-384".into()),
            ..Jwk::ec_p256(&[1; 32], &[2; 32])
        };
        assert!(p384.public_key().is_none(), "other curves are not verified");
        assert!(
            Jwk::empty("oct").public_key().is_none(),
            "no symmetric keys"
        );
        let ed = Jwk::ed25519(&[3; 32]);
        assert_eq!(ed.public_key(), Some(PublicKey::Ed25519([3; 32])));
        assert_eq!(Jwk::from_public_key(&PublicKey::Ed25519([3; 32])), ed);
    }

    #[test]
    fn a_declared_jwk_alg_limits_verification_rfc7517_4_4() {
        let (key, _) = crypto::KeyPair::generate(Algorithm::EdDSA).expect("key");
        let sig = key.sign(b"m").expect("sign");
        let mut jwk = Jwk::from_public_key(&key.public_key().expect("public"));
        assert!(verify_with_jwk(&jwk, Algorithm::EdDSA, b"m", &sig));
        jwk.alg = Some(Algorithm::ES256);
        assert!(!verify_with_jwk(&jwk, Algorithm::EdDSA, b"m", &sig));
    }

    #[test]
    fn jwks_json_is_a_keys_array_rfc7517_5() {
        let jwks = Jwks::new(vec![Jwk::ed25519(&[3; 32])]);
        let v: serde_json::Value = serde_json::from_slice(&jwks.to_json()).expect("json");
        assert_eq!(v["keys"][0]["kty"], "OKP");
        assert_eq!(v["keys"][0]["crv"], "Ed25519");
        assert!(v["keys"][0].get("kid").is_none());
    }
}
