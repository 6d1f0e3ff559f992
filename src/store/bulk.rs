//! Bulk writes for load tests and imports: many workspace members, each a new user with its
//! binding, in multi-row INSERTs inside the caller's transaction.
//!
//! These rows skip the checks `users::insert` and `role_bindings::insert` make one row at a
//! time (a taken id, an overlapping binding): the caller promises fresh user ids. A
//! collision still fails the statement on the tables' unique indexes, and rolls back the
//! transaction. The member-count triggers fire for each row, as for any other insert.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait};
use tracing::instrument;

use super::{
    Executor, Tx, conn,
    entities::{
        role_binding,
        user::{self, RequiredActions},
    },
    users::DEFAULT_REFRESH_TIMEOUT,
    wrote_users,
};
use crate::domain::{
    AuthType, CredentialStamp, DomainId, Name, ResourceGroup, Role, RoleBindingId, Tags, UserId,
    UserState, WorkspaceId, account_key,
};
use crate::error::Result;
use crate::query::{fold_json, fold_text};

/// Rows per INSERT statement. A user row binds 24 parameters, so a statement stays far below
/// SQLite's 32,766 bound parameters and PostgreSQL's 65,535.
const ROWS_PER_STATEMENT: usize = 500;

/// One user to add as a member: a LOCAL user whose e-mail address is its user id.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// Unique within the domain, and not taken yet.
    pub user_id: UserId,
    /// Display name.
    pub name: Name,
    /// ENABLED, DISABLED or PENDING.
    pub state: UserState,
    /// Free-form tags.
    pub tags: Tags,
}

/// Where new members are bound, and what they share.
#[derive(Debug, Clone, Copy)]
pub struct Membership<'a> {
    /// The domain of the users and the workspace.
    pub domain_id: &'a DomainId,
    /// The workspace they join.
    pub workspace_id: &'a WorkspaceId,
    /// Their role there (a workspace role).
    pub role: &'a Role,
    /// The bcrypt hash every one of them gets.
    pub password_hash: &'a str,
    /// Their creation time.
    pub now: DateTime<Utc>,
}

/// Adds `members` as new users bound to `membership.workspace_id`, in multi-row INSERTs
/// on `tx`: users first, then their bindings.
#[instrument(skip(tx, members), fields(count = members.len()))]
pub async fn insert_members(
    tx: &Tx,
    membership: Membership<'_>,
    members: &[NewMember],
) -> Result<()> {
    for chunk in members.chunks(ROWS_PER_STATEMENT) {
        let users = chunk.iter().map(|member| user_row(&membership, member));
        user::Entity::insert_many(users)
            .exec_without_returning(conn(tx))
            .await?;
        let bindings = chunk.iter().map(|member| binding_row(&membership, member));
        role_binding::Entity::insert_many(bindings)
            .exec_without_returning(conn(tx))
            .await?;
    }
    wrote_users(tx, None);
    Ok(())
}

fn user_row(membership: &Membership<'_>, member: &NewMember) -> user::ActiveModel {
    let stamp = CredentialStamp::new_account();
    let user_id = member.user_id.as_str();
    let tags = member.tags.to_json();
    user::ActiveModel {
        domain_id: Set(membership.domain_id.clone()),
        user_id: Set(member.user_id.clone()),
        name: Set(member.name.as_str().to_owned()),
        state: Set(member.state),
        email: Set(user_id.to_owned()),
        email_verified: Set(false),
        auth_type: Set(AuthType::Local),
        password_hash: Set(Some(membership.password_hash.to_owned())),
        password_changed_at: Set(None),
        mfa: Set(None),
        language: Set("en".to_owned()),
        timezone: Set("UTC".to_owned()),
        required_actions: Set(RequiredActions::default()),
        refresh_timeout: Set(DEFAULT_REFRESH_TIMEOUT),
        tags: Set(tags.clone()),
        created_at: Set(membership.now),
        last_accessed_at: Set(None),
        account_id: Set(stamp.account_id),
        credential_version: Set(stamp.version),
        user_key: Set(account_key(user_id)),
        user_id_folded: Set(fold_text(user_id)),
        name_folded: Set(fold_text(member.name.as_str())),
        email_folded: Set(fold_text(user_id)),
        tags_folded: Set(fold_json(&tags)),
    }
}

fn binding_row(membership: &Membership<'_>, member: &NewMember) -> role_binding::ActiveModel {
    role_binding::ActiveModel {
        role_binding_id: Set(RoleBindingId::generate()),
        domain_id: Set(membership.domain_id.clone()),
        user_id: Set(member.user_id.clone()),
        role_id: Set(membership.role.role_id.clone()),
        role_type: Set(membership.role.role_type),
        resource_group: Set(ResourceGroup::Workspace),
        workspace_id: Set(membership.workspace_id.clone()),
        workspace_group_id: Set(None),
        created_at: Set(membership.now),
    }
}

/// Refreshes the planner's statistics of the tables a bulk load grew, as the database would
/// on its own a while later: until then PostgreSQL may plan member pages for empty tables.
#[instrument(skip(db))]
pub async fn analyze(db: &impl Executor) -> Result<()> {
    use sea_orm::ConnectionTrait;
    let connection = conn(db);
    for table in ["users", "role_bindings", "workspaces"] {
        connection
            .execute_unprepared(&format!("ANALYZE {table}"))
            .await?;
    }
    Ok(())
}
