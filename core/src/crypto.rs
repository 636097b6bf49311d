//! The one place idpkit touches a cryptographic library.
//!
//! aws-lc-rs is the default backend; `ring` is selected with the `ring` feature (and
//! `default-features = false`). Both expose the same API for what is used here. Keys are
//! parsed once into a [`SigningKey`]; minting a token never re-parses a key.

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
use backend::signature::{self, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::keys::{Algorithm, Jwk};

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

/// A private signing key, parsed once, bound to one JOSE algorithm.
pub struct SigningKey {
    alg: Algorithm,
    inner: Inner,
    public: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PKCS#8 DER private key for `alg`. The public JWK gets the RFC 7638 thumbprint
    /// as `kid`.
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
        Self::with_inner(alg, inner)
    }

    /// Generates a new key for `alg` and returns it with its PKCS#8 DER encoding (so that a
    /// caller can persist it). RSA generation needs the aws-lc-rs backend.
    pub fn generate(alg: Algorithm) -> Result<(Self, Vec<u8>), CryptoError> {
        let der = generate_pkcs8(alg)?;
        let key = Self::from_pkcs8(alg, &der)?;
        Ok((key, der))
    }

    fn with_inner(alg: Algorithm, inner: Inner) -> Result<Self, CryptoError> {
        let mut public = match &inner {
            Inner::Rsa(kp) => {
                let (n, e) = parse_rsa_public_der(kp.public_key().as_ref())
                    .ok_or(CryptoError::Backend("unreadable RSA public key"))?;
                Jwk::rsa(&n, &e)
            }
            Inner::Ec(kp) => {
                let point = kp.public_key().as_ref();
                if point.len() != 65 || point[0] != 4 {
                    return Err(CryptoError::Backend("unexpected EC public key encoding"));
                }
                Jwk::ec_p256(&point[1..33], &point[33..65])
            }
            Inner::Ed(kp) => Jwk::ed25519(kp.public_key().as_ref()),
        };
        public.alg = Some(alg);
        public.key_use = Some("sig".to_owned());
        public.kid = Some(public.thumbprint());
        Ok(Self { alg, inner, public })
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public half as a JWK (with `kid`, `alg`, `use`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// Replaces the `kid` (for keys whose configuration names one).
    pub fn set_kid(&mut self, kid: impl Into<String>) {
        self.public.kid = Some(kid.into());
    }

    /// Publishes an X.509 chain with the key: `x5c` (base64 DER, leaf first) and `x5t#S256`.
    pub fn set_certificate_chain(&mut self, x5c: Vec<String>, x5t_s256: String) {
        self.public.x5c = Some(x5c);
        self.public.x5t_s256 = Some(x5t_s256);
    }

    /// The `kid` published for this key.
    pub fn kid(&self) -> &str {
        self.public.kid.as_deref().unwrap_or_default()
    }

    /// Signs `msg` and returns the JWS signature bytes (64-byte `r||s` for ES256).
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

/// Verifies a JWS signature with a public JWK. The algorithm comes from the caller's
/// allow-list and must match the key type; the token never picks it.
pub fn verify(jwk: &Jwk, alg: Algorithm, msg: &[u8], sig: &[u8]) -> bool {
    RawKey::from_jwk(jwk).is_some_and(|k| k.verify(alg, msg, sig))
}

/// A public key decoded from its JWK once (and, with aws-lc-rs, parsed once), for verifiers
/// that check many signatures with it: no per-signature key parsing.
pub struct VerifyingKey {
    raw: RawKey,
    #[cfg(not(feature = "ring"))]
    parsed: Vec<(Algorithm, signature::ParsedPublicKey)>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("raw", &self.raw)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RawKey {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    P256(Vec<u8>),
    Ed25519(Vec<u8>),
}

impl RawKey {
    fn from_jwk(jwk: &Jwk) -> Option<Self> {
        let decode = |v: &Option<String>| v.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
        match jwk.kty.as_str() {
            "RSA" => Some(Self::Rsa {
                n: decode(&jwk.n)?,
                e: decode(&jwk.e)?,
            }),
            "EC" if jwk.crv.as_deref() == Some("P-256") => {
                let (x, y) = (decode(&jwk.x)?, decode(&jwk.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Some(Self::P256(point))
            }
            "OKP" if jwk.crv.as_deref() == Some("Ed25519") => Some(Self::Ed25519(decode(&jwk.x)?)),
            _ => None,
        }
    }

    fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> bool {
        match (self, alg) {
            (Self::Rsa { n, e }, Algorithm::RS256 | Algorithm::PS256) => {
                let params = match alg {
                    Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    _ => &signature::RSA_PKCS1_2048_8192_SHA256,
                };
                signature::RsaPublicKeyComponents { n, e }
                    .verify(params, msg, sig)
                    .is_ok()
            }
            (Self::P256(point), Algorithm::ES256) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, sig)
                    .is_ok()
            }
            (Self::Ed25519(x), Algorithm::EdDSA) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, x)
                    .verify(msg, sig)
                    .is_ok()
            }
            _ => false,
        }
    }
}

impl VerifyingKey {
    /// Decodes a JWK; `None` for key types idpkit does not verify or malformed members.
    pub fn from_jwk(jwk: &Jwk) -> Option<Self> {
        let raw = RawKey::from_jwk(jwk)?;
        Some(Self {
            #[cfg(not(feature = "ring"))]
            parsed: parse_once(&raw, jwk.alg),
            raw,
        })
    }

    /// Whether `alg` fits this key's type.
    pub fn fits(&self, alg: Algorithm) -> bool {
        matches!(
            (&self.raw, alg),
            (RawKey::Rsa { .. }, Algorithm::RS256 | Algorithm::PS256)
                | (RawKey::P256(_), Algorithm::ES256)
                | (RawKey::Ed25519(_), Algorithm::EdDSA)
        )
    }

    /// Verifies `sig` over `msg` with `alg`; `false` when `alg` does not fit the key.
    pub fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> bool {
        #[cfg(not(feature = "ring"))]
        if let Some((_, parsed)) = self.parsed.iter().find(|(a, _)| *a == alg) {
            return parsed.verify_sig(msg, sig).is_ok();
        }
        self.raw.verify(alg, msg, sig)
    }
}

/// aws-lc-rs keeps keys parsed: one parsed key per algorithm the key can verify.
#[cfg(not(feature = "ring"))]
fn parse_once(
    raw: &RawKey,
    declared: Option<Algorithm>,
) -> Vec<(Algorithm, signature::ParsedPublicKey)> {
    let mut out = Vec::new();
    match raw {
        RawKey::Rsa { n, e } => {
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
        RawKey::P256(point) => {
            if let Ok(p) =
                signature::ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            {
                out.push((Algorithm::ES256, p));
            }
        }
        RawKey::Ed25519(x) => {
            if let Ok(p) = signature::ParsedPublicKey::new(&signature::ED25519, x) {
                out.push((Algorithm::EdDSA, p));
            }
        }
    }
    out
}

/// A public JWK from an X.509 `SubjectPublicKeyInfo` (DER), as KMS `GetPublicKey` and
/// `openssl pkey -pubout` give it: RSA, or EC P-256. `None` for anything else.
pub fn jwk_from_spki(der: &[u8]) -> Option<Jwk> {
    const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    const OID_EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    let (spki, _) = der_header(der, 0x30)?;
    let (algid, rest) = der_header(spki, 0x30)?;
    let (bits, _) = der_header(rest, 0x03)?;
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    let (oid, params) = der_header(algid, 0x06)?;
    if oid == OID_RSA {
        let (n, e) = parse_rsa_public_der(key)?;
        Some(Jwk::rsa(&n, &e))
    } else if oid == OID_EC
        && der_header(params, 0x06)?.0 == OID_P256
        && key.len() == 65
        && key[0] == 4
    {
        Some(Jwk::ec_p256(&key[1..33], &key[33..65]))
    } else {
        None
    }
}

/// Converts a DER `ECDSA-Sig-Value` (`SEQUENCE { r INTEGER, s INTEGER }`, what KMS and
/// OpenSSL return) into the 64-byte JOSE form `r || s` for P-256 (RFC 7518 §3.4).
pub fn ecdsa_der_to_jose(der: &[u8]) -> Option<[u8; 64]> {
    let (seq, rest) = der_header(der, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (r, rest) = der_header(seq, 0x02)?;
    let (s, rest) = der_header(rest, 0x02)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = [0u8; 64];
    for (i, v) in [r, s].into_iter().enumerate() {
        let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
        let v = &v[start..];
        if v.len() > 32 {
            return None;
        }
        out[i * 32 + 32 - v.len()..(i + 1) * 32].copy_from_slice(v);
    }
    Some(out)
}

/// One DER TLV of the expected tag: (content, rest).
fn der_header(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

/// Reads `SEQUENCE { INTEGER n, INTEGER e }` (PKCS#1 RSAPublicKey) into big-endian
/// magnitudes without leading zeros.
fn parse_rsa_public_der(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (seq, _) = der_header(der, 0x30)?;
    let (n, rest) = der_header(seq, 0x02)?;
    let (e, _) = der_header(rest, 0x02)?;
    let strip = |v: &[u8]| {
        let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
        v[start..].to_vec()
    };
    Some((strip(n), strip(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn es256_signatures_are_64_byte_jose_form_and_verify() {
        let (key, _) = SigningKey::generate(Algorithm::ES256).expect("generate");
        let sig = key.sign(b"header.payload").expect("sign");
        assert_eq!(sig.len(), 64);
        assert!(verify(
            key.public_jwk(),
            Algorithm::ES256,
            b"header.payload",
            &sig
        ));
        assert!(!verify(
            key.public_jwk(),
            Algorithm::ES256,
            b"header.payloaX",
            &sig
        ));
    }

    #[test]
    fn verify_refuses_an_algorithm_that_does_not_match_the_key_type() {
        let (key, _) = SigningKey::generate(Algorithm::EdDSA).expect("generate");
        let sig = key.sign(b"m").expect("sign");
        assert!(verify(key.public_jwk(), Algorithm::EdDSA, b"m", &sig));
        assert!(!verify(key.public_jwk(), Algorithm::ES256, b"m", &sig));
        assert!(!verify(key.public_jwk(), Algorithm::RS256, b"m", &sig));
    }

    #[cfg(not(feature = "ring"))]
    #[test]
    fn rsa_keys_round_trip_through_pkcs8_with_a_stable_kid() {
        let (key, der) = SigningKey::generate(Algorithm::RS256).expect("generate");
        let again = SigningKey::from_pkcs8(Algorithm::RS256, &der).expect("parse");
        assert_eq!(key.kid(), again.kid());
        let sig = again.sign(b"abc").expect("sign");
        assert!(verify(key.public_jwk(), Algorithm::RS256, b"abc", &sig));
        let ps = SigningKey::from_pkcs8(Algorithm::PS256, &der).expect("parse");
        let sig = ps.sign(b"abc").expect("sign");
        assert!(verify(ps.public_jwk(), Algorithm::PS256, b"abc", &sig));
        assert!(!verify(ps.public_jwk(), Algorithm::RS256, b"abc", &sig));
    }

    #[test]
    fn ecdsa_der_signatures_become_64_byte_jose_form() {
        // r with a leading 0x00 (high bit set), s short (leading zero byte dropped by DER).
        let mut r = vec![0x00, 0x80];
        r.extend([0x11; 31]);
        let s_val = vec![0x7f; 31];
        let mut body = vec![0x02, r.len() as u8];
        body.extend(&r);
        body.extend([0x02, s_val.len() as u8]);
        body.extend(&s_val);
        let mut der = vec![0x30, body.len() as u8];
        der.extend(body);
        let jose = ecdsa_der_to_jose(&der).expect("converts");
        assert_eq!(jose[0], 0x80);
        assert_eq!(&jose[1..32], &[0x11; 31]);
        assert_eq!(jose[32], 0x00, "short s is left-padded");
        assert_eq!(&jose[33..], &[0x7f; 31]);
        assert!(
            ecdsa_der_to_jose(&der[..der.len() - 1]).is_none(),
            "truncated DER is refused"
        );
        // A real signature: DER from a key we also hold, verified after conversion.
        let (key, _) = SigningKey::generate(Algorithm::ES256).expect("key");
        let jose = key.sign(b"m").expect("sign");
        let mut der = Vec::new();
        for half in [&jose[..32], &jose[32..]] {
            let mut v: Vec<u8> = half.iter().copied().skip_while(|b| *b == 0).collect();
            if v.first().is_some_and(|b| b & 0x80 != 0) {
                v.insert(0, 0);
            }
            der.push(0x02);
            der.push(v.len() as u8);
            der.extend(v);
        }
        let mut seq = vec![0x30, der.len() as u8];
        seq.extend(der);
        let back = ecdsa_der_to_jose(&seq).expect("converts");
        assert!(verify(key.public_jwk(), Algorithm::ES256, b"m", &back));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    const EDDSA_AT_HASH: &str = "8xltSlOGYrWy8W9yNvRlEth1i_bXW-JROWPLvCv5zog";

    #[test]
    fn left_half_hash_matches_a_published_at_hash_example() {
        // Worked example of the at_hash computation (SHA-256, left 128 bits, base64url).
        assert_eq!(
            left_half_hash(Algorithm::RS256, "dNZX1hEZ9wBCzNL40Upu646bdzQA"),
            "wfgvmE9VxjAudsl9lc6TqA"
        );
        // EdDSA: left half of SHA-512 (computed independently with Python's hashlib).
        assert_eq!(
            left_half_hash(Algorithm::EdDSA, "dNZX1hEZ9wBCzNL40Upu646bdzQA"),
            EDDSA_AT_HASH
        );
    }
}
