//! Driving a scenario: `concurrency` workers over a few connections, each making one call
//! after another until the deadline, with latencies in an HDR histogram; and the CPU the
//! server used meanwhile, read from `/proc`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::runtime::Handle;

use super::scenarios::{Clients, Scenario, Target};
use crate::error::{Error, Result};

/// The name of the load generator's threads, so their CPU is not counted as the server's.
pub const CLIENT_THREAD: &str = "spaceid-bench";
/// Clock ticks per second in `/proc` (Linux's USER_HZ, 100 on every architecture it runs
/// on).
const TICKS_PER_SEC: f64 = 100.0;
/// The longest latency the histogram holds, in microseconds; longer ones count as this.
const MAX_LATENCY_MICROS: u64 = 120_000_000;

/// What one phase of a scenario measured.
#[derive(Debug)]
pub struct Outcome {
    /// Calls that finished, successful or not.
    pub calls: u64,
    /// Failed calls by gRPC status code name.
    pub errors: BTreeMap<String, u64>,
    /// Latency of every call, in microseconds (32-bit counts: a worker keeps one per phase, so
    /// the load generator stays small beside the server it measures).
    pub latency: Histogram<u32>,
    /// From the start until the last call returned.
    pub elapsed: Duration,
}

/// Runs `scenario` with `concurrency` workers spread over `clients` on the load
/// generator's runtime, until `duration` has passed.
pub async fn drive(
    runtime: &Handle,
    scenario: Scenario,
    target: &Arc<Target>,
    clients: &[Clients],
    concurrency: usize,
    duration: Duration,
) -> Result<Outcome> {
    let started = Instant::now();
    let deadline = started + duration;
    let counter = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let mut clients = clients[worker % clients.len()].clone();
        let (target, counter) = (target.clone(), counter.clone());
        workers.push(runtime.spawn(async move {
            let mut latency = histogram()?;
            let mut errors = BTreeMap::<String, u64>::new();
            let mut calls = 0_u64;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let call_started = Instant::now();
                let result = clients.call(scenario, &target, n).await;
                let micros = u64::try_from(call_started.elapsed().as_micros()).unwrap_or(u64::MAX);
                latency.saturating_record(micros.clamp(1, MAX_LATENCY_MICROS));
                calls += 1;
                if let Err(status) = result {
                    *errors.entry(code_name(status.code())).or_default() += 1;
                }
            }
            Ok::<_, Error>((calls, errors, latency))
        }));
    }
    let mut outcome = Outcome {
        calls: 0,
        errors: BTreeMap::new(),
        latency: histogram()?,
        elapsed: Duration::ZERO,
    };
    for worker in workers {
        let (calls, errors, latency) = worker
            .await
            .map_err(|err| Error::internal(format!("a bench worker failed: {err}")))??;
        outcome.calls += calls;
        for (code, count) in errors {
            *outcome.errors.entry(code).or_default() += count;
        }
        outcome
            .latency
            .add(&latency)
            .map_err(|err| Error::internal(format!("cannot merge latencies: {err}")))?;
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

fn histogram() -> Result<Histogram<u32>> {
    Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3)
        .map_err(|err| Error::internal(format!("cannot make a histogram: {err}")))
}

/// A status code as gRPC spells it: `UNAVAILABLE`, `DEADLINE_EXCEEDED`, ...
pub fn code_name(code: tonic::Code) -> String {
    let camel = format!("{code:?}");
    let mut name = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// CPU time spent so far, in clock ticks.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    /// This process, minus the load generator's threads (`None` when unreadable).
    server: Option<u64>,
    /// Every core of the machine, busy (not idle or waiting for I/O).
    machine: Option<u64>,
}

impl CpuSample {
    /// Reads the counters now.
    pub fn now() -> Self {
        let server = match (process_ticks(), client_ticks()) {
            (Some(process), Some(client)) => Some(process.saturating_sub(client)),
            _ => None,
        };
        Self {
            server,
            machine: machine_busy_ticks(),
        }
    }

    /// Cores the server used on average since `earlier`, over `elapsed`.
    pub fn server_cores_since(&self, earlier: &Self, elapsed: Duration) -> Option<f64> {
        cores(earlier.server?, self.server?, elapsed)
    }

    /// Cores the whole machine used on average since `earlier`, over `elapsed`.
    pub fn machine_cores_since(&self, earlier: &Self, elapsed: Duration) -> Option<f64> {
        cores(earlier.machine?, self.machine?, elapsed)
    }
}

fn cores(before: u64, after: u64, elapsed: Duration) -> Option<f64> {
    let secs = elapsed.as_secs_f64();
    (secs > 0.0).then(|| after.saturating_sub(before) as f64 / TICKS_PER_SEC / secs)
}

/// utime + stime of this process, threads that ended included.
fn process_ticks() -> Option<u64> {
    stat_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?).map(|(_, ticks)| ticks)
}

/// utime + stime of the load generator's threads.
fn client_ticks() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(task) = task else { continue };
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        if let Some((name, ticks)) = stat_ticks(&stat)
            && name.starts_with(CLIENT_THREAD)
        {
            total += ticks;
        }
    }
    Some(total)
}

/// The name and utime + stime of a `/proc/.../stat` line. The name is in parentheses and
/// may hold anything, so the fields are counted from the last `)`.
fn stat_ticks(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// Busy ticks of every core, from the first line of `/proc/stat`.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let values: Vec<u64> = line
        .split_whitespace()
        .map(|value| value.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some(total - idle)
}

/// The peak resident set of this process so far, in MiB (`VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_past_odd_names() {
        let line = "42 (a) b)) S 1 1 1 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 5 0 0";
        assert_eq!(stat_ticks(line), Some(("a) b)", 12)));
    }

    #[test]
    fn codes_are_spelled_as_grpc_does() {
        assert_eq!(
            code_name(tonic::Code::DeadlineExceeded),
            "DEADLINE_EXCEEDED"
        );
        assert_eq!(code_name(tonic::Code::Unavailable), "UNAVAILABLE");
    }
}
