//! `codes`: one-time codes (e-mail verification, MFA, password reset), kept as hashes.

use sea_orm::entity::prelude::*;

use crate::domain::{CodeId, CodeSlot, DomainId, UserId};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_id: CodeId,
    pub domain_id: DomainId,
    pub user_id: UserId,
    pub purpose: CodeSlot,
    pub code_hash: String,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub payload: Option<Json>,
    pub attempts: i32,
    pub expires_at: DateTimeUtc,
    pub consumed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
