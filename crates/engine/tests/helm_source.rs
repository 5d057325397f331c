//! Helm sources against real servers and the real `helm`.
//!
//! Charts are made with `helm create` and `helm package`, indexed with `helm repo index`, and
//! served by a small file server started here on a loopback port; OCI charts are pushed with
//! `helm push` into Debian's `docker-registry`. Hostile servers (a huge index, a tampered
//! archive, an index pointing elsewhere, a repository wanting credentials) are the same file
//! server with other files or rules.
//!
//! Without `helm` (or `docker-registry`, for the OCI tests) a test prints `SKIPPED: …` and
//! passes, unless `TRIPLINE_REQUIRE_SOURCES=1`, when it fails naming what is missing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use tripline_engine::error::Code;
use tripline_engine::source::Revision;
use tripline_engine::source::helm::{
    Credentials, Helm, HelmSource, ImageValues, Limits, set_image_values,
};

// ---- tools ----------------------------------------------------------------------------------

fn available(tool: &str, version_arg: &str) -> bool {
    Command::new(tool)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the tools are here; when not, says so loudly, or fails when they are required.
fn need(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| {
            let arg = if *tool == "helm" {
                "version"
            } else {
                "--version"
            };
            !available(tool, arg)
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(" and ");
    assert!(
        std::env::var("TRIPLINE_REQUIRE_SOURCES").as_deref() != Ok("1"),
        "TRIPLINE_REQUIRE_SOURCES=1 but {what} is not installed (or not on PATH)"
    );
    eprintln!("SKIPPED: {what} is not installed (or not on PATH)");
    false
}

/// Runs `helm` with homes inside `work`, so the machine's Helm setup is neither read nor
/// changed.
fn helm(work: &Path, args: &[&str]) -> std::process::Output {
    Command::new("helm")
        .args(args)
        .current_dir(work)
        .env("HELM_CACHE_HOME", work.join(".helm/cache"))
        .env("HELM_CONFIG_HOME", work.join(".helm/config"))
        .env("HELM_DATA_HOME", work.join(".helm/data"))
        .output()
        .expect("helm runs")
}

fn helm_ok(work: &Path, args: &[&str]) {
    let output = helm(work, args);
    assert!(
        output.status.success(),
        "helm {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `helm create` a chart named `name` (once) and package it at `version` into `out`.
fn package(work: &Path, name: &str, version: &str, out: &Path) -> PathBuf {
    if !work.join(name).exists() {
        helm_ok(work, &["create", name]);
    }
    std::fs::create_dir_all(out).unwrap();
    let out_text = out.to_str().unwrap();
    helm_ok(
        work,
        &["package", name, "--version", version, "-d", out_text],
    );
    out.join(format!("{name}-{version}.tgz"))
}

fn sha256(bytes: &[u8]) -> String {
    hex_string(&Sha256::digest(bytes))
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn source(repository: &str, chart: &str, version: &str) -> HelmSource {
    HelmSource {
        repository: repository.to_owned(),
        chart: chart.to_owned(),
        version: version.to_owned(),
        plain_http: false,
    }
}

fn helm_client() -> Helm {
    Helm::find(None).expect("helm is on PATH")
}

// ---- a file server --------------------------------------------------------------------------

/// Each request's path and `Authorization` header, in order.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// What the file server serves and how.
#[derive(Clone)]
struct Served {
    root: PathBuf,
    /// The `Authorization` value required, if any.
    basic: Option<String>,
    seen: Seen,
}

/// A running file server; stops when dropped.
struct FileServer {
    address: SocketAddr,
    seen: Seen,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FileServer {
    async fn start(root: &Path, basic: Option<(&str, &str)>) -> FileServer {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let served = Served {
            root: root.to_owned(),
            basic: basic.map(|(user, password)| {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                format!("Basic {token}")
            }),
            seen: Arc::clone(&seen),
        };
        let router = Router::new().fallback(serve_file).with_state(served);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        FileServer {
            address,
            seen,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.address)
    }

    fn seen(&self) -> Vec<(String, Option<String>)> {
        self.seen.lock().unwrap().clone()
    }
}

/// Serves files under the root. `/endless/…` streams far more than any limit, in chunks with
/// no declared length.
async fn serve_file(State(served): State<Served>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    served
        .seen
        .lock()
        .unwrap()
        .push((path.clone(), authorization.clone()));
    if let Some(expected) = &served.basic
        && authorization.as_deref() != Some(expected.as_str())
    {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"charts\""),
        );
        return response;
    }
    if path.starts_with("/endless/") {
        let chunk = Bytes::from(vec![b'#'; 64 * 1024]);
        let stream = futures::stream::iter(
            std::iter::repeat_n(chunk, 1024).map(Ok::<_, std::convert::Infallible>),
        );
        return Body::from_stream(stream).into_response();
    }
    let relative = path.trim_start_matches('/');
    if relative.split('/').any(|part| part == "..") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match tokio::fs::read(served.root.join(relative)).await {
        Ok(bytes) => bytes.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A chart repository: `demo` at 1.0.0, 1.2.0, 1.3.0-rc.1 and 2.0.0 under `charts/`,
/// indexed with relative URLs.
fn chart_repository(work: &Path) -> PathBuf {
    let repo = work.join("site/charts");
    for version in ["1.0.0", "1.2.0", "1.3.0-rc.1", "2.0.0"] {
        package(work, "demo", version, &repo);
    }
    helm_ok(work, &["repo", "index", repo.to_str().unwrap()]);
    repo
}

// ---- chart repositories ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_chart_renders_at_the_newest_matching_version() {
    if !need(&["helm"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let repo = chart_repository(work.path());
    let server = FileServer::start(&work.path().join("site"), None).await;
    let helm = helm_client();
    let repository = server.url("charts");

    let versions = helm
        .versions(&source(&repository, "demo", ""), None)
        .await
        .unwrap();
    assert_eq!(versions, ["2.0.0", "1.3.0-rc.1", "1.2.0", "1.0.0"]);

    let resolved = helm
        .resolve(&source(&repository, "demo", "^1"), None)
        .await
        .unwrap();
    let archive = std::fs::read(repo.join("demo-1.2.0.tgz")).unwrap();
    assert_eq!(resolved.version, "1.2.0");
    assert_eq!(resolved.url, server.url("charts/demo-1.2.0.tgz"));
    assert_eq!(
        resolved.digest,
        Some(format!("sha256:{}", sha256(&archive)))
    );
    for (range, expected) in [
        ("", "2.0.0"),
        ("~1.0", "1.0.0"),
        (">=1.0, <2", "1.2.0"),
        (">=1.3.0-rc.0, <2", "1.3.0-rc.1"),
        ("1.0.0", "1.0.0"),
    ] {
        let resolved = helm
            .resolve(&source(&repository, "demo", range), None)
            .await
            .unwrap();
        assert_eq!(resolved.version, expected, "range `{range}`");
    }

    let values = set_image_values(
        "replicaCount: 3\n",
        &ImageValues::default(),
        "registry.example.com/team/web",
        Some("4.5"),
        None,
    )
    .unwrap();
    let rendered = helm
        .render(
            &source(&repository, "demo", "^1.2"),
            &values,
            "web",
            "shop",
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        rendered.revision,
        Revision::Helm {
            chart: "demo".into(),
            version: "1.2.0".into(),
            digest: format!("sha256:{}", sha256(&archive)),
        }
    );
    let manifests = &rendered.manifests;
    assert!(manifests.contains("kind: Deployment"), "{manifests}");
    assert!(manifests.contains("name: web-demo"), "{manifests}");
    assert!(manifests.contains("replicas: 3"), "{manifests}");
    assert!(
        manifests.contains("registry.example.com/team/web:4.5"),
        "{manifests}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_charts_and_versions_name_what_there_is() {
    if !need(&["helm"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    chart_repository(work.path());
    let server = FileServer::start(&work.path().join("site"), None).await;
    let helm = helm_client();
    let repository = server.url("charts");

    let error = helm
        .resolve(&source(&repository, "absent", ""), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceNotFound);
    assert!(
        error.message.contains("no chart `absent`") && error.message.contains("demo"),
        "{}",
        error.message
    );

    let error = helm
        .resolve(&source(&repository, "demo", ">=3"), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceNotFound);
    assert!(
        error.message.contains(
            "no version matching `>=3`; its versions are 2.0.0, 1.3.0-rc.1, 1.2.0, 1.0.0"
        ),
        "{}",
        error.message
    );

    let error = helm
        .resolve(&source(&repository, "demo", "^^1"), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceInvalid);
    assert!(error.message.contains("such as ^1.2"), "{}", error.message);

    let error = helm
        .versions(&source(&server.url("nowhere"), "demo", ""), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceNotFound, "{}", error.message);

    // Nothing listens on port 9 of loopback.
    let error = helm
        .versions(&source("http://127.0.0.1:9/charts", "demo", ""), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceUnreachable, "{}", error.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_archive_is_refused_before_rendering() {
    if !need(&["helm"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let repo = chart_repository(work.path());
    let listed = sha256(&std::fs::read(repo.join("demo-1.0.0.tgz")).unwrap());
    let other = std::fs::read(repo.join("demo-1.2.0.tgz")).unwrap();
    std::fs::write(repo.join("demo-1.0.0.tgz"), &other).unwrap();
    let server = FileServer::start(&work.path().join("site"), None).await;
    // A helm that does not exist: reaching it would be a tool error, not a digest one.
    let helm = Helm::new(work.path().join("no-helm"), Limits::default()).unwrap();

    let error = helm
        .render(
            &source(&server.url("charts"), "demo", "1.0.0"),
            "",
            "web",
            "default",
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceDigestMismatch, "{}", error.message);
    assert!(
        error.message.contains(&format!("sha256:{listed}"))
            && error
                .message
                .contains(&format!("sha256:{}", sha256(&other))),
        "{}",
        error.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_broken_indexes_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let site = work.path();
    std::fs::create_dir_all(site.join("broken")).unwrap();
    std::fs::write(
        site.join("broken/index.yaml"),
        "entries: {demo: [unclosed\n",
    )
    .unwrap();
    std::fs::create_dir_all(site.join("wrong")).unwrap();
    std::fs::write(site.join("wrong/index.yaml"), "entries:\n  demo: 12\n").unwrap();
    std::fs::create_dir_all(site.join("big")).unwrap();
    std::fs::write(
        site.join("big/index.yaml"),
        "entries:\n  demo:\n  - version: 1.0.0\n    urls: [demo.tgz]\n",
    )
    .unwrap();
    std::fs::write(site.join("big/demo.tgz"), vec![0u8; 2 * 1024 * 1024]).unwrap();
    let server = FileServer::start(site, None).await;
    let limits = Limits {
        size: 1024 * 1024,
        ..Limits::default()
    };
    let helm = Helm::new(work.path().join("no-helm"), limits).unwrap();

    // An endless index is cut off at the limit.
    let error = helm
        .versions(&source(&server.url("endless"), "demo", ""), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceTooLarge, "{}", error.message);
    assert!(error.message.contains("1 MiB"), "{}", error.message);

    // So is an archive past it (its length declared up front).
    let error = helm
        .render(
            &source(&server.url("big"), "demo", ""),
            "",
            "web",
            "default",
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceTooLarge, "{}", error.message);

    for broken in ["broken", "wrong"] {
        let error = helm
            .versions(&source(&server.url(broken), "demo", ""), None)
            .await
            .unwrap_err();
        assert_eq!(error.code, Code::SourceInvalid, "{}", error.message);
        assert!(
            error.message.contains("index") && error.message.contains("not valid"),
            "{}",
            error.message
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_go_to_the_repository_only() {
    if !need(&["helm"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // The archive lives on a second server; the index, behind basic auth, points at it.
    let mirror_root = work.path().join("mirror");
    let archive = package(work.path(), "demo", "1.0.0", &mirror_root);
    let digest = sha256(&std::fs::read(&archive).unwrap());
    let mirror = FileServer::start(&mirror_root, None).await;
    let site = work.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("index.yaml"),
        format!(
            "apiVersion: v1\nentries:\n  demo:\n  - version: 1.0.0\n    digest: {digest}\n    urls: [{}]\n  escape:\n  - version: 1.0.0\n    urls: [\"file:///etc/passwd\"]\n  climb:\n  - version: 1.0.0\n    digest: {digest}\n    urls: [\"../../../../outside.tgz\"]\n",
            mirror.url("demo-1.0.0.tgz")
        ),
    )
    .unwrap();
    let repository = FileServer::start(&site, Some(("reader", "s3cret-pass"))).await;
    let helm = helm_client();
    let good = Credentials {
        username: "reader".into(),
        password: "s3cret-pass".into(),
    };
    let bad = Credentials {
        username: "reader".into(),
        password: "wrong-pass".into(),
    };
    let url = repository.url("");

    let error = helm
        .versions(&source(&url, "demo", ""), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceAuth);
    assert!(
        error.message.contains("needs credentials"),
        "{}",
        error.message
    );
    let error = helm
        .versions(&source(&url, "demo", ""), Some(&bad))
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceAuth);
    assert!(error.message.contains("refused"), "{}", error.message);
    assert!(!error.message.contains("wrong-pass"), "{}", error.message);

    let rendered = helm
        .render(
            &source(&url, "demo", "1.0.0"),
            "",
            "web",
            "default",
            Some(&good),
        )
        .await
        .unwrap();
    assert!(rendered.manifests.contains("kind: Deployment"));
    let mirror_seen = mirror.seen();
    assert_eq!(mirror_seen.len(), 1, "{mirror_seen:?}");
    assert_eq!(mirror_seen[0].1, None, "credentials went to another server");
    assert!(
        repository
            .seen()
            .iter()
            .all(|(path, _)| path == "/index.yaml")
    );

    // A `file:` archive URL is refused; a climbing one stays on the repository's server.
    let error = helm
        .render(
            &source(&url, "escape", ""),
            "",
            "web",
            "default",
            Some(&good),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceInvalid);
    assert!(error.message.contains("`file:` URL"), "{}", error.message);
    let error = helm
        .render(
            &source(&url, "climb", ""),
            "",
            "web",
            "default",
            Some(&good),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceNotFound, "{}", error.message);
    assert!(
        repository
            .seen()
            .iter()
            .any(|(path, _)| path == "/outside.tgz"),
        "{:?}",
        repository.seen()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_helm_and_a_broken_chart_are_reported() {
    if !need(&["helm"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("site");
    package(work.path(), "demo", "1.0.0", &repo);
    helm_ok(work.path(), &["create", "broken"]);
    std::fs::write(
        work.path().join("broken/templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name | nosuchfunction }}\n",
    )
    .unwrap();
    package(work.path(), "broken", "0.1.0", &repo);
    helm_ok(work.path(), &["repo", "index", repo.to_str().unwrap()]);
    let server = FileServer::start(&repo, None).await;
    let url = server.url("");

    let missing = Helm::new(work.path().join("no-helm"), Limits::default()).unwrap();
    let error = missing
        .render(&source(&url, "demo", ""), "", "web", "default", None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceToolMissing);
    assert!(
        error.message.contains("install Helm 3"),
        "{}",
        error.message
    );

    let helm = helm_client();
    let error = helm
        .render(&source(&url, "broken", ""), "", "web", "default", None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceInvalid);
    assert!(
        error.message.starts_with("helm template failed: ")
            && error.message.contains("nosuchfunction"),
        "{}",
        error.message
    );

    let error = helm
        .render(
            &source(&url, "demo", ""),
            "image: [unclosed",
            "web",
            "default",
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceInvalid, "{}", error.message);

    let error = helm
        .render(
            &source(&url, "demo", ""),
            "",
            "--kubeconfig=/x",
            "default",
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceInvalid);
    assert!(error.message.contains("release name"), "{}", error.message);
}

// ---- OCI ------------------------------------------------------------------------------------

struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_registry(dir: &Path) -> (Registry, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        root = dir.join("storage").display()
    );
    let path = dir.join("registry.yml");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("registry.log")).unwrap())
        .spawn()
        .expect("docker-registry starts");
    let registry = Registry(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (registry, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "docker-registry did not listen on {port}: {}",
        std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
    );
}

/// `helm push`, with `--plain-http` where this helm needs and knows it.
fn push(work: &Path, archive: &Path, reference: &str) {
    let archive = archive.to_str().unwrap();
    if helm(work, &["push", archive, reference]).status.success() {
        return;
    }
    helm_ok(work, &["push", archive, reference, "--plain-http"]);
}

/// The `Docker-Content-Digest` the registry announces for a manifest, asked over a bare
/// HTTP/1.0 request so nothing of the code under test is involved.
fn manifest_digest(port: u16, name: &str, tag: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "HEAD /v2/{name}/manifests/{tag} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case("docker-content-digest")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no digest in {response}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oci_chart_renders_at_the_newest_matching_tag() {
    if !need(&["helm", "docker-registry"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let (_registry, port) = start_registry(work.path());
    let reference = format!("oci://127.0.0.1:{port}/charts");
    let out = work.path().join("out");
    for version in ["1.0.0", "1.2.0", "1.3.0+build.1", "2.0.0-rc.1"] {
        let archive = package(work.path(), "demo", version, &out);
        push(work.path(), &archive, &reference);
    }
    let helm = helm_client();

    let versions = helm
        .versions(&source(&reference, "demo", ""), None)
        .await
        .unwrap();
    assert_eq!(versions, ["2.0.0-rc.1", "1.3.0+build.1", "1.2.0", "1.0.0"]);

    let resolved = helm
        .resolve(&source(&reference, "demo", "^1"), None)
        .await
        .unwrap();
    assert_eq!(resolved.version, "1.3.0+build.1");
    assert_eq!(
        resolved.url,
        format!("oci://127.0.0.1:{port}/charts/demo:1.3.0_build.1")
    );
    // The registry's own word on the manifest digest.
    let registry_digest = manifest_digest(port, "charts/demo", "1.3.0_build.1");
    assert_eq!(resolved.digest.as_deref(), Some(registry_digest.as_str()));

    let rendered = helm
        .render(
            &source(&reference, "demo", "~1.2"),
            "image:\n  tag: \"7.0\"\n",
            "api",
            "team-a",
            None,
        )
        .await
        .unwrap();
    let Revision::Helm { version, .. } = &rendered.revision else {
        panic!("{:?}", rendered.revision);
    };
    assert_eq!(version, "1.2.0");
    assert!(rendered.manifests.contains("name: api-demo"));
    assert!(
        rendered.manifests.contains(":7.0\""),
        "{}",
        rendered.manifests
    );

    let rendered = helm
        .render(
            &source(&reference, "demo", "^1"),
            "",
            "api",
            "default",
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        rendered.revision,
        Revision::Helm {
            chart: "demo".into(),
            version: "1.3.0+build.1".into(),
            digest: registry_digest,
        }
    );

    let error = helm
        .resolve(&source(&reference, "absent", ""), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceNotFound, "{}", error.message);
    let error = helm
        .resolve(&source(&reference, "demo", ">=5"), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceNotFound);
    assert!(error.message.contains("1.3.0+build.1"), "{}", error.message);
}

/// A registry that pages its tag lists as distribution v3 and the hosted registries do
/// (Debian's distribution 2.8 sends every tag at once): `?n=` tags after `?last=`, with a
/// `Link: <…>; rel="next"` while more remain. `charts/many` holds 251 versions; the next page
/// of `charts/away` is on another host, that of `charts/again` is the page itself.
async fn paging_registry() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&asked);
    let router = Router::new().fallback(move |request: Request| {
        let log = Arc::clone(&log);
        async move {
            let uri = request.uri().clone();
            log.lock().unwrap().push(uri.to_string());
            let query: Vec<(String, String)> = uri
                .query()
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default();
            let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            let n: usize = get("n").and_then(|n| n.parse().ok()).unwrap_or(usize::MAX);
            let (link, tags): (Option<String>, Vec<String>) = match uri.path() {
                "/v2/charts/many/tags/list" => {
                    let mut all: Vec<String> = (0..250).map(|m| format!("1.{m}.0")).collect();
                    all.push("9.0.0".into());
                    all.sort();
                    let after = get("last");
                    let rest: Vec<String> = all
                        .into_iter()
                        .filter(|t| after.as_ref().is_none_or(|a| t > a))
                        .collect();
                    let page: Vec<String> = rest.iter().take(n).cloned().collect();
                    let link = (rest.len() > page.len()).then(|| {
                        format!(
                            "</v2/charts/many/tags/list?last={}&n={n}>; rel=\"next\"",
                            page.last().unwrap()
                        )
                    });
                    (link, page)
                }
                "/v2/charts/away/tags/list" => (
                    Some(
                        "<http://example.invalid/v2/charts/away/tags/list?last=a>; rel=\"next\""
                            .into(),
                    ),
                    vec!["1.0.0".into()],
                ),
                "/v2/charts/again/tags/list" => {
                    (Some(format!("<{uri}>; rel=\"next\"")), vec!["1.0.0".into()])
                }
                _ => return StatusCode::NOT_FOUND.into_response(),
            };
            let body = serde_json::json!({ "name": "x", "tags": tags }).to_string();
            let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
            if let Some(link) = link {
                response
                    .headers_mut()
                    .insert(header::LINK, HeaderValue::from_str(&link).unwrap());
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (address, asked)
}

/// A chart with more versions than a page of the tag list: every page is read, following
/// the registry's `Link` headers, and the newest version is found on the last one. A next
/// page on another host (which would carry the token there) and a page that names itself
/// are refused with errors that say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oci_chart_with_many_versions_is_read_page_by_page() {
    let (address, asked) = paging_registry().await;
    let reference = format!("oci://{address}/charts");
    let helm = helm_client();
    let versions = helm
        .versions(&source(&reference, "many", ""), None)
        .await
        .unwrap();
    assert_eq!(versions.len(), 251, "{versions:?}");
    assert_eq!(versions[0], "9.0.0");
    assert_eq!(
        *asked.lock().unwrap(),
        [
            "/v2/charts/many/tags/list?n=100",
            "/v2/charts/many/tags/list?last=1.188.0&n=100",
            "/v2/charts/many/tags/list?last=1.53.0&n=100",
        ]
    );
    // The range resolves to a version from the last page; its manifest is then asked for
    // (this registry serves tag lists only).
    let error = helm
        .resolve(&source(&reference, "many", "^1"), None)
        .await
        .unwrap_err();
    assert!(
        error.message.contains("charts/many:1.249.0"),
        "{}",
        error.message
    );

    let error = helm
        .versions(&source(&reference, "away", ""), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceInvalid, "{}", error.message);
    assert!(
        error.message.contains("outside the registry"),
        "{}",
        error.message
    );
    let error = helm
        .versions(&source(&reference, "again", ""), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceInvalid, "{}", error.message);
    assert!(
        error.message.contains("the page itself"),
        "{}",
        error.message
    );
}

/// A registry that wants a bearer token, as GHCR, Docker Hub and Harbor do: every `/v2/`
/// request without the token gets a 401 naming the realm; the realm gives the token for the
/// right user and password, good for `uses` requests; a new token ends the one before. It
/// serves one chart, `charts/demo:1.0.0`, from `archive`. Each request's path and
/// `Authorization` are kept.
async fn bearer_registry(archive: Vec<u8>, uses: usize) -> (SocketAddr, Seen) {
    // The newest token's number, and the requests it has served.
    let issued: Arc<Mutex<(u32, usize)>> = Arc::default();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let layer = format!("sha256:{}", sha256(&archive));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.cncf.helm.config.v1+json",
            "digest": format!("sha256:{}", sha256(b"{}")),
            "size": 2
        },
        "layers": [{
            "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            "digest": layer,
            "size": archive.len()
        }]
    })
    .to_string();
    let manifest_digest = format!("sha256:{}", sha256(manifest.as_bytes()));
    let router = Router::new().fallback(move |request: Request| {
        let (issued, log, archive, manifest, layer, manifest_digest) = (
            Arc::clone(&issued),
            Arc::clone(&log),
            archive.clone(),
            manifest.clone(),
            layer.clone(),
            manifest_digest.clone(),
        );
        async move {
            let authorization = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let path = request.uri().path().to_owned();
            log.lock()
                .unwrap()
                .push((request.uri().to_string(), authorization.clone()));
            if path == "/token" {
                let wanted = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("ci:chart-pass")
                );
                let scope_ok = request
                    .uri()
                    .query()
                    .is_some_and(|q| q.contains("scope=repository%3Acharts%2Fdemo%3Apull"));
                if authorization.as_deref() != Some(wanted.as_str()) || !scope_ok {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                let mut issued = issued.lock().unwrap();
                *issued = (issued.0 + 1, 0);
                let token = format!("{{\"token\":\"tok-chart-{}\"}}", issued.0);
                return ([(header::CONTENT_TYPE, "application/json")], token).into_response();
            }
            let valid = {
                let mut issued = issued.lock().unwrap();
                let valid = issued.0 > 0
                    && authorization.as_deref() == Some(&format!("Bearer tok-chart-{}", issued.0))
                    && issued.1 < uses;
                if valid {
                    issued.1 += 1;
                }
                valid
            };
            if !valid {
                let challenge = format!(
                    "Bearer realm=\"http://{address}/token\",service=\"fake\",scope=\"repository:charts/demo:pull\""
                );
                let mut response = StatusCode::UNAUTHORIZED.into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_str(&challenge).unwrap(),
                );
                return response;
            }
            match path.as_str() {
                "/v2/charts/demo/tags/list" => (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"name":"charts/demo","tags":["1.0.0"]}"#.to_owned(),
                )
                    .into_response(),
                "/v2/charts/demo/manifests/1.0.0" => {
                    let mut response = (
                        [(header::CONTENT_TYPE, "application/vnd.oci.image.manifest.v1+json")],
                        manifest,
                    )
                        .into_response();
                    response.headers_mut().insert(
                        "docker-content-digest",
                        HeaderValue::from_str(&manifest_digest).unwrap(),
                    );
                    response
                }
                p if p == format!("/v2/charts/demo/blobs/{layer}") => {
                    Body::from(Bytes::from(archive)).into_response()
                }
                _ => StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    (address, seen)
}

/// An OCI chart behind a bearer challenge: read and rendered with a token from the realm,
/// asked for with the credentials; the token, not the password, goes to the registry. A wrong
/// password is refused, naming neither it nor the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oci_chart_behind_a_bearer_challenge_is_read_with_a_token() {
    if !need(&["helm"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let archive = package(work.path(), "demo", "1.0.0", &work.path().join("out"));
    let archive = std::fs::read(&archive).unwrap();
    let (address, seen) = bearer_registry(archive.clone(), usize::MAX).await;
    let reference = format!("oci://{address}/charts");
    let helm = helm_client();
    let right = Credentials {
        username: "ci".into(),
        password: "chart-pass".into(),
    };
    let rendered = helm
        .render(
            &source(&reference, "demo", "^1"),
            "",
            "api",
            "default",
            Some(&right),
        )
        .await
        .unwrap();
    assert!(
        rendered.manifests.contains("name: api-demo"),
        "{}",
        rendered.manifests
    );
    let seen = seen.lock().unwrap().clone();
    let token_asks: Vec<_> = seen
        .iter()
        .filter(|(path, _)| path.starts_with("/token"))
        .collect();
    // One token for the render: the download goes on with the one the listing was given,
    // asked for with the password.
    assert!(!token_asks.is_empty(), "{seen:?}");
    assert_eq!(token_asks.len(), 1, "{seen:?}");
    for (_, authorization) in &token_asks {
        assert!(
            authorization
                .as_deref()
                .is_some_and(|a| a.starts_with("Basic "))
        );
    }
    for (path, authorization) in seen.iter().filter(|(path, _)| path.starts_with("/v2/")) {
        assert!(
            authorization
                .as_deref()
                .is_none_or(|a| a.starts_with("Bearer ")),
            "the password went to the registry at {path}"
        );
    }

    let wrong = Credentials {
        username: "ci".into(),
        password: "not-the-pass".into(),
    };
    let error = helm
        .versions(&source(&reference, "demo", ""), Some(&wrong))
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceAuth, "{}", error.message);
    assert!(!error.message.contains("not-the-pass"), "{}", error.message);
    let error = helm
        .versions(&source(&reference, "demo", ""), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceAuth, "{}", error.message);

    // A token that runs out between the listing and the download (good for two requests
    // here): the download's 401 is answered with a fresh token, once.
    let (address, seen) = bearer_registry(archive, 2).await;
    let reference = format!("oci://{address}/charts");
    let rendered = helm
        .render(
            &source(&reference, "demo", "^1"),
            "",
            "api",
            "default",
            Some(&right),
        )
        .await
        .unwrap();
    assert!(rendered.manifests.contains("name: api-demo"));
    let seen = seen.lock().unwrap().clone();
    let asks = seen
        .iter()
        .filter(|(path, _)| path.starts_with("/token"))
        .count();
    assert_eq!(asks, 2, "{seen:?}");
}
