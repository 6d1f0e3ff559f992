//! The workspaces and workspace groups a signed-in user belongs to, and the admin commands
//! that list users, workspaces and role bindings and delete bindings.

use spaceid::{
    pb::identity::{
        MyWorkspaceGroupInfo, MyWorkspaceInfo, UserProfileRequest,
        WorkspaceGroupUserProfileRequest,
        grant_token_request::Scope,
        my_workspace_info::{RoleType, State},
        role_binding_info,
    },
    testing::{
        domain::{Name, UserState, Workspace},
        service::admin::{self, GroupMember},
    },
};
use tonic::Code;

use crate::helpers::*;

async fn my_workspaces(
    app: &TestApp,
    token: &str,
    workspace_group_id: &str,
) -> Result<(Vec<MyWorkspaceInfo>, i32), tonic::Status> {
    let request = UserProfileRequest {
        workspace_group_id: workspace_group_id.to_owned(),
    };
    let info = app
        .user_profile()
        .await
        .get_workspaces(authed(request, token))
        .await?
        .into_inner();
    Ok((info.results, info.total_count))
}

async fn my_groups(
    app: &TestApp,
    token: &str,
) -> Result<(Vec<MyWorkspaceGroupInfo>, i32), tonic::Status> {
    let info = app
        .user_profile()
        .await
        .get_workspace_groups(authed(WorkspaceGroupUserProfileRequest {}, token))
        .await?
        .into_inner();
    Ok((info.results, info.total_count))
}

/// (name, role_id, role_type) of each workspace, in the order given.
fn roles(workspaces: &[MyWorkspaceInfo]) -> Vec<(&str, &str, RoleType)> {
    workspaces
        .iter()
        .map(|w| (w.name.as_str(), w.role_id.as_str(), w.role_type()))
        .collect()
}

async fn named_user(app: &TestApp, domain: &TestDomain, user_id: &str, name: &str) {
    let mut new = new_user(user_id, Some(PASSWORD));
    new.name = Some(Name::parse(name).unwrap());
    admin::create_user(&app.ctx, &domain.id(), new)
        .await
        .expect("create user");
}

async fn group(
    app: &TestApp,
    domain: &TestDomain,
    name: &str,
    workspaces: &[&Workspace],
    members: &[(&str, &str)],
) -> String {
    let workspace_ids: Vec<_> = workspaces.iter().map(|w| w.workspace_id.clone()).collect();
    let members: Vec<GroupMember> = members
        .iter()
        .map(|(user_id, role_id)| GroupMember {
            user_id: (*user_id).into(),
            role_id: (*role_id).into(),
        })
        .collect();
    admin::create_workspace_group(&app.ctx, &domain.id(), name, &workspace_ids, &members)
        .await
        .expect("create group")
        .workspace_group_id
        .into_string()
}

async fn disable_workspace(app: &TestApp, workspace: &Workspace) {
    app.sql(&[&format!(
        "UPDATE workspaces SET state = 'DISABLED' WHERE workspace_id = '{}'",
        workspace.workspace_id
    )])
    .await;
}

#[tokio::test]
async fn a_domain_admin_sees_every_enabled_workspace_as_its_owner() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let other = app.domain("other").await;
    let two = app.workspace(&acme, "Two").await;
    let one = app.workspace(&acme, "One").await;
    let closed = app.workspace(&acme, "Closed").await;
    app.workspace(&other, "Elsewhere").await;
    disable_workspace(&app, &closed).await;

    let token = app.access_token(&acme.domain_id, &acme.admin_id).await;
    let (workspaces, total) = my_workspaces(&app, &token, "").await.unwrap();
    // By name: the disabled workspace and the other domain's are not there.
    assert_eq!(
        roles(&workspaces),
        [
            ("One", "managed-domain-admin", RoleType::WorkspaceOwner),
            ("Two", "managed-domain-admin", RoleType::WorkspaceOwner),
        ]
    );
    assert_eq!(total, 2);
    let first = &workspaces[0];
    assert_eq!(first.workspace_id, one.workspace_id);
    assert_eq!(first.role_name, "Domain Admin");
    assert_eq!(first.state(), State::Enabled);
    assert_eq!(first.domain_id, acme.domain_id);
    assert_eq!(first.created_by, "spaceid-admin");
    assert_eq!(first.created_at.len(), "2024-11-12T06:06:04.999Z".len());
    assert_eq!(workspaces[1].workspace_id, two.workspace_id);

    // What the list says is what Token.grant gives for the workspace.
    let granted = app
        .scoped_token(
            &acme.domain_id,
            &acme.admin_id,
            Scope::Workspace,
            one.workspace_id.as_str(),
        )
        .await
        .unwrap();
    assert_eq!(granted.role_id, first.role_id);
    assert_eq!(claims_of(&granted.access_token)["rol"], "WORKSPACE_OWNER");
}

#[tokio::test]
async fn owners_and_members_see_the_workspaces_they_are_bound_to_with_their_role() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let one = app.workspace(&acme, "One").await;
    let two = app.workspace(&acme, "Two").await;
    let closed = app.workspace(&acme, "Closed").await;
    app.workspace(&acme, "Unbound").await;
    app.user(&acme, "owner@acme.test").await;
    app.user(&acme, "member@acme.test").await;
    app.user(&acme, "plain@acme.test").await;
    let owner_id = "owner@acme.test";
    app.bind(
        &acme,
        owner_id,
        "managed-workspace-owner",
        Some(one.workspace_id.as_str()),
    )
    .await;
    for workspace in [&two, &one, &closed] {
        app.bind(
            &acme,
            "member@acme.test",
            "managed-workspace-member",
            Some(workspace.workspace_id.as_str()),
        )
        .await;
    }
    disable_workspace(&app, &closed).await;

    let owner = app.access_token(&acme.domain_id, owner_id).await;
    let (workspaces, total) = my_workspaces(&app, &owner, "").await.unwrap();
    assert_eq!(
        roles(&workspaces),
        [("One", "managed-workspace-owner", RoleType::WorkspaceOwner)]
    );
    assert_eq!(workspaces[0].role_name, "Workspace Owner");
    assert_eq!(total, 1);

    let member = app.access_token(&acme.domain_id, "member@acme.test").await;
    let (workspaces, total) = my_workspaces(&app, &member, "").await.unwrap();
    assert_eq!(
        roles(&workspaces),
        [
            ("One", "managed-workspace-member", RoleType::WorkspaceMember),
            ("Two", "managed-workspace-member", RoleType::WorkspaceMember),
        ]
    );
    assert_eq!(workspaces[1].role_name, "Workspace Member");
    assert_eq!(total, 2);

    let plain = app.access_token(&acme.domain_id, "plain@acme.test").await;
    assert_eq!(my_workspaces(&app, &plain, "").await.unwrap(), (vec![], 0));
}

#[tokio::test]
async fn a_domain_wide_binding_holds_in_every_workspace() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let one = app.workspace(&acme, "One").await;
    app.workspace(&acme, "Two").await;
    let closed = app.workspace(&acme, "Closed").await;
    disable_workspace(&app, &closed).await;
    let user_id = "everywhere@acme.test";
    app.user(&acme, user_id).await;
    app.bind(&acme, user_id, "managed-workspace-member", None)
        .await;
    // One membership binding covers a workspace: the `*` one already does.
    let second = spaceid::testing::service::admin::create_role_binding(
        &app.ctx,
        &acme.id(),
        &user_id.into(),
        &"managed-workspace-owner".into(),
        Some(&one.workspace_id),
    )
    .await;
    assert!(
        matches!(
            second,
            Err(spaceid::testing::error::Error::AlreadyExists { .. })
        ),
        "{second:?}"
    );

    let token = app.access_token(&acme.domain_id, user_id).await;
    let (workspaces, total) = my_workspaces(&app, &token, "").await.unwrap();
    assert_eq!(
        roles(&workspaces),
        [
            ("One", "managed-workspace-member", RoleType::WorkspaceMember),
            ("Two", "managed-workspace-member", RoleType::WorkspaceMember),
        ]
    );
    assert_eq!(total, 2);
    // A workspace created later is reached by the `*` binding too.
    app.workspace(&acme, "Three").await;
    let (workspaces, _) = my_workspaces(&app, &token, "").await.unwrap();
    let names: Vec<&str> = workspaces.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["One", "Three", "Two"]);
}

#[tokio::test]
async fn a_workspace_group_id_narrows_to_the_workspaces_of_that_group() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let one = app.workspace(&acme, "One").await;
    let two = app.workspace(&acme, "Two").await;
    let three = app.workspace(&acme, "Three").await;
    app.user(&acme, "member@acme.test").await;
    app.bind(&acme, "member@acme.test", "managed-workspace-member", None)
        .await;
    let red = group(&app, &acme, "red", &[&one, &three], &[]).await;
    let blue = group(&app, &acme, "blue", &[&two], &[]).await;

    for user_id in [acme.admin_id.as_str(), "member@acme.test"] {
        let token = app.access_token(&acme.domain_id, user_id).await;
        let (workspaces, total) = my_workspaces(&app, &token, &red).await.unwrap();
        let names: Vec<&str> = workspaces.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["One", "Three"], "{user_id}");
        assert_eq!(total, 2);
        let (workspaces, _) = my_workspaces(&app, &token, &blue).await.unwrap();
        assert_eq!(workspaces.len(), 1);
        assert_eq!(workspaces[0].workspace_id, two.workspace_id);
        assert_eq!(
            my_workspaces(&app, &token, "wg-000000000000")
                .await
                .unwrap(),
            (vec![], 0)
        );
    }
}

#[tokio::test]
async fn who_is_a_domain_admin_is_read_from_the_bindings_at_the_time_of_the_call() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let one = app.workspace(&acme, "One").await;
    app.workspace(&acme, "Two").await;
    let user_id = "rising@acme.test";
    app.user(&acme, user_id).await;
    app.bind(
        &acme,
        user_id,
        "managed-workspace-member",
        Some(one.workspace_id.as_str()),
    )
    .await;
    // A token whose `rol` is USER, taken before the user became a domain admin.
    let token = app.access_token(&acme.domain_id, user_id).await;
    assert_eq!(claims_of(&token)["rol"], "USER");
    assert_eq!(my_workspaces(&app, &token, "").await.unwrap().1, 1);

    let admin_binding = app.bind(&acme, user_id, "managed-domain-admin", None).await;
    let (workspaces, total) = my_workspaces(&app, &token, "").await.unwrap();
    assert_eq!(total, 2);
    assert!(
        workspaces
            .iter()
            .all(|w| w.role_id == "managed-domain-admin")
    );

    admin::delete_role_binding(&app.ctx, &acme.id(), &admin_binding.role_binding_id)
        .await
        .unwrap();
    let (workspaces, _) = my_workspaces(&app, &token, "").await.unwrap();
    assert_eq!(
        roles(&workspaces),
        [("One", "managed-workspace-member", RoleType::WorkspaceMember)]
    );
}

#[tokio::test]
async fn workspace_groups_come_with_their_members_names_and_states_and_the_callers_binding() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let one = app.workspace(&acme, "One").await;
    let two = app.workspace(&acme, "Two").await;
    named_user(&app, &acme, "ann@acme.test", "Ann").await;
    named_user(&app, &acme, "bob@acme.test", "Bob").await;
    named_user(&app, &acme, "cid@acme.test", "Cid").await;
    let red = group(
        &app,
        &acme,
        "red",
        &[&one],
        &[
            ("bob@acme.test", "managed-workspace-member"),
            ("ann@acme.test", "managed-workspace-owner"),
        ],
    )
    .await;
    let blue = group(
        &app,
        &acme,
        "blue",
        &[&two],
        &[("cid@acme.test", "managed-workspace-member")],
    )
    .await;
    let ann = app.access_token(&acme.domain_id, "ann@acme.test").await;
    disable(&app, &acme.domain_id, "bob@acme.test").await;

    let (groups, total) = my_groups(&app, &ann).await.unwrap();
    assert_eq!(total, 1);
    let mine = &groups[0];
    assert_eq!(mine.workspace_group_id, red);
    assert_eq!(mine.name, "red");
    assert_eq!(mine.domain_id, acme.domain_id);
    let users: Vec<(&str, &str, &str, &str, &str)> = mine
        .users
        .iter()
        .map(|u| {
            (
                u.user_id.as_str(),
                u.user_name.as_str(),
                u.state.as_str(),
                u.role_id.as_str(),
                u.role_type.as_str(),
            )
        })
        .collect();
    assert_eq!(
        users,
        [
            (
                "ann@acme.test",
                "Ann",
                "ENABLED",
                "managed-workspace-owner",
                "WORKSPACE_OWNER"
            ),
            (
                "bob@acme.test",
                "Bob",
                "DISABLED",
                "managed-workspace-member",
                "WORKSPACE_MEMBER"
            ),
        ]
    );
    let binding = mine.role_binding_info.as_ref().expect("ann's binding");
    assert_eq!(binding.user_id, "ann@acme.test");
    assert_eq!(binding.workspace_group_id, red);
    assert_eq!(binding.workspace_id, one.workspace_id);
    assert_eq!(binding.role_id, "managed-workspace-owner");
    assert_eq!(
        binding.role_type(),
        role_binding_info::RoleType::WorkspaceOwner
    );
    assert_eq!(
        binding.resource_group(),
        role_binding_info::ResourceGroup::Workspace
    );
    assert!(binding.role_binding_id.starts_with("rb-"));

    // A domain admin sees every group, by name, with no binding where it has none.
    let admin = app.access_token(&acme.domain_id, &acme.admin_id).await;
    let (groups, total) = my_groups(&app, &admin).await.unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["blue", "red"]);
    assert_eq!(total, 2);
    assert_eq!(groups[0].workspace_group_id, blue);
    assert_eq!(groups[0].users.len(), 1);
    assert_eq!(groups[0].users[0].user_name, "Cid");
    assert!(groups.iter().all(|g| g.role_binding_info.is_none()));

    app.user(&acme, "plain@acme.test").await;
    let plain = app.access_token(&acme.domain_id, "plain@acme.test").await;
    assert_eq!(my_groups(&app, &plain).await.unwrap(), (vec![], 0));
}

#[tokio::test]
async fn both_calls_need_a_token_that_allows_reading_the_profile() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let mut client = app.user_profile().await;
    assert_status(
        client.get_workspaces(UserProfileRequest::default()).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
    assert_status(
        client
            .get_workspace_groups(WorkspaceGroupUserProfileRequest {})
            .await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
    assert_status(
        my_workspaces(&app, "not-a-token", "").await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );

    // A token narrowed to other calls may not read workspaces.
    let refresh = app
        .issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .unwrap()
        .refresh_token;
    let mut request = grant_request(&refresh, Scope::User, "");
    request.permissions = vec!["identity:WorkspaceUser".into()];
    let narrowed = app
        .token()
        .await
        .grant(request)
        .await
        .unwrap()
        .into_inner()
        .access_token;
    assert_status(
        my_workspaces(&app, &narrowed, "").await,
        Code::PermissionDenied,
        "ERROR_PERMISSION_DENIED",
        &["identity:UserProfile.read"],
    );
    assert_status(
        my_groups(&app, &narrowed).await,
        Code::PermissionDenied,
        "ERROR_PERMISSION_DENIED",
        &[],
    );
}

#[tokio::test]
async fn the_cli_lists_users_workspaces_and_role_bindings() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let other = app.domain("other").await;
    let ops = app.workspace(&acme, "ops").await;
    let dev = app.workspace(&acme, "dev").await;
    disable_workspace(&app, &dev).await;
    app.workspace(&other, "elsewhere").await;
    app.user(&acme, "bob@acme.test").await;
    app.user(&other, "eve@other.test").await;
    let bob_ops = app
        .bind(
            &acme,
            "bob@acme.test",
            "managed-workspace-owner",
            Some(ops.workspace_id.as_str()),
        )
        .await;
    let bob_all = app
        .bind(&acme, "bob@acme.test", "managed-domain-admin", None)
        .await;
    let d = acme.domain_id.as_str();

    let users = json_of(&spaceid(&app, &["user", "list", "--domain-id", d]));
    let ids: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [acme.admin_id.as_str(), "bob@acme.test"]);
    let mut keys: Vec<&str> = users[1]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "auth_type",
            "created_at",
            "domain_id",
            "email",
            "name",
            "required_actions",
            "state",
            "user_id"
        ]
    );
    let text = String::from_utf8(spaceid(&app, &["user", "list", "--domain-id", d]).stdout)
        .unwrap()
        .to_lowercase();
    for secret in ["hash", "$2", "mfa", "secret", "credential", "account_id"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }

    let workspaces = json_of(&spaceid(&app, &["workspace", "list", "--domain-id", d]));
    let listed: Vec<(&str, &str)> = workspaces
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["name"].as_str().unwrap(), w["state"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, [("dev", "DISABLED"), ("ops", "ENABLED")]);
    assert_eq!(workspaces[1]["workspace_id"], ops.workspace_id.as_str());

    let all = json_of(&spaceid(&app, &["role-binding", "list", "--domain-id", d]));
    assert_eq!(all.as_array().unwrap().len(), 3, "{all}");
    assert_eq!(all[0]["role_id"], "managed-domain-admin");
    let bob = json_of(&spaceid(
        &app,
        &[
            "role-binding",
            "list",
            "--domain-id",
            d,
            "--user-id",
            "bob@acme.test",
        ],
    ));
    let bob_ids: Vec<&str> = bob
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["role_binding_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        bob_ids,
        [
            bob_ops.role_binding_id.as_str(),
            bob_all.role_binding_id.as_str()
        ]
    );
    let in_ops = json_of(&spaceid(
        &app,
        &[
            "role-binding",
            "list",
            "--domain-id",
            d,
            "--user-id",
            "bob@acme.test",
            "--workspace-id",
            ops.workspace_id.as_str(),
        ],
    ));
    assert_eq!(in_ops.as_array().unwrap().len(), 1);
    assert_eq!(in_ops[0]["role_type"], "WORKSPACE_OWNER");
    assert_eq!(in_ops[0]["workspace_id"], ops.workspace_id.as_str());

    let output = spaceid(
        &app,
        &["user", "list", "--domain-id", "domain-000000000000"],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("domain-000000000000"));
}

#[tokio::test]
async fn a_deleted_role_binding_no_longer_grants_its_workspace() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let other = app.domain("other").await;
    let ops = app.workspace(&acme, "ops").await;
    app.user(&acme, "bob@acme.test").await;
    let binding = app
        .bind(
            &acme,
            "bob@acme.test",
            "managed-workspace-member",
            Some(ops.workspace_id.as_str()),
        )
        .await;
    app.scoped_token(
        &acme.domain_id,
        "bob@acme.test",
        Scope::Workspace,
        ops.workspace_id.as_str(),
    )
    .await
    .expect("bound: granted");

    // Another domain cannot delete it.
    let output = spaceid(
        &app,
        &[
            "role-binding",
            "delete",
            "--domain-id",
            &other.domain_id,
            binding.role_binding_id.as_str(),
        ],
    );
    assert!(!output.status.success());

    let deleted = json_of(&spaceid(
        &app,
        &[
            "role-binding",
            "delete",
            "--domain-id",
            &acme.domain_id,
            binding.role_binding_id.as_str(),
        ],
    ));
    assert_eq!(
        deleted,
        serde_json::json!({"role_binding_id": binding.role_binding_id, "deleted": true})
    );
    assert_status(
        app.scoped_token(
            &acme.domain_id,
            "bob@acme.test",
            Scope::Workspace,
            ops.workspace_id.as_str(),
        )
        .await,
        Code::PermissionDenied,
        "ERROR_PERMISSION_DENIED",
        &[],
    );
    let token = app.access_token(&acme.domain_id, "bob@acme.test").await;
    assert_eq!(my_workspaces(&app, &token, "").await.unwrap(), (vec![], 0));

    // A second delete: one NOT_FOUND line and a failing exit.
    let again = spaceid(
        &app,
        &[
            "role-binding",
            "delete",
            "--domain-id",
            &acme.domain_id,
            binding.role_binding_id.as_str(),
        ],
    );
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("not found"), "{stderr}");
    assert!(
        lines[0].contains(binding.role_binding_id.as_str()),
        "{stderr}"
    );
}

#[tokio::test]
async fn deleting_a_binding_leaves_the_users_state_and_other_bindings_alone() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let ops = app.workspace(&acme, "ops").await;
    let dev = app.workspace(&acme, "dev").await;
    app.user(&acme, "bob@acme.test").await;
    let in_ops = app
        .bind(
            &acme,
            "bob@acme.test",
            "managed-workspace-member",
            Some(ops.workspace_id.as_str()),
        )
        .await;
    app.bind(
        &acme,
        "bob@acme.test",
        "managed-workspace-owner",
        Some(dev.workspace_id.as_str()),
    )
    .await;
    let removed = admin::delete_role_binding(&app.ctx, &acme.id(), &in_ops.role_binding_id)
        .await
        .unwrap();
    assert_eq!(removed.role_binding_id, in_ops.role_binding_id);
    assert_eq!(removed.workspace_id, ops.workspace_id);
    let left = admin::list_role_bindings(&app.ctx, &acme.id(), Some(&"bob@acme.test".into()), None)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].workspace_id, dev.workspace_id);
    let users = admin::list_users(&app.ctx, &acme.id()).await.unwrap();
    let bob = users.iter().find(|u| u.user_id == "bob@acme.test").unwrap();
    assert_eq!(bob.state, UserState::Enabled);
    assert!(users.iter().any(|u| u.is_domain_admin()));
}
