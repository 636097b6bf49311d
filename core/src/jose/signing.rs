//! A private signing key with the JWK it is published as.

use super::{Algorithm, Jwk};
use crate::crypto::{CryptoError, KeyPair};

/// A private signing key, parsed once, bound to one JOSE algorithm, with its public JWK
/// (`kid`, `alg`, `use`, optionally `x5c`).
pub struct SigningKey {
    pair: KeyPair,
    public: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.pair.alg())
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PKCS#8 DER private key for `alg`. The public JWK gets the RFC 7638 thumbprint
    /// as `kid`.
    pub fn from_pkcs8(alg: Algorithm, der: &[u8]) -> Result<Self, CryptoError> {
        Self::from_pair(KeyPair::from_pkcs8(alg, der)?)
    }

    /// Generates a new key for `alg` and returns it with its PKCS#8 DER encoding (so that a
    /// caller can persist it). RSA generation needs the aws-lc-rs backend.
    pub fn generate(alg: Algorithm) -> Result<(Self, Vec<u8>), CryptoError> {
        let (pair, der) = KeyPair::generate(alg)?;
        Ok((Self::from_pair(pair)?, der))
    }

    /// Wraps a parsed key pair; the `kid` is the RFC 7638 thumbprint.
    pub fn from_pair(pair: KeyPair) -> Result<Self, CryptoError> {
        let mut public = Jwk::from_public_key(&pair.public_key()?);
        public.alg = Some(pair.alg());
        public.key_use = Some("sig".to_owned());
        public.kid = Some(public.thumbprint());
        Ok(Self { pair, public })
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        self.pair.alg()
    }

    /// The public half as a JWK (with `kid`, `alg`, `use`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// Replaces the `kid` (for keys whose configuration names one).
    pub fn set_kid(&mut self, kid: impl Into<String>) {
        self.public.kid = Some(kid.into());
    }

    /// Publishes an X.509 chain with the key: `x5c` (base64 DER, leaf first) and `x5t#S256`
    /// (RFC 7517 §4.7, §4.9).
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
        self.pair.sign(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::verify_with_jwk;

    #[test]
    fn the_kid_is_the_rfc7638_thumbprint_and_signatures_verify_with_the_jwk() {
        for alg in [Algorithm::ES256, Algorithm::EdDSA] {
            let (key, der) = SigningKey::generate(alg).expect("generate");
            let again = SigningKey::from_pkcs8(alg, &der).expect("parse");
            assert_eq!(key.kid(), again.kid(), "stable across loads");
            assert_eq!(key.kid(), key.public_jwk().thumbprint());
            assert_eq!(key.public_jwk().alg, Some(alg));
            assert_eq!(key.public_jwk().kty, alg.key_type());
            let sig = again.sign(b"abc").expect("sign");
            assert!(verify_with_jwk(key.public_jwk(), alg, b"abc", &sig));
        }
    }

    #[cfg(not(feature = "ring"))]
    #[test]
    fn an_rsa_key_loaded_for_ps256_publishes_ps256_rfc7518_3_5() {
        let (key, der) = SigningKey::generate(Algorithm::RS256).expect("generate");
        let ps = SigningKey::from_pkcs8(Algorithm::PS256, &der).expect("parse");
        assert_eq!(key.kid(), ps.kid(), "the thumbprint ignores alg");
        let sig = ps.sign(b"abc").expect("sign");
        assert!(verify_with_jwk(
            ps.public_jwk(),
            Algorithm::PS256,
            b"abc",
            &sig
        ));
        assert!(!verify_with_jwk(
            ps.public_jwk(),
            Algorithm::RS256,
            b"abc",
            &sig
        ));
    }
}
