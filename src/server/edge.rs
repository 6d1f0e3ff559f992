//! The edge every call passes: admission (calls in progress, in all and per client
//! address), a request id, status corrections, the call log and the call metrics.
//!
//! The request id is the caller's `x-request-id` when it sent a sane one (1 to
//! `MAX_REQUEST_ID` printable ASCII characters), else a new random one; it is returned in
//! the response's `x-request-id` metadata, and every line logged while the call runs sits
//! in a `call` span that carries it, the call's own log line included.

use std::{
    collections::HashMap,
    future::Future,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context as TaskContext, Poll},
    time::Instant,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;
use tower::{Layer, Service};
use tracing::Instrument;

use super::connections::{ConnectionInfo, ResponseInFlight};
use super::prometheus::{CallMetrics, MethodMetrics};
use crate::api::ClientAddress;
use crate::error::{Error, ErrorCode};

/// Limits on calls in progress: in all, and from one client address. A call over either
/// limit is answered at once (UNAVAILABLE, or RESOURCE_EXHAUSTED for one address), never
/// queued: a queue in front of the call timeout would let calls that never finish (a
/// request whose body never comes) hold every later call for as long as they like.
pub struct Admission {
    permits: Arc<Semaphore>,
    per_client: usize,
    clients: Mutex<HashMap<IpAddr, usize>>,
    total: usize,
    refusals: super::RefusalLog,
}

impl Admission {
    /// At most `total` calls at once, and `per_client` from one client address (0: no
    /// limit per address).
    pub fn new(total: usize, per_client: usize) -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(total.max(1))),
            per_client,
            clients: Mutex::default(),
            total,
            refusals: super::RefusalLog::default(),
        })
    }

    /// A place for one more call from `client`, or the status that refuses it.
    fn admit(self: &Arc<Self>, client: Option<IpAddr>) -> Result<Admitted, Status> {
        let client = match client {
            Some(client) if self.per_client > 0 => {
                let mut clients = self.lock();
                let calls = clients.entry(client).or_default();
                if *calls >= self.per_client {
                    self.refusals.refused(
                        "calls refused: too many in progress from one address",
                        self.per_client,
                    );
                    return Err(Error::Throttled {
                        what: "too many calls in progress from this address",
                        retry_after_secs: 1,
                    }
                    .into());
                }
                *calls += 1;
                Some(client)
            }
            _ => None,
        };
        let mut admitted = Admitted {
            admission: self.clone(),
            client,
            _permit: None,
        };
        // Dropping `admitted` on refusal gives the address's place back.
        admitted._permit = Some(self.permits.clone().try_acquire_owned().map_err(|_| {
            self.refusals
                .refused("calls refused: too many in progress", self.total);
            Status::from(Error::Busy("too many calls in progress"))
        })?);
        Ok(admitted)
    }

    /// Calls in progress now.
    pub fn in_progress(&self) -> usize {
        self.total
            .max(1)
            .saturating_sub(self.permits.available_permits())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A call's place under the limits, given back when the call's handler is done.
struct Admitted {
    admission: Arc<Admission>,
    client: Option<IpAddr>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(client) = self.client {
            let mut clients = self.admission.lock();
            if let Some(calls) = clients.get_mut(&client) {
                *calls -= 1;
                if *calls == 0 {
                    clients.remove(&client);
                }
            }
        }
    }
}

/// The address limits and throttles count a client under: its IP address, or for IPv6 its
/// /64 network (one host commonly holds a whole /64).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(network.into())
            }
        },
    }
}

/// Paths never refused by admission: health probes must keep answering under load.
fn exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
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
#[derive(Clone)]
pub struct EdgeLayer {
    admission: Arc<Admission>,
    metrics: Option<&'static CallMetrics>,
}

impl EdgeLayer {
    /// The edge, with these limits on calls in progress, counting calls in `metrics` if
    /// metrics are on.
    pub fn new(admission: Arc<Admission>, metrics: Option<&'static CallMetrics>) -> Self {
        Self { admission, metrics }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Edge {
            inner,
            admission: self.admission.clone(),
            metrics: self.metrics,
        }
    }
}

/// The service `EdgeLayer` wraps around each route.
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    admission: Arc<Admission>,
    metrics: Option<&'static CallMetrics>,
}

/// The metadata key of the request id, in requests and responses.
pub const REQUEST_ID: &str = "x-request-id";

/// The longest request id taken from a caller.
pub const MAX_REQUEST_ID: usize = 128;

/// The caller's request id if it is sane, else a new one.
fn request_id(headers: &http::HeaderMap) -> http::HeaderValue {
    headers
        .get(REQUEST_ID)
        .filter(|value| {
            let bytes = value.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= MAX_REQUEST_ID
                && bytes.iter().all(|b| b.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(|| {
            let id = format!("{:032x}", rand::random::<u128>());
            http::HeaderValue::from_str(&id).unwrap_or(http::HeaderValue::from_static("-"))
        })
}

impl<S, B, R> Service<http::Request<B>> for Edge<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display + Send + 'static,
    R: Default + Send + 'static,
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

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let connection = request
            .extensions()
            .get::<ConnectionInfo>()
            .map(|info| info.0.clone());
        let client = connection
            .as_ref()
            .and_then(|connection| connection.peer())
            .map(|peer| client_key(peer.ip()));
        if let Some(client) = client {
            request.extensions_mut().insert(ClientAddress(client));
        }
        let request_id = request_id(request.headers());
        let span = tracing::info_span!(
            "call",
            request_id = %request_id.to_str().unwrap_or_default()
        );
        let method = request.uri().path().to_owned();
        let mut record = CallRecord {
            metrics: self.metrics.map(|metrics| metrics.method(&method)),
            method,
            started: Instant::now(),
            in_headers: None,
            logged: false,
            span: span.clone(),
            _responding: connection
                .as_ref()
                .map(|connection| connection.response_started()),
        };
        // Health probes are neither limited nor counted as work on their connection.
        let (admitted, in_progress) = if exempt(&record.method) {
            (None, None)
        } else {
            match self.admission.admit(client) {
                Ok(admitted) => (
                    Some(admitted),
                    connection.map(|connection| connection.call_started()),
                ),
                Err(status) => {
                    // Counted in the refusal log instead: a flood of refused calls must not
                    // flood the log.
                    record.logged = true;
                    if let Some(metrics) = record.metrics {
                        metrics.record(status.code(), record.started.elapsed());
                    }
                    let mut response = status.into_http::<R>().map(|inner| LoggedBody {
                        inner,
                        record: Some(record),
                    });
                    response.headers_mut().insert(REQUEST_ID, request_id);
                    return Box::pin(std::future::ready(Ok(response)));
                }
            }
        };
        let call = span.in_scope(|| self.inner.call(request));
        Box::pin(
            async move {
                let result = call.await;
                // The handler is done: what is left is sending its answer, which a client
                // that stops reading can hold up forever; that is not work in progress.
                drop((admitted, in_progress));
                match result {
                    Ok(mut response) => {
                        record.in_headers = correct_status(response.headers_mut());
                        response.headers_mut().insert(REQUEST_ID, request_id);
                        Ok(response.map(|inner| LoggedBody {
                            inner,
                            record: Some(record),
                        }))
                    }
                    Err(error) => {
                        tracing::warn!(method = record.method, %error, "call failed");
                        record.log(tonic::Code::Internal);
                        Err(error)
                    }
                }
            }
            .instrument(span),
        )
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
        let reason = format!("the message is not valid gRPC protobuf: {message}");
        let refusal = Status::from(Error::invalid("request", reason));
        Some(Status::new(refusal.code(), bounded(refusal.message())))
    } else if status.code() != tonic::Code::Ok && !message.starts_with("ERROR_") {
        // Written by tonic or a library (an unknown method, gzip, a reply too large): given
        // the SpaceONE error code its status stands for, like every other error.
        let code = ErrorCode::of_status(status.code());
        Some(Status::new(
            status.code(),
            bounded(&format!("{}: {message}", code.name())),
        ))
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

/// What the log line of a call needs until its response ends. Dropped unlogged (the call
/// timed out, or the caller went away before the end), it logs the call as CANCELLED, or
/// with the code its headers already carried.
struct CallRecord {
    method: String,
    metrics: Option<&'static MethodMetrics>,
    started: Instant,
    in_headers: Option<tonic::Code>,
    logged: bool,
    span: tracing::Span,
    _responding: Option<ResponseInFlight>,
}

impl CallRecord {
    /// Writes the call's log line (in its span, so with its request id), latency in whole
    /// milliseconds, and counts it.
    fn log(&mut self, code: tonic::Code) {
        let elapsed = self.started.elapsed();
        if let Some(metrics) = self.metrics {
            metrics.record(code, elapsed);
        }
        let latency_ms = u64::try_from((elapsed.as_micros() + 500) / 1000).unwrap_or(u64::MAX);
        let _in_call = self.span.enter();
        tracing::info!(method = self.method, code = ?code, latency_ms, "call");
        self.logged = true;
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        if !self.logged {
            self.log(self.in_headers.unwrap_or(tonic::Code::Cancelled));
        }
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
            && let Some(mut record) = self.record.take()
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
