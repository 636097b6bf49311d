//! The provider's parts, borrowed: what rules and grants need besides their inputs, named
//! explicitly instead of reached through the provider.

use std::sync::Arc;

use crate::Algorithm;
use crate::config::Config;
use crate::federation::Subprovider;
use crate::jose::KeySetCache;
use crate::keys::KeyProvider;
use crate::store::GrantStore;
use crate::users::UserStore;

/// Borrowed views of a provider's configuration, stores and keys.
#[derive(Clone, Copy)]
pub(crate) struct Services<'a> {
    pub config: &'a Config,
    pub grants: &'a dyn GrantStore,
    pub keys: &'a dyn KeyProvider,
    pub users: &'a dyn UserStore,
    pub upstreams: &'a [Arc<dyn Subprovider>],
    /// The algorithms the key provider signs with (and so publishes).
    pub algorithms: &'a [Algorithm],
    /// The published keys, parsed once per JWKS, for verifying our own tokens.
    pub key_sets: &'a KeySetCache,
    /// What the host does when a guest token is upgraded ([`crate::guest`]).
    pub guest_upgrade_hook: Option<&'a dyn crate::guest::GuestUpgradeHook>,
    /// The host's check of authorization details (RFC 9396).
    pub authorization_details_policy: &'a dyn crate::AuthorizationDetailsPolicy,
}
