//! Readiness: the database is written to every `--health-interval` seconds (the heartbeat
//! row), and health reports SERVING only while that works. A server whose database turned
//! read-only (a file's permissions, a PostgreSQL standby or `default_transaction_read_only`,
//! a full disk, a write lock held elsewhere) reports NOT_SERVING, so a load balancer or
//! orchestrator stops sending it calls that would fail with INTERNAL, and SERVING again
//! after the first check that succeeds.

use std::{sync::Arc, time::Duration};

use tonic_health::{ServingStatus, server::HealthReporter};

use crate::context::Context;

/// How long one check may take before it counts as failed. SQLite waits up to its busy
/// timeout (5 s) for a write lock held elsewhere before it gives up.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(8);

/// Checks the database every `interval` and sets the status of `services` (and of `""`,
/// the whole server) to what it finds, logging each change, until the task is dropped.
pub async fn watch(
    ctx: Arc<Context>,
    health: HealthReporter,
    services: Vec<&'static str>,
    interval: Duration,
) {
    let mut writable = true;
    loop {
        let checked = match tokio::time::timeout(CHECK_TIMEOUT, ctx.heartbeat()).await {
            Ok(result) => result.map_err(|err| err.to_string()),
            Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
        };
        metrics::gauge!("spaceid_database_writable").set(if checked.is_ok() { 1.0 } else { 0.0 });
        match (&checked, writable) {
            (Err(error), true) => {
                tracing::warn!(
                    %error,
                    "the database cannot be written; health reports NOT_SERVING until it can"
                );
                set_all(&health, &services, ServingStatus::NotServing).await;
                writable = false;
            }
            (Ok(()), false) => {
                tracing::info!("the database can be written again; health reports SERVING");
                set_all(&health, &services, ServingStatus::Serving).await;
                writable = true;
            }
            _ => {}
        }
        tokio::time::sleep(interval).await;
    }
}

/// Sets every service's status, and the server's (`""`).
pub async fn set_all(health: &HealthReporter, services: &[&'static str], status: ServingStatus) {
    for service in services {
        health.set_service_status(*service, status).await;
    }
    health.set_service_status("", status).await;
}
