//! The admin command line, run as a user would run it, on the same database as the server.

use std::process::Output;

use tonic::Code;

use crate::helpers::*;

pub(crate) fn one_error_line(output: &Output) -> String {
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    lines[0].to_owned()
}

#[tokio::test]
async fn a_domain_bootstrapped_by_the_cli_can_sign_in_at_the_server() {
    let app = TestApp::spawn().await;
    let init = json_of(&spaceid(
        &app,
        &[
            "init",
            "--domain-name",
            "acme",
            "--admin-user-id",
            "root@acme.test",
            "--admin-password",
            PASSWORD,
        ],
    ));
    let domain_id = init["domain_id"].as_str().unwrap().to_owned();
    assert!(
        domain_id.starts_with("domain-") && domain_id.len() == 19,
        "{domain_id}"
    );

    let ws = json_of(&spaceid(
        &app,
        &[
            "workspace",
            "create",
            "--domain-id",
            &domain_id,
            "--name",
            "ops",
        ],
    ));
    let workspace_id = ws["workspace_id"].as_str().unwrap().to_owned();
    json_of(&spaceid(
        &app,
        &[
            "user",
            "create",
            "--domain-id",
            &domain_id,
            "--user-id",
            "bob@acme.test",
            "--password",
            PASSWORD,
        ],
    ));
    let rb = json_of(&spaceid(
        &app,
        &[
            "role-binding",
            "create",
            "--domain-id",
            &domain_id,
            "--user-id",
            "bob@acme.test",
            "--role-id",
            "managed-workspace-owner",
            "--workspace-id",
            &workspace_id,
        ],
    ));
    assert_eq!(rb["role_type"], "WORKSPACE_OWNER");
    let group = json_of(&spaceid(
        &app,
        &[
            "workspace-group",
            "create",
            "--domain-id",
            &domain_id,
            "--name",
            "platform",
            "--workspace-id",
            &workspace_id,
            "--member",
            "root@acme.test=managed-workspace-member",
        ],
    ));
    assert!(
        group["workspace_group_id"]
            .as_str()
            .unwrap()
            .starts_with("wg-")
    );

    let granted = app
        .scoped_token(
            &domain_id,
            "bob@acme.test",
            spaceid::pb::identity::grant_token_request::Scope::Workspace,
            &workspace_id,
        )
        .await
        .unwrap();
    assert_eq!(claims_of(&granted.access_token)["rol"], "WORKSPACE_OWNER");
}

#[tokio::test]
async fn bad_arguments_get_one_line_and_a_failing_exit() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let line = one_error_line(&spaceid(
        &app,
        &[
            "init",
            "--domain-name",
            "x",
            "--admin-user-id",
            "a@x.test",
            "--admin-password",
            "weak",
        ],
    ));
    assert!(line.contains("password"), "{line}");

    let line = one_error_line(&spaceid(&app, &["init", "--domain-name", "x"]));
    assert!(line.contains("--admin-user-id"), "{line}");

    let line = one_error_line(&spaceid(&app, &["frobnicate"]));
    assert!(line.contains("frobnicate"), "{line}");

    let line = one_error_line(&spaceid(
        &app,
        &[
            "role-binding",
            "create",
            "--domain-id",
            &acme.domain_id,
            "--user-id",
            "ghost",
            "--role-id",
            "managed-workspace-member",
        ],
    ));
    assert!(line.contains("ghost"), "{line}");

    let line = one_error_line(&spaceid(
        &app,
        &[
            "user",
            "create",
            "--domain-id",
            &acme.domain_id,
            "--user-id",
            &acme.admin_id,
            "--password",
            PASSWORD,
        ],
    ));
    assert!(line.contains("already exists"), "{line}");

    let line = one_error_line(&spaceid(
        &app,
        &[
            "workspace",
            "create",
            "--domain-id",
            &acme.domain_id,
            "--name",
            "ops",
            "--tags",
            "[1]",
        ],
    ));
    assert!(line.contains("tags"), "{line}");

    // Nothing the failures tried was written.
    assert_status(
        app.issue(&acme.domain_id, "ghost", PASSWORD).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
}
