//! What every call needs: storage, password hashing, keys, token settings, the clock, the
//! authenticator and the mailer, built once from the settings and shared.

use std::sync::Arc;

use crate::auth::{Authenticator, Keyring, TokenSettings};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::domain::PasswordHasher;
use crate::error::Result;
use crate::mail::Mailer;
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
    /// What expiry is decided against.
    pub clock: Arc<dyn Clock>,
    /// Sends codes, links and passwords to users.
    pub mailer: Mailer,
}

impl Context {
    /// Connects to the database, applies migrations and builds the rest on the system clock.
    pub async fn open(settings: &Settings) -> Result<Arc<Self>> {
        Self::open_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// The same on another clock (tests move theirs).
    pub async fn open_with_clock(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Arc<Self>> {
        // Checked first: a malformed mail setting should stop start-up before any migration.
        let mailer = Mailer::from_settings(settings)?;
        let store = Store::connect(&settings.database_url, settings.db_max_connections).await?;
        store.migrate().await?;
        let keys = Arc::new(Keyring::new(store.clone(), settings.key_cache_ttl()));
        Ok(Arc::new(Self {
            hasher: PasswordHasher::new(
                settings.bcrypt_cost,
                settings.bcrypt_concurrency(),
                settings.bcrypt_queue,
            )?,
            auth: Authenticator::new(store.clone(), keys.clone(), clock.clone()),
            clock,
            tokens: TokenSettings {
                access_timeout: settings.access_token_timeout,
            },
            keys,
            store,
            mailer,
        }))
    }
}
