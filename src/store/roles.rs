//! Roles.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tracing::instrument;

use super::{Executor, conn, entities::role, on_unique, stored};
use crate::domain::{Role, RoleType};
use crate::error::Result;

/// Adds a role to a domain; a taken role id is ALREADY_EXISTS.
#[instrument(skip(db))]
pub async fn insert(db: &impl Executor, domain_id: &str, role: &Role) -> Result<()> {
    let row = role::ActiveModel {
        domain_id: Set(domain_id.to_owned()),
        role_id: Set(role.role_id.clone()),
        name: Set(role.name.clone()),
        role_type: Set(role.role_type.as_str().to_owned()),
        is_managed: Set(role.is_managed),
        created_at: Set(chrono::Utc::now()),
    };
    role::Entity::insert(row)
        .exec_without_returning(conn(db))
        .await
        .map_err(|err| on_unique(err, "role_id", &role.role_id))?;
    Ok(())
}

/// The domain's role with this id, if any.
#[instrument(skip(db))]
pub async fn get(db: &impl Executor, domain_id: &str, role_id: &str) -> Result<Option<Role>> {
    let row = role::Entity::find_by_id((domain_id.to_owned(), role_id.to_owned()))
        .one(conn(db))
        .await?;
    row.map(from_row).transpose()
}

/// The ids of the domain's roles, in order.
#[instrument(skip(db))]
pub async fn ids(db: &impl Executor, domain_id: &str) -> Result<Vec<String>> {
    let rows = role::Entity::find()
        .filter(role::Column::DomainId.eq(domain_id))
        .order_by_asc(role::Column::RoleId)
        .all(conn(db))
        .await?;
    Ok(rows.into_iter().map(|row| row.role_id).collect())
}

pub(super) fn from_row(row: role::Model) -> Result<Role> {
    Ok(Role {
        role_type: stored(RoleType::parse(&row.role_type), "role_type")?,
        role_id: row.role_id,
        name: row.name,
        is_managed: row.is_managed,
    })
}
