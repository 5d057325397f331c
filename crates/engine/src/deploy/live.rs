//! What an application's workloads look like in the cluster right now: replicas desired,
//! updated, ready and available, and each pod's phase. Read on demand (the desktop app's
//! application view asks after each deploy event); nothing here writes.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::APP_LABEL;

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
fn selector_string(selector: &LabelSelector) -> Option<String> {
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

fn pod_state(pod: Pod) -> PodState {
    let status = pod.status.unwrap_or_default();
    let containers = status.container_statuses.unwrap_or_default();
    let waiting = containers.iter().find_map(|c| {
        let waiting = c.state.as_ref()?.waiting.as_ref()?;
        let reason = waiting.reason.clone().unwrap_or_else(|| "Waiting".into());
        Some(match &waiting.message {
            Some(message) => format!("{reason}: {message}"),
            None => reason,
        })
    });
    PodState {
        name: pod.metadata.name.unwrap_or_default(),
        phase: status.phase.unwrap_or_else(|| "Unknown".into()),
        ready: !containers.is_empty() && containers.iter().all(|c| c.ready),
        restarts: containers.iter().map(|c| c.restart_count).sum(),
        waiting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
