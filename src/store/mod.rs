//! Storage: SeaORM entities, migrations and the repository functions the rest of the code
//! calls. Functions here speak the domain's types; entities never leave this module.
//!
//! Repository functions take an `Executor`: the pool (`Store`) or an open transaction
//! (`Tx`). Functions that write more than one row take a `Tx`, so the caller decides what
//! commits together. The SeaORM connection behind an executor is reachable from this
//! module only, so no other layer can run SQL or name an entity.

#[cfg(feature = "bench")]
pub mod bulk;
pub mod cache;
pub mod codes;
pub mod domains;
mod entities;
pub mod keys;
pub mod members;
mod migration;
mod pool;
pub mod role_bindings;
pub mod roles;
pub mod secrets;
pub mod system_tokens;
pub mod throttles;
pub mod users;
pub mod workspace_groups;
pub mod workspaces;

use std::sync::Arc;
use std::time::Duration;

use cache::UserCache;

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, SqlErr, TransactionTrait};
use sea_orm_migration::MigratorTrait;

use crate::domain::{DomainId, UserId};
use crate::error::{Error, Label, Result};

mod sealed {
    /// Proof of being inside `store`: only this module can make one.
    pub struct Inside(pub(super) ());

    /// The SeaORM connection behind an executor. Its method takes an `Inside`, so code
    /// outside `store` cannot call it even through an `impl Executor` bound.
    pub trait Connection: Sync {
        /// The pool or a transaction.
        type Conn: sea_orm::ConnectionTrait;
        /// The connection to run a statement on.
        fn connection(&self, inside: Inside) -> &Self::Conn;
        /// Evicts what a write changed from the user cache: one user (domain, user id) or,
        /// with `None`, every user. A transaction evicts again when it commits.
        fn wrote_users(&self, inside: Inside, user: Option<(&super::DomainId, &super::UserId)>);
    }
}

/// Where a repository function runs its statements: the pool (`Store`) or a transaction
/// (`Tx`).
pub trait Executor: sealed::Connection {}

impl Executor for Store {}
impl Executor for Tx {}

impl sealed::Connection for Store {
    type Conn = DatabaseConnection;
    fn connection(&self, _: sealed::Inside) -> &DatabaseConnection {
        &self.db
    }
    fn wrote_users(&self, _: sealed::Inside, user: Option<(&DomainId, &UserId)>) {
        evict(&self.users, user);
    }
}

impl sealed::Connection for Tx {
    type Conn = DatabaseTransaction;
    fn connection(&self, _: sealed::Inside) -> &DatabaseTransaction {
        &self.tx
    }
    fn wrote_users(&self, _: sealed::Inside, user: Option<(&DomainId, &UserId)>) {
        // Now, so nothing read before the write is kept; and at commit, so nothing read
        // before the commit is served after it.
        evict(&self.users, user);
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(user.map(|(domain_id, user_id)| (domain_id.clone(), user_id.clone())));
    }
}

fn evict(cache: &UserCache, user: Option<(&DomainId, &UserId)>) {
    match user {
        Some((domain_id, user_id)) => cache.evict(domain_id, user_id),
        None => cache.evict_all(),
    }
}

/// The SeaORM connection behind `db`, for the repository functions of this module.
fn conn<E: Executor>(db: &E) -> &E::Conn {
    db.connection(sealed::Inside(()))
}

/// Tells the user cache behind `db` that a user's record (or, with `None`, any user's)
/// was written.
fn wrote_users<E: Executor>(db: &E, user: Option<(&DomainId, &UserId)>) {
    db.wrote_users(sealed::Inside(()), user);
}

/// An open transaction; it rolls back unless `commit` is called.
#[derive(Debug)]
pub struct Tx {
    tx: DatabaseTransaction,
    users: Arc<UserCache>,
    /// The users written in this transaction (`None`: every user).
    written: std::sync::Mutex<Vec<Option<(DomainId, UserId)>>>,
}

impl Tx {
    /// Commits every statement run on this transaction.
    pub async fn commit(self) -> Result<()> {
        let Self { tx, users, written } = self;
        let committed = tx.commit().await;
        // Evicted whatever the outcome: a commit that reports an error may have landed.
        for user in written
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            evict(&users, user.as_ref().map(|(d, u)| (d, u)));
        }
        Ok(committed?)
    }
}

/// The database behind the service: SQLite (the default) or PostgreSQL.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    users: Arc<UserCache>,
}

impl Store {
    /// Connects to `url` (`sqlite://...` or `postgres://...`) with at most `max_connections`,
    /// every statement cut off by the database after `statement_timeout` (see `pool`).
    pub async fn connect(
        url: &str,
        max_connections: u32,
        statement_timeout: Duration,
    ) -> Result<Self> {
        use sea_orm::sqlx::{postgres::PgConnectOptions, sqlite::SqliteConnectOptions};
        check_url(url)?;
        if let Some((path, creates)) = sqlite_file(url) {
            prepare_sqlite_file(path, creates)?;
        }
        let settings = pool::PoolSettings {
            max_connections,
            statement_timeout,
        };
        let cannot_open = |err: sea_orm::sqlx::Error| {
            Error::Config(format!(
                "cannot open the database: {}",
                redact_url(&err.to_string(), url)
            ))
        };
        let db = if url.starts_with("postgres") {
            reach_postgres(url).await?;
            let options: PgConnectOptions = url.parse().map_err(cannot_open)?;
            let tls_asked = url.contains("sslmode=") || url.contains("ssl-mode=");
            pool::postgres(options, tls_asked, settings)
                .await
                .map_err(cannot_open)?
        } else {
            let options: SqliteConnectOptions = url.parse().map_err(cannot_open)?;
            pool::sqlite(options, settings).await.map_err(cannot_open)?
        };
        Ok(Self {
            db,
            users: Arc::new(UserCache::default()),
        })
    }

    /// Applies every pending migration to the database at `url`, on a connection of its own
    /// whose statements may run for `MIGRATION_TIMEOUT` (an index built over a large table
    /// takes longer than a call's statement may).
    pub async fn migrate(url: &str) -> Result<()> {
        let store = Self::connect(url, 1, MIGRATION_TIMEOUT).await?;
        let migrated = migration::Migrator::up(&store.db, None).await;
        store.close(Duration::from_secs(5)).await?;
        Ok(migrated?)
    }

    /// Starts a transaction; it rolls back unless committed.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx {
            tx: self.db.begin().await?,
            users: self.users.clone(),
            written: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Writes the heartbeat row in a transaction of its own and commits it: `Ok` when the
    /// database takes writes now. It fails on a read-only SQLite file, a PostgreSQL standby
    /// or `default_transaction_read_only`, a full disk, or a write lock held elsewhere for
    /// longer than the busy timeout.
    #[tracing::instrument(skip(self))]
    pub async fn heartbeat(&self) -> Result<()> {
        use sea_orm::ConnectionTrait;
        let tx = self.db.begin().await?;
        tx.execute_unprepared("UPDATE heartbeat SET beats = beats + 1 WHERE id = 1")
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The pool's connections: open, and of those idle; and the most it may open.
    pub fn pool_usage(&self) -> PoolUsage {
        use sea_orm::ConnectionTrait;
        let (open, idle) = match self.db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            sea_orm::DatabaseBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            sea_orm::DatabaseBackend::MySql => (0, 0),
        };
        PoolUsage {
            open,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
        }
    }

    /// Closes the pool: waits at most `within` for connections in use to come back, then
    /// leaves them to be closed with the process. Returns how many were still in use then.
    pub async fn close(self, within: Duration) -> Result<u32> {
        let db = self.db.clone();
        match tokio::time::timeout(within, db.close()).await {
            Ok(closed) => {
                closed?;
                Ok(0)
            }
            Err(_) => {
                let usage = self.pool_usage();
                Ok(usage.open.saturating_sub(usage.idle))
            }
        }
    }
}

/// The longest a migration's statement may run.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(3600);

/// How many pooled database connections there are (`Store::pool_usage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections open.
    pub open: u32,
    /// Open connections that no call is using.
    pub idle: u32,
}

/// How long the first connection to PostgreSQL may take before start-up gives up and
/// says why: far less than the pool's own timeout, which retries a refused connection
/// until it runs out.
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Refuses, with a line that says what to write instead, a database URL that is not one
/// of `sqlite:` or `postgres:` (a plain path, another scheme).
fn check_url(url: &str) -> Result<()> {
    const FORMS: &str = "sqlite://PATH?mode=rwc or postgres://USER:PASSWORD@HOST[:PORT]/DB";
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        return Ok(());
    }
    match url.split_once("://") {
        Some((scheme, _)) if !scheme.is_empty() && !scheme.contains(['/', '@']) => {
            Err(Error::Config(format!(
                "DATABASE_URL has the scheme {}, which spaceid does not speak; give {FORMS}",
                crate::domain::quoted(&format!("{scheme}:"))
            )))
        }
        _ if url.is_empty() => Err(Error::Config(format!(
            "DATABASE_URL is empty; give {FORMS}"
        ))),
        _ if url.contains('@') => Err(Error::Config(format!(
            "DATABASE_URL is not a URL; give {FORMS}"
        ))),
        _ => Err(Error::Config(format!(
            "DATABASE_URL {} is a path, not a URL; give sqlite://{url}?mode=rwc \
             (mode=rwc creates the file if it is missing) or postgres://USER:PASSWORD@HOST/DB",
            crate::domain::quoted(url)
        ))),
    }
}

/// Opens one connection to PostgreSQL and closes it, so an unreachable server or a
/// refused login is one clear line within `POSTGRES_CONNECT_TIMEOUT`.
async fn reach_postgres(url: &str) -> Result<()> {
    use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _, postgres::PgConnectOptions};
    let options: PgConnectOptions = url.parse().map_err(|err: sqlx::Error| {
        Error::Config(format!(
            "DATABASE_URL is not a PostgreSQL URL that can be read: {}",
            redact_url(&err.to_string(), url)
        ))
    })?;
    let server = format!("{}:{}", options.get_host(), options.get_port());
    let cannot =
        |why: String| Error::Config(format!("cannot connect to PostgreSQL at {server}: {why}"));
    match tokio::time::timeout(POSTGRES_CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(sqlx::Error::Io(err))) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(cannot(
                "connection refused; is PostgreSQL running there, and are DATABASE_URL's host \
                 and port right?"
                    .into(),
            ))
        }
        Ok(Err(sqlx::Error::Io(err))) => {
            Err(cannot(format!("{err}; check DATABASE_URL's host and port")))
        }
        Ok(Err(sqlx::Error::Database(err))) => Err(cannot(format!(
            "{}; check DATABASE_URL's user, password and database",
            redact_url(err.message(), url)
        ))),
        Ok(Err(err)) => Err(cannot(redact_url(&err.to_string(), url))),
        Err(_) => Err(cannot(format!(
            "no answer within {} s; check DATABASE_URL's host and port, and that no firewall \
             drops the connection",
            POSTGRES_CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

impl From<DbErr> for Error {
    /// A database error is a fault, unless the caller's own input made it: PostgreSQL refuses
    /// NUL characters (SQLSTATE 22021) and text it cannot encode (22P05) that SQLite stores,
    /// a regular expression its engine cannot compile (2201B), a date outside its range
    /// (22008). A statement cut off at the statement timeout, and a call that found no free
    /// connection within `pool::POOL_WAIT`, are UNAVAILABLE, like any other call the server
    /// had no time for.
    fn from(err: DbErr) -> Self {
        use sea_orm::{ConnAcquireErr, RuntimeErr, sqlx};
        match &err {
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => {
                return Error::Busy("no database connection was free in time");
            }
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed) => {
                return Error::Busy("the server is stopping");
            }
            _ => {}
        }
        if let DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(cause)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(cause))) = &err
        {
            match cause.code().as_deref() {
                Some("22021" | "22P05") => {
                    return Error::invalid(
                        "request",
                        "text values must not contain NUL characters",
                    );
                }
                Some("2201B") => {
                    return Error::invalid("query", "a regular expression is not valid");
                }
                Some("22008") => {
                    return Error::invalid("query", "a date is out of the supported range");
                }
                // PostgreSQL's query_canceled, SQLite's SQLITE_INTERRUPT: the statement
                // timeout (`pool`) cut the statement off.
                Some("57014" | "9") => {
                    return Error::Busy("the query took longer than the statement timeout");
                }
                _ => {}
            }
        }
        Error::Storage(err)
    }
}

/// Turns a unique violation into ALREADY_EXISTS on `key = value`; other errors pass through.
fn on_unique(err: DbErr, key: impl Into<Label>, value: &str) -> Error {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::already_exists(key, value),
        _ => err.into(),
    }
}

/// The file a `sqlite:` URL names, and whether the URL asks for it to be created
/// (`mode=rwc`); none for an in-memory database or another URL.
fn sqlite_file(url: &str) -> Option<(&std::path::Path, bool)> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut modes = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("mode="));
    let mode = modes.next_back();
    let file = !path.is_empty() && path != ":memory:" && mode != Some("memory");
    file.then(|| (std::path::Path::new(path), mode == Some("rwc")))
}

/// Checks that the SQLite file can be opened: created (owner-only, see
/// `create_private_file`) when the URL says `mode=rwc`, else already there.
fn prepare_sqlite_file(path: &std::path::Path, creates: bool) -> Result<()> {
    if creates {
        create_private_file(path)
    } else if path.exists() {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "the SQLite file {} does not exist; add ?mode=rwc to DATABASE_URL to have it \
             created (mode=rwc opens the file to read and write, and creates it if missing)",
            path.display()
        )))
    }
}

/// Creates the SQLite file, if it does not exist yet, readable and writable by its owner
/// only: it holds the domains' private signing keys. SQLite gives its `-wal` and `-shm`
/// files the same permissions.
fn create_private_file(path: &std::path::Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let folder = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.display().to_string(),
        _ => ".".to_owned(),
    };
    let why = match options.open(path) {
        Ok(_) => return Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            format!("its folder {folder} does not exist; create the folder first")
        }
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => format!(
            "this user may not write in {folder}; choose a folder it may write, or change the \
             folder's permissions"
        ),
        Err(err) => format!("{err}"),
    };
    Err(Error::Config(format!(
        "cannot create the SQLite file {}: {why} (mode=rwc in DATABASE_URL creates the file, \
         not its folder)",
        path.display()
    )))
}

fn redact_url(message: &str, url: &str) -> String {
    match url.split_once('@') {
        Some((credentials, _)) if message.contains(credentials) => {
            message.replace(credentials, "***")
        }
        _ => message.to_owned(),
    }
}
