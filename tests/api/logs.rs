//! The server's log, read as an operator reads it: one line per call, and never a password,
//! a hash or a token, even with debug logging on.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use spaceid::pb::identity::{
    UpdateUserProfileRequest, UserProfileRequest, grant_token_request::Scope,
    token_client::TokenClient, user_profile_client::UserProfileClient,
};

use crate::helpers::*;

#[tokio::test]
async fn calls_are_logged_without_secrets() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let (mut server, address) = serve(&app, &["--log", "debug"]);

    let channel = connect(&address).await;
    let mut token = TokenClient::new(channel.clone());
    let mut profile = UserProfileClient::new(channel);
    let issued = token
        .issue(issue_request(&acme.domain_id, &acme.admin_id, PASSWORD))
        .await
        .unwrap()
        .into_inner();
    let granted = token
        .grant(grant_request(&issued.refresh_token, Scope::Domain, ""))
        .await
        .unwrap()
        .into_inner();
    profile
        .get(authed(UserProfileRequest::default(), &granted.access_token))
        .await
        .unwrap();
    let new_password = "S3cretNewPassword";
    let change = UpdateUserProfileRequest {
        password: new_password.into(),
        ..Default::default()
    };
    profile
        .update(authed(change, &granted.access_token))
        .await
        .unwrap();
    let refused = token
        .issue(issue_request(
            &acme.domain_id,
            &acme.admin_id,
            "Wr0ngGuess99",
        ))
        .await;
    assert!(refused.is_err());

    server.kill().expect("stop the server");
    let output = server.wait_with_output().expect("server output");
    let log = String::from_utf8_lossy(&output.stderr);

    for method in [
        "Token/issue",
        "Token/grant",
        "UserProfile/get",
        "UserProfile/update",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains(method) && l.contains("latency_ms")),
            "no call line for {method}:\n{log}"
        );
    }
    assert!(
        log.contains("Unauthenticated"),
        "the refused sign-in is logged with its code"
    );
    let stored = spaceid::testing::store::users::get(&app.ctx.store, &acme.id(), &acme.admin())
        .await
        .unwrap()
        .unwrap();
    let secrets = [
        PASSWORD,
        new_password,
        "Wr0ngGuess99",
        &issued.access_token,
        &issued.refresh_token,
        &granted.access_token,
        stored.password_hash.as_deref().unwrap(),
    ];
    for secret in secrets {
        let tail = &secret[secret.len().saturating_sub(24)..];
        assert!(!log.contains(tail), "the log holds a secret (…{tail})");
    }
}

/// Starts `spaceid serve` on the test app's database with `flags`, its log piped; returns
/// the process and its address.
fn serve(app: &TestApp, flags: &[&str]) -> (std::process::Child, String) {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let address = format!("127.0.0.1:{port}");
    let server = Command::new(env!("CARGO_BIN_EXE_spaceid"))
        .args(["serve", "--listen", &address])
        .args(flags)
        .env("DATABASE_URL", &app.database_url)
        .env("SPACEID_BCRYPT_COST", "4")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start spaceid serve");
    (server, address)
}

async fn connect(address: &str) -> tonic::transport::Channel {
    let endpoint = tonic::transport::Channel::from_shared(format!("http://{address}")).unwrap();
    // Up to 30 s: the whole suite shares two cores with this process.
    for _ in 0..600 {
        if let Ok(channel) = endpoint.connect().await {
            return channel;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("spaceid serve did not start on {address}");
}

#[tokio::test]
async fn a_reply_that_fails_while_being_sent_is_logged_with_its_code() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let (mut server, address) = serve(&app, &["--max-message-bytes", "4096"]);
    // 10 kB of tags: within what the service stores, beyond this server's reply limit.
    let tags = serde_json::json!({"blob": "x".repeat(10_000)});
    app.set_user(
        &acme.domain_id,
        &acme.admin_id,
        spaceid::testing::store::users::UserChanges {
            tags: Some(
                spaceid::testing::domain::Tags::parse(tags.as_object().unwrap().clone()).unwrap(),
            ),
            ..Default::default()
        },
    )
    .await;

    let channel = connect(&address).await;
    let issued = TokenClient::new(channel.clone())
        .issue(issue_request(&acme.domain_id, &acme.admin_id, PASSWORD))
        .await
        .unwrap()
        .into_inner();
    let status = UserProfileClient::new(channel)
        .get(authed(UserProfileRequest::default(), &issued.access_token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");

    server.kill().expect("stop the server");
    let output = server.wait_with_output().expect("server output");
    let log = String::from_utf8_lossy(&output.stderr);
    let line = log
        .lines()
        .find(|l| l.contains("UserProfile/get") && l.contains("latency_ms"))
        .unwrap_or_else(|| panic!("no call line for UserProfile/get:\n{log}"));
    assert!(line.contains("OutOfRange"), "{line}");
}

#[tokio::test]
async fn a_call_that_times_out_is_logged() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.slow_user(
        &acme,
        "slow@acme.test",
        15,
        spaceid::testing::domain::UserState::Enabled,
    )
    .await;
    let (mut server, address) = serve(&app, &["--request-timeout", "1"]);
    let channel = connect(&address).await;
    let status = TokenClient::new(channel)
        .issue(issue_request(&acme.domain_id, "slow@acme.test", PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Cancelled, "{status:?}");

    server.kill().expect("stop the server");
    let output = server.wait_with_output().expect("server output");
    let log = String::from_utf8_lossy(&output.stderr);
    let line = log
        .lines()
        .find(|l| l.contains("Token/issue") && l.contains("latency_ms"))
        .unwrap_or_else(|| panic!("no call line for the timed-out Token/issue:\n{log}"));
    assert!(line.contains("Cancelled"), "{line}");
}
