//! The caller: what a verified token says about who is calling. A `Principal` can only be
//! built by `Authenticator`, so a function that takes one cannot be reached unverified.

use std::sync::Arc;

use tonic::metadata::MetadataMap;

use super::{Claims, Keyring, Permission, Permissions, TokenKind, VerifiedTokens, jwt};
use crate::clock::Clock;
use crate::domain::{DomainId, KeyPurpose, TokenRole, User, UserId, UserState, WorkspaceId};
use crate::error::{Error, Result};
use crate::store::{self, Store};

/// The gRPC metadata key that carries the JWT (SpaceONE's convention).
pub const TOKEN_METADATA_KEY: &str = "token";

/// A verified caller: an enabled user of a domain, acting with the role its token names.
#[derive(Debug, Clone)]
pub struct Principal {
    user: Arc<User>,
    role: TokenRole,
    workspace_id: Option<WorkspaceId>,
    reset: Option<String>,
}

impl Principal {
    /// The caller's user record, as loaded when the token was checked. Its `stamp` is the
    /// one the token carries; writes on the caller's behalf are conditional on it.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The caller's domain.
    pub fn domain_id(&self) -> &DomainId {
        &self.user.domain_id
    }

    /// The caller's user id.
    pub fn user_id(&self) -> &UserId {
        &self.user.user_id
    }

    /// The role the token carries.
    pub fn role(&self) -> TokenRole {
        self.role
    }

    /// The workspace a workspace-scoped token names.
    pub fn workspace_id(&self) -> Option<&WorkspaceId> {
        self.workspace_id.as_ref()
    }

    /// The `jti` of the password reset token the caller came with, if it came with one
    /// rather than an access token: such a caller may set a new password, once, and
    /// nothing else.
    pub fn reset_token(&self) -> Option<&str> {
        self.reset.as_deref()
    }
}

/// Turns tokens into callers: checks the signature with the key the token names, the
/// claims, and that the token's account still exists at the token's credential version
/// and is not disabled.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    keys: Arc<Keyring>,
    clock: Arc<dyn Clock>,
    verified: Arc<VerifiedTokens>,
}

impl Authenticator {
    /// An authenticator reading users from `store` and keys from `keys`, deciding expiry
    /// by `clock`.
    pub fn new(store: Store, keys: Arc<Keyring>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            keys,
            clock,
            verified: Arc::new(VerifiedTokens::default()),
        }
    }

    /// The caller of a request that needs `permission`, from the access token in its
    /// `token` metadata. A token whose `permissions` do not cover it is PERMISSION_DENIED.
    pub async fn authenticate(
        &self,
        metadata: &MetadataMap,
        permission: Permission,
    ) -> Result<Principal> {
        let token = metadata
            .get(TOKEN_METADATA_KEY)
            .ok_or_else(|| Error::authentication("the request has no token"))?
            .to_str()
            .map_err(|_| Error::authentication("the token is malformed"))?;
        let (claims, user) = self.verify(token, TokenKind::Access).await?;
        // Every claim is named, so a claim added to `Claims` is a decision here too.
        let Claims {
            iss: _,
            typ: _,
            own: _,
            did: _,
            aud: _,
            jti: _,
            iat: _,
            exp: _,
            ver: _,
            rol,
            wid,
            permissions,
            injected_params: _,
            nbf: _,
            acc: _,
            cvr: _,
        } = &*claims;
        let role = rol
            .as_deref()
            .and_then(|role| TokenRole::parse(role).ok())
            .ok_or_else(|| Error::authentication("the token carries no valid role"))?;
        if !Permissions::from_claim(permissions.clone()).allow(permission) {
            return Err(Error::permission_denied(format!(
                "the token's permissions do not include {}",
                permission.as_str()
            )));
        }
        Ok(Principal {
            user,
            role,
            workspace_id: wid.clone(),
            reset: None,
        })
    }

    /// The caller of a password change (`UserProfile.update`): an access token as for any
    /// UserProfile write, or a password reset token from a reset link.
    pub async fn authenticate_password_change(&self, metadata: &MetadataMap) -> Result<Principal> {
        let access = self
            .authenticate(metadata, Permission::UserProfileWrite)
            .await;
        let token = match (&access, metadata.get(TOKEN_METADATA_KEY)) {
            (Err(Error::Authentication(_)), Some(token)) => token,
            _ => return access,
        };
        let Ok(token) = token.to_str() else {
            return access;
        };
        match self.verify(token, TokenKind::PasswordReset).await {
            Ok((claims, user)) => Ok(Principal {
                user,
                role: TokenRole::User,
                workspace_id: None,
                reset: Some(claims.jti.clone()),
            }),
            // A reset token that is no longer good: say why.
            Err(Error::Authentication(reason)) if reason != jwt::BAD_SIGNATURE => {
                Err(Error::Authentication(reason))
            }
            // Not a reset token either: the access token's reason is the one to give.
            Err(_) => access,
        }
    }

    /// The claims and user of a refresh token.
    pub async fn verify_refresh(&self, token: &str) -> Result<(Arc<Claims>, Arc<User>)> {
        self.verify(token, TokenKind::Refresh).await
    }

    /// A token's claims, once its signature and the claims that never change are checked,
    /// then its times against the clock and its account as it is now (from the user cache:
    /// see `store::cache` for how late a write elsewhere is seen).
    async fn verify(&self, token: &str, kind: TokenKind) -> Result<(Arc<Claims>, Arc<User>)> {
        let claims = match kind {
            TokenKind::Access => match self.verified.get(token) {
                Some(claims) => claims,
                None => {
                    let claims = Arc::new(self.check_signature(token, kind).await?);
                    self.verified.insert(token, claims.clone());
                    claims
                }
            },
            _ => Arc::new(self.check_signature(token, kind).await?),
        };
        jwt::check_times(&claims, self.clock.now().timestamp())?;
        let user = self.current_user(&claims).await?;
        Ok((claims, user))
    }

    /// The claims of a token whose signature verifies with the domain key it names, whose
    /// owner is a user, and whose immutable claims are right for `kind`.
    async fn check_signature(&self, token: &str, kind: TokenKind) -> Result<Claims> {
        let key_ref = jwt::unverified_key_ref(token)?;
        let purpose = match kind {
            TokenKind::Access => KeyPurpose::Access,
            TokenKind::Refresh | TokenKind::PasswordReset => KeyPurpose::Refresh,
            // No domain key signs system tokens, so the lookup below refuses them.
            TokenKind::System => KeyPurpose::System,
        };
        let key = self
            .keys
            .verification_key(&key_ref.kid, &key_ref.domain_id, purpose)
            .await?;
        let claims = jwt::check_signature(&key, token, kind)?;
        if claims.own != "USER" {
            return Err(Error::authentication("the token is not a user's token"));
        }
        if claims.stamp().is_none() {
            return Err(Error::authentication(
                "the token names no account (acc, cvr)",
            ));
        }
        Ok(claims)
    }

    /// The token's user, if it is still the account the token was issued to, at the
    /// credential version it was issued at, and not disabled.
    async fn current_user(&self, claims: &Claims) -> Result<Arc<User>> {
        let stamp = claims
            .stamp()
            .ok_or_else(|| Error::authentication("the token names no account (acc, cvr)"))?;
        let user = store::users::get_cached(&self.store, &claims.did, &UserId::new(&*claims.aud))
            .await?
            .ok_or_else(|| Error::authentication("the token's user no longer exists"))?;
        if user.stamp.account_id != stamp.account_id {
            return Err(Error::authentication(
                "the token's account no longer exists",
            ));
        }
        if user.stamp.version != stamp.version {
            return Err(Error::authentication(
                "the token was revoked by a password change, reset or disable",
            ));
        }
        if user.state == UserState::Disabled {
            return Err(Error::authentication("the user is disabled"));
        }
        Ok(user)
    }
}
