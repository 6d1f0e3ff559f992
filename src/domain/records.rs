//! The records the service keeps, as the rest of the code sees them (storage has its own
//! entity types and converts at its edge).

use chrono::{DateTime, Utc};

use super::named::named_enum;
use super::{
    CodeId, CodeSlot, DomainId, Email, Language, Name, Password, ResourceGroup, RoleBindingId,
    RoleId, RoleType, Tags, Timezone, UserId, WorkspaceGroupId, WorkspaceId,
};
use crate::error::{Error, Result};

named_enum!(
    /// Whether a user may sign in.
    UserState, "state" {
        /// May sign in.
        Enabled = "ENABLED",
        /// May not sign in; its tokens are refused.
        Disabled = "DISABLED",
        /// Created but never signed in; becomes ENABLED at the first sign-in.
        Pending = "PENDING",
    }
);

named_enum!(
    /// Where a user's password lives.
    AuthType, "auth_type" {
        /// Here, as a bcrypt hash.
        Local = "LOCAL",
        /// With an external identity provider; no password here.
        External = "EXTERNAL",
    }
);

named_enum!(
    /// Whether a workspace can be entered.
    WorkspaceState, "state" {
        /// In use.
        Enabled = "ENABLED",
        /// Closed; nobody gets a token for it.
        Disabled = "DISABLED",
    }
);

named_enum!(
    /// Whether a domain is in use.
    DomainState, "state" {
        /// In use.
        Enabled = "ENABLED",
        /// Closed: nobody signs in to it.
        Disabled = "DISABLED",
    }
);

named_enum!(
    /// How a user proves the second factor.
    MfaType, "mfa_type" {
        /// A code mailed to the user's verified address.
        Email = "EMAIL",
        /// A TOTP code from an authenticator app.
        Otp = "OTP",
    }
);

named_enum!(
    /// Something a user must do before anything else.
    RequiredAction, "required_actions" {
        /// Change the password (set by an administrator's reset).
        UpdatePassword = "UPDATE_PASSWORD",
        /// Keep multi-factor authentication on (set by an administrator): until MFA is on,
        /// the user may only turn it on; while it is on, the user cannot turn it off.
        EnforceMfa = "ENFORCE_MFA",
    }
);

named_enum!(
    /// Where multi-factor authentication stands for a user.
    MfaState, "mfa.state" {
        /// On: sign-in needs a code.
        Enabled = "ENABLED",
        /// Off, or set up but not yet confirmed.
        Disabled = "DISABLED",
    }
);

/// A tenant. Nothing ever crosses from one domain into another.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    /// `domain-` and 12 hex characters.
    pub domain_id: DomainId,
    /// Unique name, used to find the domain at sign-in.
    pub name: String,
    /// ENABLED or DISABLED.
    pub state: DomainState,
    /// Free-form tags.
    pub tags: Tags,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A user's multi-factor settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Mfa {
    /// On or off.
    pub state: MfaState,
    /// EMAIL or OTP.
    pub mfa_type: MfaType,
    /// The method's settings, such as `{"email": ...}`.
    pub options: Tags,
    /// The TOTP secret of MFA type OTP, sealed (`CodeKey::seal`); never shown.
    pub sealed_secret: Option<String>,
}

/// A user as stored. Its `Debug` output leaves out the password hash.
#[derive(Clone, PartialEq)]
pub struct User {
    /// The tenant.
    pub domain_id: DomainId,
    /// Unique within the domain.
    pub user_id: UserId,
    /// Display name.
    pub name: Name,
    /// Whether the user may sign in.
    pub state: UserState,
    /// Contact address, when known.
    pub email: Option<Email>,
    /// Whether the user proved it owns `email`.
    pub email_verified: bool,
    /// Where the password lives.
    pub auth_type: AuthType,
    /// bcrypt hash; only LOCAL users have one.
    pub password_hash: Option<String>,
    /// When the password last changed.
    pub password_changed_at: Option<DateTime<Utc>>,
    /// Which account this is and at which credential version: what its tokens are bound to.
    pub stamp: CredentialStamp,
    /// The user's domain-wide role binding, if any (`managed-domain-admin` for an admin).
    pub domain_role: Option<(RoleId, RoleType)>,
    /// Multi-factor settings, once set up.
    pub mfa: Option<Mfa>,
    /// Language code.
    pub language: Language,
    /// IANA time zone.
    pub timezone: Timezone,
    /// Actions the user must take, such as `UPDATE_PASSWORD`.
    pub required_actions: Vec<RequiredAction>,
    /// Lifetime of the user's refresh tokens, in seconds.
    pub refresh_timeout: i32,
    /// Free-form tags.
    pub tags: Tags,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the user last signed in.
    pub last_accessed_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("domain_id", &self.domain_id)
            .field("user_id", &self.user_id)
            .field("state", &self.state)
            .field("auth_type", &self.auth_type)
            .field("domain_role", &self.domain_role)
            .finish_non_exhaustive()
    }
}

impl User {
    /// Whether the user must change its password before anything else (UPDATE_PASSWORD).
    pub fn must_update_password(&self) -> bool {
        self.required_actions
            .contains(&RequiredAction::UpdatePassword)
    }

    /// Whether an administrator enforces MFA for the user (ENFORCE_MFA).
    pub fn mfa_enforced(&self) -> bool {
        self.required_actions.contains(&RequiredAction::EnforceMfa)
    }

    /// Whether MFA is enforced for the user and not on yet: it must turn MFA on before
    /// anything else.
    pub fn must_enable_mfa(&self) -> bool {
        self.mfa_enforced()
            && self
                .mfa
                .as_ref()
                .is_none_or(|mfa| mfa.state != MfaState::Enabled)
    }

    /// Whether the user holds a domain-wide DOMAIN_ADMIN binding.
    pub fn is_domain_admin(&self) -> bool {
        matches!(self.domain_role, Some((_, RoleType::DomainAdmin)))
    }
}

/// Which account, at which version of its credentials. Tokens carry it and are accepted only
/// while the user's row still has the same stamp; every write to a user is conditional on
/// the stamp it was decided from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialStamp {
    /// 32 lowercase hex characters, new for every account: a user deleted and created again
    /// under the same `user_id` is another account, and the old one's tokens stay dead.
    pub account_id: String,
    /// Incremented in the same statement as every password change, reset and disable.
    pub version: i64,
}

impl CredentialStamp {
    /// The stamp of a new account.
    pub fn new_account() -> Self {
        Self {
            account_id: super::ids::random_hex(16),
            version: 0,
        }
    }
}

/// What it takes to create a user; every field already validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Unique within the domain.
    pub user_id: UserId,
    /// Display name; defaults to empty.
    pub name: Option<Name>,
    /// Contact address.
    pub email: Option<Email>,
    /// LOCAL users need a password; EXTERNAL users must not have one.
    pub auth_type: AuthType,
    /// The first password of a LOCAL user.
    pub password: Option<Password>,
    /// Language code; defaults to `en`.
    pub language: Option<Language>,
    /// Time zone; defaults to `UTC`.
    pub timezone: Option<Timezone>,
    /// Free-form tags.
    pub tags: Tags,
}

impl NewUser {
    /// Checks the rules that tie fields together: LOCAL users have a password, EXTERNAL none.
    pub fn check(&self) -> Result<()> {
        match (self.auth_type, &self.password) {
            (AuthType::Local, None) => Err(Error::required("password")),
            (AuthType::External, Some(_)) => Err(Error::invalid(
                "password",
                "EXTERNAL users sign in elsewhere and have no password here",
            )),
            _ => Ok(()),
        }
    }
}

/// A place where work happens; users enter it through role bindings.
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    /// `workspace-` and 12 hex characters.
    pub workspace_id: WorkspaceId,
    /// The tenant.
    pub domain_id: DomainId,
    /// Unique name within the domain.
    pub name: String,
    /// ENABLED or DISABLED.
    pub state: WorkspaceState,
    /// Free-form tags.
    pub tags: Tags,
    /// Who created it.
    pub created_by: String,
    /// An outside system's id for it, if any.
    pub reference_id: Option<String>,
    /// Whether an outside system manages it.
    pub is_managed: bool,
    /// Whether it is dormant.
    pub is_dormant: bool,
    /// When `is_dormant` last changed.
    pub dormant_updated_at: Option<DateTime<Utc>>,
    /// When an outside system last synced it.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// The group it belongs to, if any.
    pub workspace_group_id: Option<WorkspaceGroupId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A set of workspaces with members of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceGroup {
    /// `wg-` and 12 hex characters.
    pub workspace_group_id: WorkspaceGroupId,
    /// The tenant.
    pub domain_id: DomainId,
    /// Unique name within the domain.
    pub name: String,
    /// Free-form tags.
    pub tags: Tags,
    /// Who created it.
    pub created_by: String,
    /// Who last changed it.
    pub updated_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A member of a workspace group, with its role in the group and, from its user record,
/// its name and state.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceGroupMember {
    /// The group.
    pub workspace_group_id: WorkspaceGroupId,
    /// The member.
    pub user_id: UserId,
    /// The member's display name.
    pub user_name: Name,
    /// Whether the member may sign in.
    pub state: UserState,
    /// The member's role in the group's workspaces.
    pub role_id: RoleId,
    /// That role's type: WORKSPACE_OWNER or WORKSPACE_MEMBER.
    pub role_type: RoleType,
}

/// A workspace as one user sees it: with the role the user holds there.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceWithRole {
    /// The workspace.
    pub workspace: Workspace,
    /// The role's id.
    pub role_id: RoleId,
    /// The role's display name.
    pub role_name: String,
    /// What the role lets the user do there.
    pub role_type: RoleType,
}

/// A grant of a role to a user in the domain or in a workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleBinding {
    /// `rb-` and 12 hex characters.
    pub role_binding_id: RoleBindingId,
    /// The tenant.
    pub domain_id: DomainId,
    /// Who holds the role.
    pub user_id: UserId,
    /// Which role.
    pub role_id: RoleId,
    /// The role's type, copied from the role.
    pub role_type: RoleType,
    /// DOMAIN or WORKSPACE.
    pub resource_group: ResourceGroup,
    /// The workspace, or `*` for every workspace.
    pub workspace_id: WorkspaceId,
    /// The group the binding came from, if any.
    pub workspace_group_id: Option<WorkspaceGroupId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A one-time code sent to a user, as stored: only its hash is kept.
#[derive(Clone, PartialEq)]
pub struct OneTimeCode {
    /// `code-` and 12 hex characters.
    pub code_id: CodeId,
    /// The tenant.
    pub domain_id: DomainId,
    /// Whom it was sent to.
    pub user_id: UserId,
    /// What it holds: a code (of which purpose), a reset link or a count.
    pub purpose: CodeSlot,
    /// A hash of the code; the code itself is only ever in the message sent.
    pub code_hash: String,
    /// What confirming it applies, such as the e-mail address being verified.
    pub payload: Option<serde_json::Value>,
    /// Wrong guesses so far.
    pub attempts: i32,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was used, if it was.
    pub consumed_at: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl OneTimeCode {
    /// Whether the code can still be used at `now`: not used, not expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.consumed_at.is_none() && self.expires_at > now
    }

    /// Whether the code was voided before anyone could use it (its mail failed).
    pub fn is_void(&self) -> bool {
        self.expires_at <= self.created_at
    }
}

impl std::fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneTimeCode")
            .field("code_id", &self.code_id)
            .field("purpose", &self.purpose)
            .field("attempts", &self.attempts)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

named_enum!(
    /// Which tokens a key signs.
    KeyPurpose, "purpose" {
        /// Access tokens; its public half is published.
        Access = "ACCESS",
        /// Refresh tokens; never published, so a refresh token never passes as an access
        /// token.
        Refresh = "REFRESH",
        /// System tokens: the root key, kept apart from every domain's keys and never
        /// published.
        System = "SYSTEM",
    }
);

/// Where a signing key belongs, without the key itself: what a process keeps in memory
/// for every key, to find a token's key by its `kid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListing {
    /// Key id, sent in the JWT header.
    pub kid: String,
    /// The domain whose tokens it signs.
    pub domain_id: DomainId,
    /// What it signs.
    pub purpose: KeyPurpose,
    /// When it was made; the newest key of a purpose signs new tokens.
    pub created_at: DateTime<Utc>,
}

/// One of a domain's RSA signing key pairs.
#[derive(Clone, PartialEq)]
pub struct SigningKey {
    /// Key id, sent in the JWT header.
    pub kid: String,
    /// What it signs.
    pub purpose: KeyPurpose,
    /// PKCS#8 PEM of the private key.
    pub private_pem: String,
    /// The public key as a bare JWK (`{"kty":"RSA","n":...,"e":...}`).
    pub public_jwk: serde_json::Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

/// A user as the rest of its domain sees it: no password hash, no MFA secret, no
/// credential version.
#[derive(Debug, Clone, PartialEq)]
pub struct UserView {
    /// The tenant.
    pub domain_id: DomainId,
    /// Unique within the domain.
    pub user_id: UserId,
    /// Display name.
    pub name: Name,
    /// ENABLED, DISABLED or PENDING.
    pub state: UserState,
    /// Contact address, when known.
    pub email: Option<Email>,
    /// Whether the user proved it owns `email`.
    pub email_verified: bool,
    /// Where the password lives.
    pub auth_type: AuthType,
    /// Whether the user holds a domain-wide DOMAIN_ADMIN binding.
    pub domain_admin: bool,
    /// Language code.
    pub language: Language,
    /// IANA time zone.
    pub timezone: Timezone,
    /// Free-form tags.
    pub tags: Tags,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the user last signed in.
    pub last_accessed_at: Option<DateTime<Utc>>,
}

/// A member of a workspace: a user and the binding that makes it one (in the workspace
/// itself, or `*` for every workspace of the domain).
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The user.
    pub user: UserView,
    /// Its membership binding.
    pub binding: RoleBinding,
}

/// A user of the domain as `WorkspaceUser.find` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// Unique within the domain.
    pub user_id: UserId,
    /// Display name.
    pub name: Name,
    /// ENABLED, DISABLED or PENDING.
    pub state: UserState,
    /// LOCAL or EXTERNAL.
    pub auth_type: AuthType,
}

/// What `WorkspaceUser.find` looks for among the users outside a workspace; `None` does
/// not narrow.
#[derive(Debug, Clone, Default)]
pub struct FindFilter {
    /// Held, folded, by the user id or the name.
    pub keyword: Option<String>,
    /// In this state.
    pub state: Option<UserState>,
    /// Of this kind.
    pub auth_type: Option<AuthType>,
}

/// The request's plain fields that narrow a member list; `None` does not narrow.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Exactly this user.
    pub user_id: Option<UserId>,
    /// Exactly this name.
    pub name: Option<String>,
    /// In this state.
    pub state: Option<UserState>,
    /// Exactly this address.
    pub email: Option<String>,
    /// Of this kind.
    pub auth_type: Option<AuthType>,
    /// Bound with this role type (owners or members).
    pub role_type: Option<RoleType>,
}

impl MemberFilter {
    /// Whether the filter narrows nothing.
    pub fn is_empty(&self) -> bool {
        self.user_id.is_none()
            && self.name.is_none()
            && self.state.is_none()
            && self.email.is_none()
            && self.auth_type.is_none()
            && self.role_type.is_none()
    }
}

/// One page of results and the count of every match before paging.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    /// The page (empty when only the count was asked for).
    pub results: Vec<T>,
    /// Every match.
    pub total_count: u64,
    /// The fields a query's `only` asked for (`None`: every field).
    pub only: Option<Vec<String>>,
}
