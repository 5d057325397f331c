//! Deploys against the sandbox through the real `kube` client: pruning, conflicts with
//! another field manager, and namespaces made for the application.

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams};
use tripline_engine::deploy::{Action, Deployer, Options, Plan};
use tripline_engine::sandbox::{Sandbox, SandboxConfig};
use tripline_engine::template::Manifest;

const TWO: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\ndata: {a: '1'}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: drop}\ndata: {b: '2'}\n";

async fn sandbox() -> (Sandbox, kube::Client) {
    let sandbox = Sandbox::start(SandboxConfig {
        rollout_delay: Duration::ZERO,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = kube::Client::try_from(sandbox.client_config()).unwrap();
    (sandbox, client)
}

#[tokio::test]
async fn prune_deletes_what_the_new_version_dropped_but_only_if_still_ours() {
    let (sandbox, client) = sandbox().await;
    let deployer = Deployer::new(client.clone());
    let first = Manifest::parse(TWO).unwrap();
    let plan = Plan {
        app: "shop",
        namespace: "shop",
        manifest: &first,
        prune_from: None,
    };
    let outcomes = deployer
        .deploy(&plan, &Options::default(), &|_| {})
        .await
        .unwrap();
    // The namespace did not exist: it was made for the application.
    assert_eq!(outcomes[0].action, Action::Created);
    assert_eq!(outcomes[0].id.kind, "Namespace");
    let applied: Vec<_> = outcomes
        .iter()
        .filter(|o| o.action == Action::Applied)
        .map(|o| o.id.clone())
        .collect();
    assert_eq!(applied.len(), 2);

    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    let labels = configmaps
        .get("drop")
        .await
        .unwrap()
        .metadata
        .labels
        .unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "tripline");
    assert_eq!(labels["tripline.dev/app"], "shop");

    let second = Manifest::parse(&TWO[..TWO.find("---").unwrap()]).unwrap();
    let plan = Plan {
        app: "shop",
        namespace: "shop",
        manifest: &second,
        prune_from: Some(&applied),
    };
    let outcomes = deployer
        .deploy(&plan, &Options::default(), &|_| {})
        .await
        .unwrap();
    let pruned: Vec<_> = outcomes
        .iter()
        .filter(|o| o.action == Action::Pruned)
        .map(|o| o.id.name.as_str())
        .collect();
    assert_eq!(pruned, ["drop"]);
    assert!(configmaps.get_opt("drop").await.unwrap().is_none());
    assert!(configmaps.get_opt("keep").await.unwrap().is_some());

    // An object someone relabelled as theirs is left alone.
    let plan = Plan {
        app: "shop",
        namespace: "shop",
        manifest: &first,
        prune_from: None,
    };
    deployer
        .deploy(&plan, &Options::default(), &|_| {})
        .await
        .unwrap();
    let relabel = serde_json::json!({"metadata": {"labels": {"tripline.dev/app": "someone-else"}}});
    configmaps
        .patch("drop", &PatchParams::default(), &Patch::Merge(&relabel))
        .await
        .unwrap();
    let plan = Plan {
        app: "shop",
        namespace: "shop",
        manifest: &second,
        prune_from: Some(&applied),
    };
    let outcomes = deployer
        .deploy(&plan, &Options::default(), &|_| {})
        .await
        .unwrap();
    let kept = outcomes.iter().find(|o| o.id.name == "drop").unwrap();
    assert_eq!(kept.action, Action::Kept);
    assert!(configmaps.get_opt("drop").await.unwrap().is_some());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_conflict_with_another_manager_fails_until_forced() {
    let (sandbox, client) = sandbox().await;
    let deployer = Deployer::new(client.clone());
    let manifest = Manifest::parse(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {level: info}\n",
    )
    .unwrap();
    let plan = Plan {
        app: "shop",
        namespace: "default",
        manifest: &manifest,
        prune_from: None,
    };
    deployer
        .deploy(&plan, &Options::default(), &|_| {})
        .await
        .unwrap();

    // Someone else takes the field over with their own apply.
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let theirs = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"level": "debug"}});
    configmaps
        .patch(
            "settings",
            &PatchParams::apply("ops-team").force(),
            &Patch::Apply(&theirs),
        )
        .await
        .unwrap();

    let failure = deployer
        .deploy(&plan, &Options::default(), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Some(409), "Conflict")
    );
    assert!(
        failure.message.contains("ops-team") && failure.message.contains("--force-conflicts"),
        "{}",
        failure.message
    );

    let forced = Options {
        force_conflicts: true,
        ..Options::default()
    };
    deployer.deploy(&plan, &forced, &|_| {}).await.unwrap();
    assert_eq!(
        configmaps.get("settings").await.unwrap().data.unwrap()["level"],
        "info"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn invalid_objects_are_refused_by_the_cluster_with_its_reason() {
    let (sandbox, client) = sandbox().await;
    let deployer = Deployer::new(client);
    // Valid for the template (no selector check there), invalid for the API server.
    let manifest = Manifest::parse(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: other}}\n    spec:\n      containers:\n      - {name: web, image: 'web:1'}\n",
    )
    .unwrap();
    let plan = Plan {
        app: "shop",
        namespace: "default",
        manifest: &manifest,
        prune_from: None,
    };
    let failure = deployer
        .deploy(&plan, &Options::default(), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(failure.code, Some(422), "{failure:?}");
    assert!(failure.message.contains("invalid"), "{}", failure.message);
    sandbox.shutdown().await;
}

fn web(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: 2\n  \
         selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    \
         spec:\n      containers: [{{name: web, image: '{image}'}}]\n"
    )
}

#[tokio::test]
async fn a_pod_stuck_in_image_pull_back_off_fails_the_rollout_at_once_and_a_rollback_is_not_blamed_for_it()
 {
    let (_sandbox, client) = sandbox().await;
    let deployer = Deployer::new(client.clone());
    let options = Options {
        timeout: Duration::from_secs(120),
        stuck_after: Duration::from_secs(1),
        ..Options::default()
    };
    let good = Manifest::parse(&web("nginx:1.27")).unwrap();
    let plan = |manifest| Plan {
        app: "web",
        namespace: "web",
        manifest,
        prune_from: None,
    };
    deployer
        .deploy(&plan(&good), &options, &|_| {})
        .await
        .unwrap();

    // An image that can never be pulled: the rollout fails as soon as a new pod has waited
    // a second in ImagePullBackOff, not at the two-minute timeout.
    let broken = Manifest::parse(&web("registry.invalid/web:gone")).unwrap();
    let started = std::time::Instant::now();
    let failure = deployer
        .deploy(&plan(&broken), &options, &|_| {})
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(failure.reason, "ImagePullBackOff", "{failure:?}");
    assert!(
        failure
            .message
            .contains("web cannot finish rolling out: pod web-")
            && failure
                .message
                .contains("has been in ImagePullBackOff for 1s"),
        "{}",
        failure.message
    );

    // Back to the good image: the broken rollout's pods are still stuck while they are
    // scaled away, but they are not this rollout's, so it succeeds.
    deployer
        .deploy(&plan(&good), &options, &|_| {})
        .await
        .unwrap();
}

#[tokio::test]
async fn an_object_the_cluster_refuses_stops_the_deploy_before_anything_is_applied() {
    let (_sandbox, client) = sandbox().await;
    let deployer = Deployer::new(client.clone());
    let plan = |manifest| Plan {
        app: "pre",
        namespace: "pre",
        manifest,
        prune_from: None,
    };
    let first = Manifest::parse(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\ndata: {a: '1'}\n",
    )
    .unwrap();
    deployer
        .deploy(&plan(&first), &Options::default(), &|_| {})
        .await
        .unwrap();

    // A new ConfigMap (applied first, by kind) and a Deployment the cluster refuses.
    let second = Manifest::parse(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: second}}\ndata: {{b: '2'}}\n---\n{}",
        web("nginx:1.27").replace("replicas: 2", "replicas: -1")
    ))
    .unwrap();
    let failure = deployer
        .deploy(&plan(&second), &Options::default(), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(failure.reason, "Invalid", "{failure:?}");
    assert!(
        failure
            .message
            .contains("pre-flight check: nothing was applied"),
        "{}",
        failure.message
    );
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "pre");
    assert!(
        configmaps.get_opt("second").await.unwrap().is_none(),
        "the ConfigMap before the refused Deployment was applied"
    );
    assert!(configmaps.get_opt("first").await.unwrap().is_some());
}

/// The field report's typo: `imagePullPolcy` in a Deployment, deployed into a namespace that
/// does not exist yet. A real API server refuses the apply with 500 "field not declared in
/// schema", and so does the sandbox; the pre-flight sees it before anything is applied, so
/// not even the namespace is created, and the error says it is the manifest's fault.
#[tokio::test]
async fn an_undeclared_field_is_refused_before_the_namespace_is_created() {
    let (_sandbox, client) = sandbox().await;
    let deployer = Deployer::new(client.clone());
    let manifest = Manifest::parse(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {{a: '1'}}\n---\n{}",
        web("nginx:1.27").replace(
            "containers: [{name: web, image: 'nginx:1.27'}]",
            "containers: [{name: web, image: 'nginx:1.27', imagePullPolcy: Always}]"
        )
    ))
    .unwrap();
    assert!(
        manifest.text().contains("imagePullPolcy"),
        "the typo must reach the deploy"
    );
    let plan = Plan {
        app: "typo",
        namespace: "typo",
        manifest: &manifest,
        prune_from: None,
    };
    let failure = deployer
        .deploy(&plan, &Options::default(), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(failure.reason, "Invalid", "{failure:?}");
    assert!(
        failure.message.contains("imagePullPolcy")
            && failure.message.contains("nothing was applied"),
        "{}",
        failure.message
    );
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    assert!(
        namespaces.get_opt("typo").await.unwrap().is_none(),
        "the namespace was created for a deploy that could not succeed"
    );
}
