//! Who may see what at the introspection endpoint (RFC 7662 §2.2, §4).
//!
//! "The authorization server MUST determine whether or not the token can be used at the
//! protected resource making the introspection request" (§2.2), and a token's details must
//! not be handed to any client that asks (§4: "token scanning"). A caller learns about an
//! access token only when the token is its own or when it is registered as a resource
//! server of the token's audience ([`crate::ClientBuilder::resource_server_for`]); a
//! refresh token only when it is its own. Everyone else gets `{"active": false}`, the same
//! answer as for an unknown token, so that nobody learns a token exists.

use crate::client::Client;

/// Whether `caller` may learn that an access token of client `token_client_id` for
/// audiences `aud` is active, and read its claims.
pub(crate) fn may_see_access_token(caller: &Client, token_client_id: &str, aud: &[String]) -> bool {
    caller.id == token_client_id
        || caller
            .resource_server_for
            .iter()
            .any(|served| aud.contains(served))
}

/// Whether `caller` may learn that a refresh token of client `token_client_id` is active:
/// only its own client uses it (RFC 6749 §6), no resource server ever sees it.
pub(crate) fn may_see_refresh_token(caller: &Client, token_client_id: &str) -> bool {
    caller.id == token_client_id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str, serves: &[&str]) -> Client {
        Client::confidential(id, "s")
            .grant_types([])
            .resource_server_for(serves.iter().copied())
            .build()
            .expect("valid")
    }

    fn aud(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_tokens_own_client_may_introspect_it_rfc7662_2_2() {
        assert!(may_see_access_token(
            &client("web", &[]),
            "web",
            &aud(&["api"])
        ));
        assert!(may_see_refresh_token(&client("web", &[]), "web"));
    }

    #[test]
    fn a_resource_server_of_the_audience_may_introspect_it_rfc7662_2_2() {
        let rs = client("orders", &["orders-api"]);
        assert!(may_see_access_token(
            &rs,
            "web",
            &aud(&["orders-api", "other"])
        ));
        assert!(
            !may_see_refresh_token(&rs, "web"),
            "never another's refresh token"
        );
    }

    #[test]
    fn any_other_client_learns_nothing_rfc7662_4() {
        let other = client("other", &["billing-api"]);
        assert!(!may_see_access_token(&other, "web", &aud(&["orders-api"])));
        assert!(!may_see_access_token(&client("x", &[]), "web", &aud(&[])));
        // A client id that equals an audience value confers nothing by itself.
        assert!(!may_see_access_token(
            &client("orders-api", &[]),
            "web",
            &aud(&["orders-api"])
        ));
    }
}
