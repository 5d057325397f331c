//! The front ends agree: a rule the engine enforces answers the same code and message
//! through the desktop app's façade ([`Tripline`]) and through the `tripline` binary.

use tripline_engine::api::{Options, Tripline};

async fn open(dir: &tempfile::TempDir) -> Tripline {
    Tripline::open(Options {
        data_dir: dir.path().to_owned(),
        secrets: tripline_engine::secrets::Choice::Files,
        via: "desktop",
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
