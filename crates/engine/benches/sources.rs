//! Sources benchmark (issue 17, "Applications from Git and Helm"): reading an application's
//! manifests from Git and Helm, against the command-line tools doing the same work, in the same
//! run, against the same real servers on loopback (`tripline-testbed`: lighttpd running
//! `git http-backend`, and lighttpd serving a chart repository made by `helm`).
//!
//! - **refresh**: a refresh of a Git application whose branch has no new commit,
//!   `Sources::refresh_git` with the known revision (the reference listing only; it answers
//!   `Fresh::Same`), against a `git ls-remote <url> refs/heads/main` process.
//! - **fetch**: a first read of a 2,000-resource repository (200 files of 10 objects under
//!   `deploy/`): `GitReader::fetch` into a fresh cache and `GitReader::read` (which parses every
//!   file with `Manifest::parse`), against `git clone --depth 1 --single-branch` into a fresh
//!   directory plus one plain parse of the files' concatenation (serde-saphyr into JSON values,
//!   as the engine bench's baseline).
//! - **helm**: `Helm::render` of a `helm create` chart with values (the index read, the archive
//!   downloaded and its digest checked, `helm template` run on it), against `helm template REL
//!   CHART --repo URL --version V --values FILE` with fresh private `HELM_*` homes. For
//!   comparison, not in the baseline: `helm template` of the archive on disk, the floor both
//!   share.
//!
//! Each part runs a warm-up round, then `ROUNDS` rounds with ours and the baseline in turn, their
//! order swapped every round, and prints the median and p90 of each and the ratio of the
//! medians. `-- refresh`, `-- fetch` or `-- helm` runs one part.
//!
//! `-- --test` (CI; also `cargo test --benches`, which passes no `--bench`): two rounds, no
//! warm-up, a 200-resource repository, no verdicts. A part whose tools (`git`, `lighttpd`,
//! `helm`) are missing prints `SKIPPED: …`; that fails a full run, and a test run only when
//! `TRIPLINE_REQUIRE_SOURCES=1`. A full run also fails when a target is missed. Targets
//! (issue 17): refresh <= 1.2x, fetch + render <= 1.5x, Helm render <= 1.1x.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testbed::{ChartRepo, GitServer, Repo, git_command};
use tripline_engine::source::Revision;
use tripline_engine::source::git::{GitReader, GitSource};
use tripline_engine::source::helm::{Helm, HelmSource};
use tripline_engine::source::sync::{Fresh, Sources};
use tripline_engine::template::Manifest;

/// Measured rounds per part (real run, `--test`), after the warm-up rounds.
const ROUNDS: usize = 20;
const TEST_ROUNDS: usize = 2;
const WARM_UP: usize = 1;
/// Objects in the repository (real run, `--test`), ten to a file.
const RESOURCES: usize = 2_000;
const TEST_RESOURCES: usize = 200;
const PER_FILE: usize = 10;
/// Targets: ours over the baseline, medians.
const REFRESH_TARGET: f64 = 1.2;
const FETCH_TARGET: f64 = 1.5;
const HELM_TARGET: f64 = 1.1;

const BRANCH: &str = "main";
const CHART: &str = "bench";
const CHART_VERSION: &str = "1.0.0";
const RELEASE: &str = "bench";
const NAMESPACE: &str = "default";
/// Values for the chart `helm create` makes.
const VALUES: &str = "\
replicaCount: 3
image:
  repository: registry.example/bench/app
  tag: \"1.27.0\"
service:
  port: 8080
resources:
  requests:
    cpu: 100m
    memory: 64Mi
";

/// The parts, as named on the command line.
const PARTS: [&str; 3] = ["refresh", "fetch", "helm"];

/// How a part ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Met,
    Missed,
    /// A smoke run judges nothing.
    NotJudged,
    /// A tool is missing.
    Skipped,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    test_mode: bool,
    rounds: usize,
    warm_up: usize,
    resources: usize,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // As the engine bench: `-- --test` and `cargo test --benches` (no `--bench`) are smoke runs.
    let test_mode = args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench");
    let chosen: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| PARTS.contains(a))
        .collect();
    let wanted = |part: &str| chosen.is_empty() || chosen.contains(&part);
    let settings = if test_mode {
        Settings {
            test_mode,
            rounds: TEST_ROUNDS,
            warm_up: 0,
            resources: TEST_RESOURCES,
        }
    } else {
        Settings {
            test_mode,
            rounds: ROUNDS,
            warm_up: WARM_UP,
            resources: RESOURCES,
        }
    };
    println!(
        "sources bench (issue 17): {} rounds per part after {} warm-up; load average {}",
        settings.rounds,
        settings.warm_up,
        load_average()
    );

    let mut verdicts = Vec::new();
    if wanted("refresh") || wanted("fetch") {
        let git_parts: Vec<&str> = ["refresh", "fetch"]
            .into_iter()
            .filter(|p| wanted(p))
            .collect();
        match missing(GitServer::TOOLS) {
            Some(tool) => {
                for part in git_parts {
                    verdicts.push(skip(part, tool));
                }
            }
            None => {
                let world = GitWorld::start(settings.resources);
                if wanted("refresh") {
                    verdicts.push(refresh(&world, &settings));
                }
                if wanted("fetch") {
                    verdicts.push(fetch(&world, &settings));
                }
            }
        }
    }
    if wanted("helm") {
        verdicts.push(match missing(ChartRepo::TOOLS) {
            Some(tool) => skip("helm", tool),
            None => helm(&settings),
        });
    }

    let required = std::env::var_os("TRIPLINE_REQUIRE_SOURCES").is_some_and(|v| v == "1");
    let failed = verdicts.iter().any(|v| match v {
        Verdict::Missed => true,
        Verdict::Skipped => !test_mode || required,
        Verdict::Met | Verdict::NotJudged => false,
    });
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The first of `tools` that is not installed (found as `tripline-testbed` finds it).
fn missing(tools: &[&'static str]) -> Option<&'static str> {
    tools.iter().copied().find(|tool| match *tool {
        "helm" => testbed::Helm::binary().is_none(),
        tool => testbed::which(tool).is_none(),
    })
}

fn skip(part: &str, tool: &str) -> Verdict {
    println!();
    println!(
        "SKIPPED: sources bench, part {part}: {tool} is not installed (scripts/test.sh installs it)"
    );
    Verdict::Skipped
}

// ---- measuring ------------------------------------------------------------------------------

/// Runs `warm_up + rounds` rounds of `ours` and `baseline`, in turn and in swapped order every
/// round; each returns the time it measured (set-up and checks are its own business). The
/// warm-up rounds are dropped.
fn measure(
    settings: &Settings,
    mut ours: impl FnMut(usize) -> Duration,
    mut baseline: impl FnMut(usize) -> Duration,
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..settings.warm_up + settings.rounds {
        if round % 2 == 0 {
            a.push(ours(round));
            b.push(baseline(round));
        } else {
            b.push(baseline(round));
            a.push(ours(round));
        }
    }
    (counted(a, settings), counted(b, settings))
}

/// The measured rounds of a series (the warm-up dropped).
fn counted(mut series: Vec<Duration>, settings: &Settings) -> Vec<Duration> {
    series.drain(..settings.warm_up.min(series.len()));
    series
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// Nearest-rank percentile.
fn percentile(series: &[Duration], p: f64) -> Duration {
    let mut sorted = series.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(series: &[Duration]) -> Duration {
    let mut sorted = series.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `/proc/loadavg`'s three averages, or `n/a`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "n/a".to_owned(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

/// Prints a part's table: every row with its median, p90 and the ratio of its median to the
/// baseline's. Rows that are phases of another are indented by the caller.
fn table(rows: &[(&str, &[Duration])], baseline: &[Duration]) {
    let base = ms(median(baseline)).max(1e-9);
    println!(
        "{:<58} {:>9} {:>9} {:>9}",
        "", "median ms", "p90 ms", "ratio"
    );
    for (label, series) in rows {
        let m = ms(median(series));
        println!(
            "{label:<58} {m:>9.2} {:>9.2} {:>8.3}x",
            ms(percentile(series, 90.0)),
            m / base
        );
    }
}

/// Prints the target's line and returns the verdict.
fn judge(
    settings: &Settings,
    what: &str,
    target: f64,
    ours: &[Duration],
    baseline: &[Duration],
) -> Verdict {
    let ratio = ms(median(ours)) / ms(median(baseline)).max(1e-9);
    let verdict = match (settings.test_mode, ratio <= target) {
        (true, _) => Verdict::NotJudged,
        (false, true) => Verdict::Met,
        (false, false) => Verdict::Missed,
    };
    let said = match verdict {
        Verdict::Met => "met",
        Verdict::Missed => "MISSED",
        _ => "n/a in a smoke run (see BENCHMARKS.md for the figures)",
    };
    println!("target (issue 17): {what} <= {target}x the baseline: {ratio:.3}x — {said}");
    verdict
}

fn header(title: &str) {
    println!();
    println!("== {title} (load average {})", load_average());
}

// ---- Git ------------------------------------------------------------------------------------

/// A Git server with one repository of `resources` objects on `main`, and a scratch directory.
struct GitWorld {
    _server: GitServer,
    repo: Repo,
    head: String,
    files: usize,
    bytes: usize,
    scratch: tempfile::TempDir,
}

impl GitWorld {
    fn start(resources: usize) -> GitWorld {
        let server = GitServer::start().expect("the Git server starts");
        let repo = server
            .create_repo("bench/app", None)
            .expect("the repository");
        let files = repository_files(resources);
        let bytes = files.iter().map(|(_, text)| text.len()).sum();
        let mut listed: Vec<(&str, &str)> = files
            .iter()
            .map(|(path, text)| (path.as_str(), text.as_str()))
            .collect();
        listed.push(("README.md", "Manifests for the sources bench.\n"));
        let head = repo
            .commit_files(BRANCH, &listed, "2,000 resources")
            .expect("the commit");
        GitWorld {
            _server: server,
            repo,
            head,
            files: files.len(),
            bytes,
            scratch: tempfile::tempdir().expect("a scratch directory"),
        }
    }

    fn source(&self) -> GitSource {
        GitSource {
            url: self.repo.http_url(),
            reference: BRANCH.into(),
            path: "deploy".into(),
        }
    }
}

/// `resources` small objects, ten to a file under `deploy/`: half ConfigMaps, a quarter
/// Services, a quarter Deployments.
fn repository_files(resources: usize) -> Vec<(String, String)> {
    let config_maps = resources / 2;
    let services = resources / 4;
    let deployments = resources - config_maps - services;
    let mut objects: Vec<(&str, String)> = Vec::with_capacity(resources);
    for i in 0..config_maps {
        objects.push((
            "config",
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-{i:04}\n  labels:\n    \
                 app.kubernetes.io/part-of: bench\ndata:\n  level: info\n  settings.yaml: |\n    \
                 replicas: 3\n    region: eu-{}\n",
                i % 7
            ),
        ));
    }
    for i in 0..services {
        objects.push((
            "service",
            format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i:04}\n  labels:\n    \
                 app: app-{i:04}\nspec:\n  selector:\n    app: app-{i:04}\n  ports:\n    - name: \
                 http\n      port: 80\n      targetPort: 8080\n"
            ),
        ));
    }
    for i in 0..deployments {
        objects.push((
            "app",
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i:04}\n  labels:\n    \
                 app: app-{i:04}\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: \
                 app-{i:04}\n  template:\n    metadata:\n      labels:\n        app: app-{i:04}\n    \
                 spec:\n      containers:\n        - name: app\n          image: \
                 registry.example/bench/app-{i:04}:v1\n          ports:\n            - \
                 containerPort: 8080\n          resources:\n            requests:\n              \
                 cpu: 100m\n              memory: 64Mi\n"
            ),
        ));
    }
    objects
        .chunks(PER_FILE)
        .enumerate()
        .map(|(n, chunk)| {
            let text = chunk
                .iter()
                .map(|(_, text)| text.as_str())
                .collect::<Vec<_>>()
                .join("---\n");
            (format!("deploy/{}-{n:03}.yaml", chunk[0].0), text)
        })
        .collect()
}

/// Part 1: a refresh that finds no new commit, against `git ls-remote`.
fn refresh(world: &GitWorld, settings: &Settings) -> Verdict {
    header("Refresh of an unchanged Git source");
    let source = world.source();
    let url = world.repo.http_url();
    let sources = Sources::new(world.scratch.path().join("data"), None);
    let known = Revision::Git {
        commit: world.head.clone(),
        reference: BRANCH.into(),
    };
    let (ours, baseline) = measure(
        settings,
        |_| {
            let (fresh, took) = timed(|| sources.refresh_git("app", &source, Some(&known), None));
            match fresh {
                Ok(Fresh::Same(_)) => took,
                other => panic!("the refresh read something: {other:?}"),
            }
        },
        |_| {
            let (output, took) = timed(|| {
                git_command()
                    .args(["ls-remote", &url, &format!("refs/heads/{BRANCH}")])
                    .stdin(Stdio::null())
                    .output()
                    .expect("git runs")
            });
            let listed = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && listed.starts_with(&world.head),
                "git ls-remote: {listed} {}",
                String::from_utf8_lossy(&output.stderr)
            );
            took
        },
    );
    table(
        &[
            (
                "baseline: git ls-remote URL refs/heads/main (a process)",
                &baseline,
            ),
            ("Sources::refresh_git, unchanged (Fresh::Same)", &ours),
        ],
        &baseline,
    );
    judge(settings, "refresh", REFRESH_TARGET, &ours, &baseline)
}

/// Part 2: a first fetch and read of the repository, against a shallow clone and one parse.
fn fetch(world: &GitWorld, settings: &Settings) -> Verdict {
    header(&format!(
        "Fetch + render of a {}-resource repository ({} files, {} bytes of YAML)",
        settings.resources, world.files, world.bytes
    ));
    let source = world.source();
    let url = world.repo.http_url();
    let scratch = world.scratch.path();
    let (mut fetched, mut read) = (Vec::new(), Vec::new());
    let (mut cloned, mut parsed, mut validated) = (Vec::new(), Vec::new(), Vec::new());
    let (ours, baseline) = measure(
        settings,
        |round| {
            let cache = scratch.join(format!("cache-{round}"));
            let start = Instant::now();
            let reader = GitReader::new(&cache, None);
            let head = reader.fetch(&source, None).expect("the fetch");
            let after_fetch = start.elapsed();
            let rendered = reader.read(&source, &head.commit).expect("the read");
            let took = start.elapsed();
            fetched.push(after_fetch);
            read.push(took - after_fetch);
            assert_eq!(head.commit, world.head);
            assert_eq!(
                rendered.manifests.matches("\nkind: ").count(),
                settings.resources,
                "every object is read"
            );
            std::fs::remove_dir_all(&cache).expect("the cache is removed");
            took
        },
        |round| {
            let clone = scratch.join(format!("clone-{round}"));
            let start = Instant::now();
            let output = git_command()
                .args(["clone", "--quiet", "--depth", "1", "--single-branch"])
                .args(["--branch", BRANCH, &url])
                .arg(&clone)
                .stdin(Stdio::null())
                .output()
                .expect("git runs");
            let after_clone = start.elapsed();
            assert!(
                output.status.success(),
                "git clone: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let text = concatenation(&clone.join("deploy"));
            let values = plain_parse(&text);
            let took = start.elapsed();
            cloned.push(after_clone);
            parsed.push(took - after_clone);
            assert_eq!(values.len(), settings.resources, "every object is parsed");
            // For comparison only: the engine's own parse of the same text.
            let (manifest, took_manifest) = timed(|| Manifest::parse(&text));
            assert_eq!(
                manifest.expect("Manifest::parse").documents().len(),
                settings.resources
            );
            validated.push(took_manifest);
            std::fs::remove_dir_all(&clone).expect("the clone is removed");
            took
        },
    );
    let (fetched, read) = (counted(fetched, settings), counted(read, settings));
    let (cloned, parsed) = (counted(cloned, settings), counted(parsed, settings));
    let validated = counted(validated, settings);
    table(
        &[
            (
                "baseline: git clone --depth 1 + one plain YAML parse",
                &baseline,
            ),
            ("  git clone --depth 1 --single-branch (a process)", &cloned),
            ("  read the files, one plain parse (serde-saphyr)", &parsed),
            (
                "  (not in it: Manifest::parse of the same text)",
                &validated,
            ),
            ("GitReader::fetch + GitReader::read, fresh cache", &ours),
            ("  fetch (connect, list, receive the pack)", &fetched),
            ("  read (tree walk, Manifest::parse of each file)", &read),
        ],
        &baseline,
    );
    judge(settings, "fetch + render", FETCH_TARGET, &ours, &baseline)
}

/// The `*.yaml` files of `dir`, in byte order of their names, as one multi-document text.
fn concatenation(dir: &Path) -> String {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the clone's manifests")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    let mut text = String::new();
    for path in paths {
        if !text.is_empty() {
            text.push_str("---\n");
        }
        text.push_str(&std::fs::read_to_string(&path).expect("a manifest file"));
    }
    text
}

/// One plain parse of a multi-document text into JSON values, as the engine bench's baseline:
/// only the budget's counts are raised above the defaults (1,024 documents).
fn plain_parse(text: &str) -> Vec<Value> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = 1_000_000;
    budget.max_nodes = 100_000_000;
    budget.max_events = 100_000_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    serde_saphyr::from_multiple_with_options::<Value>(text, options).expect("the plain parse")
}

// ---- Helm -----------------------------------------------------------------------------------

/// Part 3: `Helm::render` from a chart repository, against `helm template --repo`.
fn helm(settings: &Settings) -> Verdict {
    header("Helm render from a chart repository");
    let charts = ChartRepo::start().expect("the chart repository starts");
    charts
        .add_chart(CHART, CHART_VERSION, |_| {})
        .expect("the chart");
    let (helm, set_up) = timed(|| Helm::find(None).expect("helm"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let source = HelmSource {
        repository: charts.base_url(),
        chart: CHART.into(),
        version: CHART_VERSION.into(),
        plain_http: false,
    };
    let url = charts.base_url();
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let (mut ours_out, mut helm_out) = (String::new(), String::new());
    let archive = charts.archive_path(CHART, CHART_VERSION);
    let mut floor = Vec::new();
    let (ours, baseline) = measure(
        settings,
        |_| {
            let (rendered, took) =
                timed(|| runtime.block_on(helm.render(&source, VALUES, RELEASE, NAMESPACE, None)));
            ours_out = rendered.expect("the render").manifests;
            took
        },
        |round| {
            // What a user runs, with homes of its own as a first run has: the index and the
            // archive are downloaded every time.
            let home = scratch.path().join(format!("helm-{round}"));
            std::fs::create_dir_all(&home).expect("helm's home");
            let values = home.join("values.yaml");
            std::fs::write(&values, VALUES).expect("the values file");
            // `chart`: the chart's name with `--repo`, or an archive's path.
            let helm_template = |chart: &std::ffi::OsStr, repo: Option<&str>| {
                let mut command = Command::new(helm.binary());
                command.args(["template", RELEASE]).arg(chart);
                if let Some(repo) = repo {
                    command.args(["--repo", repo, "--version", CHART_VERSION]);
                }
                command
                    .args(["--namespace", NAMESPACE])
                    .arg("--values")
                    .arg(&values)
                    .current_dir(&home)
                    .stdin(Stdio::null());
                for (variable, dir) in [
                    ("HELM_CACHE_HOME", "cache"),
                    ("HELM_CONFIG_HOME", "config"),
                    ("HELM_DATA_HOME", "data"),
                    ("HELM_REPOSITORY_CONFIG", "config/repositories.yaml"),
                    ("HELM_REPOSITORY_CACHE", "cache/repository"),
                    ("HELM_REGISTRY_CONFIG", "config/registry.json"),
                    ("HELM_PLUGINS", "data/plugins"),
                ] {
                    command.env(variable, home.join(dir));
                }
                command
            };
            let mut command = helm_template(CHART.as_ref(), Some(&url));
            let (output, took) = timed(|| command.output().expect("helm runs"));
            assert!(
                output.status.success(),
                "helm template: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            helm_out = String::from_utf8(output.stdout).expect("UTF-8 manifests");
            // For comparison only: the same render of the archive on disk, no repository.
            let mut command = helm_template(archive.as_os_str(), None);
            let (local, took_local) = timed(|| command.output().expect("helm runs"));
            assert!(
                local.status.success() && local.stdout == helm_out.as_bytes(),
                "helm template of the archive renders the same"
            );
            floor.push(took_local);
            std::fs::remove_dir_all(&home).expect("helm's home is removed");
            took
        },
    );
    let floor = counted(floor, settings);
    assert_eq!(
        ours_out, helm_out,
        "Helm::render and helm template --repo render the same manifests"
    );
    println!(
        "chart {CHART} {CHART_VERSION} (helm create), {} rendered objects, the same from both; \
         Helm::find once before the rounds: {:.2} ms",
        ours_out.matches("\nkind: ").count(),
        ms(set_up)
    );
    table(
        &[
            ("baseline: helm template --repo URL (a process)", &baseline),
            (
                "  (not in it: helm template of the archive on disk)",
                &floor,
            ),
            (
                "Helm::render: index, archive + digest, helm template",
                &ours,
            ),
        ],
        &baseline,
    );
    judge(settings, "Helm render", HELM_TARGET, &ours, &baseline)
}
