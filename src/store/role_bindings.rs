//! Role bindings.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};
use tracing::instrument;

use super::{
    Executor, Tx, conn,
    entities::{role_binding, user},
    on_unique, stored,
};
use crate::domain::{ResourceGroup, RoleBinding, RoleType, WORKSPACE_WILDCARD};
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
        .col_expr(user::Column::UserKey, Expr::col(user::Column::UserKey).into())
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
        if binding.workspace_id != WORKSPACE_WILDCARD {
            overlapping = overlapping.filter(
                role_binding::Column::WorkspaceId.is_in([WORKSPACE_WILDCARD, &binding.workspace_id]),
            );
        }
        if let Some(existing) = overlapping.one(conn(tx)).await? {
            let place = if existing.workspace_id == WORKSPACE_WILDCARD {
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
        role_type: Set(binding.role_type.as_str().to_owned()),
        resource_group: Set(binding.resource_group.as_str().to_owned()),
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
    Ok(())
}

/// Every binding of one user, oldest first.
#[instrument(skip(db))]
pub async fn for_user(
    db: &impl Executor,
    domain_id: &str,
    user_id: &str,
) -> Result<Vec<RoleBinding>> {
    let rows = role_binding::Entity::find()
        .filter(role_binding::Column::DomainId.eq(domain_id))
        .filter(role_binding::Column::UserId.eq(user_id))
        .order_by_asc(role_binding::Column::CreatedAt)
        .all(conn(db))
        .await?;
    rows.into_iter().map(from_row).collect()
}

pub(super) fn from_row(row: role_binding::Model) -> Result<RoleBinding> {
    let role_type = stored(RoleType::parse(&row.role_type), "role_type")?;
    Ok(RoleBinding {
        role_binding_id: row.role_binding_id,
        domain_id: row.domain_id,
        user_id: row.user_id,
        role_id: row.role_id,
        resource_group: role_type.resource_group(),
        role_type,
        workspace_id: row.workspace_id,
        workspace_group_id: row.workspace_group_id,
        created_at: row.created_at,
    })
}
