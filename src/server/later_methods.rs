//! Methods the current API generation added to a service, served to the seeds' generation
//! too: `UserProfile.update_password` (spaceone-api 2.0.330). The seeds' generated server
//! knows only the seeds' methods, and its reflection files stay exactly spaceone-api
//! 2.0.300's (a client that holds that package's files refuses a server whose files
//! differ), so this router sends the later methods' calls to the current generation's
//! server, under the same upstream path, and every other call to the seeds'.

use std::convert::Infallible;
use std::task::{Context as TaskContext, Poll};

use tonic::body::Body;
use tonic::server::NamedService;
use tower::Service;

use crate::api::{CurrentUserProfileApi, UserProfileApi};
use crate::pb::current::identity::user_profile_server::UserProfileServer as CurrentServer;
use crate::pb::identity::user_profile_server::UserProfileServer;

/// The methods of `UserProfile` only the current generation has.
const LATER_METHODS: &[&str] = &["/spaceone.api.identity.v2.UserProfile/update_password"];

/// `spaceone.api.identity.v2.UserProfile` for the seeds' generation: its own methods and the
/// later ones.
#[derive(Clone)]
pub struct UserProfileRoutes {
    seeds: UserProfileServer<UserProfileApi>,
    later: CurrentServer<CurrentUserProfileApi>,
}

impl UserProfileRoutes {
    /// Both servers, on one handler.
    pub fn new(
        seeds: UserProfileServer<UserProfileApi>,
        later: CurrentServer<CurrentUserProfileApi>,
    ) -> Self {
        Self { seeds, later }
    }
}

impl NamedService for UserProfileRoutes {
    const NAME: &'static str = <UserProfileServer<UserProfileApi> as NamedService>::NAME;
}

impl Service<http::Request<Body>> for UserProfileRoutes {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = <UserProfileServer<UserProfileApi> as Service<http::Request<Body>>>::Future;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        // Generated servers are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if LATER_METHODS.contains(&request.uri().path()) {
            return self.later.call(request);
        }
        self.seeds.call(request)
    }
}
