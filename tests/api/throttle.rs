//! Sign-in throttling: failures in a row slow an account name down, counted in the database
//! before the password is checked; throttled attempts cost no bcrypt; nothing locks an
//! account for good; and the bcrypt queue answers at once when it is full.

use chrono::TimeDelta;
use spaceid::testing::{
    domain::{UserState, throttle::throttle_key},
    store,
};
use tonic::Code;

use crate::helpers::*;

/// Signs in `n` times with a wrong password, moving the clock past every wait.
async fn fail_in_a_row(app: &TestApp, domain_id: &str, user_id: &str, n: usize) {
    for i in 0..n {
        let status = app
            .issue(domain_id, user_id, "Wr0ngPassword")
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "attempt {}: {status:?}",
            i + 1
        );
        app.clock.advance(TimeDelta::minutes(16));
    }
}

#[tokio::test]
async fn a_flood_against_one_account_does_not_hold_up_another() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.slow_user(&acme, "target@acme.test", 12, UserState::Enabled)
        .await;
    app.user(&acme, "bob@acme.test").await;
    let computed = app.ctx.hasher.computed();

    let flood = (0..300).map(|_| app.issue(&acme.domain_id, "target@acme.test", "Wr0ngPassword"));
    let flood = futures::future::join_all(flood);
    let real = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // A guard against a hang only: "not held up" is counted below in password checks
        // (the flood costs at most 12, so this sign-in queues behind at most those), not in
        // seconds, which a busy machine stretches.
        tokio::time::timeout(
            std::time::Duration::from_secs(120),
            app.issue(&acme.domain_id, "bob@acme.test", PASSWORD),
        )
        .await
    };
    let (flood, real) = tokio::join!(flood, real);

    real.expect("the other account's sign-in did not hang")
        .expect("the other account signs in");
    let throttled = flood
        .iter()
        .filter(|r| matches!(r, Err(s) if s.code() == Code::ResourceExhausted))
        .count();
    for result in &flood {
        let status = result.as_ref().unwrap_err();
        assert!(
            matches!(
                status.code(),
                Code::Unauthenticated | Code::ResourceExhausted
            ),
            "{status:?}"
        );
    }
    assert!(throttled >= 290, "only {throttled} of 300 were throttled");
    assert!(
        app.ctx.hasher.computed() - computed <= 12,
        "the flood cost {} password checks",
        app.ctx.hasher.computed() - computed
    );
}

#[tokio::test]
async fn the_101st_failure_is_refused_unchecked_and_the_lock_ends() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    fail_in_a_row(&app, &acme.domain_id, "bob@acme.test", 100).await;
    app.clock.advance(TimeDelta::minutes(-16));
    let counted = store::throttles::get(&app.ctx.store, &acme.id(), &throttle_key("bob@acme.test"))
        .await
        .unwrap()
        .expect("the failures are counted");
    assert_eq!(counted.failures, 100);

    let computed = app.ctx.hasher.computed();
    assert_status(
        app.issue(&acme.domain_id, "bob@acme.test", PASSWORD).await,
        Code::ResourceExhausted,
        "ERROR_TOO_MANY_ATTEMPTS",
        &["try again in"],
    );
    assert_eq!(
        app.ctx.hasher.computed(),
        computed,
        "a throttled attempt costs no password check"
    );

    // The wait ends: the victim signs in, and its count starts again from zero.
    app.clock
        .advance(TimeDelta::minutes(15) + TimeDelta::seconds(1));
    app.issue(&acme.domain_id, "bob@acme.test", PASSWORD)
        .await
        .expect("the account was not locked for good");
    assert!(
        store::throttles::get(&app.ctx.store, &acme.id(), &throttle_key("bob@acme.test"))
            .await
            .unwrap()
            .is_none()
    );
    assert_status(
        app.issue(&acme.domain_id, "bob@acme.test", "Wr0ngPassword")
            .await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
}

#[tokio::test]
async fn unknown_user_ids_are_throttled_like_known_ones() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    let mut answers = Vec::new();
    for user_id in ["bob@acme.test", "nobody@acme.test"] {
        let mut codes = Vec::new();
        for _ in 0..7 {
            let status = app
                .issue(&acme.domain_id, user_id, "Wr0ngPassword")
                .await
                .unwrap_err();
            codes.push((status.code(), status.message().to_owned()));
        }
        answers.push(codes);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        answers[0][5].0,
        Code::Unauthenticated,
        "five failures are free"
    );
    assert_eq!(answers[0][6].0, Code::ResourceExhausted);
}

#[tokio::test]
async fn a_full_bcrypt_queue_answers_at_once() {
    let app = TestApp::spawn_with(&["--bcrypt-concurrency", "1", "--bcrypt-queue", "2"]).await;
    let acme = app.domain("acme").await;
    let hash = tokio::task::spawn_blocking(|| bcrypt::hash(PASSWORD, 13).unwrap())
        .await
        .unwrap();
    for i in 0..8 {
        let new = new_user(&format!("user{i}@acme.test"), Some(PASSWORD));
        store::users::insert(
            &app.ctx.store,
            &acme.id(),
            &new,
            Some(hash.clone()),
            UserState::Enabled,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    }
    let sign_ins = (0..8).map(|i| {
        let app = &app;
        let domain_id = acme.domain_id.clone();
        async move {
            let started = std::time::Instant::now();
            let result = app
                .issue(&domain_id, &format!("user{i}@acme.test"), PASSWORD)
                .await;
            (result, started.elapsed())
        }
    });
    let results = futures::future::join_all(sign_ins).await;
    let served = results.iter().filter(|(r, _)| r.is_ok()).count();
    let busy: Vec<_> = results
        .iter()
        .filter_map(|(r, took)| r.as_ref().err().map(|s| (s, took)))
        .collect();
    assert_eq!(served, 3, "one running and two waiting are served");
    assert_eq!(busy.len(), 5);
    let slowest_served = results
        .iter()
        .filter(|(r, _)| r.is_ok())
        .map(|(_, took)| *took)
        .max()
        .unwrap();
    for (status, took) in busy {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(status.message().starts_with("ERROR_SERVER_BUSY"));
        assert!(*took < slowest_served, "a busy answer comes at once");
    }
    // An attempt the server was too busy to check does not count against the account.
    for (i, (result, _)) in results.iter().enumerate() {
        let row = store::throttles::get(
            &app.ctx.store,
            &acme.id(),
            &throttle_key(&format!("user{i}@acme.test")),
        )
        .await
        .unwrap();
        assert!(row.is_none(), "user{i}: {result:?}");
    }
}

#[tokio::test]
async fn an_attacker_elsewhere_cannot_keep_the_owner_out() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    let good = || issue_request(&acme.domain_id, "bob@acme.test", PASSWORD);
    let bad = || issue_request(&acme.domain_id, "bob@acme.test", "Wr0ngPassword");

    // The owner signs in from their usual address.
    let mut owner = app.token_from("127.0.0.3").await;
    owner.issue(good()).await.expect("the owner signs in");

    // An attacker elsewhere fails 120 times in a row, waiting out every wait.
    let mut attacker = app.token_from("127.0.0.2").await;
    for attempt in 1..=120 {
        let status = attacker.issue(bad()).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "attempt {attempt}");
        app.clock.advance(TimeDelta::minutes(16));
    }
    app.clock.advance(TimeDelta::minutes(-16));
    // The attacker's own address must wait now...
    let status = attacker.issue(bad()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // ...and so must every address the account has not signed in from, even with the right
    // password, without a password check.
    let computed = app.ctx.hasher.computed();
    let mut stranger = app.token_from("127.0.0.4").await;
    let status = stranger.issue(good()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(app.ctx.hasher.computed(), computed);

    // The owner's usual address is not held up at all: five wrong passwords of their own
    // cost nothing, and the right one signs in.
    for _ in 0..5 {
        let status = owner.issue(bad()).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
    owner
        .issue(good())
        .await
        .expect("the owner signs in from their usual address");

    // A success ends the run of failures: a new address may try again.
    stranger
        .issue(good())
        .await
        .expect("the run of failures is over");
}
