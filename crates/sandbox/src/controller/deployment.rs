//! Deployments: one ReplicaSet per pod template, a rolling update between them, and the
//! status `kubectl rollout status` reads.
//!
//! The ReplicaSet for the current template (`<deployment>-<pod-template-hash>`) is created if
//! missing and scaled to `spec.replicas` at once; older ReplicaSets keep as many pods as the
//! new one lacks *ready* pods, so the old version serves until the new one is up (and keeps
//! serving if the new one never comes up). `Recreate` is treated the same way. The status is
//! counted from the pods; `Progressing` turns False with `ProgressDeadlineExceeded` when
//! nothing changed for `spec.progressDeadlineSeconds`, which a timer checks. As in
//! kube-controller-manager, a new spec that goes back to an existing ReplicaSet after such a
//! failure (a rollback) is first published with the old condition still in place.

use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::events::{self, Severity};
use super::template_hash::pod_template_hash;
use super::{
    Controller, Key, Work, condition, controller_of, count, delete_owned, find_condition,
    instant_of, is_available, is_ready, owned_pods, owner_reference, with_labels, write_status,
    writer,
};
use crate::objects::{self, Managed, meta_str};
use crate::resources;
use crate::status::ApiResult;
use crate::store::Txn;

const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

fn revision(object: &Value) -> u64 {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn replicas(object: &Value) -> u64 {
    object
        .pointer("/spec/replicas")
        .and_then(Value::as_u64)
        .unwrap_or(1)
}

/// `maxUnavailable` as a number of pods (an int, or a percentage rounded down).
fn max_unavailable(deployment: &Value, desired: u64) -> u64 {
    match deployment.pointer("/spec/strategy/rollingUpdate/maxUnavailable") {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<u64>().ok())
            .map_or(0, |p| desired * p / 100),
        _ if deployment.pointer("/spec/strategy/type") == Some(&json!("Recreate")) => desired,
        _ => desired * 25 / 100,
    }
}

/// `maxSurge` and `maxUnavailable` in pods, as the controller resolves them: a surge
/// percentage rounds up, an unavailable one down, and if both come to zero one pod may be
/// unavailable (or the rollout could never move).
fn surge_and_unavailable(deployment: &Value, desired: u64) -> (u64, u64) {
    let surge = max_surge(deployment, desired);
    let unavailable = max_unavailable(deployment, desired);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// `maxSurge` in pods for `desired` replicas (percentages round up, as the controller's).
fn max_surge(deployment: &Value, desired: u64) -> u64 {
    match deployment.pointer("/spec/strategy/rollingUpdate/maxSurge") {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<u64>().ok())
            .map_or(0, |p| (desired * p).div_ceil(100)),
        _ if deployment.pointer("/spec/strategy/type") == Some(&json!("Recreate")) => 0,
        _ => (desired * 25).div_ceil(100),
    }
}

/// Sets an annotation when it differs; true if it changed.
fn annotate(object: &mut Value, key: &str, value: String) -> bool {
    if !object["metadata"]
        .get("annotations")
        .is_some_and(Value::is_object)
    {
        object["metadata"]["annotations"] = json!({});
    }
    if object["metadata"]["annotations"][key] == json!(value) {
        return false;
    }
    object["metadata"]["annotations"][key] = json!(value);
    true
}

/// The counts a Deployment's status is made of.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Counts {
    replicas: usize,
    updated: usize,
    ready: usize,
    available: usize,
    wanted_pods: u64,
}

impl Controller {
    pub(super) fn deployment(&mut self, k: &Key) -> ApiResult<()> {
        let rs_def = resources::known("apps/v1", "ReplicaSet");
        let def = resources::known("apps/v1", "Deployment");
        let mut deadline_at = None;
        let mut wake = None;
        let progress = &mut self.progress;
        self.store.write(false, |txn| {
            let Some(d) = txn.get(def, &k.0, &k.1) else {
                return Ok(());
            };
            let uid = meta_str(&d, "uid").unwrap_or_default().to_owned();
            let desired = replicas(&d);
            let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
            let collision_count = d
                .pointer("/status/collisionCount")
                .and_then(Value::as_i64)
                .and_then(|c| i32::try_from(c).ok());
            let hash = pod_template_hash(&template, collision_count);
            let new_name = format!("{}-{hash}", k.1);
            let all: Vec<_> = txn
                .list(rs_def, Some(&k.0))
                .into_iter()
                .filter(|rs| controller_of(rs).is_some_and(|(_, _, u)| u == uid))
                .collect();
            let max_revision = all.iter().map(|rs| revision(rs)).max().unwrap_or(0);
            let paused = d.pointer("/spec/paused") == Some(&json!(true));
            let recreate = d.pointer("/spec/strategy/type") == Some(&json!("Recreate"));
            let min_ready = d
                .pointer("/spec/minReadySeconds")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let now = jiff::Timestamp::now();
            let (surge, unavailable) = surge_and_unavailable(&d, desired);
            let existing_new = all
                .iter()
                .find(|rs| meta_str(rs, "name") == Some(new_name.as_str()))
                .cloned();
            // Old ReplicaSets, oldest first: the order the controller scales them down in.
            let mut olds: Vec<_> = all
                .iter()
                .filter(|rs| meta_str(rs, "name") != Some(new_name.as_str()))
                .cloned()
                .collect();
            olds.sort_by_key(|rs| {
                (
                    revision(rs),
                    meta_str(rs, "creationTimestamp")
                        .unwrap_or_default()
                        .to_owned(),
                )
            });
            let old_total: u64 = olds.iter().map(|rs| replicas(rs)).sum();
            let old_pods: usize = olds
                .iter()
                .map(|rs| owned_pods(txn, &k.0, meta_str(rs, "uid").unwrap_or_default()).len())
                .sum();

            // How many pods the new ReplicaSet should have now (the controller's
            // NewRSNewReplicas): all of them once the old ones are gone (Recreate), or as many
            // as `maxSurge` allows above the desired count (RollingUpdate).
            let new_current = existing_new.as_ref().map_or(0, |rs| replicas(rs));
            let new_target = if paused {
                new_current
            } else if recreate {
                if old_total > 0 || old_pods > 0 {
                    new_current.min(desired)
                } else {
                    desired
                }
            } else if new_current >= desired {
                desired
            } else {
                let max_total = desired + surge;
                let current_total = old_total + new_current;
                new_current
                    + max_total
                        .saturating_sub(current_total)
                        .min(desired - new_current)
            };

            let mut created_new = false;
            let new_rs = match &existing_new {
                Some(existing) => {
                    let mut wanted = (**existing).clone();
                    let mut changed = false;
                    if revision(existing) < max_revision {
                        // Back to an older template (rollout undo): it becomes the newest.
                        changed |= annotate(&mut wanted, REVISION, (max_revision + 1).to_string());
                    }
                    if replicas(existing) != new_target {
                        wanted["spec"]["replicas"] = json!(new_target);
                        changed = true;
                    }
                    if !paused {
                        changed |= annotate(&mut wanted, DESIRED, desired.to_string());
                        changed |=
                            annotate(&mut wanted, MAX_REPLICAS, (desired + surge).to_string());
                    }
                    if changed {
                        scaled_event(txn, &d, existing, replicas(existing), new_target)?;
                        objects::update(txn, rs_def, existing, wanted, &Managed::Untracked)?
                    } else {
                        existing.clone()
                    }
                }
                None => {
                    created_new = true;
                    let time = objects::now();
                    let labels = [("pod-template-hash", hash.as_str())];
                    let rs_template = with_labels(template.clone(), &labels);
                    let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
                    if !selector.get("matchLabels").is_some_and(Value::is_object) {
                        selector["matchLabels"] = json!({});
                    }
                    selector["matchLabels"]["pod-template-hash"] = json!(hash);
                    let mut annotations = Map::new();
                    annotations.insert(REVISION.into(), json!((max_revision + 1).to_string()));
                    annotations.insert(DESIRED.into(), json!(desired.to_string()));
                    annotations.insert(MAX_REPLICAS.into(), json!((desired + surge).to_string()));
                    let rs = json!({
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "metadata": {
                            "name": new_name,
                            "namespace": k.0,
                            "labels": rs_template["metadata"]["labels"].clone(),
                            "annotations": annotations,
                            "ownerReferences": [owner_reference(def, &d)],
                        },
                        "spec": {
                            "replicas": new_target,
                            "minReadySeconds": min_ready,
                            "selector": selector,
                            "template": rs_template,
                        }
                    });
                    let created = objects::create(txn, rs_def, rs, &writer(&time))?;
                    scaled_event(txn, &d, &created, 0, new_target)?;
                    created
                }
            };
            let new_uid = meta_str(&new_rs, "uid").unwrap_or_default().to_owned();
            let available_in =
                |txn: &Txn<'_>, rs: &Value, wake: &mut Option<jiff::Timestamp>| -> u64 {
                    owned_pods(txn, &k.0, meta_str(rs, "uid").unwrap_or_default())
                        .iter()
                        .filter(|p| is_available(p, min_ready, now, wake))
                        .count() as u64
                };

            // How many pods each old ReplicaSet keeps: none (Recreate), or as many as keep
            // `desired - maxUnavailable` pods available (the controller's
            // reconcileOldReplicaSets: unhealthy pods go first, then available ones).
            let mut targets: Vec<u64> = olds.iter().map(|rs| replicas(rs)).collect();
            if !paused && recreate {
                targets.iter_mut().for_each(|t| *t = 0);
            } else if !paused && old_total > 0 {
                let min_available = desired.saturating_sub(unavailable);
                let new_available = available_in(txn, &new_rs, &mut wake);
                let new_unavailable = new_target.saturating_sub(new_available);
                let all_pods = old_total + new_target;
                let mut scalable = all_pods.saturating_sub(min_available + new_unavailable);
                if scalable > 0 {
                    let availables: Vec<u64> = olds
                        .iter()
                        .map(|rs| available_in(txn, rs, &mut wake))
                        .collect();
                    for (target, available) in targets.iter_mut().zip(&availables) {
                        let unhealthy = target.saturating_sub(*available).min(scalable);
                        *target -= unhealthy;
                        scalable -= unhealthy;
                    }
                    let available_total: u64 = availables.iter().sum::<u64>() + new_available;
                    let mut down = available_total.saturating_sub(min_available);
                    for target in targets.iter_mut() {
                        let step = (*target).min(down);
                        *target -= step;
                        down -= step;
                    }
                }
            }
            for (old, target) in olds.iter().zip(&targets) {
                if *target != replicas(old) {
                    let mut scaled = (**old).clone();
                    scaled["spec"]["replicas"] = json!(target);
                    scaled_event(txn, &d, old, replicas(old), *target)?;
                    objects::update(txn, rs_def, old, scaled, &Managed::Untracked)?;
                }
            }
            // Revision history: drop the oldest empty ReplicaSets beyond the limit.
            let limit = d
                .pointer("/spec/revisionHistoryLimit")
                .and_then(Value::as_u64)
                .unwrap_or(10) as usize;
            let empty: Vec<_> = olds
                .iter()
                .filter(|rs| {
                    let (ns, name) = (
                        meta_str(rs, "namespace").unwrap_or_default(),
                        meta_str(rs, "name").unwrap_or_default(),
                    );
                    txn.get(rs_def, ns, name)
                        .is_some_and(|rs| replicas(&rs) == 0)
                        && owned_pods(txn, ns, meta_str(rs, "uid").unwrap_or_default()).is_empty()
                })
                .cloned()
                .collect();
            for rs in empty.iter().skip(limit) {
                delete_owned(txn, rs_def, rs)?;
            }

            // The Deployment itself carries the revision of its newest ReplicaSet.
            let d = {
                let mut annotated = (*d).clone();
                if annotate(
                    &mut annotated,
                    REVISION,
                    revision(&new_rs).max(1).to_string(),
                ) {
                    let time = objects::now();
                    objects::update(txn, def, &d, annotated, &super::status_writer(&time))?
                } else {
                    d
                }
            };

            let counts = counts(
                txn,
                &k.0,
                &new_uid,
                &uid,
                rs_def,
                (min_ready, now),
                &mut wake,
            );
            let (status, next_check) =
                status(&d, counts, &new_rs, created_new, progress, Instant::now());
            deadline_at = next_check;
            write_status(txn, def, &d, status)?;
            Ok(())
        })?;
        if let Some(at) = deadline_at {
            self.schedule(at, Work::Deployment(k.clone()));
        }
        // A pod becoming available (minReadySeconds) moves the rollout on.
        if let Some(at) = wake {
            self.schedule(instant_of(at), Work::Deployment(k.clone()));
        }
        Ok(())
    }
}

/// The `ScalingReplicaSet` event of a Deployment scaling its ReplicaSet `rs` from `from` to
/// `to` pods.
fn scaled_event(txn: &mut Txn<'_>, d: &Value, rs: &Value, from: u64, to: u64) -> ApiResult<()> {
    if from == to {
        return Ok(());
    }
    let direction = if to > from { "up" } else { "down" };
    events::record(
        txn,
        resources::known("apps/v1", "Deployment"),
        d,
        Severity::Normal,
        "ScalingReplicaSet",
        format!(
            "Scaled {direction} replica set {} from {from} to {to}",
            meta_str(rs, "name").unwrap_or_default()
        ),
        events::DEPLOYMENT_CONTROLLER,
    )
}

fn counts(
    txn: &Txn<'_>,
    namespace: &str,
    new_uid: &str,
    uid: &str,
    rs_def: &'static resources::ResourceDef,
    (min_ready, now): (u64, jiff::Timestamp),
    wake: &mut Option<jiff::Timestamp>,
) -> Counts {
    let mut counts = Counts::default();
    for rs in txn
        .list(rs_def, Some(namespace))
        .into_iter()
        .filter(|rs| controller_of(rs).is_some_and(|(_, _, u)| u == uid))
    {
        let rs_uid = meta_str(&rs, "uid").unwrap_or_default();
        let pods = owned_pods(txn, namespace, rs_uid);
        counts.replicas += pods.len();
        counts.ready += pods.iter().filter(|p| is_ready(p)).count();
        counts.available += pods
            .iter()
            .filter(|p| is_available(p, min_ready, now, wake))
            .count();
        counts.wanted_pods += replicas(&rs);
        if rs_uid == new_uid {
            counts.updated += pods.len();
        }
    }
    counts
}

/// The status for `counts`, and when to look again for the progress deadline.
fn status(
    d: &Value,
    counts: Counts,
    new_rs: &Value,
    created_new: bool,
    progress: &mut std::collections::HashMap<String, Instant>,
    now: Instant,
) -> (Value, Option<Instant>) {
    let uid = meta_str(d, "uid").unwrap_or_default().to_owned();
    let desired = replicas(d) as usize;
    let generation = d
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    let previous = d.get("status").cloned().unwrap_or(json!({}));
    let old_counts = (
        previous
            .get("replicas")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize,
        previous
            .get("updatedReplicas")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize,
        previous
            .get("readyReplicas")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize,
    );
    let spec_changed = previous.get("observedGeneration") != Some(&generation);
    let moved = created_new
        || spec_changed
        || old_counts != (counts.replicas, counts.updated, counts.ready);
    if moved || !progress.contains_key(&uid) {
        progress.insert(uid.clone(), now);
    }
    let last_progress = progress[&uid];

    let available = counts.available;
    let complete = counts.updated == desired && counts.replicas == desired && available == desired;
    let deadline = Duration::from_secs(
        d.pointer("/spec/progressDeadlineSeconds")
            .and_then(Value::as_u64)
            .unwrap_or(600),
    );
    let time = objects::now();
    let rs_name = meta_str(new_rs, "name").unwrap_or_default();
    let old_progressing = find_condition(d, "Progressing");
    let timed_out_before =
        old_progressing.is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded");
    let mut next_check = None;
    let progressing = if spec_changed && !created_new && timed_out_before {
        // As kube-controller-manager does when a new spec goes back to an existing
        // ReplicaSet after a failed rollout (a rollback): the new generation is published
        // first with the failed rollout's condition still in place; a later sync moves on.
        next_check = Some(now + Duration::from_millis(50));
        old_progressing.cloned().unwrap_or_else(|| {
            condition(
                None,
                "Progressing",
                true,
                "ReplicaSetUpdated",
                &format!("ReplicaSet {rs_name:?} is progressing."),
                &time,
                true,
            )
        })
    } else if complete {
        condition(
            old_progressing,
            "Progressing",
            true,
            "NewReplicaSetAvailable",
            &format!("ReplicaSet {rs_name:?} has successfully progressed."),
            &time,
            moved,
        )
    } else if (timed_out_before && !moved) || now >= last_progress + deadline {
        condition(
            old_progressing,
            "Progressing",
            false,
            "ProgressDeadlineExceeded",
            &format!("ReplicaSet {rs_name:?} has timed out progressing."),
            &time,
            false,
        )
    } else {
        next_check = Some(last_progress + deadline + Duration::from_millis(5));
        let (reason, message) = if created_new {
            (
                "NewReplicaSetCreated",
                format!("Created new replica set {rs_name:?}"),
            )
        } else {
            (
                "ReplicaSetUpdated",
                format!("ReplicaSet {rs_name:?} is progressing."),
            )
        };
        condition(
            old_progressing,
            "Progressing",
            true,
            reason,
            &message,
            &time,
            moved,
        )
    };
    let minimum = desired.saturating_sub(max_unavailable(d, desired as u64) as usize);
    let available_condition = if available >= minimum {
        condition(
            find_condition(d, "Available"),
            "Available",
            true,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            &time,
            false,
        )
    } else {
        condition(
            find_condition(d, "Available"),
            "Available",
            false,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            &time,
            false,
        )
    };
    let mut status = json!({"observedGeneration": generation});
    count(&mut status, "replicas", counts.replicas);
    count(&mut status, "updatedReplicas", counts.updated);
    count(&mut status, "readyReplicas", counts.ready);
    count(&mut status, "availableReplicas", available);
    count(
        &mut status,
        "unavailableReplicas",
        (counts.wanted_pods as usize).saturating_sub(available),
    );
    // Pods are deleted at once here, so none is ever terminating; the field is there all
    // the same, as kube-controller-manager writes it (zero included).
    status["terminatingReplicas"] = json!(0);
    status["conditions"] = json!([available_condition, progressing]);
    (status, next_check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_unavailable_reads_ints_and_percentages() {
        let d = |v: Value| json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": v}}}});
        assert_eq!(max_unavailable(&d(json!("25%")), 4), 1);
        assert_eq!(max_unavailable(&d(json!("25%")), 3), 0);
        assert_eq!(max_unavailable(&d(json!(2)), 3), 2);
    }
}
