//! Role bindings.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    RelationDef, sea_query::Expr,
};
use tracing::instrument;

use super::{
    Executor, Tx, conn,
    entities::{role, role_binding, user},
    on_unique, roles, wrote_users,
};
use crate::domain::{
    DomainId, ResourceGroup, Role, RoleBinding, RoleBindingId, RoleType, UserId,
    WORKSPACE_WILDCARD, WorkspaceId,
};
use crate::error::{Error, Result};

/// Adds a binding, inside the transaction that made its user and role certain.
///
/// A user has at most one *membership* binding (a workspace role) covering a workspace: one
/// in the workspace itself (direct or from a workspace group), or one bound to `*` that
/// covers every workspace of the domain. A second binding in the same workspace, a `*`
/// membership for a user bound in some workspace, or a workspace binding for a user with a
/// `*` membership is ALREADY_EXISTS. A DOMAIN_ADMIN binding combines with anything. The
/// user's row is locked first, so two racing bindings of one user cannot both pass.
#[instrument(skip(tx, binding), fields(role_binding_id = %binding.role_binding_id))]
pub async fn insert(tx: &Tx, binding: &RoleBinding) -> Result<()> {
    let locked = user::Entity::update_many()
        .col_expr(
            user::Column::UserKey,
            Expr::col(user::Column::UserKey).into(),
        )
        .filter(user::Column::DomainId.eq(&binding.domain_id))
        .filter(user::Column::UserId.eq(&binding.user_id))
        .exec(conn(tx))
        .await?;
    if locked.rows_affected == 0 {
        return Err(Error::not_found("user_id", binding.user_id.as_str()));
    }
    if binding.resource_group == ResourceGroup::Workspace {
        let mut overlapping = role_binding::Entity::find()
            .filter(role_binding::Column::DomainId.eq(&binding.domain_id))
            .filter(role_binding::Column::UserId.eq(&binding.user_id))
            .filter(role_binding::Column::ResourceGroup.eq(ResourceGroup::Workspace.as_str()));
        if !binding.workspace_id.is_every() {
            overlapping = overlapping.filter(
                role_binding::Column::WorkspaceId
                    .is_in([WORKSPACE_WILDCARD, binding.workspace_id.as_str()]),
            );
        }
        if let Some(existing) = overlapping.one(conn(tx)).await? {
            let place = if existing.workspace_id.is_every() {
                format!("{} in every workspace (*)", binding.user_id)
            } else {
                format!("{} in workspace {}", binding.user_id, existing.workspace_id)
            };
            return Err(Error::already_exists("role_binding", place));
        }
    }
    let row = role_binding::ActiveModel {
        role_binding_id: Set(binding.role_binding_id.clone()),
        domain_id: Set(binding.domain_id.clone()),
        user_id: Set(binding.user_id.clone()),
        role_id: Set(binding.role_id.clone()),
        role_type: Set(binding.role_type),
        resource_group: Set(binding.resource_group),
        workspace_id: Set(binding.workspace_id.clone()),
        workspace_group_id: Set(binding.workspace_group_id.clone()),
        created_at: Set(binding.created_at),
    };
    role_binding::Entity::insert(row)
        .exec_without_returning(conn(tx))
        .await
        .map_err(|err| {
            let place = format!("{} in workspace {}", binding.user_id, binding.workspace_id);
            on_unique(err, "role_binding", &place)
        })?;
    wrote_users(tx, Some((&binding.domain_id, &binding.user_id)));
    Ok(())
}

/// Every binding of one user, oldest first.
#[instrument(skip(db))]
pub async fn for_user(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
) -> Result<Vec<RoleBinding>> {
    let rows = role_binding::Entity::find()
        .filter(role_binding::Column::DomainId.eq(domain_id))
        .filter(role_binding::Column::UserId.eq(user_id))
        .order_by_asc(role_binding::Column::CreatedAt)
        .all(conn(db))
        .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The domain's bindings, oldest first, optionally only those of one user and of one
/// workspace (`*` names the domain-wide bindings).
#[instrument(skip(db))]
pub async fn list(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: Option<&UserId>,
    workspace_id: Option<&WorkspaceId>,
) -> Result<Vec<RoleBinding>> {
    let mut query =
        role_binding::Entity::find().filter(role_binding::Column::DomainId.eq(domain_id));
    if let Some(user_id) = user_id {
        query = query.filter(role_binding::Column::UserId.eq(user_id));
    }
    if let Some(workspace_id) = workspace_id {
        query = query.filter(role_binding::Column::WorkspaceId.eq(workspace_id));
    }
    let rows = query
        .order_by_asc(role_binding::Column::CreatedAt)
        .order_by_asc(role_binding::Column::RoleBindingId)
        .all(conn(db))
        .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Deletes one binding of the domain and returns it; `None` when there was no such
/// binding. Takes a transaction: what else changes with a binding commits with it.
#[instrument(skip(tx))]
pub async fn delete(
    tx: &Tx,
    domain_id: &DomainId,
    role_binding_id: &RoleBindingId,
) -> Result<Option<RoleBinding>> {
    let Some(row) = role_binding::Entity::find_by_id(role_binding_id.clone())
        .filter(role_binding::Column::DomainId.eq(domain_id))
        .one(conn(tx))
        .await?
    else {
        return Ok(None);
    };
    let result = role_binding::Entity::delete_many()
        .filter(role_binding::Column::DomainId.eq(domain_id))
        .filter(role_binding::Column::RoleBindingId.eq(role_binding_id))
        .exec(conn(tx))
        .await?;
    // Gone meanwhile: another transaction deleted it first.
    if result.rows_affected == 0 {
        return Ok(None);
    }
    wrote_users(tx, Some((&row.domain_id, &row.user_id)));
    Ok(Some(from_row(row)))
}

/// The role of the user's domain-wide DOMAIN_ADMIN binding, if it has one now.
#[instrument(skip(db))]
pub async fn domain_admin_role(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
) -> Result<Option<Role>> {
    let to_roles: RelationDef = role_binding::Entity::belongs_to(role::Entity)
        .from((role_binding::Column::DomainId, role_binding::Column::RoleId))
        .to((role::Column::DomainId, role::Column::RoleId))
        .into();
    let row = role_binding::Entity::find()
        .join(JoinType::InnerJoin, to_roles)
        .filter(role_binding::Column::DomainId.eq(domain_id))
        .filter(role_binding::Column::UserId.eq(user_id))
        .filter(role_binding::Column::ResourceGroup.eq(ResourceGroup::Domain.as_str()))
        .filter(role_binding::Column::RoleType.eq(RoleType::DomainAdmin.as_str()))
        .order_by_asc(role_binding::Column::CreatedAt)
        .select_also(role::Entity)
        .one(conn(db))
        .await?;
    match row {
        None => Ok(None),
        Some((_, Some(role))) => Ok(Some(roles::from_row(role))),
        Some((_, None)) => Err(Error::internal("an inner join returned no role")),
    }
}

pub(super) fn from_row(row: role_binding::Model) -> RoleBinding {
    RoleBinding {
        role_binding_id: row.role_binding_id,
        domain_id: row.domain_id,
        user_id: row.user_id,
        role_id: row.role_id,
        resource_group: row.role_type.resource_group(),
        role_type: row.role_type,
        workspace_id: row.workspace_id,
        workspace_group_id: row.workspace_group_id,
        created_at: row.created_at,
    }
}
