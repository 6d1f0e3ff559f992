//! Storage: SeaORM entities, migrations and the repository functions the rest of the code
//! calls. Functions here speak the domain's types; entities never leave this module.
//!
//! Repository functions take an `Executor`: the pool (`Store`) or an open transaction
//! (`Tx`). Functions that write more than one row take a `Tx`, so the caller decides what
//! commits together. The SeaORM connection behind an executor is reachable from this
//! module only, so no other layer can run SQL or name an entity.

pub mod bulk;
pub mod cache;
pub mod codes;
pub mod domains;
mod entities;
pub mod keys;
pub mod members;
mod migration;
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

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr, SqlErr,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

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
        fn wrote_users(&self, inside: Inside, user: Option<(&str, &str)>);
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
    fn wrote_users(&self, _: sealed::Inside, user: Option<(&str, &str)>) {
        evict(&self.users, user);
    }
}

impl sealed::Connection for Tx {
    type Conn = DatabaseTransaction;
    fn connection(&self, _: sealed::Inside) -> &DatabaseTransaction {
        &self.tx
    }
    fn wrote_users(&self, _: sealed::Inside, user: Option<(&str, &str)>) {
        // Now, so nothing read before the write is kept; and at commit, so nothing read
        // before the commit is served after it.
        evict(&self.users, user);
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(user.map(|(domain_id, user_id)| (domain_id.to_owned(), user_id.to_owned())));
    }
}

fn evict(cache: &UserCache, user: Option<(&str, &str)>) {
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
fn wrote_users<E: Executor>(db: &E, user: Option<(&str, &str)>) {
    db.wrote_users(sealed::Inside(()), user);
}

/// An open transaction; it rolls back unless `commit` is called.
#[derive(Debug)]
pub struct Tx {
    tx: DatabaseTransaction,
    users: Arc<UserCache>,
    /// The users written in this transaction (`None`: every user).
    written: std::sync::Mutex<Vec<Option<(String, String)>>>,
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
            evict(&users, user.as_ref().map(|(d, u)| (d.as_str(), u.as_str())));
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
    /// Connects to `url` (`sqlite://...` or `postgres://...`) with at most `max_connections`.
    /// SQLite runs in WAL mode with foreign keys on, a 5 s busy timeout, and a 512 KiB page
    /// cache and 24 prepared statements per connection. On PostgreSQL no statement runs
    /// longer than `statement_timeout` (the request timeout): a call that ended cannot
    /// leave its query working on.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        statement_timeout: Duration,
    ) -> Result<Self> {
        let statement_timeout_ms = statement_timeout.as_millis().max(1).to_string();
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(max_connections.max(1))
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false)
            .map_sqlx_postgres_opts(move |opts| {
                opts.options([("statement_timeout", statement_timeout_ms.as_str())])
            })
            .map_sqlx_sqlite_opts(|opts| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
                    // 512 KiB of page cache per connection (SQLite's default is 2 MiB) and
                    // 24 prepared statements (sqlx's default is 100): the operating system
                    // caches the file too, and the server's memory stays small under scans.
                    .pragma("cache_size", "-512")
                    .statement_cache_capacity(24)
            });
        if let Some(path) = sqlite_file(url) {
            create_private_file(path)?;
        }
        let db = Database::connect(options).await.map_err(|err| {
            Error::internal(format!(
                "cannot open the database: {}",
                redact_url(&err.to_string(), url)
            ))
        })?;
        Ok(Self {
            db,
            users: Arc::new(UserCache::default()),
        })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<()> {
        migration::Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Starts a transaction; it rolls back unless committed.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx {
            tx: self.db.begin().await?,
            users: self.users.clone(),
            written: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Closes the pool, waiting for connections to return.
    pub async fn close(self) -> Result<()> {
        Ok(self.db.close().await?)
    }
}

impl From<DbErr> for Error {
    /// A database error is a fault, unless the caller's own input made it: PostgreSQL refuses
    /// NUL characters (SQLSTATE 22021) and text it cannot encode (22P05) that SQLite stores,
    /// a regular expression its engine cannot compile (2201B), a date outside its range
    /// (22008); a query it cancels at the statement timeout (57014) is UNAVAILABLE, like any
    /// other call the server had no time for.
    fn from(err: DbErr) -> Self {
        use sea_orm::{RuntimeErr, sqlx};
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
                Some("57014") => {
                    return Error::Busy("the query took longer than the request timeout");
                }
                _ => {}
            }
        }
        Error::Storage(err)
    }
}

/// A value read back from a row: one that does not parse is our fault (INTERNAL), never
/// the caller's, whatever the parser would say of it as input.
fn stored<T>(parsed: Result<T>, what: &str) -> Result<T> {
    parsed.map_err(|err| Error::internal(format!("a stored {what} cannot be read: {err}")))
}

/// Turns a unique violation into ALREADY_EXISTS on `key = value`; other errors pass through.
fn on_unique(err: DbErr, key: impl Into<Label>, value: &str) -> Error {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => Error::already_exists(key, value),
        _ => err.into(),
    }
}

/// The file a `sqlite://PATH?mode=rwc` URL may create (none for other URLs, which open
/// only a file that exists, or an in-memory database).
fn sqlite_file(url: &str) -> Option<&std::path::Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?')?;
    let creates = query.split('&').any(|pair| pair == "mode=rwc");
    (creates && !path.is_empty() && path != ":memory:").then(|| std::path::Path::new(path))
}

/// Creates the SQLite file, if it does not exist yet, readable and writable by its owner
/// only: it holds the domains' private signing keys. SQLite gives its `-wal` and `-shm`
/// files the same permissions.
fn create_private_file(path: &std::path::Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(Error::internal(format!(
            "cannot create the database file {}: {err}",
            path.display()
        ))),
    }
}

fn redact_url(message: &str, url: &str) -> String {
    match url.split_once('@') {
        Some((credentials, _)) if message.contains(credentials) => {
            message.replace(credentials, "***")
        }
        _ => message.to_owned(),
    }
}
