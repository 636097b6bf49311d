//! Opaque access tokens (per client): random references, validated by introspection and
//! revocable at once.

use idpkit_core::testkit::flows::token_request;
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::{
    AccessTokenFormat, Algorithm, Client, GrantType, LocalKeys, MemoryGrantStore, Provider,
    Request, StaticClients,
};

fn req(pairs: &[(&str, &str)]) -> Request {
    token_request(pairs, "svc", Some("svc-secret"))
}

#[tokio::test]
async fn opaque_access_tokens_introspect_and_revoke_at_once() {
    let client = Client::confidential("svc", "svc-secret")
        .grant_types([GrantType::ClientCredentials])
        .scopes(["api:write"])
        .access_token_format(AccessTokenFormat::Opaque)
        .build()
        .expect("client");
    let p = Provider::builder("https://idp.example")
        .grant_store(MemoryGrantStore::new())
        .keys(LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(StaticClients::new([client]).expect("clients"))
        .users(TestUsers::none())
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends()
        .build()
        .expect("provider");
    let r = p.token(&req(&[("grant_type", "client_credentials")])).await;
    assert_eq!(r.status, 200);
    let at = r.json_value()["access_token"]
        .as_str()
        .expect("at")
        .to_owned();
    assert!(!at.contains('.'), "an opaque token is not a JWT");
    assert_eq!(at.len(), 43, "256 random bits");
    let intro = p.introspect(&req(&[("token", &at)])).await.json_value();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["scope"], "api:write");
    assert_eq!(intro["sub"], "svc");
    assert_eq!(p.revoke(&req(&[("token", &at)])).await.status, 200);
    let intro = p.introspect(&req(&[("token", &at)])).await.json_value();
    assert_eq!(
        intro,
        serde_json::json!({"active": false}),
        "revoked at once"
    );
}
