//! Rich authorization requests (RFC 9396): the `authorization_details` parameter, a JSON
//! array of objects each with a `type`, at the authorization request (pushed or not) and
//! at the token endpoint for `client_credentials` (§6).
//!
//! What is accepted: a type the client registered
//! ([`ClientBuilder::authorization_details_types`](crate::ClientBuilder::authorization_details_types)),
//! and, when the provider lists the types it supports
//! ([`ProviderBuilder::authorization_details_types_supported`](crate::ProviderBuilder::authorization_details_types_supported)),
//! one of those; the common data fields of §2.2 of the right JSON type; then the host's
//! [`AuthorizationDetailsPolicy`], which may refuse a detail for its content. Anything else
//! is `invalid_authorization_details` (§5). The details are shown on the consent page
//! ([`InteractionDetails::authorization_details`](crate::InteractionDetails::authorization_details)),
//! kept with the code and the refresh token, and returned in the token response (§7), the
//! JWT access token (§9.1) and introspection (§9.2). They are granted as requested or not
//! at all (the user's consent, or a refusal): idpkit does not narrow them, and a token
//! request's `authorization_details` for a code or a refresh token is ignored.
//!
//! An authorization request is stored with its interaction before anyone has logged in,
//! so its `authorization_details` is bounded: at most [`MAX_AUTHORIZATION_DETAILS_BYTES`]
//! as sent and [`MAX_AUTHORIZATION_DETAILS`] objects.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};

/// The longest `authorization_details` accepted (bytes, as sent): larger than the 2 KiB of
/// the other kept parameters, since a detail carries structured data (amounts, accounts,
/// locations), but bounded like them.
pub const MAX_AUTHORIZATION_DETAILS_BYTES: usize = 8 * 1024;

/// The most objects one `authorization_details` may hold.
pub const MAX_AUTHORIZATION_DETAILS: usize = 16;

/// One authorization detail (RFC 9396 §2): a JSON object with a `type` and the members
/// that type defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuthorizationDetail(Map<String, Value>);

impl AuthorizationDetail {
    /// Its `type` (always a string: parsing refuses anything else).
    pub fn detail_type(&self) -> &str {
        self.0
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// A member (`actions`, `locations`, or one its type defines).
    pub fn get(&self, member: &str) -> Option<&Value> {
        self.0.get(member)
    }

    /// Every member.
    pub fn members(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// The host's check of authorization details (set with
/// [`ProviderBuilder::authorization_details_policy`](crate::ProviderBuilder::authorization_details_policy)):
/// called for each detail of a registered type, it may refuse one for its content (an
/// amount over a limit, an account the client may not name).
///
/// # Contract
/// Sync and cheap (it runs while the request is parsed, before anything is stored); an
/// `Err` is answered as `invalid_authorization_details` with its text as the description
/// (keep it short: the client sees it).
pub trait AuthorizationDetailsPolicy: Send + Sync + 'static {
    /// Accepts or refuses `detail` for `client`.
    fn check(&self, client: &Client, detail: &AuthorizationDetail) -> Result<(), String>;
}

/// The default policy: every detail of a type the client registered is accepted.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptRegisteredTypes;

impl AuthorizationDetailsPolicy for AcceptRegisteredTypes {
    fn check(&self, _: &Client, _: &AuthorizationDetail) -> Result<(), String> {
        Ok(())
    }
}

fn invalid(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidAuthorizationDetails, description)
}

/// The members of RFC 9396 §2.2 common to every type and the JSON type they must have:
/// `identifier` a string, the others arrays of strings.
const ARRAYS_OF_STRINGS: [&str; 4] = ["locations", "actions", "datatypes", "privileges"];

/// Parses and checks `authorization_details` as sent (`None`: absent) for `client`:
/// `supported` is the provider's list of types (empty: any registered type).
pub(crate) fn parse(
    value: Option<&str>,
    client: &Client,
    supported: &[String],
    policy: &dyn AuthorizationDetailsPolicy,
) -> Result<Vec<AuthorizationDetail>, OAuthError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    if value.len() > MAX_AUTHORIZATION_DETAILS_BYTES {
        return Err(invalid(format!(
            "authorization_details is longer than {MAX_AUTHORIZATION_DETAILS_BYTES} bytes"
        )));
    }
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(value) else {
        return Err(invalid(
            "authorization_details must be a JSON array of objects (RFC 9396 §2)",
        ));
    };
    if items.is_empty() {
        return Err(invalid("authorization_details is empty"));
    }
    if items.len() > MAX_AUTHORIZATION_DETAILS {
        return Err(invalid(format!(
            "authorization_details has more than {MAX_AUTHORIZATION_DETAILS} objects"
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(members) = item else {
            return Err(invalid("each authorization detail must be a JSON object"));
        };
        let detail = AuthorizationDetail(members);
        check_shape(&detail)?;
        let t = detail.detail_type();
        if !client.authorization_details_types.iter().any(|x| x == t)
            || (!supported.is_empty() && !supported.iter().any(|x| x == t))
        {
            return Err(invalid(
                "an authorization detail type is not allowed for this client",
            ));
        }
        policy.check(client, &detail).map_err(invalid)?;
        out.push(detail);
    }
    Ok(out)
}

/// `type` is a string (§2); the common data fields have their §2.2 types.
fn check_shape(detail: &AuthorizationDetail) -> Result<(), OAuthError> {
    if !matches!(detail.get("type"), Some(Value::String(t)) if !t.is_empty()) {
        return Err(invalid("each authorization detail needs a string type"));
    }
    for name in ARRAYS_OF_STRINGS {
        match detail.get(name) {
            None => {}
            Some(Value::Array(v)) if v.iter().all(Value::is_string) => {}
            Some(_) => {
                return Err(invalid(format!(
                    "authorization detail member {name} must be an array of strings"
                )));
            }
        }
    }
    if !matches!(detail.get("identifier"), None | Some(Value::String(_))) {
        return Err(invalid(
            "authorization detail member identifier must be a string",
        ));
    }
    Ok(())
}

/// The details as the JSON array of the token response (§7), the access token (§9.1) and
/// introspection (§9.2); `None` when there are none.
pub(crate) fn to_json(details: &[AuthorizationDetail]) -> Option<Value> {
    (!details.is_empty()).then(|| serde_json::to_value(details).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::confidential("web", "s")
            .redirect_uri("https://app.example/cb")
            .authorization_details_types(["payment_initiation", "account_information"])
            .build()
            .expect("valid")
    }

    fn parse_with(v: &str, supported: &[&str]) -> Result<Vec<AuthorizationDetail>, OAuthError> {
        let supported: Vec<String> = supported.iter().map(|s| s.to_string()).collect();
        parse(Some(v), &client(), &supported, &AcceptRegisteredTypes)
    }

    fn code(r: Result<Vec<AuthorizationDetail>, OAuthError>) -> ErrorCode {
        r.expect_err("refused").code
    }

    const PAYMENT: &str = r#"[{"type":"payment_initiation","actions":["initiate"],
        "locations":["https://bank.example/payments"],
        "instructedAmount":{"currency":"EUR","amount":"123.50"}}]"#;

    #[test]
    fn a_registered_type_is_accepted_with_its_members_rfc9396_2() {
        let d = parse_with(PAYMENT, &[]).expect("valid");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].detail_type(), "payment_initiation");
        assert_eq!(
            d[0].get("instructedAmount").expect("kept")["currency"],
            "EUR"
        );
        assert!(
            parse(None, &client(), &[], &AcceptRegisteredTypes)
                .expect("absent")
                .is_empty()
        );
    }

    #[test]
    fn a_type_the_client_did_not_register_is_refused_rfc9396_5() {
        assert_eq!(
            code(parse_with(r#"[{"type":"other"}]"#, &[])),
            ErrorCode::InvalidAuthorizationDetails
        );
        assert_eq!(
            code(parse_with(PAYMENT, &["account_information"])),
            ErrorCode::InvalidAuthorizationDetails,
            "registered, but not among the provider's supported types"
        );
    }

    #[test]
    fn not_an_array_of_typed_objects_is_invalid_authorization_details_rfc9396_2() {
        for bad in [
            r#"{"type":"payment_initiation"}"#,
            "[]",
            r#"["payment_initiation"]"#,
            r#"[{"actions":["x"]}]"#,
            r#"[{"type":7}]"#,
            r#"[{"type":"payment_initiation","actions":"initiate"}]"#,
            r#"[{"type":"payment_initiation","identifier":1}]"#,
            "not json",
        ] {
            assert_eq!(
                code(parse_with(bad, &[])),
                ErrorCode::InvalidAuthorizationDetails,
                "{bad}"
            );
        }
    }

    #[test]
    fn the_size_is_bounded_before_parsing() {
        let big = format!(
            r#"[{{"type":"payment_initiation","note":"{}"}}]"#,
            "x".repeat(MAX_AUTHORIZATION_DETAILS_BYTES)
        );
        assert_eq!(
            code(parse_with(&big, &[])),
            ErrorCode::InvalidAuthorizationDetails
        );
        let many = format!(
            "[{}]",
            vec![r#"{"type":"payment_initiation"}"#; MAX_AUTHORIZATION_DETAILS + 1].join(",")
        );
        assert_eq!(
            code(parse_with(&many, &[])),
            ErrorCode::InvalidAuthorizationDetails
        );
    }

    struct AtMost100;
    impl AuthorizationDetailsPolicy for AtMost100 {
        fn check(&self, _: &Client, d: &AuthorizationDetail) -> Result<(), String> {
            let amount = d
                .get("instructedAmount")
                .and_then(|a| a["amount"].as_str())
                .and_then(|a| a.parse::<f64>().ok())
                .unwrap_or(0.0);
            if amount > 100.0 {
                return Err("the amount is over the limit".into());
            }
            Ok(())
        }
    }

    #[test]
    fn the_host_policy_may_refuse_a_detail_for_its_content_rfc9396_5() {
        let e = parse(Some(PAYMENT), &client(), &[], &AtMost100).expect_err("over");
        assert_eq!(e.code, ErrorCode::InvalidAuthorizationDetails);
        assert_eq!(e.description, "the amount is over the limit");
    }
}
