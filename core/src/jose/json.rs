//! Strict JSON objects for JOSE headers and JWT claim sets: one reader for both.
//!
//! RFC 7515 §4 and RFC 7519 §7.2 require the header and the claim set to be JSON *objects*;
//! serde's derived `Deserialize` would also read a struct from an array (`["RS256","k"]`),
//! positionally, so idpkit does not derive: [`read_object`] accepts an object only, and
//! refuses a member name that appears twice (RFC 7515 §5.2 step 4, RFC 7519 §4: a parser
//! must reject duplicates or keep the last; idpkit rejects, so no two parsers can read one
//! token differently). Each member is handed over as a [`Member`] that keeps its JSON type,
//! so a wrong-typed claim is reported by name and type instead of as "not a JSON object".

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The JSON type of a value, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonType {
    /// `null`.
    Null,
    /// `true` or `false`.
    Boolean,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array (of strings, when reported as a value's type).
    Array,
    /// An array with at least one element that is not a string.
    MixedArray,
    /// An object.
    Object,
}

impl fmt::Display for JsonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Null => "null",
            Self::Boolean => "a boolean",
            Self::Number => "a number",
            Self::String => "a string",
            Self::Array => "an array",
            Self::MixedArray => "an array with a non-string element",
            Self::Object => "an object",
        })
    }
}

/// One member's value, typed as far as the JOSE and JWT checks need.
#[derive(Debug, Clone, PartialEq)]
pub enum Member<'a> {
    /// A string (borrowed from the input unless it had escapes).
    Str(Cow<'a, str>),
    /// A number.
    Num(f64),
    /// An array whose elements are all strings.
    Strings(Vec<Cow<'a, str>>),
    /// Anything else (`null`, a boolean, an object, an array with other elements): only
    /// its type is kept.
    Other(JsonType),
}

impl Member<'_> {
    /// The value's JSON type.
    pub fn json_type(&self) -> JsonType {
        match self {
            Self::Str(_) => JsonType::String,
            Self::Num(_) => JsonType::Number,
            Self::Strings(_) => JsonType::Array,
            Self::Other(t) => *t,
        }
    }
}

/// Why a header or claim set is not a strict JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// Not JSON at all.
    #[error("is not JSON ({reason})")]
    Syntax {
        /// What the JSON parser said (with line and column).
        reason: String,
    },
    /// JSON, but not an object.
    #[error("is {found}, not a JSON object")]
    NotObject {
        /// What it is.
        found: JsonType,
    },
    /// A member name appears twice.
    #[error(
        "has the member {name:?} more than once; duplicates are refused, not resolved to the last one"
    )]
    Duplicate {
        /// The repeated name.
        name: String,
    },
}

/// Member names seen so far: a short list scanned linearly (headers and claim sets have a
/// few dozen members), a hash set past that (so a huge object cannot make it quadratic).
#[derive(Default)]
struct Seen<'a> {
    few: Vec<Cow<'a, str>>,
    many: Option<HashSet<Cow<'a, str>>>,
}

impl<'a> Seen<'a> {
    const LINEAR: usize = 32;

    /// Adds `name`; `false` when it was there already.
    fn insert(&mut self, name: Cow<'a, str>) -> bool {
        if let Some(set) = &mut self.many {
            return set.insert(name);
        }
        if self.few.contains(&name) {
            return false;
        }
        self.few.push(name);
        if self.few.len() > Self::LINEAR {
            self.many = Some(self.few.drain(..).collect());
        }
        true
    }
}

/// Reads `bytes` as one JSON object, calling `each` with every member in order. Refuses
/// anything but an object, duplicate member names and trailing data.
pub fn read_object<'de>(
    bytes: &'de [u8],
    each: impl FnMut(Cow<'de, str>, Member<'de>),
) -> Result<(), ObjectError> {
    let syntax = |e: serde_json::Error| ObjectError::Syntax {
        reason: e.to_string(),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let outcome = (&mut de)
        .deserialize_any(Top {
            each,
            seen: Seen::default(),
        })
        .map_err(syntax)?;
    de.end().map_err(syntax)?;
    outcome
}

struct Top<'de, F> {
    each: F,
    seen: Seen<'de>,
}

impl<'de, F: FnMut(Cow<'de, str>, Member<'de>)> Top<'de, F> {
    fn not_object<E>(found: JsonType) -> Result<Result<(), ObjectError>, E> {
        Ok(Err(ObjectError::NotObject { found }))
    }
}

impl<'de, F: FnMut(Cow<'de, str>, Member<'de>)> Visitor<'de> for Top<'de, F> {
    type Value = Result<(), ObjectError>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut duplicate = None;
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            let value: Member<'de> = map.next_value()?;
            // After a duplicate, read on (the syntax must still be checked) but hand
            // nothing more over.
            if duplicate.is_some() {
                continue;
            }
            if !self.seen.insert(name.clone()) {
                duplicate = Some(name.into_owned());
                continue;
            }
            (self.each)(name, value);
        }
        Ok(match duplicate {
            Some(name) => Err(ObjectError::Duplicate { name }),
            None => Ok(()),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Self::not_object(JsonType::Array)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Self::not_object(JsonType::Boolean)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Self::not_object(JsonType::Number)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Self::not_object(JsonType::Number)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Self::not_object(JsonType::Number)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Self::not_object(JsonType::String)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Self::not_object(JsonType::Null)
    }
}

/// A member name, borrowed from the input when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> de::Deserialize<'de> for Member<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MemberVisitor)
    }
}

struct MemberVisitor;

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Member::Other(JsonType::Boolean))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        // Precision beyond 2^53 does not matter for the numbers JOSE reads (times).
        Ok(Member::Num(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Member::Num(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Member::Num(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Member::Str(Cow::Owned(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Member::Other(JsonType::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut strings = Vec::new();
        let mut mixed = false;
        while let Some(m) = seq.next_element::<Member<'de>>()? {
            match m {
                Member::Str(s) if !mixed => strings.push(s),
                _ => mixed = true,
            }
        }
        Ok(if mixed {
            Member::Other(JsonType::MixedArray)
        } else {
            Member::Strings(strings)
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Member::Other(JsonType::Object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(json: &str) -> Result<Vec<(String, Member<'_>)>, ObjectError> {
        let mut out = Vec::new();
        read_object(json.as_bytes(), |k, v| out.push((k.into_owned(), v)))?;
        Ok(out)
    }

    #[test]
    fn only_objects_are_read_rfc7519_7_2() {
        for (json, found) in [
            (r#"["iss", "sub", 1700000000]"#, JsonType::Array),
            ("7", JsonType::Number),
            (r#""x""#, JsonType::String),
            ("null", JsonType::Null),
            ("true", JsonType::Boolean),
        ] {
            assert_eq!(
                members(json).err(),
                Some(ObjectError::NotObject { found }),
                "{json}"
            );
        }
        assert!(matches!(members("{} x"), Err(ObjectError::Syntax { .. })));
        assert!(matches!(members("{"), Err(ObjectError::Syntax { .. })));
    }

    #[test]
    fn duplicate_member_names_are_refused_rfc7515_5_2() {
        for json in [
            r#"{"a":1,"a":2}"#,
            r#"{"x":1,"a":"s","b":[],"a":{}}"#,
            // The same name, once escaped.
            r#"{"sub":"a","s\u0075b":"b"}"#,
        ] {
            assert!(
                matches!(members(json), Err(ObjectError::Duplicate { .. })),
                "{json}"
            );
        }
        // Past the linear scan too.
        let many: Vec<String> = (0..100).map(|i| format!("\"m{i}\":{i}")).collect();
        let json = format!("{{{},\"m3\":0}}", many.join(","));
        assert_eq!(
            members(&json).err(),
            Some(ObjectError::Duplicate { name: "m3".into() })
        );
        // Nested objects are not top-level members.
        assert!(members(r#"{"a":{"a":1},"b":{"a":2}}"#).is_ok());
    }

    #[test]
    fn members_keep_their_json_type() {
        let m = members(r#"{"s":"v","n":1.5,"a":["x","y"],"m":["x",1],"o":{},"z":null}"#)
            .expect("object");
        assert_eq!(m[0].1, Member::Str("v".into()));
        assert_eq!(m[1].1, Member::Num(1.5));
        assert_eq!(m[2].1, Member::Strings(vec!["x".into(), "y".into()]));
        assert_eq!(m[3].1.json_type(), JsonType::MixedArray);
        assert_eq!(m[4].1.json_type(), JsonType::Object);
        assert_eq!(m[5].1.json_type(), JsonType::Null);
    }
}
