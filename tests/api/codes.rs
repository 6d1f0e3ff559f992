//! One-time codes through the calls that send them: e-mail verification and MFA, with real
//! mail read from an SMTP listener on loopback and a test clock for expiry.

use chrono::TimeDelta;
use spaceid::pb::identity::{
    ConfirmEmailRequest, ConfirmMfaRequest, DisableMfaRequest, EnableMfaRequest, IssueTokenRequest,
    VerifyEmailRequest, issue_token_request::AuthType, mfa::State as MfaState,
};
use spaceid::testing::auth::{Claims, TokenKind, jwt};
use spaceid::testing::clock::Clock;
use spaceid::testing::domain::TokenRole;
use tonic::Code;

use crate::helpers::*;
use crate::smtp::{Behaviour, SmtpSink};

/// A server that mails through a fresh SMTP listener, a domain, and a user `bob@acme.test`
/// signed in, with the e-mail address `bob@mail.test`.
struct Fixture {
    app: TestApp,
    sink: SmtpSink,
    acme: TestDomain,
    domain_id: String,
    token: String,
}

async fn fixture() -> Fixture {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(&["--smtp-url", &sink.url()]).await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    let token = app.access_token(&acme.domain_id, "bob@acme.test").await;
    update_profile(
        &app,
        &token,
        spaceid::pb::identity::UpdateUserProfileRequest {
            email: "bob@mail.test".into(),
            ..Default::default()
        },
    )
    .await
    .expect("set the e-mail address");
    Fixture {
        app,
        sink,
        domain_id: acme.domain_id.clone(),
        acme,
        token,
    }
}

/// The six-digit code in a mail's plain text.
fn code_in(text: &str) -> String {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(5))
        .find(|&i| {
            bytes[i..i + 6].iter().all(u8::is_ascii_digit)
                && (i == 0 || !bytes[i - 1].is_ascii_digit())
                && bytes.get(i + 6).is_none_or(|b| !b.is_ascii_digit())
        })
        .map(|i| text[i..i + 6].to_owned())
        .expect("a six-digit code in the mail")
}

/// Waits for the next mail; returns its recipient and code.
pub(crate) async fn next_code(sink: &SmtpSink) -> (String, String) {
    let mail = sink.next_mail().await.parsed();
    (mail.to.clone(), code_in(&mail.text))
}

/// A code that is not `code`.
fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

async fn verify_email(f: &Fixture, email: &str) -> Result<(), tonic::Status> {
    f.app
        .user_profile()
        .await
        .verify_email(authed(
            VerifyEmailRequest {
                email: email.into(),
            },
            &f.token,
        ))
        .await
        .map(|_| ())
}

async fn confirm_email(
    app: &TestApp,
    token: &str,
    code: &str,
) -> Result<spaceid::pb::identity::UserInfo, tonic::Status> {
    app.user_profile()
        .await
        .confirm_email(authed(
            ConfirmEmailRequest {
                verify_code: code.into(),
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_code_verifies_the_address_it_was_sent_to_once() {
    let f = fixture().await;
    verify_email(&f, "").await.expect("verify_email");
    let (to, code) = next_code(&f.sink).await;
    assert_eq!(to, "bob@mail.test");

    assert_status(
        confirm_email(&f.app, &f.token, &wrong(&code)).await,
        Code::InvalidArgument,
        "ERROR_INVALID_PARAMETER",
        &["verify_code"],
    );
    let user = confirm_email(&f.app, &f.token, &code)
        .await
        .expect("the right code");
    assert!(user.email_verified);
    assert_eq!(user.email, "bob@mail.test");
    assert_status(
        confirm_email(&f.app, &f.token, &code).await,
        Code::InvalidArgument,
        "ERROR_INVALID_PARAMETER",
        &["wrong, used or expired"],
    );

    // A new address is set, unverified, and the code goes there.
    verify_email(&f, "bob@new.test")
        .await
        .expect("verify_email");
    let (to, code) = next_code(&f.sink).await;
    assert_eq!(to, "bob@new.test");
    let user = get_profile(&f.app, &f.token).await.unwrap();
    assert_eq!(user.email, "bob@new.test");
    assert!(!user.email_verified);
    assert!(
        confirm_email(&f.app, &f.token, &code)
            .await
            .unwrap()
            .email_verified
    );
}

#[tokio::test]
async fn codes_expire_by_the_clock() {
    let f = fixture().await;
    verify_email(&f, "").await.unwrap();
    let (_, code) = next_code(&f.sink).await;
    f.app
        .clock
        .advance(TimeDelta::minutes(30) + TimeDelta::seconds(1));
    // The access token has expired too (30 minutes): sign in again.
    let token = f.app.access_token(&f.domain_id, "bob@acme.test").await;
    let status = confirm_email(&f.app, &token, &code).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(!get_profile(&f.app, &token).await.unwrap().email_verified);
}

#[tokio::test]
async fn the_sixth_try_is_refused_even_with_the_right_code_and_a_resend_does_not_reset_it() {
    let f = fixture().await;
    verify_email(&f, "").await.unwrap();
    let (_, code) = next_code(&f.sink).await;
    for _ in 0..5 {
        let status = confirm_email(&f.app, &f.token, &wrong(&code))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    }
    assert_status(
        confirm_email(&f.app, &f.token, &code).await,
        Code::ResourceExhausted,
        "ERROR_TOO_MANY_ATTEMPTS",
        &[],
    );
    // No new code while the spent one lives.
    let status = verify_email(&f, "").await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        f.sink
            .try_next_mail(std::time::Duration::from_millis(300))
            .await
            .is_none()
    );

    // Once it has expired, a new code is sent and works.
    f.app.clock.advance(TimeDelta::minutes(31));
    let f = Fixture {
        token: f.app.access_token(&f.domain_id, "bob@acme.test").await,
        ..f
    };
    verify_email(&f, "").await.unwrap();
    let (_, code) = next_code(&f.sink).await;
    assert!(
        confirm_email(&f.app, &f.token, &code)
            .await
            .unwrap()
            .email_verified
    );
}

#[tokio::test]
async fn fifty_parallel_guesses_are_five_tries() {
    let f = fixture().await;
    verify_email(&f, "").await.unwrap();
    let (_, code) = next_code(&f.sink).await;
    let guesses = (0..50).map(|i| {
        let guess = format!("{:06}", (code.parse::<u32>().unwrap() + 1 + i) % 1_000_000);
        let (app, token) = (&f.app, f.token.clone());
        async move { confirm_email(app, &token, &guess).await }
    });
    let results = futures::future::join_all(guesses).await;
    let compared = results
        .iter()
        .filter(|r| matches!(r, Err(s) if s.code() == Code::InvalidArgument))
        .count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(s) if s.code() == Code::ResourceExhausted))
        .count();
    assert_eq!((compared, refused), (5, 45), "{results:?}");
    let status = confirm_email(&f.app, &f.token, &code).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
}

#[tokio::test]
async fn of_eight_simultaneous_right_codes_exactly_one_succeeds() {
    let f = fixture().await;
    verify_email(&f, "").await.unwrap();
    let (_, code) = next_code(&f.sink).await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(f.app.user_profile().await);
    }
    let submissions = clients.into_iter().map(|mut client| {
        let (barrier, token, code) = (barrier.clone(), f.token.clone(), code.clone());
        async move {
            barrier.wait().await;
            client
                .confirm_email(authed(ConfirmEmailRequest { verify_code: code }, &token))
                .await
        }
    });
    let results = futures::future::join_all(submissions).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
}

#[tokio::test]
async fn a_code_is_void_for_another_address_user_or_purpose() {
    let f = fixture().await;
    verify_email(&f, "").await.unwrap();
    let (_, code) = next_code(&f.sink).await;

    // Another user of the domain cannot use it.
    f.app.user(&f.acme, "eve@acme.test").await;
    let eve = f.app.access_token(&f.domain_id, "eve@acme.test").await;
    assert_eq!(
        confirm_email(&f.app, &eve, &code).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    // Nor does it confirm MFA.
    let status = f
        .app
        .user_profile()
        .await
        .confirm_mfa(authed(
            ConfirmMfaRequest {
                verify_code: code.clone(),
            },
            &f.token,
        ))
        .await
        .unwrap_err();
    assert_ne!(status.code(), Code::Ok);

    // The address changes after the code was sent: the code is void.
    update_profile(
        &f.app,
        &f.token,
        spaceid::pb::identity::UpdateUserProfileRequest {
            email: "bob@elsewhere.test".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let token = f.app.access_token(&f.domain_id, "bob@acme.test").await;
    assert_eq!(
        confirm_email(&f.app, &token, &code)
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
    assert!(!get_profile(&f.app, &token).await.unwrap().email_verified);
}

#[tokio::test]
async fn a_mail_server_that_refuses_leaves_no_live_code() {
    let f = fixture().await;
    f.sink.set_behaviour(Behaviour::RefuseRecipient);
    assert_status(
        verify_email(&f, "").await,
        Code::Unavailable,
        "ERROR_MAIL_UNAVAILABLE",
        &[],
    );
    let stored = spaceid::testing::store::codes::get(
        &f.app.ctx.store,
        &f.domain_id.as_str().into(),
        &"bob@acme.test".into(),
        spaceid::testing::domain::CodeSlot::VerifyEmail,
    )
    .await
    .unwrap()
    .expect("the code row");
    assert!(!stored.is_live(f.app.clock.now()), "{stored:?}");
    // Nothing about the account changes when its mail cannot be sent.
    assert_eq!(
        verify_email(&f, "bob@new.test").await.unwrap_err().code(),
        Code::Unavailable
    );
    assert_eq!(
        enable_mfa(&f, "bob-mfa@mail.test")
            .await
            .unwrap_err()
            .code(),
        Code::Unavailable
    );
    let user = get_profile(&f.app, &f.token).await.unwrap();
    assert_eq!(user.email, "bob@mail.test");
    assert!(user.mfa.is_none(), "{:?}", user.mfa);

    // The server accepts mail again: a new code works.
    f.sink.set_behaviour(Behaviour::Accept);
    verify_email(&f, "").await.unwrap();
    let (_, code) = next_code(&f.sink).await;
    assert!(
        confirm_email(&f.app, &f.token, &code)
            .await
            .unwrap()
            .email_verified
    );
}

async fn enable_mfa(f: &Fixture, email: &str) -> Result<(), tonic::Status> {
    let options = to_struct(&serde_json::json!({ "email": email }));
    f.app
        .user_profile()
        .await
        .enable_mfa(authed(
            EnableMfaRequest {
                mfa_type: "EMAIL".into(),
                options: Some(options),
            },
            &f.token,
        ))
        .await
        .map(|_| ())
}

async fn confirm_mfa(
    f: &Fixture,
    token: &str,
    code: &str,
) -> Result<spaceid::pb::identity::UserInfo, tonic::Status> {
    f.app
        .user_profile()
        .await
        .confirm_mfa(authed(
            ConfirmMfaRequest {
                verify_code: code.into(),
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

fn mfa_sign_in(domain_id: &str, code: &str) -> IssueTokenRequest {
    IssueTokenRequest {
        auth_type: AuthType::Mfa as i32,
        verify_code: code.into(),
        ..issue_request(domain_id, "bob@acme.test", PASSWORD)
    }
}

#[tokio::test]
async fn mfa_by_email_round_trip_and_sign_in_in_two_steps() {
    let f = fixture().await;
    enable_mfa(&f, "bob-mfa@mail.test").await.expect("enable");
    let (to, code) = next_code(&f.sink).await;
    assert_eq!(to, "bob-mfa@mail.test");
    let pending = get_profile(&f.app, &f.token).await.unwrap();
    assert_eq!(pending.mfa.unwrap().state(), MfaState::Disabled);
    let user = confirm_mfa(&f, &f.token, &code).await.expect("confirm");
    assert_eq!(user.mfa.as_ref().unwrap().state(), MfaState::Enabled);
    // Turning MFA on ends every session from before, the caller's too.
    assert_status(
        enable_mfa(&f, "bob-mfa@mail.test").await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );

    // Step one: the right password mails a code and fails with ERROR_MFA_REQUIRED.
    let mut token = f.app.token().await;
    let status = token
        .issue(issue_request(&f.domain_id, "bob@acme.test", PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status.message().starts_with("ERROR_MFA_REQUIRED:"),
        "{}",
        status.message()
    );
    let (to, code) = next_code(&f.sink).await;
    assert_eq!(to, "bob-mfa@mail.test");
    // A wrong password mails nothing.
    let status = token
        .issue(issue_request(
            &f.domain_id,
            "bob@acme.test",
            "Wr0ngPassword",
        ))
        .await
        .unwrap_err();
    assert!(status.message().starts_with("ERROR_AUTHENTICATE_FAILURE"));
    assert!(
        f.sink
            .try_next_mail(std::time::Duration::from_millis(300))
            .await
            .is_none()
    );

    // Step two: the same credentials and the code.
    let issued = token
        .issue(mfa_sign_in(&f.domain_id, &code))
        .await
        .expect("the second step")
        .into_inner();
    let status = token
        .issue(mfa_sign_in(&f.domain_id, &code))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "a code is used once");

    let fresh = issued.access_token;
    let status = f
        .app
        .user_profile()
        .await
        .enable_mfa(authed(
            EnableMfaRequest {
                mfa_type: "EMAIL".into(),
                options: Some(to_struct(&serde_json::json!({ "email": "x@mail.test" }))),
            },
            &fresh,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "already enabled");

    // Turning MFA off takes a code too.
    f.app
        .user_profile()
        .await
        .disable_mfa(authed(DisableMfaRequest {}, &fresh))
        .await
        .expect("disable");
    let (_, code) = next_code(&f.sink).await;
    let user = confirm_mfa(&f, &fresh, &code).await.expect("confirm off");
    assert_eq!(user.mfa.unwrap().state(), MfaState::Disabled);
    let fresh = token
        .issue(issue_request(&f.domain_id, "bob@acme.test", PASSWORD))
        .await
        .expect("one step again")
        .into_inner()
        .access_token;
    let status = f
        .app
        .user_profile()
        .await
        .disable_mfa(authed(DisableMfaRequest {}, &fresh))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn no_path_skips_the_second_factor() {
    let f = fixture().await;
    // A code of another purpose, mailed before MFA is on (which ends this session).
    verify_email(&f, "").await.unwrap();
    let (_, email_code) = next_code(&f.sink).await;
    enable_mfa(&f, "bob-mfa@mail.test").await.unwrap();
    let (_, code) = next_code(&f.sink).await;
    confirm_mfa(&f, &f.token, &code).await.unwrap();
    let mut token = f.app.token().await;

    // An MFA sign-in with no code, a malformed one, or a guess, issues nothing.
    for guess in ["", "12345", "abcdef"] {
        let status = token
            .issue(mfa_sign_in(&f.domain_id, guess))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{guess}: {status:?}");
    }
    let _ = token
        .issue(issue_request(&f.domain_id, "bob@acme.test", PASSWORD))
        .await
        .unwrap_err();
    let (_, code) = next_code(&f.sink).await;
    let status = token
        .issue(mfa_sign_in(&f.domain_id, &wrong(&code)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // The right code with a wrong password issues nothing either.
    let status = token
        .issue(IssueTokenRequest {
            auth_type: AuthType::Mfa as i32,
            verify_code: code.clone(),
            ..issue_request(&f.domain_id, "bob@acme.test", "Wr0ngPassword")
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // A code of another purpose (e-mail verification) does not sign in.
    let status = token
        .issue(mfa_sign_in(&f.domain_id, &email_code))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    // The code expires with the MFA lifetime (5 minutes).
    f.app
        .clock
        .advance(TimeDelta::minutes(5) + TimeDelta::seconds(1));
    let status = token
        .issue(mfa_sign_in(&f.domain_id, &code))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn external_users_cannot_use_mfa() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(&["--smtp-url", &sink.url()]).await;
    let acme = app.domain("acme").await;
    spaceid::testing::service::admin::create_user(
        &app.ctx,
        &acme.id(),
        new_user("ext@acme.test", None),
    )
    .await
    .unwrap();
    // EXTERNAL users sign in elsewhere: mint the token their sign-in would give.
    let user =
        spaceid::testing::store::users::get(&app.ctx.store, &acme.id(), &"ext@acme.test".into())
            .await
            .unwrap()
            .unwrap();
    let keys = app.ctx.keys.signing_keys(&acme.id()).await.unwrap();
    let claims = Claims::for_user(TokenKind::Access, &user, 600, app.clock.now().timestamp())
        .with_role(TokenRole::User, None);
    let token = jwt::sign(&keys.access, &claims).unwrap();
    let f = Fixture {
        app,
        sink,
        domain_id: acme.domain_id.clone(),
        acme,
        token,
    };
    assert_status(
        enable_mfa(&f, "ext@mail.test").await,
        Code::FailedPrecondition,
        "ERROR_INVALID_STATE",
        &["EXTERNAL"],
    );
}

#[tokio::test]
async fn at_most_ten_codes_an_hour_per_purpose() {
    let f = fixture().await;
    for _ in 0..10 {
        verify_email(&f, "").await.expect("within the share");
        next_code(&f.sink).await;
    }
    assert_status(
        verify_email(&f, "").await,
        Code::ResourceExhausted,
        "ERROR_TOO_MANY_ATTEMPTS",
        &["too many codes sent"],
    );
    assert!(
        f.sink
            .try_next_mail(std::time::Duration::from_millis(300))
            .await
            .is_none()
    );
    // Another purpose has its own share.
    enable_mfa(&f, "bob-mfa@mail.test").await.unwrap();
    next_code(&f.sink).await;
}

#[tokio::test]
async fn a_failed_mail_does_not_buy_more_tries() {
    let f = fixture().await;
    verify_email(&f, "").await.unwrap();
    let (_, code) = next_code(&f.sink).await;
    for _ in 0..4 {
        let status = confirm_email(&f.app, &f.token, &wrong(&code))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
    }
    f.sink.set_behaviour(Behaviour::RefuseRecipient);
    assert_eq!(
        verify_email(&f, "").await.unwrap_err().code(),
        Code::Unavailable
    );
    f.sink.set_behaviour(Behaviour::Accept);
    verify_email(&f, "").await.unwrap();
    let (_, code) = next_code(&f.sink).await;
    let status = confirm_email(&f.app, &f.token, &wrong(&code))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "the 5th try");
    assert_eq!(
        confirm_email(&f.app, &f.token, &code)
            .await
            .unwrap_err()
            .code(),
        Code::ResourceExhausted,
        "the tries before the failed mail still count"
    );
}

/// The TOTP code of `secret` (base32) at `time`.
fn totp_at(secret: &str, time: chrono::DateTime<chrono::Utc>) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    let totp =
        totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "x".into());
    totp.generate(u64::try_from(time.timestamp()).unwrap())
}

/// Sets up MFA type OTP for the fixture's user: the secret (base32) and the `otpauth://`
/// URI the answer shows.
async fn enable_otp(f: &Fixture) -> (String, String) {
    let user = f
        .app
        .user_profile()
        .await
        .enable_mfa(authed(
            EnableMfaRequest {
                mfa_type: "OTP".into(),
                options: None,
            },
            &f.token,
        ))
        .await
        .expect("enable OTP")
        .into_inner();
    let options = user.mfa.unwrap().options.unwrap();
    let field = |name: &str| match options.fields[name].kind.as_ref() {
        Some(prost_types::value::Kind::StringValue(value)) => value.clone(),
        other => panic!("{name}: {other:?}"),
    };
    (field("otp_secret"), field("otpauth_uri"))
}

#[tokio::test]
async fn mfa_by_totp_round_trip_each_code_once() {
    let f = fixture().await;
    let (secret, uri) = enable_otp(&f).await;
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    // Shown once: never again.
    let later = get_profile(&f.app, &f.token).await.unwrap().mfa.unwrap();
    assert_eq!(later.state(), MfaState::Disabled);
    assert!(
        later.options.unwrap_or_default().fields.is_empty(),
        "the secret is not shown again"
    );
    let sql = format!("SELECT COUNT(*) FROM users WHERE CAST(mfa AS TEXT) LIKE '%{secret}%'");
    assert_eq!(f.app.count(&sql).await, 0, "the secret is stored sealed");
    let sealed = "SELECT COUNT(*) FROM users WHERE CAST(mfa AS TEXT) LIKE '%\"secret\"%'";
    assert_eq!(f.app.count(sealed).await, 1);

    let now = f.app.clock.now();
    let status = confirm_mfa(&f, &f.token, &wrong(&totp_at(&secret, now)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let code = totp_at(&secret, now);
    let on = confirm_mfa(&f, &f.token, &code).await.expect("confirm OTP");
    assert_eq!(on.mfa.unwrap().state(), MfaState::Enabled);

    // Sign-in: no mail, and the code just used is refused; the next step's code works once.
    let mut token = f.app.token().await;
    let status = token
        .issue(issue_request(&f.domain_id, "bob@acme.test", PASSWORD))
        .await
        .unwrap_err();
    assert!(status.message().starts_with("ERROR_MFA_REQUIRED:"));
    assert!(
        f.sink
            .try_next_mail(std::time::Duration::from_millis(300))
            .await
            .is_none()
    );
    let status = token
        .issue(mfa_sign_in(&f.domain_id, &code))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::Unauthenticated,
        "a TOTP code works once"
    );
    f.app.clock.advance(TimeDelta::seconds(30));
    let next = totp_at(&secret, f.app.clock.now());
    let issued = token
        .issue(mfa_sign_in(&f.domain_id, &next))
        .await
        .expect("the next step's code")
        .into_inner();
    assert_eq!(
        token
            .issue(mfa_sign_in(&f.domain_id, &next))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    // Off with a current code; the secret is forgotten.
    f.app
        .user_profile()
        .await
        .disable_mfa(authed(DisableMfaRequest {}, &issued.access_token))
        .await
        .unwrap();
    f.app.clock.advance(TimeDelta::seconds(30));
    let off = confirm_mfa(
        &f,
        &issued.access_token,
        &totp_at(&secret, f.app.clock.now()),
    )
    .await
    .expect("confirm off");
    assert_eq!(off.mfa.unwrap().state(), MfaState::Disabled);
    token
        .issue(issue_request(&f.domain_id, "bob@acme.test", PASSWORD))
        .await
        .expect("one step again");
}

#[tokio::test]
async fn totp_codes_allow_five_tries_then_wait() {
    let f = fixture().await;
    let (secret, _) = enable_otp(&f).await;
    let code = totp_at(&secret, f.app.clock.now());
    let guesses = (0..20).map(|i| {
        let guess = format!("{:06}", (code.parse::<u32>().unwrap() + 1 + i) % 1_000_000);
        let (f, token) = (&f, f.token.clone());
        async move { confirm_mfa(f, &token, &guess).await }
    });
    let results = futures::future::join_all(guesses).await;
    let compared = results
        .iter()
        .filter(|r| matches!(r, Err(s) if s.code() == Code::InvalidArgument))
        .count();
    assert_eq!(compared, 5, "{results:?}");
    assert_eq!(
        confirm_mfa(&f, &f.token, &code).await.unwrap_err().code(),
        Code::ResourceExhausted,
        "the right code waits too"
    );
}
