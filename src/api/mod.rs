//! The gRPC services, one file each. Handlers are thin: they unpack the request into domain
//! types, call one function of `service`, and convert the answer. The files named after a
//! service speak the seeds' API generation; `current` is the current generation's face of
//! the services whose messages differ, over the same handlers.

mod convert;
mod current;
mod domain;
mod query;
mod token;
mod user_profile;
mod workspace_user;

pub use current::{CurrentUserProfileApi, CurrentWorkspaceUserApi};
pub use domain::DomainApi;
pub use token::TokenApi;
pub use user_profile::UserProfileApi;
pub use workspace_user::WorkspaceUserApi;

/// The address a call came from, as limits and throttles count it (an IPv6 client by its
/// /64 network). The server's edge puts it in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub std::net::IpAddr);

/// The address a call came from, as the server's edge recorded it.
fn client_of<T>(request: &tonic::Request<T>) -> Option<std::net::IpAddr> {
    request
        .extensions()
        .get::<ClientAddress>()
        .map(|client| client.0)
}
