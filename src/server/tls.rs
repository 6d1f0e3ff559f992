//! TLS on the gRPC listener (rustls): the certificate and key files, optionally a CA that
//! every client certificate must chain to (mutual TLS), read again on SIGHUP and when one
//! of the files changes. The handshake happens inside each accepted connection
//! (`connections::Transport`), so it counts against the connection limits and the
//! handshake timeout like any other silence before the HTTP/2 preface.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError, RwLock},
    time::{Duration, SystemTime},
};

use rustls::{
    RootCertStore, ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};
use tokio_rustls::TlsAcceptor;

use crate::error::{Error, Result};

/// How often the files are checked for a change.
pub const FILE_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// The one crypto provider of the process: aws-lc-rs, the back-end the JWT signatures
/// already use and the only one rustls is built with (see Cargo.toml), so the gRPC
/// listener, SMTP (lettre) and PostgreSQL (sqlx) all run on it. It is installed as the
/// process default before any TLS is used because rustls refuses to guess once a second
/// back-end is compiled in, as one dependency's default features could do. Calling it
/// again does nothing.
pub fn install_crypto_provider() {
    let _ = provider().install_default();
}

fn provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// The files TLS is made of.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM).
    pub cert: PathBuf,
    /// The private key of the leaf (PEM).
    pub key: PathBuf,
    /// CA certificates that client certificates must chain to (PEM); `None`: clients
    /// present none.
    pub client_ca: Option<PathBuf>,
}

/// The server's TLS: the configuration new connections get, replaced as a whole by
/// `reload`. Connections already open keep the one they started with.
#[derive(Clone)]
pub struct Tls {
    inner: Arc<Inner>,
}

struct Inner {
    files: TlsFiles,
    config: RwLock<Arc<ServerConfig>>,
    /// What the files looked like at the last load (or attempt).
    seen: Mutex<Vec<Option<(SystemTime, u64)>>>,
}

impl Tls {
    /// Reads the files; any that is missing, unreadable or wrong is a configuration error
    /// that names it.
    pub fn load(files: TlsFiles) -> Result<Self> {
        let seen = stamps(&files);
        let config = build(&files)?;
        Ok(Self {
            inner: Arc::new(Inner {
                files,
                config: RwLock::new(Arc::new(config)),
                seen: Mutex::new(seen),
            }),
        })
    }

    /// Reads the files again, as SIGHUP does. On success new connections get the new
    /// certificate (and client CA); on failure the old ones stay in use and the error says
    /// which file is wrong.
    pub fn reload(&self) -> Result<()> {
        *self
            .inner
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = stamps(&self.inner.files);
        let config = build(&self.inner.files)?;
        *self
            .inner
            .config
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
        Ok(())
    }

    /// What a new connection is accepted with.
    pub(super) fn acceptor(&self) -> TlsAcceptor {
        let config = self
            .inner
            .config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        TlsAcceptor::from(config)
    }

    /// Whether a file changed (or appeared, or vanished) since the last load.
    fn changed(&self) -> bool {
        let now = stamps(&self.inner.files);
        *self
            .inner
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            != now
    }

    /// Reloads on SIGHUP and when a file changes (checked every `FILE_CHECK_INTERVAL`),
    /// logging each reload and each failure, until the task is dropped.
    pub(super) fn watch(self) -> impl std::future::Future<Output = ()> + Send + 'static {
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        async move {
            let mut every = tokio::time::interval(FILE_CHECK_INTERVAL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                #[cfg(unix)]
                let signalled = async {
                    match hangup.as_mut() {
                        Some(hangup) => hangup.recv().await.is_some(),
                        None => std::future::pending().await,
                    }
                };
                #[cfg(not(unix))]
                let signalled = std::future::pending::<bool>();
                let why = tokio::select! {
                    true = signalled => "SIGHUP",
                    _ = every.tick() => {
                        if !self.changed() {
                            continue;
                        }
                        "a file changed"
                    }
                };
                match self.reload() {
                    Ok(()) => tracing::info!(cause = why, "TLS certificate reloaded"),
                    Err(error) => tracing::warn!(
                        cause = why,
                        %error,
                        "TLS certificate not reloaded; the previous one stays in use"
                    ),
                }
            }
        }
    }
}

fn stamps(files: &TlsFiles) -> Vec<Option<(SystemTime, u64)>> {
    [
        Some(&files.cert),
        Some(&files.key),
        files.client_ca.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|path| {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    })
    .collect()
}

/// The server configuration the files describe: HTTP/2 only (ALPN `h2`), TLS 1.2 and 1.3.
fn build(files: &TlsFiles) -> Result<ServerConfig> {
    let chain = certificates(&files.cert, "--tls-cert (SPACEID_TLS_CERT)")?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|err| {
        Error::Config(format!(
            "cannot read a private key from {} (--tls-key, SPACEID_TLS_KEY): {err}",
            files.key.display()
        ))
    })?;
    let provider = Arc::new(provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| Error::Config(format!("TLS: {err}")))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(path, "--tls-client-ca (SPACEID_TLS_CLIENT_CA)")? {
                roots.add(cert).map_err(|err| {
                    Error::Config(format!(
                        "{} holds a CA certificate that cannot be used: {err}",
                        path.display()
                    ))
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|err| {
                    Error::Config(format!(
                        "cannot check client certificates against {}: {err}",
                        path.display()
                    ))
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|err| {
        Error::Config(format!(
            "the TLS key {} does not fit the certificate {}: {err}",
            files.key.display(),
            files.cert.display()
        ))
    })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Every certificate in a PEM file; none is an error.
fn certificates(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|err| {
            Error::Config(format!(
                "cannot read certificates from {} ({flag}): {err}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{} ({flag}) holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}
