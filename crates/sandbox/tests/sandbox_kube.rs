//! The sandbox cluster driven by the real `kube` client, as the deploy engine drives it:
//! discovery, server-side apply (create, no-op, change, prune, conflicts, force), the other
//! patch types, `/scale`, watches, selectors, rollouts and their status, image-pull
//! failures and the progress deadline, persistence across restarts, delete propagation, and
//! the `Status` errors a real API server answers — including for malformed and hostile
//! requests.

use std::time::Duration;

use axum::http::{self, Method};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tripline_sandbox::{Sandbox, SandboxConfig};

/// How long anything in a test may take to converge.
const PATIENCE: Duration = Duration::from_secs(20);

async fn start_with(config: SandboxConfig) -> (Sandbox, Client) {
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let client = Client::try_from(sandbox.client_config()).expect("client");
    (sandbox, client)
}

async fn start() -> (Sandbox, Client) {
    start_with(SandboxConfig {
        rollout_delay: Duration::from_millis(50),
        ..SandboxConfig::default()
    })
    .await
}

fn deployment(name: &str, image: &str, replicas: Option<i64>) -> Value {
    let mut d = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]}
            }
        }
    });
    if let Some(r) = replicas {
        d["spec"]["replicas"] = json!(r);
    }
    d
}

fn config_map(name: &str, labels: Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"key": "value"}
    }))
    .unwrap()
}

fn api_error(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Waits, by watching (no polling), until `name` satisfies `done`.
async fn wait_for<K>(api: &Api<K>, name: &str, what: &str, done: impl Fn(&K) -> bool) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let wait = async {
        loop {
            let current = api.get(name).await.expect("get");
            if done(&current) {
                return current;
            }
            let rv = current.resource_version().unwrap_or_default();
            let params = WatchParams::default()
                .fields(&format!("metadata.name={name}"))
                .timeout(5);
            let mut events = api.watch(&params, &rv).await.expect("watch").boxed();
            while let Some(event) = events.try_next().await.expect("watch event") {
                if let WatchEvent::Added(o) | WatchEvent::Modified(o) = event
                    && done(&o)
                {
                    return o;
                }
            }
        }
    };
    match tokio::time::timeout(PATIENCE, wait).await {
        Ok(object) => object,
        Err(_) => panic!(
            "timed out waiting for {name}: {what}: {:?}",
            api.get(name).await
        ),
    }
}

fn rolled_out(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(s) = &d.status else { return false };
    s.observed_generation == d.metadata.generation
        && s.updated_replicas.unwrap_or(0) == want
        && s.ready_replicas.unwrap_or(0) == want
        && s.available_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
}

fn condition<'a>(
    d: &'a Deployment,
    kind: &str,
) -> Option<&'a k8s_openapi::api::apps::v1::DeploymentCondition> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
}

fn image_of(pod: &Pod) -> String {
    pod.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

#[tokio::test]
async fn discovery_finds_kinds_and_their_scope() {
    let (_sandbox, client) = start().await;
    let cases = [
        ("apps", "v1", "Deployment", Scope::Namespaced, "deployments"),
        (
            "apps",
            "v1",
            "StatefulSet",
            Scope::Namespaced,
            "statefulsets",
        ),
        ("", "v1", "Namespace", Scope::Cluster, "namespaces"),
        ("", "v1", "Service", Scope::Namespaced, "services"),
        ("batch", "v1", "CronJob", Scope::Namespaced, "cronjobs"),
        (
            "networking.k8s.io",
            "v1",
            "Ingress",
            Scope::Namespaced,
            "ingresses",
        ),
        (
            "policy",
            "v1",
            "PodDisruptionBudget",
            Scope::Namespaced,
            "poddisruptionbudgets",
        ),
        (
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            Scope::Namespaced,
            "horizontalpodautoscalers",
        ),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            Scope::Cluster,
            "clusterroles",
        ),
    ];
    let legacy = Discovery::new(client.clone())
        .run()
        .await
        .expect("legacy discovery");
    let aggregated = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .expect("aggregated discovery");
    for discovery in [&legacy, &aggregated] {
        for (group, version, kind, scope, plural) in &cases {
            let (resource, caps) = discovery
                .resolve_gvk(&GroupVersionKind::gvk(group, version, kind))
                .unwrap_or_else(|| panic!("{group}/{version} {kind} is discovered"));
            assert_eq!(&caps.scope, scope, "{kind}");
            assert_eq!(resource.plural, *plural);
        }
        let (_, caps) = discovery
            .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
            .unwrap();
        let subresources: Vec<&str> = caps
            .subresources
            .iter()
            .map(|(r, _)| r.plural.as_str())
            .collect();
        assert!(
            subresources.contains(&"scale") && subresources.contains(&"status"),
            "{subresources:?}"
        );
    }
    let version = client.apiserver_version().await.expect("version");
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "33")
    );
    assert!(version.git_version.starts_with("v1.33.0"));
}

#[tokio::test]
async fn server_side_apply_creates_keeps_and_rolls_out() {
    let (_sandbox, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let apply = PatchParams::apply("tripline").force();

    let created = api
        .patch(
            "web",
            &apply,
            &Patch::Apply(deployment("web", "nginx:1.27", Some(2))),
        )
        .await
        .expect("apply creates");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(
        created
            .metadata
            .uid
            .as_deref()
            .is_some_and(|u| u.len() == 36)
    );
    let first_rv = created.resource_version().expect("resourceVersion");
    let managed = created
        .metadata
        .managed_fields
        .as_ref()
        .expect("managedFields");
    assert_eq!(managed[0].manager.as_deref(), Some("tripline"));
    assert_eq!(managed[0].operation.as_deref(), Some("Apply"));
    assert_eq!(managed[0].fields_type.as_deref(), Some("FieldsV1"));
    let first = wait_for(&api, "web", "first rollout", rolled_out).await;

    // Applying the same configuration changes nothing at all.
    let again = api
        .patch(
            "web",
            &apply,
            &Patch::Apply(deployment("web", "nginx:1.27", Some(2))),
        )
        .await
        .expect("re-apply");
    assert_eq!(again.metadata.generation, Some(1));
    assert_eq!(again.resource_version(), first.resource_version());
    assert_ne!(again.resource_version(), Some(first_rv));

    let changed = api
        .patch(
            "web",
            &apply,
            &Patch::Apply(deployment("web", "nginx:1.28", Some(2))),
        )
        .await
        .expect("apply a new image");
    assert_eq!(changed.metadata.generation, Some(2));
    let done = wait_for(&api, "web", "second rollout", rolled_out).await;
    assert_eq!(done.status.as_ref().unwrap().observed_generation, Some(2));
    let progressing = condition(&done, "Progressing").expect("Progressing");
    assert_eq!(
        progressing.reason.as_deref(),
        Some("NewReplicaSetAvailable")
    );
    assert_eq!(condition(&done, "Available").unwrap().status, "True");

    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let sets = replica_sets
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(sets.items.len(), 2, "one ReplicaSet per template");
    for rs in &sets.items {
        let owner = &rs.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.kind, "Deployment");
        assert_eq!(owner.uid, done.metadata.uid.clone().unwrap());
        let hash = rs.labels().get("pod-template-hash").expect("hash label");
        assert_eq!(rs.name_any(), format!("web-{hash}"));
    }
    let old = sets
        .items
        .iter()
        .find(|rs| {
            rs.spec
                .as_ref()
                .unwrap()
                .template
                .as_ref()
                .unwrap()
                .spec
                .as_ref()
                .unwrap()
                .containers[0]
                .image
                .as_deref()
                == Some("nginx:1.27")
        })
        .unwrap();
    assert_eq!(
        old.spec.as_ref().unwrap().replicas,
        Some(0),
        "the old ReplicaSet is scaled down"
    );
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pods = pod_api
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(pods.items.len(), 2);
    let logs = pod_api
        .logs(&pods.items[0].name_any(), &Default::default())
        .await
        .unwrap();
    assert!(logs.contains("is simulated"), "{logs}");
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client, "default");
    let scaled: Vec<String> = events
        .list(
            &ListParams::default().fields("involvedObject.name=web,involvedObject.kind=Deployment"),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.message)
        .collect();
    assert!(
        scaled
            .iter()
            .any(|m| m.starts_with("Scaled up replica set web-") && m.ends_with("from 0 to 2")),
        "{scaled:?}"
    );
    assert!(
        scaled
            .iter()
            .any(|m| m.starts_with("Scaled down replica set web-") && m.ends_with("to 0")),
        "{scaled:?}"
    );
    for pod in &pods.items {
        assert_eq!(image_of(pod), "nginx:1.28");
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert!(status.container_statuses.as_ref().unwrap()[0].ready);
    }
}

#[tokio::test]
async fn server_side_apply_prunes_fields_the_manager_dropped() {
    let (_sandbox, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    let apply = PatchParams::apply("tripline");
    let mut with_extras = deployment("prune", "nginx:1.27", Some(3));
    with_extras["metadata"]["annotations"] = json!({"team": "blue"});
    with_extras["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "MODE", "value": "x"}]);
    api.patch("prune", &apply, &Patch::Apply(with_extras))
        .await
        .unwrap();

    let pruned = api
        .patch(
            "prune",
            &apply,
            &Patch::Apply(deployment("prune", "nginx:1.27", None)),
        )
        .await
        .unwrap();
    assert!(
        pruned.annotations().get("team").is_none(),
        "annotation pruned"
    );
    let container = &pruned
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    assert!(container.env.is_none(), "env pruned: {:?}", container.env);
    // replicas was pruned too, and defaulted back, as on a real server.
    assert_eq!(pruned.spec.as_ref().unwrap().replicas, Some(1));
    assert_eq!(pruned.metadata.generation, Some(2));
}

#[tokio::test]
async fn apply_conflicts_name_the_other_manager_until_forced() {
    let (_sandbox, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    api.patch(
        "c",
        &PatchParams::apply("alpha"),
        &Patch::Apply(deployment("c", "nginx:1", Some(2))),
    )
    .await
    .unwrap();

    let err = api
        .patch(
            "c",
            &PatchParams::apply("beta"),
            &Patch::Apply(deployment("c", "nginx:1", Some(5))),
        )
        .await
        .expect_err("a conflict");
    let status = api_error(err);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"alpha\": .spec.replicas"
    );
    let cause = &status.details.as_ref().unwrap().causes[0];
    assert_eq!(cause.field, ".spec.replicas");

    // An `Update` manager (kubectl edit) is named with its apiVersion.
    api.patch(
        "c",
        &PatchParams { field_manager: Some("kubectl-edit".into()), ..PatchParams::default() },
        &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}})),
    )
    .await
    .unwrap();
    let err = api
        .patch(
            "c",
            &PatchParams::apply("alpha"),
            &Patch::Apply(deployment("c", "nginx:1", Some(2))),
        )
        .await
        .expect_err("conflict with the edit");
    let status = api_error(err);
    assert!(
        status.message.contains("conflict with \"kubectl-edit\" using apps/v1: .spec.template.spec.containers[name=\"web\"].image"),
        "{}",
        status.message
    );

    let forced = api
        .patch(
            "c",
            &PatchParams::apply("beta").force(),
            &Patch::Apply(deployment("c", "nginx:1", Some(5))),
        )
        .await
        .expect("force takes ownership");
    assert_eq!(forced.spec.as_ref().unwrap().replicas, Some(5));
    let owners: Vec<(String, Value)> = forced
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap(),
                serde_json::to_value(&m.fields_v1).unwrap(),
            )
        })
        .collect();
    let replicas_owner: Vec<&str> = owners
        .iter()
        .filter(|(_, f)| f.pointer("/f:spec/f:replicas").is_some())
        .map(|(m, _)| m.as_str())
        .collect();
    assert_eq!(replicas_owner, ["beta"]);
}

fn workload(kind: &str, name: &str, image: &str) -> Value {
    let mut object = deployment(name, image, None);
    object["kind"] = json!(kind);
    if kind == "StatefulSet" {
        object["spec"]["replicas"] = json!(3);
        object["spec"]["serviceName"] = json!(name);
    }
    object
}

fn pods_of(pods: &[Pod]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = pods.iter().map(|p| (p.name_any(), image_of(p))).collect();
    out.sort();
    out
}

#[tokio::test]
async fn stateful_sets_and_daemon_sets_roll_out_like_kubectl_expects() {
    let (_sandbox, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    // What `kubectl rollout status statefulset` waits for.
    let sts_done = |s: &StatefulSet| {
        let st = s.status.clone().unwrap_or_default();
        st.observed_generation == s.metadata.generation
            && st.ready_replicas == Some(3)
            && st.updated_replicas == Some(3)
            && st.current_revision.is_some()
            && st.current_revision == st.update_revision
    };
    for (round, image) in ["nginx:1", "nginx:2"].into_iter().enumerate() {
        sets.patch(
            "db",
            &PatchParams::apply("t"),
            &Patch::Apply(workload("StatefulSet", "db", image)),
        )
        .await
        .unwrap();
        let done = wait_for(&sets, "db", "statefulset rollout", sts_done).await;
        assert_eq!(done.metadata.generation, Some(round as i64 + 1));
        let listed = pods
            .list(&ListParams::default().labels("app=db"))
            .await
            .unwrap();
        let expected: Vec<(String, String)> = (0..3)
            .map(|i| (format!("db-{i}"), image.to_owned()))
            .collect();
        assert_eq!(pods_of(&listed.items), expected);
    }

    let daemons: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    // What `kubectl rollout status daemonset` waits for.
    let ds_done = |d: &DaemonSet| {
        let st = d.status.clone().unwrap_or_default();
        st.observed_generation == d.metadata.generation
            && st.desired_number_scheduled == 1
            && st.updated_number_scheduled == Some(1)
            && st.number_available == Some(1)
    };
    for image in ["agent:1", "agent:2"] {
        daemons
            .patch(
                "agent",
                &PatchParams::apply("t"),
                &Patch::Apply(workload("DaemonSet", "agent", image)),
            )
            .await
            .unwrap();
        wait_for(&daemons, "agent", "daemonset rollout", ds_done).await;
        let listed = pods
            .list(&ListParams::default().labels("app=agent"))
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(image_of(&listed.items[0]), image);
        assert_eq!(
            listed.items[0].spec.as_ref().unwrap().node_name.as_deref(),
            Some("sandbox-node")
        );
    }
}

#[tokio::test]
async fn status_is_written_only_through_its_subresource() {
    let (_sandbox, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    api.patch(
        "st",
        &PatchParams::apply("t"),
        &Patch::Apply(deployment("st", "nginx:1", Some(1))),
    )
    .await
    .unwrap();
    let ready = wait_for(&api, "st", "rollout", rolled_out).await;
    let status_before = ready.status.clone();

    // The main resource ignores status…
    let patched = api
        .patch(
            "st",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 42}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.status, status_before);
    assert_eq!(patched.metadata.generation, Some(1));
    // …and /status ignores everything else.
    let written = api
        .patch_status(
            "st",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 9}, "status": {"collisionCount": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(written.status.unwrap().collision_count, Some(3));
    assert_eq!(written.spec.unwrap().replicas, Some(1));
    assert_eq!(
        api.get_status("st").await.unwrap().metadata.generation,
        Some(1)
    );
}

#[tokio::test]
async fn merge_strategic_and_json_patches() {
    let (_sandbox, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    api.create(
        &PostParams::default(),
        &serde_json::from_value(deployment("p", "nginx:1", Some(1))).unwrap(),
    )
    .await
    .unwrap();
    let pp = PatchParams::default();
    let cases: Vec<(&str, Patch<Value>, &str, Value)> = vec![
        (
            "merge",
            Patch::Merge(json!({"metadata": {"labels": {"tier": "front"}}})),
            "/metadata/labels/tier",
            json!("front"),
        ),
        (
            "strategic keeps the container's ports",
            Patch::Strategic(
                json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}),
            ),
            "/spec/template/spec/containers/0/ports/0/containerPort",
            json!(80),
        ),
        (
            "json patch",
            Patch::Json(
                serde_json::from_value(
                    json!([{"op": "replace", "path": "/spec/replicas", "value": 4}]),
                )
                .unwrap(),
            ),
            "/spec/replicas",
            json!(4),
        ),
    ];
    for (name, patch, pointer, expected) in cases {
        let patched = api
            .patch("p", &pp, &patch)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let patched = serde_json::to_value(patched).unwrap();
        assert_eq!(patched.pointer(pointer), Some(&expected), "{name}");
    }
    let d = api.get("p").await.unwrap();
    assert_eq!(
        d.spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .as_deref(),
        Some("nginx:2")
    );
    assert_eq!(
        d.metadata.generation,
        Some(3),
        "label patch does not bump the generation"
    );

    // A JSON patch whose test fails changes nothing.
    let err = api
        .patch(
            "p",
            &pp,
            &Patch::Json::<()>(
                serde_json::from_value(
                    json!([{"op": "test", "path": "/spec/replicas", "value": 9}]),
                )
                .unwrap(),
            ),
        )
        .await
        .expect_err("failed test op");
    assert_eq!(api_error(err).code, 422);
}

#[tokio::test]
async fn scale_subresource_sets_replicas() {
    let (_sandbox, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    api.patch(
        "s",
        &PatchParams::apply("tripline"),
        &Patch::Apply(deployment("s", "nginx:1", Some(1))),
    )
    .await
    .unwrap();
    let scale = api.get_scale("s").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=s"));

    let scaled = api
        .patch_scale(
            "s",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(scaled.spec.unwrap().replicas, Some(3));
    let d = wait_for(&api, "s", "scaled to 3", rolled_out).await;
    assert_eq!(d.metadata.generation, Some(2));
    let pods: Api<Pod> = Api::namespaced(client, "default");
    assert_eq!(
        pods.list(&ListParams::default().labels("app=s"))
            .await
            .unwrap()
            .items
            .len(),
        3
    );

    let mut scale = api.get_scale("s").await.unwrap();
    scale.spec.as_mut().unwrap().replicas = Some(1);
    api.replace_scale("s", &PostParams::default(), &scale)
        .await
        .unwrap();
    wait_for(&api, "s", "scaled to 1", |d| {
        rolled_out(d) && d.spec.as_ref().unwrap().replicas == Some(1)
    })
    .await;
    let listed = pods
        .list(&ListParams::default().labels("app=s"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1, "scale-down removes pods");
}

#[tokio::test]
async fn watch_sees_added_then_modified_and_resumes() {
    let (_sandbox, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = api
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();

    api.create(&PostParams::default(), &config_map("w", json!({"a": "1"})))
        .await
        .unwrap();
    let patched = api
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"key": "changed"}})),
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match events.try_next().await.unwrap().expect("an event") {
            WatchEvent::Added(cm) => seen.push(("ADDED", cm)),
            WatchEvent::Modified(cm) => seen.push(("MODIFIED", cm)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen[0].0, "ADDED");
    assert_eq!(seen[1].0, "MODIFIED");
    assert_eq!(seen[1].1.data.as_ref().unwrap()["key"], "changed");
    assert_eq!(seen[1].1.resource_version(), patched.resource_version());

    // Resuming from the ADDED version replays only what came after.
    let from = seen[0].1.resource_version().unwrap();
    let mut resumed = api
        .watch(&WatchParams::default().timeout(1), &from)
        .await
        .unwrap()
        .boxed();
    match resumed.try_next().await.unwrap() {
        Some(WatchEvent::Modified(cm)) => {
            assert_eq!(cm.resource_version(), patched.resource_version())
        }
        other => panic!("expected the MODIFIED event, got {other:?}"),
    }
    assert!(
        resumed.try_next().await.unwrap().is_none(),
        "ends at timeoutSeconds"
    );

    // A watch with a label selector sees an object leave the selection as DELETED.
    let mut selected = api
        .watch(
            &WatchParams::default().labels("a=1").timeout(5),
            &patched.resource_version().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"a": "2"}}})),
    )
    .await
    .unwrap();
    assert!(matches!(
        selected.try_next().await.unwrap(),
        Some(WatchEvent::Deleted(_))
    ));
}

#[tokio::test]
async fn selectors_filter_lists() {
    let (_sandbox, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for (name, labels) in [
        ("a", json!({"app": "web", "tier": "front"})),
        ("b", json!({"app": "web", "tier": "back"})),
        ("c", json!({"app": "db"})),
    ] {
        api.create(&PostParams::default(), &config_map(name, labels))
            .await
            .unwrap();
    }
    let cases = [
        ("app=web", vec!["a", "b"]),
        ("app==web,tier=back", vec!["b"]),
        ("app!=web", vec!["c"]),
        ("tier in (front,back)", vec!["a", "b"]),
        ("tier notin (front)", vec!["b", "c"]),
        ("tier", vec!["a", "b"]),
        ("!tier", vec!["c"]),
    ];
    for (selector, expected) in cases {
        let list = api
            .list(&ListParams::default().labels(selector))
            .await
            .unwrap();
        // Every namespace has its CA bundle, unlabelled, as on a real cluster.
        let names: Vec<String> = list
            .items
            .iter()
            .map(ResourceExt::name_any)
            .filter(|name| name != "kube-root-ca.crt")
            .collect();
        assert_eq!(names, expected, "{selector}");
    }
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=b"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    // Paging: `limit` and `continue`.
    let first = api
        .list(&ListParams::default().labels("app").limit(2))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().expect("a continue token");
    let rest = api
        .list(
            &ListParams::default()
                .labels("app")
                .limit(2)
                .continue_token(&token),
        )
        .await
        .unwrap();
    assert_eq!(
        rest.items
            .iter()
            .map(ResourceExt::name_any)
            .collect::<Vec<_>>(),
        ["c"]
    );

    let err = api
        .list(&ListParams::default().labels("app in web"))
        .await
        .expect_err("bad selector");
    assert_eq!(api_error(err).code, 400);
}

#[tokio::test]
async fn errors_are_kubernetes_statuses() {
    let (_sandbox, client) = start().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");

    let status = api_error(deployments.get("missing").await.expect_err("404"));
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, "deployments.apps \"missing\" not found");
    let details = status.details.unwrap();
    assert_eq!(
        (
            details.name.as_str(),
            details.group.as_str(),
            details.kind.as_str()
        ),
        ("missing", "apps", "deployments")
    );

    let d: Deployment = serde_json::from_value(deployment("dup", "nginx:1", Some(1))).unwrap();
    deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let status = api_error(
        deployments
            .create(&PostParams::default(), &d)
            .await
            .expect_err("409"),
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "AlreadyExists")
    );

    // A stale resourceVersion on replace is a conflict.
    let mut stale = deployments.get("dup").await.unwrap();
    deployments
        .patch(
            "dup",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    stale
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("z".into(), "1".into());
    let status = api_error(
        deployments
            .replace("dup", &PostParams::default(), &stale)
            .await
            .expect_err("stale"),
    );
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(status.message.contains("the object has been modified"));

    // Validation: 422 with the field paths.
    let cases = [
        (
            "/spec/template/spec/containers/0/image",
            Value::Null,
            "spec.template.spec.containers[0].image",
        ),
        (
            "/spec/template/metadata/labels",
            json!({"app": "other"}),
            "spec.template.metadata.labels",
        ),
        ("/spec/selector", Value::Null, "spec.selector"),
        ("/metadata/name", json!("Bad_Name"), "metadata.name"),
    ];
    for (pointer, value, field) in cases {
        let mut bad = deployment("bad", "nginx:1", Some(1));
        *bad.pointer_mut(pointer).unwrap() = value;
        let bad: Deployment = serde_json::from_value(bad).unwrap();
        let status = api_error(
            deployments
                .create(&PostParams::default(), &bad)
                .await
                .expect_err(field),
        );
        assert_eq!(
            (status.code, status.reason.as_str()),
            (422, "Invalid"),
            "{field}"
        );
        let causes = status.details.unwrap().causes;
        assert!(
            causes.iter().any(|c| c.field == field),
            "{field}: {causes:?}"
        );
    }

    // Creating in a namespace that does not exist.
    let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), "nowhere");
    let status = api_error(
        elsewhere
            .create(&PostParams::default(), &config_map("x", json!({})))
            .await
            .expect_err("404"),
    );
    assert_eq!(status.code, 404);
    assert_eq!(status.message, "namespaces \"nowhere\" not found");

    // Dry run validates and stores nothing.
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    cms.create(&dry, &config_map("dry", json!({})))
        .await
        .unwrap();
    assert_eq!(
        api_error(cms.get("dry").await.expect_err("not stored")).code,
        404
    );
}

#[tokio::test]
async fn unpullable_images_keep_a_rollout_unready_until_its_deadline() {
    let (_sandbox, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut d = deployment("broken", "registry.invalid/x:1", Some(2));
    d["spec"]["progressDeadlineSeconds"] = json!(1);
    api.patch("broken", &PatchParams::apply("tripline"), &Patch::Apply(d))
        .await
        .unwrap();
    let failed = wait_for(&api, "broken", "ProgressDeadlineExceeded", |d| {
        condition(d, "Progressing")
            .is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
    })
    .await;
    let progressing = condition(&failed, "Progressing").unwrap();
    assert_eq!(progressing.status, "False");
    let status = failed.status.as_ref().unwrap();
    assert_eq!(status.ready_replicas.unwrap_or(0), 0);
    assert_eq!(status.unavailable_replicas, Some(2));
    assert_eq!(condition(&failed, "Available").unwrap().status, "False");

    let pods: Api<Pod> = Api::namespaced(client, "default");
    let listed = pods
        .list(&ListParams::default().labels("app=broken"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 2);
    let pod_name = listed.items[0].name_any();
    let err = pods
        .logs(&pod_name, &Default::default())
        .await
        .expect_err("no logs");
    let status = api_error(err);
    assert_eq!(status.code, 400);
    assert!(
        status
            .message
            .contains("is waiting to start: trying and failing to pull image"),
        "{}",
        status.message
    );
    // The kubelet's events say why, as `kubectl describe pod` shows them.
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(pods.clone().into_client(), "default");
    let about_pod = events
        .list(&ListParams::default().fields(&format!(
            "involvedObject.name={pod_name},involvedObject.kind=Pod"
        )))
        .await
        .unwrap();
    let failed = about_pod
        .items
        .iter()
        .find(|e| e.reason.as_deref() == Some("Failed"))
        .expect("a Failed event");
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    assert!(
        failed
            .message
            .as_deref()
            .unwrap()
            .starts_with("Failed to pull image \"registry.invalid/x:1\"")
    );
    for pod in listed.items {
        let status = pod.status.unwrap();
        assert_eq!(status.phase.as_deref(), Some("Pending"));
        let waiting = status.container_statuses.unwrap()[0]
            .state
            .clone()
            .unwrap()
            .waiting
            .unwrap();
        assert_eq!(waiting.reason.as_deref(), Some("ImagePullBackOff"));
        assert_eq!(
            waiting.message.as_deref(),
            Some("Back-off pulling image \"registry.invalid/x:1\"")
        );
    }
}

#[tokio::test]
async fn configured_missing_images_fail_and_zero_delay_is_instant() {
    let (_sandbox, client) = start_with(SandboxConfig {
        rollout_delay: Duration::ZERO,
        missing_images: vec!["acme/app:v2".into()],
        ..SandboxConfig::default()
    })
    .await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    api.patch(
        "ok",
        &PatchParams::apply("t"),
        &Patch::Apply(deployment("ok", "acme/app:v1", Some(1))),
    )
    .await
    .unwrap();
    wait_for(&api, "ok", "instant rollout", rolled_out).await;
    api.patch(
        "ok",
        &PatchParams::apply("t"),
        &Patch::Apply(deployment("ok", "docker.io/acme/app:v2", Some(1))),
    )
    .await
    .unwrap();
    let stuck = wait_for(&api, "ok", "new pod observed", |d| {
        d.status
            .as_ref()
            .is_some_and(|s| s.observed_generation == Some(2) && s.replicas == Some(2))
    })
    .await;
    // The old version keeps serving while the new one cannot start.
    assert_eq!(stuck.status.as_ref().unwrap().available_replicas, Some(1));
    assert_eq!(stuck.status.as_ref().unwrap().updated_replicas, Some(1));
    assert!(!rolled_out(&stuck));
}

#[tokio::test]
async fn objects_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        data_dir: Some(dir.path().to_owned()),
        rollout_delay: Duration::from_millis(50),
        ..SandboxConfig::default()
    };
    let (sandbox, client) = start_with(config.clone()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms
        .create(
            &PostParams::default(),
            &config_map("kept", json!({"a": "1"})),
        )
        .await
        .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    deployments
        .patch(
            "kept",
            &PatchParams::apply("t"),
            &Patch::Apply(deployment("kept", "nginx:1", Some(1))),
        )
        .await
        .unwrap();
    let ready = wait_for(&deployments, "kept", "rollout", rolled_out).await;
    let last_rv: u64 = ready.resource_version().unwrap().parse().unwrap();
    sandbox.shutdown().await;

    let (sandbox, client) = start_with(config).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let kept = cms.get("kept").await.expect("still there");
    assert_eq!(kept.metadata.uid, created.metadata.uid);
    assert_eq!(kept.data.unwrap()["key"], "value");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    assert!(rolled_out(&deployments.get("kept").await.unwrap()));
    let newer = cms
        .create(&PostParams::default(), &config_map("new", json!({})))
        .await
        .unwrap();
    let newer_rv: u64 = newer.resource_version().unwrap().parse().unwrap();
    assert!(
        newer_rv > last_rv,
        "the counter continues: {newer_rv} > {last_rv}"
    );

    // History from before the restart is gone: a watch from there is told to relist.
    let mut events = cms
        .watch(&WatchParams::default().timeout(2), "1")
        .await
        .unwrap()
        .boxed();
    match events.try_next().await {
        Ok(Some(WatchEvent::Error(status))) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"))
        }
        other => panic!("expected a 410 error event, got {other:?}"),
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn deletes_propagate_to_owned_objects_and_namespaces() {
    let (_sandbox, client) = start().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap(),
        )
        .await
        .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "team");
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "team");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team");
    for name in ["gone", "orphaning"] {
        deployments
            .patch(
                name,
                &PatchParams::apply("t"),
                &Patch::Apply(deployment(name, "nginx:1", Some(2))),
            )
            .await
            .unwrap();
        wait_for(&deployments, name, "rollout", rolled_out).await;
    }

    let deleted = deployments
        .delete("gone", &DeleteParams::background())
        .await
        .unwrap();
    let status = deleted
        .right()
        .expect("a Status, as the real server answers");
    assert!(status.is_success());
    assert!(
        replica_sets
            .list(&ListParams::default().labels("app=gone"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        pods.list(&ListParams::default().labels("app=gone"))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    deployments
        .delete("orphaning", &DeleteParams::orphan())
        .await
        .unwrap();
    let orphans = replica_sets
        .list(&ListParams::default().labels("app=orphaning"))
        .await
        .unwrap();
    assert_eq!(orphans.items.len(), 1);
    assert!(orphans.items[0].metadata.owner_references.is_none());

    let services: Api<Service> = Api::namespaced(client.clone(), "team");
    services
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}),
            )
            .unwrap(),
        )
        .await
        .map(|s| assert!(s.spec.unwrap().cluster_ip.unwrap().starts_with("10.96.")))
        .unwrap();
    namespaces
        .delete("team", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(
        api_error(namespaces.get("team").await.expect_err("gone")).code,
        404
    );
    let everywhere: Api<Pod> = Api::all(client.clone());
    assert!(
        everywhere
            .list(&ListParams::default().labels("app=orphaning"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let status = api_error(
        namespaces
            .delete("default", &DeleteParams::default())
            .await
            .expect_err("kept"),
    );
    assert_eq!(status.code, 403);
}

#[tokio::test]
async fn dynamic_objects_use_discovered_resources() {
    let (_sandbox, client) = start().await;
    let discovery = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .unwrap();
    let (resource, _) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .unwrap();
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &resource);
    let object: DynamicObject =
        serde_json::from_value(deployment("dyn", "nginx:1", Some(1))).unwrap();
    let applied = api
        .patch(
            "dyn",
            &PatchParams::apply("tripline").force(),
            &Patch::Apply(&object),
        )
        .await
        .unwrap();
    assert_eq!(applied.metadata.generation, Some(1));
    let listed = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].metadata.name.as_deref(), Some("dyn"));
    // As from kube-apiserver: a list's items leave their kind to the list.
    assert!(listed.items[0].types.is_none());
}

/// A raw request through the kube client; the status it gets.
async fn raw(
    client: &Client,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body)
        .unwrap();
    match client.request_text(request).await {
        Ok(text) => (200, serde_json::from_str(&text).unwrap_or(Value::Null)),
        Err(kube::Error::Api(status)) => (status.code, serde_json::to_value(&*status).unwrap()),
        Err(other) => panic!("{path}: {other}"),
    }
}

/// One malformed or hostile request, and the `Status` it must get.
struct Hostile {
    name: &'static str,
    method: Method,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    code: u16,
    reason: &'static str,
}

fn hostile(
    name: &'static str,
    method: Method,
    path: impl Into<String>,
    content_type: &'static str,
    body: impl Into<Vec<u8>>,
    code: u16,
    reason: &'static str,
) -> Hostile {
    Hostile {
        name,
        method,
        path: path.into(),
        content_type,
        body: body.into(),
        code,
        reason,
    }
}

#[tokio::test]
async fn malformed_and_hostile_requests_get_statuses() {
    let (_sandbox, client) = start().await;
    const JSON: &str = "application/json";
    let cms = "/api/v1/namespaces/default/configmaps";
    let object = format!("{cms}/x");
    let huge = {
        let mut body =
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":""#
                .to_vec();
        body.extend(std::iter::repeat_n(b'x', 3 * 1024 * 1024 + 1));
        body.extend(br#""}}"#);
        body
    };
    let other_namespace =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m","namespace":"other"}}"#;
    let wrong_kind = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}"#;
    let cases = [
        hostile(
            "invalid JSON",
            Method::POST,
            cms,
            JSON,
            "{not json",
            400,
            "BadRequest",
        ),
        hostile("empty body", Method::POST, cms, JSON, "", 400, "BadRequest"),
        hostile(
            "huge body",
            Method::POST,
            cms,
            JSON,
            huge,
            413,
            "RequestEntityTooLarge",
        ),
        hostile(
            "unknown resource",
            Method::GET,
            "/api/v1/namespaces/default/widgets",
            JSON,
            "",
            404,
            "NotFound",
        ),
        // A group nothing serves is the mux's plain-text 404, not a Status: see
        // `sandbox_crd::a_group_without_a_crd_is_a_plain_404`.
        hostile(
            "bad label selector",
            Method::GET,
            format!("{cms}?labelSelector=a%20in%20b"),
            JSON,
            "",
            400,
            "BadRequest",
        ),
        hostile(
            "bad field selector",
            Method::GET,
            format!("{cms}?fieldSelector=data.key%3Dx"),
            JSON,
            "",
            400,
            "BadRequest",
        ),
        hostile(
            "garbage protobuf",
            Method::POST,
            cms,
            "application/vnd.kubernetes.protobuf",
            "k8s\0",
            415,
            "UnsupportedMediaType",
        ),
        hostile(
            "unknown patch type",
            Method::PATCH,
            object.clone(),
            "text/plain",
            "{}",
            415,
            "UnsupportedMediaType",
        ),
        hostile(
            "apply without fieldManager",
            Method::PATCH,
            object.clone(),
            "application/apply-patch+yaml",
            "apiVersion: v1\nkind: ConfigMap\n",
            // As kube-apiserver: the options are invalid (422), not the body.
            422,
            "Invalid",
        ),
        hostile(
            "namespace mismatch",
            Method::POST,
            cms,
            JSON,
            other_namespace,
            400,
            "BadRequest",
        ),
        hostile(
            "wrong kind",
            Method::POST,
            cms,
            JSON,
            wrong_kind,
            400,
            "BadRequest",
        ),
        hostile(
            "method not allowed",
            Method::POST,
            object,
            JSON,
            "{}",
            405,
            "MethodNotAllowed",
        ),
        hostile(
            "bad dryRun",
            Method::POST,
            format!("{cms}?dryRun=Some"),
            JSON,
            "{}",
            400,
            "BadRequest",
        ),
        hostile(
            "bad continue token",
            Method::GET,
            format!("{cms}?continue=zz"),
            JSON,
            "",
            400,
            "BadRequest",
        ),
    ];
    for case in cases {
        let (got, status) = raw(
            &client,
            case.method,
            &case.path,
            case.content_type,
            case.body,
        )
        .await;
        assert_eq!(got, case.code, "{}: {status}", case.name);
        assert_eq!(status["reason"], case.reason, "{}: {status}", case.name);
    }
    // The server is still healthy, and nothing was stored (a namespace's own CA bundle
    // aside).
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let stored: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(stored, ["kube-root-ca.crt"]);
}

#[tokio::test]
async fn the_router_serves_in_process() {
    let (sandbox, _) = start().await;
    // A client whose transport is the router itself: no socket involved.
    let client = Client::new(tripline_sandbox::router(sandbox.state()), "default");
    let namespaces: Api<Namespace> = Api::all(client);
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    for expected in ["default", "kube-public", "kube-system"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
}

#[tokio::test]
async fn shutdown_ends_watches() {
    let (sandbox, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut events = api
        .watch(&WatchParams::default().timeout(60), "0")
        .await
        .unwrap()
        .boxed();
    let shutdown = tokio::spawn(sandbox.shutdown());
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = events.try_next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the watch ends when the sandbox shuts down");
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .unwrap()
        .unwrap();
}

/// HorizontalPodAutoscalers are served as autoscaling/v2 (preferred) and autoscaling/v1,
/// one object seen through both: a v1 CPU target is v2's cpu Utilization metric.
#[tokio::test]
async fn autoscalers_are_served_in_v1_and_v2_as_one_object() {
    use k8s_openapi::api::autoscaling::{v1, v2};
    let (_sandbox, client) = start().await;

    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let group = discovery
        .groups()
        .find(|g| g.name() == "autoscaling")
        .expect("the autoscaling group");
    assert_eq!(group.preferred_version_or_latest(), "v2");
    assert!(
        group.versions().any(|v| v == "v1"),
        "autoscaling/v1 is discoverable"
    );

    let old: Api<v1::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let new: Api<v2::HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    let hpa: v1::HorizontalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 1, "maxReplicas": 4, "targetCPUUtilizationPercentage": 70}
    }))
    .unwrap();
    let created = old.create(&PostParams::default(), &hpa).await.unwrap();
    assert_eq!(
        created
            .spec
            .as_ref()
            .unwrap()
            .target_cpu_utilization_percentage,
        Some(70)
    );

    let seen = new.get("web").await.unwrap();
    let metric = &seen.spec.as_ref().unwrap().metrics.as_ref().unwrap()[0];
    assert_eq!(metric.type_, "Resource");
    let target = &metric.resource.as_ref().unwrap().target;
    assert_eq!(
        (target.type_.as_str(), target.average_utilization),
        ("Utilization", Some(70))
    );

    // A v1 merge patch changes the v2 metric; a v1 list and get say the same.
    let patched = old
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"targetCPUUtilizationPercentage": 55}})),
        )
        .await
        .unwrap();
    assert_eq!(
        patched
            .spec
            .as_ref()
            .unwrap()
            .target_cpu_utilization_percentage,
        Some(55)
    );
    let seen = new.get("web").await.unwrap();
    let metric = &seen.spec.as_ref().unwrap().metrics.as_ref().unwrap()[0];
    assert_eq!(
        metric.resource.as_ref().unwrap().target.average_utilization,
        Some(55)
    );
    let listed = old.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(
        listed.items[0]
            .spec
            .as_ref()
            .unwrap()
            .target_cpu_utilization_percentage,
        Some(55)
    );

    // Server-side apply through v1, and a v1 watch sees v1 objects.
    let mut events = old
        .watch(&WatchParams::default().timeout(3), "0")
        .await
        .unwrap()
        .boxed();
    let first = events.try_next().await.unwrap().expect("an event");
    match first {
        WatchEvent::Added(object) => assert_eq!(
            object
                .spec
                .as_ref()
                .unwrap()
                .target_cpu_utilization_percentage,
            Some(55)
        ),
        other => panic!("{other:?}"),
    }
    let applied = old
        .patch(
            "web",
            &PatchParams::apply("tester").force(),
            &Patch::Apply(json!({
                "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web"},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                         "maxReplicas": 6, "targetCPUUtilizationPercentage": 80}
            })),
        )
        .await
        .unwrap();
    assert_eq!(applied.spec.as_ref().unwrap().max_replicas, 6);
    assert_eq!(new.get("web").await.unwrap().spec.unwrap().max_replicas, 6);

    old.delete("web", &DeleteParams::default()).await.unwrap();
    assert!(new.get_opt("web").await.unwrap().is_none());
}
