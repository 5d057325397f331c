//! The direct reads (`generic::direct`, `distribution::direct`) against the general way:
//! for every body a direct read takes, [`parse_delivery`] must answer word for word as
//! `parse_delivery_generally` does.

use serde_json::{Value, json};

use super::tests::{DIGEST, headers};
use super::{Format, parse_delivery};

/// Reads `body` with [`parse_delivery`] (the direct read first) and the general way only,
/// and checks they say the same: the same delivery or the same error, word for word.
///
/// Answers which direct read took the body, if one did.
fn same_both_ways(headers: &[(String, String)], body: &[u8]) -> Option<Format> {
    let shown = |result: super::Result<super::Delivery>| match result {
        Ok(delivery) => format!("{delivery:?}"),
        Err(error) => format!("error: {error}"),
    };
    let read = super::Headers::of(headers);
    let direct = if super::generic::direct(&read, body).is_some() {
        Some(Format::Generic)
    } else if super::distribution::direct(&read, body).is_some() {
        Some(Format::Distribution)
    } else {
        None
    };
    let both = shown(parse_delivery(headers, body));
    let general = shown(super::parse_delivery_generally(headers, body));
    assert_eq!(
        both,
        general,
        "{} with {headers:?}",
        String::from_utf8_lossy(body)
    );
    direct
}

#[test]
fn the_direct_read_of_a_generic_push_answers_as_the_general_way_does() {
    // Each key absent, null, of another type, or one of several strings, valid or not.
    let images = [
        None,
        Some(json!(null)),
        Some(json!(7)),
        Some(json!("")),
        Some(json!("nginx")),
        Some(json!("nginx:1.27")),
        Some(json!("registry.example/team/app:v1")),
        Some(json!(format!("ghcr.io/acme/api:v2@{DIGEST}"))),
        Some(json!(format!("localhost:5000/app@{DIGEST}"))),
        Some(json!("Registry.Example/Team/App:v1")),
        Some(json!("bad image name")),
        Some(json!("registry.example/app:bad tag")),
        Some(json!("docker.io/library/nginx:1.27\u{0}")),
    ];
    let tags = [
        None,
        Some(json!(null)),
        Some(json!(["v1"])),
        Some(json!("v1")),
        Some(json!("1.27")),
        Some(json!("-bad")),
    ];
    let digests = [
        None,
        Some(json!(null)),
        Some(json!(DIGEST)),
        Some(json!("sha256:short")),
        Some(json!(false)),
    ];
    let repositories = [
        None,
        Some(json!(null)),
        Some(json!("registry.example/team/app")),
        Some(json!({"name": "app"})),
    ];
    let header_sets = [
        headers(&[]),
        headers(&[("Content-Type", "application/json; charset=utf-8")]),
        headers(&[("Content-Type", "application/x-www-form-urlencoded")]),
        headers(&[("X-GitHub-Event", "package")]),
        headers(&[(
            "Content-Type",
            "application/vnd.docker.distribution.events.v1+json",
        )]),
    ];
    let (mut cases, mut direct) = (0, 0);
    for image in &images {
        for tag in &tags {
            for digest in &digests {
                for repository in &repositories {
                    let mut object = serde_json::Map::new();
                    for (key, value) in [
                        ("image", image),
                        ("tag", tag),
                        ("digest", digest),
                        ("repository", repository),
                    ] {
                        if let Some(value) = value {
                            object.insert(key.to_owned(), value.clone());
                        }
                    }
                    let body = Value::Object(object).to_string();
                    for headers in &header_sets {
                        cases += 1;
                        direct += usize::from(
                            same_both_ways(headers, body.as_bytes()) == Some(Format::Generic),
                        );
                    }
                }
            }
        }
    }
    // The direct read takes a share of them, not none and not all.
    assert!(direct > 100 && direct < cases / 2, "{direct} of {cases}");

    // Bodies around the edges of the form: other keys, repeated keys (also under an escaped
    // name), a byte-order mark, escapes, whitespace, trailing text, not an object.
    let image = "registry.example/team/app:v1";
    for (body, taken) in [
        (format!(r#"{{"image":"{image}"}}"#), true),
        (format!("\u{FEFF}{{\"image\":\"{image}\"}}"), true),
        (format!(" \n{{ \"image\" : \"{image}\" }}\n"), true),
        (
            r#"{"image":"registry.example\/team\/app:v\u0031"}"#.to_owned(),
            true,
        ),
        (format!(r#"{{"\u0069mage":"{image}"}}"#), true),
        (format!(r#"{{"image":"{image}","image":"{image}"}}"#), false),
        (
            format!(r#"{{"image":"{image}","\u0069mage":"other:v2"}}"#),
            false,
        ),
        (format!(r#"{{"image":"{image}","extra":1}}"#), false),
        (format!(r#"{{"image":"{image}","action":"INSERT"}}"#), false),
        (format!(r#"{{"image":"{image}","events":[]}}"#), false),
        (format!(r#"{{"image":"{image}"}} trailing"#), false),
        (format!(r#"[{{"image":"{image}"}}]"#), false),
        // Found by the registry fuzz target: a derived struct reads an array of its fields.
        ("[\t\"6:66666\"]".to_owned(), false),
        (format!(r#"["{image}"]"#), false),
        (format!(r#"[null, "{image}", "v1"]"#), false),
        (format!(r#"{{"image":"{image}""#), false),
        ("{}".to_owned(), false),
        (String::new(), false),
        ("\u{FEFF}".to_owned(), false),
    ] {
        assert_eq!(
            same_both_ways(&[], body.as_bytes()) == Some(Format::Generic),
            taken,
            "direct read of {body:?}"
        );
    }
}

#[test]
fn the_direct_reads_leave_every_fixture_as_the_general_way_reads_it() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry");
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).expect("the fixture directory") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.ends_with(".expected.json") {
            continue;
        }
        let pairs = std::fs::read_to_string(path.with_extension("headers")).unwrap_or_default();
        let pairs: Vec<(String, String)> = pairs
            .lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        let taken = same_both_ways(&pairs, &std::fs::read(&path).expect("the fixture"));
        // Every distribution registry's notification in the corpus that reads is read
        // directly.
        let expected = std::fs::read_to_string(path.with_extension("expected.json"));
        let refused = expected.is_ok_and(|expected| expected.contains(r#""error":"#));
        if name.starts_with("distribution-") && !refused {
            assert_eq!(taken, Some(Format::Distribution), "{name}");
        }
        read += 1;
    }
    assert!(read > 20, "only {read} fixtures in {}", dir.display());
}

/// Picks from `valid` seven times in eight, else from `invalid`, by the next values of a
/// fixed linear congruential sequence, so that the cases are the same in every run.
fn pick<'a, T>(seed: &mut u64, (valid, invalid): (&'a [T], &'a [T])) -> &'a T {
    let mut next = || {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*seed >> 33) as usize
    };
    let choices = if invalid.is_empty() || next() % 8 != 0 {
        valid
    } else {
        invalid
    };
    &choices[next() % choices.len()]
}

/// Sets `key` in `object` to `value`, or leaves it out for `None`.
fn set(object: &mut serde_json::Map<String, Value>, key: &str, value: &Option<Value>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), value.clone());
    }
}

#[test]
fn the_direct_read_of_a_distribution_envelope_answers_as_the_general_way_does() {
    let manifest = "application/vnd.docker.distribution.manifest.v2+json";
    // Each field's valid values, then the rest: absent, null, another type, or a string
    // that breaks a rule. Valid values are picked seven times in eight, so that whole
    // envelopes of one to three events are often valid.
    let actions = (
        &[
            Some(json!("push")),
            Some(json!("push")),
            Some(json!("push")),
            Some(json!("pull")),
            Some(json!("delete")),
        ][..],
        &[None, Some(json!(null)), Some(json!(7))][..],
    );
    let media_types = (
        &[
            None,
            Some(json!(null)),
            Some(json!("")),
            Some(json!(manifest)),
            Some(json!(manifest)),
            Some(json!("application/vnd.oci.image.index.v1+json")),
            Some(json!("application/vnd.docker.image.rootfs.diff.tar.gzip")),
        ][..],
        &[Some(json!(5))][..],
    );
    let repositories = (
        &[Some(json!("acme/shop")), Some(json!("team/app"))][..],
        &[
            None,
            Some(json!(null)),
            Some(json!("Acme/Shop")),
            Some(json!("")),
            Some(json!(["acme/shop"])),
        ][..],
    );
    let tags = (
        &[
            None,
            Some(json!(null)),
            Some(json!("")),
            Some(json!("1.8.0")),
        ][..],
        &[Some(json!("-bad")), Some(json!(18))][..],
    );
    let digests = (
        &[
            None,
            Some(json!(null)),
            Some(json!("")),
            Some(json!(DIGEST)),
        ][..],
        &[
            Some(json!("sha256:short")),
            Some(json!({"algorithm": "sha256"})),
        ][..],
    );
    let urls = (
        &[
            None,
            Some(json!(null)),
            Some(json!(
                "https://registry.example.com:5000/v2/acme/shop/manifests/1.8.0"
            )),
            Some(json!("http://10.0.0.7/v2/acme/shop/manifests/1.8.0")),
        ][..],
        &[
            Some(json!("ftp://registry.example.com/x")),
            Some(json!("https://user@registry.example.com/x")),
            Some(json!(3)),
        ][..],
    );
    let requests = (
        &[
            Some(json!({"host": "registry.example.com:5000", "method": "PUT"})),
            Some(json!({"host": "localhost:5000"})),
            Some(json!({"host": null, "addr": "10.0.4.17:49152"})),
            None,
        ][..],
        &[
            Some(json!(null)),
            Some(json!({"host": ""})),
            Some(json!({"host": "Bad Host"})),
            Some(json!({"host": 5})),
            Some(json!("registry.example.com")),
        ][..],
    );
    let actors = (
        &[
            None,
            Some(json!(null)),
            Some(json!({})),
            Some(json!({"name": "ci"})),
            Some(json!({"name": ""})),
        ][..],
        &[Some(json!({"name": 5})), Some(json!("ci"))][..],
    );
    let timestamps = (
        &[
            None,
            Some(json!(null)),
            Some(json!("2024-05-20T03:15:30.402973972-07:00")),
            Some(json!("2024-05-20T10:15:30Z")),
        ][..],
        &[
            Some(json!("2024-05-20 10:15:30")),
            Some(json!("soon")),
            Some(json!(1_716_200_130)),
        ][..],
    );
    let extras = (
        &[
            None,
            Some(json!({"addr": "registry-0:5000", "instanceID": "d7d0ee8f"})),
            Some(json!([1, 2.5, -3e10, true, null, {"a": [{}]}])),
            Some(json!("\u{0} and \"quotes\"")),
        ][..],
        &[][..],
    );
    let header_sets = [
        headers(&[]),
        headers(&[(
            "Content-Type",
            "application/vnd.docker.distribution.events.v1+json",
        )]),
        headers(&[(
            "content-type",
            "Application/VND.docker.distribution.events.v2+json; charset=utf-8",
        )]),
        headers(&[("Content-Type", "application/json")]),
        headers(&[("Content-Type", "application/x-www-form-urlencoded")]),
        headers(&[("X-GitHub-Event", "registry_package")]),
    ];

    let mut seed = 0x0072_6970_6c69_6e65;
    let mut event = || {
        let mut target = serde_json::Map::new();
        set(&mut target, "mediaType", pick(&mut seed, media_types));
        set(&mut target, "repository", pick(&mut seed, repositories));
        set(&mut target, "tag", pick(&mut seed, tags));
        set(&mut target, "digest", pick(&mut seed, digests));
        set(&mut target, "url", pick(&mut seed, urls));
        set(&mut target, "size", &Some(json!(708)));
        let mut event = serde_json::Map::new();
        set(&mut event, "action", pick(&mut seed, actions));
        set(&mut event, "target", &Some(Value::Object(target)));
        set(&mut event, "request", pick(&mut seed, requests));
        set(&mut event, "actor", pick(&mut seed, actors));
        set(&mut event, "timestamp", pick(&mut seed, timestamps));
        set(&mut event, "source", pick(&mut seed, extras));
        Value::Object(event)
    };
    let (mut cases, mut direct, mut pushes) = (0, 0, 0);
    for round in 0..2_000 {
        // One to three events; now and then the same event twice, which is delivered once.
        let mut events: Vec<Value> = (0..1 + round % 3).map(|_| event()).collect();
        if round % 7 == 0 {
            events.push(events[0].clone());
        }
        let body = json!({ "events": events }).to_string();
        for headers in &header_sets {
            cases += 1;
            if same_both_ways(headers, body.as_bytes()) == Some(Format::Distribution) {
                direct += 1;
                let delivery = parse_delivery(headers, body.as_bytes()).expect("taken directly");
                pushes += delivery.events.len();
            }
        }
    }
    // The direct read takes a share of them, not none and not all, and finds pushes in them.
    assert!(direct > 500 && direct < cases / 2, "{direct} of {cases}");
    assert!(
        pushes > 100,
        "{pushes} pushes in {direct} bodies read directly"
    );

    // Envelopes around the edges: no events, events of the wrong type, other top-level keys,
    // repeated keys anywhere (also under an escaped name), escapes, numbers out of range,
    // very wide objects, a byte-order mark, trailing text, not an object.
    let push = json!({
        "action": "push",
        "target": {"mediaType": manifest, "repository": "acme/shop", "tag": "1.8.0"},
        "request": {"host": "registry.example.com"},
    })
    .to_string();
    let wide: String = (0..70).map(|i| format!(r#""k{i}":{i},"#)).collect();
    for (body, taken) in [
        (format!(r#"{{"events":[{push}]}}"#), true),
        (r#"{"events":[]}"#.to_owned(), true),
        (format!(r#"{{"events":[{push},{push}]}}"#), true),
        (format!("\u{FEFF}{{\"events\":[{push}]}}"), true),
        (format!(" \n{{ \"events\" : [ {push} ] }}\n"), true),
        (format!(r#"{{"\u0065vents":[{push}]}}"#), true),
        (
            format!(r#"{{"events":[{push}],"push_data":{{"tag":"x"}}}}"#),
            true,
        ),
        (
            format!(r#"{{"events":[{push}],"extra":[1e308,-0.0]}}"#),
            true,
        ),
        (
            push.replace(r#""action":"push""#, r#""\u0061ction":"p\u0075sh""#)
                .replace("acme/shop", r#"acme\/shop"#),
            false,
        ),
        (
            format!(
                r#"{{"events":[{}]}}"#,
                push.replace(r#""action":"push""#, r#""\u0061ction":"p\u0075sh""#)
                    .replace("acme/shop", r#"acme\/shop"#)
            ),
            true,
        ),
        (
            format!(r#"{{"events":[{push}],"extra":{{{wide}"end":0}}}}"#),
            false,
        ),
        (format!(r#"{{"events":[{push}],"extra":1e400}}"#), false),
        (format!(r#"{{"events":[{push}],"events":[]}}"#), false),
        (format!(r#"{{"events":[{push}],"\u0065vents":[]}}"#), false),
        (format!(r#"{{"events":[{push}],"x":1,"x":2}}"#), false),
        (
            format!(r#"{{"events":[{push}],"x":[{{"y":1,"y":1}}]}}"#),
            false,
        ),
        (
            format!(
                r#"{{"events":[{}]}}"#,
                push.replace(r#""action":"push""#, r#""action":"push","action":"push""#)
            ),
            false,
        ),
        (
            format!(
                r#"{{"events":[{}]}}"#,
                push.replace(r#""tag":"1.8.0""#, r#""tag":"1.8.0","t\u0061g":"1.8.0""#)
            ),
            false,
        ),
        (r#"{"events":null}"#.to_owned(), false),
        (r#"{"events":{}}"#.to_owned(), false),
        (r#"{"events":[null]}"#.to_owned(), false),
        (r#"{"events":[[]]}"#.to_owned(), false),
        (format!(r#"{{"events":[{push}]}} trailing"#), false),
        (format!(r#"{{"events":[{push}]"#), false),
        (format!(r#"[{{"events":[{push}]}}]"#), false),
        (format!("[{push}]"), false),
        ("{}".to_owned(), false),
        (String::new(), false),
    ] {
        assert_eq!(
            same_both_ways(&[], body.as_bytes()) == Some(Format::Distribution),
            taken,
            "direct read of {body}"
        );
    }
}
