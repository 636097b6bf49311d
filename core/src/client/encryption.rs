//! A client's encrypted responses (OpenID Connect Registration §2
//! `id_token_encrypted_response_alg` / `_enc`, `userinfo_encrypted_response_alg` / `_enc`;
//! Core §5.3.2, §16.14): ID tokens and userinfo answers encrypted (after signing) to the
//! client's encryption key from its `jwks` or `jwks_uri` ([`crate::jose::jwe`]).
//!
//! Registration §2 makes `A128CBC-HS256` the default `enc` when only `alg` is given;
//! idpkit implements AES-GCM only, so `enc` must be given with `alg` (a registration that
//! leaves it out is refused, naming the member, rather than silently getting another
//! cipher than the client expects).

use super::{Client, ClientBuilder, ClientJwks};
use crate::jose::jwe::{self, JweAlgorithm, JweEncryption};

/// The `alg` and `enc` of one kind of encrypted response.
pub type ResponseEncryption = (JweAlgorithm, JweEncryption);

/// The encryption metadata of a client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Encryption {
    pub id_token: Option<ResponseEncryption>,
    pub userinfo: Option<ResponseEncryption>,
}

impl Client {
    /// `id_token_encrypted_response_alg` / `_enc`: ID tokens for this client are signed,
    /// then encrypted to its key (a nested JWT, `cty: JWT`, OIDC Core §16.14).
    pub fn id_token_encrypted_response(&self) -> Option<ResponseEncryption> {
        self.encryption.id_token
    }

    /// `userinfo_encrypted_response_alg` / `_enc`: userinfo answers this client with a
    /// JWE (`application/jwt`) of its claims, or of the signed JWT when
    /// `userinfo_signed_response_alg` is set too (OIDC Core §5.3.2).
    pub fn userinfo_encrypted_response(&self) -> Option<ResponseEncryption> {
        self.encryption.userinfo
    }
}

impl ClientBuilder {
    /// `id_token_encrypted_response_alg` and `_enc` (OIDC Registration §2): encrypt this
    /// client's ID tokens to its encryption key (`use: enc` or no `use`, a key type of
    /// `alg`) in its [`jwks`](Self::jwks) or [`jwks_uri`](Self::jwks_uri). Needs the
    /// aws-lc-rs backend.
    pub fn id_token_encrypted_response(mut self, alg: JweAlgorithm, enc: JweEncryption) -> Self {
        self.client.encryption.id_token = Some((alg, enc));
        self
    }

    /// `userinfo_encrypted_response_alg` and `_enc` (OIDC Registration §2), like
    /// [`id_token_encrypted_response`](Self::id_token_encrypted_response).
    pub fn userinfo_encrypted_response(mut self, alg: JweAlgorithm, enc: JweEncryption) -> Self {
        self.client.encryption.userinfo = Some((alg, enc));
        self
    }
}

/// The `build` checks: encryption needs the aws-lc-rs backend and client keys; keys by
/// value must hold a key `alg` encrypts to.
pub(crate) fn check(c: &Client) -> Result<(), String> {
    for (member, setting) in [
        ("id_token_encrypted_response_alg", c.encryption.id_token),
        ("userinfo_encrypted_response_alg", c.encryption.userinfo),
    ] {
        let Some((alg, _)) = setting else { continue };
        if !jwe::SUPPORTED {
            return Err(format!("{member}: {}", jwe::NEEDS_AWS_LC_RS));
        }
        match &c.jwt.jwks {
            None => {
                return Err(format!(
                    "{member} {alg} needs the client's encryption key: give jwks or jwks_uri"
                ));
            }
            Some(ClientJwks::Value { jwks, .. })
                if jwe::select_recipient(jwks.encryption_keys(), alg).is_none() =>
            {
                return Err(format!(
                    "{member} {alg}: jwks has no usable encryption key (a {} key with use enc or no use, and alg {alg} or none)",
                    alg.key_type()
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Reads an `alg` / `enc` pair of registration metadata (OIDC Registration §2): `enc`
/// without `alg` is refused, and so is `alg` without `enc` (the default A128CBC-HS256 is
/// not implemented). Errors name the member.
pub(crate) fn pair(
    prefix: &str,
    alg: Option<&str>,
    enc: Option<&str>,
) -> Result<Option<ResponseEncryption>, String> {
    match (alg, enc) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(format!(
            "{prefix}_enc needs {prefix}_alg (OIDC Registration §2)"
        )),
        (Some(a), enc) => {
            let alg = JweAlgorithm::from_name(a).ok_or_else(|| {
                format!(
                    "{prefix}_alg {a:?} is not supported (RSA-OAEP-256, ECDH-ES, ECDH-ES+A256KW)"
                )
            })?;
            let Some(e) = enc else {
                return Err(format!(
                    "{prefix}_enc is required with {prefix}_alg: its default A128CBC-HS256 is not supported; give A128GCM or A256GCM"
                ));
            };
            let enc = JweEncryption::from_name(e)
                .ok_or_else(|| format!("{prefix}_enc {e:?} is not supported (A128GCM, A256GCM)"))?;
            Ok(Some((alg, enc)))
        }
    }
}
