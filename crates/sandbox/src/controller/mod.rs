//! The simulated controllers: what kube-controller-manager and a kubelet would do.
//!
//! One task, owned by the [`super::Sandbox`], driven by the store's change events and by
//! timers — it never polls. Each event names work ([`Work`]): a changed Deployment is
//! reconciled; a changed ReplicaSet reconciles itself and its Deployment; a changed Pod moves
//! through its lifecycle and reconciles its owner. Reconciling is level-based (read the
//! current objects, write what differs) and writes nothing when nothing differs, so the
//! events its own writes cause settle at once.
//!
//! - [`deployment`]: a ReplicaSet per pod-template hash, rolling from old to new as new pods
//!   become ready; status and the `Available`/`Progressing` conditions as
//!   `kubectl rollout status` reads them, including `ProgressDeadlineExceeded`.
//! - [`replicaset`]: pods up to `spec.replicas`.
//! - [`statefulset`], [`daemonset`], [`job`]: their pods and status.
//! - [`pod`]: a pod is scheduled to `sandbox-node` at once, starts after the configured
//!   rollout delay (a timer), or stays in `ImagePullBackOff` when its image cannot be pulled.
//! - [`events`]: the Events each of these would record (`ScalingReplicaSet`,
//!   `SuccessfulCreate`, `Scheduled`, `Started`, `Failed` to pull …), for `kubectl describe`.

mod daemonset;
mod deployment;
mod events;
mod job;
mod pod;
mod replicaset;
mod statefulset;
mod template_hash;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::managed::Writer;
use super::objects::{self, Managed, meta_str};
use super::resources::{self, ResourceDef};
use super::status::ApiResult;
use super::store::{Event, EventKind, Store, Txn};
use events::Severity;

/// The manager name of the controller's writes (as on a real cluster).
const MANAGER: &str = "kube-controller-manager";

/// The one node of the sandbox.
pub(crate) const NODE_NAME: &str = "sandbox-node";

/// What the controller needs from the sandbox configuration.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// How long a new pod takes to become ready.
    pub rollout_delay: Duration,
    /// Images that cannot be pulled.
    pub missing_images: Vec<String>,
}

type Key = (String, String);

/// One thing to reconcile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Work {
    Deployment(Key),
    ReplicaSet(Key),
    StatefulSet(Key),
    DaemonSet(Key),
    Job(Key),
    Pod(Key),
    /// A pod's containers have had their rollout delay: start them (uid guards against a
    /// pod recreated under the same name).
    PodStart(Key, String),
}

/// The controller task's state.
pub(crate) struct Controller {
    store: Arc<Store>,
    settings: Settings,
    events: broadcast::Receiver<Arc<Event>>,
    queue: BTreeSet<Work>,
    timers: BTreeMap<(Instant, u64), Work>,
    timer_seq: u64,
    /// Pods (by uid) with a start timer pending.
    starting: HashSet<String>,
    /// When each Deployment (by uid) last made progress.
    progress: HashMap<String, Instant>,
    next_pod_ip: u32,
}

fn key(object: &Value) -> Key {
    (
        meta_str(object, "namespace").unwrap_or_default().to_owned(),
        meta_str(object, "name").unwrap_or_default().to_owned(),
    )
}

/// The controller ownerReference of an object: `(kind, name, uid)`.
pub(crate) fn controller_of(object: &Value) -> Option<(&str, &str, &str)> {
    object
        .pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|r| {
            Some((
                r.get("kind")?.as_str()?,
                r.get("name")?.as_str()?,
                r.get("uid")?.as_str()?,
            ))
        })
}

/// An ownerReference to `owner` as its controller.
fn owner_reference(def: &ResourceDef, owner: &Value) -> Value {
    json!({
        "apiVersion": def.api_version,
        "kind": def.kind,
        "name": meta_str(owner, "name").unwrap_or_default(),
        "uid": meta_str(owner, "uid").unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Pods whose controller is the object with `uid`, in `namespace`.
fn owned_pods(txn: &Txn<'_>, namespace: &str, uid: &str) -> Vec<Arc<Value>> {
    txn.list(resources::known("v1", "Pod"), Some(namespace))
        .into_iter()
        .filter(|p| controller_of(p).is_some_and(|(_, _, u)| u == uid))
        .collect()
}

/// Whether a pod is Ready.
pub(crate) fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Whether a pod is available — Ready for at least `min_ready` seconds — at `now`. A pod
/// that is Ready but not yet long enough moves `wake` to the moment it will be.
pub(crate) fn is_available(
    pod: &Value,
    min_ready: u64,
    now: jiff::Timestamp,
    wake: &mut Option<jiff::Timestamp>,
) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready == 0 {
        return true;
    }
    let since = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["lastTransitionTime"].as_str())
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let Some(since) = since else {
        return true;
    };
    let at =
        since + jiff::SignedDuration::from_secs(i64::try_from(min_ready).unwrap_or(i64::MAX / 2));
    if at <= now {
        return true;
    }
    *wake = Some(wake.map_or(at, |w| w.min(at)));
    false
}

/// The monotonic instant of a wall-clock time (now when it has passed).
pub(crate) fn instant_of(at: jiff::Timestamp) -> Instant {
    let wait = at.duration_since(jiff::Timestamp::now());
    Instant::now() + std::time::Duration::try_from(wait).unwrap_or_default()
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
}

/// An object's key fields sorted, so hashes do not depend on field order.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// A pod-template hash in the style of `pod-template-hash` (10 characters of
/// `bcdfghjklmnpqrstvwxz2456789`).
pub(crate) fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let digest = Sha256::digest(canonical(template).to_string().as_bytes());
    let mut n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    let mut out = String::new();
    for _ in 0..10 {
        out.push(ALPHABET[(n % ALPHABET.len() as u64) as usize] as char);
        n /= ALPHABET.len() as u64;
    }
    out
}

/// Adds labels to a pod template (and returns it).
fn with_labels(mut template: Value, labels: &[(&str, &str)]) -> Value {
    if !template.get("metadata").is_some_and(Value::is_object) {
        template["metadata"] = json!({});
    }
    if !template["metadata"]
        .get("labels")
        .is_some_and(Value::is_object)
    {
        template["metadata"]["labels"] = json!({});
    }
    for (k, v) in labels {
        template["metadata"]["labels"][*k] = json!(v);
    }
    template
}

/// The writer record of the controller's creates.
fn writer(time: &str) -> Managed<'_> {
    Managed::Update(Writer {
        manager: MANAGER,
        subresource: None,
        time,
    })
}

/// The writer record of the controller's status writes (and of the annotations it writes
/// with them, as kube-controller-manager does through `/status`).
pub(super) fn status_writer(time: &str) -> Managed<'_> {
    Managed::Update(Writer {
        manager: MANAGER,
        subresource: Some("status"),
        time,
    })
}

/// The component that reports events about the pods of an owner kind.
fn component_of(owner: &ResourceDef) -> &'static str {
    match owner.kind {
        "StatefulSet" => events::STATEFULSET_CONTROLLER,
        "DaemonSet" => events::DAEMONSET_CONTROLLER,
        "Job" => events::JOB_CONTROLLER,
        _ => events::REPLICASET_CONTROLLER,
    }
}

/// The event message for a pod created (`verb` "create") or deleted by `owner`, worded as
/// each controller words it.
fn pod_message(owner_def: &ResourceDef, owner: &Value, verb: &str, pod: &str) -> String {
    if owner_def.kind == "StatefulSet" {
        let set = meta_str(owner, "name").unwrap_or_default();
        format!("{verb} Pod {pod} in StatefulSet {set} successful")
    } else if verb == "create" {
        format!("Created pod: {pod}")
    } else {
        format!("Deleted pod: {pod}")
    }
}

/// Creates a pod of `owner` from a template, and the event saying so.
fn create_pod(
    txn: &mut Txn<'_>,
    owner_def: &ResourceDef,
    owner: &Value,
    name: &str,
    template: &Value,
    spec_extra: &[(&str, Value)],
) -> ApiResult<Arc<Value>> {
    let namespace = meta_str(owner, "namespace").unwrap_or_default();
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(name));
    metadata.insert("namespace".into(), json!(namespace));
    for field in ["labels", "annotations"] {
        if let Some(v) = template.pointer(&format!("/metadata/{field}")) {
            metadata.insert(field.into(), v.clone());
        }
    }
    metadata.insert(
        "ownerReferences".into(),
        json!([owner_reference(owner_def, owner)]),
    );
    let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
    for (k, v) in spec_extra {
        spec[*k] = v.clone();
    }
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec});
    let time = objects::now();
    let created = objects::create(txn, resources::known("v1", "Pod"), pod, &writer(&time))?;
    events::record(
        txn,
        owner_def,
        owner,
        Severity::Normal,
        "SuccessfulCreate",
        pod_message(owner_def, owner, "create", name),
        component_of(owner_def),
    )?;
    Ok(created)
}

/// Deletes a pod of `owner`, and records the event saying so.
fn delete_pod(
    txn: &mut Txn<'_>,
    owner_def: &ResourceDef,
    owner: &Value,
    pod: &Value,
) -> ApiResult<()> {
    delete_owned(txn, resources::known("v1", "Pod"), pod)?;
    let name = meta_str(pod, "name").unwrap_or_default();
    events::record(
        txn,
        owner_def,
        owner,
        Severity::Normal,
        "SuccessfulDelete",
        pod_message(owner_def, owner, "delete", name),
        component_of(owner_def),
    )
}

/// Deletes an object the controller owns; a miss is fine (already gone).
fn delete_owned(txn: &mut Txn<'_>, def: &'static ResourceDef, object: &Value) -> ApiResult<()> {
    let (ns, name) = key(object);
    match objects::delete(
        txn,
        def,
        &ns,
        &name,
        objects::Propagation::Background,
        &objects::Preconditions::default(),
    ) {
        Ok(_) | Err(super::status::ApiError::NotFound { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

/// Writes a new status when it differs from the stored one.
fn write_status(
    txn: &mut Txn<'_>,
    def: &'static ResourceDef,
    old: &Arc<Value>,
    status: Value,
) -> ApiResult<Arc<Value>> {
    if old.get("status") == Some(&status) {
        return Ok(old.clone());
    }
    let mut new = (**old).clone();
    new["status"] = status;
    let time = objects::now();
    objects::update(txn, def, old, new, &status_writer(&time))
}

/// Inserts `key: n` unless `n` is zero (the API's `omitempty` counters).
fn count(status: &mut Value, key: &str, n: usize) {
    if n > 0 {
        status[key] = json!(n);
    }
}

/// A condition with its times: kept from `previous` when status, reason and message are
/// unchanged, refreshed otherwise.
fn condition(
    previous: Option<&Value>,
    kind: &str,
    status: bool,
    reason: &str,
    message: &str,
    now: &str,
    touch: bool,
) -> Value {
    let status = if status { "True" } else { "False" };
    let same_status = previous.is_some_and(|p| p["status"] == status);
    let unchanged =
        same_status && previous.is_some_and(|p| p["reason"] == reason && p["message"] == message);
    let transition = match previous {
        Some(p) if same_status => p["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    let update = match previous {
        Some(p) if unchanged && !touch => p["lastUpdateTime"].clone(),
        _ => json!(now),
    };
    json!({
        "type": kind,
        "status": status,
        "lastUpdateTime": update,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    })
}

fn find_condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

impl Controller {
    /// A controller over `store`; it subscribes now, so nothing written after this call is
    /// missed.
    pub fn new(store: Arc<Store>, settings: Settings) -> Controller {
        let events = store.subscribe();
        Controller {
            store,
            settings,
            events,
            queue: BTreeSet::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            starting: HashSet::new(),
            progress: HashMap::new(),
            next_pod_ip: 0,
        }
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(mut self, shutdown: CancellationToken) {
        self.resync();
        self.drain();
        loop {
            let next_timer = self.timers.keys().next().map(|(at, _)| *at);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                received = self.events.recv() => match received {
                    Ok(event) => {
                        self.on_event(&event);
                        // Take everything already queued before reconciling once.
                        loop {
                            match self.events.try_recv() {
                                Ok(event) => self.on_event(&event),
                                Err(broadcast::error::TryRecvError::Lagged(_)) => self.resync(),
                                Err(_) => break,
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => self.resync(),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = sleep_until(next_timer) => self.fire_timers(),
            }
            self.drain();
        }
    }

    /// Queues every workload and pod (at start, and after falling behind the event feed).
    fn resync(&mut self) {
        type Make = fn(Key) -> Work;
        let kinds: [(&str, &str, Make); 6] = [
            ("apps/v1", "Deployment", Work::Deployment),
            ("apps/v1", "ReplicaSet", Work::ReplicaSet),
            ("apps/v1", "StatefulSet", Work::StatefulSet),
            ("apps/v1", "DaemonSet", Work::DaemonSet),
            ("batch/v1", "Job", Work::Job),
            ("v1", "Pod", Work::Pod),
        ];
        let mut work = Vec::new();
        self.store.read(|txn| {
            for (api_version, kind, make) in kinds {
                for object in txn.list(resources::known(api_version, kind), None) {
                    work.push(make(key(&object)));
                }
            }
        });
        self.queue.extend(work);
    }

    fn on_event(&mut self, event: &Event) {
        let object = &event.object;
        let deleted = event.kind == EventKind::Deleted;
        let k = key(object);
        match (event.def.group, event.def.kind) {
            ("apps", "Deployment") if !deleted => {
                self.queue.insert(Work::Deployment(k));
            }
            ("apps", "Deployment") => {
                if let Some(uid) = meta_str(object, "uid") {
                    self.progress.remove(uid);
                }
            }
            ("apps", "ReplicaSet") => {
                if !deleted {
                    self.queue.insert(Work::ReplicaSet(k.clone()));
                }
                if let Some(("Deployment", name, _)) = controller_of(object) {
                    self.queue.insert(Work::Deployment((k.0, name.to_owned())));
                }
            }
            ("apps", "StatefulSet") if !deleted => {
                self.queue.insert(Work::StatefulSet(k));
            }
            ("apps", "DaemonSet") if !deleted => {
                self.queue.insert(Work::DaemonSet(k));
            }
            ("batch", "Job") if !deleted => {
                self.queue.insert(Work::Job(k));
            }
            ("", "Pod") => {
                if deleted {
                    if let Some(uid) = meta_str(object, "uid") {
                        self.starting.remove(uid);
                    }
                } else {
                    self.queue.insert(Work::Pod(k.clone()));
                }
                self.queue_owner(&k.0, object);
            }
            _ => {}
        }
    }

    /// Queues a pod's controller (and, for a ReplicaSet, its Deployment).
    fn queue_owner(&mut self, namespace: &str, pod: &Value) {
        let Some((kind, name, _)) = controller_of(pod) else {
            return;
        };
        let owner = (namespace.to_owned(), name.to_owned());
        match kind {
            "ReplicaSet" => {
                let rs = self.store.read(|txn| {
                    txn.get(resources::known("apps/v1", "ReplicaSet"), namespace, name)
                });
                if let Some(("Deployment", deployment, _)) = rs.as_deref().and_then(controller_of) {
                    self.queue.insert(Work::Deployment((
                        namespace.to_owned(),
                        deployment.to_owned(),
                    )));
                }
                self.queue.insert(Work::ReplicaSet(owner));
            }
            "StatefulSet" => {
                self.queue.insert(Work::StatefulSet(owner));
            }
            "DaemonSet" => {
                self.queue.insert(Work::DaemonSet(owner));
            }
            "Job" => {
                self.queue.insert(Work::Job(owner));
            }
            _ => {}
        }
    }

    fn schedule(&mut self, at: Instant, work: Work) {
        self.timer_seq += 1;
        self.timers.insert((at, self.timer_seq), work);
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let work = entry.remove();
            self.queue.insert(work);
        }
    }

    /// Reconciles everything queued. Errors are logged: the next event or resync retries.
    fn drain(&mut self) {
        while let Some(work) = self.queue.pop_first() {
            let result = match &work {
                Work::Deployment(k) => self.deployment(k),
                Work::ReplicaSet(k) => self.replica_set(k),
                Work::StatefulSet(k) => self.stateful_set(k),
                Work::DaemonSet(k) => self.daemon_set(k),
                Work::Job(k) => self.job(k),
                Work::Pod(k) => self.pod(k),
                Work::PodStart(k, uid) => self.start_pod(k, uid),
            };
            if let Err(error) = result {
                tracing::debug!(?work, %error, "sandbox controller: reconcile failed");
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hashes_ignore_field_order_and_see_changes() {
        let a = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "a"}]}});
        let b = json!({"spec": {"containers": [{"image": "a", "name": "c"}]}, "metadata": {"labels": {"app": "x"}}});
        let c = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "b"}]}});
        assert_eq!(template_hash(&a), template_hash(&b));
        assert_ne!(template_hash(&a), template_hash(&c));
        assert_eq!(template_hash(&a).len(), 10);
    }
}
