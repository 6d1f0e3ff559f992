//! `spaceone.api.identity.v2.Token`: sign in, and trade refresh tokens for scoped tokens.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::{given, json_from_struct, struct_string, wire_enum};
use crate::auth::Permissions;
use crate::context::Context;
use crate::domain::TokenRole;
use crate::domain::{Code, DomainId, RoleId, WorkspaceId};
use crate::error::Error;
use crate::pb::identity::{
    GrantTokenInfo, GrantTokenRequest, IssueTokenRequest, TokenInfo, grant_token_info,
    grant_token_request::{GrantType, Scope as WireScope},
    issue_token_request::AuthType,
    token_server::Token,
};
use crate::service::tokens::{self, GrantRequest, Granted, Scope, SignIn};

/// The Token service.
pub struct TokenApi {
    ctx: Arc<Context>,
}

impl TokenApi {
    /// The service on shared state.
    pub fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl Token for TokenApi {
    async fn issue(
        &self,
        request: Request<IssueTokenRequest>,
    ) -> Result<Response<TokenInfo>, Status> {
        let client = super::client_of(&request);
        let IssueTokenRequest {
            credentials,
            auth_type,
            timeout,
            verify_code,
            domain_id,
        } = request.into_inner();
        let verify_code = match wire_enum(auth_type, "auth_type")? {
            AuthType::Local | AuthType::None => None,
            AuthType::External => {
                return Err(Error::invalid(
                    "auth_type",
                    "EXTERNAL sign-in is not available in this domain",
                )
                .into());
            }
            AuthType::Mfa => Some(Code::parse("verify_code", &verify_code)?),
        };
        let credentials = json_from_struct(credentials.unwrap_or_default(), "credentials")?;
        let sign_in = SignIn {
            domain_id: DomainId::new(domain_id),
            user_id: struct_string(&credentials, "user_id", "credentials.user_id")?,
            password: struct_string(&credentials, "password", "credentials.password")?,
            timeout,
            client,
            verify_code,
        };
        let issued = tokens::issue(&self.ctx, sign_in).await?;
        Ok(Response::new(TokenInfo {
            access_token: issued.access_token,
            refresh_token: issued.refresh_token,
        }))
    }

    async fn grant(
        &self,
        request: Request<GrantTokenRequest>,
    ) -> Result<Response<GrantTokenInfo>, Status> {
        let GrantTokenRequest {
            grant_type,
            token,
            scope,
            timeout,
            permissions,
            domain_id,
            workspace_id,
        } = request.into_inner();
        match wire_enum(grant_type, "grant_type")? {
            GrantType::RefreshToken => {}
            GrantType::SystemToken => {
                return Err(
                    Error::NotImplemented("Token.grant with grant_type SYSTEM_TOKEN").into(),
                );
            }
            GrantType::None => return Err(Error::required("grant_type").into()),
        }
        let request = GrantRequest {
            refresh_token: token,
            scope: grant_scope(scope, workspace_id)?,
            timeout,
            permissions: Permissions::parse(permissions)?,
            domain_id: given(domain_id).map(DomainId::new),
        };
        let granted = tokens::grant(&self.ctx, request).await?;
        Ok(Response::new(grant_token_info(granted)))
    }
}

/// The scope a `Token.grant` asks for; a workspace scope names `workspace_id`.
fn grant_scope(scope: i32, workspace_id: String) -> Result<Scope, Error> {
    match WireScope::try_from(scope) {
        Ok(WireScope::Domain) => Ok(Scope::Domain),
        Ok(WireScope::Workspace) => Ok(Scope::Workspace(WorkspaceId::new(workspace_id))),
        Ok(WireScope::User) => Ok(Scope::User),
        Ok(WireScope::None) => Err(Error::required("scope")),
        Ok(WireScope::System | WireScope::Project) | Err(_) => {
            Err(Error::invalid("scope", "must be DOMAIN, WORKSPACE or USER"))
        }
    }
}

/// A granted token as `GrantTokenInfo`.
fn grant_token_info(granted: Granted) -> GrantTokenInfo {
    GrantTokenInfo {
        access_token: granted.access_token,
        role_type: match granted.role {
            TokenRole::DomainAdmin => grant_token_info::RoleType::DomainAdmin,
            TokenRole::WorkspaceOwner => grant_token_info::RoleType::WorkspaceOwner,
            TokenRole::WorkspaceMember => grant_token_info::RoleType::WorkspaceMember,
            TokenRole::User => grant_token_info::RoleType::User,
        } as i32,
        domain_id: granted.domain_id.into_string(),
        workspace_id: granted
            .workspace_id
            .map(WorkspaceId::into_string)
            .unwrap_or_default(),
        role_id: granted.role_id.map(RoleId::into_string).unwrap_or_default(),
    }
}
