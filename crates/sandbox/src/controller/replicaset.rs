//! ReplicaSets: keep `spec.replicas` pods, report how many are ready.
//!
//! Scale-down removes pods that are not ready first, then the newest.

use serde_json::{Value, json};

use super::{
    Controller, Key, count, create_pod, delete_pod, is_available, is_ready, owned_pods,
    write_status,
};
use crate::objects::{meta_str, random_suffix};
use crate::resources;
use crate::status::ApiResult;

impl Controller {
    pub(super) fn replica_set(&mut self, k: &Key) -> ApiResult<()> {
        let def = resources::known("apps/v1", "ReplicaSet");
        let mut wake = None;
        let done = self.store.write(false, |txn| {
            let Some(rs) = txn.get(def, &k.0, &k.1) else {
                return Ok(());
            };
            let uid = meta_str(&rs, "uid").unwrap_or_default().to_owned();
            let want = rs
                .pointer("/spec/replicas")
                .and_then(Value::as_u64)
                .unwrap_or(1) as usize;
            let mut pods = owned_pods(txn, &k.0, &uid);
            if pods.len() < want {
                let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
                for _ in pods.len()..want {
                    let name = format!("{}-{}", k.1, random_suffix());
                    let pod = create_pod(txn, def, &rs, &name, &template, &[])?;
                    pods.push(pod);
                }
            } else if pods.len() > want {
                // Not ready first, then newest first.
                pods.sort_by_key(|p| {
                    (
                        is_ready(p),
                        std::cmp::Reverse(
                            meta_str(p, "creationTimestamp")
                                .unwrap_or_default()
                                .to_owned(),
                        ),
                    )
                });
                let excess = pods.len() - want;
                for pod in pods.drain(..excess) {
                    delete_pod(txn, def, &rs, &pod)?;
                }
            }
            let ready = pods.iter().filter(|p| is_ready(p)).count();
            let min_ready = rs
                .pointer("/spec/minReadySeconds")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let now = jiff::Timestamp::now();
            let available = pods
                .iter()
                .filter(|p| is_available(p, min_ready, now, &mut wake))
                .count();
            let mut status = json!({"replicas": pods.len()});
            count(&mut status, "fullyLabeledReplicas", pods.len());
            count(&mut status, "readyReplicas", ready);
            count(&mut status, "availableReplicas", available);
            status["terminatingReplicas"] = json!(0);
            if let Some(generation) = rs.pointer("/metadata/generation") {
                status["observedGeneration"] = generation.clone();
            }
            write_status(txn, def, &rs, status)?;
            Ok(())
        });
        // A pod that becomes available later (minReadySeconds) changes the status then.
        if let Some(at) = wake {
            self.schedule(super::instant_of(at), super::Work::ReplicaSet(k.clone()));
        }
        done
    }
}
