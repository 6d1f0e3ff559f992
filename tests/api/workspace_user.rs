//! WorkspaceUser as its callers see it: create, get, find, list and stat in the workspace
//! their token names, the role rules, and membership through direct, group and `*`
//! bindings.

use std::sync::Arc;

use spaceid::pb::{
    core::{Filter, Page, Query, Sort, StatisticsQuery, filter},
    identity::{
        AuthType, CreateWorkspaceUserRequest, WorkspaceUserFindRequest, WorkspaceUserInfo,
        WorkspaceUserRequest, WorkspaceUserSearchQuery, WorkspaceUserStatQuery, WorkspaceUsersInfo,
        grant_token_request::Scope, role_binding_info,
    },
};
use tonic::Code;

use crate::helpers::*;

const OWNER_ROLE: &str = "managed-workspace-owner";
const MEMBER_ROLE: &str = "managed-workspace-member";

/// A domain with two workspaces: `one` (an owner, a member, a `*` member) and `two` (its
/// own owner), a user bound nowhere, and a second domain.
struct World {
    app: TestApp,
    acme: TestDomain,
    one: String,
    two: String,
    other: TestDomain,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let one = app.workspace(&acme, "One").await.workspace_id.into_string();
    let two = app.workspace(&acme, "Two").await.workspace_id.into_string();
    for user in [
        "owner@acme.test",
        "member@acme.test",
        "everywhere@acme.test",
        "plain@acme.test",
        "owner2@acme.test",
    ] {
        app.user(&acme, user).await;
    }
    app.bind(&acme, "owner@acme.test", OWNER_ROLE, Some(&one))
        .await;
    app.bind(&acme, "member@acme.test", MEMBER_ROLE, Some(&one))
        .await;
    app.bind(&acme, "everywhere@acme.test", MEMBER_ROLE, None)
        .await;
    app.bind(&acme, "owner2@acme.test", OWNER_ROLE, Some(&two))
        .await;
    let other = app.domain("globex").await;
    World {
        app,
        acme,
        one,
        two,
        other,
    }
}

impl World {
    async fn workspace_token(&self, user_id: &str, workspace_id: &str) -> String {
        self.app
            .scoped_token(
                &self.acme.domain_id,
                user_id,
                Scope::Workspace,
                workspace_id,
            )
            .await
            .expect("grant a workspace token")
            .access_token
    }

    async fn admin_token(&self) -> String {
        self.app
            .scoped_token(&self.acme.domain_id, &self.acme.admin_id, Scope::Domain, "")
            .await
            .expect("grant a domain token")
            .access_token
    }

    async fn list(
        &self,
        token: &str,
        request: WorkspaceUserSearchQuery,
    ) -> Result<WorkspaceUsersInfo, tonic::Status> {
        self.app
            .workspace_user()
            .await
            .list(authed(request, token))
            .await
            .map(tonic::Response::into_inner)
    }

    async fn create(
        &self,
        token: &str,
        request: CreateWorkspaceUserRequest,
    ) -> Result<WorkspaceUserInfo, tonic::Status> {
        self.app
            .workspace_user()
            .await
            .create(authed(request, token))
            .await
            .map(tonic::Response::into_inner)
    }
}

fn new_member(user_id: &str) -> CreateWorkspaceUserRequest {
    CreateWorkspaceUserRequest {
        user_id: user_id.to_owned(),
        password: PASSWORD.to_owned(),
        name: "New Member".to_owned(),
        email: user_id.to_owned(),
        auth_type: AuthType::Local as i32,
        language: "en".to_owned(),
        timezone: "UTC".to_owned(),
        tags: Some(to_struct(&serde_json::json!({"team": "core"}))),
        reset_password: false,
        role_id: MEMBER_ROLE.to_owned(),
    }
}

fn ids(info: &WorkspaceUsersInfo) -> Vec<&str> {
    info.results.iter().map(|u| u.user_id.as_str()).collect()
}

fn condition(key: &str, operator: &str, value: serde_json::Value) -> Filter {
    let wrapped = to_struct(&serde_json::json!({ "v": value }));
    Filter {
        key_alias: Some(filter::KeyAlias::K(key.to_owned())),
        value_alias: Some(filter::ValueAlias::V(wrapped.fields["v"].clone())),
        operator_alias: Some(filter::OperatorAlias::O(operator.to_owned())),
    }
}

#[tokio::test]
async fn list_shows_direct_and_domain_wide_members_with_their_bindings() {
    let w = world().await;
    let token = w.workspace_token("member@acme.test", &w.one).await;
    let info = w
        .list(&token, WorkspaceUserSearchQuery::default())
        .await
        .unwrap();
    assert_eq!(
        ids(&info),
        [
            "everywhere@acme.test",
            "member@acme.test",
            "owner@acme.test"
        ]
    );
    assert_eq!(info.total_count, 3);
    let everywhere = &info.results[0];
    let binding = everywhere.role_binding_info.as_ref().unwrap();
    assert_eq!(binding.workspace_id, "*");
    assert_eq!(
        binding.role_type(),
        role_binding_info::RoleType::WorkspaceMember
    );
    assert_eq!(everywhere.domain_id, w.acme.domain_id);
    let owner = &info.results[2];
    let binding = owner.role_binding_info.as_ref().unwrap();
    assert_eq!(binding.workspace_id, w.one);
    assert_eq!(binding.role_id, OWNER_ROLE);
    assert_eq!(binding.user_id, "owner@acme.test");
    assert_eq!(
        binding.resource_group(),
        role_binding_info::ResourceGroup::Workspace
    );

    let owners = w
        .list(
            &token,
            WorkspaceUserSearchQuery {
                role_type: "WORKSPACE_OWNER".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&owners), ["owner@acme.test"]);
    assert_eq!(owners.total_count, 1);

    // The second workspace sees its own owner and the `*` member, never workspace one's.
    let two = w.workspace_token("owner2@acme.test", &w.two).await;
    let info = w
        .list(&two, WorkspaceUserSearchQuery::default())
        .await
        .unwrap();
    assert_eq!(ids(&info), ["everywhere@acme.test", "owner2@acme.test"]);
}

#[tokio::test]
async fn list_pages_sorts_and_filters_with_a_query() {
    let w = world().await;
    let token = w.workspace_token("owner@acme.test", &w.one).await;
    let page = |start, limit| WorkspaceUserSearchQuery {
        query: Some(Query {
            sort: vec![Sort {
                key: "user_id".into(),
                desc: true,
            }],
            page: Some(Page { start, limit }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let first = w.list(&token, page(1, 2)).await.unwrap();
    assert_eq!(ids(&first), ["owner@acme.test", "member@acme.test"]);
    assert_eq!(first.total_count, 3);
    let second = w.list(&token, page(3, 2)).await.unwrap();
    assert_eq!(ids(&second), ["everywhere@acme.test"]);
    assert_eq!(second.total_count, 3);

    let filtered = w
        .list(
            &token,
            WorkspaceUserSearchQuery {
                query: Some(Query {
                    filter: vec![condition("user_id", "contain", "MEMBER".into())],
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&filtered), ["member@acme.test"]);
    assert_eq!(filtered.total_count, 1);

    let err = w
        .list(
            &token,
            WorkspaceUserSearchQuery {
                query: Some(Query {
                    filter: vec![condition("password_hash", "eq", "x".into())],
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await;
    assert_status(err, Code::InvalidArgument, "ERROR_", &["password_hash"]);
}

#[tokio::test]
async fn a_filter_or_cannot_reach_outside_the_workspace() {
    let w = world().await;
    let token = w.workspace_token("owner@acme.test", &w.one).await;
    let info = w
        .list(
            &token,
            WorkspaceUserSearchQuery {
                query: Some(Query {
                    filter_or: vec![
                        condition("user_id", "eq", "owner2@acme.test".into()),
                        condition("user_id", "eq", "plain@acme.test".into()),
                        condition("user_id", "eq", "member@acme.test".into()),
                    ],
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&info), ["member@acme.test"]);
    assert_eq!(info.total_count, 1);
}

#[tokio::test]
async fn get_finds_members_only() {
    let w = world().await;
    let token = w.workspace_token("member@acme.test", &w.one).await;
    let client = || async { w.app.workspace_user().await };
    let get = |user_id: &str| WorkspaceUserRequest {
        user_id: user_id.to_owned(),
        workspace_id: String::new(),
    };
    let owner = client()
        .await
        .get(authed(get("owner@acme.test"), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(owner.role_binding_info.unwrap().role_id, OWNER_ROLE);
    let everywhere = client()
        .await
        .get(authed(get("everywhere@acme.test"), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(everywhere.role_binding_info.unwrap().workspace_id, "*");
    for outsider in ["plain@acme.test", "owner2@acme.test", "nobody@acme.test"] {
        let result = client().await.get(authed(get(outsider), &token)).await;
        assert_status(result, Code::NotFound, "ERROR_NOT_FOUND", &[outsider]);
    }
    let result = client().await.get(authed(get(""), &token)).await;
    assert_status(
        result,
        Code::InvalidArgument,
        "ERROR_REQUIRED_PARAMETER",
        &["user_id"],
    );
}

#[tokio::test]
async fn find_shows_domain_users_outside_the_workspace() {
    let w = world().await;
    w.app.user(&w.acme, "Plain.Two@acme.test").await;
    w.app.user(&w.acme, "percent%x@acme.test").await;
    let token = w.workspace_token("owner@acme.test", &w.one).await;
    let find = |keyword: &str, page: Option<Page>| WorkspaceUserFindRequest {
        keyword: keyword.to_owned(),
        state: 0,
        auth_type: 0,
        page,
        workspace_id: String::new(),
    };
    let run = |request| async {
        w.app
            .workspace_user()
            .await
            .find(authed(request, &token))
            .await
            .unwrap()
            .into_inner()
    };
    let found = run(find("PLAIN", None)).await;
    let ids: Vec<_> = found.results.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(ids, ["Plain.Two@acme.test", "plain@acme.test"]);
    assert_eq!(found.total_count, 2);

    let everyone = run(find("", None)).await;
    let ids: Vec<_> = everyone
        .results
        .iter()
        .map(|u| u.user_id.as_str())
        .collect();
    // Members of `one`, including the `*` member, are not found; the admin and the owner
    // of `two` are.
    assert_eq!(
        ids,
        [
            "Plain.Two@acme.test",
            "admin@acme.test",
            "owner2@acme.test",
            "percent%x@acme.test",
            "plain@acme.test"
        ]
    );
    let paged = run(find("", Some(Page { start: 2, limit: 2 }))).await;
    let ids: Vec<_> = paged.results.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(ids, ["admin@acme.test", "owner2@acme.test"]);
    assert_eq!(paged.total_count, 5);

    let literal = run(find("%x", None)).await;
    assert_eq!(literal.total_count, 1, "{literal:?}");
    let underscore = run(find("_", None)).await;
    assert_eq!(underscore.total_count, 0, "{underscore:?}");
}

#[tokio::test]
async fn stat_groups_members_by_state() {
    let w = world().await;
    disable(&w.app, &w.acme.domain_id, "member@acme.test").await;
    let token = w.workspace_token("owner@acme.test", &w.one).await;
    let mut query = StatisticsQuery {
        aggregate: vec![group_by_state()],
        ..Default::default()
    };
    query
        .aggregate
        .push(spaceid::pb::core::StatisticsAggregate {
            aggregate_alias: Some(
                spaceid::pb::core::statistics_aggregate::AggregateAlias::Sort(
                    prost_types::ListValue {
                        values: vec![prost_types::Value {
                            kind: Some(prost_types::value::Kind::StructValue(to_struct(
                                &serde_json::json!({"key": "state"}),
                            ))),
                        }],
                    },
                ),
            ),
        });
    let answer = w
        .app
        .workspace_user()
        .await
        .stat(authed(
            WorkspaceUserStatQuery {
                query: Some(query),
                workspace_id: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let json = struct_json(&answer);
    assert_eq!(
        json,
        serde_json::json!({"results": [
            {"state": "DISABLED", "count": 1},
            {"state": "ENABLED", "count": 2},
        ]})
    );
}

fn group_by_state() -> spaceid::pb::core::StatisticsAggregate {
    count_by("state", "state")
}

/// A Struct as JSON, whole numbers as integers.
fn struct_json(value: &prost_types::Struct) -> serde_json::Value {
    fn convert(value: &prost_types::Value) -> serde_json::Value {
        use prost_types::value::Kind;
        match &value.kind {
            Some(Kind::NumberValue(n)) if n.fract() == 0.0 => serde_json::json!(*n as i64),
            Some(Kind::NumberValue(n)) => serde_json::json!(n),
            Some(Kind::StringValue(s)) => serde_json::json!(s),
            Some(Kind::BoolValue(b)) => serde_json::json!(b),
            Some(Kind::ListValue(list)) => list.values.iter().map(convert).collect(),
            Some(Kind::StructValue(s)) => struct_json(s),
            Some(Kind::NullValue(_)) | None => serde_json::Value::Null,
        }
    }
    serde_json::Value::Object(
        value
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), convert(v)))
            .collect(),
    )
}

#[tokio::test]
async fn create_makes_the_user_and_its_binding_in_the_workspace() {
    let w = world().await;
    let token = w.workspace_token("owner@acme.test", &w.one).await;
    let created = w.create(&token, new_member("new@acme.test")).await.unwrap();
    assert_eq!(created.user_id, "new@acme.test");
    assert_eq!(created.name, "New Member");
    assert_eq!(created.domain_id, w.acme.domain_id);
    let binding = created.role_binding_info.unwrap();
    assert_eq!(binding.workspace_id, w.one);
    assert_eq!(binding.role_id, MEMBER_ROLE);
    assert!(binding.role_binding_id.starts_with("rb-"), "{binding:?}");
    // The new user signs in and enters the workspace as a member.
    let granted = w
        .app
        .scoped_token(&w.acme.domain_id, "new@acme.test", Scope::Workspace, &w.one)
        .await
        .unwrap();
    assert_eq!(
        granted.role_type(),
        spaceid::pb::identity::grant_token_info::RoleType::WorkspaceMember
    );
    let again = w.create(&token, new_member("NEW@acme.test")).await;
    assert_status(
        again,
        Code::AlreadyExists,
        "ERROR_NOT_UNIQUE",
        &["NEW@acme.test"],
    );
}

#[tokio::test]
async fn twenty_racing_creates_of_one_user_make_one_user_and_one_binding() {
    let w = Arc::new(world().await);
    let token = w.workspace_token("owner@acme.test", &w.one).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (w, token, barrier) = (w.clone(), token.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = w.app.workspace_user().await;
            barrier.wait().await;
            client
                .create(authed(new_member("race@acme.test"), &token))
                .await
                .map(|_| ())
                .map_err(|status| status.code())
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => created += 1,
            Err(code) => assert_eq!(code, Code::AlreadyExists),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(
        w.app
            .count("SELECT COUNT(*) FROM users WHERE user_id = 'race@acme.test'")
            .await,
        1
    );
    assert_eq!(
        w.app
            .count("SELECT COUNT(*) FROM role_bindings WHERE user_id = 'race@acme.test'")
            .await,
        1
    );
}

#[tokio::test]
async fn create_refuses_what_a_workspace_user_cannot_be() {
    let w = world().await;
    let token = w.workspace_token("owner@acme.test", &w.one).await;
    let cases: Vec<(CreateWorkspaceUserRequest, Code, &str)> = vec![
        (
            CreateWorkspaceUserRequest {
                role_id: "managed-domain-admin".into(),
                ..new_member("a@acme.test")
            },
            Code::InvalidArgument,
            "role_id",
        ),
        (
            CreateWorkspaceUserRequest {
                role_id: "no-such-role".into(),
                ..new_member("b@acme.test")
            },
            Code::NotFound,
            "no-such-role",
        ),
        (
            CreateWorkspaceUserRequest {
                role_id: String::new(),
                ..new_member("c@acme.test")
            },
            Code::InvalidArgument,
            "role_id",
        ),
        (
            CreateWorkspaceUserRequest {
                password: String::new(),
                ..new_member("d@acme.test")
            },
            Code::InvalidArgument,
            "password",
        ),
        (
            CreateWorkspaceUserRequest {
                password: "short".into(),
                ..new_member("e@acme.test")
            },
            Code::InvalidArgument,
            "password",
        ),
        (
            CreateWorkspaceUserRequest {
                auth_type: AuthType::External as i32,
                ..new_member("f@acme.test")
            },
            Code::InvalidArgument,
            "password",
        ),
        (
            CreateWorkspaceUserRequest {
                auth_type: 0,
                ..new_member("g@acme.test")
            },
            Code::InvalidArgument,
            "auth_type",
        ),
        (
            CreateWorkspaceUserRequest {
                reset_password: true,
                ..new_member("h@acme.test")
            },
            Code::InvalidArgument,
            "password",
        ),
        (
            CreateWorkspaceUserRequest {
                timezone: "Mars/Olympus".into(),
                ..new_member("i@acme.test")
            },
            Code::InvalidArgument,
            "timezone",
        ),
    ];
    for (request, code, word) in cases {
        let user_id = request.user_id.clone();
        let result = w.create(&token, request).await;
        assert_status(result, code, "ERROR_", &[word]);
        assert_eq!(
            w.app
                .count(&format!(
                    "SELECT COUNT(*) FROM users WHERE user_id = '{user_id}'"
                ))
                .await,
            0,
            "{user_id} must not exist"
        );
    }
    // An EXTERNAL user has no password.
    let external = CreateWorkspaceUserRequest {
        auth_type: AuthType::External as i32,
        password: String::new(),
        ..new_member("external@acme.test")
    };
    w.create(&token, external).await.unwrap();
}

#[tokio::test]
async fn create_with_reset_password_mails_an_invitation_and_requires_a_new_password() {
    let w = world().await;
    let token = w.workspace_token("owner@acme.test", &w.one).await;
    let request = CreateWorkspaceUserRequest {
        password: String::new(),
        reset_password: true,
        ..new_member("invited@acme.test")
    };
    w.create(&token, request).await.unwrap();
    let mails = w.app.outbox_mails();
    let mail = mails
        .iter()
        .find(|m| m.to == "invited@acme.test")
        .expect("an invitation in the outbox");
    assert!(mail.text.contains("reset-password?token="), "{}", mail.text);
    let user = spaceid::testing::store::users::get(
        &w.app.ctx.store,
        &w.acme.id(),
        &"invited@acme.test".into(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(user.must_update_password());
    assert!(user.password_hash.is_none());
    let no_email = CreateWorkspaceUserRequest {
        password: String::new(),
        email: String::new(),
        reset_password: true,
        ..new_member("noemail@acme.test")
    };
    assert_status(
        w.create(&token, no_email).await,
        Code::InvalidArgument,
        "ERROR_REQUIRED_PARAMETER",
        &["email"],
    );
}

/// Every WorkspaceUser call for every kind of caller.
#[tokio::test]
async fn the_auth_matrix() {
    let w = world().await;
    let app = &w.app;
    let admin = w.admin_token().await;
    let owner = w.workspace_token("owner@acme.test", &w.one).await;
    let admin_in_one = w.workspace_token(&w.acme.admin_id, &w.one).await;
    let member = w.workspace_token("member@acme.test", &w.one).await;
    let plain = app
        .scoped_token(&w.acme.domain_id, "plain@acme.test", Scope::User, "")
        .await
        .unwrap()
        .access_token;
    let other_owner = w.workspace_token("owner2@acme.test", &w.two).await;
    let foreign_admin = app
        .scoped_token(&w.other.domain_id, &w.other.admin_id, Scope::Domain, "")
        .await
        .unwrap()
        .access_token;
    let refresh = app
        .issue(&w.acme.domain_id, "owner@acme.test", PASSWORD)
        .await
        .unwrap()
        .refresh_token;

    // (caller, token, read outcome, create outcome); reads name workspace one explicitly.
    type Outcome = Result<(), Code>;
    let callers: Vec<(&str, Option<&str>, Outcome, Outcome)> = vec![
        (
            "domain admin",
            Some(&admin),
            Ok(()),
            Err(Code::InvalidArgument),
        ),
        ("owner", Some(&owner), Ok(()), Ok(())),
        (
            "domain admin (workspace token)",
            Some(&admin_in_one),
            Ok(()),
            Ok(()),
        ),
        ("member", Some(&member), Ok(()), Err(Code::PermissionDenied)),
        (
            "plain user",
            Some(&plain),
            Err(Code::PermissionDenied),
            Err(Code::PermissionDenied),
        ),
        (
            "owner of another workspace",
            Some(&other_owner),
            Err(Code::PermissionDenied),
            Ok(()),
        ),
        (
            "admin of another domain",
            Some(&foreign_admin),
            Err(Code::NotFound),
            Err(Code::InvalidArgument),
        ),
        (
            "refresh token",
            Some(&refresh),
            Err(Code::Unauthenticated),
            Err(Code::Unauthenticated),
        ),
        (
            "no token",
            None,
            Err(Code::Unauthenticated),
            Err(Code::Unauthenticated),
        ),
    ];
    for (n, (who, token, read, create)) in callers.into_iter().enumerate() {
        let mut client = app.workspace_user().await;
        let outcome = |result: Result<(), tonic::Status>| result.map_err(|s| s.code());
        let get = client
            .get(with_token(
                token,
                WorkspaceUserRequest {
                    user_id: "member@acme.test".into(),
                    workspace_id: w.one.clone(),
                },
            ))
            .await
            .map(|_| ());
        assert_eq!(outcome(get), read, "get by {who}");
        let list = client
            .list(with_token(
                token,
                WorkspaceUserSearchQuery {
                    workspace_id: w.one.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(|_| ());
        assert_eq!(outcome(list), read, "list by {who}");
        let find = client
            .find(with_token(
                token,
                WorkspaceUserFindRequest {
                    workspace_id: w.one.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(|_| ());
        assert_eq!(outcome(find), read, "find by {who}");
        let mut stat = StatisticsQuery::default();
        stat.aggregate.push(group_by_state());
        let stat = client
            .stat(with_token(
                token,
                WorkspaceUserStatQuery {
                    query: Some(stat),
                    workspace_id: w.one.clone(),
                },
            ))
            .await
            .map(|_| ());
        assert_eq!(outcome(stat), read, "stat by {who}");
        let created = client
            .create(with_token(token, new_member(&format!("made{n}@acme.test"))))
            .await
            .map(|_| ());
        assert_eq!(outcome(created), create, "create by {who}");
    }
}

fn with_token<T>(token: Option<&str>, message: T) -> tonic::Request<T> {
    match token {
        Some(token) => authed(message, token),
        None => tonic::Request::new(message),
    }
}

#[tokio::test]
async fn a_token_acts_with_the_binding_its_user_holds_now() {
    let w = world().await;
    let owner = w.workspace_token("owner@acme.test", &w.one).await;
    w.app
        .sql(
            &["UPDATE role_bindings SET role_type = 'WORKSPACE_MEMBER', \
                role_id = 'managed-workspace-member' WHERE user_id = 'owner@acme.test'"],
        )
        .await;
    assert_status(
        w.create(&owner, new_member("late@acme.test")).await,
        Code::PermissionDenied,
        "ERROR_PERMISSION_DENIED",
        &[],
    );
    w.app
        .sql(&["DELETE FROM role_bindings WHERE user_id = 'owner@acme.test'"])
        .await;
    assert_status(
        w.list(&owner, WorkspaceUserSearchQuery::default()).await,
        Code::PermissionDenied,
        "ERROR_PERMISSION_DENIED",
        &["member"],
    );
}

#[tokio::test]
async fn one_membership_binding_covers_a_workspace() {
    let w = world().await;
    let admin = spaceid::testing::service::admin::create_role_binding;
    // A `*` member cannot also be bound in one workspace, and a member of one workspace
    // cannot also get a `*` membership.
    let result = admin(
        &w.app.ctx,
        &w.acme.id(),
        &"everywhere@acme.test".into(),
        &OWNER_ROLE.into(),
        Some(&w.one.as_str().into()),
    )
    .await;
    assert!(
        matches!(
            result,
            Err(spaceid::testing::error::Error::AlreadyExists { .. })
        ),
        "{result:?}"
    );
    let result = admin(
        &w.app.ctx,
        &w.acme.id(),
        &"member@acme.test".into(),
        &MEMBER_ROLE.into(),
        None,
    )
    .await;
    assert!(
        matches!(
            result,
            Err(spaceid::testing::error::Error::AlreadyExists { .. })
        ),
        "{result:?}"
    );
    // A domain admin binding combines with a membership.
    w.app
        .bind(&w.acme, "member@acme.test", "managed-domain-admin", None)
        .await;
    let token = w.workspace_token("owner@acme.test", &w.one).await;
    let info = w
        .list(&token, WorkspaceUserSearchQuery::default())
        .await
        .unwrap();
    let member = info
        .results
        .iter()
        .find(|u| u.user_id == "member@acme.test")
        .unwrap();
    assert_eq!(
        member.role_type(),
        spaceid::pb::identity::workspace_user_info::RoleType::DomainAdmin
    );
    assert_eq!(info.total_count, 3);
}

#[tokio::test]
async fn the_kept_member_count_follows_every_write() {
    let w = world().await;
    let token = w.workspace_token("owner@acme.test", &w.one).await;
    for n in 0..3 {
        w.create(&token, new_member(&format!("n{n}@acme.test")))
            .await
            .unwrap();
    }
    let unfiltered = || async {
        w.list(&token, WorkspaceUserSearchQuery::default())
            .await
            .unwrap()
    };
    let info = unfiltered().await;
    assert_eq!(info.total_count, 6);
    assert_eq!(info.results.len(), 6);
    // Deleting users (their bindings go with them) and a `*` binding.
    spaceid::testing::service::admin::delete_user(&w.app.ctx, &w.acme.id(), &"n1@acme.test".into())
        .await
        .unwrap();
    spaceid::testing::service::admin::delete_user(
        &w.app.ctx,
        &w.acme.id(),
        &"everywhere@acme.test".into(),
    )
    .await
    .unwrap();
    let info = unfiltered().await;
    assert_eq!(info.results.len(), 4);
    assert_eq!(info.total_count, 4);
    let two = w.workspace_token("owner2@acme.test", &w.two).await;
    let info = w
        .list(&two, WorkspaceUserSearchQuery::default())
        .await
        .unwrap();
    assert_eq!((info.results.len(), info.total_count), (1, 1));
}

#[tokio::test]
async fn queries_that_would_fault_or_overwork_the_database_are_refused_by_name() {
    let w = world().await;
    let token = w.workspace_token("member@acme.test", &w.one).await;
    let with_filter = |filter: Vec<Filter>| WorkspaceUserSearchQuery {
        query: Some(Query {
            filter,
            ..Default::default()
        }),
        ..Default::default()
    };
    let eleven_patterns: Vec<Filter> = (0..11)
        .map(|n| condition("name", "regex", format!("^a{n}").into()))
        .collect();
    let many_values: Vec<Filter> = (0..3)
        .map(|n| {
            let values: Vec<serde_json::Value> =
                (0..400).map(|v| format!("{n}-{v}").into()).collect();
            condition("user_id", "in", values.into())
        })
        .collect();
    let cases = [
        (
            vec![condition("created_at", "datetime_lt", "-4713-01-01".into())],
            "created_at",
        ),
        (
            vec![condition("created_at", "timediff_gt", "now-999999w".into())],
            "created_at",
        ),
        (eleven_patterns, "regular expressions"),
        (many_values, "values"),
    ];
    for (filter, word) in cases {
        let result = w.list(&token, with_filter(filter)).await;
        assert_status(result, Code::InvalidArgument, "ERROR_", &[word]);
    }
    // A pattern only PostgreSQL's engine can judge: refused there, and on SQLite (which
    // takes literal patterns only) refused before it reaches the database.
    let result = w
        .list(
            &token,
            with_filter(vec![condition("user_id", "regex", "[z-a]".into())]),
        )
        .await;
    assert_status(result, Code::InvalidArgument, "ERROR_", &[]);
    let find = w
        .app
        .workspace_user()
        .await
        .find(authed(
            WorkspaceUserFindRequest {
                keyword: "\0".into(),
                ..Default::default()
            },
            &token,
        ))
        .await;
    assert_status(find, Code::InvalidArgument, "ERROR_", &["keyword"]);
}
