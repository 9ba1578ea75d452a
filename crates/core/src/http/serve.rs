//! The public listener: accepts connections, counts them against caps in all and per client
//! address, and serves each through hyper's HTTP/1 connection builder, bounded in time.
//!
//! Why not `axum::serve`: it has no header, idle or send timeouts and no connection caps, and
//! hyper-util's `auto` builder would also speak h2c, where one connection multiplexes around
//! every per-connection bound. This listener speaks HTTP/1.1 only.
//!
//! Time bounds, as Go's `http.Server` and Envoy name them (hyper has only a header timer, and it
//! also runs while a keep-alive connection waits, so the two are kept apart here):
//! - **idle**: no request in flight and no byte of the next one, since accept or since the last
//!   response ended → a graceful close;
//! - **header**: from the first byte of a request until its headers are parsed → the connection
//!   is dropped. hyper's own `header_read_timeout` is set to idle + header as a backstop that
//!   can never fire first;
//! - **send**: a write that has waited this long for a client that reads nothing → dropped;
//! - **body**: the whole request body within `body_read_timeout`, in [`read_bodies_within`].
//!
//! A refused connection (a cap is full) gets a short 503 and a lingering close, so the client
//! reads the answer instead of a reset; at most [`REFUSERS`] such goodbyes run at once, past that
//! the socket is closed at once.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Ingress;
use crate::app::{AddrList, ClientKey, Limits};

/// Goodbyes (503 and lingering close) in progress at once; more refused sockets just close.
pub const REFUSERS: usize = 256;
/// How long a stopped listener's connections get to finish before they are dropped.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
retry-after: 5\r\ncontent-length: 40\r\nconnection: close\r\n\r\nToo many connections; try again shortly.";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Open connections in all and per client address.
pub struct Caps {
    total: AtomicUsize,
    per_client: Mutex<HashMap<ClientKey, usize>>,
    max_total: usize,
    max_per_client: usize,
    exempt: AddrList,
}

/// One admitted connection; its counts are released on drop.
pub struct Admitted {
    caps: Arc<Caps>,
    key: Option<ClientKey>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.caps.total.fetch_sub(1, Ordering::AcqRel);
        if let Some(key) = self.key {
            let mut map = lock(&self.caps.per_client);
            if let Some(n) = map.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&key);
                }
            }
        }
    }
}

impl Caps {
    pub fn new(limits: &Limits) -> Arc<Caps> {
        Arc::new(Caps {
            total: AtomicUsize::new(0),
            per_client: Mutex::new(HashMap::new()),
            max_total: limits.max_connections,
            max_per_client: limits.connections_per_client,
            exempt: limits.trusted_proxies.clone(),
        })
    }

    /// Admits a connection from `ip`, or `None` when a cap is full. Trusted proxies count
    /// towards the total only (an IPv4 proxy matches when it arrives as `::ffff:` on a dual-stack
    /// listener too): their visitors are told apart by [`crate::http::Client`].
    pub fn admit(self: &Arc<Caps>, ip: IpAddr) -> Option<Admitted> {
        self.admit_counted(ip, !self.exempt.contains(ip))
    }

    fn admit_counted(self: &Arc<Caps>, ip: IpAddr, per_client: bool) -> Option<Admitted> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= self.max_total {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let key = per_client.then(|| ClientKey::of(ip));
        if let Some(key) = key {
            let mut map = lock(&self.per_client);
            let n = map.entry(key).or_insert(0);
            if *n >= self.max_per_client {
                drop(map);
                self.total.fetch_sub(1, Ordering::AcqRel);
                return None;
            }
            *n += 1;
        }
        Some(Admitted {
            caps: self.clone(),
            key,
        })
    }

    pub fn open(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }
}

/// Where a connection is in its life, for the idle and header deadlines.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// No request in flight and no byte of the next one since then.
    Idle(Instant),
    /// A request's first byte arrived then; its headers are not parsed yet.
    Head(Instant),
    /// This many requests are being answered (their response bodies are not finished).
    Busy(usize),
}

#[derive(Debug)]
struct Watch {
    phase: Mutex<Phase>,
    /// Since when a write has waited for the client to read.
    stalled_since: Mutex<Option<Instant>>,
    changed: Notify,
}

impl Watch {
    fn new() -> Arc<Watch> {
        Arc::new(Watch {
            phase: Mutex::new(Phase::Idle(Instant::now())),
            stalled_since: Mutex::new(None),
            changed: Notify::new(),
        })
    }

    fn bytes_read(&self) {
        let mut phase = lock(&self.phase);
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Head(Instant::now());
            drop(phase);
            self.changed.notify_one();
        }
    }

    fn request_started(self: &Arc<Watch>) -> InFlight {
        let mut phase = lock(&self.phase);
        *phase = match *phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Idle(_) | Phase::Head(_) => Phase::Busy(1),
        };
        drop(phase);
        self.changed.notify_one();
        InFlight(self.clone())
    }

    fn write_pending(&self, pending: bool) {
        let mut since = lock(&self.stalled_since);
        match (pending, since.is_some()) {
            (true, false) => {
                *since = Some(Instant::now());
                drop(since);
                self.changed.notify_one();
            }
            (false, true) => {
                *since = None;
                drop(since);
                // The loop may be sleeping towards the stall's deadline: let it recompute.
                self.changed.notify_one();
            }
            _ => {}
        }
    }

    /// The next deadline and what happens then.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, Expiry)> {
        let phase = match *lock(&self.phase) {
            Phase::Idle(at) => Some((at + limits.idle_timeout, Expiry::Idle)),
            Phase::Head(at) => Some((at + limits.header_read_timeout, Expiry::Head)),
            Phase::Busy(_) => None,
        };
        let send = lock(&self.stalled_since).map(|at| (at + limits.send_timeout, Expiry::Send));
        match (phase, send) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Idle,
    Head,
    Send,
    /// The end of a closing connection's grace.
    Drop,
}

/// A request being answered; dropped when its response body ends (or the connection does).
struct InFlight(Arc<Watch>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut phase = lock(&self.0.phase);
        *phase = match *phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        };
        drop(phase);
        self.0.changed.notify_one();
    }
}

/// The socket, reporting reads and stalled writes to its [`Watch`].
struct Watched {
    stream: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.watch.bytes_read();
        }
        res
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.watch.write_pending(res.is_pending());
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.watch.write_pending(res.is_pending());
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A response body that holds its request's [`InFlight`] until it ends.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Serves `router` on `listener` until `stop`; then every connection is asked to close and given
/// [`STOP_GRACE`] before it is dropped.
pub async fn run(
    router: Router,
    listener: TcpListener,
    limits: Limits,
    stop: CancellationToken,
    ingress: Ingress,
) -> io::Result<()> {
    let limits = Arc::new(limits);
    let caps = Caps::new(&limits);
    let refusers = Arc::new(Semaphore::new(REFUSERS));
    let connections = TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout + limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    let http = Arc::new(http);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        // Deltas are small writes that must leave at once.
        let _ = stream.set_nodelay(true);
        // A managed tunnel's connections all come from this computer: its visitors are told
        // apart by the header it forwards, not by the connection's address.
        let admitted = match ingress {
            Ingress::Direct => caps.admit(peer.ip()),
            Ingress::Tunnel(_) => caps.admit_counted(peer.ip(), false),
        };
        let Some(admitted) = admitted else {
            tracing::debug!(peer = %peer.ip(), open = caps.open(), "connection refused: cap");
            if let Ok(permit) = refusers.clone().try_acquire_owned() {
                connections.spawn(async move {
                    refuse(stream).await;
                    drop(permit);
                });
            }
            continue;
        };
        connections.spawn(connection(
            stream,
            (peer, ingress),
            router.clone(),
            http.clone(),
            limits.clone(),
            stop.clone(),
            admitted,
        ));
    }
    // Free the port at once: the window may be moving to another address on the same port
    // while these connections finish.
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// Accept errors are the server's (out of file descriptors) or one client's (reset before
/// accept); either way the listener goes on, pausing when it is the server's.
async fn accept_failed(e: &io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept connections; pausing");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// A short 503, then a lingering close so the client reads it instead of a reset.
async fn refuse(mut stream: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let goodbye = async {
        stream.write_all(REFUSAL).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), goodbye).await;
}

async fn connection(
    stream: TcpStream,
    // Who is on the other end and how they came: together, since the Client extractor reads both.
    (peer, ingress): (SocketAddr, Ingress),
    router: Router,
    http: Arc<hyper::server::conn::http1::Builder>,
    limits: Arc<Limits>,
    stop: CancellationToken,
    _admitted: Admitted,
) {
    let watch = Watch::new();
    let io = TokioIo::new(Watched {
        stream,
        watch: watch.clone(),
    });
    let service = {
        let watch = watch.clone();
        hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let in_flight = watch.request_started();
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(ingress);
            let router = router.clone();
            async move {
                let res = tower::ServiceExt::oneshot(router, req).await?;
                Ok::<_, Infallible>(res.map(|body| Tracked {
                    body,
                    _in_flight: in_flight,
                }))
            }
        })
    };
    let conn = http.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    let mut dropped_at: Option<Instant> = None;
    loop {
        let deadline = match (watch.deadline(&limits), dropped_at) {
            (d, None) => d,
            // Closing: only the drop time, or an earlier stalled write or slow header.
            (Some((at, kind)), Some(drop_at)) if kind != Expiry::Idle && at < drop_at => {
                Some((at, kind))
            }
            (_, Some(drop_at)) => Some((drop_at, Expiry::Drop)),
        };
        let sleep = async {
            match deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = watch.changed.notified() => {}
            () = sleep => match deadline.map(|(_, kind)| kind) {
                // The phase moved since the deadline was computed (a stall cleared, a request
                // came): not due after all.
                Some(Expiry::Idle | Expiry::Head | Expiry::Send)
                    if watch.deadline(&limits).is_none_or(|(at, _)| at > Instant::now()) => {}
                Some(Expiry::Idle) => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                    // An idle connection closes at once; give it a moment before dropping it.
                    dropped_at = Some(Instant::now() + Duration::from_secs(1));
                }
                Some(Expiry::Head | Expiry::Send | Expiry::Drop) | None => {
                    tracing::debug!(peer = %peer.ip(), "connection dropped: too slow");
                    return;
                }
            },
            () = stop.cancelled(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
                dropped_at = Some(Instant::now() + STOP_GRACE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deadlines one connection lives by: idle from accept, header from the first byte,
    /// none while a request is answered unless a write stalls, idle again after.
    #[test]
    fn watch_deadlines_follow_the_connection() {
        let limits = Limits {
            idle_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        // The deadline is `kind`, `timeout` after a moment between `before` and now.
        let expect = |watch: &Watch, before: Instant, timeout: Duration, kind: Expiry| {
            let (at, got) = watch.deadline(&limits).expect("a deadline");
            assert_eq!(got, kind);
            assert!(
                at >= before + timeout && at <= Instant::now() + timeout,
                "{kind:?}"
            );
        };
        let before = Instant::now();
        let watch = Watch::new();
        expect(&watch, before, limits.idle_timeout, Expiry::Idle);
        let before = Instant::now();
        watch.bytes_read();
        expect(&watch, before, limits.header_read_timeout, Expiry::Head);
        let request = watch.request_started();
        assert_eq!(
            watch.deadline(&limits),
            None,
            "busy: no idle or header deadline"
        );
        watch.bytes_read();
        assert_eq!(
            watch.deadline(&limits),
            None,
            "body bytes start no header timer"
        );
        let before = Instant::now();
        watch.write_pending(true);
        expect(&watch, before, limits.send_timeout, Expiry::Send);
        watch.write_pending(false);
        assert_eq!(watch.deadline(&limits), None, "the client read again");
        let before = Instant::now();
        drop(request);
        expect(&watch, before, limits.idle_timeout, Expiry::Idle);
    }

    #[test]
    fn caps_count_in_all_and_per_client_and_exempt_trusted_proxies() {
        let mut limits = Limits {
            max_connections: 4,
            connections_per_client: 2,
            ..Limits::default()
        };
        limits
            .trusted_proxies
            .0
            .push(IpAddr::from([10, 0, 0, 99]).into());
        let caps = Caps::new(&limits);
        let a: IpAddr = [10, 0, 0, 1].into();
        let a1 = caps.admit(a).expect("1");
        let _a2 = caps.admit(a).expect("2");
        assert!(caps.admit(a).is_none(), "per client");
        let _b = caps.admit([10, 0, 0, 2].into()).expect("other client");
        let _p = caps.admit([10, 0, 0, 99].into()).expect("proxy");
        assert!(caps.admit([10, 0, 0, 3].into()).is_none(), "in all");
        drop(a1);
        assert_eq!(caps.open(), 3);
        caps.admit(a).expect("a slot came back");
    }
}
