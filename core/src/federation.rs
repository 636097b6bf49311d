//! Federation: upstream identity providers ([`Subprovider`]) through which users log in.
//!
//! The trait is defined here so hosts can plan for it; the generic OpenID Connect
//! subprovider and claims mapping arrive with the federation work.

use async_trait::async_trait;

use crate::users::Claims;

/// The redirect to the upstream provider and the state to keep until it calls back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRedirect {
    /// Where to send the browser.
    pub url: String,
    /// Opaque state (PKCE verifier, nonce, ...) the host keeps with the interaction.
    pub state: String,
}

/// A user as the upstream provider identified them.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalIdentity {
    /// Which subprovider.
    pub provider: String,
    /// The upstream `sub`.
    pub subject: String,
    /// Upstream claims, already mapped to local names.
    pub claims: Claims,
}

/// Federation failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FederationError {
    /// The upstream provider answered with an error.
    #[error("upstream provider error: {0}")]
    Upstream(String),
    /// The callback did not match the state that was sent.
    #[error("callback rejected: {0}")]
    Callback(String),
}

/// An upstream identity provider.
///
/// # Contract
/// `start` must bind the upstream request to `state` (and PKCE); `finish` must verify that
/// binding and the upstream ID token before returning an identity.
#[async_trait]
pub trait Subprovider: Send + Sync + 'static {
    /// A short unique name (`"google"`, `"corp-azure"`).
    fn name(&self) -> &str;
    /// Builds the upstream authorization redirect for a local interaction.
    async fn start(
        &self,
        interaction_id: &str,
        redirect_uri: &str,
    ) -> Result<UpstreamRedirect, FederationError>;
    /// Finishes the callback (`query` is the raw callback query string).
    async fn finish(
        &self,
        state: &str,
        query: &str,
        redirect_uri: &str,
    ) -> Result<ExternalIdentity, FederationError>;
}
