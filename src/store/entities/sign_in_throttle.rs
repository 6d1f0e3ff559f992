//! `sign_in_throttles`: consecutive failed sign-ins per account name as typed, known or not.

use sea_orm::entity::prelude::*;

use crate::domain::DomainId;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_in_throttles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain_id: DomainId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_key: String,
    pub failures: i32,
    pub next_attempt_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
