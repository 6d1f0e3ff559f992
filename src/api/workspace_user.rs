//! `spaceone.api.identity.v2.WorkspaceUser`: the users of one workspace. Registered so
//! clients find it; its calls answer UNIMPLEMENTED until the service is built.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::context::Context;
use crate::error::Error;
use crate::pb::identity::{
    CreateWorkspaceUserRequest, UsersSummaryInfo, WorkspaceUserFindRequest, WorkspaceUserInfo,
    WorkspaceUserRequest, WorkspaceUserSearchQuery, WorkspaceUserStatQuery, WorkspaceUsersInfo,
    workspace_user_server::WorkspaceUser,
};

/// The WorkspaceUser service.
pub struct WorkspaceUserApi {
    _ctx: Arc<Context>,
}

impl WorkspaceUserApi {
    /// The service on shared state.
    pub fn new(ctx: Arc<Context>) -> Self {
        Self { _ctx: ctx }
    }
}

#[tonic::async_trait]
impl WorkspaceUser for WorkspaceUserApi {
    async fn create(
        &self,
        _request: Request<CreateWorkspaceUserRequest>,
    ) -> Result<Response<WorkspaceUserInfo>, Status> {
        Err(Error::NotImplemented("WorkspaceUser.create").into())
    }

    async fn get(
        &self,
        _request: Request<WorkspaceUserRequest>,
    ) -> Result<Response<WorkspaceUserInfo>, Status> {
        Err(Error::NotImplemented("WorkspaceUser.get").into())
    }

    async fn find(
        &self,
        _request: Request<WorkspaceUserFindRequest>,
    ) -> Result<Response<UsersSummaryInfo>, Status> {
        Err(Error::NotImplemented("WorkspaceUser.find").into())
    }

    async fn list(
        &self,
        _request: Request<WorkspaceUserSearchQuery>,
    ) -> Result<Response<WorkspaceUsersInfo>, Status> {
        Err(Error::NotImplemented("WorkspaceUser.list").into())
    }

    async fn stat(
        &self,
        _request: Request<WorkspaceUserStatQuery>,
    ) -> Result<Response<prost_types::Struct>, Status> {
        Err(Error::NotImplemented("WorkspaceUser.stat").into())
    }
}
