//! What the bench prints: a table per run for people, or one JSON document for machines.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `sqlite` or `postgres`.
    pub engine: String,
    /// `in-process`, or the address of the server that was called.
    pub target: String,
    /// The machine the bench ran on.
    pub machine: Machine,
    /// The data set.
    pub dataset: DatasetReport,
    /// How the load was made.
    pub load: LoadReport,
    /// One entry per scenario, the baseline first.
    pub scenarios: Vec<ScenarioReport>,
    /// The peak resident set of the process at the end, in MiB (server and load generator
    /// together; `None` against another server).
    pub peak_rss_mib: Option<f64>,
}

/// The machine.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Cores the process may use.
    pub cores: usize,
    /// The CPU model, from `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
    /// Memory, in MiB, from `/proc/meminfo`.
    pub memory_mib: Option<u64>,
}

/// The data set.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetReport {
    /// Members of the large workspace (the owner included).
    pub large_members: u64,
    /// Members of the small workspace (the owner included).
    pub small_members: u64,
    /// Members this run added.
    pub seeded: u64,
    /// Seconds the seeding took.
    pub seed_secs: f64,
}

/// The load.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Calls in flight at once.
    pub concurrency: usize,
    /// HTTP/2 connections they share.
    pub connections: usize,
    /// Seconds each scenario is measured.
    pub duration_secs: u64,
    /// Seconds each scenario runs before it is measured.
    pub warmup_secs: u64,
}

/// One scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// Its `--scenarios` name.
    pub key: String,
    /// What it calls.
    pub description: String,
    /// Calls made in the measured window.
    pub calls: u64,
    /// Failed calls by status code.
    pub errors: BTreeMap<String, u64>,
    /// Seconds measured.
    pub elapsed_secs: f64,
    /// Calls per second.
    pub calls_per_sec: f64,
    /// Latency percentiles, in milliseconds.
    pub latency_ms: Latency,
    /// Cores the server process used on average (the load generator's threads excluded;
    /// `None` against another server).
    pub server_cpu_cores: Option<f64>,
    /// Cores the whole machine used on average (the database server included).
    pub machine_cpu_cores: Option<f64>,
    /// The process's peak resident set so far, in MiB.
    pub peak_rss_mib: Option<f64>,
    /// Throughput over the baseline's.
    pub ratio_to_baseline: f64,
    /// For `token-issue`: the bcrypt checks per second the machine's cores do at the
    /// stored hashes' cost, measured in the same run just before.
    pub bcrypt_capacity_per_sec: Option<f64>,
    /// What else the scenario measured, in words.
    pub note: Option<String>,
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest call.
    pub max: f64,
}

impl Report {
    /// One JSON document.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// A table for people.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let Machine {
            cores,
            cpu_model,
            memory_mib,
        } = &self.machine;
        let _ = writeln!(
            out,
            "{} ({}), {} cores ({}), {} MiB; {} + {} members; concurrency {} over {} connections; {} s each after {} s warm-up",
            self.engine,
            self.target,
            cores,
            cpu_model.as_deref().unwrap_or("unknown CPU"),
            memory_mib.map_or_else(|| "?".into(), |m| m.to_string()),
            self.dataset.large_members,
            self.dataset.small_members,
            self.load.concurrency,
            self.load.connections,
            self.load.duration_secs,
            self.load.warmup_secs,
        );
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>8}  errors",
            "scenario",
            "calls",
            "calls/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "srv",
            "cpu",
            "ratio"
        );
        for scenario in &self.scenarios {
            scenario.table_row(&mut out);
        }
        let _ = writeln!(
            out,
            "srv: cores the server process used; cpu: cores the machine used; ratio: throughput over the baseline's"
        );
        let _ = writeln!(
            out,
            "seeded {} members in {:.1} s",
            self.dataset.seeded, self.dataset.seed_secs
        );
        if let Some(rss) = self.peak_rss_mib {
            let _ = writeln!(out, "peak RSS {rss:.1} MiB (server and load generator)");
        }
        for s in &self.scenarios {
            let _ = writeln!(out, "  {:<20} {}", s.key, s.description);
            if let Some(note) = &s.note {
                let _ = writeln!(out, "  {:<20} {note}", "");
            }
        }
        out
    }
}

impl ScenarioReport {
    /// Its line of `Report::to_table`.
    fn table_row(&self, out: &mut String) {
        let errors = if self.errors.is_empty() {
            "-".to_owned()
        } else {
            self.errors
                .iter()
                .map(|(code, count)| format!("{code}={count}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let cores = |c: Option<f64>| c.map_or_else(|| "n/a".into(), |c| format!("{c:.2}"));
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>10.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6} {:>6} {:>7.3}x  {}",
            self.key,
            self.calls,
            self.calls_per_sec,
            self.latency_ms.p50,
            self.latency_ms.p90,
            self.latency_ms.p99,
            self.latency_ms.max,
            cores(self.server_cpu_cores),
            cores(self.machine_cpu_cores),
            self.ratio_to_baseline,
            errors,
        );
    }
}

impl Machine {
    /// This machine, as `/proc` describes it.
    pub fn here() -> Self {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            });
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("MemTotal:"))
                    .and_then(|line| line.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse::<u64>().ok())
                    .map(|kib| kib / 1024)
            });
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory_mib,
        }
    }
}
