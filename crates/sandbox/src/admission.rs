//! What kube-apiserver's admission plugins and kube-controller-manager add around a write,
//! after the field manager has recorded it (so no client owns these fields):
//!
//! - **Pods**: the ServiceAccount admission plugin sets `serviceAccountName` (and its
//!   deprecated twin `serviceAccount`) and mounts the `kube-api-access-*` projected volume
//!   (token, `kube-root-ca.crt`, namespace) into every container unless
//!   `automountServiceAccountToken` is false; Priority sets `priority` and
//!   `preemptionPolicy`; DefaultTolerationSeconds tolerates `not-ready` and `unreachable`
//!   nodes for 300 s.
//! - **Namespaces**: the service-account and root-CA controllers create the `default`
//!   ServiceAccount and the `kube-root-ca.crt` ConfigMap in each new namespace. The sandbox
//!   speaks plain HTTP and has no certificate authority, so the bundle is empty.

use serde_json::{Map, Value, json};

use super::managed::Writer;
use super::objects::{self, Managed};
use super::resources;
use super::status::ApiResult;
use super::store::Txn;

/// Where the token volume is mounted.
const TOKEN_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

fn or_insert(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

/// The admission plugins' changes to a new Pod.
pub(crate) fn pod(object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    or_insert(spec, "serviceAccountName", json!("default"));
    let account = spec["serviceAccountName"].clone();
    or_insert(spec, "serviceAccount", account);
    or_insert(spec, "priority", json!(0));
    or_insert(spec, "preemptionPolicy", json!("PreemptLowerPriority"));

    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    if let Some(list) = tolerations.as_array_mut() {
        for key in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            let tolerated = list.iter().any(|t| {
                t.get("key").and_then(Value::as_str) == Some(key)
                    || (t.get("key").is_none() && t.get("operator") == Some(&json!("Exists")))
            });
            if !tolerated {
                list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
            }
        }
    }

    if spec.get("automountServiceAccountToken") == Some(&json!(false)) {
        return;
    }
    let already = spec
        .get("volumes")
        .and_then(Value::as_array)
        .is_some_and(|v| {
            v.iter().any(|volume| {
                volume
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.starts_with("kube-api-access-"))
            })
        });
    if already {
        return;
    }
    let name = format!("kube-api-access-{}", objects::random_suffix());
    let volume = json!({
        "name": name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ],
            "defaultMode": 420
        }
    });
    let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
    if let Some(list) = volumes.as_array_mut() {
        list.insert(0, volume);
    }
    for key in ["initContainers", "containers"] {
        for container in spec
            .get_mut(key)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(container) = container.as_object_mut() else {
                continue;
            };
            let mounted = container
                .get("volumeMounts")
                .and_then(Value::as_array)
                .is_some_and(|m| {
                    m.iter()
                        .any(|m| m.get("mountPath") == Some(&json!(TOKEN_MOUNT)))
                });
            if !mounted {
                let mounts = container.entry("volumeMounts").or_insert_with(|| json!([]));
                if let Some(list) = mounts.as_array_mut() {
                    list.push(json!({"name": name, "readOnly": true, "mountPath": TOKEN_MOUNT}));
                }
            }
        }
    }
}

/// The objects the controllers put into a new namespace.
pub(crate) fn namespace_created(txn: &mut Txn<'_>, namespace: &str) -> ApiResult<()> {
    let time = objects::now();
    let writer = Managed::Update(Writer {
        manager: "kube-controller-manager",
        subresource: None,
        time: &time,
    });
    let accounts = resources::known("v1", "ServiceAccount");
    if txn.get(accounts, namespace, "default").is_none() {
        let account = json!({"apiVersion": "v1", "kind": "ServiceAccount",
                             "metadata": {"name": "default", "namespace": namespace}});
        objects::create(txn, accounts, account, &Managed::Untracked)?;
    }
    let config_maps = resources::known("v1", "ConfigMap");
    if txn
        .get(config_maps, namespace, "kube-root-ca.crt")
        .is_none()
    {
        let bundle = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": "kube-root-ca.crt",
                "namespace": namespace,
                "annotations": {
                    "kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
                }
            },
            "data": {"ca.crt": ""}
        });
        objects::create(txn, config_maps, bundle, &writer)?;
    }
    Ok(())
}
