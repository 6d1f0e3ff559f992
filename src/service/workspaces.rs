//! The workspaces and workspace groups a signed-in user belongs to
//! (`UserProfile.get_workspaces` and `get_workspace_groups`).

use std::collections::HashMap;

use crate::auth::Principal;
use crate::context::Context;
use crate::domain::{
    RoleBinding, RoleType, WorkspaceGroup, WorkspaceGroupId, WorkspaceGroupMember, WorkspaceState,
    WorkspaceWithRole,
};
use crate::error::Result;
use crate::store::{self, workspace_groups::GroupScope, workspaces::WorkspaceFilter};

/// A workspace group as its member sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct MyWorkspaceGroup {
    /// The group.
    pub group: WorkspaceGroup,
    /// Its members, by user id.
    pub users: Vec<WorkspaceGroupMember>,
    /// The caller's own role binding that came from the group (its oldest), if any.
    pub role_binding: Option<RoleBinding>,
}

/// The enabled workspaces the caller can enter, by name then id, each with the role the
/// caller holds there: the role `Token.grant` would put in a token for that workspace.
///
/// Whether the caller is a domain admin is decided by its role bindings in the database at
/// the time of the call, not by the token's `rol`, which may predate a change.
///
/// - A domain admin sees every enabled workspace of the domain, each with role type
///   WORKSPACE_OWNER and the role id and name of its DOMAIN_ADMIN role (such as
///   `managed-domain-admin`), exactly what `Token.grant` answers it for a workspace. (The
///   reference service leaves the role fields of a domain admin empty unless it also holds
///   a binding in the workspace; an empty role would say the admin cannot act there.)
/// - Anyone else sees the workspaces its workspace role bindings reach: a binding to the
///   workspace itself, or a domain-wide `*` binding, which holds in every workspace. Of
///   several bindings that reach one workspace the strongest wins (owner over member),
///   then the oldest, as in `Token.grant`.
///
/// `workspace_group_id` narrows to the workspaces of that group, for everyone.
pub async fn my_workspaces(
    ctx: &Context,
    caller: &Principal,
    workspace_group_id: Option<&WorkspaceGroupId>,
) -> Result<Vec<WorkspaceWithRole>> {
    let (domain_id, user_id) = (caller.domain_id(), caller.user_id());
    if let Some(admin_role) =
        store::role_bindings::domain_admin_role(&ctx.store, domain_id, user_id).await?
    {
        let filter = WorkspaceFilter {
            state: Some(WorkspaceState::Enabled),
            workspace_group_id,
        };
        let workspaces = store::workspaces::list(&ctx.store, domain_id, filter).await?;
        return Ok(workspaces
            .into_iter()
            .map(|workspace| WorkspaceWithRole {
                workspace,
                role_id: admin_role.role_id.clone(),
                role_name: admin_role.name.clone(),
                role_type: RoleType::WorkspaceOwner,
            })
            .collect());
    }
    let entries =
        store::workspaces::entered_by(&ctx.store, domain_id, user_id, workspace_group_id).await?;
    Ok(strongest_per_workspace(entries))
}

/// The workspace groups the caller belongs to (a domain admin: every group of the domain),
/// by name then id, each with its members and the caller's own binding from the group.
pub async fn my_workspace_groups(
    ctx: &Context,
    caller: &Principal,
) -> Result<Vec<MyWorkspaceGroup>> {
    let (domain_id, user_id) = (caller.domain_id(), caller.user_id());
    let scope =
        match store::role_bindings::domain_admin_role(&ctx.store, domain_id, user_id).await? {
            Some(_) => GroupScope::All,
            None => GroupScope::Joined,
        };
    let groups =
        store::workspace_groups::with_binding_of(&ctx.store, domain_id, user_id, scope).await?;
    let ids: Vec<WorkspaceGroupId> = groups
        .iter()
        .map(|(group, _)| group.workspace_group_id.clone())
        .collect();
    let mut members_of: HashMap<WorkspaceGroupId, Vec<WorkspaceGroupMember>> = HashMap::new();
    for member in store::workspace_groups::members(&ctx.store, domain_id, &ids).await? {
        members_of
            .entry(member.workspace_group_id.clone())
            .or_default()
            .push(member);
    }
    Ok(groups
        .into_iter()
        .map(|(group, role_binding)| MyWorkspaceGroup {
            users: members_of
                .remove(&group.workspace_group_id)
                .unwrap_or_default(),
            group,
            role_binding,
        })
        .collect())
}

/// One entry per workspace, keeping the strongest role (owner over member) and, between
/// equals, the first: `entries` come grouped by workspace, oldest binding first.
fn strongest_per_workspace(entries: Vec<WorkspaceWithRole>) -> Vec<WorkspaceWithRole> {
    let mut kept: Vec<WorkspaceWithRole> = Vec::with_capacity(entries.len());
    for entry in entries {
        match kept.last_mut() {
            Some(last) if last.workspace.workspace_id == entry.workspace.workspace_id => {
                // RoleType orders DOMAIN_ADMIN < WORKSPACE_OWNER < WORKSPACE_MEMBER.
                if entry.role_type < last.role_type {
                    *last = entry;
                }
            }
            _ => kept.push(entry),
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::{DomainId, RoleId, Tags, Workspace, WorkspaceId};

    fn entry(workspace_id: &str, role_id: &str, role_type: RoleType) -> WorkspaceWithRole {
        WorkspaceWithRole {
            workspace: Workspace {
                workspace_id: WorkspaceId::new(workspace_id),
                domain_id: DomainId::new("domain-1"),
                name: workspace_id.into(),
                state: WorkspaceState::Enabled,
                tags: Tags::default(),
                created_by: String::new(),
                reference_id: None,
                is_managed: false,
                is_dormant: false,
                dormant_updated_at: None,
                last_synced_at: None,
                workspace_group_id: None,
                created_at: Utc::now(),
            },
            role_id: RoleId::new(role_id),
            role_name: role_id.into(),
            role_type,
        }
    }

    #[test]
    fn the_strongest_then_the_oldest_binding_wins() {
        let kept = strongest_per_workspace(vec![
            entry("a", "member-old", RoleType::WorkspaceMember),
            entry("a", "owner", RoleType::WorkspaceOwner),
            entry("a", "owner-newer", RoleType::WorkspaceOwner),
            entry("b", "member-old", RoleType::WorkspaceMember),
            entry("b", "member-new", RoleType::WorkspaceMember),
        ]);
        let roles: Vec<(&str, &str)> = kept
            .iter()
            .map(|e| (e.workspace.workspace_id.as_str(), e.role_id.as_str()))
            .collect();
        assert_eq!(roles, [("a", "owner"), ("b", "member-old")]);
    }
}
