//! The pod lifecycle a kubelet would drive, simulated.
//!
//! A new pod is scheduled at once (`PodScheduled`, `nodeName: sandbox-node`, containers
//! waiting in `ContainerCreating`); after the rollout delay its containers start: `Running`
//! and Ready, or — for pods that run to completion (`restartPolicy` other than `Always`) —
//! `Succeeded`. A container whose image cannot be pulled (listed in `missing_images`, or
//! from a registry under `.invalid`) waits in `ImagePullBackOff` forever.

use serde_json::{Value, json};
use tokio::time::Instant;

use super::events::{self, Severity};
use super::{Controller, Key, NODE_NAME, Work, find_condition, phase};
use crate::objects::{self, meta_str};
use crate::resources;
use crate::status::ApiResult;
use crate::store::Txn;

/// The registry host of an image reference, if it names one (`ghcr.io`, `localhost:5000`).
fn registry_host(image: &str) -> Option<&str> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost")
        .then(|| first.split(':').next().unwrap_or(first))
}

/// `nginx` → `nginx:latest`, `docker.io/library/nginx:1` → `nginx:1`: one spelling per
/// Docker Hub image, so configured names match however a manifest writes them.
fn normalize(image: &str) -> String {
    let mut name = image;
    for prefix in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest;
        }
    }
    let name = name.strip_prefix("library/").unwrap_or(name);
    let last = name.rsplit('/').next().unwrap_or(name);
    if name.contains('@') || last.contains(':') {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}

/// Whether `image` cannot be pulled under `missing`.
pub(crate) fn unpullable(image: &str, missing: &[String]) -> bool {
    if registry_host(image).is_some_and(|h| h.ends_with(".invalid")) {
        return true;
    }
    let normalized = normalize(image);
    missing
        .iter()
        .any(|m| m == image || normalize(m) == normalized)
}

fn image_id(image: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(image.as_bytes()));
    let repo = normalize(image);
    let repo = repo.split(['@', ':']).next().unwrap_or(&repo).to_owned();
    format!("docker.io/{repo}@sha256:{digest}")
}

fn containers(pod: &Value) -> Vec<(String, String)> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        c.get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        c.get("image")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn waiting(name: &str, image: &str, reason: &str, message: Option<String>) -> Value {
    let mut state = json!({"reason": reason});
    if let Some(message) = message {
        state["message"] = json!(message);
    }
    json!({
        "name": name,
        "image": image,
        "imageID": "",
        "ready": false,
        "started": false,
        "restartCount": 0,
        "state": {"waiting": state},
        "lastState": {},
    })
}

fn pod_condition(kind: &str, status: bool, reason: Option<&str>, now: &str) -> Value {
    let mut c = json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": now,
    });
    if let Some(reason) = reason {
        c["reason"] = json!(reason);
    }
    c
}

/// Keeps a condition's transition time when its status did not change.
fn keep_times(previous: &Value, mut conditions: Vec<Value>) -> Vec<Value> {
    for c in conditions.iter_mut() {
        if let Some(kind) = c["type"].as_str()
            && let Some(old) = find_condition(previous, kind)
            && old["status"] == c["status"]
        {
            c["lastTransitionTime"] = old["lastTransitionTime"].clone();
        }
    }
    conditions
}

impl Controller {
    fn pod_ip(&mut self) -> String {
        let n = self.next_pod_ip % (250 * 256);
        self.next_pod_ip += 1;
        format!("10.244.{}.{}", n / 250, n % 250 + 2)
    }

    /// Schedules new pods and (re)arms start timers.
    pub(super) fn pod(&mut self, k: &Key) -> ApiResult<()> {
        let def = resources::known("v1", "Pod");
        let Some(pod) = self.store.read(|txn| txn.get(def, &k.0, &k.1)) else {
            return Ok(());
        };
        if matches!(phase(&pod), "Succeeded" | "Failed") {
            return Ok(());
        }
        let uid = meta_str(&pod, "uid").unwrap_or_default().to_owned();
        let scheduled = find_condition(&pod, "PodScheduled").is_some();
        if !scheduled {
            let ip = self.pod_ip();
            let delay = self.settings.rollout_delay;
            let start_now = delay.is_zero();
            let missing = self.settings.missing_images.clone();
            self.store.write(false, |txn| {
                let Some(current) = txn.get(def, &k.0, &k.1) else {
                    return Ok(());
                };
                let mut new = (*current).clone();
                new["spec"]["nodeName"] = json!(NODE_NAME);
                new["status"] = scheduled_status(&current, &ip);
                if start_now {
                    new["status"] = started_status(&new, &missing);
                }
                let updated =
                    objects::update(txn, def, &current, new, &objects::Managed::Untracked)?;
                scheduled_events(txn, &updated)?;
                if start_now {
                    started_events(txn, &updated, &missing)?;
                }
                Ok(())
            })?;
            if !start_now {
                self.starting.insert(uid.clone());
                self.schedule(Instant::now() + delay, Work::PodStart(k.clone(), uid));
            }
            return Ok(());
        }
        if creating(&pod) && !self.starting.contains(&uid) {
            // After a restart: the timer was lost with the old process.
            self.starting.insert(uid.clone());
            self.schedule(
                Instant::now() + self.settings.rollout_delay,
                Work::PodStart(k.clone(), uid),
            );
        }
        Ok(())
    }

    /// The rollout delay has passed: start the pod's containers.
    pub(super) fn start_pod(&mut self, k: &Key, uid: &str) -> ApiResult<()> {
        self.starting.remove(uid);
        let def = resources::known("v1", "Pod");
        let missing = self.settings.missing_images.clone();
        self.store.write(false, |txn| {
            let Some(current) = txn.get(def, &k.0, &k.1) else {
                return Ok(());
            };
            if meta_str(&current, "uid") != Some(uid) || !creating(&current) {
                return Ok(());
            }
            let mut new = (*current).clone();
            new["status"] = started_status(&current, &missing);
            let updated = objects::update(txn, def, &current, new, &objects::Managed::Untracked)?;
            started_events(txn, &updated, &missing)
        })
    }
}

/// Whether a pod's containers are still being created (waiting for the rollout delay).
fn creating(pod: &Value) -> bool {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.pointer("/state/waiting/reason") == Some(&json!("ContainerCreating")))
        })
}

fn scheduled_events(txn: &mut Txn<'_>, pod: &Value) -> ApiResult<()> {
    let message = format!(
        "Successfully assigned {}/{} to {NODE_NAME}",
        meta_str(pod, "namespace").unwrap_or_default(),
        meta_str(pod, "name").unwrap_or_default()
    );
    let def = resources::known("v1", "Pod");
    events::record(
        txn,
        def,
        pod,
        Severity::Normal,
        "Scheduled",
        message,
        events::SCHEDULER,
    )
}

/// What a kubelet reports when it starts a pod's containers, or fails to pull an image.
fn started_events(txn: &mut Txn<'_>, pod: &Value, missing: &[String]) -> ApiResult<()> {
    let def = resources::known("v1", "Pod");
    for (name, image) in containers(pod) {
        let mut say = |severity, reason: &str, message: String| {
            events::record(txn, def, pod, severity, reason, message, events::KUBELET)
        };
        if unpullable(&image, missing) {
            say(
                Severity::Normal,
                "Pulling",
                format!("Pulling image {image:?}"),
            )?;
            say(
                Severity::Warning,
                "Failed",
                format!(
                    "Failed to pull image {image:?}: the sandbox cluster cannot pull it (its \
                     registry is under .invalid, or the sandbox was started with it in its \
                     missing images)"
                ),
            )?;
            say(
                Severity::Normal,
                "BackOff",
                format!("Back-off pulling image {image:?}"),
            )?;
        } else {
            say(
                Severity::Normal,
                "Pulled",
                format!("Container image {image:?} already present on machine"),
            )?;
            say(
                Severity::Normal,
                "Created",
                format!("Created container: {name}"),
            )?;
            say(
                Severity::Normal,
                "Started",
                format!("Started container {name}"),
            )?;
        }
    }
    Ok(())
}

/// Scheduled, containers being created.
fn scheduled_status(pod: &Value, ip: &str) -> Value {
    let now = objects::now();
    let statuses: Vec<Value> = containers(pod)
        .iter()
        .map(|(name, image)| waiting(name, image, "ContainerCreating", None))
        .collect();
    json!({
        "phase": "Pending",
        "conditions": [
            pod_condition("PodReadyToStartContainers", false, None, &now),
            pod_condition("Initialized", true, None, &now),
            pod_condition("Ready", false, Some("ContainersNotReady"), &now),
            pod_condition("ContainersReady", false, Some("ContainersNotReady"), &now),
            pod_condition("PodScheduled", true, None, &now),
        ],
        "hostIP": "10.0.0.10",
        "hostIPs": [{"ip": "10.0.0.10"}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": now,
        "containerStatuses": statuses,
        "qosClass": pod.pointer("/status/qosClass").cloned().unwrap_or(json!("BestEffort")),
    })
}

/// After the delay: running, completed, or stuck pulling.
fn started_status(pod: &Value, missing: &[String]) -> Value {
    let now = objects::now();
    let mut status = pod.get("status").cloned().unwrap_or(json!({}));
    let list = containers(pod);
    let stuck: Vec<&(String, String)> = list
        .iter()
        .filter(|(_, i)| unpullable(i, missing))
        .collect();
    let runs_to_completion = pod
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .is_some_and(|p| p != "Always");
    let container_id = || format!("containerd://{}", uuid::Uuid::new_v4().simple());
    let (phase, ready, statuses): (&str, bool, Vec<Value>) = if !stuck.is_empty() {
        let statuses = list
            .iter()
            .map(|(name, image)| {
                if unpullable(image, missing) {
                    waiting(
                        name,
                        image,
                        "ImagePullBackOff",
                        Some(format!("Back-off pulling image {image:?}")),
                    )
                } else {
                    json!({
                        "name": name, "image": image, "imageID": image_id(image),
                        "containerID": container_id(), "ready": true, "started": true,
                        "restartCount": 0, "state": {"running": {"startedAt": now}}, "lastState": {},
                    })
                }
            })
            .collect();
        ("Pending", false, statuses)
    } else if runs_to_completion {
        let statuses = list
            .iter()
            .map(|(name, image)| {
                json!({
                    "name": name, "image": image, "imageID": image_id(image),
                    "containerID": container_id(), "ready": false, "started": false,
                    "restartCount": 0, "lastState": {},
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                             "startedAt": now, "finishedAt": now}},
                })
            })
            .collect();
        ("Succeeded", false, statuses)
    } else {
        let statuses = list
            .iter()
            .map(|(name, image)| {
                json!({
                    "name": name, "image": image, "imageID": image_id(image),
                    "containerID": container_id(), "ready": true, "started": true,
                    "restartCount": 0, "state": {"running": {"startedAt": now}}, "lastState": {},
                })
            })
            .collect();
        ("Running", true, statuses)
    };
    let not_ready_reason = if phase == "Succeeded" {
        "PodCompleted"
    } else {
        "ContainersNotReady"
    };
    let reason = (!ready).then_some(not_ready_reason);
    let conditions = vec![
        pod_condition(
            "PodReadyToStartContainers",
            phase != "Succeeded",
            None,
            &now,
        ),
        pod_condition("Initialized", true, None, &now),
        pod_condition("Ready", ready, reason, &now),
        pod_condition("ContainersReady", ready, reason, &now),
        pod_condition("PodScheduled", true, None, &now),
    ];
    status["phase"] = json!(phase);
    status["conditions"] = json!(keep_times(pod, conditions));
    status["containerStatuses"] = json!(statuses);
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpullable_images() {
        let missing = vec!["nginx:1.99".to_owned(), "ghcr.io/acme/app:v2".to_owned()];
        let cases = [
            ("registry.invalid/x:1", true),
            ("foo.invalid:5000/x:1", true),
            ("nginx:1.99", true),
            ("docker.io/library/nginx:1.99", true),
            ("nginx:1.27", false),
            ("ghcr.io/acme/app:v2", true),
            ("ghcr.io/acme/app:v3", false),
            ("invalid/x", false),
        ];
        for (image, expected) in cases {
            assert_eq!(unpullable(image, &missing), expected, "{image}");
        }
    }

    #[test]
    fn started_pods_are_ready_or_stuck() {
        let pod = json!({"spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "nginx:1"}]},
                         "status": {"phase": "Pending"}});
        let running = started_status(&pod, &[]);
        assert_eq!(running["phase"], "Running");
        assert!(super::super::is_ready(&json!({"status": running})));
        let stuck = started_status(&pod, &["nginx:1".to_owned()]);
        assert_eq!(stuck["phase"], "Pending");
        assert_eq!(
            stuck["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ImagePullBackOff"
        );
        let mut job_pod = pod.clone();
        job_pod["spec"]["restartPolicy"] = json!("Never");
        assert_eq!(started_status(&job_pod, &[])["phase"], "Succeeded");
    }
}
