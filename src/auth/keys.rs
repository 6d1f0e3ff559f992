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

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{KeyPair, KeySize, PublicKeyComponents},
    signature::KeyPair as _,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use tokio::sync::{Mutex, Semaphore};

use crate::domain::{DomainId, KeyListing, KeyPurpose, SigningKey, ids};
use crate::error::{Error, Result};
use crate::store::{self, Store};

/// RSA modulus size of new keys.
const RSA_SIZE: KeySize = KeySize::Rsa2048;

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

/// A new key pair for `purpose`: the private key as PKCS#8 PEM and the public key as a JWK,
/// the forms every stored key has had. RSA generation is slow, so it runs on the blocking
/// pool.
pub async fn generate(purpose: KeyPurpose) -> Result<SigningKey> {
    tokio::task::spawn_blocking(move || {
        let pair = KeyPair::generate(RSA_SIZE).map_err(Error::internal)?;
        let pkcs8 = pair.as_der().map_err(Error::internal)?;
        let kid = ids::random_hex(16);
        let public_jwk = public_jwk(&kid, &PublicKeyComponents::from(pair.public_key()));
        Ok(SigningKey {
            kid,
            purpose,
            private_pem: private_pem(pkcs8.as_ref()),
            public_jwk,
        })
    })
    .await
    .map_err(Error::internal)?
}

/// A PKCS#8 private key (DER) as PEM: `PRIVATE KEY`, 64 columns, LF line ends.
fn private_pem(pkcs8: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new("PRIVATE KEY", pkcs8), config)
}

/// The bare JWK of an RSA public key, as `get_public_key` publishes it. `n` and `e` are
/// big-endian without leading zeros, as JWK (RFC 7518) asks.
fn public_jwk(kid: &str, public: &PublicKeyComponents<Vec<u8>>) -> serde_json::Value {
    serde_json::json!({
        "kty": "RSA",
        "alg": "RS256",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(&public.n),
        "e": URL_SAFE_NO_PAD.encode(&public.e),
    })
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

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, Header, Validation};

    use super::*;

    /// An access key made by the previous generator (the `rsa` crate's PKCS#8 PEM), as a
    /// database written before the switch to aws-lc-rs holds it. It signs nothing but the
    /// tokens of this test.
    const EARLIER_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDglxLhzmFYSBk2\n\
        w4ExXzl2IuIapyT8ImGpbjbtbGMHx60iCg4jXjzV5wFjl0Qvdwi8Iin+QnPvV9AG\n\
        +nAvG8hYBkpss8LdYyPf9a4n/zAoKwC9cT4QFkqJlOaKuHTCbUkeqdbK+3n0WedU\n\
        vmQy+nTjWyG/2Raa2qOfWWpzlDE5OrE/CMngQ7B4mMM7iN3PFgNROO075CLndE7M\n\
        0dUNk+Pnum8HFFtNZ4VgRQTh8/PubTVHK5YQ36HoVnTnXIzhz3Ut/sFbQ4ykWDuj\n\
        ajpCDUcCL9YJz3yDUyKUuuCQaFcr0og1w6pwFcaivocO/ZJxGv+0C/7wcjwhNrTg\n\
        OVFK8byFAgMBAAECggEAdG0ctr48LH3DxGX5NVT9/sX6nIKFY8eXBTRDeTU06TWU\n\
        BQ9dYOxbcS+9wpkKGekFODIlvs9INo05JETznxgx9Z/dORi/LfFVCabcz5M0rb4N\n\
        NifcWo6TuVrdYJBaxufMff7hgHx5Ljjk+UNxwhOgQLRffIrXcxNguxypWJ08H0Pa\n\
        1UEdaraQo8CAC1ovAG/J8YI2p1ExvaMiD+z1p5w2aTVbdcQsWNOgpf6/PC+yDe5D\n\
        nU2wI3j2eL0B2EJ4fRqnXCY7lCMOHzE3eKR3svSoKW7yRvJgcGPnse3vbTtuzS8/\n\
        b4UEVCmBAo5kH7eE5/Qrr/FuTHrYmvbw1X4kVI3tyQKBgQDiUs9x5lPXAY3JAZba\n\
        vKLerPz9o80CIHPcy5w1mus/qtyBZL8mse7Q5ayflZdf70MUp0d/gPZtWiW/zieo\n\
        AJ9wer4UTgIWflIxD1XFpnE9Ai3GVymSSRpa108I/Hq6+QYJFj6Ey/1+q/JtWk0G\n\
        cclyOCk3ha1RumyHSrkzxyY8swKBgQD+ChQo+SNo9mTQNhnHrNbryVIxj4BbNsHB\n\
        REuCFihwHSFogl8TYn2fM9B+Sv+P5oHPZg5lEeZEWfXacsRu+PHlF3VdLRg2R03N\n\
        Iz+o3HCB6gMWmdKDQtMKJ/yJkJ8MVQ2n9T6PBOC88Iwuk9Lq6hOKeBCLuV4VHMCn\n\
        tfg+C+St5wKBgE7Y6syTocHWGL9efl/WOCe7vKfg2RtUkwjpJpLGVg7oR8oMf0vL\n\
        0ZeVbH5sb0BM6uHXJWGWXEPclCoueEJfdSyKlo4cXz3W5GuTHB6vzeOjTq86zpDY\n\
        RwY+3JoU2+0ntKKVzVIWf0oSPXM7cno8SiIwzqs5NxiyCf1YWw1e5ENhAoGBAJVs\n\
        MDd5c06Fvv6JE9jS3QeLPwFPutvr9UNMfG1jwx1OxRvHs0yfnexKedQPIQrvNmNb\n\
        UBQ61wpVL7rxzoDHhOCPT8UihR9ICYcjuIoGP1bq4i4lBCGY6LEMnAn+Os7yKDom\n\
        kkllQRthEdNDt8fdLuk/fdvxiFk6tEbxTbaRIEz5AoGBAKUPv+I0bxnTM5+Upips\n\
        s379UB9lRnTURcgvk8WWHk7Ogz8wvwSiFhpGee3FhUzy6A5Rdeu0JoRY94iRQZQJ\n\
        zLxTLTOTzQjn82DWRTm8eeDq7e0MEsj365cVBQU4+r7lRjTqayJ0QQFYeBMd3U3r\n\
        GsF5OvKq6QcNVEgtgG3JycBT\n\
        -----END PRIVATE KEY-----\n";
    const EARLIER_KID: &str = "2b4deb1afb4f2c0ca8853fcd21e7542c";
    const EARLIER_N: &str = "4JcS4c5hWEgZNsOBMV85diLiGqck_CJhqW427WxjB8etIgoOI1481ecBY5dEL3cIvCIp_kJz71fQBvpwLxvIWAZKbLPC3WMj3_WuJ_8wKCsAvXE-EBZKiZTmirh0wm1JHqnWyvt59FnnVL5kMvp041shv9kWmtqjn1lqc5QxOTqxPwjJ4EOweJjDO4jdzxYDUTjtO-Qi53ROzNHVDZPj57pvBxRbTWeFYEUE4fPz7m01RyuWEN-h6FZ051yM4c91Lf7BW0OMpFg7o2o6Qg1HAi_WCc98g1MilLrgkGhXK9KINcOqcBXGor6HDv2ScRr_tAv-8HI8ITa04DlRSvG8hQ";

    fn earlier_key() -> SigningKey {
        SigningKey {
            kid: EARLIER_KID.to_owned(),
            purpose: KeyPurpose::Access,
            private_pem: EARLIER_PEM.to_owned(),
            public_jwk: serde_json::json!({
                "kty": "RSA", "alg": "RS256", "kid": EARLIER_KID, "n": EARLIER_N, "e": "AQAB",
            }),
        }
    }

    /// Signs a token with the key's private half and checks it with the public JWK.
    fn signs_and_verifies(key: &SigningKey) {
        let material = material(key, &DomainId::new("domain-1")).expect("stored key parses");
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.kid.clone());
        let claims = serde_json::json!({"sub": "user-1"});
        let token = jsonwebtoken::encode(&header, &claims, &material.encoding).expect("signs");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let decoded =
            jsonwebtoken::decode::<serde_json::Value>(&token, &material.decoding, &validation)
                .expect("the JWK verifies what the PEM signed");
        assert_eq!(decoded.claims, claims);
    }

    /// The DER of a PEM body.
    fn der(pem_text: &str) -> Vec<u8> {
        pem::parse(pem_text).expect("PEM").into_contents()
    }

    #[test]
    fn keys_made_by_the_previous_generator_still_sign_and_verify() {
        signs_and_verifies(&earlier_key());
    }

    #[tokio::test]
    async fn new_keys_are_stored_in_the_form_of_earlier_ones() {
        let key = generate(KeyPurpose::Refresh).await.expect("generates");
        signs_and_verifies(&key);

        let lines: Vec<&str> = key.private_pem.split_terminator('\n').collect();
        assert!(key.private_pem.ends_with("-----END PRIVATE KEY-----\n"));
        assert!(!key.private_pem.contains('\r'));
        assert_eq!(lines[0], "-----BEGIN PRIVATE KEY-----");
        let body = &lines[1..lines.len() - 1];
        assert!(body[..body.len() - 1].iter().all(|line| line.len() == 64));
        // PKCS#8 v1 with the rsaEncryption algorithm and its NULL parameters, the private
        // key in an OCTET STRING: the same bytes as the earlier key's, lengths aside.
        assert_eq!(der(&key.private_pem)[4..24], der(EARLIER_PEM)[4..24]);

        let earlier = earlier_key().public_jwk;
        let fields =
            |jwk: &serde_json::Value| jwk.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(fields(&key.public_jwk), fields(&earlier));
        assert_eq!(key.public_jwk["kty"], "RSA");
        assert_eq!(key.public_jwk["alg"], "RS256");
        assert_eq!(key.public_jwk["kid"], key.kid.as_str());
        assert_eq!(key.public_jwk["e"], "AQAB");
        let n = URL_SAFE_NO_PAD
            .decode(key.public_jwk["n"].as_str().unwrap())
            .expect("n is base64url without padding");
        assert_eq!(n.len(), 256, "a 2048-bit modulus without a leading zero");
        assert_ne!(n, URL_SAFE_NO_PAD.decode(EARLIER_N).unwrap());
    }
}
