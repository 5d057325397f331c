//! Unit tests of detection, naming, times and the per-format rules that the fixture corpus
//! (`tests/registry_fixtures.rs`) does not isolate.

use serde_json::{Value, json};

use super::{Format, PushEvent, parse, parse_delivery};

/// A call without headers (an empty slice names no header type of its own).
const NO_HEADERS: &[(&str, &str)] = &[];

pub(super) const DIGEST: &str =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub(super) fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn one(headers: &[(String, String)], body: &Value) -> PushEvent {
    let mut events = parse(headers, body.to_string().as_bytes()).expect("parses");
    assert_eq!(events.len(), 1, "{events:?}");
    events.remove(0)
}

#[test]
fn detection_uses_headers_then_body_shape() {
    let distribution_type = "application/vnd.docker.distribution.events.v1+json; charset=utf-8";
    type Headers = Vec<(String, String)>;
    let cases: Vec<(Headers, Value, Format)> = vec![
        (
            headers(&[("x-github-event", "ping")]),
            json!({"zen": "hi"}),
            Format::GitHub,
        ),
        (
            headers(&[("User-Agent", "GitHub-Hookshot/abc123")]),
            json!({"action": "published", "package": {"package_type": "npm"}}),
            Format::GitHub,
        ),
        (
            headers(&[("CONTENT-TYPE", distribution_type)]),
            json!({"events": []}),
            Format::Distribution,
        ),
        (vec![], json!({"events": []}), Format::Distribution),
        (
            vec![],
            json!({"push_data": {"tag": "v1"}, "repository": {"repo_name": "a/b"}}),
            Format::DockerHub,
        ),
        (
            vec![],
            json!({"push_data": {"tag": "v1"}, "repository": {"region": "cn-hangzhou",
                   "repo_full_name": "a/b"}}),
            Format::AlibabaAcr,
        ),
        (
            vec![],
            json!({"type": "PULL_ARTIFACT", "event_data": {}}),
            Format::Harbor,
        ),
        (
            vec![],
            json!({"specversion": "1.0", "type": "harbor.artifact.deleted", "data": {}}),
            Format::Harbor,
        ),
        (
            vec![],
            json!({"repository": "a/b", "docker_url": "quay.io/a/b", "updated_tags": []}),
            Format::Quay,
        ),
        (
            vec![],
            json!({"action": "ping", "target": {}}),
            Format::AzureAcr,
        ),
        (
            vec![],
            json!({"action": "published", "registry_package": {"package_type": "npm"}}),
            Format::GitHub,
        ),
        (
            vec![],
            json!({"domain": "docker", "event_type": "deleted", "data": {}}),
            Format::Artifactory,
        ),
        (
            vec![],
            json!({"domain": "artifact", "event_type": "deployed", "data": {}}),
            Format::Artifactory,
        ),
        (
            vec![],
            json!({"repo_key": "docker-local", "image_name": "a", "event_type": "deleted"}),
            Format::Artifactory,
        ),
        (
            vec![],
            json!({"message": {"data": "eyJhY3Rpb24iOiJERUxFVEUiLCJ0YWciOiJnY3IuaW8vcC9hOjEifQ=="},
                   "subscription": "projects/p/subscriptions/s"}),
            Format::GoogleArtifactRegistry,
        ),
        (
            vec![],
            json!({"action": "DELETE", "tag": "gcr.io/p/a:1"}),
            Format::GoogleArtifactRegistry,
        ),
        (vec![], json!({"image": "nginx:1"}), Format::Generic),
        (
            vec![],
            json!({"repository": "nginx", "tag": "1"}),
            Format::Generic,
        ),
    ];
    for (headers, body, format) in cases {
        let delivery = parse_delivery(&headers, body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(delivery.format, format, "{body}");
    }
}

#[test]
fn format_names_are_stable_and_match_serde() {
    let expected = [
        (Format::DockerHub, "docker-hub"),
        (Format::AlibabaAcr, "alibaba-acr"),
        (Format::Harbor, "harbor"),
        (Format::Quay, "quay"),
        (Format::AzureAcr, "azure-acr"),
        (Format::Distribution, "distribution"),
        (Format::GitHub, "github"),
        (Format::Artifactory, "jfrog-artifactory"),
        (Format::GoogleArtifactRegistry, "google-artifact-registry"),
        (Format::Generic, "generic"),
    ];
    assert_eq!(Format::ALL.len(), expected.len());
    for (format, name) in expected {
        assert_eq!(format.name(), name);
        assert_eq!(serde_json::to_value(format).unwrap(), json!(name));
        assert_eq!(
            serde_json::from_value::<Format>(json!(name)).unwrap(),
            format
        );
    }
}

#[test]
fn push_events_serialise_in_camel_case_and_read_back() {
    let event = one(
        &[],
        &json!({"image": format!("ghcr.io/acme/api:v1@{DIGEST}")}),
    );
    let value = serde_json::to_value(&event).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "format",
            "image",
            "tag",
            "digest",
            "mediaType",
            "registry",
            "namespace",
            "name",
            "owner",
            "pusher",
            "pushedAt"
        ]
    );
    assert_eq!(serde_json::from_value::<PushEvent>(value).unwrap(), event);
}

#[test]
fn push_times_become_utc_rfc3339() {
    let hub = |pushed_at: Value| {
        json!({"push_data": {"tag": "v1", "pushed_at": pushed_at},
               "repository": {"repo_name": "a/b"}})
    };
    let distribution = |timestamp: &str| {
        json!({"events": [{"action": "push", "timestamp": timestamp,
               "target": {"repository": "a", "tag": "v1"}, "request": {"host": "r.example"}}]})
    };
    let acr = |pushed_at: &str| {
        json!({"push_data": {"tag": "v1", "pushed_at": pushed_at},
               "repository": {"region": "cn-hangzhou", "repo_full_name": "a/b"}})
    };
    let cases = [
        (hub(json!(1_417_566_161)), "2014-12-03T00:22:41Z"),
        (hub(json!(1.417_566_161_5e9)), "2014-12-03T00:22:41.5Z"),
        (hub(json!(0)), "1970-01-01T00:00:00Z"),
        (
            distribution("2016-03-09T14:44:26.402973972-08:00"),
            "2016-03-09T22:44:26.402973972Z",
        ),
        (distribution("2006-01-02T15:04:05Z"), "2006-01-02T15:04:05Z"),
        (acr("2016-11-29 12:25:46"), "2016-11-29T04:25:46Z"),
    ];
    for (body, expected) in cases {
        let event = one(&[], &body);
        assert_eq!(event.pushed_at.as_deref(), Some(expected), "{body}");
    }
}

#[test]
fn harbor_drops_a_tag_that_repeats_the_digest_and_reads_harbor_1() {
    let body = |kind: &str, tag: &str| {
        json!({"type": kind, "occur_at": 1_678_082_303, "operator": "admin", "event_data": {
            "resources": [{"digest": DIGEST, "tag": tag,
                           "resource_url": format!("harbor.dev/library/busybox@{DIGEST}")}],
            "repository": {"name": "busybox", "namespace": "library",
                           "repo_full_name": "library/busybox", "repo_type": "public"}}})
    };
    let by_digest = one(&[], &body("PUSH_ARTIFACT", DIGEST));
    assert_eq!(by_digest.tag, None);
    assert_eq!(by_digest.digest.as_deref(), Some(DIGEST));
    assert_eq!(by_digest.registry, "harbor.dev");

    let harbor_1 = one(&[], &body("pushImage", "1.36"));
    assert_eq!(harbor_1.tag.as_deref(), Some("1.36"));

    let pulled = parse_delivery(
        NO_HEADERS,
        body("PULL_ARTIFACT", "1.36").to_string().as_bytes(),
    );
    let pulled = pulled.unwrap();
    assert!(pulled.events.is_empty());
    assert_eq!(
        pulled.skipped,
        ["Harbor event \"PULL_ARTIFACT\" is not a push"]
    );
}

#[test]
fn distribution_keeps_only_manifest_pushes() {
    let event = |media: Option<&str>, tag: Option<&str>| {
        let mut target = json!({"repository": "acme/shop", "digest": DIGEST});
        if let Some(media) = media {
            target["mediaType"] = json!(media);
        }
        if let Some(tag) = tag {
            target["tag"] = json!(tag);
        }
        json!({"action": "push", "target": target, "request": {"host": "r.example:5000"}})
    };
    let cases = [
        (
            Some("application/vnd.docker.distribution.manifest.list.v2+json"),
            None,
            1,
        ),
        (
            Some("application/vnd.oci.image.index.v1+json"),
            Some("v1"),
            1,
        ),
        (
            Some("application/vnd.docker.container.image.rootfs.diff+x-gtar"),
            None,
            0,
        ),
        (Some("application/octet-stream"), None, 0),
        (None, Some("v1"), 1),
        (None, None, 0),
    ];
    for (media, tag, expected) in cases {
        let body = json!({"events": [event(media, tag)]});
        let events = parse(NO_HEADERS, body.to_string().as_bytes()).unwrap();
        assert_eq!(events.len(), expected, "{media:?} {tag:?}");
    }
}

#[test]
fn github_reads_only_published_container_packages() {
    let body = |action: &str, package_type: &str| {
        json!({"action": action, "package": {
            "name": "API", "namespace": "Octo-Org", "package_type": package_type,
            "owner": {"login": "Octo-Org"},
            "package_version": {"version": DIGEST,
                "container_metadata": {"tag": {"name": "v1", "digest": DIGEST}}}},
            "sender": {"login": "mona"}})
    };
    let github = headers(&[("X-GitHub-Event", "package")]);
    let event = one(&github, &body("published", "CONTAINER"));
    assert_eq!(
        event.image.to_string(),
        format!("ghcr.io/octo-org/api:v1@{DIGEST}")
    );
    assert_eq!(event.owner.as_deref(), Some("Octo-Org"));
    assert_eq!(event.pusher.as_deref(), Some("mona"));
    for (action, package_type) in [("updated", "CONTAINER"), ("published", "maven")] {
        let body = body(action, package_type).to_string();
        assert!(
            parse(&github, body.as_bytes()).unwrap().is_empty(),
            "{action} {package_type}"
        );
    }
    let push = headers(&[("X-GitHub-Event", "push")]);
    let skipped = parse_delivery(&push, body("published", "CONTAINER").to_string().as_bytes());
    assert_eq!(
        skipped.unwrap().skipped,
        ["GitHub event \"push\" is not a package event"]
    );
}

#[test]
fn generic_fills_in_and_checks_versions() {
    let cases = [
        (
            json!({"image": "nginx", "tag": "1.27"}),
            "docker.io/library/nginx:1.27",
        ),
        (
            json!({"image": "nginx:1.27", "tag": "1.27"}),
            "docker.io/library/nginx:1.27",
        ),
        (
            json!({"repository": "localhost:5000/app", "digest": DIGEST}),
            &*format!("localhost:5000/app@{DIGEST}"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(one(&[], &body).image.to_string(), expected, "{body}");
    }
}

#[test]
fn namespace_and_name_split_at_the_first_slash() {
    let cases = [
        ("nginx:1", Some("library"), "nginx"),
        ("ghcr.io/acme/platform/api:1", Some("acme"), "platform/api"),
        ("r.example:5000/app:1", None, "app"),
    ];
    for (image, namespace, name) in cases {
        let event = one(&[], &json!({ "image": image }));
        assert_eq!(event.namespace.as_deref(), namespace, "{image}");
        assert_eq!(event.name, name, "{image}");
    }
}

#[test]
fn acr_repository_names_fold_to_lower_case() {
    let cases = [
        (
            json!({"repo_full_name": "namespace/repoTest"}),
            "namespace/repotest",
        ),
        (json!({"repo_full_name": "NS/App"}), "ns/app"),
        (json!({"namespace": "Team", "name": "API"}), "team/api"),
        (json!({"repo_full_name": "a/b"}), "a/b"),
    ];
    for (mut repository, expected) in cases {
        repository["region"] = json!("cn-hangzhou");
        let body = json!({"push_data": {"tag": "v1"}, "repository": repository});
        let event = one(&[], &body);
        assert_eq!(event.image.repository(), expected, "{body}");
        assert_eq!(event.tag.as_deref(), Some("v1"));
    }
    // Folding case does not loosen the rest of the grammar.
    for bad in [
        "namespace/repo Test",
        "namespace/Repo..Test",
        "nämespace/repo",
    ] {
        let body = json!({"push_data": {"tag": "v1"},
                          "repository": {"region": "cn-hangzhou", "repo_full_name": bad}});
        let error = parse(NO_HEADERS, body.to_string().as_bytes()).expect_err(bad);
        assert!(
            error.to_string().contains("repository.repo_full_name"),
            "{bad}: {error}"
        );
    }
}

#[test]
fn quay_reads_the_legacy_tag_to_image_id_object() {
    let body = |tags: Value| {
        json!({"repository": "acme/shop", "docker_url": "quay.io/acme/shop",
               "updated_tags": tags})
    };
    let tags = |events: Vec<PushEvent>| -> Vec<String> {
        events.into_iter().filter_map(|e| e.tag).collect()
    };
    let legacy = body(json!({"latest": "b750fe79", "2.0": "0123abcd"}));
    let events = parse(NO_HEADERS, legacy.to_string().as_bytes()).unwrap();
    assert_eq!(tags(events.clone()), ["latest", "2.0"]);
    assert!(
        events.iter().all(|e| e.digest.is_none()),
        "image ids are not digests"
    );
    let current = parse(NO_HEADERS, body(json!(["latest"])).to_string().as_bytes()).unwrap();
    assert_eq!(tags(current), ["latest"]);
    assert!(
        parse(NO_HEADERS, body(json!({})).to_string().as_bytes())
            .unwrap()
            .is_empty()
    );

    let refused = [
        (
            json!({"latest": 7}),
            "updated_tags.latest is a number, expected a string",
        ),
        (
            json!({"bad tag": "b750"}),
            "updated_tags.bad tag is not a valid image reference",
        ),
        (
            json!({"": "b750"}),
            "updated_tags. is not a valid image reference",
        ),
        (
            json!(7),
            "updated_tags is a number, expected an array (or an object)",
        ),
    ];
    for (tags, fragment) in refused {
        let error =
            parse(NO_HEADERS, body(tags.clone()).to_string().as_bytes()).expect_err("refused");
        assert!(error.to_string().contains(fragment), "{tags}: {error}");
    }
}

#[test]
fn a_malformed_digest_beside_a_tag_is_dropped_with_a_note() {
    let azure = |digest: Value, tag: Option<&str>| {
        let mut target = json!({"repository": "app", "digest": digest,
                                "mediaType": "application/vnd.oci.image.manifest.v1+json"});
        if let Some(tag) = tag {
            target["tag"] = json!(tag);
        }
        json!({"action": "push", "target": target, "request": {"host": "r.azurecr.io"}})
    };
    let masked = "sha256:xxxxd5c8786bb9e621a45ece0dbxxxx1cdc624ad20da9fe62e9d25490f33xxxx";
    for digest in [masked, "md5:00", "sha256:6ec128e26cd5..."] {
        let delivery = parse_delivery(
            NO_HEADERS,
            azure(json!(digest), Some("v1")).to_string().as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{digest}: {e}"));
        assert_eq!(delivery.events.len(), 1);
        assert_eq!(delivery.events[0].digest, None);
        assert_eq!(delivery.events[0].tag.as_deref(), Some("v1"));
        assert_eq!(delivery.skipped.len(), 1, "{digest}");
        assert!(
            delivery.skipped[0].starts_with("target.digest: "),
            "{:?}",
            delivery.skipped
        );
    }
    let kept = one(&[], &azure(json!(DIGEST), Some("v1")));
    assert_eq!(kept.digest.as_deref(), Some(DIGEST));
    // Without a tag a bad digest leaves nothing to deploy; a wrong type is always an error.
    for (body, fragment) in [
        (
            azure(json!(masked), None),
            "target.digest is not a valid image reference",
        ),
        (
            azure(json!(5), Some("v1")),
            "target.digest is a number, expected a string",
        ),
    ] {
        let error = parse(NO_HEADERS, body.to_string().as_bytes()).expect_err("refused");
        assert!(error.to_string().contains(fragment), "{error}");
    }
    // The distribution registry computes its own digests: there, a bad one is refused.
    let distribution = json!({"events": [azure(json!(masked), Some("v1"))]});
    let error = parse(NO_HEADERS, distribution.to_string().as_bytes()).expect_err("refused");
    assert!(
        error.to_string().contains("events[0].target.digest"),
        "{error}"
    );
}

#[test]
fn github_falls_back_to_the_version_digest_only_when_it_is_valid() {
    let body = |tag_digest: &str, version: &str| {
        json!({"action": "published", "registry_package": {
            "name": "api", "namespace": "octo", "ecosystem": "docker",
            "package_version": {"version": version,
                "container_metadata": {"tag": {"name": "v1", "digest": tag_digest}}}}})
    };
    let github = headers(&[("X-GitHub-Event", "registry_package")]);
    let commit = "sha256:6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b";
    let delivery = parse_delivery(&github, body(commit, DIGEST).to_string().as_bytes()).unwrap();
    assert_eq!(delivery.events[0].digest.as_deref(), Some(DIGEST));
    assert_eq!(delivery.events[0].tag.as_deref(), Some("v1"));
    assert_eq!(delivery.skipped.len(), 1);
    for version in ["1.0.0", commit] {
        let error =
            parse(&github, body(commit, version).to_string().as_bytes()).expect_err(version);
        assert!(
            error
                .to_string()
                .contains("container_metadata.tag.digest is not a valid"),
            "{version}: {error}"
        );
    }
}

#[test]
fn artifactory_reads_docker_pushes_only() {
    let data = json!({"repo_key": "docker-local", "event_type": "pushed",
        "sha256": DIGEST.trim_start_matches("sha256:"), "image_name": "team/api", "tag": "2.1"});
    let envelope = |domain: &str, kind: &str, origin: Value| {
        json!({"domain": domain, "event_type": kind, "data": data,
               "jpd_origin": origin, "source": "jfrog/admin"})
    };
    let event = one(
        &[],
        &envelope(
            "docker",
            "pushed",
            json!("https://acme.jfrog.io/artifactory"),
        ),
    );
    assert_eq!(
        event.image.to_string(),
        format!("acme.jfrog.io/docker-local/team/api:2.1@{DIGEST}")
    );
    assert_eq!(event.pusher.as_deref(), Some("admin"));
    for (domain, kind) in [
        ("docker", "deleted"),
        ("docker", "promoted"),
        ("artifact", "deployed"),
    ] {
        let delivery = parse_delivery(
            NO_HEADERS,
            envelope(domain, kind, json!("https://acme.jfrog.io"))
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert!(delivery.events.is_empty(), "{domain} {kind}");
        assert_eq!(delivery.skipped.len(), 1);
    }
    let refused = [
        (
            envelope("docker", "pushed", json!("ftp://acme")),
            "jpd_origin is invalid",
        ),
        (
            envelope("docker", "pushed", json!("https://<your_origin>")),
            "jpd_origin is not a valid",
        ),
        (
            envelope("docker", "pushed", json!(1)),
            "jpd_origin is a number",
        ),
        (envelope("docker", "7", json!(null)), "is not a push"),
    ];
    for (body, fragment) in refused {
        match parse_delivery(NO_HEADERS, body.to_string().as_bytes()) {
            Ok(delivery) => assert!(
                delivery.skipped.iter().any(|s| s.contains(fragment)),
                "{body}: {:?}",
                delivery.skipped
            ),
            Err(error) => assert!(error.to_string().contains(fragment), "{body}: {error}"),
        }
    }
}

/// A Pub/Sub push whose `message.data` is `data`.
fn pubsub(data: &str) -> Value {
    json!({"message": {"data": data, "messageId": "1", "publishTime": "2024-05-20T10:15:30.5Z"},
           "subscription": "projects/p/subscriptions/s"})
}

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn google_pubsub_pushes_decode_and_read_the_notification() {
    let host = "us-west1-docker.pkg.dev/proj/repo/app";
    let tagged = format!(r#"{{"action":"INSERT","digest":"{host}@{DIGEST}","tag":"{host}:1.1"}}"#);
    let event = one(&[], &pubsub(&b64(&tagged)));
    assert_eq!(event.image.to_string(), format!("{host}:1.1@{DIGEST}"));
    assert_eq!(event.pushed_at.as_deref(), Some("2024-05-20T10:15:30.5Z"));
    assert_eq!(event.namespace.as_deref(), Some("proj"));

    // Padding optional, URL-safe alphabet accepted.
    use base64::Engine as _;
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tagged);
    assert_eq!(one(&[], &pubsub(&url_safe)).tag.as_deref(), Some("1.1"));

    let by_digest = format!(r#"{{"action":"INSERT","digest":"gcr.io/proj/app@{DIGEST}"}}"#);
    let event = one(&[], &pubsub(&b64(&by_digest)));
    assert_eq!((event.tag, event.digest.as_deref()), (None, Some(DIGEST)));

    let deleted = r#"{"action":"DELETE","tag":"gcr.io/proj/app:1"}"#;
    let delivery =
        parse_delivery(NO_HEADERS, pubsub(&b64(deleted)).to_string().as_bytes()).unwrap();
    assert!(delivery.events.is_empty());
    assert_eq!(
        delivery.skipped,
        ["Google Artifact Registry action \"DELETE\" is not a push"]
    );
}

#[test]
fn google_pubsub_refuses_hostile_data_with_a_named_path() {
    let bomb = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let huge = "A".repeat(200 * 1024);
    let cases: Vec<(String, &str)> = vec![
        (
            "not base64!".to_owned(),
            "message.data is invalid: it is not base64",
        ),
        (
            "".to_owned(),
            "message.data is invalid: it decodes to nothing",
        ),
        (b64("   "), "it decodes to nothing"),
        (
            b64("{not json"),
            "message.data is invalid: it decodes to bytes that are not JSON",
        ),
        (b64(&bomb), "recursion limit"),
        (
            b64(r#"{"action":"INSERT","action":"DELETE"}"#),
            "appears twice",
        ),
        (huge, "over the 65536-byte limit"),
        (b64("42"), "message.data is a number, expected an object"),
        (b64(r#"{"action":1}"#), "message.data.action is a number"),
        (
            b64(r#"{"action":"INSERT"}"#),
            "message.data is invalid: it names neither",
        ),
        (
            b64(r#"{"action":"INSERT","tag":"gcr.io/p/a"}"#),
            "message.data.tag is invalid",
        ),
        (
            b64(r#"{"action":"INSERT","tag":7}"#),
            "message.data.tag is a number",
        ),
        (
            b64(r#"{"action":"INSERT","digest":"gcr.io/p/a:1"}"#),
            "message.data.digest is invalid",
        ),
        (
            b64(&format!(
                r#"{{"action":"INSERT","digest":"gcr.io/p/a@{DIGEST}","tag":"gcr.io/p/b:1"}}"#
            )),
            "it names gcr.io/p/a, but tag names gcr.io/p/b",
        ),
        (
            b64(r#"{"action":"INSERT","digest":"gcr.io/p/a@sha256:12"}"#),
            "message.data.digest is not a valid image reference",
        ),
        (
            b64(r#"{"action":"INSERT","tag":"gcr.io/P/A:1"}"#),
            "upper-case",
        ),
    ];
    for (data, fragment) in cases {
        let error = parse(NO_HEADERS, pubsub(&data).to_string().as_bytes())
            .expect_err(&data[..data.len().min(60)]);
        let message = error.to_string();
        assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        assert!(
            message.starts_with("Google Artifact Registry payload:"),
            "{message}"
        );
        assert!(message.len() < 1200, "{} bytes", message.len());
    }
    for (message, fragment) in [
        (json!("x"), "message is a string, expected an object"),
        (json!({}), "message.data is missing"),
        (
            json!({"data": 5}),
            "message.data is a number, expected a string",
        ),
        (
            json!({"data": b64(r#"{"action":"INSERT","tag":"gcr.io/p/a:1"}"#), "publishTime": "soon"}),
            "message.publishTime is invalid",
        ),
    ] {
        let body = json!({"message": message, "subscription": "projects/p/subscriptions/s"});
        let error = parse(NO_HEADERS, body.to_string().as_bytes()).expect_err("refused");
        assert!(error.to_string().contains(fragment), "{error}");
    }
}

#[test]
fn the_ui_has_a_label_for_every_webhook_format() {
    // The record view names a push's format; a format added here and not there shows its
    // machine name.
    let view = include_str!("../../../../ui/src/components/triggers/EventView.svelte");
    for format in Format::ALL {
        let name = format.name();
        assert!(
            view.contains(&format!("'{name}':")) || view.contains(&format!("    {name}:")),
            "ui/src/components/triggers/EventView.svelte has no label for {name}"
        );
    }
}

#[test]
fn json_paths_are_built_as_format_would_build_them() {
    for i in [0, 1, 9, 10, 99, 100, 12_345, usize::MAX] {
        assert_eq!(super::json::index_path("a.b", i), format!("a.b[{i}]"));
        assert_eq!(super::json::index_path("", i), format!("[{i}]"));
    }
    let value = json!({"events": [{"target": {"tag": 1}}]});
    let root = super::json::Node::root(&value, Format::Distribution);
    let events = root.get("events").unwrap().items().unwrap();
    let tag = events[0].get("target").unwrap().get("tag").unwrap();
    assert_eq!(tag.path(), "events[0].target.tag");
    assert_eq!(
        events[0].get("target").unwrap().child_path("digest"),
        "events[0].target.digest"
    );
}
