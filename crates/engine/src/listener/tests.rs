//! The listener in-process: every status code, the seeds' request forms, and the records
//! calls leave. (Deploys themselves are covered against the sandbox in `tests/`.)

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::*;
use crate::app::{ClusterRef, NewApplication, Pin, Source};
use crate::cluster::Clusters;
use crate::secrets::Secrets;
use crate::store::{Decision, NewTrigger, RecordFilter};
use crate::trigger::{TagFilter, TriggerKind, service};

const SEED: &str = include_str!("../../tests/fixtures/templates/seed-demo.yaml");
const SEED_PATCH: &str = include_str!("../../tests/fixtures/templates/seed-demo-patch.json");
const DOCKER_HUB: &str = include_str!("../../tests/fixtures/registry/dockerhub-seed004.json");

struct Fixture {
    _dir: tempfile::TempDir,
    state: Arc<State>,
    database: PathBuf,
    secrets: Secrets,
}

impl Fixture {
    fn new(template: &str, config: Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_dir(dir.path()).unwrap();
        store.create_template("demo", template, "").unwrap();
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
        let database = store.info().unwrap().path;
        let secrets = Secrets::Files(dir.path().join("secrets"));
        let workers = Workers::new(
            database.clone(),
            Clusters::new(None),
            CancellationToken::new(),
        )
        .unwrap();
        let state = State::new(config, database.clone(), secrets.clone(), workers).unwrap();
        Fixture {
            _dir: dir,
            state,
            database,
            secrets,
        }
    }

    fn trigger(&self, name: &str, kind: TriggerKind, signed: bool) -> service::Created {
        let mut store = Store::open(&self.database).unwrap();
        let new = NewTrigger {
            name: name.into(),
            app: "demo".into(),
            kind,
            signed,
        };
        service::create(&mut store, &self.secrets, &new).unwrap()
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        self.call_from("127.0.0.1:40000", method, uri, headers, body)
            .await
    }

    async fn call_from(
        &self,
        peer: &str,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::from(body.to_vec())).unwrap();
        let peer: SocketAddr = peer.parse().unwrap();
        // The way in a socket's calls take: the hooks straight to their handler.
        let front = Front::new(self.state.clone(), router(self.state.clone()), peer);
        let Ok(response) = front.answer(request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value, headers)
    }

    async fn records(&self, trigger: Option<&str>) -> Vec<crate::store::AccessRecord> {
        self.state.recorder.flush().await;
        let store = Store::open(&self.database).unwrap();
        store
            .access_records(&RecordFilter {
                trigger,
                limit: 1000,
                ..RecordFilter::default()
            })
            .unwrap()
    }

    fn versions(&self) -> Vec<crate::store::VersionSummary> {
        Store::open(&self.database)
            .unwrap()
            .versions("demo")
            .unwrap()
    }
}

fn redeploy_url(token: &str) -> String {
    format!("/hook/trigger?token={token}")
}

#[tokio::test]
async fn tokens_are_required_unknown_ones_are_recorded_without_the_token() {
    let f = Fixture::new(SEED, Config::default());
    let (status, body, _) = f.call("POST", "/hook/trigger", &[], b"").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_missing");
    let (status, body, _) = f
        .call("POST", "/hook/trigger?token=tl_nope", &[], b"")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "token_unknown");
    let records = f.records(None).await;
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|r| r.trigger.is_none() && r.decision == Decision::Rejected)
    );
    assert_eq!(records[0].path, "/hook/trigger?token=[redacted]");
    assert!(
        !records
            .iter()
            .any(|r| r.path.contains("tl_nope") || r.response.contains("tl_nope"))
    );
}

#[tokio::test]
async fn repeated_bad_tokens_from_one_address_are_throttled_but_valid_ones_pass() {
    let config = Config {
        throttle_failures: 3,
        ..Config::default()
    };
    let f = Fixture::new(SEED, config);
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    for _ in 0..3 {
        let (status, ..) = f
            .call_from("10.1.1.1:1", "GET", "/hook/trigger?token=tl_bad", &[], b"")
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // The guesser is stopped, with or without a token, before its body is read.
    for url in ["/hook/trigger?token=tl_other", "/hook/trigger"] {
        let (status, body, headers) = f
            .call_from("10.1.1.1:1", "POST", url, &[], &vec![b'x'; 4 << 20])
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{url}: {body}");
        assert!(headers.get("retry-after").is_some());
    }
    // The valid token from the same address is not refused.
    let (status, body, _) = f
        .call_from("10.1.1.1:1", "GET", &redeploy_url(&created.token), &[], b"")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // Another address is not affected.
    let (status, ..) = f
        .call_from("10.1.1.2:1", "GET", "/hook/trigger?token=tl_bad2", &[], b"")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn behind_a_shared_address_twenty_bad_tokens_do_not_lock_out_a_good_one() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    let nat = "198.51.100.1:1";
    for i in 0..Config::default().throttle_failures {
        let (status, ..) = f
            .call_from(
                nat,
                "GET",
                &format!("/hook/trigger?token=tl_guess{i}"),
                &[],
                b"",
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "guess {i}");
    }
    let (status, body, _) = f
        .call_from(nat, "POST", &redeploy_url(&created.token), &[], b"")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, ..) = f
        .call_from(nat, "GET", "/hook/trigger?token=tl_guess", &[], b"")
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let f = Fixture::new(
        SEED,
        Config {
            throttle_failures: 2,
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..Config::default()
        },
    );
    let bad = "/hook/trigger?token=tl_bad";
    let proxy = "10.0.0.1:443";
    // Behind the proxy, the attacker is throttled and its neighbour is not.
    for _ in 0..2 {
        let xff = [("x-forwarded-for", "1.1.1.1, 203.0.113.7")];
        let (status, ..) = f.call_from(proxy, "GET", bad, &xff, b"").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, body, _) = f
        .call_from(
            proxy,
            "GET",
            bad,
            &[("x-forwarded-for", "203.0.113.7")],
            b"",
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body["message"].as_str().unwrap().contains("203.0.113.7"));
    let (status, ..) = f
        .call_from(
            proxy,
            "GET",
            "/hook/trigger?token=tl_neighbour",
            &[("x-forwarded-for", "203.0.113.8")],
            b"",
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a neighbour is not throttled"
    );
    // The record names the client, not the proxy.
    let records = f.records(None).await;
    assert_eq!(records[0].source, "203.0.113.8");
    // An untrusted peer cannot dodge its count with a new header each time.
    let peer = "192.0.2.1:1";
    for (i, spoof) in ["10.0.0.9", "garbage", "203.0.113.99, 10.0.0.2"]
        .into_iter()
        .enumerate()
    {
        let xff = [("x-forwarded-for", spoof)];
        let url = format!("/hook/trigger?token=tl_spoof{i}");
        f.call_from(peer, "GET", &url, &xff, b"").await;
    }
    let (status, ..) = f
        .call_from(
            peer,
            "GET",
            "/hook/trigger?token=tl_last",
            &[("x-forwarded-for", "198.51.100.5")],
            b"",
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let records = f.records(None).await;
    assert!(
        records.iter().all(|r| r.source != "198.51.100.5"),
        "{records:?}"
    );
}

#[tokio::test]
async fn a_redeploy_call_queues_a_release_and_records_it() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    for method in ["GET", "POST"] {
        let (status, body, _) = f
            .call(method, &redeploy_url(&created.token), &[], b"")
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["status"], "accepted");
        assert!(body["release"]["id"].as_i64().is_some());
    }
    let records = f.records(Some("demo-redeploy")).await;
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|r| r.decision == Decision::Triggered && r.release.is_some() && r.status == 202)
    );
    let store = Store::open(&f.database).unwrap();
    let release = store.release(records[0].release.unwrap()).unwrap();
    assert!(
        matches!(release.cause, crate::store::Cause::Trigger { ref trigger, record: Some(_), .. } if trigger == "demo-redeploy")
    );
}

#[tokio::test]
async fn the_seed_patch_body_makes_a_version_before_the_deploy() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    let (status, body, _) = f
        .call(
            "POST",
            &redeploy_url(&created.token),
            &[("content-type", "application/json")],
            SEED_PATCH.as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let versions = f.versions();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].origin, crate::store::Origin::Patch);
    let content = Store::open(&f.database)
        .unwrap()
        .version("demo", None)
        .unwrap()
        .content;
    assert_eq!(content, SEED.replace(":blue", ":red"));
    assert_eq!(body["details"]["version"], 2);
}

#[tokio::test]
async fn bad_bodies_are_refused_and_make_no_version() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    let url = redeploy_url(&created.token);
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [u8], StatusCode, &'a str);
    let cases: &[Case] = &[
        (
            &[("content-type", "application/json")],
            b"{not json",
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            &[("content-type", "application/json")],
            br#"{"resource":{"service":{"metadata":{"name":"demo"}}}}"#,
            StatusCode::BAD_REQUEST,
            "no service",
        ),
        (
            &[("content-type", "application/json")],
            br#"{"resource":{"deployment":{"metadata":{"name":"other"}}}}"#,
            StatusCode::BAD_REQUEST,
            "no Deployment named \"other\"",
        ),
        (
            &[("content-type", "text/html")],
            b"<html>",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported patch type",
        ),
        (
            &[("content-type", "application/json-patch+json")],
            br#"[{"op":"remove","path":"/spec"}]"#,
            StatusCode::BAD_REQUEST,
            "does not say which object",
        ),
    ];
    for (headers, body, status, words) in cases {
        let (got, answer, _) = f.call("POST", &url, headers, body).await;
        assert_eq!(got, *status, "{answer}");
        assert!(
            answer["message"].as_str().unwrap_or("").contains(words),
            "{answer} / {words}"
        );
    }
    assert_eq!(
        f.versions().len(),
        1,
        "no version may be made by a refused patch"
    );
    let records = f.records(Some("demo-redeploy")).await;
    assert_eq!(records.len(), cases.len());
    assert!(
        records
            .iter()
            .all(|r| r.decision == Decision::Rejected && r.release.is_none())
    );
}

#[tokio::test]
async fn merge_patches_carry_their_target() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    let body = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"demo"},"spec":{"replicas":3}}"#;
    let (status, answer, _) = f
        .call(
            "POST",
            &redeploy_url(&created.token),
            &[("content-type", "application/merge-patch+json")],
            body,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(f.versions().len(), 2);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let config = Config {
        body_limit: 1024,
        ..Config::default()
    };
    let f = Fixture::new(SEED, config);
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    let big = vec![b' '; 4096];
    let (status, body, _) = f
        .call("POST", &redeploy_url(&created.token), &[], &big)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let length = big.len().to_string();
    let (status, ..) = f
        .call(
            "POST",
            &redeploy_url(&created.token),
            &[("content-length", &length)],
            &big,
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_flood_of_the_same_bad_call_is_one_record_and_keeps_the_history() {
    let f = Fixture::new(
        SEED,
        Config {
            throttle_failures: u32::MAX,
            ..Config::default()
        },
    );
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    let (status, ..) = f
        .call("POST", &redeploy_url(&created.token), &[], b"")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Far more identical calls than the retention keeps, answered concurrently.
    let calls = (0..400).map(|_| f.call("GET", "/hook/trigger?token=tl_bad", &[], b""));
    for (status, ..) in futures::future::join_all(calls).await {
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let unknown: Vec<_> = f
        .records(None)
        .await
        .into_iter()
        .filter(|r| r.trigger.is_none())
        .collect();
    assert_eq!(
        unknown.iter().map(|r| r.repeats).sum::<u32>(),
        400,
        "every call is counted"
    );
    assert!(
        unknown.len() <= 5,
        "{} records for one flood",
        unknown.len()
    );
    assert!(unknown.iter().any(|r| r.repeats > 1 && r.last_at.is_some()));
    let triggered = f.records(Some("demo-redeploy")).await;
    assert_eq!(triggered.len(), 1, "the triggered call is still there");
    let metrics = f.state.metrics.counts();
    assert!(
        metrics.contains(&("unknown".into(), 404, 400)),
        "{metrics:?}"
    );
}

#[tokio::test]
async fn a_trigger_disabled_while_calls_arrive_stops_at_the_next_call() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    let url = format!("{}&wait=false", redeploy_url(&created.token));
    let (status, ..) = f.call("POST", &url, &[], b"").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Another connection (the CLI, another process) disables it.
    Store::open(&f.database)
        .unwrap()
        .set_trigger_enabled("demo-redeploy", false)
        .unwrap();
    let (status, body, _) = f.call("POST", &url, &[], b"").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Rotated: the old token is unknown at once.
    let mut store = Store::open(&f.database).unwrap();
    store.set_trigger_enabled("demo-redeploy", true).unwrap();
    let rotated = service::rotate(&mut store, &f.secrets, "demo-redeploy").unwrap();
    let (status, ..) = f.call("POST", &url, &[], b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, ..) = f
        .call("POST", &redeploy_url(&rotated.token), &[], b"")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn disabled_triggers_answer_409() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    Store::open(&f.database)
        .unwrap()
        .set_trigger_enabled("demo-redeploy", false)
        .unwrap();
    let (status, body, _) = f
        .call("POST", &redeploy_url(&created.token), &[], b"")
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "trigger_disabled");
    let records = f.records(Some("demo-redeploy")).await;
    assert_eq!(records[0].status, 409);
}

#[tokio::test]
async fn applications_on_hold_answer_409() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    Store::open(&f.database)
        .unwrap()
        .set_app_hold("demo", Some("release freeze"))
        .unwrap();
    let (status, body, _) = f
        .call("POST", &redeploy_url(&created.token), &[], b"")
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "app_on_hold");
    assert!(body["message"].as_str().unwrap().contains("release freeze"));
    Store::open(&f.database)
        .unwrap()
        .set_app_hold("demo", None)
        .unwrap();
    let (status, ..) = f
        .call("POST", &redeploy_url(&created.token), &[], b"")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn scale_parameters_are_checked_by_name() {
    let f = Fixture::new(SEED, Config::default());
    let kind = TriggerKind::Scale {
        kind: "Deployment".into(),
        name: "demo".into(),
        min: Some(1),
        max: Some(10),
    };
    let created = f.trigger("demo-scale", kind, false);
    let base = redeploy_url(&created.token);
    for (query, words) in [
        ("", "needs type=scale_out"),
        ("&type=up&step=1", "type must be scale_out or scale_in"),
        ("&type=scale_out", "needs step=N"),
        (
            "&type=scale_out&step=0",
            "step must be a whole number from 1 to 100",
        ),
        ("&type=scale_out&step=101", "step must be"),
        ("&type=scale_out&step=two", "step must be"),
        ("&type=scale_out&step=-1", "step must be"),
    ] {
        let (status, body, _) = f.call("GET", &format!("{base}{query}"), &[], b"").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(words),
            "{query}: {body}"
        );
    }
    let (status, body, _) = f
        .call("GET", &format!("{base}&type=scale_out&step=5"), &[], b"")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let store = Store::open(&f.database).unwrap();
    let release = store
        .release(body["release"]["id"].as_i64().unwrap())
        .unwrap();
    let scale = release.options.scale.expect("a scale release");
    assert_eq!((scale.step, scale.max), (5, Some(10)));
}

#[tokio::test]
async fn signed_triggers_need_a_valid_signature() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-signed", TriggerKind::Redeploy, true);
    let key = created.signing_key.clone().unwrap();
    let url = redeploy_url(&created.token);
    let body = SEED_PATCH.as_bytes();
    let (status, ..) = f
        .call("POST", &url, &[("content-type", "application/json")], body)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let wrong = crate::trigger::sign("not-the-key", body);
    let (status, answer, _) = f
        .call(
            "POST",
            &url,
            &[
                ("content-type", "application/json"),
                ("x-signature", &wrong),
            ],
            body,
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("signature_invalid"))
    );
    let right = crate::trigger::sign(&key, body);
    let (status, answer, _) = f
        .call(
            "POST",
            &url,
            &[
                ("content-type", "application/json"),
                ("x-hub-signature-256", &right),
            ],
            body,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
}

/// An image trigger on `svendowideit/testhook` (the image of [`image_template`]) with `filter`.
fn testhook_images(filter: TagFilter) -> TriggerKind {
    TriggerKind::Image {
        repositories: vec!["svendowideit/testhook".into()],
        filter,
        pin_digest: false,
        branch: None,
        values: None,
        verify: crate::trigger::Verify::Off,
        watch: None,
        maturing: None,
        containers: Vec::new(),
        allow_downgrade: false,
    }
}

fn image_template() -> String {
    SEED.replace(
        "registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo:blue",
        "svendowideit/testhook:v1",
    )
}

#[tokio::test]
async fn registry_pushes_update_the_image_and_deploy() {
    let f = Fixture::new(&image_template(), Config::default());
    let kind = testhook_images(TagFilter::All);
    let created = f.trigger("demo-images", kind, false);
    let url = format!("/hook/registry?token={}", created.token);
    let (status, body, _) = f
        .call(
            "POST",
            &url,
            &[("content-type", "application/json")],
            DOCKER_HUB.as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let versions = f.versions();
    assert_eq!(
        versions.last().unwrap().origin,
        crate::store::Origin::ImageUpdate
    );
    let content = Store::open(&f.database)
        .unwrap()
        .version("demo", None)
        .unwrap()
        .content;
    assert!(
        content.contains("image: svendowideit/testhook:latest"),
        "{content}"
    );
    // The seed's event parameters are on the release.
    let store = Store::open(&f.database).unwrap();
    let release = store
        .release(body["release"]["id"].as_i64().unwrap())
        .unwrap();
    let crate::store::Cause::Trigger {
        event: Some(event), ..
    } = release.cause
    else {
        panic!("no event on the release");
    };
    assert_eq!(event["pusher"], "trustedbuilder");
    assert_eq!(event["owner"], "svendowideit");
    assert_eq!(event["tag"], "latest");
    assert_eq!(event["namespace"], "svendowideit");
    assert_eq!(event["name"], "testhook");
}

#[tokio::test]
async fn pushes_that_do_not_match_are_recorded_as_untriggered() {
    let f = Fixture::new(&image_template(), Config::default());
    let kind = testhook_images(TagFilter::Tags {
        tags: vec!["v2".into()],
    });
    let created = f.trigger("demo-images", kind, false);
    let url = format!("/hook/registry?token={}", created.token);
    let (status, body, _) = f
        .call(
            "POST",
            &url,
            &[("content-type", "application/json")],
            DOCKER_HUB.as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "untriggered");
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("tag latest is not in the list"),
        "{body}"
    );
    assert_eq!(f.versions().len(), 1);
    let records = f.records(Some("demo-images")).await;
    assert_eq!(records[0].decision, Decision::Untriggered);
    assert_eq!(
        records[0].reason,
        "untriggered: tag latest is not in the list"
    );
    // The parsed pushes stay on the record, as JSON.
    let event = records[0].event.as_ref().expect("the parsed event");
    assert_eq!(event[0]["format"], "docker-hub", "{event}");
    assert_eq!(event[0]["tag"], "latest");
    assert_eq!(event[0]["name"], "testhook");
    // Bad payloads and wrong hooks are 400/415.
    for (headers, payload, expected) in [
        (
            vec![("content-type", "application/json")],
            b"{}".as_slice(),
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("content-type", "application/json")],
            b"[1,2".as_slice(),
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("content-type", "application/xml")],
            b"<x/>".as_slice(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let (status, ..) = f.call("POST", &url, &headers, payload).await;
        assert_eq!(status, expected);
    }
    let (status, body, _) = f
        .call("POST", &redeploy_url(&created.token), &[], b"")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("wrong_hook"))
    );
}

#[tokio::test]
async fn health_and_metrics() {
    let f = Fixture::new(SEED, Config::default());
    let (status, body, _) = f.call("GET", "/healthz", &[], b"").await;
    assert_eq!((status, body), (StatusCode::OK, json!("ok\n")));
    f.call("GET", "/hook/trigger?token=tl_x", &[], b"").await;
    let (_, body, _) = f.call("GET", "/metrics", &[], b"").await;
    assert!(
        body.as_str()
            .unwrap()
            .contains("tripline_trigger_requests_total{kind=\"unknown\",status=\"404\"} 1")
    );
}

#[tokio::test]
async fn query_parameters_are_decoded_and_the_last_of_a_repeated_name_counts() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    // `_` percent-encoded, as some HTTP clients send it; and a decoy before the real token.
    let encoded = created.token.replacen('_', "%5F", 1);
    let url = format!("/hook/trigger?token=tl_decoy&token={encoded}");
    let (status, body, _) = f.call("POST", &url, &[], b"").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let url = format!("/hook/trigger?token={}&token=tl_decoy", created.token);
    let (status, ..) = f.call("POST", &url, &[], b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Malformed escapes and bytes that are not UTF-8 name no trigger; they do not fail.
    for url in [
        "/hook/trigger?token=%",
        "/hook/trigger?token=%zz&x=%ff%fe",
        "/hook/trigger?=&&token",
    ] {
        let (status, body, _) = f.call("GET", url, &[], b"").await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::UNAUTHORIZED,
            "{url}: {status} {body}"
        );
    }
    // `+` is a space: a step of "1 0" is not a number.
    let scale = TriggerKind::Scale {
        kind: "Deployment".into(),
        name: "demo".into(),
        min: None,
        max: None,
    };
    let created = f.trigger("demo-scale", scale, false);
    let url = format!(
        "/hook/trigger?token={}&type=scale_out&step=1+0",
        created.token
    );
    let (status, body, _) = f.call("POST", &url, &[], b"").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("\"1 0\""),
        "{body}"
    );
}

/// Every byte of `text` as `%XX`.
fn percent_all(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn no_spelling_of_a_secret_reaches_a_record_or_an_announcement() {
    let f = Fixture::new(
        SEED,
        Config {
            throttle_failures: u32::MAX,
            ..Config::default()
        },
    );
    let mut announced = f.state.subscribe();
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    let t = created.token.as_str();
    let every = percent_all(t);
    let first = t.replacen('t', "%74", 1);
    let upper_escapes = t.replace('_', "%5f");
    let json = [("content-type", "application/json")];
    let form = [("content-type", "application/x-www-form-urlencoded")];
    // (query, headers, body, spelling of the token in the request)
    type Case<'a> = (String, Vec<(&'a str, String)>, String, String);
    let plain = |query: String| -> Case { (query, vec![], String::new(), t.to_owned()) };
    let mut cases: Vec<Case> = vec![
        plain(format!("token={t}")),
        plain(format!("%74oken={t}")),
        plain(format!("%74%6F%6B%65%6E={t}")),
        plain(format!("%54OKEN={t}")),
        plain(format!("TOKEN={t}")),
        plain(format!("Token={t}")),
        plain(format!("tOkEn={t}&wait=false")),
        plain(format!("token=tl_decoy&token={t}")),
        plain(format!("token={t}&token=tl_decoy")),
        plain(format!("token={t}&token={t}")),
        plain(format!("secret={t}")),
        plain(format!("%73ecret={t}")),
        plain(format!("SECRET={t}")),
        plain(format!("x=1;token={t}")),
        plain(format!("x=1;token={t};y=2")),
        plain(format!("token={t}+")),
        plain(format!("token=+{t}")),
        plain(format!("token=&note={t}")),
        plain(format!("token=&{t}")),
        plain(format!("token={t}#fragment")),
        plain(format!("token=x#{t}")),
        plain(format!("note=a+{t}+b&token={t}")),
        plain(format!("myToken={t}&apikey={t}")),
        (
            format!("token={every}"),
            vec![],
            String::new(),
            every.clone(),
        ),
        (
            format!("%74oken={every}"),
            vec![],
            String::new(),
            every.clone(),
        ),
        (
            format!("token={first}"),
            vec![],
            String::new(),
            first.clone(),
        ),
        (
            format!("secret={upper_escapes}"),
            vec![],
            String::new(),
            upper_escapes.clone(),
        ),
        (
            format!("note={every}"),
            vec![],
            String::new(),
            every.clone(),
        ),
    ];
    let header = |name: &'static str, value: String| -> Case {
        (
            format!("token={t}"),
            vec![(name, value)],
            String::new(),
            t.to_owned(),
        )
    };
    cases.extend([
        header("authorization", format!("Bearer {t}")),
        header("proxy-authorization", format!("Basic {t}")),
        header("cookie", format!("token={t}")),
        header("x-gitlab-token", t.to_owned()),
        header("x-hub-signature", format!("sha1={t}")),
        header("user-agent", format!("ci/{t}")),
        header("x-request-id", t.to_owned()),
        header("x-forwarded-for", t.to_owned()),
    ]);
    let body = |headers: &[(&'static str, &str)], body: String| -> Case {
        let headers = headers.iter().map(|(n, v)| (*n, (*v).to_owned())).collect();
        (format!("token={t}"), headers, body, t.to_owned())
    };
    cases.extend([
        body(&json, format!(r#"{{"token":"{t}"}}"#)),
        body(&json, format!(r#"{{"a":"{t}","a":"{t}"}}"#)),
        body(
            &json,
            format!(r#"{{"resource":{{"deployment":{{"metadata":{{"name":"{t}"}}}}}}}}"#),
        ),
        body(
            &json,
            format!(r#"{{"nested":[{{"url":"https://x/hook?token={t}"}}]}}"#),
        ),
        body(&json, format!(r#"{{"{t}":1}}"#)),
        body(&json, format!(r#"{{"token":"{t}"#)),
        body(
            &json,
            format!(r#"{{"a":"{}"}}"#, t.replacen('t', "\\u0074", 1)),
        ),
        body(&form, format!("a=1&token={t}")),
        body(
            &[("content-type", "application/yaml")],
            format!("token: {t}\nkind: x\n"),
        ),
        body(&[], format!("free text {t} more")),
    ]);
    for (query, headers, payload, _) in &cases {
        for hook in ["trigger", "registry"] {
            let uri = format!("/hook/{hook}?{query}");
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let (status, ..) = f.call("POST", &uri, &headers, payload.as_bytes()).await;
            assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        }
    }
    let all = f.records(None).await;
    assert!(all.len() >= cases.len(), "{} records", all.len());
    let secret_spellings: Vec<&str> = cases
        .iter()
        .map(|(.., spelling)| spelling.as_str())
        .chain([t, t.trim_start_matches("tl_")])
        .collect();
    for record in &all {
        let text = format!("{record:?}");
        for spelling in &secret_spellings {
            assert!(
                !text.contains(spelling),
                "{spelling} in the record of {}:\n{text}",
                record.path
            );
        }
    }
    // What live views were told.
    while let Ok(recorded) = announced.try_recv() {
        let text = serde_json::to_string(&recorded).unwrap();
        assert!(!text.contains(t.trim_start_matches("tl_")), "{text}");
    }
}

#[tokio::test]
async fn only_the_exact_parameter_names_authenticate() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    let t = &created.token;
    let every = percent_all(t);
    for (query, expected) in [
        (format!("token={t}"), StatusCode::ACCEPTED),
        (format!("%74oken={t}"), StatusCode::ACCEPTED),
        (format!("token={every}"), StatusCode::ACCEPTED),
        (format!("secret={t}"), StatusCode::ACCEPTED),
        (format!("TOKEN={t}"), StatusCode::UNAUTHORIZED),
        (format!("Secret={t}"), StatusCode::UNAUTHORIZED),
        (format!("x=1;token={t}"), StatusCode::UNAUTHORIZED),
        (format!("token={t}+"), StatusCode::NOT_FOUND),
        ("token=".to_owned(), StatusCode::UNAUTHORIZED),
    ] {
        let (status, body, _) = f
            .call("GET", &format!("/hook/trigger?{query}"), &[], b"")
            .await;
        assert_eq!(status, expected, "{query}: {body}");
    }
}

#[tokio::test]
async fn records_keep_the_body_as_the_caller_sent_it() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    let json = [("content-type", "application/json")];
    for body in [
        r#"{"a":1,"a":2}"#,
        "{ \"a\" : 1 ,\n  \"b\":[1, 2.50, 1e3] }",
        r#"{"a":1,"a":{"password":"p","password":"q"}}"#,
    ] {
        f.call(
            "POST",
            &redeploy_url(&created.token),
            &json,
            body.as_bytes(),
        )
        .await;
    }
    let records = f.records(Some("demo-redeploy")).await;
    let kept: Vec<&str> = records.iter().rev().map(|r| r.body.as_str()).collect();
    assert_eq!(
        kept,
        [
            r#"{"a":1,"a":2}"#,
            "{ \"a\" : 1 ,\n  \"b\":[1, 2.50, 1e3] }",
            r#"{"a":1,"a":{"password":"[redacted]","password":"[redacted]"}}"#,
        ]
    );
}

#[tokio::test]
async fn a_json_patch_takes_its_target_from_kind_and_name() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    let url = redeploy_url(&created.token);
    let json_patch = [("content-type", "application/json-patch+json")];
    let replicas = br#"[{"op":"add","path":"/spec/replicas","value":4}]"#;
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [u8], &'a str);
    let refused: &[Case] = &[
        ("", &json_patch, replicas, "does not say which object"),
        ("&kind=Deployment", &json_patch, replicas, "go together"),
        ("&name=demo", &json_patch, replicas, "go together"),
        ("&kind=&name=demo", &json_patch, replicas, "go together"),
        (
            "&kind=Deployment&name=nope",
            &json_patch,
            replicas,
            "\"nope\"",
        ),
        (
            "&kind=StatefulSet&name=demo",
            &json_patch,
            replicas,
            "StatefulSet",
        ),
        (
            "&kind=Deployment&name=demo&namespace=other",
            &json_patch,
            replicas,
            "demo",
        ),
        (
            "&kind=Deployment&name=demo",
            &json_patch,
            br#"[{"op":"replace","path":"/spec/nothing","value":1}]"#,
            "",
        ),
        (
            "&kind=Deployment&name=demo",
            &[("content-type", "application/json")],
            SEED_PATCH.as_bytes(),
            "resource patch names its objects",
        ),
        ("&kind=Deployment&name=demo", &[], b"", "has no body"),
    ];
    for (query, headers, body, words) in refused {
        let (status, answer, _) = f
            .call("POST", &format!("{url}{query}"), headers, body)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {answer}");
        let message = answer["message"].as_str().unwrap_or("");
        assert!(message.contains(words), "{query}: {message}");
    }
    assert_eq!(f.versions().len(), 1, "a refused patch makes no version");
    let (status, answer, _) = f
        .call(
            "POST",
            &format!("{url}&kind=deployment&name=demo"),
            &json_patch,
            replicas,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(f.versions().len(), 2);
    let content = Store::open(&f.database)
        .unwrap()
        .version("demo", None)
        .unwrap()
        .content;
    assert!(content.contains("replicas: 4"), "{content}");
    // A merge patch may name its target the same way.
    let (status, answer, _) = f
        .call(
            "POST",
            &format!("{url}&kind=Deployment&name=demo"),
            &[("content-type", "application/merge-patch+json")],
            br#"{"spec":{"replicas":5}}"#,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(f.versions().len(), 3);
}

#[tokio::test]
async fn head_changes_nothing() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    for url in [
        redeploy_url(&created.token),
        "/hook/trigger?token=tl_bad".to_owned(),
        format!("/hook/registry?token={}", created.token),
    ] {
        let (status, body, headers) = f.call("HEAD", &url, &[], b"").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{url}");
        assert_eq!(body, json!(""), "no body");
        let allow = headers.get("allow").and_then(|v| v.to_str().ok());
        assert!(allow.is_some_and(|a| !a.contains("HEAD")), "{allow:?}");
    }
    assert!(f.records(None).await.is_empty(), "no record");
    assert!(f.records(Some("demo-redeploy")).await.is_empty());
    assert_eq!(f.versions().len(), 1);
    let store = Store::open(&f.database).unwrap();
    assert!(store.releases("demo", 10).unwrap().is_empty(), "no release");
    assert!(f.state.metrics.counts().is_empty(), "not even a count");
}

/// A panic while a lock of the request path is held (the metrics, the throttle, the token
/// index) does not make later calls fail: each lock is taken over, not propagated.
#[tokio::test]
async fn a_panic_while_a_shared_lock_is_held_does_not_stop_later_calls() {
    let f = Fixture::new(SEED, Config::default());
    let created = f.trigger("demo-redeploy", TriggerKind::Redeploy, false);
    f.state.metrics.poison();
    f.state.throttle.poison();
    f.state.index.poison();
    let (status, body, _) = f
        .call("POST", &redeploy_url(&created.token), &[], b"")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, _, _) = f.call("POST", &redeploy_url("not-a-token"), &[], b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(f.state.metrics.text().contains("202"));
}

/// The router answers every path as a connection's [`Front`] does (the front takes the hooks
/// past it): same status, same `Allow`, same body, for the hooks and for what only looks
/// like them.
#[tokio::test]
async fn the_router_and_the_front_answer_alike() {
    let fixture = Fixture::new(SEED, Config::default());
    let created = fixture.trigger("web", TriggerKind::Redeploy, false);
    let token = created.token.clone();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        ("HEAD", format!("/hook/trigger?token={token}"), ""),
        ("GET", format!("/hook/registry?token={token}"), ""),
        ("PUT", format!("/hook/trigger?token={token}"), ""),
        ("GET", "/hook/trigger?token=tl_bad".into(), ""),
        ("POST", "/hook/registry".into(), "{}"),
        ("GET", "/hook/trigger/?token=tl_bad".into(), ""),
        ("GET", "/hook/%74rigger?token=tl_bad".into(), ""),
        ("GET", "//hook/trigger?token=tl_bad".into(), ""),
        ("GET", "/HOOK/TRIGGER?token=tl_bad".into(), ""),
        ("GET", "/healthz".into(), ""),
        ("GET", "/nope".into(), ""),
    ];
    for (method, uri, body) in cases {
        let build = || {
            Request::builder()
                .method(method)
                .uri(&uri)
                .body(Body::from(body.to_owned()))
                .unwrap()
        };
        let mut routed = build();
        routed.extensions_mut().insert(ConnectInfo(peer));
        let routed = router(fixture.state.clone()).oneshot(routed).await.unwrap();
        let front = Front::new(fixture.state.clone(), router(fixture.state.clone()), peer);
        let Ok(fronted) = front.answer(build()).await;
        assert_eq!(fronted.status(), routed.status(), "{method} {uri}");
        assert_eq!(
            fronted.headers().get("allow"),
            routed.headers().get("allow"),
            "{method} {uri}"
        );
        let routed = routed.into_body().collect().await.unwrap().to_bytes();
        let fronted = fronted.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(fronted, routed, "{method} {uri}");
    }
}

/// A body that arrives in two parts `gap` apart, or whose second part never comes.
fn body_in_two_parts(first: &[u8], second: &[u8], gap: Option<Duration>) -> Body {
    let (parts, stream) = futures::channel::mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
    parts.unbounded_send(Ok(first.to_vec())).unwrap();
    let second = second.to_vec();
    tokio::spawn(async move {
        match gap {
            Some(gap) => {
                tokio::time::sleep(gap).await;
                let _ = parts.unbounded_send(Ok(second));
            }
            // Held open, never finished: the caller went quiet.
            None => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(parts);
            }
        }
    });
    Body::from_stream(stream)
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408_and_a_slow_one_in_time_is_read() {
    let timeout = Duration::from_millis(300);
    let f = Fixture::new(
        &image_template(),
        Config {
            body_timeout: timeout,
            ..Config::default()
        },
    );
    let kind = testhook_images(TagFilter::Tags {
        tags: vec!["release".into()],
    });
    let created = f.trigger("demo-images", kind, false);
    let url = format!("/hook/registry?token={}", created.token);
    let (first, second) = (
        br#"{"image":"svendowideit/"#.as_slice(),
        br#"testhook:v1"}"#.as_slice(),
    );
    let call = |body: Body| {
        let request = Request::builder()
            .method("POST")
            .uri(url.as_str())
            .header("content-type", "application/json")
            .body(body)
            .unwrap();
        let front = Front::new(
            f.state.clone(),
            router(f.state.clone()),
            "127.0.0.1:40000".parse().unwrap(),
        );
        async move {
            let started = tokio::time::Instant::now();
            let Ok(response) = front.answer(request).await;
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            (status, body, started.elapsed())
        }
    };

    // The second part comes after a third of the timeout: read whole, then answered.
    let (status, body, _) = call(body_in_two_parts(first, second, Some(timeout / 3))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "untriggered", "{body}");

    // It never comes: 408 once the timeout has passed, not before, and recorded.
    let (status, body, took) = tokio::time::timeout(
        Duration::from_secs(5),
        call(body_in_two_parts(first, second, None)),
    )
    .await
    .expect("an answer within 5 s");
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert!(
        body["message"].as_str() == Some("the body did not arrive within 300ms"),
        "{body}"
    );
    assert!(took >= timeout, "answered after {took:?}");
    assert!(took < timeout * 10, "answered after {took:?}");
    let records = f.records(Some("demo-images")).await;
    assert_eq!(records[0].status, 408, "{:?}", records[0]);

    // A body sent in chunks with no length, past the limit: 413 as soon as it is over.
    let (chunks, stream) = futures::channel::mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
    for _ in 0..5 {
        chunks.unbounded_send(Ok(vec![b' '; 300 * 1024])).unwrap();
    }
    let (status, body, _) =
        tokio::time::timeout(Duration::from_secs(5), call(Body::from_stream(stream)))
            .await
            .expect("an answer within 5 s, the stream still open");
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    drop(chunks);

    // A body there whole from the start takes no timer at all, and reads the same.
    let (status, body, _) = call(Body::from([first, second].concat())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "untriggered", "{body}");
}
