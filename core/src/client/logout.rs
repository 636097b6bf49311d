//! A client's logout metadata (OpenID Connect RP-Initiated Logout 1.0 §3.1, Back-Channel
//! Logout 1.0 §2.2, Front-Channel Logout 1.0 §2): where the user may be sent after logging
//! out, and where the provider tells the client that a session ended.

use super::{Client, ClientBuilder};

/// The logout metadata of a client, under the OIDC registration names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Logout {
    /// `post_logout_redirect_uris`: compared exactly, like redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// `backchannel_logout_uri`: receives logout tokens by POST.
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required`: logout tokens must carry `sid`.
    pub backchannel_logout_session_required: bool,
    /// `frontchannel_logout_uri`: rendered in an iframe of the logout page.
    pub frontchannel_logout_uri: Option<String>,
    /// `frontchannel_logout_session_required`: the iframe URL carries `iss` and `sid`.
    pub frontchannel_logout_session_required: bool,
}

impl Client {
    /// `post_logout_redirect_uris` (RP-Initiated Logout §3.1), compared exactly.
    pub fn post_logout_redirect_uris(&self) -> &[String] {
        &self.logout.post_logout_redirect_uris
    }

    /// `backchannel_logout_uri` (Back-Channel Logout §2.2).
    pub fn backchannel_logout_uri(&self) -> Option<&str> {
        self.logout.backchannel_logout_uri.as_deref()
    }

    /// `backchannel_logout_session_required`.
    pub fn backchannel_logout_session_required(&self) -> bool {
        self.logout.backchannel_logout_session_required
    }

    /// `frontchannel_logout_uri` (Front-Channel Logout §2).
    pub fn frontchannel_logout_uri(&self) -> Option<&str> {
        self.logout.frontchannel_logout_uri.as_deref()
    }

    /// `frontchannel_logout_session_required`.
    pub fn frontchannel_logout_session_required(&self) -> bool {
        self.logout.frontchannel_logout_session_required
    }
}

impl ClientBuilder {
    /// Adds a `post_logout_redirect_uri` (RP-Initiated Logout §3.1): where the user may be
    /// sent after logging out, compared exactly.
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.client
            .logout
            .post_logout_redirect_uris
            .push(uri.into());
        self
    }

    /// Sets `backchannel_logout_uri` and `backchannel_logout_session_required`
    /// (Back-Channel Logout §2.2): the provider POSTs a logout token there when a session
    /// the client took part in ends.
    pub fn backchannel_logout_uri(
        mut self,
        uri: impl Into<String>,
        session_required: bool,
    ) -> Self {
        self.client.logout.backchannel_logout_uri = Some(uri.into());
        self.client.logout.backchannel_logout_session_required = session_required;
        self
    }

    /// Sets `frontchannel_logout_uri` and `frontchannel_logout_session_required`
    /// (Front-Channel Logout §2): the logout page renders it in an iframe.
    pub fn frontchannel_logout_uri(
        mut self,
        uri: impl Into<String>,
        session_required: bool,
    ) -> Self {
        self.client.logout.frontchannel_logout_uri = Some(uri.into());
        self.client.logout.frontchannel_logout_session_required = session_required;
        self
    }
}

/// Checks the logout metadata: every URI absolute, without a fragment, https unless on
/// loopback (Back-Channel §2.2 and Front-Channel §2 forbid fragments; RP-Initiated §3.1
/// says post-logout URIs follow the redirect URI rules).
pub(crate) fn check(logout: &Logout) -> Result<(), String> {
    let named = logout
        .post_logout_redirect_uris
        .iter()
        .map(|u| ("post_logout_redirect_uri", u))
        .chain(
            logout
                .backchannel_logout_uri
                .iter()
                .map(|u| ("backchannel_logout_uri", u)),
        )
        .chain(
            logout
                .frontchannel_logout_uri
                .iter()
                .map(|u| ("frontchannel_logout_uri", u)),
        );
    for (name, uri) in named {
        let parsed =
            url::Url::parse(uri).map_err(|e| format!("{name} {uri:?} is not a URL: {e}"))?;
        if parsed.fragment().is_some() || uri.contains('#') {
            return Err(format!("{name} {uri:?} has a fragment"));
        }
        match parsed.scheme() {
            "https" => {}
            "http" if crate::redirect_uri::is_loopback(parsed.host()) => {}
            // Native apps may come back on a private-use scheme; notifications may not.
            _ if name == "post_logout_redirect_uri" && parsed.scheme() != "http" => {}
            _ => {
                return Err(format!(
                    "{name} {uri:?} must be https (http only on loopback)"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logout() -> Logout {
        Logout::default()
    }

    #[test]
    fn logout_uris_are_absolute_https_without_fragments_backchannel_2_2() {
        let mut l = logout();
        l.backchannel_logout_uri = Some("https://rp.example/bc?x=1".into());
        l.frontchannel_logout_uri = Some("http://127.0.0.1:9/fc".into());
        l.post_logout_redirect_uris = vec!["com.example.app:/logged-out".into()];
        assert_eq!(check(&l), Ok(()));
        l.backchannel_logout_uri = Some("https://rp.example/bc#f".into());
        assert!(check(&l).expect_err("fragment").contains("fragment"));
        l.backchannel_logout_uri = Some("http://rp.example/bc".into());
        assert!(check(&l).expect_err("http").contains("https"));
        l.backchannel_logout_uri = Some("com.example.app:/bc".into());
        assert!(check(&l).is_err(), "a notification goes to a web server");
        l.backchannel_logout_uri = None;
        l.post_logout_redirect_uris = vec!["/relative".into()];
        assert!(check(&l).expect_err("relative").contains("not a URL"));
        l.post_logout_redirect_uris = vec!["http://rp.example/out".into()];
        assert!(check(&l).is_err(), "http off loopback");
    }
}
