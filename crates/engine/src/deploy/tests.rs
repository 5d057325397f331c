//! Deploy error paths against a stand-in API server (a `tower` service the kube client
//! calls instead of a socket), for answers the sandbox never gives: each ends the deploy
//! with a failure that names the object and says what to do.

use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use serde_json::json;

use super::*;

const TEMPLATE: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: web, image: web:1}\n";

fn discovery_response() -> serde_json::Value {
    json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1",
        "resources": [{"name": "deployments", "singularName": "deployment", "namespaced": true,
                       "kind": "Deployment", "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}]
    })
}

fn status(code: u16, reason: &str, message: &str) -> serde_json::Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

/// A client whose API server is `answer`: a response for each request, or `None` to hold
/// the request and never answer it.
fn client(
    answer: impl Fn(&Request<Body>) -> Option<Response<Body>> + Send + 'static,
) -> kube::Client {
    let service = tower::service_fn(move |request: Request<Body>| {
        let response = answer(&request);
        async move {
            match response {
                Some(response) => Ok::<_, std::convert::Infallible>(response),
                None => std::future::pending().await,
            }
        }
    });
    kube::Client::new(service, "default")
}

fn respond(code: u16, body: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

/// Runs one deploy against a mock that answers discovery, the namespace check, and then
/// `apply` with the given response.
async fn deploy_with_apply_response(code: u16, body: serde_json::Value) -> Failure {
    let client = client(move |request| {
        let path = request.uri().path();
        Some(match (request.method().as_str(), path) {
            ("GET", "/apis/apps/v1") => respond(200, &discovery_response()),
            ("GET", "/api/v1/namespaces/shop") => respond(
                200,
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
            ),
            ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web") => respond(code, &body),
            (method, path) => panic!("unexpected request {method} {path}"),
        })
    });
    let deployer = Deployer::new(client);
    let manifest = Manifest::parse(TEMPLATE).unwrap();
    let plan = Plan {
        app: "shop",
        namespace: "shop",
        manifest: &manifest,
        prune_from: None,
    };
    let options = Options {
        timeout: Duration::from_secs(2),
        ..Options::default()
    };
    let result = deployer.deploy(&plan, &options, &|_| {}).await;
    result.expect_err("the deploy must fail")
}

#[tokio::test]
async fn api_errors_become_failures_that_say_what_to_do() {
    let cases = [
        (
            409,
            "Conflict",
            "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas",
            "--force-conflicts",
        ),
        (
            403,
            "Forbidden",
            "deployments.apps \"web\" is forbidden",
            "permission (RBAC)",
        ),
        (
            422,
            "Invalid",
            "Deployment.apps \"web\" is invalid: spec.template.spec.containers[0].image: Required value",
            "rejected Deployment shop/web as invalid",
        ),
        (401, "Unauthorized", "Unauthorized", "credentials"),
        (
            500,
            "InternalError",
            "etcdserver: request timed out",
            "Try again",
        ),
    ];
    for (code, reason, message, advice) in cases {
        let failure = deploy_with_apply_response(code, status(code, reason, message)).await;
        assert_eq!(failure.code, Some(code));
        assert_eq!(failure.reason, reason);
        assert!(
            failure.message.contains(advice),
            "{code}: {}",
            failure.message
        );
        assert_eq!(
            failure.resource.as_ref().map(|r| r.name.as_str()),
            Some("web")
        );
        // The failed object is recorded as such.
        let last = failure.outcomes.last().expect("outcome recorded");
        assert_eq!(last.action, Action::Failed);
    }
    // A field the server's schema does not declare: server-side apply answers 500, but it
    // is the manifest's mistake (seen on kube-apiserver v1.36), not the server's fault.
    let failure = deploy_with_apply_response(
        500,
        status(
            500,
            "InternalError",
            ".spec.template.spec.containers[name=\"web\"].imagePullPolcy: field not declared in schema",
        ),
    )
    .await;
    assert_eq!(failure.reason, "Invalid");
    assert!(
        failure.message.contains("cannot read")
            && failure.message.contains("imagePullPolcy")
            && failure.message.contains("a typo?")
            && !failure.message.contains("cluster's health"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn an_unreachable_api_server_is_named() {
    let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let deployer = Deployer::new(client);
    let manifest = Manifest::parse(TEMPLATE).unwrap();
    let plan = Plan {
        app: "shop",
        namespace: "shop",
        manifest: &manifest,
        prune_from: None,
    };
    let failure = deployer
        .deploy(&plan, &Options::default(), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(failure.reason, "Unreachable", "{failure:?}");
    assert!(
        failure.message.contains("cannot reach the API server"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn an_unknown_kind_says_to_install_the_crd() {
    let client = client(|_| {
        Some(respond(
            404,
            &status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        ))
    });
    let deployer = Deployer::new(client);
    let manifest =
        Manifest::parse("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n").unwrap();
    let plan = Plan {
        app: "shop",
        namespace: "shop",
        manifest: &manifest,
        prune_from: None,
    };
    let failure = deployer
        .deploy(&plan, &Options::default(), &|_| {})
        .await
        .unwrap_err();
    assert!(
        failure.message.contains("CustomResourceDefinition"),
        "{}",
        failure.message
    );
}

#[test]
fn install_order_puts_dependencies_first() {
    let mut kinds = vec![
        "Deployment",
        "Service",
        "Namespace",
        "ConfigMap",
        "Widget",
        "ServiceAccount",
    ];
    kinds.sort_by_key(|k| install_rank(k));
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ConfigMap",
            "Service",
            "Deployment",
            "Widget"
        ]
    );
}

#[test]
fn labels_are_added_without_losing_the_users() {
    let mut value = json!({"metadata": {"name": "x", "labels": {"tier": "web"}}});
    label(&mut value, "shop");
    assert_eq!(
        value["metadata"]["labels"],
        json!({"tier": "web", "app.kubernetes.io/managed-by": "tripline", "tripline.dev/app": "shop"})
    );
}

#[tokio::test]
async fn an_api_server_that_never_answers_times_out_with_a_clear_failure() {
    // Every request is held and none is answered.
    let client = client(|_| None);
    let deployer = Deployer::new(client).with_request_timeout(Duration::from_millis(200));
    let manifest = Manifest::parse(TEMPLATE).unwrap();
    let plan = Plan {
        app: "shop",
        namespace: "shop",
        manifest: &manifest,
        prune_from: None,
    };
    let started = std::time::Instant::now();
    let failure = deployer
        .deploy(&plan, &Options::default(), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(failure.reason, "Timeout");
    assert!(
        failure.message.contains("did not answer within"),
        "{}",
        failure.message
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}
