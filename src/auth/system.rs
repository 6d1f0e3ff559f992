//! System callers: other services (and `spacectl`) presenting a system token. A
//! `SystemCaller` can only be built by `SystemAuthenticator`, and it is a type of its own,
//! so a system token never stands in for a user (`Principal`) nor a user's token for a
//! system caller.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Instant,
};

use tokio::sync::{Mutex, Semaphore};
use tonic::metadata::MetadataMap;

use super::keys::{KeyMaterial, MISS_RELOAD_INTERVAL, MISS_WAITERS, material};
use super::principal::TOKEN_METADATA_KEY;
use super::{Claims, TokenKind, jwt};
use crate::clock::Clock;
use crate::domain::{DomainId, SystemToken};
use crate::error::{Error, Result};
use crate::store::{self, Store};

/// What every token that is not a good system token hears, whatever was wrong with it.
const NOT_A_SYSTEM_TOKEN: &str = "the token is not a valid system token";

/// A verified system caller: a system token that is signed with a root key, unexpired, and
/// not revoked as of this call.
#[derive(Debug, Clone)]
pub struct SystemCaller {
    token: SystemToken,
}

impl SystemCaller {
    /// The token's `jti`.
    pub fn jti(&self) -> &str {
        &self.token.jti
    }

    /// The name the token was made for (its `aud`).
    pub fn name(&self) -> &str {
        &self.token.name
    }
}

/// Turns system tokens into `SystemCaller`s: checks the signature with the root key the
/// token names, the claims, and then the token's row in the database on every call, so a
/// revocation holds at once on every replica.
pub struct SystemAuthenticator {
    store: Store,
    clock: Arc<dyn Clock>,
    keys: RwLock<HashMap<String, Arc<KeyMaterial>>>,
    /// When the root keys were last read for a key id not in memory.
    last_load: Mutex<Option<Instant>>,
    /// Calls that may wait for that read.
    miss_waiters: Semaphore,
}

impl SystemAuthenticator {
    /// An authenticator reading root keys and tokens from `store`, deciding expiry by
    /// `clock`.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            keys: RwLock::new(HashMap::new()),
            last_load: Mutex::new(None),
            miss_waiters: Semaphore::new(MISS_WAITERS),
        }
    }

    /// The system caller of a request, from the token in its `token` metadata (what
    /// spaceone-core's `SpaceConnector` sends).
    pub async fn authenticate(&self, metadata: &MetadataMap) -> Result<SystemCaller> {
        let token = metadata
            .get(TOKEN_METADATA_KEY)
            .ok_or_else(|| Error::authentication("the request has no token"))?
            .to_str()
            .map_err(|_| Error::authentication("the token is malformed"))?;
        let key_ref = jwt::unverified_key_ref(token)?;
        if !key_ref.domain_id.is_root() {
            return Err(Error::authentication(NOT_A_SYSTEM_TOKEN));
        }
        let key = self
            .root_key(&key_ref.kid)
            .await?
            .ok_or_else(|| Error::authentication(NOT_A_SYSTEM_TOKEN))?;
        let now = self.clock.now();
        let claims =
            jwt::verify(&key, token, TokenKind::System, now.timestamp()).map_err(|error| {
                match error {
                    Error::Authentication(reason) if reason != jwt::BAD_SIGNATURE => {
                        Error::Authentication(reason)
                    }
                    _ => Error::authentication(NOT_A_SYSTEM_TOKEN),
                }
            })?;
        // Every claim is named, so a claim added to `Claims` is a decision here too.
        let Claims {
            iss: _,
            typ: _,
            own,
            did,
            aud: _,
            jti,
            iat: _,
            exp: _,
            ver: _,
            rol,
            wid,
            permissions: _,
            injected_params: _,
            nbf: _,
            acc,
            cvr,
        } = claims;
        if own != jwt::SYSTEM_OWNER
            || !did.is_root()
            || rol.as_deref() != Some(jwt::SYSTEM_ROLE)
            || wid.is_some()
            || acc.is_some()
            || cvr.is_some()
        {
            return Err(Error::authentication(NOT_A_SYSTEM_TOKEN));
        }
        let token = store::system_tokens::get(&self.store, &jti)
            .await?
            .ok_or_else(|| Error::authentication(NOT_A_SYSTEM_TOKEN))?;
        if token.revoked_at.is_some() {
            return Err(Error::authentication("the system token was revoked"));
        }
        if !token.is_valid_at(now) {
            return Err(Error::authentication("the token has expired"));
        }
        Ok(SystemCaller { token })
    }

    /// The root key `kid`, from memory or, when it is not there, from the database: the
    /// root keys are read again at most once per `MISS_RELOAD_INTERVAL`, a miss waiting for
    /// the next read allowed while fewer than `MISS_WAITERS` calls wait (more are refused at
    /// once), so a key made a moment ago is found and made-up key ids cost no query each.
    async fn root_key(&self, kid: &str) -> Result<Option<Arc<KeyMaterial>>> {
        if let Some(key) = self.cached(kid) {
            return Ok(Some(key));
        }
        let asked_at = Instant::now();
        let Ok(_waiting) = self.miss_waiters.try_acquire() else {
            return Ok(None);
        };
        let mut last_load = self.last_load.lock().await;
        if last_load.is_some_and(|at| at >= asked_at) {
            return Ok(self.cached(kid));
        }
        if let Some(at) = *last_load {
            tokio::time::sleep_until((at + MISS_RELOAD_INTERVAL).into()).await;
        }
        *last_load = Some(Instant::now());
        let mut loaded = HashMap::new();
        for stored in store::system_tokens::keys(&self.store).await? {
            match material(&stored, &DomainId::root()) {
                Ok(key) => {
                    loaded.insert(stored.kid.clone(), Arc::new(key));
                }
                Err(error) => {
                    tracing::error!(kid = %stored.kid, %error, "root key cannot be read");
                }
            }
        }
        let found = loaded.get(kid).cloned();
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = loaded;
        Ok(found)
    }

    fn cached(&self, kid: &str) -> Option<Arc<KeyMaterial>> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(kid)
            .cloned()
    }
}
