//! System tokens and the root keys that sign them. A token's row is read on every use, so
//! a revocation holds on every replica from the moment it commits. Root keys, like domain
//! keys, never change once stored.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};
use tracing::instrument;

use super::{
    Executor, conn,
    entities::{system_key, system_token},
};
use crate::domain::{KeyPurpose, SigningKey, SystemToken};
use crate::error::Result;

/// Stores a root key pair.
#[instrument(skip(db, key), fields(kid = %key.kid))]
pub async fn insert_key(db: &impl Executor, key: &SigningKey, now: DateTime<Utc>) -> Result<()> {
    let row = system_key::ActiveModel {
        kid: Set(key.kid.clone()),
        private_pem: Set(key.private_pem.clone()),
        public_jwk: Set(key.public_jwk.clone()),
        created_at: Set(now),
    };
    system_key::Entity::insert(row)
        .exec_without_returning(conn(db))
        .await?;
    Ok(())
}

/// The newest root key pair, the one that signs new system tokens, if there is one.
#[instrument(skip(db))]
pub async fn newest_key(db: &impl Executor) -> Result<Option<SigningKey>> {
    let row = system_key::Entity::find()
        .order_by_desc(system_key::Column::CreatedAt)
        .order_by_desc(system_key::Column::Kid)
        .one(conn(db))
        .await?;
    Ok(row.map(root_key))
}

/// Every root key pair.
#[instrument(skip(db))]
pub async fn keys(db: &impl Executor) -> Result<Vec<SigningKey>> {
    let rows = system_key::Entity::find().all(conn(db)).await?;
    Ok(rows.into_iter().map(root_key).collect())
}

fn root_key(row: system_key::Model) -> SigningKey {
    SigningKey {
        kid: row.kid,
        purpose: KeyPurpose::System,
        private_pem: row.private_pem,
        public_jwk: row.public_jwk,
    }
}

/// Records an issued token, signed with the root key `kid`.
#[instrument(skip(db, token), fields(jti = %token.jti))]
pub async fn insert(db: &impl Executor, token: &SystemToken, kid: &str) -> Result<()> {
    let row = system_token::ActiveModel {
        jti: Set(token.jti.clone()),
        name: Set(token.name.clone()),
        kid: Set(kid.to_owned()),
        created_at: Set(token.created_at),
        expires_at: Set(token.expires_at),
        revoked_at: Set(token.revoked_at),
    };
    system_token::Entity::insert(row)
        .exec_without_returning(conn(db))
        .await?;
    Ok(())
}

/// The token with this `jti`, revoked or not.
#[instrument(skip(db))]
pub async fn get(db: &impl Executor, jti: &str) -> Result<Option<SystemToken>> {
    let row = system_token::Entity::find_by_id(jti.to_owned())
        .one(conn(db))
        .await?;
    Ok(row.map(record))
}

/// Every token ever issued, oldest first.
#[instrument(skip(db))]
pub async fn list(db: &impl Executor) -> Result<Vec<SystemToken>> {
    let rows = system_token::Entity::find()
        .order_by_asc(system_token::Column::CreatedAt)
        .order_by_asc(system_token::Column::Jti)
        .all(conn(db))
        .await?;
    Ok(rows.into_iter().map(record).collect())
}

/// Revokes a token at `now`, unless it is revoked already (its first revocation stands).
/// Returns whether a token with this `jti` exists.
#[instrument(skip(db))]
pub async fn revoke(db: &impl Executor, jti: &str, now: DateTime<Utc>) -> Result<bool> {
    system_token::Entity::update_many()
        .col_expr(system_token::Column::RevokedAt, Expr::value(now))
        .filter(system_token::Column::Jti.eq(jti))
        .filter(system_token::Column::RevokedAt.is_null())
        .exec(conn(db))
        .await?;
    Ok(get(db, jti).await?.is_some())
}

fn record(row: system_token::Model) -> SystemToken {
    SystemToken {
        jti: row.jti,
        name: row.name,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }
}
