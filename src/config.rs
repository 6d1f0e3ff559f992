//! The service's settings: one struct, read from flags and environment variables, each
//! with a documented default (the README's configuration table lists the same fields).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use crate::error::{Error, Result};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
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

/// Which generation of the SpaceONE API a listener speaks. They differ where the wire cannot
/// tell them apart: `UserProfile.update`'s field 1 is the new password in the seeds'
/// generation and the name in the current one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiGeneration {
    /// spaceone-api up to 2.0.329, as the seed documents describe it.
    #[default]
    Seeds,
    /// spaceone-api 2.0.330 and later (2.0.435 today), what `pip install spaceone-api` and
    /// the console of a SpaceONE installed today speak.
    Current,
}

impl ApiGeneration {
    /// The generation's name, as the setting spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seeds => "seeds",
            Self::Current => "current",
        }
    }
}

/// Settings every command needs: where the database is, how new passwords are hashed,
/// and how the log reads. They may stand before or after the command's name.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalSettings {
    /// Database: `sqlite://PATH?mode=rwc` (`mode=rwc` creates the file if it is missing) or
    /// `postgres://USER:PASSWORD@HOST[:PORT]/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://spaceid.db?mode=rwc",
        hide_env_values = true,
        global = true
    )]
    pub database_url: String,
    /// Largest number of pooled database connections [default: 16 on PostgreSQL, 4 on SQLite].
    #[arg(long, env = "SPACEID_DB_MAX_CONNECTIONS", global = true)]
    pub db_max_connections: Option<u32>,
    /// bcrypt cost of new password hashes (4 to 31).
    #[arg(long, env = "SPACEID_BCRYPT_COST", default_value_t = 12, global = true)]
    pub bcrypt_cost: u32,
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

/// Every setting of the service: the global ones (`GlobalSettings`, filled in by
/// `with_global`) and those of `serve`. Flags win over environment variables.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Address the gRPC server listens on: an IP address and a port.
    #[arg(
        long,
        env = "SPACEID_LISTEN",
        default_value = "0.0.0.0:50051",
        value_parser = parse_socket_address
    )]
    pub listen: SocketAddr,
    /// The SpaceONE API generation `--listen` speaks: `seeds` (spaceone-api 2.0.300, as the
    /// seed documents) or `current` (2.0.435, today's console and `pip install
    /// spaceone-api`). A client of the other generation that calls `UserProfile.update`
    /// writes the wrong fields (see the README's "API generations").
    #[arg(
        long,
        env = "SPACEID_API_GENERATION",
        value_enum,
        default_value_t = ApiGeneration::Seeds
    )]
    pub api_generation: ApiGeneration,
    /// The server's certificate chain (PEM). With `--tls-key`, the server speaks TLS only;
    /// both files are read again on SIGHUP and when they change.
    #[arg(long, env = "SPACEID_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "SPACEID_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA certificates (PEM) that client certificates must chain to: every client must then
    /// present one (mutual TLS). Needs `--tls-cert`.
    #[arg(long, env = "SPACEID_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Address (IP and port) of the Prometheus metrics endpoint, `GET /metrics`. Unset: no
    /// metrics are served.
    #[arg(long, env = "SPACEID_METRICS_LISTEN", value_parser = parse_socket_address)]
    pub metrics_listen: Option<SocketAddr>,
    /// Seconds between two checks that the database can be written; health reports
    /// NOT_SERVING from the first check that fails until one succeeds.
    #[arg(
        long,
        env = "SPACEID_HEALTH_INTERVAL",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub health_interval: u64,
    /// Global: the database (`GlobalSettings::database_url`).
    #[arg(skip)]
    pub database_url: String,
    /// Global: pooled database connections (`GlobalSettings::db_max_connections`); see
    /// `Settings::db_max_connections` for the default.
    #[arg(skip)]
    pub db_max_connections: Option<u32>,
    /// Global: bcrypt cost (`GlobalSettings::bcrypt_cost`).
    #[arg(skip)]
    pub bcrypt_cost: u32,
    /// Global: log format (`GlobalSettings::log_format`).
    #[arg(skip)]
    pub log_format: LogFormat,
    /// Global: log filter (`GlobalSettings::log`).
    #[arg(skip)]
    pub log: String,
    /// Most bcrypt computations at once (default: the number of cores).
    #[arg(long, env = "SPACEID_BCRYPT_CONCURRENCY")]
    pub bcrypt_concurrency: Option<usize>,
    /// Most password checks that may wait for a bcrypt turn; more are answered at once with
    /// UNAVAILABLE.
    #[arg(long, env = "SPACEID_BCRYPT_QUEUE", default_value_t = 64)]
    pub bcrypt_queue: usize,
    /// Default access token lifetime in seconds.
    #[arg(long, env = "SPACEID_ACCESS_TOKEN_TIMEOUT", default_value_t = 1800)]
    pub access_token_timeout: i64,
    /// How long a process uses its list of signing keys before reading it again, in
    /// seconds. A key id it does not know makes it read the list at once (at most once a
    /// second), so new domains and keys are found without waiting for this.
    #[arg(long, env = "SPACEID_KEY_CACHE_TTL", default_value_t = 60)]
    pub key_cache_ttl: u64,
    /// Longest time one call may take, in seconds.
    #[arg(long, env = "SPACEID_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,
    /// Longest time one database statement may run, in milliseconds; the database stops it
    /// then and the call is answered UNAVAILABLE. Kept below the request timeout (at most
    /// 80% of it), so a call never ends while its statement runs on.
    #[arg(
        long,
        env = "SPACEID_STATEMENT_TIMEOUT_MS",
        default_value_t = 5000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub statement_timeout_ms: u64,
    /// Most calls in progress at once; more are answered at once with UNAVAILABLE.
    #[arg(long, env = "SPACEID_CONCURRENCY_LIMIT", default_value_t = 1024)]
    pub concurrency_limit: usize,
    /// Most calls in progress at once from one client address (an IPv6 client counts by its
    /// /64); more are answered at once with RESOURCE_EXHAUSTED. 0: no limit (behind a proxy
    /// every call comes from the proxy's address).
    #[arg(long, env = "SPACEID_MAX_CALLS_PER_CLIENT", default_value_t = 256)]
    pub max_calls_per_client: usize,
    /// Most client connections open at once. At the cap, the oldest connection that has
    /// not finished its handshake, else the one idle longest, is closed to make room; if
    /// every connection has a call in progress, the new one is refused.
    /// Keep it below the process's open-file limit.
    #[arg(long, env = "SPACEID_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds a new connection may stay silent (no HTTP/2 preface) before it is closed.
    #[arg(long, env = "SPACEID_HANDSHAKE_TIMEOUT", default_value_t = 10)]
    pub handshake_timeout: u64,
    /// Seconds a connection may go without a call in progress before it is closed (0:
    /// never). Clients reconnect on their next call.
    #[arg(long, env = "SPACEID_IDLE_TIMEOUT", default_value_t = 300)]
    pub idle_timeout: u64,
    /// Seconds between HTTP/2 keep-alive pings on every connection.
    #[arg(long, env = "SPACEID_KEEPALIVE_INTERVAL", default_value_t = 30)]
    pub keepalive_interval: u64,
    /// Seconds a keep-alive ping may go unanswered before the connection is closed.
    #[arg(long, env = "SPACEID_KEEPALIVE_TIMEOUT", default_value_t = 10)]
    pub keepalive_timeout: u64,
    /// Most concurrent calls (HTTP/2 streams) on one connection.
    #[arg(
        long,
        env = "SPACEID_MAX_STREAMS_PER_CONNECTION",
        default_value_t = 128
    )]
    pub max_streams_per_connection: u32,
    /// Largest request or response message, in bytes.
    #[arg(long, env = "SPACEID_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,
    /// After SIGTERM or Ctrl-C, how long in-flight calls may take to finish, in seconds.
    #[arg(long, env = "SPACEID_SHUTDOWN_GRACE", default_value_t = 30)]
    pub shutdown_grace: u64,
    /// SMTP server mail is sent through: `smtp://[USER:PASSWORD@]HOST[:PORT]` (no TLS,
    /// port 25), with `?tls=required` (STARTTLS, port 587) or `?tls=opportunistic`, or
    /// `smtps://[USER:PASSWORD@]HOST[:PORT]` (implicit TLS, port 465). Percent-encode
    /// special characters in the user name and password. Unset or empty: mail goes to the
    /// outbox folder.
    #[arg(long, env = "SPACEID_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From of every mail, such as `spaceid <no-reply@example.com>`.
    #[arg(
        long,
        env = "SPACEID_MAIL_FROM",
        default_value = "spaceid <no-reply@localhost>"
    )]
    pub mail_from: String,
    /// Folder that receives mail as `.eml` files when no SMTP server is set.
    #[arg(long, env = "SPACEID_OUTBOX", default_value = "outbox")]
    pub outbox: PathBuf,
    /// Seconds an e-mail verification code stays valid.
    #[arg(long, env = "SPACEID_EMAIL_CODE_TTL", default_value_t = 1800)]
    pub email_code_ttl: u64,
    /// Seconds an MFA code (sign-in, turning MFA on or off) stays valid.
    #[arg(long, env = "SPACEID_MFA_CODE_TTL", default_value_t = 300)]
    pub mfa_code_ttl: u64,
    /// What `reset_password` mails: a single-use link (nothing changes until it is used) or
    /// a temporary password that takes effect at once (anyone who knows a user id can then
    /// change that user's password, though only its owner learns the new one).
    #[arg(
        long,
        env = "SPACEID_PASSWORD_RESET",
        value_enum,
        default_value_t = PasswordReset::Link
    )]
    pub password_reset: PasswordReset,
    /// The console's address; reset links point at `<console-url>/reset-password`.
    #[arg(
        long,
        env = "SPACEID_CONSOLE_URL",
        default_value = "http://localhost:8080"
    )]
    pub console_url: String,
    /// Seconds a password reset link stays valid (at most a day).
    #[arg(
        long,
        env = "SPACEID_RESET_LINK_TTL",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(60..=86_400)
    )]
    pub reset_link_ttl: u64,
    /// The server's secret (at least 32 characters, the same on every replica): one-time
    /// codes are stored as hashes keyed with it. Unset: a random secret is made once and kept
    /// in the database, which then holds both the hashes and their key.
    #[arg(long, env = "SPACEID_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
}

impl Settings {
    /// The `serve` settings from the environment and defaults alone, for the commands that
    /// do not take them as flags (`bench` serves in its own process with them).
    pub fn from_env(global: GlobalSettings) -> Result<Self> {
        use clap::{Args, FromArgMatches};
        let command = Self::augment_args(clap::Command::new("serve"));
        let settings = command
            .try_get_matches_from(["serve"])
            .and_then(|matches| Self::from_arg_matches(&matches))
            .map_err(|err| Error::Config(one_line(&err.to_string())))?;
        Ok(settings.with_global(global))
    }

    /// These settings with the global ones filled in.
    pub fn with_global(mut self, global: GlobalSettings) -> Self {
        let GlobalSettings {
            database_url,
            db_max_connections,
            bcrypt_cost,
            log_format,
            log,
        } = global;
        self.database_url = database_url;
        self.db_max_connections = db_max_connections;
        self.bcrypt_cost = bcrypt_cost;
        self.log_format = log_format;
        self.log = log;
        self
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

    /// The interval between two writability checks of the database.
    pub fn health_interval(&self) -> Duration {
        Duration::from_secs(self.health_interval.max(1))
    }

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

    /// The statement timeout: as set, but at most 80% of the request timeout.
    pub fn statement_timeout(&self) -> Duration {
        Duration::from_millis(self.statement_timeout_ms.max(1))
            .min(self.request_timeout().mul_f64(0.8))
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

/// An IP address and a port, such as `127.0.0.1:50051` or `[::]:50051`. A host name is
/// refused with a message that says what to give instead: the server binds an address and
/// must not depend on what a name resolves to.
pub fn parse_socket_address(text: &str) -> std::result::Result<SocketAddr, String> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            if host.parse::<std::net::IpAddr>().is_ok() {
                Err(format!(
                    "{text} needs brackets around its IPv6 address, such as [{host}]:{port}"
                ))
            } else {
                let loopback = if host == "localhost" {
                    "127.0.0.1"
                } else {
                    "0.0.0.0"
                };
                Err(format!(
                    "{host} is a host name; give an IP address and a port, such as \
                     {loopback}:{port} (0.0.0.0 listens on every interface)"
                ))
            }
        }
        _ => Err(format!(
            "{text} is not an IP address and port, such as 127.0.0.1:50051 or [::]:50051"
        )),
    }
}

/// A multi-line message (clap's) as one line.
pub fn one_line(message: &str) -> String {
    let message = message.split("\n\nUsage:").next().unwrap_or_default();
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_are_ip_and_port_and_host_names_say_what_to_give() {
        assert_eq!(
            parse_socket_address("127.0.0.1:50051").unwrap(),
            "127.0.0.1:50051".parse().unwrap()
        );
        assert!(parse_socket_address("[::1]:0").is_ok());
        let error = parse_socket_address("localhost:50051").unwrap_err();
        assert!(
            error.contains("host name") && error.contains("127.0.0.1:50051"),
            "{error}"
        );
        let error = parse_socket_address("::1:50051").unwrap_err();
        assert!(error.contains("[::1]:50051"), "{error}");
        let error = parse_socket_address("50051").unwrap_err();
        assert!(error.contains("IP address and port"), "{error}");
    }
}
