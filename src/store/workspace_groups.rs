//! Workspace groups and their members.

use sea_orm::{ActiveValue::Set, EntityTrait};
use tracing::instrument;

use super::{
    Executor, conn,
    entities::{workspace_group, workspace_group_user},
    on_unique,
};
use crate::domain::{Role, WorkspaceGroup};
use crate::error::Result;

/// Adds a group; a name taken in the domain is ALREADY_EXISTS.
#[instrument(skip(db, group), fields(workspace_group_id = %group.workspace_group_id))]
pub async fn insert(db: &impl Executor, group: &WorkspaceGroup) -> Result<()> {
    let row = workspace_group::ActiveModel {
        workspace_group_id: Set(group.workspace_group_id.clone()),
        domain_id: Set(group.domain_id.clone()),
        name: Set(group.name.clone()),
        tags: Set(group.tags.to_json()),
        created_by: Set(group.created_by.clone()),
        updated_by: Set(group.updated_by.clone()),
        created_at: Set(group.created_at),
        updated_at: Set(group.updated_at),
    };
    workspace_group::Entity::insert(row)
        .exec_without_returning(conn(db))
        .await
        .map_err(|err| on_unique(err, "name", &group.name))?;
    Ok(())
}

/// Adds a member to a group with a workspace role; a second membership is ALREADY_EXISTS.
#[instrument(skip(db, group, role), fields(workspace_group_id = %group.workspace_group_id))]
pub async fn add_member(
    db: &impl Executor,
    group: &WorkspaceGroup,
    user_id: &str,
    role: &Role,
) -> Result<()> {
    let row = workspace_group_user::ActiveModel {
        workspace_group_id: Set(group.workspace_group_id.clone()),
        user_id: Set(user_id.to_owned()),
        domain_id: Set(group.domain_id.clone()),
        role_id: Set(role.role_id.clone()),
        role_type: Set(role.role_type.as_str().to_owned()),
        created_at: Set(group.created_at),
    };
    workspace_group_user::Entity::insert(row)
        .exec_without_returning(conn(db))
        .await
        .map_err(|err| on_unique(err, "user_id", user_id))?;
    Ok(())
}
