//! Watching many repositories: every one is looked at within its interval, however many are
//! due at once (the looks in flight are bounded, not the looks started per tick of the loop).
//!
//! Debian's `docker-registry` on loopback holds 100 repositories of one tiny image (pushed
//! once with `skopeo`, then mounted and tagged through the registry's API); one image trigger
//! watches them all at the shortest interval; the registry's access log says which
//! repositories were asked for their tags. Without `docker-registry` or `skopeo` the test
//! prints `SKIPPED: …` and passes, unless `TRIPLINE_REQUIRE_SOURCES=1`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use testbed::{Registry, oci_layout, require};
use tokio_util::sync::CancellationToken;
use tripline_engine::app::{ClusterRef, NewApplication, Pin, Source};
use tripline_engine::cluster::Clusters;
use tripline_engine::deploy::worker::Workers;
use tripline_engine::listener::{self, Listener, RegistryAccess};
use tripline_engine::secrets::Secrets;
use tripline_engine::store::{NewTrigger, Store};
use tripline_engine::trigger::{MIN_WATCH_INTERVAL, TagFilter, TriggerKind, Verify, service};

/// More than the loop's parallel looks (8) times the seconds of an interval.
const REPOSITORIES: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_watched_repository_is_looked_at_within_its_first_interval() {
    if !require(Registry::IMAGE_TOOLS) {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = Registry::start(None).unwrap();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    oci_layout(&layout, "many").unwrap();
    registry
        .copy_image(&layout, "many/r000:1.0.0", None)
        .unwrap();
    let http = reqwest::Client::new();
    let answer = http
        .get(format!("http://{host}/v2/many/r000/manifests/1.0.0"))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let media_type = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let manifest = answer.bytes().await.unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let blobs: Vec<&str> = std::iter::once(&parsed["config"])
        .chain(parsed["layers"].as_array().unwrap())
        .map(|d| d["digest"].as_str().unwrap())
        .collect();
    let names: Vec<String> = (0..REPOSITORIES).map(|i| format!("many/r{i:03}")).collect();
    for name in &names[1..] {
        for blob in &blobs {
            let mounted = http
                .post(format!(
                    "http://{host}/v2/{name}/blobs/uploads/?mount={blob}&from=many/r000"
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(mounted.status().as_u16(), 201);
        }
        let put = http
            .put(format!("http://{host}/v2/{name}/manifests/1.0.0"))
            .header("content-type", &media_type)
            .body(manifest.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status().as_u16(), 201);
    }

    let template: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: w{i:03}\nspec:\n  \
                 selector:\n    matchLabels:\n      app: w{i:03}\n  template:\n    metadata:\n      \
                 labels:\n        app: w{i:03}\n    spec:\n      containers:\n      - name: app\n        \
                 image: {host}/{name}:1.0.0\n"
            )
        })
        .collect();
    let mut store = Store::open_dir(dir.path()).unwrap();
    store
        .create_template("many", &template.join("---\n"), "")
        .unwrap();
    store
        .create_app(&NewApplication {
            name: "many".into(),
            cluster: ClusterRef::Sandbox,
            namespace: "default".into(),
            source: Source::Template {
                template: "many".into(),
                pin: Pin::Latest,
            },
            prune: false,
        })
        .unwrap();
    let database = store.info().unwrap().path;
    let secrets = Secrets::Files(dir.path().join("secrets"));
    service::create(
        &mut store,
        &secrets,
        &NewTrigger {
            name: "many".into(),
            app: "many".into(),
            kind: TriggerKind::Image {
                repositories: names.iter().map(|n| format!("{host}/{n}")).collect(),
                filter: TagFilter::All,
                pin_digest: true,
                branch: None,
                values: None,
                verify: Verify::Required,
                watch: Some(MIN_WATCH_INTERVAL),
                maturing: None,
                containers: Vec::new(),
                allow_downgrade: false,
            },
            signed: false,
        },
    )
    .unwrap();

    // Nothing changes, so nothing deploys: no cluster is needed.
    let cancel = CancellationToken::new();
    let workers =
        Workers::new(database.clone(), Clusters::new(None), cancel.child_token()).unwrap();
    let config = listener::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..listener::Config::default()
    };
    let log = registry.log_path();
    let from = std::fs::metadata(&log).unwrap().len() as usize;
    let state = listener::State::with_registry(
        config,
        database,
        secrets,
        workers.clone(),
        RegistryAccess::anonymous(),
    )
    .unwrap();
    let listener = Listener::start(Arc::clone(&state), cancel.child_token())
        .await
        .unwrap();

    // A new watch starts within its first interval (5 s); with a tick (1 s) and a wide margin
    // for a loaded machine, every repository must have been asked for its tags by then. (Eight
    // looks started per tick, as before, asked only the first 48 or so, however long.)
    let wait = Duration::from_secs(u64::from(MIN_WATCH_INTERVAL) + 10);
    let deadline = Instant::now() + wait;
    let asked = loop {
        let text = std::fs::read(&log).unwrap();
        let asked: HashSet<String> = String::from_utf8_lossy(&text[from..])
            .lines()
            .filter_map(|line| {
                let path = line.split('"').nth(1)?.split(' ').nth(1)?;
                let name = path.strip_prefix("/v2/")?.split_once("/tags/list")?.0;
                Some(name.to_owned())
            })
            .collect();
        if asked.len() >= REPOSITORIES || Instant::now() >= deadline {
            break asked;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    listener.shutdown().await;
    workers.shutdown().await;
    cancel.cancel();
    assert_eq!(
        asked.len(),
        REPOSITORIES,
        "repositories asked for their tags within {wait:?}"
    );
}
