//! Storage rules that hold on both engines: natural keys enforced by the database,
//! multi-row writes that commit whole or not at all, and upgrades that carry the rows there
//! are along.

use spaceid::testing::{
    domain::{CodeSlot, DomainId, UserId, UserState},
    error::Error,
    store,
};

use crate::helpers::*;

#[tokio::test]
async fn concurrent_inserts_of_one_user_leave_exactly_one_row() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let attempts = (0..16).map(|_| {
        let ctx = app.ctx.clone();
        let domain_id = acme.domain_id.clone();
        tokio::spawn(async move {
            let new = new_user("twin@acme.test", None);
            store::users::insert(
                &ctx.store,
                &DomainId::new(domain_id),
                &new,
                None,
                UserState::Enabled,
                chrono::Utc::now(),
            )
            .await
        })
    });
    let results: Vec<_> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|joined| joined.expect("task"))
        .collect();

    let created = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(created, 1, "{results:?}");
    for result in results.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(result, Err(Error::AlreadyExists { key, value }) if key == "user_id" && value == "twin@acme.test"),
            "{result:?}"
        );
    }
    let rows = app
        .count("SELECT COUNT(*) FROM users WHERE user_id = 'twin@acme.test'")
        .await;
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn the_same_user_id_may_live_in_two_domains() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let other = app.domain("other").await;
    app.user(&acme, "shared@x.test").await;
    app.user(&other, "shared@x.test").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE user_id = 'shared@x.test'")
            .await,
        2
    );
}

#[tokio::test]
async fn a_failed_init_writes_nothing() {
    let app = TestApp::spawn().await;
    app.domain("acme").await;
    let tables = ["domains", "signing_keys", "roles", "users", "role_bindings"];
    let mut before = Vec::new();
    for table in tables {
        before.push(app.count(&format!("SELECT COUNT(*) FROM {table}")).await);
    }

    let result = spaceid::testing::service::admin::init_domain(
        &app.ctx,
        "acme",
        new_user("second@acme.test", Some(PASSWORD)),
    )
    .await;
    assert!(
        matches!(result, Err(Error::AlreadyExists { ref key, .. }) if key == "name"),
        "{:?}",
        result.err()
    );

    for (table, rows) in tables.iter().zip(before) {
        assert_eq!(
            app.count(&format!("SELECT COUNT(*) FROM {table}")).await,
            rows,
            "{table}"
        );
    }
}

#[tokio::test]
async fn every_domain_gets_the_managed_roles_and_two_key_pairs() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    for role_id in [
        "managed-domain-admin",
        "managed-workspace-owner",
        "managed-workspace-member",
    ] {
        let role = store::roles::get(&app.ctx.store, &acme.id(), &role_id.into())
            .await
            .unwrap();
        assert!(role.is_some_and(|r| r.is_managed), "{role_id}");
    }
    let keys = app.domain_keys(&acme.domain_id).await;
    assert_eq!(keys.len(), 2);
    let kinds: Vec<_> = keys.iter().map(|k| k.purpose).collect();
    assert!(kinds.contains(&spaceid::testing::domain::KeyPurpose::Access));
    assert!(kinds.contains(&spaceid::testing::domain::KeyPurpose::Refresh));
    for key in &keys {
        assert_eq!(key.public_jwk["kty"], "RSA");
        assert!(
            key.public_jwk.get("d").is_none(),
            "a public JWK never holds the private exponent"
        );
    }
}

#[tokio::test]
async fn a_workspace_group_binds_its_members_in_each_workspace_in_one_transaction() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let ops = app.workspace(&acme, "ops").await;
    let dev = app.workspace(&acme, "dev").await;
    app.user(&acme, "bob@acme.test").await;
    let member = |user_id: &str, role_id: &str| spaceid::testing::service::admin::GroupMember {
        user_id: user_id.into(),
        role_id: role_id.into(),
    };
    let workspaces = [ops.workspace_id.clone(), dev.workspace_id.clone()];

    let bad = spaceid::testing::service::admin::create_workspace_group(
        &app.ctx,
        &acme.id(),
        "platform",
        &workspaces,
        &[
            member("bob@acme.test", "managed-workspace-member"),
            member("ghost@acme.test", "managed-workspace-member"),
        ],
    )
    .await;
    assert!(
        matches!(bad, Err(Error::NotFound { .. })),
        "{:?}",
        bad.err()
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM workspace_groups").await, 0);

    let group = spaceid::testing::service::admin::create_workspace_group(
        &app.ctx,
        &acme.id(),
        "platform",
        &workspaces,
        &[member("bob@acme.test", "managed-workspace-member")],
    )
    .await
    .unwrap();
    let bindings =
        store::role_bindings::for_user(&app.ctx.store, &acme.id(), &"bob@acme.test".into())
            .await
            .unwrap();
    assert_eq!(bindings.len(), 2);
    assert!(
        bindings
            .iter()
            .all(|b| b.workspace_group_id.as_ref() == Some(&group.workspace_group_id))
    );
    let ws = store::workspaces::get(&app.ctx.store, &acme.id(), &ops.workspace_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ws.workspace_group_id, Some(group.workspace_group_id));
}

fn code(
    domain_id: &DomainId,
    user_id: &UserId,
    purpose: CodeSlot,
    expires_in: i64,
) -> spaceid::testing::domain::OneTimeCode {
    let now = chrono::Utc::now();
    spaceid::testing::domain::OneTimeCode {
        code_id: spaceid::testing::domain::CodeId::generate(),
        domain_id: domain_id.clone(),
        user_id: user_id.clone(),
        purpose,
        code_hash: "hash".into(),
        payload: Some(serde_json::json!({"address": "new@acme.test"})),
        attempts: 0,
        expires_at: now + chrono::Duration::seconds(expires_in),
        consumed_at: None,
        created_at: now,
    }
}

#[tokio::test]
async fn one_time_codes_are_one_per_purpose_counted_before_compared_and_used_once() {
    use store::codes::Submission;
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let db = &app.ctx.store;
    let now = chrono::Utc::now;
    let (d, u) = (&acme.id(), &acme.admin());
    let first = code(d, u, CodeSlot::VerifyEmail, 300);
    store::codes::replace(db, &first, false).await.unwrap();
    let mfa = code(d, u, CodeSlot::EnableMfa, 300);
    store::codes::replace(db, &mfa, false).await.unwrap();

    // Two tries against the first code, counted in one statement each.
    for expected in 1..=2 {
        match store::codes::count_submission(db, d, u, CodeSlot::VerifyEmail, now())
            .await
            .unwrap()
        {
            Submission::Counted(code) => assert_eq!(code.attempts, expected),
            other => panic!("{other:?}"),
        }
    }
    // A resend replaces the code in place; the tries carry over, or not, as asked.
    let second = code(d, u, CodeSlot::VerifyEmail, 300);
    store::codes::replace(db, &second, true).await.unwrap();
    let stored = store::codes::get(db, d, u, CodeSlot::VerifyEmail)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.code_id.as_str(), stored.attempts),
        (second.code_id.as_str(), 2)
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM codes WHERE purpose = 'VERIFY_EMAIL'")
            .await,
        1,
        "one row per user and purpose"
    );
    assert!(
        !store::codes::consume(db, &first.code_id, now())
            .await
            .unwrap(),
        "the replaced code is gone"
    );

    // Parallel tries: exactly three more are counted, the rest find the code exhausted.
    let racers = (0..20).map(|_| {
        let store = app.ctx.store.clone();
        let (d, u) = (d.to_owned(), u.to_owned());
        tokio::spawn(async move {
            store::codes::count_submission(
                &store,
                &d,
                &u,
                CodeSlot::VerifyEmail,
                chrono::Utc::now(),
            )
            .await
            .unwrap()
        })
    });
    let outcomes: Vec<Submission> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let counted = outcomes
        .iter()
        .filter(|o| matches!(o, Submission::Counted(_)))
        .count();
    let exhausted = outcomes
        .iter()
        .filter(|o| matches!(o, Submission::Exhausted(_)))
        .count();
    assert_eq!((counted, exhausted), (3, 17), "{outcomes:?}");

    // Used at most once, under a race.
    let racers = (0..8).map(|_| {
        let store = app.ctx.store.clone();
        let code_id = mfa.code_id.clone();
        tokio::spawn(async move {
            store::codes::consume(&store, &code_id, chrono::Utc::now())
                .await
                .unwrap()
        })
    });
    let used: Vec<bool> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(used.iter().filter(|u| **u).count(), 1, "{used:?}");
    assert!(matches!(
        store::codes::count_submission(db, d, u, CodeSlot::EnableMfa, now())
            .await
            .unwrap(),
        Submission::NoLiveCode
    ));

    // A new code after a used or expired one starts from zero tries.
    let third = code(d, u, CodeSlot::EnableMfa, 300);
    store::codes::replace(db, &third, false).await.unwrap();
    assert_eq!(
        store::codes::get(db, d, u, CodeSlot::EnableMfa)
            .await
            .unwrap()
            .unwrap()
            .attempts,
        0
    );
    store::codes::replace(db, &code(d, u, CodeSlot::SignIn, -1), false)
        .await
        .unwrap();
    assert!(
        matches!(
            store::codes::count_submission(db, d, u, CodeSlot::SignIn, now())
                .await
                .unwrap(),
            Submission::NoLiveCode
        ),
        "expired codes are not live"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_file_holding_private_keys_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn().await;
    let Some(path) = app
        .database_url
        .strip_prefix("sqlite://")
        .and_then(|rest| rest.split('?').next())
    else {
        return; // PostgreSQL keeps its own files.
    };
    app.domain("acme").await;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{path}: {mode:o}");
}

#[tokio::test]
async fn upgrading_gives_existing_users_accounts_and_refuses_case_twins() {
    let mut app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
    // No server runs on the database while its schema is rewritten: a pooled connection
    // would keep what it prepared against the other schema.
    app.halt().await;
    app.ctx
        .store
        .clone()
        .close(std::time::Duration::from_secs(5))
        .await
        .unwrap();
    // Back to the first schema, with a user id that differs from another only by case.
    app.sql(&[
        "DROP INDEX users_domain_user_key",
        "ALTER TABLE users DROP COLUMN user_key",
        "ALTER TABLE users DROP COLUMN credential_version",
        "ALTER TABLE users DROP COLUMN account_id",
        "DELETE FROM seaql_migrations WHERE version = 'm20261124_000002_user_accounts'",
        "INSERT INTO users (domain_id, user_id, name, state, email, email_verified, auth_type, \
         password_hash, password_changed_at, mfa, language, timezone, required_actions, \
         refresh_timeout, tags, created_at, last_accessed_at) \
         SELECT domain_id, 'Bob@acme.test', name, state, email, email_verified, auth_type, \
         password_hash, password_changed_at, mfa, language, timezone, required_actions, \
         refresh_timeout, tags, created_at, last_accessed_at FROM users \
         WHERE user_id = 'bob@acme.test'",
    ])
    .await;

    let refused = store::Store::migrate(&app.database_url)
        .await
        .expect_err("case twins stop the upgrade");
    assert!(
        refused.to_string().contains("Bob@acme.test") && refused.to_string().contains("case"),
        "{refused}"
    );
    app.sql(&["DELETE FROM users WHERE user_id = 'Bob@acme.test'"])
        .await;
    store::Store::migrate(&app.database_url)
        .await
        .expect("the upgrade goes on once the twin is gone");

    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE length(account_id) = 32 AND user_key = user_id"
        )
        .await,
        2,
        "both users have an account id and their key"
    );
    // A server started on the upgraded database.
    let upgraded = app.replica().await;
    let twin = admin_create(&upgraded, &acme, "BOB@acme.test").await;
    assert!(
        matches!(&twin, Err(Error::AlreadyExists { .. })),
        "{twin:?}"
    );
}

async fn admin_create(
    app: &TestApp,
    domain: &TestDomain,
    user_id: &str,
) -> Result<spaceid::testing::domain::User, Error> {
    spaceid::testing::service::admin::create_user(&app.ctx, &domain.id(), new_user(user_id, None))
        .await
}

#[tokio::test]
async fn a_stored_name_its_enum_lacks_is_an_internal_error_and_is_not_patched() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    for (user_id, column) in [
        ("state@acme.test", "state = 'SLEEPING'"),
        (
            "mfa@acme.test",
            r#"mfa = '{"state": "ON", "mfa_type": "EMAIL", "options": {}}'"#,
        ),
        ("actions@acme.test", r#"required_actions = '["DANCE"]'"#),
    ] {
        app.user(&acme, user_id).await;
        app.sql(&[&format!(
            "UPDATE users SET {column} WHERE user_id = '{user_id}'"
        )])
        .await;
        let refused = app
            .issue(&acme.domain_id, user_id, PASSWORD)
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            tonic::Code::Internal,
            "{user_id}: {refused:?}"
        );
        assert!(
            !refused.message().contains("SLEEPING") && !refused.message().contains("DANCE"),
            "the cause stays in the log: {refused:?}"
        );
    }
    // Nothing was rewritten on the way.
    let still = "SELECT COUNT(*) FROM users WHERE state = 'SLEEPING'";
    assert_eq!(app.count(still).await, 1);
}

#[tokio::test]
async fn upgrading_folds_the_text_of_every_existing_user() {
    let mut app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let workspace_id = app.workspace(&acme, "One").await.workspace_id;
    let mut jorg = new_user("jorg@acme.test", None);
    jorg.name = Some(spaceid::testing::domain::Name::parse("JÖRG Müller").unwrap());
    let tags = serde_json::json!({"team": "ΣΟΦΙΑ"});
    jorg.tags = spaceid::testing::domain::Tags::parse(tags.as_object().unwrap().clone()).unwrap();
    spaceid::testing::service::admin::create_user(&app.ctx, &acme.id(), jorg)
        .await
        .unwrap();
    let member_role = "managed-workspace-member";
    app.bind(
        &acme,
        "jorg@acme.test",
        member_role,
        Some(workspace_id.as_str()),
    )
    .await;
    back_before_folded_text(&mut app).await;

    store::Store::migrate(&app.database_url)
        .await
        .expect("the upgrade folds the users there are");

    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE user_id_folded = 'ü' || substr(user_id, 2) \
             AND name_folded = lower(name)"
        )
        .await,
        1200,
        "every user of the batches is folded"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM users WHERE user_id = 'jorg@acme.test' \
             AND name_folded = 'jörg müller' AND user_id_folded = user_id"
        )
        .await,
        1
    );
    let upgraded = app.replica().await;
    let window = store::members::Window {
        offset: 0,
        limit: 10,
    };
    let found = store::members::find_outside(
        &upgraded.ctx.store,
        &acme.id(),
        &workspace_id,
        &spaceid::testing::domain::FindFilter {
            keyword: Some("ü119@".into()),
            ..Default::default()
        },
        window,
    )
    .await
    .unwrap();
    let ids: Vec<_> = found.results.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(ids, ["Ü119@acme.test"]);
    let search = spaceid::testing::query::Search {
        filter: vec![spaceid::testing::query::Condition {
            key: "tags.team".into(),
            operator: "contain".into(),
            value: serde_json::json!("σοφια"),
        }],
        ..Default::default()
    };
    let members = store::members::list(
        &upgraded.ctx.store,
        &acme.id(),
        &workspace_id,
        &spaceid::testing::domain::MemberFilter::default(),
        &search,
    )
    .await
    .unwrap();
    let ids: Vec<_> = members
        .results
        .iter()
        .map(|m| m.user.user_id.as_str())
        .collect();
    assert_eq!(ids, ["jorg@acme.test"]);
}

/// Stops the server and takes its database back to the schema before the folded columns,
/// with 1,200 more users (`Ü1@acme.test`, `NAME 1`, ...) than one batch of the upgrade folds.
async fn back_before_folded_text(app: &mut TestApp) {
    // No server runs on the database while its schema is rewritten.
    app.halt().await;
    app.ctx
        .store
        .clone()
        .close(std::time::Duration::from_secs(5))
        .await
        .unwrap();
    app.sql(&[
        "ALTER TABLE users DROP COLUMN user_id_folded",
        "ALTER TABLE users DROP COLUMN name_folded",
        "ALTER TABLE users DROP COLUMN email_folded",
        "ALTER TABLE users DROP COLUMN tags_folded",
        "DELETE FROM seaql_migrations WHERE version = 'm20261130_000009_folded_text'",
        "INSERT INTO users (domain_id, user_id, name, state, email, email_verified, auth_type, \
         password_hash, password_changed_at, mfa, language, timezone, required_actions, \
         refresh_timeout, tags, created_at, last_accessed_at, account_id, credential_version, \
         user_key) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) \
         SELECT domain_id, 'Ü' || i || '@acme.test', 'NAME ' || i, state, email, \
         email_verified, auth_type, password_hash, password_changed_at, mfa, language, \
         timezone, required_actions, refresh_timeout, tags, created_at, last_accessed_at, \
         account_id, credential_version, 'ü' || i || '@acme.test' FROM users, n \
         WHERE user_id = 'admin@acme.test'",
    ])
    .await;
}
