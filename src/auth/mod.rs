//! Authentication: per-domain signing keys, the JWT contract SpaceONE services rely on, API
//! permissions, the caller (`Principal`) that a user's verified token becomes, and the
//! system caller (`SystemCaller`) that a verified system token becomes.

pub mod jwt;
pub mod keys;
pub mod permission;
pub mod principal;
pub mod system;
pub mod verified;

pub use jwt::{Claims, TokenKind, TokenSettings};
pub use keys::Keyring;
pub use permission::{Permission, Permissions};
pub use principal::{Authenticator, Principal};
pub use system::{SystemAuthenticator, SystemCaller};
pub use verified::VerifiedTokens;
