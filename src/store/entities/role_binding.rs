//! `role_bindings`: who holds which role where (`workspace_id` is `*` for domain-wide).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "role_bindings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub role_binding_id: String,
    pub domain_id: String,
    pub user_id: String,
    pub role_id: String,
    pub role_type: String,
    pub resource_group: String,
    pub workspace_id: String,
    pub workspace_group_id: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
