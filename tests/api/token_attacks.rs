//! Tokens an attacker might present. Each must be UNAUTHENTICATED, and the genuine token
//! next to it must pass, so the test shows the check (not a broken setup) refuses it.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use spaceid::pb::identity::{
    UpdateUserProfileRequest, UserProfileRequest, grant_token_request::Scope,
};
use spaceid::testing::auth::keys;
use spaceid::testing::domain::KeyPurpose;
use tonic::Code;

use crate::helpers::*;

struct Target {
    app: TestApp,
    domain: TestDomain,
    genuine: String,
}

async fn target() -> Target {
    let app = TestApp::spawn().await;
    let domain = app.domain("acme").await;
    let genuine = app.access_token(&domain.domain_id, &domain.admin_id).await;
    Target {
        app,
        domain,
        genuine,
    }
}

impl Target {
    async fn get(&self, token: &str) -> Result<spaceid::pb::identity::UserInfo, tonic::Status> {
        self.app
            .user_profile()
            .await
            .get(authed(UserProfileRequest::default(), token))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Valid claims for the admin, as the service would issue them.
    fn claims(&self) -> Value {
        claims_of(&self.genuine)
    }

    /// Signs `claims` with the domain's real access key.
    async fn sign(&self, claims: &Value) -> String {
        let keys = self
            .app
            .ctx
            .keys
            .signing_keys(&self.domain.id())
            .await
            .unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(keys.access.kid.clone());
        jsonwebtoken::encode(&header, claims, &keys.access.encoding).unwrap()
    }

    async fn assert_refused(&self, token: &str, words: &[&str]) {
        assert!(
            self.get(&self.genuine).await.is_ok(),
            "the genuine token must pass"
        );
        assert_status(
            self.get(token).await,
            Code::Unauthenticated,
            "ERROR_AUTHENTICATE_FAILURE",
            words,
        );
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn a_resigned_copy_of_a_genuine_token_passes() {
    let t = target().await;
    let token = t.sign(&t.claims()).await;
    assert!(
        t.get(&token).await.is_ok(),
        "forging helper must produce acceptable tokens"
    );
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let t = target().await;
    let mut claims = t.claims();
    claims["iat"] = json!(now() - 3600);
    claims["exp"] = json!(now() - 1);
    t.assert_refused(&t.sign(&claims).await, &["expired"]).await;
}

#[tokio::test]
async fn not_yet_valid_tokens_are_refused() {
    let t = target().await;
    let mut claims = t.claims();
    claims["nbf"] = json!(now() + 3600);
    t.assert_refused(&t.sign(&claims).await, &["not valid yet"])
        .await;

    let mut claims = t.claims();
    claims["iat"] = json!(now() + 3600);
    claims["exp"] = json!(now() + 7200);
    t.assert_refused(&t.sign(&claims).await, &["not valid yet"])
        .await;
}

#[tokio::test]
async fn tampered_tokens_are_refused() {
    let t = target().await;
    let parts: Vec<&str> = t.genuine.split('.').collect();
    let mut claims = t.claims();
    claims["rol"] = json!("DOMAIN_ADMIN");
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = format!("{}.{}.{}", parts[0], payload, parts[2]);
    t.assert_refused(&tampered, &["signature"]).await;
}

#[tokio::test]
async fn unsigned_tokens_are_refused() {
    let t = target().await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(t.claims().to_string());
    t.assert_refused(&format!("{header}.{payload}."), &[]).await;
    t.assert_refused(&format!("{header}.{payload}"), &[]).await;
}

#[tokio::test]
async fn hmac_tokens_keyed_with_the_public_key_are_refused() {
    let t = target().await;
    let keys = t.app.ctx.keys.signing_keys(&t.domain.id()).await.unwrap();
    let private_pem = t
        .app
        .domain_keys(&t.domain.domain_id)
        .await
        .into_iter()
        .find(|k| k.kid == keys.access.kid)
        .unwrap()
        .private_pem;
    let public_pem = public_key_pem(&private_pem);
    let jwk = keys.access.public_jwk.to_string();
    for secret in [public_pem.as_bytes(), jwk.as_bytes()] {
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &t.claims(),
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        t.assert_refused(&token, &["RS256"]).await;
    }
}

/// The public half of a PKCS#8 private key as SubjectPublicKeyInfo PEM (`PUBLIC KEY`), the
/// form an attacker would take for a verifier's "secret".
fn public_key_pem(private_pem: &str) -> String {
    use aws_lc_rs::{encoding::AsDer, signature::KeyPair as _};
    let pkcs8 = pem::parse(private_pem).unwrap().into_contents();
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&pkcs8).unwrap();
    let spki: aws_lc_rs::encoding::PublicKeyX509Der = pair.public_key().as_der().unwrap();
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new("PUBLIC KEY", spki.as_ref()), config)
}

#[tokio::test]
async fn tokens_signed_with_another_key_are_refused() {
    let t = target().await;
    let stranger = keys::generate(KeyPurpose::Access).await.unwrap();
    let stranger = EncodingKey::from_rsa_pem(stranger.private_pem.as_bytes()).unwrap();
    // Naming the domain's real key id does not make the stranger's signature ours.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = header_of(&t.genuine)["kid"].as_str().map(str::to_owned);
    let token = jsonwebtoken::encode(&header, &t.claims(), &stranger).unwrap();
    t.assert_refused(&token, &["signature"]).await;
    // Without a key id there is nothing to verify with.
    let token =
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &t.claims(), &stranger).unwrap();
    t.assert_refused(&token, &["kid"]).await;
}

#[tokio::test]
async fn refresh_tokens_are_not_access_tokens() {
    let t = target().await;
    let refresh = t
        .app
        .issue(&t.domain.domain_id, &t.domain.admin_id, PASSWORD)
        .await
        .unwrap()
        .refresh_token;
    t.assert_refused(&refresh, &[]).await;

    // Even re-signed with the published key, a REFRESH_TOKEN `typ` is refused.
    let mut claims = claims_of(&refresh);
    claims["rol"] = json!("USER");
    t.assert_refused(&t.sign(&claims).await, &["ACCESS_TOKEN"])
        .await;
}

#[tokio::test]
async fn tokens_of_another_domain_are_refused() {
    let t = target().await;
    let other = t.app.domain("other").await;
    t.app.user(&other, &t.domain.admin_id).await;

    // acme's key cannot speak for a user of `other`, even one with the same user id.
    let mut claims = t.claims();
    claims["did"] = json!(other.domain_id);
    t.assert_refused(&t.sign(&claims).await, &["signature"])
        .await;

    // A domain that does not exist reads exactly like a bad signature: the answer confirms
    // no domain id to anyone.
    let mut claims = t.claims();
    claims["did"] = json!("domain-000000000000");
    let unknown = t.get(&t.sign(&claims).await).await.unwrap_err();
    let mut claims = t.claims();
    claims["did"] = json!(other.domain_id);
    let known = t.get(&t.sign(&claims).await).await.unwrap_err();
    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert_eq!(unknown.message(), known.message());
    assert!(
        unknown.message().contains("signature"),
        "{}",
        unknown.message()
    );
}

#[tokio::test]
async fn tokens_with_wrong_claims_are_refused() {
    let t = target().await;
    for (claim, value, words) in [
        ("rol", Value::Null, &["role"][..]),
        ("rol", json!("SUPERUSER"), &["role"][..]),
        ("ver", json!("1.0"), &["version"][..]),
        ("iss", json!("someone.else"), &[][..]),
        ("own", json!("SYSTEM"), &[][..]),
        ("jti", json!("not-hex"), &["jti"][..]),
        ("aud", json!("nobody@acme.test"), &["user"][..]),
    ] {
        let mut claims = t.claims();
        match value {
            Value::Null => {
                claims.as_object_mut().unwrap().remove(claim);
            }
            value => claims[claim] = value,
        }
        t.assert_refused(&t.sign(&claims).await, words).await;
    }
    for garbage in ["", "garbage", "a.b.c", "é"] {
        let status = t.get(garbage).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{garbage}: {}",
            status.message()
        );
    }
}

#[tokio::test]
async fn tokens_issued_before_a_password_change_are_refused() {
    let t = target().await;
    let refresh = t
        .app
        .issue(&t.domain.domain_id, &t.domain.admin_id, PASSWORD)
        .await
        .unwrap()
        .refresh_token;
    let request = UpdateUserProfileRequest {
        password: "N3wPassword".into(),
        ..Default::default()
    };
    t.app
        .user_profile()
        .await
        .update(authed(request, &t.genuine))
        .await
        .unwrap();

    assert_status(
        t.get(&t.genuine).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["password change"],
    );
    let result = t
        .app
        .token()
        .await
        .grant(grant_request(&refresh, Scope::Domain, ""))
        .await;
    assert_status(
        result,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["password change"],
    );

    let fresh = t
        .app
        .issue(&t.domain.domain_id, &t.domain.admin_id, "N3wPassword")
        .await
        .unwrap();
    assert!(
        t.get(&fresh.access_token).await.is_ok(),
        "a token issued after the change works"
    );
    assert_status(
        t.app
            .issue(&t.domain.domain_id, &t.domain.admin_id, PASSWORD)
            .await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &[],
    );
}

#[tokio::test]
async fn tokens_of_disabled_users_are_refused() {
    let t = target().await;
    disable(&t.app, &t.domain.domain_id, &t.domain.admin_id).await;
    assert_status(
        t.get(&t.genuine).await,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["disable"],
    );
    let result = t
        .app
        .issue(&t.domain.domain_id, &t.domain.admin_id, PASSWORD)
        .await;
    assert_status(
        result,
        Code::Unauthenticated,
        "ERROR_AUTHENTICATE_FAILURE",
        &["disabled"],
    );
}
