//! `workspaces`.

use sea_orm::entity::prelude::*;

use crate::domain::{DomainId, WorkspaceGroupId, WorkspaceId, WorkspaceState};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workspaces")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: WorkspaceId,
    pub domain_id: DomainId,
    pub name: String,
    pub state: WorkspaceState,
    #[sea_orm(column_type = "JsonBinary")]
    pub tags: Json,
    pub created_by: String,
    pub reference_id: Option<String>,
    pub is_managed: bool,
    pub is_dormant: bool,
    pub dormant_updated_at: Option<DateTimeUtc>,
    pub last_synced_at: Option<DateTimeUtc>,
    pub workspace_group_id: Option<WorkspaceGroupId>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
