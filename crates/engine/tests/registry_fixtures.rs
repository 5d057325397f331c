//! Replays the registry webhook corpus in `tests/fixtures/registry/` and throws hostile
//! bodies at the parser.
//!
//! Each case is `<name>.json` (the body exactly as the registry sends it), `<name>.headers`
//! (one `Name: value` per line) and `<name>.expected.json`: the parsed delivery
//! (`{format, events, skipped}`), or `{"error": "<message>"}` for a body that must be refused.
//! Adding the three files adds a case; `SOURCES.md` there says where each shape comes from.
//! To write missing or changed expectations after a deliberate change, run with
//! `TRIPLINE_BLESS=1` and review the diff.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tripline_engine::registry::{self, Error, Format};

const BLESS: &str = "TRIPLINE_BLESS";

/// Request headers as the parser takes them.
type Headers = Vec<(String, String)>;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry")
}

/// Every `<name>.json` that is a payload (not an expectation), sorted.
fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("fixture directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.ends_with(".json") && !name.ends_with(".expected.json")
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 12, "the registry corpus is missing");
    cases
}

fn sibling(case: &Path, extension: &str) -> PathBuf {
    case.with_extension(extension)
}

fn read_headers(case: &Path) -> Vec<(String, String)> {
    let path = sibling(case, "headers");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (every payload needs a .headers file)",
            path.display()
        )
    });
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("{}: {line:?} is not `Name: value`", path.display()));
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect()
}

/// What the parser makes of a case, as the JSON the expectation files hold.
fn outcome(headers: &[(String, String)], body: &[u8]) -> Value {
    match registry::parse_delivery(headers, body) {
        Ok(delivery) => serde_json::to_value(delivery).expect("a delivery serialises"),
        Err(error) => json!({ "error": error.to_string() }),
    }
}

fn run(case: &Path) -> Value {
    let body = std::fs::read(case).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
    outcome(&read_headers(case), &body)
}

#[test]
fn every_fixture_parses_as_expected() {
    let bless = std::env::var_os(BLESS).is_some();
    let mut failures = Vec::new();
    for case in cases() {
        let actual = run(&case);
        let expected_path = case.with_extension("expected.json");
        let expected: Option<Value> = std::fs::read_to_string(&expected_path)
            .ok()
            .map(|text| serde_json::from_str(&text).expect("expectation is JSON"));
        if expected.as_ref() == Some(&actual) {
            continue;
        }
        if bless {
            let text = serde_json::to_string_pretty(&actual).unwrap() + "\n";
            std::fs::write(&expected_path, text).unwrap();
            continue;
        }
        failures.push(format!(
            "{}:\n  expected {}\n  actual   {}",
            case.file_name().unwrap().to_string_lossy(),
            expected.map_or_else(|| "<no .expected.json>".to_owned(), |e| e.to_string()),
            actual
        ));
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ (set {BLESS}=1 to rewrite after a deliberate change):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_corpus_has_a_push_for_every_format() {
    let mut seen = Vec::new();
    for case in cases() {
        if let Ok(events) = registry::parse(&read_headers(&case), &std::fs::read(&case).unwrap()) {
            seen.extend(events.into_iter().map(|event| event.format));
        }
    }
    for format in Format::ALL {
        assert!(seen.contains(&format), "no fixture yields a {format} push");
    }
}

/// A Pub/Sub push body whose `message.data` is `data` as given.
fn pubsub_push(data: &str) -> String {
    json!({"message": {"data": data, "messageId": "1"}, "subscription": "projects/p/subscriptions/s"})
        .to_string()
}

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// What a hostile body must produce.
enum Expect {
    /// This many events.
    Events(usize),
    /// An error whose message contains this.
    Error(&'static str),
}

fn check(name: &str, headers: &[(String, String)], body: &[u8], expect: &Expect) {
    let result = registry::parse(headers, body);
    match (&result, expect) {
        (Ok(events), Expect::Events(n)) => assert_eq!(events.len(), *n, "{name}: {events:?}"),
        (Err(error), Expect::Error(fragment)) => {
            let message = error.to_string();
            assert!(
                message.contains(fragment),
                "{name}: {message:?} lacks {fragment:?}"
            );
            assert!(
                message.len() < 1200,
                "{name}: a {}-byte message",
                message.len()
            );
        }
        (Ok(events), Expect::Error(fragment)) => {
            panic!("{name}: expected an error with {fragment:?}, got {events:?}")
        }
        (Err(error), Expect::Events(n)) => panic!("{name}: expected {n} events, got {error}"),
    }
}

#[test]
fn hostile_bodies_are_refused_cleanly() {
    let json_type = headers(&[("Content-Type", "application/json")]);
    let none = Vec::new();
    let github = headers(&[("X-GitHub-Event", "package")]);
    let distribution = headers(&[(
        "content-type",
        "application/vnd.docker.distribution.events.v2+json",
    )]);
    let form = headers(&[("Content-Type", "application/x-www-form-urlencoded")]);
    let many_keys = format!(
        "{{{}}}",
        (0..200)
            .map(|i| format!("\"key{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let deep_array = "[".repeat(100_000);
    let deep_object = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let long_key = format!("{{\"{}\":1}}", "k".repeat(100_000));
    let tag_129 = json!({"image": "nginx", "tag": "t".repeat(129)}).to_string();
    let tag_huge = json!({"image": format!("nginx:{}", "t".repeat(1 << 20))}).to_string();
    let image_huge = json!({"image": "a".repeat(1 << 20)}).to_string();
    let cases: Vec<(&str, &Headers, Vec<u8>, Expect)> =
        vec![
        ("empty body", &none, b"".to_vec(), Expect::Error("is empty")),
        (
            "whitespace body",
            &json_type,
            b" \r\n\t".to_vec(),
            Expect::Error("is empty"),
        ),
        (
            "null",
            &none,
            b"null".to_vec(),
            Expect::Error("the body is null"),
        ),
        (
            "number",
            &none,
            b"42".to_vec(),
            Expect::Error("the body is a number"),
        ),
        (
            "string",
            &none,
            b"\"nginx:1\"".to_vec(),
            Expect::Error("the body is a string"),
        ),
        (
            "boolean",
            &none,
            b"true".to_vec(),
            Expect::Error("the body is a boolean"),
        ),
        (
            "array",
            &none,
            b"[]".to_vec(),
            Expect::Error("the body is an array"),
        ),
        (
            "array of generic payloads",
            &none,
            br#"[{"image":"nginx:1"}]"#.to_vec(),
            Expect::Error("the body is an array"),
        ),
        (
            "empty object",
            &none,
            b"{}".to_vec(),
            Expect::Error("empty object"),
        ),
        (
            "unknown format",
            &json_type,
            br#"{"kind":"push","ref":"refs/heads/main"}"#.to_vec(),
            Expect::Error("top-level keys are \"kind\", \"ref\"); we accept Docker Hub"),
        ),
        (
            "many keys",
            &none,
            many_keys.into_bytes(),
            Expect::Error("and 188 more"),
        ),
        (
            "long key",
            &none,
            long_key.into_bytes(),
            Expect::Error("bytes)"),
        ),
        (
            "deep array",
            &none,
            deep_array.into_bytes(),
            Expect::Error("recursion limit"),
        ),
        (
            "deep object",
            &none,
            deep_object.into_bytes(),
            Expect::Error("recursion limit"),
        ),
        (
            "truncated",
            &none,
            br#"{"image":"ngi"#.to_vec(),
            Expect::Error("at line 1 column"),
        ),
        (
            "trailing garbage",
            &none,
            br#"{"image":"nginx:1"} x"#.to_vec(),
            Expect::Error("not valid JSON"),
        ),
        (
            "non-UTF-8 bytes",
            &none,
            b"\xff\xfe{}".to_vec(),
            Expect::Error("not valid JSON"),
        ),
        (
            "non-UTF-8 in a string",
            &none,
            b"{\"image\":\"nginx:\xff\"}".to_vec(),
            Expect::Error("not valid JSON"),
        ),
        (
            "duplicate key",
            &none,
            br#"{"image":"nginx:1","image":"evil:2"}"#.to_vec(),
            Expect::Error("appears twice"),
        ),
        (
            "byte-order mark",
            &none,
            b"\xEF\xBB\xBF{\"image\":\"nginx:1\"}".to_vec(),
            Expect::Events(1),
        ),
        (
            "form-encoded",
            &form,
            b"payload=%7B%7D".to_vec(),
            Expect::Error("form-encoded"),
        ),
        (
            "form-encoded without a content type",
            &none,
            b"payload=%7B%7D".to_vec(),
            Expect::Error("not valid JSON"),
        ),
        (
            "tag of 129 bytes",
            &none,
            tag_129.into_bytes(),
            Expect::Error("the limit is 128"),
        ),
        (
            "tag of a megabyte",
            &none,
            tag_huge.into_bytes(),
            Expect::Error("the limit is 128"),
        ),
        (
            "image of a megabyte",
            &none,
            image_huge.into_bytes(),
            Expect::Error("the limit is 255"),
        ),
        (
            "unicode tag",
            &none,
            r#"{"image":"nginx:тег"}"#.as_bytes().to_vec(),
            Expect::Error("non-ASCII"),
        ),
        (
            "number out of range",
            &none,
            br#"{"image":"nginx:1","x":1e400}"#.to_vec(),
            Expect::Error("not valid JSON"),
        ),
        (
            "GitHub header, array body",
            &github,
            b"[]".to_vec(),
            Expect::Error("GitHub payload: the body is an array, expected an object"),
        ),
        (
            "distribution header, events not a list",
            &distribution,
            br#"{"events":"push"}"#.to_vec(),
            Expect::Error("Docker distribution payload: events is a string, expected an array"),
        ),
        (
            "distribution header, empty envelope",
            &distribution,
            br#"{"events":[]}"#.to_vec(),
            Expect::Events(0),
        ),
        (
            "generic without a version",
            &none,
            br#"{"image":"nginx"}"#.to_vec(),
            Expect::Error("neither a tag nor a digest"),
        ),
        (
            "generic with contradicting tags",
            &none,
            br#"{"image":"nginx:1","tag":"2"}"#.to_vec(),
            Expect::Error("contradicts"),
        ),
        (
            "Pub/Sub data that is not base64",
            &json_type,
            pubsub_push("not base64!").into_bytes(),
            Expect::Error("message.data is invalid: it is not base64"),
        ),
        (
            "Pub/Sub data nesting without bound",
            &json_type,
            pubsub_push(&b64(&"[".repeat(20_000))).into_bytes(),
            Expect::Error("recursion limit"),
        ),
        (
            "Pub/Sub data of objects nesting without bound",
            &json_type,
            pubsub_push(&b64(&format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000))))
                .into_bytes(),
            Expect::Error("recursion limit"),
        ),
        (
            "Pub/Sub data of a megabyte",
            &json_type,
            pubsub_push(&b64(&" ".repeat(1 << 20))).into_bytes(),
            Expect::Error("over the 65536-byte limit"),
        ),
        (
            "Pub/Sub data with a megabyte tag",
            &json_type,
            pubsub_push(&b64(
                &json!({"action": "INSERT", "tag": format!("gcr.io/p/a:{}", "t".repeat(1 << 15))})
                    .to_string(),
            ))
            .into_bytes(),
            Expect::Error("the limit is 128"),
        ),
        (
            "Pub/Sub push of a deletion",
            &json_type,
            pubsub_push(&b64(r#"{"action":"DELETE","tag":"gcr.io/p/a:1"}"#)).into_bytes(),
            Expect::Events(0),
        ),
        (
            "Artifactory push with a megabyte image name",
            &json_type,
            json!({"repo_key": "docker-local", "event_type": "pushed", "tag": "1",
                   "image_name": "a".repeat(1 << 20)})
            .to_string()
            .into_bytes(),
            Expect::Error("the limit is 255"),
        ),
        (
            "Quay legacy tags of a megabyte",
            &json_type,
            json!({"repository": "a/b", "docker_url": "quay.io/a/b",
                   "updated_tags": {"t".repeat(1 << 20): "id"}})
            .to_string()
            .into_bytes(),
            Expect::Error("the limit is 128"),
        ),
        (
            "Docker Hub time out of range",
            &none,
            br#"{"push_data":{"tag":"v1","pushed_at":1e300},"repository":{"repo_name":"a/b"}}"#
                .to_vec(),
            Expect::Error("push_data.pushed_at is invalid"),
        ),
    ];
    for (name, headers, body, expect) in cases {
        check(name, headers, &body, &expect);
    }
}

#[test]
fn duplicated_events_collapse_to_one() {
    let push = json!({
        "action": "push",
        "target": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", "a".repeat(64)),
            "repository": "acme/shop",
            "tag": "1.0"
        },
        "request": {"host": "registry.example.com"}
    });
    let envelope = json!({"events": [push, push, push]}).to_string();
    let tags = json!({
        "repository": "acme/shop",
        "docker_url": "quay.io/acme/shop",
        "updated_tags": ["1.0", "1.0", "latest", "1.0"]
    })
    .to_string();
    let none = Vec::new();
    check(
        "distribution",
        &none,
        envelope.as_bytes(),
        &Expect::Events(1),
    );
    check("quay", &none, tags.as_bytes(), &Expect::Events(2));
}

#[test]
fn a_huge_tag_list_is_linear() {
    let tags: Vec<String> = (0..50_000).map(|i| format!("t{i}")).collect();
    let body = json!({
        "repository": "acme/shop",
        "docker_url": "quay.io/acme/shop",
        "updated_tags": tags
    })
    .to_string();
    check(
        "50k tags",
        &Vec::new(),
        body.as_bytes(),
        &Expect::Events(50_000),
    );
}

/// Sets the value at a JSON pointer (which must exist).
fn replaced(value: &Value, pointer: &str, replacement: Value) -> Value {
    let mut copy = value.clone();
    *copy
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the fixture")) = replacement;
    copy
}

fn load(name: &str) -> (Vec<(String, String)>, Value) {
    let case = corpus_dir().join(format!("{name}.json"));
    let body = std::fs::read_to_string(&case).unwrap();
    (read_headers(&case), serde_json::from_str(&body).unwrap())
}

#[test]
fn wrong_types_in_read_fields_name_format_and_path() {
    let cases: &[(&str, &str, Value, &str)] = &[
        (
            "dockerhub-seed004",
            "/push_data",
            json!("x"),
            "Docker Hub payload: push_data is a string, expected an object",
        ),
        (
            "dockerhub-seed004",
            "/push_data/tag",
            json!(42),
            "Docker Hub payload: push_data.tag is a number, expected a string",
        ),
        (
            "dockerhub-seed004",
            "/push_data/tag",
            Value::Null,
            "Docker Hub payload: push_data.tag is missing",
        ),
        (
            "dockerhub-seed004",
            "/push_data/pusher",
            json!(true),
            "push_data.pusher is a boolean, expected a string",
        ),
        (
            "dockerhub-seed004",
            "/push_data/pushed_at",
            json!("yesterday"),
            "push_data.pushed_at is a string, expected a number of Unix seconds",
        ),
        (
            "dockerhub-seed004",
            "/repository",
            json!([]),
            "repository is an array, expected an object",
        ),
        (
            "dockerhub-seed004",
            "/repository/repo_name",
            json!([]),
            "repository.repo_name is an array, expected a string",
        ),
        (
            "dockerhub-seed004",
            "/repository/repo_name",
            json!("Svendowideit/testhook"),
            "upper-case",
        ),
        (
            "dockerhub-seed004",
            "/repository/owner",
            json!({}),
            "repository.owner is an object, expected a string",
        ),
        (
            "acr-alibaba-push",
            "/push_data/tag",
            json!(1),
            "Alibaba Cloud ACR payload: push_data.tag is a number",
        ),
        (
            "acr-alibaba-push",
            "/push_data/digest",
            json!(1),
            "push_data.digest is a number",
        ),
        (
            "acr-alibaba-push",
            "/push_data/digest",
            json!("sha256:beef"),
            "push_data.digest is not a valid image reference",
        ),
        (
            "acr-alibaba-push",
            "/push_data/pushed_at",
            json!(5),
            "push_data.pushed_at is a number, expected a string",
        ),
        (
            "acr-alibaba-push",
            "/push_data/pushed_at",
            json!("soon"),
            "push_data.pushed_at is invalid",
        ),
        (
            "acr-alibaba-push",
            "/repository/region",
            json!("cn beijing"),
            "repository.region is invalid",
        ),
        (
            "acr-alibaba-push",
            "/repository/region",
            json!("evil.example.com/x"),
            "repository.region is invalid",
        ),
        (
            "acr-alibaba-push",
            "/repository/region",
            Value::Null,
            "repository.region is missing",
        ),
        (
            "acr-alibaba-push",
            "/repository/repo_full_name",
            json!(7),
            "repository.repo_full_name is a number",
        ),
        (
            "harbor-push-artifact",
            "/type",
            json!(1),
            "Harbor payload: type is a number",
        ),
        (
            "harbor-push-artifact",
            "/event_data/resources",
            json!({}),
            "event_data.resources is an object, expected an array",
        ),
        (
            "harbor-push-artifact",
            "/event_data/resources/0",
            json!("x"),
            "event_data.resources[0] is a string, expected an object",
        ),
        (
            "harbor-push-artifact",
            "/event_data/resources/0/tag",
            json!(1),
            "event_data.resources[0].tag is a number",
        ),
        (
            "harbor-push-artifact",
            "/event_data/resources/0/digest",
            json!(false),
            "event_data.resources[0].digest is a boolean",
        ),
        (
            "harbor-push-artifact",
            "/event_data/resources/0/resource_url",
            Value::Null,
            "Harbor payload: event_data.resources[0].resource_url is missing",
        ),
        (
            "harbor-push-artifact",
            "/event_data/resources/0/resource_url",
            json!("harbor.example.com/other/x:1"),
            "resource_url is invalid",
        ),
        (
            "harbor-push-artifact",
            "/event_data/repository/repo_full_name",
            json!(1),
            "event_data.repository.repo_full_name is a number",
        ),
        (
            "harbor-push-artifact",
            "/operator",
            json!(1),
            "operator is a number",
        ),
        (
            "harbor-push-artifact",
            "/occur_at",
            json!("now"),
            "occur_at is a string",
        ),
        (
            "harbor-cloudevents-push",
            "/time",
            json!("tuesday"),
            "time is invalid",
        ),
        (
            "harbor-cloudevents-push",
            "/data",
            json!([]),
            "data is an array, expected an object",
        ),
        (
            "quay-repo-push",
            "/updated_tags",
            json!("latest"),
            "Quay payload: updated_tags is a string, expected an array",
        ),
        (
            "quay-repo-push",
            "/updated_tags/1",
            json!(7),
            "updated_tags[1] is a number",
        ),
        (
            "quay-repo-push",
            "/docker_url",
            json!(1),
            "docker_url is a number",
        ),
        (
            "quay-repo-push",
            "/docker_url",
            json!("quay.io/other/repo"),
            "docker_url is invalid",
        ),
        (
            "quay-repo-push",
            "/repository",
            json!({}),
            "repository is an object, expected a string",
        ),
        (
            "azure-push",
            "/action",
            json!(1),
            "Azure Container Registry payload: action is a number",
        ),
        (
            "azure-push",
            "/target/repository",
            json!(1),
            "target.repository is a number",
        ),
        (
            "azure-push",
            "/target/tag",
            json!(1),
            "target.tag is a number",
        ),
        (
            "azure-push",
            "/target/digest",
            json!(7),
            "target.digest is a number, expected a string",
        ),
        (
            "azure-docs",
            "/target/tag",
            Value::Null,
            "target.digest is not a valid image reference",
        ),
        (
            "azure-push",
            "/request/host",
            json!(1),
            "request.host is a number",
        ),
        (
            "azure-push",
            "/request/host",
            json!("my registry"),
            "request.host is not a valid image reference",
        ),
        ("azure-push", "/request", Value::Null, "request is missing"),
        (
            "azure-push",
            "/timestamp",
            json!(12),
            "timestamp is a number",
        ),
        (
            "distribution-v1-push",
            "/events/1",
            json!(1),
            "events[1] is a number, expected an object",
        ),
        (
            "distribution-v1-push",
            "/events/1/action",
            json!(1),
            "Docker distribution payload: events[1].action is a number",
        ),
        (
            "distribution-v1-push",
            "/events/1/target",
            json!("x"),
            "events[1].target is a string",
        ),
        (
            "distribution-v1-push",
            "/events/1/target/tag",
            json!(false),
            "events[1].target.tag is a boolean",
        ),
        (
            "distribution-v1-push",
            "/events/1/target/mediaType",
            json!(3),
            "events[1].target.mediaType is a number",
        ),
        (
            "distribution-v1-push",
            "/events/1/request/host",
            json!(1),
            "events[1].request.host is a number",
        ),
        (
            "distribution-v1-push",
            "/events/1/actor",
            json!("ci"),
            "events[1].actor is a string",
        ),
        (
            "distribution-v1-push",
            "/events/1/timestamp",
            json!("noon"),
            "events[1].timestamp is invalid",
        ),
        (
            "distribution-url-host",
            "/events/0/target/url",
            json!("ftp://x/y"),
            "events[0].target.url is invalid",
        ),
        (
            "distribution-url-host",
            "/events/0/target/url",
            Value::Null,
            "events[0].request.host is missing",
        ),
        (
            "github-package-published",
            "/action",
            json!(1),
            "GitHub payload: action is a number",
        ),
        (
            "github-package-published",
            "/package",
            json!([]),
            "package is an array, expected an object",
        ),
        (
            "github-package-published",
            "/package/package_version",
            json!([]),
            "package.package_version is an array",
        ),
        (
            "github-package-published",
            "/package/package_version/container_metadata/tag/name",
            json!(1),
            "container_metadata.tag.name is a number",
        ),
        (
            "github-package-published",
            "/package/package_version/container_metadata/tag/digest",
            json!(1),
            "container_metadata.tag.digest is a number",
        ),
        (
            "github-registry-package-docs",
            "/registry_package/package_version/version",
            json!("1.0.0"),
            "container_metadata.tag.digest is not a valid image reference",
        ),
        (
            "quay-legacy-docs",
            "/updated_tags/latest",
            json!(1),
            "Quay payload: updated_tags.latest is a number, expected a string",
        ),
        (
            "artifactory-docker-pushed",
            "/data",
            json!("x"),
            "JFrog Artifactory payload: data is a string, expected an object",
        ),
        (
            "artifactory-docker-pushed",
            "/data/tag",
            json!(1),
            "data.tag is a number",
        ),
        (
            "artifactory-docker-pushed",
            "/data/tag",
            Value::Null,
            "data.tag is missing",
        ),
        (
            "artifactory-docker-pushed",
            "/data/repo_key",
            Value::Null,
            "data.repo_key is missing",
        ),
        (
            "artifactory-docker-pushed",
            "/data/image_name",
            json!("Team/API"),
            "data.image_name is not a valid image reference",
        ),
        (
            "artifactory-docker-pushed",
            "/data/sha256",
            json!(1),
            "data.sha256 is a number",
        ),
        (
            "artifactory-docker-pushed",
            "/jpd_origin",
            json!("acme.jfrog.io"),
            "jpd_origin is invalid",
        ),
        (
            "artifactory-docker-pushed",
            "/domain",
            json!(1),
            "domain is a number",
        ),
        (
            "artifactory-docker-pushed",
            "/source",
            json!([]),
            "source is an array",
        ),
        (
            "artifactory-docs",
            "/event_type",
            json!(false),
            "event_type is a boolean",
        ),
        (
            "google-pubsub-docs",
            "/message",
            json!([]),
            "Google Artifact Registry payload: message is an array, expected an object",
        ),
        (
            "google-pubsub-docs",
            "/message/data",
            json!("%%%%"),
            "message.data is invalid: it is not base64",
        ),
        (
            "google-pubsub-docs",
            "/message/publishTime",
            json!("noon"),
            "message.publishTime is invalid",
        ),
        (
            "google-unwrapped-docs",
            "/tag",
            json!("us-west1-docker.pkg.dev/my-project/my-repo/hello-world"),
            "tag is invalid",
        ),
        (
            "github-package-published",
            "/package/package_version/package_url",
            json!(1),
            "package.package_version.package_url is a number",
        ),
        (
            "github-package-published",
            "/package/package_type",
            json!(1),
            "package.package_type is a number",
        ),
        (
            "github-package-published",
            "/sender",
            json!("mona"),
            "sender is a string, expected an object",
        ),
        (
            "github-package-published",
            "/package/owner/login",
            json!(1),
            "package.owner.login is a number",
        ),
        (
            "generic-image",
            "/image",
            json!(1),
            "generic payload: image is a number",
        ),
        (
            "generic-fields",
            "/tag",
            json!(1),
            "generic payload: tag is a number",
        ),
        (
            "generic-fields",
            "/digest",
            json!("sha256:xyz"),
            "generic payload: digest is not a valid image reference",
        ),
        (
            "generic-fields",
            "/repository",
            json!("ghcr.io/acme/api:v3"),
            "contradicts",
        ),
    ];
    for (fixture, pointer, replacement, fragment) in cases {
        let (headers, value) = load(fixture);
        let body = replaced(&value, pointer, replacement.clone()).to_string();
        let error = registry::parse(&headers, body.as_bytes())
            .expect_err(&format!("{fixture} {pointer} = {replacement}"));
        let message = error.to_string();
        assert!(
            message.contains(fragment),
            "{fixture} {pointer} = {replacement}: {message:?} lacks {fragment:?}"
        );
    }
}

/// Every JSON pointer in `value`, parents before children.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

#[test]
fn any_field_of_any_fixture_may_be_wrong_without_a_panic() {
    let replacements = [
        Value::Null,
        json!(42),
        json!(-1.5e300),
        json!(""),
        json!("x".repeat(4096)),
        json!(true),
        json!([]),
        json!({}),
        json!([{"a": [1]}]),
    ];
    for case in cases() {
        let headers = read_headers(&case);
        let value: Value = serde_json::from_slice(&std::fs::read(&case).unwrap()).unwrap();
        let mut all = Vec::new();
        pointers(&value, String::new(), &mut all);
        for pointer in all.iter().filter(|p| !p.is_empty()) {
            for replacement in &replacements {
                let body = replaced(&value, pointer, replacement.clone()).to_string();
                match registry::parse(&headers, body.as_bytes()) {
                    Ok(events) => {
                        for event in events {
                            assert!(event.tag.is_some() || event.digest.is_some());
                        }
                    }
                    Err(Error::Unrecognised { .. }) => {}
                    Err(error) => {
                        let message = error.to_string();
                        assert!(
                            message.contains("payload:") || message.contains("JSON"),
                            "{case:?} {pointer}: {message}"
                        );
                        assert!(message.len() < 1200, "{case:?} {pointer}: {message}");
                    }
                }
            }
        }
    }
}
