//! `tripline registry …` as a user runs it: logging in to Debian's `docker-registry` behind
//! htpasswd with the password on stdin, listing its tags, the status, logging out; and the
//! budget a rate-limiting registry reported, seen by the next `tripline` process.
//!
//! Without `docker-registry`, `skopeo` or `htpasswd` a test prints `SKIPPED: …` and passes,
//! unless `TRIPLINE_REQUIRE_SOURCES=1`, when it fails naming what is missing.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use testbed::{Registry, RegistryAuth, oci_layout, require};

const USER: &str = "ci";
const PASSWORD: &str = "correct-horse-battery";

/// A data directory and an empty Docker configuration of its own: the machine's is never
/// read.
struct Cli {
    dir: tempfile::TempDir,
    /// `PATH` for the command, when not this process's.
    path: Option<String>,
}

impl Cli {
    fn new() -> Self {
        Cli {
            dir: tempfile::tempdir().unwrap(),
            path: None,
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tripline"))
            .args(["--secrets", "files"])
            .args(args)
            .env("TRIPLINE_DATA_DIR", self.dir.path())
            .env("DOCKER_CONFIG", self.dir.path().join("docker"))
            .env("NO_COLOR", "1")
            .envs(self.path.as_ref().map(|path| ("PATH", path)))
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
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
        serde_json::from_str(&self.ok(&all, None)).unwrap()
    }

    /// Runs with `--json`, expects exit status `exit`; returns the error body.
    fn fails(&self, args: &[&str], stdin: Option<&str>, exit: i32) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all, stdin);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(exit), "{args:?}: {stderr}");
        serde_json::from_str(&stderr).unwrap_or_else(|e| panic!("{e}: {stderr}"))
    }
}

#[test]
fn login_tags_status_and_logout_against_a_registry_behind_htpasswd() {
    if !require(&["docker-registry", "skopeo", "htpasswd"]) {
        return;
    }
    let registry = Registry::start_with(
        None,
        RegistryAuth::Htpasswd {
            username: USER.into(),
            password: PASSWORD.into(),
        },
    )
    .unwrap();
    let image = tempfile::tempdir().unwrap();
    oci_layout(image.path(), "private").unwrap();
    for tag in ["1.0", "2.0"] {
        registry
            .copy_image(
                image.path(),
                &format!("team/api:{tag}"),
                Some((USER, PASSWORD)),
            )
            .unwrap();
    }
    let host = registry.host();
    let repository = format!("{host}/team/api");
    let cli = Cli::new();

    let error = cli.fails(&["registry", "tags", &repository], None, 3);
    assert_eq!(error["code"], "registry.unauthorized");

    // The password comes on stdin only; none there is a clear error.
    let error = cli.fails(
        &[
            "registry",
            "login",
            &host,
            "--username",
            USER,
            "--password-stdin",
        ],
        None,
        3,
    );
    assert_eq!(error["code"], "input.missing", "{error}");
    let out = cli.run(&["registry", "login", &host, "--username", USER], None);
    assert_eq!(out.status.code(), Some(2), "--password-stdin is required");

    let error = cli.fails(
        &[
            "registry",
            "login",
            &host,
            "--username",
            USER,
            "--password-stdin",
        ],
        Some("not-it\n"),
        3,
    );
    assert_eq!(error["code"], "registry.unauthorized", "{error}");
    assert!(!error.to_string().contains("not-it"), "{error}");

    let said = cli.ok(
        &["registry", "login", &host, "-u", USER, "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert_eq!(
        said.trim(),
        format!("Logged in to {host} as {USER}; the credentials are kept in the key files.")
    );
    assert!(!said.contains(PASSWORD));

    let mut tags: Vec<String> = cli
        .ok(&["registry", "tags", &repository], None)
        .lines()
        .map(str::to_owned)
        .collect();
    tags.sort();
    assert_eq!(tags, ["1.0", "2.0"]);
    let json = cli.json(&["registry", "tags", &repository]);
    assert_eq!(json["host"], host.as_str());
    assert_eq!(json["repository"], "team/api");
    assert_eq!(json["credentials"]["kind"], "keyFiles");

    let error = cli.fails(&["registry", "tags", &format!("{host}/team/none")], None, 4);
    assert_eq!(error["code"], "registry.not_found");

    let status = cli.json(&["registry", "status"]);
    let entry = status
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == host.as_str())
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(entry["credentials"]["kind"], "keyFiles");
    assert!(
        entry["lastError"].as_str().unwrap().contains("team/none"),
        "{entry}"
    );
    let text = cli.ok(&["registry", "status"], None);
    assert!(text.starts_with("HOST"), "{text}");
    assert!(text.contains(&host) && text.contains("key files"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");

    // Logged out, the Docker configuration would answer; it has nothing here.
    let said = cli.ok(&["registry", "logout", &host], None);
    assert_eq!(
        said.trim(),
        format!("Forgot the credentials kept for {host}.")
    );
    let error = cli.fails(&["registry", "tags", &repository], None, 3);
    assert_eq!(error["code"], "registry.unauthorized");
}

#[test]
fn credentials_in_the_docker_configuration_are_used_and_named() {
    if !require(&["docker-registry", "skopeo", "htpasswd"]) {
        return;
    }
    let registry = Registry::start_with(
        None,
        RegistryAuth::Htpasswd {
            username: USER.into(),
            password: PASSWORD.into(),
        },
    )
    .unwrap();
    let image = tempfile::tempdir().unwrap();
    oci_layout(image.path(), "private").unwrap();
    registry
        .copy_image(image.path(), "team/api:1.0", Some((USER, PASSWORD)))
        .unwrap();
    let host = registry.host();
    let cli = Cli::new();
    let docker = cli.dir.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    // "ci:correct-horse-battery"
    std::fs::write(
        docker.join("config.json"),
        format!(r#"{{"auths": {{"{host}": {{"auth": "Y2k6Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5"}}}}}}"#),
    )
    .unwrap();
    let json = cli.json(&["registry", "tags", &format!("{host}/team/api")]);
    assert_eq!(json["tags"], serde_json::json!(["1.0"]));
    assert_eq!(json["credentials"]["kind"], "dockerConfig");
    assert_eq!(
        json["credentials"]["path"],
        docker.join("config.json").to_str().unwrap()
    );

    // A credential helper on PATH, as `credsStore` names it.
    let helper = docker.join("docker-credential-test");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread -r server\nprintf '{{\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(docker.join("config.json"), r#"{"credsStore": "test"}"#).unwrap();
    let cli = Cli {
        path: Some(format!("{}:/usr/bin:/bin", docker.display())),
        ..cli
    };
    let json = cli.json(&["registry", "tags", &format!("{host}/team/api")]);
    assert_eq!(json["tags"], serde_json::json!(["1.0"]));
    assert_eq!(
        json["credentials"],
        serde_json::json!({"kind": "helper", "name": "test"})
    );
    let text = cli.ok(&["registry", "status"], None);
    assert!(text.contains("helper test"), "{text}");

    // A damaged configuration is named, and the command stops there.
    std::fs::write(docker.join("config.json"), "{\"auths\": 5}").unwrap();
    let error = cli.fails(&["registry", "tags", &format!("{host}/team/api")], None, 3);
    assert_eq!(error["code"], "registry.credentials");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("`auths` is not an object"),
        "{error}"
    );
}

/// A registry on loopback that answers every request with 429 and Docker Hub's headers.
fn rate_limited_registry() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(
                b"HTTP/1.1 429 Too Many Requests\r\nRateLimit-Limit: 100;w=21600\r\n\
                  RateLimit-Remaining: 0;w=21600\r\nRetry-After: 300\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    host
}

#[test]
fn the_budget_a_registry_reported_is_shown_by_the_next_process() {
    let host = rate_limited_registry();
    let cli = Cli::new();
    let error = cli.fails(&["registry", "tags", &format!("{host}/demo/app")], None, 3);
    assert_eq!(error["code"], "registry.rate_limited");
    assert!(error["details"]["retryAt"].is_string(), "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("try again after"),
        "{error}"
    );

    let status = cli.json(&["registry", "status"]);
    let entry = &status[0];
    assert_eq!(entry["host"], host.as_str());
    assert_eq!(entry["credentials"]["kind"], "none");
    assert_eq!(entry["budget"]["limit"], 100);
    assert_eq!(entry["budget"]["remaining"], 0);
    assert_eq!(entry["budget"]["windowSeconds"], 21600);
    assert_eq!(entry["budget"]["retryAt"], error["details"]["retryAt"]);
    let text = cli.ok(&["registry", "status"], None);
    assert!(text.contains("0/100 left per 6h; retry after"), "{text}");
    assert!(text.contains("none (anonymous)"), "{text}");
    assert!(text.contains("last failure at"), "{text}");
}
