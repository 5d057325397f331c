//! Pod specs, wherever a kind holds one (`Pod.spec`, a workload's `spec.template.spec`).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::Cause;
use super::image::check_image_reference;
use super::names::{
    CONFIG_KEY_MESSAGE, ENV_NAME_MESSAGE, LABEL_MESSAGE, SUBDOMAIN_MESSAGE, is_dns1123_label,
    is_dns1123_subdomain, is_env_var_name, port_name_problem,
};
use super::quantity::{QUANTITY_MESSAGE, quantity_of};

/// The restart policies a pod may have.
pub(super) const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];
const DNS_POLICIES: [&str; 4] = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];
const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];
const TERMINATION_MESSAGE_POLICIES: [&str; 2] = ["File", "FallbackToLogsOnError"];

/// An integer field's value, when it is one.
pub(super) fn int(value: &Value) -> Option<i64> {
    value.as_i64()
}

/// A field's value, unless it is missing or `null` (which the API server treats alike).
pub(super) fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// Checks that an optional integer field is at least `min`.
pub(super) fn at_least(
    object: Option<&Value>,
    key: &str,
    min: i64,
    at: &str,
    causes: &mut Vec<Cause>,
) {
    let Some(value) = object.and_then(|o| o.get(key)) else {
        return;
    };
    if value.is_null() {
        return;
    }
    if int(value).is_none_or(|v| v < min) {
        let why = if min == 0 {
            "must be greater than or equal to 0".to_owned()
        } else {
            format!("must be greater than or equal to {min}")
        };
        causes.push(Cause::invalid(format!("{at}.{key}"), value, &why));
    }
}

/// Checks an optional string field against an enum.
pub(super) fn one_of(
    object: Option<&Value>,
    key: &str,
    allowed: &[&str],
    at: &str,
    causes: &mut Vec<Cause>,
) {
    let Some(value) = object.and_then(|o| o.get(key)) else {
        return;
    };
    if value.is_null() {
        return;
    }
    if !value.as_str().is_some_and(|v| allowed.contains(&v)) {
        causes.push(Cause::not_supported(format!("{at}.{key}"), value, allowed));
    }
}

/// Checks a pod spec at `field`. `restart` lists the restart policies the owner allows and
/// whether one must be given (a Job's pods may not use the default, `Always`).
pub(super) fn pod_spec(
    spec: Option<&Value>,
    field: &str,
    restart: (&[&str], bool),
    causes: &mut Vec<Cause>,
) {
    let spec = spec.filter(|s| !s.is_null());
    let Some(object) = spec.and_then(Value::as_object) else {
        if let Some(other) = spec {
            causes.push(Cause::type_invalid(field, other, "a mapping"));
        } else {
            causes.push(Cause::required(format!("{field}.containers")));
        }
        return;
    };
    let volumes = volumes(object, field, causes);
    let mut names = HashSet::new();
    match object.get("containers") {
        Some(Value::Array(list)) if !list.is_empty() => {
            containers(
                list,
                &format!("{field}.containers"),
                &volumes,
                &mut names,
                causes,
            );
        }
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            causes.push(Cause::required(format!("{field}.containers")));
        }
        Some(other) => causes.push(Cause::type_invalid(
            format!("{field}.containers"),
            other,
            "a list",
        )),
    }
    match object.get("initContainers") {
        Some(Value::Array(list)) => {
            containers(
                list,
                &format!("{field}.initContainers"),
                &volumes,
                &mut names,
                causes,
            );
        }
        None | Some(Value::Null) => {}
        Some(other) => causes.push(Cause::type_invalid(
            format!("{field}.initContainers"),
            other,
            "a list",
        )),
    }
    let (allowed, required) = restart;
    match object.get("restartPolicy") {
        None | Some(Value::Null) if required => causes.push(Cause::required_because(
            format!("{field}.restartPolicy"),
            &format!(
                "valid values: {}",
                allowed
                    .iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        _ => one_of(spec, "restartPolicy", allowed, field, causes),
    }
    super::security::pod(object, field, causes);
    super::affinity::affinity(object, field, causes);
    one_of(spec, "dnsPolicy", &DNS_POLICIES, field, causes);
    at_least(spec, "terminationGracePeriodSeconds", 0, field, causes);
    at_least(spec, "activeDeadlineSeconds", 1, field, causes);
    for key in ["serviceAccountName", "serviceAccount"] {
        if let Some(value) = object.get(key)
            && let Some(name) = value.as_str()
            && !name.is_empty()
            && !is_dns1123_subdomain(name)
        {
            causes.push(Cause::invalid(
                format!("{field}.{key}"),
                value,
                SUBDOMAIN_MESSAGE,
            ));
        }
    }
}

/// Checks `volumes` and returns their names.
fn volumes<'a>(
    spec: &'a Map<String, Value>,
    field: &str,
    causes: &mut Vec<Cause>,
) -> HashSet<&'a str> {
    let mut names = HashSet::new();
    let Some(list) = spec.get("volumes").and_then(Value::as_array) else {
        return names;
    };
    for (i, volume) in list.iter().enumerate() {
        let at = format!("{field}.volumes[{i}].name");
        match volume.get("name") {
            None | Some(Value::Null) => causes.push(Cause::required(at)),
            Some(Value::String(name)) if name.is_empty() => causes.push(Cause::required(at)),
            Some(value @ Value::String(name)) => {
                if !is_dns1123_label(name) {
                    causes.push(Cause::invalid(&at, value, LABEL_MESSAGE));
                }
                if !names.insert(name.as_str()) {
                    causes.push(Cause::duplicate(at, value));
                }
            }
            Some(other) => causes.push(Cause::type_invalid(at, other, "a string")),
        }
        volume_source(volume, &format!("{field}.volumes[{i}]"), causes);
    }
    names
}

/// Where a volume's data comes from; a volume names exactly one.
const VOLUME_SOURCES: [&str; 30] = [
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// The field each common source cannot do without.
const SOURCE_NEEDS: [(&str, &str); 6] = [
    ("configMap", "name"),
    ("secret", "secretName"),
    ("persistentVolumeClaim", "claimName"),
    ("hostPath", "path"),
    ("nfs", "server"),
    ("nfs", "path"),
];

const HOST_PATH_TYPES: [&str; 8] = [
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
];

fn volume_source(volume: &Value, at: &str, causes: &mut Vec<Cause>) {
    if !volume.is_object() {
        return;
    }
    let given: Vec<&str> = VOLUME_SOURCES
        .into_iter()
        .filter(|key| volume.get(*key).is_some_and(|v| !v.is_null()))
        .collect();
    match given.as_slice() {
        [] => causes.push(Cause::required_because(at, "must specify a volume type")),
        [_] => {}
        [_, second, ..] => causes.push(Cause::forbidden(
            format!("{at}.{second}"),
            "may not specify more than 1 volume type",
        )),
    }
    for (source, needed) in SOURCE_NEEDS {
        if let Some(object) = volume.get(source).filter(|v| !v.is_null())
            && object
                .get(needed)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            causes.push(Cause::required(format!("{at}.{source}.{needed}")));
        }
    }
    one_of(
        volume.get("hostPath"),
        "type",
        &HOST_PATH_TYPES,
        &format!("{at}.hostPath"),
        causes,
    );
}

fn containers<'a>(
    list: &'a [Value],
    field: &str,
    volumes: &HashSet<&str>,
    names: &mut HashSet<&'a str>,
    causes: &mut Vec<Cause>,
) {
    for (i, container) in list.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let Some(object) = container.as_object() else {
            causes.push(Cause::type_invalid(&at, container, "a mapping"));
            continue;
        };
        match object.get("name") {
            None | Some(Value::Null) => causes.push(Cause::required(format!("{at}.name"))),
            Some(Value::String(name)) if name.is_empty() => {
                causes.push(Cause::required(format!("{at}.name")));
            }
            Some(value @ Value::String(name)) => {
                if !is_dns1123_label(name) {
                    causes.push(Cause::invalid(format!("{at}.name"), value, LABEL_MESSAGE));
                }
                if !names.insert(name.as_str()) {
                    causes.push(Cause::duplicate(format!("{at}.name"), value));
                }
            }
            Some(other) => {
                causes.push(Cause::type_invalid(format!("{at}.name"), other, "a string"))
            }
        }
        match object.get("image") {
            None | Some(Value::Null) => causes.push(Cause::required(format!("{at}.image"))),
            Some(Value::String(image)) if image.trim().is_empty() => {
                causes.push(Cause::required(format!("{at}.image")));
            }
            Some(value @ Value::String(image)) => {
                if let Some(problem) = check_image_reference(image) {
                    causes.push(Cause::invalid(format!("{at}.image"), value, problem));
                }
            }
            Some(other) => causes.push(Cause::type_invalid(
                format!("{at}.image"),
                other,
                "a string",
            )),
        }
        one_of(
            Some(container),
            "imagePullPolicy",
            &PULL_POLICIES,
            &at,
            causes,
        );
        one_of(
            Some(container),
            "terminationMessagePolicy",
            &TERMINATION_MESSAGE_POLICIES,
            &at,
            causes,
        );
        ports(object, &at, causes);
        env(object, &at, causes);
        resources(object.get("resources"), &format!("{at}.resources"), causes);
        mounts(object, &at, volumes, causes);
        super::probes::probes(object, &at, causes);
        super::security::container(object, &at, causes);
    }
}

pub(super) fn port_number(port: &Value, at: String, causes: &mut Vec<Cause>) {
    if !int(port).is_some_and(|p| (1..=65535).contains(&p)) {
        causes.push(Cause::invalid(
            at,
            port,
            "must be between 1 and 65535, inclusive",
        ));
    }
}

fn ports(container: &Map<String, Value>, at: &str, causes: &mut Vec<Cause>) {
    let Some(list) = container.get("ports").and_then(Value::as_array) else {
        return;
    };
    let mut names = HashSet::new();
    for (j, port) in list.iter().enumerate() {
        let at = format!("{at}.ports[{j}]");
        match port.get("containerPort") {
            None | Some(Value::Null) => causes.push(Cause::required(format!("{at}.containerPort"))),
            Some(p) => port_number(p, format!("{at}.containerPort"), causes),
        }
        if let Some(host) = port.get("hostPort").filter(|h| !h.is_null())
            && int(host) != Some(0)
        {
            port_number(host, format!("{at}.hostPort"), causes);
        }
        one_of(Some(port), "protocol", &PROTOCOLS, &at, causes);
        if let Some(value) = port.get("name")
            && let Some(name) = value.as_str()
            && !name.is_empty()
        {
            if let Some(problem) = port_name_problem(name) {
                causes.push(Cause::invalid(format!("{at}.name"), value, problem));
            }
            if !names.insert(name) {
                causes.push(Cause::duplicate(format!("{at}.name"), value));
            }
        }
    }
}

fn env(container: &Map<String, Value>, at: &str, causes: &mut Vec<Cause>) {
    if let Some(list) = container.get("env").and_then(Value::as_array) {
        for (j, var) in list.iter().enumerate() {
            let at = format!("{at}.env[{j}].name");
            match var.get("name") {
                None | Some(Value::Null) => causes.push(Cause::required(at)),
                Some(Value::String(name)) if name.is_empty() => causes.push(Cause::required(at)),
                Some(value @ Value::String(name)) => {
                    if !is_env_var_name(name) {
                        causes.push(Cause::invalid(at, value, ENV_NAME_MESSAGE));
                    }
                }
                Some(other) => causes.push(Cause::type_invalid(at, other, "a string")),
            }
        }
    }
    if let Some(list) = container.get("envFrom").and_then(Value::as_array) {
        for (j, source) in list.iter().enumerate() {
            if let Some(prefix) = source.get("prefix")
                && let Some(text) = prefix.as_str()
                && !text.is_empty()
                && !is_env_var_name(text)
            {
                causes.push(Cause::invalid(
                    format!("{at}.envFrom[{j}].prefix"),
                    prefix,
                    ENV_NAME_MESSAGE,
                ));
            }
        }
    }
}

/// Checks `resources.limits` and `resources.requests`: names, quantities that parse and are
/// not negative, and no request above its limit.
pub(super) fn resources(resources: Option<&Value>, at: &str, causes: &mut Vec<Cause>) {
    let Some(resources) = resources else {
        return;
    };
    let mut parsed: [Vec<(&str, f64)>; 2] = [Vec::new(), Vec::new()];
    for (slot, key) in ["limits", "requests"].into_iter().enumerate() {
        let Some(map) = resources.get(key).and_then(Value::as_object) else {
            continue;
        };
        for (name, value) in map {
            let field = format!("{at}.{key}[{name}]");
            if !is_resource_name(name) {
                causes.push(Cause::invalid(
                    &field,
                    &name.as_str().into(),
                    "must be a standard resource name (cpu, memory, ephemeral-storage, \
                     hugepages-<size>) or a qualified name such as 'example.com/device'",
                ));
            }
            match quantity_of(value) {
                None => causes.push(Cause::invalid(&field, value, QUANTITY_MESSAGE)),
                Some(q) if q.is_negative() => causes.push(Cause::invalid(
                    &field,
                    value,
                    "must be greater than or equal to 0",
                )),
                Some(q) => parsed[slot].push((name.as_str(), q.amount)),
            }
        }
    }
    let [limits, requests] = &parsed;
    for (name, request) in requests {
        if let Some((_, limit)) = limits.iter().find(|(n, _)| n == name)
            && request > limit
        {
            let value = resources
                .pointer(&format!("/requests/{name}"))
                .cloned()
                .unwrap_or(Value::Null);
            let shown_limit = resources
                .pointer(&format!("/limits/{name}"))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default();
            causes.push(Cause::invalid(
                format!("{at}.requests"),
                &value,
                &format!("must be less than or equal to {name} limit of {shown_limit}"),
            ));
        }
    }
}

/// A resource name: a qualified name (`cpu`, `memory`, `nvidia.com/gpu`, `hugepages-2Mi`).
fn is_resource_name(name: &str) -> bool {
    super::names::qualified_name_problem(name).is_none()
}

fn mounts(
    container: &Map<String, Value>,
    at: &str,
    volumes: &HashSet<&str>,
    causes: &mut Vec<Cause>,
) {
    let Some(list) = container.get("volumeMounts").and_then(Value::as_array) else {
        return;
    };
    let mut paths = HashSet::new();
    for (j, mount) in list.iter().enumerate() {
        let at = format!("{at}.volumeMounts[{j}]");
        match mount.get("name") {
            None | Some(Value::Null) => causes.push(Cause::required(format!("{at}.name"))),
            Some(value @ Value::String(name)) if !volumes.contains(name.as_str()) => {
                causes.push(Cause {
                    reason: "FieldValueNotFound",
                    field: format!("{at}.name"),
                    message: format!("Not found: {value}"),
                });
            }
            _ => {}
        }
        match mount.get("mountPath") {
            Some(value @ Value::String(path)) if !path.is_empty() => {
                if !paths.insert(path.as_str()) {
                    causes.push(Cause::invalid(
                        format!("{at}.mountPath"),
                        value,
                        "must be unique",
                    ));
                }
            }
            _ => causes.push(Cause::required(format!("{at}.mountPath"))),
        }
    }
}

/// Checks the keys of a ConfigMap's or Secret's data maps.
pub(super) fn data_keys(object: &Value, causes: &mut Vec<Cause>) {
    for field in ["data", "binaryData", "stringData"] {
        let Some(map) = object.get(field).and_then(Value::as_object) else {
            continue;
        };
        for key in map.keys() {
            if !super::names::is_config_key(key) {
                causes.push(Cause::invalid(
                    format!("{field}[{key}]"),
                    &Value::String(key.clone()),
                    CONFIG_KEY_MESSAGE,
                ));
            }
        }
    }
}
