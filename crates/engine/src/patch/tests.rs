use serde_json::json;

use super::*;

const SEED: &str = include_str!("../../tests/fixtures/templates/seed-demo.yaml");
const SEED_PATCH: &str = include_str!("../../tests/fixtures/templates/seed-demo-patch.json");
const WEB_STACK: &str = include_str!("../../tests/fixtures/templates/web-stack.yaml");

fn seed() -> Manifest {
    Manifest::parse(SEED).unwrap()
}

fn resource_patch(body: &str) -> Result<Patch> {
    Patch::parse(PatchType::Resource, body.as_bytes(), None)
}

fn apply_body(manifest: Manifest, body: &str) -> Result<Applied> {
    apply(manifest, &resource_patch(body)?)
}

#[test]
fn seed_patch_changes_only_the_image() {
    let before = seed();
    let applied = apply_body(before.clone(), SEED_PATCH).unwrap();
    assert_eq!(applied.changed.len(), 1);
    assert_eq!(applied.changed[0].name, "demo");
    let mut expected = before.documents()[0].value.clone();
    expected["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo:red");
    assert_eq!(applied.manifest.documents()[0].value, expected);
    // Ports, probes, resources and annotations are all still there, in the text too.
    let text = applied.manifest.text();
    // The re-rendered document is the user's text with one word changed.
    assert_eq!(
        text,
        SEED.replace("rollouts-demo:blue", "rollouts-demo:red")
    );
}

#[test]
fn kinds_match_case_insensitively_and_in_plural() {
    for kind in ["deployment", "Deployment", "DEPLOYMENT", "deployments"] {
        let body = SEED_PATCH.replace("\"deployment\"", &format!("{kind:?}"));
        let applied = apply_body(seed(), &body).unwrap();
        assert_eq!(applied.changed.len(), 1, "{kind}");
    }
}

#[test]
fn several_kinds_and_items_in_one_body() {
    let manifest = Manifest::parse(WEB_STACK).unwrap();
    let body = json!({"resource": {
        "deployment": [{"metadata": {"name": "web"}, "spec": {"replicas": 5}}],
        "service": {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80, "targetPort": 9090}]}},
        "configmap": {"metadata": {"name": "web-settings"}, "data": {"greeting": "hi"}}
    }});
    let applied = apply_body(manifest, &body.to_string()).unwrap();
    assert_eq!(applied.changed.len(), 3);
    let docs = applied.manifest.documents();
    assert_eq!(docs[0].value["spec"]["replicas"], 5);
    assert_eq!(docs[1].value["spec"]["ports"][0]["targetPort"], 9090);
    assert_eq!(docs[2].value["data"]["greeting"], "hi");
    // The untouched init container and env survive the Deployment patch.
    assert_eq!(
        docs[0].value["spec"]["template"]["spec"]["initContainers"][0]["name"],
        "migrate"
    );
}

#[test]
fn a_patch_that_changes_nothing_reports_no_change() {
    let body = SEED_PATCH.replace(":red", ":blue");
    let applied = apply_body(seed(), &body).unwrap();
    assert!(applied.changed.is_empty());
    assert_eq!(applied.manifest.text(), SEED);
}

#[test]
fn merge_and_json_patches_name_their_target() {
    let target = Target {
        kind: "deployment".into(),
        name: "demo".into(),
        ..Target::default()
    };
    let merge = Patch::parse(
        PatchType::Merge,
        br#"{"spec":{"replicas":3,"minReadySeconds":null}}"#,
        Some(target.clone()),
    )
    .unwrap();
    let applied = apply(seed(), &merge).unwrap();
    let spec = &applied.manifest.documents()[0].value["spec"];
    assert_eq!(spec["replicas"], 3);
    assert!(spec.get("minReadySeconds").is_none());

    let json_patch = Patch::parse(
        PatchType::Json,
        br#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"x:2"},
            {"op":"add","path":"/metadata/labels/tier","value":"web"}]"#,
        Some(target),
    )
    .unwrap();
    let applied = apply(seed(), &json_patch).unwrap();
    let value = &applied.manifest.documents()[0].value;
    assert_eq!(
        value["spec"]["template"]["spec"]["containers"][0]["image"],
        "x:2"
    );
    assert_eq!(value["metadata"]["labels"]["tier"], "web");

    // A merge patch that carries kind and name needs no separate target.
    let own = Patch::parse(
        PatchType::Merge,
        br#"{"kind":"Deployment","metadata":{"name":"demo"},"spec":{"replicas":4}}"#,
        None,
    )
    .unwrap();
    assert_eq!(
        apply(seed(), &own).unwrap().manifest.documents()[0].value["spec"]["replicas"],
        4
    );
}

#[test]
fn yaml_patches_are_accepted() {
    let body = "resource:\n  deployment:\n    metadata: {name: demo}\n    spec: {replicas: 2}\n";
    let applied = apply_body(seed(), body).unwrap();
    assert_eq!(applied.manifest.documents()[0].value["spec"]["replicas"], 2);
}

#[test]
fn media_types_map_to_patch_types() {
    for (media, expected) in [
        ("application/json", PatchType::Resource),
        ("application/json; charset=utf-8", PatchType::Resource),
        ("", PatchType::Resource),
        ("application/merge-patch+json", PatchType::Merge),
        ("Application/JSON-Patch+JSON", PatchType::Json),
        (
            "application/strategic-merge-patch+json",
            PatchType::Strategic,
        ),
    ] {
        assert_eq!(
            PatchType::from_media_type(media).unwrap(),
            expected,
            "{media}"
        );
    }
    let error = PatchType::from_media_type("text/html")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("text/html") && error.contains("merge-patch+json"),
        "{error}"
    );
}

/// Every way a patch can be wrong, each with the words its error must contain.
#[test]
fn bad_patches_are_refused_with_a_reason_and_change_nothing() {
    let cases: &[(&str, &str)] = &[
        ("", "the patch is empty"),
        ("   \n", "the patch is empty"),
        ("{", "not valid JSON"),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": \"demo\"}}}",
            "not valid JSON",
        ),
        ("[1, 2]", "must be a JSON object"),
        ("\"x\"", "must be a JSON object like {\"resource\""),
        ("key: [unclosed", "neither JSON nor YAML"),
        ("{}", "no \"resource\" field"),
        ("{\"resource\": {}}", "\"resource\" is empty"),
        ("{\"resource\": []}", "must be an object keyed by kind"),
        (
            "{\"resource\": {\"deployment\": {}}, \"extra\": 1}",
            "unexpected field \"extra\"",
        ),
        (
            "{\"resource\": {\"deployment\": {\"spec\": {}}}}",
            "has no metadata.name",
        ),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": 5}}}}",
            "metadata.name must be a string, found a number",
        ),
        (
            "{\"resource\": {\"deployment\": 7}}",
            "must be an object with metadata.name, found a number",
        ),
        ("{\"resource\": {\"deployment\": []}}", "is an empty list"),
        (
            "{\"resource\": {\"statefulset\": {\"metadata\": {\"name\": \"demo\"}}}}",
            "the template has no statefulset (it has: Deployment)",
        ),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": \"other\"}}}}",
            "no Deployment named \"other\" (it has: demo)",
        ),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": \"demo\", \"namespace\": \"prod\"}}}}",
            "in namespace \"prod\"",
        ),
        (
            "{\"resource\": {\"deployment\": {\"kind\": \"Service\", \"metadata\": {\"name\": \"demo\"}}}}",
            "sets kind to \"Service\"",
        ),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": \"demo\", \"labels\": null}, \"apiVersion\": null}}}",
            "apiVersion is missing",
        ),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": \"demo\"}, \"kind\": null}}}",
            "sets kind to null",
        ),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": \"demo\"}, \"spec\": {\"template\": {\"spec\": {\"containers\": [{\"image\": \"x\"}]}}}}}}",
            "spec.template.spec.containers: a list item has no \"name\"",
        ),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": \"demo\"}, \"spec\": {\"template\": {\"spec\": {\"containers\": [\"x\"]}}}}}}",
            "list items must all be of one type",
        ),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": \"demo\"}, \"spec\": {\"replicas\": \"three\"}}}}",
            "spec.replicas",
        ),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": \"demo\"}, \"spec\": {\"template\": {\"spec\": {\"containers\": {\"name\": \"x\"}}}}}}}",
            "containers",
        ),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": \"demo\"}, \"spec\": {\"template\": {\"spec\": {\"containers\": [{\"name\": \"demo\", \"image\": null}]}}}}}}",
            "containers[0].image is required",
        ),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": \"demo\"}, \"spec\": {\"$patch\": \"explode\"}}}}",
            "unknown $patch directive",
        ),
        (
            "{\"resource\": {\"deployment\": {\"metadata\": {\"name\": \"demo\"}, \"$patch\": \"delete\"}}}",
            "apiVersion is missing",
        ),
    ];
    for (body, expected) in cases {
        let before = seed();
        let message = match resource_patch(body) {
            Err(e) => e.to_string(),
            Ok(patch) => match apply(before, &patch) {
                Err(e) => e.to_string(),
                Ok(applied) => panic!("accepted {body}: changed {:?}", applied.changed),
            },
        };
        assert!(
            message.contains(expected),
            "for {body}\n  got:  {message}\n  want: {expected}"
        );
    }
}

#[test]
fn renaming_or_moving_an_object_is_refused() {
    let target = Target {
        kind: "Deployment".into(),
        name: "demo".into(),
        ..Target::default()
    };
    for ops in [
        r#"[{"op":"replace","path":"/metadata/name","value":"other"}]"#,
        r#"[{"op":"add","path":"/metadata/namespace","value":"prod"}]"#,
        r#"[{"op":"replace","path":"/apiVersion","value":"apps/v2"}]"#,
    ] {
        let patch = Patch::parse(PatchType::Json, ops.as_bytes(), Some(target.clone())).unwrap();
        let error = apply(seed(), &patch).unwrap_err().to_string();
        assert!(error.contains("may not rename or move"), "{ops}: {error}");
    }
    let removes_kind = Patch::parse(
        PatchType::Json,
        br#"[{"op":"remove","path":"/kind"}]"#,
        Some(target.clone()),
    )
    .unwrap();
    assert!(
        apply(seed(), &removes_kind)
            .unwrap_err()
            .to_string()
            .contains("kind is missing")
    );
    let bad_op = Patch::parse(
        PatchType::Json,
        br#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
        Some(target),
    )
    .unwrap();
    assert!(matches!(
        apply(seed(), &bad_op),
        Err(Error::JsonPatch { .. })
    ));
}

#[test]
fn json_patch_without_target_or_with_bad_shape_is_refused() {
    let error = Patch::parse(PatchType::Json, b"[]", None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("does not say which object"), "{error}");
    let target = Some(Target {
        kind: "Deployment".into(),
        name: "demo".into(),
        ..Target::default()
    });
    let error = Patch::parse(
        PatchType::Json,
        br#"[{"op":"frobnicate","path":"/x"}]"#,
        target,
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("not a JSON Patch"), "{error}");
}

#[test]
fn ambiguous_names_must_be_qualified() {
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: b}\n";
    let manifest = Manifest::parse(text).unwrap();
    let body = r#"{"resource":{"configmap":{"metadata":{"name":"c"},"data":{"x":"1"}}}}"#;
    let error = apply_body(manifest.clone(), body).unwrap_err().to_string();
    assert!(
        error.contains("2 objects match") && error.contains("metadata.namespace"),
        "{error}"
    );
    let body =
        r#"{"resource":{"configmap":{"metadata":{"name":"c","namespace":"b"},"data":{"x":"1"}}}}"#;
    let applied = apply_body(manifest, body).unwrap();
    assert_eq!(applied.manifest.documents()[1].value["data"]["x"], "1");
    assert!(applied.manifest.documents()[0].value.get("data").is_none());
}

#[test]
fn oversized_and_deeply_nested_patches_are_refused() {
    let big = format!(
        "{{\"resource\":{{\"x\":\"{}\"}}}}",
        "a".repeat(MAX_PATCH_BYTES)
    );
    assert!(matches!(resource_patch(&big), Err(Error::TooLarge { .. })));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(resource_patch(&deep), Err(Error::Syntax { .. })));
    let bytes = b"{\"resource\":{\"deployment\":{\"metadata\":{\"name\":\"\xff\"}}}}";
    assert!(matches!(
        Patch::parse(PatchType::Resource, bytes, None),
        Err(Error::Syntax { .. })
    ));
}

/// The manifest a multi-kind patch renders: only the patched documents change, comments stay.
#[test]
fn rendered_manifest_after_a_multi_kind_patch() {
    let manifest = Manifest::parse(WEB_STACK).unwrap();
    let body = json!({"resource": {
        "deployment": {"metadata": {"name": "web"}, "spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "ghcr.io/acme/web:1.5.0", "env": [{"name": "LOG_LEVEL", "value": "debug"}]}
        ]}}}},
        "configmap": {"metadata": {"name": "web-settings"}, "data": {"greeting": null, "farewell": "bye"}}
    }});
    let applied = apply(
        manifest,
        &Patch::parse(PatchType::Resource, body.to_string().as_bytes(), None).unwrap(),
    )
    .unwrap();
    insta::assert_snapshot!(applied.manifest.text());
}
