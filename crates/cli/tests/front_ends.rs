//! The front ends agree: a rule the engine enforces answers the same code and message
//! through the façade the desktop app calls ([`Tripline`]) and through the `tripline` binary.

use tripline_engine::api::{Options, Tripline};

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

/// A trigger that could never fire is refused by the engine, whichever front end asks: the
/// desktop app's façade and the CLI give the same code and message for the same request.
#[tokio::test]
async fn a_trigger_the_template_cannot_serve_is_refused_the_same_way_by_every_front_end() {
    use tripline_engine::store::NewTrigger;
    use tripline_engine::trigger::TriggerKind;
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    tripline.create_demo().unwrap();
    let ghost = NewTrigger {
        name: "demo-ghost".into(),
        app: "demo".into(),
        kind: TriggerKind::Scale {
            kind: "Deployment".into(),
            name: "ghost".into(),
            min: None,
            max: None,
        },
        signed: false,
    };
    let desktop = tripline.create_trigger(&ghost).unwrap_err();
    assert_eq!(desktop.code, "trigger.invalid", "{desktop:?}");
    assert!(
        desktop
            .message
            .contains("has no Deployment/ghost (it has: Deployment/demo)"),
        "{}",
        desktop.message
    );
    drop(tripline);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args([
            "--json",
            "--secrets",
            "files",
            "trigger",
            "create",
            "demo",
            "--kind",
            "scale",
            "--name",
            "demo-ghost",
            "--workload",
            "Deployment/ghost",
        ])
        .env("TRIPLINE_DATA_DIR", dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let start = stderr.find('{').unwrap_or(0);
    let cli: serde_json::Value = serde_json::from_str(&stderr[start..]).unwrap();
    assert_eq!(cli["code"], desktop.code.as_str(), "{stderr}");
    assert_eq!(cli["message"], desktop.message, "{stderr}");

    // Nothing was made: no trigger and no secret.
    let tripline = open(&dir).await;
    assert!(tripline.trigger_url("demo-ghost").await.is_err());
    assert!(
        secrets(&dir)
            .get(&tripline_engine::trigger::token_secret_name("demo-ghost"))
            .is_err()
    );
}

/// The engine's fixtures: both front ends are driven with the same files.
fn fixture(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../engine/tests/fixtures")
        .join(path)
}

/// Runs `tripline --json --secrets files <args>` over `dir`, which must fail; the error's
/// code and message as the CLI prints them.
fn cli_error(dir: &tempfile::TempDir, args: &[&str]) -> (String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["--json", "--secrets", "files"])
        .args(args)
        .env("TRIPLINE_DATA_DIR", dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded: {stderr}");
    let start = stderr.find('{').unwrap_or(0);
    let body: serde_json::Value = serde_json::from_str(&stderr[start..]).unwrap();
    (
        body["code"].as_str().unwrap_or_default().to_owned(),
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The name rules and the template checks are the engine's: a bad template name, a bad
/// application name and a template Kubernetes would refuse get the same code and message
/// from the façade the desktop calls and from the CLI, and nothing is made by either.
#[tokio::test]
async fn bad_names_and_templates_are_refused_the_same_way_by_every_front_end() {
    use tripline_engine::app::{ClusterRef, NewApplication, Pin, Source};
    let dir = tempfile::tempdir().unwrap();
    let seed = fixture("templates/seed-demo.yaml");
    let negative = fixture("validation/invalid/replicas-negative.yaml");
    let tripline = open(&dir).await;
    tripline
        .create_template("web", &std::fs::read_to_string(&seed).unwrap(), "")
        .unwrap();
    let bad_template_name = tripline
        .create_template("Bad_Name", &std::fs::read_to_string(&seed).unwrap(), "")
        .unwrap_err();
    let bad_body = tripline
        .create_template("negative", &std::fs::read_to_string(&negative).unwrap(), "")
        .unwrap_err();
    let bad_app_name = tripline
        .create_app(&NewApplication {
            name: "Bad_Name".into(),
            cluster: ClusterRef::Sandbox,
            namespace: "default".into(),
            source: Source::Template {
                template: "web".into(),
                pin: Pin::Latest,
            },
            prune: false,
        })
        .unwrap_err();
    // The refusal names the field, so a person can fix it.
    assert!(bad_body.message.contains("replicas"), "{bad_body:?}");
    drop(tripline);

    let cases = [
        (
            bad_template_name,
            vec![
                "template",
                "create",
                "Bad_Name",
                "-f",
                seed.to_str().unwrap(),
            ],
        ),
        (
            bad_body,
            vec![
                "template",
                "create",
                "negative",
                "-f",
                negative.to_str().unwrap(),
            ],
        ),
        (
            bad_app_name,
            vec!["app", "create", "Bad_Name", "--template", "web"],
        ),
    ];
    for (desktop, args) in cases {
        assert!(!desktop.message.is_empty(), "{desktop:?}");
        let (code, message) = cli_error(&dir, &args);
        assert_eq!(code, desktop.code.as_str(), "{args:?}: {message}");
        assert_eq!(message, desktop.message, "{args:?}");
    }

    // Nothing was made by either front end.
    let tripline = open(&dir).await;
    let templates: Vec<String> = tripline
        .templates()
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(templates, ["web"]);
    assert!(tripline.app_detail("Bad_Name", 1).is_err());
}
