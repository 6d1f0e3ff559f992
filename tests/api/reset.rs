//! `reset_password`: the same answer for everyone, mail only to an eligible user's verified
//! address, a single-use link that allows only a password change (the default), or a
//! temporary password with UPDATE_PASSWORD; and UPDATE_PASSWORD as the reference enforces it.

use std::time::Duration;

use spaceid::pb::identity::{
    UpdateUserProfileRequest, UserPasswordResetRequest, grant_token_request::Scope,
};
use tonic::Code;

use crate::helpers::*;
use crate::smtp::SmtpSink;

const NEW_PASSWORD: &str = "N3wPassword!";

/// A server mailing through a fresh listener, with `bob` (LOCAL, verified address),
/// `carol` (LOCAL, unverified) and `ext` (EXTERNAL, verified) in domain acme.
async fn fixture(flags: &[&str]) -> (TestApp, SmtpSink, TestDomain) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let mut all = vec!["--smtp-url", url.as_str()];
    all.extend_from_slice(flags);
    let app = TestApp::spawn_with(&all).await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    app.user(&acme, "carol@acme.test").await;
    spaceid::testing::service::admin::create_user(
        &app.ctx,
        &acme.id(),
        new_user("ext@acme.test", None),
    )
    .await
    .unwrap();
    for (user_id, verified) in [
        ("bob@acme.test", true),
        ("carol@acme.test", false),
        ("ext@acme.test", true),
    ] {
        app.set_user(
            &acme.domain_id,
            user_id,
            spaceid::testing::store::users::UserChanges {
                email: Some(
                    spaceid::testing::domain::Email::parse(&format!(
                        "{}@mail.test",
                        &user_id[..user_id.find('@').unwrap()]
                    ))
                    .ok(),
                ),
                email_verified: Some(verified),
                ..Default::default()
            },
        )
        .await;
    }
    (app, sink, acme)
}

async fn reset(app: &TestApp, domain_id: &str, user_id: &str) -> Result<(), tonic::Status> {
    app.user_profile()
        .await
        .reset_password(UserPasswordResetRequest {
            user_id: user_id.into(),
            domain_id: domain_id.into(),
        })
        .await
        .map(|_| ())
}

/// The reset token in a reset mail's link.
fn token_in(text: &str) -> String {
    let start = text.find("token=").expect("a reset link") + "token=".len();
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .next()
        .unwrap()
        .to_owned()
}

fn new_password() -> UpdateUserProfileRequest {
    UpdateUserProfileRequest {
        password: NEW_PASSWORD.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn everyone_gets_the_same_answer_and_only_the_eligible_get_mail() {
    let (app, sink, acme) = fixture(&[]).await;
    for user_id in [
        "nobody@acme.test",
        "ext@acme.test",
        "carol@acme.test",
        "bob@acme.test",
    ] {
        reset(&app, &acme.domain_id, user_id)
            .await
            .unwrap_or_else(|status| panic!("{user_id}: {status:?}"));
    }
    let mail = sink.next_mail().await.parsed();
    assert_eq!(mail.to, "bob@mail.test");
    assert!(
        sink.try_next_mail(Duration::from_millis(500))
            .await
            .is_none(),
        "only the eligible user gets mail"
    );
    assert_status(
        reset(&app, &acme.domain_id, "").await,
        Code::InvalidArgument,
        "ERROR_REQUIRED_PARAMETER",
        &["user_id"],
    );
}

#[tokio::test]
async fn a_reset_link_changes_nothing_until_used_then_only_the_password_and_only_once() {
    let (app, sink, acme) = fixture(&[]).await;
    let before = app.access_token(&acme.domain_id, "bob@acme.test").await;
    reset(&app, &acme.domain_id, "bob@acme.test").await.unwrap();
    let token = token_in(&sink.next_mail().await.parsed().text);

    // Nothing changed: the old password and the old tokens still work.
    app.issue(&acme.domain_id, "bob@acme.test", PASSWORD)
        .await
        .expect("the old password works until the link is used");
    assert!(get_profile(&app, &before).await.is_ok());

    // The reset token opens nothing else: not get, not a profile change, not grant.
    assert_eq!(
        get_profile(&app, &token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_status(
        update_profile(
            &app,
            &token,
            UpdateUserProfileRequest {
                name: "Mallory".into(),
                password: NEW_PASSWORD.into(),
                ..Default::default()
            },
        )
        .await,
        Code::PermissionDenied,
        "ERROR_PERMISSION_DENIED",
        &["only a new password"],
    );
    let grant = app
        .token()
        .await
        .grant(grant_request(&token, Scope::User, ""))
        .await
        .unwrap_err();
    assert_eq!(grant.code(), Code::Unauthenticated);

    // It sets a new password, once.
    update_profile(&app, &token, new_password())
        .await
        .expect("the reset token sets a new password");
    app.issue(&acme.domain_id, "bob@acme.test", NEW_PASSWORD)
        .await
        .expect("the new password works");
    assert_eq!(
        app.issue(&acme.domain_id, "bob@acme.test", PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert_eq!(
        get_profile(&app, &before).await.unwrap_err().code(),
        Code::Unauthenticated,
        "tokens from before the reset are revoked"
    );
    let again = update_profile(
        &app,
        &token,
        UpdateUserProfileRequest {
            password: "An0therPassword".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(again.code(), Code::Unauthenticated, "{again:?}");
}

#[tokio::test]
async fn a_reset_link_dies_when_the_password_changes_otherwise_or_a_newer_link_is_sent() {
    let (app, sink, acme) = fixture(&[]).await;
    reset(&app, &acme.domain_id, "bob@acme.test").await.unwrap();
    let first = token_in(&sink.next_mail().await.parsed().text);
    reset(&app, &acme.domain_id, "bob@acme.test").await.unwrap();
    let second = token_in(&sink.next_mail().await.parsed().text);
    assert_eq!(
        update_profile(&app, &first, new_password())
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated,
        "a newer link replaces the older"
    );

    let token = app.access_token(&acme.domain_id, "bob@acme.test").await;
    update_profile(
        &app,
        &token,
        UpdateUserProfileRequest {
            password: "Changed1tMyself".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        update_profile(&app, &second, new_password())
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated,
        "a password change kills the link"
    );
}

#[tokio::test]
async fn at_most_three_reset_mails_an_hour() {
    let (app, sink, acme) = fixture(&[]).await;
    for _ in 0..5 {
        reset(&app, &acme.domain_id, "bob@acme.test").await.unwrap();
    }
    for _ in 0..3 {
        sink.next_mail().await;
    }
    assert!(
        sink.try_next_mail(Duration::from_millis(500))
            .await
            .is_none(),
        "the 4th and 5th requests send nothing"
    );
    app.clock.advance(chrono::TimeDelta::minutes(61));
    reset(&app, &acme.domain_id, "bob@acme.test").await.unwrap();
    sink.next_mail().await;
}

#[tokio::test]
async fn a_temporary_password_takes_effect_and_update_password_is_enforced() {
    let (app, sink, acme) = fixture(&["--password-reset", "temporary-password"]).await;
    reset(&app, &acme.domain_id, "bob@acme.test").await.unwrap();
    let text = sink.next_mail().await.parsed().text;
    // Give the background task a moment to apply the password after mailing it.
    let temporary = text
        .split_whitespace()
        .find(|word| {
            word.len() == 16
                && word.chars().all(|c| c.is_ascii_alphanumeric())
                && word.chars().any(|c| c.is_ascii_digit())
        })
        .expect("a temporary password in the mail")
        .to_owned();
    let issued = {
        let mut tries = 0;
        loop {
            match app
                .issue(&acme.domain_id, "bob@acme.test", &temporary)
                .await
            {
                Ok(issued) => break issued,
                Err(_) if tries < 20 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(status) => panic!("{status:?}"),
            }
        }
    };
    assert_eq!(
        app.issue(&acme.domain_id, "bob@acme.test", PASSWORD)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert_eq!(
        claims_of(&issued.access_token)["permissions"],
        serde_json::json!(["identity:UserProfile"])
    );
    let user = get_profile(&app, &issued.access_token).await.unwrap();
    assert_eq!(user.required_actions.len(), 1, "{user:?}");
    assert_status(
        app.token()
            .await
            .grant(grant_request(&issued.refresh_token, Scope::User, ""))
            .await,
        Code::FailedPrecondition,
        "ERROR_UPDATE_PASSWORD_REQUIRED",
        &[],
    );

    update_profile(&app, &issued.access_token, new_password())
        .await
        .expect("a new password");
    let issued = app
        .issue(&acme.domain_id, "bob@acme.test", NEW_PASSWORD)
        .await
        .unwrap();
    assert!(claims_of(&issued.access_token).get("permissions").is_none());
    app.token()
        .await
        .grant(grant_request(&issued.refresh_token, Scope::User, ""))
        .await
        .expect("grant works once the password is changed");
}
