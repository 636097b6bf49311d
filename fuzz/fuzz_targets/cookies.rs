//! Cookie parsing: `parse_cookies` and the `Cookie` handling of `Request::from_http`.
//!
//! Invariants: no panic; names and values are trimmed and never contain `;`; the pairs are
//! exactly the `;`-separated parts with a `=`; a repeated idpkit cookie (plain or
//! `__Host-` name) is refused, and
//! otherwise `Request::cookie` answers the first value of a name.
#![no_main]

use idpkit_core::{FEDERATION_COOKIE, INTERACTION_COOKIE, Request, SESSION_COOKIE, parse_cookies};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let pairs: Vec<(String, String)> = parse_cookies(header).collect();
    assert_eq!(
        pairs.len(),
        header.split(';').filter(|p| p.contains('=')).count(),
        "a cookie pair was lost or invented"
    );
    for (k, v) in &pairs {
        assert!(!k.contains(';') && !v.contains(';'));
        assert_eq!(k.trim(), k);
        assert_eq!(v.trim().trim_matches('"'), v.trim().trim_matches('"'));
        assert!(!v.starts_with('"') && !v.ends_with('"'));
    }

    // Two Cookie headers: the halves of the input.
    let cut = header
        .char_indices()
        .nth(header.chars().count() / 2)
        .map_or(header.len(), |(i, _)| i);
    let (a, b) = header.split_at(cut);
    let all: Vec<(String, String)> = parse_cookies(a).chain(parse_cookies(b)).collect();
    let r = Request::from_http("GET", None, [("Cookie", a), ("cookie", b)], b"", 0);
    // idpkit's cookies under both spellings: the plain name (http issuer) and the
    // `__Host-` one (https issuer); either repeated is refused.
    let repeated = [SESSION_COOKIE, INTERACTION_COOKIE, FEDERATION_COOKIE]
        .iter()
        .flat_map(|own| [own.to_string(), format!("__Host-{own}")])
        .any(|own| all.iter().filter(|(n, _)| *n == own).count() > 1);
    match r {
        Ok(req) => {
            assert!(!repeated, "a repeated idpkit cookie was accepted");
            assert_eq!(req.cookies, all);
            for (k, _) in &all {
                let first = all.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
                assert_eq!(req.cookie(k), first);
            }
        }
        Err(e) => {
            assert!(repeated, "refused without a repeated idpkit cookie: {e:?}");
            assert_eq!(e.code.as_str(), "invalid_request");
        }
    }
});
