//! The registered claims the checks read, taken from a JWT payload by the strict object
//! reader ([`crate::jose::read_object`]: an object, unique member names) with their JSON
//! types checked, or from an introspection answer.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::Rejection;
use crate::jose::{self, JsonType, Member};

/// The claims the checks read, borrowed from the payload.
#[derive(Debug, Default)]
pub(super) struct StdClaims<'a> {
    pub iss: Option<Cow<'a, str>>,
    pub sub: Option<Cow<'a, str>>,
    pub aud: Vec<Cow<'a, str>>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    pub scope: Option<Cow<'a, str>>,
    /// `scp`: Entra ID's scope claim (a string, or an array of strings elsewhere).
    pub scp: Option<Vec<Cow<'a, str>>>,
    /// Whether the token has `roles` (application permissions in Entra ID).
    pub roles: bool,
    pub client_id: Option<Cow<'a, str>>,
    pub azp: Option<Cow<'a, str>>,
    /// `appid`: the client in Entra ID v1 tokens.
    pub appid: Option<Cow<'a, str>>,
    /// Whether the payload has a `nonce` claim (ID tokens do).
    pub nonce: bool,
}

const STRING: &str = "a string";
const STRINGS: &str = "a string or an array of strings (RFC 7519 §4.1.3)";

impl<'a> StdClaims<'a> {
    /// Reads a JWT payload: a JSON object with unique member names whose registered
    /// claims have their RFC types. The first problem is the refusal.
    pub fn read(payload: &'a [u8]) -> Result<Self, Rejection> {
        let mut claims = Self::default();
        let mut wrong = None;
        jose::read_object(payload, |name, value| {
            if let Err(r) = claims.set(&name, value) {
                wrong.get_or_insert(r);
            }
        })
        .map_err(|e| Rejection::Malformed {
            part: "payload",
            reason: format!("{e} (RFC 7519 §7.2)"),
        })?;
        match wrong {
            Some(r) => Err(r),
            None => Ok(claims),
        }
    }

    /// From an already parsed claim set (introspection answers), with the same type rules.
    pub fn from_map(m: &'a Map<String, Value>) -> Result<Self, Rejection> {
        let mut claims = Self::default();
        for (name, value) in m {
            claims.set(name, member(value))?;
        }
        Ok(claims)
    }

    fn set(&mut self, name: &str, value: Member<'a>) -> Result<(), Rejection> {
        let wrong = |name, expected, found: JsonType| Rejection::ClaimType {
            name,
            expected,
            found,
        };
        let string = |name, value: Member<'a>| match value {
            Member::Str(s) => Ok(Some(s)),
            other => Err(wrong(name, STRING, other.json_type())),
        };
        let time = |name, value: Member<'a>| {
            jose::numeric_date(name, &value)
                .map(Some)
                .map_err(Rejection::from_time)
        };
        match name {
            "iss" => self.iss = string("iss", value)?,
            "sub" => self.sub = string("sub", value)?,
            "client_id" => self.client_id = string("client_id", value)?,
            "azp" => self.azp = string("azp", value)?,
            "appid" => self.appid = string("appid", value)?,
            "exp" => self.exp = time("exp", value)?,
            "nbf" => self.nbf = time("nbf", value)?,
            "iat" => self.iat = time("iat", value)?,
            "aud" => {
                self.aud = match value {
                    Member::Str(s) => vec![s],
                    Member::Strings(v) => v,
                    other => return Err(wrong("aud", STRINGS, other.json_type())),
                }
            }
            "scope" => {
                self.scope = match value {
                    Member::Str(s) => Some(s),
                    other => {
                        return Err(wrong(
                            "scope",
                            "a space-separated string (RFC 9068 §2.2.3, RFC 8693 §4.2)",
                            other.json_type(),
                        ));
                    }
                }
            }
            "scp" => {
                self.scp = match value {
                    Member::Str(s) => Some(split(&s)),
                    Member::Strings(v) => Some(v),
                    other => return Err(wrong("scp", STRINGS, other.json_type())),
                }
            }
            "roles" => self.roles = true,
            "nonce" => self.nonce = true,
            _ => {}
        }
        Ok(())
    }

    /// The `aud` values.
    pub fn audiences(&self) -> Vec<&str> {
        self.aud.iter().map(|a| a.as_ref()).collect()
    }

    /// The scopes: `scope` split at spaces; with `read_scp`, `scp` when there is no
    /// `scope`.
    pub fn scopes(&self, read_scp: bool) -> Vec<String> {
        match (&self.scope, &self.scp) {
            (Some(s), _) => split(s).into_iter().map(Cow::into_owned).collect(),
            (None, Some(scp)) if read_scp => scp.iter().map(|s| s.as_ref().to_owned()).collect(),
            _ => Vec::new(),
        }
    }
}

/// A space-separated list, split (empty items dropped). Borrowed parts stay borrowed.
fn split<'a>(s: &Cow<'a, str>) -> Vec<Cow<'a, str>> {
    match s {
        Cow::Borrowed(b) => b
            .split(' ')
            .filter(|x| !x.is_empty())
            .map(Cow::Borrowed)
            .collect(),
        Cow::Owned(o) => o
            .split(' ')
            .filter(|x| !x.is_empty())
            .map(|x| Cow::Owned(x.to_owned()))
            .collect(),
    }
}

/// A parsed JSON value as the reader hands it over.
fn member(v: &Value) -> Member<'_> {
    match v {
        Value::String(s) => Member::Str(Cow::Borrowed(s)),
        Value::Number(n) => Member::Num(n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(a) => match a.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
            Some(v) => Member::Strings(v.into_iter().map(Cow::Borrowed).collect()),
            None => Member::Other(JsonType::MixedArray),
        },
        Value::Bool(_) => Member::Other(JsonType::Boolean),
        Value::Null => Member::Other(JsonType::Null),
        Value::Object(_) => Member::Other(JsonType::Object),
    }
}
