//! StatefulSets: pods `<name>-0` … `<name>-(n-1)`, created in order, each after the one
//! before is ready (`OrderedReady`; `Parallel` creates them together). A template change is
//! rolled out from the highest ordinal down, one pod at a time, and the status carries
//! `currentRevision`/`updateRevision` as `kubectl rollout status` expects.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    Controller, Key, count, create_pod, delete_pod, is_ready, owned_pods, template_hash,
    with_labels, write_status,
};
use crate::objects::meta_str;
use crate::resources;
use crate::status::ApiResult;

const REVISION_LABEL: &str = "controller-revision-hash";

fn pod_revision(pod: &Value) -> &str {
    pod.pointer("/metadata/labels")
        .and_then(|l| l.get(REVISION_LABEL))
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl Controller {
    pub(super) fn stateful_set(&mut self, k: &Key) -> ApiResult<()> {
        let def = resources::known("apps/v1", "StatefulSet");
        self.store.write(false, |txn| {
            let Some(set) = txn.get(def, &k.0, &k.1) else {
                return Ok(());
            };
            let uid = meta_str(&set, "uid").unwrap_or_default().to_owned();
            let desired = set
                .pointer("/spec/replicas")
                .and_then(Value::as_u64)
                .unwrap_or(1) as usize;
            let parallel = set.pointer("/spec/podManagementPolicy") == Some(&json!("Parallel"));
            let template = set.pointer("/spec/template").cloned().unwrap_or(json!({}));
            let revision = format!("{}-{}", k.1, template_hash(&template));
            let prefix = format!("{}-", k.1);
            let mut pods: BTreeMap<usize, std::sync::Arc<Value>> = owned_pods(txn, &k.0, &uid)
                .into_iter()
                .filter_map(|p| {
                    let ordinal = meta_str(&p, "name")?.strip_prefix(&prefix)?.parse().ok()?;
                    Some((ordinal, p))
                })
                .collect();

            // Scale down from the top, one pod at a time.
            if let Some((&ordinal, pod)) = pods.iter().next_back()
                && ordinal >= desired
            {
                delete_pod(txn, def, &set, pod)?;
                pods.remove(&ordinal);
            } else {
                let mut all_ready = true;
                for ordinal in 0..desired {
                    match pods.get(&ordinal) {
                        None => {
                            let name = format!("{}-{ordinal}", k.1);
                            let index = ordinal.to_string();
                            let labels = [
                                (REVISION_LABEL, revision.as_str()),
                                ("statefulset.kubernetes.io/pod-name", name.as_str()),
                                ("apps.kubernetes.io/pod-index", index.as_str()),
                            ];
                            let pod_template = with_labels(template.clone(), &labels);
                            let mut extra = vec![("hostname", json!(name))];
                            if let Some(service) = set
                                .pointer("/spec/serviceName")
                                .filter(|s| s.as_str().is_some_and(|s| !s.is_empty()))
                            {
                                extra.push(("subdomain", service.clone()));
                            }
                            let pod = create_pod(txn, def, &set, &name, &pod_template, &extra)?;
                            pods.insert(ordinal, pod);
                            all_ready = false;
                            if !parallel {
                                break;
                            }
                        }
                        Some(pod) if !is_ready(pod) => {
                            all_ready = false;
                            if !parallel {
                                break;
                            }
                        }
                        Some(_) => {}
                    }
                }
                // Roll the template out from the highest ordinal, once everything is up.
                if all_ready
                    && let Some((&ordinal, pod)) =
                        pods.iter().rev().find(|(_, p)| pod_revision(p) != revision)
                {
                    delete_pod(txn, def, &set, pod)?;
                    pods.remove(&ordinal);
                }
            }

            let ready = pods.values().filter(|p| is_ready(p)).count();
            let updated = pods
                .values()
                .filter(|p| pod_revision(p) == revision)
                .count();
            let previous_current = set
                .pointer("/status/currentRevision")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let done = updated == desired && pods.len() == desired && ready == desired;
            let current_revision = match previous_current {
                Some(current) if !done => current,
                _ => revision.clone(),
            };
            let current = pods
                .values()
                .filter(|p| pod_revision(p) == current_revision)
                .count();
            let mut status = json!({"replicas": pods.len()});
            if let Some(generation) = set.pointer("/metadata/generation") {
                status["observedGeneration"] = generation.clone();
            }
            count(&mut status, "readyReplicas", ready);
            count(&mut status, "currentReplicas", current);
            count(&mut status, "updatedReplicas", updated);
            status["availableReplicas"] = json!(ready);
            status["currentRevision"] = json!(current_revision);
            status["updateRevision"] = json!(revision);
            status["collisionCount"] = json!(0);
            write_status(txn, def, &set, status)?;
            Ok(())
        })
    }
}
