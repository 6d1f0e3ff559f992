//! Roles, role bindings and the role a token carries.

use super::RoleId;
use super::named::named_enum;

/// The `workspace_id` of a binding that holds in every workspace of the domain.
pub const WORKSPACE_WILDCARD: &str = "*";

named_enum!(
    /// What a role lets its holder do.
    RoleType, "role_type" {
        /// Everything in the domain.
        DomainAdmin = "DOMAIN_ADMIN",
        /// Manage one workspace and its users.
        WorkspaceOwner = "WORKSPACE_OWNER",
        /// Work in one workspace.
        WorkspaceMember = "WORKSPACE_MEMBER",
    }
);

impl RoleType {
    /// The scope a binding of this role type lives in.
    pub fn resource_group(self) -> ResourceGroup {
        match self {
            Self::DomainAdmin => ResourceGroup::Domain,
            Self::WorkspaceOwner | Self::WorkspaceMember => ResourceGroup::Workspace,
        }
    }
}

named_enum!(
    /// Where a role binding applies.
    ResourceGroup, "resource_group" {
        /// The whole domain.
        Domain = "DOMAIN",
        /// One workspace, or every workspace when the binding's workspace is `*`.
        Workspace = "WORKSPACE",
    }
);

/// A role of a domain: one of the three managed roles, or a custom one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The role's id, unique within the domain.
    pub role_id: RoleId,
    /// Its display name.
    pub name: String,
    /// What it lets its holder do.
    pub role_type: RoleType,
    /// Whether the service created and keeps it.
    pub is_managed: bool,
}

impl Role {
    /// The managed roles every domain has.
    pub fn managed() -> [Role; 3] {
        let role = |role_id: &str, name: &str, role_type| Role {
            role_id: RoleId::new(role_id),
            name: name.into(),
            role_type,
            is_managed: true,
        };
        [
            role(
                "managed-domain-admin",
                "Domain Admin",
                RoleType::DomainAdmin,
            ),
            role(
                "managed-workspace-owner",
                "Workspace Owner",
                RoleType::WorkspaceOwner,
            ),
            role(
                "managed-workspace-member",
                "Workspace Member",
                RoleType::WorkspaceMember,
            ),
        ]
    }
}

named_enum!(
    /// The `rol` claim of an access token: what the token lets its bearer do.
    TokenRole, "rol" {
        /// A domain-scoped token of a domain admin.
        DomainAdmin = "DOMAIN_ADMIN",
        /// A workspace-scoped token of an owner (or of a domain admin acting in the
        /// workspace).
        WorkspaceOwner = "WORKSPACE_OWNER",
        /// A workspace-scoped token of a member.
        WorkspaceMember = "WORKSPACE_MEMBER",
        /// A token that speaks for the user only.
        User = "USER",
    }
);

impl From<RoleType> for TokenRole {
    fn from(role_type: RoleType) -> Self {
        match role_type {
            RoleType::DomainAdmin => Self::DomainAdmin,
            RoleType::WorkspaceOwner => Self::WorkspaceOwner,
            RoleType::WorkspaceMember => Self::WorkspaceMember,
        }
    }
}
