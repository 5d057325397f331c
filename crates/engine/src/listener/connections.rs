//! Open connections: how many the listener keeps, when it lets one go, and how it says no.
//!
//! Every accepted socket asks the [`Gate`] for a [`Slot`]: one of at most
//! [`Config::max_connections`](super::Config::max_connections) in all and
//! [`Config::max_connections_per_address`](super::Config::max_connections_per_address) per
//! source address (an IPv6 address counts as its /64). A socket past either cap is answered at once with `503 Service Unavailable`,
//! `Retry-After` and the listener's JSON error body, then closed ([`Refuser`]): it never waits
//! in the kernel's backlog, and the listener never runs out of file descriptors, so a wave of
//! idle connections cannot make it unreachable to everyone else.
//!
//! A connection that moves no bytes and has no request in flight for
//! [`Config::idle_timeout`](super::Config::idle_timeout) is closed gracefully, and one whose
//! request head takes longer than [`Config::header_timeout`](super::Config::header_timeout) to
//! arrive is closed at once ([`Activity`], [`Quiet`], [`drive`]).
//!
//! The caps' defaults follow the process's descriptor limit (`RLIMIT_NOFILE`), leaving room
//! for the database, the cluster clients, the sandbox and the log file ([`caps_for`]).
//!
//! Accept errors (`EMFILE` and friends) are logged once per burst and backed off briefly
//! ([`AcceptFailures`]), so the loop neither spins nor stalls.

use std::future::Future as _;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use foldhash::HashMap;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::error::Code;

/// Descriptors kept back from the connection caps, as a share of the limit (a quarter),
/// bounded below and above: the database (a few per connection, with its WAL), the cluster
/// clients and the in-process sandbox, the log file, and sockets being refused.
const HEADROOM_MIN: u64 = 64;
const HEADROOM_MAX: u64 = 1024;
/// The total cap never goes above this, however high the descriptor limit.
const TOTAL_MAX: u64 = 16_384;
/// Nor below this, however low.
const TOTAL_MIN: u64 = 16;
/// The caps when the descriptor limit is unknown (not a Unix system).
const UNKNOWN_LIMIT_CAPS: (usize, usize) = (1024, 256);

/// Refusals written by a task of their own at once (at most; an eighth of the total cap
/// under a low descriptor limit); past this, a refused socket gets one non-blocking write and
/// is closed on the spot, so refusing never holds many descriptors.
const REFUSING_MAX: usize = 64;
/// How long a refusal may take to be written and for the client's request to be drained: a
/// request sent with the connection is there within a round trip, and an idle flood that
/// never closes must not keep the descriptor.
const REFUSAL_TIME: Duration = Duration::from_millis(250);
/// How much of a refused client's request is read (and dropped) before closing: a close
/// with unread data becomes a TCP reset, which may destroy the 503 before the client reads it.
const REFUSAL_DRAIN: usize = 64 * 1024;

/// The process's soft limit on open file descriptors, if the platform has one and it is
/// finite.
pub fn descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The default caps `(total, per address)` under a descriptor limit: the limit less a
/// headroom of a quarter (64 to 1,024 descriptors), at most 16,384 and at least 16; one
/// address may hold a quarter of them, so a single busy or hostile client cannot take all.
pub fn caps_for(descriptors: Option<u64>) -> (usize, usize) {
    let Some(limit) = descriptors else {
        return UNKNOWN_LIMIT_CAPS;
    };
    let headroom = (limit / 4).clamp(HEADROOM_MIN, HEADROOM_MAX);
    let total = limit.saturating_sub(headroom).clamp(TOTAL_MIN, TOTAL_MAX);
    let total = usize::try_from(total).unwrap_or(usize::MAX);
    (total, per_address_cap(total))
}

/// The default cap from one address under a total cap: a quarter, at least 4 (never more
/// than the total).
pub fn per_address_cap(total: usize) -> usize {
    (total / 4).max(4).min(total)
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The listener holds its total cap of open connections.
    Total {
        /// The cap.
        limit: usize,
    },
    /// The connection's source address holds its cap.
    Address {
        /// The address (an IPv6 one's /64, see [`source`]).
        ip: IpAddr,
        /// The cap.
        limit: usize,
    },
}

impl Refusal {
    /// The whole HTTP/1.1 answer: 503, `Retry-After`, `Connection: close`, a JSON body.
    pub(crate) fn response(&self, retry_after: u64) -> Vec<u8> {
        let message = match self {
            Refusal::Total { limit } => format!(
                "the listener holds its limit of {limit} open connections; try again in \
                 {retry_after}s"
            ),
            Refusal::Address { ip, limit } => {
                let from = match ip {
                    IpAddr::V4(_) => ip.to_string(),
                    IpAddr::V6(_) => format!("{ip}/64"),
                };
                format!(
                    "{from} holds the limit of {limit} open connections from one address; close \
                     idle connections or try again in {retry_after}s"
                )
            }
        };
        let body =
            serde_json::json!({"code": Code::TooManyConnections, "message": message}).to_string();
        format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nretry-after: {retry_after}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Counts open connections, in all and per source address, and hands out [`Slot`]s.
#[derive(Debug)]
pub(crate) struct Gate {
    max_total: usize,
    max_per_address: usize,
    counts: Mutex<Counts>,
    closed: tokio::sync::Notify,
}

impl Gate {
    /// A gate with these caps (each at least 1).
    pub(crate) fn new(max_total: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(Gate {
            max_total: max_total.max(1),
            max_per_address: max_per_address.max(1),
            counts: Mutex::new(Counts::default()),
            closed: tokio::sync::Notify::new(),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: every change is one step.
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot for a connection from `ip`, or why there is none.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        let ip = source(ip);
        let mut counts = self.counts();
        if counts.total >= self.max_total {
            return Err(Refusal::Total {
                limit: self.max_total,
            });
        }
        let from = counts.by_address.entry(ip).or_insert(0);
        if *from >= self.max_per_address {
            return Err(Refusal::Address {
                ip,
                limit: self.max_per_address,
            });
        }
        *from += 1;
        counts.total += 1;
        Ok(Slot {
            gate: Arc::clone(self),
            ip,
        })
    }

    /// Open connections now.
    pub(crate) fn open(&self) -> usize {
        self.counts().total
    }

    /// Waits until every slot is given back.
    pub(crate) async fn drained(&self) {
        loop {
            let closed = self.closed.notified();
            if self.open() == 0 {
                return;
            }
            closed.await;
        }
    }
}

/// The source a connection counts against: an IPv4 address (also when mapped into IPv6),
/// or an IPv6 address's /64, the least a single host or site is given, so one client cannot
/// take the whole total cap by rotating through its own addresses.
pub(crate) fn source(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !(u128::MAX >> 64);
                IpAddr::V6(std::net::Ipv6Addr::from(network))
            }
        },
    }
}

/// One open connection's place; given back on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.gate.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some(from) = counts.by_address.get_mut(&self.ip) {
            *from = from.saturating_sub(1);
            if *from == 0 {
                counts.by_address.remove(&self.ip);
            }
        }
        let drained = counts.total == 0;
        drop(counts);
        if drained {
            self.gate.closed.notify_waiters();
        }
    }
}

/// Answers refused sockets with a 503 and closes them.
#[derive(Debug, Clone)]
pub(crate) struct Refuser {
    retry_after: u64,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
}

impl Refuser {
    /// A refuser that asks clients to come back after `retry_after` seconds, for a listener
    /// that holds at most `max_connections`.
    pub(crate) fn new(retry_after: u64, max_connections: usize) -> Self {
        Refuser {
            retry_after: retry_after.max(1),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: (max_connections / 8).clamp(1, REFUSING_MAX),
        }
    }

    /// Answers and closes `stream` without blocking the accept loop.
    pub(crate) fn refuse(&self, stream: TcpStream, refusal: Refusal) {
        let response = refusal.response(self.retry_after);
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.max_in_flight {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            // A fresh socket's send buffer is empty: the answer fits in one write.
            let _ = stream.try_write(&response);
            return;
        }
        let in_flight = Arc::clone(&self.in_flight);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REFUSAL_TIME, answer(stream, &response)).await;
            in_flight.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// Writes the refusal, half-closes, and reads what the client sent until it closes too.
async fn answer(mut stream: TcpStream, response: &[u8]) {
    if write_all(&stream, response).await.is_err() {
        return;
    }
    let _ = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_shutdown(cx)).await;
    let mut buffer = [0u8; 4096];
    let mut drained = 0;
    while drained < REFUSAL_DRAIN {
        match read_some(&stream, &mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => drained += read,
        }
    }
}

/// Writes all of `bytes` (tokio's `io-util` helpers are not compiled in).
pub(crate) async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(written) => bytes = &bytes[written..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads what has arrived, waiting for something; `Ok(0)` at the end.
pub(crate) async fn read_some(stream: &TcpStream, buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_read(buffer) {
            Ok(read) => return Ok(read),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// How a connection moves: a count of its reads and writes, its requests in flight, and
/// whether a request's head has begun to arrive. Noting a move is a store, with no clock read:
/// a request makes several. [`Quiet`] turns them into time, at checks a few times per timeout.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    moves: AtomicU64,
    busy: AtomicUsize,
    /// Bytes arrived while no request was in flight, and no request has begun since: a head
    /// is on its way.
    head: AtomicBool,
}

impl Activity {
    /// A connection that has not moved yet.
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Notes bytes moving. A load and a store, not an atomic add: the connection's own task
    /// makes every move, and a count that changes at all is all a check needs.
    pub(crate) fn touch(&self) {
        let moves = self.moves.load(Ordering::Relaxed);
        self.moves.store(moves.wrapping_add(1), Ordering::Relaxed);
    }

    /// Notes bytes read: a move, and with no request in flight the start of a head.
    pub(crate) fn read(&self) {
        self.touch();
        if self.busy.load(Ordering::Acquire) == 0 && !self.head.load(Ordering::Relaxed) {
            self.head.store(true, Ordering::Relaxed);
        }
    }

    /// Marks a request in flight until the guard drops: its head has arrived whole.
    pub(crate) fn begin(self: &Arc<Self>) -> Busy {
        self.head.store(false, Ordering::Relaxed);
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.touch();
        Busy(Arc::clone(self))
    }

    /// What a check sees: `None` while a request is in flight, else the count of moves.
    fn seen(&self) -> Option<u64> {
        (self.busy.load(Ordering::Acquire) == 0).then(|| self.moves.load(Ordering::Relaxed))
    }

    /// Whether a request's head has begun to arrive and is not whole yet.
    fn head_pending(&self) -> bool {
        self.head.load(Ordering::Relaxed) && self.busy.load(Ordering::Acquire) == 0
    }
}

/// Why a connection is let go (see [`Quiet::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// Nothing moved and no request was in flight for the idle timeout: closed gracefully.
    Idle,
    /// A request's head took longer than the header timeout to arrive whole: closed at once,
    /// with no answer (as a client that cannot send its head could not read one).
    SlowHead,
}

/// Since when a connection has been seen still, and since when a head has been arriving,
/// from checks of its [`Activity`].
#[derive(Debug)]
pub(crate) struct Quiet {
    seen: Option<u64>,
    since: Instant,
    head_since: Option<Instant>,
}

impl Quiet {
    /// Starts watching `activity` at `now`.
    pub(crate) fn new(activity: &Activity, now: Instant) -> Self {
        Quiet {
            seen: activity.seen(),
            since: now,
            head_since: None,
        }
    }

    /// A check at `now`: whether to let the connection go, and why. It is idle when it has
    /// moved nothing and had no request in flight for at least `idle`; its head is too slow
    /// when one has been arriving for at least `header`. Each is dated by the first check that
    /// sees it, so with checks every `t / n` a connection is let go between `t` and `t + t / n`
    /// after the fact, never before.
    pub(crate) fn check(
        &mut self,
        activity: &Activity,
        idle: Duration,
        header: Duration,
        now: Instant,
    ) -> Option<Close> {
        if activity.head_pending() {
            let since = *self.head_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= header {
                return Some(Close::SlowHead);
            }
        } else {
            self.head_since = None;
        }
        let seen = activity.seen();
        if seen.is_none() || seen != self.seen {
            self.seen = seen;
            self.since = now;
            return None;
        }
        (now.saturating_duration_since(self.since) >= idle).then_some(Close::Idle)
    }
}

/// A request in flight on a connection (see [`Activity::begin`]).
#[derive(Debug)]
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A socket that notes its traffic in an [`Activity`].
#[derive(Debug)]
pub(crate) struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl Tracked {
    /// Wraps `stream`.
    pub(crate) fn new(stream: TcpStream, activity: Arc<Activity>) -> Self {
        Tracked { stream, activity }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.touch();
        }
        polled
    }

    // hyper writes head and body in one vectored write when the socket can.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// How many checks a connection gets per timeout (the shorter of the idle and header ones).
const CHECKS_PER_TIMEOUT: u32 = 4;

/// Wakes a connection's task for its idle timer or the stop signal, and notes that it was
/// one of them (see [`drive`]).
#[derive(Debug, Default)]
struct Alarm {
    rang: AtomicBool,
    task: futures::task::AtomicWaker,
}

impl std::task::Wake for Alarm {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.rang.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// How many times in a row [`drive`] polls a connection again at once because it woke itself
/// while being polled, before it hands the task back to the scheduler (which then polls it
/// after the other tasks ready to run).
const REPOLLS_IN_A_ROW: u32 = 4;

/// [`Relay`]'s states.
const IDLE: u8 = 0;
const POLLING: u8 = 1;
const WOKEN_WHILE_POLLING: u8 = 2;

/// The waker a connection is polled with. A wake that comes while [`drive`] is polling the
/// connection is noted, and `drive` polls again before returning; any other wake wakes the
/// task.
///
/// hyper's body channel wakes the connection's own task when the handler takes the body, in
/// the middle of the poll that runs the handler. Left to tokio, such a wake reschedules the
/// task at the back of the queue and, in the multi-thread scheduler, wakes a parked worker to
/// take it: a futex call, a thread woken for nothing, and one more poll of the connection for
/// most calls that carry a body.
#[derive(Debug, Default)]
struct Relay {
    state: std::sync::atomic::AtomicU8,
    task: futures::task::AtomicWaker,
}

impl std::task::Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        match self.state.compare_exchange(
            POLLING,
            WOKEN_WHILE_POLLING,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) | Err(WOKEN_WHILE_POLLING) => {}
            Err(_) => self.task.wake(),
        }
    }
}

impl Relay {
    /// Polls `future` with this relay's `waker` (which must be this relay's), again at once
    /// while it wakes itself during the poll, at most [`REPOLLS_IN_A_ROW`] times; then lets the
    /// scheduler poll it again later.
    fn poll<F: std::future::Future>(
        &self,
        waker: &std::task::Waker,
        task: &mut Context<'_>,
        mut future: Pin<&mut F>,
    ) -> Poll<F::Output> {
        self.task.register(task.waker());
        let mut relayed = Context::from_waker(waker);
        for _ in 0..=REPOLLS_IN_A_ROW {
            self.state.store(POLLING, Ordering::Release);
            let polled = future.as_mut().poll(&mut relayed);
            let woken = self.state.swap(IDLE, Ordering::AcqRel) == WOKEN_WHILE_POLLING;
            if polled.is_ready() || !woken {
                return polled;
            }
        }
        task.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Drives one connection to its end: closes it gracefully (in-flight requests finish) when
/// the listener stops or when it has been idle for `idle`, and at once when a request's head
/// has been arriving for `header` (the header timeout, in place of hyper's, which arms a timer
/// for every request).
///
/// The connection is polled on every wake; the checks' timer and the stop signal only when
/// their own waker (an [`Alarm`]) rang, so the many wakes of a request poll no timer.
pub(crate) async fn drive<C>(
    connection: C,
    activity: Arc<Activity>,
    (idle, header): (Duration, Duration),
    stop: tokio_util::sync::CancellationToken,
    peer: SocketAddr,
) where
    C: std::future::Future<Output = Result<(), hyper::Error>> + GracefulConnection,
{
    let step = (idle.min(header) / CHECKS_PER_TIMEOUT).max(Duration::from_millis(1));
    let mut connection = std::pin::pin!(connection);
    let mut stopped = std::pin::pin!(stop.cancelled());
    let mut check = std::pin::pin!(tokio::time::sleep(step));
    let mut quiet = Quiet::new(&activity, Instant::now());
    let mut closing = false;
    let alarm = Arc::new(Alarm::default());
    // Polled once at the start, to arm both.
    alarm.rang.store(true, Ordering::Relaxed);
    let alarm_waker = std::task::Waker::from(Arc::clone(&alarm));
    let relay = Arc::new(Relay::default());
    let relay_waker = std::task::Waker::from(Arc::clone(&relay));
    let ended = std::future::poll_fn(|cx| {
        alarm.task.register(cx.waker());
        if !closing && alarm.rang.swap(false, Ordering::AcqRel) {
            let mut alarmed = Context::from_waker(&alarm_waker);
            if stopped.as_mut().poll(&mut alarmed).is_ready() {
                closing = true;
            }
            while !closing && check.as_mut().poll(&mut alarmed).is_ready() {
                let now = Instant::now();
                match quiet.check(&activity, idle, header, now) {
                    None => check.as_mut().reset(now + step),
                    Some(Close::Idle) => {
                        tracing::debug!(%peer, "closing an idle connection");
                        closing = true;
                    }
                    Some(Close::SlowHead) => {
                        tracing::debug!(%peer, "closing a connection whose request head is too slow");
                        return Poll::Ready(Ok(()));
                    }
                }
            }
            if closing {
                connection.as_mut().close_gracefully();
            }
        }
        relay.poll(&relay_waker, cx, connection.as_mut())
    })
    .await;
    if let Err(error) = ended {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// A connection that can be asked to finish its request in flight and close.
pub(crate) trait GracefulConnection {
    /// Stops keep-alive; closes at once when idle.
    fn close_gracefully(self: Pin<&mut Self>);
}

impl<I, S> GracefulConnection for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: hyper::body::Body + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn close_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Accept failures in a row: logs the first of a burst (and at most one burst a minute, with
/// the failures since), backs off, and says when accepting works again after a logged burst.
#[derive(Debug, Default)]
pub(crate) struct AcceptFailures {
    /// Failures since the last accepted connection.
    failed: u32,
    /// When the burst began.
    since: Option<Instant>,
    /// When a burst was last logged.
    logged: Option<Instant>,
    /// Whether this burst was logged.
    burst_logged: bool,
    /// Failures not yet counted in a log line.
    unlogged: u64,
}

/// The first pause after an accept failure; doubled for each further one in a row.
const BACKOFF_FIRST: Duration = Duration::from_millis(5);
/// The longest pause: short, so the listener is back soon after descriptors free up.
const BACKOFF_MAX: Duration = Duration::from_millis(200);
/// The least time between two logged bursts.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(60);

/// What to do after a failed accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AfterFailure {
    /// `Some(n)`: log it, `n` counting it and every failure since the last logged one.
    pub(crate) log: Option<u64>,
    /// How long to wait before accepting again.
    pub(crate) pause: Duration,
}

impl AcceptFailures {
    /// Notes a failed accept.
    pub(crate) fn failed(&mut self, error: &io::Error, now: Instant) -> AfterFailure {
        if is_connection_error(error) {
            // The peer gave up between the handshake and the accept: nothing is wrong here.
            return AfterFailure {
                log: None,
                pause: Duration::ZERO,
            };
        }
        self.failed = self.failed.saturating_add(1);
        self.unlogged = self.unlogged.saturating_add(1);
        let first = self.since.is_none();
        self.since.get_or_insert(now);
        let due = self
            .logged
            .is_none_or(|at| now.saturating_duration_since(at) >= FAILURE_LOG_EVERY);
        let log = if first && due {
            self.logged = Some(now);
            self.burst_logged = true;
            Some(std::mem::take(&mut self.unlogged))
        } else {
            None
        };
        let doublings = (self.failed - 1).min(16);
        let pause = BACKOFF_FIRST
            .saturating_mul(1u32 << doublings)
            .min(BACKOFF_MAX);
        AfterFailure { log, pause }
    }

    /// Notes an accepted connection; after a logged burst, how many failed and for how long.
    pub(crate) fn accepted(&mut self, now: Instant) -> Option<(u32, Duration)> {
        let since = self.since.take()?;
        let failed = std::mem::take(&mut self.failed);
        if !std::mem::take(&mut self.burst_logged) {
            return None;
        }
        Some((failed, now.saturating_duration_since(since)))
    }
}

/// Errors about one incoming connection rather than the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// Refusals in a row: logged once a minute at most, with how many there were.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    logged: Option<Instant>,
    unlogged: u64,
}

/// The least time between two logged refusals.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);

impl Refusals {
    /// Notes a refusal; `Some(n)` when it should be logged, `n` counting it and those
    /// refused since the last log line.
    pub(crate) fn refused(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        let due = self
            .logged
            .is_none_or(|at| now.saturating_duration_since(at) >= REFUSAL_LOG_EVERY);
        if !due {
            return None;
        }
        self.logged = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

#[cfg(test)]
mod tests;
