//! Verify, then act; watching; maturing — against Debian's `docker-registry`, with `skopeo`
//! pushing, re-tagging and the sandbox deploying.
//!
//! Each test runs a template application on the sandbox with an image trigger on a repository
//! of a real registry on loopback, and the listener with its watch loop. A push the registry
//! contradicts (a tag it does not have, a digest it disagrees with) is refused and recorded; a
//! verified push deploys `tag@digest` with the registry's digest; an unreachable registry makes
//! a push wait and then be refused with `Retry-After`, or deployed unverified when the trigger
//! allows it; a watched repository deploys a new version, and a moved `latest`, within an
//! interval; a maturing push deploys once due, gives way to a newer push, and is let go when
//! its tag moved.
//!
//! Without `docker-registry` or `skopeo` a test prints `SKIPPED: …` and passes, unless
//! `TRIPLINE_REQUIRE_SOURCES=1` (as `scripts/test.sh` sets), when it fails.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use testbed::{Registry, oci_layout, require};
use tokio_util::sync::CancellationToken;
use tripline_engine::app::{ClusterRef, NewApplication, Pin, Source};
use tripline_engine::cluster::Clusters;
use tripline_engine::deploy::worker::Workers;
use tripline_engine::listener::{self, Listener, RegistryAccess};
use tripline_engine::registry::client::{Budgets, Client, Limits};
use tripline_engine::sandbox::{Sandbox, SandboxConfig};
use tripline_engine::secrets::Secrets;
use tripline_engine::store::{AccessRecord, Decision, Maturing, NewTrigger, RecordFilter, Store};
use tripline_engine::trigger::{TagFilter, TriggerKind, Verify, service};

/// A template application on the sandbox, an image trigger, the listener.
struct Rig {
    _dir: tempfile::TempDir,
    database: PathBuf,
    sandbox: Sandbox,
    workers: Workers,
    state: Arc<listener::State>,
    listener: Listener,
    hook: String,
    trigger: String,
    cancel: CancellationToken,
}

/// Settings of the rig's trigger.
struct Setup {
    image: String,
    repository: String,
    filter: TagFilter,
    verify: Verify,
    watch: Option<u32>,
    maturing: Option<u32>,
    attempts: u32,
    patience: Duration,
    request_timeout: Duration,
}

impl Setup {
    fn new(image: &str, repository: &str) -> Setup {
        Setup {
            image: image.to_owned(),
            repository: repository.to_owned(),
            filter: TagFilter::All,
            verify: Verify::Required,
            watch: None,
            maturing: None,
            attempts: 3,
            patience: Duration::from_secs(2),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl Rig {
    async fn start(setup: Setup) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let template = include_str!("fixtures/templates/seed-demo.yaml").replace(
            "registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo:blue",
            &setup.image,
        );
        let mut store = Store::open_dir(dir.path()).unwrap();
        store.create_template("demo", &template, "").unwrap();
        store
            .create_app(&NewApplication {
                name: "demo".into(),
                cluster: ClusterRef::Sandbox,
                namespace: "default".into(),
                source: Source::Template {
                    template: "demo".into(),
                    pin: Pin::Latest,
                },
                prune: false,
            })
            .unwrap();
        let database = store.info().unwrap().path;
        let secrets = Secrets::Files(dir.path().join("secrets"));
        let created = service::create(
            &mut store,
            &secrets,
            &NewTrigger {
                name: "images".into(),
                app: "demo".into(),
                kind: TriggerKind::Image {
                    repositories: vec![setup.repository.clone()],
                    filter: setup.filter,
                    pin_digest: true,
                    branch: None,
                    values: None,
                    verify: setup.verify,
                    watch: setup.watch,
                    maturing: setup.maturing,
                    containers: Vec::new(),
                    allow_downgrade: false,
                },
                signed: false,
            },
        )
        .unwrap();
        let sandbox = Sandbox::start(SandboxConfig {
            rollout_delay: Duration::from_millis(20),
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let cancel = CancellationToken::new();
        let workers = Workers::new(
            database.clone(),
            Clusters::new(Some(sandbox.client_config())),
            cancel.child_token(),
        )
        .unwrap();
        let config = listener::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..listener::Config::default()
        };
        let client = Client::new(
            Limits {
                request_timeout: setup.request_timeout,
                ..Limits::default()
            },
            Budgets::new(),
        )
        .unwrap();
        let mut access = RegistryAccess::new(client, Arc::new(|_| Ok(None)));
        access.attempts = setup.attempts;
        access.backoff = Duration::from_millis(100);
        access.patience = setup.patience;
        let state = listener::State::with_registry(
            config,
            database.clone(),
            secrets,
            workers.clone(),
            access,
        )
        .unwrap();
        let listener = Listener::start(Arc::clone(&state), cancel.child_token())
            .await
            .unwrap();
        let hook = tripline_engine::trigger::url_with_token(
            &created.trigger,
            &format!("http://{}", listener.address()),
            &created.token,
        );
        Rig {
            _dir: dir,
            database,
            sandbox,
            workers,
            state,
            listener,
            hook,
            trigger: created.trigger.name,
            cancel,
        }
    }

    /// Posts a generic push; the status, `Retry-After` and the body.
    async fn push(&self, body: serde_json::Value) -> (u16, Option<String>, serde_json::Value) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::Client::new()
            .post(&self.hook)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, retry, body)
    }

    fn store(&self) -> Store {
        Store::open(&self.database).unwrap()
    }

    /// The trigger's access records, newest first.
    async fn records(&self) -> Vec<AccessRecord> {
        self.state.flush_records().await;
        self.store()
            .access_records(&RecordFilter {
                trigger: Some(&self.trigger),
                limit: 100,
                ..RecordFilter::default()
            })
            .unwrap()
    }

    fn template(&self) -> String {
        self.store().version("demo", None).unwrap().content
    }

    /// The image the sandbox's Deployment runs.
    async fn deployed(&self) -> Option<String> {
        let api: kube::Api<Deployment> = kube::Api::namespaced(
            kube::Client::try_from(self.sandbox.client_config()).unwrap(),
            "default",
        );
        let deployment = api.get_opt("demo").await.unwrap()?;
        deployment.spec?.template.spec?.containers[0].image.clone()
    }

    /// Waits until the Deployment runs `image`, or fails after `within`.
    async fn wait_deployed(&self, image: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let now = self.deployed().await;
            if now.as_deref() == Some(image) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let records = self.records().await;
                panic!(
                    "the Deployment runs {now:?}, not {image}; records: {:#?}",
                    records
                        .iter()
                        .map(|r| (&r.method, &r.path, r.status, &r.reason))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn stop(self) {
        self.listener.shutdown().await;
        self.cancel.cancel();
        self.workers.shutdown().await;
        self.sandbox.shutdown().await;
    }
}

/// A registry, with `tags` of `demo/app` pushed from one layout each; their digests.
fn registry_with(tags: &[&str]) -> (Registry, tempfile::TempDir, Vec<String>) {
    let registry = Registry::start(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut digests = Vec::new();
    for tag in tags {
        let layout = dir.path().join(tag);
        oci_layout(&layout, tag).unwrap();
        digests.push(
            registry
                .copy_image(&layout, &format!("demo/app:{tag}"), None)
                .unwrap(),
        );
    }
    (registry, dir, digests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_are_verified_with_the_registry_and_pinned_to_its_digest() {
    if !require(&["docker-registry", "skopeo"]) {
        return;
    }
    let (registry, _layouts, digests) = registry_with(&["1.0.0", "1.1.0"]);
    let repository = format!("{}/demo/app", registry.host());
    let rig = Rig::start(Setup::new(&format!("{repository}:1.0.0"), &repository)).await;

    // A tag the registry does not have: refused, recorded, nothing saved.
    let (status, _, body) = rig
        .push(serde_json::json!({"image": format!("{repository}:9.9.9")}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "image_not_in_registry");
    // A digest the registry contradicts: refused.
    let forged = format!("sha256:{}", "0".repeat(64));
    let (status, _, body) = rig
        .push(serde_json::json!({"image": format!("{repository}:1.1.0@{forged}")}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "digest_disagrees");
    assert!(
        body["message"].as_str().unwrap().contains(&digests[1]),
        "{body}"
    );
    assert!(
        rig.template().contains(&format!("{repository}:1.0.0\n")),
        "{}",
        rig.template()
    );

    // A push without a digest (as Docker Hub sends them): the registry's is deployed.
    let (status, _, body) = rig
        .push(serde_json::json!({"image": format!("{repository}:1.1.0")}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["details"]["verification"][0]["verified"], "registry");
    let pinned = format!("{repository}:1.1.0@{}", digests[1]);
    rig.wait_deployed(&pinned, Duration::from_secs(30)).await;
    assert!(rig.template().contains(&pinned));

    let records = rig.records().await;
    let reasons: Vec<&str> = records.iter().map(|r| r.reason.as_str()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("rejected") && r.contains("no tag 9.9.9")),
        "{reasons:#?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("but the registry says")),
        "{reasons:#?}"
    );
    let triggered = records
        .iter()
        .find(|r| r.decision == Decision::Triggered)
        .unwrap();
    let event = triggered.event.as_ref().unwrap();
    assert_eq!(event["verification"][0]["digest"], digests[1].as_str());
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_makes_a_push_wait_and_then_refuses_it() {
    if !require(&["docker-registry", "skopeo"]) {
        return;
    }
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let repository = format!("127.0.0.1:{port}/demo/app");
    let mut setup = Setup::new(&format!("{repository}:1.0.0"), &repository);
    setup.attempts = 2;
    let rig = Rig::start(setup).await;
    let started = std::time::Instant::now();
    let (status, retry, body) = rig
        .push(serde_json::json!({"image": format!("{repository}:1.1.0")}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "registry_unreachable");
    assert!(retry.is_some_and(|r| r.parse::<u64>().unwrap() > 0));
    assert!(started.elapsed() >= Duration::from_millis(100), "it waited");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("2 attempts") && message.contains("not deployed unverified"),
        "{message}"
    );
    assert!(rig.template().contains(&format!("{repository}:1.0.0\n")));
    let records = rig.records().await;
    assert_eq!(records[0].status, 503);
    assert!(records[0].reason.contains("cannot be verified"));
    rig.stop().await;

    // A trigger that allows it deploys unverified, and says so.
    let mut setup = Setup::new(&format!("{repository}:1.0.0"), &repository);
    setup.attempts = 1;
    setup.verify = Verify::IfReachable;
    let rig = Rig::start(setup).await;
    let (status, _, body) = rig
        .push(serde_json::json!({"image": format!("{repository}:1.1.0")}))
        .await;
    assert_eq!(status, 202, "{body}");
    let verification = &body["details"]["verification"][0];
    assert_eq!(verification["verified"], "unverified", "{body}");
    assert!(
        verification["reason"]
            .as_str()
            .unwrap()
            .contains("deployed unverified"),
        "{body}"
    );
    assert!(rig.template().contains(&format!("{repository}:1.1.0\n")));
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_repository_deploys_a_new_version_and_a_moved_tag() {
    if !require(&["docker-registry", "skopeo"]) {
        return;
    }
    let (registry, layouts, digests) = registry_with(&["1.0.0"]);
    let repository = format!("{}/demo/app", registry.host());
    let mut setup = Setup::new(&format!("{repository}:1.0.0"), &repository);
    setup.filter = TagFilter::Semver {
        range: ">=1.0.0".into(),
        prerelease: false,
    };
    setup.watch = Some(5);
    let rig = Rig::start(setup).await;

    // The watch starts from 1.0.0, in use; 1.2.0 appears in the registry.
    let layout = layouts.path().join("1.2.0");
    oci_layout(&layout, "1.2.0").unwrap();
    let digest = registry
        .copy_image(&layout, "demo/app:1.2.0", None)
        .unwrap();
    assert_ne!(digest, digests[0]);
    let pinned = format!("{repository}:1.2.0@{digest}");
    rig.wait_deployed(&pinned, Duration::from_secs(30)).await;
    let records = rig.records().await;
    let watched = records
        .iter()
        .find(|r| r.decision == Decision::Triggered)
        .unwrap();
    assert_eq!(watched.method, "WATCH");
    assert_eq!(watched.path, format!("/watch/{repository}"));
    assert_eq!(watched.source, "127.0.0.1");
    let store = rig.store();
    let views = store.watches(store.trigger("images").unwrap().id).unwrap();
    assert_eq!(views.len(), 1, "{views:?}");
    assert_eq!(views[0].tag.as_deref(), Some("1.2.0"));
    assert_eq!(views[0].digest.as_deref(), Some(digest.as_str()));
    assert_eq!((views[0].tags, views[0].error.as_deref()), (2, None));

    // A lower version pushed later: refused by the anti-downgrade guard, on the record.
    let lower = layouts.path().join("1.0.5");
    oci_layout(&lower, "1.0.5").unwrap();
    registry.copy_image(&lower, "demo/app:1.0.5", None).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let refused = loop {
        let records = rig.records().await;
        if let Some(r) = records.iter().find(|r| r.reason.contains("tag 1.0.5")) {
            break r.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{records:#?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(refused.decision, Decision::Untriggered, "{refused:#?}");
    assert!(
        refused.reason.contains("is lower than 1.2.0"),
        "{}",
        refused.reason
    );
    assert_eq!(refused.method, "WATCH");
    assert_eq!(rig.deployed().await.as_deref(), Some(pinned.as_str()));
    rig.stop().await;

    // A moved `latest`: the trigger follows that one tag; the registry's new digest deploys.
    let latest = layouts.path().join("latest-a");
    oci_layout(&latest, "latest-a").unwrap();
    let first = registry
        .copy_image(&latest, "demo/app:latest", None)
        .unwrap();
    let mut setup = Setup::new(&format!("{repository}:latest@{first}"), &repository);
    setup.filter = TagFilter::Tags {
        tags: vec!["latest".into()],
    };
    setup.watch = Some(5);
    let rig = Rig::start(setup).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(
        rig.records().await.is_empty(),
        "an unmoved tag is not acted on"
    );
    let moved = layouts.path().join("latest-b");
    oci_layout(&moved, "latest-b").unwrap();
    let second = registry
        .copy_image(&moved, "demo/app:latest", None)
        .unwrap();
    rig.wait_deployed(
        &format!("{repository}:latest@{second}"),
        Duration::from_secs(30),
    )
    .await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maturing_push_deploys_when_due_gives_way_to_a_newer_one_and_not_when_its_tag_moved() {
    if !require(&["docker-registry", "skopeo"]) {
        return;
    }
    let (registry, layouts, digests) = registry_with(&["1.0.0", "1.1.0", "1.2.0", "1.3.0"]);
    let repository = format!("{}/demo/app", registry.host());
    let mut setup = Setup::new(&format!("{repository}:1.0.0"), &repository);
    setup.maturing = Some(10);
    let rig = Rig::start(setup).await;
    let trigger_id = rig.store().trigger("images").unwrap().id;
    let held = |store: &Store| store.maturing(trigger_id).unwrap();
    let make_due = |held: &Maturing| {
        let mut due = held.clone();
        due.due_at = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1)).to_string();
        rig.store().hold_maturing(&due).unwrap();
    };

    // Held, answered 202, nothing deployed yet.
    let (status, _, body) = rig
        .push(serde_json::json!({"image": format!("{repository}:1.1.0")}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "maturing");
    let waiting = held(&rig.store());
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].digest, digests[1]);
    assert!(rig.template().contains(&format!("{repository}:1.0.0\n")));

    // A newer push takes its place.
    let (status, _, body) = rig
        .push(serde_json::json!({"image": format!("{repository}:1.2.0")}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert!(body["replaces"][0].as_str().unwrap().ends_with(":1.1.0"));
    let waiting = held(&rig.store());
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].tag, "1.2.0");

    // Due: deployed with the digest it was pushed with, recorded as matured.
    make_due(&waiting[0]);
    let pinned = format!("{repository}:1.2.0@{}", digests[2]);
    rig.wait_deployed(&pinned, Duration::from_secs(30)).await;
    assert!(held(&rig.store()).is_empty());
    let records = rig.records().await;
    assert!(
        records.iter().any(
            |r| r.path == format!("/matured/{repository}") && r.decision == Decision::Triggered
        ),
        "{records:#?}"
    );

    // A tag that moves while it matures is let go.
    let (status, _, body) = rig
        .push(serde_json::json!({"image": format!("{repository}:1.3.0")}))
        .await;
    assert_eq!(status, 202, "{body}");
    let other = layouts.path().join("other");
    oci_layout(&other, "other").unwrap();
    registry.copy_image(&other, "demo/app:1.3.0", None).unwrap();
    make_due(&held(&rig.store())[0]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !held(&rig.store()).is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "still held");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rig.deployed().await.as_deref(), Some(pinned.as_str()));
    let _ = digests[3].as_str();
    rig.stop().await;
}

/// A proxy in front of a registry that answers its first `refusals` requests `429` with
/// `Retry-After: <retry_after>` and Docker Hub's rate-limit headers, and passes the rest on.
async fn rate_limiting_proxy(
    registry: String,
    refusals: usize,
    retry_after: u64,
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::response::IntoResponse as _;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let (counter, http, registry) = (Arc::clone(&counter), http.clone(), registry.clone());
        async move {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n < refusals {
                return (
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    [
                        ("retry-after", retry_after.to_string()),
                        ("ratelimit-limit", "100;w=21600".to_owned()),
                        ("ratelimit-remaining", "0;w=21600".to_owned()),
                    ],
                    "too many requests",
                )
                    .into_response();
            }
            let url = format!("http://{registry}{}", request.uri());
            let mut forward = http.request(request.method().clone(), url);
            for (name, value) in request.headers() {
                if name != "host" {
                    forward = forward.header(name, value);
                }
            }
            let answer = forward.send().await.unwrap();
            let mut response = axum::http::Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                response = response.header(name, value);
            }
            response
                .body(axum::body::Body::from(answer.bytes().await.unwrap()))
                .unwrap()
        }
    });
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(socket, app).await });
    (address, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_or_silent_registry_is_waited_for_within_a_bound() {
    if !require(&["docker-registry", "skopeo"]) {
        return;
    }
    let (registry, _layouts, digests) = registry_with(&["1.0.0", "1.1.0"]);

    // One 429 with Retry-After: 1 fits in the wait: the push is verified on the next try,
    // and the registry's budget is kept for its host.
    let (proxy, seen) = rate_limiting_proxy(registry.host(), 1, 1).await;
    let repository = format!("{proxy}/demo/app");
    let rig = Rig::start(Setup::new(&format!("{repository}:1.0.0"), &repository)).await;
    let started = std::time::Instant::now();
    let (status, _, body) = rig
        .push(serde_json::json!({"image": format!("{repository}:1.1.0")}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited");
    assert!(seen.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    assert_eq!(
        body["details"]["verification"][0]["digest"],
        digests[1].as_str()
    );
    let budget = rig
        .state
        .registry
        .client()
        .budgets()
        .get(&proxy.to_string())
        .expect("the 429's rate-limit headers were kept");
    assert_eq!(budget.limit, Some(100));
    rig.stop().await;

    // A Retry-After longer than the wait: refused at once, and told when to call again.
    let (proxy, _) = rate_limiting_proxy(registry.host(), 100, 60).await;
    let repository = format!("{proxy}/demo/app");
    let rig = Rig::start(Setup::new(&format!("{repository}:1.0.0"), &repository)).await;
    let started = std::time::Instant::now();
    let (status, retry, body) = rig
        .push(serde_json::json!({"image": format!("{repository}:1.1.0")}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let retry: u64 = retry.unwrap().parse().unwrap();
    assert!((50..=60).contains(&retry), "{retry}");
    assert!(
        body["message"].as_str().unwrap().contains("rate limiting"),
        "{body}"
    );
    rig.stop().await;

    // A registry that accepts connections and never answers: each try times out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let repository = format!("{}/demo/app", silent.local_addr().unwrap());
    let mut setup = Setup::new(&format!("{repository}:1.0.0"), &repository);
    setup.attempts = 2;
    setup.request_timeout = Duration::from_millis(500);
    let rig = Rig::start(setup).await;
    let (status, _, body) = rig
        .push(serde_json::json!({"image": format!("{repository}:1.1.0")}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("2 attempts"),
        "{body}"
    );
    drop(silent);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facade_listener_verifies_with_the_credentials_logged_in() {
    use tripline_engine::api::{ListenerSettings, Options, Tripline};
    if !require(&["docker-registry", "skopeo", "htpasswd"]) {
        return;
    }
    let (user, password) = ("ci", "correct-horse-battery");
    let registry = Registry::start_with(
        None,
        testbed::RegistryAuth::Htpasswd {
            username: user.into(),
            password: password.into(),
        },
    )
    .unwrap();
    let layouts = tempfile::tempdir().unwrap();
    oci_layout(layouts.path(), "1.1.0").unwrap();
    let digest = registry
        .copy_image(layouts.path(), "demo/app:1.1.0", Some((user, password)))
        .unwrap();
    let repository = format!("{}/demo/app", registry.host());

    let dir = tempfile::tempdir().unwrap();
    let mut tripline = Tripline::open(Options {
        data_dir: dir.path().to_owned(),
        secrets: Secrets::Files(dir.path().join("secrets")),
        via: "test",
        quiet: true,
    })
    .await
    .unwrap();
    // No Docker configuration or credential helper of this machine's user is read.
    tripline.use_registry_places(tripline_engine::registry::client::credentials::Places {
        docker_config: None,
        path: None,
        ..tripline_engine::registry::client::credentials::Places::from_env()
    });
    let template = include_str!("fixtures/templates/seed-demo.yaml").replace(
        "registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo:blue",
        &format!("{repository}:1.0.0"),
    );
    tripline.create_template("demo", &template, "").unwrap();
    tripline
        .create_app(&NewApplication {
            name: "demo".into(),
            cluster: ClusterRef::Sandbox,
            namespace: "default".into(),
            source: Source::Template {
                template: "demo".into(),
                pin: Pin::Latest,
            },
            prune: false,
        })
        .unwrap();
    tripline
        .create_trigger(&NewTrigger {
            name: "images".into(),
            app: "demo".into(),
            kind: TriggerKind::Image {
                repositories: vec![repository.clone()],
                filter: TagFilter::All,
                pin_digest: true,
                branch: None,
                values: None,
                verify: Verify::Required,
                watch: None,
                maturing: None,
                containers: Vec::new(),
                allow_downgrade: false,
            },
            signed: false,
        })
        .unwrap();
    tripline
        .start_listener(ListenerSettings {
            listen: "127.0.0.1:0".into(),
            public_url: None,
            trusted_proxies: Vec::new(),
        })
        .await
        .unwrap();
    let url = tripline.trigger_url("images").await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let push = || async {
        let response = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .body(serde_json::json!({"image": format!("{repository}:1.1.0")}).to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    };

    // Anonymous: the registry refuses to say, and the push is refused, nothing deployed.
    let (status, body) = push().await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("registry_refused"), "{body}");

    // Logged in (checked against the registry, kept in the secret store): verified, pinned.
    tripline
        .registry_login(&registry.host(), user, password)
        .await
        .unwrap();
    let (status, body) = push().await;
    assert_eq!(status, 202, "{body}");
    assert!(body.contains(&digest), "{body}");
    assert!(
        tripline
            .version("demo", None)
            .unwrap()
            .content
            .contains(&format!("{repository}:1.1.0@{digest}"))
    );
    tripline.shutdown().await;
}
