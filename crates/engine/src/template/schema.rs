//! Type checks for the built-in kinds we deploy.
//!
//! A template or a patch that leaves `replicas: "three"` or a container without a name would
//! only fail at deploy time, far from the edit that caused it. Deserialising each built-in
//! object into its `k8s-openapi` type catches such mistakes at save time, naming the field.
//! Unknown fields are let through here, so that every saved version still reads;
//! [`tripline_validation::check_fields`] refuses them before a save. Kinds this table does not
//! list (custom resources) are let through too.

use k8s_openapi::api::{apps, autoscaling, batch, core, networking, policy, rbac};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ResourceId;

/// Checks `value` against the Kubernetes type for its group and kind, if we know it.
pub(crate) fn check_schema(id: &ResourceId, value: &Value) -> Result<(), String> {
    check_types(id, value)?;
    if let Some((path, spec)) = pod_spec(id, value) {
        check_containers(&path, spec)?;
    }
    Ok(())
}

fn check_types(id: &ResourceId, value: &Value) -> Result<(), String> {
    match (id.group(), id.kind.as_str()) {
        ("apps", "Deployment") => check::<apps::v1::Deployment>(value),
        ("apps", "StatefulSet") => check::<apps::v1::StatefulSet>(value),
        ("apps", "DaemonSet") => check::<apps::v1::DaemonSet>(value),
        ("apps", "ReplicaSet") => check::<apps::v1::ReplicaSet>(value),
        ("batch", "Job") => check::<batch::v1::Job>(value),
        ("batch", "CronJob") => check::<batch::v1::CronJob>(value),
        ("", "Pod") => check::<core::v1::Pod>(value),
        ("", "Service") => check::<core::v1::Service>(value),
        ("", "ConfigMap") => check::<core::v1::ConfigMap>(value),
        ("", "Secret") => check::<core::v1::Secret>(value),
        ("", "ServiceAccount") => check::<core::v1::ServiceAccount>(value),
        ("", "Namespace") => check::<core::v1::Namespace>(value),
        ("", "PersistentVolumeClaim") => check::<core::v1::PersistentVolumeClaim>(value),
        ("networking.k8s.io", "Ingress") => check::<networking::v1::Ingress>(value),
        ("networking.k8s.io", "NetworkPolicy") => check::<networking::v1::NetworkPolicy>(value),
        ("autoscaling", "HorizontalPodAutoscaler") if id.api_version == "autoscaling/v2" => {
            check::<autoscaling::v2::HorizontalPodAutoscaler>(value)
        }
        ("policy", "PodDisruptionBudget") => check::<policy::v1::PodDisruptionBudget>(value),
        ("rbac.authorization.k8s.io", "Role") => check::<rbac::v1::Role>(value),
        ("rbac.authorization.k8s.io", "RoleBinding") => check::<rbac::v1::RoleBinding>(value),
        ("rbac.authorization.k8s.io", "ClusterRole") => check::<rbac::v1::ClusterRole>(value),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            check::<rbac::v1::ClusterRoleBinding>(value)
        }
        _ => Ok(()),
    }
}

fn check<T: DeserializeOwned>(value: &Value) -> Result<(), String> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(_) => Ok(()),
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner().to_string();
            if path == "." {
                Err(inner)
            } else {
                Err(format!("{path}: {inner}"))
            }
        }
    }
}

/// Where the pod spec of a built-in workload is, with its path for messages.
fn pod_spec<'a>(id: &ResourceId, value: &'a Value) -> Option<(String, &'a Value)> {
    let path: &[&str] = match (id.group(), id.kind.as_str()) {
        ("apps" | "extensions", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job")
        | ("", "ReplicationController" | "PodTemplate") => &["spec", "template", "spec"],
        ("batch", "CronJob") => &["spec", "jobTemplate", "spec", "template", "spec"],
        ("", "Pod") => &["spec"],
        _ => return None,
    };
    let path: &[&str] = if id.kind == "PodTemplate" {
        &["template", "spec"]
    } else {
        path
    };
    let spec = path.iter().try_fold(value, |v, key| v.get(key))?;
    Some((path.join("."), spec))
}

/// The API server requires a name and an image for every container; k8s-openapi's types
/// default missing strings, so this is checked by hand.
fn check_containers(path: &str, spec: &Value) -> Result<(), String> {
    for list in ["initContainers", "containers"] {
        let Some(Value::Array(containers)) = spec.get(list) else {
            continue;
        };
        for (index, container) in containers.iter().enumerate() {
            let at = format!("{path}.{list}[{index}]");
            for field in ["name", "image"] {
                match container.get(field) {
                    Some(Value::String(s)) if !s.trim().is_empty() => {}
                    _ => return Err(format!("{at}.{field} is required")),
                }
            }
        }
    }
    Ok(())
}
