//! Storage rules that hold on both engines: natural keys enforced by the database, and
//! multi-row writes that commit whole or not at all.

use spaceid::{domain::UserState, error::Error, store};

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
                &domain_id,
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

    let result = spaceid::service::admin::init_domain(
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
        let role = store::roles::get(&app.ctx.store, &acme.domain_id, role_id)
            .await
            .unwrap();
        assert!(role.is_some_and(|r| r.is_managed), "{role_id}");
    }
    let keys = app.domain_keys(&acme.domain_id).await;
    assert_eq!(keys.len(), 2);
    let kinds: Vec<_> = keys.iter().map(|k| k.purpose).collect();
    assert!(kinds.contains(&spaceid::domain::KeyPurpose::Access));
    assert!(kinds.contains(&spaceid::domain::KeyPurpose::Refresh));
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
    let member = |user_id: &str, role_id: &str| spaceid::service::admin::GroupMember {
        user_id: user_id.into(),
        role_id: role_id.into(),
    };
    let workspaces = [ops.workspace_id.clone(), dev.workspace_id.clone()];

    let bad = spaceid::service::admin::create_workspace_group(
        &app.ctx,
        &acme.domain_id,
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

    let group = spaceid::service::admin::create_workspace_group(
        &app.ctx,
        &acme.domain_id,
        "platform",
        &workspaces,
        &[member("bob@acme.test", "managed-workspace-member")],
    )
    .await
    .unwrap();
    let bindings = store::role_bindings::for_user(&app.ctx.store, &acme.domain_id, "bob@acme.test")
        .await
        .unwrap();
    assert_eq!(bindings.len(), 2);
    assert!(
        bindings
            .iter()
            .all(|b| b.workspace_group_id.as_deref() == Some(group.workspace_group_id.as_str()))
    );
    let ws = store::workspaces::get(&app.ctx.store, &acme.domain_id, &ops.workspace_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ws.workspace_group_id, Some(group.workspace_group_id));
}

fn code(
    domain_id: &str,
    user_id: &str,
    purpose: &str,
    expires_in: i64,
) -> spaceid::domain::OneTimeCode {
    let now = chrono::Utc::now();
    spaceid::domain::OneTimeCode {
        code_id: spaceid::domain::ids::generate("code"),
        domain_id: domain_id.into(),
        user_id: user_id.into(),
        purpose: purpose.into(),
        code_hash: "hash".into(),
        payload: Some(serde_json::json!({"email": "new@acme.test"})),
        attempts: 0,
        expires_at: now + chrono::Duration::seconds(expires_in),
        created_at: now,
    }
}

#[tokio::test]
async fn one_time_codes_are_replaced_expire_and_are_used_once() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let db = &app.ctx.store;
    let now = chrono::Utc::now;
    let replace = |code: spaceid::domain::OneTimeCode| {
        let store = app.ctx.store.clone();
        async move {
            let tx = store.begin().await.unwrap();
            store::codes::replace(&tx, &code).await.unwrap();
            tx.commit().await.unwrap();
            code
        }
    };

    let first = replace(code(&acme.domain_id, &acme.admin_id, "VERIFY_EMAIL", 300)).await;
    let second = replace(code(&acme.domain_id, &acme.admin_id, "VERIFY_EMAIL", 300)).await;
    let mfa = replace(code(&acme.domain_id, &acme.admin_id, "MFA_ENABLE", 300)).await;
    let live = store::codes::live(db, &acme.domain_id, &acme.admin_id, "VERIFY_EMAIL", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        live.code_id, second.code_id,
        "a new code replaces the old one"
    );
    assert_eq!(live.payload, second.payload);
    assert!(
        !store::codes::consume(db, &first.code_id, now())
            .await
            .unwrap(),
        "the replaced code is gone"
    );

    assert_eq!(
        store::codes::record_failed_attempt(db, &second.code_id)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store::codes::record_failed_attempt(db, &second.code_id)
            .await
            .unwrap(),
        2
    );

    let racers = (0..8).map(|_| {
        let ctx = app.ctx.clone();
        let code_id = second.code_id.clone();
        tokio::spawn(async move {
            store::codes::consume(&ctx.store, &code_id, chrono::Utc::now())
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
    assert!(
        store::codes::live(db, &acme.domain_id, &acme.admin_id, "VERIFY_EMAIL", now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store::codes::live(db, &acme.domain_id, &acme.admin_id, "MFA_ENABLE", now())
            .await
            .unwrap()
            .is_some_and(|c| c.code_id == mfa.code_id)
    );

    replace(code(&acme.domain_id, &acme.admin_id, "RESET_PASSWORD", -1)).await;
    assert!(
        store::codes::live(db, &acme.domain_id, &acme.admin_id, "RESET_PASSWORD", now())
            .await
            .unwrap()
            .is_none(),
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
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.user(&acme, "bob@acme.test").await;
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

    let store = store::Store::connect(&app.database_url, 2).await.unwrap();
    let refused = store
        .migrate()
        .await
        .expect_err("case twins stop the upgrade");
    assert!(
        refused.to_string().contains("Bob@acme.test") && refused.to_string().contains("case"),
        "{refused}"
    );
    app.sql(&["DELETE FROM users WHERE user_id = 'Bob@acme.test'"])
        .await;
    store
        .migrate()
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
    let twin = admin_create(&app, &acme, "BOB@acme.test").await;
    assert!(
        matches!(&twin, Err(Error::AlreadyExists { .. })),
        "{twin:?}"
    );
}

async fn admin_create(
    app: &TestApp,
    domain: &TestDomain,
    user_id: &str,
) -> Result<spaceid::domain::User, Error> {
    spaceid::service::admin::create_user(&app.ctx, &domain.domain_id, new_user(user_id, None)).await
}
