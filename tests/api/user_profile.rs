//! UserProfile.get and UserProfile.update as a signed-in user sees them.

use spaceid::pb::identity::{
    UpdateUserProfileRequest, UserProfileRequest,
    grant_token_request::Scope,
    user_info::{RoleType, State},
};
use tonic::Code;

use crate::helpers::*;

fn is_spaceone_time(text: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3fZ").is_ok()
        && text.len() == "2024-11-12T06:06:04.999Z".len()
}

#[tokio::test]
async fn get_returns_the_callers_own_record() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;

    let admin = get_profile(
        &app,
        &app.access_token(&acme.domain_id, &acme.admin_id).await,
    )
    .await
    .unwrap();
    assert_eq!(admin.user_id, acme.admin_id);
    assert_eq!(admin.domain_id, acme.domain_id);
    assert_eq!(admin.state(), State::Enabled);
    assert_eq!(admin.role_type(), RoleType::DomainAdmin);
    assert_eq!(admin.role_id, "managed-domain-admin");
    assert_eq!(admin.auth_type(), spaceid::pb::identity::AuthType::Local);
    assert_eq!(
        (admin.language.as_str(), admin.timezone.as_str()),
        ("en", "UTC")
    );
    assert_eq!(admin.refresh_timeout, 10_800);
    assert!(is_spaceone_time(&admin.created_at), "{}", admin.created_at);
    assert!(
        is_spaceone_time(&admin.last_accessed_at),
        "{}",
        admin.last_accessed_at
    );

    let bob_token = app
        .scoped_token(&acme.domain_id, "bob@acme.test", Scope::User, "")
        .await
        .unwrap()
        .access_token;
    let bob = get_profile(&app, &bob_token).await.unwrap();
    assert_eq!(bob.user_id, "bob@acme.test");
    assert_eq!(bob.role_type(), RoleType::User);
    assert_eq!(bob.role_id, "");
}

#[tokio::test]
async fn get_and_update_need_a_valid_access_token_of_the_callers_domain() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let tokens = app
        .issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .unwrap();
    let other = app.domain("other").await;
    // The same user id lives in both domains: a token of one must never reach the other's.
    app.user(&acme, "shared@x.test").await;
    app.user(&other, "shared@x.test").await;
    let acme_shared = app.access_token(&acme.domain_id, "shared@x.test").await;
    let other_token = app.access_token(&other.domain_id, "shared@x.test").await;

    let mut client = app.user_profile().await;
    let result = client.get(UserProfileRequest::default()).await;
    assert_status(
        result,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["no token"],
    );
    let result = client
        .update(UpdateUserProfileRequest {
            name: "x".into(),
            ..Default::default()
        })
        .await;
    assert_status(
        result,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["no token"],
    );

    for bad in ["not-a-jwt", tokens.refresh_token.as_str()] {
        assert_status(
            get_profile(&app, bad).await,
            Code::Unauthenticated,
            "ERROR_AUTHENTICATE_FAILURE",
            &[],
        );
        let request = UpdateUserProfileRequest {
            name: "Mallory".into(),
            ..Default::default()
        };
        assert_status(
            update_profile(&app, bad, request).await,
            Code::Unauthenticated,
            "ERROR_AUTHENTICATE_FAILURE",
            &[],
        );
    }

    // A token of another domain speaks for its own user only, even one with the same id.
    let seen = get_profile(&app, &other_token).await.unwrap();
    assert_eq!(
        (seen.domain_id.as_str(), seen.user_id.as_str()),
        (other.domain_id.as_str(), "shared@x.test")
    );
    let request = UpdateUserProfileRequest {
        name: "Renamed".into(),
        ..Default::default()
    };
    let renamed = update_profile(&app, &other_token, request).await.unwrap();
    assert_eq!(
        (renamed.domain_id.as_str(), renamed.name.as_str()),
        (other.domain_id.as_str(), "Renamed")
    );
    let twin = get_profile(&app, &acme_shared).await.unwrap();
    assert_eq!(
        (twin.domain_id.as_str(), twin.name.as_str()),
        (acme.domain_id.as_str(), "Test User"),
        "another domain's token changed nothing here"
    );

    assert_eq!(
        get_profile(&app, &tokens.access_token)
            .await
            .unwrap()
            .user_id,
        acme.admin_id
    );
}

#[tokio::test]
async fn update_changes_only_the_fields_given() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let token = app.access_token(&acme.domain_id, &acme.admin_id).await;
    let tags = serde_json::json!({"team": "cloudforet", "level": 3.0, "nested": {"on": true}, "list": ["a", 1.0]});

    let updated = update_profile(
        &app,
        &token,
        UpdateUserProfileRequest {
            name: "Wonny".into(),
            language: "ko".into(),
            timezone: "Asia/Seoul".into(),
            tags: Some(to_struct(&tags)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(updated.name, "Wonny");
    assert_eq!(updated.language, "ko");
    assert_eq!(updated.timezone, "Asia/Seoul");
    assert_eq!(updated.tags, Some(to_struct(&tags)));

    let partial = update_profile(
        &app,
        &token,
        UpdateUserProfileRequest {
            language: "ja".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(partial.language, "ja");
    assert_eq!(partial.name, "Wonny", "fields not given stay as they were");
    assert_eq!(partial.tags, Some(to_struct(&tags)));
    assert_eq!(get_profile(&app, &token).await.unwrap(), partial);
}

#[tokio::test]
async fn changing_the_email_makes_it_unverified() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let token = app.access_token(&acme.domain_id, &acme.admin_id).await;
    app.set_user(
        &acme.domain_id,
        &acme.admin_id,
        spaceid::testing::store::users::UserChanges {
            email: Some(spaceid::testing::domain::Email::parse("old@acme.test").ok()),
            email_verified: Some(true),
            ..Default::default()
        },
    )
    .await;

    let same = update_profile(
        &app,
        &token,
        UpdateUserProfileRequest {
            email: "old@acme.test".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(same.email_verified, "the same address stays verified");

    let changed = update_profile(
        &app,
        &token,
        UpdateUserProfileRequest {
            email: "new@acme.test".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(changed.email, "new@acme.test");
    assert!(!changed.email_verified);
}

#[tokio::test]
async fn update_refuses_bad_values_by_name_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let token = app.access_token(&acme.domain_id, &acme.admin_id).await;
    let before = get_profile(&app, &token).await.unwrap();
    let cases = [
        (
            UpdateUserProfileRequest {
                timezone: "Mars/Base".into(),
                ..Default::default()
            },
            "timezone",
        ),
        (
            UpdateUserProfileRequest {
                timezone: "utc+9".into(),
                ..Default::default()
            },
            "timezone",
        ),
        (
            UpdateUserProfileRequest {
                email: "not-an-email".into(),
                ..Default::default()
            },
            "email",
        ),
        (
            UpdateUserProfileRequest {
                email: "a@b".into(),
                ..Default::default()
            },
            "email",
        ),
        (
            UpdateUserProfileRequest {
                language: "english".into(),
                ..Default::default()
            },
            "language",
        ),
        (
            UpdateUserProfileRequest {
                name: "n".repeat(129),
                ..Default::default()
            },
            "name",
        ),
        (
            UpdateUserProfileRequest {
                password: "short1A".into(),
                ..Default::default()
            },
            "password",
        ),
        (
            UpdateUserProfileRequest {
                password: "alllowercase1".into(),
                ..Default::default()
            },
            "password",
        ),
        (
            UpdateUserProfileRequest {
                password: "ALLUPPERCASE1".into(),
                ..Default::default()
            },
            "password",
        ),
        (
            UpdateUserProfileRequest {
                password: "NoDigitsHere".into(),
                ..Default::default()
            },
            "password",
        ),
        (
            UpdateUserProfileRequest {
                password: format!("Aa1{}", "x".repeat(69)),
                ..Default::default()
            },
            "password",
        ),
        (
            UpdateUserProfileRequest {
                password: PASSWORD.into(),
                ..Default::default()
            },
            "password",
        ),
        // A valid field next to a bad one must not be applied either.
        (
            UpdateUserProfileRequest {
                name: "Half".into(),
                timezone: "Nowhere/Land".into(),
                ..Default::default()
            },
            "timezone",
        ),
    ];
    for (request, field) in cases {
        let result = update_profile(&app, &token, request).await;
        assert_status(
            result,
            Code::InvalidArgument,
            "ERROR_INVALID_PARAMETER",
            &[field],
        );
    }
    assert_eq!(get_profile(&app, &token).await.unwrap(), before);
    assert!(
        app.issue(&acme.domain_id, &acme.admin_id, PASSWORD)
            .await
            .is_ok(),
        "the password is unchanged"
    );
}

#[tokio::test]
async fn a_password_change_clears_update_password_and_takes_effect() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.set_user(
        &acme.domain_id,
        &acme.admin_id,
        spaceid::testing::store::users::UserChanges {
            required_actions: Some(vec![
                spaceid::testing::domain::RequiredAction::UpdatePassword,
            ]),
            ..Default::default()
        },
    )
    .await;
    let token = app.access_token(&acme.domain_id, &acme.admin_id).await;
    assert_eq!(
        get_profile(&app, &token).await.unwrap().required_actions,
        vec![0],
        "UPDATE_PASSWORD is 0 on the wire"
    );

    let updated = update_profile(
        &app,
        &token,
        UpdateUserProfileRequest {
            password: "An0therSecret".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(updated.required_actions.is_empty());

    assert!(
        app.issue(&acme.domain_id, &acme.admin_id, PASSWORD)
            .await
            .is_err()
    );
    let fresh = app
        .issue(&acme.domain_id, &acme.admin_id, "An0therSecret")
        .await
        .unwrap();
    assert!(
        get_profile(&app, &fresh.access_token)
            .await
            .unwrap()
            .required_actions
            .is_empty()
    );
}

#[tokio::test]
async fn external_users_cannot_sign_in_with_a_password() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    spaceid::testing::service::admin::create_user(
        &app.ctx,
        &acme.id(),
        new_user("ext@acme.test", None),
    )
    .await
    .unwrap();
    // EXTERNAL users have no password here: a LOCAL sign-in fails like an unknown user.
    assert_status(
        app.issue(&acme.domain_id, "ext@acme.test", PASSWORD).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["wrong user_id or password"],
    );
}
