//! Accepted connections, bounded. At most `max_connections` are open at once; a connection
//! that has not sent the whole HTTP/2 client preface within `handshake_timeout` of opening is
//! closed; and when the cap is reached, the oldest connection still short of its preface
//! makes room for the new one (a real client sends its preface at once, so only idle or
//! dribbling sockets are ever evicted). With no such connection to evict, the new one is
//! closed at once. Once the preface is in, HTTP/2 keep-alive pings watch the connection.

use std::{
    collections::BTreeMap,
    io,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use futures_util::{Stream, task::AtomicWaker};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    time::Sleep,
};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// The length of the HTTP/2 client connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`).
const PREFACE_LEN: usize = 24;

/// The least time between two log lines about refused connections.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// How long to wait before accepting again after the listener fails (out of file handles).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long a new connection may stay silent before it is closed.
    pub handshake_timeout: Duration,
}

/// What the accept loop and every connection share.
#[derive(Default)]
struct Registry {
    open: Mutex<usize>,
    /// Connections that have not sent their whole preface yet, oldest first.
    silent: Mutex<BTreeMap<u64, Arc<Eviction>>>,
    next_id: AtomicU64,
    /// Refusals not yet logged, and when they were last logged.
    refusals: Mutex<(u64, Option<std::time::Instant>)>,
}

/// How the accept loop tells a silent connection to close.
#[derive(Default)]
struct Eviction {
    evicted: AtomicBool,
    waker: AtomicWaker,
}

impl Registry {
    /// Makes room for one more connection: true if there is room (evicting the oldest silent
    /// connection when the cap is reached), false if every open connection is in use.
    fn admit(&self, max: usize) -> bool {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *open >= max {
            let oldest = self
                .silent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .pop_first();
            let Some((_, eviction)) = oldest else {
                return false;
            };
            eviction.evicted.store(true, Ordering::SeqCst);
            eviction.waker.wake();
            // The evicted connection still counts until it is dropped; the cap may be
            // exceeded by the evictions in flight, never by connections in use.
        }
        *open += 1;
        true
    }

    /// Counts a refused connection, and logs the count at most once per
    /// `REFUSAL_LOG_INTERVAL`, so a flood of refusals cannot flood the log.
    fn refused(&self, max_connections: usize) {
        let mut refusals = self
            .refusals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        refusals.0 += 1;
        if refusals
            .1
            .is_none_or(|logged| logged.elapsed() >= REFUSAL_LOG_INTERVAL)
        {
            tracing::warn!(
                max_connections,
                refused = refusals.0,
                "connections refused: every connection is in use"
            );
            *refusals = (0, Some(std::time::Instant::now()));
        }
    }

    fn closed(&self, id: u64) {
        self.greeted(id);
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *open = open.saturating_sub(1);
    }

    fn greeted(&self, id: u64) {
        self.silent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
    }
}

/// The connections accepted on `listener`, within `limits`.
pub fn bounded(
    listener: TcpListener,
    limits: ConnectionLimits,
) -> impl Stream<Item = io::Result<BoundedStream>> {
    let registry = Arc::new(Registry::default());
    futures_util::stream::unfold(
        (listener, registry),
        move |(listener, registry)| async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot accept a connection");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                if !registry.admit(limits.max_connections.max(1)) {
                    registry.refused(limits.max_connections);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let id = registry.next_id.fetch_add(1, Ordering::Relaxed);
                let eviction = Arc::new(Eviction::default());
                registry
                    .silent
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(id, eviction.clone());
                let bounded = BoundedStream {
                    inner: stream,
                    id,
                    registry: registry.clone(),
                    eviction,
                    handshake: Some(Box::pin(tokio::time::sleep(limits.handshake_timeout))),
                    received: 0,
                };
                return Some((Ok(bounded), (listener, registry)));
            }
        },
    )
}

/// An accepted connection that counts against the cap while open and is closed if it stays
/// silent past its handshake deadline or is evicted while silent.
pub struct BoundedStream {
    inner: TcpStream,
    id: u64,
    registry: Arc<Registry>,
    eviction: Arc<Eviction>,
    /// Until the whole preface has arrived.
    handshake: Option<Pin<Box<Sleep>>>,
    /// Bytes read so far, counted up to `PREFACE_LEN`.
    received: usize,
}

impl Drop for BoundedStream {
    fn drop(&mut self) {
        self.registry.closed(self.id);
    }
}

impl Connected for BoundedStream {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for BoundedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(deadline) = this.handshake.as_mut() {
            this.eviction.waker.register(cx.waker());
            if this.eviction.evicted.load(Ordering::SeqCst) {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "closed to make room for a new connection",
                )));
            }
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no HTTP/2 preface within the handshake timeout",
                )));
            }
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.handshake.is_some() && matches!(result, Poll::Ready(Ok(()))) {
            this.received += buf.filled().len() - before;
            if this.received >= PREFACE_LEN {
                this.handshake = None;
                this.registry.greeted(this.id);
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
