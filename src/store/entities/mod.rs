//! SeaORM entities: the tables as SeaORM sees them. Nothing outside `store` uses these.

pub mod code;
pub mod domain;
pub mod familiar_address;
pub mod role;
pub mod role_binding;
pub mod server_secret;
pub mod sign_in_throttle;
pub mod signing_key;
pub mod system_key;
pub mod system_token;
pub mod user;
pub mod workspace;
pub mod workspace_group;
pub mod workspace_group_user;
