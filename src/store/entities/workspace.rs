//! `workspaces`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workspaces")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: String,
    pub domain_id: String,
    pub name: String,
    pub state: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub tags: Json,
    pub created_by: String,
    pub reference_id: Option<String>,
    pub is_managed: bool,
    pub is_dormant: bool,
    pub dormant_updated_at: Option<DateTimeUtc>,
    pub last_synced_at: Option<DateTimeUtc>,
    pub workspace_group_id: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
