//! What every client of the server relies on: reflection, health, limits, UNIMPLEMENTED
//! for calls not offered yet, and a graceful stop.

use spaceid::pb::identity::UpdateUserProfileRequest;
use spaceid::testing::domain::UserState;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::helpers::*;

/// The four SpaceONE services, as reflection lists them: nothing else, since spacectl and
/// spaceone-core load every listed service as an identity API.
const LISTED: [&str; 4] = [
    "spaceone.api.identity.v2.Domain",
    "spaceone.api.identity.v2.Token",
    "spaceone.api.identity.v2.UserProfile",
    "spaceone.api.identity.v2.WorkspaceUser",
];

/// Asks the v1 reflection service one thing and returns its answer.
async fn reflect_v1(
    app: &TestApp,
    request: tonic_reflection::pb::v1::server_reflection_request::MessageRequest,
) -> tonic_reflection::pb::v1::server_reflection_response::MessageResponse {
    use tokio_stream::StreamExt;
    let mut client =
        tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(
            app.raw_channel().await,
        );
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    stream
        .next()
        .await
        .unwrap()
        .unwrap()
        .message_response
        .unwrap()
}

/// The names of the files of a reflection answer, in order.
fn file_names(
    response: tonic_reflection::pb::v1::server_reflection_response::MessageResponse,
) -> Vec<String> {
    use prost::Message;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let MessageResponse::FileDescriptorResponse(files) = response else {
        panic!("not files: {response:?}");
    };
    files
        .file_descriptor_proto
        .iter()
        .map(|raw| {
            prost_types::FileDescriptorProto::decode(raw.as_slice())
                .unwrap()
                .name()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn reflection_lists_exactly_the_spaceone_services_in_both_versions() {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let app = TestApp::spawn().await;

    let MessageResponse::ListServicesResponse(list) =
        reflect_v1(&app, MessageRequest::ListServices(String::new())).await
    else {
        panic!("not a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert_eq!(names, LISTED);

    let mut v1alpha =
        tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient::new(
            app.raw_channel().await,
        );
    let ask = |request| tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as Alpha;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    // One stream, several questions, an unknown one among them: each gets its answer.
    let mut stream = v1alpha
        .server_reflection_info(tokio_stream::iter([
            ask(Alpha::ListServices(String::new())),
            ask(Alpha::FileByFilename("no/such/file.proto".into())),
            ask(Alpha::FileContainingSymbol(
                "spaceone.api.identity.v2.UserProfile".into(),
            )),
        ]))
        .await
        .unwrap()
        .into_inner();
    let Some(AlphaResponse::ListServicesResponse(list)) =
        stream.next().await.unwrap().unwrap().message_response
    else {
        panic!("not a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert_eq!(names, LISTED);
    let Some(AlphaResponse::ErrorResponse(error)) =
        stream.next().await.unwrap().unwrap().message_response
    else {
        panic!("not an error");
    };
    assert_eq!(error.error_code, Code::NotFound as i32);
    assert!(matches!(
        stream.next().await.unwrap().unwrap().message_response,
        Some(AlphaResponse::FileDescriptorResponse(_))
    ));
}

#[tokio::test]
async fn reflection_answers_a_file_first_then_its_dependencies() {
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    let app = TestApp::spawn().await;
    let files = file_names(
        reflect_v1(
            &app,
            MessageRequest::FileByFilename("spaceone/api/identity/v2/domain.proto".into()),
        )
        .await,
    );
    assert_eq!(files[0], "spaceone/api/identity/v2/domain.proto");
    for dependency in [
        "spaceone/api/core/v2/handler.proto",
        "spaceone/api/core/v2/query.proto",
        "google/api/annotations.proto",
        "google/api/http.proto",
        "google/protobuf/descriptor.proto",
        "google/protobuf/struct.proto",
        "google/protobuf/empty.proto",
    ] {
        assert_eq!(
            files.iter().filter(|f| *f == dependency).count(),
            1,
            "{dependency} in {files:?}"
        );
    }
    // Every file stays reachable, the unlisted services' and the well-known types' too.
    for (symbol, file) in [
        (
            "spaceone.api.identity.v2.Domain.get_public_key",
            "spaceone/api/identity/v2/domain.proto",
        ),
        (
            "spaceone.api.core.v2.AuthenticationResponse",
            "spaceone/api/core/v2/handler.proto",
        ),
        ("grpc.health.v1.Health", "health.proto"),
        ("google.protobuf.Struct", "google/protobuf/struct.proto"),
    ] {
        let files =
            file_names(reflect_v1(&app, MessageRequest::FileContainingSymbol(symbol.into())).await);
        assert_eq!(files[0], file, "{symbol}");
    }
    for file in ["google/protobuf/empty.proto", "google/api/http.proto"] {
        let files = file_names(reflect_v1(&app, MessageRequest::FileByFilename(file.into())).await);
        assert_eq!(files[0], file);
    }
}

#[tokio::test]
async fn health_reports_serving() {
    let app = TestApp::spawn().await;
    let mut health = HealthClient::new(app.raw_channel().await);
    for service in [
        "",
        "spaceone.api.identity.v2.UserProfile",
        "spaceone.api.identity.v2.Token",
        "spaceone.api.identity.v2.Domain",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service}");
    }
}

#[tokio::test]
async fn calls_not_offered_yet_answer_unimplemented() {
    let app = TestApp::spawn().await;
    let request = spaceid::pb::identity::GrantTokenRequest {
        grant_type: spaceid::pb::identity::grant_token_request::GrantType::SystemToken as i32,
        ..Default::default()
    };
    let result = app.token().await.grant(request).await;
    assert_status(
        result,
        Code::Unimplemented,
        "ERROR_NOT_IMPLEMENTED",
        &["SYSTEM_TOKEN"],
    );
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let token = app.access_token(&acme.domain_id, &acme.admin_id).await;
    let huge = serde_json::json!({"blob": "x".repeat(5 * 1024 * 1024)});
    let request = UpdateUserProfileRequest {
        tags: Some(to_struct(&huge)),
        ..Default::default()
    };
    let status = app
        .user_profile()
        .await
        .update(authed(request, &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{}", status.message());
    assert!(
        status.message().contains("too large")
            && status.message().starts_with("ERROR_INVALID_PARAMETER:"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn a_stop_lets_calls_in_flight_finish() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    app.slow_user(&acme, "slow@acme.test", 13, UserState::Enabled)
        .await;
    let mut token = app.token().await;
    let call = tokio::spawn(async move {
        token
            .issue(issue_request(&acme.domain_id, "slow@acme.test", PASSWORD))
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!call.is_finished(), "the sign-in should still be running");

    app.stop().await;
    let answer = call.await.unwrap();
    assert!(answer.is_ok(), "the call in flight finished: {answer:?}");
}

#[tokio::test]
async fn calls_that_outlive_the_request_timeout_are_ended() {
    let app = TestApp::spawn_with(&["--request-timeout", "1"]).await;
    let acme = app.domain("acme").await;
    app.slow_user(&acme, "slow@acme.test", 15, UserState::Enabled)
        .await;
    let started = std::time::Instant::now();
    let status = app
        .issue(&acme.domain_id, "slow@acme.test", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{}", status.message());
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn a_stopped_server_finishes_and_closes() {
    let app = TestApp::spawn().await;
    let addr = app.addr;
    app.stop().await;
    let connect = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await;
    assert!(connect.is_err(), "the port is closed after a graceful stop");
}

#[tokio::test]
async fn idle_connections_cannot_crowd_out_a_real_client() {
    use tokio::io::AsyncReadExt;
    let app = TestApp::spawn_with(&["--max-connections", "500", "--handshake-timeout", "2"]).await;
    let acme = app.domain("acme").await;

    // 2,000 connections, four times the cap: half never send a byte, half send the first
    // byte of a preface and stop.
    let mut idle = Vec::with_capacity(2_000);
    for i in 0..2_000 {
        let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        if i % 2 == 0 {
            tokio::io::AsyncWriteExt::write_all(&mut socket, b"P")
                .await
                .unwrap();
        }
        idle.push(socket);
    }
    let started = std::time::Instant::now();
    let token = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        app.access_token(&acme.domain_id, &acme.admin_id),
    )
    .await
    .expect("a real client is served at once, cap or not");
    let profile = app
        .user_profile()
        .await
        .get(authed(Default::default(), &token))
        .await;
    assert!(profile.is_ok(), "{profile:?}");

    // Every silent connection is closed by the server (after its HTTP/2 settings): evicted
    // to make room, or at its handshake deadline.
    let closed = futures::future::join_all(idle.iter_mut().map(|socket| async move {
        let until_closed = async {
            let mut buf = [0u8; 256];
            loop {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), until_closed)
            .await
            .is_ok()
    }))
    .await;
    assert_eq!(closed.iter().filter(|c| **c).count(), 2_000);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn a_stop_ends_health_watch_streams_instead_of_waiting_for_them() {
    let app = TestApp::spawn().await;
    let mut health = HealthClient::new(app.raw_channel().await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    let started = std::time::Instant::now();
    let stopping = tokio::spawn(app.stop());
    let last = watch.message().await.unwrap().unwrap();
    assert_eq!(last.status(), ServingStatus::NotServing);
    assert!(
        watch.message().await.unwrap().is_none(),
        "the watch stream ends"
    );
    stopping.await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "the stop took {:?}; the grace period is 5 s",
        started.elapsed()
    );
}

#[tokio::test]
async fn reflection_does_not_echo_a_huge_file_name_back() {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let app = TestApp::spawn().await;
    let mut client = ServerReflectionClient::new(app.raw_channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileByFilename("x".repeat(1 << 20))),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let message = match stream.next().await.unwrap() {
        Err(status) => {
            assert_eq!(status.code(), Code::NotFound, "{status:?}");
            status.message().to_owned()
        }
        Ok(response) => match response.message_response {
            Some(MessageResponse::ErrorResponse(error)) => error.error_message,
            other => panic!("{other:?}"),
        },
    };
    assert!(message.len() <= 512, "{} bytes echoed back", message.len());
}
