//! Each fixture, driven by the real clients a user would run against it: `git` over smart
//! HTTP (anonymous, with credentials, refused with a wrong password, pushing) and over
//! `git://`; `helm` and plain HTTP against the chart repository; `helm pull` from the
//! registry. Without the tools a test is skipped, loudly (see `testbed::require`).

use std::path::Path;
use std::process::Command;

use sha2::{Digest as _, Sha256};
use testbed::{ChartRepo, GitServer, Registry, git_command, http};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Runs `command`; returns its stdout, or fails with its stderr.
fn run(command: &mut Command) -> Result<String> {
    let out = command.output()?;
    if !out.status.success() {
        return Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `command`, which must fail; returns its stderr.
fn run_failing(command: &mut Command) -> Result<String> {
    let out = command.output()?;
    if out.status.success() {
        return Err(format!("{command:?} succeeded").into());
    }
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `digest:` of the entry of `name` at `version` in a Helm `index.yaml`.
fn index_digest(index: &str, name: &str, version: &str) -> Option<String> {
    let file = format!("{name}-{version}.tgz");
    let mut digest = None;
    for line in index.lines().map(str::trim) {
        if let Some(d) = line.strip_prefix("digest: ") {
            digest = Some(d.trim_matches('"').to_string());
        }
        // An entry lists `digest` before `urls`; the URL says which archive it is.
        if line.starts_with("- ") && line.ends_with(&file) {
            return digest;
        }
    }
    None
}

#[test]
fn git_over_http_clones_anonymously_and_pushes_with_credentials() -> Result {
    if !testbed::require(GitServer::TOOLS) {
        return Ok(());
    }
    let server = GitServer::start()?;
    let public = server.create_repo("public", None)?;
    let private = server.create_repo("team/private", Some(("alice", "s3cr:t@")))?;
    let first = public.commit_files("main", &[("app/values.yaml", "tag: v1\n")], "v1")?;
    private.commit_files("main", &[("README", "private\n")], "start")?;

    // Anonymous clone and ls-remote over smart HTTP.
    let work = tempfile::tempdir()?;
    let clone = work.path().join("public");
    run(git_command()
        .args(["clone", "--quiet", &public.http_url()])
        .arg(&clone))?;
    assert_eq!(
        std::fs::read_to_string(clone.join("app/values.yaml"))?,
        "tag: v1\n"
    );
    let refs = run(git_command().args(["ls-remote", &public.http_url()]))?;
    assert!(
        refs.contains(&format!("{first}\trefs/heads/main")),
        "{refs}"
    );

    // The protected repository: refused without credentials and with a wrong password (401),
    // served with the right ones.
    assert_eq!(
        http::get(
            &format!("{}/info/refs?service=git-upload-pack", private.http_url()),
            None
        )?
        .status,
        401
    );
    let wrong = format!("{}/info/refs?service=git-upload-pack", private.http_url());
    assert_eq!(http::get(&wrong, Some(("alice", "nope")))?.status, 401);
    assert_eq!(http::get(&wrong, Some(("alice", "s3cr:t@")))?.status, 200);
    let stderr = run_failing(git_command().args([
        "ls-remote",
        &private.http_url().replace("http://", "http://alice:nope@"),
    ]))?;
    assert!(stderr.contains("Authentication failed"), "{stderr}");
    let refs = run(git_command().args(["ls-remote", &private.http_url_with_credentials()]))?;
    assert!(refs.contains("refs/heads/main"), "{refs}");

    // A push over HTTP with credentials lands on the server, with its author.
    let clone = work.path().join("private");
    run(git_command()
        .args(["clone", "--quiet", &private.http_url_with_credentials()])
        .arg(&clone))?;
    std::fs::write(clone.join("pushed.txt"), "from a client\n")?;
    run(git_command()
        .arg("-C")
        .arg(&clone)
        .args(["add", "pushed.txt"]))?;
    run(git_command().arg("-C").arg(&clone).args([
        "-c",
        "user.name=Client",
        "-c",
        "user.email=client@example.invalid",
        "commit",
        "--quiet",
        "--message",
        "pushed over http",
    ]))?;
    run(git_command()
        .arg("-C")
        .arg(&clone)
        .args(["push", "--quiet", "origin", "main"]))?;
    let log = private.log("main")?;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].author, "Client <client@example.invalid>");
    assert_eq!(log[0].message, "pushed over http");
    assert_eq!(
        private.read_file("main", "pushed.txt")?.as_deref(),
        Some("from a client\n")
    );

    // The anonymous repository takes no pushes over HTTP.
    let clone = work.path().join("public");
    run(git_command().arg("-C").arg(&clone).args([
        "commit",
        "--quiet",
        "--allow-empty",
        "--message",
        "nope",
    ]))?;
    run_failing(
        git_command()
            .arg("-C")
            .arg(&clone)
            .args(["push", "--quiet", "origin", "main"]),
    )?;
    assert_eq!(public.head("main")?, first);
    Ok(())
}

#[test]
fn git_daemon_serves_the_same_repositories() -> Result {
    if !testbed::require(GitServer::TOOLS) {
        return Ok(());
    }
    let server = GitServer::start()?;
    let repo = server.create_repo("app", None)?;
    let id = repo.commit_files("main", &[("a.txt", "a\n")], "one")?;
    let work = tempfile::tempdir()?;
    run(git_command()
        .args(["clone", "--quiet", &repo.git_url()])
        .arg(work.path().join("app")))?;
    assert_eq!(
        run(git_command()
            .arg("-C")
            .arg(work.path().join("app"))
            .args(["rev-parse", "HEAD"]))?
        .trim(),
        id
    );
    let refs = run(git_command().args(["ls-remote", &repo.file_url()]))?;
    assert!(refs.contains(&id), "{refs}");
    Ok(())
}

#[test]
fn repository_helpers_rewrite_history_and_refs() -> Result {
    if !testbed::require(GitServer::TOOLS) {
        return Ok(());
    }
    let server = GitServer::start()?;
    let repo = server.create_repo("history", None)?;
    let one = repo.commit_files("main", &[("a", "1"), ("dir/b", "1")], "one")?;
    let two = repo.commit_files("main", &[("a", "2")], "two")?;
    assert_eq!(repo.head("main")?, two);
    let log = repo.log("main")?;
    assert_eq!(
        log.iter().map(|c| c.message.as_str()).collect::<Vec<_>>(),
        ["two", "one"]
    );
    assert_eq!(
        log[0].author,
        format!("{} <{}>", testbed::AUTHOR_NAME, testbed::AUTHOR_EMAIL)
    );

    let three = repo.delete_files("main", &["dir"], "three")?;
    assert_eq!(repo.read_file("main", "dir/b")?, None);
    assert_eq!(repo.read_file("main", "a")?.as_deref(), Some("2"));

    // A new branch starts from main.
    let release = repo.commit_files("release", &[("r", "r")], "release")?;
    assert_eq!(repo.log("release")?[1].id, three);

    repo.force_push("main", &one)?;
    assert_eq!(repo.head("main")?, one);
    assert_eq!(repo.read_file("main", "dir/b")?.as_deref(), Some("1"));
    // Committing after the rewrite builds on the rewritten branch.
    let four = repo.commit_files("main", &[("a", "4")], "four")?;
    assert_eq!(repo.log("main")?[1].id, one);

    repo.create_tag("v1", &one, None)?;
    repo.create_tag("v2", &four, Some("annotated"))?;
    repo.create_branch("feature", &release)?;
    let refs = repo.refs()?;
    let names: Vec<&str> = refs.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        names,
        [
            "refs/heads/feature",
            "refs/heads/main",
            "refs/heads/release",
            "refs/tags/v1",
            "refs/tags/v2"
        ]
    );
    repo.delete_ref("refs/heads/release")?;
    repo.delete_ref("refs/tags/v1")?;
    assert!(repo.head("release").is_err());
    let peeled = run(git_command().args(["ls-remote", &repo.git_url(), "refs/tags/v2^{}"]))?;
    assert!(peeled.starts_with(&four), "{peeled}");
    Ok(())
}

#[test]
fn the_chart_repository_serves_what_helm_indexed() -> Result {
    if !testbed::require(ChartRepo::TOOLS) {
        return Ok(());
    }
    let charts = ChartRepo::start()?;
    let archive = charts.add_chart("web", "1.2.3", |dir| {
        testbed::set_app_version(dir, "2.0.0").unwrap();
        testbed::set_image(dir, "registry.example/web", "2.0.0").unwrap();
    })?;
    charts.add_chart("web", "1.3.0", |_| {})?;
    assert_eq!(archive, charts.archive_path("web", "1.2.3"));

    let index = http::get(&charts.index_url(), None)?;
    assert_eq!(index.status, 200);
    let index = index.text();
    assert!(
        index.contains(&format!("- {}", charts.archive_url("web", "1.2.3"))),
        "{index}"
    );
    assert!(index.contains("appVersion: 2.0.0"), "{index}");
    let served = http::get(&charts.archive_url("web", "1.2.3"), None)?;
    assert_eq!(served.status, 200);
    assert_eq!(
        index_digest(&index, "web", "1.2.3"),
        Some(sha256_hex(&served.body))
    );

    // helm itself: add the repository, pull a version, read its values.
    let helm = testbed::Helm::new()?;
    helm.run(["repo", "add", "fixture", &charts.base_url()])?;
    let out = tempfile::tempdir()?;
    helm.run([
        "pull".as_ref(),
        "fixture/web".as_ref(),
        "--version".as_ref(),
        "1.2.3".as_ref(),
        "--untar".as_ref(),
        "--destination".as_ref(),
        out.path().as_os_str(),
    ])?;
    let values = std::fs::read_to_string(out.path().join("web/values.yaml"))?;
    assert!(
        values.contains("repository: \"registry.example/web\""),
        "{values}"
    );
    assert!(values.contains("tag: \"2.0.0\""), "{values}");

    // A corrupted archive no longer matches its digest, and adding a chart keeps it so.
    charts.corrupt_archive("web", "1.2.3")?;
    charts.add_chart("other", "0.1.0", |_| {})?;
    let index = http::get(&charts.index_url(), None)?.text();
    let served = http::get(&charts.archive_url("web", "1.2.3"), None)?;
    assert_ne!(
        index_digest(&index, "web", "1.2.3"),
        Some(sha256_hex(&served.body))
    );
    Ok(())
}

#[test]
fn a_chart_repository_with_auth_refuses_a_wrong_password() -> Result {
    if !testbed::require(ChartRepo::TOOLS) {
        return Ok(());
    }
    let charts = ChartRepo::start_with_auth("bob", "hunter2")?;
    charts.add_chart("app", "0.1.0", |_| {})?;
    assert_eq!(http::get(&charts.index_url(), None)?.status, 401);
    assert_eq!(
        http::get(&charts.index_url(), Some(("bob", "wrong")))?.status,
        401
    );
    let ok = http::get(&charts.index_url(), Some(("bob", "hunter2")))?;
    assert_eq!(ok.status, 200);
    assert!(ok.text().contains("app-0.1.0.tgz"));
    Ok(())
}

#[test]
fn the_registry_takes_a_chart_from_helm_push_and_serves_it_to_helm_pull() -> Result {
    if !testbed::require(Registry::TOOLS) {
        return Ok(());
    }
    let registry = Registry::start(None)?;
    let helm = testbed::Helm::new()?;
    let work = tempfile::tempdir()?;
    run(helm
        .command()
        .current_dir(work.path())
        .args(["create", "demo"]))?;
    testbed::set_chart_version(&work.path().join("demo"), "0.2.0")?;
    let digest = registry.push_chart(&work.path().join("demo"), "charts")?;
    assert!(digest.starts_with("sha256:"), "{digest}");

    let pulled = work.path().join("pulled");
    std::fs::create_dir(&pulled)?;
    let out = helm
        .command()
        .args(["pull", &format!("{}/demo", registry.oci_url("charts"))])
        .args(["--version", "0.2.0", "--destination"])
        .arg(&pulled)
        .args(helm.plain_http_args())
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains(&digest), "{said}");
    assert!(Path::new(&pulled.join("demo-0.2.0.tgz")).is_file());

    // The manifest is there by tag, with the digest helm reported.
    let manifest = http::get_with_headers(
        &format!("http://{}/v2/charts/demo/manifests/0.2.0", registry.host()),
        None,
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
    )?;
    assert_eq!(manifest.status, 200);
    assert_eq!(
        sha256_hex(&manifest.body),
        digest.trim_start_matches("sha256:")
    );
    Ok(())
}

#[test]
fn dropping_a_fixture_stops_its_servers_and_removes_its_files() -> Result {
    if !testbed::require(GitServer::TOOLS) {
        return Ok(());
    }
    let server = GitServer::start()?;
    let repo = server.create_repo("gone", Some(("u", "p")))?;
    // A git:// client still connected when the server goes: its worker goes too.
    let _client = std::net::TcpStream::connect(("127.0.0.1", server.git_port()))?;
    let ports = [server.http_port(), server.git_port()];
    let repos = server.repos_dir().to_path_buf();
    assert!(repo.path().is_dir());
    drop(server);
    for port in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "{port}"
        );
    }
    assert!(!repos.exists());
    Ok(())
}
