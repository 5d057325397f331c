//! Jobs: pods until `completions` have succeeded (pods of a Job run to completion after the
//! rollout delay), then the `Complete` condition.

use serde_json::{Value, json};

use super::events::{self, Severity};
use super::{Controller, Key, create_pod, find_condition, owned_pods, phase, write_status};
use crate::objects::{self, meta_str, random_suffix};
use crate::resources;
use crate::status::ApiResult;

impl Controller {
    pub(super) fn job(&mut self, k: &Key) -> ApiResult<()> {
        let def = resources::known("batch/v1", "Job");
        self.store.write(false, |txn| {
            let Some(job) = txn.get(def, &k.0, &k.1) else {
                return Ok(());
            };
            if find_condition(&job, "Complete").is_some_and(|c| c["status"] == "True") {
                return Ok(());
            }
            let uid = meta_str(&job, "uid").unwrap_or_default().to_owned();
            let completions = job
                .pointer("/spec/completions")
                .and_then(Value::as_u64)
                .unwrap_or(1) as usize;
            let parallelism = job
                .pointer("/spec/parallelism")
                .and_then(Value::as_u64)
                .unwrap_or(1) as usize;
            let suspended = job.pointer("/spec/suspend") == Some(&json!(true));
            let mut pods = owned_pods(txn, &k.0, &uid);
            let succeeded = pods.iter().filter(|p| phase(p) == "Succeeded").count();
            let failed = pods.iter().filter(|p| phase(p) == "Failed").count();
            let mut active = pods
                .iter()
                .filter(|p| !matches!(phase(p), "Succeeded" | "Failed"))
                .count();
            let wanted = parallelism.min(completions.saturating_sub(succeeded));
            if !suspended && active < wanted {
                let template = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
                for _ in 0..wanted - active {
                    let name = format!("{}-{}", k.1, random_suffix());
                    pods.push(create_pod(txn, def, &job, &name, &template, &[])?);
                }
                active = wanted;
            }
            let now = objects::now();
            let mut status = job
                .get("status")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or(json!({}));
            if status.get("startTime").is_none() && !suspended {
                status["startTime"] = json!(now);
            }
            let map = status.as_object_mut().expect("an object");
            for key in ["active", "succeeded", "failed"] {
                map.shift_remove(key);
            }
            if active > 0 {
                map.insert("active".into(), json!(active));
            }
            if succeeded > 0 {
                map.insert("succeeded".into(), json!(succeeded));
            }
            if failed > 0 {
                map.insert("failed".into(), json!(failed));
            }
            map.insert("ready".into(), json!(0));
            map.insert("terminating".into(), json!(0));
            map.insert("uncountedTerminatedPods".into(), json!({}));
            if succeeded >= completions {
                events::record(
                    txn,
                    def,
                    &job,
                    Severity::Normal,
                    "Completed",
                    "Job completed".into(),
                    events::JOB_CONTROLLER,
                )?;
                let map = status.as_object_mut().expect("an object");
                map.shift_remove("active");
                map.insert("completionTime".into(), json!(now));
                let condition = |kind: &str| {
                    json!({"type": kind, "status": "True", "lastProbeTime": now,
                           "lastTransitionTime": now, "reason": "CompletionsReached",
                           "message": "Reached expected number of succeeded pods"})
                };
                map.insert(
                    "conditions".into(),
                    json!([condition("SuccessCriteriaMet"), condition("Complete")]),
                );
            }
            write_status(txn, def, &job, status)?;
            Ok(())
        })
    }
}
