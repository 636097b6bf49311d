//! The one place idpkit touches a cryptographic library: primitives only.
//!
//! Random values, hashes, constant-time comparison, and signing / verifying with keys
//! parsed once ([`KeyPair`], [`VerifyingKey`]); the DER that key files and KMS answers are
//! made of ([`der`]). Nothing here knows JOSE beyond the [`Algorithm`] name a key signs
//! with: JWKs, `kid`s and compact JWS live in [`crate::jose`], which builds on this module.
//!
//! aws-lc-rs is the default backend; `ring` is selected with the `ring` feature (and
//! `default-features = false`). Both expose the same API for what is used here. Keys are
//! parsed once; minting a token never re-parses a key.

// Enabling `ring` selects ring even when the default `aws-lc-rs` is also on.
#[cfg(feature = "ring")]
use ring as backend;

#[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
use aws_lc_rs as backend;

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!(
    "idpkit-core needs a crypto backend: enable the `aws-lc-rs` (default) or `ring` feature"
);

use backend::rand::SecureRandom;
use backend::signature::{self, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::algorithm::Algorithm;

pub mod der;

// Old paths of items that moved to `jose` (JOSE-level types built on these primitives).
// Nothing in this file uses them.

/// Name of the crypto backend compiled in, for logs and benchmarks.
pub const BACKEND: &str = if cfg!(feature = "ring") {
    "ring"
} else {
    "aws-lc-rs"
};

/// Errors from the crypto layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The key material could not be parsed for the requested algorithm.
    #[error("key rejected for {alg}: {reason}")]
    KeyRejected {
        /// The algorithm the key was loaded for.
        alg: Algorithm,
        /// What the backend said.
        reason: String,
    },
    /// The backend failed to produce a signature or a key.
    #[error("crypto backend failure: {0}")]
    Backend(&'static str),
    /// Key generation is not available with this backend for this algorithm.
    #[error("generating {0} keys is not supported by the {BACKEND} backend")]
    GenerationUnsupported(Algorithm),
}

fn rng() -> &'static backend::rand::SystemRandom {
    static RNG: std::sync::OnceLock<backend::rand::SystemRandom> = std::sync::OnceLock::new();
    RNG.get_or_init(backend::rand::SystemRandom::new)
}

/// Fills `out` with random bytes from the system CSPRNG.
///
/// # Panics
/// Only if the operating system's random source fails, which no caller can recover from.
pub fn fill_random(out: &mut [u8]) {
    // The system RNG only fails when the OS cannot provide randomness at all; issuing
    // predictable tokens would be worse than stopping.
    #[allow(clippy::expect_used)]
    rng().fill(out).expect("system random source failed");
}

/// A fresh 256-bit random value, base64url-encoded (43 characters). Used for codes,
/// refresh tokens, opaque access tokens, session and interaction ids.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = backend::digest::digest(&backend::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// base64url (no padding) of SHA-256 of `data`: the form in which secrets become store ids.
pub fn sha256_b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(sha256(data))
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn hmac_key(alg: crate::MacAlgorithm, key: &[u8]) -> backend::hmac::Key {
    let algorithm = match alg {
        crate::MacAlgorithm::HS256 => backend::hmac::HMAC_SHA256,
        crate::MacAlgorithm::HS384 => backend::hmac::HMAC_SHA384,
        crate::MacAlgorithm::HS512 => backend::hmac::HMAC_SHA512,
    };
    backend::hmac::Key::new(algorithm, key)
}

/// The HMAC of `msg` under `key` (RFC 7518 §3.2): what a `client_secret_jwt` client signs
/// its assertions with.
pub fn hmac_sign(alg: crate::MacAlgorithm, key: &[u8], msg: &[u8]) -> Vec<u8> {
    backend::hmac::sign(&hmac_key(alg, key), msg)
        .as_ref()
        .to_vec()
}

/// Whether `tag` is the HMAC of `msg` under `key`, compared in constant time.
pub fn hmac_verify(alg: crate::MacAlgorithm, key: &[u8], msg: &[u8], tag: &[u8]) -> bool {
    backend::hmac::verify(&hmac_key(alg, key), msg, tag).is_ok()
}

/// The OIDC left-half hash (`at_hash`, `c_hash`) of `value`: SHA-256 for RS256, PS256 and
/// ES256, SHA-512 for EdDSA (Ed25519), as OIDC Core §3.1.3.6 and its errata specify.
pub fn left_half_hash(alg: Algorithm, value: &str) -> String {
    match alg {
        Algorithm::EdDSA => {
            let digest = backend::digest::digest(&backend::digest::SHA512, value.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest.as_ref()[..32])
        }
        _ => URL_SAFE_NO_PAD.encode(&sha256(value.as_bytes())[..16]),
    }
}

enum Inner {
    Rsa(signature::RsaKeyPair),
    Ec(signature::EcdsaKeyPair),
    Ed(signature::Ed25519KeyPair),
}

/// A public key as raw components: what a private key's public half, a JWK or an X.509
/// `SubjectPublicKeyInfo` decode to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKey {
    /// RSA: big-endian modulus and public exponent, without leading zeros.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// An uncompressed P-256 point.
    P256 {
        /// x coordinate, big-endian.
        x: [u8; 32],
        /// y coordinate, big-endian.
        y: [u8; 32],
    },
    /// An Ed25519 public key (RFC 8032 §5.1.5).
    Ed25519([u8; 32]),
}

impl PublicKey {
    /// From an uncompressed SEC1 point (`0x04 || x || y`) of P-256.
    pub fn p256_from_point(point: &[u8]) -> Option<Self> {
        match point {
            [4, rest @ ..] if rest.len() == 64 => {
                let mut x = [0u8; 32];
                let mut y = [0u8; 32];
                x.copy_from_slice(&rest[..32]);
                y.copy_from_slice(&rest[32..]);
                Some(Self::P256 { x, y })
            }
            _ => None,
        }
    }

    /// From an X.509 `SubjectPublicKeyInfo` (DER), as KMS `GetPublicKey` and
    /// `openssl pkey -pubout` give it: RSA, or EC P-256. `None` for anything else.
    pub fn from_spki(spki: &[u8]) -> Option<Self> {
        let der::Spki {
            algorithm,
            parameter,
            key,
        } = der::spki(spki)?;
        if algorithm == der::oid::RSA {
            let (n, e) = der::rsa_public_key(key)?;
            Some(Self::Rsa {
                n: n.to_vec(),
                e: e.to_vec(),
            })
        } else if algorithm == der::oid::EC && parameter == Some(der::oid::P256) {
            Self::p256_from_point(key)
        } else {
            None
        }
    }

    /// Whether `alg` is an algorithm for this kind of key (RFC 7518 §3.1).
    pub fn fits(&self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (Self::Rsa { .. }, Algorithm::RS256 | Algorithm::PS256)
                | (Self::P256 { .. }, Algorithm::ES256)
                | (Self::Ed25519(_), Algorithm::EdDSA)
        )
    }

    fn point(&self) -> Vec<u8> {
        match self {
            Self::P256 { x, y } => {
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                point
            }
            Self::Ed25519(x) => x.to_vec(),
            Self::Rsa { .. } => Vec::new(),
        }
    }
}

/// A private key, parsed once, bound to one algorithm. [`crate::jose::SigningKey`] adds
/// the published JWK and `kid`.
pub struct KeyPair {
    alg: Algorithm,
    inner: Inner,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// Parses a PKCS#8 DER private key for `alg`. RSA keys need at least 2048 bits.
    pub fn from_pkcs8(alg: Algorithm, der: &[u8]) -> Result<Self, CryptoError> {
        let rejected = |e: backend::error::KeyRejected| CryptoError::KeyRejected {
            alg,
            reason: match e.to_string().as_str() {
                "TooSmall" => "RSA key too small; at least 2048 bits are required".to_owned(),
                "TooLarge" => "key too large".to_owned(),
                "InvalidEncoding" => {
                    "malformed key, or its public part does not match the private part".to_owned()
                }
                "WrongAlgorithm" => format!("the key is not a {} key", alg.key_type()),
                "InconsistentComponents" => {
                    "the key's components do not match each other".to_owned()
                }
                other => other.to_owned(),
            },
        };
        let inner = match alg {
            Algorithm::RS256 | Algorithm::PS256 => {
                let kp = signature::RsaKeyPair::from_pkcs8(der).map_err(rejected)?;
                if kp.public_key().modulus_len() < 256 {
                    return Err(CryptoError::KeyRejected {
                        alg,
                        reason: format!(
                            "RSA key of {} bits; at least 2048 are required",
                            kp.public_key().modulus_len() * 8
                        ),
                    });
                }
                Inner::Rsa(kp)
            }
            Algorithm::ES256 => Inner::Ec(ecdsa_from_pkcs8(der).map_err(rejected)?),
            Algorithm::EdDSA => Inner::Ed(
                signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(rejected)?,
            ),
        };
        Ok(Self { alg, inner })
    }

    /// Generates a new key for `alg` and returns it with its PKCS#8 DER encoding (so that a
    /// caller can persist it). RSA generation needs the aws-lc-rs backend.
    pub fn generate(alg: Algorithm) -> Result<(Self, Vec<u8>), CryptoError> {
        let der = generate_pkcs8(alg)?;
        let key = Self::from_pkcs8(alg, &der)?;
        Ok((key, der))
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public half.
    pub fn public_key(&self) -> Result<PublicKey, CryptoError> {
        match &self.inner {
            Inner::Rsa(kp) => {
                let (n, e) = der::rsa_public_key(kp.public_key().as_ref())
                    .ok_or(CryptoError::Backend("unreadable RSA public key"))?;
                Ok(PublicKey::Rsa {
                    n: n.to_vec(),
                    e: e.to_vec(),
                })
            }
            Inner::Ec(kp) => PublicKey::p256_from_point(kp.public_key().as_ref())
                .ok_or(CryptoError::Backend("unexpected EC public key encoding")),
            Inner::Ed(kp) => <[u8; 32]>::try_from(kp.public_key().as_ref())
                .map(PublicKey::Ed25519)
                .map_err(|_| CryptoError::Backend("unexpected Ed25519 public key length")),
        }
    }

    /// Signs `msg` and returns the JWS signature bytes (64-byte `r||s` for ES256,
    /// RFC 7518 §3.4).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.inner {
            Inner::Rsa(kp) => {
                let padding: &'static dyn signature::RsaEncoding = match self.alg {
                    Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0u8; kp.public_key().modulus_len()];
                kp.sign(padding, rng(), msg, &mut sig)
                    .map_err(|_| CryptoError::Backend("RSA signing failed"))?;
                Ok(sig)
            }
            Inner::Ec(kp) => kp
                .sign(rng(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| CryptoError::Backend("ECDSA signing failed")),
            Inner::Ed(kp) => Ok(kp.sign(msg).as_ref().to_vec()),
        }
    }
}

#[cfg(not(feature = "ring"))]
fn ecdsa_from_pkcs8(der: &[u8]) -> Result<signature::EcdsaKeyPair, backend::error::KeyRejected> {
    signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
}

#[cfg(feature = "ring")]
fn ecdsa_from_pkcs8(der: &[u8]) -> Result<signature::EcdsaKeyPair, backend::error::KeyRejected> {
    signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, rng())
}

fn generate_pkcs8(alg: Algorithm) -> Result<Vec<u8>, CryptoError> {
    let fail = |_| CryptoError::Backend("key generation failed");
    match alg {
        Algorithm::ES256 => signature::EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            rng(),
        )
        .map(|d| d.as_ref().to_vec())
        .map_err(fail),
        Algorithm::EdDSA => signature::Ed25519KeyPair::generate_pkcs8(rng())
            .map(|d| d.as_ref().to_vec())
            .map_err(fail),
        Algorithm::RS256 | Algorithm::PS256 => generate_rsa_pkcs8(alg),
    }
}

#[cfg(not(feature = "ring"))]
fn generate_rsa_pkcs8(_alg: Algorithm) -> Result<Vec<u8>, CryptoError> {
    use backend::encoding::AsDer;
    let kp = signature::RsaKeyPair::generate(backend::rsa::KeySize::Rsa2048)
        .map_err(|_| CryptoError::Backend("RSA key generation failed"))?;
    kp.as_der()
        .map(|d| d.as_ref().to_vec())
        .map_err(|_| CryptoError::Backend("RSA key encoding failed"))
}

#[cfg(feature = "ring")]
fn generate_rsa_pkcs8(alg: Algorithm) -> Result<Vec<u8>, CryptoError> {
    Err(CryptoError::GenerationUnsupported(alg))
}

/// A public key decoded once (and, with aws-lc-rs, parsed once), for verifiers that check
/// many signatures with it: no per-signature key parsing.
pub struct VerifyingKey {
    public: PublicKey,
    declared: Option<Algorithm>,
    /// The SEC1 point (P-256) or raw key (Ed25519) the backend takes.
    raw: Vec<u8>,
    #[cfg(not(feature = "ring"))]
    parsed: Vec<(Algorithm, signature::ParsedPublicKey)>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Prepares `public` for verification. `declared` (a JWK's `alg`) limits which
    /// algorithm it verifies for; `None` allows every algorithm of its type.
    pub fn new(public: PublicKey, declared: Option<Algorithm>) -> Self {
        Self {
            raw: public.point(),
            declared,
            #[cfg(not(feature = "ring"))]
            parsed: parse_once(&public, declared),
            public,
        }
    }

    /// The key's components.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Whether `alg` fits this key's type and declared algorithm.
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.public.fits(alg) && self.declared.is_none_or(|d| d == alg)
    }

    /// Verifies `sig` over `msg` with `alg`; `false` when `alg` does not fit the key (the
    /// caller's allow-list picks `alg`, never the token alone).
    pub fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> bool {
        if self.declared.is_some_and(|d| d != alg) {
            return false;
        }
        #[cfg(not(feature = "ring"))]
        if let Some((_, parsed)) = self.parsed.iter().find(|(a, _)| *a == alg) {
            return parsed.verify_sig(msg, sig).is_ok();
        }
        match (&self.public, alg) {
            (PublicKey::Rsa { n, e }, Algorithm::RS256 | Algorithm::PS256) => {
                let params = match alg {
                    Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    _ => &signature::RSA_PKCS1_2048_8192_SHA256,
                };
                signature::RsaPublicKeyComponents { n, e }
                    .verify(params, msg, sig)
                    .is_ok()
            }
            (PublicKey::P256 { .. }, Algorithm::ES256) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &self.raw)
                    .verify(msg, sig)
                    .is_ok()
            }
            (PublicKey::Ed25519(_), Algorithm::EdDSA) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, &self.raw)
                    .verify(msg, sig)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// aws-lc-rs keeps keys parsed: one parsed key per algorithm the key can verify.
#[cfg(not(feature = "ring"))]
fn parse_once(
    public: &PublicKey,
    declared: Option<Algorithm>,
) -> Vec<(Algorithm, signature::ParsedPublicKey)> {
    let mut out = Vec::new();
    match public {
        PublicKey::Rsa { n, e } => {
            for (alg, params) in [
                (Algorithm::RS256, &signature::RSA_PKCS1_2048_8192_SHA256),
                (Algorithm::PS256, &signature::RSA_PSS_2048_8192_SHA256),
            ] {
                if declared.is_none_or(|d| d == alg)
                    && let Ok(p) = (signature::RsaPublicKeyComponents {
                        n: n.as_slice(),
                        e: e.as_slice(),
                    })
                    .to_parsed_public_key(params)
                {
                    out.push((alg, p));
                }
            }
        }
        PublicKey::P256 { .. } => {
            if let Ok(p) =
                signature::ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, public.point())
            {
                out.push((Algorithm::ES256, p));
            }
        }
        PublicKey::Ed25519(x) => {
            if let Ok(p) = signature::ParsedPublicKey::new(&signature::ED25519, x) {
                out.push((Algorithm::EdDSA, p));
            }
        }
    }
    out
}

/// Converts a DER `ECDSA-Sig-Value` (`SEQUENCE { r INTEGER, s INTEGER }`, what KMS and
/// OpenSSL return) into the 64-byte JOSE form `r || s` for P-256 (RFC 7518 §3.4).
pub fn ecdsa_der_to_jose(sig: &[u8]) -> Option<[u8; 64]> {
    let (seq, rest) = der::expect(sig, der::tag::SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    let (r, rest) = der::expect(seq, der::tag::INTEGER)?;
    let (s, rest) = der::expect(rest, der::tag::INTEGER)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = [0u8; 64];
    for (i, v) in [r, s].into_iter().enumerate() {
        let v = der::unsigned(v);
        if v.len() > 32 {
            return None;
        }
        out[i * 32 + 32 - v.len()..(i + 1) * 32].copy_from_slice(v);
    }
    Some(out)
}

#[cfg(test)]
mod tests;
