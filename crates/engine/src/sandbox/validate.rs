//! Validation of names and of the kinds Tripline deploys, with the API server's field paths.
//!
//! [`object`] runs on every create and update after defaulting; its causes become a 422
//! Invalid `Status`. It checks what a deploy can get wrong and a real cluster would refuse
//! (a Deployment whose selector does not match its template, a container without an image,
//! a Service port without a port number), not every rule of the real API.

use serde_json::Value;

use super::resources::{NameRule, ResourceDef};
use super::selector::{LabelSelector, valid_value};
use super::status::Cause;

const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
    alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
    (e.g. 'example.com', regex used for validation is \
    '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

const LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
    characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  \
    or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

const DNS1035_MESSAGE: &str = "a DNS-1035 label must consist of lower case alphanumeric \
    characters or '-', start with an alphabetic character, and end with an alphanumeric \
    character (e.g. 'my-name',  or 'abc-123', regex used for validation is \
    '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// An RFC 1123 subdomain (dot-separated labels, at most 253 characters).
pub(crate) fn is_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label)
}

fn is_dns1035(s: &str) -> bool {
    is_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// The problems with a name, under a rule (empty when it is fine).
pub(crate) fn name(rule: NameRule, def: &ResourceDef, name: &str, field: &str) -> Vec<Cause> {
    let value = Value::String(name.to_owned());
    let mut causes = Vec::new();
    match rule {
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                causes.push(Cause::invalid(
                    field,
                    &value,
                    &format!("may not be '{name}'"),
                ));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    causes.push(Cause::invalid(
                        field,
                        &value,
                        &format!("may not contain '{bad}'"),
                    ));
                }
            }
        }
        NameRule::Subdomain => {
            if name.len() > 253 {
                causes.push(Cause::invalid(
                    field,
                    &value,
                    "must be no more than 253 characters",
                ));
            }
            if !is_subdomain(name) {
                causes.push(Cause::invalid(field, &value, SUBDOMAIN_MESSAGE));
            }
        }
        NameRule::Label => {
            if name.len() > 63 {
                causes.push(Cause::invalid(
                    field,
                    &value,
                    "must be no more than 63 characters",
                ));
            }
            // Services need DNS-1035 (a letter first); namespaces RFC 1123.
            if def.kind == "Service" {
                if !is_dns1035(name) {
                    causes.push(Cause::invalid(field, &value, DNS1035_MESSAGE));
                }
            } else if !is_label(name) {
                causes.push(Cause::invalid(field, &value, LABEL_MESSAGE));
            }
        }
    }
    causes
}

fn labels(object: &Value, path: &str, field: &str, causes: &mut Vec<Cause>) {
    let Some(labels) = object.pointer(path) else {
        return;
    };
    let Some(labels) = labels.as_object() else {
        causes.push(Cause::invalid(field, labels, "must be a map of strings"));
        return;
    };
    for (key, value) in labels {
        let Some(text) = value.as_str() else {
            causes.push(Cause::invalid(
                format!("{field}.{key}"),
                value,
                "must be a string",
            ));
            continue;
        };
        if !valid_value(text) {
            causes.push(Cause::invalid(
                field,
                value,
                "a valid label must be an empty string or consist of alphanumeric characters, \
                 '-', '_' or '.', and must start and end with an alphanumeric character",
            ));
        }
    }
}

fn pod_spec(spec: Option<&Value>, field: &str, causes: &mut Vec<Cause>) {
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    let Some(containers) = containers.filter(|c| !c.is_empty()) else {
        causes.push(Cause::required(format!("{field}.containers")));
        return;
    };
    let mut names = Vec::new();
    for (i, container) in containers.iter().enumerate() {
        let at = format!("{field}.containers[{i}]");
        match container.get("name").and_then(Value::as_str) {
            None | Some("") => causes.push(Cause::required(format!("{at}.name"))),
            Some(name) => {
                if !is_label(name) {
                    causes.push(Cause::invalid(
                        format!("{at}.name"),
                        &Value::String(name.into()),
                        LABEL_MESSAGE,
                    ));
                }
                if names.contains(&name) {
                    causes.push(Cause::duplicate(
                        format!("{at}.name"),
                        &Value::String(name.into()),
                    ));
                }
                names.push(name);
            }
        }
        if container
            .get("image")
            .and_then(Value::as_str)
            .is_none_or(|i| i.trim().is_empty())
        {
            causes.push(Cause::required(format!("{at}.image")));
        }
        if let Some(ports) = container.get("ports").and_then(Value::as_array) {
            for (j, port) in ports.iter().enumerate() {
                let at = format!("{at}.ports[{j}].containerPort");
                match port.get("containerPort") {
                    None => causes.push(Cause::required(at)),
                    Some(p) if !p.as_i64().is_some_and(|p| (1..=65535).contains(&p)) => {
                        causes.push(Cause::invalid(
                            at,
                            p,
                            "must be between 1 and 65535, inclusive",
                        ));
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A workload's selector, template labels and pod spec.
fn workload(object: &Value, causes: &mut Vec<Cause>) {
    let spec = object.get("spec");
    if let Some(replicas) = spec.and_then(|s| s.get("replicas"))
        && replicas.as_i64().is_none_or(|r| r < 0)
    {
        causes.push(Cause::invalid(
            "spec.replicas",
            replicas,
            "must be greater than or equal to 0",
        ));
    }
    match spec.and_then(|s| s.get("selector")) {
        None | Some(Value::Null) => causes.push(Cause::required("spec.selector")),
        Some(selector) => {
            let parsed = LabelSelector::from_object(selector);
            if parsed.is_empty() {
                causes.push(Cause::invalid(
                    "spec.selector",
                    selector,
                    "empty selector is invalid for deployment",
                ));
            } else {
                let template_labels = object
                    .pointer("/spec/template/metadata/labels")
                    .and_then(Value::as_object);
                if !parsed.matches(template_labels) {
                    causes.push(Cause::invalid(
                        "spec.template.metadata.labels",
                        &template_labels
                            .cloned()
                            .map(Value::Object)
                            .unwrap_or(Value::Null),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
        }
    }
    labels(
        object,
        "/spec/template/metadata/labels",
        "spec.template.metadata.labels",
        causes,
    );
    pod_spec(
        object.pointer("/spec/template/spec"),
        "spec.template.spec",
        causes,
    );
}

fn job_template(spec: Option<&Value>, field: &str, causes: &mut Vec<Cause>) {
    pod_spec(spec, field, causes);
    let policy = spec.and_then(|s| s.get("restartPolicy"));
    match policy.and_then(Value::as_str) {
        Some("OnFailure" | "Never") => {}
        None => causes.push(Cause {
            reason: "FieldValueRequired",
            field: format!("{field}.restartPolicy"),
            message: "Required value: valid values: \"OnFailure\", \"Never\"".into(),
        }),
        Some(_) => causes.push(Cause::not_supported(
            format!("{field}.restartPolicy"),
            policy.unwrap_or(&Value::Null),
            &["OnFailure", "Never"],
        )),
    }
}

fn service(object: &Value, causes: &mut Vec<Cause>) {
    let spec = object.get("spec");
    let kind = spec
        .and_then(|s| s.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let types = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
    if !types.contains(&kind) {
        causes.push(Cause::not_supported(
            "spec.type",
            &Value::String(kind.into()),
            &types,
        ));
    }
    let headless = spec
        .and_then(|s| s.get("clusterIP"))
        .and_then(Value::as_str)
        == Some("None");
    let ports = spec.and_then(|s| s.get("ports")).and_then(Value::as_array);
    match ports {
        None if kind != "ExternalName" && !headless => causes.push(Cause::required("spec.ports")),
        None => {}
        Some(ports) => {
            let mut names = Vec::new();
            for (i, port) in ports.iter().enumerate() {
                match port.get("port") {
                    None => causes.push(Cause::required(format!("spec.ports[{i}].port"))),
                    Some(p) if !p.as_i64().is_some_and(|p| (1..=65535).contains(&p)) => {
                        causes.push(Cause::invalid(
                            format!("spec.ports[{i}].port"),
                            p,
                            "must be between 1 and 65535, inclusive",
                        ));
                    }
                    _ => {}
                }
                let name = port.get("name").and_then(Value::as_str).unwrap_or("");
                if ports.len() > 1 && name.is_empty() {
                    causes.push(Cause::required(format!("spec.ports[{i}].name")));
                }
                if !name.is_empty() && names.contains(&name) {
                    causes.push(Cause::duplicate(
                        format!("spec.ports[{i}].name"),
                        &Value::String(name.into()),
                    ));
                }
                names.push(name);
            }
        }
    }
}

fn data_keys(object: &Value, causes: &mut Vec<Cause>) {
    for field in ["data", "binaryData", "stringData"] {
        let Some(map) = object.get(field).and_then(Value::as_object) else {
            continue;
        };
        for key in map.keys() {
            let ok = !key.is_empty()
                && key.len() <= 253
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !ok {
                causes.push(Cause::invalid(
                    format!("{field}[{key}]"),
                    &Value::String(key.clone()),
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' \
                     (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation \
                     is '[-._a-zA-Z0-9]+')",
                ));
            }
        }
    }
}

/// Every problem with an object of `def` (empty when it is valid). `old` is the stored
/// object on updates, for immutable fields.
pub(crate) fn object(def: &ResourceDef, object: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    let object_name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    causes.extend(name(def.names, def, object_name, "metadata.name"));
    if let Some(ns) = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        && def.namespaced
        && !is_label(ns)
    {
        causes.push(Cause::invalid(
            "metadata.namespace",
            &Value::String(ns.into()),
            LABEL_MESSAGE,
        ));
    }
    labels(object, "/metadata/labels", "metadata.labels", &mut causes);
    if let Some(annotations) = object.pointer("/metadata/annotations")
        && !annotations
            .as_object()
            .is_some_and(|a| a.values().all(Value::is_string))
    {
        causes.push(Cause::invalid(
            "metadata.annotations",
            annotations,
            "must be a map of strings",
        ));
    }
    match (def.group, def.kind) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            workload(object, &mut causes);
            if let Some(old) = old {
                let before = old.pointer("/spec/selector");
                let after = object.pointer("/spec/selector");
                if before.is_some() && before != after {
                    causes.push(Cause::invalid(
                        "spec.selector",
                        after.unwrap_or(&Value::Null),
                        "field is immutable",
                    ));
                }
            }
        }
        ("", "ReplicationController") => pod_spec(
            object.pointer("/spec/template/spec"),
            "spec.template.spec",
            &mut causes,
        ),
        ("", "Pod") => pod_spec(object.get("spec"), "spec", &mut causes),
        ("batch", "Job") => job_template(
            object.pointer("/spec/template/spec"),
            "spec.template.spec",
            &mut causes,
        ),
        ("batch", "CronJob") => {
            if object
                .pointer("/spec/schedule")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                causes.push(Cause::required("spec.schedule"));
            }
            job_template(
                object.pointer("/spec/jobTemplate/spec/template/spec"),
                "spec.jobTemplate.spec.template.spec",
                &mut causes,
            );
        }
        ("", "Service") => service(object, &mut causes),
        ("", "ConfigMap" | "Secret") => data_keys(object, &mut causes),
        _ => {}
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::lookup;
    use serde_json::json;

    #[test]
    fn names_follow_their_rules() {
        let deployments = lookup("apps", "v1", "deployments").unwrap();
        let services = lookup("", "v1", "services").unwrap();
        let namespaces = lookup("", "v1", "namespaces").unwrap();
        let roles = lookup("rbac.authorization.k8s.io", "v1", "clusterroles").unwrap();
        let cases = [
            (deployments, "web", true),
            (deployments, "web.v2", true),
            (deployments, "Web", false),
            (deployments, "-web", false),
            (deployments, "web_1", false),
            (services, "1web", false),
            (services, "web-1", true),
            (services, "web.v2", false),
            (namespaces, "1team", true),
            (roles, "system:viewer", true),
            (roles, "a/b", false),
        ];
        for (def, n, ok) in cases {
            assert_eq!(
                name(def.names, def, n, "metadata.name").is_empty(),
                ok,
                "{} {n}",
                def.kind
            );
        }
    }

    #[test]
    fn deployments_need_matching_selectors_and_images() {
        let def = lookup("apps", "v1", "deployments").unwrap();
        let good = json!({
            "metadata": {"name": "d"},
            "spec": {
                "selector": {"matchLabels": {"app": "d"}},
                "template": {"metadata": {"labels": {"app": "d"}},
                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
            }
        });
        assert!(object(def, &good, None).is_empty());
        let cases = [
            ("/spec/selector", Value::Null, "spec.selector"),
            (
                "/spec/template/metadata/labels",
                json!({"app": "other"}),
                "spec.template.metadata.labels",
            ),
            (
                "/spec/template/spec/containers",
                json!([{"name": "c"}]),
                "spec.template.spec.containers[0].image",
            ),
            (
                "/spec/template/spec/containers",
                json!([{"image": "x"}]),
                "spec.template.spec.containers[0].name",
            ),
            (
                "/spec/template/spec/containers",
                json!([]),
                "spec.template.spec.containers",
            ),
        ];
        for (pointer, value, field) in cases {
            let mut bad = good.clone();
            *bad.pointer_mut(pointer).unwrap() = value;
            let causes = object(def, &bad, None);
            assert!(
                causes.iter().any(|c| c.field == field),
                "{field}: {causes:?}"
            );
        }
        let mut changed = good.clone();
        changed["spec"]["selector"] = json!({"matchLabels": {"app": "e"}});
        changed["spec"]["template"]["metadata"]["labels"] = json!({"app": "e"});
        assert!(
            object(def, &changed, Some(&good))
                .iter()
                .any(|c| c.message.contains("immutable"))
        );
    }

    #[test]
    fn service_ports_need_a_port() {
        let def = lookup("", "v1", "services").unwrap();
        let svc = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"targetPort": 80}]}});
        let causes = object(def, &svc, None);
        assert_eq!(causes[0].field, "spec.ports[0].port");
        assert_eq!(causes[0].reason, "FieldValueRequired");
    }
}
