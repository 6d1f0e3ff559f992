//! The service's settings: one struct, read from flags and environment variables, each
//! with a documented default (the README's configuration table lists the same fields).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// What `reset_password` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PasswordReset {
    /// A single-use link to set a new password; nothing changes until it is used.
    Link,
    /// A temporary password, in effect at once, with UPDATE_PASSWORD.
    TemporaryPassword,
}

/// Every setting of the service. Flags win over environment variables.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Database: `sqlite://PATH?mode=rwc` or `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://spaceid.db?mode=rwc",
        global = true
    )]
    pub database_url: String,
    /// Largest number of pooled database connections [default: 16 on PostgreSQL, 4 on SQLite].
    #[arg(long, env = "SPACEID_DB_MAX_CONNECTIONS", global = true)]
    pub db_max_connections: Option<u32>,
    /// Address the gRPC server listens on.
    #[arg(
        long,
        env = "SPACEID_LISTEN",
        default_value = "0.0.0.0:50051",
        global = true
    )]
    pub listen: SocketAddr,
    /// bcrypt cost of new password hashes (4 to 31).
    #[arg(long, env = "SPACEID_BCRYPT_COST", default_value_t = 12, global = true)]
    pub bcrypt_cost: u32,
    /// Most bcrypt computations at once (default: the number of cores).
    #[arg(long, env = "SPACEID_BCRYPT_CONCURRENCY", global = true)]
    pub bcrypt_concurrency: Option<usize>,
    /// Most password checks that may wait for a bcrypt turn; more are answered at once with
    /// UNAVAILABLE.
    #[arg(
        long,
        env = "SPACEID_BCRYPT_QUEUE",
        default_value_t = 64,
        global = true
    )]
    pub bcrypt_queue: usize,
    /// Default access token lifetime in seconds.
    #[arg(
        long,
        env = "SPACEID_ACCESS_TOKEN_TIMEOUT",
        default_value_t = 1800,
        global = true
    )]
    pub access_token_timeout: i64,
    /// How long a process uses its list of signing keys before reading it again, in
    /// seconds. A key id it does not know makes it read the list at once (at most once a
    /// second), so new domains and keys are found without waiting for this.
    #[arg(
        long,
        env = "SPACEID_KEY_CACHE_TTL",
        default_value_t = 60,
        global = true
    )]
    pub key_cache_ttl: u64,
    /// Longest time one call may take, in seconds.
    #[arg(
        long,
        env = "SPACEID_REQUEST_TIMEOUT",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout: u64,
    /// Most calls in progress at once; more are answered at once with UNAVAILABLE.
    #[arg(
        long,
        env = "SPACEID_CONCURRENCY_LIMIT",
        default_value_t = 1024,
        global = true
    )]
    pub concurrency_limit: usize,
    /// Most calls in progress at once from one client address (an IPv6 client counts by its
    /// /64); more are answered at once with RESOURCE_EXHAUSTED. 0: no limit (behind a proxy
    /// every call comes from the proxy's address).
    #[arg(
        long,
        env = "SPACEID_MAX_CALLS_PER_CLIENT",
        default_value_t = 256,
        global = true
    )]
    pub max_calls_per_client: usize,
    /// Most client connections open at once. At the cap, the oldest connection that has
    /// not finished its handshake, else the one idle longest, is closed to make room; if
    /// every connection has a call in progress, the new one is refused.
    /// Keep it below the process's open-file limit.
    #[arg(
        long,
        env = "SPACEID_MAX_CONNECTIONS",
        default_value_t = 4096,
        global = true
    )]
    pub max_connections: usize,
    /// Seconds a new connection may stay silent (no HTTP/2 preface) before it is closed.
    #[arg(
        long,
        env = "SPACEID_HANDSHAKE_TIMEOUT",
        default_value_t = 10,
        global = true
    )]
    pub handshake_timeout: u64,
    /// Seconds a connection may go without a call in progress before it is closed (0:
    /// never). Clients reconnect on their next call.
    #[arg(
        long,
        env = "SPACEID_IDLE_TIMEOUT",
        default_value_t = 300,
        global = true
    )]
    pub idle_timeout: u64,
    /// Seconds between HTTP/2 keep-alive pings on every connection.
    #[arg(
        long,
        env = "SPACEID_KEEPALIVE_INTERVAL",
        default_value_t = 30,
        global = true
    )]
    pub keepalive_interval: u64,
    /// Seconds a keep-alive ping may go unanswered before the connection is closed.
    #[arg(
        long,
        env = "SPACEID_KEEPALIVE_TIMEOUT",
        default_value_t = 10,
        global = true
    )]
    pub keepalive_timeout: u64,
    /// Most concurrent calls (HTTP/2 streams) on one connection.
    #[arg(
        long,
        env = "SPACEID_MAX_STREAMS_PER_CONNECTION",
        default_value_t = 128,
        global = true
    )]
    pub max_streams_per_connection: u32,
    /// Largest request or response message, in bytes.
    #[arg(long, env = "SPACEID_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024, global = true)]
    pub max_message_bytes: usize,
    /// After SIGTERM or Ctrl-C, how long in-flight calls may take to finish, in seconds.
    #[arg(
        long,
        env = "SPACEID_SHUTDOWN_GRACE",
        default_value_t = 30,
        global = true
    )]
    pub shutdown_grace: u64,
    /// SMTP server mail is sent through: `smtp://[USER:PASSWORD@]HOST[:PORT]` (no TLS,
    /// port 25), with `?tls=required` (STARTTLS, port 587) or `?tls=opportunistic`, or
    /// `smtps://[USER:PASSWORD@]HOST[:PORT]` (implicit TLS, port 465). Percent-encode
    /// special characters in the user name and password. Unset or empty: mail goes to the
    /// outbox folder.
    #[arg(long, env = "SPACEID_SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,
    /// The From of every mail, such as `spaceid <no-reply@example.com>`.
    #[arg(
        long,
        env = "SPACEID_MAIL_FROM",
        default_value = "spaceid <no-reply@localhost>",
        global = true
    )]
    pub mail_from: String,
    /// Folder that receives mail as `.eml` files when no SMTP server is set.
    #[arg(long, env = "SPACEID_OUTBOX", default_value = "outbox", global = true)]
    pub outbox: PathBuf,
    /// Seconds an e-mail verification code stays valid.
    #[arg(
        long,
        env = "SPACEID_EMAIL_CODE_TTL",
        default_value_t = 1800,
        global = true
    )]
    pub email_code_ttl: u64,
    /// Seconds an MFA code (sign-in, turning MFA on or off) stays valid.
    #[arg(
        long,
        env = "SPACEID_MFA_CODE_TTL",
        default_value_t = 300,
        global = true
    )]
    pub mfa_code_ttl: u64,
    /// What `reset_password` mails: a single-use link (nothing changes until it is used) or
    /// a temporary password that takes effect at once (anyone who knows a user id can then
    /// change that user's password, though only its owner learns the new one).
    #[arg(
        long,
        env = "SPACEID_PASSWORD_RESET",
        value_enum,
        default_value_t = PasswordReset::Link,
        global = true
    )]
    pub password_reset: PasswordReset,
    /// The console's address; reset links point at `<console-url>/reset-password`.
    #[arg(
        long,
        env = "SPACEID_CONSOLE_URL",
        default_value = "http://localhost:8080",
        global = true
    )]
    pub console_url: String,
    /// Seconds a password reset link stays valid (at most a day).
    #[arg(
        long,
        env = "SPACEID_RESET_LINK_TTL",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(60..=86_400),
        global = true
    )]
    pub reset_link_ttl: u64,
    /// The server's secret (at least 32 characters, the same on every replica): one-time
    /// codes are stored as hashes keyed with it. Unset: a random secret is made once and kept
    /// in the database, which then holds both the hashes and their key.
    #[arg(
        long,
        env = "SPACEID_SECRET_KEY",
        hide_env_values = true,
        global = true
    )]
    pub secret_key: Option<String>,
    /// Log format.
    #[arg(long, env = "SPACEID_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Log filter, in `tracing` EnvFilter syntax.
    #[arg(
        long,
        env = "SPACEID_LOG",
        default_value = "info,sqlx=warn,sea_orm_migration=warn",
        global = true
    )]
    pub log: String,
}

impl Settings {
    /// The bcrypt concurrency, defaulting to the number of cores.
    pub fn bcrypt_concurrency(&self) -> usize {
        self.bcrypt_concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        })
    }

    /// The per-call timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout.max(1))
    }

    /// The database pool's size: as set, else 16 on PostgreSQL and 4 on SQLite. SQLite
    /// writes one transaction at a time and reads on the server's own cores, so more
    /// connections add memory (each keeps a page cache and its own scratch space), not
    /// throughput.
    pub fn db_max_connections(&self) -> u32 {
        self.db_max_connections.unwrap_or_else(|| {
            if self.database_url.starts_with("sqlite") {
                4
            } else {
                16
            }
        })
    }

    /// How long the signing key list is used before it is read again (at least 1 s).
    pub fn key_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.key_cache_ttl.max(1))
    }

    /// The shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace)
    }
}
