use serde_json::{Value, json};

use super::*;

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web",
                    "image": "nginx:1.27",
                    "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                    "env": [{"name": "MODE", "value": "x"}],
                    "resources": {"limits": {"cpu": "1", "memory": "512Mi"},
                                  "requests": {"cpu": "100m", "memory": 1024}}
                }]}
            }
        }
    })
}

/// Sets the field at `pointer`, adding it to its parent mapping when it is missing.
fn set(object: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    match object.pointer_mut(parent).expect("the parent exists") {
        Value::Array(items) => items[key.parse::<usize>().expect("an index")] = value,
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        _ => panic!("{parent} is not a container"),
    }
}

#[test]
fn a_plain_deployment_is_valid() {
    assert_eq!(validate("apps", "Deployment", &deployment()), vec![]);
}

/// Each case sets one field of a valid Deployment (a JSON pointer) and names the field path
/// the API server would report.
#[test]
fn deployment_mistakes_name_their_field() {
    let cases: &[(&str, Value, &str, &str)] = &[
        ("/spec", Value::Null, "spec.selector", "Required value"),
        (
            "/spec/replicas",
            json!(-1),
            "spec.replicas",
            "greater than or equal to 0",
        ),
        (
            "/spec/selector",
            json!({}),
            "spec.selector",
            "empty selector",
        ),
        (
            "/spec/selector/matchLabels/app",
            json!("api"),
            "spec.template.metadata.labels",
            "does not match",
        ),
        (
            "/spec/template/spec/containers",
            json!([]),
            "spec.template.spec.containers",
            "Required value",
        ),
        (
            "/spec/template/spec/containers/0/name",
            json!("Bad_Name"),
            "spec.template.spec.containers[0].name",
            "RFC 1123 label",
        ),
        (
            "/spec/template/spec/containers/0/image",
            json!("bad image name"),
            "spec.template.spec.containers[0].image",
            "image reference",
        ),
        (
            "/spec/template/spec/containers/0/image",
            json!(""),
            "spec.template.spec.containers[0].image",
            "Required value",
        ),
        (
            "/spec/template/spec/containers/0/ports/0/containerPort",
            json!(70000),
            "spec.template.spec.containers[0].ports[0].containerPort",
            "between 1 and 65535",
        ),
        (
            "/spec/template/spec/containers/0/ports/0/protocol",
            json!("HTTP"),
            "spec.template.spec.containers[0].ports[0].protocol",
            "Unsupported value",
        ),
        (
            "/spec/template/spec/containers/0/env/0/name",
            json!("1 BAD"),
            "spec.template.spec.containers[0].env[0].name",
            "environment variable name",
        ),
        (
            "/spec/template/spec/containers/0/resources/limits/cpu",
            json!("lots"),
            "spec.template.spec.containers[0].resources.limits[cpu]",
            "must match the regex",
        ),
        (
            "/spec/template/spec/containers/0/resources/limits/memory",
            json!("-5Gi"),
            "spec.template.spec.containers[0].resources.limits[memory]",
            "greater than or equal to 0",
        ),
        (
            "/spec/template/spec/containers/0/resources/requests/cpu",
            json!("2"),
            "spec.template.spec.containers[0].resources.requests",
            "less than or equal to cpu limit",
        ),
        (
            "/spec/template/spec/containers/0/imagePullPolicy",
            json!("Sometimes"),
            "spec.template.spec.containers[0].imagePullPolicy",
            "Unsupported value",
        ),
        (
            "/spec/template/spec/restartPolicy",
            json!("Never"),
            "spec.template.spec.restartPolicy",
            "Unsupported value",
        ),
        (
            "/spec/template/spec/dnsPolicy",
            json!("Google"),
            "spec.template.spec.dnsPolicy",
            "Unsupported value",
        ),
        (
            "/spec/strategy",
            json!({"type": "Teleport"}),
            "spec.strategy.type",
            "Unsupported value",
        ),
        (
            "/spec/template/metadata/labels/app",
            json!("a web"),
            "spec.template.metadata.labels",
            "does not match",
        ),
        (
            "/metadata/labels/app",
            json!("has space"),
            "metadata.labels",
            "valid label",
        ),
        (
            "/metadata/labels",
            json!({"bad key!": "x"}),
            "metadata.labels",
            "name part",
        ),
        (
            "/metadata/name",
            json!("Web"),
            "metadata.name",
            "RFC 1123 subdomain",
        ),
        (
            "/metadata/annotations",
            json!({"a": "x".repeat(300 * 1024)}),
            "metadata.annotations",
            "Too long",
        ),
    ];
    for (pointer, value, field, message) in cases {
        let mut object = deployment();
        set(&mut object, pointer, value.clone());
        let causes = validate("apps", "Deployment", &object);
        assert!(
            causes
                .iter()
                .any(|c| c.field == *field && c.message.contains(message)),
            "{pointer}: expected {field} ({message}), got {causes:?}"
        );
    }
}

#[test]
fn duplicate_container_names_across_init_containers_are_refused() {
    let mut object = deployment();
    object["spec"]["template"]["spec"]["initContainers"] =
        json!([{"name": "web", "image": "busybox"}]);
    let causes = validate("apps", "Deployment", &object);
    assert!(
        causes
            .iter()
            .any(|c| c.field == "spec.template.spec.initContainers[0].name"
                && c.reason == "FieldValueDuplicate"),
        "{causes:?}"
    );
}

#[test]
fn names_follow_the_kind() {
    let cases = [
        ("", "Service", "1web", false),
        ("", "Service", "web-1", true),
        ("", "Service", "web.v2", false),
        ("", "Namespace", "1team", true),
        ("", "ConfigMap", "web.v2", true),
        (
            "rbac.authorization.k8s.io",
            "ClusterRole",
            "system:viewer",
            true,
        ),
        ("rbac.authorization.k8s.io", "ClusterRole", "a/b", false),
        ("example.com", "Widget", "my.widget", true),
        ("example.com", "Widget", "My_Widget", false),
    ];
    for (group, kind, name, ok) in cases {
        let object = json!({"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}});
        let causes: Vec<_> = validate(group, kind, &object)
            .into_iter()
            .filter(|c| c.field == "metadata.name")
            .collect();
        assert_eq!(causes.is_empty(), ok, "{kind} {name}: {causes:?}");
    }
}

#[test]
fn custom_resources_are_checked_for_metadata_only() {
    let object = json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"replicas": -1, "containers": [], "anything": {"goes": true}}
    });
    assert_eq!(validate("example.com", "Widget", &object), vec![]);
}

#[test]
fn jobs_need_a_restart_policy_they_allow() {
    let job = |policy: Value| {
        json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {
            "restartPolicy": policy, "containers": [{"name": "j", "image": "busybox"}]}}}})
    };
    let field = "spec.template.spec.restartPolicy";
    for (policy, reason) in [
        (json!("Never"), None),
        (json!("OnFailure"), None),
        (Value::Null, Some("FieldValueRequired")),
        (json!("Always"), Some("FieldValueNotSupported")),
        (json!("Sometimes"), Some("FieldValueNotSupported")),
    ] {
        let causes = validate("batch", "Job", &job(policy.clone()));
        let found = causes.iter().find(|c| c.field == field).map(|c| c.reason);
        assert_eq!(found, reason, "{policy}: {causes:?}");
    }
}

#[test]
fn hostile_shapes_do_not_panic() {
    let shapes = [
        json!(null),
        json!([]),
        json!("text"),
        json!({"metadata": "x"}),
        json!({"metadata": {"name": 5, "labels": [1], "annotations": "a"}}),
        json!({"metadata": {"name": "x"}, "spec": []}),
        json!({"metadata": {"name": "x"}, "spec": {"selector": "a=b", "template": 5}}),
        json!({"metadata": {"name": "x"}, "spec": {"template": {"spec": {"containers": [5, {"ports": "x", "env": [1], "resources": {"limits": [1]}}]}}}}),
        json!({"metadata": {"name": "x"}, "spec": {"ports": [{"port": "80", "targetPort": -1}]}}),
    ];
    for kind in [
        "Deployment",
        "StatefulSet",
        "Job",
        "CronJob",
        "Service",
        "Pod",
        "Ingress",
    ] {
        for shape in &shapes {
            let group = match kind {
                "Deployment" | "StatefulSet" => "apps",
                "Job" | "CronJob" => "batch",
                "Ingress" => "networking.k8s.io",
                _ => "",
            };
            let _ = validate(group, kind, shape);
        }
    }
}
