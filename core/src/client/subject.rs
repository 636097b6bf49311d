//! A client's subject type (OpenID Connect Core §8, Registration §2 `subject_type`,
//! `sector_identifier_uri`) and the form of its userinfo responses (Registration §2
//! `userinfo_signed_response_alg`, Core §5.3.2). The pairwise rules are in
//! [`crate::pairwise`].

use std::fmt;

use super::{Client, ClientBuilder};
use crate::Algorithm;

/// `subject_type` (OIDC Core §8): which `sub` a client sees for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SubjectType {
    /// `public`: the same `sub` for every client (the local subject).
    #[default]
    Public,
    /// `pairwise`: a different `sub` per sector identifier (§8.1), see
    /// [`crate::pairwise`].
    Pairwise,
}

impl SubjectType {
    /// Both, in the order discovery lists them (`subject_types_supported`).
    pub const ALL: [SubjectType; 2] = [Self::Public, Self::Pairwise];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Pairwise => "pairwise",
        }
    }

    /// Parses a wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for SubjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The subject metadata of a client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Subject {
    pub subject_type: SubjectType,
    pub sector_identifier_uri: Option<String>,
    /// The sector identifier (§8.1), computed by `build` for a pairwise client.
    pub sector: Option<String>,
    /// `userinfo_signed_response_alg`.
    pub userinfo_signed_response_alg: Option<Algorithm>,
}

impl Client {
    /// `subject_type` (OIDC Core §8): `public` unless registered `pairwise`.
    pub fn subject_type(&self) -> SubjectType {
        self.subject.subject_type
    }

    /// `sector_identifier_uri` (OIDC Core §8.1), if registered.
    pub fn sector_identifier_uri(&self) -> Option<&str> {
        self.subject.sector_identifier_uri.as_deref()
    }

    /// The sector identifier of a pairwise client (OIDC Core §8.1): the host of its
    /// `sector_identifier_uri`, else of its redirect URIs. `None` for a public client.
    pub fn sector(&self) -> Option<&str> {
        self.subject.sector.as_deref()
    }

    /// `userinfo_signed_response_alg` (OIDC Registration §2): when set, userinfo answers
    /// this client with a JWT signed with it (OIDC Core §5.3.2).
    pub fn userinfo_signed_response_alg(&self) -> Option<Algorithm> {
        self.subject.userinfo_signed_response_alg
    }
}

impl ClientBuilder {
    /// `subject_type` (OIDC Core §8): [`SubjectType::Pairwise`] gives this client a `sub`
    /// per sector identifier instead of the local subject; the provider then needs a
    /// [`pairwise_secret`](crate::ProviderBuilder::pairwise_secret).
    pub fn subject_type(mut self, subject_type: SubjectType) -> Self {
        self.client.subject.subject_type = subject_type;
        self
    }

    /// `sector_identifier_uri` (OIDC Core §8.1): an https URL of a JSON array of URIs that
    /// lists every redirect URI of the client; its host is the client's sector identifier.
    /// Needed by a pairwise client whose redirect URIs have several hosts. Fetched through
    /// the provider's [`HttpClient`](crate::http::HttpClient) when the client is first used.
    pub fn sector_identifier_uri(mut self, uri: impl Into<String>) -> Self {
        self.client.subject.sector_identifier_uri = Some(uri.into());
        self
    }

    /// `userinfo_signed_response_alg` (OIDC Registration §2): userinfo answers this client
    /// `Content-Type: application/jwt`, a JWS signed with the provider's key for `alg` over
    /// the claims plus `iss` and `aud` (OIDC Core §5.3.2). The provider must have a key of
    /// `alg`.
    pub fn userinfo_signed_response_alg(mut self, alg: Algorithm) -> Self {
        self.client.subject.userinfo_signed_response_alg = Some(alg);
        self
    }
}

/// The `build` checks: a pairwise client has a sector identifier; a
/// `sector_identifier_uri` is https even for a public client.
pub(crate) fn check(c: &mut Client) -> Result<(), String> {
    let s = &mut c.subject;
    match s.subject_type {
        SubjectType::Pairwise => {
            s.sector = Some(crate::pairwise::sector_identifier(
                s.sector_identifier_uri.as_deref(),
                &c.redirect_uris,
            )?);
        }
        _ => {
            s.sector = None;
            if let Some(uri) = s.sector_identifier_uri.as_deref() {
                crate::pairwise::sector_identifier(Some(uri), &c.redirect_uris)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairwise(redirects: &[&str]) -> ClientBuilder {
        let mut b = Client::public("rp").subject_type(SubjectType::Pairwise);
        for r in redirects {
            b = b.redirect_uri(*r);
        }
        b
    }

    #[test]
    fn a_pairwise_client_gets_its_sector_at_build_oidc_core_8_1() {
        let c = pairwise(&["https://rp.example/cb"])
            .build()
            .expect("one host");
        assert_eq!(c.sector(), Some("rp.example"));
        let e = pairwise(&["https://a.example/cb", "https://b.example/cb"])
            .build()
            .expect_err("two hosts need a sector_identifier_uri");
        assert!(e.to_string().contains("sector_identifier_uri"), "{e}");
        let c = pairwise(&["https://a.example/cb", "https://b.example/cb"])
            .sector_identifier_uri("https://sector.example/uris.json")
            .build()
            .expect("sector uri");
        assert_eq!(c.sector(), Some("sector.example"));
        let e = pairwise(&["https://a.example/cb"])
            .sector_identifier_uri("http://sector.example/uris.json")
            .build()
            .expect_err("https only");
        assert!(e.to_string().contains("https"), "{e}");
        let public = Client::public("p")
            .redirect_uri("https://a.example/cb")
            .build()
            .expect("public");
        assert_eq!(public.subject_type(), SubjectType::Public);
        assert_eq!(public.sector(), None, "no sector: the local subject");
    }

    #[test]
    fn the_registration_keeps_the_subject_and_userinfo_metadata_oidc_registration_2() {
        let c = pairwise(&["https://a.example/cb", "https://b.example/cb"])
            .sector_identifier_uri("https://sector.example/uris.json")
            .userinfo_signed_response_alg(Algorithm::ES256)
            .build()
            .expect("client");
        let json = serde_json::to_value(c.to_registration()).expect("json");
        assert_eq!(json["subject_type"], "pairwise");
        assert_eq!(
            json["sector_identifier_uri"],
            "https://sector.example/uris.json"
        );
        assert_eq!(json["userinfo_signed_response_alg"], "ES256");
        let back = c.to_registration().into_client().expect("back");
        assert_eq!(back.subject_type(), SubjectType::Pairwise);
        assert_eq!(back.sector(), Some("sector.example"));
        assert_eq!(back.userinfo_signed_response_alg(), Some(Algorithm::ES256));
        let mut reg = c.to_registration();
        reg.subject_type = Some("secret".into());
        assert!(reg.into_client().is_err(), "unknown subject_type refused");
        let public = Client::public("p")
            .redirect_uri("https://a.example/cb")
            .build()
            .expect("public")
            .to_registration();
        assert_eq!(
            public.subject_type, None,
            "public is the default, not stored"
        );
    }
}
