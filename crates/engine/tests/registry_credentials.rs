//! Credentials per registry host against a real registry: Debian's `docker-registry` behind
//! htpasswd, the credentials found in a Docker configuration, through a credential helper on
//! `PATH`, and in Tripline's file-backed secret store, each then let in by the registry.
//!
//! Without `docker-registry`, `skopeo` or `htpasswd` a test prints `SKIPPED: …` and passes,
//! unless `TRIPLINE_REQUIRE_SOURCES=1`, when it fails naming what is missing.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use testbed::{Registry, RegistryAuth, oci_layout, require};
use tripline_engine::registry::client::credentials::{self, canonical_host, secret_name};
use tripline_engine::registry::client::{
    Budgets, Client, Credentials, Error, Limits, Origin, Places, Repository, TagList,
};
use tripline_engine::secrets::{Choice, Secrets};

const USER: &str = "ci";
const PASSWORD: &str = "correct-horse-battery";

/// The registry behind htpasswd, with `team/api:1.0` pushed.
fn registry() -> Option<(Registry, tempfile::TempDir)> {
    if !require(&["docker-registry", "skopeo", "htpasswd"]) {
        return None;
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
    Some((registry, image))
}

/// The tags of `team/api`, asked with what the lookup found.
async fn tags_with(registry: &Registry, found: Option<Credentials>) -> Result<Vec<String>, Error> {
    let client = Client::new(Limits::default(), Budgets::new()).unwrap();
    let repository = Repository::parse(&format!("{}/team/api", registry.host())).unwrap();
    match client.session(repository, found).tags(None).await? {
        TagList::Tags { tags, .. } => Ok(tags),
        TagList::Unchanged => panic!("no ETag was given"),
    }
}

/// `Places` reading `dir/config.json`, with `PATH` the directory and the system's own.
fn places(dir: &Path, config: &serde_json::Value) -> Places {
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    Places {
        docker_config: Some(dir.join("config.json")),
        path: Some(std::env::join_paths([dir, Path::new("/usr/bin"), Path::new("/bin")]).unwrap()),
        helper_timeout: Duration::from_secs(5),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_a_docker_configuration_open_the_registry() {
    let Some((registry, _image)) = registry() else {
        return;
    };
    let host = canonical_host(&registry.host()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    // Written with a scheme, as older `docker login`s did.
    let places = places(
        dir.path(),
        &serde_json::json!({"auths": {format!("http://{host}"): {"auth": auth}}}),
    );
    let found = credentials::find(&host, None, &places).unwrap().unwrap();
    assert_eq!(
        found.origin,
        Origin::DockerConfig {
            path: dir.path().join("config.json")
        }
    );
    assert_eq!(
        tags_with(&registry, Some(found.credentials)).await.unwrap(),
        ["1.0"]
    );

    // The wrong password is refused by the registry, and the message does not repeat it.
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:not-it"));
    let places = self::places(
        dir.path(),
        &serde_json::json!({"auths": {host.clone(): {"auth": auth}}}),
    );
    let found = credentials::find(&host, None, &places).unwrap().unwrap();
    let error = tags_with(&registry, Some(found.credentials))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Auth { .. }), "{error}");
    assert!(!error.to_string().contains("not-it"), "{error}");

    // No entry for the host: nothing found, and the registry wants credentials.
    let places = self::places(
        dir.path(),
        &serde_json::json!({"auths": {"ghcr.io": {"auth": "eDp5"}}}),
    );
    assert!(credentials::find(&host, None, &places).unwrap().is_none());
    let error = tags_with(&registry, None).await.unwrap_err();
    assert!(error.to_string().contains("wants credentials"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_a_helper_on_path_open_the_registry() {
    let Some((registry, _image)) = registry() else {
        return;
    };
    let host = canonical_host(&registry.host()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A helper that knows this registry only, and logs what it was asked.
    let script = format!(
        "#!/bin/sh\n\
         [ \"$1\" = get ] || exit 2\n\
         read -r server\n\
         echo \"$server\" >> \"{log}\"\n\
         if [ \"$server\" = \"{host}\" ]; then\n\
           printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n\
         else\n\
           echo 'credentials not found in native keychain'; exit 1\n\
         fi\n",
        log = dir.path().join("asked").display(),
    );
    let program = dir.path().join("docker-credential-test");
    std::fs::write(&program, script).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();

    for config in [
        serde_json::json!({"credHelpers": {host.clone(): "test"}}),
        serde_json::json!({"credsStore": "test", "auths": {host.clone(): {}}}),
    ] {
        let places = places(dir.path(), &config);
        let found = credentials::find(&host, None, &places).unwrap().unwrap();
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
        assert_eq!(
            tags_with(&registry, Some(found.credentials)).await.unwrap(),
            ["1.0"]
        );
    }
    // Another host: the helper has nothing, which is no error.
    let places = places(dir.path(), &serde_json::json!({"credsStore": "test"}));
    assert!(
        credentials::find("ghcr.io", None, &places)
            .unwrap()
            .is_none()
    );
    let asked = std::fs::read_to_string(dir.path().join("asked")).unwrap();
    assert_eq!(
        asked.lines().collect::<Vec<_>>(),
        [host.as_str(), &host, "ghcr.io"]
    );

    // Without the helper on PATH the configuration's mistake is named.
    let mut places = places;
    places.path = Some("/usr/bin:/bin".into());
    let error = credentials::find(&host, None, &places).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("docker-credential-test is not on PATH"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_the_secret_store_come_first_and_open_the_registry() {
    let Some((registry, _image)) = registry() else {
        return;
    };
    let host = canonical_host(&registry.host()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let secrets = Secrets::detect(Choice::Files, data.path()).unwrap();
    secrets
        .set(
            &secret_name(&host),
            &credentials::stored_value(&Credentials::new(USER, PASSWORD)),
        )
        .unwrap();
    // A Docker configuration with a wrong password is not asked.
    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:not-it"));
    let places = places(
        dir.path(),
        &serde_json::json!({"auths": {host.clone(): {"auth": auth}}}),
    );
    let found = credentials::find(&host, Some(&secrets), &places)
        .unwrap()
        .unwrap();
    assert_eq!(found.origin, Origin::SecretStore);
    assert_eq!(
        tags_with(&registry, Some(found.credentials)).await.unwrap(),
        ["1.0"]
    );

    // Once deleted, the Docker configuration answers.
    secrets.delete(&secret_name(&host)).unwrap();
    let found = credentials::find(&host, Some(&secrets), &places)
        .unwrap()
        .unwrap();
    assert!(matches!(found.origin, Origin::DockerConfig { .. }));
}

/// A registry whose token service takes only an OAuth2 refresh-token grant: what an
/// `identitytoken` in the Docker configuration is for (Docker Hub's, ACR's).
async fn refresh_token_registry(
    refresh_token: &'static str,
) -> (String, tokio::task::JoinHandle<()>) {
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let realm = format!("http://{host}/token");
    let challenge = move |headers: HeaderMap| {
        let realm = realm.clone();
        async move {
            let bearer = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            if bearer == Some("Bearer access-1") {
                return (
                    StatusCode::OK,
                    "{\"tags\": [\"1.0\"], \"name\": \"team/api\"}",
                )
                    .into_response();
            }
            (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"{realm}\",service=\"fake\""),
                )],
                "",
            )
                .into_response()
        }
    };
    let token = move |headers: HeaderMap, body: String| async move {
        let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let has = |key: &str, value: &str| form.iter().any(|(k, v)| k == key && v == value);
        let posted_as_form = headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v == "application/x-www-form-urlencoded");
        if posted_as_form
            && has("grant_type", "refresh_token")
            && has("refresh_token", refresh_token)
            && has("service", "fake")
            && has("scope", "repository:team/api:pull")
            && headers.get(header::AUTHORIZATION).is_none()
        {
            (
                StatusCode::OK,
                "{\"access_token\": \"access-1\", \"expires_in\": 300}",
            )
                .into_response()
        } else {
            (StatusCode::UNAUTHORIZED, "{}").into_response()
        }
    };
    let app = axum::Router::new()
        .route("/v2/team/api/tags/list", get(challenge))
        .route("/token", post(token));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (host, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_token_is_exchanged_as_a_refresh_token() {
    let (host, server) = refresh_token_registry("identity-7").await;
    let dir = tempfile::tempdir().unwrap();
    let places = places(
        dir.path(),
        &serde_json::json!({"auths": {host.clone(): {"auth": "", "identitytoken": "identity-7"}}}),
    );
    let found = credentials::find(&host, None, &places).unwrap().unwrap();
    assert_eq!(found.credentials.username, credentials::IDENTITY_TOKEN_USER);
    let client = Client::new(Limits::default(), Budgets::new()).unwrap();
    let repository = Repository::parse(&format!("{host}/team/api")).unwrap();
    let listed = client
        .session(repository.clone(), Some(found.credentials))
        .tags(None)
        .await
        .unwrap();
    assert_eq!(
        listed,
        TagList::Tags {
            tags: vec!["1.0".into()],
            etag: None
        }
    );
    // A stale identity token is refused by the token service, and not repeated.
    let error = client
        .session(
            repository,
            Some(Credentials::new(
                credentials::IDENTITY_TOKEN_USER,
                "stale-identity",
            )),
        )
        .tags(None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Auth { .. }), "{error}");
    assert!(!error.to_string().contains("stale-identity"), "{error}");
    server.abort();
}
