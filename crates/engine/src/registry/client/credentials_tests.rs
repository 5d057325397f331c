use std::os::unix::fs::PermissionsExt as _;

use super::*;

const SECRET: &str = "s3cret-value";

fn parse(text: &str) -> Result<DockerConfig> {
    DockerConfig::parse(Path::new("/home/me/.docker/config.json"), text.as_bytes())
}

fn basic(user_password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(user_password)
}

/// A directory holding a `docker-credential-<name>` script with `body`, and `Places` whose
/// `PATH` is that directory alone and whose configuration is `config`.
fn helper(name: &str, body: &str, config: &str) -> (tempfile::TempDir, Places) {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join(format!("docker-credential-{name}"));
    std::fs::write(&program, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, config).unwrap();
    let places = Places {
        docker_config: Some(config_path),
        path: Some(
            std::env::join_paths([dir.path(), Path::new("/usr/bin"), Path::new("/bin")]).unwrap(),
        ),
        helper_timeout: Duration::from_secs(5),
    };
    (dir, places)
}

#[test]
fn hosts_are_written_one_way() {
    for (input, host) in [
        ("ghcr.io", "ghcr.io"),
        ("https://ghcr.io/", "ghcr.io"),
        ("GHCR.IO", "ghcr.io"),
        ("docker.io", "registry-1.docker.io"),
        ("index.docker.io", "registry-1.docker.io"),
        ("https://index.docker.io/v1/", "registry-1.docker.io"),
        ("registry-1.docker.io", "registry-1.docker.io"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("http://localhost:5000/v2/", "localhost:5000"),
        ("localhost", "localhost"),
    ] {
        assert_eq!(canonical_host(input).unwrap(), host, "{input}");
    }
    for input in [
        "",
        "  ",
        "nodots",
        "bad host",
        "a..b",
        "ghcr.io:99999",
        "https://",
    ] {
        let error = canonical_host(input).unwrap_err();
        assert!(matches!(error, Error::Host { .. }), "{input}: {error}");
    }
}

#[test]
fn secret_names_are_store_safe() {
    assert_eq!(secret_name("ghcr.io"), "registry/ghcr.io");
    assert_eq!(secret_name("127.0.0.1:5000"), "registry/127.0.0.1_5000");
    assert_eq!(secret_name("[::1]:5000"), "registry/___1__5000");
    let dir = tempfile::tempdir().unwrap();
    let secrets = Secrets::Files(dir.path().join("secrets"));
    for host in ["ghcr.io", "127.0.0.1:5000", "[::1]:5000"] {
        let credentials = Credentials::new("me", SECRET);
        secrets
            .set(&secret_name(host), &stored_value(&credentials))
            .unwrap();
        let found = find(host, Some(&secrets), &Places::nowhere())
            .unwrap()
            .unwrap();
        assert_eq!(found.credentials, credentials);
        assert_eq!(found.origin, Origin::SecretStore);
    }
}

#[test]
fn a_damaged_stored_entry_says_to_log_in_again() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Secrets::Files(dir.path().join("secrets"));
    for value in [
        SECRET,
        "{\"username\":\"me\"}",
        "[1]",
        "{\"username\":1,\"password\":2}",
    ] {
        secrets.set(&secret_name("ghcr.io"), value).unwrap();
        let error = find("ghcr.io", Some(&secrets), &Places::nowhere()).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, Error::Stored { .. }), "{text}");
        assert!(
            text.contains("registry login ghcr.io") && !text.contains(SECRET),
            "{text}"
        );
    }
}

#[test]
fn auths_entries_are_read_in_every_form_docker_writes() {
    let text = serde_json::json!({
        "auths": {
            "https://index.docker.io/v1/": {"auth": basic("hubuser:hubpass")},
            "ghcr.io": {"username": "octo", "password": "ghp_x"},
            "http://127.0.0.1:5000": {"auth": basic("ci:pa:ss")},
            "myacr.azurecr.io": {"auth": "", "identitytoken": "refresh-token"},
            "quay.io": {},
            "https://harbor.example/v2/": {"auth": basic("robot$ci:tok")},
        },
        "HttpHeaders": {"User-Agent": "x"},
    })
    .to_string();
    let config = parse(&text).unwrap();
    let places = Places::nowhere();
    let table = [
        ("registry-1.docker.io", Some(("hubuser", "hubpass"))),
        ("ghcr.io", Some(("octo", "ghp_x"))),
        ("127.0.0.1:5000", Some(("ci", "pa:ss"))),
        (
            "myacr.azurecr.io",
            Some((IDENTITY_TOKEN_USER, "refresh-token")),
        ),
        ("quay.io", None),
        ("harbor.example", Some(("robot$ci", "tok"))),
        ("gcr.io", None),
    ];
    for (host, expected) in table {
        let found = config.find(host, &places).unwrap();
        assert_eq!(
            found.as_ref().map(|f| (
                f.credentials.username.as_str(),
                f.credentials.password.as_str()
            )),
            expected,
            "{host}"
        );
        if let Some(found) = found {
            assert_eq!(
                found.origin,
                Origin::DockerConfig {
                    path: "/home/me/.docker/config.json".into()
                }
            );
        }
    }
}

#[test]
fn malformed_or_hostile_configurations_are_refused_without_their_secrets() {
    let table = [
        ("{", "not JSON"),
        ("[]", "not a JSON object"),
        ("\"auths\"", "not a JSON object"),
        (r#"{"auths": "s3cret-value"}"#, "`auths` is not an object"),
        (
            r#"{"auths": {"ghcr.io": "s3cret-value"}}"#,
            "auths[\"ghcr.io\"]: not an object",
        ),
        (
            r#"{"auths": {"ghcr.io": {"auth": "s3cret-value!!"}}}"#,
            "`auth` is not base64",
        ),
        (
            r#"{"auths": {"ghcr.io": {"auth": "czNjcmV0LXZhbHVl"}}}"#,
            "not `username:password`",
        ),
        (r#"{"auths": {"ghcr.io": {"auth": "//79"}}}"#, "not UTF-8"),
        (
            r#"{"auths": {"ghcr.io": {"password": 12}}}"#,
            "`password` is not a string",
        ),
        (
            r#"{"credHelpers": {"ghcr.io": "../../bin/sh"}}"#,
            "is not a helper name",
        ),
        (r#"{"credHelpers": {"ghcr.io": 7}}"#, "not a string"),
        (r#"{"credHelpers": []}"#, "`credHelpers` is not an object"),
        (r#"{"credsStore": "pass; rm -rf /"}"#, "credsStore"),
        (r#"{"credsStore": ".hidden"}"#, "credsStore"),
    ];
    for (text, expected) in table {
        let error = parse(text).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, Error::DockerConfig { .. }),
            "{text}: {message}"
        );
        assert!(message.contains(expected), "{text}: {message}");
        assert!(!message.contains(SECRET), "{text}: {message}");
    }
    // Nulls, empty names and unknown keys are what Docker itself leaves behind: fine.
    let config =
        parse(r#"{"auths": null, "credsStore": "", "credHelpers": null, "x": [1]}"#).unwrap();
    assert!(
        config
            .find("ghcr.io", &Places::nowhere())
            .unwrap()
            .is_none()
    );
}

#[test]
fn an_oversized_or_missing_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let places = Places {
        docker_config: Some(path.clone()),
        ..Places::nowhere()
    };
    assert!(find("ghcr.io", None, &places).unwrap().is_none());
    let mut text = String::from(r#"{"auths": {}, "pad": ""#);
    text.push_str(&"x".repeat(CONFIG_LIMIT as usize));
    text.push_str("\"}");
    std::fs::write(&path, text).unwrap();
    let error = find("ghcr.io", None, &places).unwrap_err();
    assert!(
        error.to_string().contains("larger than 1024 KiB"),
        "{error}"
    );
    // A directory where the file should be.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    assert!(matches!(
        find("ghcr.io", None, &places),
        Err(Error::DockerConfig { .. })
    ));
}

#[test]
fn helpers_answer_for_their_hosts_and_the_store_for_the_rest() {
    let config = r#"{
        "auths": {"ghcr.io": {"auth": "Z2g6aW5saW5l"}, "https://index.docker.io/v1/": {}},
        "credHelpers": {"https://ghcr.io": "test"},
        "credsStore": "test"
    }"#;
    // The helper echoes the server it was asked about as the username.
    let (_dir, places) = helper(
        "test",
        r#"[ "$1" = get ] || exit 2; read -r server; printf '{"ServerURL":"%s","Username":"%s","Secret":"s3cret-value"}' "$server" "$server""#,
        config,
    );
    for (host, server) in [
        ("ghcr.io", "https://ghcr.io"),
        ("registry-1.docker.io", "https://index.docker.io/v1/"),
        ("quay.io", "quay.io"),
    ] {
        let found = find(host, None, &places).unwrap().unwrap();
        assert_eq!(
            found.credentials,
            Credentials::new(server, SECRET),
            "{host}"
        );
        assert_eq!(
            found.origin,
            Origin::Helper {
                name: "test".into()
            }
        );
        assert_eq!(
            found.origin.to_string(),
            "the credential helper docker-credential-test"
        );
    }
}

#[test]
fn helper_failures_are_clear_and_keep_the_secret_out() {
    let config = r#"{"credsStore": "test"}"#;
    let table = [
        (
            "echo 'credentials not found in native keychain'; exit 1",
            None,
        ),
        (
            "echo 'pass store is locked' >&2; echo second >&2; exit 3",
            Some("exit status 3: pass store is locked"),
        ),
        ("exit 1", Some("exit status 1")),
        ("sleep 30", Some("did not answer within")),
        (
            "echo '{\"Username\": \"u\", \"Secret\": '",
            Some("malformed JSON: not JSON"),
        ),
        ("echo '{\"Username\": \"u\"}'", Some("has no `Secret`")),
        (
            "echo '{\"Username\": 1, \"Secret\": \"s3cret-value\"}'",
            Some("`Username` is not a string"),
        ),
        ("echo '[\"s3cret-value\"]'", Some("has no `Secret`")),
        ("yes s3cret-value", Some("more than 64 KiB")),
    ];
    for (body, expected) in table {
        let (_dir, mut places) = helper("test", body, config);
        // Short only for the helper that never answers: under a loaded test run, starting a
        // shell can itself take longer than half a second.
        places.helper_timeout = if body.starts_with("sleep") {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(3)
        };
        let started = Instant::now();
        let result = find("ghcr.io", None, &places);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{body}: too slow"
        );
        match expected {
            None => assert!(result.unwrap().is_none(), "{body}"),
            Some(expected) => {
                let message = result.unwrap_err().to_string();
                assert!(message.contains(expected), "{body}: {message}");
                assert!(
                    message.contains("docker-credential-test"),
                    "{body}: {message}"
                );
                assert!(!message.contains(SECRET), "{body}: {message}");
            }
        }
    }
}

#[test]
fn a_missing_helper_is_named() {
    let (_dir, mut places) = helper(
        "other",
        "exit 0",
        r#"{"credHelpers": {"ghcr.io": "absent"}}"#,
    );
    let error = find("ghcr.io", None, &places).unwrap_err();
    assert!(matches!(error, Error::HelperMissing { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("docker-credential-absent is not on PATH"),
        "{error}"
    );
    // A relative PATH entry is never searched: it would depend on the working directory.
    places.path = Some(".".into());
    assert!(matches!(
        find("ghcr.io", None, &places),
        Err(Error::HelperMissing { .. })
    ));
}

#[test]
fn the_secret_store_comes_first() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Secrets::Files(dir.path().join("secrets"));
    let (_helper_dir, places) = helper("test", "exit 9", r#"{"credsStore": "test"}"#);
    assert!(find("ghcr.io", Some(&secrets), &places).is_err());
    secrets
        .set(
            &secret_name("ghcr.io"),
            &stored_value(&Credentials::new("me", SECRET)),
        )
        .unwrap();
    let found = find("ghcr.io", Some(&secrets), &places).unwrap().unwrap();
    assert_eq!(found.origin, Origin::SecretStore);
}
