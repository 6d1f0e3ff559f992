//! `signing_keys`: each domain's RSA key pairs, one for access and one for refresh tokens.

use sea_orm::entity::prelude::*;

use crate::domain::{DomainId, KeyPurpose};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    pub domain_id: DomainId,
    pub purpose: KeyPurpose,
    #[sea_orm(column_type = "Text")]
    pub private_pem: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub public_jwk: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
