//! Exact revocation: tokens bound to an account and its credential version, sign-ins that
//! lose to a password change or a disable landing during bcrypt, replicas sharing one
//! database, keys found by `kid`, `permissions` that narrow, and expiry on a moved clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use spaceid::{
    pb::identity::{
        GrantTokenInfo, UpdateUserProfileRequest, UserInfo, UserProfileRequest,
        grant_token_request::Scope,
    },
    testing::{
        auth::keys,
        domain::{KeyPurpose, UserState},
        service::admin,
        store::{self, users::UserChanges},
    },
};
use tonic::Code;

use crate::helpers::*;

async fn rename(app: &TestApp, token: &str, name: &str) -> Result<UserInfo, tonic::Status> {
    let request = UpdateUserProfileRequest {
        name: name.into(),
        ..Default::default()
    };
    update_profile(app, token, request).await
}

async fn grant(
    app: &TestApp,
    refresh: &str,
    permissions: &[String],
) -> Result<GrantTokenInfo, tonic::Status> {
    let mut request = grant_request(refresh, Scope::Domain, "");
    request.permissions = permissions.to_vec();
    app.token()
        .await
        .grant(request)
        .await
        .map(tonic::Response::into_inner)
}

/// Starts a sign-in with `PASSWORD` on a task of its own.
async fn sign_in_in_background(
    app: &TestApp,
    domain_id: &str,
    user_id: &str,
) -> tokio::task::JoinHandle<Result<tonic::Response<spaceid::pb::identity::TokenInfo>, tonic::Status>>
{
    let mut client = app.token().await;
    let request = issue_request(domain_id, user_id, PASSWORD);
    tokio::spawn(async move { client.issue(request).await })
}

/// Waits until the server is inside a bcrypt computation (a sign-in that has read its user
/// and is checking the password).
async fn inside_bcrypt(app: &TestApp) {
    for _ in 0..6_000 {
        if app.ctx.hasher.running() > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no bcrypt computation started");
}

#[tokio::test]
async fn a_sign_in_racing_a_password_change_issues_no_token() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    // Cost 15 keeps the sign-in inside bcrypt for a second or more.
    app.slow_user(&acme, "slow@acme.test", 15, UserState::Enabled)
        .await;
    let signing_in = sign_in_in_background(&app, &acme.domain_id, "slow@acme.test").await;
    inside_bcrypt(&app).await;
    let new_hash = bcrypt::hash("N3wPassword", 4).unwrap();
    app.set_user(
        &acme.domain_id,
        "slow@acme.test",
        UserChanges {
            password_hash: Some((new_hash, chrono::Utc::now())),
            ..UserChanges::default()
        },
    )
    .await;
    assert!(
        app.ctx.hasher.running() > 0,
        "the password changed while the sign-in was still checking the old one"
    );

    assert_status(
        signing_in.await.unwrap(),
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["changed during sign-in"],
    );
    let fresh = app
        .issue(&acme.domain_id, "slow@acme.test", "N3wPassword")
        .await
        .expect("the new password signs in");
    get_profile(&app, &fresh.access_token).await.unwrap();
}

#[tokio::test]
async fn a_disable_during_sign_in_wins_and_stays() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.slow_user(&acme, "pending@acme.test", 15, UserState::Pending)
        .await;
    let signing_in = sign_in_in_background(&app, &acme.domain_id, "pending@acme.test").await;
    inside_bcrypt(&app).await;
    disable(&app, &acme.domain_id, "pending@acme.test").await;

    assert_status(
        signing_in.await.unwrap(),
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
    let user = store::users::get(&app.ctx.store, &acme.id(), &"pending@acme.test".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        user.state,
        UserState::Disabled,
        "the sign-in did not turn the disabled user ENABLED again"
    );
    assert!(user.last_accessed_at.is_none());
}

#[tokio::test]
async fn enabling_a_disabled_user_does_not_revive_its_tokens() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    let old = app
        .issue(&acme.domain_id, "bob@acme.test", PASSWORD)
        .await
        .unwrap();
    disable(&app, &acme.domain_id, "bob@acme.test").await;
    admin::set_user_state(
        &app.ctx,
        &acme.id(),
        &"bob@acme.test".into(),
        UserState::Enabled,
    )
    .await
    .unwrap();

    assert_status(
        get_profile(&app, &old.access_token).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["revoked"],
    );
    assert_status(
        grant(&app, &old.refresh_token, &[]).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["revoked"],
    );
    let fresh = app.access_token(&acme.domain_id, "bob@acme.test").await;
    get_profile(&app, &fresh).await.unwrap();
}

#[tokio::test]
async fn a_recreated_user_does_not_inherit_the_old_accounts_tokens() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    let old = app
        .issue(&acme.domain_id, "bob@acme.test", PASSWORD)
        .await
        .unwrap();
    get_profile(&app, &old.access_token).await.unwrap();

    admin::delete_user(&app.ctx, &acme.id(), &"bob@acme.test".into())
        .await
        .unwrap();
    app.user(&acme, "bob@acme.test").await;

    assert_status(
        get_profile(&app, &old.access_token).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["account"],
    );
    assert_status(
        rename(&app, &old.access_token, "Mallory").await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["account"],
    );
    assert_status(
        grant(&app, &old.refresh_token, &[]).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["account"],
    );
    let fresh = app.access_token(&acme.domain_id, "bob@acme.test").await;
    assert_eq!(get_profile(&app, &fresh).await.unwrap().name, "Test User");
}

#[tokio::test]
async fn a_password_change_through_one_replica_ends_tokens_on_the_other_within_a_second() {
    let a = TestApp::spawn().await;
    let acme = a.domain("acme").await;
    let b = a.replica().await;
    let on_b = b
        .issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .unwrap();
    let on_a = a.access_token(&acme.domain_id, &acme.admin_id).await;
    // Both replicas hold the user's record and both tokens as verified.
    for (server, token) in [
        (&a, &on_a),
        (&a, &on_b.access_token),
        (&b, &on_a),
        (&b, &on_b.access_token),
    ] {
        get_profile(server, token).await.unwrap();
    }

    let request = UpdateUserProfileRequest {
        password: "N3wPassword".into(),
        ..Default::default()
    };
    a.user_profile()
        .await
        .update(authed(request, &on_a))
        .await
        .unwrap();
    let changed = std::time::Instant::now();

    // The replica that made the change refuses at once.
    assert_status(
        get_profile(&a, &on_b.access_token).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["password change"],
    );
    // The other refuses within the cache's bound.
    for token in [&on_b.access_token, &on_a] {
        refused_within_the_bound(&b, token, changed, "password change").await;
    }
    assert_status(
        grant(&b, &on_b.refresh_token, &[]).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["password change"],
    );
    let fresh = b
        .issue(&acme.domain_id, &acme.admin_id, "N3wPassword")
        .await
        .unwrap();
    get_profile(&a, &fresh.access_token).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_call_that_starts_after_a_password_change_is_served_with_an_old_token() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let token = app.access_token(&acme.domain_id, &acme.admin_id).await;
    let changer = app.access_token(&acme.domain_id, &acme.admin_id).await;
    // Verified and its user's record kept: the calls below are answered from memory.
    get_profile(&app, &token).await.unwrap();

    let changed: Arc<std::sync::OnceLock<std::time::Instant>> = Arc::default();
    let start = Arc::new(tokio::sync::Barrier::new(33));
    let mut callers = Vec::new();
    for _ in 0..32 {
        let (app_client, token) = (app.user_profile().await, token.clone());
        let (changed, start) = (changed.clone(), start.clone());
        callers.push(tokio::spawn(async move {
            let mut client = app_client;
            let (mut served_before, mut served_after) = (0, 0);
            start.wait().await;
            loop {
                let started = std::time::Instant::now();
                let served = client
                    .get(authed(UserProfileRequest::default(), &token))
                    .await
                    .is_ok();
                match changed.get() {
                    Some(at) if started > *at => {
                        served_after += u32::from(served);
                        if at.elapsed() > Duration::from_millis(300) {
                            return (served_before, served_after);
                        }
                    }
                    _ => served_before += u32::from(served),
                }
            }
        }));
    }
    start.wait().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let request = UpdateUserProfileRequest {
        password: "N3wPassword".into(),
        ..Default::default()
    };
    app.user_profile()
        .await
        .update(authed(request, &changer))
        .await
        .unwrap();
    changed.set(std::time::Instant::now()).unwrap();
    let (mut before, mut after) = (0, 0);
    for caller in callers {
        let (b, a) = caller.await.unwrap();
        before += b;
        after += a;
    }
    assert!(
        before > 32,
        "the old token was served {before} times before the change"
    );
    assert_eq!(after, 0, "served after the change returned");
}

#[tokio::test]
async fn a_record_read_while_a_write_is_uncommitted_is_not_served_after_the_commit() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let bob = "bob@acme.test";
    app.user(&acme, bob).await;
    let store = &app.ctx.store;
    let state = |user: Option<Arc<spaceid::testing::domain::User>>| user.unwrap().state;
    let (acme_id, bob_id) = (acme.id(), bob.into());
    let cached = || store::users::get_cached(store, &acme_id, &bob_id);
    assert_eq!(state(cached().await.unwrap()), UserState::Enabled);

    let tx = store.begin().await.unwrap();
    disable_in_storage(&tx, &acme.domain_id, bob).await;
    // Read (and kept) while the disable is not committed: the old record.
    assert_eq!(state(cached().await.unwrap()), UserState::Enabled);
    tx.commit().await.unwrap();
    assert_eq!(state(cached().await.unwrap()), UserState::Disabled);
}

#[tokio::test]
async fn a_disable_by_another_process_ends_tokens_within_a_second() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let bob = "bob@acme.test";
    app.user(&acme, bob).await;
    let token = app.access_token(&acme.domain_id, bob).await;
    get_profile(&app, &token).await.unwrap();
    // Another process on the same database: its own pool and its own cache.
    let other = store::Store::connect(&app.database_url, 2, Duration::from_secs(5))
        .await
        .unwrap();
    disable_in_storage(&other, &acme.domain_id, bob).await;
    let disabled = std::time::Instant::now();
    refused_within_the_bound(&app, &token, disabled, "disable").await;
}

/// Disables an enabled user straight through storage.
async fn disable_in_storage(db: &impl store::Executor, domain_id: &str, user_id: &str) {
    let changed = store::users::change_state(
        db,
        &domain_id.into(),
        &user_id.into(),
        UserState::Enabled,
        UserState::Disabled,
    )
    .await
    .unwrap();
    assert!(changed, "{user_id} was enabled");
}

/// Calls `UserProfile.get` with `token` until it is refused for `reason`, failing if it is
/// still served when the user cache's bound (plus scheduling slack) has passed since
/// `changed`.
async fn refused_within_the_bound(
    app: &TestApp,
    token: &str,
    changed: std::time::Instant,
    reason: &str,
) {
    let bound = store::cache::MAX_AGE + Duration::from_millis(200);
    loop {
        match get_profile(app, token).await {
            Ok(_) => assert!(
                changed.elapsed() < bound,
                "still served {:?} after the change",
                changed.elapsed()
            ),
            refused => {
                assert_status(
                    refused,
                    Code::Unauthenticated,
                    "ERROR_AUTHENTICATE_FAILURE",
                    &[reason],
                );
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_domain_created_through_one_replica_is_served_by_the_other() {
    let a = TestApp::spawn().await;
    let acme = a.domain("acme").await;
    let b = a.replica().await;
    // Both replicas have read their key lists before the new domain exists.
    let token = a.access_token(&acme.domain_id, &acme.admin_id).await;
    get_profile(&b, &token).await.unwrap();
    let loads = b.ctx.keys.loads();

    let newco = a.domain("newco").await;
    let on_b = b.issue(&newco.domain_id, &newco.admin_id, PASSWORD).await;
    let on_b = on_b
        .expect("the other replica signs for the new domain")
        .access_token;
    get_profile(&a, &on_b).await.unwrap();
    let on_a = a.access_token(&newco.domain_id, &newco.admin_id).await;
    get_profile(&b, &on_a).await.unwrap();
    assert_eq!(
        b.ctx.keys.loads(),
        loads + 1,
        "the new domain's keys were read once"
    );
}

#[tokio::test]
async fn a_second_key_of_a_domain_verifies_by_kid_and_unknown_kids_fail() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let other = app.domain("other").await;
    let genuine = app.access_token(&acme.domain_id, &acme.admin_id).await;
    let claims = claims_of(&genuine);

    let second = keys::generate(KeyPurpose::Access).await.unwrap();
    store::keys::insert(&app.ctx.store, &acme.id(), &second, chrono::Utc::now())
        .await
        .unwrap();
    let encoding = EncodingKey::from_rsa_pem(second.private_pem.as_bytes()).unwrap();
    let sign = |kid: &str, claims: &serde_json::Value| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &encoding).unwrap()
    };

    assert_eq!(
        get_profile(&app, &sign(&second.kid, &claims))
            .await
            .unwrap()
            .user_id,
        acme.admin_id,
        "a token of the second key verifies by its kid"
    );
    get_profile(&app, &genuine)
        .await
        .expect("the first key still verifies");

    let first_kid = header_of(&genuine)["kid"].as_str().unwrap().to_owned();
    let mut elsewhere = claims.clone();
    elsewhere["did"] = json!(other.domain_id);
    for (token, what) in [
        (
            sign(&first_kid, &claims),
            "the second key's signature under the first's kid",
        ),
        (
            sign(&spaceid::testing::domain::ids::random_hex(16), &claims),
            "an unknown kid",
        ),
        (
            sign(&second.kid, &elsewhere),
            "acme's key speaking for another domain",
        ),
    ] {
        let status = get_profile(&app, &token).await.expect_err(what);
        assert_eq!(status.code(), Code::Unauthenticated, "{what}");
        assert!(
            status.message().contains("signature"),
            "{what}: {}",
            status.message()
        );
    }
}

#[tokio::test]
async fn a_flood_of_made_up_keys_and_domains_costs_no_query_each() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let genuine = app.access_token(&acme.domain_id, &acme.admin_id).await;
    get_profile(&app, &genuine).await.unwrap();
    let loads = app.ctx.keys.loads();

    let calls = (0..200).map(|_| {
        let mut claims = claims_of(&genuine);
        claims["did"] = json!(spaceid::testing::domain::DomainId::generate());
        let header = json!({"alg": "RS256", "kid": spaceid::testing::domain::ids::random_hex(16)});
        let encode = |value: &serde_json::Value| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        let token = format!("{}.{}.c2lnbmF0dXJl", encode(&header), encode(&claims));
        let app = &app;
        async move { get_profile(app, &token).await }
    });
    let results = futures::future::join_all(calls).await;
    for result in results {
        let status = result.expect_err("a made-up key is refused");
        assert_eq!(status.code(), Code::Unauthenticated);
        assert!(
            status.message().contains("signature"),
            "{}",
            status.message()
        );
    }
    assert!(
        app.ctx.keys.loads() - loads <= 2,
        "200 made-up keys made {} key list loads",
        app.ctx.keys.loads() - loads
    );
    get_profile(&app, &genuine).await.unwrap();
}

#[tokio::test]
async fn permissions_in_a_token_narrow_what_it_may_call() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let refresh = app
        .issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .unwrap()
        .refresh_token;

    let read_only = grant(&app, &refresh, &["identity:UserProfile.read".into()])
        .await
        .unwrap()
        .access_token;
    assert_eq!(
        claims_of(&read_only)["permissions"],
        json!(["identity:UserProfile.read"])
    );
    get_profile(&app, &read_only)
        .await
        .expect("read is allowed");
    assert_status(
        rename(&app, &read_only, "Mallory").await,
        Code::PermissionDenied,
        "ERROR_PERMISSION_DENIED",
        &["identity:UserProfile.write"],
    );

    let profile = grant(&app, &refresh, &["identity:UserProfile".into()])
        .await
        .unwrap()
        .access_token;
    rename(&app, &profile, "Renamed")
        .await
        .expect("a prefix covers write");

    let elsewhere = grant(&app, &refresh, &["inventory:".into()])
        .await
        .unwrap()
        .access_token;
    assert_status(
        get_profile(&app, &elsewhere).await,
        Code::PermissionDenied,
        "ERROR_PERMISSION_DENIED",
        &["identity:UserProfile.read"],
    );
    assert_eq!(get_profile(&app, &profile).await.unwrap().name, "Renamed");
}

#[tokio::test]
async fn grant_refuses_oversized_permissions() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let refresh = app
        .issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .unwrap()
        .refresh_token;

    let hundred = vec!["identity:UserProfile.read".to_owned(); 100];
    grant(&app, &refresh, &hundred)
        .await
        .expect("100 entries are fine");
    let too_many = vec!["identity:UserProfile.read".to_owned(); 101];
    assert_status(
        grant(&app, &refresh, &too_many).await,
        Code::InvalidArgument,
        "ERROR_INVALID_PARAMETER",
        &["permissions", "100"],
    );
    let wide = vec![format!("identity:{}", "x".repeat(190)); 21];
    assert_status(
        grant(&app, &refresh, &wide).await,
        Code::InvalidArgument,
        "ERROR_INVALID_PARAMETER",
        &["permissions", "4096 bytes"],
    );
    let flood = vec!["x".to_owned(); 40_000];
    assert_status(
        grant(&app, &refresh, &flood).await,
        Code::InvalidArgument,
        "ERROR_INVALID_PARAMETER",
        &["permissions"],
    );
    let too_long = vec![format!("identity:{}", "x".repeat(200))];
    assert_status(
        grant(&app, &refresh, &too_long).await,
        Code::InvalidArgument,
        "ERROR_INVALID_PARAMETER",
        &["permissions[0]", "200"],
    );
    assert_status(
        grant(&app, &refresh, &["identity:".into(), String::new()]).await,
        Code::InvalidArgument,
        "ERROR_INVALID_PARAMETER",
        &["permissions[1]"],
    );
}

#[tokio::test]
async fn tokens_expire_on_the_servers_clock() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let tokens = app
        .issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .unwrap();

    app.clock.advance(TimeDelta::seconds(1_790));
    get_profile(&app, &tokens.access_token)
        .await
        .expect("still valid");
    app.clock.advance(TimeDelta::seconds(20));
    assert_status(
        get_profile(&app, &tokens.access_token).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["expired"],
    );
    let granted = grant(&app, &tokens.refresh_token, &[])
        .await
        .expect("the refresh token lives 10,800 s")
        .access_token;
    get_profile(&app, &granted).await.unwrap();

    app.clock.advance(TimeDelta::seconds(10_800 - 1_810));
    assert_status(
        grant(&app, &tokens.refresh_token, &[]).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["expired"],
    );
}
