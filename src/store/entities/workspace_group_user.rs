//! `workspace_group_users`: the members of each workspace group and their roles.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workspace_group_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_group_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub domain_id: String,
    pub role_id: String,
    pub role_type: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
