//! Signing in (`Token.issue`) and trading a refresh token for a scoped access token
//! (`Token.grant`).

use std::net::IpAddr;

use chrono::TimeDelta;

use super::{codes, profile};
use crate::auth::{Claims, Permissions, TokenKind, jwt};
use crate::context::Context;
use crate::domain::{
    AuthType, Code, CodePurpose, DomainId, ResourceGroup, RoleBinding, RoleId, RoleType,
    SignInThrottle, TokenRole, User, UserId, UserState, WorkspaceId, WorkspaceState, account_key,
    normalized, throttle, throttle::Counter,
};
use crate::error::{Error, Result};
use crate::store;

/// What the access token of a user who must change its password allows.
pub const UPDATE_PASSWORD_PERMISSION: &str = "identity:UserProfile";

/// The longest domain id a sign-in looks up (ours are `domain-` and 12 hex characters).
const MAX_DOMAIN_ID_BYTES: usize = 64;

/// A LOCAL sign-in.
#[derive(Debug)]
pub struct SignIn {
    /// The user's domain.
    pub domain_id: DomainId,
    /// `credentials.user_id`, as typed: the sign-in throttle counts whatever a caller sends,
    /// a valid user id or not.
    pub user_id: String,
    /// `credentials.password`; never logged.
    pub password: String,
    /// Requested access token lifetime in seconds (0: the default).
    pub timeout: i32,
    /// Where the attempt came from, as throttling counts it.
    pub client: Option<IpAddr>,
    /// The MFA code of the second step (`auth_type` MFA); `None` in the first.
    pub verify_code: Option<Code>,
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
    Workspace(WorkspaceId),
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
    pub domain_id: Option<DomainId>,
}

/// A granted access token and the role it carries.
pub struct Granted {
    /// The new access token.
    pub access_token: String,
    /// Its `rol` claim.
    pub role: TokenRole,
    /// The role binding's role behind it, if any.
    pub role_id: Option<RoleId>,
    /// The domain.
    pub domain_id: DomainId,
    /// The workspace of a workspace-scoped token.
    pub workspace_id: Option<WorkspaceId>,
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
        client,
        verify_code,
    } = sign_in;
    let user_id = account_name(&domain_id, &user_id, &password)?;
    let lifetime = ctx.tokens.access_lifetime(timeout)?;
    let mut attempt =
        Attempt::start(ctx, &domain_id, &account_key(user_id.as_str()), client).await?;
    let user = password_holder(ctx, &domain_id, &user_id, &password, &mut attempt).await?;
    second_factor(ctx, &user, verify_code, &mut attempt).await?;
    // The password was checked against the copy read above. The sign-in counts only if that
    // copy is still current: a password change, reset, disable or delete that committed
    // during the check makes this write a no-op, and no token is issued.
    let now = ctx.clock.now();
    if !store::users::record_sign_in(&ctx.store, &domain_id, &user_id, &user.stamp, now).await? {
        return Err(Error::authentication(
            "the account changed during sign-in; sign in again",
        ));
    }
    attempt.succeeded(ctx, now).await?;
    rehash_if_needed(ctx, &user, &password).await;
    let keys = ctx.keys.signing_keys(&domain_id).await?;
    let mut access = Claims::for_user(TokenKind::Access, &user, lifetime, now.timestamp())
        .with_role(TokenRole::User, None);
    if user.must_update_password() || user.must_enable_mfa() {
        // As the reference does for UPDATE_PASSWORD: such a user may change its own account
        // (its password, or turn MFA on) and nothing else.
        access.permissions = vec![UPDATE_PASSWORD_PERMISSION.to_owned()];
    }
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

/// The account a sign-in names, once every credential is given and the names are of a
/// length worth looking up.
fn account_name(domain_id: &DomainId, user_id: &str, password: &str) -> Result<UserId> {
    if domain_id.is_empty() {
        return Err(Error::required("domain_id"));
    }
    if user_id.is_empty() {
        return Err(Error::required("credentials.user_id"));
    }
    if password.is_empty() {
        return Err(Error::required("credentials.password"));
    }
    if domain_id.as_str().len() > MAX_DOMAIN_ID_BYTES {
        return Err(Error::invalid("domain_id", "is not a domain id"));
    }
    if user_id.chars().count() > UserId::MAX_LEN {
        return Err(Error::invalid(
            "credentials.user_id",
            "must be at most 255 characters",
        ));
    }
    Ok(UserId::new(normalized(user_id)))
}

/// The LOCAL user `user_id` names, if `password` is theirs and they are not disabled. An
/// unknown user is checked against a dummy hash, so every refusal takes as long.
async fn password_holder(
    ctx: &Context,
    domain_id: &DomainId,
    user_id: &UserId,
    password: &str,
    attempt: &mut Attempt,
) -> Result<User> {
    let user = store::users::get(&ctx.store, domain_id, user_id).await?;
    let hash = user
        .as_ref()
        .filter(|user| user.auth_type == AuthType::Local)
        .and_then(|user| user.password_hash.as_deref());
    let matched = match ctx.hasher.verify(password, hash).await {
        // Not checked at all: the attempt does not count against the account.
        Err(busy @ Error::Busy(_)) => {
            attempt.take_back(ctx).await?;
            return Err(busy);
        }
        other => other?,
    };
    match user {
        Some(user) if matched && user.state != UserState::Disabled => Ok(user),
        Some(_) if matched => {
            metrics::counter!("spaceid_sign_in_failures_total").increment(1);
            Err(Error::authentication("the user is disabled"))
        }
        _ => {
            metrics::counter!("spaceid_sign_in_failures_total").increment(1);
            Err(Error::authentication("wrong user_id or password"))
        }
    }
}

/// Checks `password` against `user`'s own for a signed-in caller (`update_password`), counted
/// as a sign-in attempt of the user from `client`: a wrong password is a failed sign-in, and
/// a throttled account name is refused before any check, so a stolen session is no oracle
/// for guessing the password. A right one clears the failures, as a sign-in does.
pub async fn check_current_password(
    ctx: &Context,
    user: &User,
    password: &str,
    client: Option<IpAddr>,
) -> Result<()> {
    let mut attempt = Attempt::start(
        ctx,
        &user.domain_id,
        &account_key(user.user_id.as_str()),
        client,
    )
    .await?;
    let matched = match ctx
        .hasher
        .verify(password, user.password_hash.as_deref())
        .await
    {
        Err(busy @ Error::Busy(_)) => {
            attempt.take_back(ctx).await?;
            return Err(busy);
        }
        other => other?,
    };
    if !matched {
        metrics::counter!("spaceid_sign_in_failures_total").increment(1);
        return Err(Error::PasswordNotMatched);
    }
    attempt.clear(ctx).await
}

/// The second step of a sign-in for a user with MFA on, after the right password: without a
/// code, the sign-in fails with ERROR_MFA_REQUIRED (the password was right, so its failures
/// are cleared), and for MFA by e-mail a code is mailed; with one, the code must be good
/// (`profile::check_second_factor`), and is used.
/// A code for a user without MFA is refused.
async fn second_factor(
    ctx: &Context,
    user: &User,
    verify_code: Option<Code>,
    attempt: &mut Attempt,
) -> Result<()> {
    if !profile::mfa_on(user) {
        return match verify_code {
            Some(_) => Err(Error::invalid(
                "auth_type",
                "MFA is not enabled for this user; sign in with LOCAL",
            )),
            None => Ok(()),
        };
    }
    // Codes for sign-ins from an unfamiliar address are kept and counted apart, so someone
    // who knows the password cannot use up the owner's codes and tries.
    let purpose = if attempt.familiar {
        CodePurpose::SignIn
    } else {
        CodePurpose::SignInFromNewAddress
    };
    let Some(code) = verify_code else {
        attempt.clear(ctx).await?;
        if !profile::uses_otp(user) {
            codes::send(ctx, user, purpose, &profile::mfa_address(user)?).await?;
        }
        return Err(Error::MfaRequired);
    };
    profile::check_second_factor(ctx, user, purpose, &code).await
}

/// Replaces the password hash of a user who has just signed in if it was made at another
/// bcrypt cost than new hashes (see `PasswordHasher::needs_rehash`). The sign-in stands
/// whatever happens here.
async fn rehash_if_needed(ctx: &Context, user: &User, password: &str) {
    let Some(old) = user.password_hash.as_deref() else {
        return;
    };
    if !ctx.hasher.needs_rehash(old) {
        return;
    }
    let replaced = match ctx.hasher.rehash(password).await {
        Ok(new) => {
            store::users::replace_hash(
                &ctx.store,
                &user.domain_id,
                &user.user_id,
                &user.stamp,
                old,
                &new,
            )
            .await
        }
        Err(error) => Err(error),
    };
    match replaced {
        Ok(replaced) => tracing::debug!(replaced, "password hash moved to the current cost"),
        Err(error) => tracing::warn!(%error, "cannot move a password hash to the current cost"),
    }
}

/// One sign-in attempt, counted before its password is checked (see `domain::throttle`).
struct Attempt {
    domain_id: DomainId,
    /// The account name's key, from every address.
    account: String,
    /// The account name's key from this client address.
    address: String,
    /// Each counter the attempt moved: its key, and its state before and after.
    counted: Vec<(String, Option<SignInThrottle>, SignInThrottle)>,
    /// The account signed in from this address within `throttle::FAMILIAR_FOR`.
    familiar: bool,
}

impl Attempt {
    /// How many times an attempt retries moving the per-account count when attempts from
    /// other addresses move it first.
    const ACCOUNT_RETRIES: usize = 4;

    /// Counts an attempt, or refuses it when the account name must wait: from this address,
    /// or (unless the address is familiar) from every address. Of several attempts from one
    /// address starting at once, one starts and the others are refused, so a flood against
    /// one account costs at most one password check at a time.
    async fn start(
        ctx: &Context,
        domain_id: &DomainId,
        account_key: &str,
        client: Option<IpAddr>,
    ) -> Result<Self> {
        let now = ctx.clock.now();
        let mut attempt = Self {
            domain_id: domain_id.clone(),
            account: throttle::throttle_key(account_key),
            address: throttle::address_key(account_key, client),
            counted: Vec::with_capacity(2),
            familiar: false,
        };
        let familiar = store::throttles::is_familiar(
            &ctx.store,
            domain_id,
            &attempt.address,
            now - throttle::FAMILIAR_FOR,
        )
        .await?;
        attempt.familiar = familiar;
        let address = attempt.address.clone();
        if !attempt.count(ctx, &address, Counter::Address, 1).await? {
            return Err(throttled(TimeDelta::seconds(1)));
        }
        if !familiar {
            let account = attempt.account.clone();
            let counted = attempt
                .count(ctx, &account, Counter::Account, Self::ACCOUNT_RETRIES)
                .await;
            if !matches!(counted, Ok(true)) {
                attempt.take_back(ctx).await?;
                counted?;
                return Err(throttled(TimeDelta::seconds(1)));
            }
        }
        Ok(attempt)
    }

    /// Moves one counter by an attempt, with compare-and-set, trying `tries` times when
    /// another attempt moves it first. False when it could not; a refusal when the key must
    /// still wait.
    async fn count(
        &mut self,
        ctx: &Context,
        key: &str,
        counter: Counter,
        tries: usize,
    ) -> Result<bool> {
        for _ in 0..tries {
            let now = ctx.clock.now();
            let seen = store::throttles::get(&ctx.store, &self.domain_id, key).await?;
            let wait = seen.map_or(TimeDelta::zero(), |seen| seen.wait(now));
            if wait > TimeDelta::zero() {
                if !self.counted.is_empty() {
                    self.take_back(ctx).await?;
                }
                return Err(throttled(wait));
            }
            let next = SignInThrottle::after_attempt(seen.as_ref(), now, counter);
            if store::throttles::advance(&ctx.store, &self.domain_id, key, seen.as_ref(), &next)
                .await?
            {
                self.counted.push((key.to_owned(), seen, next));
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Takes back an attempt whose password was never checked (the server was too busy).
    async fn take_back(&mut self, ctx: &Context) -> Result<()> {
        for (key, previous, counted) in self.counted.drain(..) {
            store::throttles::restore(
                &ctx.store,
                &self.domain_id,
                &key,
                &counted,
                previous.as_ref(),
            )
            .await?;
        }
        Ok(())
    }

    /// Clears the account name's failures after a successful sign-in, and remembers the
    /// address as familiar.
    async fn succeeded(self, ctx: &Context, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
        self.clear(ctx).await?;
        store::throttles::remember_familiar(&ctx.store, &self.domain_id, &self.address, now).await
    }

    /// Clears the account name's failures: the password was right.
    async fn clear(&self, ctx: &Context) -> Result<()> {
        store::throttles::clear(&ctx.store, &self.domain_id, &self.address).await?;
        store::throttles::clear(&ctx.store, &self.domain_id, &self.account).await
    }
}

/// The refusal of an attempt that must wait `wait` (at least a second, rounded up).
fn throttled(wait: TimeDelta) -> Error {
    metrics::counter!("spaceid_sign_in_throttled_total").increment(1);
    let wait = wait.max(TimeDelta::seconds(1));
    Error::Throttled {
        what: "too many failed sign-ins for this user",
        retry_after_secs: (wait.num_milliseconds() + 999) / 1000,
    }
}

/// Forgets account names whose last wait ended more than `throttle::MEMORY` ago, and
/// addresses no longer familiar.
pub async fn purge_sign_in_throttles(ctx: &Context) -> Result<u64> {
    let now = ctx.clock.now();
    let throttles = store::throttles::purge(&ctx.store, now - throttle::MEMORY).await?;
    let familiar =
        store::throttles::purge_familiar(&ctx.store, now - throttle::FAMILIAR_FOR).await?;
    Ok(throttles + familiar)
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
    if user.must_update_password() {
        return Err(Error::UpdatePasswordRequired);
    }
    if user.must_enable_mfa() {
        return Err(Error::MfaEnforced);
    }
    if domain_id.is_some_and(|asked| asked != refresh.did) {
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
    .with_role(role, workspace_id.as_ref());
    claims.permissions = permissions.into_claim();
    Ok(Granted {
        access_token: jwt::sign(&keys.access, &claims)?,
        role,
        role_id,
        domain_id: user.domain_id.clone(),
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
    workspace_id: &WorkspaceId,
) -> Result<(TokenRole, RoleId)> {
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
        .filter(|b| b.workspace_id == *workspace_id || b.workspace_id.is_every())
        .min_by_key(|b| b.role_type)
        .map(|b| (TokenRole::from(b.role_type), b.role_id.clone()))
        .ok_or_else(|| {
            Error::permission_denied(format!("the user has no role in workspace {workspace_id}"))
        })
}
