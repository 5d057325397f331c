//! The façade ([`Tripline`]) a desktop app holds: the demo deploys to the in-process
//! sandbox, the listener starts, stops and announces every call it records, and bad settings
//! are refused with errors that name the setting.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use tokio::sync::broadcast::Receiver;
use tripline_engine::api::{ListenerSettings, Options, Tripline};
use tripline_engine::deploy::worker::{DeployEvent, Event};
use tripline_engine::listener::Recorded;
use tripline_engine::store::{Decision, ReleaseStatus};

async fn open(dir: &tempfile::TempDir) -> Tripline {
    Tripline::open(Options {
        data_dir: dir.path().to_owned(),
        secrets: tripline_engine::secrets::Secrets::Files(dir.path().join("secrets")),
        via: "desktop",
        quiet: true,
    })
    .await
    .expect("tripline opens")
}

/// The secret store the façade opened, read from outside it: front ends never see it, but a
/// test checks what is (and is not) kept there.
fn secrets(dir: &tempfile::TempDir) -> tripline_engine::secrets::Secrets {
    tripline_engine::secrets::Secrets::detect(tripline_engine::secrets::Choice::Files, dir.path())
        .unwrap()
}

fn loopback() -> ListenerSettings {
    ListenerSettings {
        listen: "127.0.0.1:0".into(),
        public_url: None,
        trusted_proxies: Vec::new(),
    }
}

async fn finished(events: &mut Receiver<DeployEvent>, release: i64) -> ReleaseStatus {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let event = events.recv().await.expect("deploy events");
            if event.release == release
                && let Event::Finished { status, .. } = event.event
            {
                return status;
            }
        }
    })
    .await
    .expect("the release finishes within a minute")
}

async fn next_record(records: &mut Receiver<Recorded>) -> Recorded {
    tokio::time::timeout(Duration::from_secs(10), records.recv())
        .await
        .expect("a record is announced")
        .expect("records channel")
}

/// A bare HTTP/1.1 call; returns the status code.
fn call(address: &str, method: &str, path: &str) -> u16 {
    let mut stream = TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_deploys_and_the_listener_announces_each_call() {
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    let mut deploys = tripline.subscribe_deploys();
    let mut records = tripline.subscribe_records();
    let mut changes = tripline.subscribe_listener();

    let demo = tripline.create_demo().expect("demo");
    assert_eq!(demo.trigger.name, "demo-redeploy");
    assert_eq!(
        finished(&mut deploys, demo.release.id).await,
        ReleaseStatus::Succeeded
    );
    // Twice is harmless: what exists is reused and deployed again.
    let again = tripline.create_demo().expect("demo again");
    assert_eq!(again.trigger.name, "demo-redeploy");
    assert_eq!(
        finished(&mut deploys, again.release.id).await,
        ReleaseStatus::Succeeded
    );

    let workloads = tripline.workloads("demo").await.expect("workloads");
    assert_eq!(workloads.len(), 1, "{workloads:?}");
    let deployment = &workloads[0];
    assert_eq!(
        (deployment.kind.as_str(), deployment.name.as_str()),
        ("Deployment", "demo")
    );
    assert_eq!(deployment.ready, deployment.desired);
    assert!(deployment.images[0].ends_with("rollouts-demo:blue"));
    assert!(!deployment.pods.is_empty());
    assert!(
        deployment
            .pods
            .iter()
            .all(|p| p.phase == "Running" && p.ready),
        "{:?}",
        deployment.pods
    );

    let status = tripline
        .start_listener(loopback())
        .await
        .expect("listener starts");
    assert!(status.running);
    assert_ne!(status.address, "127.0.0.1:0");
    assert_eq!(status.public_url, format!("http://{}", status.address));
    assert!(changes.recv().await.unwrap().running);

    let url = tripline.trigger_url("demo-redeploy").await.expect("url");
    assert!(
        url.starts_with(&format!("http://{}/hook/trigger?token=tl_", status.address)),
        "{url}"
    );
    let path = url.split_once(&status.address).unwrap().1.to_owned();
    assert_eq!(call(&status.address, "POST", &path), 202);
    let recorded = next_record(&mut records).await;
    assert_eq!(recorded.trigger.as_deref(), Some("demo-redeploy"));
    assert_eq!(recorded.decision, Decision::Triggered);
    assert_eq!(recorded.status, 202);
    let release = recorded.release.expect("the call started a release");
    assert_eq!(
        finished(&mut deploys, release).await,
        ReleaseStatus::Succeeded
    );

    assert_eq!(
        call(&status.address, "GET", "/hook/trigger?token=tl_nope"),
        404
    );
    let rejected = next_record(&mut records).await;
    assert_eq!((rejected.trigger, rejected.status), (None, 404));

    let counts = tripline.listener_status().await.requests;
    assert!(
        counts
            .iter()
            .any(|c| c.kind == "redeploy" && c.status == 202 && c.count == 1),
        "{counts:?}"
    );

    let stopped = tripline.stop_listener().await;
    assert!(!stopped.running);
    assert!(!changes.recv().await.unwrap().running);
    assert!(
        TcpStream::connect(&status.address).is_err(),
        "a stopped listener refuses connections"
    );

    let examples = tripline
        .trigger_examples("demo-redeploy")
        .await
        .expect("examples");
    assert!(
        examples
            .iter()
            .any(|e| e.contains("curl") && e.contains("rollouts-demo")),
        "{examples:?}"
    );
    tripline.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_listener_settings_name_the_setting_and_are_kept_in_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    let error = tripline
        .start_listener(ListenerSettings {
            listen: "localhost:eighty".into(),
            public_url: None,
            trusted_proxies: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code, "listener.address");
    assert!(
        error.message.contains("localhost:eighty"),
        "{}",
        error.message
    );
    let status = tripline.listener_status().await;
    assert!(!status.running);
    assert_eq!(status.error.as_deref(), Some(error.message.as_str()));

    let error = tripline
        .start_listener(ListenerSettings {
            listen: "127.0.0.1:0".into(),
            public_url: Some("ftp://example.com".into()),
            trusted_proxies: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code, "listener.public_url");

    // A port someone else holds: the error says which and what to do.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let error = tripline
        .start_listener(ListenerSettings {
            listen: address.clone(),
            public_url: Some("https://hooks.example.com/".into()),
            trusted_proxies: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code, "listener.bind");
    assert!(
        error.message.contains(&address) && error.message.contains("Settings"),
        "{}",
        error.message
    );
    let status = tripline.listener_status().await;
    assert_eq!(status.public_url, "https://hooks.example.com");

    // Hostile or malformed values are refused before anything binds.
    for (listen, public_url, code) in [
        ("", None, "listener.address"),
        ("127.0.0.1", None, "listener.address"),
        ("127.0.0.1:99999", None, "listener.address"),
        (&"9".repeat(100_000), None, "listener.address"),
        ("127.0.0.1:0", Some("https://"), "listener.public_url"),
        ("127.0.0.1:0", Some("https://a b"), "listener.public_url"),
        (
            "127.0.0.1:0",
            Some("javascript:alert(1)"),
            "listener.public_url",
        ),
    ] {
        let settings = ListenerSettings {
            listen: listen.to_owned(),
            public_url: public_url.map(str::to_owned),
            trusted_proxies: Vec::new(),
        };
        assert_eq!(
            settings.validate().unwrap_err().code,
            code,
            "{listen:.20} {public_url:?}"
        );
    }

    // Starting again with good settings clears the error.
    let status = tripline.start_listener(loopback()).await.unwrap();
    assert!(status.running && status.error.is_none());
    tripline.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_secrets_stay_out_of_trigger_rows_and_setup_lists_what_the_template_uses() {
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    let demo = tripline.create_demo().unwrap();
    let token = secrets(&dir)
        .get(&tripline_engine::trigger::token_secret_name(
            "demo-redeploy",
        ))
        .unwrap();
    let serialized = serde_json::to_string(&demo).unwrap();
    assert!(
        !serialized.contains(&token),
        "no token in what a UI receives: {serialized}"
    );

    let setup = tripline.trigger_setup("demo").unwrap();
    assert_eq!(setup.images.len(), 1);
    assert_eq!(
        setup.images[0].repository,
        "registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo"
    );
    assert_eq!(
        setup.images[0].images,
        ["registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo:blue"]
    );
    assert_eq!(setup.workloads.len(), 1);
    assert_eq!(setup.workloads[0].name, "demo");

    let clusters = tripline.cluster_usage().unwrap();
    let sandbox = &clusters.clusters[0];
    assert_eq!(
        (sandbox.cluster.name.as_str(), sandbox.apps.as_slice()),
        ("sandbox", ["demo".to_owned()].as_slice())
    );

    let rotated = tripline.rotate_trigger("demo-redeploy").unwrap();
    assert!(rotated.rotated_at.is_some());
    tripline.delete_trigger("demo-redeploy").unwrap();
    assert_eq!(
        tripline
            .trigger_url("demo-redeploy")
            .await
            .unwrap_err()
            .code,
        "trigger.not_found"
    );

    // Deleting an application deletes its triggers' tokens too, not only their rows.
    tripline
        .create_trigger(&tripline_engine::store::NewTrigger {
            name: "demo-again".into(),
            app: "demo".into(),
            kind: tripline_engine::trigger::TriggerKind::Redeploy,
            signed: true,
        })
        .unwrap();
    let key = tripline.trigger_signing_key("demo-again").unwrap();
    assert!(key.starts_with("tls_") && key.len() > 40, "a 256-bit key");
    assert_eq!(
        tripline
            .trigger_signing_key("demo-redeploy-missing")
            .unwrap_err()
            .code,
        "trigger.not_found"
    );
    let secret = tripline_engine::trigger::token_secret_name("demo-again");
    assert!(secrets(&dir).get(&secret).is_ok());
    tripline.delete_app("demo").unwrap();
    assert!(secrets(&dir).get(&secret).is_err(), "the token is gone");
    assert!(
        secrets(&dir)
            .get(&tripline_engine::trigger::signing_secret_name("demo-again"))
            .is_err()
    );
    assert_eq!(
        tripline.delete_app("demo").unwrap_err().code,
        "app.not_found"
    );
    tripline.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_names_the_caller_and_a_bad_one_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    for bad in ["proxy.example.com", "10.0.0.0/33", "::1/129"] {
        let error = tripline
            .start_listener(ListenerSettings {
                trusted_proxies: vec!["127.0.0.1".into(), bad.into()],
                ..loopback()
            })
            .await
            .unwrap_err();
        assert_eq!(error.code, "listener.trusted_proxy", "{bad}");
        assert!(error.message.contains(bad), "{}", error.message);
    }
    let mut records = tripline.subscribe_records();
    let status = tripline
        .start_listener(ListenerSettings {
            // Blank entries (a trailing comma in a form) are ignored.
            trusted_proxies: vec!["127.0.0.0/8".into(), " ".into()],
            ..loopback()
        })
        .await
        .unwrap();
    let address = status.address.clone();
    let answered = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&address).expect("connect");
        write!(
            stream,
            "GET /hook/trigger?token=tl_nothing HTTP/1.1\r\nHost: {address}\r\n\
             X-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    })
    .await
    .unwrap();
    assert!(answered.starts_with("HTTP/1.1 404"), "{answered}");
    let recorded = tokio::time::timeout(Duration::from_secs(10), records.recv())
        .await
        .expect("a record is announced")
        .expect("records channel");
    assert_eq!(recorded.status, 404);
    let filter = tripline_engine::store::RecordFilter {
        limit: 10,
        ..Default::default()
    };
    let mut sources = Vec::new();
    for _ in 0..100 {
        sources = tripline
            .record_summaries(&filter)
            .unwrap()
            .into_iter()
            .map(|r| r.source)
            .collect();
        if !sources.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sources, ["203.0.113.7"]);
    tripline.shutdown().await;
}
