//! The caller: what a verified token says about who is calling. A `Principal` can only be
//! built by `Authenticator`, so a function that takes one cannot be reached unverified.

use std::sync::Arc;

use tonic::metadata::MetadataMap;

use super::{Claims, Keyring, TokenKind, jwt};
use crate::domain::{TokenRole, User, UserState};
use crate::error::{Error, Result};
use crate::store::{self, Store};

/// The gRPC metadata key that carries the JWT (SpaceONE's convention).
pub const TOKEN_METADATA_KEY: &str = "token";

/// A verified caller: an enabled user of a domain, acting with the role its token names.
#[derive(Debug, Clone)]
pub struct Principal {
    user: User,
    role: TokenRole,
    workspace_id: Option<String>,
}

impl Principal {
    /// The caller's user record, as loaded when the token was checked.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The caller's domain.
    pub fn domain_id(&self) -> &str {
        &self.user.domain_id
    }

    /// The caller's user id.
    pub fn user_id(&self) -> &str {
        &self.user.user_id
    }

    /// The role the token carries.
    pub fn role(&self) -> TokenRole {
        self.role
    }

    /// The workspace a workspace-scoped token names.
    pub fn workspace_id(&self) -> Option<&str> {
        self.workspace_id.as_deref()
    }
}

/// Turns tokens into callers: checks the signature with the domain's key, the claims, and
/// that the user still exists, is not disabled and has not changed its password since.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    keys: Arc<Keyring>,
}

impl Authenticator {
    /// An authenticator reading users from `store` and keys from `keys`.
    pub fn new(store: Store, keys: Arc<Keyring>) -> Self {
        Self { store, keys }
    }

    /// The caller of a request, from the access token in its `token` metadata.
    pub async fn authenticate(&self, metadata: &MetadataMap) -> Result<Principal> {
        let token = metadata
            .get(TOKEN_METADATA_KEY)
            .ok_or_else(|| Error::authentication("the request has no token"))?
            .to_str()
            .map_err(|_| Error::authentication("the token is malformed"))?;
        let (claims, user) = self.verify(token, TokenKind::Access).await?;
        let role = claims
            .rol
            .as_deref()
            .and_then(TokenRole::parse)
            .ok_or_else(|| Error::authentication("the token carries no valid role"))?;
        Ok(Principal {
            user,
            role,
            workspace_id: claims.wid,
        })
    }

    /// The claims and user of a refresh token.
    pub async fn verify_refresh(&self, token: &str) -> Result<(Claims, User)> {
        self.verify(token, TokenKind::Refresh).await
    }

    async fn verify(&self, token: &str, kind: TokenKind) -> Result<(Claims, User)> {
        let domain_id = jwt::unverified_domain(token)?;
        let keys = self
            .keys
            .for_domain(&domain_id)
            .await?
            .ok_or_else(|| Error::authentication("the token's domain is unknown"))?;
        let key = match kind {
            TokenKind::Access => &keys.access,
            TokenKind::Refresh => &keys.refresh,
        };
        let claims = jwt::verify(key, token, kind)?;
        if claims.own != "USER" {
            return Err(Error::authentication("the token is not a user's token"));
        }
        let user = store::users::get(self.store.db(), &claims.did, &claims.aud)
            .await?
            .ok_or_else(|| Error::authentication("the token's user no longer exists"))?;
        if user.state == UserState::Disabled {
            return Err(Error::authentication("the user is disabled"));
        }
        if issued_before_password_change(&claims, &user) {
            return Err(Error::authentication(
                "the token was issued before the last password change",
            ));
        }
        Ok((claims, user))
    }
}

/// Whether the token predates the user's last password change. `iat` has whole seconds, so
/// a token issued in the second of the change counts as older; sign-in waits out that
/// second, so no token issued after the change is caught by this.
fn issued_before_password_change(claims: &Claims, user: &User) -> bool {
    user.password_changed_at
        .is_some_and(|changed| claims.iat <= changed.timestamp())
}
