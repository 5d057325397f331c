//! `tripline app create --git/--helm-repo`, `tripline app values …` and the image trigger
//! options of each source (`--branch`, `--value-…`) against real servers: a Git repository
//! behind basic auth (the password from the environment) and a chart repository; and the
//! command line's refusals (two sources, a bad range, an unreachable repository, options for
//! another source) with their exit codes.
//!
//! Without `git`, `lighttpd` or `helm` the tests print `SKIPPED: …` and pass, unless
//! `TRIPLINE_REQUIRE_SOURCES=1`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  \
    selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    \
    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n";

/// `tripline --secrets files <args>` over `dir`, with `env` set.
fn tripline(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tripline"));
    command
        .args(["--secrets", "files"])
        .args(args)
        .env("TRIPLINE_DATA_DIR", dir)
        .env("NO_COLOR", "1")
        .env_remove("TRIPLINE_SOURCE_PASSWORD")
        .stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("tripline runs")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

#[test]
fn a_git_application_is_created_with_the_password_from_the_environment() {
    if !testbed::require(&["git", "lighttpd"]) {
        return;
    }
    let server = testbed::GitServer::start().expect("git server");
    let repo = server
        .create_repo("shop", Some(("deployer", "s3cret")))
        .expect("repository");
    repo.commit_files("main", &[("deploy/web.yaml", DEPLOYMENT)], "web")
        .expect("commit");
    let dir = tempfile::tempdir().unwrap();
    let open = server.create_repo("open", None).expect("repository");
    open.commit_files("main", &[("deploy/web.yaml", DEPLOYMENT)], "web")
        .expect("commit");
    let anonymous = tripline(
        dir.path(),
        &[
            "app",
            "create",
            "open",
            "--git",
            &open.http_url(),
            "--path",
            "deploy/",
        ],
        &[],
    );
    assert!(anonymous.status.success(), "{}", text(&anonymous));
    let url = repo.http_url();
    let args = [
        "app",
        "create",
        "shop",
        "--git",
        &url,
        "--ref",
        "main",
        "--path",
        "deploy/",
        "--username",
        "deployer",
    ];

    // Without the password the server refuses, and nothing is kept.
    let refused = tripline(dir.path(), &args, &[]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("a user name without a password"),
        "{}",
        text(&refused)
    );

    let created = tripline(dir.path(), &args, &[("TRIPLINE_SOURCE_PASSWORD", "s3cret")]);
    assert!(created.status.success(), "{}", text(&created));
    let said = String::from_utf8_lossy(&created.stdout);
    assert!(said.contains("Created application shop (Git"), "{said}");
    assert!(!said.contains("s3cret") && !text(&created).contains("s3cret"));

    let shown = tripline(dir.path(), &["--json", "app", "show", "shop"], &[]);
    let shown = json(&shown);
    assert_eq!(shown["source"]["type"], "git");
    assert_eq!(shown["source"]["reference"], "main");
    assert_eq!(shown["latest"]["type"], "git");
    assert_eq!(shown["latest"]["commit"], repo.head("main").unwrap());
    let plain = tripline(dir.path(), &["app", "show", "shop"], &[]);
    assert!(
        String::from_utf8_lossy(&plain.stdout).contains("Deployed:   nothing yet"),
        "{}",
        text(&plain)
    );

    // A Git application has no values.
    let values = tripline(dir.path(), &["app", "values", "show", "shop"], &[]);
    assert_eq!(values.status.code(), Some(3), "{}", text(&values));

    // An image trigger that writes new images to a branch of its own.
    let image = |extra: &[&str]| {
        let mut args = vec![
            "trigger",
            "create",
            "shop",
            "--kind",
            "image",
            "--repository",
            "nginx",
        ];
        args.extend_from_slice(extra);
        tripline(dir.path(), &args, &[])
    };
    let created = image(&["--branch", "tripline/images"]);
    assert!(created.status.success(), "{}", text(&created));
    let shown = json(&tripline(
        dir.path(),
        &["--json", "trigger", "show", "shop-image"],
        &[],
    ));
    assert_eq!(shown["kind"]["branch"], "tripline/images", "{shown}");
    assert!(shown["kind"].get("values").is_none(), "{shown}");
    let plain = tripline(dir.path(), &["trigger", "show", "shop-image"], &[]);
    let plain = String::from_utf8_lossy(&plain.stdout).into_owned();
    assert!(plain.contains("Branch:    tripline/images"), "{plain}");
    let listed = tripline(dir.path(), &["trigger", "list"], &[]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("written to branch tripline/images"),
        "{}",
        text(&listed)
    );
    // Names git refuses, values keys (a Helm option), and the option on other kinds.
    for (extra, said) in [
        (&["--name", "b1", "--branch", "a..b"][..], "`..`"),
        (&["--name", "b2", "--branch=-x"][..], "starts with a dash"),
        (
            &["--name", "b3", "--value-image", "web.image"][..],
            "deploy a Helm chart",
        ),
    ] {
        let refused = image(extra);
        assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains(said),
            "{}",
            text(&refused)
        );
    }
    let redeploy = tripline(
        dir.path(),
        &[
            "trigger", "create", "shop", "--kind", "redeploy", "--branch", "x",
        ],
        &[],
    );
    assert_eq!(redeploy.status.code(), Some(3), "{}", text(&redeploy));
    assert!(
        String::from_utf8_lossy(&redeploy.stderr).contains("--branch is for image triggers"),
        "{}",
        text(&redeploy)
    );
}

#[test]
fn a_helm_application_is_created_and_its_values_edited_shown_and_listed() {
    if !testbed::require(&["helm", "lighttpd"]) {
        return;
    }
    let charts = testbed::ChartRepo::start().expect("chart repository");
    charts.add_chart("web", "1.2.0", |_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("values.yaml");
    std::fs::write(&values, "replicaCount: 2\n").unwrap();
    let repo = charts.base_url();
    let values_arg = values.display().to_string();

    let created = tripline(
        dir.path(),
        &[
            "--json",
            "app",
            "create",
            "web",
            "--helm-repo",
            &repo,
            "--chart",
            "web",
            "--version",
            "^1.2",
            "--values",
            &values_arg,
            "-n",
            "shop",
        ],
        &[],
    );
    let app = json(&created);
    assert_eq!(app["source"]["type"], "helm");
    assert_eq!(app["source"]["chart"], "web");
    assert_eq!(app["source"]["version"], "^1.2");

    let shown = tripline(dir.path(), &["app", "show", "web"], &[]);
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("Helm chart web from"), "{shown}");
    assert!(shown.contains("chart web 1.2.0 (sha256:"), "{shown}");

    // Edited in $EDITOR (a script that rewrites the file).
    let editor = dir.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nprintf 'replicaCount: 4\\n' > \"$1\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let editor_path = editor.display().to_string();
    let edited = tripline(
        dir.path(),
        &["app", "values", "edit", "web", "-m", "four"],
        &[("EDITOR", &editor_path), ("VISUAL", &editor_path)],
    );
    assert!(edited.status.success(), "{}", text(&edited));
    assert!(
        String::from_utf8_lossy(&edited.stdout).contains("Saved values version 2 of web"),
        "{}",
        text(&edited)
    );

    let latest = tripline(dir.path(), &["app", "values", "show", "web"], &[]);
    assert_eq!(String::from_utf8_lossy(&latest.stdout), "replicaCount: 4\n");
    let first = tripline(
        dir.path(),
        &["app", "values", "show", "web", "--version", "1"],
        &[],
    );
    assert_eq!(String::from_utf8_lossy(&first.stdout), "replicaCount: 2\n");

    let history = json(&tripline(
        dir.path(),
        &["--json", "app", "values", "history", "web"],
        &[],
    ));
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["origin"], "import");
    assert_eq!(history[1]["origin"], "edit");
    assert_eq!(history[1]["message"], "four");
    let table = tripline(dir.path(), &["app", "values", "history", "web"], &[]);
    assert!(
        String::from_utf8_lossy(&table.stdout).contains("VERSION"),
        "{}",
        text(&table)
    );

    // Image triggers that name the values keys the image goes to.
    let image = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "--json",
            "trigger",
            "create",
            "web",
            "--kind",
            "image",
            "--repository",
            "nginx",
            "--name",
            name,
        ];
        args.extend_from_slice(extra);
        tripline(dir.path(), &args, &[])
    };
    let split = image(
        "web-split",
        &[
            "--value-repository",
            "backend.image.repo",
            "--value-tag",
            "backend.image.tag",
        ],
    );
    assert_eq!(
        json(&split)["trigger"]["kind"]["values"],
        serde_json::json!({"form": "split", "repository": "backend.image.repo", "tag": "backend.image.tag"})
    );
    let whole = image("web-whole", &["--value-image", "web.image"]);
    assert_eq!(
        json(&whole)["trigger"]["kind"]["values"],
        serde_json::json!({"form": "whole", "image": "web.image"})
    );
    let plain = tripline(dir.path(), &["trigger", "show", "web-split"], &[]);
    assert!(
        String::from_utf8_lossy(&plain.stdout)
            .contains("Values:    backend.image.repo and backend.image.tag"),
        "{}",
        text(&plain)
    );
    // One key without the other is clap's refusal; bad keys and a branch are the engine's.
    let half = image("web-half", &["--value-tag", "backend.tag"]);
    assert_eq!(half.status.code(), Some(2), "{}", text(&half));
    for (extra, said) in [
        (&["--value-image", "web..image"][..], "two dots in a row"),
        (
            &["--value-repository", "image", "--value-tag", "image.tag"][..],
            "overlap",
        ),
        (&["--branch", "images"][..], "deploy from Git"),
    ] {
        let refused = image("web-bad", extra);
        assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains(said),
            "{}",
            text(&refused)
        );
    }

    // Values that are not a map are refused, and the edit is kept for fixing.
    std::fs::write(&values, "- a list\n").unwrap();
    let bad = tripline(
        dir.path(),
        &["app", "values", "set", "web", "-f", &values_arg],
        &[],
    );
    assert_eq!(bad.status.code(), Some(3), "{}", text(&bad));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("not a map"),
        "{}",
        text(&bad)
    );
}

#[test]
fn bad_source_arguments_are_refused_with_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    // Two sources: clap's refusal, exit code 2.
    let both = tripline(
        dir.path(),
        &[
            "app",
            "create",
            "web",
            "--template",
            "t",
            "--git",
            "https://example.com/r.git",
        ],
        &[],
    );
    assert_eq!(both.status.code(), Some(2), "{}", text(&both));
    assert!(String::from_utf8_lossy(&both.stderr).contains("cannot be used with"));
    // No source at all.
    let none = tripline(dir.path(), &["app", "create", "web"], &[]);
    assert_eq!(none.status.code(), Some(2), "{}", text(&none));
    // A chart without its repository.
    let chart = tripline(dir.path(), &["app", "create", "web", "--chart", "web"], &[]);
    assert_eq!(chart.status.code(), Some(2), "{}", text(&chart));

    // A range that does not parse: refused before any network.
    let range = tripline(
        dir.path(),
        &[
            "--json",
            "app",
            "create",
            "web",
            "--helm-repo",
            "https://charts.example.com",
            "--chart",
            "web",
            "--version",
            "^^1",
        ],
        &[],
    );
    assert_eq!(range.status.code(), Some(3), "{}", text(&range));
    assert!(String::from_utf8_lossy(&range.stderr).contains("\"input.invalid\""));

    // A password over plain HTTP to a registry off this machine: refused before any network.
    let plain = tripline(
        dir.path(),
        &[
            "--json",
            "app",
            "create",
            "web",
            "--helm-repo",
            "oci://registry.invalid/charts",
            "--chart",
            "web",
            "--plain-http",
            "--username",
            "ci",
        ],
        &[("TRIPLINE_SOURCE_PASSWORD", "s3cret")],
    );
    assert_eq!(plain.status.code(), Some(3), "{}", text(&plain));
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(stderr.contains("only over https"), "{stderr}");
    assert!(!text(&plain).contains("s3cret"));
    // --plain-http belongs to a chart.
    let stray = tripline(
        dir.path(),
        &[
            "app",
            "create",
            "web",
            "--git",
            "https://example.com/r.git",
            "--plain-http",
        ],
        &[],
    );
    assert_eq!(stray.status.code(), Some(2), "{}", text(&stray));

    // An unreachable repository (a closed loopback port).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/shop.git");
    let unreachable = tripline(
        dir.path(),
        &["--json", "app", "create", "web", "--git", &url],
        &[],
    );
    assert_eq!(unreachable.status.code(), Some(3), "{}", text(&unreachable));
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(stderr.contains("source.unreachable"), "{stderr}");
    // Nothing was kept.
    let list = tripline(dir.path(), &["--json", "app", "list"], &[]);
    assert_eq!(json(&list), serde_json::json!([]));
}
