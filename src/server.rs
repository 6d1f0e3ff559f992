//! The tonic server: the four SpaceONE services in the API generation the settings ask for,
//! reflection (v1 and v1alpha, listing those four in that generation's files), health
//! (NOT_SERVING while the database cannot be written), limits on connections and calls, TLS,
//! the edge every call passes (status corrections, a request id, a log line and metrics),
//! the metrics endpoint, and graceful shutdown.

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use tokio::net::TcpListener;
use tonic::transport::{Server, server::Router};
use tonic::{Request, Response, Status};
use tonic_health::{
    ServingStatus,
    pb::{
        HealthCheckRequest, HealthCheckResponse,
        health_server::{Health, HealthServer},
    },
};

use crate::api::{
    CurrentUserProfileApi, CurrentWorkspaceUserApi, DomainApi, TokenApi, UserProfileApi,
    WorkspaceUserApi,
};
use crate::config::{ApiGeneration, Settings};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::pb::current::identity::{
    user_profile_server::UserProfileServer as CurrentUserProfileServer,
    workspace_user_server::WorkspaceUserServer as CurrentWorkspaceUserServer,
};
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
    let api = SpaceoneServices::new(&ctx, settings);
    let services = api.names();
    let health = tonic_health::server::HealthReporter::new();
    readiness::set_all(&health, &services, ServingStatus::Serving).await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let admission = Admission::new(settings.concurrency_limit, settings.max_calls_per_client);
    let router = api.router(
        settings,
        EdgeLayer::new(
            admission.clone(),
            metrics.as_ref().and(prometheus::call_metrics()),
        ),
        HealthServer::new(EndingHealth {
            inner: tonic_health::server::HealthService::from_health_reporter(health.clone()),
            stop: stop_rx.clone(),
        }),
    )?;
    let local = listener.local_addr().map_err(Error::internal)?;
    log_start(&ctx, settings, local, tls.is_some()).await?;
    let mut background = vec![
        tokio::spawn(housekeeping(ctx.clone())),
        tokio::spawn(readiness::watch(
            ctx.clone(),
            health.clone(),
            services.clone(),
            settings.health_interval(),
        )),
    ];
    background.extend(tls_watch.map(tokio::spawn));
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
    let graceful = async move {
        let mut stop_rx = stop_rx;
        let _ = stop_rx.wait_for(|stopped| *stopped).await;
    };
    let (connections, incoming) = connections::bounded(listener, connection_limits(settings), tls);
    let server = tokio::spawn(router.serve_with_incoming_shutdown(incoming, graceful));
    let running = Running {
        server,
        background,
        connections,
        admission,
        health,
        services,
        stop: stop_tx,
    };
    running.until(shutdown, settings.shutdown_grace()).await
}

/// The limits every connection is held to.
fn connection_limits(settings: &Settings) -> ConnectionLimits {
    ConnectionLimits {
        max_connections: settings.max_connections,
        handshake_timeout: Duration::from_secs(settings.handshake_timeout.max(1)),
        idle_timeout: (settings.idle_timeout > 0)
            .then(|| Duration::from_secs(settings.idle_timeout)),
    }
}

/// Says where the server listens, which API generation it speaks, and what an operator
/// should know about its set-up.
async fn log_start(ctx: &Context, settings: &Settings, local: SocketAddr, tls: bool) -> Result<()> {
    tracing::info!(
        addr = %local,
        tls,
        client_certificates = settings.tls_client_ca.is_some(),
        api_generation = settings.api_generation.as_str(),
        "listening"
    );
    if !tls && !local.ip().is_loopback() {
        tracing::warn!(
            addr = %local,
            "listening without TLS on an address other hosts can reach: passwords and tokens \
             cross the network in clear text; give --tls-cert and --tls-key, or listen on \
             127.0.0.1 behind a proxy that terminates TLS"
        );
    }
    tracing::info!(to = %ctx.mailer.destination(), "sending mail");
    if !crate::service::domains::any(ctx).await? {
        tracing::warn!(
            "the database has no domain yet; create one with `spaceid init --domain-name NAME \
             --admin-user-id USER_ID` (the admin's password from --admin-password or \
             SPACEID_ADMIN_PASSWORD), on the same DATABASE_URL"
        );
    }
    Ok(())
}

/// The four SpaceONE services in the API generation the settings ask for. `UserProfile`
/// and `WorkspaceUser` have a face per generation (one of each pair is set); `Token` and
/// `Domain` are the same in both.
struct SpaceoneServices {
    seeds_user_profile: Option<later_methods::UserProfileRoutes>,
    current_user_profile: Option<CurrentUserProfileServer<CurrentUserProfileApi>>,
    seeds_workspace_user: Option<WorkspaceUserServer<WorkspaceUserApi>>,
    current_workspace_user: Option<CurrentWorkspaceUserServer<CurrentWorkspaceUserApi>>,
    token: TokenServer<TokenApi>,
    domain: DomainServer<DomainApi>,
    /// The generation's files, as reflection publishes them.
    descriptors: &'static [u8],
}

/// A generated server with the settings' message size limits.
macro_rules! limited {
    ($server:expr, $max:expr) => {
        $server
            .max_decoding_message_size($max)
            .max_encoding_message_size($max)
    };
}

impl SpaceoneServices {
    fn new(ctx: &Arc<Context>, settings: &Settings) -> Self {
        let max = settings.max_message_bytes;
        let generation = settings.api_generation;
        let user_profile = Arc::new(UserProfileApi::new(ctx.clone(), generation));
        let current_user_profile = limited!(
            CurrentUserProfileServer::new(CurrentUserProfileApi::new(user_profile.clone())),
            max
        );
        let workspace_user = Arc::new(WorkspaceUserApi::new(ctx.clone()));
        let (seeds, current) = (
            generation == ApiGeneration::Seeds,
            generation == ApiGeneration::Current,
        );
        Self {
            seeds_user_profile: seeds.then(|| {
                later_methods::UserProfileRoutes::new(
                    limited!(UserProfileServer::from_arc(user_profile), max),
                    current_user_profile.clone(),
                )
            }),
            current_user_profile: current.then_some(current_user_profile),
            seeds_workspace_user: seeds
                .then(|| limited!(WorkspaceUserServer::from_arc(workspace_user.clone()), max)),
            current_workspace_user: current.then(|| {
                limited!(
                    CurrentWorkspaceUserServer::new(CurrentWorkspaceUserApi::new(workspace_user)),
                    max
                )
            }),
            token: limited!(TokenServer::new(TokenApi::new(ctx.clone())), max),
            domain: limited!(DomainServer::new(DomainApi::new(ctx.clone())), max),
            descriptors: match generation {
                ApiGeneration::Seeds => crate::pb::FILE_DESCRIPTOR_SET,
                ApiGeneration::Current => crate::pb::current::FILE_DESCRIPTOR_SET,
            },
        }
    }

    /// The services' full gRPC names (the same in both generations).
    fn names(&self) -> Vec<&'static str> {
        vec![
            service_name::<DomainServer<DomainApi>>(),
            service_name::<TokenServer<TokenApi>>(),
            service_name::<UserProfileServer<UserProfileApi>>(),
            service_name::<WorkspaceUserServer<WorkspaceUserApi>>(),
        ]
    }

    /// The tonic router: the edge around health, reflection (listing only the SpaceONE
    /// services; health and reflection stay described) and the services.
    fn router(
        self,
        settings: &Settings,
        edge: EdgeLayer,
        health: HealthServer<EndingHealth>,
    ) -> Result<Router<tower::layer::util::Stack<EdgeLayer, tower::layer::util::Identity>>> {
        let catalog = Arc::new(reflection::Catalog::new(
            &[
                self.descriptors,
                tonic_health::pb::FILE_DESCRIPTOR_SET,
                tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            ],
            &self.names(),
        )?);
        Ok(Server::builder()
            .timeout(settings.request_timeout())
            .http2_keepalive_interval(Some(Duration::from_secs(
                settings.keepalive_interval.max(1),
            )))
            .http2_keepalive_timeout(Some(Duration::from_secs(settings.keepalive_timeout.max(1))))
            .max_concurrent_streams(settings.max_streams_per_connection.max(1))
            .layer(edge)
            .add_service(health)
            .add_service(reflection::v1::service(catalog.clone()))
            .add_service(reflection::v1alpha::service(catalog))
            .add_optional_service(self.seeds_user_profile)
            .add_optional_service(self.current_user_profile)
            .add_optional_service(self.seeds_workspace_user)
            .add_optional_service(self.current_workspace_user)
            .add_service(self.token)
            .add_service(self.domain))
    }
}

/// A server that has started: what its stop needs.
struct Running {
    server: tokio::task::JoinHandle<std::result::Result<(), tonic::transport::Error>>,
    background: Vec<tokio::task::JoinHandle<()>>,
    connections: connections::Connections,
    admission: Arc<Admission>,
    health: tonic_health::server::HealthReporter,
    services: Vec<&'static str>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Running {
    /// Runs until `shutdown` completes (or the server fails), then drains: in-flight calls
    /// get `grace`, after which the server stops anyway.
    async fn until(mut self, shutdown: impl Future<Output = ()>, grace: Duration) -> Result<()> {
        tokio::select! {
            result = &mut self.server => {
                self.stop_background();
                return finished(result);
            }
            () = shutdown => {}
        }
        self.stop_background();
        tracing::info!("shutting down; letting in-flight calls finish");
        readiness::set_all(&self.health, &self.services, ServingStatus::NotServing).await;
        // Ends every Health.Watch stream (after it has sent NOT_SERVING) and starts the
        // drain; connections with nothing in progress (idle, or still silent) close at once.
        let _ = self.stop.send(true);
        self.connections.close_idle();
        match tokio::time::timeout(grace, &mut self.server).await {
            Ok(result) => finished(result),
            Err(_) => {
                tracing::warn!(
                    open_connections = self.connections.open(),
                    calls_cut_short = self.admission.in_progress(),
                    "calls still in progress after the grace period; stopping anyway (their \
                     statements are cancelled)"
                );
                self.server.abort();
                Ok(())
            }
        }
    }

    fn stop_background(&self) {
        self.background
            .iter()
            .for_each(tokio::task::JoinHandle::abort);
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
