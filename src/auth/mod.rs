//! Authentication: per-domain signing keys, the JWT contract SpaceONE services rely on, API
//! permissions, and the caller (`Principal`) that a verified token becomes.

pub mod jwt;
pub mod keys;
pub mod permission;
pub mod principal;

pub use jwt::{Claims, TokenKind, TokenSettings};
pub use keys::Keyring;
pub use permission::{Permission, Permissions};
pub use principal::{Authenticator, Principal};
