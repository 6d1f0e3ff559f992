//! `spaceone.api.identity.v2.UserProfile`: a signed-in user's own account.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::{
    given, json_from_struct, my_workspace_group_info, my_workspace_info, struct_from_json,
    struct_string, tags_from_struct, user_info,
};
use crate::auth::{Permission, Principal};
use crate::config::ApiGeneration;
use crate::context::Context;
use crate::domain::{
    Code, DomainId, Email, Language, Name, Password, Timezone, User, UserId, WorkspaceGroupId,
};
use crate::error::Error;
use crate::pb::current::identity::UpdatePasswordUserProfileRequest;
use crate::pb::identity::{
    ConfirmEmailRequest, ConfirmMfaRequest, DisableMfaRequest, EnableMfaRequest,
    MyWorkspaceGroupsInfo, MyWorkspacesInfo, UpdateUserProfileRequest, UserInfo,
    UserPasswordResetRequest, UserProfileRequest, VerifyEmailRequest,
    WorkspaceGroupUserProfileRequest, user_profile_server::UserProfile,
};
use crate::service::profile::{self, ProfileUpdate};
use crate::service::{reset, workspaces};

/// The UserProfile service: the seeds' generation's face, and the calls the current
/// generation's face (`api::current`) shares with it.
pub struct UserProfileApi {
    ctx: Arc<Context>,
    generation: ApiGeneration,
}

impl UserProfileApi {
    /// The service on shared state, answering as `generation` does.
    pub fn new(ctx: Arc<Context>, generation: ApiGeneration) -> Self {
        Self { ctx, generation }
    }

    /// A user as this generation's `UserInfo`.
    fn info(&self, user: &User) -> UserInfo {
        user_info(user, self.generation)
    }

    /// The signed-in caller of a call that reads its account.
    async fn reader<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        Ok(self
            .ctx
            .auth
            .authenticate(request.metadata(), Permission::UserProfileRead)
            .await?)
    }

    /// The signed-in caller of a call that changes its account.
    async fn caller<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        Ok(self
            .ctx
            .auth
            .authenticate(request.metadata(), Permission::UserProfileWrite)
            .await?)
    }

    /// The caller of a call that sets a new password: signed in, or holding a reset link.
    async fn password_changer<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        Ok(self
            .ctx
            .auth
            .authenticate_password_change(request.metadata())
            .await?)
    }
}

#[tonic::async_trait]
impl UserProfile for UserProfileApi {
    async fn update(
        &self,
        request: Request<UpdateUserProfileRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        let caller = self.password_changer(&request).await?;
        let UpdateUserProfileRequest {
            password,
            name,
            email,
            language,
            timezone,
            tags,
        } = request.into_inner();
        let password = given(password).map(|p| Password::parse(&p)).transpose()?;
        let update = ProfileUpdate {
            password,
            ..profile_update(name, email, language, timezone, tags)?
        };
        self.apply(&caller, update).await
    }

    async fn verify_email(
        &self,
        request: Request<VerifyEmailRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = self.caller(&request).await?;
        let VerifyEmailRequest { email } = request.into_inner();
        let email = given(email).map(|e| Email::parse(&e)).transpose()?;
        profile::verify_email(&self.ctx, &caller, email).await?;
        Ok(Response::new(()))
    }

    async fn confirm_email(
        &self,
        request: Request<ConfirmEmailRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        let caller = self.caller(&request).await?;
        let ConfirmEmailRequest { verify_code } = request.into_inner();
        let code = Code::parse("verify_code", &verify_code)?;
        let user = profile::confirm_email(&self.ctx, &caller, code).await?;
        Ok(Response::new(self.info(&user)))
    }

    async fn reset_password(
        &self,
        request: Request<UserPasswordResetRequest>,
    ) -> Result<Response<()>, Status> {
        let UserPasswordResetRequest { user_id, domain_id } = request.into_inner();
        reset::reset_password(&self.ctx, &DomainId::new(domain_id), &UserId::new(user_id)).await?;
        Ok(Response::new(()))
    }

    async fn enable_mfa(
        &self,
        request: Request<EnableMfaRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        let caller = self.caller(&request).await?;
        let EnableMfaRequest { mfa_type, options } = request.into_inner();
        let options = json_from_struct(options.unwrap_or_default(), "options")?;
        let email = given(struct_string(&options, "email", "options.email")?)
            .map(|e| Email::parse(&e))
            .transpose()?;
        let (user, enrollment) = profile::enable_mfa(&self.ctx, &caller, &mfa_type, email).await?;
        let mut info = self.info(&user);
        // The one time an OTP secret is shown: in the answer that made it.
        if let (Some(enrollment), Some(mfa)) = (enrollment, info.mfa.as_mut()) {
            let mut options = serde_json::Map::new();
            options.insert("otp_secret".into(), enrollment.secret.into());
            options.insert("otpauth_uri".into(), enrollment.uri.into());
            mfa.options = Some(struct_from_json(&options));
        }
        Ok(Response::new(info))
    }

    async fn disable_mfa(
        &self,
        request: Request<DisableMfaRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        let caller = self.caller(&request).await?;
        let DisableMfaRequest {} = request.into_inner();
        let user = profile::disable_mfa(&self.ctx, &caller).await?;
        Ok(Response::new(self.info(&user)))
    }

    async fn confirm_mfa(
        &self,
        request: Request<ConfirmMfaRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        let caller = self.caller(&request).await?;
        let ConfirmMfaRequest { verify_code } = request.into_inner();
        let code = Code::parse("verify_code", &verify_code)?;
        let user = profile::confirm_mfa(&self.ctx, &caller, code).await?;
        Ok(Response::new(self.info(&user)))
    }

    async fn get(
        &self,
        request: Request<UserProfileRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        let caller = self.reader(&request).await?;
        let UserProfileRequest {
            workspace_group_id: _,
        } = request.into_inner();
        Ok(Response::new(self.info(profile::get(&caller))))
    }

    async fn get_workspaces(
        &self,
        request: Request<UserProfileRequest>,
    ) -> Result<Response<MyWorkspacesInfo>, Status> {
        let caller = self.reader(&request).await?;
        let UserProfileRequest { workspace_group_id } = request.into_inner();
        let group = given(workspace_group_id).map(WorkspaceGroupId::new);
        let workspaces = workspaces::my_workspaces(&self.ctx, &caller, group.as_ref()).await?;
        Ok(Response::new(MyWorkspacesInfo {
            results: workspaces.iter().map(my_workspace_info).collect(),
            total_count: count(workspaces.len())?,
        }))
    }

    async fn get_workspace_groups(
        &self,
        request: Request<WorkspaceGroupUserProfileRequest>,
    ) -> Result<Response<MyWorkspaceGroupsInfo>, Status> {
        let caller = self.reader(&request).await?;
        let WorkspaceGroupUserProfileRequest {} = request.into_inner();
        let groups = workspaces::my_workspace_groups(&self.ctx, &caller).await?;
        Ok(Response::new(MyWorkspaceGroupsInfo {
            results: groups.iter().map(my_workspace_group_info).collect(),
            total_count: count(groups.len())?,
        }))
    }
}

/// A length as the wire's `int32 total_count`.
fn count(len: usize) -> Result<i32, Error> {
    i32::try_from(len).map_err(|_| Error::internal("more results than an int32 can count"))
}

impl UserProfileApi {
    /// `update` in either generation, once its request is a `ProfileUpdate`.
    pub(super) async fn apply(
        &self,
        caller: &Principal,
        update: ProfileUpdate,
    ) -> Result<Response<UserInfo>, Status> {
        let user = profile::update(&self.ctx, caller, update).await?;
        Ok(Response::new(self.info(&user)))
    }

    /// `update` of the current generation, which has no password field: a signed-in caller
    /// only (a reset link's token allows nothing but a new password).
    pub(super) async fn update_without_password<T>(
        &self,
        request: &Request<T>,
        update: ProfileUpdate,
    ) -> Result<Response<UserInfo>, Status> {
        let caller = self.caller(request).await?;
        self.apply(&caller, update).await
    }

    /// `update_password` (spaceone-api 2.0.330 on), served in both generations.
    pub(super) async fn update_password(
        &self,
        request: Request<UpdatePasswordUserProfileRequest>,
    ) -> Result<Response<UserInfo>, Status> {
        let caller = self.password_changer(&request).await?;
        let client = super::client_of(&request);
        let UpdatePasswordUserProfileRequest {
            new_password,
            current_password,
        } = request.into_inner();
        let new_password = given(new_password).ok_or_else(|| Error::required("new_password"))?;
        let new_password = Password::parse(&new_password).map_err(|error| match error {
            Error::InvalidParameter { reason, .. } => Error::invalid("new_password", reason),
            other => other,
        })?;
        let user = profile::update_password(
            &self.ctx,
            &caller,
            new_password,
            given(current_password),
            client,
        )
        .await?;
        Ok(Response::new(self.info(&user)))
    }
}

/// The profile fields both generations' `update` carry, parsed (no password).
pub(super) fn profile_update(
    name: String,
    email: String,
    language: String,
    timezone: String,
    tags: Option<prost_types::Struct>,
) -> Result<ProfileUpdate, Error> {
    Ok(ProfileUpdate {
        password: None,
        name: given(name).map(|n| Name::parse(&n)).transpose()?,
        email: given(email).map(|e| Email::parse(&e)).transpose()?,
        language: given(language).map(|l| Language::parse(&l)).transpose()?,
        timezone: given(timezone).map(|t| Timezone::parse(&t)).transpose()?,
        tags: tags.map(tags_from_struct).transpose()?,
    })
}
