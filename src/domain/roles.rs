//! Roles, role bindings and the role a token carries.

use crate::error::{Error, Result};

/// The `workspace_id` of a binding that holds in every workspace of the domain.
pub const WORKSPACE_WILDCARD: &str = "*";

/// What a role lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RoleType {
    /// Everything in the domain.
    DomainAdmin,
    /// Manage one workspace and its users.
    WorkspaceOwner,
    /// Work in one workspace.
    WorkspaceMember,
}

impl RoleType {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DomainAdmin => "DOMAIN_ADMIN",
            Self::WorkspaceOwner => "WORKSPACE_OWNER",
            Self::WorkspaceMember => "WORKSPACE_MEMBER",
        }
    }

    /// Reads a stored name.
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "DOMAIN_ADMIN" => Ok(Self::DomainAdmin),
            "WORKSPACE_OWNER" => Ok(Self::WorkspaceOwner),
            "WORKSPACE_MEMBER" => Ok(Self::WorkspaceMember),
            other => Err(Error::invalid(
                "role_type",
                format!(
                    "{} is not DOMAIN_ADMIN, WORKSPACE_OWNER or WORKSPACE_MEMBER",
                    super::fields::quoted(other)
                ),
            )),
        }
    }

    /// The scope a binding of this role type lives in.
    pub fn resource_group(self) -> ResourceGroup {
        match self {
            Self::DomainAdmin => ResourceGroup::Domain,
            Self::WorkspaceOwner | Self::WorkspaceMember => ResourceGroup::Workspace,
        }
    }
}

/// Where a role binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceGroup {
    /// The whole domain.
    Domain,
    /// One workspace, or every workspace when the binding's workspace is `*`.
    Workspace,
}

impl ResourceGroup {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "DOMAIN",
            Self::Workspace => "WORKSPACE",
        }
    }
}

/// A role of a domain: one of the three managed roles, or a custom one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The role's id, unique within the domain.
    pub role_id: String,
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
            role_id: role_id.into(),
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

/// The `rol` claim of an access token: what the token lets its bearer do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRole {
    /// A domain-scoped token of a domain admin.
    DomainAdmin,
    /// A workspace-scoped token of an owner (or of a domain admin acting in the workspace).
    WorkspaceOwner,
    /// A workspace-scoped token of a member.
    WorkspaceMember,
    /// A token that speaks for the user only.
    User,
}

impl TokenRole {
    /// The claim's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DomainAdmin => "DOMAIN_ADMIN",
            Self::WorkspaceOwner => "WORKSPACE_OWNER",
            Self::WorkspaceMember => "WORKSPACE_MEMBER",
            Self::User => "USER",
        }
    }

    /// Reads a claim's value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "DOMAIN_ADMIN" => Some(Self::DomainAdmin),
            "WORKSPACE_OWNER" => Some(Self::WorkspaceOwner),
            "WORKSPACE_MEMBER" => Some(Self::WorkspaceMember),
            "USER" => Some(Self::User),
            _ => None,
        }
    }
}

impl From<RoleType> for TokenRole {
    fn from(role_type: RoleType) -> Self {
        match role_type {
            RoleType::DomainAdmin => Self::DomainAdmin,
            RoleType::WorkspaceOwner => Self::WorkspaceOwner,
            RoleType::WorkspaceMember => Self::WorkspaceMember,
        }
    }
}
