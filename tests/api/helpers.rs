//! TestApp: a fresh database (SQLite in a temp dir, or a fresh PostgreSQL database when
//! `SPACEID_TEST_POSTGRES_URL` names a server), the real server on port 0, clients, and a
//! mail outbox in the temp dir (or the SMTP server given with `--smtp-url`).

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use clap::Parser;
use sea_orm::{ConnectionTrait, Database};
use spaceid::{
    cli::Cli,
    pb::identity::{
        GrantTokenRequest, IssueTokenRequest, TokenInfo,
        domain_client::DomainClient,
        grant_token_request::{GrantType, Scope},
        token_client::TokenClient,
        user_profile_client::UserProfileClient,
        workspace_user_client::WorkspaceUserClient,
    },
    testing::{
        clock::ShiftedClock,
        config::Settings,
        context::Context,
        domain::{
            AuthType, DomainId, Name, NewUser, Password, RoleBinding, RoleId, SigningKey, Tags,
            UserId, UserState, Workspace, WorkspaceId,
        },
        service::{admin, system_tokens},
        store::{self, users::UserChanges},
    },
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{Request, transport::Channel};

/// The password every test user gets unless a test says otherwise.
pub const PASSWORD: &str = "Passw0rd!x";

/// A running server on a fresh database.
pub struct TestApp {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// The server's shared state, for arranging data the API cannot create.
    pub ctx: Arc<Context>,
    /// The database URL the server uses.
    pub database_url: String,
    /// The server's clock; tests move it instead of sleeping.
    pub clock: Arc<ShiftedClock>,
    /// The folder the server writes mail to, unless it was started with `--smtp-url`.
    pub outbox: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// A domain made for a test, with its first admin.
pub struct TestDomain {
    /// The domain's id.
    pub domain_id: String,
    /// The admin's user id.
    pub admin_id: String,
}

impl TestDomain {
    /// The domain's id, as the service layer takes it.
    pub fn id(&self) -> DomainId {
        DomainId::new(&self.domain_id)
    }

    /// The admin's user id, as the service layer takes it.
    pub fn admin(&self) -> UserId {
        UserId::new(&self.admin_id)
    }
}

impl TestApp {
    /// Starts the server on a fresh database.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts the server with extra flags, such as `["--request-timeout", "1"]`.
    pub async fn spawn_with(flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match std::env::var("SPACEID_TEST_POSTGRES_URL") {
            Ok(server_url) if !server_url.is_empty() => fresh_postgres_database(&server_url).await,
            _ => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("spaceid.db").display()
            ),
        };
        Self::spawn_on(database_url, dir, flags).await
    }

    /// Starts the server on a fresh SQLite database, whatever database the tests are given.
    pub async fn spawn_on_sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("spaceid.db").display()
        );
        Self::spawn_on(database_url, dir, &[]).await
    }

    /// Starts the server on a fresh PostgreSQL database whose URL ends with `query` (such as
    /// `?sslmode=require`); None when no PostgreSQL server is given to the tests.
    pub async fn spawn_on_postgres_with(query: &str, flags: &[&str]) -> Option<Self> {
        let server_url = std::env::var("SPACEID_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())?;
        let database_url = fresh_postgres_database(&server_url).await + query;
        let dir = tempfile::tempdir().expect("temp dir");
        Some(Self::spawn_on(database_url, dir, flags).await)
    }

    /// Starts a second server, a replica, on this server's database.
    pub async fn replica(&self) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::spawn_on(self.database_url.clone(), dir, &[]).await
    }

    async fn spawn_on(database_url: String, dir: tempfile::TempDir, flags: &[&str]) -> Self {
        let mut settings = test_settings(&database_url, flags);
        let outbox = dir.path().join("outbox");
        settings.outbox = outbox.clone();
        if !flags.contains(&"--smtp-url") {
            // Never the SMTP server of the environment the tests run in.
            settings.smtp_url = None;
        }
        let clock = Arc::new(ShiftedClock::new());
        let ctx = Context::open_with_clock(&settings, clock.clone())
            .await
            .expect("open the database");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().unwrap();
        let (shutdown, stop) = oneshot::channel::<()>();
        let server_ctx = ctx.clone();
        let server = tokio::spawn(async move {
            let stop = async {
                let _ = stop.await;
            };
            spaceid::testing::server::serve(server_ctx, &settings, listener, stop)
                .await
                .expect("server failed");
        });
        Self {
            addr,
            ctx,
            database_url,
            clock,
            outbox,
            shutdown: Some(shutdown),
            server: Some(server),
            _dir: dir,
        }
    }

    /// Every mail the server wrote to its outbox so far, oldest first.
    pub fn outbox_mails(&self) -> Vec<crate::smtp::ParsedMail> {
        crate::smtp::outbox_mails(&self.outbox)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    /// Stops the server gracefully and waits for it, keeping the database and the helpers
    /// that open connections of their own (`sql`, `count`, `replica`).
    pub async fn halt(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task");
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .expect("connect to the server")
    }

    /// A channel whose connections come from `source`, a loopback address such as
    /// `127.0.0.2` (the whole of 127.0.0.0/8 reaches the server): a client elsewhere.
    pub async fn channel_from(&self, source: &str) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .local_address(Some(source.parse().expect("an IP address")))
            .connect()
            .await
            .expect("connect to the server")
    }

    /// A Token client whose connections come from `source` (see `channel_from`).
    pub async fn token_from(&self, source: &str) -> TokenClient<Channel> {
        TokenClient::new(self.channel_from(source).await)
    }

    /// A Token client.
    pub async fn token(&self) -> TokenClient<Channel> {
        TokenClient::new(self.channel().await)
    }

    /// A UserProfile client.
    pub async fn user_profile(&self) -> UserProfileClient<Channel> {
        UserProfileClient::new(self.channel().await)
    }

    /// A WorkspaceUser client.
    pub async fn workspace_user(&self) -> WorkspaceUserClient<Channel> {
        WorkspaceUserClient::new(self.channel().await)
    }

    /// A Domain client.
    pub async fn domain_api(&self) -> DomainClient<Channel> {
        DomainClient::new(self.channel().await)
    }

    /// A new system token named `name`, valid for `lifetime`, as `spaceid system-token
    /// create` makes it.
    pub async fn system_token(
        &self,
        name: &str,
        lifetime: chrono::TimeDelta,
    ) -> system_tokens::IssuedSystemToken {
        let name =
            spaceid::testing::domain::SystemTokenName::parse(name).expect("a system token name");
        system_tokens::create(&self.ctx, &name, lifetime)
            .await
            .expect("create a system token")
    }

    /// A raw channel, for reflection and health clients.
    pub async fn raw_channel(&self) -> Channel {
        self.channel().await
    }

    /// A new domain whose admin is `admin@<name>.test` with `PASSWORD`.
    pub async fn domain(&self, name: &str) -> TestDomain {
        let admin_id = format!("admin@{name}.test");
        let admin = new_user(&admin_id, Some(PASSWORD));
        let (domain, _) = admin::init_domain(&self.ctx, name, admin)
            .await
            .expect("init");
        TestDomain {
            domain_id: domain.domain_id.into_string(),
            admin_id,
        }
    }

    /// A new LOCAL user in `state` whose password hash has bcrypt `cost`, so signing in
    /// takes a while.
    pub async fn slow_user(&self, domain: &TestDomain, user_id: &str, cost: u32, state: UserState) {
        let hash = tokio::task::spawn_blocking(move || bcrypt::hash(PASSWORD, cost).unwrap())
            .await
            .unwrap();
        let new = new_user(user_id, Some(PASSWORD));
        store::users::insert(
            &self.ctx.store,
            &DomainId::new(&domain.domain_id),
            &new,
            Some(hash),
            state,
            chrono::Utc::now(),
        )
        .await
        .expect("create a slow user");
    }

    /// Changes a user's row directly, as arranged data for a test.
    pub async fn set_user(&self, domain_id: &str, user_id: &str, changes: UserChanges) {
        let (domain_id, user_id) = (&DomainId::new(domain_id), &UserId::new(user_id));
        let user = store::users::get(&self.ctx.store, domain_id, user_id)
            .await
            .unwrap()
            .expect("the user exists");
        let applied =
            store::users::update(&self.ctx.store, domain_id, user_id, &user.stamp, changes)
                .await
                .unwrap();
        assert!(applied, "the user changed meanwhile");
    }

    /// The first column of the first row of `sql`, an SQL count, on a connection of its own.
    pub async fn count(&self, sql: &str) -> i64 {
        use sea_orm::Statement;
        let db = Database::connect(&self.database_url)
            .await
            .expect("connect to the test database");
        let row = db
            .query_one(Statement::from_string(
                db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        let count = row.try_get_by_index::<i64>(0).unwrap();
        db.close().await.ok();
        count
    }

    /// Runs raw SQL statements on a connection of their own, to arrange what no API makes.
    pub async fn sql(&self, statements: &[&str]) {
        let db = Database::connect(&self.database_url)
            .await
            .expect("connect to the test database");
        for statement in statements {
            db.execute_unprepared(statement)
                .await
                .unwrap_or_else(|err| panic!("{statement}: {err}"));
        }
        db.close().await.ok();
    }

    /// Every signing key of a domain, read from storage.
    pub async fn domain_keys(&self, domain_id: &str) -> Vec<SigningKey> {
        let kids: Vec<String> = store::keys::listing(&self.ctx.store)
            .await
            .unwrap()
            .into_iter()
            .filter(|key| key.domain_id == *domain_id)
            .map(|key| key.kid)
            .collect();
        store::keys::by_kids(&self.ctx.store, &kids).await.unwrap()
    }

    /// A new LOCAL user with `PASSWORD` and no bindings.
    pub async fn user(&self, domain: &TestDomain, user_id: &str) {
        admin::create_user(
            &self.ctx,
            &DomainId::new(&domain.domain_id),
            new_user(user_id, Some(PASSWORD)),
        )
        .await
        .expect("create user");
    }

    /// A new enabled workspace.
    pub async fn workspace(&self, domain: &TestDomain, name: &str) -> Workspace {
        admin::create_workspace(
            &self.ctx,
            &DomainId::new(&domain.domain_id),
            name,
            Tags::default(),
        )
        .await
        .expect("create workspace")
    }

    /// Binds a user to a role, in a workspace or (None) domain-wide.
    pub async fn bind(
        &self,
        domain: &TestDomain,
        user_id: &str,
        role_id: &str,
        workspace_id: Option<&str>,
    ) -> RoleBinding {
        admin::create_role_binding(
            &self.ctx,
            &DomainId::new(&domain.domain_id),
            &UserId::new(user_id),
            &RoleId::new(role_id),
            workspace_id.map(WorkspaceId::new).as_ref(),
        )
        .await
        .expect("bind")
    }

    /// Signs in with LOCAL credentials.
    pub async fn issue(
        &self,
        domain_id: &str,
        user_id: &str,
        password: &str,
    ) -> Result<TokenInfo, tonic::Status> {
        self.token()
            .await
            .issue(issue_request(domain_id, user_id, password))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Signs in and returns the access token.
    pub async fn access_token(&self, domain_id: &str, user_id: &str) -> String {
        self.issue(domain_id, user_id, PASSWORD)
            .await
            .expect("sign in")
            .access_token
    }

    /// Signs in with `password` and returns the access token.
    pub async fn access_token_with(
        &self,
        domain_id: &str,
        user_id: &str,
        password: &str,
    ) -> String {
        self.issue(domain_id, user_id, password)
            .await
            .expect("sign in")
            .access_token
    }

    /// Signs in, then grants a token in `scope` (with `workspace_id` for WORKSPACE).
    pub async fn scoped_token(
        &self,
        domain_id: &str,
        user_id: &str,
        scope: Scope,
        workspace_id: &str,
    ) -> Result<spaceid::pb::identity::GrantTokenInfo, tonic::Status> {
        let refresh = self
            .issue(domain_id, user_id, PASSWORD)
            .await?
            .refresh_token;
        self.token()
            .await
            .grant(grant_request(&refresh, scope, workspace_id))
            .await
            .map(tonic::Response::into_inner)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Disables a user, as `spaceid user disable` does.
pub async fn disable(app: &TestApp, domain_id: &str, user_id: &str) {
    admin::set_user_state(
        &app.ctx,
        &DomainId::new(domain_id),
        &UserId::new(user_id),
        UserState::Disabled,
    )
    .await
    .expect("disable");
}

/// Settings for a test server: the given database, the cheapest bcrypt cost, and `flags`.
pub fn test_settings(database_url: &str, flags: &[&str]) -> Settings {
    let base = [
        "spaceid",
        "serve",
        "--database-url",
        database_url,
        "--bcrypt-cost",
        "4",
    ];
    // A grace period of 5 s unless the test gives its own.
    let grace: &[&str] = if flags.contains(&"--shutdown-grace") {
        &[]
    } else {
        &["--shutdown-grace", "5"]
    };
    // Calls may take 5 minutes unless the test gives its own limit: on a starved machine a
    // sign-in that hashes at cost 15 can take longer than the default 30 s, and a test of
    // something else must then run longer, not fail.
    let timeout: &[&str] = if flags.contains(&"--request-timeout") {
        &[]
    } else {
        &["--request-timeout", "300"]
    };
    let args = base.iter().chain(grace).chain(timeout).chain(flags);
    Cli::try_parse_from(args)
        .expect("test settings")
        .settings()
        .expect("test settings")
}

/// A LOCAL user to create (EXTERNAL when `password` is None).
pub fn new_user(user_id: &str, password: Option<&str>) -> NewUser {
    NewUser {
        user_id: UserId::parse(user_id).unwrap(),
        name: Some(Name::parse("Test User").unwrap()),
        email: None,
        auth_type: if password.is_some() {
            AuthType::Local
        } else {
            AuthType::External
        },
        password: password.map(|p| Password::parse(p).unwrap()),
        language: None,
        timezone: None,
        tags: Tags::default(),
    }
}

/// A `Token.issue` request with LOCAL credentials.
pub fn issue_request(domain_id: &str, user_id: &str, password: &str) -> IssueTokenRequest {
    let credentials = serde_json::json!({"user_id": user_id, "password": password});
    IssueTokenRequest {
        credentials: Some(to_struct(&credentials)),
        auth_type: spaceid::pb::identity::issue_token_request::AuthType::Local as i32,
        timeout: 0,
        verify_code: String::new(),
        domain_id: domain_id.to_owned(),
    }
}

/// A `Token.grant` request for a refresh token.
pub fn grant_request(refresh_token: &str, scope: Scope, workspace_id: &str) -> GrantTokenRequest {
    GrantTokenRequest {
        grant_type: GrantType::RefreshToken as i32,
        token: refresh_token.to_owned(),
        scope: scope as i32,
        timeout: 0,
        permissions: vec![],
        domain_id: String::new(),
        workspace_id: workspace_id.to_owned(),
    }
}

/// `UserProfile.get` with `token`.
pub async fn get_profile(
    app: &TestApp,
    token: &str,
) -> Result<spaceid::pb::identity::UserInfo, tonic::Status> {
    app.user_profile()
        .await
        .get(authed(
            spaceid::pb::identity::UserProfileRequest::default(),
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// `UserProfile.update` with `token`.
pub async fn update_profile(
    app: &TestApp,
    token: &str,
    request: spaceid::pb::identity::UpdateUserProfileRequest,
) -> Result<spaceid::pb::identity::UserInfo, tonic::Status> {
    app.user_profile()
        .await
        .update(authed(request, token))
        .await
        .map(tonic::Response::into_inner)
}

/// Runs the `spaceid` command line on the test server's database.
pub fn spaceid(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_spaceid"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("SPACEID_BCRYPT_COST", "4")
        .env_remove("SPACEID_ADMIN_PASSWORD")
        .output()
        .expect("run spaceid")
}

/// The one JSON value a successful command printed.
#[track_caller]
pub fn json_of(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON value on stdout")
}

/// A request carrying `token` in its metadata.
pub fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("token", token.parse().expect("token as metadata"));
    request
}

/// A JSON object as a protobuf Struct.
pub fn to_struct(value: &serde_json::Value) -> prost_types::Struct {
    fn to_value(value: &serde_json::Value) -> prost_types::Value {
        use prost_types::value::Kind;
        let kind = match value {
            serde_json::Value::Null => Kind::NullValue(0),
            serde_json::Value::Bool(b) => Kind::BoolValue(*b),
            serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap()),
            serde_json::Value::String(s) => Kind::StringValue(s.clone()),
            serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
                values: items.iter().map(to_value).collect(),
            }),
            serde_json::Value::Object(_) => Kind::StructValue(to_struct(value)),
        };
        prost_types::Value { kind: Some(kind) }
    }
    prost_types::Struct {
        fields: value
            .as_object()
            .expect("a JSON object")
            .iter()
            .map(|(k, v)| (k.clone(), to_value(v)))
            .collect(),
    }
}

/// The claims of a JWT, read without verification (as a test would inspect them).
pub fn claims_of(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// The header of a JWT.
pub fn header_of(token: &str) -> serde_json::Value {
    use base64::Engine;
    let header = token.split('.').next().expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url header");
    serde_json::from_slice(&bytes).expect("JSON header")
}

/// Asserts a call failed with `code` and a message starting with `prefix` and containing
/// each of `words`.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    prefix: &str,
    words: &[&str],
) {
    let status = result.expect_err("the call should fail");
    assert_eq!(status.code(), code, "{}", status.message());
    assert!(
        status.message().starts_with(prefix),
        "expected {prefix}..., got {}",
        status.message()
    );
    for word in words {
        assert!(
            status.message().contains(word),
            "expected '{word}' in {}",
            status.message()
        );
    }
}

/// Creates a fresh database on the PostgreSQL server at `server_url` and returns its URL.
pub async fn fresh_postgres_database(server_url: &str) -> String {
    let name = format!(
        "spaceid_test_{}",
        spaceid::testing::domain::ids::random_hex(8)
    );
    let admin = Database::connect(server_url)
        .await
        .expect("connect to PostgreSQL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    admin.close().await.ok();
    let (base, _) = server_url
        .rsplit_once('/')
        .expect("a database URL with a path");
    format!("{base}/{name}")
}

/// A `stat` stage that counts the members per value of `key`, as `{name: value, "count": n}`.
pub fn count_by(key: &str, name: &str) -> spaceid::pb::core::StatisticsAggregate {
    use spaceid::pb::core::{
        AggregateGroup, AggregateGroupField, AggregateGroupKey, StatisticsAggregate,
        aggregate_group_field, aggregate_group_key, statistics_aggregate::AggregateAlias,
    };
    StatisticsAggregate {
        aggregate_alias: Some(AggregateAlias::Group(AggregateGroup {
            keys: vec![AggregateGroupKey {
                key_alias: Some(aggregate_group_key::KeyAlias::Key(key.into())),
                name_alias: Some(aggregate_group_key::NameAlias::Name(name.into())),
                date_format: String::new(),
            }],
            fields: vec![AggregateGroupField {
                key_alias: None,
                name_alias: Some(aggregate_group_field::NameAlias::Name("count".into())),
                operator_alias: Some(aggregate_group_field::OperatorAlias::Operator(
                    "count".into(),
                )),
                fields: vec![],
                conditions: vec![],
            }],
        })),
    }
}
