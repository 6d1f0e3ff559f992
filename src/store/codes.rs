//! One-time codes, kept as keyed hashes: at most one row per user and purpose (a unique
//! index), replaced in place by a resend. A submission is counted by one atomic statement
//! before it is compared, so parallel guesses cannot all see a fresh count; using a code is
//! one conditional update, so a code is used at most once even when requests race.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr, sea_query::OnConflict,
};
use tracing::instrument;

use super::{Executor, conn, entities::code};
use crate::domain::{CodeId, CodeSlot, DomainId, MAX_CODE_ATTEMPTS, OneTimeCode, UserId};
use crate::error::Result;

/// The user's code for `purpose`, live or not.
#[instrument(skip(db))]
pub async fn get(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    purpose: CodeSlot,
) -> Result<Option<OneTimeCode>> {
    let row = code::Entity::find()
        .filter(code::Column::DomainId.eq(domain_id))
        .filter(code::Column::UserId.eq(user_id))
        .filter(code::Column::Purpose.eq(purpose))
        .one(conn(db))
        .await?;
    Ok(row.map(from_row))
}

/// Stores `code` as the user's code for its purpose, replacing the one before. Wrong tries
/// counted against a code that was still live carry over (`keep_attempts`); otherwise the
/// count starts again.
#[instrument(skip(db, code), fields(code_id = %code.code_id, purpose = code.purpose.as_str()))]
pub async fn replace(db: &impl Executor, code: &OneTimeCode, keep_attempts: bool) -> Result<()> {
    let row = code::ActiveModel {
        code_id: Set(code.code_id.clone()),
        domain_id: Set(code.domain_id.clone()),
        user_id: Set(code.user_id.clone()),
        purpose: Set(code.purpose),
        code_hash: Set(code.code_hash.clone()),
        payload: Set(code.payload.clone()),
        attempts: Set(0),
        expires_at: Set(code.expires_at),
        consumed_at: Set(None),
        created_at: Set(code.created_at),
    };
    let mut replaced = vec![
        code::Column::CodeId,
        code::Column::CodeHash,
        code::Column::Payload,
        code::Column::ExpiresAt,
        code::Column::ConsumedAt,
        code::Column::CreatedAt,
    ];
    if !keep_attempts {
        replaced.push(code::Column::Attempts);
    }
    code::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                code::Column::DomainId,
                code::Column::UserId,
                code::Column::Purpose,
            ])
            .update_columns(replaced)
            .to_owned(),
        )
        .exec_without_returning(conn(db))
        .await?;
    Ok(())
}

/// What counting a submission found.
#[derive(Debug)]
pub enum Submission {
    /// The submission was counted against this live code; compare it now.
    Counted(OneTimeCode),
    /// The live code has had all its tries.
    Exhausted(OneTimeCode),
    /// No live code: none was sent, or it was used or has expired.
    NoLiveCode,
}

/// Counts one submission against the user's live code for `purpose`, in one statement,
/// before anything is compared.
#[instrument(skip(db))]
pub async fn count_submission(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    purpose: CodeSlot,
    now: DateTime<Utc>,
) -> Result<Submission> {
    let counted = code::Entity::update_many()
        .col_expr(
            code::Column::Attempts,
            Expr::col(code::Column::Attempts).add(1),
        )
        .filter(code::Column::DomainId.eq(domain_id))
        .filter(code::Column::UserId.eq(user_id))
        .filter(code::Column::Purpose.eq(purpose))
        .filter(code::Column::ConsumedAt.is_null())
        .filter(code::Column::ExpiresAt.gt(now))
        .filter(code::Column::Attempts.lt(MAX_CODE_ATTEMPTS))
        .exec(conn(db))
        .await?;
    let code = get(db, domain_id, user_id, purpose).await?;
    Ok(match code {
        Some(code) if counted.rows_affected == 1 => Submission::Counted(code),
        Some(code) if code.is_live(now) && code.attempts >= MAX_CODE_ATTEMPTS => {
            Submission::Exhausted(code)
        }
        _ => Submission::NoLiveCode,
    })
}

/// Marks a code used. Returns false when it was already used or replaced, so only one of
/// several racing requests can succeed.
#[instrument(skip(db))]
pub async fn consume(db: &impl Executor, code_id: &CodeId, now: DateTime<Utc>) -> Result<bool> {
    let result = code::Entity::update_many()
        .col_expr(code::Column::ConsumedAt, Expr::value(now))
        .filter(code::Column::CodeId.eq(code_id))
        .filter(code::Column::ConsumedAt.is_null())
        .exec(conn(db))
        .await?;
    Ok(result.rows_affected == 1)
}

/// Ends a code at once (its mail could not be sent), keeping its count of tries: it expires
/// when it was made (`OneTimeCode::is_void`).
#[instrument(skip(db))]
pub async fn void(db: &impl Executor, code_id: &CodeId) -> Result<()> {
    code::Entity::update_many()
        .col_expr(
            code::Column::ExpiresAt,
            Expr::col(code::Column::CreatedAt).into(),
        )
        .filter(code::Column::CodeId.eq(code_id))
        .exec(conn(db))
        .await?;
    Ok(())
}

fn from_row(row: code::Model) -> OneTimeCode {
    OneTimeCode {
        code_id: row.code_id,
        domain_id: row.domain_id,
        user_id: row.user_id,
        purpose: row.purpose,
        code_hash: row.code_hash,
        payload: row.payload,
        attempts: row.attempts,
        expires_at: row.expires_at,
        consumed_at: row.consumed_at,
        created_at: row.created_at,
    }
}

/// Counts one more mail of a kind (`purpose`) to a user within a window of `window` from the
/// first, in single statements: true if it is one of the first `limit`, false if it must
/// not be sent. Kept as a row of `codes` without a code.
#[instrument(skip(db))]
pub async fn count_mail(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    purpose: CodeSlot,
    now: DateTime<Utc>,
    window: chrono::TimeDelta,
    limit: i32,
) -> Result<bool> {
    let this_user = || {
        sea_orm::Condition::all()
            .add(code::Column::DomainId.eq(domain_id))
            .add(code::Column::UserId.eq(user_id))
            .add(code::Column::Purpose.eq(purpose))
    };
    // Twice at most: a first mail racing another first mail finds the other's row.
    for _ in 0..2 {
        let counted = code::Entity::update_many()
            .col_expr(
                code::Column::Attempts,
                Expr::col(code::Column::Attempts).add(1),
            )
            .filter(this_user())
            .filter(code::Column::ExpiresAt.gt(now))
            .filter(code::Column::Attempts.lt(limit))
            .exec(conn(db))
            .await?;
        if counted.rows_affected == 1 {
            return Ok(true);
        }
        let restarted = code::Entity::update_many()
            .col_expr(code::Column::Attempts, Expr::value(1))
            .col_expr(code::Column::CreatedAt, Expr::value(now))
            .col_expr(code::Column::ExpiresAt, Expr::value(now + window))
            .filter(this_user())
            .filter(code::Column::ExpiresAt.lte(now))
            .exec(conn(db))
            .await?;
        if restarted.rows_affected == 1 {
            return Ok(true);
        }
        if insert_counter(db, domain_id, user_id, purpose, 1, now, now + window).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Records that the TOTP code of `step` was used by the user: true if no code of this step
/// or a later one was used before (so each code works once, also under races).
#[instrument(skip(db))]
pub async fn use_otp_step(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    step: i32,
    now: DateTime<Utc>,
) -> Result<bool> {
    const PURPOSE: CodeSlot = CodeSlot::OtpLastStep;
    let advanced = code::Entity::update_many()
        .col_expr(code::Column::Attempts, Expr::value(step))
        .filter(code::Column::DomainId.eq(domain_id))
        .filter(code::Column::UserId.eq(user_id))
        .filter(code::Column::Purpose.eq(PURPOSE))
        .filter(code::Column::Attempts.lt(step))
        .exec(conn(db))
        .await?;
    if advanced.rows_affected == 1 {
        return Ok(true);
    }
    insert_counter(db, domain_id, user_id, PURPOSE, step, now, now).await
}

/// Inserts a row of `codes` that holds a count (in `attempts`) rather than a code, unless
/// the user has a row for `purpose` already. True if it was inserted.
async fn insert_counter(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    purpose: CodeSlot,
    count: i32,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool> {
    let row = code::ActiveModel {
        code_id: Set(CodeId::generate_counter()),
        domain_id: Set(domain_id.clone()),
        user_id: Set(user_id.clone()),
        purpose: Set(purpose),
        code_hash: Set(String::new()),
        payload: Set(None),
        attempts: Set(count),
        expires_at: Set(expires_at),
        consumed_at: Set(None),
        created_at: Set(now),
    };
    let inserted = code::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                code::Column::DomainId,
                code::Column::UserId,
                code::Column::Purpose,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn(db))
        .await?;
    Ok(inserted == 1)
}

/// Forgets the user's row for `purpose` (a count that a success ends).
#[instrument(skip(db))]
pub async fn forget(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    purpose: CodeSlot,
) -> Result<()> {
    code::Entity::delete_many()
        .filter(code::Column::DomainId.eq(domain_id))
        .filter(code::Column::UserId.eq(user_id))
        .filter(code::Column::Purpose.eq(purpose))
        .exec(conn(db))
        .await?;
    Ok(())
}
