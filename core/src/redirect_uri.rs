//! Redirect URI rules: exact comparison (RFC 9700 §4.1.3, OIDC Core §3.1.2.1) with the one
//! RFC 8252 §7.3 exception, and what counts as a loopback host (RFC 8252 §7.3, §8.3).

use std::net::Ipv6Addr;

/// Whether `host` (as `url::Url::host` parsed it) is the loopback interface: an IPv4 literal
/// in 127.0.0.0/8, the IPv6 literal `::1`, or the name `localhost`.
///
/// A *name* that merely starts with `127.` (`127.evil.example`) is a DNS name anybody can
/// point anywhere: it is not loopback.
pub fn is_loopback(host: Option<url::Host<&str>>) -> bool {
    match host {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether the host of the absolute URL `uri` is loopback (see [`is_loopback`]); `false` for
/// anything that does not parse.
pub fn is_loopback_url(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| is_loopback(u.host()))
}

/// Whether `uri` may be registered as a redirect URI: an absolute URL without a fragment
/// (RFC 6749 §3.1.2), `https` or a private scheme, `http` only to loopback (RFC 9700 §2.6,
/// RFC 8252 §7.3). The one rule for clients built in code, the `--clients` file and dynamic
/// registration (where a refusal is `invalid_redirect_uri`, RFC 7591 §3.2.2).
pub fn check_registrable(uri: &str) -> Result<(), String> {
    let parsed =
        url::Url::parse(uri).map_err(|e| format!("redirect URI {uri:?} is not a URL: {e}"))?;
    if parsed.fragment().is_some() || uri.contains('#') {
        return Err(format!(
            "redirect URI {uri:?} has a fragment (RFC 6749 §3.1.2)"
        ));
    }
    if parsed.scheme() == "http" && !is_loopback(parsed.host()) {
        return Err(format!(
            "redirect URI {uri:?} uses http off loopback; use https (RFC 9700 §2.6)"
        ));
    }
    Ok(())
}

/// Whether `presented` is one of `registered`: raw string equality, no case folding or
/// normalisation. The single exception (RFC 8252 §7.3): for a `native` client, an `http`
/// redirect to a loopback IP literal (`127.0.0.1` or `[::1]`, never the name `localhost`,
/// §8.3) may carry any port; everything else must still be identical.
pub fn matches(registered: &[String], presented: &str, native: bool) -> bool {
    if registered.iter().any(|r| r == presented) {
        return true;
    }
    if !native {
        return false;
    }
    let Some(presented) = loopback_ip_without_port(presented) else {
        return false;
    };
    registered
        .iter()
        .filter_map(|r| loopback_ip_without_port(r))
        .any(|r| r == presented)
}

/// `http://127.0.0.1:PORT/path` or `http://[::1]:PORT/path` with the port removed; `None`
/// for anything else (other schemes, names, other 127.x addresses, userinfo).
fn loopback_ip_without_port(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let (host, after) = if let Some(r) = rest.strip_prefix("[::1]") {
        ("[::1]", r)
    } else if let Some(r) = rest.strip_prefix("127.0.0.1") {
        ("127.0.0.1", r)
    } else {
        return None;
    };
    let after = match after.strip_prefix(':') {
        Some(p) => {
            let digits = p.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || p[..digits].parse::<u16>().is_err() {
                return None;
            }
            &p[digits..]
        }
        None => after,
    };
    if !(after.is_empty() || after.starts_with('/') || after.starts_with('?')) {
        return None;
    }
    Some(format!("http://{host}{after}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(uris: &[&str]) -> Vec<String> {
        uris.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn loopback_is_an_ip_literal_or_localhost_rfc8252_7_3() {
        for yes in [
            "http://127.0.0.1/cb",
            "http://127.0.0.1:8080/cb",
            "http://127.1.2.3/cb",
            "http://[::1]:9/cb",
            "http://localhost:3000/cb",
            "http://LOCALHOST/cb",
        ] {
            assert!(is_loopback_url(yes), "{yes}");
        }
    }

    #[test]
    fn a_name_starting_with_127_is_not_loopback() {
        for no in [
            "http://127.evil.example/cb",
            "http://127.0.0.1.evil.example/cb",
            "http://localhost.evil.example/cb",
            "http://evil.example/127.0.0.1",
            "http://[::2]/cb",
            "http://10.0.0.1/cb",
            "not a url",
        ] {
            assert!(!is_loopback_url(no), "{no}");
        }
    }

    #[test]
    fn redirect_uris_compare_as_raw_strings_rfc9700_4_1_3() {
        let r = reg(&["https://app.example/cb"]);
        assert!(matches(&r, "https://app.example/cb", false));
        for bad in [
            "https://app.example/cb/",
            "https://APP.example/cb",
            "https://app.example/cb?x=1",
            "https://app.example/c%62",
            "https://app.example:443/cb",
        ] {
            assert!(!matches(&r, bad, false), "{bad}");
            assert!(
                !matches(&r, bad, true),
                "native changes nothing off loopback: {bad}"
            );
        }
    }

    #[test]
    fn native_loopback_ip_redirects_may_use_any_port_rfc8252_7_3() {
        let r = reg(&["http://127.0.0.1/cb", "http://[::1]:80/cb"]);
        assert!(matches(&r, "http://127.0.0.1:51234/cb", true));
        assert!(matches(&r, "http://[::1]:51234/cb", true));
        assert!(
            !matches(&r, "http://127.0.0.1:51234/cb", false),
            "web clients: exact"
        );
        assert!(!matches(&r, "http://127.0.0.1:51234/other", true));
        assert!(
            !matches(&r, "http://127.0.0.1:99999/cb", true),
            "not a port"
        );
        assert!(!matches(&r, "http://127.0.0.1:/cb", true));
        assert!(!matches(&r, "http://127.0.0.1.evil.example:80/cb", true));
        assert!(!matches(&r, "http://127.0.0.1:80@evil.example/cb", true));
    }

    #[test]
    fn localhost_gets_no_port_exception_rfc8252_8_3() {
        let r = reg(&["http://localhost/cb", "http://127.0.0.1/cb"]);
        assert!(!matches(&r, "http://localhost:51234/cb", true));
        assert!(
            matches(&r, "http://localhost/cb", true),
            "exact still matches"
        );
    }
}
