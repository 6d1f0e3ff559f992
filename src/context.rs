//! What every call needs: storage, password hashing, keys, token settings and the
//! authenticator, built once from the settings and shared.

use std::sync::Arc;

use crate::auth::{Authenticator, Keyring, TokenSettings};
use crate::config::Settings;
use crate::domain::PasswordHasher;
use crate::error::Result;
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
}

impl Context {
    /// Connects to the database, applies migrations and builds the rest.
    pub async fn open(settings: &Settings) -> Result<Arc<Self>> {
        let store = Store::connect(&settings.database_url, settings.db_max_connections).await?;
        store.migrate().await?;
        Self::with_store(settings, store)
    }

    /// Builds the context on an open, migrated store.
    pub fn with_store(settings: &Settings, store: Store) -> Result<Arc<Self>> {
        let keys = Arc::new(Keyring::new(store.clone()));
        Ok(Arc::new(Self {
            hasher: PasswordHasher::new(settings.bcrypt_cost, settings.bcrypt_concurrency())?,
            auth: Authenticator::new(store.clone(), keys.clone()),
            tokens: TokenSettings {
                access_timeout: settings.access_token_timeout,
            },
            keys,
            store,
        }))
    }
}
