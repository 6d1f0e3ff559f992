//! Methods a later generation of the SpaceONE API added to a service, served under their
//! upstream names beside the seeds' generation: `UserProfile.update_password`
//! (spaceone-api 2.0.330). The generated server of the seeds' `UserProfile` knows only the
//! seeds' methods, and its reflection files must stay exactly spaceone-api 2.0.300's (a
//! client that holds that package's files refuses a server whose files differ), so the
//! later methods live in `spaceid.compat.v2.UserProfile`, which reflection does not list,
//! and this router sends `/spaceone.api.identity.v2.UserProfile/update_password` there.

use std::convert::Infallible;
use std::task::{Context as TaskContext, Poll};

use http::uri::{PathAndQuery, Uri};
use tonic::body::Body;
use tonic::server::NamedService;
use tower::Service;

use crate::api::UserProfileApi;
use crate::pb::{
    compat::user_profile_server::UserProfileServer as LaterServer,
    identity::user_profile_server::UserProfileServer,
};

/// The upstream path of `update_password`, and where it is served.
const UPDATE_PASSWORD: (&str, &str) = (
    "/spaceone.api.identity.v2.UserProfile/update_password",
    "/spaceid.compat.v2.UserProfile/update_password",
);

/// `spaceone.api.identity.v2.UserProfile`: the seeds' methods and the later ones.
#[derive(Clone)]
pub struct UserProfileRoutes {
    seeds: UserProfileServer<UserProfileApi>,
    later: LaterServer<UserProfileApi>,
}

impl UserProfileRoutes {
    /// Both servers, on one handler.
    pub fn new(
        seeds: UserProfileServer<UserProfileApi>,
        later: LaterServer<UserProfileApi>,
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

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        if request.uri().path() == UPDATE_PASSWORD.0 {
            *request.uri_mut() = Uri::from(PathAndQuery::from_static(UPDATE_PASSWORD.1));
            return self.later.call(request);
        }
        self.seeds.call(request)
    }
}
