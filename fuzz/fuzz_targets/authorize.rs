//! The authorization-request parser: `Provider::authorize` on an in-memory provider (fixed
//! keys, clock, clients), fed fuzzed query strings (GET) or form bodies (POST).
//!
//! Input: the first byte picks GET (even) or POST (odd); the rest is the query / body.
//! Invariants: no panic; the browser is only ever sent (303 `Location`, or a `form_post`
//! form) to a redirect URI registered for the request's `client_id` (RFC 6749 §4.1.2.1,
//! RFC 9700 §4.1.3), and then with the request's `state` unchanged (RFC 6749 §4.1.2).
#![no_main]

use futures::executor::block_on;
use idpkit_core::{Authorization, Body, Params, Request};
use idpkit_fuzz::{clients, provider};
use libfuzzer_sys::fuzz_target;

fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The value of attribute `attr="..."` after `from` in `html`.
fn attr<'h>(html: &'h str, attr: &str) -> Option<&'h str> {
    let start = html.find(&format!("{attr}=\""))? + attr.len() + 2;
    let len = html[start..].find('"')?;
    Some(&html[start..start + len])
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let req = if mode % 2 == 0 {
        Request::from_http("GET", Some(&text), [], b"", 64 * 1024)
    } else {
        Request::from_http(
            "POST",
            None,
            [("Content-Type", "application/x-www-form-urlencoded")],
            rest,
            64 * 1024,
        )
    };
    let Ok(req) = req else {
        return;
    };
    let provider = provider();
    let outcome = block_on(provider.authorize(&req));
    let Authorization::Respond(resp) = outcome else {
        return;
    };

    // Where the browser is sent, if anywhere outside the provider.
    let (target, returned) = if let Some(loc) = resp.header_value("Location") {
        let base = loc.split(['?', '#']).next().unwrap_or_default();
        let tail = &loc[base.len()..];
        let returned = Params::parse(tail.get(1..).unwrap_or_default().as_bytes());
        (base.to_owned(), returned)
    } else if resp
        .header_value("Content-Security-Policy")
        .is_some_and(|c| c.contains("form-action") && !c.contains("form-action 'none'"))
    {
        let Body::Html(html) = &resp.body else {
            panic!("form_post without HTML");
        };
        let action = html_unescape(attr(html, "action").expect("form_post has an action"));
        let mut pairs = Vec::new();
        let mut rest = html.as_str();
        while let Some(i) = rest.find("<input type=\"hidden\" ") {
            rest = &rest[i..];
            let name = html_unescape(attr(rest, "name").expect("name"));
            let value = html_unescape(attr(rest, "value").expect("value"));
            pairs.push((name, value));
            rest = &rest[1..];
        }
        (action, Params::from_pairs(pairs))
    } else {
        return;
    };

    let client_id = req.params.get("client_id").ok().flatten();
    let client = clients()
        .into_iter()
        .find(|c| Some(c.id()) == client_id)
        .unwrap_or_else(|| panic!("redirected to {target:?} for unknown client {client_id:?}"));
    assert!(
        client.redirect_uri_matches(&target),
        "redirected to {target:?}, not registered for {client_id:?}"
    );
    if let Ok(Some(asked)) = req.params.get("redirect_uri") {
        assert_eq!(
            asked, target,
            "redirected elsewhere than the redirect_uri asked"
        );
    }
    if let Ok(Some(state)) = req.params.get("state") {
        assert_eq!(
            returned.get("state").ok().flatten(),
            Some(state),
            "state not returned unchanged"
        );
    }
});
