//! The tonic server: the three SpaceONE services, reflection (v1 and v1alpha), health,
//! limits on connections and calls, the edge every call passes (status corrections and a
//! log line), and graceful shutdown.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context as TaskContext, Poll},
    time::{Duration, Instant},
};

use tokio::net::TcpListener;
use tonic::{Request, Response, Status, transport::Server};
use tonic_health::{
    ServingStatus,
    pb::{
        HealthCheckRequest, HealthCheckResponse,
        health_server::{Health, HealthServer},
    },
};
use tower::{Layer, Service, limit::GlobalConcurrencyLimitLayer};

use crate::api::{TokenApi, UserProfileApi, WorkspaceUserApi};
use crate::config::Settings;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::pb::identity::{
    token_server::TokenServer, user_profile_server::UserProfileServer,
    workspace_user_server::WorkspaceUserServer,
};

mod connections;

use connections::ConnectionLimits;

/// Serves the API on `listener` until `shutdown` completes, then lets in-flight calls
/// finish for at most the configured grace period.
pub async fn serve(
    ctx: Arc<Context>,
    settings: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let max = settings.max_message_bytes;
    let user_profile = UserProfileServer::new(UserProfileApi::new(ctx.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let workspace_user = WorkspaceUserServer::new(WorkspaceUserApi::new(ctx.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let token = TokenServer::new(TokenApi::new(ctx.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);

    let health = tonic_health::server::HealthReporter::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let health_service = HealthServer::new(EndingHealth {
        inner: tonic_health::server::HealthService::from_health_reporter(health.clone()),
        stop: stop_rx.clone(),
    });
    health
        .set_serving::<UserProfileServer<UserProfileApi>>()
        .await;
    health
        .set_serving::<WorkspaceUserServer<WorkspaceUserApi>>()
        .await;
    health.set_serving::<TokenServer<TokenApi>>().await;
    health.set_service_status("", ServingStatus::Serving).await;

    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1().map_err(Error::internal)?;
    let reflection_v1alpha = reflection().build_v1alpha().map_err(Error::internal)?;

    let graceful = {
        let mut stop_rx = stop_rx.clone();
        async move {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
        }
    };
    let router = Server::builder()
        .timeout(settings.request_timeout())
        .http2_keepalive_interval(Some(Duration::from_secs(
            settings.keepalive_interval.max(1),
        )))
        .http2_keepalive_timeout(Some(Duration::from_secs(settings.keepalive_timeout.max(1))))
        .max_concurrent_streams(settings.max_streams_per_connection.max(1))
        .layer(EdgeLayer)
        .layer(GlobalConcurrencyLimitLayer::new(
            settings.concurrency_limit.max(1),
        ))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(user_profile)
        .add_service(workspace_user)
        .add_service(token);

    let local = listener.local_addr().map_err(Error::internal)?;
    tracing::info!(addr = %local, "listening");
    let housekeeping = tokio::spawn(housekeeping(ctx.clone()));
    let limits = ConnectionLimits {
        max_connections: settings.max_connections,
        handshake_timeout: Duration::from_secs(settings.handshake_timeout.max(1)),
    };
    let incoming = connections::bounded(listener, limits);
    let mut server = tokio::spawn(router.serve_with_incoming_shutdown(incoming, graceful));
    tokio::select! {
        result = &mut server => {
            housekeeping.abort();
            return finished(result);
        }
        () = shutdown => {}
    }
    housekeeping.abort();
    tracing::info!("shutting down; letting in-flight calls finish");
    health
        .set_not_serving::<UserProfileServer<UserProfileApi>>()
        .await;
    health
        .set_not_serving::<WorkspaceUserServer<WorkspaceUserApi>>()
        .await;
    health.set_not_serving::<TokenServer<TokenApi>>().await;
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    // Ends every Health.Watch stream (after it has sent NOT_SERVING) and starts the drain.
    let _ = stop_tx.send(true);
    match tokio::time::timeout(settings.shutdown_grace(), &mut server).await {
        Ok(result) => finished(result),
        Err(_) => {
            tracing::warn!("calls still running after the grace period; stopping anyway");
            server.abort();
            Ok(())
        }
    }
}

/// The health service, with `Watch` streams that end when the server stops: a client
/// watching health would otherwise hold the drain open for the whole grace period.
struct EndingHealth {
    inner: tonic_health::server::HealthService,
    stop: tokio::sync::watch::Receiver<bool>,
}

type HealthStream = Pin<
    Box<dyn futures_util::Stream<Item = std::result::Result<HealthCheckResponse, Status>> + Send>,
>;

#[tonic::async_trait]
impl Health for EndingHealth {
    type WatchStream = HealthStream;

    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> std::result::Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> std::result::Result<Response<Self::WatchStream>, Status> {
        use futures_util::StreamExt;
        let updates = self.inner.watch(request).await?.into_inner();
        let stream = futures_util::stream::unfold(
            (updates, self.stop.clone()),
            |(mut updates, mut stop)| async move {
                // Updates first, so the NOT_SERVING sent at shutdown arrives before the end.
                let update = tokio::select! {
                    biased;
                    update = updates.next() => update,
                    _ = stop.wait_for(|stopped| *stopped) => None,
                };
                update.map(|update| (update, (updates, stop)))
            },
        );
        Ok(Response::new(Box::pin(stream)))
    }
}

/// How often stale rows (sign-in failures long past) are deleted.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(600);

/// Deletes what no longer restricts anything, every `HOUSEKEEPING_INTERVAL`.
async fn housekeeping(ctx: Arc<Context>) {
    let mut every = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    every.tick().await;
    loop {
        every.tick().await;
        match crate::service::tokens::purge_sign_in_throttles(&ctx).await {
            Ok(purged) => tracing::debug!(purged, "old sign-in failures forgotten"),
            Err(error) => tracing::warn!(%error, "cannot purge old sign-in failures"),
        }
    }
}

fn finished(
    result: std::result::Result<
        std::result::Result<(), tonic::transport::Error>,
        tokio::task::JoinError,
    >,
) -> Result<()> {
    result.map_err(Error::internal)?.map_err(Error::internal)
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// What every call passes on its way out. Statuses that blame the server for a message
/// the client sent malformed (tonic answers INTERNAL for bytes that are not protobuf, an
/// empty unary body or a broken frame) become INVALID_ARGUMENT; a status message is cut to
/// `MAX_STATUS_MESSAGE` bytes, whoever wrote it (reflection quotes file names whole); and one
/// log line is written when the response ends, with the code the caller saw: from the
/// headers of a call that failed at once, or from the trailers (a reply that failed while
/// being sent, such as OUT_OF_RANGE for one too large, says so there). A response dropped
/// before its end is logged as CANCELLED. The layer sees only the path and the status,
/// never messages or metadata, so no secret can reach the log.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLayer;

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Edge { inner }
    }
}

/// The service `EdgeLayer` wraps around each route.
#[derive(Debug, Clone)]
pub struct Edge<S> {
    inner: S,
}

impl<S, B, R> Service<http::Request<B>> for Edge<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display,
{
    type Response = http::Response<LoggedBody<R>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::result::Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let started = Instant::now();
        let call = self.inner.call(request);
        Box::pin(async move {
            match call.await {
                Ok(mut response) => {
                    let in_headers = correct_status(response.headers_mut());
                    let record = CallRecord {
                        method,
                        started,
                        in_headers,
                    };
                    Ok(response.map(|inner| LoggedBody {
                        inner,
                        record: Some(record),
                    }))
                }
                Err(error) => {
                    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
                    tracing::warn!(method, %error, latency_ms, "call failed");
                    Err(error)
                }
            }
        })
    }
}

/// The longest status message sent, in bytes.
const MAX_STATUS_MESSAGE: usize = 512;

/// How tonic words the INTERNAL statuses it gives a request that is not valid gRPC and
/// protobuf: the client's mistake, not the server's.
const CLIENT_FAULTS: &[&str] = &[
    "failed to decode Protobuf message",
    "Missing request message",
    "Unexpected EOF decoding stream",
    "protocol error: received message with",
    "Error decompressing",
];

/// Corrects the gRPC status in `headers` (see `EdgeLayer`) and returns its code, if any.
fn correct_status(headers: &mut http::HeaderMap) -> Option<tonic::Code> {
    let status = Status::from_header_map(headers)?;
    let message = status.message();
    let corrected = if status.code() == tonic::Code::Internal
        && CLIENT_FAULTS.iter().any(|fault| message.starts_with(fault))
    {
        Some(Status::invalid_argument(format!(
            "ERROR_INVALID_PARAMETER: Invalid parameter. (key = request, reason = the message is not valid gRPC protobuf: {})",
            bounded(message)
        )))
    } else if message.len() > MAX_STATUS_MESSAGE {
        Some(Status::new(status.code(), bounded(message)))
    } else {
        None
    };
    match corrected {
        Some(corrected) => {
            headers.remove("grpc-message");
            headers.remove("grpc-status-details-bin");
            let _ = corrected.add_header(headers);
            Some(corrected.code())
        }
        None => Some(status.code()),
    }
}

/// `message` cut to `MAX_STATUS_MESSAGE` bytes at a character boundary.
fn bounded(message: &str) -> String {
    if message.len() <= MAX_STATUS_MESSAGE {
        return message.to_owned();
    }
    let mut end = MAX_STATUS_MESSAGE - 3;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

/// What the log line of a call needs until its response ends.
struct CallRecord {
    method: String,
    started: Instant,
    in_headers: Option<tonic::Code>,
}

impl CallRecord {
    fn log(self, code: tonic::Code) {
        let latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(method = self.method, code = ?code, latency_ms, "call");
    }
}

/// A response body that writes its call's log line when it ends.
pub struct LoggedBody<B> {
    inner: B,
    record: Option<CallRecord>,
}

impl<B> http_body::Body for LoggedBody<B>
where
    B: http_body::Body + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<std::result::Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let mut polled = Pin::new(&mut self.inner).poll_frame(cx);
        let code = match &mut polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_mut().and_then(correct_status),
            Poll::Ready(Some(Err(_))) => Some(tonic::Code::Internal),
            Poll::Ready(None) => Some(
                self.record
                    .as_ref()
                    .and_then(|r| r.in_headers)
                    .unwrap_or(tonic::Code::Unknown),
            ),
            Poll::Pending => None,
        };
        if let Some(code) = code
            && let Some(record) = self.record.take()
        {
            record.log(code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for LoggedBody<B> {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            let code = record.in_headers.unwrap_or(tonic::Code::Cancelled);
            record.log(code);
        }
    }
}
