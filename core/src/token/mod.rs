//! Tokens: RFC 9068 JWT access tokens (or opaque ones), OpenID Connect ID tokens, refresh
//! tokens, and the lookup of tokens this provider issued.
//!
//! Minting is split as fosite splits "handle" from "populate": the claims of each token are
//! built by sync functions ([`access_token::claims`], [`id_token::claims`]); [`Minter`] only
//! adds the signature (through the [`KeyProvider`], so a KMS key signs like a file key) and
//! returns the records to write. Nothing is written here: the grant decides when.

pub mod access_token;
pub mod id_token;
pub(crate) mod jwt;
pub mod logout_token;
pub(crate) mod lookup;
pub(crate) mod refresh_token;

use time::OffsetDateTime;

pub use access_token::AccessClaims;

use crate::Algorithm;
use crate::authorization_details::AuthorizationDetail;
use crate::client::{AccessTokenFormat, Client};
use crate::config::Config;
use crate::crypto;
use crate::error::OAuthError;
use crate::keys::KeyProvider;
use crate::records::{AccessRecord, RefreshRecord, Write, jwt_handle_id, secret_id};
use crate::users::Claims;

/// What a grant issues: the response body and the records to write once the grant's
/// `consume` has been won. Signing happens before, so a signing outage consumes nothing.
#[derive(Debug)]
pub(crate) struct Issued {
    pub body: serde_json::Map<String, serde_json::Value>,
    pub writes: Vec<Write>,
    /// Store id of the refresh token issued, if any.
    pub refresh_id: Option<String>,
}

/// Inputs for issuing tokens to a user.
pub(crate) struct UserGrant<'a> {
    pub subject: &'a str,
    /// Scopes of the access and ID tokens.
    pub scopes: &'a [String],
    /// Scopes of the new refresh token: the original grant's (RFC 6749 §6).
    pub refresh_scopes: &'a [String],
    pub grant_id: &'a str,
    pub auth_time: i64,
    /// `Some((claims, nonce))` when an ID token is due (openid scope): the user's claims
    /// (already filtered by scope) and the nonce of the authorization request.
    pub id_token: Option<(Claims, Option<&'a str>)>,
    pub refresh: bool,
    /// `sid` of the browser session the grant came from.
    pub sid: Option<&'a str>,
    /// The resources (RFC 8707) of this access token: its `aud` and the scopes it
    /// carries follow from them (empty: the client's audience, every scope).
    pub resources: &'a [String],
    /// The resources of the authorization, kept with the new refresh token.
    pub refresh_resources: &'a [String],
    /// The granted authorization details (RFC 9396), in the access token, the response
    /// and the refresh token.
    pub authorization_details: &'a [AuthorizationDetail],
    /// The `claims` parameter of the authorization (OIDC Core §5.5), if any: its
    /// `userinfo` names go with the access token, the whole with the refresh token.
    pub claims: Option<&'a crate::claims_request::ClaimsRequest>,
}

/// What an access token is minted with beyond the client's defaults.
#[derive(Debug, Default)]
pub(crate) struct AccessSpec<'a> {
    /// The user (`None`: the token has no user).
    pub subject: Option<&'a str>,
    /// For a token without a user: its `sub` when that is another client than the one it
    /// is issued to (token exchange of that client's token).
    pub client_subject: Option<&'a str>,
    pub scopes: &'a [String],
    /// The grant family (revocable together).
    pub grant_id: Option<&'a str>,
    /// When the user authenticated; a JWT with it is looked up through its handle.
    pub auth_time: Option<i64>,
    /// `aud` instead of the client's audience.
    pub aud: Option<Vec<String>>,
    /// Lifetime instead of the client's.
    pub ttl: Option<time::Duration>,
    /// The `act` claim (RFC 8693 §4.1).
    pub act: Option<&'a serde_json::Value>,
    /// Format instead of the client's.
    pub format: Option<AccessTokenFormat>,
    /// A guest token ([`crate::guest`]).
    pub guest: bool,
    /// The granted authorization details (RFC 9396 §9.1).
    pub authorization_details: &'a [AuthorizationDetail],
    /// The claims requested from userinfo (OIDC Core §5.5), kept in the token's record.
    pub userinfo_claims: &'a [String],
}

/// The shape of an access token to mint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub format: AccessTokenFormat,
    pub ttl: time::Duration,
    /// A guest token ([`crate::guest`]).
    pub guest: bool,
}

/// Mints tokens with the provider's settings and keys at one instant.
#[derive(Clone, Copy)]
pub(crate) struct Minter<'a> {
    pub config: &'a Config,
    pub keys: &'a dyn KeyProvider,
    pub now: OffsetDateTime,
    /// The DPoP key of the token request (RFC 9449): every access token minted is bound
    /// to it (`cnf.jkt`), and so are a public client's refresh tokens (§5).
    pub jkt: Option<&'a str>,
}

impl Minter<'_> {
    /// How an access token with audience `aud` is encrypted: when its only audience is a
    /// [`Resource`](crate::Resource) with [`encrypt_access_tokens`](crate::Resource::encrypt_access_tokens).
    fn access_token_encryption(
        &self,
        aud: &[String],
    ) -> Option<&crate::resource_indicator::AccessTokenEncryption> {
        let [only] = aud else { return None };
        self.config
            .resources
            .iter()
            .find(|r| r.audience() == only)
            .and_then(|r| r.access_token_encryption())
    }

    /// The signing algorithm for a client's tokens.
    pub fn alg_for(&self, client: &Client) -> Algorithm {
        client.signing_alg.unwrap_or(self.config.signing_alg)
    }

    /// The `token_type` of what this minter issues: `DPoP` for tokens bound to a proof
    /// key (RFC 9449 §5), else `Bearer`.
    pub fn token_type(&self) -> &'static str {
        if self.jkt.is_some() { "DPoP" } else { "Bearer" }
    }

    /// A client's access-token lifetime.
    pub fn access_ttl(&self, client: &Client) -> time::Duration {
        client
            .access_token_ttl
            .unwrap_or(self.config.access_token_ttl)
    }

    /// A client's absolute refresh-token lifetime (from the original authentication).
    pub fn refresh_absolute_ttl(&self, client: &Client) -> time::Duration {
        client
            .refresh_token_absolute_ttl
            .unwrap_or(self.config.refresh_token_absolute_ttl)
    }

    /// Mints an access token. For a grant-bound token (`grant_id`), returns the record that
    /// makes it revocable; opaque tokens are nothing but that record.
    pub async fn access_token(
        &self,
        client: &Client,
        subject: Option<&str>,
        scopes: &[String],
        grant_id: Option<&str>,
        auth_time: Option<i64>,
    ) -> Result<(String, Option<Write>), OAuthError> {
        self.access_token_as(
            client,
            &AccessSpec {
                subject,
                scopes,
                grant_id,
                auth_time,
                ..AccessSpec::default()
            },
        )
        .await
    }

    /// Mints an access token of a given shape (format, lifetime, guest or not): what
    /// [`access_token`](Self::access_token) does with the client's access-token settings,
    /// and the guest grant with its guest-token settings.
    pub async fn shaped_access_token(
        &self,
        client: &Client,
        subject: Option<&str>,
        scopes: &[String],
        grant_id: Option<&str>,
        auth_time: Option<i64>,
        shape: Shape,
    ) -> Result<(String, Option<Write>), OAuthError> {
        self.access_token_as(
            client,
            &AccessSpec {
                subject,
                scopes,
                grant_id,
                auth_time,
                ttl: Some(shape.ttl),
                format: Some(shape.format),
                guest: shape.guest,
                ..AccessSpec::default()
            },
        )
        .await
    }

    /// Mints an access token as `spec` says (the defaults: the client's audience, lifetime
    /// and format, no actor).
    pub async fn access_token_as(
        &self,
        client: &Client,
        spec: &AccessSpec<'_>,
    ) -> Result<(String, Option<Write>), OAuthError> {
        let exp = self.now + spec.ttl.unwrap_or_else(|| self.access_ttl(client));
        let jti = crypto::random_token();
        let aud = spec
            .aud
            .clone()
            .unwrap_or_else(|| access_token::audience(&self.config.issuer, client));
        let mut record = AccessRecord {
            jwt: false,
            client_id: client.id.clone(),
            subject: spec.subject.map(str::to_owned),
            scopes: spec.scopes.to_vec(),
            aud: aud.clone(),
            iat: self.now.unix_timestamp(),
            exp: exp.unix_timestamp(),
            jti: jti.clone(),
            act: spec.act.cloned(),
            auth_time: spec.auth_time,
            client_subject: spec.client_subject.map(str::to_owned),
            guest: spec.guest,
            authorization_details: spec.authorization_details.to_vec(),
            jkt: self.jkt.map(str::to_owned),
            userinfo_claims: spec.userinfo_claims.to_vec(),
        };
        match spec.format.unwrap_or(client.access_token_format) {
            AccessTokenFormat::Opaque => {
                let token = crypto::random_token();
                let write = Write::new(secret_id(&token), &record, spec.grant_id, exp);
                Ok((token, Some(write)))
            }
            AccessTokenFormat::Jwt => {
                // A user's `sub` is the one the client sees (pairwise for a pairwise
                // client, OIDC Core §8.1): the client can read its JWT access tokens, so a
                // local subject here would undo pairwise. The handle record keeps the
                // local subject, for userinfo and introspection.
                let sub = match spec.subject {
                    Some(user) if !spec.guest => {
                        crate::pairwise::subject_for(self.config, client, user)
                    }
                    _ => spec
                        .subject
                        .or(spec.client_subject)
                        .unwrap_or(&client.id)
                        .to_owned(),
                };
                let claims = AccessClaims {
                    iss: self.config.issuer.clone(),
                    sub,
                    aud,
                    exp: exp.unix_timestamp(),
                    iat: self.now.unix_timestamp(),
                    jti: jti.clone(),
                    client_id: client.id.clone(),
                    scope: spec.scopes.join(" "),
                    auth_time: spec.auth_time,
                    act: spec.act.cloned(),
                    authorization_details: crate::authorization_details::to_json(
                        spec.authorization_details,
                    ),
                    cnf: self.jkt.map(|jkt| access_token::Confirmation {
                        jkt: jkt.to_owned(),
                    }),
                };
                let mut token =
                    jwt::sign(self.keys, self.alg_for(client), access_token::TYP, &claims).await?;
                if let Some(e) = self.access_token_encryption(&claims.aud) {
                    token = crate::jose::jwe::nest(&e.key, (e.alg, e.enc), &token)?;
                }
                record.jwt = true;
                let handle = spec
                    .grant_id
                    .map(|g| Write::new(jwt_handle_id(&jti), &record, Some(g), exp));
                Ok((token, handle))
            }
        }
    }

    /// The record that gives the opaque access token whose store id is `record_id` (a
    /// guest token being upgraded) to the user of grant `g`: same value, the user's
    /// subject and scopes, the client's access-token lifetime from now, in the user's
    /// grant family.
    pub fn reassigned_opaque(&self, client: &Client, record_id: &str, g: &UserGrant<'_>) -> Write {
        let exp = self.now + self.access_ttl(client);
        let record = AccessRecord {
            jwt: false,
            client_id: client.id.clone(),
            subject: Some(g.subject.to_owned()),
            scopes: g.scopes.to_vec(),
            aud: access_token::audience(&self.config.issuer, client),
            iat: self.now.unix_timestamp(),
            exp: exp.unix_timestamp(),
            jti: crypto::random_token(),
            guest: false,
            act: None,
            auth_time: Some(g.auth_time),
            client_subject: None,
            authorization_details: g.authorization_details.to_vec(),
            jkt: self.jkt.map(str::to_owned),
            userinfo_claims: userinfo_names(g),
        };
        Write::new(record_id.to_owned(), &record, Some(g.grant_id), exp)
    }

    /// Mints the tokens of a user grant (code exchange, refresh, password): access token,
    /// ID token when due, refresh token when due. Nothing is written yet.
    pub async fn user_tokens(
        &self,
        client: &Client,
        g: UserGrant<'_>,
    ) -> Result<Issued, OAuthError> {
        let (aud, scopes) = self.user_target(&g);
        let userinfo_claims = userinfo_names(&g);
        let access = self
            .access_token_as(
                client,
                &AccessSpec {
                    subject: Some(g.subject),
                    scopes: &scopes,
                    grant_id: Some(g.grant_id),
                    auth_time: Some(g.auth_time),
                    aud,
                    authorization_details: g.authorization_details,
                    userinfo_claims: &userinfo_claims,
                    ..AccessSpec::default()
                },
            )
            .await?;
        self.user_tokens_with(client, g, access).await
    }

    /// The `aud` (`None`: the client's) and scopes of a user grant's access token: those
    /// of its resources (RFC 8707 §2.2, [`crate::resource_indicator::target`]).
    fn user_target(&self, g: &UserGrant<'_>) -> (Option<Vec<String>>, Vec<String>) {
        match crate::resource_indicator::target(&self.config.resources, g.resources, g.scopes) {
            Some((aud, scopes)) => (Some(aud), scopes),
            None => (None, g.scopes.to_vec()),
        }
    }

    /// Like [`user_tokens`](Self::user_tokens), with the access token (and its record)
    /// already minted: the ID token's `at_hash` is computed over it.
    pub async fn user_tokens_with(
        &self,
        client: &Client,
        g: UserGrant<'_>,
        (access_token, handle): (String, Option<Write>),
    ) -> Result<Issued, OAuthError> {
        let mut writes = Vec::with_capacity(2);
        writes.extend(handle);
        let mut body = serde_json::Map::new();
        body.insert("token_type".into(), self.token_type().into());
        body.insert(
            "expires_in".into(),
            self.access_ttl(client).whole_seconds().into(),
        );
        // Always sent: with resource indicators the access token's scopes may be fewer than
        // those granted (RFC 6749 §5.1: then `scope` is required), even none.
        body.insert("scope".into(), self.user_target(&g).1.join(" ").into());
        if let Some(details) = crate::authorization_details::to_json(g.authorization_details) {
            // RFC 9396 §7: the granted details, in the token response.
            body.insert("authorization_details".into(), details);
        }
        if let Some((user_claims, nonce)) = g.id_token {
            let alg = self.alg_for(client);
            let subject = crate::pairwise::subject_for(self.config, client, g.subject);
            let claims = id_token::claims(
                user_claims,
                &id_token::Binding {
                    issuer: &self.config.issuer,
                    subject: &subject,
                    client_id: &client.id,
                    now: self.now,
                    ttl: self.config.id_token_ttl,
                    auth_time: g.auth_time,
                    nonce,
                    at_hash: Some(crypto::left_half_hash(alg, &access_token)),
                    sid: g.sid,
                },
            );
            let id_token = jwt::sign(self.keys, alg, id_token::TYP, &claims).await?;
            body.insert("id_token".into(), id_token.into());
        }
        body.insert("access_token".into(), access_token.into());
        let mut refresh_id = None;
        let refresh_expiry = refresh_token::expiry(
            self.now,
            g.auth_time,
            client
                .refresh_token_ttl
                .unwrap_or(self.config.refresh_token_ttl),
            self.refresh_absolute_ttl(client),
        );
        if let (true, Some(expires_at)) = (g.refresh, refresh_expiry) {
            let token = crypto::random_token();
            let id = secret_id(&token);
            let record = RefreshRecord {
                client_id: client.id.clone(),
                subject: g.subject.to_owned(),
                scopes: g.refresh_scopes.to_vec(),
                auth_time: g.auth_time,
                iat: self.now.unix_timestamp(),
                sid: g.sid.map(str::to_owned),
                resources: g.refresh_resources.to_vec(),
                authorization_details: g.authorization_details.to_vec(),
                // RFC 9449 §5: a public client's refresh token is bound to its DPoP key;
                // a confidential client's is bound by its authentication instead.
                jkt: self
                    .jkt
                    .filter(|_| !client.is_confidential())
                    .map(str::to_owned),
                claims: g.claims.cloned().unwrap_or_default(),
            };
            writes.push(Write::new(
                id.clone(),
                &record,
                Some(g.grant_id),
                expires_at,
            ));
            body.insert("refresh_token".into(), token.into());
            refresh_id = Some(id);
        }
        Ok(Issued {
            body,
            writes,
            refresh_id,
        })
    }
}

/// The claim names a user grant's `claims` parameter requests from userinfo (OIDC Core
/// §5.5).
fn userinfo_names(g: &UserGrant<'_>) -> Vec<String> {
    g.claims
        .map(|c| c.userinfo.keys().cloned().collect())
        .unwrap_or_default()
}
