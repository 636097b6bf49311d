//! JOSE: the JWS algorithms (RFC 7518), JSON Web Keys and key sets (RFC 7517, RFC 7638
//! thumbprints), the compact JWS parser (RFC 7515) and signature verification against a key
//! set parsed once. The provider (minting and checking its own tokens) and the validator
//! (resource servers) both go through this module, so they apply one set of rules.
//!
//! Layering: [`Algorithm`] is a leaf; [`crate::crypto`] (random, hashes, parsed key pairs
//! and verifying keys) uses it and nothing else from here; the JWK types, the parser and
//! the verifier build on `crypto`; [`crate::keys`] (key providers) builds on both.

mod compact;
mod json;
pub mod jwe;
pub(crate) mod jwk;
pub(crate) mod signing;
mod verify;

pub(crate) use crate::algorithm::Algorithm;
pub(crate) use compact::parse_compact_mac;
pub use compact::{CompactJws, Header, JoseError, MAX_SIGNATURE_LEN, parse_compact, typ_matches};
pub use json::{JsonType, Member, ObjectError, read_object};
pub(crate) use jwk::{Jwk, Jwks};
pub use jwk::{jwk_from_spki, verify_with_jwk};
pub(crate) use signing::SigningKey;
pub use verify::{
    KeySet, KeySetCache, VerifiedJws, VerifyError, check_algorithm, check_exp, check_iat,
    check_nbf, numeric_date, verify_compact, verify_compact_signature, verify_signature,
};
