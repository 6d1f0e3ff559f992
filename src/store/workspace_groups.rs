//! Workspace groups and their members.

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, FromQueryResult, IntoSimpleExpr, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationDef,
    sea_query::{Expr, IntoCondition},
};
use tracing::instrument;

use super::{
    Executor, conn,
    entities::{role_binding, user, workspace_group, workspace_group_user},
    on_unique, role_bindings,
};
use crate::domain::{
    DomainId, Name, ResourceGroup, Role, RoleBinding, RoleId, RoleType, Tags, UserId, UserState,
    WorkspaceGroup, WorkspaceGroupId, WorkspaceGroupMember,
};
use crate::error::Result;

/// Which of a domain's groups `with_binding_of` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupScope {
    /// Every group of the domain.
    All,
    /// The groups the user is a member of.
    Joined,
}

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
    user_id: &UserId,
    role: &Role,
) -> Result<()> {
    let row = workspace_group_user::ActiveModel {
        workspace_group_id: Set(group.workspace_group_id.clone()),
        user_id: Set(user_id.clone()),
        domain_id: Set(group.domain_id.clone()),
        role_id: Set(role.role_id.clone()),
        role_type: Set(role.role_type),
        created_at: Set(group.created_at),
    };
    workspace_group_user::Entity::insert(row)
        .exec_without_returning(conn(db))
        .await
        .map_err(|err| on_unique(err, "user_id", user_id.as_str()))?;
    Ok(())
}

/// The domain's groups (all, or those `user_id` is a member of), by name then id, each with
/// the oldest of `user_id`'s workspace role bindings that came from it, if any.
///
/// One statement: the groups, joined to their members when only joined groups are wanted,
/// and left-joined to the user's bindings.
#[instrument(skip(db))]
pub async fn with_binding_of(
    db: &impl Executor,
    domain_id: &DomainId,
    user_id: &UserId,
    scope: GroupScope,
) -> Result<Vec<(WorkspaceGroup, Option<RoleBinding>)>> {
    let bound_user = user_id.to_owned();
    let to_bindings: RelationDef = workspace_group::Entity::belongs_to(role_binding::Entity)
        .from((
            workspace_group::Column::DomainId,
            workspace_group::Column::WorkspaceGroupId,
        ))
        .to((
            role_binding::Column::DomainId,
            role_binding::Column::WorkspaceGroupId,
        ))
        .on_condition(move |_, bindings| {
            Expr::col((bindings.clone(), role_binding::Column::UserId))
                .eq(bound_user.as_str())
                .and(
                    Expr::col((bindings, role_binding::Column::ResourceGroup))
                        .eq(ResourceGroup::Workspace.as_str()),
                )
                .into_condition()
        })
        .into();
    let mut query = workspace_group::Entity::find()
        .filter(workspace_group::Column::DomainId.eq(domain_id))
        .join(JoinType::LeftJoin, to_bindings);
    if scope == GroupScope::Joined {
        let to_members: RelationDef =
            workspace_group::Entity::belongs_to(workspace_group_user::Entity)
                .from(workspace_group::Column::WorkspaceGroupId)
                .to(workspace_group_user::Column::WorkspaceGroupId)
                .into();
        query = query
            .join(JoinType::InnerJoin, to_members)
            .filter(workspace_group_user::Column::UserId.eq(user_id));
    }
    let rows = query
        .order_by_asc(workspace_group::Column::WorkspaceGroupId)
        .order_by_asc(role_binding::Column::CreatedAt)
        .order_by_asc(role_binding::Column::RoleBindingId)
        .select_also(role_binding::Entity)
        .all(conn(db))
        .await?;
    let mut groups: Vec<(WorkspaceGroup, Option<RoleBinding>)> = Vec::new();
    for (group, binding) in rows {
        // A group comes once per binding of the user in it; the first is the oldest.
        if groups
            .last()
            .is_some_and(|(last, _)| last.workspace_group_id == group.workspace_group_id)
        {
            continue;
        }
        let binding = binding.map(role_bindings::from_row);
        groups.push((from_row(group), binding));
    }
    // Byte order, so that PostgreSQL's collation and SQLite's answer alike.
    groups.sort_by(|(a, _), (b, _)| {
        (a.name.as_str(), a.workspace_group_id.as_str())
            .cmp(&(b.name.as_str(), b.workspace_group_id.as_str()))
    });
    Ok(groups)
}

/// The members of the domain's groups `workspace_group_ids`, with their names and states
/// from the users table, by group, then user id.
#[instrument(skip(db, workspace_group_ids), fields(groups = workspace_group_ids.len()))]
pub async fn members(
    db: &impl Executor,
    domain_id: &DomainId,
    workspace_group_ids: &[WorkspaceGroupId],
) -> Result<Vec<WorkspaceGroupMember>> {
    #[derive(FromQueryResult)]
    struct MemberRow {
        workspace_group_id: WorkspaceGroupId,
        user_id: UserId,
        role_id: RoleId,
        role_type: RoleType,
        user_name: String,
        state: UserState,
    }
    if workspace_group_ids.is_empty() {
        return Ok(Vec::new());
    }
    let to_users: RelationDef = workspace_group_user::Entity::belongs_to(user::Entity)
        .from((
            workspace_group_user::Column::DomainId,
            workspace_group_user::Column::UserId,
        ))
        .to((user::Column::DomainId, user::Column::UserId))
        .into();
    let rows = workspace_group_user::Entity::find()
        .select_only()
        .columns([
            workspace_group_user::Column::WorkspaceGroupId,
            workspace_group_user::Column::UserId,
            workspace_group_user::Column::RoleId,
            workspace_group_user::Column::RoleType,
        ])
        .column_as(user::Column::Name.into_simple_expr(), "user_name")
        .column_as(user::Column::State.into_simple_expr(), "state")
        .join(JoinType::InnerJoin, to_users)
        .filter(workspace_group_user::Column::DomainId.eq(domain_id))
        .filter(workspace_group_user::Column::WorkspaceGroupId.is_in(workspace_group_ids))
        .into_model::<MemberRow>()
        .all(conn(db))
        .await?;
    let mut members: Vec<WorkspaceGroupMember> = rows
        .into_iter()
        .map(|row| WorkspaceGroupMember {
            state: row.state,
            role_type: row.role_type,
            workspace_group_id: row.workspace_group_id,
            user_id: row.user_id,
            user_name: Name::from_stored(row.user_name),
            role_id: row.role_id,
        })
        .collect();
    members.sort_by(|a, b| {
        (a.workspace_group_id.as_str(), a.user_id.as_str())
            .cmp(&(b.workspace_group_id.as_str(), b.user_id.as_str()))
    });
    Ok(members)
}

fn from_row(row: workspace_group::Model) -> WorkspaceGroup {
    WorkspaceGroup {
        workspace_group_id: row.workspace_group_id,
        domain_id: row.domain_id,
        name: row.name,
        tags: Tags::from_json(row.tags),
        created_by: row.created_by,
        updated_by: row.updated_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}
