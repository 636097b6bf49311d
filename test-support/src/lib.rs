//! Test support for idpkit's own tests (not published): a KMS-compatible endpoint
//! ([`moto`]), the example host on a loopback port with a browser-like client ([`host`],
//! feature `host`), an https server with a throwaway CA ([`tls`], feature `host`), the
//! relying party's HTTP client ([`rp`], feature `rp`), and stock JavaScript clients from
//! npm ([`js`]).
//!
//! Grant, client and key-provider conformance kits and a test user store are in
//! `idpkit_core::testkit`, for hosts and backend authors too.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(clippy::unwrap_used)] // test support: a failed setup should panic loudly

#[cfg(feature = "host")]
pub mod host;
pub mod js;
pub mod moto;
#[cfg(feature = "rp")]
pub mod rp;
#[cfg(feature = "host")]
pub mod tls;
