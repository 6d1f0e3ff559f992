//! Per-domain signing keys.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tracing::instrument;

use super::{Connection, entities::signing_key};
use crate::domain::{KeyPurpose, SigningKey};
use crate::error::{Error, Result};

/// Stores a key pair of a domain.
#[instrument(skip(conn, key), fields(kid = %key.kid))]
pub async fn insert(conn: &impl Connection, domain_id: &str, key: &SigningKey) -> Result<()> {
    let row = signing_key::ActiveModel {
        kid: Set(key.kid.clone()),
        domain_id: Set(domain_id.to_owned()),
        purpose: Set(key.purpose.as_str().to_owned()),
        private_pem: Set(key.private_pem.clone()),
        public_jwk: Set(key.public_jwk.clone()),
        created_at: Set(chrono::Utc::now()),
    };
    signing_key::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Every key pair of a domain, newest first.
#[instrument(skip(conn))]
pub async fn for_domain(conn: &impl Connection, domain_id: &str) -> Result<Vec<SigningKey>> {
    use sea_orm::QueryOrder;
    let rows = signing_key::Entity::find()
        .filter(signing_key::Column::DomainId.eq(domain_id))
        .order_by_desc(signing_key::Column::CreatedAt)
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|row| {
            let purpose = match row.purpose.as_str() {
                "ACCESS" => KeyPurpose::Access,
                "REFRESH" => KeyPurpose::Refresh,
                other => return Err(Error::internal(format!("stored key purpose {other}"))),
            };
            Ok(SigningKey {
                kid: row.kid,
                purpose,
                private_pem: row.private_pem,
                public_jwk: row.public_jwk,
            })
        })
        .collect()
}
