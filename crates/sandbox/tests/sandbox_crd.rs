//! CustomResourceDefinitions in the sandbox, driven by the real `kube` client: installing a
//! CRD and waiting for it to be established, discovery, custom resources created, applied,
//! listed, watched and deleted as `DynamicObject`s, the `/status` and `/scale`
//! subresources, schema defaults, pruning and validation, `fieldValidation`, deleting a CRD,
//! persistence across a restart, and hostile definitions.

use std::time::Duration;

use axum::http::{self, Method};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::core::GroupVersionKind;
use kube::discovery::Discovery;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tripline_sandbox::{Sandbox, SandboxConfig};

/// How long anything in a test may take to converge.
const PATIENCE: Duration = Duration::from_secs(20);

async fn start_with(config: SandboxConfig) -> (Sandbox, Client) {
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let client = Client::try_from(sandbox.client_config()).expect("client");
    (sandbox, client)
}

async fn start() -> (Sandbox, Client) {
    start_with(SandboxConfig::default()).await
}

/// A namespaced `Widget` CRD with a status and a scale subresource.
fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.selector"
                    }
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color"}
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["size"],
                            "properties": {
                                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                                "color": {"type": "string", "default": "blue", "enum": ["blue", "red"]},
                                "replicas": {"type": "integer"},
                                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                            }
                        },
                        "status": {
                            "type": "object",
                            "properties": {
                                "replicas": {"type": "integer"},
                                "selector": {"type": "string"},
                                "ready": {"type": "boolean"}
                            }
                        }
                    }
                }}
            }]
        }
    })
}

fn widgets_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    )
}

fn widget(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("a DynamicObject")
}

async fn install(client: &Client, crd: Value) -> CustomResourceDefinition {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(crd).expect("a CRD");
    let name = crd.name_any();
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("the CRD is created");
    wait_established(client, &name).await
}

async fn wait_established(client: &Client, name: &str) -> CustomResourceDefinition {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let crd = crds.get(name).await.expect("the CRD is there");
        let established = crd
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        if established {
            return crd;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} not established"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn raw(
    client: &Client,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body)
        .unwrap();
    match client.request_text(request).await {
        Ok(text) => (200, serde_json::from_str(&text).unwrap_or(Value::Null)),
        Err(kube::Error::Api(status)) => (status.code, serde_json::to_value(&*status).unwrap()),
        Err(other) => panic!("{path}: {other}"),
    }
}

#[tokio::test]
async fn a_crd_is_defaulted_established_and_discoverable() {
    let (sandbox, client) = start().await;
    let crd = install(&client, widget_crd()).await;
    let status = crd.status.expect("status");
    assert_eq!(status.stored_versions, Some(vec!["v1".to_owned()]));
    assert_eq!(
        status.accepted_names.expect("accepted names").plural,
        "widgets"
    );
    assert_eq!(
        crd.spec.conversion.map(|c| c.strategy),
        Some("None".to_owned())
    );
    assert_eq!(crd.spec.names.list_kind.as_deref(), Some("WidgetList"));

    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let (resource, _) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
        .expect("widgets are discovered");
    assert_eq!(resource.plural, "widgets");
    let (code, group) = raw(&client, Method::GET, "/apis/example.com", "", Vec::new()).await;
    assert_eq!(code, 200);
    assert_eq!(group["preferredVersion"]["groupVersion"], "example.com/v1");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn custom_resources_are_created_applied_listed_watched_and_deleted() {
    let (sandbox, client) = start().await;
    install(&client, widget_crd()).await;
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widgets_resource());

    let mut watch = widgets
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();

    let created = widgets
        .create(&PostParams::default(), &widget("a", json!({"size": 2})))
        .await
        .expect("created");
    assert_eq!(created.data["spec"]["color"], "blue", "the schema default");
    assert_eq!(created.metadata.generation, Some(1));

    let applied = widgets
        .patch(
            "b",
            &PatchParams::apply("tester"),
            &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Widget",
                "metadata": {"name": "b"}, "spec": {"size": 3, "color": "red"}})),
        )
        .await
        .expect("applied");
    assert_eq!(applied.data["spec"]["color"], "red");
    let managers: Vec<String> = applied
        .managed_fields()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(managers, ["tester"]);

    let merged = widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 4}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(merged.data["spec"]["size"], 4);
    assert_eq!(merged.metadata.generation, Some(2));

    let listed = widgets.list(&ListParams::default()).await.expect("list");
    let names: Vec<String> = listed.items.iter().map(ResourceExt::name_any).collect();
    assert_eq!(names, ["a", "b"]);

    let dry = widgets
        .create(
            &PostParams {
                dry_run: true,
                ..PostParams::default()
            },
            &widget("dry", json!({"size": 1})),
        )
        .await
        .expect("dry-run create");
    assert_eq!(dry.data["spec"]["color"], "blue");
    assert!(widgets.get_opt("dry").await.expect("get").is_none());

    widgets
        .delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let event = tokio::time::timeout(PATIENCE, watch.try_next())
            .await
            .expect("an event in time")
            .expect("a watch event")
            .expect("the stream goes on");
        match event {
            WatchEvent::Added(o) => seen.push(format!("ADDED {}", o.name_any())),
            WatchEvent::Modified(o) => seen.push(format!("MODIFIED {}", o.name_any())),
            WatchEvent::Deleted(o) => seen.push(format!("DELETED {}", o.name_any())),
            _ => {}
        }
    }
    assert_eq!(seen, ["ADDED a", "ADDED b", "MODIFIED a", "DELETED a"]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn status_and_scale_are_subresources() {
    let (sandbox, client) = start().await;
    install(&client, widget_crd()).await;
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widgets_resource());
    let mut with_status = widget("w", json!({"size": 1, "replicas": 2}));
    with_status.data["status"] = json!({"ready": true});
    let created = widgets
        .create(&PostParams::default(), &with_status)
        .await
        .expect("created");
    assert!(created.data.get("status").is_none(), "status is dropped");

    let status = widgets
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 9}, "status": {"ready": true, "replicas": 2, "selector": "app=w"}})),
        )
        .await
        .expect("status patch");
    assert_eq!(status.data["status"]["ready"], true);
    assert_eq!(
        status.data["spec"]["size"], 1,
        "spec is not written through /status"
    );

    let scale = widgets.get_scale("w").await.expect("scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(2));
    assert_eq!(scale.status.as_ref().map(|s| s.replicas), Some(2));
    assert_eq!(
        scale.status.and_then(|s| s.selector).as_deref(),
        Some("app=w")
    );
    widgets
        .patch_scale(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("scale patch");
    let scaled = widgets.get("w").await.expect("get");
    assert_eq!(scaled.data["spec"]["replicas"], 5);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_schema_validates_prunes_and_answers_field_validation() {
    let (sandbox, client) = start().await;
    install(&client, widget_crd()).await;
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widgets_resource());

    let refusals = [
        (json!({}), "spec.size: Required value"),
        (
            json!({"size": 11}),
            "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
        ),
        (
            json!({"size": "big"}),
            "spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\"",
        ),
        (
            json!({"size": 1, "color": "green"}),
            "spec.color: Unsupported value: \"green\": supported values: \"blue\", \"red\"",
        ),
    ];
    for (spec, expected) in refusals {
        let error = widgets
            .create(&PostParams::default(), &widget("bad", spec.clone()))
            .await
            .expect_err("refused");
        let kube::Error::Api(status) = error else {
            panic!("{spec}: {error}")
        };
        assert_eq!(status.code, 422, "{spec}");
        assert_eq!(
            status.message,
            format!("Widget.example.com \"bad\" is invalid: {expected}")
        );
    }

    let unknown = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "u"}, "spec": {"size": 1, "colour": "red", "extra": {"kept": [1]}}});
    let path = "/apis/example.com/v1/namespaces/default/widgets";
    let (code, body) = raw(
        &client,
        Method::POST,
        &format!("{path}?fieldValidation=Strict"),
        "application/json",
        unknown.to_string().into_bytes(),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        body["message"],
        "Widget in version \"v1\" cannot be handled as a Widget: strict decoding error: unknown field \"spec.colour\""
    );
    let (code, body) = raw(
        &client,
        Method::POST,
        &format!("{path}?fieldValidation=Ignore"),
        "application/json",
        unknown.to_string().into_bytes(),
    )
    .await;
    assert_eq!(code, 200);
    assert!(body["spec"].get("colour").is_none(), "pruned: {body}");
    assert_eq!(body["spec"]["extra"], json!({"kept": [1]}));

    for validation in ["Strict", "Warn", "Ignore"] {
        let error = widgets
            .patch(
                "applied",
                &PatchParams {
                    field_manager: Some("tester".into()),
                    field_validation: Some(match validation {
                        "Strict" => kube::api::ValidationDirective::Strict,
                        "Warn" => kube::api::ValidationDirective::Warn,
                        _ => kube::api::ValidationDirective::Ignore,
                    }),
                    ..PatchParams::default()
                },
                &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Widget",
                    "metadata": {"name": "applied"}, "spec": {"size": 1, "colour": "red"}})),
            )
            .await
            .expect_err("an apply with an unknown field fails");
        let kube::Error::Api(status) = error else {
            panic!("{error}")
        };
        assert_eq!(status.code, 500, "{validation}");
        assert!(
            status
                .message
                .ends_with(".spec.colour: field not declared in schema"),
            "{}",
            status.message
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn kubectl_tables_show_the_printer_columns() {
    let (sandbox, client) = start().await;
    install(&client, widget_crd()).await;
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widgets_resource());
    widgets
        .create(&PostParams::default(), &widget("t", json!({"size": 7})))
        .await
        .expect("created");
    let request = http::Request::builder()
        .uri("/apis/example.com/v1/namespaces/default/widgets")
        .header(
            http::header::ACCEPT,
            "application/json;as=Table;v=v1;g=meta.k8s.io",
        )
        .body(Vec::new())
        .unwrap();
    let table: Value =
        serde_json::from_str(&client.request_text(request).await.expect("table")).unwrap();
    let headers: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(headers, ["Name", "Size", "Color"]);
    assert_eq!(table["rows"][0]["cells"], json!(["t", 7, "blue"]));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_cluster_scoped_crd_serves_cluster_scoped_resources() {
    let (sandbox, client) = start().await;
    let mut crd = widget_crd();
    crd["metadata"]["name"] = json!("gadgets.example.com");
    crd["spec"]["scope"] = json!("Cluster");
    crd["spec"]["names"] = json!({"plural": "gadgets", "kind": "Gadget"});
    install(&client, crd).await;
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Gadget"),
        "gadgets",
    );
    let gadgets: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let mut gadget = widget("g", json!({"size": 1}));
    gadget.types = Some(kube::api::TypeMeta {
        api_version: "example.com/v1".into(),
        kind: "Gadget".into(),
    });
    let created = gadgets
        .create(&PostParams::default(), &gadget)
        .await
        .expect("created");
    assert!(created.metadata.namespace.is_none());
    let (code, _) = raw(
        &client,
        Method::GET,
        "/apis/example.com/v1/namespaces/default/gadgets",
        "",
        Vec::new(),
    )
    .await;
    assert_eq!(code, 404);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn deleting_a_crd_deletes_its_resources_and_stops_serving_them() {
    let (sandbox, client) = start().await;
    install(&client, widget_crd()).await;
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widgets_resource());
    widgets
        .create(&PostParams::default(), &widget("gone", json!({"size": 1})))
        .await
        .expect("created");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .expect("deleted");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (code, _) = raw(
            &client,
            Method::GET,
            "/apis/example.com/v1/namespaces/default/widgets",
            "",
            Vec::new(),
        )
        .await;
        if code == 404 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    install(&client, widget_crd()).await;
    let listed = widgets.list(&ListParams::default()).await.expect("list");
    assert!(listed.items.is_empty(), "the old widget went with its CRD");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn crds_and_their_resources_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        data_dir: Some(dir.path().to_owned()),
        ..SandboxConfig::default()
    };
    let (sandbox, client) = start_with(config.clone()).await;
    install(&client, widget_crd()).await;
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widgets_resource());
    widgets
        .create(&PostParams::default(), &widget("kept", json!({"size": 5})))
        .await
        .expect("created");
    sandbox.shutdown().await;

    let (sandbox, client) = start_with(config).await;
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widgets_resource());
    let kept = widgets.get("kept").await.expect("served again at once");
    assert_eq!(kept.data["spec"]["size"], 5);
    let error = widgets
        .create(&PostParams::default(), &widget("bad", json!({"size": 0})))
        .await
        .expect_err("the schema still holds");
    assert!(matches!(error, kube::Error::Api(s) if s.code == 422));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn name_conflicts_between_crds_are_reported_in_conditions() {
    let (sandbox, client) = start().await;
    install(&client, widget_crd()).await;
    let mut clash = widget_crd();
    clash["metadata"]["name"] = json!("wodgets.example.com");
    clash["spec"]["names"] = json!({"plural": "wodgets", "kind": "Widget"});
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(
        &PostParams::default(),
        &serde_json::from_value(clash).unwrap(),
    )
    .await
    .expect("created");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let crd = crds.get("wodgets.example.com").await.expect("get");
        let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
        if let Some(names) = conditions.iter().find(|c| c.type_ == "NamesAccepted") {
            assert_eq!(names.status, "False");
            assert_eq!(names.reason.as_deref(), Some("NameConflict"));
            assert_eq!(
                names.message.as_deref(),
                Some("\"widget\" is already in use")
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no conditions");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sandbox.shutdown().await;
}

/// A CRD that must be refused, and the words of the refusal.
struct HostileCrd {
    name: &'static str,
    crd: Value,
    code: u16,
    message: &'static str,
}

fn nested_schema(depth: usize) -> Value {
    let mut schema = json!({"type": "string"});
    for _ in 0..depth {
        schema = json!({"type": "object", "properties": {"x": schema}});
    }
    schema
}

#[tokio::test]
async fn hostile_crds_get_clear_errors() {
    let (sandbox, client) = start().await;
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut crd = widget_crd();
        edit(&mut crd);
        crd
    };
    let values =
        |count: usize| -> Vec<String> { (0..count).map(|i| format!("value-{i}")).collect() };
    let cases = [
        HostileCrd {
            name: "a built-in resource's names",
            crd: with(&|crd| {
                crd["metadata"]["name"] = json!("deployments.apps");
                crd["spec"]["group"] = json!("apps");
                crd["spec"]["names"] = json!({"plural": "deployments", "kind": "Deployment"});
            }),
            code: 422,
            message: "spec.group: Invalid value: \"apps\": should be a domain with at least one dot",
        },
        HostileCrd {
            name: "a built-in resource's group and plural",
            crd: with(&|crd| {
                crd["metadata"]["name"] = json!("ingresses.networking.k8s.io");
                crd["spec"]["group"] = json!("networking.k8s.io");
                crd["spec"]["names"] = json!({"plural": "ingresses", "kind": "Ingress"});
            }),
            code: 422,
            message: "ingresses.networking.k8s.io is a built-in resource of this server and cannot be redefined",
        },
        HostileCrd {
            name: "a name that is not plural.group",
            crd: with(&|crd| crd["metadata"]["name"] = json!("other.example.com")),
            code: 422,
            message: "metadata.name: Invalid value: \"other.example.com\": must be spec.names.plural+\".\"+spec.group",
        },
        HostileCrd {
            name: "a schema nested deeper than the decoder allows",
            crd: with(&|crd| {
                crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = nested_schema(200);
            }),
            code: 400,
            message: "recursion limit exceeded",
        },
        HostileCrd {
            name: "a schema larger than the body limit",
            crd: with(&|crd| {
                crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
                    ["color"]["enum"] = json!(values(300_000));
            }),
            code: 413,
            message: "larger than the 3145728-byte limit",
        },
        HostileCrd {
            name: "a default outside an enormous enum",
            crd: with(&|crd| {
                crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
                    ["color"]["enum"] = json!(values(100_000));
            }),
            code: 422,
            message: "supported values: \"value-0\", \"value-1\", \"value-2\"",
        },
        HostileCrd {
            name: "a property without a type",
            crd: with(&|crd| {
                crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
                    ["size"] = json!({"minimum": 1});
            }),
            code: 422,
            message: "spec.validation.openAPIV3Schema.properties[spec].properties[size].type: Required value: must not be empty for specified object fields",
        },
        HostileCrd {
            name: "a pattern that is not a regular expression",
            crd: with(&|crd| {
                crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
                    ["color"]["pattern"] = json!("([");
            }),
            code: 422,
            message: "must be a valid regular expression",
        },
        HostileCrd {
            name: "no storage version",
            crd: with(&|crd| crd["spec"]["versions"][0]["storage"] = json!(false)),
            code: 422,
            message: "must have exactly one version marked as storage version",
        },
    ];
    for case in cases {
        let (code, body) = raw(
            &client,
            Method::POST,
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            "application/json",
            case.crd.to_string().into_bytes(),
        )
        .await;
        assert_eq!(code, case.code, "{}: {body}", case.name);
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(case.message), "{}: {message}", case.name);
    }
    // A deeply nested schema the decoder accepts is served, and so are its objects.
    let mut deep = widget_crd();
    deep["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] =
        nested_schema(40);
    deep["spec"]["versions"][0]["additionalPrinterColumns"] = json!([]);
    install(&client, deep).await;
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widgets_resource());
    let mut value = json!("leaf");
    for _ in 0..40 {
        value = json!({"x": value});
    }
    widgets
        .create(&PostParams::default(), &widget("deep", value))
        .await
        .expect("a deep object is accepted");
    // Still alive and serving.
    let (code, _) = raw(&client, Method::GET, "/apis/example.com/v1", "", Vec::new()).await;
    assert_eq!(code, 200);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_group_without_a_crd_is_a_plain_404() {
    let (sandbox, client) = start().await;
    let request = http::Request::builder()
        .uri("/apis/nothing.example.com/v1/namespaces/default/things")
        .body(Vec::new())
        .unwrap();
    let error = client.request_text(request).await.expect_err("404");
    let kube::Error::Api(status) = error else {
        panic!("{error}")
    };
    assert_eq!(status.code, 404);
    assert_eq!(status.message, "404 page not found", "the plain-text body");
    sandbox.shutdown().await;
}
