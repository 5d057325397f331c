//! Deploy benchmark (issue 3, "Deploys"): a 50-resource template applied to the sandbox by
//! Tripline, against `kubectl apply --server-side` of the same manifests to the same sandbox,
//! in the same run.
//!
//! One sandbox (rollout delay zero) serves every measurement. The template holds 20
//! ConfigMaps, 15 Services and 15 Deployments in `default`. Every measurement applies a new
//! stamp to every object (a ConfigMap value, a Service annotation, a Deployment pod-template
//! annotation, so each Deployment also rolls out), so every apply is a real change. The
//! Deployments keep two old ReplicaSets (`revisionHistoryLimit: 2`): the sandbox's controller
//! scans a namespace's ReplicaSets on every Deployment change, so with the default ten the
//! hundreds of old ones slow every later round, for both sides, and bury the figures in noise.
//! Tripline and kubectl apply the same text to two sets of objects (`tl-*` and `kc-*`), so
//! neither meets the other's field manager. Each round runs these in a new (seeded, so
//! repeatable) random order, so that none always follows the same neighbour:
//!
//! - `kubectl apply --server-side --force-conflicts -f` (a new process each time, with its
//!   discovery and OpenAPI disk cache warm, as on a workstation) — the baseline. When the
//!   `kubectl` on `PATH` is Google Cloud SDK's version dispatcher, the binary it dispatches to
//!   is the baseline and the dispatcher is reported too;
//! - Tripline with a fresh `kube::Client` and [`Deployer`] each time (discovery from scratch);
//! - Tripline with one reused [`Deployer`] (discovery cached, as a deploy worker does);
//! - the reused [`Deployer`] with `wait: true` (rollouts waited for), for information;
//! - a bare loop of 50 server-side applies through `kube::Api`, the floor for serial applies.
//!
//! Tripline's figures include parsing the template. Each figure is a median; the ratios are
//! to the kubectl median. Then the bench profiles where the time goes: kubectl's requests
//! (from its `-v=6` log), its start-up cost, Tripline's discovery cost and the sandbox's
//! latency per apply.
//!
//! `-- --test` (CI) runs two rounds. Without kubectl the comparison is skipped: exit 0 with
//! `--test`, 1 otherwise. Target (issue 3): Tripline / kubectl <= 1.0x.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use tripline_engine::deploy::{Deployer, Options, Plan, Progress};
use tripline_engine::sandbox::{Sandbox, SandboxConfig};
use tripline_engine::template::Manifest;

const CONFIG_MAPS: usize = 20;
const SERVICES: usize = 15;
const DEPLOYMENTS: usize = 15;
/// Measured rounds (real run).
const ROUNDS: usize = 15;
/// Measured rounds in `--test` mode.
const TEST_ROUNDS: usize = 2;
/// Pause after each measurement, so the controller's rollouts of one do not land in the next.
const SETTLE: Duration = Duration::from_millis(750);
/// The spacing of the spaced-out applies in the profile.
const GAP: Duration = Duration::from_millis(50);
/// The pause in `--test` mode.
const TEST_SETTLE: Duration = Duration::from_millis(200);
/// The target: Tripline's time over kubectl's.
const TARGET: f64 = 1.0;

/// One deploy of the template, `stamp` making every object differ from the last deploy.
fn manifest(prefix: &str, stamp: usize) -> String {
    let mut docs = Vec::new();
    for i in 0..CONFIG_MAPS {
        docs.push(format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {prefix}-config-{i}\ndata:\n  \
             stamp: \"{stamp}\"\n  greeting: hello\n  settings.yaml: |\n    level: info\n    \
             replicas: 3\n"
        ));
    }
    for i in 0..SERVICES {
        docs.push(format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {prefix}-svc-{i}\n  annotations:\n    \
             bench.tripline.dev/stamp: \"{stamp}\"\nspec:\n  selector:\n    app: {prefix}-web-{i}\n  \
             ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n"
        ));
    }
    for i in 0..DEPLOYMENTS {
        docs.push(format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {prefix}-web-{i}\n  labels:\n    \
             app: {prefix}-web-{i}\nspec:\n  replicas: 1\n  revisionHistoryLimit: 2\n  selector:\n    matchLabels:\n      \
             app: {prefix}-web-{i}\n  template:\n    metadata:\n      labels:\n        \
             app: {prefix}-web-{i}\n      annotations:\n        bench.tripline.dev/stamp: \"{stamp}\"\n    \
             spec:\n      containers:\n      - name: web\n        image: registry.example/web:1.{i}\n        \
             ports:\n        - containerPort: 8080\n        resources:\n          requests:\n            \
             cpu: 10m\n            memory: 16Mi\n"
        ));
    }
    docs.join("---\n")
}

/// The measurements, in the order of the first round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Kubectl,
    Dispatcher,
    Fresh,
    Reused,
    ReusedWait,
    RawLoop,
}

impl Measure {
    fn label(self) -> &'static str {
        match self {
            Measure::Kubectl => "kubectl apply --server-side (baseline)",
            Measure::Dispatcher => "kubectl via the gcloud dispatcher",
            Measure::Fresh => "tripline, fresh client + Deployer",
            Measure::Reused => "tripline, reused Deployer",
            Measure::ReusedWait => "tripline, reused Deployer, wait=true",
            Measure::RawLoop => "bare kube::Api apply loop (floor)",
        }
    }
}

/// How to run kubectl: the binary, its kubeconfig, and a home for its caches.
struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    home: PathBuf,
}

impl Kubectl {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home)
            .env("KUBECACHEDIR", self.home.join("cache"))
            .stdin(Stdio::null());
        command
    }

    /// Runs kubectl off the runtime (the sandbox serves on it meanwhile); the output.
    async fn run(&self, args: &[&str]) -> std::process::Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output().expect("kubectl runs"))
            .await
            .expect("kubectl task")
    }

    /// `kubectl apply --server-side` of `file`; its wall time.
    async fn apply(&self, file: &Path) -> Duration {
        let file = file.to_string_lossy().into_owned();
        let args = ["apply", "--server-side", "--force-conflicts", "-f", &file];
        let started = Instant::now();
        let output = self.run(&args).await;
        let elapsed = started.elapsed();
        assert!(
            output.status.success(),
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        elapsed
    }
}

/// kubectl on `PATH`, else `/usr/bin/kubectl`.
fn find_kubectl() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("kubectl"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let fallback = PathBuf::from("/usr/bin/kubectl");
        fallback.is_file().then_some(fallback)
    })
}

/// When `kubectl` is Google Cloud SDK's dispatcher (`Client Version: v1.32.4-dispatcher`),
/// the versioned binary beside it that it would run for a server of `minor`.
fn dispatched_binary(kubectl: &Path, minor: &str) -> Option<PathBuf> {
    let output = Command::new(kubectl)
        .args(["version", "--client"])
        .output()
        .ok()?;
    if !String::from_utf8_lossy(&output.stdout).contains("dispatcher") {
        return None;
    }
    let real = std::fs::canonicalize(kubectl).ok()?;
    let minor: String = minor.chars().filter(char::is_ascii_digit).collect();
    let candidate = real.parent()?.join(format!("kubectl.1.{minor}"));
    candidate.is_file().then_some(candidate)
}

/// CPU time of the whole machine and of this process (with the children it has waited for),
/// from Linux's `/proc`, in clock ticks.
struct CpuTimes {
    total: u64,
    busy: u64,
    ours: u64,
}

impl CpuTimes {
    /// `None` where there is no `/proc`.
    fn now() -> Option<CpuTimes> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        // cpu  user nice system idle iowait irq softirq steal
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .take(8)
            .filter_map(|f| f.parse().ok())
            .collect();
        let total = ticks.iter().sum();
        let idle = ticks.get(3)? + ticks.get(4)?;
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        // After the command name: state (field 3) … utime (14), stime, cutime, cstime (17).
        let fields: Vec<&str> = own.rsplit_once(')')?.1.split_whitespace().collect();
        let ours = fields
            .get(11..15)?
            .iter()
            .filter_map(|f| f.parse::<u64>().ok())
            .sum();
        Some(CpuTimes {
            total,
            busy: total - idle,
            ours,
        })
    }

    /// Since `before`: the share of the machine this process used, and the share others did.
    fn since(&self, before: &CpuTimes) -> (f64, f64) {
        let total = self.total.saturating_sub(before.total).max(1) as f64;
        let busy = self.busy.saturating_sub(before.busy) as f64;
        let ours = self.ours.saturating_sub(before.ours) as f64;
        (ours / total, (busy - ours).max(0.0) / total)
    }
}

/// `0..n` in a new order (Fisher–Yates with xorshift64: the same orders every run).
fn shuffled(n: usize, state: &mut u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        order.swap(i, (*state % (i as u64 + 1)) as usize);
    }
    order
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let n = sorted.len();
    if n == 0 {
        Duration::ZERO
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Deploys `text` with `deployer`; the wall time including the template parse.
async fn tripline_deploy(deployer: &Deployer, text: &str, wait: bool) -> Duration {
    let started = Instant::now();
    let manifest = Manifest::parse(text).expect("the bench template parses");
    let plan = Plan {
        app: "bench",
        namespace: "default",
        manifest: &manifest,
        prune_from: None,
    };
    let options = Options {
        wait,
        timeout: Duration::from_secs(60),
        ..Options::default()
    };
    let progress = |_: Progress| {};
    let outcomes = deployer
        .deploy(&plan, &options, &progress)
        .await
        .unwrap_or_else(|failure| panic!("deploy failed: {failure}"));
    let elapsed = started.elapsed();
    assert_eq!(outcomes.len(), CONFIG_MAPS + SERVICES + DEPLOYMENTS);
    elapsed
}

/// The floor: the same objects applied one after another through `kube::Api`, no discovery,
/// no namespace check, no labels.
async fn raw_loop(client: &kube::Client, text: &str) -> Duration {
    let started = Instant::now();
    let manifest = Manifest::parse(text).expect("the bench template parses");
    let params = PatchParams::apply("bench-raw").force();
    for document in manifest.documents() {
        let resource = api_resource(&document.id.api_version, &document.id.kind);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
        api.patch(&document.id.name, &params, &Patch::Apply(&document.value))
            .await
            .expect("raw apply");
    }
    started.elapsed()
}

fn api_resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let plural = format!("{}s", kind.to_ascii_lowercase());
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural)
}

fn main() -> ExitCode {
    let test_mode = std::env::args().any(|a| a == "--test");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(test_mode))
}

async fn run(test_mode: bool) -> ExitCode {
    let Some(kubectl_on_path) = find_kubectl() else {
        println!("deploy bench: kubectl is not installed; the comparison with kubectl is skipped");
        return if test_mode {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    };
    let (rounds, settle) = if test_mode {
        (TEST_ROUNDS, TEST_SETTLE)
    } else {
        (ROUNDS, SETTLE)
    };

    let sandbox = Sandbox::start(SandboxConfig {
        rollout_delay: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await
    .expect("the sandbox starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sandbox.kubeconfig()).expect("write the kubeconfig");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("kubectl's home");
    let config = sandbox.client_config();
    let client = kube::Client::try_from(config.clone()).expect("a client");
    let server = client.apiserver_version().await.expect("/version");

    let direct = dispatched_binary(&kubectl_on_path, &server.minor);
    let kubectl = Kubectl {
        binary: direct.clone().unwrap_or_else(|| kubectl_on_path.clone()),
        kubeconfig: kubeconfig.clone(),
        home: home.clone(),
    };
    let dispatcher = direct.as_ref().map(|_| Kubectl {
        binary: kubectl_on_path.clone(),
        kubeconfig,
        home,
    });
    let mut order = vec![
        Measure::Kubectl,
        Measure::Fresh,
        Measure::Reused,
        Measure::ReusedWait,
        Measure::RawLoop,
    ];
    if dispatcher.is_some() {
        order.insert(1, Measure::Dispatcher);
    }
    let reused = Deployer::new(client.clone());
    let file = dir.path().join("manifests.yaml");

    let cpu_before = CpuTimes::now();
    // Round 0 is a warm-up: it creates the objects and fills kubectl's disk cache and the
    // reused Deployer's discovery cache.
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); order.len()];
    let mut stamp = 0;
    let mut random = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..=rounds {
        for index in shuffled(order.len(), &mut random) {
            stamp += 1;
            let elapsed = match order[index] {
                Measure::Kubectl | Measure::Dispatcher => {
                    std::fs::write(&file, manifest("kc", stamp)).expect("write the manifests");
                    let runner = match order[index] {
                        Measure::Kubectl => &kubectl,
                        _ => dispatcher.as_ref().expect("the dispatcher is measured"),
                    };
                    runner.apply(&file).await
                }
                Measure::Fresh => {
                    let text = manifest("tl", stamp);
                    let started = Instant::now();
                    let fresh =
                        Deployer::new(kube::Client::try_from(config.clone()).expect("a client"));
                    let setup = started.elapsed();
                    setup + tripline_deploy(&fresh, &text, false).await
                }
                Measure::Reused => tripline_deploy(&reused, &manifest("tl", stamp), false).await,
                Measure::ReusedWait => tripline_deploy(&reused, &manifest("tl", stamp), true).await,
                Measure::RawLoop => raw_loop(&client, &manifest("rw", stamp)).await,
            };
            if round > 0 {
                times[index].push(elapsed);
            }
            tokio::time::sleep(settle).await;
        }
    }

    let cpu = CpuTimes::now()
        .zip(cpu_before)
        .map(|(after, before)| after.since(&before));
    let medians: Vec<Duration> = times.iter().map(|t| median(t)).collect();
    let baseline = medians[0];
    println!();
    println!(
        "Deploy of {} resources ({CONFIG_MAPS} ConfigMaps, {SERVICES} Services, {DEPLOYMENTS} \
         Deployments) to the sandbox, rollout delay 0, {rounds} rounds{}",
        CONFIG_MAPS + SERVICES + DEPLOYMENTS,
        if test_mode { " (--test)" } else { "" }
    );
    println!(
        "baseline: {} (server v{}.{})",
        kubectl.binary.display(),
        server.major,
        server.minor
    );
    if let Some((ours, others)) = cpu {
        println!(
            "CPU of the machine during the rounds: this bench with its kubectl runs {:.0}%, \
             other processes {:.0}%",
            ours * 100.0,
            others * 100.0
        );
    }
    println!();
    println!(
        "{:<42} {:>10} {:>10} {:>10} {:>12}",
        "measurement", "median ms", "min ms", "max ms", "vs kubectl"
    );
    for (i, measure) in order.iter().enumerate() {
        let min = times[i].iter().min().copied().unwrap_or_default();
        let max = times[i].iter().max().copied().unwrap_or_default();
        println!(
            "{:<42} {:>10.1} {:>10.1} {:>10.1} {:>11.2}x",
            measure.label(),
            ms(medians[i]),
            ms(min),
            ms(max),
            medians[i].as_secs_f64() / baseline.as_secs_f64()
        );
    }
    println!();
    println!("every round, in ms (each round runs the measurements in a shuffled order):");
    for (i, measure) in order.iter().enumerate() {
        let all: Vec<String> = times[i].iter().map(|t| format!("{:.0}", ms(*t))).collect();
        println!("  {:<42} {}", measure.label(), all.join(" "));
    }
    let ratio_of = |m: Measure| {
        let i = order.iter().position(|o| *o == m).expect("measured");
        medians[i].as_secs_f64() / baseline.as_secs_f64()
    };
    // Round by round, each Tripline figure over the kubectl figure of the same round (taken
    // seconds apart), so that load from outside the bench hits both sides of a ratio alike.
    let paired = |m: Measure| {
        let i = order.iter().position(|o| *o == m).expect("measured");
        let ratios: Vec<f64> = times[i]
            .iter()
            .zip(&times[0])
            .map(|(t, k)| t.as_secs_f64() / k.as_secs_f64())
            .collect();
        let mut sorted = ratios.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    println!();
    for (what, measure) in [
        ("fresh Deployer", Measure::Fresh),
        ("reused Deployer", Measure::Reused),
    ] {
        let ratio = ratio_of(measure);
        println!(
            "target (issue 3): tripline ({what}) / kubectl <= {TARGET:.1}x: {ratio:.2}x of \
             medians, {:.2}x median of per-round ratios — {}",
            paired(measure),
            if ratio <= TARGET { "met" } else { "MISSED" }
        );
    }

    profile(
        &kubectl, &config, &client, &file, test_mode, &medians, &order,
    )
    .await;
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}

/// Where the time goes: kubectl's requests and start-up, Tripline's discovery, the sandbox's
/// latency per apply.
async fn profile(
    kubectl: &Kubectl,
    config: &kube::Config,
    client: &kube::Client,
    file: &Path,
    test_mode: bool,
    medians: &[Duration],
    order: &[Measure],
) {
    let samples = if test_mode { 3 } else { 10 };
    println!();
    println!("Where the time goes");

    // kubectl: which requests (applying a new stamp, so every PATCH is a real change), and how
    // long the process takes when it sends none.
    std::fs::write(file, manifest("kc", usize::MAX)).expect("write the manifests");
    let path = file.to_string_lossy().into_owned();
    let args = [
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        &path,
        "-v=6",
    ];
    let verbose = kubectl.run(&args).await;
    let log = String::from_utf8_lossy(&verbose.stderr);
    let mut requests: Vec<(String, usize)> = Vec::new();
    let mut patch_latency = Vec::new();
    for line in log.lines().filter(|l| l.contains("\"Response\" verb=")) {
        let millis = line
            .split("milliseconds=")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<u64>().ok());
        let verb = line
            .split("verb=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("?");
        let url = line
            .split("url=\"")
            .nth(1)
            .and_then(|rest| rest.split(['?', '"']).next())
            .unwrap_or("?");
        if verb == "PATCH"
            && let Some(millis) = millis
        {
            patch_latency.push(Duration::from_millis(millis));
        }
        let key = if verb == "GET" {
            format!("GET {}", url.split_once("//").map_or(url, |(_, r)| r))
        } else {
            verb.to_owned()
        };
        match requests.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => requests.push((key, 1)),
        }
    }
    let total: usize = requests.iter().map(|(_, n)| n).sum();
    println!("  kubectl requests per apply (from -v=6): {total}");
    for (key, n) in &requests {
        println!("    {n:>3} x {key}");
    }
    println!(
        "  kubectl's PATCH round trips as it logs them (whole ms): median {:.0} ms, sum {:.0} ms",
        ms(median(&patch_latency)),
        ms(patch_latency.iter().sum())
    );
    let mut startup = Vec::new();
    for _ in 0..samples {
        let started = Instant::now();
        let output = kubectl.run(&["version", "--client"]).await;
        startup.push(started.elapsed());
        assert!(output.status.success());
    }
    println!(
        "  kubectl process start-up (`kubectl version --client`, no request): median {:.1} ms",
        ms(median(&startup))
    );

    // Tripline: a fresh client, and its discovery (what a fresh Deployer pays first).
    let mut discovery = Vec::new();
    let mut creation = Vec::new();
    for _ in 0..samples {
        let started = Instant::now();
        let fresh = kube::Client::try_from(config.clone()).expect("a client");
        creation.push(started.elapsed());
        let started = Instant::now();
        for (group, version, kind) in [
            ("", "v1", "ConfigMap"),
            ("", "v1", "Service"),
            ("apps", "v1", "Deployment"),
        ] {
            kube::discovery::pinned_kind(&fresh, &GroupVersionKind::gvk(group, version, kind))
                .await
                .expect("discovery");
        }
        discovery.push(started.elapsed());
    }
    println!(
        "  tripline: kube::Client::try_from (TLS set-up included): median {:.1} ms",
        ms(median(&creation))
    );
    println!(
        "  tripline discovery, fresh client (3 kinds, 3 requests): median {:.1} ms",
        ms(median(&discovery))
    );

    // The sandbox: one request's round trip.
    let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), "default");
    let mut gets = Vec::new();
    for _ in 0..samples * 10 {
        let started = Instant::now();
        configmaps.get("tl-config-0").await.expect("get");
        gets.push(started.elapsed());
    }
    println!(
        "  sandbox GET of one ConfigMap, kube client: median {:.2} ms",
        ms(median(&gets))
    );
    // The sandbox: one apply's round trip, by kind, back to back and then 50 ms apart (a
    // Deployment's apply also wakes the controller, which rolls it out on the same runtime;
    // spaced out, an apply does not meet the rollout of the one before).
    let params = PatchParams::apply("bench-raw").force();
    for (gap, stamp) in [(Duration::ZERO, usize::MAX), (GAP, usize::MAX - 1)] {
        tokio::time::sleep(SETTLE).await;
        let text = manifest("rw", stamp);
        let manifest = Manifest::parse(&text).expect("the bench template parses");
        let mut by_kind: Vec<(String, Vec<Duration>)> = Vec::new();
        for document in manifest.documents() {
            let resource = api_resource(&document.id.api_version, &document.id.kind);
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), "default", &resource);
            tokio::time::sleep(gap).await;
            let started = Instant::now();
            api.patch(&document.id.name, &params, &Patch::Apply(&document.value))
                .await
                .expect("raw apply");
            let elapsed = started.elapsed();
            match by_kind.iter_mut().find(|(k, _)| *k == document.id.kind) {
                Some((_, times)) => times.push(elapsed),
                None => by_kind.push((document.id.kind.clone(), vec![elapsed])),
            }
        }
        let spacing = if gap.is_zero() {
            "back to back".to_owned()
        } else {
            format!("{} ms apart", gap.as_millis())
        };
        for (kind, times) in &by_kind {
            println!(
                "  sandbox server-side apply of one {kind} ({spacing}): median {:.2} ms, max {:.2} ms",
                ms(median(times)),
                ms(times.iter().max().copied().unwrap_or_default())
            );
        }
    }
    // The same Deployment applies from another process (curl), which does not share the
    // sandbox's runtime: curl's own timer, from connect to the last byte.
    let mut curl = Vec::new();
    let base = config.cluster_url.to_string();
    let text = manifest("rw", usize::MAX - 2);
    let manifest = Manifest::parse(&text).expect("the bench template parses");
    for document in manifest
        .documents()
        .iter()
        .filter(|d| d.id.kind == "Deployment")
    {
        let url = format!(
            "{}/apis/apps/v1/namespaces/default/deployments/{}?fieldManager=bench-raw&force=true",
            base.trim_end_matches('/'),
            document.id.name
        );
        let body = document.value.to_string();
        let output = tokio::task::spawn_blocking(move || {
            Command::new("curl")
                .args(["-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}"])
                .args(["-X", "PATCH", "-H"])
                .arg("Content-Type: application/apply-patch+yaml")
                .args(["--data-binary", &body, &url])
                .output()
        })
        .await
        .expect("curl task");
        let Ok(output) = output else {
            break;
        };
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if let Some(("200", seconds)) = text.split_once(' ')
            && let Ok(seconds) = seconds.parse::<f64>()
        {
            curl.push(Duration::from_secs_f64(seconds));
        }
    }
    if !curl.is_empty() {
        println!(
            "  sandbox server-side apply of one Deployment, sent by curl (another process): \
             median {:.2} ms, max {:.2} ms",
            ms(median(&curl)),
            ms(curl.iter().max().copied().unwrap_or_default())
        );
    }
    let mut counts = Vec::new();
    for (api_version, kind) in [("apps/v1", "ReplicaSet"), ("v1", "Pod"), ("v1", "Event")] {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), "default", &api_resource(api_version, kind));
        let n = api
            .list(&Default::default())
            .await
            .map_or(0, |l| l.items.len());
        counts.push(format!("{n} {kind}s"));
    }
    println!(
        "  objects the rollouts left in the sandbox: {}",
        counts.join(", ")
    );
    let objects = (CONFIG_MAPS + SERVICES + DEPLOYMENTS) as f64;
    for measure in [Measure::RawLoop, Measure::Reused] {
        if let Some(i) = order.iter().position(|o| *o == measure) {
            println!(
                "  {}: {:.2} ms per object",
                measure.label(),
                ms(medians[i]) / objects
            );
        }
    }
}
