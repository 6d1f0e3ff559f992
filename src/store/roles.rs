//! Roles.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tracing::instrument;

use super::{Executor, conn, entities::role, on_unique};
use crate::domain::{DomainId, Role, RoleId};
use crate::error::Result;

/// Adds a role to a domain; a taken role id is ALREADY_EXISTS.
#[instrument(skip(db))]
pub async fn insert(db: &impl Executor, domain_id: &DomainId, role: &Role) -> Result<()> {
    let row = role::ActiveModel {
        domain_id: Set(domain_id.clone()),
        role_id: Set(role.role_id.clone()),
        name: Set(role.name.clone()),
        role_type: Set(role.role_type),
        is_managed: Set(role.is_managed),
        created_at: Set(chrono::Utc::now()),
    };
    role::Entity::insert(row)
        .exec_without_returning(conn(db))
        .await
        .map_err(|err| on_unique(err, "role_id", role.role_id.as_str()))?;
    Ok(())
}

/// The domain's role with this id, if any.
#[instrument(skip(db))]
pub async fn get(
    db: &impl Executor,
    domain_id: &DomainId,
    role_id: &RoleId,
) -> Result<Option<Role>> {
    let row = role::Entity::find_by_id((domain_id.clone(), role_id.clone()))
        .one(conn(db))
        .await?;
    Ok(row.map(from_row))
}

/// The ids of the domain's roles, in order.
#[instrument(skip(db))]
pub async fn ids(db: &impl Executor, domain_id: &DomainId) -> Result<Vec<RoleId>> {
    let rows = role::Entity::find()
        .filter(role::Column::DomainId.eq(domain_id))
        .order_by_asc(role::Column::RoleId)
        .all(conn(db))
        .await?;
    Ok(rows.into_iter().map(|row| row.role_id).collect())
}

pub(super) fn from_row(row: role::Model) -> Role {
    Role {
        role_type: row.role_type,
        role_id: row.role_id,
        name: row.name,
        is_managed: row.is_managed,
    }
}
