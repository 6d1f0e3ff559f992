//! `workspace_group_users`: the members of each workspace group and their roles.

use sea_orm::entity::prelude::*;

use crate::domain::{DomainId, RoleId, RoleType, UserId, WorkspaceGroupId};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workspace_group_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_group_id: WorkspaceGroupId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    pub domain_id: DomainId,
    pub role_id: RoleId,
    pub role_type: RoleType,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
