//! # idpkit
//!
//! An embeddable OAuth 2.0 authorization server and OpenID Provider. Add it to a Rust web
//! application, implement [`UserStore`] against your own user table, register your
//! clients, pick storage and key backends with cargo features, and mount the endpoints.
//!
//! What idpkit is not: a hosted service, a user database, or a login UI framework. Login and
//! consent pages belong to your application (see [`Provider::finish_interaction`]).
//!
//! The protocol engine lives in [`idpkit_core`] and is re-exported here. Feature `axum`
//! adds [`axum::router`], which mounts every endpoint on an `axum::Router`.
//!
//! | feature | what it adds |
//! |---|---|
//! | `aws-lc-rs` (default) | crypto through aws-lc-rs |
//! | `ring` | crypto through ring (use with `default-features = false`) |
//! | `axum` | [`axum::router`], the request/response glue, and [`axum::BearerAuth`] for resource servers |
//! | `http-client` | [`http_client::ReqwestClient`], the HTTP client the validator fetches JWKS with |
//! | `sqlite` | [`storage::sqlite`]: the SQLite grant store (bundled SQLite) |
//! | `postgres` | [`storage::postgres`]: the PostgreSQL grant store, shared by many instances |
//! | `sled` | [`storage::sled`]: the pure-Rust embedded grant store (one process) |
//! | `keys-file` | [`keys::file`]: signing keys from PEM / X.509 / JWK files with rotation |
//! | `kms` | `keys::kms`: signing keys in AWS KMS (pulls in the AWS SDK; off by default) |
//! | `testkit` | the conformance kits backends run (`idpkit::testkit`) |
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use idpkit_core::*;

/// The attribute for implementing idpkit's async traits (`#[idpkit::async_trait]`).
pub use async_trait::async_trait;

/// The README's examples are compiled and run as doc-tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[cfg(feature = "axum")]
pub mod axum;

/// A reqwest [`HttpClient`](crate::http::HttpClient) (feature `http-client`).
#[cfg(feature = "http-client")]
pub mod http_client;

/// Grant-store backends enabled by features (the trait and records are at the top:
/// [`GrantStore`], [`Record`], ...).
pub mod storage {
    /// The SQLite grant store (feature `sqlite`).
    #[cfg(feature = "sqlite")]
    pub use idpkit_storage_sqlite as sqlite;

    /// The PostgreSQL grant store (feature `postgres`).
    #[cfg(feature = "postgres")]
    pub use idpkit_storage_postgres as postgres;

    /// The sled grant store (feature `sled`).
    #[cfg(feature = "sled")]
    pub use idpkit_storage_sled as sled;
}

/// Key-provider backends enabled by features (the trait and JWK types are at the top:
/// [`KeyProvider`], [`Jwks`], ...; rotation rules in [`idpkit_core::keys::rotation`]).
pub mod keys {
    /// Keys from files (feature `keys-file`).
    #[cfg(feature = "keys-file")]
    pub use idpkit_keys_file as file;

    /// Keys in AWS KMS (feature `kms`; not in the default build).
    #[cfg(feature = "kms")]
    pub use idpkit_keys_kms as kms;
}
