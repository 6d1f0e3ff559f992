//! System tokens, as the admin command line makes, lists and revokes them on the database
//! every replica shares.

use chrono::TimeDelta;

use crate::auth::{Claims, jwt, keys};
use crate::context::Context;
use crate::domain::{DomainId, KeyPurpose, SystemToken, SystemTokenName, ids};
use crate::error::{Error, Result};
use crate::store;

/// A system token just made: the token itself (shown once, never stored) and its record.
pub struct IssuedSystemToken {
    /// The signed JWT.
    pub token: String,
    /// What the database keeps of it.
    pub record: SystemToken,
}

impl std::fmt::Debug for IssuedSystemToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSystemToken")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// Makes a system token named `name`, valid for `lifetime`, signed with the newest root key
/// (made on first use and kept in the database).
pub async fn create(
    ctx: &Context,
    name: &SystemTokenName,
    lifetime: TimeDelta,
) -> Result<IssuedSystemToken> {
    let now = ctx.clock.now();
    let root = match store::system_tokens::newest_key(&ctx.store).await? {
        Some(key) => key,
        None => {
            // Of two first creations at once, each stores its own key; both keys verify,
            // and the newest signs from then on.
            let key = keys::generate(KeyPurpose::System).await?;
            store::system_tokens::insert_key(&ctx.store, &key, now).await?;
            key
        }
    };
    let material = keys::material(&root, &DomainId::root())?;
    let record = SystemToken {
        jti: ids::random_hex(16),
        name: name.as_str().to_owned(),
        created_at: now,
        expires_at: now + lifetime,
        revoked_at: None,
    };
    let claims = Claims::for_system(
        &record.name,
        &record.jti,
        lifetime.num_seconds(),
        now.timestamp(),
    );
    let token = jwt::sign(&material, &claims)?;
    store::system_tokens::insert(&ctx.store, &record, &root.kid).await?;
    Ok(IssuedSystemToken { token, record })
}

/// Every system token ever made, oldest first (revoked and expired ones too).
pub async fn list(ctx: &Context) -> Result<Vec<SystemToken>> {
    store::system_tokens::list(&ctx.store).await
}

/// Revokes the system token `jti`: from the moment this commits, no replica accepts it.
/// Revoking a revoked token again changes nothing.
pub async fn revoke(ctx: &Context, jti: &str) -> Result<SystemToken> {
    if !store::system_tokens::revoke(&ctx.store, jti, ctx.clock.now()).await? {
        return Err(Error::not_found("jti", jti));
    }
    store::system_tokens::get(&ctx.store, jti)
        .await?
        .ok_or_else(|| Error::not_found("jti", jti))
}
