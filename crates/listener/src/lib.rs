//! # coinjecture-listener
//!
//! The accept layer every listening socket of a node goes through (the public API, the internal
//! gRPC port, `/metrics`), so that no client can take the node's file descriptors, hold
//! connections open for free, or crowd others out:
//!
//! - **File-descriptor reserve** ([`FdBudget`]): at start the soft `RLIMIT_NOFILE` is raised to
//!   the hard limit ([`raise_nofile_limit`]) and the sockets of all listeners together may use
//!   the soft limit minus a reserve (the database, the signing state, p2p keep the rest). At the
//!   budget a listener stops accepting (the kernel queues the connection) and evicts its least
//!   recently active connection; it never runs into `EMFILE`.
//! - **Connection caps** ([`Limits`]): per listener and per client address. A connection past
//!   the per-address cap is closed at once; past the listener's cap the least recently active
//!   connection is evicted, so a flood of idle connections cannot lock newcomers out.
//! - **Header-read timeout**: a client that has sent bytes must get the start of an answer within
//!   it (HTTP/1: every request, so a trickled header or body is cut; HTTP/2: the connection
//!   preface and settings). A connection must also send its first bytes within it.
//! - **Idle timeout**: no byte either way for this long closes the connection (an unread stream
//!   included).
//!
//! [`LimitedListener`] is an `axum::serve::Listener` and, through
//! [`LimitedListener::into_incoming`], an incoming stream for tonic's `serve_with_incoming`.
//! Streams per connection and requests per address are the servers' business (the API's
//! admission control, tonic's `max_concurrent_streams`).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

/// Per-listener connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections of this listener; past it the least recently active one is evicted.
    pub max_connections: usize,
    /// Open connections from one client address; past it new ones are closed at once.
    pub max_connections_per_ip: usize,
    /// From a client's first unanswered byte to the start of the answer (HTTP/1: each request;
    /// HTTP/2: the preface), and from accept to the first byte.
    pub header_read_timeout: Duration,
    /// No byte in either direction for this long closes the connection.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            max_connections_per_ip: 32,
            header_read_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// The file-descriptor limits of the process (`RLIMIT_NOFILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimits {
    /// The soft limit found at start.
    pub soft_before: u64,
    /// The soft limit now.
    pub soft: u64,
    /// The hard limit.
    pub hard: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (capped at 1,048,576 when the hard limit
/// is infinite) and reports both.
pub fn raise_nofile_limit() -> io::Result<FdLimits> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft_before, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    let target = hard.min(1 << 20);
    let soft = if target > soft_before {
        match setrlimit(Resource::RLIMIT_NOFILE, target, hard) {
            Ok(()) => target,
            Err(_) => soft_before,
        }
    } else {
        soft_before
    };
    Ok(FdLimits { soft_before, soft, hard })
}

/// Sockets all listeners of the process may hold together: the soft file-descriptor limit
/// minus a reserve the node keeps for everything else.
#[derive(Debug)]
pub struct FdBudget {
    limit: usize,
    open: AtomicUsize,
    freed: Notify,
}

impl FdBudget {
    /// A budget of `sockets`.
    pub fn new(sockets: usize) -> Arc<Self> {
        Arc::new(Self { limit: sockets.max(1), open: AtomicUsize::new(0), freed: Notify::new() })
    }

    /// No budget beyond the listeners' own caps (tests, embedding).
    pub fn unlimited() -> Arc<Self> {
        Self::new(usize::MAX)
    }

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit, logs both, and keeps `reserve`
    /// descriptors (and those already open) out of the sockets' budget.
    pub fn from_rlimit(reserve: usize) -> Arc<Self> {
        let open_now = std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count);
        match raise_nofile_limit() {
            Ok(l) => {
                let soft = usize::try_from(l.soft).unwrap_or(usize::MAX);
                let sockets = soft.saturating_sub(reserve).saturating_sub(open_now).max(16);
                tracing::info!(
                    soft_before = l.soft_before,
                    soft = l.soft,
                    hard = l.hard,
                    reserve,
                    open_now,
                    socket_budget = sockets,
                    "file descriptors (RLIMIT_NOFILE): the soft limit is raised to the hard limit; listeners keep a reserve"
                );
                Self::new(sockets)
            }
            Err(e) => {
                tracing::warn!(error = %e, reserve, "cannot read RLIMIT_NOFILE; assuming 1024 file descriptors");
                Self::new(1024usize.saturating_sub(reserve).saturating_sub(open_now).max(16))
            }
        }
    }

    /// Sockets the listeners may hold together.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Sockets held now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    fn try_take(self: &Arc<Self>) -> Option<BudgetToken> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.limit).then_some(n + 1))
            .ok()
            .map(|_| BudgetToken(Arc::clone(self)))
    }
}

/// One socket of the budget; given back on drop.
#[derive(Debug)]
struct BudgetToken(Arc<FdBudget>);

impl Drop for BudgetToken {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_waiters();
    }
}

/// What a listener refused or cut, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub accepted: u64,
    pub refused_per_ip: u64,
    pub evicted: u64,
    pub header_timeouts: u64,
    pub idle_timeouts: u64,
    /// Times the listener waited at the file-descriptor budget.
    pub budget_waits: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    refused_per_ip: AtomicU64,
    evicted: AtomicU64,
    header_timeouts: AtomicU64,
    idle_timeouts: AtomicU64,
    budget_waits: AtomicU64,
}

/// Milliseconds on the tokio clock since the first use (the connections' activity stamps).
fn now_ms() -> u64 {
    static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
    u64::try_from(Instant::now().saturating_duration_since(*EPOCH).as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug)]
struct ConnState {
    ip: IpAddr,
    last_activity_ms: AtomicU64,
    evicted: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl ConnState {
    fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        if let Some(w) = self.waker.lock().unwrap_or_else(PoisonError::into_inner).take() {
            w.wake();
        }
    }
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    by_id: HashMap<u64, Arc<ConnState>>,
    per_ip: HashMap<IpAddr, usize>,
}

impl Registry {
    /// Evicts the least recently active connection not already evicted (of two as recent, the
    /// older one: activity is timed in milliseconds); false if none.
    fn evict_lru(&self) -> bool {
        let victim = self
            .by_id
            .iter()
            .filter(|(_, c)| !c.evicted.load(Ordering::Acquire))
            .min_by_key(|(id, c)| (c.last_activity_ms.load(Ordering::Relaxed), **id));
        match victim {
            Some((_, c)) => {
                c.evict();
                true
            }
            None => false,
        }
    }
}

#[derive(Debug)]
struct Shared {
    name: &'static str,
    limits: Limits,
    registry: Mutex<Registry>,
    counters: Counters,
}

impl Shared {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A TCP listener with [`Limits`] and a share of an [`FdBudget`].
#[derive(Debug)]
pub struct LimitedListener {
    inner: TcpListener,
    budget: Arc<FdBudget>,
    shared: Arc<Shared>,
    last_warning: Option<Instant>,
}

impl From<TcpListener> for LimitedListener {
    /// Default limits, no file-descriptor budget.
    fn from(listener: TcpListener) -> Self {
        Self::new("listener", listener, Limits::default(), FdBudget::unlimited())
    }
}

impl LimitedListener {
    /// `name` (e.g. `api`) labels the log lines.
    pub fn new(name: &'static str, inner: TcpListener, limits: Limits, budget: Arc<FdBudget>) -> Self {
        let limits = Limits {
            max_connections: limits.max_connections.max(1),
            max_connections_per_ip: limits.max_connections_per_ip.max(1),
            ..limits
        };
        let shared =
            Arc::new(Shared { name, limits, registry: Mutex::new(Registry::default()), counters: Counters::default() });
        Self { inner, budget, shared, last_warning: None }
    }

    /// The name given at creation (log label).
    pub fn name(&self) -> &'static str {
        self.shared.name
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Open connections now.
    pub fn connections(&self) -> usize {
        self.shared.registry().by_id.len()
    }

    /// A handle that reads this listener's counters after it was moved into a server.
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(Arc::clone(&self.shared))
    }

    fn warn(&mut self, message: &str) {
        let now = Instant::now();
        if self.last_warning.is_none_or(|t| now.saturating_duration_since(t) > Duration::from_secs(10)) {
            self.last_warning = Some(now);
            let s = self.stats_handle().stats();
            tracing::warn!(
                listener = self.shared.name,
                open = self.connections(),
                budget_open = self.budget.open(),
                budget = self.budget.limit(),
                refused_per_ip = s.refused_per_ip,
                evicted = s.evicted,
                "{message}"
            );
        }
    }

    /// The next connection within the limits. Never fails: transient accept errors are logged
    /// and retried.
    pub async fn accept_limited(&mut self) -> (LimitedStream, SocketAddr) {
        loop {
            let token = loop {
                if let Some(t) = self.budget.try_take() {
                    break t;
                }
                self.shared.counters.budget_waits.fetch_add(1, Ordering::Relaxed);
                self.warn(
                    "at the file-descriptor budget: not accepting; evicting the least recently active connection",
                );
                if self.shared.registry().evict_lru() {
                    self.shared.counters.evicted.fetch_add(1, Ordering::Relaxed);
                }
                let freed = self.budget.freed.notified();
                let _ = tokio::time::timeout(Duration::from_millis(100), freed).await;
            };
            let (stream, peer) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    drop(token);
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionRefused
                    ) {
                        continue;
                    }
                    // EMFILE/ENFILE (descriptors taken by something outside the budget) or worse:
                    // wait a little instead of spinning or stopping.
                    let message = format!("accept error: {e}; retrying");
                    self.warn(&message);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let ip = peer.ip().to_canonical();
            let state = {
                let mut registry = self.shared.registry();
                let from_ip = registry.per_ip.get(&ip).copied().unwrap_or(0);
                if from_ip >= self.shared.limits.max_connections_per_ip {
                    drop(registry);
                    self.shared.counters.refused_per_ip.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(listener = self.shared.name, %ip, "connection refused: per-address cap");
                    continue;
                }
                if registry.by_id.len() >= self.shared.limits.max_connections && registry.evict_lru() {
                    self.shared.counters.evicted.fetch_add(1, Ordering::Relaxed);
                }
                let state = Arc::new(ConnState {
                    ip,
                    last_activity_ms: AtomicU64::new(now_ms()),
                    evicted: AtomicBool::new(false),
                    waker: Mutex::new(None),
                });
                registry.next_id += 1;
                let id = registry.next_id;
                registry.by_id.insert(id, Arc::clone(&state));
                *registry.per_ip.entry(ip).or_insert(0) += 1;
                (id, state)
            };
            self.shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
            let limits = self.shared.limits;
            let (id, state) = state;
            let accepted = Instant::now();
            let stream = LimitedStream {
                inner: stream,
                state,
                _slot: Slot { id, shared: Arc::clone(&self.shared), _token: token },
                timer: Box::pin(tokio::time::sleep_until(
                    accepted + limits.header_read_timeout.min(limits.idle_timeout),
                )),
                limits,
                pending_since: Some(accepted),
                prefix: Vec::new(),
                protocol: Protocol::Unknown,
                answered: false,
            };
            return (stream, peer);
        }
    }

    /// The connections as a stream for tonic's `Server::serve_with_incoming`.
    pub fn into_incoming(self) -> impl futures::Stream<Item = io::Result<LimitedStream>> + Send + 'static {
        futures::stream::unfold(self, |mut listener| async move {
            let (stream, _) = listener.accept_limited().await;
            Some((Ok(stream), listener))
        })
    }
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    fn accept(&mut self) -> impl Future<Output = (Self::Io, Self::Addr)> + Send {
        self.accept_limited()
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Reads a listener's [`Stats`].
#[derive(Debug, Clone)]
pub struct StatsHandle(Arc<Shared>);

impl StatsHandle {
    pub fn stats(&self) -> Stats {
        let c = &self.0.counters;
        Stats {
            accepted: c.accepted.load(Ordering::Relaxed),
            refused_per_ip: c.refused_per_ip.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
            header_timeouts: c.header_timeouts.load(Ordering::Relaxed),
            idle_timeouts: c.idle_timeouts.load(Ordering::Relaxed),
            budget_waits: c.budget_waits.load(Ordering::Relaxed),
        }
    }

    /// Open connections now.
    pub fn connections(&self) -> usize {
        self.0.registry().by_id.len()
    }
}

/// A connection's place in its listener and the budget; freed on drop.
#[derive(Debug)]
struct Slot {
    id: u64,
    shared: Arc<Shared>,
    _token: BudgetToken,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut registry = self.shared.registry();
        if let Some(state) = registry.by_id.remove(&self.id)
            && let Some(n) = registry.per_ip.get_mut(&state.ip)
        {
            *n -= 1;
            if *n == 0 {
                registry.per_ip.remove(&state.ip);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Unknown,
    Http1,
    Http2,
}

/// An accepted connection under its listener's timeouts; closing it (drop) frees its slot.
#[derive(Debug)]
pub struct LimitedStream {
    inner: TcpStream,
    state: Arc<ConnState>,
    _slot: Slot,
    timer: Pin<Box<Sleep>>,
    limits: Limits,
    /// Since when the client has been waiting for an answer (or, before any byte, since accept).
    pending_since: Option<Instant>,
    /// The first bytes, to tell HTTP/2 (`PRI * HTTP/2.0`) from HTTP/1.
    prefix: Vec<u8>,
    protocol: Protocol,
    answered: bool,
}

const H2_PREFACE_START: &[u8] = b"PRI ";

impl LimitedStream {
    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    fn touch(&self) {
        self.state.last_activity_ms.store(now_ms(), Ordering::Relaxed);
    }

    fn evicted(&self) -> bool {
        self.state.evicted.load(Ordering::Acquire)
    }

    fn saw_bytes(&mut self, bytes: &[u8]) {
        self.touch();
        if self.protocol == Protocol::Unknown {
            let need = H2_PREFACE_START.len() - self.prefix.len();
            self.prefix.extend_from_slice(&bytes[..need.min(bytes.len())]);
            if !H2_PREFACE_START.starts_with(&self.prefix) {
                self.protocol = Protocol::Http1;
            } else if self.prefix.len() == H2_PREFACE_START.len() {
                self.protocol = Protocol::Http2;
            }
        }
        // HTTP/2 multiplexes: only its preface is held to the header timeout.
        if self.pending_since.is_none() && !(self.protocol == Protocol::Http2 && self.answered) {
            self.pending_since = Some(Instant::now());
        }
    }

    fn wrote(&mut self) {
        self.touch();
        self.answered = true;
        self.pending_since = None;
    }

    /// When the connection is to be cut, and why.
    fn deadline(&self) -> (Instant, &'static str) {
        let last = self.state.last_activity_ms.load(Ordering::Relaxed);
        let idle_for = Duration::from_millis(now_ms().saturating_sub(last));
        let idle = Instant::now() + self.limits.idle_timeout.saturating_sub(idle_for);
        match self.pending_since {
            Some(since) if since + self.limits.header_read_timeout < idle => {
                (since + self.limits.header_read_timeout, "header")
            }
            _ => (idle, "idle"),
        }
    }

    /// Registers for eviction and the timers; an error when the connection is to be cut.
    fn poll_limits(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        *self.state.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        if self.evicted() {
            return Poll::Ready(io::Error::new(io::ErrorKind::ConnectionAborted, "evicted at the connection limit"));
        }
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let (deadline, why) = self.deadline();
            if Instant::now() >= deadline {
                let counters = &self._slot.shared.counters;
                if why == "header" {
                    counters.header_timeouts.fetch_add(1, Ordering::Relaxed);
                } else {
                    counters.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                }
                return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, format!("{why} timeout")));
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Poll::Ready(e) = this.poll_limits(cx) {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = &buf.filled()[before..];
                if !new.is_empty() {
                    let mut head = [0u8; 4];
                    let k = new.len().min(head.len());
                    head[..k].copy_from_slice(&new[..k]);
                    this.saw_bytes(&head[..k]);
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.evicted() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "evicted at the connection limit",
            )));
        }
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result
            && n > 0
        {
            this.wrote();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.evicted() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "evicted at the connection limit",
            )));
        }
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result
            && n > 0
        {
            this.wrote();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for LimitedStream {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::TcpConnectInfo {
            local_addr: self.inner.local_addr().ok(),
            remote_addr: self.inner.peer_addr().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn listener(limits: Limits, budget: Arc<FdBudget>) -> (LimitedListener, SocketAddr) {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        (LimitedListener::new("test", tcp, limits, budget), addr)
    }

    /// Echoes one read back, then keeps reading until the connection ends.
    fn serve(mut listener: LimitedListener) {
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept_limited().await;
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
    }

    /// True when the server closed `s` (EOF or reset) within `wait`.
    async fn closed(s: &mut TcpStream, wait: Duration) -> bool {
        let mut buf = [0u8; 64];
        matches!(tokio::time::timeout(wait, s.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
    }

    #[tokio::test]
    async fn a_connection_past_the_per_address_cap_is_closed_and_others_stay() {
        let limits = Limits { max_connections_per_ip: 2, ..Limits::default() };
        let (l, addr) = listener(limits, FdBudget::unlimited()).await;
        let stats = l.stats_handle();
        serve(l);
        let mut a = TcpStream::connect(addr).await.unwrap();
        let mut b = TcpStream::connect(addr).await.unwrap();
        let mut c = TcpStream::connect(addr).await.unwrap();
        assert!(closed(&mut c, Duration::from_secs(5)).await);
        for s in [&mut a, &mut b] {
            s.write_all(b"x").await.unwrap();
            let mut buf = [0u8; 1];
            s.read_exact(&mut buf).await.unwrap();
        }
        assert_eq!(stats.stats().refused_per_ip, 1);
    }

    #[tokio::test]
    async fn at_the_cap_the_least_recently_active_connection_is_evicted() {
        let limits = Limits { max_connections: 2, ..Limits::default() };
        let (l, addr) = listener(limits, FdBudget::unlimited()).await;
        serve(l);
        let mut idle = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut active = TcpStream::connect(addr).await.unwrap();
        active.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 1];
        active.read_exact(&mut buf).await.unwrap();
        let mut newcomer = TcpStream::connect(addr).await.unwrap();
        assert!(closed(&mut idle, Duration::from_secs(5)).await, "the idle connection is evicted");
        newcomer.write_all(b"y").await.unwrap();
        newcomer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"y");
    }

    #[tokio::test]
    async fn nothing_is_accepted_past_the_budget_until_a_socket_is_freed() {
        let (l, addr) = listener(Limits::default(), FdBudget::new(2)).await;
        serve(l);
        let mut first = TcpStream::connect(addr).await.unwrap();
        first.write_all(b"a").await.unwrap();
        let mut buf = [0u8; 1];
        first.read_exact(&mut buf).await.unwrap();
        // The second token is held by the pending accept; a third connection waits in the
        // backlog while the least recently active one is evicted to make room.
        let mut second = TcpStream::connect(addr).await.unwrap();
        second.write_all(b"b").await.unwrap();
        second.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"b");
        assert!(closed(&mut first, Duration::from_secs(5)).await, "the older connection made room");
    }

    #[tokio::test(start_paused = true)]
    async fn silent_and_slow_clients_are_cut_at_the_header_timeout() {
        let limits = Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..Limits::default()
        };
        let (l, addr) = listener(limits, FdBudget::unlimited()).await;
        let stats = l.stats_handle();
        // A server that never answers: every byte stays unanswered.
        let mut l = l;
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept_limited().await;
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                });
            }
        });
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut slow = TcpStream::connect(addr).await.unwrap();
        for _ in 0..3 {
            slow.write_all(b"G").await.unwrap();
            tokio::time::sleep(Duration::from_secs(4)).await;
        }
        assert!(closed(&mut silent, Duration::from_secs(1)).await);
        assert!(closed(&mut slow, Duration::from_secs(1)).await);
        assert_eq!(stats.stats().header_timeouts, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answered_connection_that_goes_quiet_is_cut_at_the_idle_timeout() {
        let limits = Limits {
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let (l, addr) = listener(limits, FdBudget::unlimited()).await;
        let stats = l.stats_handle();
        serve(l);
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"hi").await.unwrap();
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).await.unwrap();
        assert!(!closed(&mut s, Duration::from_secs(20)).await, "answered: the header timeout no longer applies");
        assert!(closed(&mut s, Duration::from_secs(20)).await);
        assert_eq!(stats.stats().idle_timeouts, 1);
    }
}
