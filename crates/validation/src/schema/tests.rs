use serde_json::{Value, json};

use super::*;

/// The seed's demo Deployment, a fixture of the engine's tests too.
const SEED: &str = include_str!("../../../engine/tests/fixtures/templates/seed-demo.yaml");

fn seed() -> Value {
    serde_saphyr::from_str(SEED).unwrap()
}

fn check(object: &Value) -> Vec<Cause> {
    check_fields(
        object["apiVersion"].as_str().unwrap_or_default(),
        object["kind"].as_str().unwrap_or_default(),
        object,
    )
}

/// `object` with `value` set at the JSON pointer `at` (its parent must exist).
fn with(mut object: Value, at: &str, value: Value) -> Value {
    let (parent, key) = at.rsplit_once('/').unwrap();
    match object.pointer_mut(parent).unwrap() {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        other => panic!("{parent} is {other}"),
    }
    object
}

fn service(ports: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": ports},
    })
}

#[test]
fn every_embedded_schema_is_the_version_it_is_listed_as() {
    for version in VERSIONS {
        let schema = Schema::for_version(version).unwrap();
        assert_eq!(schema.kubernetes_version(), *version);
        assert!(schema.knows("apps/v1", "Deployment"), "{version}");
    }
    assert_eq!(VERSIONS.last(), Some(&KUBERNETES_VERSION));
    for (given, found) in [
        ("1.33", Some("1.33.0")),
        ("v1.36", Some("1.36.0")),
        ("1.35.2", Some("1.35.0")),
        ("1.20", None),
        ("2.0", None),
        ("1", None),
        ("1.33.x", None),
        ("", None),
    ] {
        assert_eq!(supported_version(given), found, "{given}");
    }
}

#[test]
fn a_field_newer_than_the_target_version_is_refused() {
    let newest = Schema::for_version("1.37").unwrap();
    let oldest = Schema::for_version("1.31").unwrap();
    let pod = |spec: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec});
    // `hostnameOverride` is a PodSpec field of 1.34 and later.
    let object =
        pod(json!({"containers": [{"name": "c", "image": "nginx"}], "hostnameOverride": "x"}));
    assert!(newest.check("v1", "Pod", &object).is_empty());
    let causes = oldest.check("v1", "Pod", &object);
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert!(
        causes[0].message.contains("Kubernetes 1.31.0"),
        "{causes:?}"
    );
}

#[test]
fn the_embedded_schema_is_the_version_named() {
    let schema = Schema::embedded();
    assert_eq!(schema.kubernetes_version(), KUBERNETES_VERSION);
    for (api_version, kind) in [
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("batch/v1", "CronJob"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("networking.k8s.io/v1", "Ingress"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ] {
        assert!(schema.knows(api_version, kind), "{api_version} {kind}");
    }
    assert!(!schema.knows("example.com/v1", "Widget"));
    assert!(!schema.knows("extensions/v1beta1", "Deployment"));
}

#[test]
fn the_seed_deployment_passes() {
    assert_eq!(check(&seed()), []);
}

#[test]
fn unknown_fields_are_named_at_every_depth_with_a_close_name_suggested() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("/spce", "spce", Some("spec")),
        ("/metadata/lables", "metadata.lables", Some("labels")),
        ("/spec/replicsa", "spec.replicsa", Some("replicas")),
        ("/spec/flavour", "spec.flavour", None),
        (
            "/spec/template/spec/restartpolicy",
            "spec.template.spec.restartpolicy",
            Some("restartPolicy"),
        ),
        (
            "/spec/template/spec/containers/0/imagePullPolcy",
            "spec.template.spec.containers[0].imagePullPolcy",
            Some("imagePullPolicy"),
        ),
        (
            "/spec/template/spec/containers/0/ImagePullPolicy",
            "spec.template.spec.containers[0].ImagePullPolicy",
            Some("imagePullPolicy"),
        ),
        (
            "/spec/template/spec/containers/0/imagePullPolicyXYZ",
            "spec.template.spec.containers[0].imagePullPolicyXYZ",
            None,
        ),
        (
            "/spec/template/spec/containers/0/ports/0/containerport",
            "spec.template.spec.containers[0].ports[0].containerport",
            Some("containerPort"),
        ),
        (
            "/spec/template/spec/containers/0/resources/limitz",
            "spec.template.spec.containers[0].resources.limitz",
            Some("limits"),
        ),
        (
            "/spec/template/spec/containers/0/readinessProbe/tcpSocket/prot",
            "spec.template.spec.containers[0].readinessProbe.tcpSocket.prot",
            Some("port"),
        ),
        ("/status/replica", "status.replica", Some("replicas")),
    ];
    for &(at, field, suggested) in cases {
        let object = with(seed(), "/status", json!({}));
        let causes = check(&with(object, at, json!("x")));
        assert_eq!(causes.len(), 1, "{at}: {causes:?}");
        let cause = &causes[0];
        assert_eq!(cause.reason, UNKNOWN_FIELD, "{at}");
        assert_eq!(cause.field, field, "{at}");
        assert!(
            cause.message.contains("Kubernetes 1.37.0 has no field"),
            "{at}: {}",
            cause.message
        );
        match suggested {
            Some(name) => assert!(
                cause
                    .message
                    .ends_with(&format!(", did you mean {name:?}?")),
                "{at}: {}",
                cause.message
            ),
            None => assert!(!cause.message.contains("did you mean"), "{at}: {cause}"),
        }
    }
}

#[test]
fn values_of_the_wrong_type_are_refused() {
    let containers = "/spec/template/spec/containers";
    let cases = [
        (
            "/spec/replicas",
            json!("two"),
            "spec.replicas",
            r#""two": must be an integer"#,
        ),
        (
            "/spec/replicas",
            json!(1.5),
            "spec.replicas",
            "1.5: must be an integer",
        ),
        (
            "/spec/paused",
            json!("yes"),
            "spec.paused",
            "must be a boolean",
        ),
        (
            containers,
            json!({"name": "demo", "image": "nginx"}),
            "spec.template.spec.containers",
            "a mapping: must be a list",
        ),
        (
            "/metadata/labels",
            json!(["app=demo"]),
            "metadata.labels",
            "a list: must be a mapping",
        ),
        (
            "/metadata/labels/version",
            json!(2),
            "metadata.labels[version]",
            "2: must be a string",
        ),
        (
            "/spec/template/spec/containers/0/image",
            json!(["nginx"]),
            "spec.template.spec.containers[0].image",
            "a list: must be a string",
        ),
        (
            "/spec/template/spec/containers/0/ports/0",
            json!(8080),
            "spec.template.spec.containers[0].ports[0]",
            "8080: must be a mapping",
        ),
        (
            "/spec/strategy/rollingUpdate/maxUnavailable",
            json!(true),
            "spec.strategy.rollingUpdate.maxUnavailable",
            "true: must be an integer or a string",
        ),
        (
            "/spec/template/spec/containers/0/resources/limits/cpu",
            json!([1]),
            "spec.template.spec.containers[0].resources.limits[cpu]",
            "a list: must be a number or a string",
        ),
    ];
    for (at, value, field, words) in cases {
        let causes = check(&with(seed(), at, value));
        assert_eq!(causes.len(), 1, "{at}: {causes:?}");
        assert_eq!(causes[0].reason, TYPE_INVALID, "{at}");
        assert_eq!(causes[0].field, field, "{at}");
        assert!(
            causes[0].message.starts_with("Invalid value: ") && causes[0].message.ends_with(words),
            "{at}: {}",
            causes[0].message
        );
    }
}

#[test]
fn int_or_string_and_quantities_take_either_form_and_null_is_unset() {
    let accepted = [
        ("/spec/strategy/rollingUpdate/maxUnavailable", json!(1)),
        ("/spec/strategy/rollingUpdate/maxUnavailable", json!("25%")),
        (
            "/spec/template/spec/containers/0/readinessProbe/tcpSocket/port",
            json!("http"),
        ),
        (
            "/spec/template/spec/containers/0/resources/limits/cpu",
            json!(2),
        ),
        (
            "/spec/template/spec/containers/0/resources/limits/cpu",
            json!(0.5),
        ),
        (
            "/spec/template/spec/containers/0/resources/limits/cpu",
            json!("500m"),
        ),
        ("/spec/replicas", Value::Null),
        ("/spec/template/spec/containers/0/ports", Value::Null),
    ];
    for (at, value) in accepted {
        let causes = check(&with(seed(), at, value.clone()));
        assert_eq!(causes, [], "{at} = {value}");
    }
    for port in [json!(80), json!("http")] {
        let ports = json!([{"port": 80, "targetPort": port}]);
        assert_eq!(check(&service(ports.clone())), [], "{ports}");
    }
}

#[test]
fn maps_take_any_key() {
    let labels = json!({
        "app.kubernetes.io/name": "demo",
        "example.com/Odd_Key-1": "",
        "x": "y",
    });
    assert_eq!(check(&with(seed(), "/metadata/labels", labels.clone())), []);
    assert_eq!(check(&with(seed(), "/metadata/annotations", labels)), []);
    let config = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"app.properties": "a=1", "LOG_LEVEL": "debug", "imagePullPolcy": "x"},
        "binaryData": {"blob": "AAEC"},
    });
    assert_eq!(check(&config), []);
    let config = with(config, "/data/LOG_LEVEL", json!(3));
    assert_eq!(check(&config)[0].field, "data[LOG_LEVEL]");
}

#[test]
fn status_is_allowed_and_typed() {
    let object = with(
        seed(),
        "/status",
        json!({"replicas": 1, "readyReplicas": 1}),
    );
    assert_eq!(check(&object), []);
    let causes = check(&with(object, "/status/replicas", json!("one")));
    assert_eq!(causes[0].field, "status.replicas");
}

#[test]
fn free_form_and_preserved_fields_take_anything() {
    let schema = Schema::parse(
        r#"{"kubernetes": "0.0.1", "kinds": {"example/v1": {"Thing": "example.Thing"}},
            "types": {"example.Thing": {"kind": "string", "apiVersion": "string",
                      "raw": "object", "preserved": "any", "spec": "example.Spec"},
                      "example.Spec": {"size": "integer", "nested": "[{example.Spec}]"}}}"#,
    )
    .unwrap();
    let thing = json!({
        "apiVersion": "example/v1",
        "kind": "Thing",
        "raw": {"anything": [1, {"goes": true}]},
        "preserved": [{"here": "too"}, 3, "x"],
        "spec": {"size": 1, "nested": [{"a": {"size": 2, "nested": []}}]},
    });
    assert_eq!(schema.check("example/v1", "Thing", &thing), []);
    let causes = schema.check("example/v1", "Thing", &with(thing, "/raw", json!(3)));
    assert_eq!(causes[0].field, "raw");
    let wrong = json!({"spec": {"nested": [{"a": {"sise": 2}}]}});
    let causes = schema.check("example/v1", "Thing", &wrong);
    assert_eq!(causes[0].field, "spec.nested[0][a].sise");
    assert!(causes[0].message.ends_with("did you mean \"size\"?"));
}

#[test]
fn custom_resources_and_kinds_not_served_are_left_to_the_cluster() {
    let widget = json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "whatever": 1},
        "spec": {"anything": ["goes"]},
    });
    assert_eq!(check(&widget), []);
    let old = with(seed(), "/apiVersion", json!("extensions/v1beta1"));
    assert_eq!(check(&with(old, "/spec/bogus", json!(1))), []);
}

#[test]
fn hostile_objects_end_quickly_with_a_bounded_answer() {
    // Deep nesting: under an unknown field, a map's value and a free-form field.
    // (serde_json drops and clones a value recursively, so the depth stays at what a test
    // thread's stack takes; the walk itself is bounded by MAX_WALK_DEPTH.)
    let mut deep = json!("leaf");
    for _ in 0..300 {
        deep = json!({ "a": [deep] });
    }
    for at in [
        "/spec/deep",
        "/metadata/labels/deep",
        "/spec/template/spec/containers/0/resources/limits/cpu",
        "/spec/template/spec/containers/0/env",
    ] {
        let causes = check(&with(seed(), at, deep.clone()));
        assert!((1..=MAX_CAUSES).contains(&causes.len()), "{at}");
    }

    // Deep along a schema type that holds itself: the walk stops at MAX_WALK_DEPTH.
    let schema = Schema::parse(
        r#"{"kubernetes": "0", "kinds": {"v1": {"Tree": "Tree"}},
            "types": {"Tree": {"children": "[Tree]", "name": "string"}}}"#,
    )
    .unwrap();
    let mut tree = json!({"name": 1});
    for _ in 0..300 {
        tree = json!({ "children": [tree] });
    }
    assert_eq!(schema.check("v1", "Tree", &tree), []);
    let mut tree = json!({"name": 1});
    for _ in 0..50 {
        tree = json!({ "children": [tree] });
    }
    let causes = schema.check("v1", "Tree", &tree);
    assert_eq!(causes.len(), 1);
    assert!(causes[0].field.ends_with("children[0].name"));

    // A huge key: shortened in the path, no suggestion tried.
    let huge = "imagePullPolicy".repeat(70_000);
    let causes = check(&with(
        seed(),
        &format!("/spec/template/spec/containers/0/{huge}"),
        json!(1),
    ));
    assert_eq!(causes.len(), 1);
    assert!(causes[0].field.len() < 200, "{}", causes[0].field.len());
    assert!(causes[0].message.len() < 300, "{}", causes[0].message.len());
    assert!(!causes[0].message.contains("did you mean"));

    // A huge string where a number belongs.
    let causes = check(&with(
        seed(),
        "/spec/replicas",
        json!("9".repeat(1_000_000)),
    ));
    assert!(causes[0].message.len() < 200, "{}", causes[0].message.len());

    // Many unknown fields, and many wrong items: no more than MAX_CAUSES.
    let mut spec = serde_json::Map::new();
    for i in 0..10_000 {
        spec.insert(format!("field{i}"), json!(i));
    }
    assert_eq!(
        check(&with(seed(), "/spec", Value::Object(spec))).len(),
        MAX_CAUSES
    );
    let args = Value::Array((0..10_000).map(|i| json!(i)).collect());
    let causes = check(&with(seed(), "/spec/template/spec/containers/0/args", args));
    assert_eq!(causes.len(), MAX_CAUSES);
}

#[test]
fn edit_distance_counts_swaps_as_one() {
    let d = |a: &str, b: &str| {
        edit_distance(
            &a.chars().collect::<Vec<_>>(),
            &b.chars().collect::<Vec<_>>(),
        )
    };
    assert_eq!(d("", "abc"), 3);
    assert_eq!(d("abc", "abc"), 0);
    assert_eq!(d("ab", "ba"), 1);
    assert_eq!(d("kitten", "sitting"), 3);
    assert_eq!(d("imagepullpolcy", "imagepullpolicy"), 1);
    assert_eq!(
        suggestion("replcias", ["replicas", "selector"].into_iter()),
        Some("replicas")
    );
    assert_eq!(suggestion("tty", ["tty", "stdin"].into_iter()), Some("tty"));
    assert_eq!(suggestion("xyz", ["tty", "stdin"].into_iter()), None);
}

#[test]
fn broken_schemas_are_refused() {
    for text in [
        "",
        "{}",
        r#"{"kubernetes": "1", "kinds": {}, "types": {"a": {"f": "strong"}}}"#,
        r#"{"kubernetes": "1", "kinds": {"v1": {"A": "missing"}}, "types": {}}"#,
    ] {
        assert!(Schema::parse(text).is_err(), "{text}");
    }
}
