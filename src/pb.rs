//! The generated wire types, servers and clients of both API generations, included once.
//!
//! `identity` and `core` are the seeds' generation (spaceone-api 2.0.300, `proto/`);
//! `current` holds only what the current generation (2.0.435, `proto/current/`) defines
//! differently, and uses the seeds' types for everything else (see `build.rs`).

pub mod codec;

/// `spaceone.api.*` in the seeds' generation: the SpaceONE wire contract.
#[allow(clippy::all, missing_docs)]
pub mod spaceone {
    pub mod api {
        pub mod core {
            pub mod v2 {
                tonic::include_proto!("spaceone.api.core.v2");
                /// Decoded as the current generation's, which holds every field of the
                /// seeds' (`READ_AS_CURRENT` in `build.rs`).
                pub use crate::pb::current::core::Query;
            }
        }
        pub mod identity {
            pub mod v2 {
                tonic::include_proto!("spaceone.api.identity.v2");
                /// Decoded as the current generation's, which holds both layouts
                /// (`READ_AS_CURRENT` in `build.rs`, `pb::codec`).
                pub use crate::pb::current::identity::{
                    WorkspaceUserFindRequest, workspace_user_find_request,
                };
            }
        }
    }
}

/// `google.api`: the HTTP annotations the SpaceONE protos carry.
#[allow(clippy::all, missing_docs)]
pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
}

/// The current generation's own types and services (the rest are the seeds').
pub mod current {
    #[allow(clippy::all, missing_docs)]
    pub mod spaceone {
        pub mod api {
            pub mod core {
                pub mod v2 {
                    include!(concat!(env!("OUT_DIR"), "/current/spaceone.api.core.v2.rs"));
                }
            }
            pub mod identity {
                pub mod v2 {
                    include!(concat!(
                        env!("OUT_DIR"),
                        "/current/spaceone.api.identity.v2.rs"
                    ));
                }
            }
        }
    }

    pub use spaceone::api::core::v2 as core;
    pub use spaceone::api::identity::v2 as identity;

    /// The encoded file descriptor set of the current generation, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("current_descriptor");
}

pub use spaceone::api::core::v2 as core;
pub use spaceone::api::identity::v2 as identity;

/// The encoded file descriptor set of the seeds' generation, served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("seeds_descriptor");
