//! Unit tests (in their own file to keep the module short).

use super::*;

#[test]
fn redirect_uris_compare_exactly() {
    let c = Client::confidential("c", "s")
        .redirect_uri("https://app.example/cb")
        .build()
        .expect("valid");
    assert!(c.redirect_uri_matches("https://app.example/cb"));
    for bad in [
        "https://app.example/cb/",
        "https://APP.example/cb",
        "https://app.example/cb?x=1",
        "https://app.example/c%62",
    ] {
        assert!(!c.redirect_uri_matches(bad), "{bad}");
    }
}

#[test]
fn native_loopback_redirects_may_use_any_port_and_nothing_else() {
    let c = Client::public("n")
        .redirect_uri("http://127.0.0.1/cb")
        .native(true)
        .build()
        .expect("valid");
    assert!(c.redirect_uri_matches("http://127.0.0.1:51234/cb"));
    assert!(!c.redirect_uri_matches("http://127.0.0.1:51234/other"));
    assert!(!c.redirect_uri_matches("http://localhost:51234/cb"));
    assert!(!c.redirect_uri_matches("http://127.0.0.1.evil.example:80/cb"));
}

#[test]
fn unsafe_registrations_are_refused_with_the_reason() {
    let e = Client::public("p")
        .redirect_uri("https://a.example/cb#x")
        .build();
    assert!(
        matches!(e, Err(ConfigError::Client { ref reason, .. }) if reason.contains("fragment"))
    );
    let e = Client::public("p")
        .redirect_uri("https://a.example/cb")
        .require_pkce(false)
        .build();
    assert!(matches!(e, Err(ConfigError::Client { ref reason, .. }) if reason.contains("PKCE")));
    let e = Client::confidential("c", "s")
        .redirect_uri("http://a.example/cb")
        .build();
    assert!(
        matches!(e, Err(ConfigError::Client { ref reason, .. }) if reason.contains("http off loopback"))
    );
    let e = Client::public("p")
        .redirect_uri("https://a.example/cb")
        .grant_types([GrantType::ClientCredentials])
        .build();
    assert!(e.is_err());
}

#[test]
fn http_redirect_only_to_a_real_loopback_host_rfc8252_7_3() {
    for ok in [
        "http://127.0.0.1:9999/cb",
        "http://[::1]/cb",
        "http://localhost/cb",
    ] {
        assert!(
            Client::confidential("c", "s")
                .redirect_uri(ok)
                .build()
                .is_ok(),
            "{ok}"
        );
    }
    for bad in [
        "http://127.evil.example/cb",
        "http://127.0.0.1.evil.example/cb",
    ] {
        let e = Client::confidential("c", "s").redirect_uri(bad).build();
        assert!(
            matches!(e, Err(ConfigError::Client { ref reason, .. }) if reason.contains("http off loopback")),
            "{bad} must be refused"
        );
    }
}

#[test]
fn extension_grants_are_absolute_uris_and_survive_registration_rfc6749_4_5() {
    let c = Client::confidential("c", "s")
        .grant_types([GrantType::ClientCredentials])
        .extension_grant("urn:example:grant:assertion")
        .build()
        .expect("valid");
    assert!(c.allows_grant_type("urn:example:grant:assertion"));
    assert!(c.allows_grant_type("client_credentials"));
    assert!(!c.allows_grant_type("refresh_token"));
    assert!(!c.allows_grant_type("urn:example:other"));
    let back = c.to_registration().into_client().expect("round trip");
    assert_eq!(back.extension_grants, vec!["urn:example:grant:assertion"]);
    for bad in ["assertion", "password", "urn:a b"] {
        let e = Client::confidential("c", "s")
            .grant_types([GrantType::ClientCredentials])
            .extension_grant(bad)
            .build();
        assert!(e.is_err(), "{bad}");
    }
}

#[test]
fn secrets_verify_only_the_right_value() {
    let h = SecretHash::of("s3cret");
    assert!(h.verify("s3cret"));
    assert!(!h.verify("s3creT"));
    assert_eq!(format!("{h:?}"), "SecretHash(..)");
}

#[test]
fn the_absolute_refresh_lifetime_survives_registration_and_is_validated() {
    let c = Client::confidential("web", "s")
        .redirect_uri("https://app.example/cb")
        .refresh_token_absolute_ttl(time::Duration::days(7))
        .build()
        .expect("valid");
    let reg = c.to_registration();
    assert_eq!(reg.refresh_token_absolute_ttl, Some(7 * 24 * 3600));
    let back = reg.into_client().expect("valid");
    assert_eq!(
        back.refresh_token_absolute_ttl,
        Some(time::Duration::days(7))
    );
    let bad = Client::confidential("web", "s")
        .redirect_uri("https://app.example/cb")
        .refresh_token_absolute_ttl(time::Duration::ZERO)
        .build()
        .expect_err("zero");
    assert!(
        bad.to_string().contains("refresh_token_absolute_ttl"),
        "{bad}"
    );
}

#[test]
fn logout_metadata_survives_registration_under_the_oidc_names() {
    let c = Client::confidential("rp", "s")
        .redirect_uri("https://rp.example/cb")
        .post_logout_redirect_uri("https://rp.example/bye")
        .backchannel_logout_uri("https://rp.example/bc", true)
        .frontchannel_logout_uri("https://rp.example/fc", false)
        .build()
        .expect("client");
    let json: serde_json::Value = serde_json::to_value(c.to_registration()).expect("json");
    assert_eq!(
        json["post_logout_redirect_uris"][0],
        "https://rp.example/bye"
    );
    assert_eq!(json["backchannel_logout_uri"], "https://rp.example/bc");
    assert_eq!(json["backchannel_logout_session_required"], true);
    assert_eq!(json["frontchannel_logout_uri"], "https://rp.example/fc");
    assert_eq!(json["frontchannel_logout_session_required"], false);
    let back = c.to_registration().into_client().expect("round trip");
    assert_eq!(back.post_logout_redirect_uris(), ["https://rp.example/bye"]);
    assert_eq!(back.backchannel_logout_uri(), Some("https://rp.example/bc"));
    assert!(back.backchannel_logout_session_required());
    assert_eq!(
        back.frontchannel_logout_uri(),
        Some("https://rp.example/fc")
    );
    let bad = Client::public("p")
        .redirect_uri("https://rp.example/cb")
        .backchannel_logout_uri("https://rp.example/bc#x", true)
        .build();
    assert!(
        bad.is_err(),
        "a fragment is refused (Back-Channel Logout §2.2)"
    );
}

#[test]
fn the_guest_grant_is_a_urn_for_public_clients_and_its_settings_survive_registration() {
    assert_eq!(
        GrantType::Guest.as_str(),
        "urn:idpkit:params:oauth:grant-type:guest"
    );
    assert_eq!(
        GrantType::from_name(GrantType::Guest.as_str()),
        Some(GrantType::Guest)
    );
    let c = Client::public("shop")
        .grant_types([GrantType::Guest])
        .guest_token_ttl(time::Duration::days(7))
        .guest_token_format(AccessTokenFormat::Jwt)
        .build()
        .expect("a public client may use the guest grant");
    assert!(c.allows_grant_type("urn:idpkit:params:oauth:grant-type:guest"));
    let default = Client::public("kiosk")
        .grant_types([GrantType::Guest])
        .build()
        .expect("valid");
    assert_eq!(
        default.guest_token_format(),
        AccessTokenFormat::Opaque,
        "opaque by default"
    );
    let reg = c.to_registration();
    assert_eq!(
        reg.grant_types,
        ["urn:idpkit:params:oauth:grant-type:guest"]
    );
    assert_eq!(
        (reg.guest_token_ttl, reg.jwt_guest_tokens),
        (Some(604_800), true)
    );
    let back = reg.into_client().expect("round trip");
    assert_eq!(back.guest_token_ttl(), Some(time::Duration::days(7)));
    assert_eq!(back.guest_token_format(), AccessTokenFormat::Jwt);
    assert!(back.allows_grant(GrantType::Guest));
    let bad = Client::public("shop")
        .grant_types([GrantType::Guest])
        .guest_token_ttl(time::Duration::ZERO)
        .build()
        .expect_err("zero");
    assert!(bad.to_string().contains("guest_token_ttl"), "{bad}");
}

#[test]
fn par_and_authorization_details_types_survive_registration_rfc9126_6_rfc9396_10() {
    let c = Client::confidential("web", "s")
        .redirect_uri("https://app.example/cb")
        .require_pushed_authorization_requests(true)
        .authorization_details_types(["payment_initiation"])
        .build()
        .expect("valid");
    let json: serde_json::Value = serde_json::to_value(c.to_registration()).expect("json");
    assert_eq!(json["require_pushed_authorization_requests"], true);
    assert_eq!(
        json["authorization_details_types"],
        serde_json::json!(["payment_initiation"])
    );
    let back = c.to_registration().into_client().expect("round trip");
    assert!(back.requires_pushed_authorization_requests());
    assert_eq!(back.authorization_details_types(), ["payment_initiation"]);
    let bad = Client::confidential("web", "s")
        .redirect_uri("https://app.example/cb")
        .authorization_details_types([""])
        .build();
    assert!(bad.is_err(), "an empty type is refused");
}
