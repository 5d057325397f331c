//! Templates a Kubernetes API server would refuse are refused before a version exists.
//!
//! Every file under `fixtures/validation/invalid/` is one mistake; its first line says what the
//! error must name: `# expect: <field> (line <n>): <words of the message>`. Each goes through
//! the store's write paths (create, edit) that the CLI, the desktop app and the listener share.
//! The files under `fixtures/validation/valid/`, the seed's template and the demo template must
//! all be accepted.

use std::fs;
use std::path::{Path, PathBuf};

use tripline_engine::store::{Error as StoreError, Origin, Store};
use tripline_engine::template::Error as TemplateError;

const SEED: &str = include_str!("fixtures/templates/seed-demo.yaml");

fn fixtures(kind: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/validation")
        .join(kind);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&path).unwrap())
        })
        .collect()
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path()).unwrap();
    (dir, store)
}

/// The `# expect:` line of a fixture.
fn expectation(name: &str, text: &str) -> String {
    text.lines()
        .next()
        .and_then(|line| line.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("{name} has no `# expect:` first line"))
        .to_owned()
}

fn assert_refusal(name: &str, path: &str, error: StoreError, expected: &str) {
    let message = error.to_string();
    assert!(
        matches!(error, StoreError::Template(TemplateError::Rejected { .. })),
        "{name} ({path}): not a Kubernetes refusal: {message}"
    );
    // `<field> (line <n>)` opens the problem; the words follow somewhere in its message.
    let (at, words) = expected
        .split_once("): ")
        .map_or((expected, ""), |(at, words)| (at, words));
    let at = format!("{at}): ");
    let problem = message
        .split("; ")
        .find(|p| p.contains(&at))
        .unwrap_or_else(|| panic!("{name} ({path}): expected {at:?} in\n{message}"));
    assert!(
        problem.contains(words),
        "{name} ({path}): expected {words:?} in\n{problem}"
    );
    assert!(message.contains("document "), "{name}: {message}");
    assert!(
        message.contains("would be refused by Kubernetes"),
        "{name}: {message}"
    );
}

#[test]
fn each_invalid_fixture_is_refused_at_create_and_edit_with_field_and_line() {
    for (name, text) in fixtures("invalid") {
        let expected = expectation(&name, &text);
        let (_dir, mut store) = store();

        let error = store.create_template("bad", &text, "").unwrap_err();
        assert_refusal(&name, "create", error, &expected);
        assert!(
            store.templates().unwrap().is_empty(),
            "{name}: a template was made"
        );

        store.create_template("bad", SEED, "").unwrap();
        let error = store
            .save_version("bad", &text, Origin::Edit, "")
            .unwrap_err();
        assert_refusal(&name, "edit", error, &expected);
        assert_eq!(
            store.versions("bad").unwrap().len(),
            1,
            "{name}: a version was made"
        );
    }
}

#[test]
fn the_error_names_the_document_it_is_in() {
    let text = fixtures("invalid")
        .into_iter()
        .find(|(name, _)| name == "second-document")
        .unwrap()
        .1;
    let (_dir, mut store) = store();
    let error = store.create_template("bad", &text, "").unwrap_err();
    let StoreError::Template(error) = error else {
        panic!("{error}")
    };
    assert!(
        error
            .to_string()
            .starts_with("document 2 (line 9), Deployment web"),
        "{error}"
    );
    assert_eq!(error.location(), Some((18, None)));
    let body = tripline_engine::error::ErrorBody::from(&error);
    assert_eq!(body.code, "template.invalid");
    let problems = &body.details.unwrap()["problems"];
    assert_eq!(problems[0]["field"], "spec.replicas");
    assert_eq!(problems[0]["reason"], "FieldValueInvalid");
    assert_eq!(problems[0]["line"], 18);
}

#[test]
fn valid_manifests_of_every_kind_are_accepted() {
    let mut texts = fixtures("valid");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for path in [
        "tests/fixtures/templates/seed-demo.yaml",
        "tests/fixtures/templates/web-stack.yaml",
        "src/api/demo.yaml",
    ] {
        texts.push((
            path.to_owned(),
            fs::read_to_string(root.join(path)).unwrap(),
        ));
    }
    for (name, text) in texts {
        let (_dir, mut store) = store();
        if let Err(error) = store.create_template("good", &text, "") {
            panic!("{name} was refused: {error}");
        }
    }
}

/// The listener answers a trigger patch whose result Kubernetes would refuse, or that nests
/// too deep to save, with 400 and the reason, and makes no version: the same check as the
/// CLI's and the desktop app's, because all three save through the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_patches_with_invalid_or_too_deep_results_answer_400_and_make_no_version() {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt as _;
    use tokio_util::sync::CancellationToken;
    use tower::ServiceExt as _;
    use tripline_engine::app::{ClusterRef, NewApplication, Pin, Source};
    use tripline_engine::cluster::Clusters;
    use tripline_engine::deploy::worker::Workers;
    use tripline_engine::listener;
    use tripline_engine::secrets::Secrets;
    use tripline_engine::store::NewTrigger;
    use tripline_engine::trigger::{TriggerKind, service};

    let (dir, mut store) = store();
    store.create_template("demo", SEED, "").unwrap();
    store
        .create_app(&NewApplication {
            name: "demo".into(),
            cluster: ClusterRef::Sandbox,
            namespace: "default".into(),
            source: Source::Template {
                template: "demo".into(),
                pin: Pin::Latest,
            },
            prune: false,
        })
        .unwrap();
    let secrets = Secrets::Files(dir.path().join("secrets"));
    let created = service::create(
        &mut store,
        &secrets,
        &NewTrigger {
            name: "ci".into(),
            app: "demo".into(),
            kind: TriggerKind::Redeploy,
            signed: false,
        },
    )
    .unwrap();
    let database = store.info().unwrap().path;
    let cancel = CancellationToken::new();
    let workers =
        Workers::new(database.clone(), Clusters::new(None), cancel.child_token()).unwrap();
    let state =
        listener::State::new(listener::Config::default(), database, secrets, workers).unwrap();

    let deep = (0..60).fold(String::from("1"), |inner, _| format!("{{\"a\":{inner}}}"));
    let cases = [
        (
            r#"{"resource":{"deployment":{"metadata":{"name":"demo"},"spec":{"template":{"spec":{"containers":[{"name":"demo","image":"bad image name"}]}}}}}}"#.to_owned(),
            "template.invalid",
            "spec.template.spec.containers[0].image",
        ),
        (
            format!(r#"{{"resource":{{"deployment":{{"metadata":{{"name":"demo"}},"spec":{{"x":{deep}}}}}}}}}"#),
            "template.over_limit",
            "nesting depth is 62",
        ),
    ];
    for (body, code, words) in cases {
        let mut request = Request::builder()
            .method("POST")
            .uri(format!("/hook/trigger?token={}", created.token))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(
            "127.0.0.1:40000".parse::<std::net::SocketAddr>().unwrap(),
        ));
        let response = listener::router(Arc::clone(&state))
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{code}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(answer["code"], code, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(words),
            "{answer}"
        );
    }
    assert_eq!(store.versions("demo").unwrap().len(), 1);
    cancel.cancel();
}
