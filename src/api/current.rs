//! The current API generation's (spaceone-api 2.0.435) faces of `UserProfile` and
//! `WorkspaceUser`. A call whose messages both generations share goes to the seeds'
//! handler as it is; the calls whose messages differ convert their own here. `Token` and
//! `Domain` are the same in both generations, so the seeds' services serve them.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::current_user_summary_info;
use super::user_profile::profile_update;
use super::{UserProfileApi, WorkspaceUserApi};
use crate::pb::current::identity::{
    UpdatePasswordUserProfileRequest, UpdateUserProfileRequest, UsersSummaryInfo,
    WorkspaceUserFindRequest, user_profile_server::UserProfile,
    workspace_user_server::WorkspaceUser,
};
use crate::pb::identity::{
    ConfirmEmailRequest, ConfirmMfaRequest, CreateWorkspaceUserRequest, DisableMfaRequest,
    EnableMfaRequest, MyWorkspaceGroupsInfo, MyWorkspacesInfo, UserInfo, UserPasswordResetRequest,
    UserProfileRequest, VerifyEmailRequest, WorkspaceGroupUserProfileRequest, WorkspaceUserInfo,
    WorkspaceUserRequest, WorkspaceUserSearchQuery, WorkspaceUserStatQuery, WorkspaceUsersInfo,
    user_profile_server::UserProfile as SeedsUserProfile,
    workspace_user_server::WorkspaceUser as SeedsWorkspaceUser,
};

/// `UserProfile` in the current generation.
pub struct CurrentUserProfileApi(Arc<UserProfileApi>);

impl CurrentUserProfileApi {
    /// The current generation's face of `api`.
    pub fn new(api: Arc<UserProfileApi>) -> Self {
        Self(api)
    }
}

#[tonic::async_trait]
impl UserProfile for CurrentUserProfileApi {
    async fn update(
        &self,
        request: Request<UpdateUserProfileRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        let (metadata, extensions, message) = request.into_parts();
        let UpdateUserProfileRequest {
            name,
            email,
            language,
            timezone,
            tags,
        } = message;
        let update = profile_update(name, email, language, timezone, tags)?;
        let request = Request::from_parts(metadata, extensions, ());
        self.0.update_without_password(&request, update).await
    }

    async fn update_password(
        &self,
        request: Request<UpdatePasswordUserProfileRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        self.0.update_password(request).await
    }

    async fn verify_email(
        &self,
        request: Request<VerifyEmailRequest>,
    ) -> Result<Response<()>, Status> {
        self.0.verify_email(request).await
    }

    async fn confirm_email(
        &self,
        request: Request<ConfirmEmailRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        self.0.confirm_email(request).await
    }

    async fn reset_password(
        &self,
        request: Request<UserPasswordResetRequest>,
    ) -> Result<Response<()>, Status> {
        self.0.reset_password(request).await
    }

    async fn enable_mfa(
        &self,
        request: Request<EnableMfaRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        self.0.enable_mfa(request).await
    }

    async fn disable_mfa(
        &self,
        request: Request<DisableMfaRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        self.0.disable_mfa(request).await
    }

    async fn confirm_mfa(
        &self,
        request: Request<ConfirmMfaRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        self.0.confirm_mfa(request).await
    }

    async fn get(
        &self,
        request: Request<UserProfileRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        SeedsUserProfile::get(&*self.0, request).await
    }

    async fn get_workspaces(
        &self,
        request: Request<UserProfileRequest>,
    ) -> Result<Response<MyWorkspacesInfo>, Status> {
        self.0.get_workspaces(request).await
    }

    async fn get_workspace_groups(
        &self,
        request: Request<WorkspaceGroupUserProfileRequest>,
    ) -> Result<Response<MyWorkspaceGroupsInfo>, Status> {
        self.0.get_workspace_groups(request).await
    }
}

/// `WorkspaceUser` in the current generation.
pub struct CurrentWorkspaceUserApi(Arc<WorkspaceUserApi>);

impl CurrentWorkspaceUserApi {
    /// The current generation's face of `api`.
    pub fn new(api: Arc<WorkspaceUserApi>) -> Self {
        Self(api)
    }
}

#[tonic::async_trait]
impl WorkspaceUser for CurrentWorkspaceUserApi {
    async fn create(
        &self,
        request: Request<CreateWorkspaceUserRequest>,
    ) -> Result<Response<WorkspaceUserInfo>, Status> {
        self.0.create(request).await
    }

    async fn get(
        &self,
        request: Request<WorkspaceUserRequest>,
    ) -> Result<Response<WorkspaceUserInfo>, Status> {
        SeedsWorkspaceUser::get(&*self.0, request).await
    }

    async fn find(
        &self,
        request: Request<WorkspaceUserFindRequest>,
    ) -> Result<Response<UsersSummaryInfo>, Status> {
        let found = self.0.find_users(request).await?;
        Ok(Response::new(UsersSummaryInfo {
            results: found
                .results
                .iter()
                .map(current_user_summary_info)
                .collect(),
            total_count: super::workspace_user::count(found.total_count),
        }))
    }

    async fn list(
        &self,
        request: Request<WorkspaceUserSearchQuery>,
    ) -> Result<Response<WorkspaceUsersInfo>, Status> {
        self.0.list(request).await
    }

    async fn stat(
        &self,
        request: Request<WorkspaceUserStatQuery>,
    ) -> Result<Response<prost_types::Struct>, Status> {
        self.0.stat(request).await
    }
}
