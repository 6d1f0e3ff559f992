//! `role_bindings`: who holds which role where (`workspace_id` is `*` for domain-wide).

use sea_orm::entity::prelude::*;

use crate::domain::{
    DomainId, ResourceGroup, RoleBindingId, RoleId, RoleType, UserId, WorkspaceGroupId, WorkspaceId,
};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "role_bindings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub role_binding_id: RoleBindingId,
    pub domain_id: DomainId,
    pub user_id: UserId,
    pub role_id: RoleId,
    pub role_type: RoleType,
    pub resource_group: ResourceGroup,
    pub workspace_id: WorkspaceId,
    pub workspace_group_id: Option<WorkspaceGroupId>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
