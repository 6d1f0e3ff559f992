//! Token.issue and Token.grant as a client sees them.

use spaceid::pb::identity::{grant_token_info::RoleType, grant_token_request::Scope};
use spaceid::testing::domain::UserState;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn issue_returns_spaceone_access_and_refresh_tokens() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;

    let tokens = app
        .issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .unwrap();

    let access = claims_of(&tokens.access_token);
    assert_eq!(header_of(&tokens.access_token)["alg"], "RS256");
    assert_eq!(access["iss"], "spaceone.identity");
    assert_eq!(access["typ"], "ACCESS_TOKEN");
    assert_eq!(access["own"], "USER");
    assert_eq!(access["did"], acme.domain_id.as_str());
    assert_eq!(access["aud"], acme.admin_id.as_str());
    assert_eq!(access["rol"], "USER");
    assert_eq!(access["ver"], "2.0");
    assert!(access.get("wid").is_none());
    assert!(access.get("permissions").is_none());
    let jti = access["jti"].as_str().unwrap();
    assert!(
        jti.len() == 32 && jti.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "{jti}"
    );
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        1800
    );

    let refresh = claims_of(&tokens.refresh_token);
    assert_eq!(refresh["typ"], "REFRESH_TOKEN");
    assert_eq!(
        refresh["exp"].as_i64().unwrap() - refresh["iat"].as_i64().unwrap(),
        10_800
    );
    assert_ne!(
        header_of(&tokens.access_token)["kid"],
        header_of(&tokens.refresh_token)["kid"],
        "refresh tokens must be signed with their own key"
    );
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;

    let wrong_password = app
        .issue(&acme.domain_id, &acme.admin_id, "Wr0ngPassword")
        .await;
    let unknown_user = app
        .issue(&acme.domain_id, "nobody@acme.test", PASSWORD)
        .await;
    let unknown_domain = app
        .issue("domain-000000000000", &acme.admin_id, PASSWORD)
        .await;

    let messages: Vec<String> = [wrong_password, unknown_user, unknown_domain]
        .into_iter()
        .map(|result| {
            let status = result.unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated);
            status.message().to_owned()
        })
        .collect();
    assert!(
        messages[0].starts_with("ERROR_AUTHENTICATE_FAILURE:"),
        "{}",
        messages[0]
    );
    assert_eq!(messages[0], messages[1]);
    assert_eq!(messages[0], messages[2]);
}

#[tokio::test]
async fn issue_names_missing_fields() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    assert_status(
        app.issue("", &acme.admin_id, PASSWORD).await,
        Code::InvalidArgument,
        "ERROR_REQUIRED_PARAMETER",
        &["domain_id"],
    );
    assert_status(
        app.issue(&acme.domain_id, "", PASSWORD).await,
        Code::InvalidArgument,
        "ERROR_REQUIRED_PARAMETER",
        &["credentials.user_id"],
    );
    assert_status(
        app.issue(&acme.domain_id, &acme.admin_id, "").await,
        Code::InvalidArgument,
        "ERROR_REQUIRED_PARAMETER",
        &["credentials.password"],
    );

    let mut request = issue_request(&acme.domain_id, &acme.admin_id, PASSWORD);
    request.credentials = Some(to_struct(
        &serde_json::json!({"user_id": 42, "password": PASSWORD}),
    ));
    let result = app.token().await.issue(request).await;
    assert_status(
        result,
        Code::InvalidArgument,
        "ERROR_INVALID_PARAMETER",
        &["credentials.user_id"],
    );

    let mut request = issue_request(&acme.domain_id, &acme.admin_id, PASSWORD);
    request.timeout = -5;
    let result = app.token().await.issue(request).await;
    assert_status(
        result,
        Code::InvalidArgument,
        "ERROR_INVALID_PARAMETER",
        &["timeout"],
    );
}

#[tokio::test]
async fn a_requested_timeout_is_capped_at_seven_days() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let mut token = app.token().await;
    for (asked, lifetime) in [(60, 60), (10_000_000, 604_800)] {
        let mut request = issue_request(&acme.domain_id, &acme.admin_id, PASSWORD);
        request.timeout = asked;
        let access = token
            .issue(request)
            .await
            .unwrap()
            .into_inner()
            .access_token;
        let claims = claims_of(&access);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            lifetime
        );
    }
}

#[tokio::test]
async fn disabled_users_cannot_sign_in_and_sign_in_records_the_time() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    let before =
        spaceid::testing::store::users::get(&app.ctx.store, &acme.id(), &"bob@acme.test".into())
            .await
            .unwrap()
            .unwrap();
    assert!(before.last_accessed_at.is_none());

    app.issue(&acme.domain_id, "bob@acme.test", PASSWORD)
        .await
        .unwrap();
    let after =
        spaceid::testing::store::users::get(&app.ctx.store, &acme.id(), &"bob@acme.test".into())
            .await
            .unwrap()
            .unwrap();
    assert!(after.last_accessed_at.is_some());

    disable(&app, &acme.domain_id, "bob@acme.test").await;
    let result = app.issue(&acme.domain_id, "bob@acme.test", PASSWORD).await;
    assert_status(
        result,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["disabled"],
    );
}

#[tokio::test]
async fn grant_gives_the_role_of_the_scope() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let ops = app.workspace(&acme, "ops").await;
    let dev = app.workspace(&acme, "dev").await;
    app.user(&acme, "member@acme.test").await;
    app.bind(
        &acme,
        "member@acme.test",
        "managed-workspace-member",
        Some(ops.workspace_id.as_str()),
    )
    .await;
    app.user(&acme, "owner@acme.test").await;
    app.bind(&acme, "owner@acme.test", "managed-workspace-owner", None)
        .await;

    let granted = app
        .scoped_token(&acme.domain_id, &acme.admin_id, Scope::Domain, "")
        .await
        .unwrap();
    assert_eq!(granted.role_type(), RoleType::DomainAdmin);
    assert_eq!(granted.domain_id, acme.domain_id);
    assert_eq!(granted.role_id, "managed-domain-admin");
    assert_eq!(claims_of(&granted.access_token)["rol"], "DOMAIN_ADMIN");
    assert!(claims_of(&granted.access_token).get("wid").is_none());

    let granted = app
        .scoped_token(
            &acme.domain_id,
            &acme.admin_id,
            Scope::Workspace,
            ops.workspace_id.as_str(),
        )
        .await
        .unwrap();
    assert_eq!(granted.role_type(), RoleType::WorkspaceOwner);
    assert_eq!(granted.workspace_id, ops.workspace_id);
    let claims = claims_of(&granted.access_token);
    assert_eq!(claims["rol"], "WORKSPACE_OWNER");
    assert_eq!(claims["wid"], ops.workspace_id.as_str());

    let granted = app
        .scoped_token(
            &acme.domain_id,
            "member@acme.test",
            Scope::Workspace,
            ops.workspace_id.as_str(),
        )
        .await
        .unwrap();
    assert_eq!(granted.role_type(), RoleType::WorkspaceMember);
    assert_eq!(granted.role_id, "managed-workspace-member");
    assert_eq!(claims_of(&granted.access_token)["rol"], "WORKSPACE_MEMBER");

    let granted = app
        .scoped_token(
            &acme.domain_id,
            "owner@acme.test",
            Scope::Workspace,
            dev.workspace_id.as_str(),
        )
        .await
        .unwrap();
    assert_eq!(
        granted.role_type(),
        RoleType::WorkspaceOwner,
        "a `*` binding holds in every workspace"
    );

    let granted = app
        .scoped_token(&acme.domain_id, "member@acme.test", Scope::User, "")
        .await
        .unwrap();
    assert_eq!(granted.role_type(), RoleType::User);
    assert_eq!(claims_of(&granted.access_token)["rol"], "USER");
}

#[tokio::test]
async fn grant_refuses_scopes_the_user_has_no_role_in() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let ops = app.workspace(&acme, "ops").await;
    let dev = app.workspace(&acme, "dev").await;
    app.user(&acme, "member@acme.test").await;
    app.bind(
        &acme,
        "member@acme.test",
        "managed-workspace-member",
        Some(ops.workspace_id.as_str()),
    )
    .await;

    let result = app
        .scoped_token(
            &acme.domain_id,
            "member@acme.test",
            Scope::Workspace,
            dev.workspace_id.as_str(),
        )
        .await;
    assert_status(
        result,
        Code::PermissionDenied,
        "ERROR_PERMISSION_DENIED",
        &[dev.workspace_id.as_str()],
    );

    let result = app
        .scoped_token(&acme.domain_id, "member@acme.test", Scope::Domain, "")
        .await;
    assert_status(
        result,
        Code::PermissionDenied,
        "ERROR_PERMISSION_DENIED",
        &["DOMAIN_ADMIN"],
    );

    let result = app
        .scoped_token(&acme.domain_id, "member@acme.test", Scope::Workspace, "")
        .await;
    assert_status(
        result,
        Code::InvalidArgument,
        "ERROR_REQUIRED_PARAMETER",
        &["workspace_id"],
    );

    let result = app
        .scoped_token(
            &acme.domain_id,
            "member@acme.test",
            Scope::Workspace,
            "workspace-000000000000",
        )
        .await;
    assert_status(
        result,
        Code::NotFound,
        "ERROR_NOT_FOUND",
        &["workspace-000000000000"],
    );

    let result = app
        .scoped_token(&acme.domain_id, "member@acme.test", Scope::Project, "")
        .await;
    assert_status(
        result,
        Code::InvalidArgument,
        "ERROR_INVALID_PARAMETER",
        &["scope"],
    );
}

#[tokio::test]
async fn grant_checks_the_domain_the_caller_names() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let other = app.domain("other").await;
    let refresh = app
        .issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .unwrap()
        .refresh_token;

    let mut request = grant_request(&refresh, Scope::Domain, "");
    request.domain_id = other.domain_id.clone();
    let result = app.token().await.grant(request).await;
    assert_status(
        result,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["another domain"],
    );

    let mut request = grant_request(&refresh, Scope::Domain, "");
    request.domain_id = acme.domain_id.clone();
    assert!(app.token().await.grant(request).await.is_ok());
}

#[tokio::test]
async fn grant_accepts_only_refresh_tokens() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let access = app.access_token(&acme.domain_id, &acme.admin_id).await;
    let result = app
        .token()
        .await
        .grant(grant_request(&access, Scope::Domain, ""))
        .await;
    assert_status(
        result,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );

    let result = app
        .token()
        .await
        .grant(grant_request("", Scope::Domain, ""))
        .await;
    assert_status(
        result,
        Code::InvalidArgument,
        "ERROR_REQUIRED_PARAMETER",
        &["token"],
    );
}

#[tokio::test]
async fn a_hash_of_another_cost_is_replaced_at_sign_in_and_tokens_live_on() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    // The test server makes hashes at cost 4; this one was made at cost 6.
    app.slow_user(&acme, "old@acme.test", 6, UserState::Enabled)
        .await;
    let stored = |app: &TestApp| {
        let store = app.ctx.store.clone();
        let domain_id = acme.domain_id.clone();
        async move {
            spaceid::testing::store::users::get(
                &store,
                &domain_id.as_str().into(),
                &"old@acme.test".into(),
            )
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap()
        }
    };
    assert!(stored(&app).await.starts_with("$2b$06$"));

    let before = app.access_token(&acme.domain_id, "old@acme.test").await;
    let rehashed = stored(&app).await;
    assert!(rehashed.starts_with("$2b$04$"), "{rehashed}");
    assert!(
        get_profile(&app, &before).await.is_ok(),
        "the password did not change: its tokens still work"
    );
    app.issue(&acme.domain_id, "old@acme.test", PASSWORD)
        .await
        .expect("the same password signs in against the new hash");
    assert_eq!(stored(&app).await, rehashed, "hashed again only once");
}
