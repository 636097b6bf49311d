//! The grant seam: a host's own extension grant (RFC 6749 §4.5) at the token endpoint,
//! in process on the memory store.

use async_trait::async_trait;
use idpkit_core::testkit::flows::token_request;
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::{
    Algorithm, Client, ConfigError, Grant, GrantContext, GrantType, LocalKeys, MemoryGrantStore,
    OAuthError, Provider, ProviderBuilder, StaticClients, TokenResponse,
};

const API_KEY_GRANT: &str = "urn:example:grant:api-key";

/// Trades a partner's API key for an access token on behalf of the partner's user.
struct ApiKeyGrant;

#[async_trait]
impl Grant for ApiKeyGrant {
    fn grant_type(&self) -> &str {
        API_KEY_GRANT
    }

    async fn exchange(&self, ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
        let key = ctx.params().require("api_key")?;
        if key != "partner-key-1" {
            return Err(OAuthError::invalid_grant("unknown API key"));
        }
        let scopes = idpkit_core::scope::parse(ctx.params().get("scope")?);
        ctx.issue_access_token(Some("alice"), &scopes).await
    }
}

fn builder(clients: Vec<Client>) -> ProviderBuilder {
    Provider::builder("https://idp.example")
        .grant_store(MemoryGrantStore::new())
        .keys(LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(StaticClients::new(clients).expect("clients"))
        .users(TestUsers::demo())
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends()
}

fn partner() -> Client {
    Client::confidential("partner", "partner-secret")
        .grant_types([GrantType::ClientCredentials])
        .extension_grant(API_KEY_GRANT)
        .scopes(["api:read"])
        .audience(["demo-api"])
        .build()
        .expect("client")
}

fn other() -> Client {
    Client::confidential("other", "other-secret")
        .grant_types([GrantType::ClientCredentials])
        .scopes(["api:read"])
        .build()
        .expect("client")
}

fn provider() -> Provider {
    builder(vec![partner(), other()])
        .extension_grant(ApiKeyGrant)
        .build()
        .expect("provider")
}

#[tokio::test]
async fn an_extension_grant_issues_tokens_through_the_seam_rfc6749_4_5() {
    let p = provider();
    let r = p
        .token(&token_request(
            &[
                ("grant_type", API_KEY_GRANT),
                ("api_key", "partner-key-1"),
                ("scope", "api:read"),
            ],
            "partner",
            Some("partner-secret"),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json_value());
    assert_eq!(r.header_value("Cache-Control"), Some("no-store"));
    let body = r.json_value();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api:read");
    assert!(body.get("refresh_token").is_none());
    let at = body["access_token"].as_str().expect("at").to_owned();
    let intro = p
        .introspect(&token_request(
            &[("token", &at)],
            "partner",
            Some("partner-secret"),
        ))
        .await
        .json_value();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["sub"], "alice");
    assert_eq!(intro["client_id"], "partner");
    // User-bound, so revocable at once.
    let revoke = p
        .revoke(&token_request(
            &[("token", &at)],
            "partner",
            Some("partner-secret"),
        ))
        .await;
    assert_eq!(revoke.status, 200);
    let intro = p
        .introspect(&token_request(
            &[("token", &at)],
            "partner",
            Some("partner-secret"),
        ))
        .await
        .json_value();
    assert_eq!(intro, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn the_grants_own_errors_reach_the_client_rfc6749_5_2() {
    let p = provider();
    let r = p
        .token(&token_request(
            &[("grant_type", API_KEY_GRANT), ("api_key", "stolen")],
            "partner",
            Some("partner-secret"),
        ))
        .await;
    assert_eq!(
        (r.status, r.json_value()["error"].clone()),
        (400, "invalid_grant".into())
    );
    let r = p
        .token(&token_request(
            &[
                ("grant_type", API_KEY_GRANT),
                ("api_key", "partner-key-1"),
                ("scope", "api:admin"),
            ],
            "partner",
            Some("partner-secret"),
        ))
        .await;
    assert_eq!(
        r.json_value()["error"],
        "invalid_scope",
        "scopes stay the client's"
    );
}

#[tokio::test]
async fn a_client_without_the_extension_grant_is_unauthorized_client_rfc6749_5_2() {
    let p = provider();
    let r = p
        .token(&token_request(
            &[("grant_type", API_KEY_GRANT), ("api_key", "partner-key-1")],
            "other",
            Some("other-secret"),
        ))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json_value()["error"], "unauthorized_client");
}

#[tokio::test]
async fn an_unknown_grant_type_is_unsupported_grant_type_and_auth_comes_first() {
    let p = provider();
    let r = p
        .token(&token_request(
            &[("grant_type", "urn:example:grant:nope")],
            "partner",
            Some("partner-secret"),
        ))
        .await;
    assert_eq!(r.json_value()["error"], "unsupported_grant_type");
    let r = p
        .token(&token_request(
            &[("grant_type", API_KEY_GRANT), ("api_key", "partner-key-1")],
            "partner",
            Some("wrong"),
        ))
        .await;
    assert_eq!(
        (r.status, r.json_value()["error"].clone()),
        (401, "invalid_client".into())
    );
}

#[tokio::test]
async fn discovery_advertises_the_extension_grant_rfc8414_2() {
    let p = provider();
    let d = p.discovery().json_value();
    let grants: Vec<&str> = d["grant_types_supported"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        grants,
        [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:idpkit:params:oauth:grant-type:guest",
            API_KEY_GRANT
        ]
    );
}

struct Named(&'static str);

#[async_trait]
impl Grant for Named {
    fn grant_type(&self) -> &str {
        self.0
    }
    async fn exchange(&self, _: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
        Err(OAuthError::invalid_grant("never called"))
    }
}

#[test]
fn the_builder_refuses_relative_or_taken_grant_types() {
    for bad in ["api-key", "refresh_token", "urn:a b"] {
        let e = builder(vec![other()]).extension_grant(Named(bad)).build();
        assert!(
            matches!(
                e,
                Err(ConfigError::Setting {
                    knob: "extension_grant",
                    ..
                })
            ),
            "{bad}"
        );
    }
    let e = builder(vec![other()])
        .extension_grant(Named(API_KEY_GRANT))
        .extension_grant(Named(API_KEY_GRANT))
        .build();
    assert!(e.is_err(), "two grants with one type");
}
