//! Signing in (`Token.issue`) and trading a refresh token for a scoped access token
//! (`Token.grant`).

use chrono::TimeDelta;

use crate::auth::{Claims, Permissions, TokenKind, jwt};
use crate::context::Context;
use crate::domain::{
    AuthType, ResourceGroup, RoleBinding, RoleType, SignInThrottle, TokenRole, User, UserId,
    UserState, WORKSPACE_WILDCARD, WorkspaceState, account_key, normalized, throttle,
};
use crate::error::{Error, Result};
use crate::store;

/// The longest domain id a sign-in looks up (ours are `domain-` and 12 hex characters).
const MAX_DOMAIN_ID_BYTES: usize = 64;

/// A LOCAL sign-in.
#[derive(Debug)]
pub struct SignIn {
    /// The user's domain.
    pub domain_id: String,
    /// `credentials.user_id`.
    pub user_id: String,
    /// `credentials.password`; never logged.
    pub password: String,
    /// Requested access token lifetime in seconds (0: the default).
    pub timeout: i32,
}

/// What a successful sign-in returns.
pub struct IssuedTokens {
    /// Opens the API as the user (`rol` USER).
    pub access_token: String,
    /// Buys scoped access tokens through `Token.grant`.
    pub refresh_token: String,
}

/// The scope a granted access token acts in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The whole domain, as its admin.
    Domain,
    /// One workspace, with the user's role there.
    Workspace(String),
    /// The user alone.
    User,
}

/// A request to trade a refresh token for an access token.
#[derive(Debug)]
pub struct GrantRequest {
    /// The refresh token from `Token.issue`.
    pub refresh_token: String,
    /// Where the new token acts.
    pub scope: Scope,
    /// Requested lifetime in seconds (0: the default).
    pub timeout: i32,
    /// Permissions that narrow the new token.
    pub permissions: Permissions,
    /// The domain the caller expects the token to belong to, if it said.
    pub domain_id: Option<String>,
}

/// A granted access token and the role it carries.
pub struct Granted {
    /// The new access token.
    pub access_token: String,
    /// Its `rol` claim.
    pub role: TokenRole,
    /// The role binding's role behind it, if any.
    pub role_id: Option<String>,
    /// The domain.
    pub domain_id: String,
    /// The workspace of a workspace-scoped token.
    pub workspace_id: Option<String>,
}

/// Checks a LOCAL user's password and issues an access and a refresh token. An unknown
/// user and a wrong password give the same answer, in the same time. Failed attempts on an
/// account name slow the next ones down (`domain::throttle`); a throttled attempt is
/// answered before any password check.
pub async fn issue(ctx: &Context, sign_in: SignIn) -> Result<IssuedTokens> {
    let SignIn {
        domain_id,
        user_id,
        password,
        timeout,
    } = sign_in;
    if domain_id.is_empty() {
        return Err(Error::required("domain_id"));
    }
    if user_id.is_empty() {
        return Err(Error::required("credentials.user_id"));
    }
    if password.is_empty() {
        return Err(Error::required("credentials.password"));
    }
    if domain_id.len() > MAX_DOMAIN_ID_BYTES {
        return Err(Error::invalid("domain_id", "is not a domain id"));
    }
    if user_id.chars().count() > UserId::MAX_LEN {
        return Err(Error::invalid(
            "credentials.user_id",
            "must be at most 255 characters",
        ));
    }
    let user_id = normalized(&user_id);
    let lifetime = ctx.tokens.access_lifetime(timeout)?;
    let account = throttle::throttle_key(&account_key(&user_id));
    let (previous, counted) = start_attempt(ctx, &domain_id, &account).await?;
    let user = store::users::get(&ctx.store, &domain_id, &user_id).await?;
    let hash = user
        .as_ref()
        .filter(|user| user.auth_type == AuthType::Local)
        .and_then(|user| user.password_hash.as_deref());
    let matched = match ctx.hasher.verify(&password, hash).await {
        // Not checked at all: the attempt does not count against the account.
        Err(busy @ Error::Busy(_)) => {
            store::throttles::restore(
                &ctx.store,
                &domain_id,
                &account,
                &counted,
                previous.as_ref(),
            )
            .await?;
            return Err(busy);
        }
        other => other?,
    };
    let user = match user {
        Some(user) if matched => user,
        _ => return Err(Error::authentication("wrong user_id or password")),
    };
    if user.state == UserState::Disabled {
        return Err(Error::authentication("the user is disabled"));
    }
    // The password was checked against the copy read above. The sign-in counts only if that
    // copy is still current: a password change, reset, disable or delete that committed
    // during the check makes this write a no-op, and no token is issued.
    let now = ctx.clock.now();
    if !store::users::record_sign_in(&ctx.store, &domain_id, &user_id, &user.stamp, now).await? {
        return Err(Error::authentication(
            "the account changed during sign-in; sign in again",
        ));
    }
    store::throttles::clear(&ctx.store, &domain_id, &account).await?;
    let keys = ctx.keys.signing_keys(&domain_id).await?;
    let access = Claims::for_user(TokenKind::Access, &user, lifetime, now.timestamp())
        .with_role(TokenRole::User, None);
    let refresh = Claims::for_user(
        TokenKind::Refresh,
        &user,
        i64::from(user.refresh_timeout),
        now.timestamp(),
    );
    Ok(IssuedTokens {
        access_token: jwt::sign(&keys.access, &access)?,
        refresh_token: jwt::sign(&keys.refresh, &refresh)?,
    })
}

/// Counts a sign-in attempt on an account name before its password is checked (a success
/// clears the count), or refuses it when the name must wait. Of several attempts starting
/// at once, one starts and the others are refused, so a flood against one account costs
/// at most one password check at a time.
/// Returns the account name's state before and after the attempt was counted.
async fn start_attempt(
    ctx: &Context,
    domain_id: &str,
    account: &str,
) -> Result<(Option<SignInThrottle>, SignInThrottle)> {
    let now = ctx.clock.now();
    let seen = store::throttles::get(&ctx.store, domain_id, account).await?;
    let wait = seen.map_or(TimeDelta::zero(), |seen| seen.wait(now));
    let next = SignInThrottle::after_attempt(seen.as_ref(), now);
    if wait > TimeDelta::zero()
        || !store::throttles::advance(&ctx.store, domain_id, account, seen.as_ref(), &next).await?
    {
        let wait = wait.max(TimeDelta::seconds(1));
        return Err(Error::Throttled {
            what: "too many failed sign-ins for this user",
            retry_after_secs: (wait.num_milliseconds() + 999) / 1000,
        });
    }
    Ok((seen, next))
}

/// Forgets account names whose last wait ended more than `throttle::MEMORY` ago.
pub async fn purge_sign_in_throttles(ctx: &Context) -> Result<u64> {
    store::throttles::purge(&ctx.store, ctx.clock.now() - throttle::MEMORY).await
}

/// Trades a refresh token for an access token in a scope, with the role the user's
/// bindings give there.
pub async fn grant(ctx: &Context, request: GrantRequest) -> Result<Granted> {
    let GrantRequest {
        refresh_token,
        scope,
        timeout,
        permissions,
        domain_id,
    } = request;
    if refresh_token.is_empty() {
        return Err(Error::required("token"));
    }
    let lifetime = ctx.tokens.access_lifetime(timeout)?;
    let (refresh, user) = ctx.auth.verify_refresh(&refresh_token).await?;
    if domain_id
        .as_deref()
        .is_some_and(|asked| asked != refresh.did)
    {
        return Err(Error::authentication("the token belongs to another domain"));
    }
    let bindings =
        store::role_bindings::for_user(&ctx.store, &user.domain_id, &user.user_id).await?;
    let (role, role_id, workspace_id) = match scope {
        Scope::Domain => {
            let admin = domain_admin_binding(&bindings).ok_or_else(|| {
                Error::permission_denied("DOMAIN scope needs a DOMAIN_ADMIN role binding")
            })?;
            (TokenRole::DomainAdmin, Some(admin.role_id.clone()), None)
        }
        Scope::Workspace(workspace_id) => {
            let (role, role_id) = workspace_role(ctx, &user, &bindings, &workspace_id).await?;
            (role, Some(role_id), Some(workspace_id))
        }
        Scope::User => (TokenRole::User, None, None),
    };
    let keys = ctx.keys.signing_keys(&user.domain_id).await?;
    let mut claims = Claims::for_user(
        TokenKind::Access,
        &user,
        lifetime,
        ctx.clock.now().timestamp(),
    )
    .with_role(role, workspace_id.as_deref());
    claims.permissions = permissions.into_claim();
    Ok(Granted {
        access_token: jwt::sign(&keys.access, &claims)?,
        role,
        role_id,
        domain_id: user.domain_id,
        workspace_id,
    })
}

fn domain_admin_binding(bindings: &[RoleBinding]) -> Option<&RoleBinding> {
    bindings
        .iter()
        .find(|b| b.resource_group == ResourceGroup::Domain && b.role_type == RoleType::DomainAdmin)
}

/// The user's role in a workspace: WORKSPACE_OWNER for a domain admin, else the strongest
/// of its bindings to that workspace or to every workspace (`*`).
async fn workspace_role(
    ctx: &Context,
    user: &User,
    bindings: &[RoleBinding],
    workspace_id: &str,
) -> Result<(TokenRole, String)> {
    if workspace_id.is_empty() {
        return Err(Error::required("workspace_id"));
    }
    let workspace = store::workspaces::get(&ctx.store, &user.domain_id, workspace_id)
        .await?
        .ok_or_else(|| Error::not_found("workspace_id", workspace_id))?;
    if workspace.state != WorkspaceState::Enabled {
        return Err(Error::permission_denied(format!(
            "workspace {workspace_id} is disabled"
        )));
    }
    if let Some(admin) = domain_admin_binding(bindings) {
        return Ok((TokenRole::WorkspaceOwner, admin.role_id.clone()));
    }
    bindings
        .iter()
        .filter(|b| b.resource_group == ResourceGroup::Workspace)
        .filter(|b| b.workspace_id == workspace_id || b.workspace_id == WORKSPACE_WILDCARD)
        .min_by_key(|b| b.role_type)
        .map(|b| (TokenRole::from(b.role_type), b.role_id.clone()))
        .ok_or_else(|| {
            Error::permission_denied(format!("the user has no role in workspace {workspace_id}"))
        })
}
