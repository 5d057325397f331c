//! Deploys: a template version applied to a cluster, watched until it has rolled out.
//!
//! A deploy runs in [`worker`]s, one per application, so two deploys of one application never
//! overlap. Each deploy is a release (see [`crate::store`]). The [`Deployer`] does the cluster
//! work, in this order:
//!
//! 1. resolve every document's kind through API discovery (cached per client), which says
//!    whether it is namespaced and which resource path it has;
//! 2. pre-flight: every object is server-side applied with `dryRun=All` first, and if the
//!    cluster refuses one nothing is applied, not even a namespace (objects in a namespace
//!    that does not exist yet cannot be checked this way);
//! 3. create the application's namespaces if they are missing;
//! 4. server-side apply each object (field manager `tripline`, conflicts reported unless
//!    `force_conflicts`), labelled `app.kubernetes.io/managed-by: tripline` and
//!    `tripline.dev/app: <app>` so it can be found again, in a safe order (namespaces,
//!    RBAC and config before workloads);
//! 5. prune, when the application asks for it: objects applied by the last successful release
//!    that the new version no longer has, and that still carry our labels, are deleted;
//! 6. wait for Deployments, StatefulSets and DaemonSets to roll out ([`rollout`]), by watching
//!    them, until done, failed (`ProgressDeadlineExceeded` of this rollout), a new pod stuck
//!    for `stuck_after` (`ImagePullBackOff`, `CrashLoopBackOff`, …) or timed out.
//!
//! Progress is reported as [`Progress`] events through a callback as it happens.

mod failure;
mod helm;
pub mod live;
pub mod rollout;
pub mod worker;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, WatchEvent, WatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde::Serialize;
use serde_json::Value;

pub use failure::Failure;
use rollout::Rollout;

use crate::template::{Manifest, ResourceId};

/// The field manager Tripline applies as.
pub const FIELD_MANAGER: &str = "tripline";
/// Label on everything Tripline applies.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "tripline");
/// Label naming the application an object belongs to.
pub const APP_LABEL: &str = "tripline.dev/app";

// The plain data of a release (what was asked, what happened to each object) lives in
// `crate::release`, below both this module and the store that records it.
pub use crate::release::{Action, Direction, Options, ResourceOutcome, STUCK_AFTER, ScaleRequest};

/// A progress event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Progress {
    /// An object was applied, created or pruned.
    Resource(ResourceOutcome),
    /// A workload's rollout moved.
    Rollout {
        /// Which workload.
        id: ResourceId,
        /// Where it stands.
        rollout: Rollout,
    },
}

/// What to deploy.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// The application (for labels).
    pub app: &'a str,
    /// Namespace for namespaced objects that name none.
    pub namespace: &'a str,
    /// The objects.
    pub manifest: &'a Manifest,
    /// Prune: objects applied by the last successful release. `None`: do not prune.
    pub prune_from: Option<&'a [ResourceId]>,
}

type Discovered = (ApiResource, ApiCapabilities);

/// Applies plans to one cluster.
pub struct Deployer {
    client: kube::Client,
    discovery: Mutex<HashMap<GroupVersionKind, Discovered>>,
    request_timeout: Duration,
}

/// How long one API request may take before the deploy gives up on the server.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl std::fmt::Debug for Deployer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployer").finish_non_exhaustive()
    }
}

/// Install order by kind: what others depend on goes first (as Helm does).
fn install_rank(kind: &str) -> usize {
    const ORDER: &[&str] = &[
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
        "LimitRange",
        "PodSecurityPolicy",
        "PodDisruptionBudget",
        "ServiceAccount",
        "Secret",
        "SecretList",
        "ConfigMap",
        "StorageClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleList",
        "ClusterRoleBinding",
        "ClusterRoleBindingList",
        "Role",
        "RoleList",
        "RoleBinding",
        "RoleBindingList",
        "Service",
        "DaemonSet",
        "Pod",
        "ReplicationController",
        "ReplicaSet",
        "Deployment",
        "HorizontalPodAutoscaler",
        "StatefulSet",
        "Job",
        "CronJob",
        "IngressClass",
        "Ingress",
        "APIService",
    ];
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

fn gvk(id: &ResourceId) -> GroupVersionKind {
    let (group, version) = id
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", id.api_version.as_str()));
    GroupVersionKind::gvk(group, version, &id.kind)
}

impl Deployer {
    /// A deployer for the cluster `client` talks to.
    pub fn new(client: kube::Client) -> Self {
        Deployer {
            client,
            discovery: Mutex::new(HashMap::new()),
            request_timeout: REQUEST_TIMEOUT,
        }
    }

    /// Sets how long one API request may take (default [`REQUEST_TIMEOUT`]).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Awaits one API request with the request timeout; errors become failures about `id`.
    async fn call<T>(
        &self,
        id: &ResourceId,
        request: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.request_timeout, request).await {
            Ok(result) => result.map_err(|e| Failure::apply(e, id)),
            Err(_) => Err(Failure::new(
                "Timeout",
                None,
                format!(
                    "the API server did not answer within {}s while handling {}: is it overloaded or unreachable?",
                    self.request_timeout.as_secs(),
                    short(id)
                ),
                Some(id.clone()),
            )),
        }
    }

    async fn discover(&self, id: &ResourceId) -> Result<Discovered, Failure> {
        let gvk = gvk(id);
        if let Some(found) = self
            .discovery
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&gvk)
        {
            return Ok(found.clone());
        }
        let found = match tokio::time::timeout(
            self.request_timeout,
            kube::discovery::pinned_kind(&self.client, &gvk),
        )
        .await
        {
            Ok(found) => found.map_err(|e| Failure::discovery(e, id))?,
            Err(_) => {
                return self
                    .call(
                        id,
                        std::future::pending::<Result<Discovered, kube::Error>>(),
                    )
                    .await;
            }
        };
        self.discovery
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(gvk, found.clone());
        Ok(found)
    }

    fn api(&self, discovered: &Discovered, namespace: Option<&str>) -> Api<DynamicObject> {
        let (resource, capabilities) = discovered;
        match (capabilities.scope.clone(), namespace) {
            (Scope::Namespaced, Some(ns)) => {
                Api::namespaced_with(self.client.clone(), ns, resource)
            }
            _ => Api::all_with(self.client.clone(), resource),
        }
    }

    /// Applies `plan`, reporting progress; returns every object's outcome, or the failure
    /// (which carries the outcomes up to it).
    pub async fn deploy(
        &self,
        plan: &Plan<'_>,
        options: &Options,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<Vec<ResourceOutcome>, Failure> {
        let mut outcomes = Vec::new();
        let result = self.run(plan, options, progress, &mut outcomes).await;
        match result {
            Ok(()) => Ok(outcomes),
            Err(failure) => Err(failure.with_outcomes(outcomes)),
        }
    }

    async fn run(
        &self,
        plan: &Plan<'_>,
        options: &Options,
        progress: &(dyn Fn(Progress) + Send + Sync),
        outcomes: &mut Vec<ResourceOutcome>,
    ) -> Result<(), Failure> {
        // 1. Discovery, and each object's final identity.
        let mut objects = Vec::with_capacity(plan.manifest.documents().len());
        for document in plan.manifest.documents() {
            let discovered = self.discover(&document.id).await?;
            let namespaced = discovered.1.scope == Scope::Namespaced;
            let mut id = document.id.clone();
            id.namespace = if namespaced {
                Some(id.namespace.unwrap_or_else(|| plan.namespace.to_owned()))
            } else {
                None
            };
            objects.push((id, document.value.clone(), discovered));
        }
        objects.sort_by_key(|(id, _, _)| install_rank(&id.kind));
        for (id, value, _) in &mut objects {
            label(value, plan.app);
            if let Some(ns) = &id.namespace {
                value["metadata"]["namespace"] = Value::String(ns.clone());
            }
        }
        let params = if options.force_conflicts {
            PatchParams::apply(FIELD_MANAGER).force()
        } else {
            PatchParams::apply(FIELD_MANAGER)
        };

        // 2. Pre-flight: the cluster checks every object (server-side apply with
        // `dryRun=All`) before anything is applied, a namespace included; one refusal and
        // nothing changes. An object in a namespace that does not exist yet cannot be checked
        // so (the server answers that the namespace is not found): it is checked when applied.
        let dry_run = params.clone().dry_run();
        for (id, value, discovered) in &objects {
            let api = self.api(discovered, id.namespace.as_deref());
            match self
                .call(id, api.patch(&id.name, &dry_run, &Patch::Apply(value)))
                .await
            {
                Ok(_) => {}
                Err(failure) if missing_namespace(&failure) => {}
                // Who owns a field is the apply's to settle, as it did before the pre-flight:
                // it fails with the same conflict, after the objects before it.
                Err(failure) if failure.code == Some(409) => {}
                Err(mut failure) => {
                    failure.message = format!(
                        "{} (found by the pre-flight check: nothing was applied)",
                        failure.message
                    );
                    let outcome = ResourceOutcome {
                        id: id.clone(),
                        action: Action::Failed,
                        generation: None,
                        message: Some(failure.message.clone()),
                    };
                    progress(Progress::Resource(outcome.clone()));
                    outcomes.push(outcome);
                    return Err(failure);
                }
            }
        }

        // 3. Namespaces the application needs.
        let mut namespaces: Vec<&str> = objects
            .iter()
            .filter_map(|(id, _, _)| id.namespace.as_deref())
            .collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        let declared: Vec<&str> = objects
            .iter()
            .filter(|(id, _, _)| id.kind == "Namespace" && id.api_version == "v1")
            .map(|(id, _, _)| id.name.as_str())
            .collect();
        for namespace in namespaces {
            if declared.contains(&namespace) {
                continue;
            }
            if let Some(outcome) = self.ensure_namespace(plan.app, namespace).await? {
                progress(Progress::Resource(outcome.clone()));
                outcomes.push(outcome);
            }
        }

        // 4. Server-side apply.
        let mut applied = Vec::with_capacity(objects.len());
        for (id, value, discovered) in objects {
            let api = self.api(&discovered, id.namespace.as_deref());
            match self
                .call(&id, api.patch(&id.name, &params, &Patch::Apply(&value)))
                .await
            {
                Ok(live) => {
                    let outcome = ResourceOutcome {
                        id: id.clone(),
                        action: Action::Applied,
                        generation: live.metadata.generation,
                        message: None,
                    };
                    progress(Progress::Resource(outcome.clone()));
                    outcomes.push(outcome);
                    applied.push((id, discovered));
                }
                Err(failure) => {
                    let outcome = ResourceOutcome {
                        id,
                        action: Action::Failed,
                        generation: None,
                        message: Some(failure.message.clone()),
                    };
                    progress(Progress::Resource(outcome.clone()));
                    outcomes.push(outcome);
                    return Err(failure);
                }
            }
        }

        // 5. Prune what the previous release applied and this one does not.
        if let Some(previous) = plan.prune_from {
            let current: Vec<&ResourceId> = applied.iter().map(|(id, _)| id).collect();
            let mut gone: Vec<&ResourceId> =
                previous.iter().filter(|id| !current.contains(id)).collect();
            gone.sort_by_key(|id| std::cmp::Reverse(install_rank(&id.kind)));
            for id in gone {
                let outcome = self.prune(plan.app, id).await?;
                progress(Progress::Resource(outcome.clone()));
                outcomes.push(outcome);
            }
        }

        // 6. Rollouts.
        if options.wait {
            let deadline = tokio::time::Instant::now() + options.timeout;
            for (id, discovered) in &applied {
                if !rollout::is_workload(id.group(), &id.kind) {
                    continue;
                }
                let api = self.api(discovered, id.namespace.as_deref());
                let done = self
                    .wait_rollout(&api, id, deadline, options, progress)
                    .await?;
                if let Some(outcome) = outcomes
                    .iter_mut()
                    .rev()
                    .find(|o| &o.id == id && o.action == Action::Applied)
                {
                    outcome.message = Some(done);
                }
            }
        }
        Ok(())
    }

    /// A workload's replica count, read through its `/scale` subresource.
    pub async fn replicas(&self, workload: &ResourceId) -> Result<u32, Failure> {
        let discovered = self.discover(workload).await?;
        let api = self.api(&discovered, workload.namespace.as_deref());
        let scale = self.call(workload, api.get_scale(&workload.name)).await?;
        Ok(scale.spec.and_then(|s| s.replicas).unwrap_or(0).max(0) as u32)
    }

    /// Sets a workload's replica count through its `/scale` subresource.
    pub async fn set_replicas(&self, workload: &ResourceId, replicas: u32) -> Result<(), Failure> {
        let discovered = self.discover(workload).await?;
        let api = self.api(&discovered, workload.namespace.as_deref());
        let body = serde_json::json!({"spec": {"replicas": replicas}});
        self.call(
            workload,
            api.patch_scale(
                &workload.name,
                &PatchParams::default(),
                &Patch::Merge(&body),
            ),
        )
        .await?;
        Ok(())
    }

    /// Waits for one workload's rollout (after a scale).
    pub async fn wait_for(
        &self,
        id: &ResourceId,
        options: &Options,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<String, Failure> {
        let discovered = self.discover(id).await?;
        let api = self.api(&discovered, id.namespace.as_deref());
        let deadline = tokio::time::Instant::now() + options.timeout;
        self.wait_rollout(&api, id, deadline, options, progress)
            .await
    }

    async fn ensure_namespace(
        &self,
        app: &str,
        name: &str,
    ) -> Result<Option<ResourceOutcome>, Failure> {
        let id = ResourceId {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: name.to_owned(),
        };
        let api: Api<DynamicObject> = Api::all_with(
            self.client.clone(),
            &ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&()),
        );
        match self.call(&id, api.get_opt(name)).await {
            Ok(Some(_)) => return Ok(None),
            Ok(None) => {}
            // Not allowed to read namespaces: assume it exists, the apply will say if not.
            Err(failure) if failure.code == Some(403) => return Ok(None),
            Err(failure) => return Err(failure),
        }
        let mut value = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        label(&mut value, app);
        let live = self
            .call(
                &id,
                api.patch(
                    name,
                    &PatchParams::apply(FIELD_MANAGER),
                    &Patch::Apply(&value),
                ),
            )
            .await?;
        Ok(Some(ResourceOutcome {
            id,
            action: Action::Created,
            generation: live.metadata.generation,
            message: Some("namespace created for the application".into()),
        }))
    }

    async fn prune(&self, app: &str, id: &ResourceId) -> Result<ResourceOutcome, Failure> {
        let discovered = match self.discover(id).await {
            Ok(found) => found,
            // The kind itself is gone (a CRD removed): nothing to prune.
            Err(failure) if failure.code == Some(404) => {
                return Ok(outcome(
                    id,
                    Action::Kept,
                    "its kind no longer exists in the cluster",
                ));
            }
            Err(failure) => return Err(failure),
        };
        let api = self.api(&discovered, id.namespace.as_deref());
        let live = match self.call(id, api.get_opt(&id.name)).await? {
            Some(live) => live,
            None => return Ok(outcome(id, Action::Pruned, "already gone")),
        };
        let labels = live.metadata.labels.unwrap_or_default();
        let ours = labels.get(MANAGED_BY.0).map(String::as_str) == Some(MANAGED_BY.1)
            && labels.get(APP_LABEL).map(String::as_str) == Some(app);
        if !ours {
            return Ok(outcome(
                id,
                Action::Kept,
                "no longer labelled as this application's: left in place",
            ));
        }
        self.call(id, api.delete(&id.name, &DeleteParams::background()))
            .await?;
        Ok(outcome(id, Action::Pruned, "removed from the template"))
    }

    async fn wait_rollout(
        &self,
        api: &Api<DynamicObject>,
        id: &ResourceId,
        deadline: tokio::time::Instant,
        options: &Options,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<String, Failure> {
        let timeout = options.timeout;
        let mut stuck = Stuck::new(options.stuck_after);
        let mut last: Option<Rollout> = None;
        let mut report = |state: Rollout| {
            if last.as_ref() != Some(&state) {
                progress(Progress::Rollout {
                    id: id.clone(),
                    rollout: state.clone(),
                });
                last = Some(state);
            }
        };
        loop {
            let live = self.call(id, api.get(&id.name)).await?;
            let live_value = to_value(&live);
            let state = rollout::status(&id.kind, &live_value);
            report(state.clone());
            if let Some(result) = settle(&state, self, id).await {
                return result;
            }
            stuck.workload(&live_value);
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                return Err(self.timed_out(id, timeout, &state).await);
            }
            let version = live.metadata.resource_version.clone().unwrap_or_default();
            let params = WatchParams::default()
                .fields(&format!("metadata.name={}", id.name))
                .timeout(remaining.as_secs().clamp(1, 290) as u32);
            let stream = api
                .watch(&params, &version)
                .await
                .map_err(|e| Failure::apply(e, id))?;
            let mut stream = stream.boxed();
            loop {
                let look = stuck.next_look().min(deadline);
                let next = tokio::time::timeout_at(look, stream.try_next()).await;
                let event = match next {
                    Err(_elapsed) if tokio::time::Instant::now() < deadline => {
                        if let Some(failure) = self.stuck_pod(id, &mut stuck).await {
                            return Err(failure);
                        }
                        continue;
                    }
                    Err(_elapsed) => {
                        let state = last.clone().unwrap_or(state.clone());
                        return Err(self.timed_out(id, timeout, &state).await);
                    }
                    Ok(Err(error)) => return Err(Failure::apply(error, id)),
                    // The watch ended (server timeout): start over with a fresh read.
                    Ok(Ok(None)) => break,
                    Ok(Ok(Some(event))) => event,
                };
                match event {
                    WatchEvent::Added(object) | WatchEvent::Modified(object) => {
                        let object = to_value(&object);
                        stuck.workload(&object);
                        let state = rollout::status(&id.kind, &object);
                        report(state.clone());
                        if let Some(result) = settle(&state, self, id).await {
                            return result;
                        }
                    }
                    WatchEvent::Deleted(_) => {
                        return Err(Failure::new(
                            "Deleted",
                            None,
                            format!(
                                "{} was deleted while Tripline waited for its rollout",
                                short(id)
                            ),
                            Some(id.clone()),
                        ));
                    }
                    // Expired resourceVersion or other watch errors: re-read and re-watch.
                    WatchEvent::Error(_) | WatchEvent::Bookmark(_) => break,
                }
            }
        }
    }

    /// A failure when one of the rollout's new pods has been stuck for `stuck.after`.
    async fn stuck_pod(&self, id: &ResourceId, stuck: &mut Stuck) -> Option<Failure> {
        let namespace = id.namespace.as_deref()?;
        let (selector, since) = stuck.target()?;
        let pods: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.client.clone(), namespace);
        let list = pods
            .list(&kube::api::ListParams::default().labels(&selector))
            .await
            .ok()?;
        let mut waiting = Vec::new();
        for pod in list.items {
            // Pods made before Tripline's apply belong to an earlier rollout (a rollback
            // leaves the failed one's pods stuck until they are scaled away).
            let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
            if created.is_none_or(|created| created < since) {
                continue;
            }
            let name = pod.metadata.name.clone().unwrap_or_default();
            let statuses = pod.status.iter().flat_map(|s| {
                let init = s.init_container_statuses.iter().flatten();
                init.chain(s.container_statuses.iter().flatten())
            });
            for status in statuses {
                let Some(state) = status.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
                    continue;
                };
                let reason = state.reason.clone().unwrap_or_default();
                if live::STUCK.contains(&reason.as_str()) {
                    waiting.push(StuckContainer {
                        key: format!("{name}/{}", status.name),
                        pod: name.clone(),
                        container: status.name.clone(),
                        reason,
                        message: state.message.clone().unwrap_or_default(),
                    });
                }
            }
        }
        let found = stuck.seen(waiting)?;
        let message = if found.message.is_empty() {
            String::new()
        } else {
            format!(": {}", found.message)
        };
        Some(Failure::new(
            &found.reason,
            None,
            format!(
                "{} cannot finish rolling out: pod {} container {} has been in {} for {}s{message}; \
                 fix the template (or the image, or what it needs) and deploy again",
                short(id),
                found.pod,
                found.container,
                found.reason,
                stuck.after.as_secs(),
            ),
            Some(id.clone()),
        ))
    }

    async fn timed_out(&self, id: &ResourceId, timeout: Duration, state: &Rollout) -> Failure {
        let last = match state {
            Rollout::Progressing { message, .. } => message.clone(),
            _ => String::new(),
        };
        let hints = self.pod_problems(id).await;
        Failure::new(
            "Timeout",
            None,
            format!(
                "{} did not finish rolling out within {}s ({last}){hints}",
                short(id),
                timeout.as_secs()
            ),
            Some(id.clone()),
        )
    }

    /// Why the workload's pods are not ready, as a sentence to append to a failure.
    async fn pod_problems(&self, id: &ResourceId) -> String {
        let Some(namespace) = id.namespace.as_deref() else {
            return String::new();
        };
        let Ok(discovered) = self.discover(id).await else {
            return String::new();
        };
        let api = self.api(&discovered, Some(namespace));
        let Ok(live) = api.get(&id.name).await else {
            return String::new();
        };
        let Some(selector) = workload_selector(&to_value(&live)) else {
            return String::new();
        };
        let pods: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.client.clone(), namespace);
        let Ok(list) = pods
            .list(&kube::api::ListParams::default().labels(&selector))
            .await
        else {
            return String::new();
        };
        let mut problems = Vec::new();
        for pod in list.items {
            let name = pod.metadata.name.unwrap_or_default();
            let statuses = pod
                .status
                .and_then(|s| s.container_statuses)
                .unwrap_or_default();
            for status in statuses {
                if let Some(waiting) = status.state.and_then(|s| s.waiting) {
                    let reason = waiting.reason.unwrap_or_default();
                    if reason.is_empty() || reason == "ContainerCreating" {
                        continue;
                    }
                    let message = waiting
                        .message
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default();
                    problems.push(format!(
                        "pod {name} container {}: {reason}{message}",
                        status.name
                    ));
                }
            }
        }
        problems.sort();
        problems.dedup();
        problems.truncate(3);
        if problems.is_empty() {
            String::new()
        } else {
            format!("; {}", problems.join("; "))
        }
    }
}

/// A workload's `spec.selector` as a label selector string, when it can be one (see
/// [`live::selector_string`]: selectors with match expressions are not guessed at).
fn workload_selector(object: &Value) -> Option<String> {
    let selector = serde_json::from_value(object.pointer("/spec/selector")?.clone()).ok()?;
    live::selector_string(&selector)
}

/// Whether a failure says the object's namespace does not exist (yet).
fn missing_namespace(failure: &Failure) -> bool {
    failure.code == Some(404) && failure.message.contains("namespaces \"")
}

/// A container waiting in one of [`live::STUCK`]'s reasons.
#[derive(Debug, Clone)]
struct StuckContainer {
    key: String,
    pod: String,
    container: String,
    reason: String,
    message: String,
}

/// What a rollout's wait knows about stuck pods: which pods are the rollout's (the
/// workload's selector, created since Tripline's apply, on the server's clock), when each
/// stuck container was first seen stuck, and when to look again.
#[derive(Debug)]
struct Stuck {
    after: Duration,
    selector: Option<String>,
    since: Option<jiff::Timestamp>,
    first_seen: HashMap<String, tokio::time::Instant>,
    next: tokio::time::Instant,
}

impl Stuck {
    fn new(after: Duration) -> Self {
        Stuck {
            after,
            selector: None,
            since: None,
            first_seen: HashMap::new(),
            next: tokio::time::Instant::now() + Self::every(after),
        }
    }

    /// How often pods are looked at: a quarter of the allowance, between 0.5 and 5 s.
    fn every(after: Duration) -> Duration {
        (after / 4).clamp(Duration::from_millis(500), Duration::from_secs(5))
    }

    /// Takes the selector and the apply time from the live workload.
    fn workload(&mut self, object: &Value) {
        self.selector = workload_selector(object);
        self.since = rollout::applied_at(object);
    }

    fn next_look(&self) -> tokio::time::Instant {
        self.next
    }

    /// The selector and apply time, when both are known (a workload Tripline did not apply
    /// is only waited for, up to the timeout).
    fn target(&mut self) -> Option<(String, jiff::Timestamp)> {
        self.next = tokio::time::Instant::now() + Self::every(self.after);
        Some((self.selector.clone()?, self.since?))
    }

    /// Records what is stuck now; the first one stuck for `after` or longer, if any. A
    /// container no longer stuck starts over.
    fn seen(&mut self, now_stuck: Vec<StuckContainer>) -> Option<StuckContainer> {
        let now = tokio::time::Instant::now();
        self.first_seen
            .retain(|key, _| now_stuck.iter().any(|c| &c.key == key));
        let mut found = None;
        for container in now_stuck {
            let first = *self.first_seen.entry(container.key.clone()).or_insert(now);
            if found.is_none() && now.duration_since(first) >= self.after {
                found = Some(container);
            }
        }
        found
    }
}

/// A finished rollout as the result of waiting, or `None` if it is still going.
async fn settle(
    state: &Rollout,
    deployer: &Deployer,
    id: &ResourceId,
) -> Option<Result<String, Failure>> {
    match state {
        Rollout::Complete { message } => Some(Ok(message.clone())),
        Rollout::Failed { reason, message } => {
            let hints = deployer.pod_problems(id).await;
            Some(Err(Failure::new(
                reason,
                None,
                format!("{message}{hints}"),
                Some(id.clone()),
            )))
        }
        Rollout::Progressing { .. } => None,
    }
}

fn to_value(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

fn outcome(id: &ResourceId, action: Action, message: &str) -> ResourceOutcome {
    ResourceOutcome {
        id: id.clone(),
        action,
        generation: None,
        message: Some(message.to_owned()),
    }
}

/// An object as deploy messages name it, `Deployment demo` (with the namespace when there is
/// one), so that front ends print it the same way.
pub fn short(id: &ResourceId) -> String {
    match &id.namespace {
        Some(ns) => format!("{} {ns}/{}", id.kind, id.name),
        None => format!("{} {}", id.kind, id.name),
    }
}

/// Adds our labels to an object about to be applied.
fn label(value: &mut Value, app: &str) {
    let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if !labels.is_object() {
        *labels = Value::Object(Default::default());
    }
    labels[MANAGED_BY.0] = Value::String(MANAGED_BY.1.into());
    labels[APP_LABEL] = Value::String(app.into());
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod scale_tests {
    use super::*;

    #[test]
    fn scaling_stays_within_bounds() {
        let request = |direction, step, min, max| ScaleRequest {
            kind: "Deployment".into(),
            name: "web".into(),
            direction,
            step,
            min,
            max,
        };
        let cases = [
            (request(Direction::ScaleOut, 5, None, None), 2, 7),
            (request(Direction::ScaleOut, 5, None, Some(4)), 2, 4),
            (request(Direction::ScaleIn, 5, None, None), 2, 0),
            (request(Direction::ScaleIn, 1, Some(2), None), 2, 2),
            (request(Direction::ScaleIn, 1, Some(3), Some(5)), 9, 5),
            (
                request(Direction::ScaleOut, 100, None, None),
                u32::MAX - 1,
                u32::MAX,
            ),
        ];
        for (request, current, expected) in cases {
            assert_eq!(
                request.target(current),
                expected,
                "{request:?} from {current}"
            );
        }
    }
}
