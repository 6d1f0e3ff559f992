//! `system_keys`: the root RSA key pairs that sign system tokens; never published.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "system_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    #[sea_orm(column_type = "Text")]
    pub private_pem: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub public_jwk: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
