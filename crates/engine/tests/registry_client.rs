//! The registry client against real registries and hostile ones.
//!
//! Debian's `docker-registry` runs on loopback, anonymous and behind htpasswd; `skopeo copy`
//! pushes images into it, moves `latest` and deletes. What that registry cannot show (paging,
//! since it ignores `?n=`; `ETag`s; bearer challenges; rate limits; broken answers) is shown
//! by a small registry served here, answering as the distribution API and Docker Hub do, or
//! as a broken or hostile registry would.
//!
//! Without `docker-registry`, `skopeo` or `htpasswd` a test prints `SKIPPED: …` and passes,
//! unless `TRIPLINE_REQUIRE_SOURCES=1`, when it fails naming what is missing.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use testbed::{Registry, RegistryAuth, oci_layout, require};
use tripline_engine::registry::client::{
    Budgets, Client, Credentials, Error, Limits, Repository, TagList,
};

const USER: &str = "ci";
const PASSWORD: &str = "correct-horse-battery";
const TOKEN: &str = "tok-3f9a1c";

fn client() -> Client {
    client_with(Limits::default())
}

fn client_with(limits: Limits) -> Client {
    Client::new(limits, Budgets::new()).unwrap()
}

fn repository(host: impl std::fmt::Display, name: &str) -> Repository {
    Repository::parse(&format!("{host}/{name}")).unwrap()
}

async fn tags(client: &Client, repository: Repository) -> Result<Vec<String>, Error> {
    match client.session(repository, None).tags(None).await? {
        TagList::Tags { mut tags, .. } => {
            tags.sort();
            Ok(tags)
        }
        TagList::Unchanged => panic!("no ETag was given"),
    }
}

/// An OCI layout on disk with one image labelled `label`.
fn layout(label: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let digest = oci_layout(dir.path(), label).unwrap();
    (dir, digest)
}

// ---- docker-registry ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_registry_shows_pushes_moved_tags_and_deletes() {
    if !require(Registry::IMAGE_TOOLS) {
        return;
    }
    let registry = Registry::start(None).unwrap();
    let (first, _) = layout("first");
    let (second, _) = layout("second");
    let one = registry
        .copy_image(first.path(), "demo/app:1.0", None)
        .unwrap();
    registry
        .copy_image(first.path(), "demo/app:latest", None)
        .unwrap();
    let two = registry
        .copy_image(second.path(), "demo/app:2.0", None)
        .unwrap();
    assert_ne!(one, two);

    let client = client();
    let repo = repository(registry.host(), "demo/app");
    assert_eq!(
        tags(&client, repo.clone()).await.unwrap(),
        ["1.0", "2.0", "latest"]
    );
    let mut session = client.session(repo.clone(), None);
    let latest = session.digest("latest").await.unwrap();
    assert_eq!(latest.digest, one);
    assert_eq!(
        latest.media_type.as_deref(),
        Some("application/vnd.oci.image.manifest.v1+json")
    );

    // `latest` moves: the same session sees the new digest.
    registry
        .copy_image(second.path(), "demo/app:latest", None)
        .unwrap();
    assert_eq!(session.digest("latest").await.unwrap().digest, two);

    // Deleting the manifest 1.0 points at takes the tag with it.
    registry.delete_image("demo/app:1.0", None).unwrap();
    let error = session.digest("1.0").await.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("tag 1.0"), "{error}");
    assert_eq!(tags(&client, repo).await.unwrap(), ["2.0", "latest"]);

    let error = tags(&client, repository(registry.host(), "demo/none"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    // This registry reports no rate limit.
    assert!(client.budgets().all().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_behind_htpasswd_wants_the_right_password() {
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
    let (image, _) = layout("private");
    let pushed = registry
        .copy_image(image.path(), "team/api:1.0", Some((USER, PASSWORD)))
        .unwrap();

    let client = client();
    let repo = repository(registry.host(), "team/api");
    for (credentials, shown) in [
        (None, "wants credentials"),
        (Some(Credentials::new(USER, "wrong-password")), "refused"),
    ] {
        let error = client
            .session(repo.clone(), credentials)
            .tags(None)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Auth { .. }), "{error}");
        let text = error.to_string();
        assert!(text.contains(shown) && text.contains("team/api"), "{text}");
        assert!(!text.contains("wrong-password"), "{text}");
    }

    let mut session = client.session(repo, Some(Credentials::new(USER, PASSWORD)));
    assert_eq!(
        session.tags(None).await.unwrap(),
        TagList::Tags {
            tags: vec!["1.0".into()],
            etag: None
        }
    );
    assert_eq!(session.digest("1.0").await.unwrap().digest, pushed);
}

// ---- a registry served here -----------------------------------------------------------------

/// A request the fake registry saw.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: String,
    authorization: Option<String>,
}

/// The distribution API as this test needs it, by repository:
///
/// - `demo/many`: 251 tags, paged by `n`/`last` as distribution v3 does, with an `ETag`.
/// - `demo/away`, `demo/again`, `demo/cycle`, `demo/endless`: next links elsewhere, to
///   itself, back to the first page, forever.
/// - `demo/limited`, `demo/dated`: 429 with `Retry-After` in seconds and as a date, and
///   Docker Hub's `RateLimit-*` headers; `demo/counted` answers with the headers only.
/// - `demo/huge`, `demo/broken`, `demo/odd`: too large, not JSON, a tag that is not a tag.
/// - `demo/img`: manifests whose `HEAD` has a digest (`headed`), has none (`plain`,
///   `silent`), or whose `GET` announces a digest its bytes do not have (`forged`).
/// - `private/app`: bearer tokens from `/token`, which wants [`USER`] and [`PASSWORD`];
///   `brief/app` the same, with tokens that live two seconds (one, less the margin).
/// - `basic/app`: a basic challenge; `faraway/app`: a token service on plain http elsewhere.
/// - `slow/app`: never answers.
struct Fake {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    async fn start() -> Fake {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = Arc::clone(&seen);
        let router = Router::new().fallback(move |request: Request| {
            let log = Arc::clone(&log);
            async move {
                let authorization = request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                log.lock().unwrap().push(Seen {
                    method: request.method().clone(),
                    uri: request.uri().to_string(),
                    authorization,
                });
                answer(request).await
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Fake { address, seen }
    }

    fn repository(&self, name: &str) -> Repository {
        repository(self.address, name)
    }

    fn seen(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
const MANY_ETAG: &str = "\"many-v1\"";

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn json(body: String, headers: &[(&'static str, String)]) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    response
}

fn tag_page(tags: &[String]) -> String {
    serde_json::json!({ "name": "x", "tags": tags }).to_string()
}

fn basic(user: &str, password: &str) -> String {
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {pair}")
}

async fn answer(request: Request) -> Response {
    let uri = request.uri().clone();
    let headers = request.headers().clone();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let path = uri.path();
    if path == "/token" {
        return token(&authorization, get("scope"));
    }
    let bearer = path.starts_with("/v2/private/") || path.starts_with("/v2/brief/");
    if bearer && authorization != format!("Bearer {TOKEN}") {
        let challenge = format!(r#"Bearer realm="http://{host}/token",service="fake""#);
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response();
    }
    if path.starts_with("/v2/faraway/") && !authorization.starts_with("Bearer ") {
        let challenge = r#"Bearer realm="http://auth.example.invalid/token",service="fake""#;
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response();
    }
    if path.starts_with("/v2/basic/") && authorization != basic(USER, PASSWORD) {
        let challenge = r#"Basic realm="fake""#;
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response();
    }
    let n: usize = get("n").and_then(|n| n.parse().ok()).unwrap_or(usize::MAX);
    let one = || tag_page(&["1.0".into()]);
    match path {
        "/v2/demo/many/tags/list" => {
            let if_none_match = headers.get(header::IF_NONE_MATCH);
            if if_none_match.is_some_and(|v| v == MANY_ETAG) {
                return StatusCode::NOT_MODIFIED.into_response();
            }
            let mut all: Vec<String> = (0..250).map(|m| format!("1.{m}.0")).collect();
            all.push("9.0.0".into());
            all.sort();
            let after = get("last");
            let rest: Vec<String> = all
                .into_iter()
                .filter(|t| after.as_ref().is_none_or(|a| t > a))
                .collect();
            let page: Vec<String> = rest.iter().take(n).cloned().collect();
            let mut extra = vec![("etag", MANY_ETAG.to_owned())];
            if rest.len() > page.len() {
                let last = page.last().unwrap();
                extra.push((
                    "link",
                    format!("</v2/demo/many/tags/list?last={last}&n={n}>; rel=\"next\""),
                ));
            }
            json(tag_page(&page), &extra)
        }
        "/v2/demo/away/tags/list" => json(
            one(),
            &[(
                "link",
                "<http://example.invalid/v2/demo/away/tags/list?last=a>; rel=\"next\"".into(),
            )],
        ),
        "/v2/demo/again/tags/list" => json(one(), &[("link", format!("<{uri}>; rel=\"next\""))]),
        "/v2/demo/cycle/tags/list" => {
            let link = match get("last") {
                None => "</v2/demo/cycle/tags/list?last=b>; rel=\"next\"",
                Some(_) => "</v2/demo/cycle/tags/list?n=100>; rel=\"next\"",
            };
            json(one(), &[("link", link.into())])
        }
        "/v2/demo/endless/tags/list" => {
            let last: u64 = get("last").and_then(|l| l.parse().ok()).unwrap_or(0);
            let next = last + 1;
            json(
                tag_page(&[format!("t{next}")]),
                &[(
                    "link",
                    format!("</v2/demo/endless/tags/list?last={next}>; rel=\"next\""),
                )],
            )
        }
        "/v2/demo/limited/tags/list" => {
            let mut response = json(
                r#"{"errors":[{"code":"TOOMANYREQUESTS"}]}"#.into(),
                &[
                    ("retry-after", "120".into()),
                    ("ratelimit-limit", "100;w=21600".into()),
                    ("ratelimit-remaining", "0;w=21600".into()),
                ],
            );
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            response
        }
        "/v2/demo/dated/tags/list" => {
            let mut response = json(
                String::new(),
                &[("retry-after", "Fri, 01 Jan 2100 00:00:00 GMT".into())],
            );
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            response
        }
        "/v2/demo/counted/tags/list" => json(
            one(),
            &[
                ("ratelimit-limit", "100;w=21600".into()),
                ("ratelimit-remaining", "76;w=21600".into()),
            ],
        ),
        "/v2/demo/huge/tags/list" => {
            let tags: Vec<String> = (0..4000).map(|i| format!("tag-{i}")).collect();
            json(tag_page(&tags), &[])
        }
        "/v2/demo/broken/tags/list" => json(r#"{"tags": ["1.0", "#.into(), &[]),
        "/v2/demo/odd/tags/list" => json(tag_page(&["1.0".into(), "../x".into()]), &[]),
        "/v2/private/app/tags/list"
        | "/v2/brief/app/tags/list"
        | "/v2/basic/app/tags/list"
        | "/v2/faraway/app/tags/list" => json(one(), &[]),
        "/v2/demo/img/manifests/plain" => {
            manifest(request.method(), Some(sha256(MANIFEST.as_bytes())), false)
        }
        "/v2/private/app/manifests/1.0" | "/v2/demo/img/manifests/headed" => {
            manifest(request.method(), Some(sha256(MANIFEST.as_bytes())), true)
        }
        "/v2/demo/img/manifests/silent" => manifest(request.method(), None, false),
        "/v2/demo/img/manifests/forged" => manifest(
            request.method(),
            Some(format!("sha256:{}", "ab".repeat(32))),
            false,
        ),
        "/v2/slow/app/tags/list" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            json(one(), &[])
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A manifest: `GET` sends its bytes with `digest`; `HEAD` sends the digest only when
/// `head_digest`.
fn manifest(method: &Method, digest: Option<String>, head_digest: bool) -> Response {
    let media = "application/vnd.oci.image.manifest.v1+json";
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    if let Some(digest) = digest
        && (*method == Method::GET || head_digest)
    {
        headers.insert(
            "docker-content-digest",
            HeaderValue::from_str(&digest).unwrap(),
        );
    }
    if *method == Method::HEAD {
        return (headers, "").into_response();
    }
    (headers, MANIFEST).into_response()
}

/// The token service: a token for [`USER`] (for two seconds for `brief/app`), nothing for a
/// wrong password, an anonymous token
/// (which `private/app` refuses) for no one.
fn token(authorization: &str, scope: Option<String>) -> Response {
    let expires_in = match scope.as_deref() {
        Some("repository:private/app:pull") => 300,
        Some("repository:brief/app:pull") => 2,
        _ => return StatusCode::BAD_REQUEST.into_response(),
    };
    if authorization.is_empty() {
        return json(r#"{"token":"anon-tok-77"}"#.into(), &[]);
    }
    if authorization != basic(USER, PASSWORD) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    json(
        serde_json::json!({ "token": TOKEN, "expires_in": expires_in }).to_string(),
        &[],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_tag_list_is_read_page_by_page_and_asked_for_again_with_its_etag() {
    let fake = Fake::start().await;
    let client = client();
    let mut session = client.session(fake.repository("demo/many"), None);
    let TagList::Tags { tags, etag } = session.tags(None).await.unwrap() else {
        panic!("unconditional");
    };
    assert_eq!(tags.len(), 251);
    assert_eq!(tags.last().map(String::as_str), Some("9.0.0"));
    assert_eq!(etag.as_deref(), Some(MANY_ETAG));
    let asked: Vec<String> = fake.seen().into_iter().map(|s| s.uri).collect();
    assert_eq!(
        asked,
        [
            "/v2/demo/many/tags/list?n=100",
            "/v2/demo/many/tags/list?last=1.188.0&n=100",
            "/v2/demo/many/tags/list?last=1.53.0&n=100",
        ]
    );
    assert_eq!(
        session.tags(etag.as_deref()).await.unwrap(),
        TagList::Unchanged
    );
    assert_eq!(fake.seen().len(), 1, "a 304 costs one request");
    // A stale ETag gets the whole list.
    assert!(matches!(
        session.tags(Some("\"old\"")).await.unwrap(),
        TagList::Tags { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_links_that_leave_the_registry_loop_or_never_end_are_refused() {
    let fake = Fake::start().await;
    let client = client_with(Limits {
        pages: 5,
        ..Limits::default()
    });
    for (name, expected) in [
        ("demo/away", "outside the registry"),
        ("demo/again", "the page itself"),
        ("demo/cycle", "already read"),
        ("demo/endless", "longer than 5 pages"),
    ] {
        let error = tags(&client, fake.repository(name)).await.unwrap_err();
        assert!(matches!(error, Error::Invalid { .. }), "{name}: {error}");
        let text = error.to_string();
        assert!(text.contains(expected) && text.contains(name), "{text}");
    }
    assert!(
        fake.seen()
            .iter()
            .all(|s| !s.uri.contains("example.invalid")),
        "nothing went elsewhere"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_say_when_to_try_again_and_budgets_are_kept_per_host() {
    let fake = Fake::start().await;
    let client = client();
    let host = fake.address.to_string();

    tags(&client, fake.repository("demo/counted"))
        .await
        .unwrap();
    let budget = client.budgets().get(&host).unwrap();
    assert_eq!((budget.limit, budget.remaining), (Some(100), Some(76)));
    assert_eq!(budget.window, Some(Duration::from_secs(21600)));

    let before = jiff::Timestamp::now();
    let error = tags(&client, fake.repository("demo/limited"))
        .await
        .unwrap_err();
    let Error::RateLimited {
        retry_at: Some(retry_at),
        ..
    } = &error
    else {
        panic!("{error}");
    };
    let wait = retry_at.duration_since(before).as_secs();
    assert!((119..=125).contains(&wait), "{wait}");
    assert!(error.to_string().contains("try again after"), "{error}");
    // Another client sharing the budgets sees what is left.
    let shared = Client::new(Limits::default(), client.budgets().clone()).unwrap();
    assert_eq!(shared.budgets().get(&host).unwrap().remaining, Some(0));

    let error = tags(&client, fake.repository("demo/dated"))
        .await
        .unwrap_err();
    assert_eq!(
        error.retry_at(),
        Some("2100-01-01T00:00:00Z".parse().unwrap()),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_answers_are_refused_with_what_was_wrong() {
    let fake = Fake::start().await;
    let client = client_with(Limits {
        body: 16 * 1024,
        ..Limits::default()
    });
    let error = tags(&client, fake.repository("demo/huge"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TooLarge { .. }), "{error}");
    let error = tags(&client, fake.repository("demo/broken"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Invalid { reason, .. } if reason.contains("not a tag list")),
        "{error}"
    );
    let error = tags(&client, fake.repository("demo/odd"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Invalid { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_never_answers_times_out() {
    let fake = Fake::start().await;
    let client = client_with(Limits {
        request_timeout: Duration::from_millis(500),
        ..Limits::default()
    });
    let started = std::time::Instant::now();
    let error = tags(&client, fake.repository("slow/app"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Unreachable { reason, .. } if reason.contains("in time")),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_come_from_head_or_from_the_manifests_bytes() {
    let fake = Fake::start().await;
    let client = client();
    let mut session = client.session(fake.repository("demo/img"), None);
    let expected = sha256(MANIFEST.as_bytes());

    assert_eq!(session.digest("headed").await.unwrap().digest, expected);
    let methods: Vec<Method> = fake.seen().into_iter().map(|s| s.method).collect();
    assert_eq!(
        methods,
        [Method::HEAD],
        "HEAD is enough when it names the digest"
    );

    for tag in ["plain", "silent"] {
        let manifest = session.digest(tag).await.unwrap();
        assert_eq!(manifest.digest, expected, "{tag}");
        let methods: Vec<Method> = fake.seen().into_iter().map(|s| s.method).collect();
        assert_eq!(methods, [Method::HEAD, Method::GET], "{tag}");
    }

    let error = session.digest("forged").await.unwrap_err();
    assert!(matches!(error, Error::DigestMismatch { .. }), "{error}");
    assert!(error.to_string().contains(&expected), "{error}");

    let error = session.digest("missing").await.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    let error = session.digest("../x").await.unwrap_err();
    assert!(matches!(error, Error::Reference { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_challenge_gets_one_token_for_the_session() {
    let fake = Fake::start().await;
    let client = client();
    let mut session = client.session(
        fake.repository("private/app"),
        Some(Credentials::new(USER, PASSWORD)),
    );
    assert!(matches!(
        session.tags(None).await.unwrap(),
        TagList::Tags { .. }
    ));
    session.digest("1.0").await.unwrap();
    let seen = fake.seen();
    let paths: Vec<&str> = seen
        .iter()
        .map(|s| s.uri.split('?').next().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/v2/private/app/tags/list",
            "/token",
            "/v2/private/app/tags/list",
            "/v2/private/app/manifests/1.0",
        ]
    );
    assert_eq!(seen[1].authorization, Some(basic(USER, PASSWORD)));
    assert!(seen[1].uri.contains("service=fake"), "{}", seen[1].uri);
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(seen[3].authorization.as_deref(), Some(bearer.as_str()));

    // A wrong password is refused by the token service; no credentials get an anonymous
    // token the registry refuses.
    for credentials in [Some(Credentials::new(USER, "wrong-password")), None] {
        let error = client
            .session(fake.repository("private/app"), credentials)
            .tags(None)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Auth { .. }), "{error}");
        let text = format!("{error} {error:?}");
        assert!(
            !text.contains("wrong-password") && !text.contains("anon-tok-77"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_before_the_next_request() {
    let fake = Fake::start().await;
    let client = client();
    let mut session = client.session(
        fake.repository("brief/app"),
        Some(Credentials::new(USER, PASSWORD)),
    );
    let paths = |seen: Vec<Seen>| -> Vec<String> {
        seen.into_iter()
            .map(|s| s.uri.split('?').next().unwrap().to_owned())
            .collect()
    };
    session.tags(None).await.unwrap();
    assert_eq!(
        paths(fake.seen()),
        [
            "/v2/brief/app/tags/list",
            "/token",
            "/v2/brief/app/tags/list"
        ]
    );
    session.tags(None).await.unwrap();
    assert_eq!(
        paths(fake.seen()),
        ["/v2/brief/app/tags/list"],
        "still good"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    session.tags(None).await.unwrap();
    assert_eq!(
        paths(fake.seen()),
        ["/token", "/v2/brief/app/tags/list"],
        "renewed without a 401"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_go_only_where_they_are_safe() {
    let fake = Fake::start().await;
    let client = client();
    // Basic auth to the registry on this machine.
    let mut session = client.session(
        fake.repository("basic/app"),
        Some(Credentials::new(USER, PASSWORD)),
    );
    assert!(matches!(
        session.tags(None).await.unwrap(),
        TagList::Tags { .. }
    ));

    // A token service on plain http on another machine does not get the password.
    let error = client
        .session(
            fake.repository("faraway/app"),
            Some(Credentials::new(USER, PASSWORD)),
        )
        .tags(None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Insecure { .. }), "{error}");
    assert!(
        error.to_string().contains("auth.example.invalid"),
        "{error}"
    );
    assert!(
        fake.seen()
            .iter()
            .filter(|s| s.uri.contains("faraway"))
            .all(|s| s.authorization.is_none())
    );
}

// ---- docker-registry with token auth --------------------------------------------------------

/// A token service for docker-registry's `auth: token`: RS256 JWTs carrying their signing
/// certificate (`x5c`), which the registry trusts as its root bundle. [`USER`] with
/// [`PASSWORD`] gets the actions asked for; anyone else an anonymous token granting nothing;
/// a wrong password a 401.
struct Issuer {
    address: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
    certificate: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

const SERVICE: &str = "tripline-registry";
const ISSUER: &str = "tripline-issuer";

impl Issuer {
    async fn start() -> Issuer {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "openssl {args:?}: {out:?}");
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-subj",
            "/CN=tripline-issuer",
            "-days",
            "2",
        ]);
        openssl(&[
            "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER", "-out", "key.der",
        ]);
        openssl(&[
            "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
        ]);
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(std::fs::read(path("key.der")).unwrap().into());
        let key = rustls::crypto::ring::sign::any_supported_type(&key).unwrap();
        let certificate = base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(path("cert.der")).unwrap());
        let asked: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = Arc::clone(&asked);
        let router = Router::new().fallback(move |request: Request| {
            let log = Arc::clone(&log);
            let key = Arc::clone(&key);
            let certificate = certificate.clone();
            async move {
                log.lock().unwrap().push(request.uri().to_string());
                let query: Vec<(String, String)> = request
                    .uri()
                    .query()
                    .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                    .unwrap_or_default();
                let authorization = request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let granted = if authorization == basic(USER, PASSWORD) {
                    true
                } else if authorization.is_empty() {
                    false
                } else {
                    return StatusCode::UNAUTHORIZED.into_response();
                };
                let access: Vec<serde_json::Value> = query
                    .iter()
                    .filter(|(k, _)| k == "scope" && granted)
                    .filter_map(|(_, scope)| {
                        let mut parts = scope.split(':');
                        let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                        Some(serde_json::json!({
                            "type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()
                        }))
                    })
                    .collect();
                let now = jiff::Timestamp::now().as_second();
                let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "x5c": [certificate] });
                let claims = serde_json::json!({
                    "iss": ISSUER, "sub": if granted { USER } else { "" }, "aud": SERVICE,
                    "exp": now + 300, "nbf": now - 10, "iat": now,
                    "jti": format!("{now}-{}", log.lock().unwrap().len()), "access": access,
                });
                let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let signed = format!(
                    "{}.{}",
                    url.encode(header.to_string()),
                    url.encode(claims.to_string())
                );
                let signer = key
                    .choose_scheme(&[rustls::SignatureScheme::RSA_PKCS1_SHA256])
                    .unwrap();
                let signature = signer.sign(signed.as_bytes()).unwrap();
                let token = format!("{signed}.{}", url.encode(signature));
                json(
                    serde_json::json!({ "token": token, "expires_in": 300 }).to_string(),
                    &[],
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Issuer {
            address,
            asked,
            certificate: path("cert.pem"),
            _dir: dir,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_with_token_auth_is_read_with_a_token_from_its_realm() {
    if !require(&["docker-registry", "skopeo", "openssl"]) {
        return;
    }
    let issuer = Issuer::start().await;
    let registry = Registry::start_with(
        None,
        RegistryAuth::Token {
            realm: format!("http://{}/token", issuer.address),
            service: SERVICE.into(),
            issuer: ISSUER.into(),
            root_certificate: issuer.certificate.clone(),
        },
    )
    .unwrap();
    let (image, _) = layout("tokens");
    let pushed = tokio::task::block_in_place(|| {
        registry.copy_image(image.path(), "team/web:3.1", Some((USER, PASSWORD)))
    })
    .unwrap();
    issuer.asked.lock().unwrap().clear();

    let client = client();
    let repo = repository(registry.host(), "team/web");
    let mut session = client.session(repo.clone(), Some(Credentials::new(USER, PASSWORD)));
    assert_eq!(
        session.tags(None).await.unwrap(),
        TagList::Tags {
            tags: vec!["3.1".into()],
            etag: None
        }
    );
    assert_eq!(session.digest("3.1").await.unwrap().digest, pushed);
    let asked = std::mem::take(&mut *issuer.asked.lock().unwrap());
    assert_eq!(asked.len(), 1, "one token for the session: {asked:?}");
    assert!(
        asked[0].contains("scope=repository%3Ateam%2Fweb%3Apull")
            && asked[0].contains("service=tripline-registry"),
        "{asked:?}"
    );

    for credentials in [Some(Credentials::new(USER, "wrong-password")), None] {
        let error = client
            .session(repo.clone(), credentials)
            .tags(None)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Auth { .. }), "{error}");
        assert!(!error.to_string().contains("wrong-password"), "{error}");
    }
}
