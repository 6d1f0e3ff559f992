//! The edge under attack: calls whose body never comes, connections that stay idle, and a
//! stop with silent and idle connections open. Clients at different addresses connect from
//! different loopback addresses (127.0.0.0/8).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::helpers::*;

const ISSUE: &str = "/spaceone.api.identity.v2.Token/issue";

/// Calls that send their headers from `source` and never their body, on one connection.
struct StalledCalls {
    responses: Vec<h2::client::ResponseFuture>,
    // Kept open: dropping them would end the calls.
    _bodies: Vec<h2::SendStream<bytes::Bytes>>,
    _client: h2::client::SendRequest<bytes::Bytes>,
}

async fn stalled_calls(app: &TestApp, source: &str, calls: usize) -> StalledCalls {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let tcp = socket.connect(app.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let mut responses = Vec::with_capacity(calls);
    let mut bodies = Vec::with_capacity(calls);
    for _ in 0..calls {
        let request = http::Request::post(format!("http://{}{ISSUE}", app.addr))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        client = client.ready().await.unwrap();
        let (response, body) = client.send_request(request, false).unwrap();
        responses.push(response);
        bodies.push(body);
    }
    StalledCalls {
        responses,
        _bodies: bodies,
        _client: client,
    }
}

/// The gRPC codes of the stalled calls answered within `within`; the rest stay pending.
async fn answered(calls: &mut StalledCalls, within: Duration) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + within;
    let mut codes = Vec::new();
    for response in &mut calls.responses {
        if let Ok(Ok(response)) = tokio::time::timeout_at(deadline, response).await {
            let code = response
                .headers()
                .get("grpc-status")
                .map(|v| v.to_str().unwrap().to_owned());
            codes.push(code.unwrap_or_default());
        }
    }
    codes
}

async fn serving(app: &TestApp, source: &str) -> bool {
    let mut health = HealthClient::new(app.channel_from(source).await);
    let check = tokio::time::timeout(
        Duration::from_secs(2),
        health.check(HealthCheckRequest {
            service: String::new(),
        }),
    )
    .await;
    matches!(check, Ok(Ok(_)))
}

#[tokio::test]
async fn calls_whose_body_never_comes_cannot_hold_up_other_clients() {
    let app =
        TestApp::spawn_with(&["--max-calls-per-client", "8", "--concurrency-limit", "32"]).await;
    let acme = app.domain("acme").await;

    // One address opens 40 calls over two connections: 8 are let in (and wait for a body
    // until the request timeout), the other 32 are refused at once.
    let mut first = stalled_calls(&app, "127.0.0.2", 20).await;
    let mut second = stalled_calls(&app, "127.0.0.2", 20).await;
    let mut codes = answered(&mut first, Duration::from_secs(2)).await;
    codes.extend(answered(&mut second, Duration::from_secs(1)).await);
    assert_eq!(codes.len(), 32, "{codes:?}");
    assert!(codes.iter().all(|code| code == "8"), "{codes:?}");

    // Another client is served at once.
    let started = Instant::now();
    let mut token = app.token_from("127.0.0.3").await;
    let issued = token
        .issue(issue_request(&acme.domain_id, &acme.admin_id, PASSWORD))
        .await;
    assert!(issued.is_ok(), "{issued:?}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // Three more addresses fill the 32 places: a new call is refused at once, not queued,
    // and health probes still answer.
    let mut held = Vec::new();
    for source in ["127.0.0.4", "127.0.0.5", "127.0.0.6"] {
        held.push(stalled_calls(&app, source, 8).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for calls in &mut held {
        assert!(
            answered(calls, Duration::from_millis(50)).await.is_empty(),
            "calls within the limits are let in"
        );
    }
    let started = Instant::now();
    let mut token = app.token_from("127.0.0.7").await;
    let refused = token
        .issue(issue_request(&acme.domain_id, &acme.admin_id, PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().starts_with("ERROR_SERVER_BUSY:"),
        "{}",
        refused.message()
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        serving(&app, "127.0.0.7").await,
        "health answers under load"
    );

    // Once the stalled calls go away, their places are free again.
    drop((first, second, held));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let issued = token
        .issue(issue_request(&acme.domain_id, &acme.admin_id, PASSWORD))
        .await;
    assert!(issued.is_ok(), "{issued:?}");
}

/// A connection that has sent its HTTP/2 preface and settings, and nothing else.
async fn greeted_connection(app: &TestApp) -> tokio::net::TcpStream {
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    socket
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    socket
}

/// Whether the server closes `socket` within `within` (reading and dropping what it sends).
async fn closed_within(socket: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let until_closed = async {
        let mut buf = [0u8; 1024];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, until_closed).await.is_ok()
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let app = TestApp::spawn_with(&["--idle-timeout", "1"]).await;
    let mut idle = greeted_connection(&app).await;
    let started = Instant::now();
    assert!(closed_within(&mut idle, Duration::from_secs(4)).await);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed after {:?}, before the idle timeout",
        started.elapsed()
    );

    // A connection with a call in progress is not idle, however long the call takes.
    let mut busy = stalled_calls(&app, "127.0.0.2", 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        answered(&mut busy, Duration::from_millis(10))
            .await
            .is_empty(),
        "the call is still waiting for its body, on an open connection"
    );
}

#[tokio::test]
async fn at_the_cap_the_connection_idle_longest_makes_room() {
    let app = TestApp::spawn_with(&["--max-connections", "3"]).await;
    let acme = app.domain("acme").await;
    let mut oldest = greeted_connection(&app).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut newer = greeted_connection(&app).await;
    let _busy = stalled_calls(&app, "127.0.0.2", 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let issued = tokio::time::timeout(
        Duration::from_secs(3),
        app.access_token(&acme.domain_id, &acme.admin_id),
    )
    .await;
    assert!(issued.is_ok(), "a new client is served at the cap");
    assert!(closed_within(&mut oldest, Duration::from_secs(2)).await);
    assert!(!closed_within(&mut newer, Duration::from_millis(200)).await);
}

#[tokio::test]
async fn a_stop_does_not_wait_for_silent_or_idle_connections() {
    // The test settings give a grace period of 5 s.
    let app = TestApp::spawn_with(&["--handshake-timeout", "30"]).await;
    let _silent = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let _greeted = greeted_connection(&app).await;
    let _channel = app.channel_from("127.0.0.2").await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    app.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the stop took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn health_watchers_do_not_hold_connections_against_the_cap() {
    use tokio_stream::StreamExt;
    let app = TestApp::spawn_with(&["--max-connections", "3"]).await;
    let acme = app.domain("acme").await;
    let mut watches = Vec::new();
    for source in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        let mut health = HealthClient::new(app.channel_from(source).await);
        let mut watch = health
            .watch(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        watch.next().await.unwrap().unwrap();
        watches.push((health, watch));
    }
    let issued = tokio::time::timeout(
        Duration::from_secs(3),
        app.access_token(&acme.domain_id, &acme.admin_id),
    )
    .await;
    assert!(
        issued.is_ok(),
        "a watch stream does not make a connection busy"
    );
}

/// A connection that stops reading when told to, as a client that has gone quiet would.
struct Deaf {
    inner: tokio::net::TcpStream,
    deaf: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl tokio::io::AsyncRead for Deaf {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.deaf.load(std::sync::atomic::Ordering::SeqCst) {
            return std::task::Poll::Pending;
        }
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Deaf {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn a_stop_closes_a_connection_when_its_last_call_ends_even_if_the_client_is_quiet() {
    use prost::Message;
    // A grace period far longer than the call: a stop that waited for it would show.
    let app = TestApp::spawn_with(&["--shutdown-grace", "120"]).await;
    let acme = app.domain("acme").await;
    app.slow_user(
        &acme,
        "slow@acme.test",
        13,
        spaceid::testing::domain::UserState::Enabled,
    )
    .await;

    let deaf = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let io = Deaf {
        inner: tcp,
        deaf: deaf.clone(),
    };
    let (client, connection) = h2::client::handshake(io).await.unwrap();
    let _connection = tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!("http://{}{ISSUE}", app.addr))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let message = issue_request(&acme.domain_id, "slow@acme.test", PASSWORD).encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&message);
    let (_response, mut body) = client.send_request(request, false).unwrap();
    body.send_data(frame.into(), true).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // From now on the client reads nothing: it will not see the GOAWAY of the stop.
    deaf.store(true, std::sync::atomic::Ordering::SeqCst);

    let started = Instant::now();
    app.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the stop took {:?}; the grace period is 120 s",
        started.elapsed()
    );
}
