//! `domains`: the tenants.

use sea_orm::entity::prelude::*;

use crate::domain::{DomainId, DomainState};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "domains")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain_id: DomainId,
    #[sea_orm(unique)]
    pub name: String,
    pub state: DomainState,
    #[sea_orm(column_type = "JsonBinary")]
    pub tags: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
