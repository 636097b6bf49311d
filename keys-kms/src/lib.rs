//! # idpkit-keys-kms
//!
//! A [`KeyProvider`] whose private keys live in AWS KMS (or a KMS-compatible endpoint): core
//! builds each JWS signing input, this crate sends it to KMS `Sign` (as RAW up to 4096 bytes,
//! as its SHA-256 DIGEST beyond), and the private key never leaves KMS.
//!
//! - RSA keys sign RS256 (`RSASSA_PKCS1_V1_5_SHA_256`) or PS256 (`RSASSA_PSS_SHA_256`);
//!   `ECC_NIST_P256` keys sign ES256 (`ECDSA_SHA_256`), whose DER signature is converted to
//!   the 64-byte JOSE form.
//! - Public keys are fetched once per key at [`KmsKeys::load`] and cached: the JWKS is
//!   served without a KMS call. The `kid` is the RFC 7638 thumbprint of the public key, so
//!   every instance using the same KMS key publishes the same `kid`.
//! - Keys have the same rotation states as key files: *next* (published, never signs),
//!   *active* (signs), *retiring* (published until `until`, checked whenever the set is
//!   (re)built: call [`KmsKeys::set_keys`] periodically, as the example host does). `set_keys`
//!   swaps the set at run time.
//! - KMS trouble: every call has a bounded timeout and retries; a failure to sign is
//!   [`KeyError::Unavailable`], which clients receive as `temporarily_unavailable`, and the
//!   grant being redeemed is not consumed.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use idpkit_core::crypto;
use idpkit_core::keys::{RotationError, rotation};
use idpkit_core::{Algorithm, Jwk, Jwks, KeyError, KeyProvider, KeyRef, KeyState};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One KMS key and its rotation state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsKey {
    /// Key id, ARN or alias.
    pub key_id: String,
    /// The algorithm (default: RS256 for RSA keys, ES256 for P-256 keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<Algorithm>,
    /// The rotation state.
    pub state: KeyState,
    /// For retiring keys: published until this time.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<OffsetDateTime>,
}

impl KmsKey {
    /// An active key.
    pub fn active(key_id: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
            alg: None,
            state: KeyState::Active,
            until: None,
        }
    }

    /// A key in `state`.
    pub fn with_state(mut self, state: KeyState) -> Self {
        self.state = state;
        self
    }

    /// A fixed algorithm (PS256 for an RSA key, say).
    pub fn with_alg(mut self, alg: Algorithm) -> Self {
        self.alg = Some(alg);
        self
    }
}

#[derive(Debug, Clone)]
struct Loaded {
    key_id: String,
    alg: Algorithm,
    state: KeyState,
    jwk: Jwk,
}

#[derive(Debug)]
struct Set {
    keys: Vec<Loaded>,
    jwks: Arc<Jwks>,
}

/// Signing keys in KMS. Cheap to share behind an `Arc`.
pub struct KmsKeys {
    client: aws_sdk_kms::Client,
    set: RwLock<Arc<Set>>,
}

impl std::fmt::Debug for KmsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self
            .current()
            .keys
            .iter()
            .map(|k| k.key_id.clone())
            .collect();
        f.debug_struct("KmsKeys")
            .field("keys", &ids)
            .finish_non_exhaustive()
    }
}

/// Bounded timeouts and retries for KMS calls: a KMS outage must turn into a prompt
/// `temporarily_unavailable`, not a hung token request.
pub fn resilient_config(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    loader
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
}

/// The largest message KMS `Sign` takes as RAW.
const KMS_RAW_LIMIT: usize = 4096;

fn unavailable(e: impl std::fmt::Display) -> KeyError {
    KeyError::Unavailable(format!("KMS: {e}"))
}

fn kms_alg(alg: Algorithm) -> Option<SigningAlgorithmSpec> {
    match alg {
        Algorithm::RS256 => Some(SigningAlgorithmSpec::RsassaPkcs1V15Sha256),
        Algorithm::PS256 => Some(SigningAlgorithmSpec::RsassaPssSha256),
        Algorithm::ES256 => Some(SigningAlgorithmSpec::EcdsaSha256),
        Algorithm::EdDSA => None,
    }
}

impl KmsKeys {
    /// A client from the environment (region, credentials, `AWS_ENDPOINT_URL`), with
    /// [`resilient_config`].
    pub async fn client_from_env() -> aws_sdk_kms::Client {
        let config = resilient_config(aws_config::defaults(aws_config::BehaviorVersion::latest()))
            .load()
            .await;
        aws_sdk_kms::Client::new(&config)
    }

    /// Fetches the public key of every key (once) and builds the set.
    pub async fn load(client: aws_sdk_kms::Client, keys: &[KmsKey]) -> Result<Self, KeyError> {
        let set = Self::assemble(Self::fetch(&client, keys).await?, keys)?;
        Ok(Self {
            client,
            set: RwLock::new(Arc::new(set)),
        })
    }

    /// Replaces the key set (rotation), fetching public keys of new keys; on error the
    /// current set stays.
    pub async fn set_keys(&self, keys: &[KmsKey]) -> Result<(), KeyError> {
        let current = self.current();
        let mut known = Vec::new();
        let mut to_fetch = Vec::new();
        for k in keys {
            match current
                .keys
                .iter()
                .find(|l| l.key_id == k.key_id && k.alg.is_none_or(|a| a == l.alg))
            {
                Some(l) => known.push(Loaded {
                    state: k.state,
                    ..l.clone()
                }),
                None => to_fetch.push(k.clone()),
            }
        }
        let fetched = Self::fetch(&self.client, &to_fetch).await?;
        let mut all: Vec<Loaded> = Vec::new();
        for k in keys {
            let found = known
                .iter()
                .chain(fetched.iter())
                .find(|l| l.key_id == k.key_id)
                .cloned();
            if let Some(mut l) = found {
                l.state = k.state;
                all.push(l);
            }
        }
        let set = Self::assemble(all, keys)?;
        *self.set.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        Ok(())
    }

    /// Fetches and checks the public keys; the rotation rules apply to the whole set, in
    /// [`Self::assemble`].
    async fn fetch(client: &aws_sdk_kms::Client, keys: &[KmsKey]) -> Result<Vec<Loaded>, KeyError> {
        let mut loaded = Vec::new();
        for k in keys {
            let out = client
                .get_public_key()
                .key_id(&k.key_id)
                .send()
                .await
                .map_err(|e| unavailable(aws_sdk_kms::error::DisplayErrorContext(e)))?;
            let der = out.public_key().ok_or_else(|| {
                KeyError::Other(format!("KMS key {}: no public key returned", k.key_id))
            })?;
            let mut jwk = idpkit_core::jose::jwk_from_spki(der.as_ref()).ok_or_else(|| {
                KeyError::Other(format!(
                    "KMS key {}: unsupported key type (use RSA_2048+ or ECC_NIST_P256 with SIGN_VERIFY)",
                    k.key_id
                ))
            })?;
            let alg = match (k.alg, jwk.kty.as_str()) {
                (Some(a), kty) if a.key_type() == kty => a,
                (Some(a), kty) => {
                    return Err(KeyError::Other(format!(
                        "KMS key {}: {a} does not fit a {kty} key",
                        k.key_id
                    )));
                }
                (None, "RSA") => Algorithm::RS256,
                (None, _) => Algorithm::ES256,
            };
            let spec =
                kms_alg(alg).ok_or_else(|| KeyError::Other(format!("KMS cannot sign {alg}")))?;
            if !out.signing_algorithms().contains(&spec) {
                return Err(KeyError::Other(format!(
                    "KMS key {} cannot sign with {alg}",
                    k.key_id
                )));
            }
            jwk.alg = Some(alg);
            jwk.key_use = Some("sig".into());
            jwk.kid = Some(jwk.thumbprint());
            loaded.push(Loaded {
                key_id: k.key_id.clone(),
                alg,
                state: k.state,
                jwk,
            });
        }
        Ok(loaded)
    }

    fn assemble(loaded: Vec<Loaded>, specs: &[KmsKey]) -> Result<Set, KeyError> {
        let now = OffsetDateTime::now_utc();
        let until = |l: &Loaded| {
            specs
                .iter()
                .find(|s| s.key_id == l.key_id)
                .and_then(|s| s.until)
        };
        let keys: Vec<Loaded> = loaded
            .into_iter()
            .filter(|l| rotation::is_published(l.state, until(l), now))
            .collect();
        let entries: Vec<rotation::RotationEntry<'_>> = keys
            .iter()
            .map(|k| {
                (
                    k.jwk.kid.as_deref().unwrap_or_default(),
                    k.alg,
                    k.state,
                    until(k),
                )
            })
            .collect();
        rotation::check_set(&entries).map_err(|e| match e {
            RotationError::DuplicateKid { kid } => KeyError::Other(format!(
                "the same KMS key (kid {kid:?}) is listed twice (one key id, one kid: list it once, with one algorithm)"
            )),
            e => KeyError::Rotation(e),
        })?;
        drop(entries);
        let jwks = Arc::new(Jwks::new(keys.iter().map(|k| k.jwk.clone()).collect()));
        Ok(Set { keys, jwks })
    }

    fn current(&self) -> Arc<Set> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl KeyProvider for KmsKeys {
    async fn jwks(&self) -> Result<Arc<Jwks>, KeyError> {
        Ok(self.current().jwks.clone())
    }

    async fn signing_key(&self, alg: Algorithm) -> Result<KeyRef, KeyError> {
        self.current()
            .keys
            .iter()
            .find(|k| k.state == KeyState::Active && k.alg == alg)
            .map(|k| KeyRef {
                kid: k.jwk.kid.clone().unwrap_or_default(),
                alg,
            })
            .ok_or(KeyError::NoKeyFor(alg))
    }

    async fn sign(&self, key: &KeyRef, signing_input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let set = self.current();
        let k = set
            .keys
            .iter()
            .find(|k| {
                k.state == KeyState::Active
                    && k.alg == key.alg
                    && k.jwk.kid.as_deref() == Some(&key.kid)
            })
            .ok_or_else(|| KeyError::UnknownKey {
                kid: key.kid.clone(),
            })?;
        let spec = kms_alg(k.alg).ok_or(KeyError::NoKeyFor(k.alg))?;
        // KMS hashes RAW messages itself, up to 4096 bytes; longer signing inputs go as their
        // SHA-256 digest (MessageType DIGEST), which KMS signs without hashing again.
        let (message, message_type) = if signing_input.len() <= KMS_RAW_LIMIT {
            (signing_input.to_vec(), MessageType::Raw)
        } else {
            (crypto::sha256(signing_input).to_vec(), MessageType::Digest)
        };
        let out = self
            .client
            .sign()
            .key_id(&k.key_id)
            .message(Blob::new(message))
            .message_type(message_type)
            .signing_algorithm(spec)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_kms::error::DisplayErrorContext(e)))?;
        let sig = out
            .signature()
            .ok_or_else(|| unavailable("Sign returned no signature"))?
            .as_ref()
            .to_vec();
        match k.alg {
            Algorithm::ES256 => crypto::ecdsa_der_to_jose(&sig)
                .map(|j| j.to_vec())
                .ok_or_else(|| KeyError::Other("KMS returned a malformed ECDSA signature".into())),
            _ => Ok(sig),
        }
    }

    fn algorithms(&self) -> Vec<Algorithm> {
        let mut algs = Vec::new();
        for k in self
            .current()
            .keys
            .iter()
            .filter(|k| k.state == KeyState::Active)
        {
            if !algs.contains(&k.alg) {
                algs.push(k.alg);
            }
        }
        algs
    }
}
