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
        json!({"metadata": {"name": "x"}, "spec": {"template": {"spec": {"volumes": [5, {"name": "v", "configMap": 5}],
            "securityContext": [], "containers": [{"name": "c", "image": "i", "livenessProbe": {"httpGet": 5, "exec": {"command": "x"}},
            "securityContext": {"runAsUser": "root", "privileged": "yes"}, "volumeMounts": [{"mountPath": 5}]}]}}}}),
        json!({"metadata": {"name": "x"}, "spec": {"minAvailable": [], "maxUnavailable": {"a": 1}, "podSelector": 5,
            "ingress": [5, {"ports": [{"port": [], "endPort": "x"}], "from": [{"ipBlock": {"cidr": 5, "except": [1]}}]}],
            "egress": "x", "policyTypes": "Ingress"}}),
        json!({"metadata": {"name": "x"}, "spec": {"egress": [{"to": [{"ipBlock": {"cidr": "::/0", "except": ["::/128", "0.0.0.0/0", "10.0.0.0/99999999999"]}}]}]}}),
        json!({"metadata": {"name": "x"}, "spec": {"template": {"spec": {"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [5, {"matchExpressions": [5, {"key": 5, "operator": 5, "values": "x"}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [5, {"weight": "x", "preference": 5}]},
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [5, {"topologyKey": 5, "labelSelector": 5}]},
            "podAntiAffinity": 5}}}}}),
    ];
    for kind in [
        "Deployment",
        "StatefulSet",
        "Job",
        "CronJob",
        "Service",
        "Pod",
        "Ingress",
        "PodDisruptionBudget",
        "NetworkPolicy",
    ] {
        for shape in &shapes {
            let group = match kind {
                "Deployment" | "StatefulSet" => "apps",
                "Job" | "CronJob" => "batch",
                "Ingress" | "NetworkPolicy" => "networking.k8s.io",
                "PodDisruptionBudget" => "policy",
                _ => "",
            };
            let _ = validate(group, kind, shape);
        }
    }
}

/// A Deployment that uses probes, volumes and security contexts the way real charts do.
fn deployment_with_everything() -> Value {
    let mut object = deployment();
    let pod = &mut object["spec"]["template"]["spec"];
    pod["securityContext"] = json!({"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000,
                                    "supplementalGroups": [4000], "fsGroupChangePolicy": "OnRootMismatch"});
    pod["volumes"] = json!([
        {"name": "config", "configMap": {"name": "web-config", "items": [{"key": "a", "path": "a"}]}},
        {"name": "tls", "secret": {"secretName": "web-tls"}},
        {"name": "cache", "emptyDir": {}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}},
        {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}}
    ]);
    let container = &mut pod["containers"][0];
    container["livenessProbe"] = json!({"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                                        "initialDelaySeconds": 5, "periodSeconds": 10, "successThreshold": 1,
                                        "terminationGracePeriodSeconds": 30});
    container["readinessProbe"] =
        json!({"tcpSocket": {"port": 80}, "failureThreshold": 3, "successThreshold": 2});
    container["startupProbe"] = json!({"exec": {"command": ["cat", "/tmp/ready"]}});
    container["securityContext"] = json!({"runAsUser": 0, "allowPrivilegeEscalation": false,
                                          "capabilities": {"drop": ["ALL"]}, "procMount": "Default"});
    container["volumeMounts"] = json!([
        {"name": "config", "mountPath": "/etc/web"},
        {"name": "tls", "mountPath": "/etc/tls", "readOnly": true},
        {"name": "cache", "mountPath": "/cache"}
    ]);
    object
}

#[test]
fn probes_volumes_and_security_contexts_as_charts_write_them_are_valid() {
    assert_eq!(
        validate("apps", "Deployment", &deployment_with_everything()),
        vec![]
    );
}

/// Each case sets one field of [`deployment_with_everything`] and names the field path and
/// words of the API server's answer.
#[test]
fn probe_volume_and_security_context_mistakes_name_their_field() {
    const C: &str = "/spec/template/spec/containers/0";
    const P: &str = "spec.template.spec.containers[0]";
    let cases: Vec<(String, Value, String, &str)> = vec![
        (
            format!("{C}/livenessProbe"),
            json!({"periodSeconds": 5}),
            format!("{P}.livenessProbe"),
            "must specify a handler type",
        ),
        (
            format!("{C}/livenessProbe"),
            json!({"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}),
            format!("{P}.livenessProbe.tcpSocket"),
            "may not specify more than 1 handler type",
        ),
        (
            format!("{C}/startupProbe"),
            json!({"exec": {"command": []}}),
            format!("{P}.startupProbe.exec.command"),
            "Required value",
        ),
        (
            format!("{C}/readinessProbe"),
            json!({"httpGet": {"path": "/"}}),
            format!("{P}.readinessProbe.httpGet.port"),
            "Required value",
        ),
        (
            format!("{C}/readinessProbe"),
            json!({"tcpSocket": {"port": 70000}}),
            format!("{P}.readinessProbe.tcpSocket.port"),
            "between 1 and 65535",
        ),
        (
            format!("{C}/readinessProbe"),
            json!({"tcpSocket": {"port": "Not_A_Name"}}),
            format!("{P}.readinessProbe.tcpSocket.port"),
            "Invalid value",
        ),
        (
            format!("{C}/readinessProbe"),
            json!({"grpc": {"port": "grpc"}}),
            format!("{P}.readinessProbe.grpc.port"),
            "must be an integer",
        ),
        (
            format!("{C}/livenessProbe"),
            json!({"httpGet": {"port": 80, "scheme": "FTP"}}),
            format!("{P}.livenessProbe.httpGet.scheme"),
            "Unsupported value",
        ),
        (
            format!("{C}/livenessProbe"),
            json!({"tcpSocket": {"port": 80}, "periodSeconds": -1}),
            format!("{P}.livenessProbe.periodSeconds"),
            "greater than or equal to 0",
        ),
        (
            format!("{C}/livenessProbe"),
            json!({"tcpSocket": {"port": 80}, "successThreshold": 3}),
            format!("{P}.livenessProbe.successThreshold"),
            "must be 1",
        ),
        (
            format!("{C}/readinessProbe"),
            json!({"tcpSocket": {"port": 80}, "terminationGracePeriodSeconds": 5}),
            format!("{P}.readinessProbe.terminationGracePeriodSeconds"),
            "Forbidden",
        ),
        (
            format!("{C}/livenessProbe"),
            json!("curl localhost"),
            format!("{P}.livenessProbe"),
            "must be a mapping",
        ),
        (
            "/spec/template/spec/volumes/2".into(),
            json!({"name": "cache"}),
            "spec.template.spec.volumes[2]".into(),
            "must specify a volume type",
        ),
        (
            "/spec/template/spec/volumes/2".into(),
            json!({"name": "cache", "emptyDir": {}, "configMap": {"name": "x"}}),
            "spec.template.spec.volumes[2].configMap".into(),
            "may not specify more than 1 volume type",
        ),
        (
            "/spec/template/spec/volumes/0".into(),
            json!({"name": "config", "configMap": {}}),
            "spec.template.spec.volumes[0].configMap.name".into(),
            "Required value",
        ),
        (
            "/spec/template/spec/volumes/1".into(),
            json!({"name": "tls", "secret": {"secretName": ""}}),
            "spec.template.spec.volumes[1].secret.secretName".into(),
            "Required value",
        ),
        (
            "/spec/template/spec/volumes/3".into(),
            json!({"name": "data", "persistentVolumeClaim": {}}),
            "spec.template.spec.volumes[3].persistentVolumeClaim.claimName".into(),
            "Required value",
        ),
        (
            "/spec/template/spec/volumes/4".into(),
            json!({"name": "host", "hostPath": {"path": "/x", "type": "Folder"}}),
            "spec.template.spec.volumes[4].hostPath.type".into(),
            "Unsupported value",
        ),
        (
            format!("{C}/volumeMounts/2"),
            json!({"name": "cache", "mountPath": "/etc/web"}),
            format!("{P}.volumeMounts[2].mountPath"),
            "must be unique",
        ),
        (
            format!("{C}/volumeMounts/2"),
            json!({"name": "missing", "mountPath": "/m"}),
            format!("{P}.volumeMounts[2].name"),
            "Not found",
        ),
        (
            "/spec/template/spec/securityContext/runAsUser".into(),
            json!(-1),
            "spec.template.spec.securityContext.runAsUser".into(),
            "between 0 and 2147483647",
        ),
        (
            "/spec/template/spec/securityContext/supplementalGroups".into(),
            json!([1, 3_000_000_000_i64]),
            "spec.template.spec.securityContext.supplementalGroups[1]".into(),
            "between 0 and 2147483647",
        ),
        (
            "/spec/template/spec/securityContext/fsGroupChangePolicy".into(),
            json!("Sometimes"),
            "spec.template.spec.securityContext.fsGroupChangePolicy".into(),
            "Unsupported value",
        ),
        (
            format!("{C}/securityContext/runAsGroup"),
            json!("root"),
            format!("{P}.securityContext.runAsGroup"),
            "between 0 and 2147483647",
        ),
        (
            format!("{C}/securityContext/privileged"),
            json!(true),
            format!("{P}.securityContext"),
            "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
        ),
        (
            format!("{C}/securityContext/procMount"),
            json!("Masked"),
            format!("{P}.securityContext.procMount"),
            "Unsupported value",
        ),
    ];
    for (pointer, value, field, message) in &cases {
        let mut object = deployment_with_everything();
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
fn disruption_budgets_take_one_limit_as_a_count_or_a_percentage() {
    let budget = |spec: Value| {
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
               "metadata": {"name": "web"}, "spec": spec})
    };
    let valid = [
        json!({"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}),
        json!({"maxUnavailable": "25%", "unhealthyPodEvictionPolicy": "AlwaysAllow"}),
        json!({"minAvailable": "100%"}),
    ];
    for spec in valid {
        assert_eq!(
            validate("policy", "PodDisruptionBudget", &budget(spec.clone())),
            vec![],
            "{spec}"
        );
    }
    let invalid = [
        (
            json!({"minAvailable": 1, "maxUnavailable": 1}),
            "spec",
            "cannot be both set",
        ),
        (
            json!({"minAvailable": -1}),
            "spec.minAvailable",
            "greater than or equal to 0",
        ),
        (
            json!({"maxUnavailable": "150%"}),
            "spec.maxUnavailable",
            "not be greater than 100%",
        ),
        (
            json!({"maxUnavailable": "half"}),
            "spec.maxUnavailable",
            "valid percent string",
        ),
        (
            json!({"maxUnavailable": "%"}),
            "spec.maxUnavailable",
            "valid percent string",
        ),
        (
            json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "bad value"}}}),
            "spec.selector.matchLabels",
            "Invalid value",
        ),
        (
            json!({"minAvailable": 1, "unhealthyPodEvictionPolicy": "Never"}),
            "spec.unhealthyPodEvictionPolicy",
            "Unsupported value",
        ),
    ];
    for (spec, field, message) in invalid {
        let causes = validate("policy", "PodDisruptionBudget", &budget(spec.clone()));
        assert!(
            causes
                .iter()
                .any(|c| c.field == field && c.message.contains(message)),
            "{spec}: expected {field} ({message}), got {causes:?}"
        );
    }
}

#[test]
fn network_policies_check_selectors_ports_and_ip_blocks() {
    let policy = |spec: Value| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "web"}, "spec": spec})
    };
    let valid = json!({
        "podSelector": {"matchLabels": {"app": "web"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"role": "fe"}}},
                              {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                     "ports": [{"protocol": "TCP", "port": 80}, {"port": "http"},
                               {"port": 8000, "endPort": 8080}]}],
        "egress": [{"to": [{"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48"]}}]}]
    });
    assert_eq!(
        validate("networking.k8s.io", "NetworkPolicy", &policy(valid)),
        vec![]
    );
    assert_eq!(
        validate(
            "networking.k8s.io",
            "NetworkPolicy",
            &policy(json!({"podSelector": {}}))
        ),
        vec![]
    );
    let invalid = [
        (json!({}), "spec.podSelector", "Required value"),
        (
            json!({"podSelector": {}, "policyTypes": ["Both"]}),
            "spec.policyTypes[0]",
            "Unsupported value",
        ),
        (
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": 0}]}]}),
            "spec.ingress[0].ports[0].port",
            "between 1 and 65535",
        ),
        (
            json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "ICMP"}]}]}),
            "spec.ingress[0].ports[0].protocol",
            "Unsupported value",
        ),
        (
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": 9000, "endPort": 80}]}]}),
            "spec.ingress[0].ports[0].endPort",
            "greater than or equal to `port`",
        ),
        (
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": "http", "endPort": 80}]}]}),
            "spec.ingress[0].ports[0].endPort",
            "non-numeric",
        ),
        (
            json!({"podSelector": {}, "ingress": [{"ports": [{"endPort": 80}]}]}),
            "spec.ingress[0].ports[0].port",
            "must be specified when endPort",
        ),
        (
            json!({"podSelector": {}, "ingress": [{"from": [{}]}]}),
            "spec.ingress[0].from[0]",
            "must specify a peer",
        ),
        (
            json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}),
            "spec.egress[0].to[0]",
            "may not specify both",
        ),
        (
            json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}),
            "spec.egress[0].to[0].ipBlock.cidr",
            "valid CIDR",
        ),
        (
            json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "office"}}]}]}),
            "spec.egress[0].to[0].ipBlock.cidr",
            "valid CIDR",
        ),
        (
            json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.0.0/16"]}}]}]}),
            "spec.egress[0].to[0].ipBlock.except[0]",
            "strict subset",
        ),
        (
            json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["192.168.0.0/24"]}}]}]}),
            "spec.egress[0].to[0].ipBlock.except[0]",
            "strict subset",
        ),
        (
            json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["::/120"]}}]}]}),
            "spec.egress[0].to[0].ipBlock.except[0]",
            "strict subset",
        ),
        (
            json!({"podSelector": {"matchLabels": {"app": "a b"}}}),
            "spec.podSelector.matchLabels",
            "Invalid value",
        ),
    ];
    for (spec, field, message) in invalid {
        let causes = validate("networking.k8s.io", "NetworkPolicy", &policy(spec.clone()));
        assert!(
            causes
                .iter()
                .any(|c| c.field == field && c.message.contains(message)),
            "{spec}: expected {field} ({message}), got {causes:?}"
        );
    }
}

#[test]
fn affinity_as_charts_write_it_is_valid_and_its_mistakes_name_their_field() {
    const A: &str = "/spec/template/spec/affinity";
    const F: &str = "spec.template.spec.affinity";
    let mut object = deployment();
    object["spec"]["template"]["spec"]["affinity"] = json!({
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]},
                                      {"key": "gpu", "operator": "DoesNotExist"},
                                      {"key": "cores", "operator": "Gt", "values": ["4"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 50, "preference": {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}}]
        },
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
                                                    "topologyKey": "topology.kubernetes.io/zone"}}]
        }
    });
    assert_eq!(validate("apps", "Deployment", &object), vec![]);
    let node = "nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution";
    let node_at = "nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";
    let cases: Vec<(String, Value, String, &str)> = vec![
        (
            format!("{A}/{node}"),
            json!({"nodeSelectorTerms": []}),
            format!("{F}.{node_at}"),
            "at least one node selector term",
        ),
        (
            format!("{A}/{node}"),
            json!({"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "In"}]}]}),
            format!("{F}.{node_at}[0].matchExpressions[0].values"),
            "must be specified when `operator` is 'In' or 'NotIn'",
        ),
        (
            format!("{A}/{node}"),
            json!({"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}]}),
            format!("{F}.{node_at}[0].matchExpressions[0].values"),
            "may not be specified",
        ),
        (
            format!("{A}/{node}"),
            json!({"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["many"]}]}]}),
            format!("{F}.{node_at}[0].matchExpressions[0].values"),
            "single value",
        ),
        (
            format!("{A}/{node}"),
            json!({"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "Like", "values": ["x"]}]}]}),
            format!("{F}.{node_at}[0].matchExpressions[0].operator"),
            "Unsupported value",
        ),
        (
            format!("{A}/{node}"),
            json!({"nodeSelectorTerms": [{"matchExpressions": [{"key": "bad key!", "operator": "Exists"}]}]}),
            format!("{F}.{node_at}[0].matchExpressions[0].key"),
            "Invalid value",
        ),
        (
            format!("{A}/nodeAffinity/preferredDuringSchedulingIgnoredDuringExecution/0/weight"),
            json!(0),
            format!("{F}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"),
            "range 1-100",
        ),
        (
            format!(
                "{A}/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/0/topologyKey"
            ),
            json!(""),
            format!(
                "{F}.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey"
            ),
            "can not be empty",
        ),
        (
            format!("{A}/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/0/weight"),
            json!(101),
            format!(
                "{F}.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"
            ),
            "range 1-100",
        ),
        (
            format!(
                "{A}/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/0/labelSelector"
            ),
            json!({"matchLabels": {"app": "a b"}}),
            format!(
                "{F}.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabels"
            ),
            "Invalid value",
        ),
        (
            A.to_owned(),
            json!("zone-a"),
            F.to_owned(),
            "must be a mapping",
        ),
    ];
    for (pointer, value, field, message) in &cases {
        let mut broken = object.clone();
        set(&mut broken, pointer, value.clone());
        let causes = validate("apps", "Deployment", &broken);
        assert!(
            causes
                .iter()
                .any(|c| c.field == *field && c.message.contains(message)),
            "{pointer}: expected {field} ({message}), got {causes:?}"
        );
    }
}
