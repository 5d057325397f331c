//! The objects every cluster starts with: namespaces `default`, `kube-system`,
//! `kube-public` and `kube-node-lease`, the `kubernetes` Service, and the node
//! `sandbox-node` that pods are scheduled to. Created once; a persisted sandbox keeps them.

use serde_json::{Value, json};

use super::controller::NODE_NAME;
use super::managed::Writer;
use super::objects::{self, Managed};
use super::resources;
use super::status::ApiResult;
use super::store::Store;

fn node() -> Value {
    let now = objects::now();
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": now,
               "reason": reason, "message": message})
    };
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/control-plane": ""
            }
        },
        "spec": {"podCIDR": "10.244.0.0/16", "podCIDRs": ["10.244.0.0/16"]},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": "10.0.0.10"},
                {"type": "Hostname", "address": NODE_NAME}
            ],
            "capacity": {"cpu": "8", "memory": "16Gi", "pods": "250", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "250", "ephemeral-storage": "100Gi"},
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")
            ],
            "nodeInfo": {
                "kubeletVersion": super::discovery::GIT_VERSION,
                "kubeProxyVersion": super::discovery::GIT_VERSION,
                "containerRuntimeVersion": "tripline-sandbox://1.0",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "Tripline sandbox",
                "kernelVersion": "",
                "machineID": "",
                "systemUUID": "",
                "bootID": ""
            }
        }
    })
}

/// Creates whatever of the built-in objects is missing.
pub(crate) fn ensure(store: &Store) -> ApiResult<()> {
    let time = objects::now();
    let managed = Managed::Update(Writer {
        manager: "kube-apiserver",
        subresource: None,
        time: &time,
    });
    store.write(false, |txn| {
        let namespaces = resources::namespaces();
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            if txn.get(namespaces, "", name).is_none() {
                let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
                objects::create(txn, namespaces, ns, &managed)?;
            }
        }
        let nodes = resources::known("v1", "Node");
        if txn.get(nodes, "", NODE_NAME).is_none() {
            let created = objects::create(txn, nodes, node(), &managed)?;
            // A node's status is its kubelet's; create resets it, so write it back.
            let mut with_status = (*created).clone();
            with_status["status"] = node()["status"].clone();
            objects::update(txn, nodes, &created, with_status, &Managed::Untracked)?;
        }
        let services = resources::known("v1", "Service");
        if txn.get(services, "default", "kubernetes").is_none() {
            let service = json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "kubernetes", "namespace": "default",
                             "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {"clusterIP": "10.96.0.1",
                         "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}
            });
            objects::create(txn, services, service, &managed)?;
        }
        Ok(())
    })
}
