//! One signed-in member cannot take the service down: regular expressions whose cost is
//! bounded before they run, statements the database stops, a pool that gets its
//! connections back from cancelled calls, shares of the pool for member queries, a stop that
//! finishes whatever the database is doing, and the MFA rules a password thief could
//! otherwise turn against the owner.
//!
//! On PostgreSQL a query is made slow on purpose, the way a member's stored data makes it
//! slow: a row-level security policy that sleeps on rows tagged `slow`, so every statement
//! that reads such a row (a member list of its workspace) takes as long as the test wants,
//! while statements that read other rows (sign-ins, other workspaces) do not.

use std::time::Duration;

use serde_json::json;
use spaceid::pb::{
    core::{Filter, Query, filter},
    identity::{
        ConfirmMfaRequest, EnableMfaRequest, GrantTokenRequest, IssueTokenRequest,
        UserProfileRequest, WorkspaceUserFindRequest, WorkspaceUserSearchQuery,
        grant_token_request::{GrantType, Scope},
        issue_token_request::AuthType as IssueAuthType,
    },
};
use tonic::Code;

use crate::helpers::*;
use crate::smtp::SmtpSink;

const MEMBER_ROLE: &str = "managed-workspace-member";

fn regex_filter(operator: &str, value: serde_json::Value) -> Query {
    let wrapped = to_struct(&json!({ "v": value }));
    Query {
        filter: vec![Filter {
            key_alias: Some(filter::KeyAlias::K("user_id".to_owned())),
            value_alias: Some(filter::ValueAlias::V(wrapped.fields["v"].clone())),
            operator_alias: Some(filter::OperatorAlias::O(operator.to_owned())),
        }],
        ..Default::default()
    }
}

fn list_request(query: Query) -> WorkspaceUserSearchQuery {
    WorkspaceUserSearchQuery {
        query: Some(query),
        ..Default::default()
    }
}

/// A domain with workspaces `one` and `two`, a member of each, and `bystander` in `one`.
struct World {
    app: TestApp,
    acme: TestDomain,
    one: String,
    two: String,
}

const ATTACKER: &str = "attacker@acme.test";
const NEIGHBOUR: &str = "neighbour@acme.test";
const BYSTANDER: &str = "bystander@acme.test";

async fn world(flags: &[&str]) -> World {
    world_on(TestApp::spawn_with(flags).await).await
}

async fn world_on(app: TestApp) -> World {
    let acme = app.domain("acme").await;
    let one = app.workspace(&acme, "One").await.workspace_id.into_string();
    let two = app.workspace(&acme, "Two").await.workspace_id.into_string();
    for (user, workspace) in [(ATTACKER, &one), (BYSTANDER, &one), (NEIGHBOUR, &two)] {
        app.user(&acme, user).await;
        app.bind(&acme, user, MEMBER_ROLE, Some(workspace)).await;
    }
    World {
        app,
        acme,
        one,
        two,
    }
}

impl World {
    async fn token(&self, user_id: &str, workspace_id: &str) -> String {
        self.app
            .scoped_token(
                &self.acme.domain_id,
                user_id,
                Scope::Workspace,
                workspace_id,
            )
            .await
            .expect("a workspace token")
            .access_token
    }

    async fn list(&self, token: &str, query: Query) -> Result<i32, tonic::Status> {
        self.app
            .workspace_user()
            .await
            .list(authed(list_request(query), token))
            .await
            .map(|answer| answer.into_inner().total_count)
    }

    /// Makes every statement with a regular expression that reads the bystander's row sleep
    /// `seconds` (PostgreSQL): a hostile `list` (`hostile()`) in workspace one.
    async fn slow_bystander(&self, seconds: u32) {
        self.app
            .sql(&[
                &format!(
                    "CREATE FUNCTION slow_row(tags jsonb) RETURNS boolean LANGUAGE sql VOLATILE \
                     AS $$ SELECT CASE WHEN tags ? 'slow' AND current_query() LIKE '% ~ %' \
                     THEN pg_sleep({seconds}) IS NOT NULL ELSE true END $$"
                ),
                "CREATE POLICY slow ON users USING (slow_row(tags)) WITH CHECK (true)",
                "ALTER TABLE users ENABLE ROW LEVEL SECURITY",
                "ALTER TABLE users FORCE ROW LEVEL SECURITY",
                &format!(
                    "UPDATE users SET tags = '{{\"slow\": true}}' WHERE user_id = '{BYSTANDER}'"
                ),
            ])
            .await;
    }

    /// Statements sleeping on the bystander's row now.
    async fn sleeping(&self) -> i64 {
        self.app
            .count("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")
            .await
    }

    /// Connections the server's pool has handed out now.
    fn in_use(&self) -> u32 {
        let usage = self.app.ctx.store.pool_usage();
        usage.open - usage.idle
    }

    /// Waits until no connection is in use, for at most `bound`; false if it never was.
    async fn pool_settles(&self, bound: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + bound;
        while tokio::time::Instant::now() < deadline {
            if self.in_use() == 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

/// A list query that reads the bystander's row slowly once `slow_bystander` ran.
fn hostile() -> Query {
    regex_filter("regex", json!("@"))
}

fn on_postgres(app: &TestApp) -> bool {
    app.database_url.starts_with("postgres")
}

#[tokio::test]
async fn costly_regular_expressions_are_refused_by_name_and_ordinary_ones_work() {
    let w = world(&[]).await;
    let token = w.token(ATTACKER, &w.one).await;
    let chained = format!("{}x", "a{255}".repeat(27));
    let classes = format!("{}c", "[^b]{255}".repeat(18));
    let products = format!("{}c", ".{1,32}".repeat(5));
    let alternatives = (0..20)
        .map(|i| format!("n{i}"))
        .collect::<Vec<_>>()
        .join("|");
    for (operator, value, says) in [
        ("regex", json!(chained), "above 32"),
        ("regex", json!(classes), "above 32"),
        ("regex", json!(products), "too costly"),
        ("regex", json!(alternatives), "alternatives"),
        ("regex", json!("a{33}"), "above 32"),
        ("regex", json!("(?:^|$){16}"), "begin and end"),
        ("regex", json!("(|a|b){32}"), "empty"),
        (
            "regex_in",
            json!([
                ".{1,32}.{1,32}.{1,32}",
                ".{1,32}.{1,32}.{1,32}",
                ".{1,32}.{1,32}.{1,32}"
            ]),
            "cost 288 together",
        ),
    ] {
        assert_status(
            w.list(&token, regex_filter(operator, value)).await,
            Code::InvalidArgument,
            "ERROR_INVALID_PARAMETER",
            &[operator, says],
        );
    }
    for ordinary in [r"^user\d+@", "(admin|owner)", "[a-z]{2,8}"] {
        let answer = w.list(&token, regex_filter("regex", json!(ordinary))).await;
        if on_postgres(&w.app) {
            answer.unwrap_or_else(|status| panic!("{ordinary}: {status:?}"));
        } else {
            assert_status(
                answer,
                Code::InvalidArgument,
                "ERROR_INVALID_PARAMETER",
                &["literal text"],
            );
        }
    }
    assert_eq!(
        w.list(&token, regex_filter("regex", json!("^bystander@")))
            .await
            .expect("a literal pattern works on both engines"),
        1
    );
}

#[tokio::test]
async fn a_member_flooding_slow_lists_does_not_hold_up_anyone_else() {
    let w = world(&["--statement-timeout-ms", "20000"]).await;
    if !on_postgres(&w.app) {
        return;
    }
    let attacker = w.token(ATTACKER, &w.one).await;
    w.slow_bystander(60).await;

    // 16 lists at once from one member at its own address, each reading the slow row.
    let client = spaceid::pb::identity::workspace_user_client::WorkspaceUserClient::new(
        w.app.channel_from("127.0.0.2").await,
    );
    let flood: Vec<_> = (0..16)
        .map(|_| {
            let mut client = client.clone();
            let request = authed(list_request(hostile()), &attacker);
            tokio::spawn(async move { client.list(request).await.map(|_| ()) })
        })
        .collect();
    // Every place the attacker may hold is taken before the others start.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while w.sleeping().await < 8 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        w.sleeping().await,
        8,
        "the flood runs half the pool's statements"
    );

    // Meanwhile another member signs in, reads its profile and lists its own workspace;
    // each slow statement sleeps far longer than all of this may take.
    let neighbour = w.token(NEIGHBOUR, &w.two).await;
    get_profile(&w.app, &neighbour).await.expect("get");
    assert_eq!(w.list(&neighbour, Query::default()).await.expect("list"), 1);
    w.app
        .issue(&w.acme.domain_id, &w.acme.admin_id, PASSWORD)
        .await
        .expect("an admin signs in");
    assert_eq!(
        w.sleeping().await,
        8,
        "one member runs at most half of the pool's statements"
    );

    // The flood's calls over the member's share are refused after a short wait, not queued
    // for as long as the statements ahead of them run.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while flood.iter().filter(|call| call.is_finished()).count() < 8
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut refused = 0;
    let mut waiting = Vec::new();
    for call in flood {
        if call.is_finished() {
            let status = call.await.unwrap().expect_err("a refused call");
            assert_eq!(status.code(), Code::Unavailable, "{status:?}");
            assert!(status.message().contains("for this user"), "{status:?}");
            refused += 1;
        } else {
            waiting.push(call);
        }
    }
    assert_eq!(refused, 8, "the calls over the member's share");

    // A stop does not wait for the sleeping statements: it ends within the grace period
    // and the pool's closing bound, long before the statements would.
    let stopped = tokio::time::timeout(Duration::from_secs(15), w.app.stop()).await;
    assert!(stopped.is_ok(), "the server did not stop");
    for call in waiting {
        call.abort();
    }
}

#[tokio::test]
async fn a_slow_statement_ends_at_the_statement_timeout_as_unavailable() {
    let w = world(&["--statement-timeout-ms", "500"]).await;
    if !on_postgres(&w.app) {
        return;
    }
    let attacker = w.token(ATTACKER, &w.one).await;
    w.slow_bystander(60).await;
    assert_status(
        w.list(&attacker, hostile()).await,
        Code::Unavailable,
        "ERROR_SERVER_BUSY",
        &["statement timeout"],
    );
    assert!(w.pool_settles(Duration::from_secs(10)).await);
}

#[tokio::test]
async fn cancelled_slow_calls_give_their_connections_back() {
    let w = world(&["--statement-timeout-ms", "20000"]).await;
    if !on_postgres(&w.app) {
        return;
    }
    cancel_slow_calls(&w).await;
    // The statements sleep for a minute and may run for 20 s, yet the pool is whole again
    // within seconds.
    assert!(
        w.pool_settles(Duration::from_secs(10)).await,
        "{} connections still in use",
        w.in_use()
    );
    // And PostgreSQL stopped the abandoned statements instead of letting them sleep on.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while w.sleeping().await > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        w.sleeping().await,
        0,
        "the abandoned statements were cancelled"
    );
    plain_calls_are_served(&w).await;
}

#[tokio::test]
async fn over_tls_cancelled_slow_calls_give_their_connections_back_by_the_statement_timeout() {
    let flags = ["--statement-timeout-ms", "2000"];
    let Some(app) = TestApp::spawn_on_postgres_with("?sslmode=require", &flags).await else {
        return;
    };
    let w = world_on(app).await;
    cancel_slow_calls(&w).await;
    assert!(
        w.pool_settles(Duration::from_secs(20)).await,
        "{} connections still in use",
        w.in_use()
    );
    plain_calls_are_served(&w).await;
}

/// 104 calls from the attacker that end (at the client's deadline) while their statement
/// sleeps on the bystander's row.
async fn cancel_slow_calls(w: &World) {
    let attacker = w.token(ATTACKER, &w.one).await;
    w.slow_bystander(60).await;
    let client = w.app.workspace_user().await;
    // 100 calls that end (at the client's deadline) while their statement sleeps.
    for _ in 0..13 {
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let mut client = client.clone();
                let mut request = authed(list_request(hostile()), &attacker);
                request.set_timeout(Duration::from_millis(300));
                tokio::spawn(async move { client.list(request).await })
            })
            .collect();
        for call in calls {
            let status = call.await.unwrap().expect_err("cut short");
            assert!(
                matches!(
                    status.code(),
                    Code::DeadlineExceeded | Code::Cancelled | Code::Unavailable
                ),
                "{status:?}"
            );
        }
    }
}

/// A burst of ordinary calls from another member, all served.
async fn plain_calls_are_served(w: &World) {
    let neighbour = w.token(NEIGHBOUR, &w.two).await;
    for _ in 0..50 {
        assert_eq!(w.list(&neighbour, Query::default()).await.expect("list"), 1);
    }
}

#[tokio::test]
async fn find_needs_the_write_permission_as_the_reference() {
    let w = world(&[]).await;
    let refresh = w
        .app
        .issue(&w.acme.domain_id, ATTACKER, PASSWORD)
        .await
        .unwrap()
        .refresh_token;
    let narrowed = |permissions: &[&str]| GrantTokenRequest {
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        ..grant_request(&refresh, Scope::Workspace, &w.one)
    };
    let mut tokens = w.app.token().await;
    let read = tokens
        .grant(narrowed(&["identity:WorkspaceUser.read"]))
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let write = tokens
        .grant(narrowed(&["identity:WorkspaceUser.write"]))
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let find = |token: String| {
        let app = &w.app;
        async move {
            app.workspace_user()
                .await
                .find(authed(WorkspaceUserFindRequest::default(), &token))
                .await
                .map(|answer| {
                    answer
                        .into_inner()
                        .results
                        .into_iter()
                        .map(|user| user.user_id)
                        .collect::<Vec<_>>()
                })
        }
    };
    assert_status(
        find(read).await,
        Code::PermissionDenied,
        "ERROR_PERMISSION_DENIED",
        &["identity:WorkspaceUser.write"],
    );
    let found = find(write).await.expect("find with .write");
    assert!(found.contains(&NEIGHBOUR.to_owned()), "{found:?}");
}

/// A server that mails through a fresh SMTP listener, and `ATTACKER` with MFA by e-mail on
/// at `owner@mail.test`, turned on from 127.0.0.1, its usual address.
async fn mfa_world() -> (World, SmtpSink, String) {
    let sink = SmtpSink::start().await;
    let w = world(&["--smtp-url", &sink.url()]).await;
    let token = w.app.access_token(&w.acme.domain_id, ATTACKER).await;
    let code = enable_email_mfa(&w.app, &sink, &token).await;
    w.app
        .user_profile()
        .await
        .confirm_mfa(authed(ConfirmMfaRequest { verify_code: code }, &token))
        .await
        .expect("confirm MFA");
    (w, sink, token)
}

/// `enable_mfa` by e-mail to `owner@mail.test` with `token`; the code mailed to confirm it.
async fn enable_email_mfa(app: &TestApp, sink: &SmtpSink, token: &str) -> String {
    app.user_profile()
        .await
        .enable_mfa(authed(
            EnableMfaRequest {
                mfa_type: "EMAIL".into(),
                options: Some(to_struct(&json!({ "email": "owner@mail.test" }))),
            },
            token,
        ))
        .await
        .expect("enable MFA");
    crate::codes::next_code(sink).await.1
}

fn mfa_issue(domain_id: &str, code: &str) -> IssueTokenRequest {
    IssueTokenRequest {
        auth_type: IssueAuthType::Mfa as i32,
        verify_code: code.into(),
        ..issue_request(domain_id, ATTACKER, PASSWORD)
    }
}

#[tokio::test]
async fn a_password_thief_cannot_use_up_the_owners_mfa_codes() {
    let (w, sink, _) = mfa_world().await;
    let domain_id = w.acme.domain_id.clone();
    // Someone who knows the password signs in from another address again and again, and
    // spends every try of every code mailed.
    let mut thief = w.app.token_from("127.0.0.9").await;
    let mut capped = false;
    for _ in 0..12 {
        let status = thief
            .issue(issue_request(&domain_id, ATTACKER, PASSWORD))
            .await
            .unwrap_err();
        if status.code() == Code::ResourceExhausted {
            capped = true;
            break;
        }
        assert!(
            status.message().starts_with("ERROR_MFA_REQUIRED"),
            "{status:?}"
        );
        let (_, code) = crate::codes::next_code(&sink).await;
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        for _ in 0..5 {
            let _ = thief.issue(mfa_issue(&domain_id, &wrong)).await;
        }
    }
    assert!(capped, "the thief's codes are capped");

    // The owner, at its usual address, still gets a code and signs in with it.
    let mut owner = w.app.token().await;
    let status = owner
        .issue(issue_request(&domain_id, ATTACKER, PASSWORD))
        .await
        .unwrap_err();
    assert!(
        status.message().starts_with("ERROR_MFA_REQUIRED"),
        "{status:?}"
    );
    let (_, code) = crate::codes::next_code(&sink).await;
    owner
        .issue(mfa_issue(&domain_id, &code))
        .await
        .expect("the owner signs in");
}

#[tokio::test]
async fn a_refresh_token_from_before_mfa_mints_nothing_after_it() {
    let sink = SmtpSink::start().await;
    let w = world(&["--smtp-url", &sink.url()]).await;
    let domain_id = w.acme.domain_id.clone();
    let stolen = w
        .app
        .issue(&domain_id, ATTACKER, PASSWORD)
        .await
        .unwrap()
        .refresh_token;
    let token = w.app.access_token(&domain_id, ATTACKER).await;
    let code = enable_email_mfa(&w.app, &sink, &token).await;
    // Pending, not yet on: sessions stay.
    get_profile(&w.app, &token).await.expect("still signed in");
    w.app
        .user_profile()
        .await
        .confirm_mfa(authed(ConfirmMfaRequest { verify_code: code }, &token))
        .await
        .expect("confirm");

    let grant = GrantTokenRequest {
        grant_type: GrantType::RefreshToken as i32,
        ..grant_request(&stolen, Scope::User, "")
    };
    assert_status(
        w.app.token().await.grant(grant).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
    assert_eq!(
        w.app
            .user_profile()
            .await
            .get(authed(UserProfileRequest::default(), &token))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated,
        "every session from before ends, the caller's too"
    );
}

#[tokio::test]
async fn on_sqlite_too_a_long_statement_is_interrupted_at_the_statement_timeout() {
    use spaceid::testing::domain::{Name, Role, RoleType, Tags, UserId, UserState};
    use spaceid::testing::store::{Store, bulk};
    if std::env::var("SPACEID_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        return;
    }
    let w = world(&["--statement-timeout-ms", "1"]).await;
    // 30,000 members, written through a pool of the test's own with no tight deadline.
    let seeder = Store::connect(&w.app.database_url, 1, Duration::from_secs(600))
        .await
        .unwrap();
    let role = Role::managed()
        .into_iter()
        .find(|role| role.role_type == RoleType::WorkspaceMember)
        .unwrap();
    let membership = bulk::Membership {
        domain_id: &w.acme.id(),
        workspace_id: &w.one.as_str().into(),
        role: &role,
        password_hash: "x",
        now: chrono::Utc::now(),
    };
    for batch in 0..6 {
        let members: Vec<_> = (0..5_000)
            .map(|i| bulk::NewMember {
                user_id: UserId::parse(&format!("m{batch}-{i}@acme.test")).unwrap(),
                name: Name::parse(&format!("Member {batch} {i}")).unwrap(),
                state: UserState::Enabled,
                tags: Tags::default(),
            })
            .collect();
        let tx = seeder.begin().await.unwrap();
        bulk::insert_members(&tx, membership, &members)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    seeder.close(Duration::from_secs(5)).await.unwrap();

    // Short statements run (a check every 10,000 steps never fires for them); a scan of the
    // workspace cannot finish within 1 ms, and is stopped.
    let token = w.token(ATTACKER, &w.one).await;
    let scan = Query {
        filter: vec![Filter {
            key_alias: Some(filter::KeyAlias::K("name".to_owned())),
            value_alias: Some(filter::ValueAlias::V(
                to_struct(&json!({"v": "no such name"})).fields["v"].clone(),
            )),
            operator_alias: Some(filter::OperatorAlias::O("contain".to_owned())),
        }],
        ..Default::default()
    };
    assert_status(
        w.list(&token, scan).await,
        Code::Unavailable,
        "ERROR_SERVER_BUSY",
        &["statement timeout"],
    );
    get_profile(&w.app, &token)
        .await
        .expect("a short call still works");
}
