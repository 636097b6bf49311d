//! Protected resource metadata (RFC 9728): the document a resource server publishes at
//! `/.well-known/oauth-protected-resource` so that clients (MCP clients among them) find the
//! authorization servers that issue its tokens, and the `resource_metadata` parameter of its
//! `WWW-Authenticate` challenges that points at it (§5.1).
//!
//! Sync rules only: [`well_known_path`] and [`metadata_url`] derive where the document lives
//! from the resource identifier (§3.1), [`ProtectedResourceMetadata::document`] builds it
//! (§2). A [`Validator`](crate::Validator) given a [`ProtectedResourceMetadata`] builds the
//! document once, at [`build`](crate::ValidatorBuilder::build); the facade's `BearerAuth`
//! serves those bytes as they are.

use serde_json::{Map, Value};

/// The well-known URI suffix registered by RFC 9728 §6.3.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// Why a resource identifier cannot name a protected resource (RFC 9728 §1.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceIdError {
    /// Not an absolute URL.
    #[error("the resource identifier {found:?} is not an absolute URL")]
    NotAUrl {
        /// What was given.
        found: String,
    },
    /// A scheme other than `https` (or `http`, which idpkit allows for local testing).
    #[error("the resource identifier must be an https URL (RFC 9728 §1.2), found scheme {found:?}")]
    Scheme {
        /// The scheme found.
        found: String,
    },
    /// A fragment (RFC 9728 §1.2: "has no fragment component").
    #[error("the resource identifier must have no fragment (RFC 9728 §1.2)")]
    Fragment,
}

/// The parts of a resource identifier §3.1 splits: origin, path (empty for `/`), query.
fn parts(resource: &str) -> Result<(String, String, Option<String>), ResourceIdError> {
    let url = url::Url::parse(resource).map_err(|_| ResourceIdError::NotAUrl {
        found: resource.to_owned(),
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(ResourceIdError::Scheme {
            found: url.scheme().to_owned(),
        });
    }
    if url.fragment().is_some() || resource.contains('#') {
        return Err(ResourceIdError::Fragment);
    }
    if url.host_str().is_none() {
        return Err(ResourceIdError::NotAUrl {
            found: resource.to_owned(),
        });
    }
    let origin = url.origin().ascii_serialization();
    // §3.1: "any terminating slash (/) following the host component MUST be removed".
    let path = match url.path() {
        "/" => String::new(),
        p => p.to_owned(),
    };
    Ok((origin, path, url.query().map(str::to_owned)))
}

/// The path (and query) at which the metadata of `resource` is served (RFC 9728 §3.1): the
/// well-known suffix inserted between the host and the resource's path and query:
/// `https://api.example` → `/.well-known/oauth-protected-resource`,
/// `https://api.example/mcp` → `/.well-known/oauth-protected-resource/mcp`.
pub fn well_known_path(resource: &str) -> Result<String, ResourceIdError> {
    let (_, path, query) = parts(resource)?;
    let mut p = format!("{WELL_KNOWN}{path}");
    if let Some(q) = query {
        p.push('?');
        p.push_str(&q);
    }
    Ok(p)
}

/// The absolute URL of the metadata of `resource` (RFC 9728 §3.1): its origin joined with
/// [`well_known_path`]. This is the `resource_metadata` of §5.1.
pub fn metadata_url(resource: &str) -> Result<String, ResourceIdError> {
    let (origin, _, _) = parts(resource)?;
    Ok(format!("{origin}{}", well_known_path(resource)?))
}

/// The metadata of one protected resource (RFC 9728 §2). Members left empty are omitted;
/// a [`Validator`](crate::Validator) fills `authorization_servers` with its trusted
/// issuers and `dpop_signing_alg_values_supported` with its DPoP algorithms when they are
/// left empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedResourceMetadata {
    /// `resource`: the resource identifier (§2, REQUIRED), an https URL without fragment;
    /// the same value clients send as the RFC 8707 `resource` parameter.
    pub resource: String,
    /// `authorization_servers`: issuer identifiers of the authorization servers (§2).
    pub authorization_servers: Vec<String>,
    /// `scopes_supported`: scopes used in authorization requests for this resource (§2).
    pub scopes_supported: Vec<String>,
    /// `bearer_methods_supported` (§2; default `["header"]`: idpkit takes no token in the
    /// body or the query of a resource request).
    pub bearer_methods_supported: Vec<String>,
    /// `dpop_signing_alg_values_supported` (§2).
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// `resource_name`: a human-readable name (§2).
    pub resource_name: Option<String>,
    /// `resource_documentation`: a URL of documentation for developers (§2).
    pub resource_documentation: Option<String>,
}

impl ProtectedResourceMetadata {
    /// Metadata for `resource` with `bearer_methods_supported: ["header"]` and nothing else.
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header".into()],
            dpop_signing_alg_values_supported: Vec::new(),
            resource_name: None,
            resource_documentation: None,
        }
    }

    /// Adds an authorization server (its issuer identifier).
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// Sets `scopes_supported`.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `resource_name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Sets `resource_documentation`.
    pub fn documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// The JSON document (RFC 9728 §2, §3.2); refuses a resource identifier that is not
    /// one (§1.2).
    pub fn document(&self) -> Result<Value, ResourceIdError> {
        parts(&self.resource)?;
        let mut m = Map::new();
        m.insert("resource".into(), Value::from(self.resource.clone()));
        let mut list = |name: &str, v: &[String]| {
            if !v.is_empty() {
                m.insert(name.into(), Value::from(v.to_vec()));
            }
        };
        list("authorization_servers", &self.authorization_servers);
        list("scopes_supported", &self.scopes_supported);
        list("bearer_methods_supported", &self.bearer_methods_supported);
        list(
            "dpop_signing_alg_values_supported",
            &self.dpop_signing_alg_values_supported,
        );
        if let Some(n) = &self.resource_name {
            m.insert("resource_name".into(), Value::from(n.clone()));
        }
        if let Some(d) = &self.resource_documentation {
            m.insert("resource_documentation".into(), Value::from(d.clone()));
        }
        Ok(Value::Object(m))
    }
}

/// A built metadata document: its bytes, where it is served and its absolute URL, computed
/// once ([`Validator::resource_metadata`](crate::Validator::resource_metadata)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedMetadata {
    /// The serialised JSON document.
    pub document: Vec<u8>,
    /// The path (and query) to serve it at ([`well_known_path`]).
    pub path: String,
    /// Its absolute URL ([`metadata_url`]): the `resource_metadata` challenge parameter.
    pub url: String,
    /// `, resource_metadata="<url>"`, ready to append to a challenge.
    challenge_param: String,
}

impl PublishedMetadata {
    /// Builds the document once.
    pub fn new(metadata: &ProtectedResourceMetadata) -> Result<Self, ResourceIdError> {
        let document = serde_json::to_vec(&metadata.document()?).unwrap_or_default();
        let url = metadata_url(&metadata.resource)?;
        Ok(Self {
            document,
            path: well_known_path(&metadata.resource)?,
            challenge_param: format!(", resource_metadata=\"{}\"", crate::bearer::quote(&url)),
            url,
        })
    }

    /// `challenge` (a `Bearer` or `DPoP` `WWW-Authenticate` value) with the
    /// `resource_metadata` parameter of RFC 9728 §5.1 appended.
    pub fn add_to_challenge(&self, mut challenge: String) -> String {
        challenge.push_str(&self.challenge_param);
        challenge
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_path_inserts_before_the_path_rfc9728_3_1() {
        assert_eq!(
            well_known_path("https://api.example/mcp").unwrap(),
            "/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            well_known_path("https://api.example/a/b").unwrap(),
            "/.well-known/oauth-protected-resource/a/b"
        );
        assert_eq!(
            metadata_url("https://api.example:8443/mcp").unwrap(),
            "https://api.example:8443/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn terminating_slash_after_the_host_is_removed_rfc9728_3_1() {
        for r in ["https://api.example", "https://api.example/"] {
            assert_eq!(well_known_path(r).unwrap(), WELL_KNOWN, "{r}");
            assert_eq!(
                metadata_url(r).unwrap(),
                "https://api.example/.well-known/oauth-protected-resource"
            );
        }
    }

    #[test]
    fn a_query_follows_the_well_known_path_rfc9728_3_1() {
        assert_eq!(
            well_known_path("https://api.example/r?tenant=1").unwrap(),
            "/.well-known/oauth-protected-resource/r?tenant=1"
        );
    }

    #[test]
    fn resource_identifier_is_a_url_without_fragment_rfc9728_1_2() {
        assert_eq!(
            well_known_path("https://api.example/mcp#x"),
            Err(ResourceIdError::Fragment)
        );
        assert!(matches!(
            well_known_path("urn:example:api"),
            Err(ResourceIdError::Scheme { .. })
        ));
        assert!(matches!(
            well_known_path("/mcp"),
            Err(ResourceIdError::NotAUrl { .. })
        ));
    }

    #[test]
    fn document_has_the_members_and_omits_empty_ones_rfc9728_2() {
        let m = ProtectedResourceMetadata::new("https://api.example/mcp")
            .authorization_server("https://login.example")
            .scopes(["mcp:tools"])
            .name("Tools");
        let d = m.document().unwrap();
        assert_eq!(d["resource"], "https://api.example/mcp");
        assert_eq!(d["authorization_servers"][0], "https://login.example");
        assert_eq!(d["scopes_supported"][0], "mcp:tools");
        assert_eq!(d["bearer_methods_supported"], serde_json::json!(["header"]));
        assert_eq!(d["resource_name"], "Tools");
        assert!(d.get("dpop_signing_alg_values_supported").is_none());
        assert!(d.get("resource_documentation").is_none());
        assert!(
            ProtectedResourceMetadata::new("https://a.example#f")
                .document()
                .is_err()
        );
    }

    #[test]
    fn challenge_carries_resource_metadata_rfc9728_5_1() {
        let p = PublishedMetadata::new(&ProtectedResourceMetadata::new("https://api.example/mcp"))
            .unwrap();
        assert_eq!(p.path, "/.well-known/oauth-protected-resource/mcp");
        assert_eq!(
            p.add_to_challenge("Bearer realm=\"api\"".into()),
            "Bearer realm=\"api\", resource_metadata=\"https://api.example/.well-known/oauth-protected-resource/mcp\""
        );
        let doc: Value = serde_json::from_slice(&p.document).unwrap();
        assert_eq!(doc["resource"], "https://api.example/mcp");
    }
}
