//! Engine benchmarks (issue 2): templates, patches, diffs and version lists.
//!
//! Everything is measured in one run so that each figure can be reported as a ratio to a
//! baseline measured on the same machine at the same time: one plain YAML parse of the same
//! multi-document text with `serde_saphyr::from_multiple_with_options::<serde_json::Value>`.
//!
//! - `parse + validate`: [`Manifest::parse`] of the ~5 MB, 2,000-resource template.
//! - `patch + new version`: [`Store::patch_template`] with the seed-style image patch, a new
//!   tag every iteration, so every iteration really writes a new version.
//! - `diff two versions`: [`diff_texts`] of version 1 and version 2 (the demo image patched).
//! - `list 10,000 versions`: [`Store::versions`] of a small template with 10,000 versions.
//!
//! Criterion's groups come first; then the bench measures each figure again with
//! `std::time::Instant` (15 rounds, the measurements interleaved round by round so that
//! background load hits all of them alike) and prints the medians as ratios to the baseline.
//!
//! `-- --test` (criterion's smoke-test mode, used by CI; also `cargo test --benches`) runs
//! every benchmark once on a 50-resource template and a 50-version list, and the ratio table
//! with one round.
//!
//! Targets (issue 2), each a ratio to one plain parse of the template measured in the same
//! rounds: patch + new version <= 3x; diff <= 2x; listing 10,000 versions <= 0.028x (what
//! was 10 ms against the 354 ms parse of the machine the target was set on: a ratio holds
//! from one machine to the next, a time does not).

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use serde_json::Value;
use tempfile::TempDir;
use tripline_engine::diff::{ManifestDiff, diff_texts};
use tripline_engine::patch::{Patch, PatchType};
use tripline_engine::store::{Origin, SaveOutcome, Store, VersionSummary};
use tripline_engine::template::Manifest;

/// Resources in the large template (real run).
const RESOURCES: usize = 2_000;
/// Resources in the template in `--test` mode.
const TEST_RESOURCES: usize = 50;
/// Versions of the small template (real run).
const VERSIONS: usize = 10_000;
/// Versions of the small template in `--test` mode.
const TEST_VERSIONS: usize = 50;
/// Rounds for the ratio table (real run).
const ROUNDS: usize = 15;

/// The large template's name in the patch store.
const BIG: &str = "shop";
/// The small template's name in the list store.
const SMALL: &str = "tiny";

/// The template for the version list: one small Deployment, patched 10,000 times.
const SMALL_TEMPLATE: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
spec:
  replicas: 1
  selector:
    matchLabels:
      app: demo
  template:
    metadata:
      labels:
        app: demo
    spec:
      containers:
        - name: demo
          image: registry.example/demo:0
";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Criterion's rule: `cargo bench -- --test` and `cargo test --benches` (no `--bench`
    // argument) are smoke tests that run each benchmark once.
    let test_mode = args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench");
    let list_only = args.iter().any(|a| a == "--list");
    let (resources, versions, rounds) = if test_mode {
        (TEST_RESOURCES, TEST_VERSIONS, 1)
    } else {
        (RESOURCES, VERSIONS, ROUNDS)
    };

    let mut fixture = Fixture::new(resources, versions, list_only);

    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(6))
        .configure_from_args();
    benches(&mut criterion, &mut fixture);
    criterion.final_summary();

    if !list_only {
        ratio_table(&mut fixture, rounds, test_mode);
    }
}

/// The template text, the stores and the texts to diff, built once and shared by criterion's
/// groups and the ratio table.
struct Fixture {
    text: String,
    resources: usize,
    v1: String,
    v2: String,
    patch_store: Store,
    tag: u64,
    list_store: Store,
    versions: usize,
    // Kept alive for the stores' files; deleted on drop.
    _dirs: (TempDir, TempDir),
}

impl Fixture {
    fn new(resources: usize, versions: usize, list_only: bool) -> Self {
        let started = Instant::now();
        let text = generate(resources);
        let (patch_dir, patch_store) = open_store(false);
        let (list_dir, list_store) = open_store(true);
        let mut fixture = Fixture {
            text,
            resources,
            v1: String::new(),
            v2: String::new(),
            patch_store,
            tag: 0,
            list_store,
            versions,
            _dirs: (patch_dir, list_dir),
        };
        if list_only {
            return fixture;
        }
        println!(
            "engine bench: template of {} resources, {} bytes ({:.2} MB), generated in {:.2?}",
            resources,
            fixture.text.len(),
            fixture.text.len() as f64 / 1e6,
            started.elapsed()
        );

        // Sanity: the baseline parser and the engine agree on the document count.
        let plain = baseline_parse(&fixture.text);
        assert_eq!(plain.len(), resources, "baseline parse document count");
        let manifest = Manifest::parse(&fixture.text).expect("the generated template is valid");
        assert_eq!(manifest.documents().len(), resources);
        drop((plain, manifest));

        // The patch store: version 1 is the generated text, version 2 the first patch.
        fixture
            .patch_store
            .create_template(BIG, &fixture.text, "bench")
            .expect("create the large template");
        fixture.patch();
        let v1 = fixture
            .patch_store
            .version(BIG, Some(1))
            .expect("version 1");
        let v2 = fixture
            .patch_store
            .version(BIG, Some(2))
            .expect("version 2");
        assert_eq!(v1.content, fixture.text);
        fixture.v1 = v1.content;
        fixture.v2 = v2.content;
        let diff = fixture.diff();
        assert_eq!(
            diff.summary.changed, 1,
            "exactly the demo Deployment changed"
        );
        assert_eq!(diff.summary.unchanged, resources - 1);

        // The list store: a small template patched until it has `versions` versions.
        let started = Instant::now();
        fixture
            .list_store
            .create_template(SMALL, SMALL_TEMPLATE, "bench")
            .expect("create the small template");
        for n in 1..versions {
            let patch = image_patch(&format!("1.0.{n}"));
            let outcome = fixture
                .list_store
                .patch_template(SMALL, &patch, Origin::Patch, "")
                .expect("patch the small template");
            assert!(matches!(outcome, SaveOutcome::Created { .. }));
        }
        assert_eq!(fixture.list().len(), versions);
        println!(
            "engine bench: made {} versions of the small template in {:.2?}",
            versions,
            started.elapsed()
        );
        fixture
    }

    /// The baseline: one plain YAML parse of the whole text.
    fn baseline(&self) -> Vec<Value> {
        baseline_parse(&self.text)
    }

    fn parse(&self) -> Manifest {
        Manifest::parse(&self.text).expect("parse")
    }

    /// Applies the seed-style image patch with a new tag, making a new version.
    fn patch(&mut self) -> SaveOutcome {
        self.tag += 1;
        let patch = image_patch(&format!("bench-{}", self.tag));
        let outcome = self
            .patch_store
            .patch_template(BIG, &patch, Origin::Patch, "bench")
            .expect("patch");
        assert!(
            matches!(outcome, SaveOutcome::Created { .. }),
            "every patch must make a new version: {outcome:?}"
        );
        outcome
    }

    fn diff(&self) -> ManifestDiff {
        diff_texts(&self.v1, &self.v2).expect("diff")
    }

    fn list(&self) -> Vec<VersionSummary> {
        self.list_store.versions(SMALL).expect("versions")
    }
}

fn benches(c: &mut Criterion, fixture: &mut Fixture) {
    let mut group = c.benchmark_group(format!("engine/{}-resources", fixture.resources));
    // Each iteration takes tens to hundreds of milliseconds: flat sampling keeps the
    // iteration count (and the patch store's growth) small.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(fixture.text.len() as u64));
    group.bench_function("baseline: plain YAML parse", |b| {
        b.iter(|| black_box(fixture.baseline()));
    });
    group.bench_function("parse + validate", |b| {
        b.iter(|| black_box(fixture.parse()));
    });
    group.bench_function("patch + new version", |b| {
        b.iter(|| black_box(fixture.patch()));
    });
    group.bench_function("diff two versions", |b| {
        b.iter(|| black_box(fixture.diff()));
    });
    group.finish();

    let mut group = c.benchmark_group("store");
    group.bench_function(format!("list {} versions", fixture.versions), |b| {
        b.iter(|| black_box(fixture.list()));
    });
    group.finish();
}

/// Times each measurement `rounds` times, interleaved, and prints medians and ratios.
fn ratio_table(fixture: &mut Fixture, rounds: usize, test_mode: bool) {
    let mut times: [Vec<Duration>; 5] = Default::default();
    for _ in 0..rounds {
        times[0].push(time(|| drop(black_box(fixture.baseline()))));
        times[1].push(time(|| drop(black_box(fixture.parse()))));
        times[2].push(time(|| drop(black_box(fixture.patch()))));
        times[3].push(time(|| drop(black_box(fixture.diff()))));
        times[4].push(time(|| drop(black_box(fixture.list()))));
    }
    let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
    let base = medians[0].as_secs_f64();
    let ratio = |d: Duration| d.as_secs_f64() / base;
    let verdict = |ok: bool| match (test_mode, ok) {
        (true, _) => "n/a",
        (false, true) => "met",
        (false, false) => "NOT MET",
    };

    let list_label = format!("list {} versions", fixture.versions);
    let rows: [(&str, Duration, &str, String); 5] = [
        (
            "baseline: plain YAML parse",
            medians[0],
            "-",
            String::from("-"),
        ),
        ("parse + validate", medians[1], "-", String::from("-")),
        (
            "patch + new version",
            medians[2],
            "<= 3x",
            verdict(ratio(medians[2]) <= 3.0).to_owned(),
        ),
        (
            "diff two versions",
            medians[3],
            "<= 2x",
            verdict(ratio(medians[3]) <= 2.0).to_owned(),
        ),
        (
            &list_label,
            medians[4],
            "<= 0.028x",
            verdict(ratio(medians[4]) <= 0.028).to_owned(),
        ),
    ];

    let mut out = String::new();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Engine ratios: median of {rounds} interleaved round(s), {} resources, {:.2} MB, \
         {} versions in the list",
        fixture.resources,
        fixture.text.len() as f64 / 1e6,
        fixture.versions
    );
    if test_mode {
        let _ = writeln!(
            out,
            "(test mode: small inputs and one round; these figures say nothing about the targets)"
        );
    }
    let _ = writeln!(
        out,
        "{:<28} {:>12} {:>10} {:>10} {:>8}",
        "measurement", "median", "ratio", "target", "verdict"
    );
    for (label, median, target, verdict) in &rows {
        let _ = writeln!(
            out,
            "{:<28} {:>12} {:>9.3}x {:>10} {:>8}",
            label,
            format!("{:.2?}", median),
            ratio(*median),
            target,
            verdict
        );
    }
    print!("{out}");
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    let n = times.len();
    if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2
    }
}

/// One plain parse of the whole multi-document text into JSON values. The default budget
/// refuses more than 1,024 documents and 250,000 nodes per stream, which the 2,000-resource
/// template exceeds (~363,000 nodes); only the budget's counts (documents, nodes, events) are
/// raised, so this is still the same parser doing the same work.
fn baseline_parse(text: &str) -> Vec<Value> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = 1_000_000;
    budget.max_nodes = 100_000_000;
    budget.max_events = 100_000_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    serde_saphyr::from_multiple_with_options::<Value>(text, options).expect("baseline parse")
}

/// The seed-style patch that sets the `demo` container's image.
fn image_patch(tag: &str) -> Patch {
    let body = format!(
        r#"{{"resource":{{"deployment":{{"metadata":{{"name":"demo"}},"spec":{{"template":{{"spec":{{"containers":[{{"name":"demo","image":"registry.example/demo:{tag}"}}]}}}}}}}}}}}}"#
    );
    Patch::parse(PatchType::Resource, body.as_bytes(), None).expect("parse the patch")
}

/// Opens a store in a new temporary directory. The list store may live on tmpfs: its
/// 10,000 setup commits each wait for an fsync on disk, and the timed part only reads.
fn open_store(prefer_tmpfs: bool) -> (TempDir, Store) {
    let shm = Path::new("/dev/shm");
    let dir = if prefer_tmpfs && shm.is_dir() {
        tempfile::Builder::new()
            .prefix("tripline-bench-")
            .tempdir_in(shm)
            .or_else(|_| tempfile::tempdir())
    } else {
        tempfile::Builder::new().prefix("tripline-bench-").tempdir()
    }
    .expect("temporary directory");
    let store = Store::open_dir(dir.path()).expect("open the store");
    (dir, store)
}

// ---------------------------------------------------------------------------------------
// The template generator: deterministic, realistic multi-document YAML.
// ---------------------------------------------------------------------------------------

/// SplitMix64: small, deterministic, good enough to vary a template.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(len);
        s
    }
}

const WORDS: &[&str] = &[
    "cart",
    "checkout",
    "payments",
    "search",
    "catalog",
    "users",
    "orders",
    "inventory",
    "shipping",
    "billing",
    "reviews",
    "notify",
    "pricing",
    "session",
    "media",
    "ledger",
];
const TEAMS: &[&str] = &["team-a", "team-b", "team-c", "team-d"];
const TIERS: &[&str] = &["frontend", "backend", "worker", "api"];
const LOG_LEVELS: &[&str] = &["debug", "info", "warn"];
const CPU: &[&str] = &["50m", "100m", "250m", "500m"];
const CPU_LIMIT: &[&str] = &["500m", "1", "2"];
const MEMORY: &[&str] = &["64Mi", "128Mi", "256Mi", "512Mi"];
// Every limit is at least every request: Kubernetes refuses a request above its limit.
const MEMORY_LIMIT: &[&str] = &["512Mi", "1Gi", "2Gi"];
const ENV_NAMES: &[&str] = &[
    "LOG_FORMAT",
    "HTTP_TIMEOUT",
    "CACHE_TTL_SECONDS",
    "FEATURE_FLAGS",
    "TRACING_ENDPOINT",
    "TRACING_SAMPLE_RATE",
    "UPSTREAM_URL",
    "MAX_CONNECTIONS",
    "REGION",
    "QUEUE_NAME",
    "RETRY_BACKOFF_MS",
    "METRICS_PREFIX",
    "DB_POOL_SIZE",
    "KAFKA_BROKERS",
    "REDIS_URL",
    "SENTRY_ENVIRONMENT",
];

/// A multi-document template of `resources` objects: 55% Deployments (2–3 containers each),
/// 25% Services and 20% ConfigMaps. The Deployment in the middle is `demo`, with a container
/// named `demo`: the patch target.
fn generate(resources: usize) -> String {
    let mut rng = Rng(0x7472_6970_6c69_6e65);
    let mut out = String::with_capacity(resources * 2_600);
    let demo_at = resources / 2 / 20 * 20;
    for i in 0..resources {
        if i > 0 {
            out.push_str("---\n");
        }
        let word = WORDS[i % WORDS.len()];
        let name = format!("{word}-{i:04}");
        let team = TEAMS[(i / 7) % TEAMS.len()];
        match i % 20 {
            0..=10 if i == demo_at => deployment(&mut out, &mut rng, "demo", "team-a", true),
            0..=10 => deployment(&mut out, &mut rng, &name, team, false),
            11..=15 => service(&mut out, &mut rng, &name, team),
            _ => config_map(&mut out, &mut rng, &name, team),
        }
    }
    out
}

fn deployment(out: &mut String, rng: &mut Rng, name: &str, team: &str, demo: bool) {
    let tier = rng.pick(TIERS);
    let replicas = 1 + rng.below(6);
    let revision = 1 + rng.below(200);
    let checksum = rng.hex(64);
    let _ = write!(
        out,
        "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {team}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: shop
    app.kubernetes.io/managed-by: tripline
    tier: {tier}
  annotations:
    deployment.kubernetes.io/revision: \"{revision}\"
    prometheus.io/scrape: \"true\"
    prometheus.io/port: \"9090\"
    owner: {team}@example.com
spec:
  replicas: {replicas}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
        app.kubernetes.io/part-of: shop
        tier: {tier}
      annotations:
        checksum/config: {checksum}
    spec:
      serviceAccountName: {name}
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        fsGroup: 10001
      containers:
",
    );
    let image = if demo {
        String::from("registry.example/demo:1.0.0")
    } else {
        format!(
            "registry.example/{team}/{name}:1.{}.{}",
            rng.below(30),
            rng.below(100)
        )
    };
    main_container(out, rng, name, if demo { "demo" } else { "app" }, &image);
    log_shipper(out, rng, name);
    if rng.below(3) == 0 {
        metrics_exporter(out, rng);
    }
    let _ = write!(
        out,
        "      volumes:
        - name: config
          configMap:
            name: {name}-config
        - name: logs
          emptyDir:
            sizeLimit: 1Gi
"
    );
}

fn main_container(out: &mut String, rng: &mut Rng, app: &str, container: &str, image: &str) {
    let log_level = rng.pick(LOG_LEVELS);
    let _ = write!(
        out,
        "        - name: {container}
          image: {image}
          imagePullPolicy: IfNotPresent
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
            - name: metrics
              containerPort: 9090
              protocol: TCP
          env:
            - name: LOG_LEVEL
              value: {log_level}
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {app}-db
                  key: password
"
    );
    let extra = 2 + rng.below(6);
    let start = rng.below(ENV_NAMES.len());
    for k in 0..extra {
        let env = ENV_NAMES[(start + k) % ENV_NAMES.len()];
        let value = match env {
            "UPSTREAM_URL" | "TRACING_ENDPOINT" | "REDIS_URL" => {
                format!(
                    "http://{}.svc.cluster.local:{}",
                    rng.pick(WORDS),
                    8000 + rng.below(1000)
                )
            }
            "FEATURE_FLAGS" => format!(
                "{},{},{}",
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.pick(WORDS)
            ),
            _ => format!("\"{}\"", rng.below(10_000)),
        };
        let _ = writeln!(
            out,
            "            - name: {env}\n              value: {value}"
        );
    }
    let _ = write!(
        out,
        "          resources:
            requests:
              cpu: {cpu}
              memory: {memory}
            limits:
              cpu: \"{cpu_limit}\"
              memory: {memory_limit}
          readinessProbe:
            httpGet:
              path: /ready
              port: http
            initialDelaySeconds: 5
            periodSeconds: 10
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: 15
            periodSeconds: 20
          volumeMounts:
            - name: config
              mountPath: /etc/{app}
              readOnly: true
            - name: logs
              mountPath: /var/log/{app}
",
        cpu = rng.pick(CPU),
        memory = rng.pick(MEMORY),
        cpu_limit = rng.pick(CPU_LIMIT),
        memory_limit = rng.pick(MEMORY_LIMIT),
    );
}

fn log_shipper(out: &mut String, rng: &mut Rng, app: &str) {
    let _ = write!(
        out,
        "        - name: log-shipper
          image: registry.example/platform/fluent-bit:3.{minor}.{patch}
          imagePullPolicy: IfNotPresent
          env:
            - name: FLUENT_ELASTICSEARCH_HOST
              value: logs.platform.svc.cluster.local
            - name: FLUENT_ELASTICSEARCH_PORT
              value: \"9200\"
            - name: APP_NAME
              value: {app}
          resources:
            requests:
              cpu: 20m
              memory: 32Mi
            limits:
              cpu: 100m
              memory: 128Mi
          volumeMounts:
            - name: logs
              mountPath: /var/log/{app}
              readOnly: true
",
        minor = rng.below(5),
        patch = rng.below(10),
    );
}

fn metrics_exporter(out: &mut String, rng: &mut Rng) {
    let _ = write!(
        out,
        "        - name: metrics-exporter
          image: registry.example/platform/statsd-exporter:0.{minor}.0
          args:
            - --statsd.listen-udp=:9125
            - --web.listen-address=:9102
          ports:
            - name: statsd
              containerPort: 9125
              protocol: UDP
            - name: exporter
              containerPort: 9102
              protocol: TCP
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
            limits:
              cpu: 50m
              memory: 64Mi
          livenessProbe:
            tcpSocket:
              port: exporter
            periodSeconds: 30
",
        minor = 20 + rng.below(10),
    );
}

fn service(out: &mut String, rng: &mut Rng, name: &str, team: &str) {
    let _ = write!(
        out,
        "\
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {team}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: shop
  annotations:
    prometheus.io/scrape: \"true\"
    prometheus.io/port: \"9090\"
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - name: http
      port: 80
      targetPort: http
      protocol: TCP
    - name: metrics
      port: 9090
      targetPort: {metrics}
      protocol: TCP
  sessionAffinity: None
",
        metrics = 9090 + rng.below(3),
    );
}

fn config_map(out: &mut String, rng: &mut Rng, name: &str, team: &str) {
    let _ = write!(
        out,
        "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
  namespace: {team}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: shop
data:
  LOG_LEVEL: {log_level}
  CACHE_TTL_SECONDS: \"{ttl}\"
  config.yaml: |
    server:
      port: 8080
      readTimeout: 15s
      writeTimeout: 15s
    metrics:
      enabled: true
      port: 9090
    upstreams:
",
        log_level = rng.pick(LOG_LEVELS),
        ttl = 30 + rng.below(600),
    );
    for _ in 0..3 + rng.below(5) {
        let upstream = rng.pick(WORDS);
        let _ = write!(
            out,
            "      - name: {upstream}\n        url: http://{upstream}.svc.cluster.local:8080\n        timeout: {}ms\n        retries: {}\n",
            100 + rng.below(900),
            rng.below(5)
        );
    }
    let _ = write!(
        out,
        "  logging.conf: |
    [SERVICE]
        Flush        1
        Log_Level    info
        Parsers_File parsers.conf
    [INPUT]
        Name   tail
        Path   /var/log/{name}/*.log
        Tag    {name}.*
    [OUTPUT]
        Name   es
        Match  *
        Host   logs.platform.svc.cluster.local
        Port   9200
"
    );
}
