//! Events (`core/v1` `Event` objects), as the controllers and the kubelet record them, so
//! `kubectl describe` and `kubectl get events` explain a rollout: ReplicaSets scaled, pods
//! created and deleted, scheduled, started — or failing to pull their image.
//!
//! Events are written in the same transaction as the change they describe. A namespace keeps
//! its newest [`KEEP`] events; older ones are removed (a real cluster expires them after an
//! hour).

use serde_json::{Value, json};

use crate::objects::{self, Managed, meta_str};
use crate::resources::{self, ResourceDef};
use crate::status::ApiResult;
use crate::store::Txn;

/// Events kept per namespace.
const KEEP: usize = 500;

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Severity {
    /// Something expected happened.
    Normal,
    /// Something that needs attention.
    Warning,
}

/// Who reports an event (`source.component`).
pub(super) const DEPLOYMENT_CONTROLLER: &str = "deployment-controller";
/// The ReplicaSet controller.
pub(super) const REPLICASET_CONTROLLER: &str = "replicaset-controller";
/// The StatefulSet controller.
pub(super) const STATEFULSET_CONTROLLER: &str = "statefulset-controller";
/// The DaemonSet controller.
pub(super) const DAEMONSET_CONTROLLER: &str = "daemonset-controller";
/// The Job controller.
pub(super) const JOB_CONTROLLER: &str = "job-controller";
/// The scheduler.
pub(super) const SCHEDULER: &str = "default-scheduler";
/// The kubelet.
pub(super) const KUBELET: &str = "kubelet";

/// Records an event about `object` (of `def`).
pub(super) fn record(
    txn: &mut Txn<'_>,
    def: &ResourceDef,
    object: &Value,
    severity: Severity,
    reason: &str,
    message: String,
    component: &str,
) -> ApiResult<()> {
    let namespace = meta_str(object, "namespace")
        .unwrap_or("default")
        .to_owned();
    let name = meta_str(object, "name").unwrap_or_default();
    let now = objects::now();
    let events = resources::known("v1", "Event");
    // Named `<object>.<unix nanoseconds in hex>` like a real cluster's, which lists an
    // object's events in order.
    let mut nanos = jiff::Timestamp::now().as_nanosecond();
    while txn
        .get(events, &namespace, &format!("{name}.{nanos:x}"))
        .is_some()
    {
        nanos += 1;
    }
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{name}.{nanos:x}"), "namespace": namespace},
        "involvedObject": {
            "apiVersion": def.api_version,
            "kind": def.kind,
            "name": name,
            "namespace": namespace,
            "uid": meta_str(object, "uid").unwrap_or_default(),
            "resourceVersion": meta_str(object, "resourceVersion").unwrap_or_default(),
        },
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": match severity {
            Severity::Normal => "Normal",
            Severity::Warning => "Warning",
        },
        "reportingComponent": component,
        "reportingInstance": "",
    });
    objects::create(txn, events, event, &Managed::Untracked)?;
    let mut kept = txn.list(events, Some(&namespace));
    if kept.len() > KEEP {
        kept.sort_by_key(|e| objects::rv_number(e));
        for old in &kept[..kept.len() - KEEP] {
            let old_name = meta_str(old, "name").unwrap_or_default().to_owned();
            txn.remove(events, &namespace, &old_name);
        }
    }
    Ok(())
}
