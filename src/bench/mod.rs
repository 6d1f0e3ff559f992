//! `spaceid bench`: seeds a database with a domain, a large and a small workspace (through
//! `service::seed`, not one call per user), serves it in this process or targets a running
//! server, drives each scenario with concurrent unary calls for a fixed time after a
//! warm-up, and reports calls, errors, throughput, latency percentiles, CPU and memory,
//! each scenario also as a ratio to a health check on the same server in the same run.
//!
//! The load generator runs on a runtime of its own (threads named `spaceid-bench`), so the
//! CPU its threads use is told apart from the server's.

mod load;
pub mod report;
mod scenarios;
mod seed;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

pub use report::Report;
pub use scenarios::Scenario;

use crate::auth::jwt::MAX_TIMEOUT;
use crate::config::Settings;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::pb::identity::{
    GrantTokenRequest,
    grant_token_request::{GrantType, Scope},
    token_client::TokenClient,
};
use load::{CpuSample, peak_rss_mib};
use report::{DatasetReport, Latency, LoadReport, Machine, ScenarioReport};
use scenarios::{Clients, Target};

/// How a bench runs.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Members of the large workspace.
    pub users: u64,
    /// Members of the small workspace.
    pub small_users: u64,
    /// Calls in flight at once.
    pub concurrency: usize,
    /// HTTP/2 connections the calls share.
    pub connections: usize,
    /// How long each scenario is measured.
    pub duration: Duration,
    /// How long each scenario runs before it is measured.
    pub warmup: Duration,
    /// What runs, the baseline first.
    pub scenarios: Vec<Scenario>,
    /// A running server to call instead of serving in this process; it must use the same
    /// database.
    pub addr: Option<String>,
}

/// Seeds the database behind `ctx` (or reuses what an earlier run seeded), runs every
/// scenario and reports what it measured.
pub async fn run(ctx: Arc<Context>, settings: &Settings, options: &BenchOptions) -> Result<Report> {
    if options.concurrency == 0 || options.connections == 0 {
        return Err(Error::invalid(
            "concurrency",
            "concurrency and connections must be at least 1",
        ));
    }
    let data = seed::prepare(&ctx, options.users, options.small_users).await?;

    let (addr, server) = match &options.addr {
        Some(addr) => (addr.clone(), None),
        None => {
            let (addr, server) = serve_here(ctx.clone(), settings).await?;
            (addr.to_string(), Some(server))
        }
    };
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(load::CLIENT_THREAD)
        .enable_all()
        .build()
        .map_err(|err| Error::internal(format!("cannot start the load generator: {err}")))?;
    let measured = measure(
        client_runtime.handle(),
        &addr,
        data,
        options,
        server.is_some(),
    )
    .await;
    client_runtime.shutdown_background();
    if let Some(server) = server {
        server.stop().await?;
    }
    let (dataset, scenarios) = measured?;
    Ok(Report {
        engine: engine(&settings.database_url).into(),
        target: match &options.addr {
            Some(addr) => addr.clone(),
            None => "in-process".into(),
        },
        machine: Machine::here(),
        dataset,
        load: LoadReport {
            concurrency: options.concurrency,
            connections: options.connections,
            duration_secs: options.duration.as_secs(),
            warmup_secs: options.warmup.as_secs(),
        },
        scenarios,
        peak_rss_mib: options.addr.is_none().then(peak_rss_mib).flatten(),
    })
}

/// Connects, signs in and runs every scenario.
async fn measure(
    runtime: &tokio::runtime::Handle,
    addr: &str,
    data: seed::Dataset,
    options: &BenchOptions,
    in_process: bool,
) -> Result<(DatasetReport, Vec<ScenarioReport>)> {
    let channels = connect(runtime, addr, options.connections.min(options.concurrency)).await?;
    let clients: Vec<Clients> = channels.iter().cloned().map(Clients::new).collect();
    let lifetime = (options.warmup + options.duration + Duration::from_secs(60)).as_secs()
        * options.scenarios.len() as u64
        + 600;
    let target = Arc::new(owner_tokens(runtime, channels[0].clone(), data, lifetime).await?);
    let bench = Bench {
        runtime,
        target: &target,
        clients: &clients,
        options,
        in_process,
    };
    let mut reports: Vec<ScenarioReport> = Vec::with_capacity(options.scenarios.len());
    for &scenario in &options.scenarios {
        let baseline = reports.first().map(|first| first.calls_per_sec);
        reports.push(bench.scenario(scenario, baseline).await?);
    }
    Ok((dataset_report(&target.data), reports))
}

/// `count` HTTP/2 connections to `addr`, each connected on `runtime`.
async fn connect(
    runtime: &tokio::runtime::Handle,
    addr: &str,
    count: usize,
) -> Result<Vec<Channel>> {
    let url = format!("http://{addr}");
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count {
        let url = url.clone();
        // A channel's connection task lives on the runtime that connects it.
        let channel = runtime
            .spawn(async move { Endpoint::from_shared(url)?.connect().await })
            .await
            .map_err(Error::internal)?
            .map_err(|err| Error::internal(format!("cannot connect to {addr}: {err}")))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// What the data set looked like, and how long seeding it took.
fn dataset_report(data: &seed::Dataset) -> DatasetReport {
    let seed::Dataset {
        large,
        small,
        seeded,
        seed_secs,
        ..
    } = data;
    DatasetReport {
        large_members: large.members,
        small_members: small.members,
        seeded: *seeded,
        seed_secs: round(*seed_secs),
    }
}

/// What every scenario of one bench shares.
struct Bench<'a> {
    runtime: &'a tokio::runtime::Handle,
    target: &'a Arc<Target>,
    clients: &'a [Clients],
    options: &'a BenchOptions,
    in_process: bool,
}

/// One scenario's measured window, before it is reported.
struct Measured {
    outcome: load::Outcome,
    before: CpuSample,
    after: CpuSample,
    /// With password changers: the changes that finished and the failed calls by code.
    password_changes: Option<(u64, BTreeMap<String, u64>)>,
    /// For `token-issue`: the bcrypt checks per second the machine's cores do.
    bcrypt_capacity: Option<f64>,
}

impl Bench<'_> {
    /// Warms `scenario` up, then measures it; `baseline` is the first scenario's
    /// throughput, `None` while the first one runs.
    async fn scenario(&self, scenario: Scenario, baseline: Option<f64>) -> Result<ScenarioReport> {
        let bcrypt_capacity = if scenario == Scenario::TokenIssue {
            Some(bcrypt_capacity(&self.target.data).await?)
        } else {
            None
        };
        let changers = (scenario == Scenario::ProfileGetWhilePasswordsChange)
            .then(|| PasswordChangers::start(self.runtime, self.clients, &self.target.data));
        eprintln!(
            "{}: {} s warm-up, {} s measured",
            scenario.key(),
            self.options.warmup.as_secs(),
            self.options.duration.as_secs()
        );
        if !self.options.warmup.is_zero() {
            self.drive(scenario, self.options.warmup).await?;
        }
        let before = CpuSample::now();
        let outcome = self.drive(scenario, self.options.duration).await?;
        let after = CpuSample::now();
        let password_changes = match changers {
            Some(changers) => Some(changers.stop().await?),
            None => None,
        };
        let measured = Measured {
            outcome,
            before,
            after,
            password_changes,
            bcrypt_capacity,
        };
        Ok(self.report(scenario, measured, baseline))
    }

    /// Runs `scenario` for `duration` with every worker.
    async fn drive(&self, scenario: Scenario, duration: Duration) -> Result<load::Outcome> {
        load::drive(
            self.runtime,
            scenario,
            self.target,
            self.clients,
            self.options.concurrency,
            duration,
        )
        .await
    }

    /// The figures of one measured window.
    fn report(
        &self,
        scenario: Scenario,
        measured: Measured,
        baseline: Option<f64>,
    ) -> ScenarioReport {
        let Measured {
            outcome,
            before,
            after,
            password_changes,
            bcrypt_capacity,
        } = measured;
        let mut errors = outcome.errors;
        let mut note = None;
        if let Some((changed, failed)) = password_changes {
            note = Some(format!(
                "{changed} password changes finished during the warm-up and the measurement"
            ));
            for (code, count) in failed {
                *errors.entry(format!("password-change {code}")).or_default() += count;
            }
        }
        let secs = outcome.elapsed.as_secs_f64();
        let calls_per_sec = if secs > 0.0 {
            outcome.calls as f64 / secs
        } else {
            0.0
        };
        let baseline = baseline.unwrap_or(calls_per_sec);
        if let Some(capacity) = bcrypt_capacity {
            note = Some(format!(
                "{:.0}% of the {capacity:.1} bcrypt checks/s the machine's cores do at the stored hash's cost",
                100.0 * calls_per_sec / capacity
            ));
        }
        let ms = |quantile: f64| millis(outcome.latency.value_at_quantile(quantile));
        ScenarioReport {
            key: scenario.key().into(),
            description: scenario.describe(&self.target.data),
            calls: outcome.calls,
            errors,
            elapsed_secs: round(secs),
            calls_per_sec: round(calls_per_sec),
            latency_ms: Latency {
                p50: ms(0.5),
                p90: ms(0.9),
                p99: ms(0.99),
                max: millis(outcome.latency.max()),
            },
            server_cpu_cores: self
                .in_process
                .then(|| after.server_cores_since(&before, outcome.elapsed))
                .flatten()
                .map(round),
            machine_cpu_cores: after
                .machine_cores_since(&before, outcome.elapsed)
                .map(round),
            peak_rss_mib: self.in_process.then(peak_rss_mib).flatten().map(round),
            ratio_to_baseline: if baseline > 0.0 {
                round(calls_per_sec / baseline)
            } else {
                0.0
            },
            bcrypt_capacity_per_sec: bcrypt_capacity.map(round),
            note,
        }
    }
}

/// How many bcrypt checks of the bench password against a member's stored hash the
/// machine's cores do in a second, one thread per core, with nothing else running.
async fn bcrypt_capacity(data: &seed::Dataset) -> Result<f64> {
    let hash = seed::stored_hash(data)?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let deadline = started + BCRYPT_CAPACITY_TIME;
        let checks: u64 = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..cores)
                .map(|_| {
                    scope.spawn(|| {
                        let mut checks = 0_u64;
                        while std::time::Instant::now() < deadline {
                            let _ = bcrypt::verify(seed::PASSWORD, &hash);
                            checks += 1;
                        }
                        checks
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap_or(0)).sum()
        });
        checks as f64 / started.elapsed().as_secs_f64()
    })
    .await
    .map_err(Error::internal)
}

/// How long `bcrypt_capacity` measures.
const BCRYPT_CAPACITY_TIME: Duration = Duration::from_secs(3);

/// The members changing their passwords in the background of a scenario.
struct PasswordChangers {
    stop: Arc<AtomicBool>,
    changed: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<BTreeMap<String, u64>>>,
}

impl PasswordChangers {
    /// Starts one changer per member `scenarios::password_changers` names.
    fn start(runtime: &tokio::runtime::Handle, clients: &[Clients], data: &seed::Dataset) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let changed = Arc::new(AtomicU64::new(0));
        let tasks = scenarios::password_changers(data)
            .into_iter()
            .enumerate()
            .map(|(i, user_id)| {
                runtime.spawn(scenarios::change_passwords(
                    clients[i % clients.len()].clone(),
                    data.domain_id.to_string(),
                    user_id,
                    stop.clone(),
                    changed.clone(),
                ))
            })
            .collect();
        Self {
            stop,
            changed,
            tasks,
        }
    }

    /// Stops them, once each is back on the bench password; returns how many changes
    /// finished and the failed calls by code.
    async fn stop(self) -> Result<(u64, BTreeMap<String, u64>)> {
        self.stop.store(true, Ordering::Relaxed);
        let mut failed = BTreeMap::new();
        for task in self.tasks {
            for (code, count) in task.await.map_err(Error::internal)? {
                *failed.entry(code).or_default() += count;
            }
        }
        Ok((self.changed.load(Ordering::Relaxed), failed))
    }
}

/// Signs the owner in and grants it a token in each workspace, valid for `lifetime`
/// seconds.
async fn owner_tokens(
    runtime: &tokio::runtime::Handle,
    channel: Channel,
    data: seed::Dataset,
    lifetime: u64,
) -> Result<Target> {
    let timeout = i32::try_from(lifetime.min(MAX_TIMEOUT as u64)).unwrap_or(i32::MAX);
    runtime
        .spawn(async move {
            let mut token = TokenClient::new(channel);
            let refresh = token
                .issue(scenarios::sign_in(data.domain_id.as_str(), seed::OWNER_ID))
                .await
                .map_err(|status| Error::internal(format!("the owner cannot sign in: {status:?}")))?
                .into_inner()
                .refresh_token;
            let large_token = grant_workspace(
                &mut token,
                &refresh,
                data.large.workspace_id.as_str(),
                timeout,
            )
            .await?;
            let small_token = grant_workspace(
                &mut token,
                &refresh,
                data.small.workspace_id.as_str(),
                timeout,
            )
            .await?;
            Ok(Target {
                data,
                large_token,
                small_token,
            })
        })
        .await
        .map_err(Error::internal)?
}

/// A WORKSPACE access token for the holder of `refresh`, as call metadata.
async fn grant_workspace(
    token: &mut TokenClient<Channel>,
    refresh: &str,
    workspace_id: &str,
    timeout: i32,
) -> Result<MetadataValue<Ascii>> {
    let granted = token
        .grant(GrantTokenRequest {
            grant_type: GrantType::RefreshToken as i32,
            token: refresh.to_owned(),
            scope: Scope::Workspace as i32,
            timeout,
            permissions: vec![],
            domain_id: String::new(),
            workspace_id: workspace_id.to_owned(),
        })
        .await
        .map_err(|status| Error::internal(format!("no workspace token for the owner: {status:?}")))?
        .into_inner();
    granted
        .access_token
        .parse()
        .map_err(|_| Error::internal("the access token is not valid metadata"))
}

/// The server this process runs for the bench.
struct LocalServer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl LocalServer {
    async fn stop(self) -> Result<()> {
        let _ = self.stop.send(());
        self.task.await.map_err(Error::internal)?
    }
}

/// Serves the API on a free loopback port, on this runtime.
async fn serve_here(ctx: Arc<Context>, settings: &Settings) -> Result<(SocketAddr, LocalServer)> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|err| Error::internal(format!("cannot listen on a loopback port: {err}")))?;
    let addr = listener
        .local_addr()
        .map_err(|err| Error::internal(err.to_string()))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let settings = settings.clone();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        crate::server::serve(ctx, &settings, listener, shutdown).await
    });
    Ok((addr, LocalServer { stop, task }))
}

/// The engine a database URL names.
fn engine(database_url: &str) -> &'static str {
    if database_url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    }
}

fn millis(micros: u64) -> f64 {
    round(micros as f64 / 1000.0)
}

/// Three decimals are more than any figure here means.
fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
