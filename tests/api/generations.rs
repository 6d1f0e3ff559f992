//! The two SpaceONE API generations one binary serves (`--api-generation`): what a client of
//! each sees, where the wire tells them apart (`find`), and the current generation's
//! additions (`auth_type` in `find`, ENFORCE_MFA, `Query.lookup`/`add_fields`).

use prost::Message;
use serde_json::json;
use spaceid::pb::core::{Page, Query};
use spaceid::pb::current::identity::{
    UpdatePasswordUserProfileRequest, UpdateUserProfileRequest, UsersSummaryInfo,
    WorkspaceUserFindRequest, user_profile_client::UserProfileClient as CurrentUserProfileClient,
    workspace_user_client::WorkspaceUserClient as CurrentWorkspaceUserClient,
};
use spaceid::pb::identity::{
    ConfirmMfaRequest, DisableMfaRequest, EnableMfaRequest, UserProfileRequest,
    WorkspaceUserSearchQuery, grant_token_request::Scope,
};
use spaceid::testing::domain::RequiredAction;
use spaceid::testing::store::users::UserChanges;
use tonic::Code;

use crate::helpers::*;
use crate::smtp::SmtpSink;

const BOB: &str = "bob@acme.test";

/// A server speaking `generation`, with a domain and `BOB` in it.
async fn app_speaking(generation: &str, flags: &[&str]) -> (TestApp, TestDomain) {
    let flags: Vec<&str> = ["--api-generation", generation]
        .into_iter()
        .chain(flags.iter().copied())
        .collect();
    let app = TestApp::spawn_with(&flags).await;
    let acme = app.domain("acme").await;
    app.user(&acme, BOB).await;
    (app, acme)
}

async fn current_profile(app: &TestApp) -> CurrentUserProfileClient<tonic::transport::Channel> {
    CurrentUserProfileClient::new(app.raw_channel().await)
}

#[tokio::test]
async fn a_current_client_changes_the_name_or_the_email_and_never_the_password() {
    let (app, acme) = app_speaking("current", &[]).await;
    let token = app.access_token(&acme.domain_id, BOB).await;
    let mut profile = current_profile(&app).await;
    let renamed = profile
        .update(authed(
            UpdateUserProfileRequest {
                name: "Robert Paulson2X".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("rename")
        .into_inner();
    assert_eq!(renamed.name, "Robert Paulson2X");
    // The password is what it was, and the session goes on.
    app.issue(&acme.domain_id, BOB, PASSWORD)
        .await
        .expect("the old password still signs in");
    let moved = profile
        .update(authed(
            UpdateUserProfileRequest {
                email: "bob@mail.test".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("a new address")
        .into_inner();
    assert_eq!(
        (moved.email.as_str(), moved.name.as_str()),
        ("bob@mail.test", "Robert Paulson2X")
    );
}

#[tokio::test]
async fn the_seeds_generation_still_reads_field_one_as_the_password() {
    let (app, acme) = app_speaking("seeds", &[]).await;
    let token = app.access_token(&acme.domain_id, BOB).await;
    // What a current client's `update(name=...)` puts on the wire, to a seeds' server: the
    // setting decides, as the README says.
    let user = update_profile(
        &app,
        &token,
        spaceid::pb::identity::UpdateUserProfileRequest {
            password: "Robert Paulson2X".into(),
            ..Default::default()
        },
    )
    .await
    .expect("a seeds' update");
    assert_eq!(user.name, "Test User");
    app.issue(&acme.domain_id, BOB, "Robert Paulson2X")
        .await
        .expect("the new password");
}

#[tokio::test]
async fn update_password_in_the_current_generation() {
    let (app, acme) = app_speaking("current", &[]).await;
    let token = app.access_token(&acme.domain_id, BOB).await;
    let mut profile = current_profile(&app).await;
    let change = |new: &str, current: &str| {
        authed(
            UpdatePasswordUserProfileRequest {
                new_password: new.into(),
                current_password: current.into(),
            },
            &token,
        )
    };
    assert_status(
        profile
            .update_password(change("N3w-Passw0rd!", "wrong"))
            .await,
        Code::InvalidArgument,
        "ERROR_PASSWORD_NOT_MATCHED",
        &["current_password"],
    );
    assert_status(
        profile.update_password(change(PASSWORD, PASSWORD)).await,
        Code::InvalidArgument,
        "ERROR_PASSWORD_NOT_CHANGED",
        &["new_password"],
    );
    profile
        .update_password(change("N3w-Passw0rd!", PASSWORD))
        .await
        .expect("the right current password");
    assert_status(
        get_profile(&app, &token).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
    app.issue(&acme.domain_id, BOB, "N3w-Passw0rd!")
        .await
        .expect("the new password signs in");
}

/// `find` as a client of the seeds' generation encodes it: `page` in field 3.
#[derive(Clone, PartialEq, Message)]
struct SeedsFindRequest {
    #[prost(string, tag = "1")]
    keyword: String,
    #[prost(message, optional, tag = "3")]
    page: Option<Page>,
    #[prost(string, tag = "21")]
    workspace_id: String,
}

/// A domain admin's token, and a workspace with nobody in it; the domain holds `BOB`, three
/// LOCAL users `local-N@acme.test` and two EXTERNAL ones `external-N@acme.test`.
async fn find_world(app: &TestApp, acme: &TestDomain) -> (String, String) {
    for n in 1..=3 {
        app.user(acme, &format!("local-{n}@acme.test")).await;
    }
    for n in 1..=2 {
        spaceid::testing::service::admin::create_user(
            &app.ctx,
            &acme.id(),
            new_user(&format!("external-{n}@acme.test"), None),
        )
        .await
        .expect("an EXTERNAL user");
    }
    let workspace = app
        .workspace(acme, "Empty")
        .await
        .workspace_id
        .into_string();
    let token = app
        .scoped_token(&acme.domain_id, &acme.admin_id, Scope::Domain, "")
        .await
        .expect("a domain token")
        .access_token;
    (token, workspace)
}

/// `find` as a current client sends it (a seeds' server leaves `auth_type` out of the answer).
async fn find_current(
    app: &TestApp,
    token: &str,
    request: WorkspaceUserFindRequest,
) -> UsersSummaryInfo {
    CurrentWorkspaceUserClient::new(app.raw_channel().await)
        .find(authed(request, token))
        .await
        .expect("find")
        .into_inner()
}

fn ids(found: &UsersSummaryInfo) -> Vec<&str> {
    found.results.iter().map(|u| u.user_id.as_str()).collect()
}

#[tokio::test]
async fn find_reads_both_layouts_and_filters_by_auth_type_in_either_generation() {
    for generation in ["seeds", "current"] {
        let (app, acme) = app_speaking(generation, &[]).await;
        let (token, workspace_id) = find_world(&app, &acme).await;
        let page = Some(Page { start: 2, limit: 2 });
        // The current layout: auth_type 3, page 4.
        let current = WorkspaceUserFindRequest {
            keyword: "acme".into(),
            state: 0,
            auth_type: spaceid::pb::identity::AuthType::Local as i32,
            page,
            workspace_id: workspace_id.clone(),
        };
        let found = find_current(&app, &token, current.clone()).await;
        assert_eq!(
            (ids(&found), found.total_count),
            (vec!["bob@acme.test", "local-1@acme.test"], 5),
            "{generation}: LOCAL users from the second"
        );
        let external = WorkspaceUserFindRequest {
            auth_type: spaceid::pb::identity::AuthType::External as i32,
            page: None,
            ..current
        };
        let found = find_current(&app, &token, external).await;
        assert_eq!(
            ids(&found),
            ["external-1@acme.test", "external-2@acme.test"],
            "{generation}"
        );
        let shown_kind = found
            .results
            .iter()
            .map(|u| u.auth_type)
            .collect::<Vec<_>>();
        let expected = match generation {
            "current" => vec![2, 2],
            _ => vec![0, 0],
        };
        assert_eq!(
            shown_kind, expected,
            "{generation}: auth_type in the answer"
        );
        // The seeds' layout: page in field 3, the same page.
        let seeds = SeedsFindRequest {
            keyword: "acme".into(),
            page,
            workspace_id: workspace_id.clone(),
        };
        let bytes = seeds.encode_to_vec();
        // Bytes the current type cannot read as they stand (field 3 is a varint there) …
        assert!(WorkspaceUserFindRequest::decode(&bytes[..]).is_err());
        // … so they go through a raw call, as a seeds' client's bytes.
        let found = find_seeds_layout(&app, &token, bytes).await;
        assert_eq!(
            (ids(&found), found.total_count),
            (vec!["bob@acme.test", "external-1@acme.test"], 7),
            "{generation}: the seeds' page"
        );
    }
}

/// A raw `find` call with `bytes` as the request message.
async fn find_seeds_layout(app: &TestApp, token: &str, bytes: Vec<u8>) -> UsersSummaryInfo {
    let mut grpc = tonic::client::Grpc::new(app.raw_channel().await);
    grpc.ready().await.expect("ready");
    grpc.unary(
        authed(RawMessage(bytes), token),
        http::uri::PathAndQuery::from_static("/spaceone.api.identity.v2.WorkspaceUser/find"),
        tonic_prost::ProstCodec::<RawMessage, UsersSummaryInfo>::default(),
    )
    .await
    .expect("find in the seeds' layout")
    .into_inner()
}

/// Bytes sent as they are, as a message.
#[derive(Clone, Debug, Default, PartialEq)]
struct RawMessage(Vec<u8>);

impl Message for RawMessage {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        buf.put_slice(&self.0);
    }
    fn merge_field(
        &mut self,
        _: u32,
        _: prost::encoding::WireType,
        _: &mut impl bytes::Buf,
        _: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        unreachable!("only sent")
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

#[tokio::test]
async fn lookup_and_add_fields_are_refused_by_name_in_either_generation() {
    for generation in ["seeds", "current"] {
        let (app, acme) = app_speaking(generation, &[]).await;
        let workspace = app.workspace(&acme, "W").await.workspace_id.into_string();
        let token = app
            .scoped_token(&acme.domain_id, &acme.admin_id, Scope::Domain, "")
            .await
            .expect("a domain token")
            .access_token;
        let list = |query: Query| WorkspaceUserSearchQuery {
            query: Some(query),
            workspace_id: workspace.clone(),
            ..Default::default()
        };
        for (query, field) in [
            (
                Query {
                    lookup: Some(prost_types::ListValue::default()),
                    ..Default::default()
                },
                "query.lookup",
            ),
            (
                Query {
                    add_fields: Some(to_struct(&json!({"x": 1}))),
                    ..Default::default()
                },
                "query.add_fields",
            ),
        ] {
            assert_status(
                app.workspace_user()
                    .await
                    .list(authed(list(query), &token))
                    .await,
                Code::InvalidArgument,
                "ERROR_INVALID_PARAMETER",
                &[field],
            );
        }
    }
}

/// `BOB` with ENFORCE_MFA, on a server that mails through `sink`.
async fn enforced_world(generation: &str, sink: &SmtpSink) -> (TestApp, TestDomain) {
    let (app, acme) = app_speaking(generation, &["--smtp-url", &sink.url()]).await;
    app.set_user(
        &acme.domain_id,
        BOB,
        UserChanges {
            required_actions: Some(vec![RequiredAction::EnforceMfa]),
            ..UserChanges::default()
        },
    )
    .await;
    (app, acme)
}

#[tokio::test]
async fn enforce_mfa_lets_the_user_do_nothing_but_turn_mfa_on_and_keep_it_on() {
    let sink = SmtpSink::start().await;
    let (app, acme) = enforced_world("current", &sink).await;
    let tokens = app
        .issue(&acme.domain_id, BOB, PASSWORD)
        .await
        .expect("sign in");
    let claims = claims_of(&tokens.access_token);
    assert_eq!(claims["permissions"], json!(["identity:UserProfile"]));
    assert_status(
        app.token()
            .await
            .grant(grant_request(&tokens.refresh_token, Scope::User, ""))
            .await,
        Code::FailedPrecondition,
        "ERROR_MFA_ENFORCED",
        &["enable_mfa"],
    );
    let shown = get_profile(&app, &tokens.access_token).await.expect("get");
    assert_eq!(
        shown.required_actions,
        [1],
        "ENFORCE_MFA, as the current generation numbers it"
    );

    // Turning MFA on is what the token allows.
    let token = tokens.access_token;
    let mut profile = app.user_profile().await;
    profile
        .enable_mfa(authed(
            EnableMfaRequest {
                mfa_type: "EMAIL".into(),
                options: Some(to_struct(&json!({ "email": "bob@mail.test" }))),
            },
            &token,
        ))
        .await
        .expect("enable MFA");
    let (_, code) = crate::codes::next_code(&sink).await;
    profile
        .confirm_mfa(authed(ConfirmMfaRequest { verify_code: code }, &token))
        .await
        .expect("confirm MFA");

    // With MFA on, a sign-in in two steps gives a full token.
    let status = app.issue(&acme.domain_id, BOB, PASSWORD).await.unwrap_err();
    assert!(
        status.message().starts_with("ERROR_MFA_REQUIRED"),
        "{status:?}"
    );
    let (_, code) = crate::codes::next_code(&sink).await;
    let signed_in = app
        .token()
        .await
        .issue(spaceid::pb::identity::IssueTokenRequest {
            auth_type: spaceid::pb::identity::issue_token_request::AuthType::Mfa as i32,
            verify_code: code,
            ..issue_request(&acme.domain_id, BOB, PASSWORD)
        })
        .await
        .expect("sign in with the code")
        .into_inner();
    app.token()
        .await
        .grant(grant_request(&signed_in.refresh_token, Scope::User, ""))
        .await
        .expect("a full token now");
    // And MFA stays on.
    assert_status(
        profile
            .disable_mfa(authed(DisableMfaRequest {}, &signed_in.access_token))
            .await,
        Code::FailedPrecondition,
        "ERROR_INVALID_STATE",
        &["ENFORCE_MFA"],
    );
}

#[tokio::test]
async fn the_seeds_generation_does_not_show_enforce_mfa_but_holds_the_user_to_it() {
    let sink = SmtpSink::start().await;
    let (app, acme) = enforced_world("seeds", &sink).await;
    let tokens = app
        .issue(&acme.domain_id, BOB, PASSWORD)
        .await
        .expect("sign in");
    let shown = app
        .user_profile()
        .await
        .get(authed(UserProfileRequest::default(), &tokens.access_token))
        .await
        .expect("get")
        .into_inner();
    assert!(shown.required_actions.is_empty(), "{shown:?}");
    assert_eq!(
        claims_of(&tokens.access_token)["permissions"],
        json!(["identity:UserProfile"])
    );
    assert_status(
        app.token()
            .await
            .grant(grant_request(&tokens.refresh_token, Scope::User, ""))
            .await,
        Code::FailedPrecondition,
        "ERROR_MFA_ENFORCED",
        &[],
    );
}
