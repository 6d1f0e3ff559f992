//! Identifiers: one type per kind of id, so a function that takes a domain, a user and a
//! workspace cannot be called with two of them swapped. They are stored as plain text
//! columns (`DeriveValueType`).
//!
//! An id from a request is taken as given with `new`: it names something to look up, and the
//! lookup decides whether it exists. Only `generate` (and `UserId::parse`, for a user id a
//! caller chooses) make the ids of new records.

use rand::Rng;

/// Declares an id type: a `String` newtype stored as text.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, PartialEq, Eq, Hash, PartialOrd, Ord, sea_orm::DeriveValueType,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// An id as a caller or a stored record names it.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether the id is empty: a request that left it out.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// The id's text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<&$name> for sea_orm::Value {
            fn from(id: &$name) -> Self {
                id.0.as_str().into()
            }
        }

        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }
    };
    ($(#[$meta:meta])* $name:ident, prefix $prefix:literal) => {
        id_type!($(#[$meta])* $name);

        impl $name {
            /// A new id: the prefix, a dash and 12 random lowercase hex characters.
            pub fn generate() -> Self {
                Self(generate($prefix))
            }
        }
    };
}

id_type!(
    /// A tenant's id, `domain-` and 12 hex characters (`domain-root` for the system domain).
    DomainId, prefix "domain"
);
id_type!(
    /// A user's id: unique within its domain, usually an e-mail address.
    UserId
);
id_type!(
    /// A workspace's id, `workspace-` and 12 hex characters; `*` in a binding that holds in
    /// every workspace.
    WorkspaceId, prefix "workspace"
);
id_type!(
    /// A role's id, unique within its domain (`managed-...` for the managed roles).
    RoleId
);
id_type!(
    /// A role binding's id, `rb-` and 12 hex characters.
    RoleBindingId, prefix "rb"
);
id_type!(
    /// A workspace group's id, `wg-` and 12 hex characters.
    WorkspaceGroupId, prefix "wg"
);
id_type!(
    /// A one-time code's id, `code-` (a reset link's `reset-`) and 12 hex characters.
    CodeId, prefix "code"
);

impl DomainId {
    /// The system domain, whose root key signs system tokens.
    pub fn root() -> Self {
        Self(super::ROOT_DOMAIN_ID.to_owned())
    }

    /// Whether this is the system domain.
    pub fn is_root(&self) -> bool {
        self.0 == super::ROOT_DOMAIN_ID
    }
}

impl WorkspaceId {
    /// The workspace of a binding that holds in every workspace of the domain.
    pub fn every() -> Self {
        Self(super::roles::WORKSPACE_WILDCARD.to_owned())
    }

    /// Whether this is `*`, every workspace of the domain.
    pub fn is_every(&self) -> bool {
        self.0 == super::roles::WORKSPACE_WILDCARD
    }
}

impl CodeId {
    /// A new id of a password reset link, `reset-` and 12 hex characters.
    pub fn generate_reset() -> Self {
        Self(generate("reset"))
    }

    /// A new id of a row that holds a count rather than a code, `count-` and 12 hex
    /// characters.
    pub fn generate_counter() -> Self {
        Self(generate("count"))
    }
}

/// A new id such as `domain-1234ee0c14ae`.
pub(crate) fn generate(prefix: &str) -> String {
    format!("{prefix}-{}", random_hex(6))
}

/// `bytes` random bytes as lowercase hex (so twice as many characters).
pub fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_a_prefix_and_twelve_hex_characters() {
        let id = WorkspaceId::generate();
        let (prefix, hex) = id.as_str().split_once('-').unwrap();
        assert_eq!(prefix, "workspace");
        assert_eq!(hex.len(), 12);
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(RoleBindingId::generate(), RoleBindingId::generate());
        assert!(CodeId::generate_reset().as_str().starts_with("reset-"));
    }

    #[test]
    fn every_workspace_is_the_wildcard() {
        assert!(WorkspaceId::every().is_every());
        assert_eq!(WorkspaceId::every().as_str(), "*");
        assert!(!WorkspaceId::generate().is_every());
    }
}
