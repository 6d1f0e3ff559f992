//! Users. Every write after the insert is conditional on the `CredentialStamp` the caller
//! decided from, so a change that raced it (a password change, a disable, a delete and
//! re-create) makes the write a no-op the caller sees, never a lost update.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationDef,
    sea_query::{Expr, IntoCondition},
};
use tracing::instrument;

use super::{
    Executor, Store, conn,
    entities::{
        role_binding,
        user::{self, MfaColumn, RequiredActions},
    },
    on_unique, wrote_users,
};
use crate::domain::{
    CredentialStamp, DomainId, Email, Language, Mfa, Name, NewUser, RequiredAction, ResourceGroup,
    RoleId, RoleType, Tags, Timezone, User, UserId, UserState, account_key,
};
use crate::error::Result;
use crate::query::{fold_json, fold_text};

/// Default lifetime of a user's refresh tokens, in seconds.
pub const DEFAULT_REFRESH_TIMEOUT: i32 = 10_800;

/// Adds a user to a domain as a new account; a taken `user_id`, or one that differs from a
/// taken one only by case, is ALREADY_EXISTS.
#[instrument(skip(db, new, password_hash), fields(user_id = new.user_id.as_str()))]
pub async fn insert(
    db: &impl Executor,
    domain_id: &DomainId,
    new: &NewUser,
    password_hash: Option<String>,
    state: UserState,
    now: DateTime<Utc>,
) -> Result<()> {
    let stamp = CredentialStamp::new_account();
    let name = new.name.as_ref().map_or("", |n| n.as_str());
    let email = new.email.as_ref().map_or("", |e| e.as_str());
    let tags = new.tags.to_json();
    let row = user::ActiveModel {
        domain_id: Set(domain_id.clone()),
        user_id: Set(new.user_id.clone()),
        name: Set(name.to_owned()),
        state: Set(state),
        email: Set(email.to_owned()),
        email_verified: Set(false),
        auth_type: Set(new.auth_type),
        password_changed_at: Set(None),
        password_hash: Set(password_hash),
        mfa: Set(None),
        language: Set(new
            .language
            .as_ref()
            .map_or("en", |l| l.as_str())
            .to_owned()),
        timezone: Set(new
            .timezone
            .as_ref()
            .map_or("UTC", |t| t.as_str())
            .to_owned()),
        required_actions: Set(RequiredActions::default()),
        refresh_timeout: Set(DEFAULT_REFRESH_TIMEOUT),
        tags_folded: Set(fold_json(&tags)),
        tags: Set(tags),
        created_at: Set(now),
        last_accessed_at: Set(None),
        account_id: Set(stamp.account_id),
        credential_version: Set(stamp.version),
        user_key: Set(account_key(new.user_id.as_str())),
        user_id_folded: Set(fold_text(new.user_id.as_str())),
        name_folded: Set(fold_text(name)),
        email_folded: Set(fold_text(email)),
    };
    user::Entity::insert(row)
        .exec_without_returning(conn(db))
        .await
        .map_err(|err| on_unique(err, "user_id", new.user_id.as_str()))?;
    wrote_users(db, Some((domain_id, &new.user_id)));
    Ok(())
}

/// The user, with its domain-wide role binding, if it exists.
#[instrument(skip(db))]
pub async fn get(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
) -> Result<Option<User>> {
    let Some(row) = user::Entity::find_by_id((domain_id.clone(), user_id.clone()))
        .one(conn(db))
        .await?
    else {
        return Ok(None);
    };
    let domain_binding = role_binding::Entity::find()
        .filter(role_binding::Column::DomainId.eq(domain_id))
        .filter(role_binding::Column::UserId.eq(user_id))
        .filter(role_binding::Column::ResourceGroup.eq(ResourceGroup::Domain.as_str()))
        .one(conn(db))
        .await?;
    let domain_role = domain_binding.map(|b| (b.role_id, b.role_type));
    Ok(Some(from_row(row, domain_role)))
}

/// The user as `get` reads it, from the user cache when it holds a record read less than
/// `cache::MAX_AGE` ago (see `store::cache`): what token verification reads on every call.
pub async fn get_cached(
    store: &Store,
    domain_id: &DomainId,
    user_id: &UserId,
) -> Result<Option<Arc<User>>> {
    if let Some(user) = store.users.get(domain_id, user_id) {
        return Ok(Some(user));
    }
    let ticket = store.users.ticket(domain_id, user_id);
    let read_at = Instant::now();
    let Some(user) = get(store, domain_id, user_id).await? else {
        return Ok(None);
    };
    let user = Arc::new(user);
    store.users.keep(ticket, user.clone(), read_at);
    Ok(Some(user))
}

/// Every user of the domain, each with its domain-wide role binding, by user id.
///
/// One statement: the users left-joined to their domain-wide bindings (a user has at most
/// one: bindings are unique per user and workspace, and a domain-wide one names `*`).
#[instrument(skip(db))]
pub async fn list(db: &impl Executor, domain_id: &DomainId) -> Result<Vec<User>> {
    let to_domain_binding: RelationDef = user::Entity::belongs_to(role_binding::Entity)
        .from((user::Column::DomainId, user::Column::UserId))
        .to((role_binding::Column::DomainId, role_binding::Column::UserId))
        .on_condition(|_, bindings| {
            Expr::col((bindings, role_binding::Column::ResourceGroup))
                .eq(ResourceGroup::Domain.as_str())
                .into_condition()
        })
        .into();
    let rows = user::Entity::find()
        .join(JoinType::LeftJoin, to_domain_binding)
        .filter(user::Column::DomainId.eq(domain_id))
        .select_also(role_binding::Entity)
        .all(conn(db))
        .await?;
    let mut users: Vec<User> = rows
        .into_iter()
        .map(|(row, binding)| from_row(row, binding.map(|b| (b.role_id, b.role_type))))
        .collect();
    // Byte order, so that PostgreSQL's collation and SQLite's answer alike.
    users.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    Ok(users)
}

/// The changes a profile update makes; `None` leaves a column as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    /// New display name.
    pub name: Option<Name>,
    /// New e-mail address; `Some(None)` clears it.
    pub email: Option<Option<Email>>,
    /// New verification flag.
    pub email_verified: Option<bool>,
    /// New language code.
    pub language: Option<Language>,
    /// New time zone.
    pub timezone: Option<Timezone>,
    /// New tags.
    pub tags: Option<Tags>,
    /// New bcrypt hash; sets `password_changed_at` to `changed_at` and increments the
    /// credential version, which ends every token issued before.
    pub password_hash: Option<(String, DateTime<Utc>)>,
    /// New list of required actions.
    pub required_actions: Option<Vec<RequiredAction>>,
}

/// Applies `changes` to one user if its stamp is still `expected`. Returns false (and
/// changes nothing) when the user is gone, is another account now, or its credentials
/// changed since `expected` was read.
#[instrument(skip(db, changes))]
pub async fn update(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    expected: &CredentialStamp,
    changes: UserChanges,
) -> Result<bool> {
    let UserChanges {
        name,
        email,
        email_verified,
        language,
        timezone,
        tags,
        password_hash,
        required_actions,
    } = changes;
    let mut row = <user::ActiveModel as Default>::default();
    if let Some(name) = name {
        row.name_folded = Set(fold_text(name.as_str()));
        row.name = Set(name.as_str().to_owned());
    }
    if let Some(email) = email {
        let email = email.map(|e| e.as_str().to_owned()).unwrap_or_default();
        row.email_folded = Set(fold_text(&email));
        row.email = Set(email);
    }
    if let Some(verified) = email_verified {
        row.email_verified = Set(verified);
    }
    if let Some(language) = language {
        row.language = Set(language.as_str().to_owned());
    }
    if let Some(timezone) = timezone {
        row.timezone = Set(timezone.as_str().to_owned());
    }
    if let Some(tags) = tags {
        let tags = tags.to_json();
        row.tags_folded = Set(fold_json(&tags));
        row.tags = Set(tags);
    }
    let new_credentials = password_hash.is_some();
    if let Some((hash, changed_at)) = password_hash {
        row.password_hash = Set(Some(hash));
        row.password_changed_at = Set(Some(changed_at));
    }
    if let Some(actions) = required_actions {
        row.required_actions = Set(RequiredActions(actions));
    }
    if !row.is_changed() {
        return Ok(true);
    }
    let mut statement = user::Entity::update_many().set(row);
    if new_credentials {
        statement = statement.col_expr(
            user::Column::CredentialVersion,
            Expr::col(user::Column::CredentialVersion).add(1),
        );
    }
    let result = statement
        .filter(still_at(domain_id, user_id, expected))
        .exec(conn(db))
        .await?;
    wrote_users(db, Some((domain_id, user_id)));
    Ok(result.rows_affected == 1)
}

/// Records a sign-in that checked the password of `expected`: the user becomes ENABLED (a
/// PENDING user's first sign-in) and `last_accessed_at` is set. Returns false (and changes
/// nothing) when the account, its credentials or its state changed since: a password change,
/// a disable or a delete that landed while the password was being checked wins.
#[instrument(skip(db))]
pub async fn record_sign_in(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    expected: &CredentialStamp,
    now: DateTime<Utc>,
) -> Result<bool> {
    let result = user::Entity::update_many()
        .col_expr(
            user::Column::State,
            Expr::value(UserState::Enabled.as_str()),
        )
        .col_expr(user::Column::LastAccessedAt, Expr::value(now))
        .filter(still_at(domain_id, user_id, expected))
        .filter(
            user::Column::State.is_in([UserState::Enabled.as_str(), UserState::Pending.as_str()]),
        )
        .exec(conn(db))
        .await?;
    wrote_users(db, Some((domain_id, user_id)));
    Ok(result.rows_affected == 1)
}

/// Marks `email` verified if it is still the user's address and the user still has the
/// credentials of `expected`. Returns false otherwise.
#[instrument(skip(db))]
pub async fn mark_email_verified(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    expected: &CredentialStamp,
    email: &Email,
) -> Result<bool> {
    let result = user::Entity::update_many()
        .col_expr(user::Column::EmailVerified, Expr::value(true))
        .filter(still_at(domain_id, user_id, expected))
        .filter(user::Column::Email.eq(email.as_str()))
        .exec(conn(db))
        .await?;
    wrote_users(db, Some((domain_id, user_id)));
    Ok(result.rows_affected == 1)
}

/// What a change of MFA settings does to the user's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sessions {
    /// They stay (settings recorded, not yet in force).
    Keep,
    /// They end: the credential version moves in the same statement (MFA turned on or off).
    End,
}

/// Sets a user's MFA settings if it still has the credentials of `expected`. Returns false
/// otherwise.
#[instrument(skip(db))]
pub async fn set_mfa(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    expected: &CredentialStamp,
    mfa: &Mfa,
    sessions: Sessions,
) -> Result<bool> {
    let mut statement =
        user::Entity::update_many().col_expr(user::Column::Mfa, Expr::value(mfa_column(mfa)));
    if sessions == Sessions::End {
        statement = statement.col_expr(
            user::Column::CredentialVersion,
            Expr::col(user::Column::CredentialVersion).add(1),
        );
    }
    let result = statement
        .filter(still_at(domain_id, user_id, expected))
        .exec(conn(db))
        .await?;
    wrote_users(db, Some((domain_id, user_id)));
    Ok(result.rows_affected == 1)
}

fn mfa_column(mfa: &Mfa) -> MfaColumn {
    MfaColumn {
        state: mfa.state,
        mfa_type: mfa.mfa_type,
        options: mfa.options.as_map().clone(),
        secret: mfa.sealed_secret.clone(),
    }
}

/// Replaces a password hash by a hash of the same password at another cost, if the user
/// still has the credentials of `expected` and the hash `old`. The credential version stays:
/// the password did not change. Returns false when something changed first.
#[instrument(skip(db, old, new))]
pub async fn replace_hash(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    expected: &CredentialStamp,
    old: &str,
    new: &str,
) -> Result<bool> {
    let result = user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(new))
        .filter(still_at(domain_id, user_id, expected))
        .filter(user::Column::PasswordHash.eq(old))
        .exec(conn(db))
        .await?;
    wrote_users(db, Some((domain_id, user_id)));
    Ok(result.rows_affected == 1)
}

/// Moves a user from state `from` to `to` if it is still in `from`. Disabling increments
/// the credential version in the same statement, so every token of the user dies with it
/// and stays dead if the user is enabled again. Returns false when the state was not `from`.
#[instrument(skip(db))]
pub async fn change_state(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    from: UserState,
    to: UserState,
) -> Result<bool> {
    let mut statement = user::Entity::update_many().col_expr(user::Column::State, Expr::value(to));
    if to == UserState::Disabled {
        statement = statement.col_expr(
            user::Column::CredentialVersion,
            Expr::col(user::Column::CredentialVersion).add(1),
        );
    }
    let result = statement
        .filter(user::Column::DomainId.eq(domain_id))
        .filter(user::Column::UserId.eq(user_id))
        .filter(user::Column::State.eq(from))
        .exec(conn(db))
        .await?;
    wrote_users(db, Some((domain_id, user_id)));
    Ok(result.rows_affected == 1)
}

/// Sets a new user's required actions (such as UPDATE_PASSWORD), in the transaction that
/// created it.
#[instrument(skip(db))]
pub async fn set_required_actions(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    actions: &[RequiredAction],
) -> Result<()> {
    user::Entity::update_many()
        .col_expr(
            user::Column::RequiredActions,
            Expr::value(RequiredActions(actions.to_vec())),
        )
        .filter(user::Column::DomainId.eq(domain_id))
        .filter(user::Column::UserId.eq(user_id))
        .exec(conn(db))
        .await?;
    wrote_users(db, Some((domain_id, user_id)));
    Ok(())
}

/// Deletes a user with its role bindings, group memberships and codes (the foreign keys
/// cascade). Returns false when there was no such user.
#[instrument(skip(db))]
pub async fn delete(db: &impl Executor, domain_id: &DomainId, user_id: &UserId) -> Result<bool> {
    let result = user::Entity::delete_many()
        .filter(user::Column::DomainId.eq(domain_id))
        .filter(user::Column::UserId.eq(user_id))
        .exec(conn(db))
        .await?;
    wrote_users(db, Some((domain_id, user_id)));
    Ok(result.rows_affected == 1)
}

/// The user's row, if it is still the account `expected` names at its credential version.
fn still_at(domain_id: &DomainId, user_id: &UserId, expected: &CredentialStamp) -> Condition {
    Condition::all()
        .add(user::Column::DomainId.eq(domain_id))
        .add(user::Column::UserId.eq(user_id))
        .add(user::Column::AccountId.eq(&expected.account_id))
        .add(user::Column::CredentialVersion.eq(expected.version))
}

fn from_row(row: user::Model, domain_role: Option<(RoleId, RoleType)>) -> User {
    let user::Model {
        domain_id,
        user_id,
        name,
        state,
        email,
        email_verified,
        auth_type,
        password_hash,
        password_changed_at,
        mfa,
        language,
        timezone,
        required_actions,
        refresh_timeout,
        tags,
        created_at,
        last_accessed_at,
        account_id,
        credential_version,
        user_key: _,
        user_id_folded: _,
        name_folded: _,
        email_folded: _,
        tags_folded: _,
    } = row;
    User {
        domain_id,
        user_id,
        name: Name::from_stored(name),
        state,
        email: (!email.is_empty()).then(|| Email::from_stored(email)),
        email_verified,
        auth_type,
        password_hash,
        password_changed_at,
        stamp: CredentialStamp {
            account_id,
            version: credential_version,
        },
        domain_role,
        mfa: mfa.map(|mfa| Mfa {
            state: mfa.state,
            mfa_type: mfa.mfa_type,
            options: Tags::from_json(serde_json::Value::Object(mfa.options)),
            sealed_secret: mfa.secret,
        }),
        language: Language::from_stored(language),
        timezone: Timezone::from_stored(timezone),
        required_actions: required_actions.0,
        refresh_timeout,
        tags: Tags::from_json(tags),
        created_at,
        last_accessed_at,
    }
}
