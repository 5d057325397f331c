//! The façade's registry methods against real registries: logging in to Debian's
//! `docker-registry` behind htpasswd (checked before anything is kept), its real tags, a
//! registry that rate-limits, and the status another process sees.
//!
//! Without `docker-registry`, `skopeo` or `htpasswd` a test prints `SKIPPED: …` and passes,
//! unless `TRIPLINE_REQUIRE_SOURCES=1`, when it fails naming what is missing.

use std::path::Path;
use std::time::Duration;

use testbed::{Registry, RegistryAuth, oci_layout, require};
use tripline_engine::api::{CommandOptions, CredentialSource, Tripline};
use tripline_engine::app::{ClusterRef, NewApplication, Pin, Source};
use tripline_engine::registry::client::Places;
use tripline_engine::secrets::Secrets;

const USER: &str = "ci";
const PASSWORD: &str = "correct-horse-battery";

/// A façade on `dir` as a command opens it, with file secrets and an empty Docker
/// configuration (the machine's own is never read).
fn open(dir: &Path) -> Tripline {
    let secrets = Secrets::Files(dir.join("secrets"));
    let mut tripline = Tripline::open_for_command(CommandOptions {
        data_dir: dir.to_owned(),
        find_secrets: Box::new(move || Ok(secrets.clone())),
        via: "cli",
        quiet: true,
    })
    .unwrap();
    tripline.use_registry_places(Places {
        docker_config: Some(dir.join("docker-config.json")),
        path: None,
        helper_timeout: Duration::from_secs(5),
    });
    tripline
}

fn template(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  selector:\n    \
         matchLabels: {{app: api}}\n  template:\n    metadata:\n      labels: {{app: api}}\n    \
         spec:\n      containers:\n        - name: api\n          image: {image}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_checked_kept_and_used_and_logout_forgets() {
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
    registry
        .copy_image(image.path(), "team/api:1.1", Some((USER, PASSWORD)))
        .unwrap();
    let host = registry.host();
    let repository = format!("{host}/team/api");
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(dir.path());

    let error = tripline.registry_tags(&repository).await.unwrap_err();
    assert_eq!(error.code, "registry.unauthorized", "{}", error.message);

    // A wrong password is refused by the registry and not kept.
    let error = tripline
        .registry_login(&host, USER, "not-it")
        .await
        .unwrap_err();
    assert_eq!(error.code, "registry.unauthorized", "{}", error.message);
    assert!(!error.message.contains("not-it"), "{}", error.message);
    assert!(
        !dir.path().join("secrets").exists()
            || std::fs::read_dir(dir.path().join("secrets"))
                .unwrap()
                .next()
                .is_none()
    );

    let login = tripline
        .registry_login(&format!("http://{host}/"), USER, &format!("{PASSWORD}\n"))
        .await
        .unwrap();
    assert_eq!(login.host, host);
    assert!(login.checked);
    assert_eq!(login.credentials, CredentialSource::KeyFiles);

    let tags = tripline
        .registry_tags(&format!("{repository}:1.0"))
        .await
        .unwrap();
    assert_eq!(tags.host, host);
    assert_eq!(tags.repository, "team/api");
    let mut sorted = tags.tags.clone();
    sorted.sort();
    assert_eq!(sorted, ["1.0", "1.1"]);
    assert_eq!(tags.credentials, CredentialSource::KeyFiles);

    let error = tripline
        .registry_tags(&format!("{host}/team/none"))
        .await
        .unwrap_err();
    assert_eq!(error.code, "registry.not_found", "{}", error.message);

    // An image trigger naming the registry lists it with the trigger.
    tripline
        .create_template("api", &template(&format!("{repository}:1.0")), "first")
        .unwrap();
    let app = NewApplication {
        name: "api".into(),
        cluster: ClusterRef::Sandbox,
        namespace: "shop".into(),
        source: Source::Template {
            template: "api".into(),
            pin: Pin::Latest,
        },
        prune: false,
    };
    tripline.create_app(&app).unwrap();
    let kind = serde_json::from_value(serde_json::json!({
        "type": "image", "repositories": [repository], "filter": {"mode": "all"},
    }))
    .unwrap();
    tripline
        .create_trigger(&tripline_engine::store::NewTrigger {
            name: "api-image".into(),
            app: "api".into(),
            kind,
            signed: false,
        })
        .unwrap();
    let status = tripline.registry_status().unwrap();
    let entry = status.iter().find(|s| s.host == host).unwrap();
    assert_eq!(entry.triggers, ["api-image"]);
    assert_eq!(entry.credentials, CredentialSource::KeyFiles);
    let last = entry.last_error.as_deref().unwrap();
    assert!(last.contains("team/none") && last.contains("404"), "{last}");
    // A request that succeeds ends the host's last failure.
    tripline.registry_tags(&repository).await.unwrap();
    let status = tripline.registry_status().unwrap();
    let entry = status.iter().find(|s| s.host == host).unwrap();
    assert_eq!(entry.last_error, None);

    // Another process sees the same host, credentials and (empty) budget.
    let other = open(dir.path());
    let status = other.registry_status().unwrap();
    let entry = status.iter().find(|s| s.host == host).unwrap();
    assert_eq!(entry.credentials, CredentialSource::KeyFiles);
    assert_eq!(entry.budget, None, "this registry reports no rate limit");

    let after = tripline.registry_logout(&host).unwrap();
    assert_eq!(after.credentials, CredentialSource::None);
    let error = tripline.registry_tags(&repository).await.unwrap_err();
    assert_eq!(error.code, "registry.unauthorized", "{}", error.message);
    // Twice is fine.
    tripline.registry_logout(&host).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_registry_is_logged_in_to_unchecked() {
    if !require(Registry::IMAGE_TOOLS) {
        return;
    }
    let registry = Registry::start(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(dir.path());
    let login = tripline
        .registry_login(&registry.host(), "anyone", "anything")
        .await
        .unwrap();
    assert!(!login.checked, "the registry asked for nothing");
    for (host, user, password, code) in [
        ("nodots", "u", "p", "registry.reference"),
        ("", "u", "p", "registry.reference"),
        ("ghcr.io", " ", "p", "input.missing"),
        ("ghcr.io", "u", "", "input.missing"),
    ] {
        let error = tripline
            .registry_login(host, user, password)
            .await
            .unwrap_err();
        assert_eq!(error.code, code, "{host:?}: {}", error.message);
    }
}

/// A registry that answers every request with 429 and Docker Hub's rate-limit headers.
async fn rate_limited_registry() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 429 Too Many Requests\r\nRateLimit-Limit: 100;w=21600\r\n\
                          RateLimit-Remaining: 0;w=21600\r\nRetry-After: 120\r\n\
                          Content-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    (host, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_says_when_to_retry_and_another_process_sees_the_budget() {
    let (host, server) = rate_limited_registry().await;
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(dir.path());
    let error = tripline
        .registry_tags(&format!("{host}/demo/app"))
        .await
        .unwrap_err();
    assert_eq!(error.code, "registry.rate_limited", "{}", error.message);
    let details = error.details.unwrap();
    let retry_at: jiff::Timestamp = details["retryAt"].as_str().unwrap().parse().unwrap();
    let wait = retry_at.duration_since(jiff::Timestamp::now());
    assert!(
        wait > jiff::SignedDuration::from_secs(100) && wait <= jiff::SignedDuration::from_secs(120),
        "{wait:?}"
    );
    assert_eq!(details["remaining"], 0);
    assert_eq!(details["limit"], 100);
    server.abort();

    let other = open(dir.path());
    let status = other.registry_status().unwrap();
    assert_eq!(status.len(), 1, "{status:?}");
    let entry = &status[0];
    assert_eq!(entry.host, host);
    let budget = entry.budget.as_ref().unwrap();
    assert_eq!((budget.limit, budget.remaining), (Some(100), Some(0)));
    assert_eq!(budget.window_seconds, Some(21600));
    assert_eq!(
        budget
            .retry_at
            .as_deref()
            .map(|t| t.parse::<jiff::Timestamp>().unwrap()),
        Some(retry_at)
    );
    let last = entry.last_error.as_deref().unwrap();
    assert!(last.contains("rate limiting"), "{last}");
    assert!(entry.last_error_at.is_some());

    // Gone now: a host already listed keeps its news, and the budget it last reported.
    let error = tripline
        .registry_tags(&format!("{host}/demo/app"))
        .await
        .unwrap_err();
    assert_eq!(error.code, "registry.unreachable", "{}", error.message);
    let status = other.registry_status().unwrap();
    let last = status[0].last_error.as_deref().unwrap();
    assert!(last.contains("could not be reached"), "{last}");
    assert_eq!(status[0].budget.as_ref().unwrap().remaining, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_never_reached_is_not_listed() {
    // Nothing listens on port 1 of this machine: a mistyped host, as a preview would ask it.
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(dir.path());
    let error = tripline
        .registry_tags("127.0.0.1:1/demo/app")
        .await
        .unwrap_err();
    assert_eq!(error.code, "registry.unreachable", "{}", error.message);
    assert_eq!(tripline.registry_status().unwrap(), []);
    assert_eq!(open(dir.path()).registry_status().unwrap(), []);
    let error = tripline
        .registry_tags("Not A Repository")
        .await
        .unwrap_err();
    assert_eq!(error.code, "registry.reference", "{}", error.message);
}
