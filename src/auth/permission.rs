//! API permissions, as spaceone-core checks them: every RPC has a permission string, and a
//! token whose `permissions` claim is non-empty may call only the RPCs whose string starts
//! with one of its entries.

use crate::error::{Error, Result};

/// Most entries a token's `permissions` may hold.
pub const MAX_PERMISSIONS: usize = 100;
/// Longest entry of a token's `permissions`, in characters.
pub const MAX_PERMISSION_CHARS: usize = 200;
/// Most bytes all entries may hold together, so a narrowed token still fits the metadata
/// limits of HTTP/2 servers and gRPC clients (8 KiB for grpc-python).
pub const MAX_PERMISSIONS_BYTES: usize = 4096;

/// What an RPC needs. Every authenticated handler names one, so none can forget it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// `UserProfile.get`, `get_workspaces`, `get_workspace_groups`.
    UserProfileRead,
    /// The other UserProfile calls.
    UserProfileWrite,
    /// `WorkspaceUser.get`, `find`, `list`, `stat`.
    WorkspaceUserRead,
    /// `WorkspaceUser.create`.
    WorkspaceUserWrite,
}

impl Permission {
    /// The permission string, as spaceone-core names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserProfileRead => "identity:UserProfile.read",
            Self::UserProfileWrite => "identity:UserProfile.write",
            Self::WorkspaceUserRead => "identity:WorkspaceUser.read",
            Self::WorkspaceUserWrite => "identity:WorkspaceUser.write",
        }
    }
}

/// The `permissions` a token may carry: at most `MAX_PERMISSIONS` entries of at most
/// `MAX_PERMISSION_CHARS` characters and `MAX_PERMISSIONS_BYTES` in all, none empty. Empty means the token is not narrowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions(Vec<String>);

impl Permissions {
    /// Checks the entries a caller asks `Token.grant` to put in a token.
    pub fn parse(entries: Vec<String>) -> Result<Self> {
        if entries.len() > MAX_PERMISSIONS {
            return Err(Error::invalid(
                "permissions",
                format!(
                    "at most {MAX_PERMISSIONS} entries are allowed, got {}",
                    entries.len()
                ),
            ));
        }
        let total: usize = entries.iter().map(String::len).sum();
        if total > MAX_PERMISSIONS_BYTES {
            return Err(Error::invalid(
                "permissions",
                format!("at most {MAX_PERMISSIONS_BYTES} bytes in all are allowed, got {total}"),
            ));
        }
        for (i, entry) in entries.iter().enumerate() {
            if entry.is_empty() {
                return Err(Error::invalid(
                    format!("permissions[{i}]"),
                    "must not be empty",
                ));
            }
            if entry.chars().count() > MAX_PERMISSION_CHARS {
                return Err(Error::invalid(
                    format!("permissions[{i}]"),
                    format!("longer than {MAX_PERMISSION_CHARS} characters"),
                ));
            }
        }
        Ok(Self(entries))
    }

    /// The permissions of a verified token, as signed.
    pub(super) fn from_claim(entries: Vec<String>) -> Self {
        Self(entries)
    }

    /// Whether a token with these permissions may make a call that needs `needed`.
    pub fn allow(&self, needed: Permission) -> bool {
        self.0.is_empty()
            || self
                .0
                .iter()
                .any(|entry| needed.as_str().starts_with(entry))
    }

    /// The entries, for the `permissions` claim.
    pub fn into_claim(self) -> Vec<String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|e| (*e).to_owned()).collect()
    }

    #[test]
    fn entries_narrow_by_prefix() {
        let read = Permissions::parse(strings(&["identity:UserProfile.read"])).unwrap();
        assert!(read.allow(Permission::UserProfileRead));
        assert!(!read.allow(Permission::UserProfileWrite));
        assert!(!read.allow(Permission::WorkspaceUserRead));

        let profile = Permissions::parse(strings(&["identity:UserProfile"])).unwrap();
        assert!(profile.allow(Permission::UserProfileWrite));
        assert!(!profile.allow(Permission::WorkspaceUserWrite));

        assert!(Permissions::default().allow(Permission::WorkspaceUserWrite));
    }

    #[test]
    fn too_many_too_long_or_empty_entries_are_refused() {
        let many = vec!["identity:".to_owned(); MAX_PERMISSIONS + 1];
        assert!(Permissions::parse(many).is_err());
        assert!(Permissions::parse(vec!["identity:".to_owned(); MAX_PERMISSIONS]).is_ok());
        let long = "x".repeat(MAX_PERMISSION_CHARS + 1);
        assert!(Permissions::parse(vec![long]).is_err());
        let wide = vec!["x".repeat(MAX_PERMISSION_CHARS); 21];
        assert!(Permissions::parse(wide).is_err(), "4,200 bytes in all");
        assert!(Permissions::parse(strings(&["identity:", ""])).is_err());
    }
}
