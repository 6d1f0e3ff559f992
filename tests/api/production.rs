//! What an operator meets running spaceid in production: TLS (with client certificates
//! and reloads), health that follows whether the database can be written, the metrics
//! endpoint, request ids in metadata and in the log, and the server's first and last log
//! lines.

use std::{
    io::{BufRead, BufReader, Read, Write},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use spaceid::pb::identity::{UserProfileRequest, user_profile_client::UserProfileClient};
use tokio_rustls::rustls::{
    self, ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::helpers::*;

/// A certificate authority made for a test.
struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A certificate for `localhost` (a server's, or a client's), signed by this CA, and
    /// its key, both PEM.
    fn issue(&self, client: bool) -> (String, String) {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// Writes a server certificate signed by `ca` to `dir` (`server.pem`, `server.key`).
fn write_server_cert(dir: &Path, ca: &TestCa) {
    let (cert, key) = ca.issue(false);
    std::fs::write(dir.join("server.pem"), cert).unwrap();
    std::fs::write(dir.join("server.key"), key).unwrap();
}

/// A channel over TLS to `app` that trusts `trusted` (PEM) and presents `identity`
/// (certificate and key PEM), if any.
async fn tls_channel(app: &TestApp, trusted: &str, identity: Option<&(String, String)>) -> Channel {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(trusted.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let addr = app.addr;
    Endpoint::from_shared(format!("http://localhost:{}", addr.port()))
        .unwrap()
        .connect_with_connector_lazy(tower::service_fn(move |_: http::Uri| {
            let connector = connector.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let name = ServerName::try_from("localhost").unwrap();
                let stream = connector.connect(name, tcp).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
}

/// The server's overall health as `channel` sees it, or the call's error.
async fn health(channel: Channel) -> Result<ServingStatus, tonic::Status> {
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?
        .into_inner();
    Ok(answer.status())
}

#[tokio::test]
async fn tls_serves_clients_that_trust_its_ca_and_refuses_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("spaceid test CA");
    write_server_cert(dir.path(), &ca);
    let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
    let app = TestApp::spawn_with(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    let acme = app.domain("acme").await;

    let channel = tls_channel(&app, &ca.pem(), None).await;
    assert_eq!(
        health(channel.clone()).await.unwrap(),
        ServingStatus::Serving
    );
    let issued = spaceid::pb::identity::token_client::TokenClient::new(channel.clone())
        .issue(issue_request(&acme.domain_id, &acme.admin_id, PASSWORD))
        .await
        .expect("sign in over TLS")
        .into_inner();
    let profile = UserProfileClient::new(channel)
        .get(authed(UserProfileRequest::default(), &issued.access_token))
        .await
        .expect("UserProfile.get over TLS")
        .into_inner();
    assert_eq!(profile.user_id, acme.admin_id);

    // A plaintext client, and one that does not trust the server's CA, get nothing.
    let plaintext = Endpoint::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect_lazy();
    assert!(health(plaintext).await.is_err());
    let stranger = TestCa::new("another CA");
    let status = health(tls_channel(&app, &stranger.pem(), None).await).await;
    assert!(
        status.is_err(),
        "a client that does not trust the CA was served"
    );
}

#[tokio::test]
async fn mutual_tls_refuses_clients_without_a_certificate_from_the_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = TestCa::new("server CA");
    let client_ca = TestCa::new("client CA");
    write_server_cert(dir.path(), &server_ca);
    std::fs::write(dir.path().join("clients.pem"), client_ca.pem()).unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let app = TestApp::spawn_with(&[
        "--tls-cert",
        &path("server.pem"),
        "--tls-key",
        &path("server.key"),
        "--tls-client-ca",
        &path("clients.pem"),
    ])
    .await;

    let anonymous = tls_channel(&app, &server_ca.pem(), None).await;
    assert!(
        health(anonymous).await.is_err(),
        "a client without a certificate was served"
    );
    let outsider = server_ca.issue(true);
    let status = health(tls_channel(&app, &server_ca.pem(), Some(&outsider)).await).await;
    assert!(
        status.is_err(),
        "a client certificate from another CA was accepted"
    );
    let member = client_ca.issue(true);
    let channel = tls_channel(&app, &server_ca.pem(), Some(&member)).await;
    assert_eq!(health(channel).await.unwrap(), ServingStatus::Serving);
}

#[tokio::test]
async fn a_new_certificate_on_disk_is_served_to_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let old_ca = TestCa::new("old CA");
    write_server_cert(dir.path(), &old_ca);
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let app = TestApp::spawn_with(&[
        "--tls-cert",
        &path("server.pem"),
        "--tls-key",
        &path("server.key"),
    ])
    .await;
    let old_connection = tls_channel(&app, &old_ca.pem(), None).await;
    assert_eq!(
        health(old_connection.clone()).await.unwrap(),
        ServingStatus::Serving
    );
    let new_ca = TestCa::new("new CA");
    assert!(
        health(tls_channel(&app, &new_ca.pem(), None).await)
            .await
            .is_err()
    );

    // Replaced as deployment tools do: new files written aside, then renamed over the old.
    let (cert, key) = new_ca.issue(false);
    std::fs::write(dir.path().join("next.pem"), cert).unwrap();
    std::fs::write(dir.path().join("next.key"), key).unwrap();
    std::fs::rename(dir.path().join("next.key"), dir.path().join("server.key")).unwrap();
    std::fs::rename(dir.path().join("next.pem"), dir.path().join("server.pem")).unwrap();

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let fresh = tls_channel(&app, &new_ca.pem(), None).await;
        if matches!(health(fresh).await, Ok(ServingStatus::Serving)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new connections still get the old certificate"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        health(tls_channel(&app, &old_ca.pem(), None).await)
            .await
            .is_err(),
        "a new connection got the old certificate after the reload"
    );
    // The connection opened before the reload goes on working.
    assert_eq!(
        health(old_connection).await.unwrap(),
        ServingStatus::Serving
    );
}

#[tokio::test]
async fn sighup_reads_the_certificate_files_again() {
    let dir = tempfile::tempdir().unwrap();
    write_server_cert(dir.path(), &TestCa::new("CA"));
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let app = TestApp::spawn().await;
    let server = ServerProcess::start(
        &app,
        &[
            "--tls-cert",
            &path("server.pem"),
            "--tls-key",
            &path("server.key"),
        ],
    );
    server.logged("listening").await;
    assert!(server.log().contains("tls=true"), "{}", server.log());
    server.signal("-HUP");
    server.logged("cause=\"SIGHUP\"").await;
    assert!(
        server.log().contains("TLS certificate reloaded"),
        "{}",
        server.log()
    );
    // SIGHUP did not end the server: it stops on SIGTERM, cleanly.
    server.stop();
}

#[tokio::test]
async fn a_broken_certificate_file_is_one_line_that_names_it() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("missing.pem");
    let key = dir.path().join("missing.key");
    let output = spaceid(
        &app,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let line = crate::cli::one_error_line(&output);
    assert!(
        line.contains("missing.pem") && line.contains("--tls-cert"),
        "{line}"
    );

    let output = spaceid(&app, &["serve", "--tls-cert", cert.to_str().unwrap()]);
    let line = crate::cli::one_error_line(&output);
    assert!(line.contains("--tls-key"), "{line}");
}

/// Holds the database unwritable for the server until `restore`: on SQLite a write lock
/// held by another connection (honoured whoever runs the tests, root included: file modes
/// are not), on PostgreSQL `default_transaction_read_only` with the server's sessions
/// ended so that its new ones are read-only, as on a standby.
enum Unwritable {
    Sqlite(sea_orm::DatabaseTransaction, sea_orm::DatabaseConnection),
    Postgres(String),
}

impl Unwritable {
    async fn make(app: &TestApp) -> Self {
        if app.database_url.starts_with("postgres") {
            let name = app.database_url.rsplit('/').next().unwrap().to_owned();
            on_postgres_server(&[
                &format!("ALTER DATABASE {name} SET default_transaction_read_only = on"),
                &end_sessions(&name),
            ])
            .await;
            Self::Postgres(name)
        } else {
            let db = Database::connect(&app.database_url).await.unwrap();
            let tx = db.begin().await.unwrap();
            tx.execute_unprepared("UPDATE heartbeat SET beats = beats")
                .await
                .unwrap();
            Self::Sqlite(tx, db)
        }
    }

    async fn restore(self) {
        match self {
            Self::Sqlite(tx, db) => {
                tx.rollback().await.unwrap();
                db.close().await.unwrap();
            }
            Self::Postgres(name) => {
                on_postgres_server(&[
                    &format!("ALTER DATABASE {name} SET default_transaction_read_only = off"),
                    &end_sessions(&name),
                ])
                .await;
            }
        }
    }
}

/// Ends every session on database `name`; their clients reconnect with its new defaults.
fn end_sessions(name: &str) -> String {
    format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
}

/// Runs statements on the test PostgreSQL server's own database (not a test database,
/// whose defaults the statements change).
async fn on_postgres_server(statements: &[&str]) {
    let url = std::env::var("SPACEID_TEST_POSTGRES_URL").unwrap();
    let db = Database::connect(&url).await.unwrap();
    for statement in statements {
        db.execute_unprepared(statement)
            .await
            .unwrap_or_else(|err| panic!("{statement}: {err}"));
    }
    db.close().await.ok();
}

/// Waits until health reports `wanted`, for at most `within`; returns how long it took.
async fn health_becomes(app: &TestApp, wanted: ServingStatus, within: Duration) -> Duration {
    let started = Instant::now();
    let channel = app.raw_channel().await;
    loop {
        let seen = health(channel.clone()).await;
        if seen.as_ref().ok() == Some(&wanted) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "health is {seen:?}, not {wanted:?}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn health_is_not_serving_while_the_database_cannot_be_written() {
    let app = TestApp::spawn_with(&["--health-interval", "1"]).await;
    let acme = app.domain("acme").await;
    health_becomes(&app, ServingStatus::Serving, Duration::from_secs(5)).await;

    let unwritable = Unwritable::make(&app).await;
    // The documented bound: one interval, plus a check that waits out SQLite's busy
    // timeout (`readiness::CHECK_TIMEOUT`).
    let bound = Duration::from_secs(1) + spaceid::testing::server::readiness::CHECK_TIMEOUT;
    health_becomes(
        &app,
        ServingStatus::NotServing,
        bound + Duration::from_secs(3),
    )
    .await;
    // What a container health check runs says so too.
    let address = app.addr.to_string();
    let output = health_command(&address).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "NOT_SERVING",
        "{stderr}"
    );
    // Health reports what sign-ins meet meanwhile.
    let refused = tokio::time::timeout(
        Duration::from_secs(20),
        app.issue(&acme.domain_id, &acme.admin_id, PASSWORD),
    )
    .await
    .expect("the sign-in answers");
    assert!(
        refused.is_err(),
        "a sign-in worked on an unwritable database"
    );

    unwritable.restore().await;
    health_becomes(&app, ServingStatus::Serving, bound + Duration::from_secs(5)).await;
    let output = health_command(&address).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "SERVING",
        "{stderr}"
    );
    app.issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .expect("sign-in works again");
}

/// `spaceid health --addr address`, run off the test's runtime (which serves the call).
async fn health_command(address: &str) -> std::process::Output {
    let address = address.to_owned();
    tokio::task::spawn_blocking(move || spaceid_with(&[], &["health", "--addr", &address]))
        .await
        .unwrap()
}

/// A free loopback port (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The body of `GET http://{address}{path}`.
fn http_get(address: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).expect("connect to metrics");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The value of the series named `name` with every label in `labels`.
fn series(exposition: &str, name: &str, labels: &[&str]) -> Option<f64> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            line.split(['{', ' ']).next() == Some(name) && labels.iter().all(|l| line.contains(l))
        })
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn the_metrics_endpoint_counts_calls_by_method_and_code() {
    let metrics = format!("127.0.0.1:{}", free_port());
    let app = TestApp::spawn_with(&["--metrics-listen", &metrics]).await;
    let acme = app.domain("acme").await;
    let token = app.access_token(&acme.domain_id, &acme.admin_id).await;
    for _ in 0..2 {
        get_profile(&app, &token).await.unwrap();
    }
    for _ in 0..3 {
        assert!(get_profile(&app, "not-a-token").await.is_err());
    }
    assert!(
        app.issue(&acme.domain_id, &acme.admin_id, "Wr0ngGuess!")
            .await
            .is_err()
    );

    let response = tokio::task::spawn_blocking(move || http_get(&metrics, "/metrics"))
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let get = r#"method="spaceone.api.identity.v2.UserProfile/get""#;
    assert_eq!(
        series(&response, "spaceid_calls_total", &[get, r#"code="OK""#]),
        Some(2.0),
        "{response}"
    );
    assert_eq!(
        series(
            &response,
            "spaceid_calls_total",
            &[get, r#"code="UNAUTHENTICATED""#]
        ),
        Some(3.0),
        "{response}"
    );
    let issue = r#"method="spaceone.api.identity.v2.Token/issue""#;
    assert_eq!(
        series(
            &response,
            "spaceid_calls_total",
            &[issue, r#"code="UNAUTHENTICATED""#]
        ),
        Some(1.0),
        "{response}"
    );
    assert_eq!(
        series(&response, "spaceid_call_duration_seconds_count", &[get]),
        Some(5.0),
        "{response}"
    );
    assert!(
        series(
            &response,
            "spaceid_call_duration_seconds_bucket",
            &[get, "le="]
        )
        .is_some(),
        "no latency histogram:\n{response}"
    );
    assert!(
        series(&response, "spaceid_sign_in_failures_total", &[]) >= Some(1.0),
        "{response}"
    );
    assert!(
        series(&response, "spaceid_db_connections", &[r#"state="idle""#]).is_some(),
        "{response}"
    );
    assert_eq!(
        series(&response, "spaceid_bcrypt_queued", &[]),
        Some(0.0),
        "{response}"
    );
}

/// `spaceid serve` on `app`'s database as a child process, its log collected as it comes.
struct ServerProcess {
    child: Child,
    address: String,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ServerProcess {
    fn start(app: &TestApp, flags: &[&str]) -> Self {
        let address = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_spaceid"))
            .args(["serve", "--listen", &address])
            .args(flags)
            .env("DATABASE_URL", &app.database_url)
            .env("SPACEID_BCRYPT_COST", "4")
            .env_remove("SPACEID_LOG_FORMAT")
            .env_remove("SPACEID_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start spaceid serve");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Self {
            child,
            address,
            log,
            reader: Some(reader),
        }
    }

    async fn channel(&self) -> Channel {
        let endpoint = Endpoint::from_shared(format!("http://{}", self.address)).unwrap();
        // Up to 30 s: the whole suite shares two cores with this process.
        for _ in 0..600 {
            if let Ok(channel) = endpoint.connect().await {
                return channel;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("spaceid serve did not start:\n{}", self.log());
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a log line contains `needle`.
    async fn logged(&self, needle: &str) {
        let started = Instant::now();
        while !self.log().contains(needle) {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "no {needle:?} in the log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `signal` (such as `-HUP`) to the server.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM, waits for the exit and returns the whole log.
    fn stop(mut self) -> String {
        self.signal("-TERM");
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "spaceid serve exited with {exit}");
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.log()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn every_call_has_a_request_id_in_its_answer_and_its_log_line() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let server = ServerProcess::start(&app, &[]);
    let channel = server.channel().await;
    let token = app.access_token(&acme.domain_id, &acme.admin_id).await;

    // The caller's own id comes back.
    let mut request = authed(UserProfileRequest::default(), &token);
    request
        .metadata_mut()
        .insert("x-request-id", "checkout-7f3a".parse().unwrap());
    let answer = UserProfileClient::new(channel.clone())
        .get(request)
        .await
        .unwrap();
    assert_eq!(
        answer.metadata().get("x-request-id").unwrap(),
        "checkout-7f3a"
    );

    // A failed call gets one too, in its status's metadata; without an id, a new one.
    let refused = UserProfileClient::new(channel.clone())
        .get(authed(UserProfileRequest::default(), "not-a-token"))
        .await
        .unwrap_err();
    let made = refused
        .metadata()
        .get("x-request-id")
        .expect("a request id on a failed call")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(made.len(), 32, "{made}");
    assert!(made.chars().all(|c| c.is_ascii_hexdigit()), "{made}");

    // One that is not sane (too long) is replaced, not echoed.
    let mut request = authed(UserProfileRequest::default(), &token);
    request
        .metadata_mut()
        .insert("x-request-id", "x".repeat(500).parse().unwrap());
    let answer = UserProfileClient::new(channel).get(request).await.unwrap();
    let replaced = answer
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(replaced.len(), 32, "{replaced}");

    let log = server.stop();
    let line = log
        .lines()
        .find(|l| l.contains("checkout-7f3a"))
        .unwrap_or_else(|| panic!("the request id is not in the log:\n{log}"));
    assert!(
        line.contains("UserProfile/get") && line.contains("latency_ms=") && line.contains("Ok"),
        "{line}"
    );
    let latency = line.split("latency_ms=").nth(1).unwrap();
    let latency = latency.split_whitespace().next().unwrap();
    assert!(
        latency.parse::<u64>().is_ok(),
        "latency is not whole milliseconds: {latency}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains(&made) && l.contains("Unauthenticated")),
        "the made-up request id is not in the log:\n{log}"
    );
    assert!(
        log.lines()
            .last()
            .is_some_and(|l| l.contains("server stopped")),
        "the last line does not say the server stopped:\n{log}"
    );
}

#[tokio::test]
async fn serve_on_a_database_without_a_domain_says_how_to_make_one() {
    let app = TestApp::spawn().await;
    let server = ServerProcess::start(&app, &[]);
    server.channel().await;
    let log = server.stop();
    let hints: Vec<&str> = log.lines().filter(|l| l.contains("spaceid init")).collect();
    assert_eq!(hints.len(), 1, "{log}");
    assert!(hints[0].contains("--domain-name"), "{}", hints[0]);

    let app = TestApp::spawn().await;
    app.domain("acme").await;
    let server = ServerProcess::start(&app, &[]);
    server.channel().await;
    let log = server.stop();
    assert!(!log.contains("spaceid init"), "{log}");
}

#[tokio::test]
async fn listening_beyond_loopback_without_tls_logs_one_warning() {
    let app = TestApp::spawn().await;
    app.domain("acme").await;
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spaceid"))
        .args(["serve", "--listen", &format!("0.0.0.0:{port}")])
        .env("DATABASE_URL", &app.database_url)
        .env("SPACEID_BCRYPT_COST", "4")
        .env_remove("SPACEID_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    while !log.contains("listening") {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        log.push_str(&line);
    }
    // The warning comes right after the line that says where the server listens.
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    log.push_str(&line);
    let _ = child.kill();
    let _ = child.wait();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("without TLS")).collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("--tls-cert"), "{}", warnings[0]);
}

/// Runs `spaceid` with `env` set (and no settings of the test's own environment).
fn spaceid_with(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spaceid"));
    for (key, _) in std::env::vars() {
        if key.starts_with("SPACEID_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn help_never_shows_a_secret_from_the_environment() {
    let secret_url = "postgres://spaceid:s3cretPassw0rd@127.0.0.1/identity";
    let env = [
        ("DATABASE_URL", secret_url),
        ("SPACEID_SMTP_URL", "smtp://mailer:m4ilS3cret@127.0.0.1"),
        (
            "SPACEID_SECRET_KEY",
            "k3yMaterial-0123456789abcdef0123456789",
        ),
        ("SPACEID_ADMIN_PASSWORD", "Adm1nS3cretPw"),
    ];
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["init", "--help"],
        &["user", "create", "--help"],
    ] {
        let output = spaceid_with(&env, args);
        assert!(output.status.success());
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("DATABASE_URL"), "{help}");
        for secret in [
            "s3cretPassw0rd",
            "m4ilS3cret",
            "k3yMaterial",
            "Adm1nS3cretPw",
        ] {
            assert!(
                !help.contains(secret),
                "{args:?} --help shows a secret:\n{help}"
            );
        }
    }
}

#[test]
fn each_command_shows_its_own_flags_first_and_server_settings_only_under_serve() {
    let help =
        |args: &[&str]| String::from_utf8(spaceid_with(&[], args).stdout).expect("help in UTF-8");
    // Past the usage line, which names the required flags.
    let options = |help: &str| help[help.find("Options:").expect("an options list")..].to_owned();
    let init = options(&help(&["init", "--help"]));
    let own = init.find("--domain-name").expect("init's own flag");
    let global = init.find("--database-url").expect("a global flag");
    assert!(own < global, "{init}");
    for server_flag in ["--listen", "--tls-cert", "--metrics-listen", "--smtp-url"] {
        assert!(
            !init.contains(server_flag),
            "init --help shows {server_flag}:\n{init}"
        );
    }
    let serve = options(&help(&["serve", "--help"]));
    for flag in [
        "--listen",
        "--tls-cert",
        "--tls-client-ca",
        "--metrics-listen",
        "--health-interval",
        "--database-url",
    ] {
        assert!(serve.contains(flag), "serve --help lacks {flag}:\n{serve}");
    }
    assert!(
        serve.find("--listen").unwrap() < serve.find("--database-url").unwrap(),
        "{serve}"
    );
}

#[tokio::test]
async fn configuration_mistakes_are_one_line_that_says_what_to_do() {
    use crate::cli::one_error_line;
    let dir = tempfile::tempdir().unwrap();
    let list = ["workspace", "list", "--domain-id", "domain-x"];

    let line = one_error_line(&spaceid_with(
        &[("DATABASE_URL", "mysql://root:hunter2@127.0.0.1/identity")],
        &list,
    ));
    assert!(
        line.contains("mysql:") && line.contains("sqlite://"),
        "{line}"
    );
    assert!(!line.contains("hunter2"), "{line}");

    let line = one_error_line(&spaceid_with(&[("DATABASE_URL", "data/spaceid.db")], &list));
    assert!(line.contains("sqlite://data/spaceid.db?mode=rwc"), "{line}");

    let missing_folder = dir.path().join("no-such-folder").join("spaceid.db");
    let url = format!("sqlite://{}?mode=rwc", missing_folder.display());
    let line = one_error_line(&spaceid_with(&[("DATABASE_URL", &url)], &list));
    assert!(
        line.contains("no-such-folder") && line.contains("mode=rwc") && line.contains("folder"),
        "{line}"
    );

    let url = format!("sqlite://{}", dir.path().join("absent.db").display());
    let line = one_error_line(&spaceid_with(&[("DATABASE_URL", &url)], &list));
    assert!(
        line.contains("?mode=rwc") && line.contains("creates"),
        "{line}"
    );

    let port = free_port();
    let url = format!("postgres://spaceid:hunter2@127.0.0.1:{port}/identity");
    let started = Instant::now();
    let line = one_error_line(&spaceid_with(&[("DATABASE_URL", &url)], &list));
    assert!(
        line.contains("connection refused") && line.contains(&format!("127.0.0.1:{port}")),
        "{line}"
    );
    assert!(!line.contains("hunter2"), "{line}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    let database = format!("sqlite://{}?mode=rwc", dir.path().join("ok.db").display());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let line = one_error_line(&spaceid_with(
        &[("DATABASE_URL", &database)],
        &["serve", "--listen", &address],
    ));
    assert!(
        line.contains("in use") && line.contains("--listen"),
        "{line}"
    );
    drop(taken);

    let line = one_error_line(&spaceid_with(
        &[],
        &["serve", "--listen", "localhost:50051"],
    ));
    assert!(
        line.contains("host name") && line.contains("127.0.0.1:50051"),
        "{line}"
    );
    let line = one_error_line(&spaceid_with(
        &[("SPACEID_METRICS_LISTEN", "metrics.internal:9100")],
        &["serve"],
    ));
    assert!(
        line.contains("host name") && line.contains("0.0.0.0:9100"),
        "{line}"
    );

    let output = spaceid_with(
        &[("DATABASE_URL", &database)],
        &[
            "init",
            "--domain-name",
            "acme",
            "--admin-user-id",
            "admin@acme.test",
        ],
    );
    let line = one_error_line(&output);
    assert!(
        line.contains("--admin-password") && line.contains("SPACEID_ADMIN_PASSWORD"),
        "{line}"
    );
}

#[tokio::test]
async fn a_missing_password_or_an_unknown_role_say_what_exists() {
    use crate::cli::one_error_line;
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let line = one_error_line(&spaceid(
        &app,
        &[
            "user",
            "create",
            "--domain-id",
            &acme.domain_id,
            "--user-id",
            "bob@acme.test",
        ],
    ));
    assert!(
        line.contains("--password") && line.contains("SPACEID_USER_PASSWORD"),
        "{line}"
    );
    let line = one_error_line(&spaceid(
        &app,
        &[
            "role-binding",
            "create",
            "--domain-id",
            &acme.domain_id,
            "--user-id",
            &acme.admin_id,
            "--role-id",
            "workspace-member",
        ],
    ));
    assert!(
        line.contains("workspace-member")
            && line.contains("managed-workspace-member")
            && line.contains("managed-domain-admin"),
        "{line}"
    );
}
