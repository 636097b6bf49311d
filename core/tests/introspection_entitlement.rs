//! Introspection only for those entitled (RFC 7662 §2.2, §4): a token's own client, or a
//! client registered as a resource server of the token's audience, learns that it is
//! active and reads its claims; any other authenticated client gets `{"active": false}`.

mod support;

use idpkit_core::testkit::flows::token_request;
use idpkit_core::{Client, GrantType, StaticClients};
use serde_json::{Value, json};
use support::*;

fn env_with_resource_servers() -> Env {
    let mut list = clients();
    list.push(
        Client::confidential("demo-api", "api-secret")
            .grant_types([])
            .resource_server_for(["demo-api"])
            .build()
            .expect("resource server"),
    );
    list.push(
        Client::confidential("nosy", "nosy-secret")
            .grant_types([GrantType::ClientCredentials])
            .scopes(["api:read"])
            .resource_server_for(["billing-api"])
            .build()
            .expect("another confidential client"),
    );
    env_with(|b| b.clients(StaticClients::new(list).expect("clients")))
}

async fn introspect_as(env: &Env, client_id: &str, secret: &str, token: &str) -> Value {
    let r = env
        .provider
        .introspect(&token_request(&[("token", token)], client_id, Some(secret)))
        .await;
    assert_eq!(r.status, 200);
    r.json_value()
}

#[tokio::test]
async fn only_the_tokens_client_and_its_audiences_resource_servers_see_it_rfc7662_2_2() {
    let env = env_with_resource_servers();
    // demo-client's tokens carry `aud: ["demo-api"]`.
    let t = env
        .tokens(DEMO_CLIENT, "openid offline_access api:read")
        .await;
    let at = t["access_token"].as_str().expect("access_token");
    let rt = t["refresh_token"].as_str().expect("refresh_token");

    let own = introspect_as(&env, DEMO_CLIENT, DEMO_SECRET, at).await;
    assert_eq!(own["active"], true);
    assert_eq!(own["sub"], "alice");

    let rs = introspect_as(&env, "demo-api", "api-secret", at).await;
    assert_eq!(rs["active"], true, "{rs}");
    assert_eq!(rs["client_id"], DEMO_CLIENT);
    assert_eq!(rs["aud"], json!(["demo-api"]));

    // RFC 7662 §4: nothing for a client that serves another audience, exactly as for an
    // unknown token; and a resource server never sees a refresh token.
    let inactive = json!({"active": false});
    assert_eq!(
        introspect_as(&env, "nosy", "nosy-secret", at).await,
        inactive
    );
    assert_eq!(
        introspect_as(&env, "nosy", "nosy-secret", rt).await,
        inactive
    );
    assert_eq!(
        introspect_as(&env, "demo-api", "api-secret", rt).await,
        inactive
    );
    assert_eq!(
        introspect_as(&env, DEMO_CLIENT, DEMO_SECRET, rt).await["active"],
        true
    );
}

#[tokio::test]
async fn a_client_credentials_token_is_hidden_from_other_clients_rfc7662_4() {
    let env = env_with_resource_servers();
    let (s, t) = env
        .token(
            DEMO_CLIENT,
            &[("grant_type", "client_credentials"), ("scope", "api:read")],
        )
        .await;
    assert_eq!(s, 200, "{t}");
    let at = t["access_token"].as_str().expect("access_token");
    assert_eq!(
        introspect_as(&env, "nosy", "nosy-secret", at).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect_as(&env, "demo-api", "api-secret", at).await["active"],
        true
    );
}

#[test]
fn a_resource_server_must_be_confidential() {
    let e = Client::public("spa")
        .redirect_uri("https://spa.example/cb")
        .resource_server_for(["demo-api"])
        .build()
        .expect_err("public");
    assert!(e.to_string().contains("resource_server_for"), "{e}");
}
