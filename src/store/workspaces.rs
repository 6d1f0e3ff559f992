//! Workspaces.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationDef, sea_query::Expr,
};
use tracing::instrument;

use super::{
    Executor, conn,
    entities::{role, role_binding, workspace},
    on_unique, role_bindings,
};
use crate::domain::{
    DomainId, ResourceGroup, Tags, UserId, WORKSPACE_WILDCARD, Workspace, WorkspaceGroupId,
    WorkspaceId, WorkspaceState, WorkspaceWithRole,
};
use crate::error::{Error, Result};

/// Which of a domain's workspaces `list` returns; `None` does not narrow.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkspaceFilter<'a> {
    /// Only workspaces in this state.
    pub state: Option<WorkspaceState>,
    /// Only workspaces of this group.
    pub workspace_group_id: Option<&'a WorkspaceGroupId>,
}

/// Adds a workspace; a name taken in the domain is ALREADY_EXISTS.
#[instrument(skip(db, ws), fields(workspace_id = %ws.workspace_id))]
pub async fn insert(db: &impl Executor, ws: &Workspace) -> Result<()> {
    let row = workspace::ActiveModel {
        workspace_id: Set(ws.workspace_id.clone()),
        domain_id: Set(ws.domain_id.clone()),
        name: Set(ws.name.clone()),
        state: Set(ws.state),
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
    domain_id: &DomainId,
    workspace_id: &WorkspaceId,
) -> Result<Option<Workspace>> {
    let row = workspace::Entity::find_by_id(workspace_id.clone())
        .filter(workspace::Column::DomainId.eq(domain_id))
        .one(conn(db))
        .await?;
    Ok(row.map(from_row))
}

/// The domain's workspaces that pass `filter`, by name, then id.
#[instrument(skip(db))]
pub async fn list(
    db: &impl Executor,
    domain_id: &DomainId,
    filter: WorkspaceFilter<'_>,
) -> Result<Vec<Workspace>> {
    let WorkspaceFilter {
        state,
        workspace_group_id,
    } = filter;
    let mut query = workspace::Entity::find().filter(workspace::Column::DomainId.eq(domain_id));
    if let Some(state) = state {
        query = query.filter(workspace::Column::State.eq(state.as_str()));
    }
    if let Some(group) = workspace_group_id {
        query = query.filter(workspace::Column::WorkspaceGroupId.eq(group));
    }
    let rows = query.all(conn(db)).await?;
    let mut workspaces: Vec<Workspace> = rows.into_iter().map(from_row).collect();
    sort_by_name(&mut workspaces, |w| w);
    Ok(workspaces)
}

/// The enabled workspaces of the domain that `user_id` reaches through a workspace role
/// binding, its own or a domain-wide `*` one (optionally only those of one group): one
/// entry per binding that reaches a workspace, with the bound role and its name. Entries
/// come by workspace name, then id, then the binding's age, oldest first.
///
/// One statement: workspaces joined to the user's bindings and their roles.
#[instrument(skip(db))]
pub async fn entered_by(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    workspace_group_id: Option<&WorkspaceGroupId>,
) -> Result<Vec<WorkspaceWithRole>> {
    let to_bindings: RelationDef = workspace::Entity::belongs_to(role_binding::Entity)
        .from(workspace::Column::DomainId)
        .to(role_binding::Column::DomainId)
        .into();
    let to_roles: RelationDef = role_binding::Entity::belongs_to(role::Entity)
        .from((role_binding::Column::DomainId, role_binding::Column::RoleId))
        .to((role::Column::DomainId, role::Column::RoleId))
        .into();
    let reaches = Condition::any()
        .add(
            Expr::col((role_binding::Entity, role_binding::Column::WorkspaceId))
                .equals((workspace::Entity, workspace::Column::WorkspaceId)),
        )
        .add(role_binding::Column::WorkspaceId.eq(WORKSPACE_WILDCARD));
    let mut query = workspace::Entity::find()
        .join(JoinType::InnerJoin, to_bindings)
        .join(JoinType::InnerJoin, to_roles)
        .filter(workspace::Column::DomainId.eq(domain_id))
        .filter(workspace::Column::State.eq(WorkspaceState::Enabled.as_str()))
        .filter(role_binding::Column::UserId.eq(user_id))
        .filter(role_binding::Column::ResourceGroup.eq(ResourceGroup::Workspace.as_str()))
        .filter(reaches);
    if let Some(group) = workspace_group_id {
        query = query.filter(workspace::Column::WorkspaceGroupId.eq(group));
    }
    let rows = query
        .order_by_asc(role_binding::Column::CreatedAt)
        .order_by_asc(role_binding::Column::RoleBindingId)
        .select_also(role_binding::Entity)
        .select_also(role::Entity)
        .all(conn(db))
        .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for (workspace, binding, role) in rows {
        let (Some(binding), Some(role)) = (binding, role) else {
            return Err(Error::internal("an inner join returned no binding or role"));
        };
        let binding = role_bindings::from_row(binding);
        entries.push(WorkspaceWithRole {
            workspace: from_row(workspace),
            role_id: binding.role_id,
            role_name: role.name,
            role_type: binding.role_type,
        });
    }
    // A stable sort keeps each workspace's bindings oldest first.
    sort_by_name(&mut entries, |entry| &entry.workspace);
    Ok(entries)
}

/// Sorts by workspace name, then id, in byte order: PostgreSQL's `ORDER BY` follows the
/// database's collation and SQLite's does not, and both backends must answer alike.
fn sort_by_name<T>(items: &mut [T], workspace: impl Fn(&T) -> &Workspace) {
    items.sort_by(|a, b| {
        let (a, b) = (workspace(a), workspace(b));
        (a.name.as_str(), a.workspace_id.as_str()).cmp(&(b.name.as_str(), b.workspace_id.as_str()))
    });
}

/// Puts a workspace of the domain into a group; an unknown workspace is NOT_FOUND.
#[instrument(skip(db))]
pub async fn set_group(
    db: &impl Executor,
    domain_id: &DomainId,
    workspace_id: &WorkspaceId,
    workspace_group_id: &WorkspaceGroupId,
) -> Result<()> {
    let result = workspace::Entity::update_many()
        .set(workspace::ActiveModel {
            workspace_group_id: Set(Some(workspace_group_id.clone())),
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

fn from_row(row: workspace::Model) -> Workspace {
    Workspace {
        state: row.state,
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
    }
}
