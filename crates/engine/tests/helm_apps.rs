//! Helm applications through the façade, against a real chart repository, a real registry
//! and the sandbox: created from a `helm create`d chart, redeployed by a trigger when a newer
//! version in range appears (and not when none does), rendered again after a values edit,
//! given a pushed image in their values by an image trigger (under keys the trigger names,
//! comments kept), failed (with what runs kept) by a tampered archive, and created from an OCI
//! registry.
//!
//! Without `helm` or `lighttpd` (and `docker-registry` for the OCI case) the tests print
//! `SKIPPED: …` and pass, unless `TRIPLINE_REQUIRE_SOURCES=1`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use tokio::sync::broadcast::Receiver;
use tripline_engine::api::{ListenerSettings, NewHelmApplication, Options, Tripline};
use tripline_engine::app::ClusterRef;
use tripline_engine::deploy::worker::{DeployEvent, Event};
use tripline_engine::source::Revision;
use tripline_engine::store::{NewTrigger, Origin, RecordFilter, ReleaseStatus, ValuesSaved};
use tripline_engine::trigger::{ImageValues, TagFilter, TriggerKind};

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

/// A bare HTTP/1.1 POST; the status and the body.
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

/// The path (with the token) of a trigger's URL.
async fn trigger_path(tripline: &Tripline, trigger: &str, address: &str) -> String {
    let url = tripline.trigger_url(trigger).await.expect("url");
    url.split_once(address).unwrap().1.to_owned()
}

/// Waits until the repository lists `version` (the file server may answer from its stat
/// cache for a moment after the index is replaced).
async fn listed(tripline: &Tripline, repository: &str, version: &str) {
    for _ in 0..50 {
        let versions = tripline
            .chart_versions(repository, "web", false, None, None)
            .await
            .unwrap();
        if versions.iter().any(|v| v == version) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the repository never listed {version}");
}

fn new_app(name: &str, repository: &str, version: &str, values: &str) -> NewHelmApplication {
    NewHelmApplication {
        name: name.into(),
        cluster: ClusterRef::Sandbox,
        namespace: "shop".into(),
        repository: repository.into(),
        chart: "web".into(),
        version: version.into(),
        plain_http: false,
        values: values.into(),
        prune: true,
        username: None,
        password: None,
    }
}

fn helm_version(revision: &Option<Revision>) -> String {
    match revision {
        Some(Revision::Helm { version, .. }) => version.clone(),
        other => panic!("not a Helm revision: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helm_application_follows_its_chart_values_and_pushed_images() {
    if !testbed::require(&["helm", "lighttpd"]) {
        return;
    }
    let charts = testbed::ChartRepo::start().expect("chart repository");
    charts
        .add_chart("web", "1.0.0", |chart| {
            testbed::set_image(chart, "registry.example.com/shop/web", "1.0").unwrap()
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    let mut deploys = tripline.subscribe_deploys();
    let repo = charts.base_url();

    // Created from the chart: rendered first, then kept as template and values version 1.
    let app = tripline
        .create_helm_app(new_app("web", &repo, "^1.0", "replicaCount: 1\n"))
        .await
        .expect("the Helm application is created");
    assert_eq!(app.source.template(), Some("web"));
    let first = tripline.version("web", None).unwrap();
    assert_eq!(helm_version(&first.summary.revision), "1.0.0");
    assert_eq!(first.summary.values, Some(1));
    assert!(
        first
            .content
            .contains("image: \"registry.example.com/shop/web:1.0\""),
        "{}",
        first.content
    );
    assert_eq!(tripline.values_versions("web").unwrap().len(), 1);
    assert_eq!(
        tripline
            .chart_versions(&repo, "web", false, None, None)
            .await
            .unwrap(),
        ["1.0.0"]
    );

    let release = tripline.deploy("web").unwrap();
    let (status, message) = finished(&mut deploys, release.id).await;
    assert_eq!(status, ReleaseStatus::Succeeded, "{message}");
    assert_eq!(
        helm_version(&tripline.deployed_revision("web").unwrap()),
        "1.0.0"
    );

    // A redeploy trigger with nothing new deploys nothing.
    tripline
        .create_trigger(&NewTrigger {
            name: "web-redeploy".into(),
            app: "web".into(),
            kind: TriggerKind::Redeploy,
            signed: false,
        })
        .unwrap();
    let listener = tripline
        .start_listener(ListenerSettings {
            listen: "127.0.0.1:0".into(),
            public_url: None,
            trusted_proxies: Vec::new(),
        })
        .await
        .expect("listener starts");
    let address = listener.address.clone();
    let redeploy = trigger_path(&tripline, "web-redeploy", &address).await;
    let (code, body) = post(&address, &redeploy, "");
    assert_eq!(code, 202, "{body}");
    let (status, message) = finished(&mut deploys, body["release"]["id"].as_i64().unwrap()).await;
    assert_eq!(status, ReleaseStatus::Succeeded);
    assert!(
        message.starts_with("nothing new: chart web 1.0.0"),
        "{message}"
    );

    // A body is refused: the chart writes the template.
    let (code, body) = post(&address, &redeploy, r#"{"spec":{}}"#);
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("Helm chart"),
        "{body}"
    );

    // A newer version in range is deployed by the next call.
    charts
        .add_chart("web", "1.1.0", |chart| {
            testbed::set_image(chart, "registry.example.com/shop/web", "1.1").unwrap()
        })
        .unwrap();
    listed(&tripline, &repo, "1.1.0").await;
    // What it would change, before it is deployed.
    let preview = tripline.source_preview("web").await.unwrap();
    assert_eq!(helm_version(&Some(preview.newest.clone())), "1.1.0");
    assert_eq!(helm_version(&preview.deployed), "1.0.0");
    let diff = serde_json::to_string(&preview.diff).unwrap();
    assert!(diff.contains("registry.example.com/shop/web:1.1"), "{diff}");
    let (code, body) = post(&address, &redeploy, "");
    assert_eq!(code, 202, "{body}");
    let (status, message) = finished(&mut deploys, body["release"]["id"].as_i64().unwrap()).await;
    assert_eq!(status, ReleaseStatus::Succeeded, "{message}");
    assert_eq!(
        helm_version(&tripline.deployed_revision("web").unwrap()),
        "1.1.0",
        "{message}"
    );
    assert!(
        tripline
            .version("web", None)
            .unwrap()
            .content
            .contains("registry.example.com/shop/web:1.1")
    );

    // A values edit is a new values version, rendered by the next deploy.
    let saved = tripline
        .save_values("web", "replicaCount: 3\n", "three replicas")
        .unwrap();
    assert!(matches!(saved, ValuesSaved::Created { ref version } if version.number == 2));
    assert!(matches!(
        tripline
            .save_values("web", "replicaCount: 3\n", "again")
            .unwrap(),
        ValuesSaved::Unchanged { .. }
    ));
    let refused = tripline
        .save_values("web", "- not\n- a map\n", "")
        .unwrap_err();
    assert_eq!(refused.code, "input.invalid", "{refused:?}");
    let diff = tripline.diff_values("web", 1, 2).unwrap();
    assert!(diff.diff.contains("-replicaCount: 1") && diff.diff.contains("+replicaCount: 3"));
    let (code, body) = post(&address, &redeploy, "");
    assert_eq!(code, 202, "{body}");
    let (status, message) = finished(&mut deploys, body["release"]["id"].as_i64().unwrap()).await;
    assert_eq!(status, ReleaseStatus::Succeeded, "{message}");
    let latest = tripline.version("web", None).unwrap();
    assert_eq!(latest.summary.values, Some(2));
    assert!(latest.content.contains("replicas: 3"), "{}", latest.content);

    // An image trigger sets the pushed image in the values and deploys it.
    tripline
        .create_trigger(&NewTrigger {
            name: "web-images".into(),
            app: "web".into(),
            kind: TriggerKind::Image {
                repositories: vec!["registry.example.com/shop/web".into()],
                filter: TagFilter::All,
                pin_digest: false,
                branch: None,
                values: None,
                verify: tripline_engine::trigger::Verify::Off,
                watch: None,
                maturing: None,
                containers: Vec::new(),
                allow_downgrade: false,
            },
            signed: false,
        })
        .expect("image triggers are allowed on Helm applications");
    let images = trigger_path(&tripline, "web-images", &address)
        .await
        .replace("/hook/trigger", "/hook/registry");
    let (code, body) = post(
        &address,
        &images,
        r#"{"image": "registry.example.com/shop/web:2.0"}"#,
    );
    assert_eq!(code, 202, "{body}");
    let (status, message) = finished(&mut deploys, body["release"]["id"].as_i64().unwrap()).await;
    assert_eq!(status, ReleaseStatus::Succeeded, "{message}");
    let values = tripline.values("web", None).unwrap();
    assert_eq!(values.summary.number, 3);
    assert_eq!(values.summary.origin, Origin::ImageUpdate);
    assert!(values.summary.message.contains("web-images"), "{values:?}");
    assert!(
        values.content.contains("replicaCount: 3"),
        "{}",
        values.content
    );
    let deployed = tripline.version("web", None).unwrap();
    assert!(
        deployed
            .content
            .contains("image: \"registry.example.com/shop/web:2.0\""),
        "{}",
        deployed.content
    );
    // The same push again changes nothing.
    let (code, body) = post(
        &address,
        &images,
        r#"{"image": "registry.example.com/shop/web:2.0"}"#,
    );
    assert_eq!(code, 200, "{body}");
    // A lower version than the values hold is refused, and says where the higher one is.
    let (code, body) = post(
        &address,
        &images,
        r#"{"image": "registry.example.com/shop/web:1.9"}"#,
    );
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("untriggered")),
        "{body}"
    );
    assert_eq!(
        body["reason"],
        "tag 1.9 is lower than 2.0, deployed in values key image.tag; the trigger does not \
         allow downgrades"
    );
    assert_eq!(tripline.values("web", None).unwrap().summary.number, 3);

    // A tampered archive fails the release; what runs stays the last success.
    let before = tripline.deployed_revision("web").unwrap();
    charts.add_chart("web", "1.2.0", |_| {}).unwrap();
    charts.corrupt_archive("web", "1.2.0").unwrap();
    listed(&tripline, &repo, "1.2.0").await;
    let (code, body) = post(&address, &redeploy, "");
    assert_eq!(code, 202, "{body}");
    let id = body["release"]["id"].as_i64().unwrap();
    let (status, message) = finished(&mut deploys, id).await;
    assert_eq!(status, ReleaseStatus::Failed, "{message}");
    assert_eq!(
        tripline.release(id).unwrap().reason.as_deref(),
        Some("source.digest_mismatch")
    );
    assert_eq!(tripline.deployed_revision("web").unwrap(), before);
    assert_eq!(
        helm_version(&tripline.source_revision("web").unwrap()),
        "1.1.0"
    );

    // The chart repository gone: the release fails as unreachable, naming it; what runs
    // stays the last success.
    drop(charts);
    let (code, body) = post(&address, &redeploy, "");
    assert_eq!(code, 202, "{body}");
    let id = body["release"]["id"].as_i64().unwrap();
    let (status, message) = finished(&mut deploys, id).await;
    assert_eq!(status, ReleaseStatus::Failed, "{message}");
    let release = tripline.release(id).unwrap();
    assert_eq!(
        release.reason.as_deref(),
        Some("source.unreachable"),
        "{}",
        release.message
    );
    assert!(
        release.message.contains(repo.trim_end_matches('/')),
        "{}",
        release.message
    );
    assert_eq!(tripline.deployed_revision("web").unwrap(), before);

    tripline.shutdown().await;
}

/// The values of the keys-test's application: comments the image trigger must keep.
const BACKEND_VALUES: &str = "\
# The shop's backend.
replicaCount: 1

backend:
  image:
    repo: registry.example.com/shop/backend   # set by Tripline
    tag: \"1.0\"   # set by Tripline
  # resources: {}
";

/// An image trigger that names its own values keys sets those, and only those: the values'
/// comments and layout are kept in the new values version, which the release renders. Keys
/// that cannot hold a value are refused when a push comes (the access record says which);
/// a write-back branch, or keys that overlap, are refused when the trigger is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_trigger_sets_the_values_keys_it_names() {
    if !testbed::require(&["helm", "lighttpd"]) {
        return;
    }
    let charts = testbed::ChartRepo::start().expect("chart repository");
    charts
        .add_chart("web", "1.0.0", |chart| {
            // The chart reads its image from keys of its own.
            let path = chart.join("templates/deployment.yaml");
            let text = std::fs::read_to_string(&path).unwrap();
            let line = text
                .lines()
                .find(|l| l.trim_start().starts_with("image:"))
                .unwrap()
                .to_owned();
            let indent = &line[..line.len() - line.trim_start().len()];
            let own = format!(
                "{indent}image: \"{{{{ .Values.backend.image.repo }}}}:{{{{ .Values.backend.image.tag }}}}\""
            );
            std::fs::write(&path, text.replace(&line, &own)).unwrap();
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    let mut deploys = tripline.subscribe_deploys();
    tripline
        .create_helm_app(new_app("web", &charts.base_url(), "", BACKEND_VALUES))
        .await
        .expect("the Helm application is created");
    let release = tripline.deploy("web").unwrap();
    let (status, message) = finished(&mut deploys, release.id).await;
    assert_eq!(status, ReleaseStatus::Succeeded, "{message}");

    let image = |branch: Option<&str>, values: Option<ImageValues>| TriggerKind::Image {
        repositories: vec!["registry.example.com/shop/backend".into()],
        filter: TagFilter::All,
        pin_digest: false,
        branch: branch.map(str::to_owned),
        values,
        verify: tripline_engine::trigger::Verify::Off,
        watch: None,
        maturing: None,
        containers: Vec::new(),
        allow_downgrade: false,
    };
    let keys = |repository: &str, tag: &str| ImageValues::Split {
        repository: repository.into(),
        tag: tag.into(),
    };
    let new = |name: &str, kind: TriggerKind| NewTrigger {
        name: name.into(),
        app: "web".into(),
        kind,
        signed: false,
    };
    for (kind, said) in [
        (
            image(Some("images"), None),
            "a write-back branch is for applications that deploy from Git",
        ),
        (
            image(None, Some(keys("backend.image", "backend.image.tag"))),
            "overlap",
        ),
        (
            image(None, Some(keys("backend..repo", "backend.tag"))),
            "two dots in a row",
        ),
        (
            TriggerKind::Image {
                repositories: vec!["registry.example.com/shop/backend".into()],
                filter: TagFilter::All,
                pin_digest: false,
                branch: None,
                values: None,
                containers: vec!["backend".into()],
                allow_downgrade: false,
                verify: tripline_engine::trigger::Verify::Off,
                watch: None,
                maturing: None,
            },
            "cannot name containers (backend); name the values keys instead",
        ),
    ] {
        let error = tripline.create_trigger(&new("bad", kind)).unwrap_err();
        assert_eq!(error.code, "trigger.invalid", "{error:?}");
        assert!(error.message.contains(said), "{}", error.message);
    }
    tripline
        .create_trigger(&new(
            "backend-images",
            image(None, Some(keys("backend.image.repo", "backend.image.tag"))),
        ))
        .unwrap();
    tripline
        .create_trigger(&new(
            "misnamed-keys",
            image(None, Some(keys("replicaCount.repo", "replicaCount.tag"))),
        ))
        .unwrap();
    let listener = tripline
        .start_listener(ListenerSettings {
            listen: "127.0.0.1:0".into(),
            public_url: None,
            trusted_proxies: Vec::new(),
        })
        .await
        .expect("listener starts");
    let address = listener.address.clone();
    let path = |trigger| {
        let tripline = &tripline;
        let address = &address;
        async move {
            trigger_path(tripline, trigger, address)
                .await
                .replace("/hook/trigger", "/hook/registry")
        }
    };

    let push = r#"{"image": "registry.example.com/shop/backend:2.0"}"#;
    let (code, body) = post(&address, &path("backend-images").await, push);
    assert_eq!(code, 202, "{body}");
    let (status, message) = finished(&mut deploys, body["release"]["id"].as_i64().unwrap()).await;
    assert_eq!(status, ReleaseStatus::Succeeded, "{message}");
    let values = tripline.values("web", None).unwrap();
    assert_eq!(values.summary.number, 2);
    assert_eq!(values.summary.origin, Origin::ImageUpdate);
    assert_eq!(
        values.content,
        BACKEND_VALUES.replace("tag: \"1.0\"", "tag: \"2.0\""),
        "only the tag changed; the comments are kept"
    );
    let deployed = tripline.version("web", None).unwrap();
    assert!(
        deployed
            .content
            .contains("image: \"registry.example.com/shop/backend:2.0\""),
        "{}",
        deployed.content
    );

    // Keys under a value that is not a map: refused when the push comes, nothing made.
    let (code, body) = post(&address, &path("misnamed-keys").await, push);
    assert_eq!(code, 400, "{body}");
    let said = body["message"].as_str().unwrap_or_default();
    assert!(said.contains("`replicaCount` is a number"), "{body}");
    assert_eq!(tripline.values("web", None).unwrap().summary.number, 2);
    let mut records = Vec::new();
    for _ in 0..100 {
        records = tripline
            .records(&RecordFilter {
                trigger: Some("misnamed-keys"),
                decision: None,
                before: None,
                limit: 5,
            })
            .unwrap();
        if !records.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        records[0].reason.contains("`replicaCount` is a number"),
        "{:?}",
        records[0]
    );
    tripline.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helm_application_from_an_oci_registry_deploys() {
    if !testbed::require(&["helm", "lighttpd", "docker-registry"]) {
        return;
    }
    let charts = testbed::ChartRepo::start().expect("chart repository");
    let archive = charts
        .add_chart("web", "0.3.0", |chart| {
            testbed::set_image(chart, "registry.example.com/shop/web", "0.3").unwrap()
        })
        .unwrap();
    let registry = testbed::Registry::start(None).expect("registry");
    let digest = registry.push_chart(&archive, "charts").expect("push");
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    let mut deploys = tripline.subscribe_deploys();
    tripline
        .create_helm_app(new_app("oci-web", &registry.oci_url("charts"), "", ""))
        .await
        .expect("the OCI application is created");
    let release = tripline.deploy("oci-web").unwrap();
    let (status, message) = finished(&mut deploys, release.id).await;
    assert_eq!(status, ReleaseStatus::Succeeded, "{message}");
    match tripline.deployed_revision("oci-web").unwrap() {
        Some(Revision::Helm {
            version,
            digest: got,
            ..
        }) => {
            assert_eq!(version, "0.3.0");
            assert_eq!(got, digest);
        }
        other => panic!("{other:?}"),
    }
    tripline.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helm_application_that_cannot_render_is_not_kept() {
    if !testbed::require(&["helm", "lighttpd"]) {
        return;
    }
    let charts = testbed::ChartRepo::start().expect("chart repository");
    charts.add_chart("web", "1.0.0", |_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    for (version, values, code) in [
        ("^2", "", "source.not_found"),
        ("not a range", "", "input.invalid"),
        ("", "- a list\n", "source.invalid"),
    ] {
        let error = tripline
            .create_helm_app(new_app("web", &charts.base_url(), version, values))
            .await
            .unwrap_err();
        assert_eq!(error.code, code, "{version:?} {values:?}: {error:?}");
        assert!(tripline.app("web").is_err(), "nothing is kept");
        assert!(
            tripline.version("web", None).is_err(),
            "no template is kept"
        );
    }
    tripline.shutdown().await;
}
