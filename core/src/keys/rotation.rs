//! The rules a rotation set must follow, for every key provider (in-process keys, key
//! files, KMS): one function, so that every backend refuses the same sets.
//!
//! A set is the list of published keys with their [`KeyState`]:
//! - exactly one *active* key per signing algorithm (a second one would make the signing
//!   key ambiguous), and at least one active key overall (a set that cannot sign is a
//!   configuration error, not an outage);
//! - unique `kid`s (RFC 7517 §4.5: a verifier picks the key by `kid`; two keys with one
//!   `kid` make that choice ambiguous);
//! - *retiring* keys carry `until`, the time after which they are no longer published;
//!   [`is_published`] applies it.
//!
//! *Next* keys and retiring keys of an algorithm need no active key of that algorithm: a
//! new algorithm is published before it signs, and an old one stays published after it
//! stopped signing.

use time::OffsetDateTime;

use super::KeyState;
use crate::jose::Algorithm;

/// One key of a rotation set: `(kid, alg, state, until)`.
pub type RotationEntry<'a> = (&'a str, Algorithm, KeyState, Option<OffsetDateTime>);

/// Why a rotation set is refused. `Display` says what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RotationError {
    /// No key is active.
    #[error(
        "no active signing key: expected one active key per algorithm, found none among {published} published key(s)"
    )]
    NoActiveKey {
        /// How many keys the set has.
        published: usize,
    },
    /// More than one key is active for one algorithm.
    #[error(
        "more than one active {alg} key ({kids:?}): expected exactly one; mark all but one next or retiring"
    )]
    SeveralActive {
        /// The algorithm.
        alg: Algorithm,
        /// The active keys' `kid`s.
        kids: Vec<String>,
    },
    /// Two keys share a `kid`.
    #[error("the same key (kid {kid:?}) is listed twice: expected unique kids")]
    DuplicateKid {
        /// The repeated `kid`.
        kid: String,
    },
    /// A retiring key has no `until`.
    #[error(
        "retiring key {kid:?} has no `until`: expected the time until which it stays published"
    )]
    RetiringWithoutUntil {
        /// The key's `kid`.
        kid: String,
    },
}

/// Checks a rotation set (see the module docs for the rules).
pub fn check_set(keys: &[RotationEntry<'_>]) -> Result<(), RotationError> {
    for (i, (kid, ..)) in keys.iter().enumerate() {
        if keys[..i].iter().any(|(other, ..)| other == kid) {
            return Err(RotationError::DuplicateKid {
                kid: (*kid).to_owned(),
            });
        }
    }
    if let Some((kid, ..)) = keys
        .iter()
        .find(|(_, _, state, until)| *state == KeyState::Retiring && until.is_none())
    {
        return Err(RotationError::RetiringWithoutUntil {
            kid: (*kid).to_owned(),
        });
    }
    for alg in Algorithm::ALL {
        let kids: Vec<String> = keys
            .iter()
            .filter(|(_, a, state, _)| *a == alg && *state == KeyState::Active)
            .map(|(kid, ..)| (*kid).to_owned())
            .collect();
        if kids.len() > 1 {
            return Err(RotationError::SeveralActive { alg, kids });
        }
    }
    if !keys.iter().any(|(_, _, s, _)| *s == KeyState::Active) {
        return Err(RotationError::NoActiveKey {
            published: keys.len(),
        });
    }
    Ok(())
}

/// Whether a key in `state` (with `until`) is still published at `now`: everything but a
/// retiring key whose `until` has passed.
pub fn is_published(state: KeyState, until: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    !(state == KeyState::Retiring && until.is_some_and(|u| u <= now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    const RS: Algorithm = Algorithm::RS256;
    const ES: Algorithm = Algorithm::ES256;

    fn later() -> Option<OffsetDateTime> {
        Some(OffsetDateTime::UNIX_EPOCH + Duration::days(20_000))
    }

    #[test]
    fn a_set_with_one_active_key_per_algorithm_and_next_and_retiring_keys_passes() {
        let set = [
            ("a", RS, KeyState::Active, None),
            ("b", ES, KeyState::Active, None),
            ("c", ES, KeyState::Next, None),
            ("d", RS, KeyState::Retiring, later()),
            // A new algorithm is published before it signs; an old one after it stopped.
            ("e", Algorithm::EdDSA, KeyState::Next, None),
            ("f", Algorithm::PS256, KeyState::Retiring, later()),
        ];
        assert_eq!(check_set(&set), Ok(()));
    }

    #[test]
    fn two_active_keys_of_one_algorithm_are_refused() {
        let set = [
            ("a", ES, KeyState::Active, None),
            ("b", RS, KeyState::Active, None),
            ("c", ES, KeyState::Active, None),
        ];
        let err = check_set(&set).expect_err("two active ES256 keys");
        assert_eq!(
            err,
            RotationError::SeveralActive {
                alg: ES,
                kids: vec!["a".into(), "c".into()]
            }
        );
        assert!(
            err.to_string().contains("more than one active ES256"),
            "{err}"
        );
    }

    #[test]
    fn a_set_without_an_active_key_is_refused() {
        for set in [
            vec![],
            vec![("a", ES, KeyState::Next, None)],
            vec![("a", ES, KeyState::Retiring, later())],
        ] {
            let err = check_set(&set).expect_err("no active key");
            assert_eq!(
                err,
                RotationError::NoActiveKey {
                    published: set.len()
                }
            );
            assert!(err.to_string().contains("no active signing key"), "{err}");
        }
    }

    #[test]
    fn kids_are_unique_rfc7517_4_5() {
        let set = [
            ("a", ES, KeyState::Active, None),
            ("a", RS, KeyState::Next, None),
        ];
        let err = check_set(&set).expect_err("duplicate kid");
        assert_eq!(err, RotationError::DuplicateKid { kid: "a".into() });
        assert!(err.to_string().contains("listed twice"), "{err}");
    }

    #[test]
    fn retiring_keys_carry_until() {
        let set = [
            ("a", ES, KeyState::Active, None),
            ("b", ES, KeyState::Retiring, None),
        ];
        assert_eq!(
            check_set(&set),
            Err(RotationError::RetiringWithoutUntil { kid: "b".into() })
        );
    }

    #[test]
    fn retiring_keys_stop_being_published_at_until() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(10);
        assert!(is_published(
            KeyState::Retiring,
            Some(now + Duration::seconds(1)),
            now
        ));
        assert!(!is_published(KeyState::Retiring, Some(now), now));
        assert!(is_published(
            KeyState::Active,
            Some(now - Duration::days(1)),
            now
        ));
        assert!(is_published(KeyState::Next, None, now));
    }
}
