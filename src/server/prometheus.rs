//! Metrics: the process's recorder (`metrics-exporter-prometheus`), the per-call counters
//! and latency histograms the edge updates, and the HTTP endpoint that serves them as
//! Prometheus text (`GET /metrics`).
//!
//! Metrics are off unless an address is given for them: with no recorder installed every
//! `metrics` macro in the code is a no-op. The per-call handles are made once per method
//! and status code and kept, so a call costs an atomic increment and a histogram sample,
//! never a label built or a map locked.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, OnceLock},
    time::Duration,
};

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use prost::Message;
use tokio::net::TcpListener;

use crate::context::Context;
use crate::error::{Error, Result};

/// Calls answered, by method and gRPC status code.
const CALLS: &str = "spaceid_calls_total";
/// Time from a call's arrival to the end of its answer, by method.
const CALL_SECONDS: &str = "spaceid_call_duration_seconds";

/// The latency buckets, in seconds: from a cached read to a call at the request timeout.
const CALL_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How long a scrape may take to send its request line and headers.
const SCRAPE_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The recorder of the process (one per process: the `metrics` facade has one global
/// recorder), installed by the first server that serves metrics.
static RECORDER: OnceLock<std::result::Result<PrometheusHandle, String>> = OnceLock::new();

/// The per-method handles, made once per process with the recorder.
static CALL_METRICS: OnceLock<CallMetrics> = OnceLock::new();

/// Installs the Prometheus recorder (once per process) and returns its handle.
pub fn install() -> Result<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(CALL_SECONDS.into()), CALL_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|err| err.to_string())?;
            describe();
            Ok(handle)
        })
        .clone()
        .map_err(|err| Error::Config(format!("cannot start the metrics recorder: {err}")))
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(CALLS, "Calls answered, by method and gRPC status code.");
    describe_histogram!(
        CALL_SECONDS,
        Unit::Seconds,
        "Time from a call's arrival to the end of its answer, by method."
    );
    describe_gauge!(
        "spaceid_db_connections",
        "Pooled database connections, by state."
    );
    describe_gauge!(
        "spaceid_db_connections_max",
        "The most database connections the pool may open."
    );
    describe_gauge!("spaceid_bcrypt_running", "bcrypt computations running now.");
    describe_gauge!(
        "spaceid_bcrypt_queued",
        "Password checks and hashes waiting for a bcrypt turn."
    );
    describe_gauge!(
        "spaceid_database_writable",
        "1 while the last readiness check could write to the database, else 0."
    );
    describe_counter!(
        "spaceid_sign_in_failures_total",
        "Sign-ins refused for a wrong user id or password, or a disabled user."
    );
    describe_counter!(
        "spaceid_sign_in_throttled_total",
        "Sign-in attempts refused because too many failed before them."
    );
    describe_counter!(
        "spaceid_mail_sent_total",
        "Mails handed to SMTP or the outbox."
    );
    describe_counter!("spaceid_mail_failed_total", "Mails that could not be sent.");
    describe_counter!(
        "spaceid_tls_handshake_failures_total",
        "Connections closed because their TLS handshake failed."
    );
}

/// The per-call handles, when metrics are on (`install` was called).
pub fn call_metrics() -> Option<&'static CallMetrics> {
    RECORDER.get()?.as_ref().ok()?;
    Some(CALL_METRICS.get_or_init(CallMetrics::new))
}

/// The handles of every method the server has, by gRPC path.
pub struct CallMetrics {
    methods: HashMap<String, MethodMetrics>,
    unknown: MethodMetrics,
}

impl CallMetrics {
    fn new() -> Self {
        let sets = [
            crate::pb::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ];
        let mut methods = HashMap::new();
        for set in sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(set) else {
                continue;
            };
            for file in set.file {
                for service in &file.service {
                    for method in &service.method {
                        let name =
                            format!("{}.{}/{}", file.package(), service.name(), method.name());
                        methods.insert(format!("/{name}"), MethodMetrics::new(name));
                    }
                }
            }
        }
        Self {
            methods,
            unknown: MethodMetrics::new("unknown".into()),
        }
    }

    /// The handles of the method at `path` (`/package.Service/Method`); one shared set for
    /// paths the server does not have, so a client cannot make new series at will.
    pub fn method(&self, path: &str) -> &MethodMetrics {
        self.methods.get(path).unwrap_or(&self.unknown)
    }
}

/// One method's handles, each registered on first use.
pub struct MethodMetrics {
    name: String,
    calls: [OnceLock<Counter>; 17],
    latency: OnceLock<Histogram>,
}

impl MethodMetrics {
    fn new(name: String) -> Self {
        Self {
            name,
            calls: Default::default(),
            latency: OnceLock::new(),
        }
    }

    /// Counts one call that ended with `code` after `elapsed`.
    pub fn record(&self, code: tonic::Code, elapsed: Duration) {
        let index = usize::try_from(i32::from(code)).unwrap_or(2).min(16);
        self.calls[index]
            .get_or_init(|| {
                metrics::counter!(CALLS, "method" => self.name.clone(), "code" => code_name(code))
            })
            .increment(1);
        self.latency
            .get_or_init(|| metrics::histogram!(CALL_SECONDS, "method" => self.name.clone()))
            .record(elapsed.as_secs_f64());
    }
}

/// A status code as gRPC spells it.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Samples what is read rather than counted: the database pool and the bcrypt queue.
fn sample(ctx: &Context, max_connections: u32) {
    let pool = ctx.pool_usage();
    metrics::gauge!("spaceid_db_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("spaceid_db_connections", "state" => "in_use")
        .set(f64::from(pool.open.saturating_sub(pool.idle)));
    metrics::gauge!("spaceid_db_connections_max").set(f64::from(max_connections));
    metrics::gauge!("spaceid_bcrypt_running").set(ctx.hasher.running() as f64);
    metrics::gauge!("spaceid_bcrypt_queued").set(ctx.hasher.queued() as f64);
}

/// How often latency samples are folded into their histograms between scrapes, so they
/// cannot pile up in memory when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Serves `GET /metrics` on `listener` (HTTP/1.1) until the task is dropped, and folds
/// latency samples into their histograms every `UPKEEP_INTERVAL`.
pub async fn serve(
    listener: TcpListener,
    handle: PrometheusHandle,
    ctx: Arc<Context>,
    max_connections: u32,
) {
    use hyper::{Method, Request, Response, StatusCode, body::Incoming, service::service_fn};
    use hyper_util::rt::{TokioIo, TokioTimer};

    let mut upkeep = tokio::time::interval(UPKEEP_INTERVAL);
    loop {
        let accepted = tokio::select! {
            _ = upkeep.tick() => {
                handle.run_upkeep();
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a metrics connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (handle, ctx) = (handle.clone(), ctx.clone());
        let scrape = service_fn(move |request: Request<Incoming>| {
            let response = if request.uri().path() != "/metrics" {
                Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body("metrics are at /metrics\n".to_owned())
            } else if request.method() != Method::GET && request.method() != Method::HEAD {
                Response::builder()
                    .status(StatusCode::METHOD_NOT_ALLOWED)
                    .body(String::new())
            } else {
                sample(&ctx, max_connections);
                handle.run_upkeep();
                Response::builder()
                    .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                    .body(handle.render())
            };
            std::future::ready(Ok::<_, Infallible>(response.unwrap_or_default()))
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(SCRAPE_HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), scrape)
                .await;
        });
    }
}
