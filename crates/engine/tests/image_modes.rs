//! An image trigger's modes and guards through the façade and a real listener socket, on a
//! template application deployed to the sandbox: a semver range admits and refuses pushes, the
//! anti-downgrade guard refuses a lower version and the access record says why, and a trigger
//! that names its containers leaves the others (a sidecar of the same repository) alone.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use tokio::sync::broadcast::Receiver;
use tripline_engine::api::{ListenerSettings, Options, Tripline};
use tripline_engine::app::{ClusterRef, NewApplication, Pin, Source};
use tripline_engine::deploy::worker::{DeployEvent, Event};
use tripline_engine::store::{AccessRecord, Decision, NewTrigger, RecordFilter, ReleaseStatus};
use tripline_engine::trigger::{TagFilter, TriggerKind};

const TEMPLATE: &str = include_str!("fixtures/templates/shared-repository.yaml");
const REPOSITORY: &str = "ghcr.io/acme/tools";

async fn open(dir: &tempfile::TempDir) -> Tripline {
    Tripline::open(Options {
        data_dir: dir.path().to_owned(),
        secrets: tripline_engine::secrets::Secrets::Files(dir.path().join("secrets")),
        via: "test",
        quiet: true,
    })
    .await
    .expect("tripline opens")
}

/// A bare HTTP/1.1 POST of JSON; the status and the body.
fn post(address: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"));
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or_default())
}

/// Waits for release `release` to finish; its status and message.
async fn finished(events: &mut Receiver<DeployEvent>, release: i64) -> (ReleaseStatus, String) {
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let event = events.recv().await.expect("deploy events");
            if event.release == release
                && let Event::Finished {
                    status, message, ..
                } = event.event
            {
                return (status, message);
            }
        }
    })
    .await
    .expect("the release finishes within two minutes")
}

/// The trigger's newest `count` access records, once the recorder has written them.
async fn records(tripline: &Tripline, trigger: &str, count: usize) -> Vec<AccessRecord> {
    for _ in 0..100 {
        let records = tripline
            .records(&RecordFilter {
                trigger: Some(trigger),
                decision: None,
                before: None,
                limit: 100,
            })
            .unwrap();
        if records.len() >= count {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("trigger {trigger} never had {count} access records");
}

/// The image each container of Deployment `web` has in the template's latest version.
fn images(tripline: &Tripline) -> Vec<(String, String)> {
    let content = tripline.version("web", None).unwrap().content;
    let manifest = tripline_engine::template::Manifest::parse(&content).unwrap();
    let document = manifest
        .documents()
        .iter()
        .find(|d| d.id.kind == "Deployment")
        .unwrap();
    let spec = document.value.pointer("/spec/template/spec").unwrap();
    ["initContainers", "containers"]
        .iter()
        .flat_map(|list| spec[*list].as_array().cloned().unwrap_or_default())
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["image"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn image_of(tripline: &Tripline, container: &str) -> String {
    images(tripline)
        .into_iter()
        .find(|(name, _)| name == container)
        .map(|(_, image)| image)
        .unwrap_or_else(|| panic!("no container {container}"))
}

fn image_trigger(filter: TagFilter, containers: &[&str], allow_downgrade: bool) -> TriggerKind {
    TriggerKind::Image {
        repositories: vec![REPOSITORY.into()],
        filter,
        pin_digest: false,
        branch: None,
        values: None,
        containers: containers.iter().map(|c| (*c).to_owned()).collect(),
        allow_downgrade,
        // ghcr.io is not asked here: these tests are about the modes and guards.
        verify: tripline_engine::trigger::Verify::Off,
        watch: None,
        maturing: None,
    }
}

fn push(tag: &str) -> String {
    format!(r#"{{"image": "{REPOSITORY}:{tag}"}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semver_ranges_downgrades_and_named_containers_on_a_template_app() {
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    let mut deploys = tripline.subscribe_deploys();
    tripline.create_template("web", TEMPLATE, "").unwrap();
    tripline
        .create_app(&NewApplication {
            name: "web".into(),
            cluster: ClusterRef::Sandbox,
            namespace: "shop".into(),
            source: Source::Template {
                template: "web".into(),
                pin: Pin::Latest,
            },
            prune: false,
        })
        .unwrap();
    let create = |name: &str, kind: TriggerKind| {
        tripline.create_trigger(&NewTrigger {
            name: name.into(),
            app: "web".into(),
            kind,
            signed: false,
        })
    };
    // The sidecar follows versions ^7.9 of the shared repository, and only it.
    create(
        "sidecar",
        image_trigger(
            TagFilter::Semver {
                range: "^7.9".into(),
                prerelease: false,
            },
            &["sidecar"],
            false,
        ),
    )
    .unwrap();
    // Every push of the repository, for every container, with the guard on.
    create("every", image_trigger(TagFilter::All, &[], false)).unwrap();
    // The migration init container and the web container, downgrades allowed.
    create(
        "rollback",
        image_trigger(TagFilter::All, &["migrate", "web"], true),
    )
    .unwrap();
    let refused = create("bad", image_trigger(TagFilter::All, &["Side_car"], false)).unwrap_err();
    assert_eq!(refused.code, "trigger.invalid", "{refused:?}");
    assert!(
        refused.message.contains("\"Side_car\" is not valid"),
        "{refused:?}"
    );
    let refused = create("cache", image_trigger(TagFilter::All, &["logs"], false)).unwrap_err();
    assert_eq!(refused.code, "trigger.invalid", "{refused:?}");
    assert!(
        refused
            .message
            .contains("has no container named logs that uses ghcr.io/acme/tools"),
        "{refused:?}"
    );

    let listener = tripline
        .start_listener(ListenerSettings {
            listen: "127.0.0.1:0".into(),
            public_url: None,
            trusted_proxies: Vec::new(),
        })
        .await
        .expect("listener starts");
    let address = listener.address.clone();
    let path = |trigger: &'static str| {
        let tripline = &tripline;
        let address = &address;
        async move {
            let url = tripline.trigger_url(trigger).await.expect("url");
            url.split_once(address.as_str()).unwrap().1.to_owned()
        }
    };
    let (sidecar, every, rollback) = (
        path("sidecar").await,
        path("every").await,
        path("rollback").await,
    );
    let before = images(&tripline);
    assert_eq!(image_of(&tripline, "sidecar"), "ghcr.io/acme/tools:7.9.1");

    // Semver: outside the range, and a pre-release the trigger does not admit.
    for (tag, said) in [
        ("8.0.0", "tag 8.0.0 is outside the range ^7.9"),
        ("7.10.0-rc.1", "tag 7.10.0-rc.1 is a pre-release"),
        ("latest", "tag latest is not a version"),
    ] {
        let (code, body) = post(&address, &sidecar, &push(tag));
        assert_eq!(
            (code, body["status"].as_str()),
            (200, Some("untriggered")),
            "{body}"
        );
        assert!(body["reason"].as_str().unwrap().contains(said), "{body}");
    }
    assert_eq!(images(&tripline), before, "nothing changed");

    // Within the range: only the sidecar moves, though web and migrate use the repository.
    let (code, body) = post(&address, &sidecar, &push("7.10.2"));
    assert_eq!(code, 202, "{body}");
    let (status, message) = finished(&mut deploys, body["release"]["id"].as_i64().unwrap()).await;
    assert_eq!(status, ReleaseStatus::Succeeded, "{message}");
    assert_eq!(
        images(&tripline),
        [
            ("migrate".to_owned(), "ghcr.io/acme/tools:2.0.0".to_owned()),
            ("web".to_owned(), "ghcr.io/acme/tools:2.0.0".to_owned()),
            ("sidecar".to_owned(), "ghcr.io/acme/tools:7.10.2".to_owned()),
            ("logs".to_owned(), "ghcr.io/acme/logs:1.0.0".to_owned()),
        ]
    );
    let versions = tripline.versions("web").unwrap().len();

    // keel#823: a push of 3.0.0 for every container would move the sidecar from 7.10.2 down
    // to 3.0.0. The guard refuses that container; the others move up.
    let (code, body) = post(&address, &every, &push("3.0.0"));
    assert_eq!(code, 202, "{body}");
    let (status, message) = finished(&mut deploys, body["release"]["id"].as_i64().unwrap()).await;
    assert_eq!(status, ReleaseStatus::Succeeded, "{message}");
    assert_eq!(image_of(&tripline, "web"), "ghcr.io/acme/tools:3.0.0");
    assert_eq!(image_of(&tripline, "migrate"), "ghcr.io/acme/tools:3.0.0");
    assert_eq!(image_of(&tripline, "sidecar"), "ghcr.io/acme/tools:7.10.2");
    // The answer (and so the access record) says which container was left, and why.
    assert_eq!(
        body["details"]["refused"],
        serde_json::json!([{
            "place": "Deployment/web container sidecar",
            "deployed": "7.10.2",
            "pushed": "3.0.0",
        }]),
        "{body}"
    );
    assert_eq!(tripline.versions("web").unwrap().len(), versions + 1);

    // A push that would only lower versions is refused whole, recorded, and makes nothing.
    let (code, body) = post(&address, &every, &push("2.5.0"));
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("untriggered")),
        "{body}"
    );
    let reason = "tag 2.5.0 is lower than 3.0.0, deployed in Deployment/web container migrate; \
                  the trigger does not allow downgrades; tag 2.5.0 is lower than 3.0.0, deployed \
                  in Deployment/web container web; the trigger does not allow downgrades; tag \
                  2.5.0 is lower than 7.10.2, deployed in Deployment/web container sidecar; the \
                  trigger does not allow downgrades";
    assert_eq!(body["reason"], reason, "{body}");
    let recorded = records(&tripline, "every", 2).await;
    assert_eq!(recorded[0].decision, Decision::Untriggered);
    assert_eq!(recorded[0].reason, format!("untriggered: {reason}"));
    assert_eq!(tripline.versions("web").unwrap().len(), versions + 1);

    // A trigger that allows downgrades takes web and migrate back; the sidecar stays.
    let (code, body) = post(&address, &rollback, &push("2.0.0"));
    assert_eq!(code, 202, "{body}");
    let (status, message) = finished(&mut deploys, body["release"]["id"].as_i64().unwrap()).await;
    assert_eq!(status, ReleaseStatus::Succeeded, "{message}");
    assert_eq!(image_of(&tripline, "web"), "ghcr.io/acme/tools:2.0.0");
    assert_eq!(image_of(&tripline, "migrate"), "ghcr.io/acme/tools:2.0.0");
    assert_eq!(image_of(&tripline, "sidecar"), "ghcr.io/acme/tools:7.10.2");
    assert_eq!(image_of(&tripline, "logs"), "ghcr.io/acme/logs:1.0.0");
    tripline.shutdown().await;
}
