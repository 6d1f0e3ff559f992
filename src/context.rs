//! What every call needs: storage, password hashing, keys, token settings, the clock, the
//! authenticator and the mailer, built once from the settings and shared.

use std::sync::Arc;

use chrono::TimeDelta;

use crate::auth::{Authenticator, Keyring, SystemAuthenticator, TokenSettings};
use crate::clock::{Clock, SystemClock};
use crate::config::{PasswordReset, Settings};
use crate::domain::{CodeKey, ids::random_hex};
use crate::domain::{PasswordHasher, QueryGate};
use crate::error::{Error, Result};
use crate::mail::Mailer;
use crate::store;
use crate::store::Store;

/// The service's shared state.
pub struct Context {
    /// The database.
    pub store: Store,
    /// bcrypt, off the async workers.
    pub hasher: PasswordHasher,
    /// Per-domain signing keys.
    pub keys: Arc<Keyring>,
    /// Token lifetimes.
    pub tokens: TokenSettings,
    /// Turns tokens into callers.
    pub auth: Authenticator,
    /// Turns system tokens into system callers.
    pub system_auth: SystemAuthenticator,
    /// What expiry is decided against.
    pub clock: Arc<dyn Clock>,
    /// Sends codes, links and passwords to users.
    pub mailer: Mailer,
    /// How one-time codes are hashed and how long they live.
    pub codes: CodeSettings,
    /// Shares of the database pool for member queries.
    pub queries: QueryGate,
}

/// How one-time codes are hashed and how long they live.
#[derive(Debug, Clone)]
pub struct CodeSettings {
    /// The key of their hashes.
    pub key: CodeKey,
    /// E-mail verification codes.
    pub email_ttl: TimeDelta,
    /// MFA codes.
    pub mfa_ttl: TimeDelta,
    /// What a password reset mails.
    pub reset: PasswordReset,
    /// Password reset links.
    pub reset_ttl: TimeDelta,
    /// Where reset links point.
    pub console_url: String,
}

impl Context {
    /// Connects to the database, applies migrations and builds the rest on the system clock.
    pub async fn open(settings: &Settings) -> Result<Arc<Self>> {
        Self::open_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Closes the database pool: waits at most `within` for connections in use to come
    /// back, then leaves them to be closed with the process. Returns how many were still in
    /// use then.
    pub async fn close(&self, within: std::time::Duration) -> Result<u32> {
        self.store.clone().close(within).await
    }

    /// Writes the heartbeat row: whether the database can be written now (health's check).
    pub async fn heartbeat(&self) -> Result<()> {
        self.store.heartbeat().await
    }

    /// The pool's connections, for the metrics endpoint.
    pub fn pool_usage(&self) -> crate::store::PoolUsage {
        self.store.pool_usage()
    }

    /// The same on another clock (tests move theirs).
    pub async fn open_with_clock(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Arc<Self>> {
        // Checked first: a malformed mail setting should stop start-up before any migration.
        let mailer = Mailer::from_settings(settings)?;
        Store::migrate(&settings.database_url).await?;
        let store = Store::connect(
            &settings.database_url,
            settings.db_max_connections(),
            settings.statement_timeout(),
        )
        .await?;
        let keys = Arc::new(Keyring::new(store.clone(), settings.key_cache_ttl()));
        let code_key = match settings.secret_key.as_deref().filter(|key| !key.is_empty()) {
            Some(secret) => CodeKey::new(secret.as_bytes()).map_err(|_| {
                Error::Config(
                    "SPACEID_SECRET_KEY (--secret-key) must have at least 32 characters".into(),
                )
            })?,
            None => CodeKey::new(
                store::secrets::get_or_create(&store, "code_key", || random_hex(32))
                    .await?
                    .as_bytes(),
            )?,
        };
        Ok(Arc::new(Self {
            codes: CodeSettings {
                key: code_key,
                email_ttl: TimeDelta::seconds(
                    i64::try_from(settings.email_code_ttl.max(1)).unwrap_or(i64::MAX / 1000),
                ),
                reset: settings.password_reset,
                reset_ttl: TimeDelta::seconds(
                    i64::try_from(settings.reset_link_ttl).unwrap_or(86_400),
                ),
                console_url: settings.console_url.trim_end_matches('/').to_owned(),
                mfa_ttl: TimeDelta::seconds(
                    i64::try_from(settings.mfa_code_ttl.max(1)).unwrap_or(i64::MAX / 1000),
                ),
            },
            hasher: PasswordHasher::new(
                settings.bcrypt_cost,
                settings.bcrypt_concurrency(),
                settings.bcrypt_queue,
            )?,
            auth: Authenticator::new(store.clone(), keys.clone(), clock.clone()),
            system_auth: SystemAuthenticator::new(store.clone(), clock.clone()),
            clock,
            tokens: TokenSettings {
                access_timeout: settings.access_token_timeout,
            },
            keys,
            store,
            mailer,
            queries: QueryGate::new(settings.db_max_connections()),
        }))
    }
}
