//! Helm charts as a source: a chart from a chart repository or an OCI registry, at an exact
//! version or the newest one a range allows, rendered with values by the real `helm`.
//!
//! Reading a chart goes: the [`HelmSource`]'s `version` is parsed (`range`); the versions
//! the repository lists are read (a chart repository's `index.yaml`, see `index`, or an
//! OCI registry's tags, see `oci`) and the newest wanted one picked; its archive is
//! downloaded, held to the size limit (`fetch`), and its sha256 checked against the digest
//! the index or the OCI manifest gives, before anything else sees it; then `helm template`
//! renders it with the values in a private temporary directory (`render`). The result is a
//! [`Rendered`]: the manifests and the [`Revision::Helm`] they came from.
//!
//! No Rust crate renders real charts (Sprig, `lookup`, subcharts, hooks), so the `helm`
//! binary is required to render, though not to list or resolve versions. It is found through
//! a configured path, else `TRIPLINE_HELM`, else `PATH`.
//!
//! Credentials, when given, go only to the repository's own server (and an OCI registry's
//! token service): never to another host an index points at, and never into a message.
//!
//! [`set_image_values`] is for image triggers on Helm applications: it sets the image
//! repository and tag in the values (under the keys the trigger names, [`ImageValues`]),
//! editing the values text in place, and they are then rendered again.

mod edit;
mod fetch;
mod index;
mod oci;
mod range;
mod render;
mod values;

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Client, Url};
use sha2::{Digest as _, Sha256};

pub use values::{
    DEFAULT_REPOSITORY_KEY, DEFAULT_TAG_KEY, ImageValues, MAX_KEY_LENGTH, MAX_KEY_SEGMENTS,
    MAX_VALUE_LENGTH, check_values, image_tag, key_path, set_image_values, set_values,
};

use super::{Rendered, Revision, SIZE_LIMIT, SourceError};
use crate::error::Code;
use fetch::Auth;
use index::Index;
use range::Wanted;

/// The environment variable naming the `helm` binary when none is configured.
pub const HELM_ENV: &str = "TRIPLINE_HELM";

/// Where a chart is and which version of it is wanted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct HelmSource {
    /// A chart repository (`https://…` or `http://…`, holding `index.yaml`) or an OCI
    /// registry path (`oci://host/path`).
    pub repository: String,
    /// The chart's name in the repository.
    pub chart: String,
    /// An exact version (`1.2.3`), a range resolved to the newest match (`^1.2`, `~1.2.3`,
    /// `>=1.0, <2`), or empty for the newest stable version.
    pub version: String,
    /// Talk plain HTTP to an OCI registry that is not on a loopback address (those always
    /// get plain HTTP, as `helm --plain-http` would).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plain_http: bool,
}

impl HelmSource {
    /// Checks what can be checked without the network: a repository URL of a known scheme, a
    /// chart name, a version range that parses. The error says which and why.
    pub fn validate(&self) -> Result<(), SourceError> {
        where_listed(self)?;
        Wanted::parse(&self.version).map_err(|m| SourceError::new(Code::SourceInvalid, m))?;
        Ok(())
    }
}

/// A user name and password for a chart repository or registry (the one type every source
/// uses).
pub use super::Credentials;

/// How long Helm sources may take and how much they may bring in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The longest a connection may take to open.
    pub connect_timeout: Duration,
    /// The longest one request may take, body included.
    pub request_timeout: Duration,
    /// The longest `helm template` may run before it is killed.
    pub render_timeout: Duration,
    /// The most bytes an index, an archive or the rendered manifests may have.
    pub size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            render_timeout: Duration::from_secs(120),
            size: SIZE_LIMIT,
        }
    }
}

/// A source's version request resolved against what the repository lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The exact chart version, as the repository lists it.
    pub version: String,
    /// Where the archive is: its URL, or the OCI reference with the tag
    /// (`oci://host/path/chart:1.2.3`).
    pub url: String,
    /// `sha256:…`: the archive's digest from a chart repository's index, or an OCI chart's
    /// manifest digest. `None` for an index entry that gives no digest.
    pub digest: Option<String>,
}

/// Reads Helm charts: the `helm` binary, an HTTP client, and the limits.
#[derive(Debug, Clone)]
pub struct Helm {
    binary: PathBuf,
    client: Client,
    limits: Limits,
}

/// Where the chart archive will come from, once resolved.
enum Plan {
    Http {
        url: Url,
        sha256: Option<String>,
        auth_origin: Url,
    },
    Oci {
        repository: oci::Repository,
        manifest: oci::Manifest,
        /// What the registry granted while the version was chosen, for the download.
        granted: oci::Granted,
    },
}

impl Helm {
    /// Finds `helm` (see [`locate`]) and sets up with the default [`Limits`]. Without `helm`
    /// the error is [`Code::SourceToolMissing`] and says how to get it.
    pub fn find(configured: Option<&Path>) -> Result<Helm, SourceError> {
        Helm::new(locate(configured)?, Limits::default())
    }

    /// Sets up with `binary` as `helm`, unchecked until a render runs it.
    pub fn new(binary: PathBuf, limits: Limits) -> Result<Helm, SourceError> {
        let client = fetch::client(&limits)?;
        Ok(Helm {
            binary,
            client,
            limits,
        })
    }

    /// The `helm` binary used.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The chart's versions, newest first, for a version picker.
    pub async fn versions(
        &self,
        source: &HelmSource,
        credentials: Option<&Credentials>,
    ) -> Result<Vec<String>, SourceError> {
        let mut versions = match location(source, credentials)? {
            Location::Http(index_url) => {
                let index = self.index(&index_url, credentials).await?;
                chart_entries(&index, &index_url, &source.chart)?
                    .iter()
                    .map(|entry| entry.version.clone())
                    .collect()
            }
            Location::Oci(repository) => {
                oci::Session::new(&self.client, &repository, credentials)
                    .versions()
                    .await?
            }
        };
        range::newest_first(&mut versions);
        versions.dedup();
        Ok(versions)
    }

    /// Picks the version the source asks for and says where its archive is.
    pub async fn resolve(
        &self,
        source: &HelmSource,
        credentials: Option<&Credentials>,
    ) -> Result<Resolved, SourceError> {
        let (version, plan) = self.plan(source, credentials).await?;
        Ok(match plan {
            Plan::Http { url, sha256, .. } => Resolved {
                version,
                url: url.to_string(),
                digest: sha256.map(|hex| format!("sha256:{hex}")),
            },
            Plan::Oci {
                repository,
                manifest,
                ..
            } => Resolved {
                url: format!("{}:{}", repository.shown(), version.replace('+', "_")),
                version,
                digest: Some(manifest.digest),
            },
        })
    }

    /// Resolves the version, downloads and verifies its archive, and renders it with
    /// `values` (a YAML text) as release `release` in `namespace`.
    pub async fn render(
        &self,
        source: &HelmSource,
        values: &str,
        release: &str,
        namespace: &str,
        credentials: Option<&Credentials>,
    ) -> Result<Rendered, SourceError> {
        let (version, plan) = self.plan(source, credentials).await?;
        let (archive, digest) = self.download(source, &version, plan, credentials).await?;
        let manifests = render::template(
            &self.binary,
            &archive,
            values,
            release,
            namespace,
            &self.limits,
        )
        .await?;
        Ok(Rendered {
            revision: Revision::Helm {
                chart: source.chart.clone(),
                version,
                digest,
            },
            manifests,
        })
    }

    async fn plan(
        &self,
        source: &HelmSource,
        credentials: Option<&Credentials>,
    ) -> Result<(String, Plan), SourceError> {
        let wanted =
            Wanted::parse(&source.version).map_err(|m| SourceError::new(Code::SourceInvalid, m))?;
        match location(source, credentials)? {
            Location::Http(index_url) => {
                let index = self.index(&index_url, credentials).await?;
                let entries = chart_entries(&index, &index_url, &source.chart)?;
                let version = pick(&wanted, entries.iter().map(|e| e.version.as_str()), source)?;
                let entry = entries
                    .iter()
                    .find(|e| e.version == version)
                    .expect("the picked version is listed");
                let invalid = |why: String| {
                    SourceError::new(
                        Code::SourceInvalid,
                        format!(
                            "the index at {} is not usable for chart {}: {why}",
                            fetch::shown(&index_url),
                            source.chart
                        ),
                    )
                };
                let url = entry.archive_url(&index_url).map_err(invalid)?;
                let sha256 = entry.sha256().map_err(invalid)?;
                if sha256.is_none() {
                    tracing::warn!(
                        chart = %source.chart, %version,
                        "the index gives no digest for this chart version; it is used unverified"
                    );
                }
                Ok((
                    version,
                    Plan::Http {
                        url,
                        sha256,
                        auth_origin: index_url,
                    },
                ))
            }
            Location::Oci(repository) => {
                let mut session = oci::Session::new(&self.client, &repository, credentials);
                let tags = session.versions().await?;
                let version = pick(&wanted, tags.iter().map(String::as_str), source)?;
                let manifest = session.manifest(&version).await?;
                let granted = session.into_granted();
                Ok((
                    version,
                    Plan::Oci {
                        repository,
                        manifest,
                        granted,
                    },
                ))
            }
        }
    }

    /// The archive, verified, and its revision digest.
    async fn download(
        &self,
        source: &HelmSource,
        version: &str,
        plan: Plan,
        credentials: Option<&Credentials>,
    ) -> Result<(Vec<u8>, String), SourceError> {
        match plan {
            Plan::Http {
                url,
                sha256,
                auth_origin,
            } => {
                let auth = match credentials {
                    Some(c) if fetch::same_origin(&auth_origin, &url) => Auth::Basic(c),
                    _ => Auth::None,
                };
                let what = format!("chart {} {version}", source.chart);
                let request = fetch::authorize(self.client.get(url.clone()), auth);
                let response = fetch::send(request, &url).await?;
                let response =
                    fetch::check_status(response, &url, &what, matches!(auth, Auth::Basic(_)))?;
                let archive =
                    fetch::body(response, &url, "the chart archive", self.limits.size).await?;
                let actual = hex::encode(Sha256::digest(&archive));
                if let Some(expected) = sha256
                    && expected != actual
                {
                    return Err(SourceError::new(
                        Code::SourceDigestMismatch,
                        format!(
                            "the archive of {what} from {} does not match the index: the index \
                             says sha256:{expected}, the archive is sha256:{actual}",
                            fetch::shown(&url)
                        ),
                    ));
                }
                Ok((archive, format!("sha256:{actual}")))
            }
            Plan::Oci {
                repository,
                manifest,
                granted,
            } => {
                let mut session =
                    oci::Session::resume(&self.client, &repository, credentials, granted);
                let archive = session.archive(&manifest, self.limits.size).await?;
                Ok((archive, manifest.digest))
            }
        }
    }

    async fn index(
        &self,
        index_url: &Url,
        credentials: Option<&Credentials>,
    ) -> Result<Index, SourceError> {
        let auth = credentials.map_or(Auth::None, Auth::Basic);
        let request = fetch::authorize(self.client.get(index_url.clone()), auth);
        let response = fetch::send(request, index_url).await?;
        let response = fetch::check_status(
            response,
            index_url,
            "the chart repository index",
            credentials.is_some(),
        )?;
        let body = fetch::body(
            response,
            index_url,
            "the chart repository index",
            self.limits.size,
        )
        .await?;
        Index::parse(&body).map_err(|why| {
            SourceError::new(
                Code::SourceInvalid,
                format!(
                    "the chart repository index at {} is not valid: {why}",
                    fetch::shown(index_url)
                ),
            )
        })
    }
}

/// Finds the `helm` binary: `configured`, else `TRIPLINE_HELM`, else `helm` on `PATH`.
pub fn locate(configured: Option<&Path>) -> Result<PathBuf, SourceError> {
    locate_in(
        configured,
        std::env::var_os(HELM_ENV),
        std::env::var_os("PATH"),
    )
}

fn locate_in(
    configured: Option<&Path>,
    env: Option<std::ffi::OsString>,
    path: Option<std::ffi::OsString>,
) -> Result<PathBuf, SourceError> {
    if let Some(configured) = configured {
        return if configured.is_file() {
            Ok(configured.to_owned())
        } else {
            Err(tool_missing(&format!(
                "the configured path {} is not a file",
                configured.display()
            )))
        };
    }
    if let Some(env) = env.filter(|e| !e.is_empty()) {
        let env = PathBuf::from(env);
        return if env.is_file() {
            Ok(env)
        } else {
            Err(tool_missing(&format!(
                "{HELM_ENV} is {}, which is not a file",
                env.display()
            )))
        };
    }
    let name = if cfg!(windows) { "helm.exe" } else { "helm" };
    path.iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| tool_missing("it is not on PATH"))
}

fn tool_missing(why: &str) -> SourceError {
    SourceError::new(
        Code::SourceToolMissing,
        format!(
            "helm is not installed ({why}): install Helm 3 (https://helm.sh/docs/intro/install/) \
             or set {HELM_ENV} to its path"
        ),
    )
}

enum Location {
    Http(Url),
    Oci(oci::Repository),
}

/// Where the source's versions are listed: the index URL, or the OCI repository. A password
/// travels over https, or over plain HTTP only to this machine.
fn location(
    source: &HelmSource,
    credentials: Option<&Credentials>,
) -> Result<Location, SourceError> {
    let location = where_listed(source)?;
    let url = match &location {
        Location::Http(url) => url,
        Location::Oci(repository) => repository.base(),
    };
    if credentials.is_some() && !crate::registry::client::safe_for_credentials(url) {
        return Err(SourceError::new(
            Code::SourceUnsupported,
            format!(
                "{}: credentials are sent only over https (or plain HTTP to this machine); \
                 use the https URL",
                clip(source.repository.trim(), 120)
            ),
        ));
    }
    Ok(location)
}

fn where_listed(source: &HelmSource) -> Result<Location, SourceError> {
    let repository = source.repository.trim();
    if source.chart.is_empty()
        || source.chart.len() > 250
        || source.chart.chars().any(|c| c.is_control() || c == '/')
    {
        return Err(SourceError::new(
            Code::SourceInvalid,
            format!("`{}` is not a chart name", clip(&source.chart, 80)),
        ));
    }
    if repository.starts_with("oci://") {
        return oci::Repository::new(repository, &source.chart, source.plain_http)
            .map(Location::Oci)
            .map_err(|why| SourceError::new(Code::SourceInvalid, why));
    }
    let url = Url::parse(repository).ok();
    match url.as_ref().map(Url::scheme) {
        Some("http" | "https") => {}
        _ => {
            return Err(SourceError::new(
                Code::SourceUnsupported,
                format!(
                    "`{}` is not a chart repository: use an https:// (or http://) URL of a \
                     repository with an index.yaml, or an oci:// registry path",
                    clip(repository, 120)
                ),
            ));
        }
    }
    let mut url = url.expect("a parsed URL");
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    let index = url
        .join("index.yaml")
        .expect("index.yaml joins to a repository URL");
    Ok(Location::Http(index))
}

fn chart_entries<'i>(
    index: &'i Index,
    index_url: &Url,
    chart: &str,
) -> Result<&'i [index::Entry], SourceError> {
    index.chart(chart).ok_or_else(|| {
        let charts: Vec<&str> = index.charts().take(10).collect();
        let listed = if charts.is_empty() {
            "it lists no charts".to_owned()
        } else {
            format!("it lists {}", charts.join(", "))
        };
        SourceError::new(
            Code::SourceNotFound,
            format!(
                "the repository at {} has no chart `{chart}`; {listed}",
                fetch::shown(index_url)
            ),
        )
    })
}

/// The newest listed version `wanted` allows, or a not-found error listing the newest few.
fn pick<'a>(
    wanted: &Wanted,
    listed: impl Iterator<Item = &'a str> + Clone,
    source: &HelmSource,
) -> Result<String, SourceError> {
    if let Some(version) = wanted.pick(listed.clone()) {
        return Ok(version.to_owned());
    }
    let mut all: Vec<String> = listed.map(str::to_owned).collect();
    range::newest_first(&mut all);
    all.dedup();
    const SHOWN: usize = 5;
    let listed = match all.len() {
        0 => "it has no versions".to_owned(),
        n if n <= SHOWN => format!("its versions are {}", all.join(", ")),
        n => format!(
            "its newest versions are {} ({} more)",
            all[..SHOWN].join(", "),
            n - SHOWN
        ),
    };
    let version = if source.version.trim().is_empty() {
        "stable version".to_owned()
    } else {
        format!("version matching `{}`", source.version.trim())
    };
    Err(SourceError::new(
        Code::SourceNotFound,
        format!("chart `{}` has no {version}; {listed}", source.chart),
    ))
}

/// The first `max` characters of `text`, marked when cut: hostile input can be long.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A byte count for messages.
fn bytes(count: usize) -> String {
    if count >= 1024 * 1024 && count.is_multiple_of(1024 * 1024) {
        format!("{} MiB", count / (1024 * 1024))
    } else if count >= 1024 && count.is_multiple_of(1024) {
        format!("{} KiB", count / 1024)
    } else {
        format!("{count} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(repository: &str, chart: &str, version: &str) -> HelmSource {
        HelmSource {
            repository: repository.into(),
            chart: chart.into(),
            version: version.into(),
            plain_http: false,
        }
    }

    #[test]
    fn a_missing_helm_says_how_to_get_it() {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join("nothing-here");
        let cases = [
            locate_in(Some(&absent), None, None),
            locate_in(None, Some(absent.clone().into_os_string()), None),
            locate_in(None, None, Some(dir.path().as_os_str().to_owned())),
            locate_in(None, None, None),
        ];
        for result in cases {
            let error = result.unwrap_err();
            assert_eq!(error.code, Code::SourceToolMissing);
            assert!(
                error.message.contains("install Helm 3") && error.message.contains(HELM_ENV),
                "{}",
                error.message
            );
        }
        assert_eq!(
            Helm::find(Some(&absent)).unwrap_err().code,
            Code::SourceToolMissing
        );
    }

    #[test]
    fn helm_is_found_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let configured = dir.path().join("configured");
        let from_env = dir.path().join("env");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let on_path = bin.join(if cfg!(windows) { "helm.exe" } else { "helm" });
        for file in [&configured, &from_env, &on_path] {
            std::fs::write(file, "").unwrap();
        }
        let path = Some(std::env::join_paths([dir.path().join("none"), bin]).unwrap());
        let env = Some(from_env.clone().into_os_string());
        assert_eq!(
            locate_in(Some(&configured), env.clone(), path.clone()).unwrap(),
            configured
        );
        assert_eq!(locate_in(None, env, path.clone()).unwrap(), from_env);
        assert_eq!(
            locate_in(None, Some("".into()), path.clone()).unwrap(),
            on_path
        );
    }

    #[test]
    fn repositories_are_http_or_oci() {
        let table: &[(&str, &str, Result<&str, Code>)] = &[
            (
                "https://charts.example.com",
                "demo",
                Ok("https://charts.example.com/index.yaml"),
            ),
            (
                "https://charts.example.com/stable/",
                "demo",
                Ok("https://charts.example.com/stable/index.yaml"),
            ),
            (
                "http://127.0.0.1:8080/x",
                "demo",
                Ok("http://127.0.0.1:8080/x/index.yaml"),
            ),
            ("oci://registry.example.com/charts", "demo", Ok("oci")),
            ("file:///etc", "demo", Err(Code::SourceUnsupported)),
            ("charts.example.com", "demo", Err(Code::SourceUnsupported)),
            ("", "demo", Err(Code::SourceUnsupported)),
            ("https://charts.example.com", "", Err(Code::SourceInvalid)),
            (
                "https://charts.example.com",
                "a/b",
                Err(Code::SourceInvalid),
            ),
            ("oci://host/charts", "../x", Err(Code::SourceInvalid)),
        ];
        for (repository, chart, expected) in table {
            match (location(&source(repository, chart, ""), None), expected) {
                (Ok(Location::Http(url)), Ok(expected)) => {
                    assert_eq!(url.as_str(), *expected, "{repository}")
                }
                (Ok(Location::Oci(_)), Ok("oci")) => {}
                (Err(error), Err(code)) => assert_eq!(error.code, *code, "{repository}"),
                (Ok(_), _) => panic!("{repository} {chart}: resolved"),
                (Err(error), _) => panic!("{repository} {chart}: {error}"),
            }
        }
    }

    #[test]
    fn no_matching_version_lists_the_newest() {
        let many: Vec<String> = (0..12).map(|i| format!("1.{i}.0")).collect();
        let wanted = Wanted::parse("^2").unwrap();
        let error = pick(
            &wanted,
            many.iter().map(String::as_str),
            &source("https://x", "demo", "^2"),
        )
        .unwrap_err();
        assert_eq!(error.code, Code::SourceNotFound);
        assert_eq!(
            error.message,
            "chart `demo` has no version matching `^2`; its newest versions are 1.11.0, 1.10.0, \
             1.9.0, 1.8.0, 1.7.0 (7 more)"
        );
        let error = pick(
            &Wanted::Newest,
            ["1.0.0-rc.1"].into_iter(),
            &source("https://x", "demo", ""),
        )
        .unwrap_err();
        assert_eq!(
            error.message,
            "chart `demo` has no stable version; its versions are 1.0.0-rc.1"
        );
    }

    #[test]
    fn passwords_go_over_https_or_stay_on_this_machine() {
        let credentials = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        let source = |repository: &str, plain_http: bool| HelmSource {
            repository: repository.into(),
            chart: "demo".into(),
            version: String::new(),
            plain_http,
        };
        for (repository, plain, allowed) in [
            ("https://charts.example.com/", false, true),
            ("http://127.0.0.1:8080/charts", false, true),
            ("http://localhost:8080/", false, true),
            ("http://[::1]:8080/", false, true),
            ("http://charts.example.com/", false, false),
            ("http://127.0.0.2.example.com/", false, false),
            ("oci://registry.example.com/charts", false, true),
            ("oci://registry.example.com/charts", true, false),
            ("oci://127.0.0.1:5000/charts", true, true),
        ] {
            let source = source(repository, plain);
            let with = location(&source, Some(&credentials));
            assert_eq!(with.is_ok(), allowed, "{repository} plain_http={plain}");
            if let Err(error) = with {
                assert_eq!(error.code, Code::SourceUnsupported);
                assert!(
                    error.message.contains("only over https"),
                    "{}",
                    error.message
                );
            }
            assert!(
                location(&source, None).is_ok(),
                "{repository}: without credentials"
            );
        }
    }

    #[test]
    fn credentials_do_not_print() {
        let credentials = Credentials {
            username: "me".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }

    #[test]
    fn clip_cuts_long_text_on_a_character() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("ééééé", 2), "éé…");
    }
}
