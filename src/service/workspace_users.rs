//! WorkspaceUser: the users of one workspace. Who may act where is decided here, from the
//! caller's token *and* its bindings as they are now: a token granted before a binding was
//! removed or lowered acts with what is left.

use std::net::IpAddr;

use crate::auth::Principal;
use crate::context::Context;
use crate::domain::{
    AuthType, FindFilter, Listing, Member, MemberFilter, NewUser, Password, QuerySlot,
    RequiredAction, ResourceGroup, RoleBinding, RoleBindingId, RoleId, RoleType, TokenRole, UserId,
    UserState, UserSummary, WorkspaceId, WorkspaceState,
};
use crate::error::{Error, Result};
use crate::query::{self, Search, Stat};
use crate::service::{admin, reset};
use crate::store::{self, members::Window};

/// What a call needs of the caller in the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// get, find, list, stat: a domain admin, an owner or a member.
    Read,
    /// create: a domain admin or an owner.
    Write,
}

/// A new user for a workspace.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// The user (its password is required unless `reset_password`).
    pub user: NewUser,
    /// A workspace role of the domain.
    pub role_id: RoleId,
    /// Mail the user an invitation to choose its password, and require it to.
    pub reset_password: bool,
}

/// Creates a user in the caller's domain and binds it to the workspace, in one transaction.
/// With `reset_password` the user gets an invitation mail (a link or a temporary password,
/// as `--password-reset` says) and UPDATE_PASSWORD; if the mail cannot be sent, the user is
/// not created.
pub async fn create(
    ctx: &Context,
    caller: &Principal,
    workspace_id: Option<&WorkspaceId>,
    new: NewMember,
) -> Result<Member> {
    let workspace_id = workspace_for(ctx, caller, workspace_id, Access::Write).await?;
    let domain_id = caller.domain_id();
    let role = admin::workspace_role(ctx, domain_id, &new.role_id).await?;
    let temporary = if new.reset_password {
        invitation_password(ctx, &new.user)?
    } else {
        new.user.check()?;
        None
    };
    let password_hash = match temporary.as_ref().or(new.user.password.as_ref()) {
        Some(password) => Some(ctx.hasher.hash(password).await?),
        None => None,
    };
    let now = ctx.clock.now();
    let user_id = &new.user.user_id;
    let binding = RoleBinding {
        role_binding_id: RoleBindingId::generate(),
        domain_id: domain_id.clone(),
        user_id: user_id.clone(),
        role_id: role.role_id.clone(),
        role_type: role.role_type,
        resource_group: ResourceGroup::Workspace,
        workspace_id: workspace_id.clone(),
        workspace_group_id: None,
        created_at: now,
    };
    let tx = ctx.store.begin().await?;
    store::users::insert(
        &tx,
        domain_id,
        &new.user,
        password_hash,
        UserState::Enabled,
        now,
    )
    .await?;
    if new.reset_password {
        store::users::set_required_actions(
            &tx,
            domain_id,
            user_id,
            &[RequiredAction::UpdatePassword],
        )
        .await?;
    }
    store::role_bindings::insert(&tx, &binding).await?;
    tx.commit().await?;
    if new.reset_password {
        let user = store::users::get(&ctx.store, domain_id, user_id)
            .await?
            .ok_or_else(|| Error::internal("the new user vanished"))?;
        if let Err(error) = reset::invite(ctx, &user, temporary.as_ref()).await {
            // Not created after all: the owner sees the mail failure and can try again.
            store::users::delete(&ctx.store, domain_id, user_id).await?;
            return Err(error);
        }
    }
    store::members::get(&ctx.store, domain_id, &workspace_id, user_id)
        .await?
        .ok_or_else(|| Error::internal("the new workspace user vanished"))
}

/// One user of the workspace with its binding there.
pub async fn get(
    ctx: &Context,
    caller: &Principal,
    workspace_id: Option<&WorkspaceId>,
    user_id: &UserId,
) -> Result<Member> {
    let workspace_id = workspace_for(ctx, caller, workspace_id, Access::Read).await?;
    if user_id.is_empty() {
        return Err(Error::required("user_id"));
    }
    let user_id = UserId::parse(user_id.as_str())?;
    store::members::get(&ctx.store, caller.domain_id(), &workspace_id, &user_id)
        .await?
        .ok_or_else(|| Error::not_found("user_id", &user_id))
}

/// The workspace's users that `filter` and `search` select, and the fields to return.
pub async fn list(
    ctx: &Context,
    caller: &Principal,
    client: Option<IpAddr>,
    workspace_id: Option<&WorkspaceId>,
    filter: MemberFilter,
    search: Search,
) -> Result<Listing<Member>> {
    if filter.role_type == Some(RoleType::DomainAdmin) {
        return Err(Error::invalid(
            "role_type",
            "is WORKSPACE_OWNER or WORKSPACE_MEMBER in a workspace",
        ));
    }
    let workspace_id = workspace_for(ctx, caller, workspace_id, Access::Read).await?;
    let _turn = query_turn(ctx, caller, client).await?;
    store::members::list(
        &ctx.store,
        caller.domain_id(),
        &workspace_id,
        &filter,
        &search,
    )
    .await
}

/// Users of the domain not yet in the workspace whose `user_id` or `name` contains
/// `keyword`, in `user_id` order.
pub async fn find(
    ctx: &Context,
    caller: &Principal,
    client: Option<IpAddr>,
    workspace_id: Option<&WorkspaceId>,
    filter: FindFilter,
    page: Option<query::Page>,
) -> Result<Listing<UserSummary>> {
    let workspace_id = workspace_for(ctx, caller, workspace_id, Access::Read).await?;
    if let Some(keyword) = &filter.keyword {
        if keyword.chars().count() > query::MAX_VALUE_CHARS {
            return Err(Error::invalid(
                "keyword",
                format!("must be at most {} characters", query::MAX_VALUE_CHARS),
            ));
        }
        if keyword.chars().any(char::is_control) {
            return Err(Error::invalid(
                "keyword",
                "must not contain control characters",
            ));
        }
    }
    let window = window(page)?;
    let _turn = query_turn(ctx, caller, client).await?;
    store::members::find_outside(
        &ctx.store,
        caller.domain_id(),
        &workspace_id,
        &filter,
        window,
    )
    .await
}

/// An aggregation over the workspace's users.
pub async fn stat(
    ctx: &Context,
    caller: &Principal,
    client: Option<IpAddr>,
    workspace_id: Option<&WorkspaceId>,
    stat: Stat,
) -> Result<(Vec<serde_json::Value>, Option<u64>)> {
    let workspace_id = workspace_for(ctx, caller, workspace_id, Access::Read).await?;
    let _turn = query_turn(ctx, caller, client).await?;
    store::members::stat(&ctx.store, caller.domain_id(), &workspace_id, &stat).await
}

/// The caller's turn to run a member query from `client` (see `domain::gate`).
async fn query_turn<'c>(
    ctx: &'c Context,
    caller: &Principal,
    client: Option<IpAddr>,
) -> Result<QuerySlot<'c>> {
    ctx.queries
        .admit((caller.domain_id(), caller.user_id()), client)
        .await
}

/// The workspace a call acts in, once the caller is known to hold what `access` needs
/// there. A domain admin names any workspace of its domain with the request's
/// `workspace_id`; a workspace token acts in its own workspace (a different `workspace_id`
/// in the request is PERMISSION_DENIED), with the lesser of the token's role and the
/// caller's binding there now.
async fn workspace_for(
    ctx: &Context,
    caller: &Principal,
    requested: Option<&WorkspaceId>,
    access: Access,
) -> Result<WorkspaceId> {
    let domain_id = caller.domain_id();
    match caller.role() {
        TokenRole::DomainAdmin => {
            if !caller.user().is_domain_admin() {
                return Err(Error::permission_denied(
                    "the caller is no longer a domain admin",
                ));
            }
            let workspace_id = requested.ok_or_else(|| Error::required("workspace_id"))?;
            store::workspaces::get(&ctx.store, domain_id, workspace_id)
                .await?
                .ok_or_else(|| Error::not_found("workspace_id", workspace_id))?;
            Ok(workspace_id.clone())
        }
        TokenRole::WorkspaceOwner | TokenRole::WorkspaceMember => {
            let Some(own) = caller.workspace_id() else {
                return Err(Error::permission_denied("the token names no workspace"));
            };
            if let Some(requested) = requested
                && requested != own
            {
                return Err(Error::permission_denied(format!(
                    "the token is for workspace {own}, not {requested}"
                )));
            }
            let workspace = store::workspaces::get(&ctx.store, domain_id, own).await?;
            if workspace.is_none_or(|w| w.state != WorkspaceState::Enabled) {
                return Err(Error::permission_denied(format!(
                    "workspace {own} is not enabled"
                )));
            }
            // A domain admin holds WORKSPACE_OWNER in every workspace, as Token.grant says.
            let held = if caller.user().is_domain_admin() {
                Some(RoleType::WorkspaceOwner)
            } else {
                store::members::binding_of(&ctx.store, domain_id, own, caller.user_id())
                    .await?
                    .map(|binding| binding.role_type)
            };
            let owner = match held {
                None => {
                    return Err(Error::permission_denied(format!(
                        "the caller is no longer a member of workspace {own}"
                    )));
                }
                Some(role_type) => {
                    role_type == RoleType::WorkspaceOwner
                        && caller.role() == TokenRole::WorkspaceOwner
                }
            };
            if access == Access::Write && !owner {
                return Err(Error::permission_denied(
                    "only a WORKSPACE_OWNER or a domain admin may add users to a workspace",
                ));
            }
            Ok(own.clone())
        }
        TokenRole::User => Err(Error::permission_denied(
            "a workspace token is needed: Token.grant with scope WORKSPACE (or DOMAIN for an admin)",
        )),
    }
}

/// The temporary password an invited user starts with (none in link mode, where it
/// chooses one by the mailed link). An invitation goes to a LOCAL user with an address,
/// and the password is not chosen by whoever invites it.
fn invitation_password(ctx: &Context, user: &NewUser) -> Result<Option<Password>> {
    if user.auth_type != AuthType::Local {
        return Err(Error::invalid(
            "reset_password",
            "EXTERNAL users sign in elsewhere and have no password here",
        ));
    }
    if user.email.is_none() {
        return Err(Error::required("email"));
    }
    if user.password.is_some() {
        return Err(Error::invalid(
            "password",
            "leave it empty with reset_password: the user chooses its own",
        ));
    }
    match ctx.codes.reset {
        crate::config::PasswordReset::Link => Ok(None),
        crate::config::PasswordReset::TemporaryPassword => Password::temporary().map(Some),
    }
}

/// The rows a page skips and returns: `start` counts from 1 (0 means 1), `limit` 0 means
/// the default, and more than `MAX_PAGE_LIMIT` is refused.
fn window(page: Option<query::Page>) -> Result<Window> {
    let page = page.unwrap_or_default();
    let limit = match page.limit {
        0 => query::DEFAULT_PAGE_LIMIT,
        limit if limit > query::MAX_PAGE_LIMIT => {
            return Err(Error::invalid(
                "page.limit",
                format!("must be at most {}", query::MAX_PAGE_LIMIT),
            ));
        }
        limit => limit,
    };
    Ok(Window {
        offset: page.start.max(1) - 1,
        limit,
    })
}
