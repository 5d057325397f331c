//! The `tripline` binary, driven as a user would: files, stdin, exit codes, JSON.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The engine's fixtures: the command line is tested on the same templates.
fn engine_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures")
}

fn fixture(name: &str) -> PathBuf {
    engine_fixtures().join("templates").join(name)
}

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run_with(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tripline"))
            .args(args)
            .env("TRIPLINE_DATA_DIR", self.dir.path())
            .env("NO_COLOR", "1")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(bytes) = stdin {
            child.stdin.take().unwrap().write_all(bytes).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, None)
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Runs and expects failure with `code`; returns stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        stderr
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_seed_scenario_end_to_end() {
    let cli = Cli::new();
    let seed = fixture("seed-demo.yaml");
    let patch = fixture("seed-demo-patch.json");
    assert!(
        cli.ok(&["template", "create", "demo", "-f", path(&seed)])
            .contains("version 1")
    );
    assert!(
        cli.ok(&["template", "patch", "demo", "-f", path(&patch)])
            .contains("version 2 (patch)")
    );
    assert!(
        cli.ok(&["template", "patch", "demo", "-f", path(&patch)])
            .contains("No changes")
    );
    let shown = cli.ok(&["template", "show", "demo"]);
    assert_eq!(
        shown,
        std::fs::read_to_string(&seed)
            .unwrap()
            .replace(":blue", ":red")
    );
    assert_eq!(
        cli.ok(&["template", "show", "demo", "--version", "1"]),
        std::fs::read_to_string(&seed).unwrap()
    );

    let diff = cli.ok(&["template", "diff", "demo"]);
    assert!(
        diff.contains("~ spec.template.spec.containers[name=demo].image"),
        "{diff}"
    );
    assert!(
        diff.contains("+        image: registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo:red")
    );

    let versions = cli.json(&["template", "versions", "demo"]);
    let origins: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins, ["import", "patch"]);

    assert!(
        cli.ok(&["template", "rollback", "demo", "--to", "1"])
            .contains("version 3 (rollback)")
    );
    let v3 = cli.json(&["template", "show", "demo"]);
    assert_eq!(v3["basedOn"], 1);
    assert_eq!(v3["content"], std::fs::read_to_string(&seed).unwrap());
}

#[test]
fn templates_and_patches_can_come_from_stdin() {
    let cli = Cli::new();
    let seed = std::fs::read(fixture("seed-demo.yaml")).unwrap();
    let out = cli.run_with(&["template", "create", "demo"], Some(&seed));
    assert!(out.status.success());
    let out = cli.run_with(
        &["template", "patch", "demo", "-f", "-"],
        Some(b"resource:\n  deployment:\n    metadata: {name: demo}\n    spec: {replicas: 4}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let edited = String::from_utf8(seed)
        .unwrap()
        .replace("minReadySeconds: 5", "minReadySeconds: 9");
    let out = cli.run_with(
        &["template", "edit", "demo", "-m", "slower start"],
        Some(edited.as_bytes()),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("version 3 (edit): slower start"));
}

#[test]
fn errors_have_documented_exit_codes_and_json_bodies() {
    let cli = Cli::new();
    let seed = fixture("seed-demo.yaml");
    // 2: bad command line.
    cli.fails(&["template", "frobnicate"], 2);
    // 4: not found.
    assert!(
        cli.fails(&["template", "show", "nope"], 4)
            .contains("there is no template named \"nope\"")
    );
    cli.ok(&["template", "create", "demo", "-f", path(&seed)]);
    assert!(
        cli.fails(&["template", "show", "demo", "--version", "7"], 4)
            .contains("no version 7")
    );
    // 3: invalid input.
    let bad = cli.fails(
        &[
            "template",
            "patch",
            "demo",
            "-p",
            "{\"resource\":{\"service\":{\"metadata\":{\"name\":\"x\"}}}}",
        ],
        3,
    );
    assert!(
        bad.contains("the template has no service (it has: Deployment)"),
        "{bad}"
    );
    let out = cli.run(&["--json", "template", "patch", "demo", "-p", "{nope"]);
    assert_eq!(out.status.code(), Some(3));
    let body: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(body["code"], "patch.syntax");
    assert_eq!(body["details"]["line"], 1);
    // 5: conflict.
    cli.fails(&["template", "create", "demo", "-f", path(&seed)], 5);
    cli.ok(&["app", "create", "shop", "--template", "demo"]);
    let out = cli.run(&["--json", "template", "delete", "demo"]);
    assert_eq!(out.status.code(), Some(5));
    let body: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(body["code"], "template.in_use");
    assert_eq!(body["details"]["apps"][0], "shop");
    // Nothing was changed by any of the failures.
    assert_eq!(
        cli.json(&["template", "versions", "demo"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn invalid_templates_name_document_and_line() {
    let cli = Cli::new();
    let out = cli.run_with(
        &["template", "create", "bad"],
        Some(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\n"),
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        "error: document 2 (line 5): metadata is missing (it must hold at least a name)\n"
    );
    let out = cli.run_with(
        &["template", "create", "bin"],
        Some(b"apiVersion: v1\n\xff\xfe"),
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid UTF-8"));
    assert!(cli.ok(&["template", "list"]).contains("No templates yet"));
}

#[test]
fn dry_run_shows_the_change_and_saves_nothing() {
    let cli = Cli::new();
    cli.ok(&[
        "template",
        "create",
        "demo",
        "-f",
        path(&fixture("seed-demo.yaml")),
    ]);
    let out = cli.ok(&[
        "template",
        "patch",
        "demo",
        "--type",
        "merge",
        "--kind",
        "deployment",
        "--resource-name",
        "demo",
        "-p",
        "{\"spec\":{\"replicas\":3}}",
        "--dry-run",
    ]);
    assert!(
        out.contains("would make version 2") && out.contains("+ spec.replicas: 3"),
        "{out}"
    );
    assert_eq!(
        cli.json(&["template", "versions", "demo"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn apps_round_trip() {
    let cli = Cli::new();
    cli.ok(&[
        "template",
        "create",
        "demo",
        "-f",
        path(&fixture("seed-demo.yaml")),
    ]);
    cli.ok(&[
        "app",
        "create",
        "shop",
        "--template",
        "demo",
        "-n",
        "prod",
        "--context",
        "kind-dev",
    ]);
    let app = cli.json(&["app", "show", "shop"]);
    assert_eq!(
        app["cluster"],
        serde_json::json!({"type": "context", "name": "kind-dev"})
    );
    assert_eq!(app["namespace"], "prod");
    assert!(
        cli.ok(&["app", "list"])
            .contains("shop  context kind-dev  prod")
    );
    cli.fails(&["app", "create", "bad_name", "--template", "demo"], 3);
    cli.ok(&["app", "delete", "shop"]);
    cli.ok(&["template", "delete", "demo"]);
}

#[test]
fn deploy_patch_rollback_and_releases_against_the_sandbox() {
    let cli = Cli::new();
    cli.ok(&[
        "template",
        "create",
        "demo",
        "-f",
        path(&fixture("seed-demo.yaml")),
    ]);
    cli.ok(&["app", "create", "demo", "--template", "demo"]);
    let status = cli.json(&["app", "status", "demo"]);
    assert!(
        status["rollout"].is_null(),
        "nothing deployed yet: {status}"
    );
    assert!(
        cli.ok(&["app", "status", "demo"])
            .contains("has no workloads")
    );
    let out = cli.ok(&["deploy", "demo"]);
    assert!(out.contains("Succeeded: deployed version 1"), "{out}");
    let status = cli.json(&["app", "status", "demo"]);
    assert_eq!(
        status["rollout"],
        serde_json::json!({"health": "ok", "ready": 1, "desired": 1}),
        "{status}"
    );
    assert_eq!(status["workloads"][0]["kind"], "Deployment");
    assert_eq!(status["workloads"][0]["health"], "ok");
    let out = cli.ok(&["app", "status", "demo"]);
    assert!(
        out.starts_with(
            "demo: Healthy, 1 of 1 replicas ready (sandbox cluster, namespace default)"
        ) && out.contains("Deployment/demo")
            && out.contains("rollouts-demo:blue"),
        "{out}"
    );
    cli.ok(&[
        "template",
        "patch",
        "demo",
        "-f",
        path(&fixture("seed-demo-patch.json")),
    ]);
    assert!(cli.ok(&["deploy", "demo"]).contains("deployed version 2"));
    let out = cli.ok(&["rollback", "demo", "--to", "1"]);
    assert!(
        out.contains("version 3 now equals version 1") && out.contains("deployed version 3"),
        "{out}"
    );

    let releases = cli.json(&["releases", "demo"]);
    let summary: Vec<(u64, &str, &str)> = releases
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["templateVersion"].as_u64().unwrap(),
                r["status"].as_str().unwrap(),
                r["cause"]["type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (3, "succeeded", "rollback"),
            (2, "succeeded", "user"),
            (1, "succeeded", "user")
        ]
    );
    // The second release records what it changed.
    let diff = &releases[1]["diff"]["resources"][0]["changes"][0];
    assert_eq!(
        diff["path"],
        "spec.template.spec.containers[name=demo].image"
    );

    // A deploy that cannot roll out fails with exit code 6 and says why. The deadline is
    // longer than the sandbox's pull delay (1 s), so the pod's pull failure is visible.
    cli.ok(&[
        "template", "patch", "demo", "-p",
        r#"{"resource":{"deployment":{"metadata":{"name":"demo"},"spec":{"progressDeadlineSeconds":3,"template":{"spec":{"containers":[{"name":"demo","image":"registry.invalid/demo:gone"}]}}}}}}"#,
    ]);
    let stderr = cli.fails(&["deploy", "demo", "--timeout", "30"], 6);
    assert!(
        stderr.contains("exceeded its progress deadline") && stderr.contains("ImagePullBackOff"),
        "{stderr}"
    );
    // The template allows one unavailable pod of one (`maxUnavailable: 1`), so the old pod
    // was scaled away at once, as a real controller does; the new one cannot pull its image.
    let status = cli.json(&["app", "status", "demo"]);
    assert_eq!(status["rollout"]["health"], "down", "{status}");
    let waiting: Vec<&str> = status["workloads"][0]["pods"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["waiting"].as_str())
        .collect();
    assert!(
        waiting.iter().any(|w| w.starts_with("ImagePullBackOff")),
        "{status}"
    );
    let text = cli.ok(&["app", "status", "demo"]);
    assert!(
        text.contains("Unavailable") && text.contains("ImagePullBackOff"),
        "{text}"
    );

    // Rolling back to the version before the broken one succeeds. On a return to an existing
    // ReplicaSet the controller first publishes the new generation with the failed
    // rollout's ProgressDeadlineExceeded still in place; that is not this rollout's failure.
    let versions = cli.json(&["template", "versions", "demo"]);
    let good = versions.as_array().unwrap()[1]["number"].as_u64().unwrap();
    let rolled_back = cli.run(&["rollback", "demo", "--to", &good.to_string()]);
    assert!(
        rolled_back.status.success(),
        "{}",
        String::from_utf8_lossy(&rolled_back.stderr)
    );
    let releases = cli.json(&["releases", "demo"]);
    assert_eq!(releases[0]["status"], "succeeded", "{}", releases[0]);

    // Without the deadline, a pod stuck for --stuck-after fails the rollout with the pod's
    // reason; the error's details number the release as the text output does.
    cli.ok(&[
        "template", "patch", "demo", "-p",
        r#"{"resource":{"deployment":{"metadata":{"name":"demo"},"spec":{"progressDeadlineSeconds":600,"template":{"spec":{"containers":[{"name":"demo","image":"registry.invalid/demo:still-gone"}]}}}}}}"#,
    ]);
    let out = cli.run(&[
        "--json",
        "deploy",
        "demo",
        "--timeout",
        "120",
        "--stuck-after",
        "1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    // A log line can come first; the error body starts at the first line that opens one.
    let start = stderr.find("\n{").map_or(0, |at| at + 1);
    let body: Value =
        serde_json::from_str(&stderr[start..]).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(body["code"], "deploy.failed", "{body}");
    assert_eq!(body["details"]["reason"], "ImagePullBackOff", "{body}");
    assert_eq!(body["details"]["app"], "demo", "{body}");
    let numbers: Vec<u64> = cli
        .json(&["releases", "demo"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_u64().unwrap())
        .collect();
    assert_eq!(body["details"]["release"], numbers[0], "{body}");
    assert!(body["details"]["releaseId"].is_u64(), "{body}");
}

#[test]
fn status_says_where_the_data_is_how_big_and_what_waits() {
    let cli = Cli::new();
    let status = cli.json(&["status"]);
    assert_eq!(status["accessRecords"], 0);
    assert!(status["databaseBytes"].as_u64().unwrap() > 0, "{status}");
    assert_eq!(status["retention"]["days"], 90);
    assert_eq!(status["retention"]["perTrigger"], 100_000);
    assert_eq!(status["queuedReleases"], 0);
    let text = cli.ok(&["status"]);
    assert!(
        text.contains("Access records  0 (tripline serve keeps them 90 days"),
        "{text}"
    );
    assert!(text.contains("0 queued, 0 running"), "{text}");
}

/// A patch whose result could not be saved, or would be refused by Kubernetes, fails with
/// exit code 3, names the problem, and makes no version; the template keeps taking patches.
#[test]
fn patches_with_unsaveable_or_invalid_results_are_refused() {
    let cli = Cli::new();
    cli.ok(&[
        "template",
        "create",
        "demo",
        "-f",
        path(&fixture("seed-demo.yaml")),
    ]);
    // 62 levels under the Deployment: the reader would take it back, but not with a margin.
    let deep = (0..60).fold(String::from("1"), |inner, _| format!("{{\"a\":{inner}}}"));
    let merge = format!("{{\"spec\":{{\"x\":{deep}}}}}");
    let json_remove = r#"[{"op":"remove","path":"/spec"}]"#;
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "--type",
                "merge",
                "--kind",
                "Deployment",
                "--resource-name",
                "demo",
                "-p",
                &merge,
            ],
            "its nesting depth is 62, more than the 48 a saved template may have",
        ),
        (
            &[
                "--type",
                "json",
                "--kind",
                "Deployment",
                "--resource-name",
                "demo",
                "-p",
                json_remove,
            ],
            "Deployment demo would be refused by Kubernetes: spec.selector",
        ),
        (
            &[
                "-p",
                r#"{"resource":{"deployment":{"metadata":{"name":"demo"},"spec":{"replicas":-1}}}}"#,
            ],
            "spec.replicas (line ",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["template", "patch", "demo"];
        all.extend_from_slice(args);
        let stderr = cli.fails(&all, 3);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        let mut dry = all.clone();
        dry.push("--dry-run");
        let stderr = cli.fails(&dry, 3);
        assert!(stderr.contains(expected), "dry run {args:?}: {stderr}");
    }
    let out = cli.run(&[
        "--json",
        "template",
        "patch",
        "demo",
        "-p",
        &merge,
        "--type",
        "merge",
        "--kind",
        "Deployment",
        "--resource-name",
        "demo",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let body: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(body["code"], "template.over_limit");
    assert_eq!(body["details"]["limit"], "depth");
    assert_eq!(body["details"]["value"], 62);
    assert_eq!(body["details"]["max"], 48);
    assert_eq!(
        cli.json(&["template", "versions", "demo"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Nothing was poisoned: the seed's patch still applies and diff still reads every version.
    assert!(
        cli.ok(&[
            "template",
            "patch",
            "demo",
            "-f",
            path(&fixture("seed-demo-patch.json"))
        ])
        .contains("version 2 (patch)")
    );
    cli.ok(&["template", "diff", "demo", "1", "2"]);
}

/// Fields the Kubernetes schema does not declare are refused by create and by patch, with the
/// field's path, its line and the declared name it is closest to; custom resources are not.
#[test]
fn fields_the_kubernetes_schema_does_not_declare_are_refused_at_their_line() {
    let cli = Cli::new();
    let typo = engine_fixtures().join("validation/invalid/image-pull-policy-typo.yaml");
    let stderr = cli.fails(&["template", "create", "typo", "-f", path(&typo)], 3);
    assert!(
        stderr.contains(
            "Deployment demo would be refused by Kubernetes: \
             spec.template.spec.containers[0].imagePullPolcy (line 30): Unknown field: \
             Container in Kubernetes 1.37.0 has no field \"imagePullPolcy\", \
             did you mean \"imagePullPolicy\"?"
        ),
        "{stderr}"
    );
    let out = cli.run(&["--json", "template", "create", "typo", "-f", path(&typo)]);
    assert_eq!(out.status.code(), Some(3));
    let body: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(body["code"], "template.invalid");
    let problem = &body["details"]["problems"][0];
    assert_eq!(
        problem["field"],
        "spec.template.spec.containers[0].imagePullPolcy"
    );
    assert_eq!(problem["reason"], "FieldValueUnknown");
    assert_eq!(problem["line"], 30);
    assert!(cli.ok(&["template", "list"]).contains("No templates yet"));

    cli.ok(&[
        "template",
        "create",
        "demo",
        "-f",
        path(&fixture("seed-demo.yaml")),
    ]);
    let stderr = cli.fails(
        &[
            "template",
            "patch",
            "demo",
            "-p",
            r#"{"resource":{"deployment":{"metadata":{"name":"demo"},"spec":{"replicsa":3}}}}"#,
        ],
        3,
    );
    assert!(
        stderr.contains("spec.replicsa (line ") && stderr.contains("did you mean \"replicas\"?"),
        "{stderr}"
    );
    let crd =
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  anyField: 1\n";
    let out = cli.run_with(&["template", "create", "widget"], Some(crd.as_bytes()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A template targets a Kubernetes version: a field that version does not have is refused,
/// and a template cannot be moved to a version its latest version would be refused by.
#[test]
fn a_templates_kubernetes_version_decides_which_fields_exist() {
    let cli = Cli::new();
    // `hostnameOverride` is a PodSpec field of Kubernetes 1.34 and later.
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostnameOverride: web\n  \
               containers:\n  - name: c\n    image: nginx:1.27\n";
    let out = cli.run_with(
        &["template", "create", "old", "--kubernetes", "1.31"],
        Some(pod.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.hostnameOverride (line 6)") && stderr.contains("Kubernetes 1.31.0"),
        "{stderr}"
    );
    let out = cli.run_with(
        &["template", "create", "new", "--kubernetes", "v1.36"],
        Some(pod.as_bytes()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        cli.ok(&["template", "target", "new"])
            .contains("Kubernetes 1.36.0")
    );
    // Moving it to 1.31 would make its own latest version invalid: refused, nothing changes.
    let stderr = cli.fails(&["template", "target", "new", "1.31"], 3);
    assert!(stderr.contains("hostnameOverride"), "{stderr}");
    assert!(cli.ok(&["template", "target", "new"]).contains("1.36.0"));
    let stderr = cli.fails(&["template", "target", "new", "1.12"], 3);
    assert!(stderr.contains("use one of 1.31, 1.32"), "{stderr}");
    let target = cli.json(&["template", "target", "new", "--newest"]);
    assert_eq!(target["kubernetes"], "1.37.0");
}

#[test]
fn serve_refuses_a_trusted_proxy_it_cannot_read() {
    let cli = Cli::new();
    for bad in ["nope", "10.0.0.0/33", "10.0.0.1/"] {
        let out = cli.run(&["serve", "--listen", "127.0.0.1:0", "--trusted-proxy", bad]);
        assert!(!out.status.success(), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--trusted-proxy") && stderr.contains(bad),
            "{bad}: {stderr}"
        );
    }
}

#[test]
fn serve_refuses_a_public_url_that_is_not_one() {
    let cli = Cli::new();
    for bad in ["hooks.example.com", "ftp://example.com", "https://a b"] {
        let out = cli.run(&["serve", "--listen", "127.0.0.1:0", "--public-url", bad]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{bad}: {stderr}");
        assert!(
            stderr.contains("must be an http:// or https:// URL") && stderr.contains(bad),
            "{bad}: {stderr}"
        );
    }
}

#[test]
fn a_trigger_url_is_shown_again_on_the_base_it_was_created_with() {
    let cli = Cli::new();
    cli.ok(&[
        "template",
        "create",
        "demo",
        "-f",
        path(&fixture("seed-demo.yaml")),
    ]);
    cli.ok(&["app", "create", "shop", "--template", "demo"]);
    // A base that is not an http(s) URL is refused before the trigger is made.
    let stderr = cli.fails(
        &[
            "--secrets",
            "files",
            "trigger",
            "create",
            "shop",
            "--kind",
            "redeploy",
            "--public-url",
            "hooks.example.com",
        ],
        3,
    );
    assert!(
        stderr.contains("must be an http:// or https:// URL"),
        "{stderr}"
    );
    assert!(
        cli.json(&["trigger", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );

    let created = cli.json(&[
        "--secrets",
        "files",
        "trigger",
        "create",
        "shop",
        "--kind",
        "redeploy",
        "--public-url",
        "https://hooks.example.com/",
    ]);
    let url = created["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://hooks.example.com/hook/trigger?token=tl_"),
        "{url}"
    );
    // Later, without the option, the same base; with it, the one given.
    let again = cli.json(&["--secrets", "files", "trigger", "url", "shop-redeploy"]);
    assert_eq!(again["url"], url);
    let other = cli.json(&[
        "--secrets",
        "files",
        "trigger",
        "url",
        "shop-redeploy",
        "--public-url",
        "http://10.0.0.5:8787",
    ]);
    assert!(
        other["url"]
            .as_str()
            .unwrap()
            .starts_with("http://10.0.0.5:8787/hook/trigger?token=tl_"),
        "{other}"
    );
    // A new token keeps the stored base too.
    let rotated = cli.json(&["--secrets", "files", "trigger", "rotate", "shop-redeploy"]);
    let rotated = rotated["url"].as_str().unwrap();
    assert!(
        rotated.starts_with("https://hooks.example.com/hook/trigger?token=tl_"),
        "{rotated}"
    );
    assert_ne!(rotated, url);
}

/// A command that only reads or writes the database starts nothing: no sandbox, no deploy
/// workers, and no secret store is looked for (so `--secrets keyring` is not probed).
#[test]
fn commands_that_keep_no_secrets_start_no_sandbox_and_probe_no_keyring() {
    let cli = Cli::new();
    let seed = fixture("seed-demo.yaml");
    cli.ok(&["template", "create", "web", "-f", path(&seed)]);
    cli.ok(&["app", "create", "web", "--template", "web"]);
    for args in [
        &["template", "list"][..],
        &["app", "list"],
        &["trigger", "list"],
        &["releases", "web"],
        &["cluster", "list"],
        &["status"],
    ] {
        let mut all = vec!["--secrets", "keyring"];
        all.extend_from_slice(args);
        let out = cli.run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("started the sandbox"),
            "{args:?}: {stderr}"
        );
    }
    assert!(!cli.dir.path().join("sandbox").exists());
    assert!(!cli.dir.path().join("secrets").exists());
}

#[test]
fn image_triggers_take_their_registry_options_and_show_them() {
    let cli = Cli::new();
    cli.ok(&[
        "template",
        "create",
        "demo",
        "-f",
        path(&fixture("seed-demo.yaml")),
    ]);
    cli.ok(&["app", "create", "shop", "--template", "demo"]);
    fn create<'a>(name: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "--secrets",
            "files",
            "trigger",
            "create",
            "shop",
            "--kind",
            "image",
            "--name",
            name,
            "--repository",
            "registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo",
        ];
        args.extend_from_slice(extra);
        args
    }
    // The defaults: verified with the registry, pinned by digest, not watched, at once.
    cli.json(&create("plain", &[]));
    let plain = cli.json(&["trigger", "show", "plain"]);
    assert_eq!(plain["kind"]["pin_digest"], true, "{plain}");
    for absent in ["verify", "watch", "maturing"] {
        assert!(plain["kind"].get(absent).is_none(), "{plain}");
    }
    cli.json(&create(
        "watched",
        &[
            "--no-pin-digest",
            "--verify",
            "if-reachable",
            "--watch",
            "--maturing",
            "15",
        ],
    ));
    let watched = cli.json(&["trigger", "show", "watched"]);
    assert_eq!(watched["kind"]["pin_digest"], false, "{watched}");
    assert_eq!(watched["kind"]["verify"], "if-reachable", "{watched}");
    assert_eq!(watched["kind"]["watch"], 300, "--watch alone is 300 s");
    assert_eq!(watched["kind"]["maturing"], 15);
    let listed = cli.ok(&["trigger", "list"]);
    for said in [
        "deployed unverified when the registry is unreachable",
        "watched every 300s",
        "after 15 minutes stable",
    ] {
        assert!(listed.contains(said), "{said}: {listed}");
    }
    cli.json(&create("often", &["--watch", "60", "--verify", "off"]));
    assert_eq!(cli.json(&["trigger", "show", "often"])["kind"]["watch"], 60);

    // Out of bounds, or on a kind that has no registry.
    for (extra, said) in [
        (&["--watch", "1"][..], "between 5s and 86400s"),
        (&["--maturing", "20000"][..], "the longest is 10080"),
        (&["--verify", "sometimes"][..], "invalid value 'sometimes'"),
    ] {
        let mut args = create("bad", extra);
        args.retain(|a| *a != "--secrets" && *a != "files");
        let stderr = cli.fails(&args, if extra[0] == "--verify" { 2 } else { 3 });
        assert!(stderr.contains(said), "{extra:?}: {stderr}");
    }
    let stderr = cli.fails(
        &[
            "trigger", "create", "shop", "--kind", "redeploy", "--watch", "60",
        ],
        3,
    );
    assert!(stderr.contains("--watch is for image triggers"), "{stderr}");
}

#[test]
fn an_image_trigger_takes_a_semver_range_its_containers_and_the_downgrade_switch() {
    let cli = Cli::new();
    cli.ok(&[
        "template",
        "create",
        "demo",
        "-f",
        path(&fixture("seed-demo.yaml")),
    ]);
    cli.ok(&["app", "create", "shop", "--template", "demo"]);
    fn create<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "--secrets",
            "files",
            "trigger",
            "create",
            "shop",
            "--kind",
            "image",
            "--repository",
            "registry.cn-hangzhou.aliyuncs.com/acs/rollouts-demo",
        ];
        args.extend_from_slice(extra);
        args
    }
    let created = cli.json(&create(&[
        "--semver",
        ">=1.4 <2",
        "--prerelease",
        "--container",
        "demo",
        "--allow-downgrade",
    ]));
    let kind = &created["trigger"]["kind"];
    assert_eq!(
        kind["filter"],
        serde_json::json!({"mode": "semver", "range": ">=1.4 <2", "prerelease": true}),
        "{created}"
    );
    assert_eq!(kind["containers"], serde_json::json!(["demo"]));
    assert_eq!(kind["allow_downgrade"], true, "{kind}");
    let listed = cli.ok(&["trigger", "list"]);
    assert!(
        listed
            .contains("versions >=1.4 <2, pre-releases too), pinned by digest, containers demo, downgrades allowed"),
        "{listed}"
    );
    let shown = cli.ok(&["trigger", "show", "shop-image"]);
    assert!(shown.contains("Containers: demo (no other"), "{shown}");
    assert!(shown.contains("Downgrades: allowed"), "{shown}");

    // Without the switches: every container, downgrades refused, neither field stored.
    let plain = cli.json(&create(&["--name", "plain", "--semver", "~2.3.1"]));
    let kind = &plain["trigger"]["kind"];
    assert_eq!(kind["filter"]["prerelease"], false, "{kind}");
    assert!(kind.get("containers").is_none() && kind.get("allow_downgrade").is_none());
    let shown = cli.ok(&["trigger", "show", "plain"]);
    assert!(shown.contains("Downgrades: refused"), "{shown}");

    // Ranges and names the engine refuses (3), flags that do not go together (2).
    for (extra, code, said) in [
        (&["--semver", "1.x.3"][..], 3, "a number after a wildcard"),
        (&["--semver", ""][..], 3, "the semver range is empty"),
        (
            &["--semver", ">=2.0.0-rc.1"][..],
            3,
            "names the pre-release 2.0.0-rc.1",
        ),
        (&["--container", "Web_1"][..], 3, "\"Web_1\" is not valid"),
        (
            &["--container", "warm-up"][..],
            3,
            "has no container named warm-up that uses",
        ),
        (&["--prerelease"][..], 2, "--semver"),
        (
            &["--semver", "^1", "--regex", "1.*"][..],
            2,
            "cannot be used with",
        ),
    ] {
        let mut args = create(&["--name", "refused"]);
        args.extend_from_slice(extra);
        let stderr = cli.fails(&args, code);
        assert!(stderr.contains(said), "{extra:?}: {stderr}");
    }
    let stderr = cli.fails(
        &[
            "--secrets",
            "files",
            "trigger",
            "create",
            "shop",
            "--kind",
            "redeploy",
            "--container",
            "demo",
        ],
        3,
    );
    assert!(
        stderr.contains("--container is for image triggers"),
        "{stderr}"
    );
    assert_eq!(cli.json(&["trigger", "list"]).as_array().unwrap().len(), 2);
}
