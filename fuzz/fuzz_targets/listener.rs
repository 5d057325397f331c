//! The listener's request handling: any method, path, query, headers and body, sent through
//! `tripline_engine::listener::router` in-process with tower's `oneshot`.
//!
//! The router serves one database (a template application with one trigger of each kind, a
//! signed one, a disabled one and one on an application on hold) for the whole run. A call
//! must never panic, must answer a status from the documented set (the listener's module
//! documentation, plus the router's own 404/405), and a body it calls JSON must be JSON.
//!
//! The input is an `arbitrary`-derived [`Call`]. Tokens are chosen by index among the
//! fixture's triggers (a fuzzer cannot guess a random token), and `sign` puts the right HMAC
//! on the body. `wait` is never sent: `?wait=true` waits for a deploy.
#![no_main]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Request, header};
use http_body_util::BodyExt as _;
use libfuzzer_sys::fuzz_target;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;
use tripline_engine::app::{ClusterRef, NewApplication, Pin, Source};
use tripline_engine::cluster::Clusters;
use tripline_engine::deploy::worker::Workers;
use tripline_engine::listener::{self, Config, State};
use tripline_engine::secrets::Secrets;
use tripline_engine::store::{NewTrigger, Origin, Retention, Store};
use tripline_engine::trigger::{self, TagFilter, TriggerKind, service};

/// The seed's demo Deployment, and a second one on the Docker Hub sample payload's
/// repository, so the image triggers follow repositories the template uses (a trigger that
/// could never fire is refused).
const SEED_DEMO: &str = concat!(
    include_str!("../../crates/engine/tests/fixtures/templates/seed-demo.yaml"),
    "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: testhook\nspec:\n  \
     selector:\n    matchLabels:\n      app: testhook\n  template:\n    metadata:\n      \
     labels:\n        app: testhook\n    spec:\n      containers:\n      - name: testhook\n        \
     image: svendowideit/testhook:latest\n",
);

/// Bodies the fuzzer can pick whole, so deep paths are reached without a seed corpus.
const BODIES: &[&str] = &[
    include_str!("../../crates/engine/tests/fixtures/templates/seed-demo-patch.json"),
    include_str!("../../crates/engine/tests/fixtures/registry/dockerhub-seed004.json"),
    include_str!("../../crates/engine/tests/fixtures/registry/acr-alibaba-push.json"),
    include_str!("../../crates/engine/tests/fixtures/registry/harbor-push-artifact.json"),
    include_str!("../../crates/engine/tests/fixtures/registry/distribution-v1-push.json"),
    include_str!("../../crates/engine/tests/fixtures/registry/generic-image.json"),
    r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
    r#"{"spec":{"replicas":2}}"#,
];

/// Statuses the listener documents, and the router's 404 (no route) and 405 (wrong method).
const DOCUMENTED: &[u16] = &[200, 202, 400, 401, 404, 405, 408, 409, 413, 415, 429, 503];

#[derive(Arbitrary, Debug)]
enum Method {
    Get,
    Post,
    Head,
    Put,
    Delete,
    Options,
    Patch,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Path {
    Trigger,
    Registry,
    Healthz,
    Metrics,
    Root,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Token {
    /// One of the fixture's triggers, by index.
    Trigger(u8),
    Absent,
    Empty,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Param {
    Type,
    Step,
    Kind,
    Name,
    Token,
    Secret,
    Other(String),
}

/// A parameter's value: the words the hooks know, or anything.
#[derive(Arbitrary, Debug)]
enum ParamValue {
    ScaleOut,
    ScaleIn,
    Number(u8),
    Deployment,
    Demo,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Name {
    ContentType,
    ContentLength,
    Signature,
    HubSignature,
    GitHubEvent,
    UserAgent,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Value {
    Json,
    MergePatch,
    JsonPatch,
    StrategicPatch,
    Yaml,
    Form,
    Distribution,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Payload<'a> {
    Raw(&'a [u8]),
    Fixture(u8),
}

/// One request.
#[derive(Arbitrary, Debug)]
struct Call<'a> {
    method: Method,
    path: Path,
    token: Token,
    /// `?secret=` (seed 002's name) instead of `?token=`.
    secret_name: bool,
    params: Vec<(Param, ParamValue)>,
    headers: Vec<(Name, Value)>,
    /// Adds `X-Signature: sha256=<HMAC of the body>` with the signed trigger's key.
    sign: bool,
    /// The caller is 127.0.0.<peer>.
    peer: u8,
    payload: Payload<'a>,
}

struct Fixture {
    _dir: tempfile::TempDir,
    database: std::path::PathBuf,
    runtime: tokio::runtime::Runtime,
    state: Arc<State>,
    tokens: Vec<String>,
    signing_key: String,
}

/// Calls between two prunings of the access records and resets of the templates (a long run
/// would otherwise grow the database in memory by gigabytes, and slow down as it grows).
const PRUNE_EVERY: u64 = 10_000;
/// What the pruning keeps: the newest calls of each trigger, whatever their age.
const KEEP: Retention = Retention {
    days: 0,
    per_trigger: 1_000,
};

static CALLS: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|call: Call<'_>| {
    let fixture = FIXTURE.get_or_init(fixture);
    if CALLS.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
        let mut store = Store::open(&fixture.database).expect("the database opens");
        store
            .prune_records(&KEEP, jiff::Timestamp::now())
            .expect("the access records prune");
        // Patches accumulate: a template that thousands of merge patches have grown to
        // megabytes makes every later call slow. Back to the seed (a new version).
        for template in ["demo", "held"] {
            store
                .save_version(
                    template,
                    SEED_DEMO,
                    Origin::Edit,
                    "fuzzing: back to the seed",
                )
                .expect("the seed template is valid");
        }
    }
    let Some(request) = build(&call, fixture) else {
        return;
    };
    let state = fixture.state.clone();
    let (status, json_body, bytes) = fixture.runtime.block_on(async move {
        let response = listener::router(state)
            .oneshot(request)
            .await
            .expect("the router's error type is Infallible");
        let status = response.status().as_u16();
        let json_body = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a response body in memory reads")
            .to_bytes();
        (status, json_body, bytes)
    });
    assert!(
        DOCUMENTED.contains(&status),
        "undocumented status {status} for {call:?}: {}",
        String::from_utf8_lossy(&bytes)
    );
    if json_body && !bytes.is_empty() {
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_else(|e| {
            panic!(
                "a JSON answer is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
    }
});

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    // In memory where there is a tmpfs: every call writes the database (synchronous=FULL).
    // libFuzzer ends the process without running destructors, so the directory outlives the
    // run: those of runs that are over are removed here.
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    remove_leftovers(&base);
    let dir = tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{}-", std::process::id()))
        .tempdir_in(&base)
        .expect("a temporary directory");
    let mut store = Store::open_dir(dir.path()).expect("a fresh database opens");
    for (template, app) in [("demo", "demo"), ("held", "held")] {
        store
            .create_template(template, SEED_DEMO, "")
            .expect("the seed template is valid");
        store
            .create_app(&NewApplication {
                name: app.into(),
                cluster: ClusterRef::Sandbox,
                namespace: "default".into(),
                source: Source::Template {
                    template: template.into(),
                    pin: Pin::Latest,
                },
                prune: false,
            })
            .expect("the application is valid");
    }
    let secrets = Secrets::Files(dir.path().join("secrets"));
    let image = |filter| TriggerKind::Image {
        repositories: vec![
            "registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo".into(),
            "svendowideit/testhook".into(),
        ],
        filter,
        pin_digest: false,
        branch: None,
        values: None,
        verify: tripline_engine::trigger::Verify::Off,
        watch: None,
        maturing: None,
        containers: Vec::new(),
        allow_downgrade: false,
    };
    let triggers = [
        ("redeploy", "demo", TriggerKind::Redeploy, false),
        (
            "scale",
            "demo",
            TriggerKind::Scale {
                kind: "Deployment".into(),
                name: "demo".into(),
                min: Some(1),
                max: Some(10),
            },
            false,
        ),
        ("image-all", "demo", image(TagFilter::All), false),
        (
            "image-regex",
            "demo",
            image(TagFilter::Regex {
                pattern: "v[0-9]+(\\.[0-9]+)*".into(),
            }),
            false,
        ),
        (
            "image-tags",
            "demo",
            image(TagFilter::Tags {
                tags: vec!["v2".into(), "latest".into()],
            }),
            false,
        ),
        ("signed", "demo", TriggerKind::Redeploy, true),
        ("disabled", "demo", TriggerKind::Redeploy, false),
        ("on-hold", "held", TriggerKind::Redeploy, false),
    ];
    let mut tokens = Vec::new();
    let mut signing_key = String::new();
    for (name, app, kind, signed) in triggers {
        let new = NewTrigger {
            name: name.into(),
            app: app.into(),
            kind,
            signed,
        };
        let created = service::create(&mut store, &secrets, &new).expect("the trigger is valid");
        tokens.push(created.token);
        if let Some(key) = created.signing_key {
            signing_key = key;
        }
    }
    store
        .set_trigger_enabled("disabled", false)
        .expect("disables");
    store.set_app_hold("held", Some("fuzzing")).expect("holds");
    let database = store.info().expect("the database says where it is").path;
    let database_path = database.clone();
    let config = Config {
        body_limit: 16 * 1024,
        body_timeout: Duration::from_secs(5),
        throttle_failures: 20,
        throttle_window: Duration::from_millis(50),
        ..Config::default()
    };
    let state = runtime.block_on(async {
        let workers = Workers::new(
            database.clone(),
            Clusters::new(None),
            CancellationToken::new(),
        )
        .expect("workers start");
        State::new(config, database, secrets, workers).expect("the listener's state opens")
    });
    Fixture {
        _dir: dir,
        database: database_path,
        runtime,
        state,
        tokens,
        signing_key,
    }
}

/// The start of the fixture directories' names, followed by the process id.
const PREFIX: &str = "tripline-fuzz-listener-";

/// Removes the fixture directories of processes that are gone.
fn remove_leftovers(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The request for `call`, or `None` when it cannot be an HTTP request at all (a method or
/// URI that does not parse).
fn build(call: &Call<'_>, fixture: &Fixture) -> Option<Request<Body>> {
    let method = match &call.method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Head => "HEAD",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Options => "OPTIONS",
        Method::Patch => "PATCH",
        Method::Other(other) => other.as_str(),
    };
    let path = match &call.path {
        Path::Trigger => "/hook/trigger",
        Path::Registry => "/hook/registry",
        Path::Healthz => "/healthz",
        Path::Metrics => "/metrics",
        Path::Root => "/",
        Path::Other(other) => other.as_str(),
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    let token_name = if call.secret_name { "secret" } else { "token" };
    match &call.token {
        Token::Trigger(index) => {
            let token = &fixture.tokens[usize::from(*index) % fixture.tokens.len()];
            query.append_pair(token_name, token);
        }
        Token::Absent => {}
        Token::Empty => {
            query.append_pair(token_name, "");
        }
        Token::Other(token) => {
            query.append_pair(token_name, token);
        }
    }
    for (name, value) in &call.params {
        let name = match name {
            Param::Type => "type",
            Param::Step => "step",
            Param::Kind => "kind",
            Param::Name => "name",
            Param::Token => "token",
            Param::Secret => "secret",
            Param::Other(other) if other == "wait" => continue,
            Param::Other(other) => other.as_str(),
        };
        let number;
        let value = match value {
            ParamValue::ScaleOut => "scale_out",
            ParamValue::ScaleIn => "scale_in",
            ParamValue::Number(n) => {
                number = n.to_string();
                number.as_str()
            }
            ParamValue::Deployment => "Deployment",
            ParamValue::Demo => "demo",
            ParamValue::Other(other) => other.as_str(),
        };
        query.append_pair(name, value);
    }
    let query = query.finish();
    let uri = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let body: Vec<u8> = match &call.payload {
        Payload::Raw(bytes) => bytes.to_vec(),
        Payload::Fixture(index) => BODIES[usize::from(*index) % BODIES.len()]
            .as_bytes()
            .to_vec(),
    };
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in &call.headers {
        let name = match name {
            Name::ContentType => header::CONTENT_TYPE,
            Name::ContentLength => header::CONTENT_LENGTH,
            Name::Signature => HeaderName::from_static("x-signature"),
            Name::HubSignature => HeaderName::from_static("x-hub-signature-256"),
            Name::GitHubEvent => HeaderName::from_static("x-github-event"),
            Name::UserAgent => header::USER_AGENT,
            Name::Other(other) => match HeaderName::from_bytes(other.as_bytes()) {
                Ok(name) => name,
                Err(_) => continue,
            },
        };
        let value = match value {
            Value::Json => "application/json",
            Value::MergePatch => "application/merge-patch+json",
            Value::JsonPatch => "application/json-patch+json",
            Value::StrategicPatch => "application/strategic-merge-patch+json",
            Value::Yaml => "application/yaml",
            Value::Form => "application/x-www-form-urlencoded",
            Value::Distribution => "application/vnd.docker.distribution.events.v1+json",
            Value::Other(other) => other.as_str(),
        };
        let Ok(value) = HeaderValue::from_str(value) else {
            continue;
        };
        request = request.header(name, value);
    }
    if call.sign {
        let signature = trigger::sign(&fixture.signing_key, &body);
        request = request.header("x-signature", signature);
    }
    let mut request = request.body(Body::from(body)).ok()?;
    let peer = SocketAddr::from(([127, 0, 0, call.peer], 40000));
    request.extensions_mut().insert(ConnectInfo(peer));
    Some(request)
}
