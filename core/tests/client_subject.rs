//! Identifiers that cannot be confused (RFC 9068 §5, RFC 9700 §4.15): a token for a client
//! itself has `sub` = its `client_id`, so a client whose id is also a user's subject gets no
//! such token while that user exists; a resource server never sees one `sub` for both.

mod support;

use std::sync::Arc;

use idpkit_core::testkit::users::TestUsers;
use idpkit_core::{Client, GrantType, StaticClients};
use support::*;

#[tokio::test]
async fn a_client_whose_id_is_a_user_subject_gets_no_client_token_rfc9068_5() {
    let users = Arc::new(TestUsers::demo());
    let mut list = clients();
    list.push(
        Client::confidential("alice", "alice-secret")
            .grant_types([GrantType::ClientCredentials])
            .scopes(["api:read"])
            .build()
            .expect("client"),
    );
    let shared = users.clone();
    let env = env_with(move |b| {
        b.users_arc(shared)
            .clients(StaticClients::new(list).expect("clients"))
    });
    let cc = [("grant_type", "client_credentials")];
    let req = idpkit_core::testkit::flows::token_request(&cc, "alice", Some("alice-secret"));
    let r = env.provider.token(&req).await;
    let b = r.json_value();
    assert_eq!((r.status, error(&b)), (400, "unauthorized_client"), "{b}");
    assert!(b.get("access_token").is_none());
    // alice's own tokens still carry `sub: alice`, and only hers do.
    let t = env.tokens(DEMO_CLIENT, "openid api:read").await;
    assert_eq!(
        jwt_claims(t["access_token"].as_str().expect("at"))["sub"],
        "alice"
    );
    // Once no user has that subject, the client gets its token, `sub` = its id.
    users.remove("alice");
    let r = env.provider.token(&req).await;
    let b = r.json_value();
    assert_eq!(r.status, 200, "{b}");
    assert_eq!(
        jwt_claims(b["access_token"].as_str().expect("at"))["sub"],
        "alice"
    );
    // Other clients are unaffected.
    let (s, b) = env.token(DEMO_CLIENT, &cc).await;
    assert_eq!(s, 200, "{b}");
}
