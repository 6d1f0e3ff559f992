//! `workspace_groups`.

use sea_orm::entity::prelude::*;

use crate::domain::{DomainId, WorkspaceGroupId};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workspace_groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_group_id: WorkspaceGroupId,
    pub domain_id: DomainId,
    pub name: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub tags: Json,
    pub created_by: String,
    pub updated_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
