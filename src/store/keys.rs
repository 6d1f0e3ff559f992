//! Per-domain signing keys. Keys never change once stored: a key id names the same key
//! for ever, so a process may keep what it has read.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use tracing::instrument;

use super::{Executor, conn, entities::signing_key};
use crate::domain::{DomainId, KeyListing, KeyPurpose, SigningKey};
use crate::error::Result;

/// Stores a key pair of a domain.
#[instrument(skip(db, key), fields(kid = %key.kid))]
pub async fn insert(
    db: &impl Executor,
    domain_id: &DomainId,
    key: &SigningKey,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let row = signing_key::ActiveModel {
        kid: Set(key.kid.clone()),
        domain_id: Set(domain_id.clone()),
        purpose: Set(key.purpose),
        private_pem: Set(key.private_pem.clone()),
        public_jwk: Set(key.public_jwk.clone()),
        created_at: Set(now),
    };
    signing_key::Entity::insert(row)
        .exec_without_returning(conn(db))
        .await?;
    Ok(())
}

/// Every key of every domain, without the key material: a few short columns a key.
#[instrument(skip(db))]
pub async fn listing(db: &impl Executor) -> Result<Vec<KeyListing>> {
    let rows: Vec<(String, DomainId, KeyPurpose, chrono::DateTime<chrono::Utc>)> =
        signing_key::Entity::find()
            .select_only()
            .columns([
                signing_key::Column::Kid,
                signing_key::Column::DomainId,
                signing_key::Column::Purpose,
                signing_key::Column::CreatedAt,
            ])
            .into_tuple()
            .all(conn(db))
            .await?;
    Ok(rows
        .into_iter()
        .map(|(kid, domain_id, purpose, created_at)| KeyListing {
            purpose,
            kid,
            domain_id,
            created_at,
        })
        .collect())
}

/// The keys with these ids (those that exist).
#[instrument(skip(db))]
pub async fn by_kids(db: &impl Executor, kids: &[String]) -> Result<Vec<SigningKey>> {
    if kids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = signing_key::Entity::find()
        .filter(signing_key::Column::Kid.is_in(kids.iter().cloned()))
        .all(conn(db))
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| SigningKey {
            purpose: row.purpose,
            kid: row.kid,
            private_pem: row.private_pem,
            public_jwk: row.public_jwk,
        })
        .collect())
}
