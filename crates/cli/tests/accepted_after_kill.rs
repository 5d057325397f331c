//! Accepted means done, through `kill -9`: the real `tripline serve` takes a flood of
//! concurrent trigger calls (patches, scale steps, redeploys, registry pushes), is killed with
//! SIGKILL at a random point, and is started again. Then every call answered 202 must have
//! been carried out (or visibly failed), no access record may lack its release, and the
//! history must say what the cluster runs. The cluster is a separate `tripline sandbox`
//! process, so it outlives the listener as a real cluster would.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tripline_engine::store::{Decision, RecordFilter, Release, ReleaseStatus, Store};

/// The seed's template, a fixture of the engine.
const SEED: &str = "../engine/tests/fixtures/templates/seed-demo.yaml";
const REPOSITORY: &str = "registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo";
const CALLS: usize = 1000;
const ROUNDS: usize = 3;

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tripline(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tripline"));
    command
        .env("TRIPLINE_DATA_DIR", dir)
        .env("TRIPLINE_SECRETS", "files")
        .env("NO_COLOR", "1")
        .env_remove("TRIPLINE_LISTEN")
        .env_remove("TRIPLINE_PUBLIC_URL");
    command
}

fn ok(dir: &Path, args: &[&str]) -> Value {
    let out = tripline(dir).arg("--json").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The path and query of a trigger URL (the host is the listener's, chosen per run).
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

fn serve(dir: &Path, port: u16) -> Process {
    let child = tripline(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tripline serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Process(child)
}

/// One HTTP/1.1 call over a fresh connection; `None` when the connection failed or was cut.
fn call(port: u16, method: &str, path: &str, body: Option<&str>) -> Option<(u16, Value)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text.split(' ').nth(1)?.parse().ok()?;
    let (_, json) = text.split_once("\r\n\r\n")?;
    Some((status, serde_json::from_str(json).unwrap_or(Value::Null)))
}

/// The `n`th call of a round: (method, path, body).
fn nth_call(n: usize, round: usize, urls: &Urls) -> (&'static str, String, Option<String>) {
    match n % 5 {
        0 => {
            let patch = serde_json::json!({"resource": {"deployment": {
                "metadata": {"name": "demo"},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "demo", "env": [{"name": "LAST_PATCH", "value": format!("{round}-{n}")}]}
                ]}}}
            }}});
            ("POST", urls.redeploy.clone(), Some(patch.to_string()))
        }
        1 => (
            "GET",
            format!("{}&type=scale_out&step={}", urls.scale, 1 + n % 3),
            None,
        ),
        2 => (
            "GET",
            format!("{}&type=scale_in&step={}", urls.scale, 1 + n % 2),
            None,
        ),
        3 => ("POST", urls.redeploy.clone(), None),
        _ => {
            let push =
                serde_json::json!({"repository": REPOSITORY, "tag": format!("r{round}-{n}")});
            ("POST", urls.image.clone(), Some(push.to_string()))
        }
    }
}

struct Urls {
    redeploy: String,
    scale: String,
    image: String,
}

/// Waits until nothing is queued or running.
fn settle(database: &Path) -> Vec<Release> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let store = Store::open(database).unwrap();
        let releases = store.releases("demo", 100_000).unwrap();
        if releases.iter().all(|r| r.status.is_final()) {
            return releases;
        }
        assert!(
            Instant::now() < deadline,
            "releases still unfinished (the first 10): {:?}",
            releases
                .iter()
                .filter(|r| !r.status.is_final())
                .take(10)
                .map(|r| (r.number, r.status, &r.message))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The Deployment `demo` in namespace `shop`, read from the sandbox's API.
async fn live(sandbox: &str) -> Value {
    let config = kube::Config::new(sandbox.parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        client,
        "shop",
        &kube::discovery::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
            "apps",
            "v1",
            "Deployment",
        )),
    );
    serde_json::to_value(api.get("demo").await.unwrap()).unwrap()
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn env_value(deployment: &Value) -> Option<String> {
    container(deployment)["env"].as_array().and_then(|env| {
        env.iter()
            .find(|e| e["name"] == "LAST_PATCH")
            .map(|e| e["value"].as_str().unwrap_or_default().to_owned())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_call_is_carried_out_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_path_buf();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join(SEED);
    ok(
        &dir,
        &["template", "create", "demo", "-f", seed.to_str().unwrap()],
    );
    ok(
        &dir,
        &["app", "create", "demo", "--template", "demo", "-n", "shop"],
    );
    let url = |created: Value| path_of(created["url"].as_str().unwrap());
    let urls = Arc::new(Urls {
        redeploy: url(ok(
            &dir,
            &["trigger", "create", "demo", "--kind", "redeploy"],
        )),
        scale: url(ok(
            &dir,
            &[
                "trigger",
                "create",
                "demo",
                "--kind",
                "scale",
                "--workload",
                "Deployment/demo",
                "--min",
                "1",
                "--max",
                "40",
            ],
        )),
        image: url(ok(
            &dir,
            &[
                "trigger",
                "create",
                "demo",
                "--kind",
                "image",
                "--repository",
                REPOSITORY,
                // The pushes name a registry this machine cannot reach: this suite is about
                // what happens to accepted calls, not about verification.
                "--verify",
                "off",
            ],
        )),
    });
    let database = Store::open_dir(&dir).unwrap().info().unwrap().path;

    // The cluster: a process of its own that `serve` finds through the data directory.
    let mut sandbox = tripline(&dir)
        .args([
            "--json",
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--rollout-delay",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sandbox.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _sandbox = Process(sandbox);
    let sandbox_url: Value = serde_json::from_str(&line).expect("the sandbox prints its URL");
    let sandbox_url = sandbox_url["url"].as_str().unwrap().to_owned();

    // The application runs before the flood, as one a CI job scales would: a scale step on an
    // application never deployed fails (visibly: the Deployment is not found).
    ok(&dir, &["deploy", "demo"]);

    let seed_clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as usize;
    for round in 0..ROUNDS {
        let kill_after = 50 + (seed_clock / (round + 1)) % (CALLS - 100);
        eprintln!("round {round}: kill -9 after {kill_after} answers");
        let port = free_port();
        let mut listener = serve(&dir, port);
        // 32 callers at a time; the kill comes from this thread once enough have answered.
        let next = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..32)
            .map(|_| {
                let (urls, next, answered) = (urls.clone(), next.clone(), answered.clone());
                std::thread::spawn(move || {
                    let mut answers = Vec::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= CALLS {
                            return answers;
                        }
                        let (method, path, body) = nth_call(n, round, &urls);
                        if let Some(answer) = call(port, method, &path, body.as_deref()) {
                            answered.fetch_add(1, Ordering::Relaxed);
                            answers.push((n, answer));
                        }
                    }
                })
            })
            .collect();
        while answered.load(Ordering::Relaxed) < kill_after {
            std::thread::sleep(Duration::from_millis(1));
        }
        listener.0.kill().unwrap(); // SIGKILL
        listener.0.wait().unwrap();
        let mut accepted = Vec::new();
        for caller in callers {
            for (n, (status, body)) in caller.join().unwrap() {
                assert!(
                    matches!(status, 200 | 202),
                    "call {n} answered {status}: {body}"
                );
                if status == 202 {
                    accepted.push((n, body["release"]["id"].as_i64().unwrap()));
                }
            }
        }
        eprintln!(
            "round {round}: {} calls accepted before the kill",
            accepted.len()
        );

        // Start again: what was accepted is carried out.
        let listener = serve(&dir, port);
        let releases = tokio::task::spawn_blocking({
            let database = database.clone();
            move || settle(&database)
        })
        .await
        .unwrap();
        drop(listener);
        check(&database, &releases, &accepted, &sandbox_url).await;
    }
}

/// The checks after a round: every accepted call carried out, every triggered record with
/// its release, and the history equal to the cluster.
async fn check(database: &Path, releases: &[Release], accepted: &[(usize, i64)], sandbox: &str) {
    let store = Store::open(database).unwrap();
    let by_id = |id: i64| releases.iter().find(|r| r.id == id).unwrap();
    // Every 202 is carried out: its release succeeded, or was carried by one that did.
    for (n, id) in accepted {
        let mut release = by_id(*id);
        while let (ReleaseStatus::Superseded, Some(carrier)) = (release.status, release.carried_by)
        {
            release = by_id(carrier);
        }
        assert_eq!(
            release.status,
            ReleaseStatus::Succeeded,
            "call {n}'s work (release {}) did not succeed: {} {:?}",
            release.number,
            release.message,
            release.reason
        );
    }
    // No record says "triggered" without its release.
    let records = store
        .access_records(&RecordFilter {
            decision: Some(Decision::Triggered),
            limit: 100_000,
            ..RecordFilter::default()
        })
        .unwrap();
    for record in &records {
        let release = record
            .release
            .unwrap_or_else(|| panic!("record {} was triggered but names no release", record.id));
        assert!(
            releases.iter().any(|r| r.id == release),
            "record {} names release {release}, which does not exist",
            record.id
        );
    }

    // History equals the cluster. The image and the last patch are the last successful
    // release's version's; the replica count is every scale step ever queued, in order.
    let last = releases
        .iter()
        .filter(|r| r.status == ReleaseStatus::Succeeded)
        .max_by_key(|r| r.number)
        .unwrap();
    let version = store.version("demo", last.template_version).unwrap();
    let manifest = tripline_engine::template::Manifest::parse(&version.content).unwrap();
    let recorded = &manifest
        .documents()
        .iter()
        .find(|d| d.id.kind == "Deployment")
        .unwrap()
        .value;
    let running = live(sandbox).await;
    assert_eq!(
        container(&running)["image"],
        container(recorded)["image"],
        "release {} says version {}",
        last.number,
        version.summary.number
    );
    assert_eq!(env_value(&running), env_value(recorded));
    let mut ordered: Vec<&Release> = releases.iter().collect();
    ordered.sort_by_key(|r| r.number);
    let replicas = ordered
        .iter()
        .filter_map(|r| r.options.scale.as_ref())
        .fold(1, |count, step| step.target(count));
    assert_eq!(
        running["spec"]["replicas"], replicas,
        "every scale step, in order"
    );
    let newest = store.version("demo", None).unwrap();
    let newest = tripline_engine::template::Manifest::parse(&newest.content).unwrap();
    let newest = &newest
        .documents()
        .iter()
        .find(|d| d.id.kind == "Deployment")
        .unwrap()
        .value;
    assert_eq!(
        newest["spec"]["replicas"], replicas,
        "the template keeps the count"
    );
}
