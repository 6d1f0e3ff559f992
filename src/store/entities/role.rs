//! `roles`: the managed and custom roles of each domain.

use sea_orm::entity::prelude::*;

use crate::domain::{DomainId, RoleId, RoleType};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "roles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain_id: DomainId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub role_id: RoleId,
    pub name: String,
    pub role_type: RoleType,
    pub is_managed: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
