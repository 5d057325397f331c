//! Registry bench (issue 18, "A registry client"), in two parts, every figure measured in one
//! run, against Debian's `docker-registry` on loopback (plain HTTP, filesystem storage, its own
//! process).
//!
//! **Watching.** One image trigger watches 500 repositories of that registry at the shortest
//! interval the trigger accepts (5 s), and nothing in them changes. The template application
//! uses tag `1.0.0` of each; each repository has that one tag. One tiny image (see
//! [`testbed::oci_layout`]) is pushed once with `skopeo copy`; the other repositories get it
//! through the distribution API itself: both blobs mounted from the first repository, the same
//! manifest put under the new name. Requests are counted from the registry's own access log
//! (one line per request, written by the registry's process), so nothing is put between the
//! watcher and the registry and nothing in the watching process counts. The trigger starts
//! disabled; once every repository has been looked at once (its first look reads the template
//! and starts from the tag in use), the bench waits one interval and then counts over several.
//!
//! - (a) registry requests per repository per interval (per look: a look is one interval of one
//!   repository, and each begins with its tag list), target ≤ 1 when nothing changed; and
//!   that every repository was looked at in every interval (no fewer looks per repository than
//!   the window holds intervals at their longest, 5.5 s).
//! - (b) CPU time of this process per interval (`/proc/self/stat`, user + system) while
//!   watching, as a ratio to the baseline: one plain `reqwest` GET of each repository's tag list
//!   (500, eight at once, body read), the work a look cannot avoid, timed in the same run before
//!   and after the watch. Also given: the process's CPU per interval with the trigger disabled
//!   (the listener idle). No target in the issue; recorded.
//! - (c) resident memory (`VmRSS`) of this process after the counted intervals, against the
//!   same process with the trigger disabled just before. No target in the issue; recorded.
//!
//! **Verify cost.** An application on the sandbox (rollout delay zero) with two image triggers
//! on one repository of the registry, every tag followed and pinned to its digest: one verifies
//! pushes with the registry (`verify: required`), the other does not (`verify: off`). Pushes
//! alternate between them, each a generic notification `{"image":"<repo>:v<N>"}` of a tag the
//! registry has; as in the listener bench, the time runs from just before the push is sent to
//! the arrival of the release's first server-side apply request at the sandbox (seen by a front
//! that timestamps request heads), each release waited for before the next push. After each
//! pair, one plain `reqwest` `HEAD` of that tag's manifest (keep-alive, the manifest types
//! accepted) is timed: one registry round trip. Targets (issue 18): verification adds at most
//! one round trip — the p99 with verification minus the p99 without, ≤ 1.5x the HEAD's p99 —
//! and push → first apply p99 with verification stays under 20 ms (the issue's figure).
//!
//! `-- watch` or `-- verify` runs one part. `-- --test` (and `cargo test --benches`): 20
//! repositories, two counted intervals, 20 pushes of each kind; verdicts `n/a`.

#[path = "common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ms, percentile, serve, verdict};
use futures::StreamExt as _;
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use testbed::{Registry, oci_layout, require};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;
use tripline_engine::app::{ClusterRef, NewApplication, Pin, Source};
use tripline_engine::cluster::Clusters;
use tripline_engine::deploy::worker::{Event, Workers};
use tripline_engine::listener::{self, Listener, RegistryAccess};
use tripline_engine::sandbox::{Sandbox, SandboxConfig, router};
use tripline_engine::secrets::Secrets;
use tripline_engine::store::{NewTrigger, ReleaseStatus, Store};
use tripline_engine::trigger::{MIN_WATCH_INTERVAL, TagFilter, TriggerKind, Verify, service};

/// Repositories watched (real run, `--test`).
const REPOSITORIES: usize = 500;
const TEST_REPOSITORIES: usize = 20;
/// Watch intervals counted (real run, `--test`).
const INTERVALS: u32 = 6;
const TEST_INTERVALS: u32 = 2;
/// Rounds of the CPU baseline, before and after the watch each.
const BASELINE_ROUNDS: usize = 3;
/// Pushes of each kind (verified, unverified) measured, after the warm-up pushes.
const PUSHES: usize = 500;
const TEST_PUSHES: usize = 20;
const WARM_UP_PUSHES: usize = 3;
/// Looks and plain GETs in flight at once (the watcher's own bound).
const PARALLEL: usize = 8;
/// Targets.
const REQUESTS_TARGET: f64 = 1.0;
const VERIFY_TARGET: f64 = 1.5;
const VERIFY_P99_MS: f64 = 20.0;
/// The OCI manifest's media type, when the registry names none.
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// A request seen by the sandbox front: when its head arrived, and whether it was an apply.
type Seen = (Instant, bool);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // As the engine bench: `-- --test` and `cargo test --benches` (no `--bench`) are smoke runs.
    let test_mode = args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench");
    let chosen: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| ["watch", "verify"].contains(a))
        .collect();
    let wanted = |part: &str| chosen.is_empty() || chosen.contains(&part);
    if !require(Registry::IMAGE_TOOLS) {
        return ExitCode::SUCCESS;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let repositories = if test_mode {
        TEST_REPOSITORIES
    } else {
        REPOSITORIES
    };
    runtime.block_on(async {
        let mut world = World::start(repositories, test_mode).await;
        let mut met = true;
        if wanted("watch") {
            met &= watch(&mut world, test_mode).await;
        }
        if wanted("verify") {
            met &= verify(&mut world, test_mode).await;
        }
        world.stop().await;
        if met || test_mode {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
}

/// The registry, the sandbox and its front, the listener with its watcher.
struct World {
    _dir: tempfile::TempDir,
    database: PathBuf,
    registry: Registry,
    /// The watched repositories' names (`bench/r000`, …).
    repositories: Vec<String>,
    sandbox: Sandbox,
    workers: Workers,
    listener: Listener,
    cancel: CancellationToken,
    servers: JoinSet<()>,
    seen: mpsc::UnboundedReceiver<Seen>,
    /// Tokens of the triggers that verify pushes and that do not.
    verified_token: String,
    unverified_token: String,
    /// A plain client, for the baselines.
    http: reqwest::Client,
}

/// The repository of the verify part.
const APP_REPOSITORY: &str = "bench/app";

impl World {
    async fn start(count: usize, test_mode: bool) -> World {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let registry = Registry::start(None).expect("the registry starts");
        let host = registry.host();
        let http = reqwest::Client::new();

        // One image pushed with skopeo; the rest through the API (mount, put the manifest).
        let layout = dir.path().join("layout");
        oci_layout(&layout, "bench").expect("the image layout");
        registry
            .copy_image(&layout, &format!("{APP_REPOSITORY}:v0"), None)
            .expect("skopeo pushes the image");
        // The manifest as the registry has it (skopeo writes its own).
        let response = http
            .get(format!("http://{host}/v2/{APP_REPOSITORY}/manifests/v0"))
            .header(reqwest::header::ACCEPT, MANIFEST_TYPES)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("the pushed manifest");
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(OCI_MANIFEST)
            .to_owned();
        let manifest = Manifest {
            media_type,
            bytes: response.bytes().await.expect("its bytes").to_vec(),
        };
        let blobs = blobs_of(&manifest.bytes);
        let repositories: Vec<String> = (0..count).map(|i| format!("bench/r{i:03}")).collect();
        let started = Instant::now();
        let puts = futures::stream::iter(
            repositories
                .iter()
                .map(|name| put_image(&http, &host, &blobs, name, "1.0.0", &manifest)),
        )
        .buffer_unordered(PARALLEL)
        .collect::<Vec<()>>();
        puts.await;
        let pushes = if test_mode { TEST_PUSHES } else { PUSHES };
        let tags = futures::stream::iter((1..=2 * (WARM_UP_PUSHES + pushes)).map(|n| {
            let (http, host, manifest) = (&http, &host, &manifest);
            async move {
                put_manifest(http, host, APP_REPOSITORY, &format!("v{n}"), manifest).await;
            }
        }))
        .buffer_unordered(PARALLEL)
        .collect::<Vec<()>>();
        tags.await;
        println!(
            "registry bench (issue 18): docker-registry on {host}; {count} repositories and {} \
             tags put in {:.1} s; load average {}",
            2 * (WARM_UP_PUSHES + pushes),
            started.elapsed().as_secs_f64(),
            load_average()
        );

        let mut store = Store::open_dir(dir.path()).expect("the store opens");
        store
            .create_template("watched", &watched_template(&host, &repositories), "bench")
            .expect("the watched template");
        store
            .create_template("app", &app_template(&host), "bench")
            .expect("the application's template");
        for (app, template) in [("watched", "watched"), ("app", "app")] {
            store
                .create_app(&NewApplication {
                    name: app.into(),
                    cluster: ClusterRef::Sandbox,
                    namespace: "default".into(),
                    source: Source::Template {
                        template: template.into(),
                        pin: Pin::Latest,
                    },
                    prune: false,
                })
                .expect("the application");
        }
        let database = store.info().expect("store info").path;
        let secrets = Secrets::Files(dir.path().join("secrets"));
        let mut image_trigger =
            |name: &str, app: &str, repositories: Vec<String>, verify, watch| {
                service::create(
                    &mut store,
                    &secrets,
                    &NewTrigger {
                        name: name.into(),
                        app: app.into(),
                        kind: TriggerKind::Image {
                            repositories,
                            filter: TagFilter::All,
                            pin_digest: true,
                            branch: None,
                            values: None,
                            verify,
                            watch,
                            maturing: None,
                            containers: Vec::new(),
                            allow_downgrade: false,
                        },
                        signed: false,
                    },
                )
                .expect("the trigger")
                .token
            };
        let watched = repositories.iter().map(|r| format!("{host}/{r}")).collect();
        image_trigger(
            "watch",
            "watched",
            watched,
            Verify::Required,
            Some(MIN_WATCH_INTERVAL),
        );
        let app_repository = vec![format!("{host}/{APP_REPOSITORY}")];
        let verified_token = image_trigger(
            "verified",
            "app",
            app_repository.clone(),
            Verify::Required,
            None,
        );
        let unverified_token =
            image_trigger("unverified", "app", app_repository, Verify::Off, None);
        store
            .set_trigger_enabled("watch", false)
            .expect("the watch starts disabled");

        let sandbox = Sandbox::start(SandboxConfig {
            rollout_delay: Duration::ZERO,
            ..SandboxConfig::default()
        })
        .await
        .expect("the sandbox starts");
        let cancel = CancellationToken::new();
        let mut servers = JoinSet::new();
        // The sandbox front: the sandbox's router, timestamping request heads.
        let front = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let front_address = front.local_addr().expect("the front's address");
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
        let front_url = format!("http://{front_address}").parse().expect("a URL");
        let workers = Workers::new(
            database.clone(),
            Clusters::new(Some(kube::Config::new(front_url))),
            cancel.child_token(),
        )
        .expect("the workers");
        let config = listener::Config {
            listen: "127.0.0.1:0".parse().expect("an address"),
            ..listener::Config::default()
        };
        let state = listener::State::with_registry(
            config,
            database.clone(),
            secrets,
            workers.clone(),
            RegistryAccess::anonymous(),
        )
        .expect("the listener state");
        let listener = Listener::start(Arc::clone(&state), cancel.child_token())
            .await
            .expect("the listener starts");
        World {
            _dir: dir,
            database,
            registry,
            repositories,
            sandbox,
            workers,
            listener,
            cancel,
            servers,
            seen,
            verified_token,
            unverified_token,
            http,
        }
    }

    async fn stop(mut self) {
        self.listener.shutdown().await;
        self.workers.shutdown().await;
        self.cancel.cancel();
        while self.servers.join_next().await.is_some() {}
        self.sandbox.shutdown().await;
    }

    fn set_watching(&self, enabled: bool) {
        Store::open(&self.database)
            .and_then(|mut s| s.set_trigger_enabled("watch", enabled))
            .expect("the watch trigger's switch");
    }

    /// One baseline round: a plain GET of every watched repository's tag list. Its CPU time.
    async fn plain_gets(&self) -> Duration {
        let host = self.registry.host();
        let before = cpu_time();
        futures::stream::iter(self.repositories.iter().map(|name| {
            let url = format!("http://{host}/v2/{name}/tags/list?n=100");
            let http = &self.http;
            async move {
                let response = http.get(url).send().await.expect("a tag list");
                assert!(response.status().is_success(), "{}", response.status());
                response.bytes().await.expect("its body");
            }
        }))
        .buffer_unordered(PARALLEL)
        .collect::<Vec<()>>()
        .await;
        cpu_time().saturating_sub(before)
    }
}

/// The config's and layers' digests of an OCI manifest.
fn blobs_of(manifest: &[u8]) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_slice(manifest).expect("a manifest");
    std::iter::once(&value["config"])
        .chain(value["layers"].as_array().expect("layers"))
        .map(|d| d["digest"].as_str().expect("a digest").to_owned())
        .collect()
}

/// Puts the image into `name:tag`: its blobs mounted from the first repository, its manifest.
async fn put_image(
    http: &reqwest::Client,
    host: &str,
    blobs: &[String],
    name: &str,
    tag: &str,
    manifest: &Manifest,
) {
    for blob in blobs {
        let url =
            format!("http://{host}/v2/{name}/blobs/uploads/?mount={blob}&from={APP_REPOSITORY}");
        let response = http.post(url).send().await.expect("a mount");
        assert_eq!(
            response.status().as_u16(),
            201,
            "mounting {blob} into {name}"
        );
    }
    put_manifest(http, host, name, tag, manifest).await;
}

/// A manifest as the registry serves it.
struct Manifest {
    media_type: String,
    bytes: Vec<u8>,
}

async fn put_manifest(
    http: &reqwest::Client,
    host: &str,
    name: &str,
    tag: &str,
    manifest: &Manifest,
) {
    let response = http
        .put(format!("http://{host}/v2/{name}/manifests/{tag}"))
        .header(reqwest::header::CONTENT_TYPE, &manifest.media_type)
        .body(manifest.bytes.clone())
        .send()
        .await
        .expect("a manifest put");
    assert_eq!(response.status().as_u16(), 201, "{name}:{tag}");
}

/// One Deployment per watched repository, on its tag `1.0.0`.
fn watched_template(host: &str, repositories: &[String]) -> String {
    repositories
        .iter()
        .enumerate()
        .map(|(i, repository)| {
            deployment(&format!("w{i:03}"), &format!("{host}/{repository}:1.0.0"))
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

fn app_template(host: &str) -> String {
    deployment("app", &format!("{host}/{APP_REPOSITORY}:v0"))
}

fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n\
         spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    \
         metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: app\n        \
         image: {image}\n"
    )
}

/// The registry's requests, as its access log has them.
#[derive(Debug, Default)]
struct Requests {
    /// Per watched repository: (tag-list GETs answered 200, answered 304, manifest HEADs,
    /// anything else).
    by_repository: HashMap<String, [u64; 4]>,
}

impl Requests {
    /// The requests logged from byte `from` of the log on; and where the log ends.
    fn since(log: &Path, from: u64) -> (Requests, u64) {
        let mut file = std::fs::File::open(log).expect("the registry's log");
        file.seek(SeekFrom::Start(from)).expect("seek");
        let mut text = String::new();
        file.read_to_string(&mut text).expect("the log reads");
        let mut requests = Requests::default();
        // Combined log format: `127.0.0.1 - - [date] "GET /v2/<name>/tags/list?n=100 HTTP/1.1" 200 …`.
        for line in text.lines() {
            let mut quoted = line.split('"');
            let (Some(_), Some(request), Some(rest)) =
                (quoted.next(), quoted.next(), quoted.next())
            else {
                continue;
            };
            let mut parts = request.split(' ');
            let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Some(path) = path.strip_prefix("/v2/") else {
                continue;
            };
            let status = rest.split_whitespace().next().unwrap_or("");
            let (name, kind) = if let Some((name, _)) = path.split_once("/tags/list") {
                (name, if status == "304" { 1 } else { 0 })
            } else if let Some((name, _)) = path.split_once("/manifests/") {
                (name, if method == "HEAD" { 2 } else { 3 })
            } else {
                (path.split("/blobs/").next().unwrap_or(path), 3)
            };
            if name.starts_with("bench/r") {
                requests.by_repository.entry(name.to_owned()).or_default()[kind] += 1;
            }
        }
        (requests, from + text.len() as u64)
    }

    fn total(&self) -> [u64; 4] {
        self.by_repository.values().fold([0; 4], |mut sum, counts| {
            for (s, c) in sum.iter_mut().zip(counts) {
                *s += c;
            }
            sum
        })
    }
}

fn log_length(log: &Path) -> u64 {
    std::fs::metadata(log).map_or(0, |m| m.len())
}

/// Part (1): watching with nothing changing.
async fn watch(world: &mut World, test_mode: bool) -> bool {
    let interval = Duration::from_secs(u64::from(MIN_WATCH_INTERVAL));
    let intervals = if test_mode { TEST_INTERVALS } else { INTERVALS };
    let count = world.repositories.len();
    let log = world.registry.log_path();

    // The baseline, first round (the client's pool warmed by one round not counted).
    world.plain_gets().await;
    let mut baseline = Vec::new();
    for _ in 0..BASELINE_ROUNDS {
        baseline.push(world.plain_gets().await);
    }
    // The process without watching: one interval with the trigger disabled.
    let idle_from = cpu_time();
    tokio::time::sleep(interval).await;
    let idle = cpu_time().saturating_sub(idle_from);
    let rss_without = rss_kib();

    // Watching: wait for every repository's first look, then one more interval.
    let start = log_length(&log);
    world.set_watching(true);
    let enabled = Instant::now();
    loop {
        let (seen, _) = Requests::since(&log, start);
        if seen.by_repository.len() >= count {
            break;
        }
        assert!(
            enabled.elapsed() < Duration::from_secs(600),
            "after 10 minutes only {} of {count} repositories were looked at",
            seen.by_repository.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let first_looks = enabled.elapsed();
    tokio::time::sleep(interval).await;

    let from = log_length(&log);
    let rss_started = rss_kib();
    let machine_before = MachineCpu::now();
    let cpu_before = cpu_time();
    let window_started = Instant::now();
    tokio::time::sleep(interval * intervals).await;
    let window = window_started.elapsed();
    let watching = cpu_time().saturating_sub(cpu_before);
    let machine = MachineCpu::now()
        .zip(machine_before)
        .map(|(after, before)| after.since(&before));
    let (counted, _) = Requests::since(&log, from);
    let rss_with = rss_kib();
    world.set_watching(false);
    // Let looks in flight end before the baseline's second half.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..BASELINE_ROUNDS {
        baseline.push(world.plain_gets().await);
    }

    let per_interval = window.as_secs_f64() / interval.as_secs_f64();
    let [listed, unchanged, heads, other] = counted.total();
    let requests = listed + unchanged + heads + other;
    // Every look of this trigger (every tag followed) begins with one tag list: the looks.
    let looked = listed + unchanged;
    let per_look = requests as f64 / (looked as f64).max(1.0);
    let per_repository = requests as f64 / count as f64 / per_interval;
    let looks_per_interval = looked as f64 / count as f64 / per_interval;
    let mut looks: Vec<u64> = world
        .repositories
        .iter()
        .map(|r| counted.by_repository.get(r).map_or(0, |c| c[0] + c[1]))
        .collect();
    looks.sort_unstable();
    // At its longest (jitter +10 %) an interval is 5.5 s: the window holds at least this many.
    let floor = (window.as_secs_f64() / (interval.as_secs_f64() * 1.1)).floor() as u64;
    let covered = looks.first().copied().unwrap_or(0) >= floor;

    let baseline_cpu = median_duration(&baseline);
    let watching_per_interval = watching.as_secs_f64() / per_interval;
    let idle_per_interval = idle.as_secs_f64();
    let cpu_ratio = watching_per_interval / baseline_cpu.as_secs_f64().max(1e-9);

    println!();
    println!(
        "Watching {count} repositories every {}s, nothing changing: first looks of all done {:.1} s \
         after the trigger was enabled; counted over {:.1} s ({per_interval:.2} intervals)",
        MIN_WATCH_INTERVAL,
        first_looks.as_secs_f64(),
        window.as_secs_f64()
    );
    if let Some(machine) = machine {
        println!(
            "CPU of the machine during the count: this process {:.0}%, other processes {:.0}% \
             (of {} CPUs)",
            machine.ours * 100.0,
            machine.others * 100.0,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    println!(
        "registry requests: {requests} ({listed} tag lists answered 200, {unchanged} answered 304, \
         {heads} manifest HEADs, {other} other)"
    );
    println!(
        "tag lists per repository in the window: min {}, median {}, max {} (at least {floor} \
         intervals fit in it)",
        looks.first().copied().unwrap_or(0),
        looks.get(looks.len() / 2).copied().unwrap_or(0),
        looks.last().copied().unwrap_or(0)
    );
    println!(
        "looks per repository per {}s: {looks_per_interval:.3} (each interval jittered \
         0.9-1.1x); requests per repository per {}s: {per_repository:.3}",
        MIN_WATCH_INTERVAL, MIN_WATCH_INTERVAL
    );
    println!();
    println!(
        "target (issue 18): registry requests per repository per interval (per look) <= \
         {REQUESTS_TARGET}: {per_look:.3} — {}",
        verdict(test_mode, per_look <= REQUESTS_TARGET)
    );
    println!(
        "every repository looked at in every interval (>= {floor} tag lists each): min {} — {}",
        looks.first().copied().unwrap_or(0),
        verdict(test_mode, covered)
    );
    println!(
        "CPU per interval: watching {:.1} ms; with the trigger disabled {:.1} ms; baseline, \
         {count} plain GETs of the tag lists, {:.1} ms (median of {} rounds: {}); watching / \
         baseline {cpu_ratio:.2}x — recorded (no target)",
        watching_per_interval * 1e3,
        idle_per_interval * 1e3,
        baseline_cpu.as_secs_f64() * 1e3,
        baseline.len(),
        baseline
            .iter()
            .map(|d| format!("{:.0}", d.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let growth = rss_with as f64 - rss_without as f64;
    println!(
        "resident memory: {:.1} MiB with the trigger disabled, {:.1} MiB after watching, {:+.1} \
         MiB ({:+.1} KiB per repository, {:.3}x; {:+.1} MiB of it during the counted \
         intervals) — recorded (no target)",
        rss_without as f64 / 1024.0,
        rss_with as f64 / 1024.0,
        growth / 1024.0,
        growth / count as f64,
        rss_with as f64 / (rss_without as f64).max(1.0),
        (rss_with as f64 - rss_started as f64) / 1024.0
    );
    (per_look <= REQUESTS_TARGET) && covered
}

/// Sends a push of `tag` with `token` and waits for its release; push → first apply.
async fn push(world: &mut World, token: &str, tag: &str) -> Duration {
    while world.seen.try_recv().is_ok() {}
    let mut events = world.workers.subscribe();
    let host = world.registry.host();
    let body = serde_json::json!({ "image": format!("{host}/{APP_REPOSITORY}:{tag}") }).to_string();
    let path = format!("/hook/registry?token={token}");
    let address = world.listener.address();
    let (status, text, sent) = tokio::task::spawn_blocking(move || http(address, &path, &body))
        .await
        .expect("push task");
    assert_eq!(status, 202, "push {tag}: {text}");
    let response: serde_json::Value = serde_json::from_str(&text).expect("a JSON answer");
    let release = response["release"]["id"].as_i64().expect("a release id");
    let applied = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let (at, apply) = world.seen.recv().await.expect("the front is up");
            if apply {
                return at;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("push {tag}: no apply request reached the sandbox"));
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
    .unwrap_or_else(|_| panic!("push {tag}: release {release} did not finish"));
    assert_eq!(finished.0, ReleaseStatus::Succeeded, "{}", finished.1);
    applied.saturating_duration_since(sent)
}

/// One HTTP/1.1 POST over a fresh connection (`Connection: close`), blocking: the status, the
/// body, and when the first byte was about to be sent.
fn http(address: SocketAddr, path: &str, body: &str) -> (u16, String, Instant) {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
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

/// One plain HEAD of a manifest: one registry round trip.
async fn head(world: &World, tag: &str) -> Duration {
    let url = format!(
        "http://{}/v2/{APP_REPOSITORY}/manifests/{tag}",
        world.registry.host()
    );
    let started = Instant::now();
    let response = world
        .http
        .head(url)
        .header(reqwest::header::ACCEPT, MANIFEST_TYPES)
        .send()
        .await
        .expect("a HEAD");
    let took = started.elapsed();
    assert!(response.status().is_success(), "{}", response.status());
    took
}

/// Part (2): what verification adds to push → first apply.
async fn verify(world: &mut World, test_mode: bool) -> bool {
    let pushes = if test_mode { TEST_PUSHES } else { PUSHES };
    let (verified_token, unverified_token) =
        (world.verified_token.clone(), world.unverified_token.clone());
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("v{n}")
    };
    let mut warm_up = Vec::new();
    for _ in 0..WARM_UP_PUSHES {
        warm_up.push(push(world, &verified_token, &next()).await);
        push(world, &unverified_token, &next()).await;
        head(world, "v1").await;
    }
    let (mut verified, mut unverified, mut heads) = (Vec::new(), Vec::new(), Vec::new());
    let machine_before = MachineCpu::now();
    let started = Instant::now();
    for i in 0..pushes {
        // Which goes first alternates, so that neither always follows the other.
        let (a, b) = (next(), next());
        if i % 2 == 0 {
            verified.push(push(world, &verified_token, &a).await);
            unverified.push(push(world, &unverified_token, &b).await);
        } else {
            unverified.push(push(world, &unverified_token, &a).await);
            verified.push(push(world, &verified_token, &b).await);
        }
        heads.push(head(world, &a).await);
    }
    let elapsed = started.elapsed();
    let machine = MachineCpu::now()
        .zip(machine_before)
        .map(|(after, before)| after.since(&before));
    for series in [&mut verified, &mut unverified, &mut heads] {
        series.sort();
    }
    println!();
    println!(
        "Push -> first apply request at the sandbox: {pushes} pushes verified and {pushes} not, \
         alternating (after {WARM_UP_PUSHES} warm-up pairs), each release waited for ({:.1} s \
         in all)",
        elapsed.as_secs_f64()
    );
    println!(
        "warm-up pushes with verification (the first is cold): {}",
        warm_up
            .iter()
            .map(|d| format!("{:.1} ms", ms(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(machine) = machine {
        println!(
            "CPU of the machine during the pushes: this process {:.0}%, other processes {:.0}%",
            machine.ours * 100.0,
            machine.others * 100.0
        );
    }
    println!();
    println!(
        "{:<46} {:>8} {:>8} {:>8} {:>8}",
        "", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for (label, series) in [
        ("push -> first apply, verify: required", &verified),
        ("push -> first apply, verify: off", &unverified),
        ("one manifest HEAD (plain reqwest)", &heads),
    ] {
        println!(
            "{label:<46} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            ms(percentile(series, 50.0)),
            ms(percentile(series, 90.0)),
            ms(percentile(series, 99.0)),
            ms(percentile(series, 100.0))
        );
    }
    let added = |p: f64| ms(percentile(&verified, p)) - ms(percentile(&unverified, p));
    let head_p = |p: f64| ms(percentile(&heads, p)).max(1e-6);
    let (ratio99, ratio50) = (added(99.0) / head_p(99.0), added(50.0) / head_p(50.0));
    let p99 = ms(percentile(&verified, 99.0));
    println!();
    println!(
        "added by verification: p50 {:+.2} ms ({ratio50:.2}x a HEAD's p50), p99 {:+.2} ms",
        added(50.0),
        added(99.0)
    );
    println!(
        "target (issue 18): verification adds at most one round trip: p99 difference <= \
         {VERIFY_TARGET}x a HEAD's p99: {ratio99:.2}x — {}",
        verdict(test_mode, ratio99 <= VERIFY_TARGET)
    );
    println!(
        "target (issue 18): push -> first apply p99 with verification < {VERIFY_P99_MS} ms: \
         {p99:.2} ms — {}",
        verdict(test_mode, p99 < VERIFY_P99_MS)
    );
    ratio99 <= VERIFY_TARGET && p99 < VERIFY_P99_MS
}

/// User and system CPU time of this process, threads that ended included.
fn cpu_time() -> Duration {
    let ticks = own_ticks().unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / USER_HZ)
}

/// `/proc/self/stat`'s utime + stime, in clock ticks.
fn own_ticks() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<u64> = own
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    Some(fields.iter().sum())
}

/// The kernel's clock ticks per second for `/proc` (USER_HZ; 100 on Linux).
const USER_HZ: f64 = 100.0;

/// This process's resident set, in KiB (`VmRSS`).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The machine's busy and total ticks and this process's, to tell how busy the others were.
struct MachineCpu {
    total: u64,
    busy: u64,
    ours: u64,
}

/// Shares of the machine's CPU time over a span.
struct Shares {
    ours: f64,
    others: f64,
}

impl MachineCpu {
    fn now() -> Option<MachineCpu> {
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
        Some(MachineCpu {
            total,
            busy: total - idle,
            ours: own_ticks()?,
        })
    }

    fn since(&self, before: &MachineCpu) -> Shares {
        let total = self.total.saturating_sub(before.total).max(1) as f64;
        let ours = self.ours.saturating_sub(before.ours) as f64;
        let busy = self.busy.saturating_sub(before.busy) as f64;
        Shares {
            ours: ours / total,
            others: (busy - ours).max(0.0) / total,
        }
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn median_duration(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}
