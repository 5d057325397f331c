//! A real registry's own notification drives a deploy.
//!
//! Debian's `docker-registry` (the distribution registry) is started with a
//! `notifications.endpoints` entry pointing at Tripline's listener; `skopeo` pushes an image
//! (from an OCI layout this test builds) into it; the registry notifies the listener; the
//! image trigger updates the template and the sandbox Deployment rolls out the pushed tag.
//! Without `docker-registry` and `skopeo` the test says so and passes, unless
//! `TRIPLINE_REQUIRE_REGISTRY` is set (as `scripts/test.sh` does), when it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use sha2::{Digest as _, Sha256};
use tokio_util::sync::CancellationToken;
use tripline_engine::app::{ClusterRef, NewApplication, Pin, Source};
use tripline_engine::cluster::Clusters;
use tripline_engine::deploy::worker::{Event, Workers};
use tripline_engine::listener::{self, Listener};
use tripline_engine::sandbox::{Sandbox, SandboxConfig};
use tripline_engine::secrets::Secrets;
use tripline_engine::store::{Cause, NewTrigger, Origin, RecordFilter, ReleaseStatus, Store};
use tripline_engine::trigger::{TagFilter, TriggerKind, service};

fn available(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let hex = sha256(bytes);
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
    (format!("sha256:{hex}"), bytes.len())
}

/// An OCI image layout holding one tiny image tagged `tag`.
fn oci_layout(dir: &Path, tag: &str) -> PathBuf {
    let layout = dir.join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("hello.txt"), format!("hello from {tag}\n")).unwrap();
    let tar = dir.join("layer.tar");
    let status = Command::new("tar")
        .args(["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-cf"])
        .arg(&tar)
        .args(["-C"])
        .arg(&files)
        .arg("hello.txt")
        .status()
        .unwrap();
    assert!(status.success());
    let layer = std::fs::read(&tar).unwrap();
    let (layer_digest, layer_size) = write_blob(&layout, &layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/hello"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]}
    })
    .to_string();
    let (config_digest, config_size) = write_blob(&layout, config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}]
    })
    .to_string();
    let (manifest_digest, manifest_size) = write_blob(&layout, manifest.as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }]
    });
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    layout
}

struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_registry(dir: &Path, port: u16, hook: &str) -> Registry {
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\nhttp:\n  addr: 127.0.0.1:{port}\nnotifications:\n  endpoints:\n    - name: tripline\n      url: {hook}\n      timeout: 3s\n      threshold: 3\n      backoff: 1s\n",
        root = dir.join("storage").display()
    );
    let path = dir.join("registry.yml");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("registry.log")).unwrap())
        .spawn()
        .expect("docker-registry starts");
    let registry = Registry(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return registry;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "docker-registry did not listen on {port}: {}",
        std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_push_notification_deploys_the_new_tag() {
    if !available("docker-registry") || !available("skopeo") {
        assert!(
            std::env::var_os("TRIPLINE_REQUIRE_REGISTRY").is_none(),
            "TRIPLINE_REQUIRE_REGISTRY is set but docker-registry or skopeo is missing"
        );
        eprintln!("docker-registry or skopeo is not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let repository = format!("127.0.0.1:{port}/demo/app");

    // Tripline: a template on v1, an application on the sandbox, an image trigger for v* tags.
    let template = include_str!("fixtures/templates/seed-demo.yaml").replace(
        "registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo:blue",
        &format!("{repository}:v1"),
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
            name: "demo-images".into(),
            app: "demo".into(),
            kind: TriggerKind::Image {
                repositories: vec![repository.clone()],
                filter: TagFilter::Regex {
                    pattern: r"v\d+".into(),
                },
                pin_digest: false,
                branch: None,
                values: None,
                verify: tripline_engine::trigger::Verify::Required,
                watch: None,
                maturing: None,
                containers: Vec::new(),
                allow_downgrade: false,
            },
            signed: false,
        },
    )
    .unwrap();
    let sandbox = Sandbox::start(SandboxConfig {
        rollout_delay: Duration::from_millis(50),
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
    let state = listener::State::new(config, database.clone(), secrets, workers.clone()).unwrap();
    let listener = Listener::start(Arc::clone(&state), cancel.child_token())
        .await
        .unwrap();
    let hook = tripline_engine::trigger::url_with_token(
        &created.trigger,
        &format!("http://{}", listener.address()),
        &created.token,
    );

    let _registry = start_registry(dir.path(), port, &hook);
    let mut events = workers.subscribe();

    // Push v2 with skopeo from an OCI layout.
    let layout = oci_layout(dir.path(), "v2");
    let output = tokio::task::spawn_blocking({
        let destination = format!("docker://{repository}:v2");
        let source = format!("oci:{}:v2", layout.display());
        move || {
            Command::new("skopeo")
                .args([
                    "copy",
                    "--insecure-policy",
                    "--dest-tls-verify=false",
                    &source,
                    &destination,
                ])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The registry's notification arrives, and a release runs to success.
    let release = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let event = events.recv().await.unwrap();
            if let Event::Finished {
                status, message, ..
            } = event.event
            {
                assert_eq!(status, ReleaseStatus::Succeeded, "{message}");
                return event.release;
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no release finished; registry log:\n{}",
            std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default()
        )
    });

    let store = Store::open(&database).unwrap();
    let latest = store.version("demo", None).unwrap();
    assert_eq!(latest.summary.origin, Origin::ImageUpdate);
    assert!(
        latest.content.contains(&format!("image: {repository}:v2")),
        "{}",
        latest.content
    );
    let Cause::Trigger {
        event: Some(event),
        record: Some(record),
        ..
    } = store.release(release).unwrap().cause
    else {
        panic!("the release names its trigger call");
    };
    assert_eq!(event["format"], "distribution");
    assert_eq!(event["tag"], "v2");
    assert_eq!(event["registry"], format!("127.0.0.1:{port}"));
    let record = store.access_record(record).unwrap();
    assert!(
        record
            .headers
            .iter()
            .any(|(n, v)| n == "content-type" && v.contains("distribution.events")),
        "{:?}",
        record.headers
    );
    assert!(!record.path.contains(&created.token));

    let deployment: Deployment = kube::Api::namespaced(
        kube::Client::try_from(sandbox.client_config()).unwrap(),
        "default",
    )
    .get("demo")
    .await
    .unwrap();
    let image = deployment.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone()
        .unwrap();
    assert_eq!(image, format!("{repository}:v2"));

    // Layer uploads in the same notifications were not pushes of a tag; they are recorded as
    // untriggered, never as failures.
    state_flush(&state).await;
    let records = store
        .access_records(&RecordFilter {
            trigger: Some("demo-images"),
            limit: 50,
            ..RecordFilter::default()
        })
        .unwrap();
    assert!(records.iter().all(|r| r.status < 400), "{records:#?}");

    listener.shutdown().await;
    workers.shutdown().await;
    sandbox.shutdown().await;
}

async fn state_flush(state: &Arc<listener::State>) {
    state.flush_records().await;
}
