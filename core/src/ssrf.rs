//! Server-side request forgery (SSRF) defences for the fetches the provider makes on a
//! client's behalf: client ID metadata documents, and the `jwks_uri` and
//! `sector_identifier_uri` of clients that registered themselves (dynamic registration,
//! metadata documents). draft-ietf-oauth-client-id-metadata-document-02 §8.6: "MUST NOT
//! fetch a Client ID Metadata Document URL or any URLs contained within a Client ID
//! Metadata Document that resolve to special-use IP addresses as defined in RFC 6890".
//!
//! - [`classify`] sorts an IP address into public or one of the special-use kinds
//!   (RFC 6890 and its successors); [`permitted`] says whether it may be fetched from.
//! - [`check_url`] refuses a URL before any connection: https only, no userinfo, and a
//!   host that is not a special-use IP literal nor `localhost` (RFC 6761 §6.3).
//! - Names are resolved by the host's [`HttpClient`]: core opens no socket. The facade's
//!   `ReqwestClient::public_only` checks every resolved address with [`permitted`], so a
//!   public-looking name that resolves to `10.0.0.1` is refused as well.
//! - The one relaxation is `dangerous_allow_loopback_fetch`
//!   ([`ProviderBuilder::dangerous_allow_loopback_fetch`](crate::ProviderBuilder::dangerous_allow_loopback_fetch)):
//!   loopback addresses (and `localhost`) only, for tests whose servers listen on
//!   127.0.0.1 (§8.6 allows it for development only, never in production).
//!
//! Redirects are never followed (the guarded fetcher turns a 3xx into an error, draft §5: "MUST
//! NOT automatically follow HTTP redirects").

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use async_trait::async_trait;

use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse};

/// What kind of address an IP address is (RFC 6890 special-purpose registries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressKind {
    /// A global unicast address: may be fetched from.
    Public,
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 private networks (`10/8`, `172.16/12`, `192.168/16`).
    Private,
    /// Shared address space of carrier-grade NAT (`100.64.0.0/10`, RFC 6598).
    SharedCgnat,
    /// `169.254.0.0/16`, `fe80::/10` (cloud metadata services live here).
    LinkLocal,
    /// IPv6 unique-local `fc00::/7` (and the deprecated site-local `fec0::/10`).
    UniqueLocal,
    /// `224.0.0.0/4`, `ff00::/8`, and the broadcast address.
    Multicast,
    /// Documentation, benchmarking, protocol-assignment and reserved ranges
    /// (`192.0.0/24`, `192.0.2/24`, `198.18/15`, `198.51.100/24`, `203.0.113/24`,
    /// `240/4`, `2001::/23`, `2001:db8::/32`, `3fff::/20`, `100::/64`, `64:ff9b:1::/48`,
    /// `::/96`...).
    Reserved,
}

/// The kind of `ip`. IPv4-mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4
/// (`2002::/16`) addresses are the kind of the IPv4 address they embed.
pub fn classify(ip: IpAddr) -> AddressKind {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressKind {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => AddressKind::Unspecified,
        (127, _, _) => AddressKind::Loopback,
        (10, _, _) | (192, 168, _) => AddressKind::Private,
        (172, b, _) if (16..=31).contains(&b) => AddressKind::Private,
        (100, b, _) if (64..=127).contains(&b) => AddressKind::SharedCgnat,
        (169, 254, _) => AddressKind::LinkLocal,
        (224..=239, _, _) => AddressKind::Multicast,
        _ if ip.is_broadcast() => AddressKind::Multicast,
        (192, 0, 0) | (192, 0, 2) | (192, 88, 99) | (198, 51, 100) | (203, 0, 113) => {
            AddressKind::Reserved
        }
        (198, 18 | 19, _) => AddressKind::Reserved,
        (240..=255, _, _) => AddressKind::Reserved,
        _ => AddressKind::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressKind {
    let s = ip.segments();
    if ip.is_unspecified() {
        return AddressKind::Unspecified;
    }
    if ip.is_loopback() {
        return AddressKind::Loopback;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // NAT64 well-known prefix (RFC 6052): the embedded IPv4 address decides.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => classify_v4(embedded(hi, lo)),
        // 6to4 (RFC 3056): 2002:AABB:CCDD::/48 embeds AA.BB.CC.DD.
        [0x2002, hi, lo, ..] => classify_v4(embedded(hi, lo)),
        // IPv4-compatible (deprecated), ::/96.
        [0, 0, 0, 0, 0, 0, _, _] => AddressKind::Reserved,
        [0x64, 0xff9b, 1, ..] => AddressKind::Reserved,
        [0x100, 0, 0, 0, ..] => AddressKind::Reserved,
        [0x2001, 0x0db8, ..] => AddressKind::Reserved,
        [0x2001, b, ..] if b < 0x200 => AddressKind::Reserved,
        [a, ..] if a & 0xfff0 == 0x3ff0 => AddressKind::Reserved,
        [a, ..] if a & 0xfe00 == 0xfc00 => AddressKind::UniqueLocal,
        [a, ..] if a & 0xffc0 == 0xfec0 => AddressKind::UniqueLocal,
        [a, ..] if a & 0xffc0 == 0xfe80 => AddressKind::LinkLocal,
        [a, ..] if a & 0xff00 == 0xff00 => AddressKind::Multicast,
        // Only 2000::/3 is allocated global unicast.
        [a, ..] if a & 0xe000 == 0x2000 => AddressKind::Public,
        _ => AddressKind::Reserved,
    }
}

/// Whether the provider may connect to `ip` on a client's behalf: public addresses only,
/// plus loopback when `allow_loopback` (the `dangerous_allow_loopback_fetch` knob).
pub fn permitted(ip: IpAddr, allow_loopback: bool) -> Result<(), AddressKind> {
    match classify(ip) {
        AddressKind::Public => Ok(()),
        AddressKind::Loopback if allow_loopback => Ok(()),
        kind => Err(kind),
    }
}

/// Why a URL is not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchRefusal {
    /// Not an absolute URL.
    #[error("{url:?} is not a URL")]
    NotAUrl {
        /// The URL.
        url: String,
    },
    /// Not https.
    #[error("{url:?} is not https")]
    NotHttps {
        /// The URL.
        url: String,
    },
    /// A user name or password in the URL.
    #[error("{url:?} carries credentials")]
    Credentials {
        /// The URL.
        url: String,
    },
    /// A host the provider does not fetch from.
    #[error("{url:?}: {host} is a {kind:?} address, not fetched (SSRF defence)")]
    SpecialUseAddress {
        /// The URL.
        url: String,
        /// The host (literal or resolved).
        host: String,
        /// Its kind.
        kind: AddressKind,
    },
}

/// Checks a URL before it is fetched on a client's behalf: https, no userinfo, and not a
/// special-use IP literal nor `localhost` (RFC 6761 §6.3) unless `allow_loopback`.
/// Names are resolved and checked by the [`HttpClient`] (see the module docs).
pub fn check_url(url: &str, allow_loopback: bool) -> Result<url::Url, FetchRefusal> {
    let parsed = url::Url::parse(url).map_err(|_| FetchRefusal::NotAUrl { url: url.into() })?;
    if parsed.scheme() != "https" {
        return Err(FetchRefusal::NotHttps { url: url.into() });
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(FetchRefusal::Credentials { url: url.into() });
    }
    let special = |host: String, kind| FetchRefusal::SpecialUseAddress {
        url: url.into(),
        host,
        kind,
    };
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) => {
            permitted(IpAddr::V4(ip), allow_loopback).map_err(|k| special(ip.to_string(), k))?
        }
        Some(url::Host::Ipv6(ip)) => {
            permitted(IpAddr::V6(ip), allow_loopback).map_err(|k| special(ip.to_string(), k))?
        }
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if (name == "localhost" || name.ends_with(".localhost")) && !allow_loopback {
                return Err(special(name, AddressKind::Loopback));
            }
        }
        None => return Err(FetchRefusal::NotAUrl { url: url.into() }),
    }
    Ok(parsed)
}

/// An [`HttpClient`] for requests on a client's behalf: every URL passes [`check_url`]
/// first, only `method` is sent (`GET` for fetches, `POST` for back-channel logout
/// notifications), and a redirect (3xx) is an error, never followed.
pub(crate) struct Guarded {
    pub(crate) inner: Arc<dyn HttpClient>,
    pub(crate) allow_loopback: bool,
    pub(crate) method: &'static str,
}

#[async_trait]
impl HttpClient for Guarded {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let refuse = |reason: String| HttpError {
            url: request.url.clone(),
            reason,
        };
        if request.method != self.method {
            return Err(refuse(format!(
                "only {} is sent through this client on a client's behalf",
                self.method
            )));
        }
        check_url(&request.url, self.allow_loopback).map_err(|e| refuse(e.to_string()))?;
        let url = request.url.clone();
        let resp = self.inner.send(request).await?;
        if (300..400).contains(&resp.status) {
            return Err(HttpError {
                url,
                reason: format!(
                    "answered a redirect ({}); redirects are not followed",
                    resp.status
                ),
            });
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> AddressKind {
        classify(s.parse().expect("ip"))
    }

    #[test]
    fn special_use_ipv4_ranges_are_not_public_rfc6890() {
        for (ip, k) in [
            ("0.0.0.0", AddressKind::Unspecified),
            ("127.0.0.1", AddressKind::Loopback),
            ("127.255.1.2", AddressKind::Loopback),
            ("10.1.2.3", AddressKind::Private),
            ("172.16.0.1", AddressKind::Private),
            ("172.31.255.255", AddressKind::Private),
            ("192.168.1.1", AddressKind::Private),
            ("100.64.0.1", AddressKind::SharedCgnat),
            ("100.127.255.255", AddressKind::SharedCgnat),
            ("169.254.169.254", AddressKind::LinkLocal),
            ("224.0.0.1", AddressKind::Multicast),
            ("255.255.255.255", AddressKind::Multicast),
            ("192.0.2.1", AddressKind::Reserved),
            ("198.18.0.1", AddressKind::Reserved),
            ("203.0.113.9", AddressKind::Reserved),
            ("240.0.0.1", AddressKind::Reserved),
        ] {
            assert_eq!(kind(ip), k, "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "93.184.216.34",
            "1.1.1.1",
        ] {
            assert_eq!(kind(ip), AddressKind::Public, "{ip}");
        }
    }

    #[test]
    fn special_use_ipv6_ranges_and_embedded_ipv4_are_not_public_rfc6890() {
        for (ip, k) in [
            ("::", AddressKind::Unspecified),
            ("::1", AddressKind::Loopback),
            ("fe80::1", AddressKind::LinkLocal),
            ("fc00::1", AddressKind::UniqueLocal),
            ("fd12:3456::1", AddressKind::UniqueLocal),
            ("ff02::1", AddressKind::Multicast),
            ("2001:db8::1", AddressKind::Reserved),
            ("::ffff:127.0.0.1", AddressKind::Loopback),
            ("::ffff:10.0.0.1", AddressKind::Private),
            ("::ffff:169.254.169.254", AddressKind::LinkLocal),
            ("64:ff9b::a00:1", AddressKind::Private),
            ("2002:c0a8:0101::1", AddressKind::Private),
            ("::7f00:1", AddressKind::Reserved),
        ] {
            assert_eq!(kind(ip), k, "{ip}");
        }
        for ip in [
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(kind(ip), AddressKind::Public, "{ip}");
        }
    }

    #[test]
    fn the_loopback_knob_allows_loopback_only() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            permitted(ip("127.0.0.1"), false),
            Err(AddressKind::Loopback)
        );
        assert_eq!(permitted(ip("127.0.0.1"), true), Ok(()));
        assert_eq!(permitted(ip("::1"), true), Ok(()));
        for other in ["10.0.0.1", "169.254.169.254", "fd00::1", "0.0.0.0"] {
            assert!(permitted(ip(other), true).is_err(), "{other}");
        }
        assert_eq!(permitted(ip("8.8.8.8"), false), Ok(()));
    }

    #[test]
    fn urls_must_be_https_without_credentials_or_special_literals_cimd_8_6() {
        assert!(check_url("https://client.example/doc", false).is_ok());
        assert!(matches!(
            check_url("http://client.example/doc", false),
            Err(FetchRefusal::NotHttps { .. })
        ));
        assert!(matches!(
            check_url("https://u:p@client.example/doc", false),
            Err(FetchRefusal::Credentials { .. })
        ));
        for url in [
            "https://127.0.0.1/doc",
            "https://[::1]/doc",
            "https://10.0.0.1/doc",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:192.168.0.1]/doc",
            "https://2130706433/doc",
            "https://0x7f.1/doc",
            "https://localhost/doc",
            "https://a.localhost./doc",
        ] {
            assert!(
                matches!(
                    check_url(url, false),
                    Err(FetchRefusal::SpecialUseAddress { .. })
                ),
                "{url}"
            );
        }
        assert!(check_url("https://127.0.0.1:8443/doc", true).is_ok());
        assert!(check_url("https://localhost/doc", true).is_ok());
        assert!(check_url("https://10.0.0.1/doc", true).is_err());
        assert!(check_url("not a url", false).is_err());
    }
}
