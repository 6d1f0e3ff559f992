//! `spaceone.api.identity.v2.Domain`: the public key other SpaceONE services verify tokens
//! with, and a domain by name for the console. Managing domains is the command line's job
//! here; those calls answer UNIMPLEMENTED.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::context::Context;
use crate::domain::DomainId;
use crate::error::Error;
use crate::pb::core::{AuthenticationRequest, AuthenticationResponse};
use crate::pb::identity::{
    CreateDomainRequest, DomainAuthInfo, DomainInfo, DomainRequest, DomainSearchQuery,
    DomainStatQuery, DomainsInfo, GetDomainAuthRequest, UpdateDomainRequest,
    domain_auth_info::ExternalAuthState, domain_server::Domain,
};
use crate::service::domains;

/// The Domain service.
pub struct DomainApi {
    ctx: Arc<Context>,
}

impl DomainApi {
    /// The service on shared state.
    pub fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl Domain for DomainApi {
    async fn create(
        &self,
        _request: Request<CreateDomainRequest>,
    ) -> Result<Response<DomainInfo>, Status> {
        Err(Error::NotImplemented("Domain.create").into())
    }

    async fn update(
        &self,
        _request: Request<UpdateDomainRequest>,
    ) -> Result<Response<DomainInfo>, Status> {
        Err(Error::NotImplemented("Domain.update").into())
    }

    async fn delete(&self, _request: Request<DomainRequest>) -> Result<Response<()>, Status> {
        Err(Error::NotImplemented("Domain.delete").into())
    }

    async fn enable(
        &self,
        _request: Request<DomainRequest>,
    ) -> Result<Response<DomainInfo>, Status> {
        Err(Error::NotImplemented("Domain.enable").into())
    }

    async fn disable(
        &self,
        _request: Request<DomainRequest>,
    ) -> Result<Response<DomainInfo>, Status> {
        Err(Error::NotImplemented("Domain.disable").into())
    }

    async fn get(&self, _request: Request<DomainRequest>) -> Result<Response<DomainInfo>, Status> {
        Err(Error::NotImplemented("Domain.get").into())
    }

    async fn get_auth_info(
        &self,
        request: Request<GetDomainAuthRequest>,
    ) -> Result<Response<DomainAuthInfo>, Status> {
        let GetDomainAuthRequest { name } = request.into_inner();
        let domain = domains::by_name(&self.ctx, &name).await?;
        Ok(Response::new(DomainAuthInfo {
            domain_id: domain.domain_id.into_string(),
            name: domain.name,
            // No external authentication (SSO plugins) here: LOCAL sign-in only.
            external_auth_state: ExternalAuthState::Disabled as i32,
            metadata: None,
            config: None,
        }))
    }

    async fn get_public_key(
        &self,
        request: Request<AuthenticationRequest>,
    ) -> Result<Response<AuthenticationResponse>, Status> {
        let caller = self
            .ctx
            .system_auth
            .authenticate(request.metadata())
            .await?;
        let AuthenticationRequest { domain_id } = request.into_inner();
        let public_key =
            domains::public_key(&self.ctx, &caller, &DomainId::new(&*domain_id)).await?;
        Ok(Response::new(AuthenticationResponse {
            domain_id,
            public_key,
        }))
    }

    async fn list(
        &self,
        _request: Request<DomainSearchQuery>,
    ) -> Result<Response<DomainsInfo>, Status> {
        Err(Error::NotImplemented("Domain.list").into())
    }

    async fn stat(
        &self,
        _request: Request<DomainStatQuery>,
    ) -> Result<Response<prost_types::Struct>, Status> {
        Err(Error::NotImplemented("Domain.stat").into())
    }
}
