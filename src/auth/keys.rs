//! Per-domain RSA key pairs: one signs access tokens and is published as a JWK; the other
//! signs refresh tokens and is never published, so a refresh token can never pass as an
//! access token at a service that only checks signatures.

use std::{collections::HashMap, sync::Arc};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::{
    RsaPrivateKey,
    pkcs8::{EncodePrivateKey, LineEnding},
    traits::PublicKeyParts,
};
use tokio::sync::RwLock;

use crate::domain::{KeyPurpose, SigningKey, ids};
use crate::error::{Error, Result};
use crate::store::{self, Store};

/// RSA modulus size of new keys.
const RSA_BITS: usize = 2048;

/// One key pair ready to sign and verify.
pub struct KeyMaterial {
    /// Key id, sent in the JWT header.
    pub kid: String,
    /// Signs tokens.
    pub encoding: EncodingKey,
    /// Verifies tokens.
    pub decoding: DecodingKey,
    /// The public key as a bare JWK.
    pub public_jwk: serde_json::Value,
}

/// A domain's two key pairs.
pub struct DomainKeys {
    /// Signs access tokens; published.
    pub access: KeyMaterial,
    /// Signs refresh tokens; never published.
    pub refresh: KeyMaterial,
}

/// Loads domains' keys from storage once and keeps them in memory.
pub struct Keyring {
    store: Store,
    cache: RwLock<HashMap<String, Arc<DomainKeys>>>,
}

impl Keyring {
    /// A keyring reading from `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The domain's keys; `None` for a domain that does not exist.
    pub async fn for_domain(&self, domain_id: &str) -> Result<Option<Arc<DomainKeys>>> {
        if let Some(keys) = self.cache.read().await.get(domain_id) {
            return Ok(Some(keys.clone()));
        }
        let stored = store::keys::for_domain(self.store.db(), domain_id).await?;
        let newest = |purpose| stored.iter().find(|key| key.purpose == purpose);
        let (Some(access), Some(refresh)) =
            (newest(KeyPurpose::Access), newest(KeyPurpose::Refresh))
        else {
            return Ok(None);
        };
        let keys = Arc::new(DomainKeys {
            access: material(access)?,
            refresh: material(refresh)?,
        });
        self.cache
            .write()
            .await
            .insert(domain_id.to_owned(), keys.clone());
        Ok(Some(keys))
    }

    /// The keys of a domain that must have them (its users exist); their absence is a fault.
    pub async fn signing_keys(&self, domain_id: &str) -> Result<Arc<DomainKeys>> {
        self.for_domain(domain_id)
            .await?
            .ok_or_else(|| Error::internal(format!("domain {domain_id} has no signing keys")))
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

fn material(key: &SigningKey) -> Result<KeyMaterial> {
    let component = |name: &str| {
        key.public_jwk
            .get(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::internal(format!("stored JWK {} lacks {name}", key.kid)))
    };
    Ok(KeyMaterial {
        kid: key.kid.clone(),
        encoding: EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).map_err(Error::internal)?,
        decoding: DecodingKey::from_rsa_components(component("n")?, component("e")?)
            .map_err(Error::internal)?,
        public_jwk: key.public_jwk.clone(),
    })
}
