//! Charts in OCI registries (`oci://host/path`), read through the distribution API the way
//! `helm pull` reads them.
//!
//! The chart `name` under `oci://host/path` is the repository `path/name`. Its tags are the
//! chart versions, with `+` written as `_` (tags cannot hold `+`). A version's manifest names
//! the chart layer (`application/vnd.cncf.helm.chart.content.v1.tar+gzip`); the manifest's
//! sha256 is the revision's digest and the layer's sha256 is checked against the manifest
//! before the archive is used. A registry that answers 401 with a `Bearer` challenge gets the
//! usual token dance: a token from the realm it names, for `repository:<name>:pull`, asked
//! with the credentials if there are any.

use reqwest::{Client, Response, StatusCode, Url, header};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::fetch::{self, Auth};
use super::{Credentials, SourceError};
use crate::error::Code;
use crate::registry::client::{
    Challenge, TokenAnswer, is_loopback, next_page, safe_for_credentials, token_url,
};

/// The media type Helm gives a chart's archive layer.
pub(super) const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Manifests and tag lists are small; a registry sending more is not well.
const SMALL_BODY: usize = 4 * 1024 * 1024;
/// Tags asked for per page of a tag list (`?n=`): what every registry serves.
const TAG_PAGE: usize = 100;
/// The most pages of a tag list read: 100,000 tags.
const TAG_PAGES: usize = 1000;

/// A chart repository in a registry.
#[derive(Debug, Clone)]
pub(super) struct Repository {
    /// `https://host` or `http://host` (with the port).
    base: Url,
    /// The repository's name in the registry: `path/chart`.
    pub name: String,
}

impl Repository {
    /// Reads `oci://host[:port][/path]` and a chart name. Plain HTTP is used for loopback
    /// hosts and when `plain_http` is set.
    pub(super) fn new(reference: &str, chart: &str, plain_http: bool) -> Result<Self, String> {
        let rest = reference
            .strip_prefix("oci://")
            .ok_or("an OCI reference starts with oci://")?;
        let rest = rest.trim_end_matches('/');
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() || host.contains('@') {
            return Err(format!(
                "`{reference}` names no registry host (credentials go in their own fields)"
            ));
        }
        let mut base = Url::parse(&format!("https://{host}/"))
            .map_err(|e| format!("`{host}` is not a registry host ({e})"))?;
        if base.path() != "/" || base.query().is_some() {
            return Err(format!("`{host}` is not a registry host"));
        }
        if plain_http || is_loopback(&base) {
            // From one special scheme to another: cannot fail.
            let _ = base.set_scheme("http");
        }
        let name = if path.is_empty() {
            chart.to_owned()
        } else {
            format!("{path}/{chart}")
        };
        if !valid_name(&name) {
            return Err(format!(
                "`{name}` is not a registry repository name (lowercase letters, digits, and \
                 `.`, `_`, `-` between them, in `/`-separated parts)"
            ));
        }
        Ok(Repository { base, name })
    }

    /// `https://host/` or `http://host/`.
    pub(super) fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, tail: &str) -> Url {
        self.base
            .join(&format!("v2/{}/{tail}", self.name))
            .expect("a checked name joins to a URL")
    }

    /// The reference as people write it, for messages.
    pub(super) fn shown(&self) -> String {
        let host = self.base.host_str().unwrap_or("");
        match self.base.port() {
            Some(port) => format!("oci://{host}:{port}/{}", self.name),
            None => format!("oci://{host}/{}", self.name),
        }
    }
}

/// The distribution spec's repository name grammar.
fn valid_name(name: &str) -> bool {
    name.len() <= 255
        && name.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && part.starts_with(|c: char| c.is_ascii_alphanumeric())
                && part.ends_with(|c: char| c.is_ascii_alphanumeric())
        })
}

/// A session with one registry repository: holds the token once one was needed.
pub(super) struct Session<'a> {
    client: &'a Client,
    repository: &'a Repository,
    credentials: Option<&'a Credentials>,
    granted: Granted,
    /// `granted` came from an earlier session ([`Session::resume`]): a 401 may mean it ran
    /// out, and is answered afresh once.
    resumed: bool,
}

/// What a 401 challenge asked for, once answered; sent with every later request.
pub(super) enum Granted {
    /// No challenge yet.
    Nothing,
    /// The credentials, as basic auth.
    Basic,
    /// A token from the registry's token service.
    Bearer(String),
}

/// A chart version's manifest, as far as it matters.
#[derive(Debug, Clone)]
pub(super) struct Manifest {
    /// `sha256:…` of the manifest itself.
    pub digest: String,
    /// `sha256:…` of the chart layer.
    pub layer_digest: String,
    /// The chart layer's size as the manifest states it.
    pub layer_size: u64,
}

#[derive(Deserialize)]
struct Tags {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ManifestBody {
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
}

impl<'a> Session<'a> {
    pub(super) fn new(
        client: &'a Client,
        repository: &'a Repository,
        credentials: Option<&'a Credentials>,
    ) -> Self {
        Session {
            client,
            repository,
            credentials,
            granted: Granted::Nothing,
            resumed: false,
        }
    }

    /// A session that starts with what an earlier one was granted (see
    /// [`Session::into_granted`]): the chart's download then needs no second token.
    pub(super) fn resume(
        client: &'a Client,
        repository: &'a Repository,
        credentials: Option<&'a Credentials>,
        granted: Granted,
    ) -> Self {
        let resumed = !matches!(granted, Granted::Nothing);
        Session {
            client,
            repository,
            credentials,
            granted,
            resumed,
        }
    }

    /// What the session was granted, for [`Session::resume`].
    pub(super) fn into_granted(self) -> Granted {
        self.granted
    }

    /// The chart versions (tags with `_` read as `+`), as listed: every page of the tag
    /// list, [`TAG_PAGE`] tags at a time, following the registry's `Link: <…>; rel="next"`.
    pub(super) async fn versions(&mut self) -> Result<Vec<String>, SourceError> {
        let mut url = self.repository.url("tags/list");
        url.query_pairs_mut()
            .append_pair("n", &TAG_PAGE.to_string());
        let what = format!("chart {}", self.repository.shown());
        let mut versions = Vec::new();
        let mut pages = 0;
        loop {
            let response = self.get(&url, None, &what).await?;
            let next = next_page(response.headers(), &url, &self.repository.base)
                .map_err(|problem| self.invalid_list(&problem))?;
            let body = fetch::body(response, &url, "the tag list", SMALL_BODY).await?;
            let tags: Tags = serde_json::from_slice(&body)
                .map_err(|e| self.invalid_list(&format!("not valid: {e}")))?;
            versions.extend(
                tags.tags
                    .unwrap_or_default()
                    .into_iter()
                    .map(|tag| tag.replace('_', "+")),
            );
            pages += 1;
            match next {
                None => return Ok(versions),
                Some(_) if pages >= TAG_PAGES => {
                    return Err(self.invalid_list(&format!(
                        "longer than {TAG_PAGES} pages of {TAG_PAGE} tags; Tripline reads no more"
                    )));
                }
                Some(next) if next == url => {
                    return Err(self.invalid_list("its next page is the page itself"));
                }
                Some(next) => url = next,
            }
        }
    }

    fn invalid_list(&self, problem: &str) -> SourceError {
        SourceError::new(
            Code::SourceInvalid,
            format!("the tag list of {} is {problem}", self.repository.shown()),
        )
    }

    /// The manifest of `version`, checked: its digest computed from its bytes (and equal to
    /// the registry's `Docker-Content-Digest`, when it sends one) and its chart layer found.
    pub(super) async fn manifest(&mut self, version: &str) -> Result<Manifest, SourceError> {
        let tag = version.replace('+', "_");
        let url = self.repository.url(&format!("manifests/{tag}"));
        let shown = format!("{}:{tag}", self.repository.shown());
        let response = self
            .get(&url, Some(MANIFEST), &format!("chart {shown}"))
            .await?;
        let announced = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = fetch::body(response, &url, "the manifest", SMALL_BODY).await?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
        if let Some(announced) = announced.filter(|a| a.starts_with("sha256:"))
            && !announced.eq_ignore_ascii_case(&digest)
        {
            return Err(SourceError::new(
                Code::SourceDigestMismatch,
                format!(
                    "the manifest of {shown} does not match its digest: the registry says \
                     {announced}, its bytes hash to {digest}"
                ),
            ));
        }
        let parsed: ManifestBody = serde_json::from_slice(&body).map_err(|e| {
            SourceError::new(
                Code::SourceInvalid,
                format!("the manifest of {shown} is not an OCI manifest: {e}"),
            )
        })?;
        let layer = parsed
            .layers
            .into_iter()
            .find(|layer| layer.media_type == CHART_LAYER)
            .ok_or_else(|| {
                SourceError::new(
                    Code::SourceInvalid,
                    format!("{shown} is not a Helm chart: its manifest has no {CHART_LAYER} layer"),
                )
            })?;
        if sha256_hex(&layer.digest).is_none() {
            return Err(SourceError::new(
                Code::SourceUnsupported,
                format!(
                    "the chart layer of {shown} has digest `{}`; only sha256 digests are supported",
                    super::clip(&layer.digest, 80)
                ),
            ));
        }
        Ok(Manifest {
            digest,
            layer_digest: layer.digest.to_ascii_lowercase(),
            layer_size: layer.size,
        })
    }

    /// The chart archive of `manifest`, checked against the layer digest.
    pub(super) async fn archive(
        &mut self,
        manifest: &Manifest,
        limit: usize,
    ) -> Result<Vec<u8>, SourceError> {
        let shown = self.repository.shown();
        if manifest.layer_size > limit as u64 {
            return Err(SourceError::new(
                Code::SourceTooLarge,
                format!(
                    "the chart archive of {shown} is {} bytes, past the {} limit",
                    manifest.layer_size,
                    super::bytes(limit)
                ),
            ));
        }
        let url = self
            .repository
            .url(&format!("blobs/{}", manifest.layer_digest));
        let response = self
            .get(&url, None, &format!("the chart archive of {shown}"))
            .await?;
        let archive = fetch::body(response, &url, "the chart archive", limit).await?;
        let actual = format!("sha256:{}", hex::encode(Sha256::digest(&archive)));
        if actual != manifest.layer_digest {
            return Err(SourceError::new(
                Code::SourceDigestMismatch,
                format!(
                    "the chart archive of {shown} does not match its manifest: expected {}, \
                     got {actual}",
                    manifest.layer_digest
                ),
            ));
        }
        Ok(archive)
    }

    /// A GET that answers a 401 challenge once: with a token for a `Bearer` challenge, with
    /// the credentials for a `Basic` one.
    async fn get(
        &mut self,
        url: &Url,
        accept: Option<&str>,
        what: &str,
    ) -> Result<Response, SourceError> {
        let response = self.send(url, accept).await?;
        if response.status() == StatusCode::UNAUTHORIZED && self.resumed {
            // What an earlier session was granted no longer holds: ask again, once.
            self.resumed = false;
            self.granted = Granted::Nothing;
        }
        if response.status() != StatusCode::UNAUTHORIZED
            || !matches!(self.granted, Granted::Nothing)
        {
            return fetch::check_status(response, url, what, self.credentials.is_some());
        }
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        match Challenge::parse(&challenge) {
            Some(Challenge::Bearer { realm, service }) => {
                self.granted = Granted::Bearer(self.token(&realm, service.as_deref()).await?);
            }
            Some(Challenge::Basic) if self.credentials.is_some() => {
                self.granted = Granted::Basic;
            }
            _ => return fetch::check_status(response, url, what, self.credentials.is_some()),
        }
        let response = self.send(url, accept).await?;
        fetch::check_status(response, url, what, self.credentials.is_some())
    }

    async fn send(&self, url: &Url, accept: Option<&str>) -> Result<Response, SourceError> {
        let mut request = self.client.get(url.clone());
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT, accept);
        }
        let auth = match (&self.granted, self.credentials) {
            (Granted::Bearer(token), _) => Auth::Bearer(token),
            (Granted::Basic, Some(credentials)) => Auth::Basic(credentials),
            _ => Auth::None,
        };
        fetch::send(fetch::authorize(request, auth), url).await
    }

    /// Asks the challenge's realm for a pull token; with the credentials only when the realm is
    /// https or on this machine.
    async fn token(&self, realm: &str, service: Option<&str>) -> Result<String, SourceError> {
        let url = token_url(realm, service, &self.repository.name).ok_or_else(|| {
            SourceError::new(
                Code::SourceUnsupported,
                format!(
                    "{} asks for a token from `{}`, which is not an http(s) URL",
                    self.repository.shown(),
                    super::clip(realm, 120)
                ),
            )
        })?;
        if self.credentials.is_some() && !safe_for_credentials(&url) {
            return Err(SourceError::new(
                Code::SourceUnsupported,
                format!(
                    "{} asks for a token from {}, over plain HTTP off this machine: \
                     credentials are sent only over https",
                    self.repository.shown(),
                    fetch::shown(&url)
                ),
            ));
        }
        let auth = self.credentials.map_or(Auth::None, Auth::Basic);
        let request = fetch::authorize(self.client.get(url.clone()), auth);
        let response = fetch::send(request, &url).await?;
        let response = fetch::check_status(
            response,
            &url,
            "a registry token",
            self.credentials.is_some(),
        )?;
        let body = fetch::body(response, &url, "the registry token", SMALL_BODY).await?;
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            SourceError::new(
                Code::SourceInvalid,
                format!(
                    "the token service at {} answered badly: {e}",
                    fetch::shown(&url)
                ),
            )
        })?;
        answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                SourceError::new(
                    Code::SourceInvalid,
                    format!("the token service at {} sent no token", fetch::shown(&url)),
                )
            })
    }
}

/// The hex of a `sha256:` digest, when it is one.
fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference, a chart, `plain_http`, and the base URL and name, or part of the error.
    type Case<'a> = (&'a str, &'a str, bool, Result<(&'a str, &'a str), &'a str>);

    #[test]
    fn references_name_a_host_and_a_repository() {
        let table: &[Case] = &[
            (
                "oci://registry.example.com/charts",
                "demo",
                false,
                Ok(("https://registry.example.com/", "charts/demo")),
            ),
            (
                "oci://registry.example.com/",
                "demo",
                false,
                Ok(("https://registry.example.com/", "demo")),
            ),
            (
                "oci://127.0.0.1:5000/a/b",
                "demo",
                false,
                Ok(("http://127.0.0.1:5000/", "a/b/demo")),
            ),
            (
                "oci://localhost:5000/charts",
                "demo",
                false,
                Ok(("http://localhost:5000/", "charts/demo")),
            ),
            (
                "oci://registry.internal:5000/charts",
                "demo",
                true,
                Ok(("http://registry.internal:5000/", "charts/demo")),
            ),
            (
                "https://registry.example.com/charts",
                "demo",
                false,
                Err("oci://"),
            ),
            ("oci:///charts", "demo", false, Err("no registry host")),
            (
                "oci://user:pw@host/charts",
                "demo",
                false,
                Err("no registry host"),
            ),
            (
                "oci://host/charts",
                "../../v2/x",
                false,
                Err("not a registry repository name"),
            ),
            (
                "oci://host/charts/..",
                "demo",
                false,
                Err("not a registry repository name"),
            ),
            (
                "oci://host/Charts",
                "demo",
                false,
                Err("not a registry repository name"),
            ),
            (
                "oci://host/charts",
                "de mo",
                false,
                Err("not a registry repository name"),
            ),
            (
                "oci://host/charts",
                "demo?x=1",
                false,
                Err("not a registry repository name"),
            ),
            (
                "oci://host/charts",
                "",
                false,
                Err("not a registry repository name"),
            ),
        ];
        for (reference, chart, plain, expected) in table {
            match (Repository::new(reference, chart, *plain), expected) {
                (Ok(repository), Ok((base, name))) => {
                    assert_eq!(repository.base.as_str(), *base, "{reference}");
                    assert_eq!(repository.name, *name, "{reference}");
                }
                (Err(error), Err(expected)) => {
                    assert!(error.contains(expected), "{reference} {chart}: {error}")
                }
                (got, _) => panic!("{reference} {chart}: {got:?}"),
            }
        }
    }
}
