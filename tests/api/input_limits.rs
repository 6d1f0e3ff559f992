//! Values the service refuses, and how it says so: short, escaped quotes of what was refused,
//! bounded tags, and user ids that cannot impersonate each other.

use serde_json::json;
use spaceid::{
    pb::identity::UpdateUserProfileRequest,
    testing::{error::Error, service::admin},
};
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn a_megabyte_of_bad_time_zone_gets_a_short_answer() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let token = app.access_token(&acme.domain_id, &acme.admin_id).await;
    let request = UpdateUserProfileRequest {
        timezone: format!("Mars/{}", "x".repeat(1 << 20)),
        ..Default::default()
    };
    let status = update_profile(&app, &token, request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("ERROR_INVALID_PARAMETER"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("timezone"),
        "{}",
        status.message()
    );
    assert!(
        status.message().len() < 300,
        "the answer quotes {} bytes",
        status.message().len()
    );
}

#[tokio::test]
async fn oversized_and_over_deep_tags_are_refused_and_the_user_stays_readable() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let token = app.access_token(&acme.domain_id, &acme.admin_id).await;

    let fine = json!({"team": "ops", "blob": "x".repeat(15_000)});
    update_profile(
        &app,
        &token,
        UpdateUserProfileRequest {
            tags: Some(to_struct(&fine)),
            ..Default::default()
        },
    )
    .await
    .expect("15 kB of tags are fine");

    let big = json!({"blob": "x".repeat(3 << 20)});
    let mut deep = json!("leaf");
    for _ in 0..20 {
        deep = json!({ "k": deep });
    }
    for (tags, words) in [(big, &["tags", "bytes"]), (deep, &["tags", "levels"])] {
        let request = UpdateUserProfileRequest {
            tags: Some(to_struct(&tags)),
            ..Default::default()
        };
        assert_status(
            update_profile(&app, &token, request).await,
            Code::InvalidArgument,
            "ERROR_INVALID_PARAMETER",
            words,
        );
    }
    let profile = app
        .user_profile()
        .await
        .get(authed(Default::default(), &token))
        .await
        .expect("the user's own get still works")
        .into_inner();
    assert_eq!(profile.tags, Some(to_struct(&fine)));
}

#[tokio::test]
async fn look_alike_and_case_variant_user_ids_are_refused() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    app.user(&acme, "jos\u{e9}@acme.test").await;

    for twin in [
        "Bob@acme.test",
        "BOB@ACME.TEST",
        "\u{ff42}ob@acme.test",
        "jose\u{301}@acme.test",
    ] {
        let result = admin::create_user(&app.ctx, &acme.id(), new_user(twin, Some(PASSWORD))).await;
        assert!(
            matches!(&result, Err(Error::AlreadyExists { key, .. }) if key == "user_id"),
            "{twin:?}: {result:?}"
        );
    }
    for hidden in [
        "bob\u{200b}@acme.test",
        "\u{202e}bob@acme.test",
        "bob@acme.test\u{feff}",
    ] {
        let status = spaceid::testing::domain::UserId::parse(hidden).unwrap_err();
        assert!(
            matches!(&status, Error::InvalidParameter { key, .. } if key == "user_id"),
            "{hidden:?}: {status:?}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE lower(user_id) LIKE 'bob@%'")
            .await,
        1
    );

    // The same holds through the command line's parser and in names.
    let token = app.access_token(&acme.domain_id, "bob@acme.test").await;
    assert_status(
        update_profile(
            &app,
            &token,
            UpdateUserProfileRequest {
                name: "evil\u{202e}txt.exe".into(),
                ..Default::default()
            },
        )
        .await,
        Code::InvalidArgument,
        "ERROR_INVALID_PARAMETER",
        &["name", "invisible"],
    );
}

#[tokio::test]
async fn nul_characters_are_the_callers_mistake_on_every_engine() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let client_error = |status: tonic::Status| {
        assert!(
            matches!(
                status.code(),
                Code::InvalidArgument | Code::Unauthenticated | Code::NotFound
            ),
            "{status:?}"
        );
    };
    client_error(
        app.issue(&acme.domain_id, "a\u{0}b@acme.test", PASSWORD)
            .await
            .unwrap_err(),
    );
    client_error(
        app.issue("domain-\u{0}", &acme.admin_id, PASSWORD)
            .await
            .unwrap_err(),
    );
    let refresh = app
        .issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .unwrap()
        .refresh_token;
    let request = grant_request(
        &refresh,
        spaceid::pb::identity::grant_token_request::Scope::Workspace,
        "workspace-\u{0}",
    );
    client_error(app.token().await.grant(request).await.unwrap_err());

    let token = app.access_token(&acme.domain_id, &acme.admin_id).await;
    for tags in [json!({"k\u{0}": "v"}), json!({"k": "v\u{0}"})] {
        let request = UpdateUserProfileRequest {
            tags: Some(to_struct(&tags)),
            ..Default::default()
        };
        assert_status(
            update_profile(&app, &token, request).await,
            Code::InvalidArgument,
            "ERROR_INVALID_PARAMETER",
            &["tags", "NUL"],
        );
    }
}
