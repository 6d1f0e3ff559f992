//! Per-domain RSA key pairs: one signs access tokens and is published as a JWK; the other
//! signs refresh tokens and is never published, so a refresh token can never pass as an
//! access token at a service that only checks signatures.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::{
    RsaPrivateKey,
    pkcs8::{EncodePrivateKey, LineEnding},
    traits::PublicKeyParts,
};
use tokio::sync::{Mutex, Semaphore};

use crate::domain::{DomainId, KeyListing, KeyPurpose, SigningKey, ids};
use crate::error::{Error, Result};
use crate::store::{self, Store};

/// RSA modulus size of new keys.
const RSA_BITS: usize = 2048;

/// Reloads caused by a key id this process does not know happen at most this often, so a
/// flood of tokens naming made-up keys or domains costs at most one query a second.
pub const MISS_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Most calls that wait for a reload after a miss; more misses meanwhile are answered at
/// once (a key created within the last second may then be refused once, under a flood).
pub const MISS_WAITERS: usize = 8;

/// One key pair ready to sign and verify.
pub struct KeyMaterial {
    /// Key id, sent in the JWT header.
    pub kid: String,
    /// The domain whose tokens it signs.
    pub domain_id: DomainId,
    /// What it signs.
    pub purpose: KeyPurpose,
    /// Signs tokens.
    pub encoding: EncodingKey,
    /// Verifies tokens.
    pub decoding: DecodingKey,
    /// The public key as a bare JWK.
    pub public_jwk: serde_json::Value,
}

/// A domain's newest key pairs: the ones that sign new tokens.
#[derive(Clone)]
pub struct DomainKeys {
    /// Signs access tokens; published.
    pub access: Arc<KeyMaterial>,
    /// Signs refresh tokens; never published.
    pub refresh: Arc<KeyMaterial>,
}

/// What one load of the key listing found.
struct Index {
    loaded_at: Instant,
    by_kid: HashMap<String, Arc<KeyMaterial>>,
    newest: HashMap<DomainId, DomainKeys>,
}

/// Every domain's keys, by key id, as of a recent load of the key listing.
///
/// The listing (key ids, domains, purposes; no key material) is loaded whole and used for
/// `ttl`; a key is parsed once, when it first appears. A token naming a key id the listing
/// does not hold makes one reload, at most once per `MISS_RELOAD_INTERVAL` for the whole
/// process, so a key made by another process (a new domain, another replica) is found
/// within a second while made-up key ids cost no query each.
pub struct Keyring {
    store: Store,
    ttl: Duration,
    index: RwLock<Arc<Index>>,
    reload: Mutex<()>,
    miss_waiters: Semaphore,
    loads: AtomicU64,
}

impl Keyring {
    /// A keyring reading from `store`, reloading its listing when older than `ttl`.
    pub fn new(store: Store, ttl: Duration) -> Self {
        let now = Instant::now();
        let empty = Index {
            loaded_at: now.checked_sub(MISS_RELOAD_INTERVAL).unwrap_or(now),
            by_kid: HashMap::new(),
            newest: HashMap::new(),
        };
        Self {
            store,
            ttl,
            index: RwLock::new(Arc::new(empty)),
            reload: Mutex::new(()),
            miss_waiters: Semaphore::new(MISS_WAITERS),
            loads: AtomicU64::new(0),
        }
    }

    /// How many times the key listing has been loaded from the database.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// The key that verifies a token naming `kid`, if that key belongs to `domain_id` and
    /// signs tokens of `purpose`. Anything else is the same answer as a bad signature, so
    /// the reply tells nobody which domains or keys exist.
    pub async fn verification_key(
        &self,
        kid: &str,
        domain_id: &DomainId,
        purpose: KeyPurpose,
    ) -> Result<Arc<KeyMaterial>> {
        let key = self.find(|index| index.by_kid.get(kid).cloned()).await?;
        key.filter(|key| key.domain_id == *domain_id && key.purpose == purpose)
            .ok_or_else(|| Error::authentication(super::jwt::BAD_SIGNATURE))
    }

    /// The keys that sign a domain's new tokens. The domain has them (its users exist); a
    /// domain made by another process a moment ago may not be in this process's listing
    /// yet (a reload waits for its turn, at most `MISS_RELOAD_INTERVAL`), so their absence
    /// is UNAVAILABLE: the same call succeeds a second later.
    pub async fn signing_keys(&self, domain_id: &DomainId) -> Result<DomainKeys> {
        self.find(|index| index.newest.get(domain_id).cloned())
            .await?
            .ok_or(Error::Busy(
                "this domain's signing keys are not loaded here yet",
            ))
    }

    /// Looks `pick` up in the current listing, reloading it first when it is older than
    /// `ttl`, or when `pick` finds nothing in it (at most once per `MISS_RELOAD_INTERVAL`).
    /// A miss waits for the next reload allowed only while fewer than `MISS_WAITERS` calls
    /// are waiting; beyond that it is answered at once, so made-up key ids cannot hold the
    /// server's call slots.
    async fn find<T>(&self, pick: impl Fn(&Index) -> Option<T>) -> Result<Option<T>> {
        let asked_at = Instant::now();
        let index = self.current();
        let stale = index.loaded_at.elapsed() >= self.ttl;
        if !stale && let Some(found) = pick(&index) {
            return Ok(Some(found));
        }
        // A miss waits (for the reload in flight, or the next one allowed) only with a
        // waiter's permit; a stale listing is reloaded by whoever finds it so.
        let _waiting = if stale {
            None
        } else {
            match self.miss_waiters.try_acquire() {
                Ok(permit) => Some(permit),
                Err(_) => return Ok(None),
            }
        };
        let _single_flight = self.reload.lock().await;
        let index = self.current();
        if index.loaded_at < asked_at {
            if index.loaded_at.elapsed() < self.ttl {
                tokio::time::sleep_until((index.loaded_at + MISS_RELOAD_INTERVAL).into()).await;
            }
            if let Err(error) = self.load(&index).await {
                // The listing in memory still verifies every key it holds.
                tracing::warn!(%error, "cannot reload the signing key list; using the one in memory");
            }
        }
        Ok(pick(&self.current()))
    }

    fn current(&self) -> Arc<Index> {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Loads the key listing, parsing only keys the previous index did not hold.
    async fn load(&self, previous: &Index) -> Result<()> {
        let loaded_at = Instant::now();
        let mut listing = store::keys::listing(&self.store).await?;
        self.loads.fetch_add(1, Ordering::Relaxed);
        let unseen: Vec<String> = listing
            .iter()
            .filter(|key| !previous.by_kid.contains_key(&key.kid))
            .map(|key| key.kid.clone())
            .collect();
        let mut parsed: HashMap<String, SigningKey> = store::keys::by_kids(&self.store, &unseen)
            .await?
            .into_iter()
            .map(|key| (key.kid.clone(), key))
            .collect();
        // Newest first, so the first key of a purpose seen for a domain is the one that signs.
        listing.sort_by(|a, b| (b.created_at, &b.kid).cmp(&(a.created_at, &a.kid)));
        let mut by_kid = HashMap::with_capacity(listing.len());
        let mut newest_access: HashMap<DomainId, Arc<KeyMaterial>> = HashMap::new();
        let mut newest_refresh: HashMap<DomainId, Arc<KeyMaterial>> = HashMap::new();
        for KeyListing {
            kid,
            domain_id,
            purpose,
            created_at: _,
        } in listing
        {
            let key = match previous.by_kid.get(&kid) {
                Some(known) => known.clone(),
                None => match parsed
                    .remove(&kid)
                    .map(|stored| material(&stored, &domain_id))
                {
                    Some(Ok(material)) => Arc::new(material),
                    Some(Err(error)) => {
                        // One unreadable key must not take every domain's keys with it.
                        tracing::error!(%kid, %domain_id, %error, "signing key cannot be read");
                        continue;
                    }
                    // Stored after the listing was read; the next load finds it.
                    None => continue,
                },
            };
            let newest = match purpose {
                KeyPurpose::Access => &mut newest_access,
                KeyPurpose::Refresh => &mut newest_refresh,
                // Root keys live in a table of their own; a domain never holds one.
                KeyPurpose::System => continue,
            };
            newest.entry(domain_id).or_insert_with(|| key.clone());
            by_kid.insert(kid, key);
        }
        let newest = newest_access
            .into_iter()
            .filter_map(|(domain_id, access)| {
                let refresh = newest_refresh.remove(&domain_id)?;
                Some((domain_id, DomainKeys { access, refresh }))
            })
            .collect();
        let index = Index {
            loaded_at,
            by_kid,
            newest,
        };
        *self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(index);
        Ok(())
    }
}

/// A new key pair for `purpose`. RSA generation is slow, so it runs on the blocking pool.
pub async fn generate(purpose: KeyPurpose) -> Result<SigningKey> {
    tokio::task::spawn_blocking(move || {
        let private =
            RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS).map_err(Error::internal)?;
        let private_pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(Error::internal)?
            .to_string();
        let kid = ids::random_hex(16);
        let public = private.to_public_key();
        let public_jwk = serde_json::json!({
            "kty": "RSA",
            "alg": "RS256",
            "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        });
        Ok(SigningKey {
            kid,
            purpose,
            private_pem,
            public_jwk,
        })
    })
    .await
    .map_err(Error::internal)?
}

/// A stored key pair, parsed for signing and verifying the tokens of `domain_id`.
pub(crate) fn material(key: &SigningKey, domain_id: &DomainId) -> Result<KeyMaterial> {
    let component = |name: &str| {
        key.public_jwk
            .get(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::internal(format!("stored JWK {} lacks {name}", key.kid)))
    };
    Ok(KeyMaterial {
        kid: key.kid.clone(),
        domain_id: domain_id.clone(),
        purpose: key.purpose,
        encoding: EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).map_err(Error::internal)?,
        decoding: DecodingKey::from_rsa_components(component("n")?, component("e")?)
            .map_err(Error::internal)?,
        public_jwk: key.public_jwk.clone(),
    })
}
