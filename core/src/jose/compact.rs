//! The JWS compact serialisation (RFC 7515 §7.1): one parser for the provider and the
//! validator. It splits the three parts, decodes base64url (no padding, RFC 7515 §2),
//! reads the header (`alg`, `kid`, `typ`, `nonce`) with the strict object reader of
//! [`super::json`] and refuses what no idpkit verifier may accept: a header that is not a
//! JSON object or repeats a member (RFC 7515 §4, §5.2 step 4), wrong-typed members, `crit`
//! (RFC 7515 §4.1.11), `alg` values idpkit does not implement (`none`, HMAC, unknown:
//! RFC 8725 §3.1). Deciding which algorithm and key are acceptable is [`super::KeySet`]'s
//! job.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Algorithm;
use super::json::{JsonType, Member, ObjectError, read_object};
use crate::MacAlgorithm;

/// The longest signature accepted, in bytes (RSA-8192).
pub const MAX_SIGNATURE_LEN: usize = 1024;

/// Why the parser refused a compact JWS. `Display` says what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// Not three dot-separated parts (a JWE has five).
    #[error("{}", parts_message(*found))]
    Parts {
        /// How many parts the token has.
        found: usize,
    },
    /// A part is not base64url without padding.
    #[error("the JWS {part} is not base64url")]
    NotBase64url {
        /// `header`, `payload` or `signature`.
        part: &'static str,
    },
    /// The header (or, for [`super::verify_compact`], the payload) is not a strict JSON
    /// object: not JSON, another JSON type, or a repeated member.
    #[error("the JWS {part} {error}")]
    Json {
        /// `header` or `payload`.
        part: &'static str,
        /// What is wrong.
        error: ObjectError,
    },
    /// A header member idpkit reads has the wrong JSON type.
    #[error("the JWS header member {name:?} is {found}, expected {expected}")]
    HeaderMember {
        /// `alg`, `kid` or `typ`.
        name: &'static str,
        /// The type it must have.
        expected: &'static str,
        /// The type it has.
        found: JsonType,
    },
    /// The header names critical extensions; idpkit understands none.
    #[error(
        "the JWS header marks extensions as critical (crit: {names:?}); idpkit supports none, so it must refuse the token (RFC 7515 §4.1.11)"
    )]
    Critical {
        /// The extension names listed (empty when `crit` is not a list of strings).
        names: Vec<String>,
    },
    /// `alg` is missing, `none`, HMAC or unknown.
    #[error(
        "the JWS algorithm {found:?} is not supported (only RS256, PS256, ES256 and EdDSA are; `none` and HMAC never)"
    )]
    UnsupportedAlgorithm {
        /// The header's `alg` (empty when missing or not a string).
        found: String,
    },
    /// The signature is longer than any supported key produces.
    #[error("the JWS signature has {found} bytes; supported keys produce at most {max}")]
    SignatureTooLong {
        /// Decoded length (at least).
        found: usize,
        /// [`MAX_SIGNATURE_LEN`].
        max: usize,
    },
}

/// The JOSE header members idpkit reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// `alg` (RFC 7515 §4.1.1), one idpkit implements.
    pub alg: Algorithm,
    /// `kid` (RFC 7515 §4.1.4).
    pub kid: Option<String>,
    /// `typ` (RFC 7515 §4.1.9).
    pub typ: Option<String>,
    /// Whether the header carries a `nonce` member (Microsoft Graph tokens do: only that
    /// API can validate them).
    pub nonce: bool,
}

impl Header {
    /// Whether `typ` is `expected` (see [`typ_matches`]); `false` when there is no `typ`.
    pub fn typ_is(&self, expected: &str) -> bool {
        self.typ
            .as_deref()
            .is_some_and(|t| typ_matches(t, expected))
    }
}

/// `typ` equals `expected`, or `application/` + `expected`, ignoring ASCII case
/// (RFC 7515 §4.1.9: the `application/` prefix may be left out; RFC 8725 §3.11).
pub fn typ_matches(typ: &str, expected: &str) -> bool {
    let bare = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    bare.eq_ignore_ascii_case(expected)
}

/// A parsed, not yet verified, compact JWS.
pub struct CompactJws<'t> {
    signing_input: &'t str,
    header: Header,
    payload: Vec<u8>,
    signature: [u8; MAX_SIGNATURE_LEN],
    signature_len: usize,
}

impl std::fmt::Debug for CompactJws<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompactJws")
            .field("header", &self.header)
            .field("payload_len", &self.payload.len())
            .field("signature_len", &self.signature_len)
            .finish()
    }
}

impl<'t> CompactJws<'t> {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The decoded payload bytes (not yet known to be JSON).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The decoded payload, taken out.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature[..self.signature_len]
    }

    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: what was signed (RFC 7515 §5.2
    /// step 8).
    pub fn signing_input(&self) -> &'t [u8] {
        self.signing_input.as_bytes()
    }
}

/// The message for a token that is not three parts: a JWE (five parts) is named.
fn parts_message(found: usize) -> String {
    let plural = if found == 1 { "part" } else { "parts" };
    let jwe = if found == 5 {
        " (five parts is an encrypted JWE; idpkit validates signed JWS tokens only)"
    } else {
        ""
    };
    format!(
        "has {found} {plural}, not the three dot-separated parts of a JWS compact serialisation{jwe}"
    )
}

/// Reads the header members idpkit uses; every other member is skipped (but still counted
/// for duplicates).
fn read_header<A>(
    bytes: &[u8],
    implemented: impl Fn(&str) -> Option<A>,
) -> Result<RawHeader<A>, JoseError> {
    let mut alg = None;
    let mut kid = None;
    let mut typ = None;
    let mut nonce = false;
    let mut crit = None;
    let mut wrong = None;
    read_object(bytes, |name, value| {
        let (name, slot) = match name.as_ref() {
            "alg" => ("alg", &mut alg),
            "kid" => ("kid", &mut kid),
            "typ" => ("typ", &mut typ),
            "nonce" => {
                nonce = true;
                return;
            }
            "crit" => {
                crit = Some(match value {
                    Member::Strings(names) => names.into_iter().map(|n| n.into_owned()).collect(),
                    _ => Vec::new(),
                });
                return;
            }
            _ => return,
        };
        match value {
            Member::Str(s) => *slot = Some(s.into_owned()),
            other => {
                wrong.get_or_insert(JoseError::HeaderMember {
                    name,
                    expected: "a string",
                    found: other.json_type(),
                });
            }
        }
    })
    .map_err(|error| JoseError::Json {
        part: "header",
        error,
    })?;
    if let Some(names) = crit {
        // RFC 7515 §4.1.11: a recipient that does not understand every listed extension
        // must refuse the JWS; idpkit understands none (and an empty list is invalid).
        return Err(JoseError::Critical { names });
    }
    if let Some(e) = wrong {
        return Err(e);
    }
    let alg_name = alg.unwrap_or_default();
    let alg = implemented(&alg_name).ok_or(JoseError::UnsupportedAlgorithm { found: alg_name })?;
    Ok(RawHeader {
        alg,
        kid,
        typ,
        nonce,
    })
}

/// The header members read, with `alg` as the caller's algorithm type.
struct RawHeader<A> {
    alg: A,
    kid: Option<String>,
    typ: Option<String>,
    nonce: bool,
}

/// The three parts of a compact JWS, decoded, with its header's `alg` mapped by the caller.
struct Parts<'t, A> {
    signing_input: &'t str,
    header: RawHeader<A>,
    payload: Vec<u8>,
    signature: [u8; MAX_SIGNATURE_LEN],
    signature_len: usize,
}

/// Parses a compact JWS. Checks, in this order: three parts; header base64url; header a
/// JSON object with unique members; no `crit`; `alg`, `kid`, `typ` strings; `alg`
/// implemented; payload base64url;
/// signature base64url and not longer than [`MAX_SIGNATURE_LEN`].
pub fn parse_compact(token: &str) -> Result<CompactJws<'_>, JoseError> {
    let parts = parse_parts(token, Algorithm::from_name)?;
    let h = parts.header;
    Ok(CompactJws {
        signing_input: parts.signing_input,
        header: Header {
            alg: h.alg,
            kid: h.kid,
            typ: h.typ,
            nonce: h.nonce,
        },
        payload: parts.payload,
        signature: parts.signature,
        signature_len: parts.signature_len,
    })
}

/// A parsed, not yet verified, compact JWS with an HMAC algorithm (RFC 7518 §3.2): only
/// `client_secret_jwt` assertions are read this way ([`parse_compact_mac`]).
pub(crate) struct MacJws<'t> {
    pub(crate) signing_input: &'t str,
    pub(crate) alg: MacAlgorithm,
    pub(crate) payload: Vec<u8>,
    signature: [u8; MAX_SIGNATURE_LEN],
    signature_len: usize,
}

impl MacJws<'_> {
    /// The decoded MAC.
    pub(crate) fn signature(&self) -> &[u8] {
        &self.signature[..self.signature_len]
    }
}

/// [`parse_compact`]'s checks, in the same order, for a JWS whose `alg` is HS256, HS384 or
/// HS512: every other `alg` (the asymmetric ones included) is refused, so a token cannot
/// choose to be checked as an HMAC.
pub(crate) fn parse_compact_mac(token: &str) -> Result<MacJws<'_>, JoseError> {
    let parts = parse_parts(token, MacAlgorithm::from_name)?;
    Ok(MacJws {
        signing_input: parts.signing_input,
        alg: parts.header.alg,
        payload: parts.payload,
        signature: parts.signature,
        signature_len: parts.signature_len,
    })
}

fn parse_parts<A>(
    token: &str,
    implemented: impl Fn(&str) -> Option<A>,
) -> Result<Parts<'_, A>, JoseError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Parts {
            found: token.split('.').count(),
        });
    };
    // Headers are short: decode into the stack, falling back to the heap for long ones.
    let mut header_buf = [0u8; 1024];
    let header_vec;
    let header_bytes: &[u8] = match URL_SAFE_NO_PAD.decode_slice(h, &mut header_buf) {
        Ok(n) => &header_buf[..n],
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            header_vec = URL_SAFE_NO_PAD
                .decode(h)
                .map_err(|_| JoseError::NotBase64url { part: "header" })?;
            &header_vec
        }
        Err(_) => return Err(JoseError::NotBase64url { part: "header" }),
    };
    // RFC 7515 §4: the header is a JSON object with unique member names (§5.2 step 4).
    let header = read_header(header_bytes, implemented)?;
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| JoseError::NotBase64url { part: "payload" })?;
    let mut signature = [0u8; MAX_SIGNATURE_LEN];
    let signature_len = match URL_SAFE_NO_PAD.decode_slice(s, &mut signature) {
        Ok(n) => n,
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            return Err(JoseError::SignatureTooLong {
                found: s.len() * 3 / 4,
                max: MAX_SIGNATURE_LEN,
            });
        }
        Err(_) => return Err(JoseError::NotBase64url { part: "signature" }),
    };
    Ok(Parts {
        signing_input: &token[..h.len() + 1 + p.len()],
        header,
        payload,
        signature,
        signature_len,
    })
}

#[cfg(test)]
mod tests;
