//! The JWT contract of SpaceONE: the claims every token carries and how they are signed
//! and checked. Other SpaceONE services trust any token the published key verifies, so
//! every rule here is a security boundary.

use jsonwebtoken::{Algorithm, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use super::keys::KeyMaterial;
use crate::domain::{CredentialStamp, DomainId, TokenRole, User, WorkspaceId, ids};
use crate::error::{Error, Result};

/// The `iss` of every token.
pub const ISSUER: &str = "spaceone.identity";
/// The `ver` of every token; SpaceONE services check it exactly.
pub const VERSION: &str = "2.0";
/// The `own` of a system token.
pub const SYSTEM_OWNER: &str = "SYSTEM";
/// The `rol` of a system token.
pub const SYSTEM_ROLE: &str = "SYSTEM_TOKEN";
/// The longest lifetime a caller may ask for, in seconds (7 days).
pub const MAX_TIMEOUT: i64 = 604_800;
/// How far in the future a token's `iat` may lie before it is refused, in seconds.
const CLOCK_SKEW: i64 = 60;
/// What every token that no key of ours verifies hears: a bad signature, a key id nobody
/// knows, a key of another domain or a domain that does not exist all read the same.
pub const BAD_SIGNATURE: &str = "the token's signature is invalid";

/// Lifetimes of the tokens the service issues.
#[derive(Debug, Clone, Copy)]
pub struct TokenSettings {
    /// Access tokens, unless a caller asks for less or more (capped at `MAX_TIMEOUT`).
    /// Refresh tokens live as long as the user's own `refresh_timeout` says.
    pub access_timeout: i64,
}

impl TokenSettings {
    /// The access token lifetime for a requested `timeout` (0 means the default).
    pub fn access_lifetime(&self, requested: i32) -> Result<i64> {
        match i64::from(requested) {
            0 => Ok(self.access_timeout),
            t if t < 0 => Err(Error::invalid(
                "timeout",
                "must be a positive number of seconds",
            )),
            t => Ok(t.min(MAX_TIMEOUT)),
        }
    }
}

/// Which kind of token, by its `typ` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Opens the API; signed with the published key.
    Access,
    /// Only buys access tokens through `Token.grant`; signed with the unpublished key.
    Refresh,
    /// Only sets a new password, once (a reset link); signed with the unpublished key, so no
    /// other service accepts it.
    PasswordReset,
    /// Opens identity's system APIs (`Domain.get_public_key`) to another service; signed
    /// with the root key, which no domain has and nothing publishes.
    System,
}

impl TokenKind {
    /// The `typ` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "ACCESS_TOKEN",
            Self::Refresh => "REFRESH_TOKEN",
            Self::PasswordReset => "PASSWORD_RESET_TOKEN",
            Self::System => "SYSTEM_TOKEN",
        }
    }
}

/// The claims of a SpaceONE token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Always `spaceone.identity`.
    pub iss: String,
    /// `ACCESS_TOKEN`, `REFRESH_TOKEN`, ...
    pub typ: String,
    /// The owner type: `USER`, `APP` or `SYSTEM`.
    pub own: String,
    /// The domain.
    pub did: DomainId,
    /// The user (or, in a system token, the token's name).
    pub aud: String,
    /// 32 lowercase hex characters, unique per token.
    pub jti: String,
    /// Issued at, in seconds since the epoch.
    pub iat: i64,
    /// Expires at, in seconds since the epoch.
    pub exp: i64,
    /// Always `2.0`.
    pub ver: String,
    /// The role; always present on access tokens (SpaceONE skips role checks without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rol: Option<String>,
    /// The workspace of a workspace-scoped token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wid: Option<WorkspaceId>,
    /// API permissions that narrow what the token may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    /// Request parameters a SpaceONE service injects from the token.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub injected_params: serde_json::Map<String, serde_json::Value>,
    /// Not valid before, in seconds since the epoch (we never set it; others may).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The account the token was issued to (`CredentialStamp::account_id`): it dies with
    /// the account, even if another is created later under the same user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acc: Option<String>,
    /// The account's credential version when the token was issued: a password change,
    /// reset or disable increments it, and ends the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvr: Option<i64>,
}

impl Claims {
    /// Fresh claims for a user's token, issued at `now` and valid for `lifetime` seconds,
    /// bound to the user's account and credential version.
    pub fn for_user(kind: TokenKind, user: &User, lifetime: i64, now: i64) -> Self {
        Self {
            iss: ISSUER.into(),
            typ: kind.as_str().into(),
            own: "USER".into(),
            did: user.domain_id.clone(),
            aud: user.user_id.as_str().to_owned(),
            jti: ids::random_hex(16),
            iat: now,
            exp: now + lifetime,
            ver: VERSION.into(),
            rol: None,
            wid: None,
            permissions: Vec::new(),
            injected_params: serde_json::Map::new(),
            nbf: None,
            acc: Some(user.stamp.account_id.clone()),
            cvr: Some(user.stamp.version),
        }
    }

    /// Fresh claims for a system token named `name`, with `jti`, issued at `now` and valid
    /// for `lifetime` seconds. `rol` is SYSTEM_TOKEN, the role spaceone-core gives every
    /// system token itself, so a reader that looks at `rol` before `typ` sees the same role
    /// and never a missing one.
    pub fn for_system(name: &str, jti: &str, lifetime: i64, now: i64) -> Self {
        Self {
            iss: ISSUER.into(),
            typ: TokenKind::System.as_str().into(),
            own: SYSTEM_OWNER.into(),
            did: DomainId::root(),
            aud: name.to_owned(),
            jti: jti.to_owned(),
            iat: now,
            exp: now + lifetime,
            ver: VERSION.into(),
            rol: Some(SYSTEM_ROLE.into()),
            wid: None,
            permissions: Vec::new(),
            injected_params: serde_json::Map::new(),
            nbf: None,
            acc: None,
            cvr: None,
        }
    }

    /// The account and credential version the token is bound to, if it names both.
    pub fn stamp(&self) -> Option<CredentialStamp> {
        Some(CredentialStamp {
            account_id: self.acc.clone()?,
            version: self.cvr?,
        })
    }

    /// The same claims with a role (and, for a workspace, its id).
    pub fn with_role(mut self, role: TokenRole, workspace_id: Option<&WorkspaceId>) -> Self {
        self.rol = Some(role.as_str().into());
        self.wid = workspace_id.cloned();
        self
    }
}

/// Signs claims with RS256 under `key`; the header is `{"alg":"RS256","kid":...}`.
pub fn sign(key: &KeyMaterial, claims: &Claims) -> Result<String> {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = None;
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).map_err(Error::internal)
}

/// Which key a token says it was signed with: its header's `kid` and its `did` claim,
/// read without checking anything, to pick the key to check it with. Nothing else may be
/// trusted before `verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    /// The header's key id.
    pub kid: String,
    /// The `did` claim.
    pub domain_id: DomainId,
}

/// Reads a token's `KeyRef` without verifying it.
pub fn unverified_key_ref(token: &str) -> Result<KeyRef> {
    #[derive(Deserialize)]
    struct DomainOnly {
        did: DomainId,
    }
    let malformed = |_| Error::authentication("the token is malformed");
    let header = jsonwebtoken::decode_header(token).map_err(malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(Error::authentication("the token is not signed with RS256"));
    }
    let domain_id = jsonwebtoken::dangerous::insecure_decode::<DomainOnly>(token)
        .map_err(malformed)?
        .claims
        .did;
    let kid = header
        .kid
        .ok_or_else(|| Error::authentication("the token names no key (kid)"))?;
    Ok(KeyRef { kid, domain_id })
}

/// Checks a token's signature against `key`, its algorithm (RS256 only: never `none`, never
/// HMAC), issuer, version and kind, and its `exp`, `nbf` and `iat` against `now` (seconds
/// since the epoch; no leeway for `exp`).
pub fn verify(key: &KeyMaterial, token: &str, kind: TokenKind, now: i64) -> Result<Claims> {
    let claims = check_signature(key, token, kind)?;
    check_times(&claims, now)?;
    Ok(claims)
}

/// What `verify` checks but the times: what stays true of a token until it expires.
pub fn check_signature(key: &KeyMaterial, token: &str, kind: TokenKind) -> Result<Claims> {
    let mut validation = Validation::new(Algorithm::RS256);
    // Times are checked below against the service's clock, not jsonwebtoken's.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
        .map_err(|err| {
            Error::authentication(match err.kind() {
                ErrorKind::InvalidSignature => BAD_SIGNATURE,
                ErrorKind::InvalidAlgorithm => "the token is not signed with RS256",
                _ => "the token is invalid",
            })
        })?
        .claims;
    if claims.typ != kind.as_str() {
        return Err(Error::authentication(format!(
            "expected a token of type {}",
            kind.as_str()
        )));
    }
    if claims.ver != VERSION {
        return Err(Error::authentication("unsupported token version"));
    }
    if claims.jti.len() != 32
        || !claims
            .jti
            .chars()
            .all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    {
        return Err(Error::authentication("the token's jti is malformed"));
    }
    Ok(claims)
}

/// Checks a token's `exp`, `nbf` and `iat` against `now` (seconds since the epoch; no
/// leeway for `exp`).
pub fn check_times(claims: &Claims, now: i64) -> Result<()> {
    if now >= claims.exp {
        return Err(Error::authentication("the token has expired"));
    }
    if claims.nbf.is_some_and(|nbf| nbf > now) || claims.iat > now + CLOCK_SKEW {
        return Err(Error::authentication("the token is not valid yet"));
    }
    Ok(())
}
