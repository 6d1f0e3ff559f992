//! The generated wire types, servers and clients, included once.

#![allow(clippy::all, missing_docs)]

/// `spaceone.api.*`: the SpaceONE wire contract.
pub mod spaceone {
    pub mod api {
        pub mod core {
            pub mod v2 {
                tonic::include_proto!("spaceone.api.core.v2");
            }
        }
        pub mod identity {
            pub mod v2 {
                tonic::include_proto!("spaceone.api.identity.v2");
            }
        }
    }
}

/// `spaceid.compat.v2`: methods of a later SpaceONE API generation served beside the seeds'
/// (see `proto/spaceid/compat/v2/`).
pub mod spaceid {
    pub mod compat {
        pub mod v2 {
            tonic::include_proto!("spaceid.compat.v2");
        }
    }
}

/// `google.api`: the HTTP annotations the SpaceONE protos carry.
pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
}

pub use spaceid::compat::v2 as compat;
pub use spaceone::api::core::v2 as core;
pub use spaceone::api::identity::v2 as identity;

/// The encoded file descriptor set of every proto, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("spaceid_descriptor");
