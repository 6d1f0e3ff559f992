//! One-time codes. A user has at most one live code per purpose: issuing a new one removes
//! the old. Consuming is a single conditional update, so a code is used at most once even
//! when two requests race.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};
use tracing::instrument;

use super::{Executor, Tx, conn, entities::code};
use crate::domain::OneTimeCode;
use crate::error::Result;

/// Stores a new code, replacing the user's earlier codes of the same purpose.
#[instrument(skip(tx, code), fields(code_id = %code.code_id, purpose = %code.purpose))]
pub async fn replace(tx: &Tx, code: &OneTimeCode) -> Result<()> {
    code::Entity::delete_many()
        .filter(code::Column::DomainId.eq(&code.domain_id))
        .filter(code::Column::UserId.eq(&code.user_id))
        .filter(code::Column::Purpose.eq(&code.purpose))
        .exec(conn(tx))
        .await?;
    let row = code::ActiveModel {
        code_id: Set(code.code_id.clone()),
        domain_id: Set(code.domain_id.clone()),
        user_id: Set(code.user_id.clone()),
        purpose: Set(code.purpose.clone()),
        code_hash: Set(code.code_hash.clone()),
        payload: Set(code.payload.clone()),
        attempts: Set(code.attempts),
        expires_at: Set(code.expires_at),
        consumed_at: Set(None),
        created_at: Set(code.created_at),
    };
    code::Entity::insert(row)
        .exec_without_returning(conn(tx))
        .await?;
    Ok(())
}

/// The user's newest unconsumed, unexpired code for `purpose`, if any.
#[instrument(skip(db))]
pub async fn live(
    db: &impl Executor,
    domain_id: &str,
    user_id: &str,
    purpose: &str,
    now: DateTime<Utc>,
) -> Result<Option<OneTimeCode>> {
    let row = code::Entity::find()
        .filter(code::Column::DomainId.eq(domain_id))
        .filter(code::Column::UserId.eq(user_id))
        .filter(code::Column::Purpose.eq(purpose))
        .filter(code::Column::ConsumedAt.is_null())
        .filter(code::Column::ExpiresAt.gt(now))
        .order_by_desc(code::Column::CreatedAt)
        .one(conn(db))
        .await?;
    Ok(row.map(|row| OneTimeCode {
        code_id: row.code_id,
        domain_id: row.domain_id,
        user_id: row.user_id,
        purpose: row.purpose,
        code_hash: row.code_hash,
        payload: row.payload,
        attempts: row.attempts,
        expires_at: row.expires_at,
        created_at: row.created_at,
    }))
}

/// Counts a wrong guess against a code; returns the attempts made so far.
#[instrument(skip(db))]
pub async fn record_failed_attempt(db: &impl Executor, code_id: &str) -> Result<i32> {
    code::Entity::update_many()
        .col_expr(
            code::Column::Attempts,
            Expr::col(code::Column::Attempts).add(1),
        )
        .filter(code::Column::CodeId.eq(code_id))
        .exec(conn(db))
        .await?;
    let attempts = code::Entity::find_by_id(code_id)
        .one(conn(db))
        .await?
        .map_or(i32::MAX, |row| row.attempts);
    Ok(attempts)
}

/// Marks a code used. Returns false when it was already used (or is gone), so only one of
/// two racing requests can succeed.
#[instrument(skip(db))]
pub async fn consume(db: &impl Executor, code_id: &str, now: DateTime<Utc>) -> Result<bool> {
    let result = code::Entity::update_many()
        .col_expr(code::Column::ConsumedAt, Expr::value(now))
        .filter(code::Column::CodeId.eq(code_id))
        .filter(code::Column::ConsumedAt.is_null())
        .exec(conn(db))
        .await?;
    Ok(result.rows_affected == 1)
}
