//! Redirect-URI matching (RFC 9700 §4.1.3, RFC 8252 §7.3): `redirect_uri::matches` and the
//! loopback helpers.
//!
//! Input: registered URIs and the presented one, separated by newlines (the last line is
//! presented). Invariants: no panic; a registered URI always matches; for a web client
//! only an identical string matches; for a native client anything else that matches is an
//! `http` loopback IP literal (never `localhost`) that differs from a registered URI only in
//! its port.
#![no_main]

use idpkit_core::redirect_uri::{is_loopback_url, matches};
use libfuzzer_sys::fuzz_target;

/// `uri` with its port removed, when it is `http://127.0.0.1:P...` or `http://[::1]:P...`.
fn strip_loopback_port(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let host = ["127.0.0.1", "[::1]"]
        .into_iter()
        .find(|h| rest.starts_with(h))?;
    let after = &rest[host.len()..];
    let after = match after.strip_prefix(':') {
        Some(p) => {
            let n = p.bytes().take_while(u8::is_ascii_digit).count();
            &p[n..]
        }
        None => after,
    };
    Some(format!("http://{host}{after}"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let presented = lines.pop().unwrap_or_default();
    let registered = lines;

    for r in &registered {
        assert!(
            matches(&registered, r, false),
            "registered {r:?} must match"
        );
        assert!(
            matches(&registered, r, true),
            "registered {r:?} must match (native)"
        );
    }
    let exact = registered.iter().any(|r| *r == presented);
    assert_eq!(
        matches(&registered, &presented, false),
        exact,
        "web: exact only"
    );
    if matches(&registered, &presented, true) && !exact {
        let p = strip_loopback_port(&presented).expect("only a loopback IP may differ");
        assert!(
            registered
                .iter()
                .filter_map(|r| strip_loopback_port(r))
                .any(|r| r == p),
            "{presented:?} matched no registered URI up to the port"
        );
        let u = url::Url::parse(&presented).expect("a matching loopback URI parses");
        assert_eq!(u.scheme(), "http");
        assert!(is_loopback_url(&presented));
        assert!(u.username().is_empty() && u.password().is_none());
        assert!(matches!(
            u.host(),
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_))
        ));
    }
    let _ = is_loopback_url(&presented);
});
