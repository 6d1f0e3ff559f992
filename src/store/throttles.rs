//! Failed sign-ins in a row, per key (`domain::throttle`: an account name as typed, alone or
//! with a client address), and the addresses each account name has signed in from. Starting
//! an attempt is a compare-and-set on the failure count read just before, so of many
//! concurrent attempts only one starts per count.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tracing::instrument;

use super::{
    Executor, conn,
    entities::{familiar_address as familiar, sign_in_throttle as throttle},
};
use crate::domain::{DomainId, SignInThrottle};
use crate::error::Result;

/// Where an account name stands, if it has failed lately.
#[instrument(skip(db))]
pub async fn get(
    db: &impl Executor,
    domain_id: &DomainId,
    user_key: &str,
) -> Result<Option<SignInThrottle>> {
    let row = throttle::Entity::find_by_id((domain_id.clone(), user_key.to_owned()))
        .one(conn(db))
        .await?;
    Ok(row.map(|row| SignInThrottle {
        failures: row.failures,
        next_attempt_at: row.next_attempt_at,
    }))
}

/// Moves an account name from `seen` (as read by `get`) to `next`. Returns false when
/// another attempt moved it first.
#[instrument(skip(db))]
pub async fn advance(
    db: &impl Executor,
    domain_id: &DomainId,
    user_key: &str,
    seen: Option<&SignInThrottle>,
    next: &SignInThrottle,
) -> Result<bool> {
    let Some(seen) = seen else {
        let row = throttle::ActiveModel {
            domain_id: Set(domain_id.clone()),
            user_key: Set(user_key.to_owned()),
            failures: Set(next.failures),
            next_attempt_at: Set(next.next_attempt_at),
        };
        let inserted = throttle::Entity::insert(row)
            .on_conflict(
                sea_orm::sea_query::OnConflict::columns([
                    throttle::Column::DomainId,
                    throttle::Column::UserKey,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(conn(db))
            .await?;
        return Ok(inserted == 1);
    };
    let result = throttle::Entity::update_many()
        .col_expr(
            throttle::Column::Failures,
            sea_orm::sea_query::Expr::value(next.failures),
        )
        .col_expr(
            throttle::Column::NextAttemptAt,
            sea_orm::sea_query::Expr::value(next.next_attempt_at),
        )
        .filter(throttle::Column::DomainId.eq(domain_id))
        .filter(throttle::Column::UserKey.eq(user_key))
        .filter(throttle::Column::Failures.eq(seen.failures))
        .exec(conn(db))
        .await?;
    Ok(result.rows_affected == 1)
}

/// Takes back an attempt that was counted as `counted` but never checked (the server was
/// too busy), returning the account name to `previous`, unless another attempt has moved it
/// since.
#[instrument(skip(db))]
pub async fn restore(
    db: &impl Executor,
    domain_id: &DomainId,
    user_key: &str,
    counted: &SignInThrottle,
    previous: Option<&SignInThrottle>,
) -> Result<()> {
    match previous {
        Some(previous) => {
            advance(db, domain_id, user_key, Some(counted), previous).await?;
        }
        None => {
            throttle::Entity::delete_many()
                .filter(throttle::Column::DomainId.eq(domain_id))
                .filter(throttle::Column::UserKey.eq(user_key))
                .filter(throttle::Column::Failures.eq(counted.failures))
                .exec(conn(db))
                .await?;
        }
    }
    Ok(())
}

/// Forgets an account name's failures, after a successful sign-in.
#[instrument(skip(db))]
pub async fn clear(db: &impl Executor, domain_id: &DomainId, user_key: &str) -> Result<()> {
    throttle::Entity::delete_many()
        .filter(throttle::Column::DomainId.eq(domain_id))
        .filter(throttle::Column::UserKey.eq(user_key))
        .exec(conn(db))
        .await?;
    Ok(())
}

/// Deletes the rows of account names whose last attempt may start before `before`: they
/// restrict nothing any more, and account names that were only ever guessed would
/// otherwise stay for good.
#[instrument(skip(db))]
pub async fn purge(db: &impl Executor, before: DateTime<Utc>) -> Result<u64> {
    let result = throttle::Entity::delete_many()
        .filter(throttle::Column::NextAttemptAt.lt(before))
        .exec(conn(db))
        .await?;
    Ok(result.rows_affected)
}

/// Whether the account name and client address behind `address_key` have signed in since
/// `since`.
#[instrument(skip(db))]
pub async fn is_familiar(
    db: &impl Executor,
    domain_id: &DomainId,
    address_key: &str,
    since: DateTime<Utc>,
) -> Result<bool> {
    let row = familiar::Entity::find_by_id((domain_id.clone(), address_key.to_owned()))
        .one(conn(db))
        .await?;
    Ok(row.is_some_and(|row| row.last_sign_in_at >= since))
}

/// Records a successful sign-in of the account name and client address behind
/// `address_key`.
#[instrument(skip(db))]
pub async fn remember_familiar(
    db: &impl Executor,
    domain_id: &DomainId,
    address_key: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let row = familiar::ActiveModel {
        domain_id: Set(domain_id.clone()),
        address_key: Set(address_key.to_owned()),
        last_sign_in_at: Set(now),
    };
    familiar::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                familiar::Column::DomainId,
                familiar::Column::AddressKey,
            ])
            .update_column(familiar::Column::LastSignInAt)
            .to_owned(),
        )
        .exec_without_returning(conn(db))
        .await?;
    Ok(())
}

/// Forgets familiar addresses last used before `before`.
#[instrument(skip(db))]
pub async fn purge_familiar(db: &impl Executor, before: DateTime<Utc>) -> Result<u64> {
    let result = familiar::Entity::delete_many()
        .filter(familiar::Column::LastSignInAt.lt(before))
        .exec(conn(db))
        .await?;
    Ok(result.rows_affected)
}
