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
use tripline_engine::app::{ClusterRef, NewApplication, Pin, Source};
use tripline_engine::cluster::Clusters;
use tripline_engine::deploy::worker::{Event, Workers};
use tripline_engine::listener::{self, Listener};
use tripline_engine::sandbox::{Sandbox, SandboxConfig};
use tripline_engine::secrets::Secrets;
use tripline_engine::store::{NewTrigger, Origin, ReleaseStatus, Store};
use tripline_engine::trigger::{TriggerKind, service};

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
        World::start_with(Duration::from_millis(50)).await
    }

    /// A world whose sandbox takes `rollout_delay` to roll a Deployment out.
    async fn start_with(rollout_delay: Duration) -> World {
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
            rollout_delay,
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
        tripline_engine::trigger::url_with_token(
            &created.trigger,
            &format!("http://{}", self.listener.address()),
            &created.token,
        )
    }

    /// A scale trigger `demo-scale` on Deployment `demo`, within `min`..`max`.
    fn scale_trigger(&self, min: Option<u32>, max: Option<u32>) -> String {
        self.trigger(
            "demo-scale",
            TriggerKind::Scale {
                kind: "Deployment".into(),
                name: "demo".into(),
                min,
                max,
            },
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
        mut events: tokio::sync::broadcast::Receiver<tripline_engine::deploy::worker::DeployEvent>,
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

    /// Waits until every release in `ids` is final (a carried one counts once its carrier
    /// is), and returns them as stored.
    async fn settled(&self, ids: &[i64]) -> Vec<tripline_engine::store::Release> {
        let store = Store::open(&self.database).unwrap();
        tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let releases: Vec<_> = ids.iter().map(|id| store.release(*id).unwrap()).collect();
                let done = releases.iter().all(|r| {
                    let carrier = r.carried_by.map(|c| store.release(c).unwrap().status);
                    r.status.is_final() && carrier.is_none_or(|s| s.is_final())
                });
                if done {
                    return releases;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("the releases finish")
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

    let scale = world.scale_trigger(Some(1), Some(4));
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
    // A failed deploy is the release's result, not a listener fault: no 5xx to retry on.
    assert_eq!(status, 200, "{body}");
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
    // A rollout slow enough that the calls surely arrive while the first deploy runs.
    let world = World::start_with(Duration::from_millis(1000)).await;
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
        "requests queued behind a deploy are carried by one release: {statuses:?}"
    );
    assert_eq!(*statuses.last().unwrap(), ReleaseStatus::Succeeded);
    world.stop().await;
}

/// The trigger's Deployment as the template's newest version, or `version`, holds it.
fn template_deployment(database: &std::path::Path, version: Option<u32>) -> serde_json::Value {
    let store = Store::open(database).unwrap();
    let content = store.version("demo", version).unwrap().content;
    let manifest = tripline_engine::template::Manifest::parse(&content).unwrap();
    manifest
        .documents()
        .iter()
        .find(|d| d.id.kind == "Deployment")
        .unwrap()
        .value
        .clone()
}

const YELLOW: &str = r#"{"resource":{"deployment":{"metadata":{"name":"demo"},"spec":{"template":{"spec":{"containers":[{"name":"demo","image":"registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo:yellow"}]}}}}}}"#;

/// A patch (a new version with `:yellow`) and a scale call queued behind a running deploy are
/// both carried out by one release, and the history says what the cluster runs. (Before, the
/// scale's release superseded the patch's and only scaled: the cluster kept `:blue` while the
/// history said version 2 succeeded.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_and_a_scale_queued_behind_a_deploy_both_reach_the_cluster() {
    let world = World::start_with(Duration::from_millis(1500)).await;
    let redeploy = world.trigger("demo-redeploy", TriggerKind::Redeploy);
    let scale = world.scale_trigger(Some(1), Some(10));
    let (status, first) = world.curl(&["-X", "POST", &redeploy]).await;
    assert_eq!(status, 202, "{first}");
    let (status, patched) = world
        .curl(&[
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            &redeploy,
            "-d",
            YELLOW,
        ])
        .await;
    assert_eq!(status, 202, "{patched}");
    let (status, scaled) = world
        .curl(&[&format!("{scale}&type=scale_out&step=2")])
        .await;
    assert_eq!(status, 202, "{scaled}");
    let ids: Vec<i64> = [&first, &patched, &scaled]
        .iter()
        .map(|b| b["release"]["id"].as_i64().unwrap())
        .collect();
    let releases = world.settled(&ids).await;

    assert_eq!(
        releases[0].status,
        ReleaseStatus::Succeeded,
        "{}",
        releases[0].message
    );
    assert_eq!(
        (releases[1].status, releases[1].carried_by),
        (ReleaseStatus::Superseded, Some(ids[2])),
        "the patch's release is carried by the scale's: {}",
        releases[1].message
    );
    assert_eq!(
        releases[2].status,
        ReleaseStatus::Succeeded,
        "{}",
        releases[2].message
    );
    let work = releases[2].work.as_ref().unwrap();
    assert!(
        work.deploy,
        "a carried patch makes the release deploy: {work:?}"
    );
    assert_eq!(work.carries, vec![ids[1]]);

    // The cluster runs both changes.
    let deployment = world.deployment().await;
    assert!(
        image(&deployment).ends_with(":yellow"),
        "{}",
        image(&deployment)
    );
    assert_eq!(deployment.spec.as_ref().unwrap().replicas, Some(3));
    // And the history says exactly that.
    let recorded = template_deployment(&world.database, releases[2].template_version);
    assert_eq!(recorded["spec"]["replicas"], 3);
    assert!(
        recorded["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .ends_with(":yellow")
    );
    // The patch call's access record links to the release that did its work.
    let store = Store::open(&world.database).unwrap();
    let record = patched["record"].as_i64().unwrap();
    assert_eq!(store.access_record(record).unwrap().release, Some(ids[2]));
    world.stop().await;
}

/// Scale calls accepted while a deploy runs add up (each within its trigger's bounds): none is
/// lost to coalescing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_scale_steps_add_up_when_they_coalesce() {
    let world = World::start_with(Duration::from_millis(1000)).await;
    let redeploy = world.trigger("demo-redeploy", TriggerKind::Redeploy);
    let scale = world.scale_trigger(Some(1), Some(6));
    let (status, first) = world.curl(&["-X", "POST", &redeploy]).await;
    assert_eq!(status, 202, "{first}");
    let mut ids = vec![first["release"]["id"].as_i64().unwrap()];
    // 1 + 4 - 1 + 3 = 7, but the bound is 6 at the step that crosses it: 1, 5, 4, 6 (capped).
    for (direction, step) in [("scale_out", 4), ("scale_in", 1), ("scale_out", 3)] {
        let (status, body) = world
            .curl(&[&format!("{scale}&type={direction}&step={step}")])
            .await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["release"]["id"].as_i64().unwrap());
    }
    let releases = world.settled(&ids).await;
    let carriers: Vec<_> = releases
        .iter()
        .filter(|r| r.status != ReleaseStatus::Superseded)
        .collect();
    assert!(
        carriers
            .iter()
            .all(|r| r.status == ReleaseStatus::Succeeded),
        "{:?}",
        carriers.iter().map(|r| &r.message).collect::<Vec<_>>()
    );
    assert!(
        releases
            .iter()
            .any(|r| r.status == ReleaseStatus::Superseded),
        "the scale calls queued behind the deploy coalesce"
    );
    let deployment = world.deployment().await;
    assert_eq!(deployment.spec.as_ref().unwrap().replicas, Some(6));
    let last = carriers.last().unwrap();
    assert_eq!(
        template_deployment(&world.database, last.template_version)["spec"]["replicas"],
        6
    );
    world.stop().await;
}

/// What a dead process had accepted is carried out by the next one that resumes work: a
/// queued patch deploys, and a scale whose count was decided (and perhaps sent) before the
/// crash sends that count again instead of stepping twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_a_dead_process_accepted_are_resumed_not_dropped() {
    let world = World::start().await;
    let redeploy = world.trigger("demo-redeploy", TriggerKind::Redeploy);
    let events = world.workers.subscribe();
    let (status, first) = world.curl(&["-X", "POST", &redeploy]).await;
    assert_eq!(status, 202, "{first}");
    let first = first["release"]["id"].as_i64().unwrap();
    assert_eq!(
        world.finished(events, first).await,
        ReleaseStatus::Succeeded
    );
    // This process's workers stop before the dead process's work is written: after a release
    // they look for the next one, and would take releases this test queues under its own
    // process id before they are marked as a dead process's.
    world.workers.shutdown().await;

    // As a process killed with work in hand leaves it: a new version not yet deployed and its
    // release queued, and a scale release running with its count decided (3, from 1 by +2).
    let mut store = Store::open(&world.database).unwrap();
    // The patch also sets 2 replicas: the deploy must not apply that over the 3 already sent.
    let yellow_two = YELLOW.replace(
        r#""spec":{"template""#,
        r#""spec":{"replicas":2,"template""#,
    );
    assert_ne!(yellow_two, YELLOW);
    let patch = tripline_engine::patch::Patch::parse(
        tripline_engine::patch::PatchType::Resource,
        yellow_two.as_bytes(),
        None,
    )
    .unwrap();
    store
        .patch_template("demo", &patch, Origin::Patch, "patched before the crash")
        .unwrap();
    let options = tripline_engine::deploy::Options::default();
    let queued = store
        .queue_release(
            "demo",
            &tripline_engine::store::Cause::User { via: "test".into() },
            &options,
        )
        .unwrap();
    let step = tripline_engine::deploy::ScaleRequest {
        kind: "Deployment".into(),
        name: "demo".into(),
        direction: tripline_engine::deploy::Direction::ScaleOut,
        step: 2,
        min: None,
        max: None,
    };
    let scale_options = tripline_engine::deploy::Options {
        scale: Some(step.clone()),
        ..options.clone()
    };
    let running = store
        .queue_release(
            "demo",
            &tripline_engine::store::Cause::User { via: "test".into() },
            &scale_options,
        )
        .unwrap();
    let mut work = tripline_engine::store::Work::of(&scale_options);
    work.decide("Deployment", "demo", 3);
    crashed(&world.database, running.id, Some(&work));
    crashed(&world.database, queued.id, None);
    // The decided count was sent before the crash: the cluster already has 3.
    let deployments = Api::<Deployment>::namespaced(world.client.clone(), "shop");
    deployments
        .patch_scale(
            "demo",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();

    // The next process starts.
    let restarted = Workers::new(
        world.database.clone(),
        Clusters::new(Some(world.sandbox.client_config())),
        CancellationToken::new(),
    )
    .unwrap();
    let resumed = restarted.resume().unwrap();
    assert_eq!(resumed, vec!["demo".to_owned()]);
    let releases = world.settled(&[queued.id, running.id]).await;
    let carrier = releases
        .iter()
        .find(|r| r.status != ReleaseStatus::Superseded)
        .unwrap();
    assert_eq!(
        carrier.status,
        ReleaseStatus::Succeeded,
        "{}",
        carrier.message
    );
    let deployment = world.deployment().await;
    assert!(
        image(&deployment).ends_with(":yellow"),
        "the queued patch is deployed"
    );
    assert_eq!(
        deployment.spec.as_ref().unwrap().replicas,
        Some(3),
        "the decided count is sent again, not stepped from 3 to 5"
    );
    restarted.shutdown().await;
    world.stop().await;
}

/// Makes release `id` look as a killed process left it: owned by a process that does not
/// exist, and running with `work` in hand when given.
fn crashed(database: &std::path::Path, id: i64, work: Option<&tripline_engine::store::Work>) {
    let conn = rusqlite::Connection::open(database).unwrap();
    conn.execute("UPDATE releases SET owner = 4294967294 WHERE id = ?1", [id])
        .unwrap();
    if let Some(work) = work {
        conn.execute(
            "UPDATE releases SET status = 'running', work = ?2 WHERE id = ?1",
            rusqlite::params![id, serde_json::to_string(work).unwrap()],
        )
        .unwrap();
    }
}
