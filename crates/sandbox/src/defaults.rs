//! Defaulting: the fields the API server fills in on every write.
//!
//! [`apply`] runs after a create or update has its final shape and before validation, so the
//! stored object reads like one from a real cluster: a Deployment gets `replicas: 1`, its
//! strategy and `progressDeadlineSeconds`; containers get `imagePullPolicy`; a Service gets a
//! `clusterIP` (allocated from 10.96.0.0/16) and `targetPort`; a Secret's `stringData` moves
//! into `data`. Defaulting is idempotent, so running it on every update is safe.

use serde_json::{Map, Value, json};

use super::quantity;
use super::resources::ResourceDef;
use super::store::Txn;

fn obj(value: &mut Value) -> Option<&mut Map<String, Value>> {
    value.as_object_mut()
}

/// Inserts `key: value` when the map lacks it.
fn or_insert(map: &mut Map<String, Value>, key: &str, value: Value) {
    if !map.contains_key(key) || map.get(key).is_some_and(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

/// The map at `key`, created when missing.
fn child<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    if !map.get(key).is_some_and(Value::is_object) {
        map.insert(key.to_owned(), Value::Object(Map::new()));
    }
    map.get_mut(key)
        .and_then(Value::as_object_mut)
        .expect("just made an object")
}

/// `Always` for `:latest` or untagged images, `IfNotPresent` otherwise (as the API server).
fn pull_policy(image: &str) -> &'static str {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    if image.contains('@') {
        return "IfNotPresent";
    }
    match last.split_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn containers(spec: &mut Map<String, Value>, key: &str) {
    let Some(list) = spec.get_mut(key).and_then(Value::as_array_mut) else {
        return;
    };
    for container in list.iter_mut().filter_map(obj) {
        let image = container
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        or_insert(container, "imagePullPolicy", json!(pull_policy(&image)));
        or_insert(
            container,
            "terminationMessagePath",
            json!("/dev/termination-log"),
        );
        or_insert(container, "terminationMessagePolicy", json!("File"));
        or_insert(container, "resources", json!({}));
        if let Some(resources) = container.get_mut("resources").and_then(obj) {
            canonical_quantities(resources, &["limits", "requests"]);
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(probe) = container.get_mut(probe).and_then(obj) {
                or_insert(probe, "timeoutSeconds", json!(1));
                or_insert(probe, "periodSeconds", json!(10));
                or_insert(probe, "successThreshold", json!(1));
                or_insert(probe, "failureThreshold", json!(3));
                if let Some(get) = probe.get_mut("httpGet").and_then(obj) {
                    or_insert(get, "scheme", json!("HTTP"));
                }
            }
        }
        if let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) {
            for port in ports.iter_mut().filter_map(obj) {
                or_insert(port, "protocol", json!("TCP"));
            }
        }
    }
}

/// Rewrites the quantities of the maps `keys` of `parent` (`limits`, `requests`) in
/// canonical form.
fn canonical_quantities(parent: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(map) = parent.get_mut(*key).and_then(obj) {
            for value in map.values_mut() {
                if let Some(canonical) = quantity::canonical_value(value) {
                    *value = canonical;
                }
            }
        }
    }
}

/// Pod spec defaults; `restart_policy` is `None` for Job templates, which must choose.
fn pod_spec(spec: &mut Map<String, Value>, restart_policy: Option<&str>) {
    if let Some(policy) = restart_policy {
        or_insert(spec, "restartPolicy", json!(policy));
    }
    or_insert(spec, "terminationGracePeriodSeconds", json!(30));
    or_insert(spec, "dnsPolicy", json!("ClusterFirst"));
    or_insert(spec, "securityContext", json!({}));
    or_insert(spec, "schedulerName", json!("default-scheduler"));
    containers(spec, "containers");
    containers(spec, "initContainers");
}

fn template(object: &mut Map<String, Value>, restart_policy: Option<&str>) {
    let spec = child(object, "spec");
    let template = child(spec, "template");
    pod_spec(child(template, "spec"), restart_policy);
}

fn rolling(spec: &mut Map<String, Value>, key: &str, rolling: Value) {
    let strategy = child(spec, key);
    or_insert(strategy, "type", json!("RollingUpdate"));
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        or_insert(strategy, "rollingUpdate", rolling);
    }
}

/// Base64 (standard alphabet, padded): Secret `data` values.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The next free address in 10.96.0.0/16 (10.96.0.1 is the `kubernetes` Service).
fn allocate_cluster_ip(txn: &Txn<'_>, def: &ResourceDef) -> String {
    let used: std::collections::HashSet<String> = txn
        .list(def, None)
        .iter()
        .filter_map(|s| {
            s.pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    (10u32..65_534)
        .map(|n| format!("10.96.{}.{}", n / 256, n % 256))
        .find(|ip| !used.contains(ip) && !ip.ends_with(".0") && !ip.ends_with(".255"))
        .unwrap_or_else(|| "10.96.255.254".into())
}

/// The next free node port in 30000–32767.
fn allocate_node_port(txn: &Txn<'_>, def: &ResourceDef, taken: &[i64]) -> i64 {
    let used: Vec<i64> = txn
        .list(def, None)
        .iter()
        .filter_map(|s| s.pointer("/spec/ports").and_then(Value::as_array).cloned())
        .flatten()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
        .chain(taken.iter().copied())
        .collect();
    (30_000..=32_767)
        .find(|p| !used.contains(p))
        .unwrap_or(32_767)
}

fn service(txn: &Txn<'_>, def: &ResourceDef, object: &mut Map<String, Value>, old: Option<&Value>) {
    let spec = child(object, "spec");
    // Allocated values survive an update that leaves them out (a PUT of a manifest).
    if let Some(old_spec) = old.and_then(|o| o.get("spec")) {
        for key in ["clusterIP", "clusterIPs"] {
            if !spec.contains_key(key)
                && let Some(v) = old_spec.get(key)
            {
                spec.insert(key.into(), v.clone());
            }
        }
    }
    or_insert(spec, "type", json!("ClusterIP"));
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    if kind != "ExternalName" {
        if spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            spec.insert("clusterIP".into(), json!(allocate_cluster_ip(txn, def)));
        }
        let ip = spec.get("clusterIP").cloned().unwrap_or(Value::Null);
        or_insert(spec, "clusterIPs", json!([ip]));
        or_insert(spec, "ipFamilies", json!(["IPv4"]));
        or_insert(spec, "ipFamilyPolicy", json!("SingleStack"));
        or_insert(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    or_insert(spec, "sessionAffinity", json!("None"));
    let wants_node_ports = kind == "NodePort" || kind == "LoadBalancer";
    let old_ports: Vec<Value> = old
        .and_then(|o| o.pointer("/spec/ports"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut taken = Vec::new();
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(obj) {
            or_insert(port, "protocol", json!("TCP"));
            if let Some(p) = port.get("port").cloned() {
                or_insert(port, "targetPort", p);
            }
            if wants_node_ports && !port.contains_key("nodePort") {
                let previous = old_ports
                    .iter()
                    .find(|o| o.get("port") == port.get("port"))
                    .and_then(|o| o.get("nodePort"))
                    .and_then(Value::as_i64);
                let node_port = previous.unwrap_or_else(|| allocate_node_port(txn, def, &taken));
                taken.push(node_port);
                port.insert("nodePort".into(), json!(node_port));
            }
        }
    }
    if kind == "LoadBalancer" {
        or_insert(spec, "externalTrafficPolicy", json!("Cluster"));
        or_insert(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

fn secret(object: &mut Map<String, Value>) {
    or_insert(object, "type", json!("Opaque"));
    if let Some(Value::Object(string_data)) = object.shift_remove("stringData") {
        let data = child(object, "data");
        for (key, value) in string_data {
            let text = value.as_str().unwrap_or_default();
            data.insert(key, json!(base64(text.as_bytes())));
        }
    }
}

fn job(object: &mut Map<String, Value>) {
    let uid = object
        .get("metadata")
        .and_then(|m| m.get("uid"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let name = object
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let spec = child(object, "spec");
    or_insert(spec, "parallelism", json!(1));
    or_insert(spec, "completions", json!(1));
    or_insert(spec, "backoffLimit", json!(6));
    or_insert(spec, "completionMode", json!("NonIndexed"));
    or_insert(spec, "suspend", json!(false));
    if spec.get("podFailurePolicy").is_none_or(Value::is_null) {
        or_insert(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    }
    let manual = spec.get("manualSelector").and_then(Value::as_bool) == Some(true);
    if !manual && !uid.is_empty() {
        or_insert(spec, "manualSelector", json!(false));
        or_insert(
            spec,
            "selector",
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
        );
        let labels = child(child(child(spec, "template"), "metadata"), "labels");
        for (key, value) in [
            ("batch.kubernetes.io/controller-uid", &uid),
            ("batch.kubernetes.io/job-name", &name),
            ("controller-uid", &uid),
            ("job-name", &name),
        ] {
            or_insert(labels, key, json!(value));
        }
    }
    // A Job without labels of its own takes its pod template's.
    let template_labels = object
        .get("spec")
        .and_then(|spec| spec.pointer("/template/metadata/labels"))
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    let meta = child(object, "metadata");
    if let Some(labels) = template_labels
        && meta
            .get("labels")
            .is_none_or(|l| l.as_object().is_none_or(Map::is_empty))
    {
        meta.insert("labels".into(), labels);
    }
    template(object, None);
}

/// Fields of the built-in types that Go encodes with `omitempty` and no pointer: a zero
/// value is not stored (`minReadySeconds: 0` reads back as absent).
pub(crate) const OMITTED_WHEN_ZERO: &[&str] = &[
    "minReadySeconds",
    "paused",
    "initialDelaySeconds",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "stdin",
    "stdinOnce",
    "tty",
];

/// Maps whose keys are data: nothing inside them is a field of a type.
const DATA_MAPS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "binaryData",
    "stringData",
    "nodeSelector",
    "matchLabels",
    "limits",
    "requests",
];

/// Removes [`OMITTED_WHEN_ZERO`] fields whose value is `0` or `false`.
fn drop_zero_values(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, v| {
                !(OMITTED_WHEN_ZERO.contains(&key.as_str())
                    && (v.as_i64() == Some(0) || v.as_bool() == Some(false)))
            });
            for (key, child) in map.iter_mut() {
                if !DATA_MAPS.contains(&key.as_str()) {
                    drop_zero_values(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_zero_values),
        _ => {}
    }
}

/// Fills in the defaults of `def` on `object`; `old` is the stored object on updates.
pub(crate) fn apply(txn: &Txn<'_>, def: &ResourceDef, object: &mut Value, old: Option<&Value>) {
    if let Some(spec) = object.get_mut("spec") {
        drop_zero_values(spec);
    }
    let Some(map) = object.as_object_mut() else {
        return;
    };
    match (def.group, def.kind) {
        ("apps", "Deployment") => {
            let spec = child(map, "spec");
            or_insert(spec, "replicas", json!(1));
            or_insert(spec, "revisionHistoryLimit", json!(10));
            or_insert(spec, "progressDeadlineSeconds", json!(600));
            rolling(
                spec,
                "strategy",
                json!({"maxUnavailable": "25%", "maxSurge": "25%"}),
            );
            template(map, Some("Always"));
        }
        ("apps", "ReplicaSet") | ("", "ReplicationController") => {
            or_insert(child(map, "spec"), "replicas", json!(1));
            template(map, Some("Always"));
        }
        ("apps", "StatefulSet") => {
            let spec = child(map, "spec");
            or_insert(spec, "replicas", json!(1));
            or_insert(spec, "podManagementPolicy", json!("OrderedReady"));
            or_insert(spec, "revisionHistoryLimit", json!(10));
            rolling(spec, "updateStrategy", json!({"partition": 0}));
            or_insert(
                spec,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            template(map, Some("Always"));
        }
        ("apps", "DaemonSet") => {
            let spec = child(map, "spec");
            or_insert(spec, "revisionHistoryLimit", json!(10));
            rolling(
                spec,
                "updateStrategy",
                json!({"maxUnavailable": 1, "maxSurge": 0}),
            );
            template(map, Some("Always"));
        }
        ("batch", "Job") => job(map),
        ("batch", "CronJob") => {
            let spec = child(map, "spec");
            or_insert(spec, "concurrencyPolicy", json!("Allow"));
            or_insert(spec, "suspend", json!(false));
            or_insert(spec, "successfulJobsHistoryLimit", json!(3));
            or_insert(spec, "failedJobsHistoryLimit", json!(1));
        }
        ("", "Pod") => {
            pod_spec(child(map, "spec"), Some("Always"));
            or_insert(child(map, "spec"), "enableServiceLinks", json!(true));
        }
        ("", "Service") => service(txn, def, map, old),
        ("", "Secret") => secret(map),
        ("", "Namespace") => {
            let name = map
                .get("metadata")
                .and_then(|m| m.get("name"))
                .cloned()
                .unwrap_or(Value::Null);
            let labels = child(child(map, "metadata"), "labels");
            labels.insert("kubernetes.io/metadata.name".into(), name);
            or_insert(child(map, "spec"), "finalizers", json!(["kubernetes"]));
        }
        ("", "PersistentVolumeClaim") => {
            let spec = child(map, "spec");
            or_insert(spec, "volumeMode", json!("Filesystem"));
            if let Some(resources) = spec.get_mut("resources").and_then(obj) {
                canonical_quantities(resources, &["limits", "requests"]);
            }
        }
        _ => {}
    }
}

/// The status a new object starts with, for kinds whose status the server owns.
pub(crate) fn initial_status(def: &ResourceDef, object: &Value) -> Option<Value> {
    match (def.group, def.kind) {
        ("", "Pod") => Some(json!({"phase": "Pending", "qosClass": "BestEffort"})),
        ("", "Namespace") => Some(json!({"phase": "Active"})),
        ("", "PersistentVolumeClaim") => {
            let storage = object
                .pointer("/spec/resources/requests/storage")
                .cloned()
                .unwrap_or(json!("1Gi"));
            let modes = object
                .pointer("/spec/accessModes")
                .cloned()
                .unwrap_or(json!(["ReadWriteOnce"]));
            Some(json!({"phase": "Bound", "accessModes": modes, "capacity": {"storage": storage}}))
        }
        ("", "Service") | ("networking.k8s.io", "Ingress") => Some(json!({"loadBalancer": {}})),
        ("apps", "DaemonSet") => Some(json!({
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        })),
        _ if def.status => Some(json!({})),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("hello world", "aGVsbG8gd29ybGQ="),
        ] {
            assert_eq!(base64(input.as_bytes()), output);
        }
    }

    #[test]
    fn pull_policies_follow_tags() {
        for (image, policy) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("localhost:5000/app", "Always"),
            ("localhost:5000/app:v1", "IfNotPresent"),
            ("nginx@sha256:abc", "IfNotPresent"),
        ] {
            assert_eq!(pull_policy(image), policy, "{image}");
        }
    }
}
