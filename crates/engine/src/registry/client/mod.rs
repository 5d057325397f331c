//! A client for the OCI distribution API: what tags a repository has and which manifest a tag
//! points at, read the way registries expect to be read.
//!
//! A [`Client`] holds the HTTP client (timeouts, rustls on ring, redirects only within the
//! registry) and the shared [`Budgets`]. A [`Repository`] comes from an [`ImageRef`]
//! (`nginx:1.27` is `registry-1.docker.io`, `library/nginx`). A [`Session`] talks to one
//! repository:
//!
//! 1. Requests go anonymous first. A 401's `WWW-Authenticate` challenge is answered once (see
//!    [`auth`]): basic credentials, or a bearer token from the realm, then kept for the rest
//!    of the session; an expired token is renewed from the same realm.
//! 2. Every answer's rate-limit headers update the host's budget; a 429 is an
//!    [`Error::RateLimited`] saying when to try again.
//! 3. [`Session::tags`] reads `/v2/<name>/tags/list` page by page (`n`, then the `Link: <…>;
//!    rel="next"` the registry sends, kept within the registry's origin and `/v2/`, never
//!    to a page already read, and for a bounded number of pages), and asks
//!    with `If-None-Match` when the caller has the list's `ETag`: a 304 is
//!    [`TagList::Unchanged`].
//! 4. [`Session::digest`] asks `HEAD /v2/<name>/manifests/<tag>` for `Docker-Content-Digest`,
//!    and reads the manifest with `GET` only when the registry does not say; the digest is then
//!    computed from the bytes and checked against the header when there is one.
//!
//! Bodies are read up to a limit, and no error carries a password or a token.

mod auth;
mod budget;
pub mod credentials;
mod error;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Deserialize;
use sha2::{Digest as _, Sha256, Sha512};

use super::reference::{self, ImageRef};
use auth::{Granted, Token};

pub use auth::Credentials;
// For Helm's OCI chart reader, which reads charts from registries the same way.
pub(crate) use auth::{Challenge, TokenAnswer, is_loopback, safe_for_credentials, token_url};
pub use budget::{Budget, Budgets, Failure};
pub use credentials::{Found, Origin, Places};
pub use error::{Error, Place, Result};

/// The manifest media types asked for: OCI index and manifest, Docker manifest list and v2.
pub const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// Docker Hub's API host, where `docker.io` images are read.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// How long the client waits, how much it reads, how far it pages.
#[derive(Debug, Clone)]
pub struct Limits {
    /// To open a connection.
    pub connect_timeout: Duration,
    /// For a whole request, body included.
    pub request_timeout: Duration,
    /// The largest tag-list page, manifest or token answer read, in bytes.
    pub body: usize,
    /// Tags asked for per page (`?n=`).
    pub page_size: usize,
    /// The most pages of one tag list read.
    pub pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            body: 4 * 1024 * 1024,
            page_size: 100,
            pages: 1000,
        }
    }
}

/// The HTTP side of every registry request, and the budgets they report. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    limits: Arc<Limits>,
    budgets: Budgets,
}

impl Client {
    /// A client with `limits`, recording rate limits into `budgets`.
    pub fn new(limits: Limits, budgets: Budgets) -> Result<Client> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let setup = |e: rustls::Error| Error::Setup(e.to_string());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(setup)?;
        let tls = rustls_platform_verifier::BuilderVerifierExt::with_platform_verifier(tls)
            .map_err(setup)?
            .with_no_client_auth();
        // A redirect may stay within the origin; one elsewhere would carry the token with it.
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first().map(Url::origin);
            if attempt.previous().len() > 5 || first != Some(attempt.url().origin()) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.request_timeout)
            .redirect(redirects)
            .user_agent(concat!("tripline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Setup(e.without_url().to_string()))?;
        Ok(Client {
            http,
            limits: Arc::new(limits),
            budgets,
        })
    }

    /// The budgets this client records into.
    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    /// A session with `repository`, using `credentials` when the registry asks for them.
    pub fn session(&self, repository: Repository, credentials: Option<Credentials>) -> Session {
        Session {
            client: self.clone(),
            repository,
            credentials,
            granted: Granted::Nothing,
        }
    }
}

/// A repository in a registry, as the client reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// `https://host[:port]/` (plain http for this machine, or when asked).
    base: Url,
    place: Place,
}

impl Repository {
    /// The repository an image names: over https, or plain http when the registry is on this
    /// machine. Docker Hub (`docker.io`) is read at `registry-1.docker.io`.
    pub fn of(image: &ImageRef) -> Result<Repository> {
        let host = match image.registry() {
            reference::DOCKER_HUB => DOCKER_HUB_API,
            other => other,
        };
        let invalid = |reason: String| Error::Reference {
            reference: image.to_string(),
            reason,
        };
        let mut base = Url::parse(&format!("https://{host}/"))
            .map_err(|e| invalid(format!("`{host}` is not a registry host ({e})")))?;
        if auth::is_loopback(&base) {
            base.set_scheme("http").expect("http is a special scheme");
        }
        Ok(Repository {
            base,
            place: Place {
                registry: host.to_owned(),
                repository: image.repository().to_owned(),
            },
        })
    }

    /// The repository an image reference names (`nginx:1.27`, `ghcr.io/acme/api`); the tag
    /// or digest is ignored.
    pub fn parse(reference: &str) -> Result<Repository> {
        let image = ImageRef::parse(reference).map_err(|e| Error::Reference {
            reference: reference.to_owned(),
            reason: e.to_string(),
        })?;
        Repository::of(&image)
    }

    /// The registry at `host` itself, for [`Session::ping`]: over https, or plain http when it
    /// is on this machine. `docker.io` is `registry-1.docker.io`.
    pub fn registry(host: &str) -> Result<Repository> {
        let mut repository = Repository::parse(&format!("{host}/x"))?;
        repository.place.repository.clear();
        Ok(repository)
    }

    /// The same repository over plain http, for a registry without TLS on another machine.
    /// Credentials are never sent to it.
    pub fn plain_http(mut self) -> Repository {
        self.base
            .set_scheme("http")
            .expect("http is a special scheme");
        self
    }

    /// The registry host (with its port), the key of its [`Budget`].
    pub fn host(&self) -> &str {
        &self.place.registry
    }

    /// The repository's name in the registry (`library/nginx`).
    pub fn name(&self) -> &str {
        &self.place.repository
    }

    /// The registry's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, tail: &str) -> Url {
        self.base
            .join(&format!("v2/{}/{tail}", self.place.repository))
            .expect("a checked name joins to a URL")
    }
}

/// A repository's tags, or the news that they have not changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagList {
    /// The registry answered 304 to the `ETag` given.
    Unchanged,
    /// Every tag, in the registry's order, and the list's `ETag` when it sent one.
    Tags {
        /// The tags.
        tags: Vec<String>,
        /// The first page's `ETag`, to ask with next time.
        etag: Option<String>,
    },
}

/// The manifest a tag points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `sha256:…` (or `sha512:…`) of the manifest.
    pub digest: String,
    /// Its media type, when the registry said.
    pub media_type: Option<String>,
}

/// A conversation with one repository; holds the grant once a challenge was answered.
pub struct Session {
    client: Client,
    repository: Repository,
    credentials: Option<Credentials>,
    granted: Granted,
}

#[derive(Deserialize)]
struct TagsBody {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl Session {
    /// The repository this session reads.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// Every tag of the repository, page by page. With `etag` (from an earlier
    /// [`TagList::Tags`]) the first page is asked for conditionally, and a 304 is
    /// [`TagList::Unchanged`].
    pub async fn tags(&mut self, etag: Option<&str>) -> Result<TagList> {
        let limits = Arc::clone(&self.client.limits);
        let mut url = self.repository.url("tags/list");
        url.query_pairs_mut()
            .append_pair("n", &limits.page_size.to_string());
        let what = "the tag list";
        let mut conditional = HeaderMap::new();
        if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
            conditional.insert(header::IF_NONE_MATCH, etag);
        }
        let mut tags = Vec::new();
        let mut first_etag = None;
        let mut pages = 0;
        let mut read = HashSet::new();
        loop {
            let headers = if pages == 0 {
                std::mem::take(&mut conditional)
            } else {
                HeaderMap::new()
            };
            let response = self.request(Method::GET, &url, headers, what).await?;
            if response.status() == StatusCode::NOT_MODIFIED {
                if pages == 0 && etag.is_some() {
                    return Ok(TagList::Unchanged);
                }
                return Err(
                    self.invalid(what, "answered 304 to a request that was not conditional")
                );
            }
            if pages == 0 {
                first_etag = response
                    .headers()
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
            }
            let next = next_page(response.headers(), &url, &self.repository.base)
                .map_err(|reason| self.invalid(what, &reason))?;
            let body = self.body(response, what).await?;
            let page: TagsBody = serde_json::from_slice(&body)
                .map_err(|e| self.invalid(what, &format!("not a tag list: {e}")))?;
            for tag in page.tags.unwrap_or_default() {
                reference::check_tag(&tag).map_err(|e| self.invalid(what, &e.to_string()))?;
                tags.push(tag);
            }
            pages += 1;
            match next {
                None => {
                    return Ok(TagList::Tags {
                        tags,
                        etag: first_etag,
                    });
                }
                Some(_) if pages >= limits.pages => {
                    return Err(self.invalid(
                        what,
                        &format!("longer than {} pages; no more are read", limits.pages),
                    ));
                }
                Some(next) if next == url => {
                    return Err(self.invalid(what, "its next page is the page itself"));
                }
                Some(next) if read.contains(&next) => {
                    return Err(self.invalid(
                        what,
                        &format!(
                            "its next page `{}` was already read",
                            clip(next.as_str(), 120)
                        ),
                    ));
                }
                Some(next) => {
                    read.insert(std::mem::replace(&mut url, next));
                }
            }
        }
    }

    /// Asks the registry's API root (`GET /v2/`), answering its challenge with the session's
    /// credentials as `docker login` does: `true` when the registry asked for them and let
    /// them in, `false` when it answered without asking (it checked nothing). Refused
    /// credentials are an [`Error::Auth`].
    pub async fn ping(&mut self) -> Result<bool> {
        let url = self
            .repository
            .base
            .join("v2/")
            .expect("a base URL joins to /v2/");
        self.request(Method::GET, &url, HeaderMap::new(), "the API root")
            .await?;
        Ok(!matches!(self.granted, Granted::Nothing))
    }

    /// The manifest `tag` points at: its digest from `HEAD` (`Docker-Content-Digest`), or,
    /// when the registry does not send one, from the bytes of a `GET`.
    pub async fn digest(&mut self, tag: &str) -> Result<Manifest> {
        reference::check_tag(tag).map_err(|e| Error::Reference {
            reference: format!("{}:{tag}", self.repository.place),
            reason: e.to_string(),
        })?;
        let url = self.repository.url(&format!("manifests/{tag}"));
        let what = format!("tag {tag}");
        let mut accept = HeaderMap::new();
        accept.insert(header::ACCEPT, HeaderValue::from_static(MANIFEST_TYPES));
        let response = self
            .request(Method::HEAD, &url, accept.clone(), &what)
            .await?;
        let media_type = content_type(response.headers());
        if let Some(digest) = announced(response.headers())
            && reference::check_digest(&digest).is_ok()
        {
            return Ok(Manifest { digest, media_type });
        }
        let response = self.request(Method::GET, &url, accept, &what).await?;
        let media_type = content_type(response.headers());
        let announced = announced(response.headers());
        let what = format!("the manifest of {tag}");
        let body = self.body(response, &what).await?;
        let digest = match announced.as_deref() {
            Some(a) if a.starts_with("sha512:") => {
                format!("sha512:{}", hex::encode(Sha512::digest(&body)))
            }
            _ => format!("sha256:{}", hex::encode(Sha256::digest(&body))),
        };
        if let Some(announced) = announced
            && !announced.eq_ignore_ascii_case(&digest)
        {
            return Err(Error::DigestMismatch {
                at: self.repository.place.clone(),
                tag: tag.to_owned(),
                announced: clip(&announced, 140),
                computed: digest,
            });
        }
        Ok(Manifest { digest, media_type })
    }

    /// A request to the registry (see [`Self::send`]), its failure or success noted as the
    /// host's last outcome.
    async fn request(
        &mut self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        what: &str,
    ) -> Result<Response> {
        let result = self.send(method, url, headers, what).await;
        let budgets = &self.client.budgets;
        match &result {
            Ok(_) => budgets.record_success(self.repository.host()),
            Err(error) => budgets.record_failure(
                self.repository.host(),
                error.to_string(),
                error.answered(),
                Timestamp::now(),
            ),
        }
        result
    }

    /// A request to the registry, answering a 401 challenge once, renewing an expired token,
    /// recording the budget; statuses other than 2xx and 304 become errors.
    async fn send(
        &mut self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        what: &str,
    ) -> Result<Response> {
        if let Granted::Bearer(token) = &self.granted
            && token.expired(Instant::now())
        {
            let challenge = token.challenge.clone();
            self.answer(&challenge).await?;
        }
        let mut answered = false;
        loop {
            let mut request = self
                .client
                .http
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            request = match (&self.granted, &self.credentials) {
                (Granted::Bearer(token), _) => request.bearer_auth(&token.value),
                (Granted::Basic, Some(credentials)) => {
                    request.basic_auth(&credentials.username, Some(&credentials.password))
                }
                _ => request,
            };
            let response = request.send().await.map_err(|e| self.unreachable(e))?;
            let budget = self.client.budgets.record(
                self.repository.host(),
                response.headers(),
                Timestamp::now(),
            );
            let status = response.status();
            if status.is_success() || status == StatusCode::NOT_MODIFIED {
                return Ok(response);
            }
            if status == StatusCode::UNAUTHORIZED && !answered {
                let challenge = response
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Challenge::parse);
                if let Some(challenge) = challenge {
                    self.answer(&challenge).await?;
                    answered = true;
                    continue;
                }
            }
            return Err(self.status_error(status, budget, what));
        }
    }

    /// Answers a challenge: notes that basic credentials are to be sent, or fetches a token.
    async fn answer(&mut self, challenge: &Challenge) -> Result<()> {
        let place = self.repository.place.clone();
        if self.credentials.is_some() && !auth::safe_for_credentials(&self.repository.base) {
            return Err(Error::Insecure {
                at: place,
                url: self.repository.base.to_string(),
                reason: "plain http to another machine",
            });
        }
        match challenge {
            Challenge::Basic if self.credentials.is_some() => {
                self.granted = Granted::Basic;
                Ok(())
            }
            Challenge::Basic => Err(Error::Auth {
                at: place,
                reason: "the registry wants credentials (HTTP 401); give a username and password"
                    .into(),
            }),
            Challenge::Bearer { realm, service } => {
                let token = self.token(realm, service.as_deref()).await?;
                self.granted = Granted::Bearer(Token {
                    value: token.0,
                    expires: token.1,
                    challenge: challenge.clone(),
                });
                Ok(())
            }
        }
    }

    /// A pull token from the realm, asked with the credentials when there are any.
    async fn token(&self, realm: &str, service: Option<&str>) -> Result<(String, Option<Instant>)> {
        let place = self.repository.place.clone();
        let url =
            auth::token_url(realm, service, &place.repository).ok_or_else(|| Error::Auth {
                at: place.clone(),
                reason: format!(
                    "the registry names a token service at `{}`, which is not an http(s) URL",
                    clip(realm, 120)
                ),
            })?;
        let mut request = self.client.http.get(url.clone());
        if let Some(credentials) = &self.credentials {
            if !auth::safe_for_credentials(&url) {
                return Err(Error::Insecure {
                    at: place,
                    url: shown(&url),
                    reason: "the token service is plain http on another machine",
                });
            }
            request = if credentials.username == credentials::IDENTITY_TOKEN_USER {
                // An identity token (Docker's `identitytoken`, a helper's `<token>` user) is an
                // OAuth2 refresh token: posted to the realm as the token spec's form, as
                // Docker posts it, never sent as a password.
                let mut realm_only = url.clone();
                realm_only.set_query(Url::parse(realm).ok().as_ref().and_then(Url::query));
                let form: String = url
                    .query_pairs()
                    .filter(|(key, _)| key == "service" || key == "scope")
                    .fold(
                        form_urlencoded::Serializer::new(String::new()),
                        |mut form, (key, value)| {
                            form.append_pair(&key, &value);
                            form
                        },
                    )
                    .append_pair("grant_type", "refresh_token")
                    .append_pair("client_id", "tripline")
                    .append_pair("refresh_token", &credentials.password)
                    .finish();
                self.client
                    .http
                    .post(realm_only)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form)
            } else {
                request.basic_auth(&credentials.username, Some(&credentials.password))
            };
        }
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        let status = response.status();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(Error::Auth {
                at: place,
                reason: if self.credentials.is_some() {
                    format!(
                        "the token service at {} refused the credentials (HTTP {status})",
                        shown(&url)
                    )
                } else {
                    format!(
                        "the token service at {} wants credentials (HTTP {status})",
                        shown(&url)
                    )
                },
            });
        }
        if !status.is_success() {
            let budget = budget::read(response.headers(), Timestamp::now());
            return Err(self.status_error(status, budget, "a token"));
        }
        let received = Instant::now();
        let what = "the token service's answer";
        let body = self.body(response, what).await?;
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| self.invalid(what, &format!("not a token: {e}")))?;
        answer
            .into_token(received)
            .ok_or_else(|| self.invalid(what, "it holds no token"))
    }

    /// Reads a body, at most the limit: a declared length past it is refused before reading,
    /// and a body that keeps coming is cut off as soon as it passes it.
    async fn body(&self, mut response: Response, what: &str) -> Result<Vec<u8>> {
        let limit = self.client.limits.body;
        let too_large = || Error::TooLarge {
            at: self.repository.place.clone(),
            what: what.to_owned(),
            limit,
        };
        let declared = response.content_length().unwrap_or(0);
        if declared > limit as u64 {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity((declared as usize).min(limit));
        while let Some(chunk) = response.chunk().await.map_err(|e| self.unreachable(e))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn status_error(&self, status: StatusCode, budget: Option<Budget>, what: &str) -> Error {
        let at = self.repository.place.clone();
        match status {
            StatusCode::TOO_MANY_REQUESTS => Error::RateLimited {
                at,
                retry_at: budget.and_then(|b| b.retry_at),
                budget: budget.map(Box::new),
            },
            StatusCode::NOT_FOUND => Error::NotFound {
                at,
                what: what.to_owned(),
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Auth {
                at,
                reason: match (&self.credentials, &self.granted) {
                    (Some(_), _) => format!(
                        "the credentials were refused (HTTP {status}); check the username and \
                         password"
                    ),
                    (None, Granted::Bearer(_)) => format!(
                        "an anonymous token is not enough (HTTP {status}); give a username and \
                         password"
                    ),
                    (None, _) => {
                        format!("the registry wants credentials (HTTP {status})")
                    }
                },
            },
            status if status.is_server_error() => Error::Unreachable {
                at,
                reason: format!("it answered HTTP {status} for {what}"),
            },
            status if status.is_redirection() => Error::Invalid {
                at,
                what: what.to_owned(),
                reason: format!("redirected (HTTP {status}) to another origin, not followed"),
            },
            status => Error::Invalid {
                at,
                what: what.to_owned(),
                reason: format!("the registry answered HTTP {status}"),
            },
        }
    }

    fn unreachable(&self, error: reqwest::Error) -> Error {
        let reason = if error.is_timeout() {
            "it did not answer in time".to_owned()
        } else if error.is_connect() {
            format!("could not connect ({})", root_cause(&error))
        } else {
            root_cause(&error)
        };
        Error::Unreachable {
            at: self.repository.place.clone(),
            reason,
        }
    }

    fn invalid(&self, what: &str, reason: &str) -> Error {
        Error::Invalid {
            at: self.repository.place.clone(),
            what: what.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

/// `Docker-Content-Digest`, lower-cased, when it is text.
fn announced(headers: &HeaderMap) -> Option<String> {
    headers
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| clip(v.split(';').next().unwrap_or(v).trim(), 200))
}

/// The next page of a tag list from its `Link` header (`<url>; rel="next"`), resolved
/// against the page's URL. `Ok(None)` when there is none; an error names a link that leaves
/// the registry (another scheme, host or port, or a path outside `/v2/`), which would carry
/// the session's token elsewhere.
pub(crate) fn next_page(
    headers: &HeaderMap,
    page: &Url,
    base: &Url,
) -> Result<Option<Url>, String> {
    for value in headers.get_all(header::LINK) {
        let Ok(value) = value.to_str() else {
            return Err("paged with a Link header that is not text".into());
        };
        for link in value.split(',') {
            let Some((target, params)) = link.trim().split_once('>') else {
                continue;
            };
            let Some(target) = target.trim().strip_prefix('<') else {
                continue;
            };
            let next = params.split(';').any(|param| {
                param
                    .trim()
                    .strip_prefix("rel=")
                    .is_some_and(|rel| rel.trim_matches('"').split(' ').any(|r| r == "next"))
            });
            if !next {
                continue;
            }
            let url = page
                .join(target)
                .map_err(|e| format!("paged with a next link that is not a URL ({e})"))?;
            if url.origin() != base.origin() || !url.path().starts_with("/v2/") {
                return Err(format!(
                    "paged with a next link outside the registry (`{}`)",
                    clip(target, 120)
                ));
            }
            return Ok(Some(url));
        }
    }
    Ok(None)
}

/// The innermost cause's text: reqwest's own message repeats the URL.
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// A URL as messages show it: no username, password, query or fragment.
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// At most `max` characters of a value a server sent, for a message.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
