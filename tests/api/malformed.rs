//! Bodies that are not valid gRPC protobuf, sent as raw bytes as an attacker would: each is
//! INVALID_ARGUMENT naming the problem, never INTERNAL.

use bytes::{Buf, BufMut};
use prost::Message;
use tonic::{
    Code,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

use crate::helpers::*;

/// Sends and receives message bodies as raw bytes.
#[derive(Clone, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

const ISSUE: &str = "/spaceone.api.identity.v2.Token/issue";

async fn send(app: &TestApp, path: &'static str, body: Vec<u8>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(app.raw_channel().await);
    grpc.ready().await.unwrap();
    grpc.unary(
        tonic::Request::new(body),
        http::uri::PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .expect_err("a malformed body is refused")
}

fn assert_invalid(status: &tonic::Status, what: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
    assert!(
        status.message().starts_with("ERROR_INVALID_PARAMETER"),
        "{what}: {}",
        status.message()
    );
}

#[tokio::test]
async fn malformed_bodies_are_the_clients_mistake() {
    let app = TestApp::spawn().await;

    // domain_id (field 21, a string) holding bytes that are not UTF-8.
    let not_utf8 = vec![0xaa, 0x01, 0x02, 0xff, 0xfe];
    // field 1 (a Struct) sent as a varint.
    let wrong_wire_type = vec![0x08, 0x01];
    let garbage = vec![0xff; 16];
    // credentials nested 150 Structs deep, beyond the decoder's recursion limit.
    let mut deep = prost_types::Struct::default();
    for _ in 0..150 {
        let value = prost_types::Value {
            kind: Some(prost_types::value::Kind::StructValue(deep)),
        };
        deep = prost_types::Struct {
            fields: [("k".to_owned(), value)].into_iter().collect(),
        };
    }
    let mut too_deep = issue_request("domain-x", "u@x.test", PASSWORD);
    too_deep.credentials = Some(deep);

    for (what, body) in [
        ("invalid UTF-8", not_utf8),
        ("a wrong wire type", wrong_wire_type),
        ("garbage", garbage),
        ("a Struct nested too deep", too_deep.encode_to_vec()),
    ] {
        let status = send(&app, ISSUE, body).await;
        assert_invalid(&status, what);
        assert!(
            status.message().contains("protobuf"),
            "{what}: {}",
            status.message()
        );
    }

    // A unary call with no message at all.
    let mut grpc = tonic::client::Grpc::new(app.raw_channel().await);
    grpc.ready().await.unwrap();
    let status = grpc
        .client_streaming::<_, Vec<u8>, Vec<u8>, _>(
            tonic::Request::new(tokio_stream::empty::<Vec<u8>>()),
            http::uri::PathAndQuery::from_static(ISSUE),
            RawCodec,
        )
        .await
        .expect_err("an empty body is refused");
    assert_invalid(&status, "an empty body");

    // The server is still there for a well-formed call.
    let acme = app.domain("acme").await;
    app.issue(&acme.domain_id, &acme.admin_id, PASSWORD)
        .await
        .unwrap();
}

#[tokio::test]
async fn gzip_requests_are_refused_with_a_clear_message() {
    let app = TestApp::spawn().await;
    let acme = app.domain("acme").await;
    let body = issue_request(&acme.domain_id, &acme.admin_id, PASSWORD).encode_to_vec();
    let mut request = tonic::Request::new(body);
    request
        .metadata_mut()
        .insert("grpc-encoding", "gzip".parse().unwrap());
    let mut grpc = tonic::client::Grpc::new(app.raw_channel().await);
    grpc.ready().await.unwrap();
    let status = grpc
        .unary(
            request,
            http::uri::PathAndQuery::from_static(ISSUE),
            RawCodec,
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert!(status.message().contains("gzip"), "{}", status.message());
    assert!(
        status.message().starts_with("ERROR_NOT_IMPLEMENTED:"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn statuses_written_by_the_framework_carry_a_spaceone_code_too() {
    let app = TestApp::spawn().await;
    let status = send(
        &app,
        "/spaceone.api.identity.v2.UserProfile/no_such_call",
        Vec::new(),
    )
    .await;
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");
    assert!(
        status.message().starts_with("ERROR_NOT_IMPLEMENTED:"),
        "{}",
        status.message()
    );
}
