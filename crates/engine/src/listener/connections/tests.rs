//! Connection caps, refusals, idle timeouts and accept failures: the parts alone, then a
//! real listener on loopback.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::cluster::Clusters;
use crate::deploy::worker::Workers;
use crate::listener::{Config, Listener, State};
use crate::secrets::Secrets;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

#[test]
fn default_caps_leave_headroom_under_the_descriptor_limit() {
    let cases: &[(Option<u64>, (usize, usize))] = &[
        // The common Linux default: a quarter kept back for the database, clusters, logs.
        (Some(1024), (768, 192)),
        // macOS's default.
        (Some(256), (192, 48)),
        (Some(20_000), (16_384, 4096)),
        (Some(u64::MAX), (16_384, 4096)),
        // Too low to leave headroom: a floor that still serves someone.
        (Some(64), (16, 4)),
        (Some(0), (16, 4)),
        (None, (1024, 256)),
    ];
    for (limit, caps) in cases {
        assert_eq!(caps_for(*limit), *caps, "limit {limit:?}");
    }
}

#[test]
fn the_gate_caps_totals_and_addresses_and_gives_slots_back() {
    let gate = Gate::new(4, 2);
    let a1 = gate.admit(ip(1)).unwrap();
    let _a2 = gate.admit(ip(1)).unwrap();
    assert_eq!(
        gate.admit(ip(1)).unwrap_err(),
        Refusal::Address {
            ip: ip(1),
            limit: 2
        }
    );
    let _b1 = gate.admit(ip(2)).unwrap();
    let _b2 = gate.admit(ip(2)).unwrap();
    assert_eq!(gate.admit(ip(3)).unwrap_err(), Refusal::Total { limit: 4 });
    assert_eq!(gate.open(), 4);
    drop(a1);
    assert_eq!(gate.open(), 3);
    // The freed place goes to whoever comes next, another address included.
    let _c1 = gate.admit(ip(3)).unwrap();
    assert_eq!(gate.admit(ip(1)).unwrap_err(), Refusal::Total { limit: 4 });
}

#[test]
fn addresses_count_by_host_and_ipv6_by_its_64() {
    let cases = [
        ("127.0.0.1", "127.0.0.1"),
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"),
        ("2001:db8:1:2::1", "2001:db8:1:2::"),
        ("2001:db8:1:3::1", "2001:db8:1:3::"),
        ("::1", "::"),
    ];
    for (from, counted) in cases {
        let from: IpAddr = from.parse().unwrap();
        assert_eq!(source(from), counted.parse::<IpAddr>().unwrap(), "{from}");
    }
    // One /64 rotating through its addresses shares one cap.
    let gate = Gate::new(100, 2);
    let _a = gate.admit("2001:db8::1".parse().unwrap()).unwrap();
    let _b = gate.admit("2001:db8::2".parse().unwrap()).unwrap();
    assert!(matches!(
        gate.admit("2001:db8::3".parse().unwrap()),
        Err(Refusal::Address { .. })
    ));
    let _c = gate.admit("2001:db8:0:1::1".parse().unwrap()).unwrap();
}

#[test]
fn caps_of_zero_still_admit_one() {
    let gate = Gate::new(0, 0);
    let _only = gate.admit(ip(1)).unwrap();
    assert!(gate.admit(ip(2)).is_err());
}

#[tokio::test]
async fn drained_waits_for_the_last_slot() {
    let gate = Gate::new(4, 4);
    let slot = gate.admit(ip(1)).unwrap();
    let waiter = {
        let gate = Arc::clone(&gate);
        tokio::spawn(async move { gate.drained().await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    drop(slot);
    tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("drained after the last slot")
        .unwrap();
}

/// Splits an HTTP/1.1 answer into its status line, headers (lower-cased names) and body.
fn parse(answer: &str) -> (String, Vec<(String, String)>, String) {
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn refusals_are_a_complete_503_with_retry_after_and_a_json_body() {
    let cases = [
        (Refusal::Total { limit: 768 }, "768 open connections"),
        (
            Refusal::Address {
                ip: ip(9),
                limit: 192,
            },
            "127.0.0.9 holds the limit of 192",
        ),
        (
            Refusal::Address {
                ip: "2001:db8::".parse().unwrap(),
                limit: 4,
            },
            "2001:db8::/64 holds the limit of 4",
        ),
    ];
    for (refusal, says) in cases {
        let answer = String::from_utf8(refusal.response(7)).unwrap();
        let (status, headers, body) = parse(&answer);
        assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(header(&headers, "retry-after"), Some("7"));
        assert_eq!(header(&headers, "connection"), Some("close"));
        assert_eq!(header(&headers, "content-type"), Some("application/json"));
        assert_eq!(
            header(&headers, "content-length"),
            Some(body.len().to_string().as_str())
        );
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body["code"],
            crate::error::Code::TooManyConnections.as_str()
        );
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
        assert!(message.contains("try again in 7s"), "{message}");
        assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    }
}

#[test]
fn accept_failures_log_once_per_burst_and_back_off_boundedly() {
    let emfile = std::io::Error::from_raw_os_error(24);
    let aborted = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
    let start = Instant::now();
    let mut failures = AcceptFailures::default();

    // One peer giving up is not a failure of the listener.
    let after = failures.failed(&aborted, start);
    assert_eq!(
        after,
        AfterFailure {
            log: None,
            pause: Duration::ZERO
        }
    );
    assert_eq!(failures.accepted(start), None);

    let pauses: Vec<(Option<u64>, u64)> = (0..10)
        .map(|_| failures.failed(&emfile, start))
        .map(|a| (a.log, a.pause.as_millis() as u64))
        .collect();
    assert_eq!(
        pauses,
        [
            (Some(1), 5),
            (None, 10),
            (None, 20),
            (None, 40),
            (None, 80),
            (None, 160),
            (None, 200),
            (None, 200),
            (None, 200),
            (None, 200),
        ]
    );
    // Thousands in a row neither overflow nor grow the pause.
    for _ in 0..10_000 {
        assert_eq!(
            failures.failed(&emfile, start).pause,
            Duration::from_millis(200)
        );
    }
    let later = start + Duration::from_secs(3);
    assert_eq!(
        failures.accepted(later),
        Some((10_010, Duration::from_secs(3)))
    );
    assert_eq!(failures.accepted(later), None);

    // The next burst within the minute starts from the shortest pause, unlogged, and its end
    // is not announced either.
    let after = failures.failed(&emfile, later);
    assert_eq!(after.log, None);
    assert_eq!(after.pause, Duration::from_millis(5));
    failures.failed(&emfile, later);
    assert_eq!(failures.accepted(later), None);

    // A minute after the last logged burst, the next is logged, counting every failure
    // since the last log line: the rest of the first burst, the quiet one, and this.
    let minute = start + Duration::from_secs(60);
    let after = failures.failed(&emfile, minute);
    assert_eq!(after.log, Some(10_009 + 2 + 1));
    assert_eq!(failures.accepted(minute), Some((1, Duration::ZERO)));
}

#[test]
fn refusal_tasks_are_bounded_by_the_total_cap() {
    let cases = [(16, 2), (8, 1), (0, 1), (768, 64), (16_384, 64)];
    for (total, tasks) in cases {
        assert_eq!(Refuser::new(5, total).max_in_flight, tasks, "total {total}");
    }
}

#[test]
fn refusals_are_logged_once_a_minute_with_their_count() {
    let start = Instant::now();
    let mut refusals = Refusals::default();
    assert_eq!(refusals.refused(start), Some(1));
    for i in 1..=99 {
        assert_eq!(refusals.refused(start + Duration::from_millis(i)), None);
    }
    assert_eq!(refusals.refused(start + Duration::from_secs(60)), Some(100));
    assert_eq!(refusals.refused(start + Duration::from_secs(61)), None);
}

#[test]
fn a_request_in_flight_or_a_move_keeps_a_connection_from_being_idle() {
    let activity = Activity::new();
    let idle = Duration::from_millis(100);
    let header = Duration::from_secs(3600);
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    let mut quiet = Quiet::new(&activity, start);
    let mut check = |ms| quiet.check(&activity, idle, header, at(ms));
    assert_eq!(check(50), None);
    assert_eq!(check(100), Some(Close::Idle), "still since the start");

    // A move is dated by the check that sees it.
    activity.touch();
    assert_eq!(check(125), None);
    assert_eq!(check(200), None);
    assert_eq!(check(225), Some(Close::Idle));

    // A request in flight is never idle, however long it takes.
    let busy = activity.begin();
    assert_eq!(check(250), None);
    assert_eq!(check(3_600_000), None);
    drop(busy);
    assert_eq!(check(3_600_025), None);
    assert_eq!(check(3_600_100), None);
    assert_eq!(check(3_600_125), Some(Close::Idle));
}

#[test]
fn a_head_that_keeps_arriving_is_let_go_after_the_header_timeout() {
    let activity = Activity::new();
    let idle = Duration::from_secs(3600);
    let header = Duration::from_millis(100);
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    let mut quiet = Quiet::new(&activity, start);

    // A byte at a time: never idle, but the head never ends.
    activity.read();
    assert_eq!(quiet.check(&activity, idle, header, at(25)), None);
    activity.read();
    assert_eq!(quiet.check(&activity, idle, header, at(100)), None);
    activity.read();
    assert_eq!(
        quiet.check(&activity, idle, header, at(125)),
        Some(Close::SlowHead)
    );

    // A head that arrives whole starts a request, and its body's reads start no head.
    let activity = Activity::new();
    let mut quiet = Quiet::new(&activity, start);
    activity.read();
    assert_eq!(quiet.check(&activity, idle, header, at(25)), None);
    let busy = activity.begin();
    activity.read();
    assert_eq!(quiet.check(&activity, idle, header, at(500)), None);
    drop(busy);
    assert_eq!(quiet.check(&activity, idle, header, at(1000)), None);
    // The next request's head starts its own clock.
    activity.read();
    assert_eq!(quiet.check(&activity, idle, header, at(1025)), None);
    assert_eq!(
        quiet.check(&activity, idle, header, at(1125)),
        Some(Close::SlowHead)
    );
}

/// Counts the wakes of the task a [`Relay`] serves.
#[derive(Default)]
struct Wakes(std::sync::atomic::AtomicUsize);

impl std::task::Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn a_connection_that_wakes_itself_while_polled_is_polled_again_without_waking_its_task() {
    let wakes = Arc::new(Wakes::default());
    let task_waker = std::task::Waker::from(Arc::clone(&wakes));
    let mut task = Context::from_waker(&task_waker);
    let relay = Arc::new(Relay::default());
    let relay_waker = std::task::Waker::from(Arc::clone(&relay));
    let task_wakes = || wakes.0.load(Ordering::Relaxed);

    // Wakes itself on its first two polls, as hyper's body channel does, then is done.
    let mut polls = 0;
    let future = std::future::poll_fn(|cx| {
        polls += 1;
        if polls <= 2 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(polls)
    });
    let mut future = std::pin::pin!(future);
    assert_eq!(
        relay.poll(&relay_waker, &mut task, future.as_mut()),
        Poll::Ready(3)
    );
    assert_eq!(
        task_wakes(),
        0,
        "the task is not woken for a wake it is serving"
    );

    // One that keeps waking itself is handed back to the scheduler, its task woken once.
    let mut polls = 0;
    let restless = std::future::poll_fn(|cx| {
        polls += 1;
        cx.waker().wake_by_ref();
        Poll::<()>::Pending
    });
    let mut restless = std::pin::pin!(restless);
    assert!(
        relay
            .poll(&relay_waker, &mut task, restless.as_mut())
            .is_pending()
    );
    assert_eq!(polls, REPOLLS_IN_A_ROW + 1);
    assert_eq!(task_wakes(), 1);

    // A wake between polls (a socket's readiness, another thread's answer) wakes the task.
    let parked = std::future::poll_fn(|_| Poll::<()>::Pending);
    let mut parked = std::pin::pin!(parked);
    assert!(
        relay
            .poll(&relay_waker, &mut task, parked.as_mut())
            .is_pending()
    );
    assert_eq!(task_wakes(), 1);
    relay_waker.wake_by_ref();
    assert_eq!(task_wakes(), 2);
    let from_another_thread = relay_waker.clone();
    assert!(
        relay
            .poll(&relay_waker, &mut task, parked.as_mut())
            .is_pending()
    );
    std::thread::spawn(move || from_another_thread.wake())
        .join()
        .unwrap();
    assert_eq!(task_wakes(), 3);
}

/// A listener on an ephemeral loopback port with these connection settings.
struct Running {
    _dir: tempfile::TempDir,
    listener: Listener,
}

impl Running {
    async fn start(max: usize, per_address: usize, idle: Duration) -> Self {
        Self::with_config(Config {
            max_connections: max,
            max_connections_per_address: per_address,
            idle_timeout: idle,
            ..Config::default()
        })
        .await
    }

    async fn with_config(config: Config) -> Self {
        let (dir, database, _store) = crate::listener::shop_database();
        let config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..config
        };
        let workers = Workers::new(
            database.clone(),
            Clusters::new(None),
            CancellationToken::new(),
        )
        .unwrap();
        let secrets = Secrets::Files(dir.path().join("secrets"));
        let state = State::new(config, database, secrets, workers).unwrap();
        let listener = Listener::start(state, CancellationToken::new())
            .await
            .unwrap();
        Running {
            _dir: dir,
            listener,
        }
    }

    /// A connection from `127.0.0.<from>`.
    async fn connect(&self, from: u8) -> TcpStream {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(ip(from), 0)).unwrap();
        socket.connect(self.listener.address()).await.unwrap()
    }

    /// Opens `count` idle connections from `127.0.0.<from>`. The accept loop takes sockets
    /// in the order they connected, so a later connection is judged after these.
    async fn hold(&self, from: u8, count: usize) -> Vec<TcpStream> {
        let mut held = Vec::new();
        for _ in 0..count {
            held.push(self.connect(from).await);
        }
        held
    }

    /// `GET path` from `127.0.0.<from>` on a fresh connection; the whole answer.
    async fn get(&self, from: u8, path: &str) -> String {
        let mut stream = self.connect(from).await;
        read_answer(&mut stream, Some(path)).await
    }
}

/// Sends `GET path` (if any) and reads until the server closes; panics after 5 s.
async fn read_answer(stream: &mut TcpStream, path: Option<&str>) -> String {
    if let Some(path) = path {
        let request = format!("GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n");
        // A refused socket may already be closed for writing: the answer still arrives.
        let _ = write_all(stream, request.as_bytes()).await;
    }
    let read = async {
        let mut answer = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            match read_some(stream, &mut buffer).await {
                Ok(0) => return answer,
                Ok(read) => answer.extend_from_slice(&buffer[..read]),
                Err(e) => panic!("reading the answer: {e}"),
            }
        }
    };
    let answer = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("the server answers and closes within 5 s");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn one_address_past_its_cap_gets_503_and_others_are_still_served() {
    let running = Running::start(64, 3, Duration::from_secs(60)).await;
    let _held = running.hold(1, 3).await;

    let answer = running.get(1, "/healthz").await;
    let (status, headers, body) = parse(&answer);
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable", "{answer}");
    assert_eq!(header(&headers, "retry-after"), Some("60"));
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["code"],
        crate::error::Code::TooManyConnections.as_str()
    );

    // An idle refused socket (it sends nothing) is answered and closed too.
    let mut idle = running.connect(1).await;
    assert!(
        read_answer(&mut idle, None)
            .await
            .starts_with("HTTP/1.1 503 ")
    );

    let answer = running.get(2, "/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("ok\n"), "{answer}");
}

#[tokio::test]
async fn past_the_total_cap_everyone_gets_503_until_a_connection_closes() {
    let running = Running::start(4, 4, Duration::from_secs(60)).await;
    let mut held = running.hold(1, 2).await;
    held.extend(running.hold(3, 2).await);

    let answer = running.get(4, "/healthz").await;
    let (status, _, body) = parse(&answer);
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable", "{answer}");
    assert!(body.contains("its limit of 4 open connections"), "{body}");

    drop(held.pop());
    // The server notices the close on its own schedule: ask again until it has.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = running.get(4, "/healthz").await;
        if answer.starts_with("HTTP/1.1 200 OK") {
            break;
        }
        assert!(Instant::now() < deadline, "no slot came free: {answer}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(300);
    let running = Running::start(64, 64, idle).await;

    // Never sends a byte.
    let started = Instant::now();
    let mut silent = running.connect(1).await;
    assert_eq!(read_answer(&mut silent, None).await, "");
    let waited = started.elapsed();
    assert!(
        waited >= idle - Duration::from_millis(50),
        "closed too early: {waited:?}"
    );

    // Keep-alive after one answered request.
    let mut kept = running.connect(1).await;
    write_all(&kept, b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_answer(&mut kept, None).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(started.elapsed() >= idle - Duration::from_millis(50));

    // Slots come back: the cap counts open connections, not those ever opened.
    let answer = running.get(1, "/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

#[tokio::test]
async fn shutdown_closes_idle_connections_at_once() {
    let running = Running::start(64, 64, Duration::from_secs(60)).await;
    let mut held = running.hold(1, 3).await;
    // Taken in order: once a later call is answered, the held ones are past the backlog
    // (which a closing listener would reset instead).
    let answer = running.get(2, "/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), running.listener.shutdown())
        .await
        .expect("shutdown does not wait for idle connections");
    assert!(started.elapsed() < Duration::from_secs(5));
    for stream in &mut held {
        assert_eq!(read_answer(stream, None).await, "");
    }
}

/// Sends `GET /healthz` on a kept-alive connection and reads its whole answer; panics if the
/// server closed it (saying how long after `started`) or takes over 2 s.
async fn healthz_kept_open(kept: &TcpStream, started: Instant) {
    write_all(kept, b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.ends_with(b"\r\n\r\nok\n") {
        let read = tokio::time::timeout(Duration::from_secs(2), read_some(kept, &mut buffer))
            .await
            .expect("an answer within 2 s")
            .unwrap();
        assert!(
            read > 0,
            "closed while in use after {:?}",
            started.elapsed()
        );
        answer.extend_from_slice(&buffer[..read]);
    }
}

#[tokio::test]
async fn a_connection_in_use_outlives_the_idle_timeout() {
    let idle = Duration::from_millis(300);
    let running = Running::start(64, 64, idle).await;
    let kept = running.connect(1).await;
    let started = Instant::now();
    // Four requests 200 ms apart: 800 ms on one connection, never 300 ms idle.
    for _ in 0..4 {
        healthz_kept_open(&kept, started).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(started.elapsed() > idle * 2);
}

#[tokio::test]
async fn a_client_that_sends_its_head_too_slowly_is_cut_off_and_others_are_not() {
    let header = Duration::from_millis(400);
    let running = Running::with_config(Config {
        header_timeout: header,
        idle_timeout: Duration::from_secs(60),
        ..Config::default()
    })
    .await;

    // One byte of a head every 50 ms: it moves, so it is never idle, but never finishes.
    let mut slow = running.connect(1).await;
    let started = Instant::now();
    let head = b"GET /healthz HTTP/1.1\r\nhost: t\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut cut = None;
    for byte in head {
        if write_all(&slow, std::slice::from_ref(byte)).await.is_err() {
            cut = Some(started.elapsed());
            break;
        }
        let mut buffer = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(50), read_some(&slow, &mut buffer)).await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => {
                cut = Some(started.elapsed());
                break;
            }
            Ok(Ok(read)) => panic!("an answer to half a head: {:?}", &buffer[..read]),
        }
    }
    let cut = cut.expect("the slow head is cut off before it ends");
    assert!(cut >= header, "cut too early: {cut:?}");
    assert!(cut < header * 3, "cut too late: {cut:?}");
    assert_eq!(
        read_answer(&mut slow, None).await,
        "",
        "and it is answered nothing"
    );

    // A client whose head arrives whole is served, on and on, over the same time.
    let kept = running.connect(2).await;
    let started = Instant::now();
    while started.elapsed() < header * 2 {
        healthz_kept_open(&kept, started).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
