//! The connection pools behind `Store`, built with sqlx's own options so that no call can
//! keep a connection: every statement runs under a deadline the database enforces, a call
//! waits for a connection at most `POOL_WAIT`, and a connection handed back by a call that
//! was cancelled mid-statement is closed within `RELEASE_CHECK` rather than waited for.
//!
//! Why the last rule: when a call ends (its deadline, the client's cancel or disconnect),
//! tonic drops its future, and with it the statement's future. sqlx (0.8) then hands the
//! connection back in a task of its own that first pings it, with no time limit: a
//! PostgreSQL connection still running the abandoned statement answers only when the
//! statement ends. When that answer is an error (the statement timeout), sqlx closes the
//! connection, and over TLS its close waits for the server to send something more, which an
//! idle server never does: the connection held its place in the pool for good, and closing
//! the pool at shutdown waited for it. So the pool checks a returned connection itself,
//! within `RELEASE_CHECK`, and closes one that does not answer with a Terminate, which the
//! server always answers (by closing); PostgreSQL notices the closed socket within
//! `CLIENT_CHECK_INTERVAL_MS` and cancels the statement. Over TLS that close still waits for
//! the abandoned statement to end, at the statement timeout at the latest; see
//! `plain_on_loopback`.

use std::time::{Duration, Instant};

use sea_orm::sqlx::{
    self, ConnectOptions as _, Connection as _, Executor as _,
    pool::PoolOptions,
    postgres::{PgConnectOptions, PgConnection, Postgres},
    sqlite::{
        Sqlite, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous,
    },
};
use sea_orm::{DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector};

/// How long a call waits for a pooled connection before it is answered UNAVAILABLE.
pub const POOL_WAIT: Duration = Duration::from_secs(3);

/// How long a connection handed back to the pool may take to show that it is idle before
/// it is closed instead.
const RELEASE_CHECK: Duration = Duration::from_secs(1);

/// How often PostgreSQL (14 and later) checks, while a statement runs, that its client is
/// still connected, and cancels the statement if not.
const CLIENT_CHECK_INTERVAL_MS: u32 = 1000;

/// SQLite virtual-machine instructions between two checks of a statement's deadline (a few
/// tens of microseconds of work).
const SQLITE_PROGRESS_OPS: i32 = 10_000;

/// What a pool is built with.
#[derive(Debug, Clone, Copy)]
pub(super) struct PoolSettings {
    /// The most connections open at once.
    pub max_connections: u32,
    /// The longest a statement may run (on SQLite: a connection from the moment it is
    /// handed to a call).
    pub statement_timeout: Duration,
}

/// Opens a PostgreSQL pool on `options`. `tls_asked`: the URL chose an `sslmode`; without
/// one, a server on this machine is spoken to without TLS (see `plain_on_loopback`).
pub(super) async fn postgres(
    options: PgConnectOptions,
    tls_asked: bool,
    settings: PoolSettings,
) -> Result<DatabaseConnection, sqlx::Error> {
    let statement_timeout = settings.statement_timeout.as_millis().max(1).to_string();
    let mut options = options
        .disable_statement_logging()
        .options([("statement_timeout", statement_timeout.as_str())]);
    if !tls_asked && plain_on_loopback(options.get_host()) {
        options = options.ssl_mode(sqlx::postgres::PgSslMode::Disable);
    }
    let pool = common::<Postgres>(settings)
        .after_connect(|conn: &mut PgConnection, _| {
            Box::pin(async move {
                if conn
                    .server_version_num()
                    .is_some_and(|version| version >= 140_000)
                {
                    conn.execute(
                        format!(
                            "SET client_connection_check_interval = {CLIENT_CHECK_INTERVAL_MS}"
                        )
                        .as_str(),
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .after_release(|conn: &mut PgConnection, _| {
            Box::pin(async move {
                let idle = matches!(
                    tokio::time::timeout(RELEASE_CHECK, conn.ping()).await,
                    Ok(Ok(()))
                );
                if !idle {
                    tracing::debug!("closing a database connection left busy by a call that ended");
                }
                Ok(idle)
            })
        })
        .connect_with(options)
        .await?;
    Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

/// Whether a PostgreSQL server at `host` is on this machine (a loopback address, `localhost`
/// or a Unix socket), where TLS protects nothing. There spaceid speaks plain TCP unless the
/// URL asks for TLS: sqlx's TLS socket (0.8) waits for the server to send something before it
/// finishes closing a connection, so a connection closed while its server is busy with an
/// abandoned statement is held until that statement ends (at the statement timeout), where a
/// plain one is closed at once and its statement cancelled.
fn plain_on_loopback(host: &str) -> bool {
    host == "localhost"
        || host.starts_with('/')
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Opens a SQLite pool on `options`: WAL, foreign keys, a 5 s busy timeout, and a 512 KiB
/// page cache and 24 prepared statements per connection.
pub(super) async fn sqlite(
    options: SqliteConnectOptions,
    settings: PoolSettings,
) -> Result<DatabaseConnection, sqlx::Error> {
    let options = options
        .disable_statement_logging()
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true)
        // 512 KiB of page cache per connection (SQLite's default is 2 MiB) and 24 prepared
        // statements (sqlx's default is 100): the operating system caches the file too, and
        // the server's memory stays small under scans.
        .pragma("cache_size", "-512")
        .statement_cache_capacity(24);
    let timeout = settings.statement_timeout;
    let pool = common::<Sqlite>(settings)
        .after_connect(move |conn, _| Box::pin(sqlite_deadline(conn, timeout)))
        .before_acquire(move |conn, _| {
            Box::pin(async move {
                sqlite_deadline(conn, timeout).await?;
                Ok(true)
            })
        })
        .connect_with(options)
        .await?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// The options both engines share. A connection is not pinged when it is taken from the
/// pool: it was checked when it was handed back.
fn common<DB: sqlx::Database>(settings: PoolSettings) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .min_connections(1)
        .acquire_timeout(POOL_WAIT)
        .test_before_acquire(false)
}

/// SQLite has no statement timeout of its own: a progress handler interrupts whatever the
/// connection runs once `timeout` has passed since it was handed to a call. The statement
/// then fails with SQLITE_INTERRUPT, and the connection is as good as before.
async fn sqlite_deadline(
    conn: &mut SqliteConnection,
    timeout: Duration,
) -> Result<(), sqlx::Error> {
    let deadline = Instant::now() + timeout;
    conn.lock_handle()
        .await?
        .set_progress_handler(SQLITE_PROGRESS_OPS, move || Instant::now() < deadline);
    Ok(())
}
