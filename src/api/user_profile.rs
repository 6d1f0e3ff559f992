//! `spaceone.api.identity.v2.UserProfile`: a signed-in user's own account.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::{given, tags_from_struct, user_info};
use crate::auth::Permission;
use crate::context::Context;
use crate::domain::{Email, Language, Name, Password, Timezone};
use crate::error::Error;
use crate::pb::identity::{
    ConfirmEmailRequest, ConfirmMfaRequest, DisableMfaRequest, EnableMfaRequest,
    MyWorkspaceGroupsInfo, MyWorkspacesInfo, UpdateUserProfileRequest, UserInfo,
    UserPasswordResetRequest, UserProfileRequest, VerifyEmailRequest,
    WorkspaceGroupUserProfileRequest, user_profile_server::UserProfile,
};
use crate::service::profile::{self, ProfileUpdate};

/// The UserProfile service.
pub struct UserProfileApi {
    ctx: Arc<Context>,
}

impl UserProfileApi {
    /// The service on shared state.
    pub fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl UserProfile for UserProfileApi {
    async fn update(
        &self,
        request: Request<UpdateUserProfileRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        let caller = self
            .ctx
            .auth
            .authenticate(request.metadata(), Permission::UserProfileWrite)
            .await?;
        let UpdateUserProfileRequest {
            password,
            name,
            email,
            language,
            timezone,
            tags,
        } = request.into_inner();
        let update = ProfileUpdate {
            password: given(password).map(|p| Password::parse(&p)).transpose()?,
            name: given(name).map(|n| Name::parse(&n)).transpose()?,
            email: given(email).map(|e| Email::parse(&e)).transpose()?,
            language: given(language).map(|l| Language::parse(&l)).transpose()?,
            timezone: given(timezone).map(|t| Timezone::parse(&t)).transpose()?,
            tags: tags.map(tags_from_struct).transpose()?,
        };
        let user = profile::update(&self.ctx, &caller, update).await?;
        Ok(Response::new(user_info(&user)))
    }

    async fn verify_email(
        &self,
        _request: Request<VerifyEmailRequest>,
    ) -> Result<Response<()>, Status> {
        Err(Error::NotImplemented("UserProfile.verify_email").into())
    }

    async fn confirm_email(
        &self,
        _request: Request<ConfirmEmailRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        Err(Error::NotImplemented("UserProfile.confirm_email").into())
    }

    async fn reset_password(
        &self,
        _request: Request<UserPasswordResetRequest>,
    ) -> Result<Response<()>, Status> {
        Err(Error::NotImplemented("UserProfile.reset_password").into())
    }

    async fn enable_mfa(
        &self,
        _request: Request<EnableMfaRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        Err(Error::NotImplemented("UserProfile.enable_mfa").into())
    }

    async fn disable_mfa(
        &self,
        _request: Request<DisableMfaRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        Err(Error::NotImplemented("UserProfile.disable_mfa").into())
    }

    async fn confirm_mfa(
        &self,
        _request: Request<ConfirmMfaRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        Err(Error::NotImplemented("UserProfile.confirm_mfa").into())
    }

    async fn get(
        &self,
        request: Request<UserProfileRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        let caller = self
            .ctx
            .auth
            .authenticate(request.metadata(), Permission::UserProfileRead)
            .await?;
        let UserProfileRequest {
            workspace_group_id: _,
        } = request.into_inner();
        Ok(Response::new(user_info(profile::get(&caller))))
    }

    async fn get_workspaces(
        &self,
        _request: Request<UserProfileRequest>,
    ) -> Result<Response<MyWorkspacesInfo>, Status> {
        Err(Error::NotImplemented("UserProfile.get_workspaces").into())
    }

    async fn get_workspace_groups(
        &self,
        _request: Request<WorkspaceGroupUserProfileRequest>,
    ) -> Result<Response<MyWorkspaceGroupsInfo>, Status> {
        Err(Error::NotImplemented("UserProfile.get_workspace_groups").into())
    }
}
