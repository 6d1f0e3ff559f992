//! The tonic server: the four SpaceONE services, reflection (v1 and v1alpha, listing those
//! four), health (NOT_SERVING while the database cannot be written), limits on connections
//! and calls, TLS, the edge every call passes (status corrections, a request id, a log line
//! and metrics), the metrics endpoint, and graceful shutdown.

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use tokio::net::TcpListener;
use tonic::{Request, Response, Status, transport::Server};
use tonic_health::{
    ServingStatus,
    pb::{
        HealthCheckRequest, HealthCheckResponse,
        health_server::{Health, HealthServer},
    },
};

use crate::api::{DomainApi, TokenApi, UserProfileApi, WorkspaceUserApi};
use crate::config::Settings;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::pb::identity::{
    domain_server::DomainServer, token_server::TokenServer, user_profile_server::UserProfileServer,
    workspace_user_server::WorkspaceUserServer,
};

mod connections;
mod edge;
mod later_methods;
pub mod prometheus;
pub mod readiness;
mod reflection;
pub mod tls;

use connections::ConnectionLimits;
pub use edge::{Admission, EdgeLayer};
use tls::{Tls, TlsFiles};

/// Binds `address` for a listener, or says in one line why it cannot (`flag` names the
/// setting to change).
pub async fn bind(address: SocketAddr, flag: &str) -> Result<TcpListener> {
    TcpListener::bind(address).await.map_err(|err| {
        let why = match err.kind() {
            std::io::ErrorKind::AddrInUse => {
                "the port is in use by another process; stop that process or choose another port"
                    .to_owned()
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "this machine has no such address; give one of its own, 127.0.0.1, or 0.0.0.0"
                    .to_owned()
            }
            std::io::ErrorKind::PermissionDenied => {
                "permission denied (ports below 1024 need privileges); choose a port above 1023"
                    .to_owned()
            }
            _ => err.to_string(),
        };
        Error::Config(format!("cannot listen on {address}: {why} ({flag})"))
    })
}

/// The server's TLS, if the settings ask for it.
pub fn tls_from(settings: &Settings) -> Result<Option<Tls>> {
    match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Tls::load(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: settings.tls_client_ca.clone(),
        })
        .map(Some),
        (None, None) if settings.tls_client_ca.is_some() => Err(Error::Config(
            "--tls-client-ca needs --tls-cert and --tls-key".into(),
        )),
        (None, None) => Ok(None),
        _ => Err(Error::Config(
            "TLS needs both --tls-cert (SPACEID_TLS_CERT) and --tls-key (SPACEID_TLS_KEY)".into(),
        )),
    }
}

/// Serves the API on `listener` until `shutdown` completes, then lets in-flight calls
/// finish for at most the configured grace period. TLS comes from the settings.
pub async fn serve(
    ctx: Arc<Context>,
    settings: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let tls = tls_from(settings)?;
    serve_with_tls(ctx, settings, listener, tls, shutdown).await
}

/// `serve` with the TLS given (`Tls::reload` on it is what SIGHUP does).
pub async fn serve_with_tls(
    ctx: Arc<Context>,
    settings: &Settings,
    listener: TcpListener,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    if tls.is_some() {
        tls::install_crypto_provider();
    }
    // Made now: it takes over SIGHUP before the server says it listens.
    let tls_watch = tls.as_ref().map(|tls| tls.clone().watch());
    let metrics = match settings.metrics_listen {
        Some(address) => {
            let listener = bind(address, "--metrics-listen (SPACEID_METRICS_LISTEN)").await?;
            Some((listener, prometheus::install()?))
        }
        None => None,
    };
    ctx.hasher.prepare().await?;
    let max = settings.max_message_bytes;
    let user_profile_api = Arc::new(UserProfileApi::new(ctx.clone()));
    let user_profile = later_methods::UserProfileRoutes::new(
        UserProfileServer::from_arc(user_profile_api.clone())
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
        crate::pb::compat::user_profile_server::UserProfileServer::from_arc(user_profile_api)
            .max_decoding_message_size(max)
            .max_encoding_message_size(max),
    );
    let workspace_user = WorkspaceUserServer::new(WorkspaceUserApi::new(ctx.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let token = TokenServer::new(TokenApi::new(ctx.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let domain = DomainServer::new(DomainApi::new(ctx.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);

    let health = tonic_health::server::HealthReporter::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let health_service = HealthServer::new(EndingHealth {
        inner: tonic_health::server::HealthService::from_health_reporter(health.clone()),
        stop: stop_rx.clone(),
    });
    let services = vec![
        service_name::<DomainServer<DomainApi>>(),
        service_name::<TokenServer<TokenApi>>(),
        service_name::<UserProfileServer<UserProfileApi>>(),
        service_name::<WorkspaceUserServer<WorkspaceUserApi>>(),
    ];
    readiness::set_all(&health, &services, ServingStatus::Serving).await;

    // Only the SpaceONE services are listed; health and reflection stay described.
    let catalog = Arc::new(reflection::Catalog::new(
        &[
            crate::pb::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ],
        &services,
    )?);
    let reflection_v1 = reflection::v1::service(catalog.clone());
    let reflection_v1alpha = reflection::v1alpha::service(catalog);

    let graceful = {
        let mut stop_rx = stop_rx.clone();
        async move {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
        }
    };
    let admission = Admission::new(settings.concurrency_limit, settings.max_calls_per_client);
    let router = Server::builder()
        .timeout(settings.request_timeout())
        .http2_keepalive_interval(Some(Duration::from_secs(
            settings.keepalive_interval.max(1),
        )))
        .http2_keepalive_timeout(Some(Duration::from_secs(settings.keepalive_timeout.max(1))))
        .max_concurrent_streams(settings.max_streams_per_connection.max(1))
        .layer(EdgeLayer::new(
            admission.clone(),
            metrics.as_ref().and(prometheus::call_metrics()),
        ))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(user_profile)
        .add_service(workspace_user)
        .add_service(token)
        .add_service(domain);

    let local = listener.local_addr().map_err(Error::internal)?;
    tracing::info!(
        addr = %local,
        tls = tls.is_some(),
        client_certificates = settings.tls_client_ca.is_some(),
        "listening"
    );
    if tls.is_none() && !local.ip().is_loopback() {
        tracing::warn!(
            addr = %local,
            "listening without TLS on an address other hosts can reach: passwords and tokens \
             cross the network in clear text; give --tls-cert and --tls-key, or listen on \
             127.0.0.1 behind a proxy that terminates TLS"
        );
    }
    tracing::info!(to = %ctx.mailer.destination(), "sending mail");
    if !crate::service::domains::any(&ctx).await? {
        tracing::warn!(
            "the database has no domain yet; create one with `spaceid init --domain-name NAME \
             --admin-user-id USER_ID` (the admin's password from --admin-password or \
             SPACEID_ADMIN_PASSWORD), on the same DATABASE_URL"
        );
    }
    let mut background = vec![
        tokio::spawn(housekeeping(ctx.clone())),
        tokio::spawn(readiness::watch(
            ctx.clone(),
            health.clone(),
            services.clone(),
            settings.health_interval(),
        )),
    ];
    if let Some(tls_watch) = tls_watch {
        background.push(tokio::spawn(tls_watch));
    }
    if let Some((listener, handle)) = metrics {
        let addr = listener.local_addr().map_err(Error::internal)?;
        tracing::info!(addr = %addr, "serving metrics at /metrics");
        background.push(tokio::spawn(prometheus::serve(
            listener,
            handle,
            ctx.clone(),
            settings.db_max_connections().max(1),
        )));
    }
    let stop_background = || background.iter().for_each(tokio::task::JoinHandle::abort);
    let limits = ConnectionLimits {
        max_connections: settings.max_connections,
        handshake_timeout: Duration::from_secs(settings.handshake_timeout.max(1)),
        idle_timeout: (settings.idle_timeout > 0)
            .then(|| Duration::from_secs(settings.idle_timeout)),
    };
    let (connections, incoming) = connections::bounded(listener, limits, tls);
    let mut server = tokio::spawn(router.serve_with_incoming_shutdown(incoming, graceful));
    tokio::select! {
        result = &mut server => {
            stop_background();
            return finished(result);
        }
        () = shutdown => {}
    }
    stop_background();
    tracing::info!("shutting down; letting in-flight calls finish");
    readiness::set_all(&health, &services, ServingStatus::NotServing).await;
    // Ends every Health.Watch stream (after it has sent NOT_SERVING) and starts the drain;
    // connections with nothing in progress (idle, or still silent) are closed at once.
    let _ = stop_tx.send(true);
    connections.close_idle();
    match tokio::time::timeout(settings.shutdown_grace(), &mut server).await {
        Ok(result) => finished(result),
        Err(_) => {
            tracing::warn!(
                open_connections = connections.open(),
                calls_cut_short = admission.in_progress(),
                "calls still in progress after the grace period; stopping anyway (their \
                 statements are cancelled)"
            );
            server.abort();
            Ok(())
        }
    }
}

/// The full gRPC name of a served service, such as `spaceone.api.identity.v2.Token`.
fn service_name<S: tonic::server::NamedService>() -> &'static str {
    S::NAME
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

/// The least time between two log lines about refusals of one kind.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Counts refusals (of connections, of calls) and logs the count at most once per
/// `REFUSAL_LOG_INTERVAL`, so a flood of refusals cannot flood the log.
#[derive(Default)]
struct RefusalLog {
    state: std::sync::Mutex<(u64, Option<std::time::Instant>)>,
}

impl RefusalLog {
    /// Counts one refusal; logs `what` with the count if the last line is old enough.
    fn refused(&self, what: &'static str, limit: usize) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.0 += 1;
        if state
            .1
            .is_none_or(|logged| logged.elapsed() >= REFUSAL_LOG_INTERVAL)
        {
            tracing::warn!(limit, refused = state.0, "{what}");
            *state = (0, Some(std::time::Instant::now()));
        }
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

/// Completes on SIGTERM or Ctrl-C (SIGINT). The handlers are installed when this is
/// called, not when the future is first polled: a signal that arrives while the server is
/// still starting is not lost (nor does it kill the process), it stops the server as soon as
/// it runs.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(terminate) => {}
                () = wait(interrupt) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
