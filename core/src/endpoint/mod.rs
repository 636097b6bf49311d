//! The endpoints, one module each; every endpoint is a method of [`crate::Provider`] taking a
//! [`crate::Request`] and returning a [`crate::Response`].

pub mod access_token;
pub mod authorize;
pub mod backchannel;
pub(crate) mod client_auth;
pub mod device_authorization;
pub mod discovery;
pub mod dpop;
pub mod end_session;
pub mod federation;
pub mod guest;
pub mod interaction;
pub mod introspection;
pub mod par;
pub mod registration;
mod request_object;
pub mod revocation;
pub mod routes;
pub mod sessions;
pub mod token;
pub mod userinfo;

/// The client id of a `Basic` Authorization header, if it decodes (for logs; no secret is
/// returned).
pub fn client_id_from_basic(header: &str) -> Option<String> {
    client_auth::parse_basic(header).ok().map(|(id, _)| id)
}
