//! A [`UserStore`] for tests: fixed users with claims and passwords, removable while a
//! test runs (to check that tokens for a removed user are refused), and able to fail on
//! demand (to check that a user-store outage answers `server_error` and loses nothing).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use serde_json::json;

use crate::crypto;
use crate::store::StoreError;
use crate::users::{Claims, UserStore};

#[derive(Debug, Clone)]
struct TestUser {
    /// The login name (the subject unless set with [`TestUsers::login`]).
    username: String,
    password: Option<String>,
    claims: Claims,
}

/// Users for tests. [`TestUsers::demo`] holds the demo fixture `alice` / `wonderland`
/// ("Alice Liddell", alice@example.com, verified).
#[derive(Debug, Default)]
pub struct TestUsers {
    users: Mutex<HashMap<String, TestUser>>,
    failing: AtomicBool,
}

impl TestUsers {
    /// No users: every subject is unknown.
    pub fn none() -> Self {
        Self::default()
    }

    /// The demo user `alice` / `wonderland`.
    pub fn demo() -> Self {
        let mut claims = Claims::new();
        claims.insert("name".into(), json!("Alice Liddell"));
        claims.insert("email".into(), json!("alice@example.com"));
        claims.insert("email_verified".into(), json!(true));
        Self::none().with("alice", Some("wonderland"), claims)
    }

    /// Adds (or replaces) a user.
    pub fn with(self, subject: &str, password: Option<&str>, claims: Claims) -> Self {
        self.insert(subject, password, claims);
        self
    }

    /// A single user `subject` with no claims, who logs in as `username` / `password`.
    pub fn one(subject: &str, username: &str, password: &str) -> Self {
        let u = Self::none().with(subject, Some(password), Claims::new());
        u.login(subject, username);
        u
    }

    /// Adds (or replaces) a user while the test runs; it logs in with its subject as
    /// username.
    pub fn insert(&self, subject: &str, password: Option<&str>, claims: Claims) {
        self.lock().insert(
            subject.to_owned(),
            TestUser {
                username: subject.to_owned(),
                password: password.map(str::to_owned),
                claims,
            },
        );
    }

    /// Lets `subject` log in as `username`.
    pub fn login(&self, subject: &str, username: &str) {
        if let Some(u) = self.lock().get_mut(subject) {
            u.username = username.to_owned();
        }
    }

    /// Removes a user: from now on the store answers `None` for it.
    pub fn remove(&self, subject: &str) {
        self.lock().remove(subject);
    }

    /// Makes every call fail with a backend error (`true`) or succeed again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TestUser>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::backend("the test user store is failing"));
        }
        Ok(())
    }
}

#[async_trait]
impl UserStore for TestUsers {
    async fn claims(&self, subject: &str, _: &[String]) -> Result<Option<Claims>, StoreError> {
        self.check()?;
        Ok(self.lock().get(subject).map(|u| u.claims.clone()))
    }

    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<String>, StoreError> {
        self.check()?;
        let users = self.lock();
        Ok(users
            .iter()
            .find(|(_, u)| u.username == username)
            .and_then(|(subject, u)| {
                let stored = u.password.as_deref()?;
                crypto::constant_time_eq(stored.as_bytes(), password.as_bytes())
                    .then(|| subject.clone())
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn demo_users_authenticate_and_can_be_removed() {
        let u = TestUsers::demo();
        assert_eq!(
            u.authenticate("alice", "wonderland").await.expect("ok"),
            Some("alice".into())
        );
        assert_eq!(
            u.authenticate("alice", "Wonderland").await.expect("ok"),
            None
        );
        assert_eq!(u.authenticate("bob", "wonderland").await.expect("ok"), None);
        let c = u.claims("alice", &[]).await.expect("ok").expect("alice");
        assert_eq!(c["email"], "alice@example.com");
        u.remove("alice");
        assert!(u.claims("alice", &[]).await.expect("ok").is_none());
        u.set_failing(true);
        assert!(u.claims("alice", &[]).await.is_err());
        let one = TestUsers::one("u1", "user", "pw");
        assert_eq!(
            one.authenticate("user", "pw").await.expect("ok"),
            Some("u1".into())
        );
        assert_eq!(one.authenticate("u1", "pw").await.expect("ok"), None);
    }
}
