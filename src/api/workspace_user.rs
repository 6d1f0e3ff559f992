//! `spaceone.api.identity.v2.WorkspaceUser`: the users of one workspace.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::{
    given, member_info, struct_from_json, tags_from_struct, user_summary_info, wire_enum,
};
use super::{client_of, query};
use crate::auth::{Permission, Principal};
use crate::context::Context;
use crate::domain::{
    Email, FindFilter, Language, Listing, Member, MemberFilter, Name, NewUser, Password, RoleId,
    RoleType, Timezone, UserId, UserSummary, WorkspaceId,
};
use crate::error::Error;
use crate::pb::current::identity::{WorkspaceUserFindRequest, workspace_user_find_request};
use crate::pb::identity::{
    AuthType as WireAuthType, CreateWorkspaceUserRequest, UsersSummaryInfo, WorkspaceUserInfo,
    WorkspaceUserRequest, WorkspaceUserSearchQuery, WorkspaceUserStatQuery, WorkspaceUsersInfo,
    workspace_user_search_query, workspace_user_server::WorkspaceUser,
};
use crate::service::workspace_users::{self, NewMember};

/// The WorkspaceUser service.
pub struct WorkspaceUserApi {
    ctx: Arc<Context>,
}

impl WorkspaceUserApi {
    /// The service on shared state.
    pub fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    async fn caller<T>(
        &self,
        request: &Request<T>,
        permission: Permission,
    ) -> Result<Principal, Status> {
        Ok(self
            .ctx
            .auth
            .authenticate(request.metadata(), permission)
            .await?)
    }
}

#[tonic::async_trait]
impl WorkspaceUser for WorkspaceUserApi {
    async fn create(
        &self,
        request: Request<CreateWorkspaceUserRequest>,
    ) -> Result<Response<WorkspaceUserInfo>, Status> {
        let caller = self
            .caller(&request, Permission::WorkspaceUserWrite)
            .await?;
        let CreateWorkspaceUserRequest {
            user_id,
            password,
            name,
            email,
            auth_type,
            language,
            timezone,
            tags,
            reset_password,
            role_id,
        } = request.into_inner();
        let user = NewUser {
            user_id: UserId::parse(&user_id)?,
            name: given(name).map(|n| Name::parse(&n)).transpose()?,
            email: given(email).map(|e| Email::parse(&e)).transpose()?,
            auth_type: Option::from(wire_enum::<WireAuthType>(auth_type, "auth_type")?)
                .ok_or_else(|| Error::required("auth_type"))?,
            password: given(password).map(|p| Password::parse(&p)).transpose()?,
            language: given(language).map(|l| Language::parse(&l)).transpose()?,
            timezone: given(timezone).map(|t| Timezone::parse(&t)).transpose()?,
            tags: tags.map(tags_from_struct).transpose()?.unwrap_or_default(),
        };
        let new = NewMember {
            user,
            role_id: RoleId::new(role_id),
            reset_password,
        };
        // A workspace token names its workspace; the request has no workspace field here.
        let member = workspace_users::create(&self.ctx, &caller, None, new).await?;
        Ok(Response::new(member_info(&member, None)))
    }

    async fn get(
        &self,
        request: Request<WorkspaceUserRequest>,
    ) -> Result<Response<WorkspaceUserInfo>, Status> {
        let caller = self.caller(&request, Permission::WorkspaceUserRead).await?;
        let WorkspaceUserRequest {
            user_id,
            workspace_id,
        } = request.into_inner();
        let workspace_id = given(workspace_id).map(WorkspaceId::new);
        let member = workspace_users::get(
            &self.ctx,
            &caller,
            workspace_id.as_ref(),
            &UserId::new(user_id),
        )
        .await?;
        Ok(Response::new(member_info(&member, None)))
    }

    async fn find(
        &self,
        request: Request<WorkspaceUserFindRequest>,
    ) -> Result<Response<UsersSummaryInfo>, Status> {
        let found = self.find_users(request).await?;
        Ok(Response::new(UsersSummaryInfo {
            results: found.results.iter().map(user_summary_info).collect(),
            total_count: count(found.total_count),
        }))
    }

    async fn list(
        &self,
        request: Request<WorkspaceUserSearchQuery>,
    ) -> Result<Response<WorkspaceUsersInfo>, Status> {
        let caller = self.caller(&request, Permission::WorkspaceUserRead).await?;
        let client = client_of(&request);
        let WorkspaceUserSearchQuery {
            query,
            user_id,
            name,
            state,
            email,
            auth_type,
            role_type,
            workspace_id,
        } = request.into_inner();
        let filter = MemberFilter {
            user_id: given(user_id).map(UserId::new),
            name: given(name),
            state: wire_enum::<workspace_user_search_query::State>(state, "state")?.into(),
            email: given(email),
            auth_type: wire_enum::<WireAuthType>(auth_type, "auth_type")?.into(),
            role_type: given(role_type)
                .map(|role_type| RoleType::parse(&role_type))
                .transpose()?,
        };
        let search = query::search(query)?;
        let workspace_id = given(workspace_id).map(WorkspaceId::new);
        let listing = workspace_users::list(
            &self.ctx,
            &caller,
            client,
            workspace_id.as_ref(),
            filter,
            search,
        )
        .await?;
        Ok(Response::new(workspace_users_info(&listing)))
    }

    async fn stat(
        &self,
        request: Request<WorkspaceUserStatQuery>,
    ) -> Result<Response<prost_types::Struct>, Status> {
        let caller = self.caller(&request, Permission::WorkspaceUserRead).await?;
        let client = client_of(&request);
        let WorkspaceUserStatQuery {
            query,
            workspace_id,
        } = request.into_inner();
        let stat = query::stat(query)?;
        let workspace_id = given(workspace_id).map(WorkspaceId::new);
        let (results, total_count) =
            workspace_users::stat(&self.ctx, &caller, client, workspace_id.as_ref(), stat).await?;
        let mut answer = serde_json::Map::new();
        answer.insert("results".into(), serde_json::Value::Array(results));
        if let Some(total_count) = total_count {
            answer.insert("total_count".into(), total_count.into());
        }
        Ok(Response::new(struct_from_json(&answer)))
    }
}

impl WorkspaceUserApi {
    /// `find` in either generation, up to its answer: both decode the request into one
    /// type, whichever layout the client sent (see `pb::codec`).
    pub(super) async fn find_users(
        &self,
        request: Request<WorkspaceUserFindRequest>,
    ) -> Result<Listing<UserSummary>, Status> {
        // As the reference: find lists users outside the workspace, so it takes `.write`.
        let caller = self
            .caller(&request, Permission::WorkspaceUserWrite)
            .await?;
        let client = client_of(&request);
        let WorkspaceUserFindRequest {
            keyword,
            state,
            auth_type,
            page,
            workspace_id,
        } = request.into_inner();
        let filter = FindFilter {
            keyword: given(keyword),
            state: wire_enum::<workspace_user_find_request::State>(state, "state")?.into(),
            auth_type: wire_enum::<WireAuthType>(auth_type, "auth_type")?.into(),
        };
        let workspace_id = given(workspace_id).map(WorkspaceId::new);
        let page = page.map(query::page);
        let found = workspace_users::find(
            &self.ctx,
            &caller,
            client,
            workspace_id.as_ref(),
            filter,
            page,
        )
        .await?;
        Ok(found)
    }
}

/// A page of members as `WorkspaceUsersInfo`, with the fields its query's `only` asked for.
fn workspace_users_info(listing: &Listing<Member>) -> WorkspaceUsersInfo {
    WorkspaceUsersInfo {
        results: listing
            .results
            .iter()
            .map(|member| member_info(member, listing.only.as_deref()))
            .collect(),
        total_count: count(listing.total_count),
    }
}

/// A count as the wire's `int32`, saturating.
pub(super) fn count(total: u64) -> i32 {
    i32::try_from(total).unwrap_or(i32::MAX)
}
