//! Listener benchmark (issue 4, "Triggers"), in two parts, every figure measured in one run.
//!
//! **Throughput.** `wrk -t1 -c16` against each target in turn, a few rounds, each figure the
//! median of its rounds and reported as a ratio to the first:
//!
//! - a bare hyper server answering `hello` (the baseline);
//! - rejected calls: `GET /hook/trigger?token=tl_bad` (404 after the token lookup);
//! - no-op calls: `POST /hook/registry` with a generic push whose tag is not in the image
//!   trigger's tag list (200 `untriggered`), the cheapest call that passes authentication.
//!
//! As context, not targets: hello sent the no-op's POST; the same push as Debian's
//! docker-registry sends it (the distribution envelope); and that envelope with a new event
//! id each call, so that every call makes a record of its own (repeated calls fold into one).
//!
//! The listener runs with `throttle_failures: u32::MAX`: with the default (20), wrk's bad
//! tokens from 127.0.0.1 would be answered 429 before any lookup after the 20th. The listener
//! counts answers by status in `/metrics`; the bench reads them back to show what was served.
//! wrk and the servers share the machine's cores.
//!
//! **Latency.** An application on the sandbox (rollout delay zero) with an image trigger
//! (every tag). For each push a generic notification `{"image":"<repo>:v<N>"}` is POSTed to
//! `/hook/registry`; the time measured runs from just before the push is sent to the arrival
//! at the sandbox of the release's first server-side apply request (`PATCH`,
//! `application/apply-patch+yaml`). To see that arrival, the deploy workers talk to the
//! sandbox through a second HTTP front: the sandbox's own [`router`] (same state) behind a
//! hyper server that timestamps each request head as it is parsed — no extra hop. Each
//! release is waited for before the next push, so pushes never coalesce. Also reported: push
//! to the listener's 202 answer, and push to the first request of any kind at the sandbox.
//! The baseline, measured after each push in the same run: the same push accepted by a bare
//! hyper server and one durable SQLite commit, then applied directly ([`Baseline`]).
//!
//! `-- throughput` or `-- latency` runs one part. `-- --test` (CI): one 1-second wrk round
//! per target and 100 pushes. Targets (issue 4):
//! rejected and no-op calls per second >= 50% of hello's; push to first apply p99 <= 16x the
//! baseline's p99.

#[path = "common/mod.rs"]
mod common;

use std::convert::Infallible;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ms, percentile, serve, verdict};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;
use tripline_engine::app::{ClusterRef, NewApplication, Pin, Source};
use tripline_engine::cluster::Clusters;
use tripline_engine::deploy::worker::{Event, Workers};
use tripline_engine::listener::{self, Listener};
use tripline_engine::sandbox::{Sandbox, SandboxConfig, router};
use tripline_engine::secrets::Secrets;
use tripline_engine::store::{NewTrigger, ReleaseStatus, Store};
use tripline_engine::trigger::{TagFilter, TriggerKind, service};

/// The image repository the template and both triggers name.
const REPOSITORY: &str = "registry.example/bench/app";
/// A distribution registry's notification media type.
const DISTRIBUTION_EVENTS: &str = "application/vnd.docker.distribution.events.v2+json";

/// A small application: a Service and a Deployment on `REPOSITORY:v0`.
const TEMPLATE: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  selector:
    app: app
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels:
    app: app
spec:
  replicas: 1
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
      - name: app
        image: registry.example/bench/app:v0
        ports:
        - containerPort: 8080
";

/// wrk's settings (the duration is per round).
const WRK_THREADS: &str = "-t1";
const WRK_CONNECTIONS: &str = "-c16";
const WRK_SECONDS: u32 = 5;
const WRK_ROUNDS: usize = 3;
const TEST_WRK_SECONDS: u32 = 1;
const TEST_WRK_ROUNDS: usize = 1;
/// Pushes measured (real run, `--test`), after the warm-up pushes.
const PUSHES: usize = 1_000;
const TEST_PUSHES: usize = 100;
const WARM_UP_PUSHES: usize = 3;
/// Targets.
const THROUGHPUT_TARGET: f64 = 0.5;
/// Push to first apply, p99, as a multiple of the baseline's p99 ([`Baseline`]). The target
/// was first "under 20 ms"; the baseline's p99 was 1.23 ms on the machine whose figures
/// BENCHMARKS.md gives, so 16x keeps it as strict there, and carries it to other machines
/// and disks.
const P99_TARGET: f64 = 16.0;

/// A request seen by the sandbox front: when its head arrived, and whether it was an apply.
type Seen = (Instant, bool);

/// A bound listener on a free loopback port, and its address.
async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    (listener, address)
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`), blocking: the status,
/// the body, and when the first byte was about to be sent.
fn http(address: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String, Instant) {
    http_typed(address, method, path, "application/json", body)
}

/// [`http`] with a body of another media type.
fn http_typed(
    address: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String, Instant) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let sent = Instant::now();
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("receive");
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body, sent)
}

/// The same, off the runtime.
async fn http_async(
    address: SocketAddr,
    method: &'static str,
    path: String,
    body: String,
) -> (u16, String, Instant) {
    tokio::task::spawn_blocking(move || http(address, method, &path, &body))
        .await
        .expect("http task")
}

/// One wrk run: requests per second, total requests, non-2xx/3xx answers, socket errors.
struct WrkRun {
    per_second: f64,
    requests: u64,
    non_2xx: u64,
    errors: String,
    /// Where the machine's time went during the run, in clock ticks (`None` without `/proc`).
    split: Option<CpuSplit>,
}

/// CPU time by whom and where: this process (the servers and the listener) and its waited-for
/// children (wrk), each in user space and in the kernel; and the machine's idle and other
/// processes' time. In clock ticks.
#[derive(Clone, Copy, Default)]
struct CpuSplit {
    ours_user: u64,
    ours_kernel: u64,
    wrk_user: u64,
    wrk_kernel: u64,
    idle: u64,
    others: u64,
}

impl CpuSplit {
    fn now() -> Option<CpuSplit> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .take(8)
            .filter_map(|f| f.parse().ok())
            .collect();
        let total: u64 = ticks.iter().sum();
        let idle = ticks.get(3)? + ticks.get(4)?;
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<u64> = own
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|f| f.parse().ok())
            .collect();
        let [ours_user, ours_kernel, wrk_user, wrk_kernel] = fields[..] else {
            return None;
        };
        Some(CpuSplit {
            ours_user,
            ours_kernel,
            wrk_user,
            wrk_kernel,
            idle,
            // Everything busy, for now; `since` takes ours and wrk's out.
            others: total - idle,
        })
    }

    fn since(&self, before: &CpuSplit) -> CpuSplit {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        let (ours_user, ours_kernel) = (
            d(self.ours_user, before.ours_user),
            d(self.ours_kernel, before.ours_kernel),
        );
        let (wrk_user, wrk_kernel) = (
            d(self.wrk_user, before.wrk_user),
            d(self.wrk_kernel, before.wrk_kernel),
        );
        let busy = d(self.others, before.others);
        CpuSplit {
            ours_user,
            ours_kernel,
            wrk_user,
            wrk_kernel,
            idle: d(self.idle, before.idle),
            others: busy.saturating_sub(ours_user + ours_kernel + wrk_user + wrk_kernel),
        }
    }

    /// The share of the machine this process used (its waited-for children included), and the
    /// share other processes did.
    fn shares(&self) -> (f64, f64) {
        let ours = self.ours_user + self.ours_kernel + self.wrk_user + self.wrk_kernel;
        let total = (ours + self.idle + self.others).max(1) as f64;
        (ours as f64 / total, self.others as f64 / total)
    }

    fn add(&mut self, other: &CpuSplit) {
        self.ours_user += other.ours_user;
        self.ours_kernel += other.ours_kernel;
        self.wrk_user += other.wrk_user;
        self.wrk_kernel += other.wrk_kernel;
        self.idle += other.idle;
        self.others += other.others;
    }

    /// Microseconds per call of each part, for `calls` calls: (server user, server kernel,
    /// wrk user, wrk kernel, idle).
    fn per_call(&self, calls: u64) -> [f64; 5] {
        let tick = 1e6 / USER_HZ;
        let per = |ticks: u64| ticks as f64 * tick / calls.max(1) as f64;
        [
            per(self.ours_user),
            per(self.ours_kernel),
            per(self.wrk_user),
            per(self.wrk_kernel),
            per(self.idle),
        ]
    }
}

/// The unit of `/proc`'s CPU times: Linux reports them in `USER_HZ`, 100 a second.
const USER_HZ: f64 = 100.0;

/// How much slower user-space code runs on the machine [`CpuSplit`] projects to.
const SLOWER_USER_SPACE: f64 = 2.0;

fn wrk(url: &str, script: Option<&Path>, seconds: u32) -> WrkRun {
    let mut command = Command::new("wrk");
    command.args([WRK_THREADS, WRK_CONNECTIONS, &format!("-d{seconds}s")]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let before = CpuSplit::now();
    let output = command.arg(url).output().expect("wrk runs");
    let split = CpuSplit::now()
        .zip(before)
        .map(|(after, before)| after.since(&before));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {text}");
    let field = |prefix: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(prefix).map(str::trim))
            .map(str::to_owned)
    };
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    WrkRun {
        per_second: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        requests,
        non_2xx: field("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        errors: field("Socket errors:").unwrap_or_default(),
        split,
    }
}

/// Writes a wrk script at `path` that POSTs `body` as `content_type`; returns the path.
fn wrk_post_script(path: &Path, content_type: &str, body: &str) -> PathBuf {
    std::fs::write(
        path,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{body}'\nwrk.headers[\"Content-Type\"] = \"{content_type}\"\n"
        ),
    )
    .expect("write the wrk script");
    path.to_path_buf()
}

/// Like [`wrk_post_script`], but every request's body is `body` with [`CALL_NUMBER`] replaced
/// by the request's number in the run (1, 2, 3, …), as a registry's notifications differ in
/// their event ids: no two calls of a run are the same, so no record folds into another.
fn wrk_numbered_post_script(path: &Path, content_type: &str, body: &str) -> PathBuf {
    let (prefix, suffix) = body
        .split_once(CALL_NUMBER)
        .expect("the body has a place for the call's number");
    std::fs::write(
        path,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"{content_type}\"\n\
             local prefix = [==[{prefix}]==]\nlocal suffix = [==[{suffix}]==]\nlocal n = 0\n\
             request = function()\n  n = n + 1\n  return wrk.format(nil, nil, nil, prefix .. n .. suffix)\nend\n"
        ),
    )
    .expect("write the wrk script");
    path.to_path_buf()
}

/// Where [`wrk_numbered_post_script`] puts each call's number.
const CALL_NUMBER: &str = "@call@";

fn wrk_available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("wrk"))
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Everything the two parts share.
struct World {
    dir: tempfile::TempDir,
    database: PathBuf,
    sandbox: Sandbox,
    workers: Workers,
    state: Arc<listener::State>,
    listener: Listener,
    cancel: CancellationToken,
    servers: JoinSet<()>,
    hello: SocketAddr,
    /// The sandbox front's address (the deploy workers' cluster).
    front: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    /// Token of the image trigger that only follows tag `release` (no-op calls).
    noop_token: String,
    /// Token of the image trigger that follows every tag (pushes that deploy).
    follow_token: String,
}

impl World {
    async fn start() -> World {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut store = Store::open_dir(dir.path()).expect("the store opens");
        store
            .create_template("app", TEMPLATE, "bench")
            .expect("the template");
        store
            .create_app(&NewApplication {
                name: "app".into(),
                cluster: ClusterRef::Sandbox,
                namespace: "default".into(),
                source: Source::Template {
                    template: "app".into(),
                    pin: Pin::Latest,
                },
                prune: false,
            })
            .expect("the application");
        let database = store.info().expect("store info").path;
        let secrets = Secrets::Files(dir.path().join("secrets"));
        let mut image_trigger = |name: &str, filter: TagFilter| {
            let created = service::create(
                &mut store,
                &secrets,
                &NewTrigger {
                    name: name.into(),
                    app: "app".into(),
                    kind: TriggerKind::Image {
                        repositories: vec![REPOSITORY.into()],
                        filter,
                        pin_digest: false,
                        branch: None,
                        values: None,
                        verify: tripline_engine::trigger::Verify::Off,
                        watch: None,
                        maturing: None,
                        containers: Vec::new(),
                        allow_downgrade: false,
                    },
                    signed: false,
                },
            )
            .expect("the trigger");
            created.token
        };
        let noop_token = image_trigger(
            "app-release-only",
            TagFilter::Tags {
                tags: vec!["release".into()],
            },
        );
        let follow_token = image_trigger("app-every-tag", TagFilter::All);

        let sandbox = Sandbox::start(SandboxConfig {
            rollout_delay: Duration::ZERO,
            ..SandboxConfig::default()
        })
        .await
        .expect("the sandbox starts");
        let cancel = CancellationToken::new();
        let mut servers = JoinSet::new();

        // The sandbox front: the sandbox's router, timestamping request heads.
        let (front, front_address) = bind().await;
        let (seen_tx, seen) = mpsc::unbounded_channel::<Seen>();
        let sandbox_router = router(sandbox.state());
        servers.spawn(serve(front, cancel.child_token(), move || {
            let sandbox_router = sandbox_router.clone();
            let seen_tx = seen_tx.clone();
            service_fn(move |request: Request<Incoming>| {
                let arrived = Instant::now();
                let apply = request.method() == hyper::Method::PATCH
                    && request
                        .headers()
                        .get(hyper::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.starts_with("application/apply-patch+yaml"));
                let _ = seen_tx.send((arrived, apply));
                sandbox_router.clone().oneshot(request)
            })
        }));

        // The baseline: a bare hyper server.
        let (hello_listener, hello) = bind().await;
        servers.spawn(serve(hello_listener, cancel.child_token(), || {
            service_fn(|_: Request<Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
            })
        }));

        let front_url = format!("http://{front_address}").parse().expect("a URL");
        let workers = Workers::new(
            database.clone(),
            Clusters::new(Some(kube::Config::new(front_url))),
            cancel.child_token(),
        )
        .expect("the workers");
        let config = listener::Config {
            listen: "127.0.0.1:0".parse().expect("an address"),
            // wrk's bad tokens all come from 127.0.0.1: never throttle them in the bench.
            throttle_failures: u32::MAX,
            ..listener::Config::default()
        };
        let state = listener::State::new(config, database.clone(), secrets, workers.clone())
            .expect("the listener state");
        let listener = Listener::start(Arc::clone(&state), cancel.child_token())
            .await
            .expect("the listener starts");
        World {
            dir,
            database,
            sandbox,
            workers,
            state,
            listener,
            cancel,
            servers,
            hello,
            front: front_address,
            seen,
            noop_token,
            follow_token,
        }
    }

    async fn stop(mut self) {
        self.listener.shutdown().await;
        self.workers.shutdown().await;
        self.cancel.cancel();
        while self.servers.join_next().await.is_some() {}
        self.sandbox.shutdown().await;
    }

    /// `/metrics`' request counters: (kind, status, count).
    async fn counters(&self) -> Vec<(String, u16, u64)> {
        let (_, text, _) = http_async(
            self.listener.address(),
            "GET",
            "/metrics".into(),
            String::new(),
        )
        .await;
        text.lines()
            .filter_map(|line| line.strip_prefix("tripline_trigger_requests_total{kind=\""))
            .filter_map(|rest| {
                let (kind, rest) = rest.split_once("\",status=\"")?;
                let (status, count) = rest.split_once("\"} ")?;
                Some((kind.to_owned(), status.parse().ok()?, count.parse().ok()?))
            })
            .collect()
    }
}

/// Which parts to run: all, unless a filter argument (`throughput`, `latency` or `handler`)
/// names one.
#[derive(Debug, Clone, Copy)]
struct Parts {
    throughput: bool,
    latency: bool,
    handler: bool,
    /// `--count=<target>:<calls>`: the handler part runs only `calls` calls of the target
    /// whose label starts with `target` (`GET`, `rejected`, `no-op`), one round, for counting
    /// instructions (`perf stat -e instructions:u` at two call counts; the difference over
    /// the calls is the cost of one, set-up left out).
    count: Option<(&'static str, usize)>,
}

impl Parts {
    fn from_args(args: &[String]) -> Parts {
        let filters: Vec<&String> = args
            .iter()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        let wanted =
            |part: &str| filters.is_empty() || filters.iter().any(|f| part.contains(f.as_str()));
        Parts {
            throughput: wanted("throughput"),
            latency: wanted("latency"),
            handler: wanted("handler"),
            count: args.iter().find_map(|a| {
                let (target, calls) = a.strip_prefix("--count=")?.split_once(':')?;
                let target = ["GET", "rejected", "no-op"]
                    .into_iter()
                    .find(|t| *t == target)?;
                Some((target, calls.parse().ok()?))
            }),
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let test_mode = args.iter().any(|a| a == "--test");
    let parts = Parts::from_args(&args);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(test_mode, parts))
}

async fn run(test_mode: bool, parts: Parts) -> ExitCode {
    let mut world = World::start().await;
    if parts.handler {
        handler(&world, test_mode, parts.count).await;
    }
    let throughput_ok = if parts.throughput {
        throughput(&world, test_mode).await
    } else {
        true
    };
    // Let the access-record writer catch up so its backlog does not slow the pushes.
    world.state.flush_records().await;
    if parts.latency {
        latency(&mut world, test_mode).await;
    }
    world.stop().await;
    if throughput_ok || test_mode {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Calls answered in-process, without the network: a connection's service
/// (`listener::Front`, the hooks straight to their handler, the rest through the router)
/// called in a loop on this task, for `/healthz` (the router's floor), a rejected call and a
/// no-op call.
/// Reports the time per call, the median of a few rounds; what the handlers cost on their
/// own, apart from hyper and the sockets.
async fn handler(world: &World, test_mode: bool, count: Option<(&str, usize)>) {
    let (calls, rounds) = match count {
        Some((_, calls)) => (calls, 1),
        None if test_mode => (200, 1),
        None => (50_000, 5),
    };
    let push = serde_json::json!({ "image": format!("{REPOSITORY}:v1") }).to_string();
    let noop_path = format!("/hook/registry?token={}", world.noop_token);
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("an address");
    let request = |method: &str, path: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1:8787")
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(axum::body::Body::from(body.to_owned()))
            .expect("a request")
    };
    let targets: [(&str, &str, &str, &str, u16); 3] = [
        (
            "GET /healthz (the router's floor)",
            "GET",
            "/healthz",
            "",
            200,
        ),
        (
            "rejected: GET /hook/trigger?token=tl_bad",
            "GET",
            "/hook/trigger?token=tl_bad",
            "",
            404,
        ),
        (
            "no-op: POST /hook/registry, tag not listed",
            "POST",
            &noop_path,
            &push,
            200,
        ),
    ];
    let front = listener::Front::new(
        Arc::clone(&world.state),
        listener::router(Arc::clone(&world.state)),
        peer,
    );
    let mut per_call: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    for _ in 0..rounds {
        for (i, (label, method, path, body, status)) in targets.iter().enumerate() {
            if count.is_some_and(|(target, _)| !label.starts_with(target)) {
                continue;
            }
            let started = Instant::now();
            for _ in 0..calls {
                let Ok(response) = front.answer(request(method, path, body)).await;
                assert_eq!(response.status().as_u16(), *status, "{path}");
                let _ = http_body_util::BodyExt::collect(response.into_body()).await;
            }
            per_call[i].push(started.elapsed().as_secs_f64() * 1e6 / calls as f64);
        }
        world.state.flush_records().await;
    }
    println!(
        "Listener handlers in-process (a connection's service, no network): {calls} calls per round, median of {rounds} round(s)"
    );
    println!("{:<50} {:>12} {:>10}", "call", "µs per call", "vs floor");
    let floor = median(&per_call[0]);
    for (i, (label, ..)) in targets.iter().enumerate() {
        if per_call[i].is_empty() {
            continue;
        }
        let m = median(&per_call[i]);
        println!("{label:<50} {m:>12.2} {:>9.2}x", m / floor);
    }
}

/// Part (a); false when wrk is missing.
async fn throughput(world: &World, test_mode: bool) -> bool {
    println!();
    if !wrk_available() {
        println!("listener throughput: wrk is not installed (apt-get install wrk): skipped");
        return false;
    }
    let (seconds, rounds) = if test_mode {
        (TEST_WRK_SECONDS, TEST_WRK_ROUNDS)
    } else {
        (WRK_SECONDS, WRK_ROUNDS)
    };
    let push = serde_json::json!({ "image": format!("{REPOSITORY}:v1") }).to_string();
    let script = wrk_post_script(
        &world.dir.path().join("push.lua"),
        "application/json",
        &push,
    );
    // The same push as a distribution registry (Debian's docker-registry) sends it: a bigger
    // body (733 bytes) with its own media type, read by the envelope's direct read where the
    // generic form above is read by its own.
    let registry_push = serde_json::json!({
        "events": [{
            "id": "8b1f3c2e-5d4a-4e6b-9c7d-0a1b2c3d4e50",
            "timestamp": "2026-12-07T03:15:30.402973972Z",
            "action": "push",
            "target": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{}", "9b".repeat(32)),
                "size": 1024,
                "length": 1024,
                "repository": "bench/app",
                "url": format!("https://registry.example/v2/bench/app/manifests/sha256:{}", "9b".repeat(32)),
                "tag": "v1"
            },
            "request": {
                "id": "a5e3b7d1-2c4f-4a6e-8b0d-1f3e5a7c9b2d",
                "addr": "10.0.4.17:49152",
                "host": "registry.example",
                "method": "PUT",
                "useragent": "docker/24.0.7 go/go1.20.10"
            },
            "actor": { "name": "ci" },
            "source": { "addr": "registry-0:5000", "instanceID": "d7d0ee8f-8004-43ad-8d59-a4592131c72d" }
        }]
    })
    .to_string();
    let registry_script = wrk_post_script(
        &world.dir.path().join("registry-push.lua"),
        DISTRIBUTION_EVENTS,
        &registry_push,
    );
    // And as a registry sends a stream of pushes: each event with an id of its own, so that
    // every call makes a record of its own, where the repeated body above folds into one.
    let numbered_script = wrk_numbered_post_script(
        &world.dir.path().join("registry-numbered.lua"),
        DISTRIBUTION_EVENTS,
        &registry_push.replace(
            "8b1f3c2e-5d4a-4e6b-9c7d-0a1b2c3d4e50",
            &format!("8b1f3c2e-5d4a-4e6b-9c7d-{CALL_NUMBER}"),
        ),
    );

    let listener = world.listener.address();
    let rejected_path = "/hook/trigger?token=tl_bad".to_owned();
    let noop_path = format!("/hook/registry?token={}", world.noop_token);
    // Each target answers as it should before it is loaded.
    let (status, _, _) = http_async(world.hello, "GET", "/".into(), String::new()).await;
    assert_eq!(status, 200, "hello");
    let (status, body, _) = http_async(listener, "GET", rejected_path.clone(), String::new()).await;
    assert_eq!(status, 404, "a bad token is rejected: {body}");
    let (status, body, _) = http_async(listener, "POST", noop_path.clone(), push.clone()).await;
    assert!(
        status == 200 && body.contains("untriggered"),
        "an unlisted tag is a no-op: {status} {body}"
    );
    let (status, body, _) = tokio::task::spawn_blocking({
        let (path, body) = (noop_path.clone(), registry_push.clone());
        move || http_typed(listener, "POST", &path, DISTRIBUTION_EVENTS, &body)
    })
    .await
    .expect("the registry push");
    assert!(
        status == 200 && body.contains("untriggered"),
        "an unlisted tag from docker-registry is a no-op: {status} {body}"
    );

    let targets: [(&str, String, Option<&Path>); 6] = [
        (
            "bare hyper \"hello\" (baseline)",
            format!("http://{}/", world.hello),
            None,
        ),
        (
            "rejected: GET /hook/trigger?token=tl_bad (404)",
            format!("http://{listener}{rejected_path}"),
            None,
        ),
        (
            "no-op: POST /hook/registry, tag not listed (200)",
            format!("http://{listener}{noop_path}"),
            Some(script.as_path()),
        ),
        // The same POST (path, headers, body) at hello, which drops the body unread: what
        // any server pays for the bigger request, so the no-op's own cost can be read off.
        (
            "hello sent the no-op's POST (context)",
            format!("http://{}{noop_path}", world.hello),
            Some(script.as_path()),
        ),
        (
            "no-op as docker-registry sends it (context)",
            format!("http://{listener}{noop_path}"),
            Some(registry_script.as_path()),
        ),
        (
            "the same, a new event id each call (context)",
            format!("http://{listener}{noop_path}"),
            Some(numbered_script.as_path()),
        ),
    ];
    let before = world.counters().await;
    let cpu_before = CpuSplit::now();
    let mut runs: Vec<Vec<WrkRun>> = (0..targets.len()).map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (i, (_, url, script)) in targets.iter().enumerate() {
            let url = url.clone();
            let script = script.map(Path::to_path_buf);
            let run = tokio::task::spawn_blocking(move || wrk(&url, script.as_deref(), seconds))
                .await
                .expect("wrk task");
            runs[i].push(run);
        }
    }
    let cpu = CpuSplit::now()
        .zip(cpu_before)
        .map(|(after, before)| after.since(&before).shares());
    let after = world.counters().await;

    println!(
        "Listener throughput: wrk {WRK_THREADS} {WRK_CONNECTIONS} -d{seconds}s, median of \
         {rounds} round(s); wrk, the servers and the listener share {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("listener setting for the bench: throttle_failures = u32::MAX (default 20)");
    if let Some((ours, others)) = cpu {
        println!(
            "CPU of the machine during the runs: this bench with wrk {:.0}%, other processes {:.0}%",
            ours * 100.0,
            others * 100.0
        );
    }
    println!();
    println!(
        "{:<50} {:>12} {:>12} {:>10} {:>9}",
        "target", "requests/s", "requests", "non-2xx", "vs hello"
    );
    let medians: Vec<f64> = runs
        .iter()
        .map(|r| median(&r.iter().map(|w| w.per_second).collect::<Vec<_>>()))
        .collect();
    for (i, (label, _, _)) in targets.iter().enumerate() {
        let requests: u64 = runs[i].iter().map(|r| r.requests).sum();
        let non_2xx: u64 = runs[i].iter().map(|r| r.non_2xx).sum();
        println!(
            "{label:<50} {:>12.0} {requests:>12} {non_2xx:>10} {:>8.2}x",
            medians[i],
            medians[i] / medians[0]
        );
        for run in &runs[i] {
            if !run.errors.is_empty() {
                println!("    socket errors: {}", run.errors);
            }
        }
    }
    println!();
    println!("answers the listener counted during the runs (/metrics):");
    for (kind, status, count) in &after {
        let was = before
            .iter()
            .find(|(k, s, _)| k == kind && s == status)
            .map_or(0, |(_, _, c)| *c);
        if count > &was {
            println!("    kind={kind} status={status}: {}", count - was);
        }
    }
    let labels: Vec<&str> = targets.iter().map(|(label, ..)| *label).collect();
    cpu_split(&labels, &runs);
    println!();
    for (i, what) in [(1, "rejected"), (2, "no-op")] {
        let ratio = medians[i] / medians[0];
        println!(
            "target (issue 4): {what} calls/s >= {:.0}% of hello: {:.1}% — {}",
            THROUGHPUT_TARGET * 100.0,
            ratio * 100.0,
            verdict(test_mode, ratio >= THROUGHPUT_TARGET)
        );
    }
    println!(
        "context: no-op calls/s vs hello answering the same POST: {:.1}%",
        medians[2] / medians[3] * 100.0
    );
    println!(
        "context: the no-op as docker-registry sends it vs hello: {:.1}%",
        medians[4] / medians[0] * 100.0
    );
    println!(
        "context: the same with a new event id each call (a record each) vs hello: {:.1}%",
        medians[5] / medians[0] * 100.0
    );
    true
}

/// Prints where each target's calls spent the machine's time, and what the ratios would be on
/// a machine whose user-space code runs [`SLOWER_USER_SPACE`] times slower with the same kernel
/// costs: each call's user-space time (server's and wrk's) scaled, kernel and idle time kept,
/// the machine kept saturated. A projection, not a measurement: it tells how much of a
/// target's margin rests on user-space speed.
fn cpu_split(labels: &[&str], runs: &[Vec<WrkRun>]) {
    let per_call: Vec<Option<[f64; 5]>> = runs
        .iter()
        .map(|runs| {
            let mut split = CpuSplit::default();
            for run in runs {
                split.add(run.split.as_ref()?);
            }
            Some(split.per_call(runs.iter().map(|r| r.requests).sum()))
        })
        .collect();
    let Some(per_call) = per_call.into_iter().collect::<Option<Vec<_>>>() else {
        println!("(no /proc: no CPU split)");
        return;
    };
    println!();
    println!("CPU time per call, µs (all rounds; 1/100 s ticks):");
    println!(
        "{:<50} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "target", "srv user", "srv kern", "wrk user", "wrk kern", "idle", "projected"
    );
    let projected =
        |[su, sk, wu, wk, idle]: [f64; 5]| (su + wu) * SLOWER_USER_SPACE + sk + wk + idle;
    let base = projected(per_call[0]);
    for (label, parts) in labels.iter().zip(&per_call) {
        let [su, sk, wu, wk, idle] = *parts;
        println!(
            "{label:<50} {su:>8.2} {sk:>8.2} {wu:>8.2} {wk:>8.2} {idle:>8.2} {:>9.2}x",
            base / projected(*parts)
        );
    }
    println!(
        "projected: the ratio to hello with user-space code {SLOWER_USER_SPACE}x slower, kernel and idle time as measured"
    );
}

/// Sends push `n` and measures it; waits for its release to finish.
/// Returns (push → 202, push → first request at the sandbox, push → first apply).
async fn push(world: &mut World, n: usize) -> (Duration, Duration, Duration) {
    while world.seen.try_recv().is_ok() {}
    let mut events = world.workers.subscribe();
    let body = serde_json::json!({ "image": format!("{REPOSITORY}:v{n}") }).to_string();
    let path = format!("/hook/registry?token={}", world.follow_token);
    let answered = {
        let address = world.listener.address();
        tokio::task::spawn_blocking(move || {
            let (status, text, sent) = http(address, "POST", &path, &body);
            (status, text, sent, Instant::now())
        })
    };
    let (status, text, sent, answered_at) = answered.await.expect("push task");
    assert_eq!(status, 202, "push {n}: {text}");
    let response: serde_json::Value = serde_json::from_str(&text).expect("a JSON answer");
    let release = response["release"]["id"].as_i64().expect("a release id");

    let mut first_request = None;
    let first_apply = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let (at, apply) = world.seen.recv().await.expect("the front is up");
            first_request.get_or_insert(at);
            if apply {
                return at;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("push {n}: no apply request reached the sandbox"));

    let finished = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match events.recv().await {
                Ok(event) if event.release == release => {
                    if let Event::Finished {
                        status, message, ..
                    } = event.event
                    {
                        return (status, message);
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(error) => panic!("worker events: {error}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("push {n}: release {release} did not finish"));
    assert_eq!(finished.0, ReleaseStatus::Succeeded, "{}", finished.1);

    let first_request = first_request.unwrap_or(first_apply);
    (
        answered_at.saturating_duration_since(sent),
        first_request.saturating_duration_since(sent),
        first_apply.saturating_duration_since(sent),
    )
}

/// The latency's baseline: the least any tool that accepts a push durably and then deploys it
/// must spend, on the same machine, disk and sandbox. One POST of the same body to the bare
/// hello server on a fresh connection, one durable SQLite commit (WAL, `synchronous=FULL`)
/// of a row naming the image, then one server-side apply of a Deployment with that image
/// through the same sandbox front, timed from just before the POST to the apply's arrival at
/// the front. Its Deployment is a copy of the application's under another name, so the two
/// never touch each other's fields.
struct Baseline {
    client: kube::Client,
    database: Arc<std::sync::Mutex<rusqlite::Connection>>,
}

impl Baseline {
    fn new(world: &World) -> Baseline {
        let url = format!("http://{}", world.front).parse().expect("a URL");
        let client = kube::Client::try_from(kube::Config::new(url)).expect("a kube client");
        let database = rusqlite::Connection::open(world.dir.path().join("baseline.db"))
            .expect("the baseline's database");
        database
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                 CREATE TABLE pushes (id INTEGER PRIMARY KEY, image TEXT NOT NULL);",
            )
            .expect("the baseline's table");
        Baseline {
            client,
            database: Arc::new(std::sync::Mutex::new(database)),
        }
    }

    /// One accepted-and-applied push of tag `v{n}`.
    async fn push(&self, world: &mut World, n: usize) -> Duration {
        use k8s_openapi::api::apps::v1::Deployment;
        use kube::api::{Api, Patch, PatchParams};

        while world.seen.try_recv().is_ok() {}
        let image = format!("{REPOSITORY}:v{n}");
        let body = serde_json::json!({ "image": image }).to_string();
        let (hello, database) = (world.hello, Arc::clone(&self.database));
        let accepted = image.clone();
        let sent = tokio::task::spawn_blocking(move || {
            let (status, _, sent) = http(hello, "POST", "/hook/registry", &body);
            assert_eq!(status, 200, "hello answers");
            let database = database.lock().expect("the baseline's database");
            database
                .execute("INSERT INTO pushes (image) VALUES (?1)", [&accepted])
                .expect("a durable commit");
            sent
        })
        .await
        .expect("the baseline's accept");
        let deployment = serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "baseline", "labels": {"app": "baseline"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "baseline"}},
                "template": {
                    "metadata": {"labels": {"app": "baseline"}},
                    "spec": {"containers": [{"name": "app", "image": image}]},
                },
            },
        });
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), "default");
        api.patch(
            "baseline",
            &PatchParams::apply("bench-baseline"),
            &Patch::Apply(&deployment),
        )
        .await
        .expect("the baseline's apply");
        let applied = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let (at, apply) = world.seen.recv().await.expect("the front is up");
                if apply {
                    return at;
                }
            }
        })
        .await
        .expect("the baseline's apply reached the sandbox");
        applied.saturating_duration_since(sent)
    }
}

/// Part (b).
async fn latency(world: &mut World, test_mode: bool) {
    let pushes = if test_mode { TEST_PUSHES } else { PUSHES };
    let baseline = Baseline::new(world);
    let mut warm_up = Vec::new();
    for n in 1..=WARM_UP_PUSHES {
        warm_up.push(push(world, n).await.2);
        baseline.push(world, n).await;
    }
    let mut direct = Vec::with_capacity(pushes);
    let mut answered = Vec::with_capacity(pushes);
    let mut requested = Vec::with_capacity(pushes);
    let mut applied = Vec::with_capacity(pushes);
    let started = Instant::now();
    let cpu_before = CpuSplit::now();
    for n in WARM_UP_PUSHES + 1..=WARM_UP_PUSHES + pushes {
        let (a, r, p) = push(world, n).await;
        answered.push(a);
        requested.push(r);
        applied.push(p);
        direct.push(baseline.push(world, n).await);
    }
    let elapsed = started.elapsed();
    // In push order, in tenths: does the latency grow with the history (versions, releases,
    // access records, ReplicaSets) that every push adds?
    let tenths: Vec<String> = applied
        .chunks(pushes.div_ceil(10).max(1))
        .map(|chunk| {
            let mut chunk = chunk.to_vec();
            chunk.sort();
            format!(
                "{:.1}/{:.1}",
                ms(percentile(&chunk, 50.0)),
                ms(percentile(&chunk, 99.0))
            )
        })
        .collect();
    let cpu = CpuSplit::now()
        .zip(cpu_before)
        .map(|(after, before)| after.since(&before).shares());
    for series in [&mut answered, &mut requested, &mut applied, &mut direct] {
        series.sort();
    }
    let releases = Store::open(&world.database)
        .and_then(|s| s.releases("app", 1))
        .ok()
        .and_then(|r| r.first().map(|r| r.number))
        .unwrap_or(0);

    println!();
    println!(
        "Push -> first apply request at the sandbox: {pushes} pushes (after {WARM_UP_PUSHES} \
         warm-up), each release waited for ({:.1} s in all, {releases} releases recorded)",
        elapsed.as_secs_f64()
    );
    println!(
        "warm-up pushes (the first one is cold: new worker, client, discovery, objects created): {}",
        warm_up
            .iter()
            .map(|d| format!("{:.1} ms", ms(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some((ours, others)) = cpu {
        println!(
            "CPU of the machine during the pushes: this bench {:.0}%, other processes {:.0}%",
            ours * 100.0,
            others * 100.0
        );
    }
    println!();
    println!(
        "{:<46} {:>8} {:>8} {:>8} {:>8}",
        "from the push being sent to", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for (label, series) in [
        ("the listener's 202 answer", &answered),
        ("the first request at the sandbox", &requested),
        ("the first apply request at the sandbox", &applied),
        ("baseline: accept durably, apply directly", &direct),
    ] {
        println!(
            "{label:<46} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            ms(percentile(series, 50.0)),
            ms(percentile(series, 90.0)),
            ms(percentile(series, 99.0)),
            ms(percentile(series, 100.0))
        );
    }
    println!();
    println!(
        "push -> first apply, p50/p99 ms by tenth of the pushes, in order: {}",
        tenths.join("  ")
    );
    let (p99, base) = (percentile(&applied, 99.0), percentile(&direct, 99.0));
    let ratio = p99.as_secs_f64() / base.as_secs_f64().max(1e-9);
    println!();
    println!(
        "target (issue 4): push -> first apply p99 <= {P99_TARGET}x the baseline's p99: \
         {:.2} ms against {:.2} ms, {ratio:.2}x — {}",
        ms(p99),
        ms(base),
        verdict(test_mode, ratio <= P99_TARGET)
    );
}
