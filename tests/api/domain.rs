//! Domain: the public key other SpaceONE services verify tokens with (for system tokens
//! only), the domain by name for the console, and system tokens from the command line.

use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use spaceid::pb::core::AuthenticationRequest;
use spaceid::pb::identity::{
    DomainRequest, DomainSearchQuery, GetDomainAuthRequest, UserProfileRequest,
    WorkspaceUserSearchQuery, domain_auth_info::ExternalAuthState, grant_token_request::Scope,
};
use spaceid::testing::auth::{Claims, jwt};
use spaceid::testing::clock::Clock;
use spaceid::testing::service::system_tokens;
use spaceid::testing::store;
use tonic::{Code, Request};

use crate::cli::one_error_line;
use crate::helpers::*;

const YEAR: TimeDelta = TimeDelta::days(365);

/// `Domain.get_public_key` for `domain_id`, with `token` in the metadata if given.
async fn public_key(
    app: &TestApp,
    token: Option<&str>,
    domain_id: &str,
) -> Result<serde_json::Value, tonic::Status> {
    let message = AuthenticationRequest {
        domain_id: domain_id.to_owned(),
    };
    let request = match token {
        Some(token) => authed(message, token),
        None => Request::new(message),
    };
    let response = app.domain_api().await.get_public_key(request).await?;
    let response = response.into_inner();
    assert_eq!(response.domain_id, domain_id);
    Ok(serde_json::from_str(&response.public_key).expect("public_key is JSON"))
}

/// Whether `token` verifies with the RSA key of `jwk` (RS256, SpaceONE's issuer).
fn verifies(jwk: &serde_json::Value, token: &str) -> bool {
    let key = DecodingKey::from_rsa_components(
        jwk["n"].as_str().expect("n"),
        jwk["e"].as_str().expect("e"),
    )
    .expect("an RSA key");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_issuer(&["spaceone.identity"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).is_ok()
}

#[tokio::test]
async fn the_public_key_is_the_access_key_as_one_bare_jwk() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let other = app.domain("other").await;
    let system = app.system_token("cost-analysis", YEAR).await;
    let tokens = app
        .issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .unwrap();

    let jwk = public_key(&app, Some(&system.token), &acme.domain_id)
        .await
        .unwrap();
    let members: Vec<&str> = jwk
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        members
            .iter()
            .all(|m| ["kty", "n", "e", "kid", "alg"].contains(m)),
        "{jwk}"
    );
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["kid"], header_of(&tokens.access_token)["kid"]);
    assert!(jwk.get("keys").is_none() && jwk.get("use").is_none() && jwk.get("d").is_none());

    assert!(verifies(&jwk, &tokens.access_token), "the access token");
    let granted = app
        .scoped_token(&acme.domain_id, &acme.admin_id, Scope::Domain, "")
        .await
        .unwrap();
    assert!(verifies(&jwk, &granted.access_token), "a granted token");
    // Never the refresh key: a refresh token does not pass where this key is trusted.
    assert!(!verifies(&jwk, &tokens.refresh_token), "the refresh token");
    let refresh_kid = header_of(&tokens.refresh_token)["kid"].clone();
    assert_ne!(jwk["kid"], refresh_kid);
    // Each domain its own key.
    let other_jwk = public_key(&app, Some(&system.token), &other.domain_id)
        .await
        .unwrap();
    assert_ne!(other_jwk["n"], jwk["n"]);
    assert!(!verifies(&other_jwk, &tokens.access_token));
    // And never a system token's key.
    assert!(!verifies(&jwk, &system.token));
}

#[tokio::test]
async fn the_public_key_needs_a_valid_system_token() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let tokens = app
        .issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .unwrap();
    let admin = app
        .scoped_token(&acme.domain_id, &acme.admin_id, Scope::Domain, "")
        .await
        .unwrap()
        .access_token;

    let refused = [
        ("no token", None),
        ("a user's access token", Some(tokens.access_token.as_str())),
        ("a domain admin's token", Some(admin.as_str())),
        ("a refresh token", Some(tokens.refresh_token.as_str())),
        ("garbage", Some("not.a.jwt")),
    ];
    for (what, token) in refused {
        let result = public_key(&app, token, &acme.domain_id).await;
        assert_eq!(
            result.as_ref().map_err(tonic::Status::code).err(),
            Some(Code::Unauthenticated),
            "{what}: {result:?}"
        );
    }

    // A domain's own key cannot make a system token.
    let keys = app.ctx.keys.signing_keys(&acme.id()).await.unwrap();
    let now = app.clock.now().timestamp();
    let forged = jwt::sign(
        &keys.access,
        &Claims::for_system("forger", &"a".repeat(32), 3600, now),
    )
    .unwrap();
    assert_status(
        public_key(&app, Some(&forged), &acme.domain_id).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );

    // The root key signs only what was recorded: a token it signs with a jti never issued
    // is refused, and so is one that claims another owner.
    let genuine = app.system_token("genuine", YEAR).await;
    assert!(
        public_key(&app, Some(&genuine.token), &acme.domain_id)
            .await
            .is_ok()
    );
    let root = store::system_tokens::newest_key(&app.ctx.store)
        .await
        .unwrap()
        .unwrap();
    let sign_with_root = |claims: &Claims| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(root.kid.clone());
        let key = EncodingKey::from_rsa_pem(root.private_pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    };
    let unrecorded = sign_with_root(&Claims::for_system("ghost", &"b".repeat(32), 3600, now));
    assert_status(
        public_key(&app, Some(&unrecorded), &acme.domain_id).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
    let mut as_user = Claims::for_system("genuine", &genuine.record.jti, 3600, now);
    as_user.own = "USER".into();
    assert_status(
        public_key(&app, Some(&sign_with_root(&as_user)), &acme.domain_id).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
}

#[tokio::test]
async fn system_tokens_carry_the_contract_claims() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let system = app.system_token("cost-analysis", TimeDelta::days(30)).await;
    let claims = claims_of(&system.token);
    assert_eq!(claims["typ"], "SYSTEM_TOKEN");
    assert_eq!(claims["own"], "SYSTEM");
    assert_eq!(claims["did"], "domain-root");
    assert_eq!(claims["aud"], "cost-analysis");
    assert_eq!(claims["iss"], "spaceone.identity");
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["rol"], "SYSTEM_TOKEN");
    assert_eq!(claims["jti"], system.record.jti.as_str());
    let jti = claims["jti"].as_str().unwrap();
    assert!(jti.len() == 32 && jti.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 30 * 86_400);
    assert!(claims.get("acc").is_none() && claims.get("wid").is_none());

    let header = header_of(&system.token);
    assert_eq!(header["alg"], "RS256");
    let domain_kids: Vec<String> = app
        .domain_keys(&acme.domain_id)
        .await
        .into_iter()
        .map(|key| key.kid)
        .collect();
    assert!(!domain_kids.iter().any(|kid| header["kid"] == kid.as_str()));
    // One root key signs every system token.
    let second = app.system_token("spacectl", YEAR).await;
    assert_eq!(header_of(&second.token)["kid"], header["kid"]);
}

#[tokio::test]
async fn a_revoked_system_token_stops_working_on_every_replica() {
    let a = TestApp::spawn().await;
    let acme = a.domain("acme").await;
    let b = a.replica().await;
    let system = a.system_token("cost-analysis", YEAR).await;
    let kept = a.system_token("spacectl", YEAR).await;
    assert!(
        public_key(&a, Some(&system.token), &acme.domain_id)
            .await
            .is_ok()
    );
    assert!(
        public_key(&b, Some(&system.token), &acme.domain_id)
            .await
            .is_ok()
    );

    let revoked = system_tokens::revoke(&b.ctx, &system.record.jti)
        .await
        .unwrap();
    let revoked_at = revoked.revoked_at.expect("revoked");
    for app in [&a, &b] {
        assert_status(
            public_key(app, Some(&system.token), &acme.domain_id).await,
            Code::Unauthenticated,
            "ERROR_AUTHENTICATE_FAILURE",
            &["revoked"],
        );
        assert!(
            public_key(app, Some(&kept.token), &acme.domain_id)
                .await
                .is_ok()
        );
    }
    // A second revocation changes nothing; an unknown jti is NOT_FOUND.
    let again = system_tokens::revoke(&a.ctx, &system.record.jti)
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(revoked_at));
    let unknown = system_tokens::revoke(&a.ctx, &"0".repeat(32)).await;
    assert!(matches!(
        unknown,
        Err(spaceid::testing::error::Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn an_expired_system_token_is_refused() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let system = app.system_token("cost-analysis", TimeDelta::hours(1)).await;
    assert!(
        public_key(&app, Some(&system.token), &acme.domain_id)
            .await
            .is_ok()
    );
    app.clock.advance(TimeDelta::minutes(61));
    assert_status(
        public_key(&app, Some(&system.token), &acme.domain_id).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["expired"],
    );
}

#[tokio::test]
async fn an_unknown_domain_is_not_found() {
    let app = TestApp::spawn().await;
    app.domain("acme").await;
    let system = app.system_token("cost-analysis", YEAR).await;
    for domain_id in ["domain-000000000000", "domain-root"] {
        assert_status(
            public_key(&app, Some(&system.token), domain_id).await,
            Code::NotFound,
            "ERROR_NOT_FOUND",
            &[domain_id],
        );
    }
    assert_status(
        public_key(&app, Some(&system.token), "").await,
        Code::InvalidArgument,
        "ERROR_REQUIRED_PARAMETER",
        &["domain_id"],
    );
    // Without a valid token, nothing tells a domain that exists from one that does not.
    assert_status(
        public_key(&app, None, "domain-000000000000").await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
}

#[tokio::test]
async fn a_system_token_opens_no_user_api() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let workspace = app.workspace(&acme, "ops").await;
    let system = app.system_token("cost-analysis", YEAR).await;

    assert_status(
        get_profile(&app, &system.token).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
    let list = WorkspaceUserSearchQuery {
        workspace_id: workspace.workspace_id.to_string(),
        ..Default::default()
    };
    assert_status(
        app.workspace_user()
            .await
            .list(authed(list, &system.token))
            .await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
    assert_status(
        app.user_profile()
            .await
            .get_workspaces(authed(UserProfileRequest::default(), &system.token))
            .await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
    let grant = grant_request(&system.token, Scope::Domain, "");
    assert_status(
        app.token().await.grant(grant).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
}

#[tokio::test]
async fn get_auth_info_finds_a_domain_by_name_without_a_token() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let info = app
        .domain_api()
        .await
        .get_auth_info(GetDomainAuthRequest {
            name: "acme".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.domain_id, acme.domain_id);
    assert_eq!(info.name, "acme");
    assert_eq!(info.external_auth_state(), ExternalAuthState::Disabled);

    let unknown = app
        .domain_api()
        .await
        .get_auth_info(GetDomainAuthRequest {
            name: "nobody".into(),
        })
        .await;
    assert_status(unknown, Code::NotFound, "ERROR_NOT_FOUND", &["nobody"]);
    let empty = app
        .domain_api()
        .await
        .get_auth_info(GetDomainAuthRequest::default())
        .await;
    assert_status(
        empty,
        Code::InvalidArgument,
        "ERROR_REQUIRED_PARAMETER",
        &["name"],
    );
}

#[tokio::test]
async fn other_domain_calls_are_unimplemented() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let system = app.system_token("cost-analysis", YEAR).await;
    let request = || {
        authed(
            DomainRequest {
                domain_id: acme.domain_id.clone(),
            },
            &system.token,
        )
    };
    let mut domain = app.domain_api().await;
    assert_status(
        domain.get(request()).await,
        Code::Unimplemented,
        "ERROR_NOT_IMPLEMENTED",
        &["Domain.get"],
    );
    assert_status(
        domain.delete(request()).await,
        Code::Unimplemented,
        "ERROR_NOT_IMPLEMENTED",
        &["Domain.delete"],
    );
    assert_status(
        domain.list(DomainSearchQuery::default()).await,
        Code::Unimplemented,
        "ERROR_NOT_IMPLEMENTED",
        &["Domain.list"],
    );
}

#[tokio::test]
async fn system_tokens_from_the_command_line() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;

    let created = json_of(&spaceid(
        &app,
        &[
            "system-token",
            "create",
            "--name",
            "cost-analysis",
            "--expires-in",
            "30d",
        ],
    ));
    let token = created["token"].as_str().unwrap().to_owned();
    let jti = created["jti"].as_str().unwrap().to_owned();
    assert_eq!(claims_of(&token)["jti"], jti.as_str());
    assert_eq!(created["name"], "cost-analysis");
    let expires_at = chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert_eq!(expires_at, claims_of(&token)["exp"].as_i64().unwrap());
    assert!(
        public_key(&app, Some(&token), &acme.domain_id)
            .await
            .is_ok()
    );

    let default = json_of(&spaceid(
        &app,
        &["system-token", "create", "--name", "spacectl"],
    ));
    let claims = claims_of(default["token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        365 * 86_400
    );

    let listed = json_of(&spaceid(&app, &["system-token", "list"]));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["jti"], jti.as_str());
    assert_eq!(listed[0]["name"], "cost-analysis");
    assert!(listed[0]["revoked_at"].is_null());
    assert!(
        listed.iter().all(|t| t.get("token").is_none()),
        "{listed:?}"
    );

    let revoked = json_of(&spaceid(&app, &["system-token", "revoke", &jti]));
    assert_eq!(revoked["jti"], jti.as_str());
    assert!(revoked["revoked_at"].is_string());
    assert_status(
        public_key(&app, Some(&token), &acme.domain_id).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["revoked"],
    );
    let listed = json_of(&spaceid(&app, &["system-token", "list"]));
    assert!(listed[0]["revoked_at"].is_string());
    assert!(listed[1]["revoked_at"].is_null());

    let unknown = one_error_line(&spaceid(&app, &["system-token", "revoke", "nope"]));
    assert!(unknown.contains("nope"), "{unknown}");
    for args in [
        &[
            "system-token",
            "create",
            "--name",
            "x",
            "--expires-in",
            "1y",
        ][..],
        &[
            "system-token",
            "create",
            "--name",
            "x",
            "--expires-in",
            "0s",
        ][..],
        &["system-token", "create", "--name", ""][..],
        &["system-token", "create"][..],
    ] {
        one_error_line(&spaceid(&app, args));
    }
}
