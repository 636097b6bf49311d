//! Signing keys: the [`KeyProvider`] trait, JWK types, and an in-process key set.
//!
//! Core builds every JWS signing input itself and asks the provider for a signature, so a
//! key whose private half lives in a KMS works exactly like a key loaded from a file.

use std::fmt;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::crypto::{self, CryptoError, SigningKey};

/// A JWS algorithm idpkit signs with. `none` and HMAC algorithms do not exist here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (required by OpenID Connect).
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl Algorithm {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE name; `none`, HMAC and unknown names give `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::RS256),
            "PS256" => Some(Self::PS256),
            "ES256" => Some(Self::ES256),
            "EdDSA" => Some(Self::EdDSA),
            _ => None,
        }
    }

    /// The JWK `kty` a key for this algorithm has.
    pub fn key_type(self) -> &'static str {
        match self {
            Self::RS256 | Self::PS256 => "RSA",
            Self::ES256 => "EC",
            Self::EdDSA => "OKP",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    fn empty(kty: &str) -> Self {
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

    /// An RSA public key from big-endian modulus and exponent.
    pub fn rsa(n: &[u8], e: &[u8]) -> Self {
        Self {
            n: Some(URL_SAFE_NO_PAD.encode(n)),
            e: Some(URL_SAFE_NO_PAD.encode(e)),
            ..Self::empty("RSA")
        }
    }

    /// A P-256 public key from its coordinates.
    pub fn ec_p256(x: &[u8], y: &[u8]) -> Self {
        Self {
            crv: Some("P-256".to_owned()),
            x: Some(URL_SAFE_NO_PAD.encode(x)),
            y: Some(URL_SAFE_NO_PAD.encode(y)),
            ..Self::empty("EC")
        }
    }

    /// An Ed25519 public key.
    pub fn ed25519(x: &[u8]) -> Self {
        Self {
            crv: Some("Ed25519".to_owned()),
            x: Some(URL_SAFE_NO_PAD.encode(x)),
            ..Self::empty("OKP")
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url): the required members in
    /// lexicographic order, no whitespace.
    pub fn thumbprint(&self) -> String {
        let s = |v: &Option<String>| {
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

/// A published key set, with its JSON serialised once.
#[derive(Debug, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
    json: OnceLock<Arc<[u8]>>,
}

impl Jwks {
    /// A key set from public keys.
    pub fn new(keys: Vec<Jwk>) -> Self {
        Self {
            keys,
            json: OnceLock::new(),
        }
    }

    /// The keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The key with `kid`, if published.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// `{"keys":[...]}`, serialised on first use and shared afterwards.
    pub fn to_json(&self) -> Arc<[u8]> {
        self.json
            .get_or_init(|| {
                #[derive(Serialize)]
                struct Doc<'a> {
                    keys: &'a [Jwk],
                }
                serde_json::to_vec(&Doc { keys: &self.keys })
                    .unwrap_or_default()
                    .into()
            })
            .clone()
    }
}

/// Which key to sign with: what [`KeyProvider::signing_key`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    /// The `kid` that goes into the JWS header.
    pub kid: String,
    /// The algorithm.
    pub alg: Algorithm,
}

/// Errors a key provider reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No key can sign with the requested algorithm.
    #[error("no active signing key for {0}")]
    NoKeyFor(Algorithm),
    /// The named key is not known (or no longer allowed to sign).
    #[error("signing key {kid} is not active")]
    UnknownKey {
        /// The key id asked for.
        kid: String,
    },
    /// The key source is unreachable for now (a KMS outage); clients should retry.
    #[error("key service unavailable: {0}")]
    Unavailable(String),
    /// A crypto failure.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Any other failure (bad key files, ...).
    #[error("{0}")]
    Other(String),
}

/// A source of signing keys and the published JWKS.
///
/// # Contract
/// - [`jwks`](Self::jwks) returns every key that verifiers must accept: *next* keys (published
///   before they sign), *active* keys and *retiring* keys. Returning the same `Arc` while
///   nothing changed lets endpoints serve cached bytes.
/// - [`signing_key`](Self::signing_key) names the active key for an algorithm; it is always
///   among the published keys.
/// - [`sign`](Self::sign) signs the exact bytes given (the JWS signing input). A transient
///   outage must be reported as [`KeyError::Unavailable`], so that clients get
///   `temporarily_unavailable` and nothing is consumed.
/// - Every instance loading the same key material must publish the same `kid`s.
#[async_trait]
pub trait KeyProvider: Send + Sync + 'static {
    /// The published key set.
    async fn jwks(&self) -> Result<Arc<Jwks>, KeyError>;
    /// The key to sign with now for `alg`.
    async fn signing_key(&self, alg: Algorithm) -> Result<KeyRef, KeyError>;
    /// Signs `signing_input` with the key `key`.
    async fn sign(&self, key: &KeyRef, signing_input: &[u8]) -> Result<Vec<u8>, KeyError>;
    /// The algorithms this provider can sign with (advertised in discovery).
    fn algorithms(&self) -> Vec<Algorithm>;
    /// `true` for throw-away development keys; the provider builder refuses them unless
    /// development mode was asked for.
    fn is_development(&self) -> bool {
        false
    }
}

/// Where a key is in its rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published, not yet signing.
    Next,
    /// Signs (one per algorithm).
    Active,
    /// Published for verification only.
    Retiring,
}

/// An in-process key set: parsed keys with their rotation states. Backends that load keys
/// (files, generated keys) build one of these; it is also the development key provider.
pub struct LocalKeys {
    keys: Vec<(SigningKey, KeyState)>,
    jwks: Arc<Jwks>,
    development: bool,
}

impl fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeys")
            .field("keys", &self.keys)
            .field("development", &self.development)
            .finish()
    }
}

impl LocalKeys {
    /// A key set from parsed keys and their states.
    pub fn new(keys: Vec<(SigningKey, KeyState)>) -> Self {
        let jwks = Arc::new(Jwks::new(
            keys.iter().map(|(k, _)| k.public_jwk().clone()).collect(),
        ));
        Self {
            keys,
            jwks,
            development: false,
        }
    }

    /// Throw-away keys generated in memory (RS256 where the backend can generate RSA keys,
    /// and ES256). Tokens signed with them stop verifying at the next restart, and two
    /// instances never agree: for development and tests only. Logs a warning.
    pub fn ephemeral_for_development() -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        match SigningKey::generate(Algorithm::RS256) {
            Ok((k, _)) => keys.push((k, KeyState::Active)),
            Err(CryptoError::GenerationUnsupported(_)) => {}
            Err(e) => return Err(e.into()),
        }
        keys.push((SigningKey::generate(Algorithm::ES256)?.0, KeyState::Active));
        tracing::warn!(
            "idpkit: using EPHEMERAL development signing keys; tokens will not survive a restart \
             and instances will not agree. Configure persistent keys for anything but development."
        );
        let mut set = Self::new(keys);
        set.development = true;
        Ok(set)
    }

    /// Every published key with its state.
    pub fn published(&self) -> Vec<(&Jwk, KeyState)> {
        self.keys
            .iter()
            .map(|(k, s)| (k.public_jwk(), *s))
            .collect()
    }

    fn active(&self, alg: Algorithm) -> Option<&SigningKey> {
        self.keys
            .iter()
            .find(|(k, s)| *s == KeyState::Active && k.alg() == alg)
            .map(|(k, _)| k)
    }
}

#[async_trait]
impl KeyProvider for LocalKeys {
    async fn jwks(&self) -> Result<Arc<Jwks>, KeyError> {
        Ok(self.jwks.clone())
    }

    async fn signing_key(&self, alg: Algorithm) -> Result<KeyRef, KeyError> {
        self.active(alg)
            .map(|k| KeyRef {
                kid: k.kid().to_owned(),
                alg,
            })
            .ok_or(KeyError::NoKeyFor(alg))
    }

    async fn sign(&self, key: &KeyRef, signing_input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let k = self
            .keys
            .iter()
            .find(|(k, s)| *s == KeyState::Active && k.alg() == key.alg && k.kid() == key.kid)
            .ok_or_else(|| KeyError::UnknownKey {
                kid: key.kid.clone(),
            })?;
        Ok(k.0.sign(signing_input)?)
    }

    fn algorithms(&self) -> Vec<Algorithm> {
        let mut algs: Vec<Algorithm> = Vec::new();
        for (k, s) in &self.keys {
            if *s == KeyState::Active && !algs.contains(&k.alg()) {
                algs.push(k.alg());
            }
        }
        algs
    }

    fn is_development(&self) -> bool {
        self.development
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
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

    #[tokio::test]
    async fn local_keys_sign_only_with_active_keys_and_publish_all() {
        let (active, _) = SigningKey::generate(Algorithm::ES256).expect("gen");
        let (next, _) = SigningKey::generate(Algorithm::ES256).expect("gen");
        let next_kid = next.kid().to_owned();
        let keys = LocalKeys::new(vec![(active, KeyState::Active), (next, KeyState::Next)]);
        assert_eq!(keys.jwks().await.expect("jwks").keys().len(), 2);
        let r = keys.signing_key(Algorithm::ES256).await.expect("key");
        assert_ne!(r.kid, next_kid);
        let refused = keys
            .sign(
                &KeyRef {
                    kid: next_kid,
                    alg: Algorithm::ES256,
                },
                b"x",
            )
            .await;
        assert!(matches!(refused, Err(KeyError::UnknownKey { .. })));
        assert!(matches!(
            keys.signing_key(Algorithm::EdDSA).await,
            Err(KeyError::NoKeyFor(Algorithm::EdDSA))
        ));
    }
}
