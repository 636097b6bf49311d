//! Signing keys: the [`KeyProvider`] trait, JWK types, and an in-process key set.
//!
//! Core builds every JWS signing input itself and asks the provider for a signature, so a
//! key whose private half lives in a KMS works exactly like a key loaded from a file.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::CryptoError;
use crate::jose::SigningKey;

// `idpkit_core::keys::{Algorithm, Jwk, Jwks}` keep working: the types live in `jose`.
use crate::algorithm::Algorithm;
use crate::jose::{Jwk, Jwks};

pub mod rotation;

pub use rotation::RotationError;

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
    /// The key set breaks a rotation rule ([`rotation::check_set`]).
    #[error(transparent)]
    Rotation(#[from] RotationError),
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
    /// The provider's own encryption keys (`use: enc`): what JWEs encrypted to the
    /// provider (request objects, RFC 9101 §6.1) are decrypted with. Every key returned
    /// decrypts; each must also be in [`jwks`](Self::jwks) (as an encryption key,
    /// [`Jwks::encryption_keys`]) while it is published. The default is none (a provider
    /// whose keys live in a KMS, for instance), and then encrypted request objects are
    /// refused.
    fn decryption_keys(&self) -> Vec<Arc<crate::jose::jwe::DecryptionKey>> {
        Vec::new()
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
    decryption: Vec<Arc<crate::jose::jwe::DecryptionKey>>,
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
    /// A key set from parsed keys and their states; refuses sets that break a rotation rule
    /// ([`rotation::check_set`]), so a retiring key needs [`with_schedule`](Self::with_schedule).
    pub fn new(keys: Vec<(SigningKey, KeyState)>) -> Result<Self, RotationError> {
        Self::with_schedule(keys.into_iter().map(|(k, s)| (k, s, None)).collect())
    }

    /// A key set from parsed keys, their states and (for retiring keys) the time until
    /// which they are published. The caller drops keys past `until`
    /// ([`rotation::is_published`]) before building the set; this checks the rules.
    pub fn with_schedule(
        keys: Vec<(SigningKey, KeyState, Option<OffsetDateTime>)>,
    ) -> Result<Self, RotationError> {
        let entries: Vec<rotation::RotationEntry<'_>> = keys
            .iter()
            .map(|(k, s, until)| (k.kid(), k.alg(), *s, *until))
            .collect();
        rotation::check_set(&entries)?;
        drop(entries);
        let keys: Vec<(SigningKey, KeyState)> = keys.into_iter().map(|(k, s, _)| (k, s)).collect();
        let jwks = Arc::new(Jwks::new(
            keys.iter().map(|(k, _)| k.public_jwk().clone()).collect(),
        ));
        Ok(Self {
            keys,
            decryption: Vec::new(),
            jwks,
            development: false,
        })
    }

    /// The set with the provider's own encryption keys (`use: enc`, JWE, for request
    /// objects encrypted to the provider), each with its state and (retiring) `until`:
    /// *next*, *active* and *retiring* keys are all published and all decrypt (a client
    /// may have encrypted to any key it saw published); the caller drops keys past
    /// `until` ([`rotation::is_published`]). `kid`s must be unique across signing and
    /// encryption keys, and a retiring key needs `until`.
    pub fn with_decryption_keys(
        mut self,
        keys: Vec<(
            crate::jose::jwe::DecryptionKey,
            KeyState,
            Option<OffsetDateTime>,
        )>,
    ) -> Result<Self, RotationError> {
        for (i, (k, state, until)) in keys.iter().enumerate() {
            let kid = k.kid();
            if self.keys.iter().any(|(s, _)| s.kid() == kid)
                || keys[..i].iter().any(|(o, ..)| o.kid() == kid)
            {
                return Err(RotationError::DuplicateKid {
                    kid: kid.to_owned(),
                });
            }
            if *state == KeyState::Retiring && until.is_none() {
                return Err(RotationError::RetiringWithoutUntil {
                    kid: kid.to_owned(),
                });
            }
        }
        self.decryption = keys.into_iter().map(|(k, ..)| Arc::new(k)).collect();
        self.jwks = Arc::new(
            Jwks::new(self.jwks.keys().to_vec()).with_encryption_keys(
                self.decryption
                    .iter()
                    .map(|k| k.public_jwk().clone())
                    .collect(),
            ),
        );
        Ok(self)
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
        let mut set = Self::new(keys)?;
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

    fn decryption_keys(&self) -> Vec<Arc<crate::jose::jwe::DecryptionKey>> {
        self.decryption.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_keys_apply_the_rotation_rules() {
        let key = || SigningKey::generate(Algorithm::ES256).expect("gen").0;
        let two_active = LocalKeys::new(vec![(key(), KeyState::Active), (key(), KeyState::Active)]);
        assert!(matches!(
            two_active,
            Err(RotationError::SeveralActive { .. })
        ));
        assert!(matches!(
            LocalKeys::new(vec![(key(), KeyState::Next)]),
            Err(RotationError::NoActiveKey { .. })
        ));
        assert!(matches!(
            LocalKeys::new(vec![(key(), KeyState::Active), (key(), KeyState::Retiring)]),
            Err(RotationError::RetiringWithoutUntil { .. })
        ));
        let until = OffsetDateTime::now_utc() + time::Duration::hours(1);
        let ok = LocalKeys::with_schedule(vec![
            (key(), KeyState::Active, None),
            (key(), KeyState::Retiring, Some(until)),
        ])
        .expect("retiring with until");
        assert_eq!(ok.published().len(), 2);
    }

    #[tokio::test]
    async fn local_keys_sign_only_with_active_keys_and_publish_all() {
        let (active, _) = SigningKey::generate(Algorithm::ES256).expect("gen");
        let (next, _) = SigningKey::generate(Algorithm::ES256).expect("gen");
        let next_kid = next.kid().to_owned();
        let keys = LocalKeys::new(vec![(active, KeyState::Active), (next, KeyState::Next)])
            .expect("a valid rotation set");
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

    #[cfg(feature = "testkit")]
    #[tokio::test]
    async fn local_keys_pass_the_key_provider_conformance_kit() {
        let keys = LocalKeys::ephemeral_for_development().expect("keys");
        crate::testkit::key_provider::run_all(&keys).await;
        let until = OffsetDateTime::now_utc() + time::Duration::hours(1);
        let key = || SigningKey::generate(Algorithm::EdDSA).expect("key").0;
        let rotating = LocalKeys::with_schedule(vec![
            (key(), KeyState::Next, None),
            (key(), KeyState::Active, None),
            (key(), KeyState::Retiring, Some(until)),
        ])
        .expect("set");
        crate::testkit::key_provider::run_all(&rotating).await;
    }
}
