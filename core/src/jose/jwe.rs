//! The JWE compact serialisation (RFC 7516 §7.1): encryption to a recipient's public key
//! and decryption with the provider's (or a resource server's) private keys.
//!
//! What is implemented, and nothing else:
//! - key management (`alg`, RFC 7518 §4): `RSA-OAEP-256` (§4.3), `ECDH-ES` direct key
//!   agreement on P-256 (§4.6) and `ECDH-ES+A256KW` (§4.6 with AES key wrap, RFC 3394);
//!   the Concat KDF of §4.6.2 with `apu` / `apv`;
//! - content encryption (`enc`, RFC 7518 §5.3): `A128GCM` and `A256GCM`, the additional
//!   authenticated data being the ASCII of the base64url protected header (RFC 7516 §5.1
//!   step 14).
//!
//! What the parser refuses: anything but five parts, or longer than [`MAX_JWE_LEN`]; a
//! protected header that is not a strict JSON object (duplicates refused, as for JWS) or
//! carries a member idpkit does not understand; `crit` (RFC 7516 §4.1.13); `zip`
//! (compression, RFC 7516 §4.1.3: decompressing attacker data is a resource attack, and
//! RFC 8725 §3.6 advises against it); `dir` and `RSA1_5` (never: a shared symmetric key,
//! and a padding oracle, RFC 8725 §3.2) and every other `alg` or `enc` outside the lists
//! above; a key whose type does not fit `alg` (no key confusion: an RSA key never serves
//! ECDH and back); an `epk` that is not an uncompressed P-256 public point on the curve
//! (invalid-curve attacks, RFC 8725 §3.4), or with a private `d`; an IV other than 96 bits,
//! a tag other than 128 bits; an encrypted key of the wrong length for `alg`. The tag is
//! checked by the AEAD itself (constant time). A failed RSA unwrap continues with a random
//! CEK (RFC 7516 §11.5), so all decryption failures look alike.
//!
//! The `ring` backend has neither RSA-OAEP nor AES key wrap: with it, [`encrypt`] and
//! [`DecryptionKey`] answer [`JweError::Unsupported`] ("JWE needs the aws-lc-rs
//! backend"), and client registrations asking for encryption are refused.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::json::{JsonType, Member, ObjectError, read_object};
use crate::crypto::PublicKey;

/// The longest compact JWE accepted, in bytes (request objects, ID tokens, userinfo and
/// access tokens are far smaller).
pub const MAX_JWE_LEN: usize = 256 * 1024;

/// The longest protected header accepted, in bytes (decoded).
pub const MAX_HEADER_LEN: usize = 4096;

/// Whether this build can encrypt and decrypt (the aws-lc-rs backend).
pub const SUPPORTED: bool = cfg!(not(feature = "ring"));

/// The message of [`JweError::Unsupported`].
pub const NEEDS_AWS_LC_RS: &str =
    "JWE needs the aws-lc-rs backend (the ring backend has no RSA-OAEP or AES key wrap)";

/// A key management algorithm (JWE `alg`, RFC 7518 §4.1) idpkit implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JweAlgorithm {
    /// `RSA-OAEP-256`: RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 7518 §4.3).
    RsaOaep256,
    /// `ECDH-ES`: direct key agreement on P-256 with the Concat KDF (RFC 7518 §4.6).
    EcdhEs,
    /// `ECDH-ES+A256KW`: key agreement, then AES-256 key wrap of the CEK (RFC 7518 §4.6).
    EcdhEsA256kw,
}

impl JweAlgorithm {
    /// Every algorithm, in the order discovery lists them.
    pub const ALL: [JweAlgorithm; 3] = [Self::RsaOaep256, Self::EcdhEs, Self::EcdhEsA256kw];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RsaOaep256 => "RSA-OAEP-256",
            Self::EcdhEs => "ECDH-ES",
            Self::EcdhEsA256kw => "ECDH-ES+A256KW",
        }
    }

    /// Parses a JOSE name (case-sensitive); `dir`, `RSA1_5`, `RSA-OAEP` and every other
    /// name give `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The JWK `kty` of a recipient key for this algorithm (RFC 7518 §6.1).
    pub fn key_type(self) -> &'static str {
        match self {
            Self::RsaOaep256 => "RSA",
            Self::EcdhEs | Self::EcdhEsA256kw => "EC",
        }
    }

    /// Whether `key` is a key for this algorithm: RSA for RSA-OAEP-256, P-256 for ECDH.
    pub fn fits(self, key: &PublicKey) -> bool {
        matches!(
            (self, key),
            (Self::RsaOaep256, PublicKey::Rsa { .. })
                | (Self::EcdhEs | Self::EcdhEsA256kw, PublicKey::P256 { .. })
        )
    }
}

/// A content encryption algorithm (JWE `enc`, RFC 7518 §5.1) idpkit implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JweEncryption {
    /// `A128GCM`: AES-128 in GCM, 96-bit IV, 128-bit tag (RFC 7518 §5.3).
    A128GCM,
    /// `A256GCM`: AES-256 in GCM (RFC 7518 §5.3).
    A256GCM,
}

impl JweEncryption {
    /// Both, in the order discovery lists them.
    pub const ALL: [JweEncryption; 2] = [Self::A128GCM, Self::A256GCM];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A128GCM => "A128GCM",
            Self::A256GCM => "A256GCM",
        }
    }

    /// Parses a JOSE name (case-sensitive); CBC-HMAC and unknown names give `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The content encryption key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::A128GCM => 16,
            Self::A256GCM => 32,
        }
    }
}

macro_rules! named {
    ($t:ty, $what:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = String::deserialize(d)?;
                Self::from_name(&name).ok_or_else(|| {
                    serde::de::Error::custom(format!(concat!("unsupported ", $what, " {:?}"), name))
                })
            }
        }
    };
}
named!(JweAlgorithm, "JWE alg");
named!(JweEncryption, "JWE enc");

/// Why a JWE was refused, or could not be made. `Display` says what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JweError {
    /// Not five dot-separated parts.
    #[error("has {found} part(s), not the five dot-separated parts of a JWE compact serialisation")]
    Parts {
        /// How many parts the token has.
        found: usize,
    },
    /// The token or its header is longer than accepted.
    #[error("the JWE {part} has {found} bytes; at most {max} are accepted")]
    TooLarge {
        /// `token` or `header`.
        part: &'static str,
        /// Its length.
        found: usize,
        /// The bound.
        max: usize,
    },
    /// A part is not base64url without padding.
    #[error("the JWE {part} is not base64url")]
    NotBase64url {
        /// `header`, `encrypted key`, `iv`, `ciphertext` or `tag`.
        part: &'static str,
    },
    /// The protected header is not a strict JSON object.
    #[error("the JWE header {0}")]
    Header(ObjectError),
    /// A header member has the wrong JSON type.
    #[error("the JWE header member {name:?} is {found}, expected {expected}")]
    HeaderMember {
        /// The member.
        name: &'static str,
        /// The type it must have.
        expected: &'static str,
        /// The type it has.
        found: JsonType,
    },
    /// The header carries a member idpkit does not understand, or one that does not go
    /// with its `alg` (`epk`, `apu`, `apv` without ECDH).
    #[error(
        "the JWE header member {name:?} is not understood here (expected only alg, enc, kid, typ, cty, and epk/apu/apv with ECDH-ES)"
    )]
    UnknownMember {
        /// The member name.
        name: String,
    },
    /// The header marks extensions as critical; idpkit understands none.
    #[error(
        "the JWE header marks extensions as critical (crit); idpkit supports none, so it must refuse the token (RFC 7516 §4.1.13)"
    )]
    Critical,
    /// The header asks for decompression (`zip`).
    #[error("the JWE is compressed (zip: {found:?}); compressed JWEs are refused (RFC 8725 §3.6)")]
    Compressed {
        /// The `zip` value.
        found: String,
    },
    /// `alg` is missing or not implemented (`dir` and `RSA1_5` never are).
    #[error(
        "the JWE algorithm {found:?} is not supported (only RSA-OAEP-256, ECDH-ES and ECDH-ES+A256KW are; dir and RSA1_5 never)"
    )]
    UnsupportedAlgorithm {
        /// The header's `alg` (empty when missing).
        found: String,
    },
    /// `enc` is missing or not implemented.
    #[error("the JWE content encryption {found:?} is not supported (only A128GCM and A256GCM are)")]
    UnsupportedEncryption {
        /// The header's `enc` (empty when missing).
        found: String,
    },
    /// The ephemeral public key (`epk`) is missing or not a P-256 public point on the
    /// curve.
    #[error("the JWE ephemeral key (epk) is refused: {reason}")]
    EphemeralKey {
        /// What is wrong.
        reason: &'static str,
    },
    /// A part has the wrong length for the algorithms.
    #[error("the JWE {part} has {found} bytes, expected {expected}")]
    Length {
        /// `encrypted key`, `iv` or `tag`.
        part: &'static str,
        /// The length `alg` / `enc` require.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// No decryption key fits the token's `alg` (and `kid`, when it names one).
    #[error("no decryption key for alg {alg}{}", kid.as_deref().map(|k| format!(" and kid {k:?}")).unwrap_or_default())]
    NoKey {
        /// The token's `alg`.
        alg: JweAlgorithm,
        /// The token's `kid`.
        kid: Option<String>,
    },
    /// The recipient key does not fit the algorithm (wrong type or declared `alg`).
    #[error("the {alg} recipient key must be a {} key (and not declared for another alg); found {found}", alg.key_type())]
    KeyMismatch {
        /// The algorithm asked for.
        alg: JweAlgorithm,
        /// The key's type and declared algorithm.
        found: String,
    },
    /// A key is unusable (an RSA key under 2048 bits, a malformed key).
    #[error("the key is refused: {0}")]
    BadKey(String),
    /// The tag did not verify (or the key could not unwrap the CEK): tampered, or
    /// encrypted to another key.
    #[error("the JWE did not decrypt: the authentication tag does not verify with any fitting key")]
    Decryption,
    /// The build has no JWE support (the ring backend).
    #[error("{NEEDS_AWS_LC_RS}")]
    Unsupported,
    /// The crypto backend failed.
    #[error("crypto backend failure: {0}")]
    Backend(&'static str),
}

/// A recipient's public encryption key: a JWK with `use` `enc` or none, of a type some
/// [`JweAlgorithm`] encrypts to (RSA, or EC P-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionJwk {
    /// `kid`, echoed in the JWE header.
    pub kid: Option<String>,
    /// `use` (`enc` or absent).
    pub key_use: Option<String>,
    /// `alg`, when the JWK declares one: then only that algorithm encrypts to it.
    pub alg: Option<JweAlgorithm>,
    /// The key.
    pub key: PublicKey,
}

impl EncryptionJwk {
    /// An encryption key from a public key (`use: enc`, no `kid` or `alg`).
    pub fn new(key: PublicKey) -> Self {
        Self {
            kid: None,
            key_use: Some("enc".into()),
            alg: None,
            key,
        }
    }

    /// Reads a JWK (a member of a JWKS document). `None` when it is not a key for
    /// encryption: `use` other than `enc`, a type or curve no [`JweAlgorithm`] uses, an
    /// `alg` idpkit does not encrypt with (a signing `alg` included), `key_ops` without
    /// `encrypt`/`wrapKey`, or malformed members.
    pub fn from_value(v: &serde_json::Value) -> Option<Self> {
        let s = |name: &str| v.get(name).and_then(|x| x.as_str());
        let b = |name: &str| s(name).and_then(|x| URL_SAFE_NO_PAD.decode(x).ok());
        if s("use").is_some_and(|u| u != "enc") {
            return None;
        }
        if v.get("use").is_some_and(|u| !u.is_string()) || v.get("d").is_some() {
            return None;
        }
        if let Some(ops) = v.get("key_ops") {
            let ops = ops.as_array()?;
            if !ops
                .iter()
                .any(|o| matches!(o.as_str(), Some("encrypt" | "wrapKey" | "deriveKey")))
            {
                return None;
            }
        }
        let alg = match v.get("alg") {
            None => None,
            Some(a) => Some(JweAlgorithm::from_name(a.as_str()?)?),
        };
        let key = match (s("kty")?, s("crv")) {
            ("RSA", _) => PublicKey::Rsa {
                n: b("n")?,
                e: b("e")?,
            },
            ("EC", Some("P-256")) => {
                let fixed = |name| b(name).and_then(|x| <[u8; 32]>::try_from(x).ok());
                PublicKey::P256 {
                    x: fixed("x")?,
                    y: fixed("y")?,
                }
            }
            _ => return None,
        };
        if alg.is_some_and(|a| !a.fits(&key)) {
            return None;
        }
        let kid = match v.get("kid") {
            None => None,
            Some(k) => Some(k.as_str()?.to_owned()),
        };
        Some(Self {
            kid,
            key_use: s("use").map(str::to_owned),
            alg,
            key,
        })
    }

    /// The encryption keys of a JWKS document (`{"keys": [...]}`), in order; keys that
    /// are not for encryption are skipped.
    pub fn from_document(doc: &serde_json::Value) -> Vec<Self> {
        doc.get("keys")
            .and_then(|k| k.as_array())
            .map(|keys| keys.iter().filter_map(Self::from_value).collect())
            .unwrap_or_default()
    }

    /// The JWK as JSON (public members only).
    pub fn to_value(&self) -> serde_json::Value {
        let mut jwk = serde_json::to_value(super::Jwk::from_public_key(&self.key))
            .unwrap_or(serde_json::Value::Null);
        if let Some(o) = jwk.as_object_mut() {
            if let Some(kid) = &self.kid {
                o.insert("kid".into(), kid.clone().into());
            }
            if let Some(u) = &self.key_use {
                o.insert("use".into(), u.clone().into());
            }
            if let Some(a) = self.alg {
                o.insert("alg".into(), a.as_str().into());
            }
        }
        jwk
    }

    /// Whether `alg` may encrypt to this key: the type fits, and the declared `alg`, if
    /// any, is `alg`.
    pub fn supports(&self, alg: JweAlgorithm) -> bool {
        alg.fits(&self.key) && self.alg.is_none_or(|a| a == alg)
    }

    /// The RFC 7638 thumbprint of the key.
    pub fn thumbprint(&self) -> String {
        super::Jwk::from_public_key(&self.key).thumbprint()
    }

    fn describe(&self) -> String {
        let kty = match self.key {
            PublicKey::Rsa { .. } => "RSA",
            PublicKey::P256 { .. } => "EC P-256",
            PublicKey::Ed25519(_) => "OKP Ed25519",
        };
        match self.alg {
            Some(a) => format!("{kty} declared for {a}"),
            None => kty.to_owned(),
        }
    }
}

impl Serialize for EncryptionJwk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for EncryptionJwk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Self::from_value(&v).ok_or_else(|| {
            serde::de::Error::custom(
                "not a public encryption JWK (RSA or EC P-256, use enc, a JWE alg)",
            )
        })
    }
}

/// The key of `keys` to encrypt to with `alg`: one that [supports](EncryptionJwk::supports)
/// it, preferring keys marked `use: enc`, then keys that declare `alg`, then keys with a
/// `kid` (so the recipient can pick its key), in document order otherwise.
pub fn select_recipient(keys: &[EncryptionJwk], alg: JweAlgorithm) -> Option<&EncryptionJwk> {
    let mut best: Option<(&EncryptionJwk, (bool, bool, bool))> = None;
    for k in keys.iter().filter(|k| k.supports(alg)) {
        let score = (k.key_use.is_some(), k.alg.is_some(), k.kid.is_some());
        if best.is_none_or(|(_, b)| score > b) {
            best = Some((k, score));
        }
    }
    best.map(|(k, _)| k)
}

/// The protected header of a decrypted JWE: the members idpkit reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JweHeader {
    /// `alg`.
    pub alg: JweAlgorithm,
    /// `enc`.
    pub enc: JweEncryption,
    /// `kid`: the recipient key.
    pub kid: Option<String>,
    /// `typ`.
    pub typ: Option<String>,
    /// `cty`: `JWT` for a nested JWT (RFC 7519 §5.2).
    pub cty: Option<String>,
}

impl JweHeader {
    /// Whether the JWE says it carries a JWT (`cty` `JWT`, with or without the
    /// `application/` prefix, RFC 7519 §5.2).
    pub fn is_nested_jwt(&self) -> bool {
        self.cty
            .as_deref()
            .is_some_and(|c| super::typ_matches(c, "JWT"))
    }
}

/// A decrypted JWE.
pub struct Decrypted {
    /// The protected header.
    pub header: JweHeader,
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// The `kid` of the key that decrypted it.
    pub key_id: String,
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field("header", &self.header)
            .field("plaintext_len", &self.plaintext.len())
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// Extra members of the protected header [`encrypt`] writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderOptions<'a> {
    /// `typ`.
    pub typ: Option<&'a str>,
    /// `cty`: `Some("JWT")` for a nested JWT (OIDC Core §16.14: sign, then encrypt).
    pub cty: Option<&'a str>,
}

#[cfg_attr(feature = "ring", allow(dead_code))]
/// The parsed, not yet decrypted, parts of a compact JWE.
struct Parsed<'t> {
    /// The base64url protected header: the AAD.
    aad: &'t str,
    header: JweHeader,
    epk: Option<[u8; 65]>,
    apu: Vec<u8>,
    apv: Vec<u8>,
    encrypted_key: Vec<u8>,
    iv: [u8; 12],
    ciphertext: Vec<u8>,
    tag: [u8; 16],
}

fn b64(part: &'static str, s: &str) -> Result<Vec<u8>, JweError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JweError::NotBase64url { part })
}

fn fixed<const N: usize>(part: &'static str, s: &str) -> Result<[u8; N], JweError> {
    let v = b64(part, s)?;
    let found = v.len();
    <[u8; N]>::try_from(v).map_err(|_| JweError::Length {
        part,
        expected: N,
        found,
    })
}

/// Reads an `epk` member (RFC 7518 §4.6.1.1): a public EC JWK on P-256, returned as the
/// uncompressed SEC1 point. Whether the point is on the curve is checked by the backend
/// when the key is agreed with (an off-curve point fails there).
fn read_epk(v: &serde_json::Value) -> Result<[u8; 65], JweError> {
    let bad = |reason| JweError::EphemeralKey { reason };
    let o = v.as_object().ok_or(bad("not a JWK object"))?;
    if o.get("kty").and_then(|k| k.as_str()) != Some("EC") {
        return Err(bad("kty must be EC"));
    }
    if o.get("crv").and_then(|k| k.as_str()) != Some("P-256") {
        return Err(bad("crv must be P-256, the curve of the recipient key"));
    }
    if o.contains_key("d") {
        return Err(bad("it carries a private key (d)"));
    }
    let coord = |name: &str| -> Result<[u8; 32], JweError> {
        let s = o
            .get(name)
            .and_then(|x| x.as_str())
            .ok_or(bad("x and y must be base64url strings"))?;
        URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(bad("x and y must be 32-byte base64url values"))
    };
    let mut point = [0u8; 65];
    point[0] = 4;
    point[1..33].copy_from_slice(&coord("x")?);
    point[33..].copy_from_slice(&coord("y")?);
    Ok(point)
}

/// Parses a compact JWE (the checks of the module docs, in order: size, five parts,
/// header base64url, size and strict JSON, members, `crit`, `zip`, `alg`, `enc`,
/// `epk`/`apu`/`apv`, then the other parts and their lengths).
fn parse(token: &str) -> Result<Parsed<'_>, JweError> {
    if token.len() > MAX_JWE_LEN {
        return Err(JweError::TooLarge {
            part: "token",
            found: token.len(),
            max: MAX_JWE_LEN,
        });
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [h, ek, iv, ct, tag] = parts[..] else {
        return Err(JweError::Parts { found: parts.len() });
    };
    if h.len() > MAX_HEADER_LEN * 4 / 3 + 4 {
        return Err(JweError::TooLarge {
            part: "header",
            found: h.len() * 3 / 4,
            max: MAX_HEADER_LEN,
        });
    }
    let header_bytes = b64("header", h)?;
    let mut strings: Vec<(&'static str, String)> = Vec::new();
    let mut wrong = None;
    let mut unknown = None;
    let mut crit = false;
    let mut zip = None;
    let mut epk_seen = false;
    read_object(&header_bytes, |name, value| {
        let name: &'static str = match name.as_ref() {
            "alg" => "alg",
            "enc" => "enc",
            "kid" => "kid",
            "typ" => "typ",
            "cty" => "cty",
            "apu" => "apu",
            "apv" => "apv",
            "crit" => {
                crit = true;
                return;
            }
            "zip" => {
                zip = Some(match value {
                    Member::Str(s) => s.into_owned(),
                    _ => String::new(),
                });
                return;
            }
            "epk" => {
                epk_seen = true;
                return;
            }
            other => {
                unknown.get_or_insert_with(|| other.to_owned());
                return;
            }
        };
        match value {
            Member::Str(s) => strings.push((name, s.into_owned())),
            other => {
                wrong.get_or_insert(JweError::HeaderMember {
                    name,
                    expected: "a string",
                    found: other.json_type(),
                });
            }
        }
    })
    .map_err(JweError::Header)?;
    if crit {
        return Err(JweError::Critical);
    }
    if let Some(found) = zip {
        return Err(JweError::Compressed { found });
    }
    if let Some(name) = unknown {
        return Err(JweError::UnknownMember { name });
    }
    if let Some(e) = wrong {
        return Err(e);
    }
    let get = |n: &str| {
        strings
            .iter()
            .find(|(name, _)| *name == n)
            .map(|(_, v)| v.clone())
    };
    let alg_name = get("alg").unwrap_or_default();
    let alg = JweAlgorithm::from_name(&alg_name)
        .ok_or(JweError::UnsupportedAlgorithm { found: alg_name })?;
    let enc_name = get("enc").unwrap_or_default();
    let enc = JweEncryption::from_name(&enc_name)
        .ok_or(JweError::UnsupportedEncryption { found: enc_name })?;
    let ecdh = matches!(alg, JweAlgorithm::EcdhEs | JweAlgorithm::EcdhEsA256kw);
    let (epk, apu, apv) = if ecdh {
        // RFC 7518 §4.6.1.1: `epk` MUST be present for ECDH-ES.
        if !epk_seen {
            return Err(JweError::EphemeralKey {
                reason: "missing (RFC 7518 §4.6.1.1)",
            });
        }
        let full: serde_json::Value = serde_json::from_slice(&header_bytes).map_err(|e| {
            JweError::Header(ObjectError::Syntax {
                reason: e.to_string(),
            })
        })?;
        let epk = read_epk(&full["epk"])?;
        let party = |name: &'static str| match get(name) {
            Some(v) => b64(name, &v),
            None => Ok(Vec::new()),
        };
        (Some(epk), party("apu")?, party("apv")?)
    } else {
        for name in ["epk", "apu", "apv"] {
            if (name == "epk" && epk_seen) || get(name).is_some() {
                return Err(JweError::UnknownMember { name: name.into() });
            }
        }
        (None, Vec::new(), Vec::new())
    };
    let encrypted_key = b64("encrypted key", ek)?;
    let expected_key_len = match alg {
        // RFC 7518 §4.6: with direct key agreement the JWE Encrypted Key is empty.
        JweAlgorithm::EcdhEs => Some(0),
        // RFC 3394 §2.2.1: a wrapped 256-bit... CEK plus the 64-bit integrity value.
        JweAlgorithm::EcdhEsA256kw => Some(enc.key_len() + 8),
        // Checked against the modulus of each candidate key.
        JweAlgorithm::RsaOaep256 => None,
    };
    if let Some(expected) = expected_key_len
        && encrypted_key.len() != expected
    {
        return Err(JweError::Length {
            part: "encrypted key",
            expected,
            found: encrypted_key.len(),
        });
    }
    if encrypted_key.len() > 1024 {
        return Err(JweError::Length {
            part: "encrypted key",
            expected: 1024,
            found: encrypted_key.len(),
        });
    }
    // RFC 7518 §5.3: a 96-bit IV and a 128-bit tag.
    let iv = fixed::<12>("iv", iv)?;
    let ciphertext = b64("ciphertext", ct)?;
    let tag = fixed::<16>("tag", tag)?;
    Ok(Parsed {
        aad: h,
        header: JweHeader {
            alg,
            enc,
            kid: get("kid"),
            typ: get("typ"),
            cty: get("cty"),
        },
        epk,
        apu,
        apv,
        encrypted_key,
        iv,
        ciphertext,
        tag,
    })
}

/// Reads the protected header of a compact JWE without decrypting it (with every check of
/// [`decrypt`] that does not need a key).
pub fn parse_header(token: &str) -> Result<JweHeader, JweError> {
    parse(token).map(|p| p.header)
}

/// Whether a compact token is a JWE by its shape (five parts): how a request object or an
/// access token is told apart from a JWS (RFC 7516 §9).
pub fn is_compact_jwe(token: &str) -> bool {
    token.split('.').count() == 5
}

/// The Concat KDF of NIST SP 800-56A as RFC 7518 §4.6.2 profiles it, with SHA-256, for
/// at most 256 bits of output: `SHA-256(00000001 || Z || OtherInfo)` truncated, where
/// OtherInfo = AlgorithmID || PartyUInfo || PartyVInfo || SuppPubInfo, each datum
/// length-prefixed (32-bit big-endian) and SuppPubInfo the key length in bits.
pub fn concat_kdf(z: &[u8], algorithm_id: &str, apu: &[u8], apv: &[u8], key_len: usize) -> Vec<u8> {
    debug_assert!(key_len <= 32);
    let mut input =
        Vec::with_capacity(4 + z.len() + 16 + algorithm_id.len() + apu.len() + apv.len());
    input.extend_from_slice(&1u32.to_be_bytes());
    input.extend_from_slice(z);
    for datum in [algorithm_id.as_bytes(), apu, apv] {
        input.extend_from_slice(&(datum.len() as u32).to_be_bytes());
        input.extend_from_slice(datum);
    }
    input.extend_from_slice(&((key_len * 8) as u32).to_be_bytes());
    crate::crypto::sha256(&input)[..key_len.min(32)].to_vec()
}

#[cfg_attr(feature = "ring", allow(dead_code))]
/// The AlgorithmID of the Concat KDF (RFC 7518 §4.6.2): `enc` for direct agreement, `alg`
/// for key wrapping; and the length of the derived key.
fn kdf_params(alg: JweAlgorithm, enc: JweEncryption) -> (&'static str, usize) {
    match alg {
        JweAlgorithm::EcdhEsA256kw => (alg.as_str(), 32),
        _ => (enc.as_str(), enc.key_len()),
    }
}

/// Encrypts `plaintext` to `recipient` (RFC 7516 §5.1) and returns the compact JWE. The
/// header carries `alg`, `enc`, the recipient's `kid` (when it has one), `epk` for ECDH,
/// and `typ` / `cty` from `options`. `apu` and `apv` are not set.
pub fn encrypt(
    recipient: &EncryptionJwk,
    alg: JweAlgorithm,
    enc: JweEncryption,
    options: HeaderOptions<'_>,
    plaintext: &[u8],
) -> Result<String, JweError> {
    if !recipient.supports(alg) {
        return Err(JweError::KeyMismatch {
            alg,
            found: recipient.describe(),
        });
    }
    backend::encrypt(recipient, alg, enc, options, plaintext)
}

/// Encrypts the compact JWS `jws` to `recipient` as a nested JWT (`cty: JWT`, RFC 7519
/// §5.2; OIDC Core §16.14: signed, then encrypted). A failure is the provider's
/// (`server_error`).
pub(crate) fn nest(
    recipient: &EncryptionJwk,
    (alg, enc): (JweAlgorithm, JweEncryption),
    jws: &str,
) -> Result<String, crate::error::OAuthError> {
    encrypt(
        recipient,
        alg,
        enc,
        HeaderOptions {
            typ: None,
            cty: Some("JWT"),
        },
        jws.as_bytes(),
    )
    .map_err(|e| crate::error::OAuthError::server_error(&format!("encrypting a response: {e}")))
}

#[cfg_attr(feature = "ring", allow(dead_code))]
fn header_json(
    recipient: &EncryptionJwk,
    alg: JweAlgorithm,
    enc: JweEncryption,
    options: HeaderOptions<'_>,
    epk: Option<&[u8]>,
) -> String {
    let mut h = serde_json::Map::new();
    h.insert("alg".into(), alg.as_str().into());
    h.insert("enc".into(), enc.as_str().into());
    if let Some(kid) = &recipient.kid {
        h.insert("kid".into(), kid.clone().into());
    }
    if let Some(t) = options.typ {
        h.insert("typ".into(), t.into());
    }
    if let Some(c) = options.cty {
        h.insert("cty".into(), c.into());
    }
    if let Some(point) = epk.and_then(PublicKey::p256_from_point) {
        let mut jwk = serde_json::to_value(super::Jwk::from_public_key(&point))
            .unwrap_or(serde_json::Value::Null);
        if let Some(o) = jwk.as_object_mut() {
            o.retain(|k, _| matches!(k.as_str(), "kty" | "crv" | "x" | "y"));
        }
        h.insert("epk".into(), jwk);
    }
    let json = serde_json::Value::Object(h).to_string();
    URL_SAFE_NO_PAD.encode(json)
}

#[cfg_attr(feature = "ring", allow(dead_code))]
fn assemble(header: &str, ek: &[u8], iv: &[u8], ct: &[u8], tag: &[u8]) -> String {
    let mut out = String::with_capacity(header.len() + (ek.len() + ct.len()) * 4 / 3 + 64);
    out.push_str(header);
    for part in [ek, iv, ct, tag] {
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(part));
    }
    out
}

/// A private key that decrypts JWEs: RSA (for `RSA-OAEP-256`) or EC P-256 (for
/// `ECDH-ES` and `ECDH-ES+A256KW`), parsed once. Its `kid` is the RFC 7638 thumbprint
/// unless set; its public half is [`public_jwk`](Self::public_jwk) (`use: enc`).
pub struct DecryptionKey {
    inner: backend::PrivateKey,
    public: EncryptionJwk,
}

impl fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("kid", &self.public.kid)
            .field("alg", &self.public.alg)
            .finish_non_exhaustive()
    }
}

impl DecryptionKey {
    /// Parses a PKCS#8 private key (RSA of at least 2048 bits, or EC P-256).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, JweError> {
        let (inner, key) = backend::PrivateKey::from_pkcs8(der)?;
        let mut public = EncryptionJwk::new(key);
        public.kid = Some(public.thumbprint());
        Ok(Self { inner, public })
    }

    /// Generates a key for `alg` and returns it with its PKCS#8 encoding (to persist, or
    /// to hand to another JOSE library in tests).
    pub fn generate(alg: JweAlgorithm) -> Result<(Self, Vec<u8>), JweError> {
        if !SUPPORTED {
            return Err(JweError::Unsupported);
        }
        let sig_alg = match alg {
            JweAlgorithm::RsaOaep256 => crate::Algorithm::RS256,
            _ => crate::Algorithm::ES256,
        };
        let (_, der) = crate::crypto::KeyPair::generate(sig_alg)
            .map_err(|e| JweError::BadKey(e.to_string()))?;
        Ok((Self::from_pkcs8(&der)?.with_alg(alg)?, der))
    }

    /// Sets the `kid` (published, and matched against a JWE header's `kid`).
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.public.kid = Some(kid.into());
        self
    }

    /// Limits the key to `alg` (and publishes it as the JWK's `alg`).
    pub fn with_alg(mut self, alg: JweAlgorithm) -> Result<Self, JweError> {
        if !alg.fits(&self.public.key) {
            return Err(JweError::KeyMismatch {
                alg,
                found: self.public.describe(),
            });
        }
        self.public.alg = Some(alg);
        Ok(self)
    }

    /// The `kid`.
    pub fn kid(&self) -> &str {
        self.public.kid.as_deref().unwrap_or_default()
    }

    /// The public half, as published (`use: enc`).
    pub fn public_jwk(&self) -> &EncryptionJwk {
        &self.public
    }

    /// Whether this key decrypts JWEs with `alg`.
    pub fn supports(&self, alg: JweAlgorithm) -> bool {
        self.public.supports(alg)
    }
}

/// Decrypts a compact JWE with one of `keys` (RFC 7516 §5.2): the keys that fit the
/// token's `alg` (type and declared `alg`), and only the one with the token's `kid` when
/// it names one. Every check of the module docs applies.
pub fn decrypt(token: &str, keys: &[&DecryptionKey]) -> Result<Decrypted, JweError> {
    let p = parse(token)?;
    let alg = p.header.alg;
    let candidates: Vec<&&DecryptionKey> = keys
        .iter()
        .filter(|k| k.supports(alg))
        .filter(|k| p.header.kid.as_deref().is_none_or(|kid| kid == k.kid()))
        .collect();
    if candidates.is_empty() {
        return Err(JweError::NoKey {
            alg,
            kid: p.header.kid.clone(),
        });
    }
    for key in candidates {
        if let Some(plaintext) = backend::decrypt_with(&key.inner, &p)? {
            return Ok(Decrypted {
                header: p.header,
                plaintext,
                key_id: key.kid().to_owned(),
            });
        }
    }
    Err(JweError::Decryption)
}

#[cfg(not(feature = "ring"))]
mod backend {
    use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    use aws_lc_rs::agreement::{self, ECDH_P256, UnparsedPublicKey};
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::key_wrap::{AES_256, KeyEncryptionKey, KeyWrap};
    use aws_lc_rs::rsa::{
        OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
        PrivateDecryptingKey, PublicEncryptingKey, PublicKeyComponents,
    };

    use super::{
        EncryptionJwk, HeaderOptions, JweAlgorithm, JweEncryption, JweError, Parsed, PublicKey,
        assemble, concat_kdf, header_json, kdf_params,
    };
    use crate::crypto::{der, fill_random};

    pub(super) enum PrivateKey {
        Rsa(OaepPrivateDecryptingKey),
        Ec(agreement::PrivateKey),
    }

    impl PrivateKey {
        pub(super) fn from_pkcs8(pkcs8: &[u8]) -> Result<(Self, PublicKey), JweError> {
            let bad = |e: &dyn std::fmt::Display| JweError::BadKey(e.to_string());
            let (oid, param) = der::pkcs8_algorithm(pkcs8)
                .ok_or_else(|| JweError::BadKey("not a PKCS#8 private key".into()))?;
            if oid == der::oid::RSA {
                let k = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|e| bad(&e))?;
                if k.key_size_bits() < 2048 {
                    return Err(JweError::BadKey(format!(
                        "RSA key of {} bits; at least 2048 are required",
                        k.key_size_bits()
                    )));
                }
                let spki = k.public_key().as_der().map_err(|e| bad(&e))?;
                let public = PublicKey::from_spki(spki.as_ref())
                    .ok_or_else(|| JweError::BadKey("unreadable RSA public key".into()))?;
                let k = OaepPrivateDecryptingKey::new(k).map_err(|e| bad(&e))?;
                Ok((Self::Rsa(k), public))
            } else if oid == der::oid::EC && param == Some(der::oid::P256) {
                let k = agreement::PrivateKey::from_private_key_der(&ECDH_P256, pkcs8)
                    .map_err(|e| bad(&e))?;
                let point = k.compute_public_key().map_err(|e| bad(&e))?;
                let public = PublicKey::p256_from_point(point.as_ref())
                    .ok_or_else(|| JweError::BadKey("unexpected EC point encoding".into()))?;
                Ok((Self::Ec(k), public))
            } else {
                Err(JweError::BadKey(
                    "only RSA and EC P-256 keys decrypt JWEs".into(),
                ))
            }
        }
    }

    fn aead_key(enc: JweEncryption, cek: &[u8]) -> Result<LessSafeKey, JweError> {
        let alg = match enc {
            JweEncryption::A128GCM => &AES_128_GCM,
            JweEncryption::A256GCM => &AES_256_GCM,
        };
        UnboundKey::new(alg, cek)
            .map(LessSafeKey::new)
            .map_err(|_| JweError::Backend("AES-GCM key"))
    }

    fn agree(private: &agreement::PrivateKey, point: &[u8]) -> Option<Vec<u8>> {
        // The backend parses the point and refuses one not on P-256.
        agreement::agree(
            private,
            UnparsedPublicKey::new(&ECDH_P256, point),
            (),
            |z| Ok(z.to_vec()),
        )
        .ok()
    }

    fn point_of(key: &PublicKey) -> Vec<u8> {
        match key {
            PublicKey::P256 { x, y } => {
                let mut p = vec![4u8];
                p.extend_from_slice(x);
                p.extend_from_slice(y);
                p
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn encrypt(
        recipient: &EncryptionJwk,
        alg: JweAlgorithm,
        enc: JweEncryption,
        options: HeaderOptions<'_>,
        plaintext: &[u8],
    ) -> Result<String, JweError> {
        let mut cek = vec![0u8; enc.key_len()];
        let (encrypted_key, epk) = match (alg, &recipient.key) {
            (JweAlgorithm::RsaOaep256, PublicKey::Rsa { n, e }) => {
                let public: PublicEncryptingKey = PublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                }
                .try_into()
                .map_err(|e| JweError::BadKey(format!("RSA key: {e}")))?;
                if public.key_size_bits() < 2048 {
                    return Err(JweError::BadKey(format!(
                        "RSA key of {} bits; at least 2048 are required (RFC 7518 §4.3)",
                        public.key_size_bits()
                    )));
                }
                let public = OaepPublicEncryptingKey::new(public)
                    .map_err(|_| JweError::Backend("RSA-OAEP key"))?;
                fill_random(&mut cek);
                let mut out = vec![0u8; public.ciphertext_size()];
                let n = public
                    .encrypt(&OAEP_SHA256_MGF1SHA256, &cek, &mut out, None)
                    .map_err(|_| JweError::Backend("RSA-OAEP encryption"))?
                    .len();
                out.truncate(n);
                (out, None)
            }
            (JweAlgorithm::EcdhEs | JweAlgorithm::EcdhEsA256kw, key @ PublicKey::P256 { .. }) => {
                let eph = agreement::PrivateKey::generate(&ECDH_P256)
                    .map_err(|_| JweError::Backend("ECDH key generation"))?;
                let eph_public = eph
                    .compute_public_key()
                    .map_err(|_| JweError::Backend("ECDH public key"))?;
                let z = agree(&eph, &point_of(key))
                    .ok_or_else(|| JweError::BadKey("the EC point is not on P-256".into()))?;
                let (id, len) = kdf_params(alg, enc);
                let derived = concat_kdf(&z, id, &[], &[], len);
                let ek = if alg == JweAlgorithm::EcdhEs {
                    cek = derived;
                    Vec::new()
                } else {
                    fill_random(&mut cek);
                    let kek = KeyEncryptionKey::new(&AES_256, &derived)
                        .map_err(|_| JweError::Backend("AES key wrap key"))?;
                    let mut out = vec![0u8; cek.len() + 8];
                    let n = kek
                        .wrap(&cek, &mut out)
                        .map_err(|_| JweError::Backend("AES key wrap"))?
                        .len();
                    out.truncate(n);
                    out
                };
                (ek, Some(eph_public.as_ref().to_vec()))
            }
            _ => {
                return Err(JweError::KeyMismatch {
                    alg,
                    found: recipient.describe(),
                });
            }
        };
        let header = header_json(recipient, alg, enc, options, epk.as_deref());
        let mut iv = [0u8; 12];
        fill_random(&mut iv);
        let key = aead_key(enc, &cek)?;
        let mut in_out = plaintext.to_vec();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(header.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| JweError::Backend("AES-GCM encryption"))?;
        Ok(assemble(
            &header,
            &encrypted_key,
            &iv,
            &in_out,
            tag.as_ref(),
        ))
    }

    /// Decrypts with one key: `Ok(None)` when this key does not open the JWE (the caller
    /// tries the next one), `Err` for a refusal independent of the key.
    pub(super) fn decrypt_with(
        key: &PrivateKey,
        p: &Parsed<'_>,
    ) -> Result<Option<Vec<u8>>, JweError> {
        let enc = p.header.enc;
        let cek = match (key, p.header.alg) {
            (PrivateKey::Rsa(k), JweAlgorithm::RsaOaep256) => {
                let mut out = vec![0u8; k.min_output_size()];
                let unwrapped = (p.encrypted_key.len() == k.key_size_bytes())
                    .then(|| {
                        k.decrypt(&OAEP_SHA256_MGF1SHA256, &p.encrypted_key, &mut out, None)
                            .ok()
                            .map(|c| c.to_vec())
                    })
                    .flatten()
                    .filter(|c| c.len() == enc.key_len());
                // RFC 7516 §11.5: on a failed unwrap go on with a random CEK, so that an
                // attacker cannot tell a bad key from a bad tag.
                unwrapped.unwrap_or_else(|| {
                    let mut random = vec![0u8; enc.key_len()];
                    fill_random(&mut random);
                    random
                })
            }
            (PrivateKey::Ec(k), JweAlgorithm::EcdhEs | JweAlgorithm::EcdhEsA256kw) => {
                let Some(epk) = &p.epk else {
                    return Err(JweError::EphemeralKey { reason: "missing" });
                };
                let z = agree(k, epk).ok_or(JweError::EphemeralKey {
                    reason: "the point is not on P-256 (RFC 8725 §3.4)",
                })?;
                let (id, len) = kdf_params(p.header.alg, enc);
                let derived = concat_kdf(&z, id, &p.apu, &p.apv, len);
                if p.header.alg == JweAlgorithm::EcdhEs {
                    derived
                } else {
                    let kek = KeyEncryptionKey::new(&AES_256, &derived)
                        .map_err(|_| JweError::Backend("AES key wrap key"))?;
                    let mut out = vec![0u8; p.encrypted_key.len()];
                    match kek.unwrap(&p.encrypted_key, &mut out) {
                        Ok(c) if c.len() == enc.key_len() => c.to_vec(),
                        _ => return Ok(None),
                    }
                }
            }
            _ => return Ok(None),
        };
        let key = aead_key(enc, &cek)?;
        let mut in_out = Vec::with_capacity(p.ciphertext.len() + 16);
        in_out.extend_from_slice(&p.ciphertext);
        in_out.extend_from_slice(&p.tag);
        match key.open_in_place(
            Nonce::assume_unique_for_key(p.iv),
            Aad::from(p.aad.as_bytes()),
            &mut in_out,
        ) {
            Ok(plain) => Ok(Some(plain.to_vec())),
            Err(_) => Ok(None),
        }
    }
}

#[cfg(feature = "ring")]
mod backend {
    //! The ring backend has no RSA-OAEP and no AES key wrap: nothing here encrypts or
    //! decrypts, every entry point answers [`JweError::Unsupported`].

    use super::{EncryptionJwk, HeaderOptions, JweAlgorithm, JweEncryption, JweError, Parsed};
    use crate::crypto::PublicKey;

    /// No key can be made with this backend.
    pub(super) enum PrivateKey {}

    impl PrivateKey {
        pub(super) fn from_pkcs8(_der: &[u8]) -> Result<(Self, PublicKey), JweError> {
            Err(JweError::Unsupported)
        }
    }

    pub(super) fn encrypt(
        _recipient: &EncryptionJwk,
        _alg: JweAlgorithm,
        _enc: JweEncryption,
        _options: HeaderOptions<'_>,
        _plaintext: &[u8],
    ) -> Result<String, JweError> {
        Err(JweError::Unsupported)
    }

    pub(super) fn decrypt_with(
        key: &PrivateKey,
        _p: &Parsed<'_>,
    ) -> Result<Option<Vec<u8>>, JweError> {
        match *key {}
    }
}

#[cfg(test)]
mod tests;
