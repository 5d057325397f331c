//! What an application's workloads look like in the cluster right now: replicas desired,
//! updated, ready and available, each pod's phase, and what that adds up to ([`Health`] per
//! workload, [`RolloutState`] per application). Read on demand (the desktop app asks after
//! each deploy event; `tripline app status`); nothing here writes.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::APP_LABEL;
use crate::error::Code;

/// A workload of the application, as the cluster reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    /// Deployment, StatefulSet or DaemonSet.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Replicas asked for (for a DaemonSet: nodes it should run on).
    pub desired: i32,
    /// Replicas running the newest pod template.
    pub updated: i32,
    /// Replicas ready.
    pub ready: i32,
    /// Replicas available.
    pub available: i32,
    /// The containers' images, in template order.
    pub images: Vec<String>,
    /// Its pods, by name.
    pub pods: Vec<PodState>,
    /// Where it stands, by [`Health::of`].
    pub health: Health,
}

/// Where a workload stands. The order is worst first: an application's rollout is as well
/// as its worst workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Replicas are wanted and none is available.
    Down,
    /// A pod cannot start (an image that cannot be pulled, a crash loop, a bad config).
    Degraded,
    /// A rollout is under way: replicas not yet updated or ready.
    Progressing,
    /// Every replica wanted is updated and ready.
    Ok,
}

/// The kubelet's waiting reasons that mean a container will not start without a change (a
/// new image, a fixed config, a program that stops crashing). Other reasons
/// (`ContainerCreating`, `PodInitializing`) are a start under way.
pub(super) const STUCK: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
    "RegistryUnavailable",
    "SignatureValidationFailed",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "PreStartHookError",
    "PostStartHookError",
];

/// Whether a [`PodState::waiting`] text starts with a reason that means the container is
/// stuck (the reason is the text up to the first `:` or space).
fn is_stuck(waiting: &str) -> bool {
    let reason = waiting.split([':', ' ']).next().unwrap_or("");
    STUCK.contains(&reason)
}

impl Health {
    /// The health of `workload` from its counts and its pods.
    pub fn of(workload: &Workload) -> Health {
        let stuck = |pod: &PodState| pod.waiting.as_deref().is_some_and(is_stuck);
        if workload.desired > 0 && workload.available == 0 {
            Health::Down
        } else if workload.pods.iter().any(stuck) {
            Health::Degraded
        } else if workload.ready < workload.desired
            || workload.updated < workload.desired
            || workload.pods.iter().any(|pod| !pod.ready)
        {
            Health::Progressing
        } else {
            Health::Ok
        }
    }

    /// In words, for a person.
    pub fn label(self) -> &'static str {
        match self {
            Health::Down => "Unavailable",
            Health::Degraded => "A pod cannot start",
            Health::Progressing => "Updating",
            Health::Ok => "Healthy",
        }
    }
}

/// An application's rollout over its workloads: the worst health, and replicas ready of
/// desired, summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct RolloutState {
    /// The worst of the workloads' health.
    pub health: Health,
    /// Replicas ready, over all workloads.
    pub ready: i32,
    /// Replicas desired, over all workloads.
    pub desired: i32,
}

impl RolloutState {
    /// The rollout of these workloads; `None` when there are none.
    pub fn of(workloads: &[Workload]) -> Option<RolloutState> {
        let health = workloads.iter().map(|w| w.health).min()?;
        Some(RolloutState {
            health,
            ready: workloads.iter().map(|w| w.ready).sum(),
            desired: workloads.iter().map(|w| w.desired).sum(),
        })
    }
}

/// One pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct PodState {
    /// Its name.
    pub name: String,
    /// Pending, Running, Succeeded, Failed or Unknown.
    pub phase: String,
    /// True when every container is ready.
    pub ready: bool,
    /// Container restarts, summed.
    pub restarts: i32,
    /// Why a container waits (`ImagePullBackOff: …`), when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

/// The workloads of `app` as its cluster reports them now, with an error a person can act on
/// (what the desktop app and `tripline app status` show).
pub async fn of_app(
    clusters: &crate::cluster::Clusters,
    app: &crate::app::Application,
) -> Result<Vec<Workload>, crate::error::ErrorBody> {
    let client = clusters
        .client(&app.cluster)
        .await
        .map_err(|e| crate::error::ErrorBody::from(&e))?;
    workloads(&client, &app.name, &app.namespace)
        .await
        .map_err(|e| {
            crate::error::ErrorBody::new(
                Code::ClusterUnreachable,
                format!(
                    "cannot read the workloads of {} from the {} cluster: {e}",
                    app.name, app.cluster
                ),
            )
        })
}

/// Lists the application's workloads in `namespace` (found by the `tripline.dev/app` label
/// the deployer puts on everything it applies) with their pods.
pub async fn workloads(
    client: &kube::Client,
    app: &str,
    namespace: &str,
) -> Result<Vec<Workload>, kube::Error> {
    let ours = ListParams::default().labels(&format!("{APP_LABEL}={app}"));
    let mut found = Vec::new();
    for d in Api::<Deployment>::namespaced(client.clone(), namespace)
        .list(&ours)
        .await?
    {
        let spec = d.spec.unwrap_or_default();
        let status = d.status.unwrap_or_default();
        found.push((
            Workload {
                kind: "Deployment".into(),
                name: d.metadata.name.unwrap_or_default(),
                namespace: namespace.to_owned(),
                desired: spec.replicas.unwrap_or(1),
                updated: status.updated_replicas.unwrap_or(0),
                ready: status.ready_replicas.unwrap_or(0),
                available: status.available_replicas.unwrap_or(0),
                images: images(spec.template.spec.as_ref()),
                pods: Vec::new(),
                health: Health::Ok,
            },
            Some(spec.selector),
        ));
    }
    for s in Api::<StatefulSet>::namespaced(client.clone(), namespace)
        .list(&ours)
        .await?
    {
        let spec = s.spec.unwrap_or_default();
        let status = s.status.unwrap_or_default();
        found.push((
            Workload {
                kind: "StatefulSet".into(),
                name: s.metadata.name.unwrap_or_default(),
                namespace: namespace.to_owned(),
                desired: spec.replicas.unwrap_or(1),
                updated: status.updated_replicas.unwrap_or(0),
                ready: status.ready_replicas.unwrap_or(0),
                available: status.available_replicas.unwrap_or(0),
                images: images(spec.template.spec.as_ref()),
                pods: Vec::new(),
                health: Health::Ok,
            },
            Some(spec.selector),
        ));
    }
    for d in Api::<DaemonSet>::namespaced(client.clone(), namespace)
        .list(&ours)
        .await?
    {
        let spec = d.spec.unwrap_or_default();
        let status = d.status.unwrap_or_default();
        found.push((
            Workload {
                kind: "DaemonSet".into(),
                name: d.metadata.name.unwrap_or_default(),
                namespace: namespace.to_owned(),
                desired: status.desired_number_scheduled,
                updated: status.updated_number_scheduled.unwrap_or(0),
                ready: status.number_ready,
                available: status.number_available.unwrap_or(0),
                images: images(spec.template.spec.as_ref()),
                pods: Vec::new(),
                health: Health::Ok,
            },
            Some(spec.selector),
        ));
    }
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    for (workload, selector) in &mut found {
        let Some(selector) = selector.as_ref().and_then(selector_string) else {
            continue;
        };
        let mut list: Vec<PodState> = pods
            .list(&ListParams::default().labels(&selector))
            .await?
            .into_iter()
            .map(pod_state)
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        workload.pods = list;
    }
    for (workload, _) in &mut found {
        workload.health = Health::of(workload);
    }
    let mut workloads: Vec<Workload> = found.into_iter().map(|(w, _)| w).collect();
    workloads.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    Ok(workloads)
}

fn images(spec: Option<&PodSpec>) -> Vec<String> {
    spec.map(|s| {
        s.containers
            .iter()
            .filter_map(|c| c.image.clone())
            .collect()
    })
    .unwrap_or_default()
}

/// `matchLabels` as a label selector string; `None` for selectors we cannot express simply
/// (match expressions), whose pods are then not listed rather than listed wrongly.
pub(super) fn selector_string(selector: &LabelSelector) -> Option<String> {
    if selector
        .match_expressions
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        return None;
    }
    let labels: &BTreeMap<String, String> = selector.match_labels.as_ref()?;
    if labels.is_empty() {
        return None;
    }
    Some(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// A pod as the list shows it. Its `waiting` is the reason that matters most: a stuck
/// container's (init containers first, since the others wait on them), else the first
/// waiting container's.
fn pod_state(pod: Pod) -> PodState {
    let status = pod.status.unwrap_or_default();
    let init = status.init_container_statuses.unwrap_or_default();
    let containers = status.container_statuses.unwrap_or_default();
    let waiting: Vec<String> = init
        .iter()
        .map(|c| (c, true))
        .chain(containers.iter().map(|c| (c, false)))
        .filter_map(|(c, is_init)| {
            let waiting = c.state.as_ref()?.waiting.as_ref()?;
            let mut text = waiting.reason.clone().unwrap_or_else(|| "Waiting".into());
            if is_init {
                text.push_str(&format!(" (init container {})", c.name));
            }
            if let Some(message) = &waiting.message {
                text.push_str(": ");
                text.push_str(message);
            }
            Some(text)
        })
        .collect();
    let waiting = waiting
        .iter()
        .find(|w| is_stuck(w))
        .or(waiting.first())
        .cloned();
    PodState {
        name: pod.metadata.name.unwrap_or_default(),
        phase: status.phase.unwrap_or_else(|| "Unknown".into()),
        ready: !containers.is_empty() && containers.iter().all(|c| c.ready),
        restarts: init
            .iter()
            .chain(&containers)
            .map(|c| c.restart_count)
            .sum(),
        waiting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(
        desired: i32,
        updated: i32,
        ready: i32,
        available: i32,
        pods: &[(bool, Option<&str>)],
    ) -> Workload {
        let mut workload = Workload {
            kind: "Deployment".into(),
            name: "web".into(),
            namespace: "default".into(),
            desired,
            updated,
            ready,
            available,
            images: vec!["nginx:1.27".into()],
            pods: pods
                .iter()
                .enumerate()
                .map(|(i, (ready, waiting))| PodState {
                    name: format!("web-{i}"),
                    phase: "Running".into(),
                    ready: *ready,
                    restarts: 0,
                    waiting: waiting.map(str::to_owned),
                })
                .collect(),
            health: Health::Ok,
        };
        workload.health = Health::of(&workload);
        workload
    }

    /// Two replicas, one running and one whose container waits for `reason`.
    fn one_waiting(reason: &str) -> Workload {
        workload(2, 2, 1, 1, &[(true, None), (false, Some(reason))])
    }

    #[test]
    fn health_follows_counts_and_pods_worst_first() {
        let cases: &[(&str, Workload, Health)] = &[
            (
                "all updated and ready",
                workload(2, 2, 2, 2, &[(true, None), (true, None)]),
                Health::Ok,
            ),
            ("scaled to zero", workload(0, 0, 0, 0, &[]), Health::Ok),
            (
                "none available",
                workload(2, 0, 0, 0, &[(false, Some("ContainerCreating"))]),
                Health::Down,
            ),
            (
                "no replica available outranks a stuck pod",
                workload(1, 1, 0, 0, &[(false, Some("ImagePullBackOff"))]),
                Health::Down,
            ),
            (
                "an image that cannot be pulled",
                one_waiting("ImagePullBackOff: Back-off pulling image \"nginx:nope\""),
                Health::Degraded,
            ),
            (
                "a pull error",
                one_waiting("ErrImagePull: not found"),
                Health::Degraded,
            ),
            (
                "a crash loop",
                one_waiting("CrashLoopBackOff: back-off 5m0s restarting failed container"),
                Health::Degraded,
            ),
            (
                "a bad config",
                one_waiting("CreateContainerConfigError: secret \"x\" not found"),
                Health::Degraded,
            ),
            (
                "an invalid image name",
                one_waiting("InvalidImageName"),
                Health::Degraded,
            ),
            (
                "a stuck init container",
                one_waiting("CrashLoopBackOff (init container migrate): back-off"),
                Health::Degraded,
            ),
            (
                "not yet updated",
                workload(2, 1, 2, 2, &[(true, None), (true, None)]),
                Health::Progressing,
            ),
            (
                "a container being created",
                one_waiting("ContainerCreating"),
                Health::Progressing,
            ),
            (
                "waiting for init containers",
                one_waiting("PodInitializing"),
                Health::Progressing,
            ),
            (
                "a message that names a stuck reason does not make a starting pod stuck",
                one_waiting("ContainerCreating: was ImagePullBackOff before"),
                Health::Progressing,
            ),
        ];
        for (what, workload, expected) in cases {
            assert_eq!(workload.health, *expected, "{what}");
        }
    }

    #[test]
    fn a_pod_reports_its_stuck_init_container_before_waiting_main_containers() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1"},
            "status": {
                "phase": "Pending",
                "initContainerStatuses": [{
                    "name": "migrate", "image": "migrate:1", "imageID": "", "ready": false,
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s"}}
                }],
                "containerStatuses": [{
                    "name": "web", "image": "nginx:1.27", "imageID": "", "ready": false,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "PodInitializing"}}
                }]
            }
        }))
        .unwrap();
        let state = pod_state(pod);
        assert_eq!(
            state.waiting.as_deref(),
            Some("CrashLoopBackOff (init container migrate): back-off 1m20s")
        );
        assert_eq!(state.restarts, 4, "init containers' restarts count");
        assert!(!state.ready);
        let mut web = one_waiting("ContainerCreating");
        web.pods[1] = state;
        assert_eq!(Health::of(&web), Health::Degraded);

        let starting: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-2"},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "a", "image": "a", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ContainerCreating"}}},
                {"name": "b", "image": "b", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}}
            ]}
        }))
        .unwrap();
        assert_eq!(
            pod_state(starting).waiting.as_deref(),
            Some("ErrImagePull: not found"),
            "a stuck second container is not hidden behind a starting first one"
        );
    }

    #[test]
    fn a_rollout_is_its_worst_workload_with_replicas_summed() {
        assert_eq!(RolloutState::of(&[]), None, "no workloads, no rollout");
        let healthy = workload(2, 2, 2, 2, &[(true, None), (true, None)]);
        let updating = workload(3, 1, 1, 1, &[(true, None)]);
        let stuck = workload(1, 1, 0, 1, &[(false, Some("ErrImagePull"))]);
        assert_eq!(
            RolloutState::of(&[healthy.clone(), updating.clone()]),
            Some(RolloutState {
                health: Health::Progressing,
                ready: 3,
                desired: 5
            })
        );
        assert_eq!(
            RolloutState::of(&[stuck, healthy.clone(), updating]).map(|r| r.health),
            Some(Health::Degraded)
        );
        assert_eq!(
            RolloutState::of(&[healthy]).map(|r| r.health.label()),
            Some("Healthy")
        );
    }

    #[test]
    fn selectors_with_expressions_are_not_guessed() {
        let mut selector = LabelSelector {
            match_labels: Some([("app".to_owned(), "web".to_owned())].into()),
            ..LabelSelector::default()
        };
        assert_eq!(selector_string(&selector).as_deref(), Some("app=web"));
        selector.match_expressions = Some(vec![Default::default()]);
        assert_eq!(selector_string(&selector), None);
        assert_eq!(selector_string(&LabelSelector::default()), None);
    }
}
