//! Authentication: per-domain signing keys, the JWT contract SpaceONE services rely on, and
//! the caller (`Principal`) that a verified token becomes.

pub mod jwt;
pub mod keys;
pub mod principal;

pub use jwt::{Claims, TokenKind, TokenSettings};
pub use keys::Keyring;
pub use principal::{Authenticator, Principal};
