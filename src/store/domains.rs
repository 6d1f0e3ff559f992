//! Domains.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use tracing::instrument;

use super::{Executor, conn, entities::domain, on_unique};
use crate::domain::{Domain, DomainId, Tags};
use crate::error::Result;

/// Adds a domain; a taken name is ALREADY_EXISTS.
#[instrument(skip(db))]
pub async fn insert(db: &impl Executor, domain: &Domain) -> Result<()> {
    let row = domain::ActiveModel {
        domain_id: Set(domain.domain_id.clone()),
        name: Set(domain.name.clone()),
        state: Set(domain.state),
        tags: Set(domain.tags.to_json()),
        created_at: Set(domain.created_at),
    };
    domain::Entity::insert(row)
        .exec_without_returning(conn(db))
        .await
        .map_err(|err| on_unique(err, "name", &domain.name))?;
    Ok(())
}

/// The domain with this id, if any.
#[instrument(skip(db))]
pub async fn get(db: &impl Executor, domain_id: &DomainId) -> Result<Option<Domain>> {
    let row = domain::Entity::find_by_id(domain_id.clone())
        .one(conn(db))
        .await?;
    Ok(row.map(from_row))
}

/// The domain with this name, if any.
#[instrument(skip(db))]
pub async fn by_name(db: &impl Executor, name: &str) -> Result<Option<Domain>> {
    let row = domain::Entity::find()
        .filter(domain::Column::Name.eq(name))
        .one(conn(db))
        .await?;
    Ok(row.map(from_row))
}

/// Whether the database holds any domain at all.
#[instrument(skip(db))]
pub async fn any(db: &impl Executor) -> Result<bool> {
    let row = domain::Entity::find().limit(1).one(conn(db)).await?;
    Ok(row.is_some())
}

fn from_row(row: domain::Model) -> Domain {
    Domain {
        domain_id: row.domain_id,
        name: row.name,
        state: row.state,
        tags: Tags::from_json(row.tags),
        created_at: row.created_at,
    }
}
