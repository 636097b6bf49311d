//! # idpkit-core
//!
//! The protocol engine of idpkit: an OAuth 2.0 authorization server and OpenID Provider as
//! plain values and traits. It opens no socket, file or database, starts no runtime and
//! reads no clock of its own: endpoints take a [`Request`] value and return a [`Response`]
//! value; storage, keys, users and time come through the traits [`GrantStore`],
//! [`KeyProvider`], [`ClientStore`], [`UserStore`] and [`Clock`].
//!
//! Most applications use the `idpkit` facade crate, which adds backends and an axum router.
//!
//! ```
//! use idpkit_core::{Client, GrantType, LocalKeys, MemoryGrantStore, Provider, StaticClients};
//! # use idpkit_core::{Claims, UserStore};
//! # struct Users;
//! # #[async_trait::async_trait]
//! # impl UserStore for Users {
//! #     async fn claims(&self, _: &str, _: &[String]) -> Result<Option<Claims>, idpkit_core::StoreError> { Ok(None) }
//! # }
//! let client = Client::confidential("api-caller", "a-long-random-secret")
//!     .grant_types([GrantType::ClientCredentials])
//!     .scopes(["api:read"])
//!     .build()?;
//! let provider = Provider::builder("http://127.0.0.1:8080")
//!     .grant_store(MemoryGrantStore::new())
//!     .keys(LocalKeys::ephemeral_for_development()?)
//!     .clients(StaticClients::new([client])?)
//!     .users(Users)
//!     .dangerous_allow_development_backends()
//!     .build()?;
//! assert_eq!(provider.issuer(), "http://127.0.0.1:8080");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod algorithm;
mod authorization_details;
mod authorization_request;
mod authorization_response;
mod backchannel;
pub mod bearer;
mod claims;
pub mod claims_request;
mod client;
mod client_assertion;
mod client_auth;
pub mod client_id_metadata_document;
pub mod client_keys;
pub mod client_metadata;
mod clock;
mod config;
pub mod crypto;
mod device_authorization;
mod discovery;
pub mod dpop;
mod end_session;
mod endpoint;
mod error;
pub mod federation;
mod grant;
pub mod guest;
pub mod http;
mod http_types;
mod interaction;
mod introspection;
pub mod jose;
pub mod keys;
pub mod logging;
pub mod pairwise;
pub mod pkce;
mod profile;
pub mod protected_resource_metadata;
mod provider;
mod pushed_authorization_request;
mod rate_limit;
mod records;
pub mod redirect_uri;
pub mod registration;
mod request_object;
mod resource_indicator;
pub mod scope;
mod services;
mod session;
pub mod software_statement;
pub mod ssrf;
mod store;
mod throttle;
mod token;
mod token_exchange;
mod users;
mod validate;

#[cfg(feature = "testkit")]
pub mod testkit;

/// Helpers for backend crates (grant and client stores): the one timestamp encoding and
/// the stored form of clients.
pub mod backend {
    pub use crate::client::{anonymous_issued_at, client_from_json, client_to_json};
    pub use crate::store::{counter_value, from_unix_nanos, unix_nanos};
}

pub use algorithm::Algorithm;
pub use algorithm::MacAlgorithm;
pub use authorization_details::{
    AcceptRegisteredTypes, AuthorizationDetail, AuthorizationDetailsPolicy,
    MAX_AUTHORIZATION_DETAILS, MAX_AUTHORIZATION_DETAILS_BYTES,
};
pub use claims_request::{ClaimRequest, ClaimsRequest};
pub use client::{
    AccessTokenFormat, Client, ClientBuilder, ClientRegistration, ClientRegistry, ClientStore,
    GrantType, MemoryClientRegistry, ResponseEncryption, SecretHash, StaticClients, SubjectType,
    TokenEndpointAuthMethod,
};
pub use client_metadata::ClientMetadata;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    ClientJwtConfig, Config, Cookie, FEDERATION_COOKIE, INTERACTION_COOKIE, LogoutRevokes, Paths,
    SESSION_COOKIE,
};
pub use endpoint::access_token::AccessTokenInfo;
pub use endpoint::backchannel::Deliveries;
pub use endpoint::client_id_from_basic;
pub use endpoint::device_authorization::{DEVICE_APPROVED, DEVICE_DENIED, DEVICE_GONE};
pub use endpoint::end_session::{LoggedOut, Logout, LogoutDetails, PendingLogout};
pub use endpoint::federation::UpstreamInfo;
pub use endpoint::guest::GuestUpgrade;
pub use endpoint::interaction::OpenInteraction;
pub use endpoint::routes::{MountPoint, Route};
pub use endpoint::sessions::SessionInfo;
pub use error::{ConfigError, ErrorCode, OAuthError};
pub use grant::guest::UpgradedGuest;
pub use grant::{Grant, GrantContext, TokenResponse};
pub use guest::{GuestMerge, GuestUpgradeHook};
pub use http_types::{Body, Method, Params, Request, Response, parse_cookies};
pub use interaction::{
    Authorization, InteractionDetails, InteractionOutcome, Needs, PendingInteraction,
};
pub use jose::jwe::{DecryptionKey, EncryptionJwk, JweAlgorithm, JweEncryption};
pub use jose::jwk::{Jwk, Jwks};
pub use jose::signing::SigningKey;
pub use keys::{KeyError, KeyProvider, KeyRef, KeyState, LocalKeys};
pub use profile::{FAPI2_ALGORITHMS, FAPI2_MAX_CODE_TTL, FAPI2_REFRESH_RETRY, Profile};
pub use provider::{Provider, ProviderBuilder};
pub use rate_limit::{Backoff, Limit, RateLimits, Throttled, source_key};
pub use registration::{RegistrationContext, RegistrationHook, RegistrationPolicy};
pub use resource_indicator::{AccessTokenEncryption, Resource};
pub use store::{Consume, GrantStore, MemoryGrantStore, Record, RecordKind, StoreError, Stored};
pub use throttle::LoginGuard;
pub use time;
pub use token::AccessClaims;
pub use token_exchange::{
    ActorRule, ExchangeAllowance, ExchangeRefusal, ExchangeRequest, ExchangeRule, ExchangeRules,
    ExchangeToken, MAX_ACT_DEPTH, RefuseAllExchanges, TokenExchangePolicy, TokenType,
};
pub use users::{Claims, UserStore, claims_for_scope, filter_claims};
pub use validate::{
    Check, ClaimRule, DEFAULT_MAX_TOKEN_BYTES, DpopStore, Inspection, Introspection, JwksSource,
    KidLookup, MemoryDpopStore, Rejection, ResourceRequest, StoreDpopStore, TrustedIssuer,
    ValidatedToken, Validator, ValidatorBuilder,
};
