//! `UserProfile.update_password` (spaceone-api 2.0.330 and later, served in the seeds'
//! generation too): the current password unless the user must change its password, counted
//! like a sign-in; never the same password again; every earlier token ends.

use spaceid::pb::{current::identity::UpdatePasswordUserProfileRequest, identity::UserInfo};
use spaceid::testing::store::users::UserChanges;
use tonic::Code;

use crate::helpers::*;

const NEW_PASSWORD: &str = "N3w-Passw0rd!";

/// `update_password` as a client compiled from spaceone-api 2.0.330 or later calls it.
async fn update_password(
    app: &TestApp,
    token: &str,
    new_password: &str,
    current_password: &str,
) -> Result<UserInfo, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(app.raw_channel().await);
    grpc.ready().await.expect("the channel is ready");
    let request = authed(
        UpdatePasswordUserProfileRequest {
            new_password: new_password.into(),
            current_password: current_password.into(),
        },
        token,
    );
    grpc.unary(
        request,
        http::uri::PathAndQuery::from_static(
            "/spaceone.api.identity.v2.UserProfile/update_password",
        ),
        tonic_prost::ProstCodec::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn the_current_password_is_required_and_checked_and_the_new_one_must_differ() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    let token = app.access_token(&acme.domain_id, "bob@acme.test").await;

    assert_status(
        update_password(&app, &token, NEW_PASSWORD, "").await,
        Code::InvalidArgument,
        "ERROR_REQUIRED_PARAMETER",
        &["current_password"],
    );
    assert_status(
        update_password(&app, &token, NEW_PASSWORD, "Wr0ng-Passw0rd").await,
        Code::InvalidArgument,
        "ERROR_PASSWORD_NOT_MATCHED",
        &["current_password"],
    );
    assert_status(
        update_password(&app, &token, PASSWORD, PASSWORD).await,
        Code::InvalidArgument,
        "ERROR_PASSWORD_NOT_CHANGED",
        &["new_password"],
    );
    assert_status(
        update_password(&app, &token, "short", PASSWORD).await,
        Code::InvalidArgument,
        "ERROR_INVALID_PARAMETER",
        &["new_password", "8 characters"],
    );
    // Nothing changed so far.
    get_profile(&app, &token)
        .await
        .expect("the token still works");
    app.issue(&acme.domain_id, "bob@acme.test", PASSWORD)
        .await
        .expect("the old password still works");

    let user = update_password(&app, &token, NEW_PASSWORD, PASSWORD)
        .await
        .expect("a new password");
    assert_eq!(user.user_id, "bob@acme.test");
    assert_eq!(
        get_profile(&app, &token).await.unwrap_err().code(),
        Code::Unauthenticated,
        "every earlier token ends, the caller's too"
    );
    assert_eq!(
        app.issue(&acme.domain_id, "bob@acme.test", PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    app.issue(&acme.domain_id, "bob@acme.test", NEW_PASSWORD)
        .await
        .expect("the new password signs in");
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_failed_sign_ins() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    let token = app.access_token(&acme.domain_id, "bob@acme.test").await;
    let mut throttled = None;
    for guess in 0..20 {
        let status = update_password(&app, &token, NEW_PASSWORD, &format!("Guess-{guess}x"))
            .await
            .unwrap_err();
        if status.code() == Code::ResourceExhausted {
            throttled = Some(guess);
            break;
        }
        assert!(
            status.message().starts_with("ERROR_PASSWORD_NOT_MATCHED"),
            "{status:?}"
        );
    }
    let throttled = throttled.expect("a stolen session is no password oracle");
    assert!(throttled <= 6, "throttled after {throttled} guesses");
    // The same counter as sign-ins: the next sign-in from here waits too.
    assert_eq!(
        app.issue(&acme.domain_id, "bob@acme.test", PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Code::ResourceExhausted
    );
    // Once the wait is over, the right password works and clears the count.
    app.clock.advance(chrono::TimeDelta::minutes(2));
    update_password(&app, &token, NEW_PASSWORD, PASSWORD)
        .await
        .expect("the right password");
}

#[tokio::test]
async fn a_user_that_must_change_its_password_needs_no_current_one() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    app.set_user(
        &acme.domain_id,
        "bob@acme.test",
        UserChanges {
            required_actions: Some(vec![
                spaceid::testing::domain::RequiredAction::UpdatePassword,
            ]),
            ..UserChanges::default()
        },
    )
    .await;
    let token = app.access_token(&acme.domain_id, "bob@acme.test").await;
    let user = update_password(&app, &token, NEW_PASSWORD, "")
        .await
        .expect("no current password needed");
    assert!(
        user.required_actions.is_empty(),
        "UPDATE_PASSWORD is cleared"
    );
    let token = app
        .access_token_with(&acme.domain_id, "bob@acme.test", NEW_PASSWORD)
        .await;
    // From now on the current password is required again.
    assert_status(
        update_password(&app, &token, "An0ther-Passw0rd", "").await,
        Code::InvalidArgument,
        "ERROR_REQUIRED_PARAMETER",
        &["current_password"],
    );
}
