//! `familiar_addresses`: an account name and a client address it has signed in from, hashed
//! together, with the time of the last sign-in.

use sea_orm::entity::prelude::*;

use crate::domain::DomainId;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "familiar_addresses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain_id: DomainId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub address_key: String,
    pub last_sign_in_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
