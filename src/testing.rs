//! What the integration tests (`tests/api`) use of the internals, and nothing more: built
//! with the `testing` feature, which only the test suite turns on. The submodules keep the
//! crate's own paths (`testing::store::users::get` is `store::users::get`), so a test reads
//! like the code it exercises. Tests arrange through service functions where one exists;
//! `store` is here for the states no service makes (a bcrypt cost, a row changed by hand, a
//! code read back) and for the tests of storage itself.

/// Tokens and signing keys.
pub mod auth {
    pub use crate::auth::{Claims, TokenKind};

    /// Signing and checking tokens.
    pub mod jwt {
        pub use crate::auth::jwt::sign;
    }

    /// Generating signing keys.
    pub mod keys {
        pub use crate::auth::keys::generate;
    }
}

/// `spaceid bench`, run in-process.
#[cfg(feature = "bench")]
pub mod bench {
    pub use crate::bench::{BenchOptions, Scenario, run};
}

/// The clock tests move instead of sleeping.
pub mod clock {
    pub use crate::clock::{Clock, ShiftedClock};
}

/// The settings a test server runs with.
pub mod config {
    pub use crate::config::Settings;
}

/// The shared state of a test server.
pub mod context {
    pub use crate::context::Context;
}

/// The validated types and rules.
pub mod domain {
    pub use crate::domain::{
        AuthType, CodeId, CodeSlot, DomainId, Email, FindFilter, KeyPurpose, MemberFilter, Name,
        NewUser, OneTimeCode, Password, RequiredAction, Role, RoleBinding, RoleId, RoleType,
        SigningKey, SystemTokenName, Tags, TokenRole, User, UserId, UserState, Workspace,
        WorkspaceId,
    };

    /// Random ids.
    pub mod ids {
        pub use crate::domain::ids::random_hex;
    }

    /// The sign-in throttle.
    pub mod throttle {
        pub use crate::domain::throttle::throttle_key;
    }
}

/// The one error type.
pub mod error {
    pub use crate::error::Error;
}

/// Mail and its templates.
pub mod mail {
    pub use crate::mail::{FirstSignIn, Mail, Mailer, Template};
}

/// The query compiler, tested on its own against both engines.
pub mod query {
    pub use crate::query::{
        Condition, Engine, Field, GroupField, GroupKey, Kind, MAX_CONDITIONS, MAX_LIST_VALUES,
        MAX_PAGE_LIMIT, MAX_SORT_KEYS, MAX_STAGES, Page, ProjectField, Resource, Search, SortKey,
        Stage, Stat, compile_search, compile_stat, fold_json, fold_text,
    };
}

/// The server, started on a listener of the test's own.
pub mod server {
    pub use crate::server::serve;

    /// The readiness check.
    pub mod readiness {
        pub use crate::server::readiness::CHECK_TIMEOUT;
    }
}

/// The service functions tests arrange data with.
pub mod service {
    /// The administration the command line does.
    pub mod admin {
        pub use crate::service::admin::{
            GroupMember, create_role_binding, create_user, create_workspace,
            create_workspace_group, delete_role_binding, delete_user, init_domain,
            list_role_bindings, list_users, set_user_state,
        };
    }

    /// System tokens.
    pub mod system_tokens {
        pub use crate::service::system_tokens::{IssuedSystemToken, create, revoke};
    }
}

/// Storage, for what no service function arranges and for the tests of storage itself.
pub mod store {
    pub use crate::store::{Executor, Store};

    /// Bulk inserts.
    #[cfg(feature = "bench")]
    pub mod bulk {
        pub use crate::store::bulk::{Membership, NewMember, insert_members};
    }

    /// The user cache.
    pub mod cache {
        pub use crate::store::cache::MAX_AGE;
    }

    /// One-time codes.
    pub mod codes {
        pub use crate::store::codes::{Submission, consume, count_submission, get, replace};
    }

    /// Signing keys.
    pub mod keys {
        pub use crate::store::keys::{by_kids, insert, listing};
    }

    /// Workspace members.
    pub mod members {
        pub use crate::store::members::{Window, find_outside, list};
    }

    /// Role bindings.
    pub mod role_bindings {
        pub use crate::store::role_bindings::for_user;
    }

    /// Roles.
    pub mod roles {
        pub use crate::store::roles::get;
    }

    /// System tokens' signing keys.
    pub mod system_tokens {
        pub use crate::store::system_tokens::newest_key;
    }

    /// Sign-in throttles.
    pub mod throttles {
        pub use crate::store::throttles::get;
    }

    /// Users.
    pub mod users {
        pub use crate::store::users::{UserChanges, change_state, get, get_cached, insert, update};
    }

    /// Workspaces.
    pub mod workspaces {
        pub use crate::store::workspaces::get;
    }
}
