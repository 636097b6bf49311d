//! A provider for the grants' flow unit tests: the memory store, a manual clock, one ES256
//! key, a user `alice`, and two first-party clients (`web` may refresh, `no-refresh` may
//! not). The in-crate counterpart of `core/tests/support`, small enough for unit tests of
//! what the sync `check`s do not cover (the `Grant` impls).

use std::sync::Arc;

use serde_json::Value;

use crate::algorithm::Algorithm;
use crate::client::{Client, GrantType, StaticClients};
use crate::clock::ManualClock;
use crate::http_types::{Method, Params, Request, parse_cookies};
use crate::interaction::{Authorization, InteractionOutcome};
use crate::jose::signing::SigningKey;
use crate::keys::{KeyState, LocalKeys};
use crate::provider::{Provider, ProviderBuilder};
use crate::store::MemoryGrantStore;
use crate::users::{Claims, UserStore};

pub(crate) const CB: &str = "https://app.example/cb";

struct Alice;

#[async_trait::async_trait]
impl UserStore for Alice {
    async fn claims(
        &self,
        subject: &str,
        _: &[String],
    ) -> Result<Option<Claims>, crate::store::StoreError> {
        Ok((subject == "alice").then(Claims::new))
    }
}

pub(crate) struct Env {
    pub provider: Provider,
    pub clock: Arc<ManualClock>,
}

pub(crate) fn env(f: impl FnOnce(ProviderBuilder) -> ProviderBuilder) -> Env {
    let client = |id: &str, grants: &[GrantType]| {
        Client::confidential(id, "s")
            .redirect_uri(CB)
            .grant_types(grants.iter().copied())
            .scopes(["openid", "offline_access", "api:read"])
            .first_party(true)
            .build()
            .expect("client")
    };
    let clients = [
        client(
            "web",
            &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        ),
        client("no-refresh", &[GrantType::AuthorizationCode]),
    ];
    let key = SigningKey::generate(Algorithm::ES256).expect("key").0;
    let clock = Arc::new(ManualClock::starting_now());
    let b = Provider::builder("https://idp.example")
        .grant_store(MemoryGrantStore::new())
        .keys(LocalKeys::new(vec![(key, KeyState::Active)]).expect("keys"))
        .clients(StaticClients::new(clients).expect("clients"))
        .users(Alice)
        .clock(clock.clone())
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends();
    Env {
        provider: f(b).build().expect("provider"),
        clock,
    }
}

impl Env {
    /// A code for `alice` at `client_id` with `scope`, through the authorization endpoint
    /// and a login.
    pub async fn code(&self, client_id: &str, scope: &str) -> String {
        let mut req = Request::new(Method::Get);
        req.params = Params::from_pairs([
            ("client_id", client_id),
            ("redirect_uri", CB),
            ("response_type", "code"),
            ("scope", scope),
        ]);
        let Authorization::Interaction(pending) = self.provider.authorize(&req).await else {
            panic!("a login is needed")
        };
        let cookie = pending.response.header_value("set-cookie").expect("cookie");
        req.cookies = parse_cookies(cookie.split(';').next().unwrap_or_default()).collect();
        let login = InteractionOutcome::Login {
            subject: "alice".into(),
        };
        let Ok(Authorization::Respond(r)) = self
            .provider
            .finish_interaction(&pending.id, &req, login)
            .await
        else {
            panic!("the login ends with the redirect")
        };
        let location = r.header_value("location").expect("location");
        let query = location.split_once('?').expect("query").1;
        Params::parse(query.as_bytes())
            .get("code")
            .expect("one code")
            .expect("a code")
            .to_owned()
    }

    /// The code exchange of `code` by `client_id`.
    pub async fn exchange(&self, client_id: &str, code: &str) -> (u16, Value) {
        let pairs = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
        ];
        self.token(client_id, &pairs).await
    }

    /// A token request by `client_id` (client_secret_post), its status and JSON body.
    pub async fn token(&self, client_id: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let mut r = Request::new(Method::Post);
        r.params = Params::from_pairs(pairs.iter().copied());
        r.params.extend(Params::from_pairs([
            ("client_id", client_id),
            ("client_secret", "s"),
        ]));
        let resp = self.provider.token(&r).await;
        (resp.status, resp.json_value())
    }
}
