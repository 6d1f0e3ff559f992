//! Bootstrapping a domain and its workspaces, users and role bindings: what the admin
//! command line does on the same database as the server.

use crate::auth::keys;
use crate::context::Context;
use crate::domain::{
    Domain, DomainId, DomainState, KeyPurpose, NewUser, RequiredAction, ResourceGroup, Role,
    RoleBinding, RoleBindingId, RoleId, RoleType, Tags, User, UserId, UserState, Workspace,
    WorkspaceGroup, WorkspaceGroupId, WorkspaceId, WorkspaceState,
};
use crate::error::{Error, Result};
use crate::store::{self, workspaces::WorkspaceFilter};

/// The role every domain's first user gets.
pub const DOMAIN_ADMIN_ROLE: &str = "managed-domain-admin";

/// Who the command line records as creator.
const CREATED_BY: &str = "spaceid-admin";

/// Creates a domain with its signing keys, its managed roles and its first domain admin,
/// all in one transaction.
pub async fn init_domain(ctx: &Context, name: &str, admin: NewUser) -> Result<(Domain, User)> {
    check_name("name", name)?;
    admin.check()?;
    let password_hash = match &admin.password {
        Some(password) => Some(ctx.hasher.hash(password).await?),
        None => None,
    };
    let (access, refresh) = tokio::try_join!(
        keys::generate(KeyPurpose::Access),
        keys::generate(KeyPurpose::Refresh)
    )?;
    let now = ctx.clock.now();
    let domain = Domain {
        domain_id: DomainId::generate(),
        name: name.to_owned(),
        state: DomainState::Enabled,
        tags: Tags::default(),
        created_at: now,
    };
    let admin_binding = RoleBinding {
        role_binding_id: RoleBindingId::generate(),
        domain_id: domain.domain_id.clone(),
        user_id: admin.user_id.clone(),
        role_id: RoleId::new(DOMAIN_ADMIN_ROLE),
        role_type: RoleType::DomainAdmin,
        resource_group: ResourceGroup::Domain,
        workspace_id: WorkspaceId::every(),
        workspace_group_id: None,
        created_at: now,
    };
    let tx = ctx.store.begin().await?;
    store::domains::insert(&tx, &domain).await?;
    store::keys::insert(&tx, &domain.domain_id, &access, now).await?;
    store::keys::insert(&tx, &domain.domain_id, &refresh, now).await?;
    for role in Role::managed() {
        store::roles::insert(&tx, &domain.domain_id, &role).await?;
    }
    store::users::insert(
        &tx,
        &domain.domain_id,
        &admin,
        password_hash,
        UserState::Enabled,
        now,
    )
    .await?;
    store::role_bindings::insert(&tx, &admin_binding).await?;
    let user = store::users::get(&tx, &domain.domain_id, &admin.user_id)
        .await?
        .ok_or_else(|| Error::internal("the new admin vanished"))?;
    tx.commit().await?;
    Ok((domain, user))
}

/// Creates an enabled workspace in a domain.
pub async fn create_workspace(
    ctx: &Context,
    domain_id: &DomainId,
    name: &str,
    tags: Tags,
) -> Result<Workspace> {
    check_name("name", name)?;
    require_domain(ctx, domain_id).await?;
    let workspace = Workspace {
        workspace_id: WorkspaceId::generate(),
        domain_id: domain_id.clone(),
        name: name.to_owned(),
        state: WorkspaceState::Enabled,
        tags,
        created_by: CREATED_BY.into(),
        reference_id: None,
        is_managed: false,
        is_dormant: false,
        dormant_updated_at: None,
        last_synced_at: None,
        workspace_group_id: None,
        created_at: ctx.clock.now(),
    };
    store::workspaces::insert(&ctx.store, &workspace).await?;
    Ok(workspace)
}

/// Creates an enabled user in a domain, with no role bindings.
pub async fn create_user(ctx: &Context, domain_id: &DomainId, new: NewUser) -> Result<User> {
    new.check()?;
    require_domain(ctx, domain_id).await?;
    let password_hash = match &new.password {
        Some(password) => Some(ctx.hasher.hash(password).await?),
        None => None,
    };
    store::users::insert(
        &ctx.store,
        domain_id,
        &new,
        password_hash,
        UserState::Enabled,
        ctx.clock.now(),
    )
    .await?;
    store::users::get(&ctx.store, domain_id, &new.user_id)
        .await?
        .ok_or_else(|| Error::internal("the new user vanished"))
}

/// Enables or disables a user. Disabling ends every token the user holds at once, and
/// enabling again does not bring them back.
pub async fn set_user_state(
    ctx: &Context,
    domain_id: &DomainId,
    user_id: &UserId,
    to: UserState,
) -> Result<User> {
    let user = store::users::get(&ctx.store, domain_id, user_id)
        .await?
        .ok_or_else(|| Error::not_found("user_id", user_id))?;
    if user.state != to
        && !store::users::change_state(&ctx.store, domain_id, user_id, user.state, to).await?
    {
        return Err(Error::precondition(format!(
            "user {user_id} changed state meanwhile; try again"
        )));
    }
    store::users::get(&ctx.store, domain_id, user_id)
        .await?
        .ok_or_else(|| Error::not_found("user_id", user_id))
}

/// Replaces a user's required actions (UPDATE_PASSWORD, ENFORCE_MFA; each at most once, none
/// clears them). Tokens already issued keep working until they expire, but `Token.grant`
/// holds a refresh token to the new actions at once.
pub async fn set_required_actions(
    ctx: &Context,
    domain_id: &DomainId,
    user_id: &UserId,
    mut actions: Vec<RequiredAction>,
) -> Result<User> {
    actions.sort();
    actions.dedup();
    store::users::get(&ctx.store, domain_id, user_id)
        .await?
        .ok_or_else(|| Error::not_found("user_id", user_id))?;
    store::users::set_required_actions(&ctx.store, domain_id, user_id, &actions).await?;
    store::users::get(&ctx.store, domain_id, user_id)
        .await?
        .ok_or_else(|| Error::not_found("user_id", user_id))
}

/// Deletes a user with its role bindings and group memberships; its tokens die with it,
/// and a user created later under the same id is another account.
pub async fn delete_user(ctx: &Context, domain_id: &DomainId, user_id: &UserId) -> Result<()> {
    if !store::users::delete(&ctx.store, domain_id, user_id).await? {
        return Err(Error::not_found("user_id", user_id));
    }
    Ok(())
}

/// Every user of a domain, by user id.
pub async fn list_users(ctx: &Context, domain_id: &DomainId) -> Result<Vec<User>> {
    require_domain(ctx, domain_id).await?;
    store::users::list(&ctx.store, domain_id).await
}

/// Every workspace of a domain, enabled or not, by name then id.
pub async fn list_workspaces(ctx: &Context, domain_id: &DomainId) -> Result<Vec<Workspace>> {
    require_domain(ctx, domain_id).await?;
    store::workspaces::list(&ctx.store, domain_id, WorkspaceFilter::default()).await
}

/// A domain's role bindings, oldest first, optionally only one user's and only those of one
/// workspace (`*`: the domain-wide ones).
pub async fn list_role_bindings(
    ctx: &Context,
    domain_id: &DomainId,
    user_id: Option<&UserId>,
    workspace_id: Option<&WorkspaceId>,
) -> Result<Vec<RoleBinding>> {
    require_domain(ctx, domain_id).await?;
    store::role_bindings::list(&ctx.store, domain_id, user_id, workspace_id).await
}

/// Deletes a role binding and returns it; an unknown id is NOT_FOUND. `Token.grant`
/// refuses new tokens on it at once; access tokens granted on it before are not revoked
/// and run out on their own.
pub async fn delete_role_binding(
    ctx: &Context,
    domain_id: &DomainId,
    role_binding_id: &RoleBindingId,
) -> Result<RoleBinding> {
    require_domain(ctx, domain_id).await?;
    let tx = ctx.store.begin().await?;
    let binding = store::role_bindings::delete(&tx, domain_id, role_binding_id)
        .await?
        .ok_or_else(|| Error::not_found("role_binding_id", role_binding_id))?;
    tx.commit().await?;
    Ok(binding)
}

/// Binds a user to a role: a DOMAIN_ADMIN role domain-wide, a workspace role in one
/// workspace or, with `*` or no workspace, in every workspace of the domain.
pub async fn create_role_binding(
    ctx: &Context,
    domain_id: &DomainId,
    user_id: &UserId,
    role_id: &RoleId,
    workspace_id: Option<&WorkspaceId>,
) -> Result<RoleBinding> {
    let db = &ctx.store;
    require_domain(ctx, domain_id).await?;
    let role = store::roles::get(db, domain_id, role_id)
        .await?
        .ok_or_else(|| Error::not_found("role_id", role_id))?;
    if store::users::get(db, domain_id, user_id).await?.is_none() {
        return Err(Error::not_found("user_id", user_id));
    }
    let workspace_id = match (role.role_type, workspace_id) {
        (_, None) => WorkspaceId::every(),
        (_, Some(workspace_id)) if workspace_id.is_every() => WorkspaceId::every(),
        (RoleType::DomainAdmin, Some(_)) => {
            return Err(Error::invalid(
                "workspace_id",
                "a DOMAIN_ADMIN role is bound domain-wide; omit the workspace",
            ));
        }
        (_, Some(workspace_id)) => {
            require_workspace(ctx, domain_id, workspace_id).await?;
            workspace_id.clone()
        }
    };
    let binding = RoleBinding {
        role_binding_id: RoleBindingId::generate(),
        domain_id: domain_id.clone(),
        user_id: user_id.clone(),
        role_id: role.role_id.clone(),
        role_type: role.role_type,
        resource_group: role.role_type.resource_group(),
        workspace_id,
        workspace_group_id: None,
        created_at: ctx.clock.now(),
    };
    let tx = ctx.store.begin().await?;
    store::role_bindings::insert(&tx, &binding).await?;
    tx.commit().await?;
    Ok(binding)
}

/// A member of a new workspace group.
#[derive(Debug, Clone)]
pub struct GroupMember {
    /// An existing user of the domain.
    pub user_id: UserId,
    /// A workspace role of the domain.
    pub role_id: RoleId,
}

/// Creates a workspace group holding `workspace_ids`, with `members` bound with their role
/// in each of its workspaces; one transaction.
pub async fn create_workspace_group(
    ctx: &Context,
    domain_id: &DomainId,
    name: &str,
    workspace_ids: &[WorkspaceId],
    members: &[GroupMember],
) -> Result<WorkspaceGroup> {
    check_name("name", name)?;
    require_domain(ctx, domain_id).await?;
    for workspace_id in workspace_ids {
        require_workspace(ctx, domain_id, workspace_id).await?;
    }
    let mut roles = Vec::with_capacity(members.len());
    for member in members {
        let role = workspace_role(ctx, domain_id, &member.role_id).await?;
        if store::users::get(&ctx.store, domain_id, &member.user_id)
            .await?
            .is_none()
        {
            return Err(Error::not_found("user_id", member.user_id.as_str()));
        }
        roles.push(role);
    }
    let now = ctx.clock.now();
    let group = WorkspaceGroup {
        workspace_group_id: WorkspaceGroupId::generate(),
        domain_id: domain_id.clone(),
        name: name.to_owned(),
        tags: Tags::default(),
        created_by: CREATED_BY.into(),
        updated_by: CREATED_BY.into(),
        created_at: now,
        updated_at: now,
    };
    let tx = ctx.store.begin().await?;
    store::workspace_groups::insert(&tx, &group).await?;
    for workspace_id in workspace_ids {
        store::workspaces::set_group(&tx, domain_id, workspace_id, &group.workspace_group_id)
            .await?;
    }
    for (member, role) in members.iter().zip(&roles) {
        store::workspace_groups::add_member(&tx, &group, &member.user_id, role).await?;
        for workspace_id in workspace_ids {
            let binding = RoleBinding {
                role_binding_id: RoleBindingId::generate(),
                domain_id: domain_id.clone(),
                user_id: member.user_id.clone(),
                role_id: role.role_id.clone(),
                role_type: role.role_type,
                resource_group: ResourceGroup::Workspace,
                workspace_id: workspace_id.clone(),
                workspace_group_id: Some(group.workspace_group_id.clone()),
                created_at: now,
            };
            store::role_bindings::insert(&tx, &binding).await?;
        }
    }
    tx.commit().await?;
    Ok(group)
}

/// The ids of the domain's roles, in order.
pub async fn role_ids(ctx: &Context, domain_id: &DomainId) -> Result<Vec<RoleId>> {
    store::roles::ids(&ctx.store, domain_id).await
}

/// A workspace role (WORKSPACE_OWNER or WORKSPACE_MEMBER) of the domain: an unknown role is
/// NOT_FOUND, a DOMAIN_ADMIN role INVALID_ARGUMENT.
pub async fn workspace_role(ctx: &Context, domain_id: &DomainId, role_id: &RoleId) -> Result<Role> {
    if role_id.is_empty() {
        return Err(Error::required("role_id"));
    }
    let role = store::roles::get(&ctx.store, domain_id, role_id)
        .await?
        .ok_or_else(|| Error::not_found("role_id", role_id))?;
    if role.role_type.resource_group() != ResourceGroup::Workspace {
        return Err(Error::invalid(
            "role_id",
            format!(
                "{} is a {} role; a workspace needs a WORKSPACE_OWNER or WORKSPACE_MEMBER role",
                role.role_id,
                role.role_type.as_str()
            ),
        ));
    }
    Ok(role)
}

async fn require_domain(ctx: &Context, domain_id: &DomainId) -> Result<Domain> {
    if domain_id.is_empty() {
        return Err(Error::required("domain_id"));
    }
    store::domains::get(&ctx.store, domain_id)
        .await?
        .ok_or_else(|| Error::not_found("domain_id", domain_id))
}

async fn require_workspace(
    ctx: &Context,
    domain_id: &DomainId,
    workspace_id: &WorkspaceId,
) -> Result<Workspace> {
    store::workspaces::get(&ctx.store, domain_id, workspace_id)
        .await?
        .ok_or_else(|| Error::not_found("workspace_id", workspace_id))
}

fn check_name(key: &'static str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::required(key));
    }
    if name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            key,
            "must be at most 128 characters, without control characters",
        ));
    }
    Ok(())
}
