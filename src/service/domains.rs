//! Domains as other services and the console see them: the public key that verifies a
//! domain's access tokens, and a domain found by name before sign-in.

use crate::auth::SystemCaller;
use crate::context::Context;
use crate::domain::{Domain, DomainId};
use crate::error::{Error, Result};
use crate::store;

/// The published key of a domain: the public half of the key that signs its access
/// tokens, as one bare RSA JWK in JSON (`kty`, `n`, `e`, `kid`, `alg`). Never the refresh
/// key, never a key set. Only a system caller may ask.
pub async fn public_key(
    ctx: &Context,
    _caller: &SystemCaller,
    domain_id: &DomainId,
) -> Result<String> {
    if domain_id.is_empty() {
        return Err(Error::required("domain_id"));
    }
    store::domains::get(&ctx.store, domain_id)
        .await?
        .ok_or_else(|| Error::not_found("domain_id", domain_id))?;
    let keys = ctx.keys.signing_keys(domain_id).await?;
    let stored = &keys.access.public_jwk;
    let mut jwk = serde_json::Map::new();
    for member in ["kty", "n", "e", "kid", "alg"] {
        if let Some(value) = stored.get(member) {
            jwk.insert(member.to_owned(), value.clone());
        }
    }
    if jwk.get("kty").and_then(|kty| kty.as_str()) != Some("RSA")
        || !jwk.contains_key("n")
        || !jwk.contains_key("e")
    {
        return Err(Error::internal(format!(
            "the access key of {domain_id} is not an RSA public key"
        )));
    }
    Ok(serde_json::Value::Object(jwk).to_string())
}

/// The domain named `name`, for a console that has not signed in yet.
pub async fn by_name(ctx: &Context, name: &str) -> Result<Domain> {
    if name.is_empty() {
        return Err(Error::required("name"));
    }
    store::domains::by_name(&ctx.store, name)
        .await?
        .ok_or_else(|| Error::not_found("name", name))
}

/// Whether the database holds any domain yet.
pub async fn any(ctx: &Context) -> Result<bool> {
    store::domains::any(&ctx.store).await
}
