//! Replays the strategic-merge-patch corpus in `tests/fixtures/strategic/`, whose expected
//! results were produced by `kubectl patch --local --type=strategic` (see `regenerate.sh`
//! there). When kubectl is on the PATH, `kubectl_agrees_with_the_corpus` re-runs it too, so
//! the corpus itself cannot drift from the reference.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Cases where Tripline deliberately differs from kubectl, with the reason.
const DEVIATIONS: &[(&str, &str)] = &[
    (
        "089-unknown-map-field-both-sides",
        "kubectl refuses a map field its Go structs lack; Tripline merges it, so fields of newer \
         Kubernetes versions can be patched",
    ),
    (
        "091-unknown-list-field-both-sides",
        "as 089, for lists: Tripline replaces the list",
    ),
    (
        "092-unknown-crd-style-field-top-level",
        "as 089, at the top level",
    ),
];

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/strategic");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 45,
        "the corpus is missing: {}",
        root.display()
    );
    cases
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run(case: &Path) -> Result<Value, String> {
    let original: Value = serde_saphyr::from_str(&read(&case.join("original.yaml")))
        .map_err(|e| format!("invalid YAML document: {e}"))?;
    let field = |name: &str| original[name].as_str().unwrap_or_default().to_owned();
    let (api_version, kind) = (field("apiVersion"), field("kind"));
    let patch: Value = serde_json::from_str(&read(&case.join("patch.json")))
        .map_err(|e| format!("invalid JSON document: {e}"))?;
    strategic_merge::apply_to(original, patch, &api_version, &kind).map_err(|e| e.to_string())
}

#[test]
fn tripline_matches_kubectl_on_every_case() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if DEVIATIONS.iter().any(|(d, _)| *d == name) {
            continue;
        }
        checked += 1;
        let result = run(&case);
        let expected_json = case.join("expected.json");
        if expected_json.exists() {
            let expected: Value = serde_json::from_str(&read(&expected_json)).unwrap();
            match result {
                Ok(actual) if actual == expected => {}
                Ok(actual) => failures.push(format!(
                    "{name}: differs from kubectl\n  kubectl:  {}\n  tripline: {}",
                    serde_json::to_string(&expected).unwrap(),
                    serde_json::to_string(&actual).unwrap()
                )),
                Err(e) => failures.push(format!("{name}: kubectl succeeded, tripline failed: {e}")),
            }
        } else {
            let kubectl_error = read(&case.join("expected.error"));
            if let Ok(actual) = result {
                failures.push(format!(
                    "{name}: kubectl refused ({}), tripline produced {}",
                    kubectl_error.trim(),
                    serde_json::to_string(&actual).unwrap()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn deviations_still_deviate() {
    // A deviation kubectl later adopts (or we fix) should be taken off the list.
    for (name, why) in DEVIATIONS {
        let case = cases()
            .into_iter()
            .find(|c| c.ends_with(name))
            .expect("deviation case exists");
        assert!(
            case.join("expected.error").exists(),
            "{name}: kubectl no longer refuses ({why})"
        );
        assert!(
            run(&case).is_ok(),
            "{name}: tripline now refuses too; remove the deviation"
        );
    }
}

#[test]
fn kubectl_agrees_with_the_corpus() {
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let available = std::process::Command::new(&kubectl)
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var_os("TRIPLINE_REQUIRE_KUBECTL").is_none(),
            "TRIPLINE_REQUIRE_KUBECTL is set but {kubectl} does not run"
        );
        eprintln!("kubectl not found: the corpus is checked against its recorded results only");
        return;
    }
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let output = std::process::Command::new(&kubectl)
            .current_dir(&case)
            .env("KUBECONFIG", "/dev/null")
            .args([
                "patch",
                "-f",
                "original.yaml",
                "--local",
                "--type=strategic",
                "-o",
                "json",
                "-p",
            ])
            .arg(read(&case.join("patch.json")))
            .output()
            .expect("kubectl runs");
        let expected_json = case.join("expected.json");
        if expected_json.exists() {
            assert!(
                output.status.success(),
                "{name}: kubectl now fails: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let actual: Value = serde_json::from_slice(&output.stdout).unwrap();
            let expected: Value = serde_json::from_str(&read(&expected_json)).unwrap();
            assert_eq!(actual, expected, "{name}: kubectl's output changed");
        } else {
            assert!(
                !output.status.success(),
                "{name}: kubectl now accepts this patch"
            );
        }
    }
}
