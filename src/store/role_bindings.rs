//! Role bindings.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tracing::instrument;

use super::{Executor, conn, entities::role_binding, on_unique, stored};
use crate::domain::{RoleBinding, RoleType};
use crate::error::Result;

/// Adds a binding; a second binding of the same user in the same place is ALREADY_EXISTS.
#[instrument(skip(db, binding), fields(role_binding_id = %binding.role_binding_id))]
pub async fn insert(db: &impl Executor, binding: &RoleBinding) -> Result<()> {
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
        .exec_without_returning(conn(db))
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
