//! The check list: one sequence of checks that [`Validator::validate`] stops at the first
//! failure of and [`Validator::inspect`] records in full, so the two cannot disagree.

use serde_json::{Map, Value};

use super::claims::StdClaims;
use super::jwks::IssuerState;
use super::rejection::FOREIGN;
use super::{ClaimRule, Rejection, ValidatedToken, Validator, hints};
use crate::jose::{self, CompactJws};

/// One check of [`Validator::inspect`]: its name, and what passed or why it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What was checked (`signature`, `exp`, `aud`, ...).
    pub name: &'static str,
    /// `Ok(what was found)` or `Err(why it fails)`.
    pub outcome: Result<String, String>,
}

/// A token taken apart, for tools: header, claims and every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The decoded header, if it decodes.
    pub header: Option<Map<String, Value>>,
    /// The decoded claims, if they decode.
    pub claims: Option<Map<String, Value>>,
    /// Every check, in order; later checks are skipped (not listed) when an earlier one
    /// makes them meaningless. The first failed check is the verdict.
    pub checks: Vec<Check>,
    /// The verdict of [`Validator::validate`].
    pub verdict: Result<(), Rejection>,
}

/// How a run of the checks reports: validating stops at the first failure; inspecting
/// records every outcome and goes on where the next check still means something.
pub(super) struct Run<'c> {
    /// `Some` when inspecting.
    record: Option<&'c mut Vec<Check>>,
    /// The first failure: the verdict.
    pub first: Option<Rejection>,
}

impl<'c> Run<'c> {
    /// A run that stops at the first failure.
    pub fn validating() -> Self {
        Self {
            record: None,
            first: None,
        }
    }

    /// A run that records every check into `checks`.
    pub fn inspecting(checks: &'c mut Vec<Check>) -> Self {
        Self {
            record: Some(checks),
            first: None,
        }
    }

    /// Records one check; `found` renders a pass, only when inspecting. Returns whether it
    /// passed.
    pub fn check(
        &mut self,
        name: &'static str,
        result: Result<(), Rejection>,
        found: impl FnOnce() -> String,
    ) -> bool {
        match result {
            Ok(()) => {
                if let Some(checks) = self.record.as_deref_mut() {
                    checks.push(Check {
                        name,
                        outcome: Ok(found()),
                    });
                }
                true
            }
            Err(r) => {
                if let Some(checks) = self.record.as_deref_mut() {
                    checks.push(Check {
                        name,
                        outcome: Err(render(&r)),
                    });
                }
                self.first.get_or_insert(r);
                false
            }
        }
    }

    /// Records a fact that is neither a pass nor a failure of the verdict (inspecting
    /// only): what inspect can still tell about a token it already refused.
    fn note(&mut self, name: &'static str, outcome: Result<String, String>) {
        if let Some(checks) = self.record.as_deref_mut() {
            checks.push(Check { name, outcome });
        }
    }

    fn inspecting_now(&self) -> bool {
        self.record.is_some()
    }

    /// Whether to stop now: after any failure when validating.
    pub fn stop(&self) -> bool {
        self.record.is_none() && self.first.is_some()
    }

    /// The verdict as an error, after a failure that ends the run.
    fn failed(&mut self) -> Rejection {
        self.first.take().unwrap_or_else(|| {
            // Only called after a failed check, which sets `first`.
            Rejection::Malformed {
                part: "token",
                reason: "refused".into(),
            }
        })
    }
}

/// A failure as the inspect tool shows it: with the arithmetic done for the reader.
pub(super) fn render(r: &Rejection) -> String {
    match r {
        Rejection::Expired { exp, now, leeway } => format!(
            "{exp}, expired {}s ago (leeway {leeway}s)",
            now.saturating_sub(*exp)
        ),
        Rejection::NotYetValid { nbf, now, leeway } => format!(
            "{nbf} is {}s ahead (leeway {leeway}s)",
            nbf.saturating_sub(*now)
        ),
        r => r.to_string(),
    }
}

impl Validator {
    /// Decrypts a JWE access token with the configured keys: the signed JWT inside and
    /// the `kid` of the key that decrypted it.
    fn decrypt(&self, token: &str) -> Result<(String, String), Rejection> {
        let keys: Vec<&jose::jwe::DecryptionKey> =
            self.decryption_keys.iter().map(|k| k.as_ref()).collect();
        let refused = |reason: String| Rejection::Undecryptable {
            reason,
            keys: keys.iter().map(|k| k.kid().to_owned()).collect(),
        };
        if keys.is_empty() {
            return Err(refused("no key can decrypt it".into()));
        }
        let out = jose::jwe::decrypt(token, &keys).map_err(|e| refused(e.to_string()))?;
        if !out.header.is_nested_jwt() {
            return Err(refused(format!(
                "its content type (cty) is {:?}, not JWT: an encrypted token must carry a signed JWT",
                out.header.cty
            )));
        }
        let jws = String::from_utf8(out.plaintext)
            .map_err(|_| refused("its plaintext is not text".into()))?;
        Ok((jws, out.key_id))
    }

    /// The checks, in order: size; the JWS parser (three parts, base64url, a strict JSON
    /// header, no `crit`, an implemented `alg`); no header `nonce`; a strict JSON payload
    /// with typed claims; `iss`; `typ`; `alg` in the issuer's allow-list; `kid` in its
    /// JWKS; key type; signature; then the claims ([`Self::check_claims`]).
    pub(super) async fn run(
        &self,
        token: &str,
        mut run: Run<'_>,
    ) -> Result<ValidatedToken, Rejection> {
        let size = if token.len() > self.max_token_bytes {
            Err(Rejection::TooLarge {
                size: token.len(),
                max: self.max_token_bytes,
            })
        } else {
            Ok(())
        };
        if !run.check("size", size, || format!("{} bytes", token.len())) {
            return Err(run.failed());
        }
        // An encrypted token (RFC 7516): decrypted first; what is validated is the signed
        // JWT inside (a nested JWT, RFC 7519 §5.2). Nothing unsigned is accepted.
        let inner;
        let token = if jose::jwe::is_compact_jwe(token) {
            match self.decrypt(token) {
                Ok((jws, kid)) => {
                    inner = jws;
                    run.check("decryption", Ok(()), || format!("with key {kid}"));
                    inner.as_str()
                }
                Err(r) => {
                    run.check("decryption", Err(r), String::new);
                    return Err(run.failed());
                }
            }
        } else {
            token
        };
        let jws = match jose::parse_compact(token) {
            Ok(jws) => jws,
            Err(e) => {
                let (name, r) = Rejection::from_jose(e);
                run.check(name, Err(r), String::new);
                return Err(run.failed());
            }
        };
        let h = jws.header();
        let alg = h.alg;
        run.check("structure", Ok(()), || "header.payload.signature".into());
        run.check("alg", Ok(()), || alg.to_string());
        run.check("nonce", if h.nonce { Err(FOREIGN) } else { Ok(()) }, || {
            "none in the header".into()
        });
        if run.stop() {
            return Err(run.failed());
        }
        let claims = match StdClaims::read(jws.payload()) {
            Ok(c) => c,
            Err(r) => {
                run.check("payload", Err(r), String::new);
                return Err(run.failed());
            }
        };
        let iss = claims.iss.as_deref().unwrap_or_default();
        let Some(state) = self.issuers.iter().find(|i| i.config.issuer == iss) else {
            let trusted: Vec<_> = self.issuers.iter().map(|i| &i.config).collect();
            run.check(
                "iss",
                Err(Rejection::UnknownIssuer {
                    found: iss.to_owned(),
                    trusted: trusted.iter().map(|t| t.issuer.clone()).collect(),
                    hint: hints::issuer(iss, &trusted),
                }),
                String::new,
            );
            if run.inspecting_now() {
                self.inspect_untrusted(&jws, &claims, &mut run);
            }
            return Err(run.failed());
        };
        run.check("iss", Ok(()), || iss.to_owned());
        if let Some(expected) = &self.typ {
            let typ = if h.typ_is(expected) || (state.config.accept_typ_jwt && h.typ_is("JWT")) {
                Ok(())
            } else {
                Err(Rejection::WrongType {
                    expected: expected.clone(),
                    found: h.typ.clone(),
                    hint: hints::typ(h.typ.as_deref(), Some(&state.config)),
                })
            };
            run.check("typ", typ, || h.typ.clone().unwrap_or_default());
            if run.stop() {
                return Err(run.failed());
            }
        }
        let allowed = jose::check_algorithm(alg, &state.config.algorithms)
            .map_err(|e| Rejection::from_verify(e, &state.config.issuer));
        run.check("alg allowed", allowed, || {
            format!("{alg} (allowed: {:?})", state.config.algorithms)
        });
        if run.stop() {
            return Err(run.failed());
        }
        let kid = h.kid.as_deref().unwrap_or_default();
        match self.key(state, kid).await {
            Err(r) => {
                run.check("kid", Err(r), String::new);
            }
            Ok(set) => {
                run.check("kid", Ok(()), || kid.to_owned());
                self.check_signature(state, &set, kid, &jws, &mut run);
            }
        }
        if run.stop() {
            return Err(run.failed());
        }
        self.check_claims(Some(state), &claims, || all_claims(jws.payload()), &mut run);
        if let Some(r) = run.first.take() {
            return Err(r);
        }
        let token = ValidatedToken {
            issuer: state.config.issuer.clone(),
            subject: claims.sub.as_deref().map(str::to_owned),
            scopes: claims.scopes(state.config.read_scp),
            client_id: claims.client_id.as_deref().map(str::to_owned),
            kid: Some(kid.to_owned()),
            alg: Some(alg),
            read_scp: state.config.read_scp,
            payload: Vec::new(),
            claims: std::sync::OnceLock::new(),
        };
        drop(claims);
        Ok(ValidatedToken {
            payload: jws.into_payload(),
            ..token
        })
    }

    fn check_signature(
        &self,
        state: &IssuerState,
        set: &jose::KeySet,
        kid: &str,
        jws: &CompactJws<'_>,
        run: &mut Run<'_>,
    ) {
        let alg = jws.header().alg;
        let reject = |e| Rejection::from_verify(e, &state.config.issuer);
        match set.key(kid, alg) {
            Err(e) => {
                run.check("key type", Err(reject(e)), String::new);
            }
            Ok(key) => {
                run.check("key type", Ok(()), || format!("fits {alg}"));
                let sig = jose::verify_signature(key, kid, jws).map_err(reject);
                run.check("signature", sig, || format!("valid ({alg})"));
            }
        }
    }

    /// What inspect can still tell about a token whose issuer is not trusted: the key and
    /// signature against the trusted issuers' key sets as they are (nothing is fetched),
    /// the audience against every accepted one, the times. Notes only: the verdict is the
    /// issuer refusal already recorded.
    fn inspect_untrusted(&self, jws: &CompactJws<'_>, claims: &StdClaims<'_>, run: &mut Run<'_>) {
        let h = jws.header();
        let kid = h.kid.as_deref().unwrap_or_default();
        let found = self.issuers.iter().find_map(|state| {
            let set = state.cached()?;
            let key = set.key(kid, h.alg).ok()?;
            Some((state, jose::verify_signature(key, kid, jws)))
        });
        match found {
            Some((state, Ok(()))) => {
                run.note(
                    "signature",
                    Ok(format!(
                        "valid with key {kid} of {}'s JWKS, but that is not the token's issuer",
                        state.config.issuer
                    )),
                );
            }
            Some((state, Err(e))) => {
                run.note(
                    "signature",
                    Err(Rejection::from_verify(e, &state.config.issuer).to_string()),
                );
            }
            None => run.note(
                "kid",
                Err(format!(
                    "{kid:?} is in none of the key sets at hand, so the signature cannot be checked"
                )),
            ),
        }
        let aud = claims.audiences();
        let accepted: Vec<String> = self
            .issuers
            .iter()
            .flat_map(|i| i.config.audiences.iter().cloned())
            .collect();
        let aud_ok = aud.iter().any(|a| accepted.iter().any(|x| x == a));
        run.note(
            "aud",
            if aud_ok {
                Ok(format!("{aud:?}"))
            } else {
                Err(Rejection::AudienceMismatch {
                    hint: hints::audience(&accepted, &aud, claims),
                    expected: accepted,
                    found: aud.iter().map(|a| (*a).to_owned()).collect(),
                }
                .to_string())
            },
        );
        let mut times = Run::validating();
        self.check_times(claims, &mut times);
        match times.first {
            Some(r) => run.note("exp", Err(render(&r))),
            None => run.note("exp", Ok(claims.exp.unwrap_or_default().to_string())),
        }
    }

    /// `exp` (required), `nbf` and `iat` against the clock with leeway.
    fn check_times(&self, claims: &StdClaims<'_>, run: &mut Run<'_>) {
        let now = self.clock.now().unix_timestamp();
        let leeway = self.leeway.whole_seconds();
        let exp = claims.exp;
        run.check(
            "exp",
            jose::check_exp(exp, now, leeway).map_err(Rejection::from_time),
            || {
                let exp = exp.unwrap_or_default();
                format!("{exp} ({}s left)", exp.saturating_sub(now))
            },
        );
        if run.stop() {
            return;
        }
        if let Some(nbf) = claims.nbf {
            run.check(
                "nbf",
                jose::check_nbf(Some(nbf), now, leeway).map_err(Rejection::from_time),
                || nbf.to_string(),
            );
            if run.stop() {
                return;
            }
        }
        if let Some(iat) = claims.iat {
            run.check(
                "iat",
                jose::check_iat(Some(iat), now, leeway).map_err(Rejection::from_time),
                || format!("{iat} ({}s ago)", now.saturating_sub(iat)),
            );
        }
    }

    /// The claim checks, in order: the times, `aud` (when the issuer is known), the
    /// required claims, the required scopes. Shared by JWTs and introspection answers.
    pub(super) fn check_claims(
        &self,
        state: Option<&IssuerState>,
        claims: &StdClaims<'_>,
        all: impl FnOnce() -> Map<String, Value>,
        run: &mut Run<'_>,
    ) {
        self.check_times(claims, run);
        if run.stop() {
            return;
        }
        if let Some(state) = state {
            let aud = claims.audiences();
            run.check("aud", check_audience(state, claims, &aud), || {
                format!("{aud:?}")
            });
            if run.stop() {
                return;
            }
        }
        if !self.claims.is_empty() {
            let all_claims = all();
            for (name, rule) in &self.claims {
                let found = all_claims.get(name);
                let result = check_claim(name, rule, found).map_err(|r| match r {
                    Rejection::MissingClaim { name, .. } => Rejection::MissingClaim {
                        hint: hints::missing_claim(&name, claims),
                        name,
                    },
                    r => r,
                });
                run.check("claim", result, || {
                    format!("{name} = {}", found.cloned().unwrap_or_default())
                });
                if run.stop() {
                    return;
                }
            }
        }
        if !self.scopes.is_empty()
            && let Some(state) = state
        {
            let have = claims.scopes(state.config.read_scp);
            let missing: Vec<String> = self
                .scopes
                .iter()
                .filter(|s| !have.contains(s))
                .cloned()
                .collect();
            let result = if missing.is_empty() {
                Ok(())
            } else {
                Err(Rejection::InsufficientScope {
                    missing,
                    found: have.clone(),
                    hint: hints::scope(claims, &state.config.issuer, state.config.read_scp),
                })
            };
            run.check("scope", result, || have.join(" "));
        }
    }
}

/// `aud` must contain one of the issuer's accepted audiences (RFC 9068 §4, RFC 7519
/// §4.1.3), with a hint computed from the values when they suggest a cause.
fn check_audience(
    state: &IssuerState,
    claims: &StdClaims<'_>,
    aud: &[&str],
) -> Result<(), Rejection> {
    if aud
        .iter()
        .any(|a| state.config.audiences.iter().any(|x| x == a))
    {
        return Ok(());
    }
    Err(Rejection::AudienceMismatch {
        expected: state.config.audiences.clone(),
        found: aud.iter().map(|a| (*a).to_owned()).collect(),
        hint: hints::audience(&state.config.audiences, aud, claims),
    })
}

/// A required claim must be present and satisfy its rule.
fn check_claim(name: &str, rule: &ClaimRule, found: Option<&Value>) -> Result<(), Rejection> {
    let Some(found) = found else {
        return Err(Rejection::MissingClaim {
            name: name.to_owned(),
            hint: None,
        });
    };
    let ok = match rule {
        ClaimRule::Present => true,
        ClaimRule::Equals(v) => found == v,
        ClaimRule::AnyOf(vs) => vs.contains(found),
    };
    if ok {
        return Ok(());
    }
    let expected = match rule {
        ClaimRule::Equals(v) => v.to_string(),
        ClaimRule::AnyOf(vs) => format!("one of {}", Value::Array(vs.clone())),
        ClaimRule::Present => String::new(),
    };
    Err(Rejection::ClaimMismatch {
        name: name.to_owned(),
        expected,
        found: found.to_string(),
    })
}

/// Every claim of a JWT payload (read only when a claim rule needs more than the
/// registered claims; the payload already passed the strict reader).
fn all_claims(payload: &[u8]) -> Map<String, Value> {
    match serde_json::from_slice(payload) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}
