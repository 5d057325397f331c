//! The whole path, over real sockets: `curl` calls exactly as the seeds write them → the
//! listener → a template version → the deploy worker → server-side apply into the sandbox
//! cluster through the real `kube` client → the Deployment rolls out on the new image.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use tokio_util::sync::CancellationToken;
use tripline::app::{ClusterRef, NewApplication, Pin, Source};
use tripline::cluster::Clusters;
use tripline::deploy::worker::{Event, Workers};
use tripline::listener::{self, Listener};
use tripline::sandbox::{Sandbox, SandboxConfig};
use tripline::secrets::Secrets;
use tripline::store::{NewTrigger, Origin, ReleaseStatus, Store};
use tripline::trigger::{TriggerKind, service};

const SEED: &str = include_str!("fixtures/templates/seed-demo.yaml");

struct World {
    _dir: tempfile::TempDir,
    database: PathBuf,
    secrets: Secrets,
    sandbox: Sandbox,
    workers: Workers,
    listener: Listener,
    client: kube::Client,
}

impl World {
    async fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_dir(dir.path()).unwrap();
        store
            .create_template("demo", SEED, "the seed's demo")
            .unwrap();
        store
            .create_app(&NewApplication {
                name: "demo".into(),
                cluster: ClusterRef::Sandbox,
                namespace: "shop".into(),
                source: Source::Template {
                    template: "demo".into(),
                    pin: Pin::Latest,
                },
                prune: false,
            })
            .unwrap();
        let database = store.info().unwrap().path;
        let sandbox = Sandbox::start(SandboxConfig {
            rollout_delay: Duration::from_millis(50),
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let client = kube::Client::try_from(sandbox.client_config()).unwrap();
        let secrets = Secrets::Files(dir.path().join("secrets"));
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
        let state =
            listener::State::new(config, database.clone(), secrets.clone(), workers.clone())
                .unwrap();
        let listener = Listener::start(Arc::clone(&state), cancel.child_token())
            .await
            .unwrap();
        World {
            _dir: dir,
            database,
            secrets,
            sandbox,
            workers,
            listener,
            client,
        }
    }

    fn trigger(&self, name: &str, kind: TriggerKind) -> String {
        let mut store = Store::open(&self.database).unwrap();
        let created = service::create(
            &mut store,
            &self.secrets,
            &NewTrigger {
                name: name.into(),
                app: "demo".into(),
                kind,
                signed: false,
            },
        )
        .unwrap();
        tripline::trigger::url_with_token(
            &created.trigger,
            &format!("http://{}", self.listener.address()),
            &created.token,
        )
    }

    /// Runs curl with the given arguments; returns (HTTP status, body).
    async fn curl(&self, args: &[&str]) -> (u16, serde_json::Value) {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let output = tokio::task::spawn_blocking(move || {
            Command::new("curl")
                .args(["-sS", "-w", "\n%{http_code}"])
                .args(&args)
                .output()
                .expect("curl runs")
        })
        .await
        .unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        let (body, status) = text.trim_end().rsplit_once('\n').expect("status line");
        (
            status.parse().unwrap(),
            serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.into())),
        )
    }

    /// Waits for a release to finish and returns its status.
    async fn finished(
        &self,
        mut events: tokio::sync::broadcast::Receiver<tripline::deploy::worker::DeployEvent>,
        release: i64,
    ) -> ReleaseStatus {
        let store = Store::open(&self.database).unwrap();
        if store.release(release).unwrap().status.is_final() {
            return store.release(release).unwrap().status;
        }
        tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let event = events.recv().await.unwrap();
                if event.release == release
                    && let Event::Finished { status, .. } = event.event
                {
                    return status;
                }
            }
        })
        .await
        .expect("the release finishes")
    }

    async fn deployment(&self) -> Deployment {
        Api::<Deployment>::namespaced(self.client.clone(), "shop")
            .get("demo")
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.listener.shutdown().await;
        self.workers.shutdown().await;
        self.sandbox.shutdown().await;
    }
}

fn image(deployment: &Deployment) -> String {
    deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_000_curl_patches_the_template_and_rolls_out_the_new_image() {
    let world = World::start().await;
    let url = world.trigger("demo-redeploy", TriggerKind::Redeploy);

    // Seed 000, second form: a plain redeploy.
    let events = world.workers.subscribe();
    let (status, body) = world.curl(&["-X", "POST", &url]).await;
    assert_eq!(status, 202, "{body}");
    let first = body["release"]["id"].as_i64().unwrap();
    assert_eq!(
        world.finished(events, first).await,
        ReleaseStatus::Succeeded
    );
    assert!(image(&world.deployment().await).ends_with(":blue"));

    // Seed 000, first form, byte for byte.
    let events = world.workers.subscribe();
    let patch = r#"{"resource":{"deployment":{"metadata":{"name":"demo"}, "spec": {"template": {"spec": {"containers": [{"name":"demo","image":"registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo:red"}]}}}}}}"#;
    let (status, body) = world
        .curl(&[
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            &url,
            "-d",
            patch,
        ])
        .await;
    assert_eq!(status, 202, "{body}");
    let second = body["release"]["id"].as_i64().unwrap();
    assert_eq!(
        world.finished(events, second).await,
        ReleaseStatus::Succeeded
    );

    let deployment = world.deployment().await;
    assert_eq!(
        image(&deployment),
        "registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo:red"
    );
    // The rest of the container survived the patch, in the cluster too.
    let container = &deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    assert_eq!(container.ports.as_ref().unwrap()[0].container_port, 8080);
    assert!(container.readiness_probe.is_some());
    let status = deployment.status.unwrap();
    assert_eq!(status.updated_replicas, Some(1));
    assert_eq!(status.available_replicas, Some(1));
    assert_eq!(status.observed_generation, deployment.metadata.generation);

    let store = Store::open(&world.database).unwrap();
    let versions = store.versions("demo").unwrap();
    assert_eq!(versions.last().unwrap().origin, Origin::Patch);
    let release = store.release(second).unwrap();
    assert_eq!(release.template_version, Some(2));
    let diff = release.diff.expect("the release records its diff");
    assert_eq!(
        diff.resources[0].changes[0].path,
        "spec.template.spec.containers[name=demo].image"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_scale_out_and_in_within_bounds() {
    let world = World::start().await;
    let redeploy = world.trigger("demo-redeploy", TriggerKind::Redeploy);
    let events = world.workers.subscribe();
    let (_, body) = world.curl(&["-X", "POST", &redeploy]).await;
    world
        .finished(events, body["release"]["id"].as_i64().unwrap())
        .await;

    let scale = world.trigger(
        "demo-scale",
        TriggerKind::Scale {
            kind: "Deployment".into(),
            name: "demo".into(),
            min: Some(1),
            max: Some(4),
        },
    );
    // Seed 002's form: GET with type and step.
    let events = world.workers.subscribe();
    let (status, body) = world
        .curl(&[&format!("{scale}&type=scale_out&step=5")])
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        world
            .finished(events, body["release"]["id"].as_i64().unwrap())
            .await,
        ReleaseStatus::Succeeded
    );
    assert_eq!(
        world.deployment().await.spec.unwrap().replicas,
        Some(4),
        "clamped to max"
    );

    // The count is in the template now, so a redeploy keeps it.
    let store = Store::open(&world.database).unwrap();
    let latest = store.version("demo", None).unwrap();
    assert_eq!(latest.summary.origin, Origin::Scale);
    assert!(latest.content.contains("replicas: 4"), "{}", latest.content);
    let events = world.workers.subscribe();
    let (_, body) = world.curl(&["-X", "POST", &redeploy]).await;
    world
        .finished(events, body["release"]["id"].as_i64().unwrap())
        .await;
    assert_eq!(world.deployment().await.spec.unwrap().replicas, Some(4));

    let events = world.workers.subscribe();
    let (status, body) = world
        .curl(&[&format!("{scale}&type=scale_in&step=10")])
        .await;
    assert_eq!(status, 202);
    world
        .finished(events, body["release"]["id"].as_i64().unwrap())
        .await;
    assert_eq!(
        world.deployment().await.spec.unwrap().replicas,
        Some(1),
        "clamped to min"
    );

    let (status, body) = world
        .curl(&[&format!("{scale}&type=scale_out&step=500")])
        .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("step"));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_true_answers_with_the_result_and_failures_say_why() {
    let world = World::start().await;
    let url = world.trigger("demo-redeploy", TriggerKind::Redeploy);
    let (status, body) = world
        .curl(&["-X", "POST", &format!("{url}&wait=true")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "succeeded");

    let broken = r#"{"resource":{"deployment":{"metadata":{"name":"demo"},"spec":{"progressDeadlineSeconds":1,"template":{"spec":{"containers":[{"name":"demo","image":"registry.invalid/demo:missing"}]}}}}}}"#;
    let (status, body) = world
        .curl(&[
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            &format!("{url}&wait=true"),
            "-d",
            broken,
        ])
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["status"], "failed");
    assert_eq!(body["reason"], "ProgressDeadlineExceeded");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("ImagePullBackOff"),
        "{body}"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_during_a_deploy_coalesce_and_are_all_recorded() {
    let world = World::start().await;
    let url = world.trigger("demo-redeploy", TriggerKind::Redeploy);
    let mut ids = Vec::new();
    let events = world.workers.subscribe();
    for _ in 0..5 {
        let (status, body) = world.curl(&["-X", "POST", &url]).await;
        assert_eq!(status, 202);
        ids.push(body["release"]["id"].as_i64().unwrap());
    }
    let last = *ids.last().unwrap();
    assert_eq!(world.finished(events, last).await, ReleaseStatus::Succeeded);
    let store = Store::open(&world.database).unwrap();
    let statuses: Vec<ReleaseStatus> = ids
        .iter()
        .map(|id| store.release(*id).unwrap().status)
        .collect();
    assert!(statuses.iter().all(|s| s.is_final()), "{statuses:?}");
    assert!(
        statuses.contains(&ReleaseStatus::Superseded),
        "newer requests replace queued ones: {statuses:?}"
    );
    assert_eq!(*statuses.last().unwrap(), ReleaseStatus::Succeeded);
    world.stop().await;
}
