//! Accepted connections, bounded. At most `max_connections` are open at once. A connection
//! that has not sent the whole HTTP/2 client preface within `handshake_timeout` of opening
//! is closed, and so is one that has had no call in progress for `idle_timeout`. When the
//! cap is reached, a connection makes room for the new one: the oldest still short of its
//! preface, else the one idle longest (a real client sends its preface at once and, when
//! idle, reconnects on its next call). With every connection busy, the new one is closed at
//! once. Once the preface is in, HTTP/2 keep-alive pings watch the connection.
//!
//! With TLS, the handshake runs inside the connection (`Transport`) the first time it is
//! read or written: a connection counts against the cap from the moment it is accepted,
//! and its handshake deadline covers the TLS handshake and the preface after it.
//!
//! Each connection's state is the `ConnectInfo` tonic puts in every request's extensions, so
//! the edge can count the calls in progress on it (`Connection::call_started`): a call is in
//! progress from its start until its handler is done (sending the answer is not work a
//! connection may hold forever by not reading it), and health probes never count.

use std::{
    collections::HashMap,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures_util::{Stream, task::AtomicWaker};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    time::Sleep,
};
use tonic::transport::server::Connected;

use super::tls::Tls;

/// The length of the HTTP/2 client connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`).
const PREFACE_LEN: usize = 24;

/// After a stop, how long a connection stays open once its last answer has been handed to
/// it: time for the answer to be written out, and for a client that reads the GOAWAY to
/// close first.
const STOP_LINGER: Duration = Duration::from_millis(500);

/// How long to wait before accepting again after the listener fails (out of file handles).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long a new connection may stay silent before it is closed.
    pub handshake_timeout: Duration,
    /// How long a connection may go without a call in progress before it is closed
    /// (`None`: never).
    pub idle_timeout: Option<Duration>,
}

/// The open connections, as the server sees them.
#[derive(Clone)]
pub struct Connections {
    registry: Arc<Registry>,
}

impl Connections {
    /// At shutdown: closes every connection with no call in progress (those still short of
    /// their preface and idle ones would otherwise hold the drain open), and from now on
    /// each connection as soon as its last call ends.
    pub fn close_idle(&self) {
        self.registry.stopping.store(true, Ordering::SeqCst);
        for connection in self.registry.lock().values() {
            if connection.active.load(Ordering::SeqCst) == 0
                && connection.responding.load(Ordering::SeqCst) == 0
            {
                connection.close();
            } else {
                // It closes `STOP_LINGER` after its last answer is out.
                connection.waker.wake();
            }
        }
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        self.registry.lock().len()
    }
}

/// What the accept loop and every connection share.
struct Registry {
    connections: Mutex<HashMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
    refusals: super::RefusalLog,
    /// Set at shutdown: a connection is closed as soon as its last call ends.
    stopping: AtomicBool,
    /// What `Connection::idle_since` counts from.
    epoch: Instant,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a new connection if there is room, closing the connection that matters
    /// least when the cap is reached (see the module's description). `None`: every open
    /// connection is in use.
    fn admit(self: &Arc<Self>, max: usize, peer: Option<SocketAddr>) -> Option<Arc<Connection>> {
        let mut connections = self.lock();
        if connections.len() >= max {
            // Connections already told to close still count until they are dropped, so
            // several arriving at once each close a different one.
            let live = connections.values().filter(|c| !c.closing());
            if live.clone().count() >= max {
                let silent = live
                    .clone()
                    .filter(|c| !c.greeted.load(Ordering::SeqCst))
                    .min_by_key(|c| c.id);
                let idle = || {
                    live.filter(|c| c.active.load(Ordering::SeqCst) == 0)
                        .min_by_key(|c| c.idle_since.load(Ordering::SeqCst))
                };
                silent.or_else(idle)?.close();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            id,
            peer,
            greeted: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            responding: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.millis()),
            closing: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            registry: Arc::downgrade(self),
        });
        connections.insert(id, connection.clone());
        Some(connection)
    }

    /// Milliseconds since the registry was made.
    fn millis(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// One open connection: whether it has greeted, the calls in progress on it, and a way to
/// close it from outside.
pub struct Connection {
    id: u64,
    peer: Option<SocketAddr>,
    greeted: AtomicBool,
    /// Calls whose handler is running.
    active: AtomicUsize,
    /// Answers still being sent (health watches included).
    responding: AtomicUsize,
    /// When the last call on it ended (`Registry::millis`).
    idle_since: AtomicU64,
    closing: AtomicBool,
    waker: AtomicWaker,
    registry: std::sync::Weak<Registry>,
}

impl Connection {
    /// The client's address.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Counts a call in progress on this connection until the returned guard is dropped.
    pub fn call_started(self: &Arc<Self>) -> CallInProgress {
        self.active.fetch_add(1, Ordering::SeqCst);
        CallInProgress(self.clone())
    }

    /// Counts an answer being sent on this connection until the returned guard is dropped:
    /// a stopping server does not close a connection before its answers are out.
    pub fn response_started(self: &Arc<Self>) -> ResponseInFlight {
        self.responding.fetch_add(1, Ordering::SeqCst);
        ResponseInFlight(self.clone())
    }

    fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.waker.wake();
    }

    fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }
}

/// A call in progress on a connection (`Connection::call_started`).
pub struct CallInProgress(Arc<Connection>);

impl Drop for CallInProgress {
    fn drop(&mut self) {
        let connection = &self.0;
        if connection.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            connection.went_quiet();
        }
    }
}

/// An answer being sent on a connection (`Connection::response_started`).
pub struct ResponseInFlight(Arc<Connection>);

impl Drop for ResponseInFlight {
    fn drop(&mut self) {
        if self.0.responding.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.went_quiet();
        }
    }
}

impl Connection {
    /// Notes that a call or an answer on this connection ended: its idle time starts now,
    /// and it arms its timers when it next reads.
    fn went_quiet(&self) {
        if let Some(registry) = self.registry.upgrade() {
            self.idle_since.store(registry.millis(), Ordering::SeqCst);
        }
        self.waker.wake();
    }
}

/// What tonic puts in each request's extensions for a `BoundedStream`.
#[derive(Clone)]
pub struct ConnectionInfo(pub Arc<Connection>);

/// The connections accepted on `listener`, within `limits`, and a handle on them.
pub fn bounded(
    listener: TcpListener,
    limits: ConnectionLimits,
    tls: Option<Tls>,
) -> (Connections, impl Stream<Item = io::Result<BoundedStream>>) {
    let registry = Arc::new(Registry {
        connections: Mutex::default(),
        next_id: AtomicU64::new(0),
        refusals: super::RefusalLog::default(),
        stopping: AtomicBool::new(false),
        epoch: Instant::now(),
    });
    let handle = Connections {
        registry: registry.clone(),
    };
    let incoming = futures_util::stream::unfold(
        (listener, registry, tls),
        move |(listener, registry, tls)| async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot accept a connection");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                let Some(connection) = registry.admit(limits.max_connections.max(1), Some(peer))
                else {
                    registry.refusals.refused(
                        "connections refused: every connection has a call in progress",
                        limits.max_connections,
                    );
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let inner = match &tls {
                    Some(tls) => Transport::Handshaking(Box::new(tls.acceptor().accept(stream))),
                    None => Transport::Plain(stream),
                };
                let bounded = BoundedStream {
                    inner,
                    connection,
                    handshake: Box::pin(tokio::time::sleep(limits.handshake_timeout)),
                    idle_timeout: limits.idle_timeout,
                    idle: None,
                    received: 0,
                };
                return Some((Ok(bounded), (listener, registry, tls)));
            }
        },
    );
    (handle, incoming)
}

/// An accepted connection that counts against the cap while open, and is closed when it
/// stays silent past its handshake deadline, goes idle for too long, or is told to close.
pub struct BoundedStream {
    inner: Transport,
    connection: Arc<Connection>,
    /// The handshake deadline; it matters until the whole preface has arrived.
    handshake: Pin<Box<Sleep>>,
    idle_timeout: Option<Duration>,
    /// When the connection counts as idle too long, while no call is in progress.
    idle: Option<Pin<Box<Sleep>>>,
    /// Bytes read so far, counted up to `PREFACE_LEN`.
    received: usize,
}

/// A connection's bytes: plain TCP, or TLS (first its handshake, then the session).
enum Transport {
    Plain(TcpStream),
    Handshaking(Box<tokio_rustls::Accept<TcpStream>>),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Failed,
}

impl Transport {
    /// Drives the TLS handshake, if one is under way; `Ready(Ok)` once the connection can
    /// carry bytes. A failed handshake (a plaintext client, a refused client certificate)
    /// ends the connection.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Self::Handshaking(accept) = self {
            match std::future::Future::poll(Pin::new(accept.as_mut()), cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(stream)) => *self = Self::Tls(Box::new(stream)),
                Poll::Ready(Err(err)) => {
                    tracing::debug!(error = %err, "TLS handshake failed");
                    ::metrics::counter!("spaceid_tls_handshake_failures_total").increment(1);
                    *self = Self::Failed;
                    return Poll::Ready(Err(err));
                }
            }
        }
        match self {
            Self::Failed => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the TLS handshake failed",
            ))),
            _ => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_ready(cx))?;
        match &mut *self {
            Self::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
            Self::Handshaking(_) | Self::Failed => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_ready(cx))?;
        match &mut *self {
            Self::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
            Self::Handshaking(_) | Self::Failed => Poll::Ready(Ok(0)),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *self {
            Self::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
            Self::Handshaking(_) | Self::Failed => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *self {
            Self::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
            Self::Handshaking(_) | Self::Failed => Poll::Ready(Ok(())),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_ready(cx))?;
        match &mut *self {
            Self::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Self::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
            Self::Handshaking(_) | Self::Failed => Poll::Ready(Ok(0)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(stream) => stream.is_write_vectored(),
            Self::Tls(stream) => stream.is_write_vectored(),
            Self::Handshaking(_) | Self::Failed => false,
        }
    }
}

impl Drop for BoundedStream {
    fn drop(&mut self) {
        if let Some(registry) = self.connection.registry.upgrade() {
            registry.lock().remove(&self.connection.id);
        }
    }
}

impl Connected for BoundedStream {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        ConnectionInfo(self.connection.clone())
    }
}

fn closed(reason: &'static str) -> Poll<io::Result<()>> {
    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, reason)))
}

impl BoundedStream {
    /// Whether the connection has been quiet long enough to close: no call in progress for
    /// its idle timeout, or, once the server is stopping, no call and no answer in flight for
    /// `STOP_LINGER`. Arms the timer that wakes the connection when it will have.
    fn quiet_too_long(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(registry) = self.connection.registry.upgrade() else {
            return false;
        };
        let stopping = registry.stopping.load(Ordering::SeqCst);
        let busy = self.connection.active.load(Ordering::SeqCst) > 0
            || (stopping && self.connection.responding.load(Ordering::SeqCst) > 0);
        let timeout = if stopping {
            Some(STOP_LINGER)
        } else {
            self.idle_timeout
        };
        let Some(timeout) = timeout.filter(|_| !busy) else {
            self.idle = None;
            return false;
        };
        let idle_for = Duration::from_millis(
            registry
                .millis()
                .saturating_sub(self.connection.idle_since.load(Ordering::SeqCst)),
        );
        let Some(left) = timeout.checked_sub(idle_for).filter(|left| !left.is_zero()) else {
            return true;
        };
        let deadline = tokio::time::Instant::now() + left;
        let idle = self
            .idle
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if idle.deadline() != deadline {
            idle.as_mut().reset(deadline);
        }
        // Registers the wake-up; it cannot be ready, its deadline is in the future.
        let _ = idle.as_mut().poll(cx);
        false
    }
}

impl AsyncRead for BoundedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.connection.waker.register(cx.waker());
        if this.connection.closing() {
            return closed("closed by the server (room for a new connection, or shutdown)");
        }
        let greeted = this.received >= PREFACE_LEN;
        if !greeted && this.handshake.as_mut().poll(cx).is_ready() {
            return closed("no HTTP/2 preface within the handshake timeout");
        }
        if greeted && this.quiet_too_long(cx) {
            return closed("no call within the idle timeout, or the server is stopping");
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if !greeted && matches!(result, Poll::Ready(Ok(()))) {
            this.received += buf.filled().len() - before;
            if this.received >= PREFACE_LEN {
                this.connection.greeted.store(true, Ordering::SeqCst);
            }
        }
        result
    }
}

impl AsyncWrite for BoundedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
