//! Workspaces.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tracing::instrument;

use super::{Executor, conn, entities::workspace, on_unique, stored};
use crate::domain::{Tags, Workspace, WorkspaceState};
use crate::error::{Error, Result};

/// Adds a workspace; a name taken in the domain is ALREADY_EXISTS.
#[instrument(skip(db, ws), fields(workspace_id = %ws.workspace_id))]
pub async fn insert(db: &impl Executor, ws: &Workspace) -> Result<()> {
    let row = workspace::ActiveModel {
        workspace_id: Set(ws.workspace_id.clone()),
        domain_id: Set(ws.domain_id.clone()),
        name: Set(ws.name.clone()),
        state: Set(ws.state.as_str().to_owned()),
        tags: Set(ws.tags.to_json()),
        created_by: Set(ws.created_by.clone()),
        reference_id: Set(ws.reference_id.clone()),
        is_managed: Set(ws.is_managed),
        is_dormant: Set(ws.is_dormant),
        dormant_updated_at: Set(ws.dormant_updated_at),
        last_synced_at: Set(ws.last_synced_at),
        workspace_group_id: Set(ws.workspace_group_id.clone()),
        created_at: Set(ws.created_at),
    };
    workspace::Entity::insert(row)
        .exec_without_returning(conn(db))
        .await
        .map_err(|err| on_unique(err, "name", &ws.name))?;
    Ok(())
}

/// The domain's workspace with this id, if any.
#[instrument(skip(db))]
pub async fn get(
    db: &impl Executor,
    domain_id: &str,
    workspace_id: &str,
) -> Result<Option<Workspace>> {
    let row = workspace::Entity::find_by_id(workspace_id)
        .filter(workspace::Column::DomainId.eq(domain_id))
        .one(conn(db))
        .await?;
    row.map(from_row).transpose()
}

/// Puts a workspace of the domain into a group; an unknown workspace is NOT_FOUND.
#[instrument(skip(db))]
pub async fn set_group(
    db: &impl Executor,
    domain_id: &str,
    workspace_id: &str,
    workspace_group_id: &str,
) -> Result<()> {
    let result = workspace::Entity::update_many()
        .set(workspace::ActiveModel {
            workspace_group_id: Set(Some(workspace_group_id.to_owned())),
            ..Default::default()
        })
        .filter(workspace::Column::DomainId.eq(domain_id))
        .filter(workspace::Column::WorkspaceId.eq(workspace_id))
        .exec(conn(db))
        .await?;
    if result.rows_affected == 0 {
        return Err(Error::not_found("workspace_id", workspace_id));
    }
    Ok(())
}

fn from_row(row: workspace::Model) -> Result<Workspace> {
    Ok(Workspace {
        state: stored(WorkspaceState::parse(&row.state), "workspace state")?,
        workspace_id: row.workspace_id,
        domain_id: row.domain_id,
        name: row.name,
        tags: Tags::from_json(row.tags),
        created_by: row.created_by,
        reference_id: row.reference_id,
        is_managed: row.is_managed,
        is_dormant: row.is_dormant,
        dormant_updated_at: row.dormant_updated_at,
        last_synced_at: row.last_synced_at,
        workspace_group_id: row.workspace_group_id,
        created_at: row.created_at,
    })
}
