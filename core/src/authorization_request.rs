//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1): parsed and validated in
//! one sync function of the parameters and the client.
//!
//! Order matters (RFC 6749 §4.1.2.1): the client and the redirect URI are checked first,
//! and an error about either is shown to the user, never redirected. Once the redirect URI
//! is trusted, every other error goes back to the client, with its `state`, in the response
//! mode it asked for (or `query` when the response mode itself is the problem).

use serde::{Deserialize, Serialize};

use crate::authorization_response::Target;
use crate::client::{Client, GrantType};
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::Params;
use crate::{pkce, scope};

/// How the authorization response travels back (OAuth 2.0 Multiple Response Type Encoding
/// Practices §2.1, OAuth 2.0 Form Post Response Mode).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    /// `response_mode` as sent (`None`: the default for `code`, `query`).
    fn from_param(v: Option<&str>) -> Option<Self> {
        match v {
            None | Some("query") => Some(Self::Query),
            Some("fragment") => Some(Self::Fragment),
            Some("form_post") => Some(Self::FormPost),
            Some(_) => None,
        }
    }
}

/// The validated authorization request, kept with an interaction and a code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the request carried `redirect_uri` (then the token request must too).
    #[serde(default)]
    pub redirect_uri_sent: bool,
    pub response_mode: ResponseMode,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    /// Only kept for OpenID requests.
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The upstream named by `idp_hint` / `acr_values=idp:NAME` (only a configured one).
    #[serde(default)]
    pub upstream_hint: Option<String>,
}

impl AuthorizationRequest {
    /// Where the answer to this request goes.
    pub fn target(&self) -> Target {
        Target {
            redirect_uri: self.redirect_uri.clone(),
            mode: self.response_mode,
            state: self.state.clone(),
        }
    }

    /// Whether `prompt` has `value` (OIDC Core §3.1.2.1).
    pub fn prompts(&self, value: &str) -> bool {
        self.prompt.iter().any(|p| p == value)
    }
}

/// Why a request was refused, and how the refusal must be delivered.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The client or redirect URI cannot be trusted: show an error page to the user.
    Show(OAuthError),
    /// Redirect the error to the (trusted) redirect URI.
    Redirect(Target, OAuthError),
}

/// Parses and validates an authorization request for `client` (`None`: no such client).
/// `is_upstream` says whether a name is a configured upstream provider (for `idp_hint`).
pub(crate) fn parse(
    p: &Params,
    client: Option<&Client>,
    is_upstream: impl Fn(&str) -> bool,
) -> Result<AuthorizationRequest, Refused> {
    p.require("client_id").map_err(Refused::Show)?;
    let client =
        client.ok_or_else(|| Refused::Show(OAuthError::invalid_request("unknown client_id")))?;
    let redirect_uri = redirect_uri(p, client).map_err(Refused::Show)?;
    // From here on the redirect URI is trusted: errors go back to the client.
    let Some(mode) = p
        .get("response_mode")
        .ok()
        .and_then(ResponseMode::from_param)
    else {
        let to = Target {
            redirect_uri,
            mode: ResponseMode::Query,
            state: p.get("state").ok().flatten().map(str::to_owned),
        };
        return Err(Refused::Redirect(
            to,
            OAuthError::invalid_request("unsupported response_mode"),
        ));
    };
    let state = match p.get("state") {
        Ok(s) => s.map(str::to_owned),
        Err(e) => {
            let to = Target {
                redirect_uri,
                mode,
                state: None,
            };
            return Err(Refused::Redirect(to, e));
        }
    };
    validate(p, client, &redirect_uri, mode, state.clone(), is_upstream).map_err(|e| {
        Refused::Redirect(
            Target {
                redirect_uri,
                mode,
                state,
            },
            e,
        )
    })
}

/// The redirect URI: one registered for the client, compared exactly (RFC 9700 §4.1.3);
/// may be left out only when the client registered exactly one (RFC 6749 §3.1.2.3).
pub(crate) fn redirect_uri(p: &Params, client: &Client) -> Result<String, OAuthError> {
    match p.get("redirect_uri")? {
        Some(uri) if client.redirect_uri_matches(uri) => Ok(uri.to_owned()),
        Some(_) => Err(OAuthError::invalid_request(
            "redirect_uri is not registered for this client",
        )),
        None if client.redirect_uris.len() == 1 => Ok(client.redirect_uris[0].clone()),
        None => Err(OAuthError::invalid_request("missing redirect_uri")),
    }
}

fn validate(
    p: &Params,
    client: &Client,
    redirect_uri: &str,
    response_mode: ResponseMode,
    state: Option<String>,
    is_upstream: impl Fn(&str) -> bool,
) -> Result<AuthorizationRequest, OAuthError> {
    if let Some(dup) = p.first_duplicate() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {dup} is included more than once"
        )));
    }
    if p.get("request")?.is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if p.get("request_uri")?.is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match p.get("response_type")? {
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
        None => {
            return Err(OAuthError::invalid_request(
                "missing parameter response_type",
            ));
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client may not use the authorization code grant",
        ));
    }
    let scopes = scope::parse(p.get("scope")?);
    if scopes.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "scope is required",
        ));
    }
    scope::check_allowed(client, &scopes)?;
    let code_challenge = match p.get("code_challenge")? {
        Some(challenge) => {
            pkce::check_challenge(challenge, p.get("code_challenge_method")?)?;
            Some(challenge.to_owned())
        }
        None if client.require_pkce => {
            return Err(OAuthError::invalid_request(
                "code_challenge is required (PKCE with S256) for this client",
            ));
        }
        None => None,
    };
    let prompt = prompt(p.get("prompt")?)?;
    let max_age = max_age(p.get("max_age")?)?;
    let openid = scope::is_openid(&scopes);
    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        redirect_uri_sent: p.get("redirect_uri")?.is_some(),
        response_mode,
        scopes,
        state,
        nonce: if openid {
            p.get("nonce")?.map(str::to_owned)
        } else {
            None
        },
        code_challenge,
        prompt,
        max_age,
        login_hint: p.get("login_hint")?.map(str::to_owned),
        upstream_hint: upstream_hint(p, is_upstream)?,
    })
}

/// `prompt` (OIDC Core §3.1.2.1): space-delimited `none`, `login`, `consent`,
/// `select_account`; `none` stands alone.
pub(crate) fn prompt(v: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let prompt: Vec<String> = v
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(v) = prompt
        .iter()
        .find(|v| !matches!(v.as_str(), "none" | "login" | "consent" | "select_account"))
    {
        return Err(OAuthError::invalid_request(format!(
            "unsupported prompt value {v}"
        )));
    }
    if prompt.iter().any(|v| v == "none") && prompt.len() > 1 {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

/// `max_age` (OIDC Core §3.1.2.1): a non-negative number of seconds.
pub(crate) fn max_age(v: Option<&str>) -> Result<Option<i64>, OAuthError> {
    match v {
        Some(v) => Ok(Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(
            || OAuthError::invalid_request("max_age must be a non-negative integer"),
        )?)),
        None => Ok(None),
    }
}

/// `idp_hint=NAME`, or the first `acr_values` entry `idp:NAME`, when NAME is a configured
/// upstream (other values are ignored: the login page shows every choice).
fn upstream_hint(
    p: &Params,
    is_upstream: impl Fn(&str) -> bool,
) -> Result<Option<String>, OAuthError> {
    let named = p.get("idp_hint")?.map(str::to_owned).or(p
        .get("acr_values")?
        .and_then(|v| v.split(' ').find_map(|a| a.strip_prefix("idp:")))
        .map(str::to_owned));
    Ok(named.filter(|n| {
        let known = is_upstream(n);
        if !known {
            tracing::info!(upstream = %n, "idpkit: idp_hint names no configured upstream; ignored");
        }
        known
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CB: &str = "https://app.example/cb";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn confidential() -> Client {
        Client::confidential("web", "s")
            .redirect_uri(CB)
            .scopes(["openid", "profile", "offline_access"])
            .build()
            .expect("valid")
    }

    fn public() -> Client {
        Client::public("spa")
            .redirect_uri(CB)
            .redirect_uri("https://app.example/cb2")
            .scopes(["openid", "profile"])
            .build()
            .expect("valid")
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied())
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("client_id", "web"),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "st"),
        ]
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Params {
        let mut v = base();
        for (k, val) in extra {
            v.retain(|(kk, _)| kk != k);
            v.push((k, val));
        }
        params(&v)
    }

    fn ok(p: &Params, c: &Client) -> AuthorizationRequest {
        match parse(p, Some(c), |_| false) {
            Ok(r) => r,
            Err(e) => panic!("refused: {e:?}"),
        }
    }

    fn redirected(p: &Params, c: &Client) -> (Target, OAuthError) {
        match parse(p, Some(c), |_| false) {
            Err(Refused::Redirect(t, e)) => (t, e),
            other => panic!("expected a redirected error, got {other:?}"),
        }
    }

    fn shown(p: &Params, c: Option<&Client>) -> OAuthError {
        match parse(p, c, |_| false) {
            Err(Refused::Show(e)) => e,
            other => panic!("expected an error page, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_request_keeps_what_the_code_binds_rfc6749_4_1_1() {
        let r = ok(
            &with(&[("nonce", "n-1"), ("redirect_uri", CB)]),
            &confidential(),
        );
        assert_eq!(r.client_id, "web");
        assert_eq!(r.redirect_uri, CB);
        assert!(r.redirect_uri_sent);
        assert_eq!(r.scopes, vec!["openid", "profile"]);
        assert_eq!(r.state.as_deref(), Some("st"));
        assert_eq!(r.nonce.as_deref(), Some("n-1"));
        assert_eq!(r.response_mode, ResponseMode::Query);
    }

    #[test]
    fn a_single_registered_redirect_uri_may_be_left_out_rfc6749_3_1_2_3() {
        let r = ok(&with(&[]), &confidential());
        assert_eq!(r.redirect_uri, CB);
        assert!(!r.redirect_uri_sent, "the token request need not repeat it");
        let e = shown(
            &params(&[("client_id", "spa"), ("response_type", "code")]),
            Some(&public()),
        );
        assert_eq!(
            e.description, "missing redirect_uri",
            "two registered: required"
        );
    }

    #[test]
    fn unknown_client_and_bad_redirect_are_shown_never_redirected_rfc6749_4_1_2_1() {
        assert_eq!(shown(&with(&[]), None).description, "unknown client_id");
        let e = shown(
            &with(&[("redirect_uri", "https://evil.example/cb")]),
            Some(&confidential()),
        );
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.description.contains("not registered"));
        let e = shown(&params(&[("response_type", "code")]), None);
        assert_eq!(e.description, "missing parameter client_id");
    }

    #[test]
    fn client_and_redirect_are_checked_before_anything_that_could_redirect() {
        // Every other parameter is wrong too; the redirect URI still decides.
        let p = with(&[
            ("redirect_uri", "https://evil.example/cb"),
            ("response_type", "token"),
            ("response_mode", "bogus"),
            ("prompt", "bogus"),
        ]);
        assert!(
            shown(&p, Some(&confidential()))
                .description
                .contains("not registered")
        );
        let dup = params(&[("client_id", "web"), ("client_id", "web")]);
        assert!(
            shown(&dup, Some(&confidential()))
                .description
                .contains("more than once")
        );
    }

    #[test]
    fn errors_after_the_redirect_check_go_back_with_state_and_mode() {
        let (t, e) = redirected(
            &with(&[("response_type", "token"), ("response_mode", "fragment")]),
            &confidential(),
        );
        assert_eq!(e.code, ErrorCode::UnsupportedResponseType);
        assert_eq!(t.mode, ResponseMode::Fragment);
        assert_eq!(t.state.as_deref(), Some("st"));
        assert_eq!(t.redirect_uri, CB);
    }

    #[test]
    fn an_unknown_response_mode_is_answered_in_query_mode() {
        let (t, e) = redirected(&with(&[("response_mode", "jwt")]), &confidential());
        assert_eq!(e.description, "unsupported response_mode");
        assert_eq!(t.mode, ResponseMode::Query);
        assert_eq!(t.state.as_deref(), Some("st"));
        let r = ok(&with(&[("response_mode", "form_post")]), &confidential());
        assert_eq!(r.response_mode, ResponseMode::FormPost);
    }

    #[test]
    fn a_repeated_state_is_redirected_without_state_rfc6749_3_1() {
        let mut v = base();
        v.push(("state", "again"));
        let (t, e) = redirected(&params(&v), &confidential());
        assert!(e.description.contains("more than once"));
        assert_eq!(t.state, None);
    }

    #[test]
    fn repeated_parameters_are_invalid_request_rfc6749_3_1() {
        let mut v = base();
        v.push(("scope", "openid"));
        let (_, e) = redirected(&params(&v), &confidential());
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert_eq!(e.description, "parameter scope is included more than once");
    }

    #[test]
    fn request_objects_are_refused_with_their_own_codes_oidc_6_1() {
        let (_, e) = redirected(&with(&[("request", "eyJ...")]), &confidential());
        assert_eq!(e.code, ErrorCode::RequestNotSupported);
        let (_, e) = redirected(&with(&[("request_uri", "urn:x")]), &confidential());
        assert_eq!(e.code, ErrorCode::RequestUriNotSupported);
    }

    #[test]
    fn only_the_code_response_type_rfc6749_4_1_1() {
        let (_, e) = redirected(
            &with(&[("response_type", "code id_token")]),
            &confidential(),
        );
        assert_eq!(e.code, ErrorCode::UnsupportedResponseType);
        let mut v = base();
        v.retain(|(k, _)| *k != "response_type");
        let (_, e) = redirected(&params(&v), &confidential());
        assert_eq!(e.description, "missing parameter response_type");
    }

    #[test]
    fn a_client_without_the_code_grant_is_unauthorized_client_rfc6749_4_1_2_1() {
        let c = Client::confidential("m2m", "s")
            .redirect_uri(CB)
            .grant_types([GrantType::ClientCredentials])
            .build()
            .expect("valid");
        let p = params(&[
            ("client_id", "m2m"),
            ("response_type", "code"),
            ("scope", "x"),
        ]);
        let (_, e) = redirected(&p, &c);
        assert_eq!(e.code, ErrorCode::UnauthorizedClient);
    }

    #[test]
    fn scope_is_required_and_must_be_registered_rfc6749_3_3() {
        let (_, e) = redirected(&with(&[("scope", " ")]), &confidential());
        assert_eq!(
            (e.code, e.description.as_ref()),
            (ErrorCode::InvalidScope, "scope is required")
        );
        let (_, e) = redirected(&with(&[("scope", "openid admin")]), &confidential());
        assert_eq!(e.code, ErrorCode::InvalidScope);
    }

    #[test]
    fn public_clients_must_send_an_s256_challenge_rfc9700_2_1_1() {
        let spa = |extra: &[(&'static str, &'static str)]| {
            let mut v = vec![
                ("client_id", "spa"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", CB),
            ];
            v.extend_from_slice(extra);
            params(&v)
        };
        let (_, e) = redirected(&spa(&[]), &public());
        assert!(e.description.contains("code_challenge is required"));
        let (_, e) = redirected(
            &spa(&[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "plain"),
            ]),
            &public(),
        );
        assert!(e.description.contains("plain"));
        let (_, e) = redirected(&spa(&[("code_challenge", CHALLENGE)]), &public());
        assert!(
            e.description.contains("S256"),
            "no method means plain: refused"
        );
        let r = ok(
            &spa(&[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ]),
            &public(),
        );
        assert_eq!(r.code_challenge.as_deref(), Some(CHALLENGE));
    }

    #[test]
    fn a_confidential_client_may_send_a_challenge_and_it_is_then_bound_rfc7636_4_3() {
        let r = ok(
            &with(&[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ]),
            &confidential(),
        );
        assert_eq!(r.code_challenge.as_deref(), Some(CHALLENGE));
        assert_eq!(ok(&with(&[]), &confidential()).code_challenge, None);
    }

    #[test]
    fn prompt_values_and_none_alone_oidc_3_1_2_1() {
        assert_eq!(
            prompt(Some("login consent")).expect("ok"),
            vec!["login", "consent"]
        );
        assert!(prompt(None).expect("ok").is_empty());
        assert!(prompt(Some("select_account")).is_ok());
        let e = prompt(Some("none login")).expect_err("none alone");
        assert!(e.description.contains("cannot be combined"));
        let e = prompt(Some("create")).expect_err("unknown");
        assert_eq!(e.description, "unsupported prompt value create");
        let (_, e) = redirected(&with(&[("prompt", "none consent")]), &confidential());
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn max_age_is_a_non_negative_integer_oidc_3_1_2_1() {
        assert_eq!(max_age(Some("0")).expect("zero"), Some(0));
        assert_eq!(max_age(Some("3600")).expect("ok"), Some(3600));
        assert_eq!(max_age(None).expect("absent"), None);
        for bad in ["-1", "1.5", "soon", "99999999999999999999"] {
            assert!(max_age(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn nonce_is_kept_only_for_openid_requests_oidc_3_1_2_1() {
        let r = ok(
            &with(&[("scope", "profile"), ("nonce", "n")]),
            &confidential(),
        );
        assert_eq!(r.nonce, None);
        let r = ok(&with(&[("nonce", "n")]), &confidential());
        assert_eq!(r.nonce.as_deref(), Some("n"));
    }

    #[test]
    fn idp_hint_names_only_configured_upstreams() {
        let p = with(&[("idp_hint", "corp")]);
        let r = parse(&p, Some(&confidential()), |n| n == "corp").expect("ok");
        assert_eq!(r.upstream_hint.as_deref(), Some("corp"));
        let r = parse(&p, Some(&confidential()), |_| false).expect("ok");
        assert_eq!(r.upstream_hint, None, "an unknown upstream is ignored");
        let p = with(&[("acr_values", "urn:mace:loa:2 idp:corp")]);
        let r = parse(&p, Some(&confidential()), |n| n == "corp").expect("ok");
        assert_eq!(r.upstream_hint.as_deref(), Some("corp"));
    }

    #[test]
    fn login_hint_is_kept_and_prompts_are_queryable() {
        let r = ok(
            &with(&[("login_hint", "alice"), ("prompt", "login")]),
            &confidential(),
        );
        assert_eq!(r.login_hint.as_deref(), Some("alice"));
        assert!(r.prompts("login"));
        assert!(!r.prompts("none"));
        let t = r.target();
        assert_eq!(
            (t.redirect_uri.as_str(), t.state.as_deref()),
            (CB, Some("st"))
        );
    }
}
