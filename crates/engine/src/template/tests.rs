use super::*;

const WEB_STACK: &str = include_str!("../../tests/fixtures/templates/web-stack.yaml");
const SEED: &str = include_str!("../../tests/fixtures/templates/seed-demo.yaml");

fn error(text: &str) -> String {
    Manifest::parse(text).unwrap_err().to_string()
}

#[test]
fn parses_documents_with_identity_and_lines() {
    let manifest = Manifest::parse(WEB_STACK).unwrap();
    let ids: Vec<String> = manifest
        .documents()
        .iter()
        .map(|d| format!("{}:{}:{}", d.index, d.line, d.id))
        .collect();
    assert_eq!(
        ids,
        [
            "1:1:Deployment web in namespace shop (apps/v1)",
            "2:32:Service web in namespace shop (v1)",
            "3:43:ConfigMap web-settings in namespace shop (v1)",
        ]
    );
    assert_eq!(manifest.text(), WEB_STACK);
    assert_eq!(manifest.documents()[0].id.group(), "apps");
    assert_eq!(manifest.documents()[1].id.group(), "");
}

#[test]
fn empty_documents_are_skipped() {
    let text = "---\n# nothing\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n~\n...\n";
    let manifest = Manifest::parse(text).unwrap();
    assert_eq!(manifest.documents().len(), 1);
    assert_eq!(manifest.documents()[0].line, 6);
}

#[test]
fn invalid_documents_are_named_with_their_index_line_and_problem() {
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
    let cases: &[(String, &str)] = &[
        (
            format!("{cm}---\nkind: ConfigMap\nmetadata: {{name: b}}\n"),
            "document 2 (line 5): apiVersion is missing",
        ),
        (
            format!("{cm}---\napiVersion: v1\nmetadata: {{name: b}}\n"),
            "document 2 (line 5): kind is missing",
        ),
        (
            format!("{cm}---\napiVersion: v1\nkind: ConfigMap\n"),
            "document 2 (line 5): metadata is missing",
        ),
        (
            format!("{cm}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{}}\n"),
            "document 2 (line 5): metadata.name is missing",
        ),
        (
            format!("{cm}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: 7}}\n"),
            "metadata.name must be a string, found a number",
        ),
        (
            format!("{cm}---\napiVersion: v1\nkind: configMap\nmetadata: {{name: b}}\n"),
            "did you mean \"ConfigMap\"",
        ),
        (
            "apiVersion: apps/v1/x\nkind: Deployment\nmetadata: {name: a}\n".into(),
            "apiVersion \"apps/v1/x\" is not of the form",
        ),
        (
            "- a\n- b\n".into(),
            "document 1 (line 1) is a list, not a Kubernetes object",
        ),
        (
            "just a string\n".into(),
            "is a string, not a Kubernetes object",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n".into(),
            "generateName is not supported",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a/b}\n".into(),
            "contains '/'",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: Prod}\n".into(),
            "metadata.namespace \"Prod\" is not a valid DNS label",
        ),
        (
            "# only comments\n---\n".into(),
            "the template has no Kubernetes objects",
        ),
        ("".into(), "the template has no Kubernetes objects"),
    ];
    for (text, expected) in cases {
        let message = error(text);
        assert!(
            message.contains(expected),
            "for {text:?}\n  got: {message}\n  want: {expected}"
        );
    }
}

#[test]
fn yaml_syntax_errors_give_the_line_in_the_whole_template() {
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n   bad: indent\n";
    match Manifest::parse(text).unwrap_err() {
        Error::Yaml { index, line, .. } => {
            assert_eq!(index, 2);
            assert!((8..=9).contains(&line), "line {line}");
        }
        other => panic!("expected a YAML error, got {other}"),
    }
}

#[test]
fn duplicate_objects_are_refused() {
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
    let message = error(&format!("{doc}---\n{doc}"));
    assert_eq!(
        message,
        "documents 1 (line 1) and 2 (line 6) both define ConfigMap a (v1); each object may appear once"
    );
    // Same name, other namespace or kind: fine.
    let other_ns = doc.replace("name: a", "name: a\n  namespace: x");
    Manifest::parse(&format!("{doc}---\n{other_ns}")).unwrap();
}

#[test]
fn type_errors_in_built_in_kinds_name_the_field() {
    let text = SEED.replace("revisionHistoryLimit: 5", "revisionHistoryLimit: five");
    let message = error(&text);
    assert!(message.contains("spec.revisionHistoryLimit"), "{message}");
    let nameless = SEED.replace("      - name: demo\n        image", "      - image");
    let message = error(&nameless);
    assert!(
        message.contains("containers[0]") && message.contains("name"),
        "{message}"
    );
}

#[test]
fn hostile_yaml_fails_fast_with_a_named_error() {
    // Billion laughs.
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        bomb.push_str(&format!("x{i}: &a{i} [{refs}]\n"));
    }
    assert!(
        matches!(Manifest::parse(&bomb), Err(Error::Yaml { .. })),
        "alias bomb accepted"
    );

    // Deep nesting, flow and block.
    let deep = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(matches!(Manifest::parse(&deep), Err(Error::Yaml { .. })));
    let mut block = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nd:\n");
    for depth in 1..500 {
        block.push_str(&" ".repeat(depth * 2));
        block.push_str("k:\n");
    }
    assert!(matches!(Manifest::parse(&block), Err(Error::Yaml { .. })));
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let big = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata:\n  blob: \"{}\"\n",
        "x".repeat(4 * 1024 * 1024)
    );
    let message = error(&big);
    assert!(
        message.starts_with("document 1 (line 1) is 4.0 MiB, larger than the 3.0 MiB"),
        "{message}"
    );
    let huge = "x".repeat(50 * 1024 * 1024);
    assert!(matches!(
        Manifest::parse(&huge),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        Manifest::from_bytes(huge.as_bytes()),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn non_utf8_bytes_are_located() {
    let mut bytes = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\x80b\n".to_vec();
    match Manifest::from_bytes(&bytes).unwrap_err() {
        Error::NotUtf8 { line, column } => assert_eq!((line, column), (4, 10)),
        other => panic!("{other}"),
    }
    bytes.retain(|&b| b != 0x80);
    Manifest::from_bytes(&bytes).unwrap();
}

#[test]
fn replace_rerenders_only_changed_documents() {
    let manifest = Manifest::parse(WEB_STACK).unwrap();
    let mut service = manifest.documents()[1].value.clone();
    service["spec"]["ports"][0]["port"] = 8080.into();
    let replaced = manifest
        .clone()
        .replace(vec![(1, service.clone())])
        .unwrap();
    let text = replaced.text();
    // The Deployment's comment and the ConfigMap's comment survive.
    assert!(text.contains("image: ghcr.io/acme/web:1.4.0   # the app"));
    assert!(text.contains("# settings\napiVersion: v1\nkind: ConfigMap"));
    assert_eq!(replaced.documents()[1].value, service);
    // Lines after the change are still right.
    let reparsed = Manifest::parse(text).unwrap();
    for (a, b) in reparsed.documents().iter().zip(replaced.documents()) {
        assert_eq!((a.line, &a.id, &a.value), (b.line, &b.id, &b.value));
        assert_eq!(a.source(&reparsed), b.source(&replaced));
    }
}

#[test]
fn rendering_round_trips_awkward_values() {
    let manifest = Manifest::parse(SEED).unwrap();
    let mut value = manifest.documents()[0].value.clone();
    value["metadata"]["annotations"] = serde_json::json!({
        "yes": "no", "n": "1.0", "multi": "line one\nline two\n", "colon": "a: b", "empty": "",
        "hash": "# not a comment", "star": "*alias", "quote": "it's \"quoted\"", "unicode": "héllo ✓",
        "null-ish": "null", "tilde": "~", "bool": "true", "octal": "0755", "spaces": "  padded  "
    });
    let replaced = manifest.replace(vec![(0, value.clone())]).unwrap();
    let reparsed = Manifest::parse(replaced.text()).unwrap();
    assert_eq!(reparsed.documents()[0].value, value, "{}", replaced.text());
}

#[test]
fn hash_is_sha256_of_the_text() {
    assert_eq!(
        content_hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn leading_byte_order_marks_are_dropped_however_many_and_the_text_parses_back_to_itself() {
    for marks in 0..4 {
        let text = format!(
            "{}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            "\u{feff}".repeat(marks)
        );
        let manifest = Manifest::parse(&text).unwrap();
        assert!(!manifest.text().starts_with('\u{feff}'), "{marks} marks");
        assert_eq!(
            Manifest::parse(manifest.text()).unwrap(),
            manifest,
            "{marks} marks"
        );
        assert_eq!(
            Manifest::parse_reusing(manifest.text(), &manifest).unwrap(),
            manifest,
            "{marks} marks"
        );
    }
}

#[test]
fn lone_carriage_returns_are_line_breaks_and_re_rendering_gives_the_same_objects() {
    // Found by fuzzing (`fuzz/fuzz_targets/template.rs`): a comment line ended by a lone CR
    // hid the key after it from the renderer, which kept it and added it again.
    for text in [
        "\r\r#-\rapiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
        "apiVersion: v1\rkind: ConfigMap\rmetadata:\r  name: a\r---\rapiVersion: v1\rkind: ConfigMap\rmetadata:\r  name: b\r",
    ] {
        let manifest = Manifest::parse(text).unwrap();
        assert!(!manifest.text().contains('\r'), "{text:?}");
        let values: Vec<_> = manifest
            .documents()
            .iter()
            .map(|d| (d.id.clone(), d.value.clone()))
            .collect();
        let changes = values
            .iter()
            .enumerate()
            .map(|(position, (_, value))| (position, value.clone()))
            .collect();
        let rendered = manifest.replace(changes).unwrap();
        let again = Manifest::parse(rendered.text()).unwrap();
        let round: Vec<_> = again
            .documents()
            .iter()
            .map(|d| (d.id.clone(), d.value.clone()))
            .collect();
        assert_eq!(round, values, "{text:?}");
    }
    assert_eq!(
        Manifest::parse("\r\r#-\rapiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
            .unwrap()
            .documents()
            .len(),
        1
    );
    // Windows line ends are kept as they are.
    let crlf = "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: c\r\n";
    assert_eq!(Manifest::parse(crlf).unwrap().text(), crlf);
}
