//! The use cases: what each call does, in one function each, between the thin gRPC
//! handlers in `api` and the storage functions in `store`.

pub mod admin;
pub mod codes;
pub mod domains;
pub mod profile;
pub mod reset;
#[cfg(feature = "bench")]
pub mod seed;
pub mod system_tokens;
pub mod tokens;
pub mod workspace_users;
pub mod workspaces;
