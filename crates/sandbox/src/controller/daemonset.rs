//! DaemonSets on the sandbox's single node: one pod, replaced when the template changes.

use serde_json::{Value, json};

use super::{
    Controller, Key, NODE_NAME, create_pod, delete_pod, is_ready, owned_pods, template_hash,
    with_labels, write_status,
};
use crate::objects::{meta_str, random_suffix};
use crate::resources;
use crate::status::ApiResult;

const HASH_LABEL: &str = "controller-revision-hash";

impl Controller {
    pub(super) fn daemon_set(&mut self, k: &Key) -> ApiResult<()> {
        let def = resources::known("apps/v1", "DaemonSet");
        self.store.write(false, |txn| {
            let Some(set) = txn.get(def, &k.0, &k.1) else {
                return Ok(());
            };
            let uid = meta_str(&set, "uid").unwrap_or_default().to_owned();
            let template = set.pointer("/spec/template").cloned().unwrap_or(json!({}));
            let hash = template_hash(&template);
            let generation = set
                .pointer("/metadata/generation")
                .cloned()
                .unwrap_or(json!(1));
            let is_current = |p: &Value| {
                p.pointer("/metadata/labels")
                    .and_then(|l| l.get(HASH_LABEL))
                    .and_then(Value::as_str)
                    == Some(hash.as_str())
            };
            let mut pods = owned_pods(txn, &k.0, &uid);
            // One pod per node, and the node is one: extra or outdated pods go, one at a time.
            if pods.len() > 1 {
                let extra = pods.pop().expect("more than one");
                delete_pod(txn, def, &set, &extra)?;
            } else if let Some(old) = pods.first().filter(|p| !is_current(p)).cloned() {
                delete_pod(txn, def, &set, &old)?;
                pods.clear();
            } else if pods.is_empty() {
                let generation_label = generation.to_string();
                let labels = [
                    (HASH_LABEL, hash.as_str()),
                    ("pod-template-generation", generation_label.as_str()),
                ];
                let pod_template = with_labels(template.clone(), &labels);
                let name = format!("{}-{}", k.1, random_suffix());
                let pod = create_pod(
                    txn,
                    def,
                    &set,
                    &name,
                    &pod_template,
                    &[("nodeName", json!(NODE_NAME))],
                )?;
                pods.push(pod);
            }
            let ready = pods.iter().filter(|p| is_ready(p)).count();
            let updated = pods.iter().filter(|p| is_current(p)).count();
            let mut status = json!({
                "currentNumberScheduled": pods.len(),
                "desiredNumberScheduled": 1,
                "numberMisscheduled": 0,
                "numberReady": ready,
                "observedGeneration": generation,
            });
            if updated > 0 {
                status["updatedNumberScheduled"] = json!(updated);
            }
            if ready > 0 {
                status["numberAvailable"] = json!(ready);
            } else {
                status["numberUnavailable"] = json!(1);
            }
            write_status(txn, def, &set, status)?;
            Ok(())
        })
    }
}
