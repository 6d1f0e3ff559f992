//! Load-test data: many workspace members added in bulk (`store::bulk`), for `spaceid bench`.
//! These writes skip the one-row-at-a-time checks of `admin::create_user`; the caller
//! promises fresh user ids, and a collision rolls the batch back.

use crate::context::Context;
use crate::domain::{DomainId, Role, User, UserId, WorkspaceId};
use crate::error::Result;
use crate::store::{self, bulk};

pub use crate::store::bulk::NewMember;

/// The user, if it exists.
pub async fn user(ctx: &Context, domain_id: &DomainId, user_id: &UserId) -> Result<Option<User>> {
    store::users::get(&ctx.store, domain_id, user_id).await
}

/// The domain named `name`, if it exists.
pub async fn domain_named(ctx: &Context, name: &str) -> Result<Option<DomainId>> {
    Ok(store::domains::by_name(&ctx.store, name)
        .await?
        .map(|domain| domain.domain_id))
}

/// The members of a workspace, as the database keeps count of them.
pub async fn member_count(
    ctx: &Context,
    domain_id: &DomainId,
    workspace_id: &WorkspaceId,
) -> Result<u64> {
    store::members::member_count(&ctx.store, domain_id, workspace_id).await
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
}

/// Adds `members` to the workspace as new users, in one transaction.
pub async fn add_members(
    ctx: &Context,
    membership: Membership<'_>,
    members: &[NewMember],
) -> Result<()> {
    let Membership {
        domain_id,
        workspace_id,
        role,
        password_hash,
    } = membership;
    let membership = bulk::Membership {
        domain_id,
        workspace_id,
        role,
        password_hash,
        now: ctx.clock.now(),
    };
    let tx = ctx.store.begin().await?;
    bulk::insert_members(&tx, membership, members).await?;
    tx.commit().await
}

/// Refreshes the planner's statistics after a bulk load.
pub async fn analyze(ctx: &Context) -> Result<()> {
    bulk::analyze(&ctx.store).await
}
