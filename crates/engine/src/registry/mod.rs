//! Container-registry push webhooks: what a registry tells us when an image is pushed.
//!
//! This is the pure parsing layer of the *Image* trigger. Nothing here but [`client`] touches
//! the network (Docker Hub's `callback_url` is never called), the store, or a template;
//! [`client`] reads tags and manifest digests from registries themselves.
//!
//! Data flows one way:
//!
//! 1. [`parse`] (or [`parse_delivery`]) receives the request headers and raw body. An empty,
//!    form-encoded or non-JSON body is refused; JSON is read with duplicate keys refused and
//!    serde_json's nesting limit, so hostile bodies cannot recurse without bound.
//! 2. `detect` picks the [`Format`] from the headers (`X-GitHub-Event`, the distribution
//!    events media type) and otherwise from the body's shape (which top-level keys it has).
//! 3. The format's own module (`dockerhub`, `acr_alibaba`, `harbor`, `quay`, `azure`,
//!    `distribution`, `github`, `artifactory`, `google`, `generic`) reads the fields it
//!    documents, through a
//!    path-tracking cursor (`json::Node`), and builds one [`PushEvent`] per pushed
//!    image: a normalised [`ImageRef`] plus the seed-004 event parameters (owner, pusher,
//!    namespace, name, tag, digest, registry, push time).
//! 4. Identical events are collapsed (registries retry and batch), keeping the first.
//!
//! A payload that is valid but describes no push (a pull, a delete, a layer upload, a GitHub
//! `ping`, an npm package) is **not** an error: [`parse`] returns an empty list, and
//! [`parse_delivery`] also says what was skipped and why, for the access record. Errors are
//! kept for bodies we cannot read: not JSON, JSON of no known format, or a known format with
//! a missing or malformed field, named by its JSON path.
//!
//! Matching a pushed tag against a trigger's mode (all / regular expression / tag list) is
//! the trigger's job, not this module's.

mod acr_alibaba;
mod artifactory;
mod azure;
pub mod client;
mod detect;
mod distribution;
mod dockerhub;
mod generic;
mod github;
mod google;
mod harbor;
mod json;
mod quay;
pub mod reference;
mod time;

#[cfg(test)]
mod direct_tests;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use reference::ImageRef;

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The formats we accept, as their human names, for error messages.
const ACCEPTED: &str = "Docker Hub, Alibaba Cloud ACR, Harbor, Quay, Azure Container Registry, \
                        Docker distribution notifications, GitHub package events, JFrog \
                        Artifactory Docker webhooks, Google Artifact Registry notifications \
                        (Pub/Sub push), or the generic {\"image\": \"repository:tag\"} form";

/// How many top-level keys an "unrecognised format" error lists.
const KEYS_SHOWN: usize = 12;

/// Why a webhook body could not be read. A readable body that contains no push is not an
/// error (see the module documentation).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is empty or only whitespace.
    #[error("the webhook body is empty; a registry push notification is a JSON document")]
    Empty,
    /// The body is form-encoded, as GitHub sends when a webhook's content type is set so.
    #[error(
        "the webhook body is form-encoded (application/x-www-form-urlencoded); set the \
         webhook's content type to application/json"
    )]
    FormEncoded,
    /// The body is not JSON (or repeats a key, or nests too deeply). The message ends with
    /// serde_json's "at line L column C".
    #[error("the webhook body is not valid JSON: {source}")]
    NotJson {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
    /// The body is JSON but matches none of the formats we accept.
    #[error(
        "the webhook body is JSON but not a push notification we recognise ({seen}); we accept {ACCEPTED}"
    )]
    Unrecognised {
        /// What the body looked like: its type, or its top-level keys.
        seen: String,
    },
    /// A field the format requires is absent or null.
    #[error("{format} payload: {path} is missing")]
    Missing {
        /// The format being read.
        format: Format,
        /// JSON path of the field (`event_data.resources[0].tag`).
        path: String,
    },
    /// A field has the wrong JSON type.
    #[error("{format} payload: {} is {found}, expected {expected}", display_path(.path))]
    WrongType {
        /// The format being read.
        format: Format,
        /// JSON path of the field; empty for the whole body.
        path: String,
        /// The JSON type found ("a number").
        found: &'static str,
        /// The JSON type expected ("a string").
        expected: &'static str,
    },
    /// A field has the right type but an unusable value.
    #[error("{format} payload: {} is invalid: {reason}", display_path(.path))]
    Invalid {
        /// The format being read.
        format: Format,
        /// JSON path of the field.
        path: String,
        /// What is wrong, in a sentence.
        reason: String,
    },
    /// A field that names an image, tag or digest breaks the reference grammar.
    #[error("{format} payload: {} is not a valid image reference: {source}", display_path(.path))]
    Reference {
        /// The format being read.
        format: Format,
        /// JSON path of the field.
        path: String,
        /// What the reference parser said.
        #[source]
        source: reference::Error,
    },
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "the body" } else { path }
}

/// The webhook formats we read. Each has a stable kebab-case [`name`](Format::name), used when
/// events are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    /// Docker Hub repository webhooks.
    #[serde(rename = "docker-hub")]
    DockerHub,
    /// Alibaba Cloud Container Registry (ACR) triggers.
    #[serde(rename = "alibaba-acr")]
    AlibabaAcr,
    /// Harbor 2.x webhooks (Default and CloudEvents payloads), and Harbor 1.x `pushImage`.
    #[serde(rename = "harbor")]
    Harbor,
    /// Quay (quay.io and Red Hat Quay) repository notifications.
    #[serde(rename = "quay")]
    Quay,
    /// Azure Container Registry webhooks.
    #[serde(rename = "azure-acr")]
    AzureAcr,
    /// The CNCF distribution registry's notification envelope.
    #[serde(rename = "distribution")]
    Distribution,
    /// GitHub `package` and `registry_package` events for container packages.
    #[serde(rename = "github")]
    GitHub,
    /// JFrog Artifactory webhooks of the `docker` domain.
    #[serde(rename = "jfrog-artifactory")]
    Artifactory,
    /// Google Artifact Registry (and Container Registry) notifications, as a Pub/Sub push
    /// subscription delivers them.
    #[serde(rename = "google-artifact-registry")]
    GoogleArtifactRegistry,
    /// Tripline's generic form: `{"image": …}` or `{"repository": …, "tag": …, "digest": …}`.
    #[serde(rename = "generic")]
    Generic,
    /// Not a payload: a push Tripline found itself, watching a repository (or a maturing
    /// push now due), its digest read from the registry.
    #[serde(rename = "watch")]
    Watch,
}

impl Format {
    /// Every format, in detection order.
    pub const ALL: [Format; 10] = [
        Format::DockerHub,
        Format::AlibabaAcr,
        Format::Harbor,
        Format::Quay,
        Format::AzureAcr,
        Format::Distribution,
        Format::GitHub,
        Format::Artifactory,
        Format::GoogleArtifactRegistry,
        Format::Generic,
    ];

    /// The stable machine name (`docker-hub`, `alibaba-acr`, …), as serialised.
    pub fn name(self) -> &'static str {
        match self {
            Format::DockerHub => "docker-hub",
            Format::AlibabaAcr => "alibaba-acr",
            Format::Harbor => "harbor",
            Format::Quay => "quay",
            Format::AzureAcr => "azure-acr",
            Format::Distribution => "distribution",
            Format::GitHub => "github",
            Format::Artifactory => "jfrog-artifactory",
            Format::GoogleArtifactRegistry => "google-artifact-registry",
            Format::Generic => "generic",
            Format::Watch => "watch",
        }
    }

    /// The name a person knows it by ("Docker Hub").
    pub fn label(self) -> &'static str {
        match self {
            Format::DockerHub => "Docker Hub",
            Format::AlibabaAcr => "Alibaba Cloud ACR",
            Format::Harbor => "Harbor",
            Format::Quay => "Quay",
            Format::AzureAcr => "Azure Container Registry",
            Format::Distribution => "Docker distribution",
            Format::GitHub => "GitHub",
            Format::Artifactory => "JFrog Artifactory",
            Format::GoogleArtifactRegistry => "Google Artifact Registry",
            Format::Generic => "generic",
            Format::Watch => "registry watch",
        }
    }
}

/// Shows the [`label`](Format::label).
impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One image pushed to a registry, as a webhook reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushEvent {
    /// Which webhook format reported it.
    pub format: Format,
    /// The pushed image, normalised: registry, full repository, and the tag and/or digest.
    pub image: ImageRef,
    /// The pushed tag; `None` for a push by digest.
    pub tag: Option<String>,
    /// The manifest digest, when the payload gives one (Docker Hub and Quay do not).
    pub digest: Option<String>,
    /// The manifest's media type, when the payload gives one (an index or a single manifest).
    pub media_type: Option<String>,
    /// The registry host (`docker.io`, `registry.cn-hangzhou.aliyuncs.com`, `ghcr.io`).
    pub registry: String,
    /// The first repository path component (`library`, a Harbor project, a GitHub owner);
    /// `None` for a one-component repository on a registry other than Docker Hub.
    pub namespace: Option<String>,
    /// The repository path without the namespace (`nginx`, `team/api`).
    pub name: String,
    /// The repository's owner, when the payload names one (Docker Hub, GitHub).
    pub owner: Option<String>,
    /// Who pushed, when the payload says (Docker Hub, Harbor, distribution, GitHub,
    /// Artifactory).
    pub pusher: Option<String>,
    /// When it was pushed, RFC 3339 in UTC, when the payload says.
    pub pushed_at: Option<String>,
}

impl PushEvent {
    /// An event for `image`, with registry, namespace, name, tag and digest taken from it and
    /// the optional parameters empty.
    pub fn new(format: Format, image: ImageRef) -> PushEvent {
        let (namespace, name) = match image.repository().split_once('/') {
            Some((namespace, name)) => (Some(namespace.to_owned()), name.to_owned()),
            None => (None, image.repository().to_owned()),
        };
        PushEvent {
            format,
            tag: image.tag().map(str::to_owned),
            digest: image.digest().map(str::to_owned),
            media_type: None,
            registry: image.registry().to_owned(),
            namespace,
            name,
            owner: None,
            pusher: None,
            pushed_at: None,
            image,
        }
    }
}

/// Everything one webhook delivery said: its format, the pushes, and what was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The format the body was read as.
    pub format: Format,
    /// The pushes it describes, without duplicates, in payload order.
    pub events: Vec<PushEvent>,
    /// One sentence per part of the payload that is not a push (`events[2]: action "pull" is
    /// not a push`), for the access record.
    pub skipped: Vec<String>,
}

/// What a format module found: pushes and skipped parts.
#[derive(Debug, Default)]
struct Found {
    events: Vec<PushEvent>,
    skipped: Vec<String>,
}

impl Found {
    fn skip(reason: impl Into<String>) -> Found {
        Found {
            events: Vec::new(),
            skipped: vec![reason.into()],
        }
    }
}

/// Reads a registry webhook and returns every image push it describes (possibly none).
///
/// `headers` are the request's headers as name/value pairs (names compared
/// case-insensitively); `body` is the raw request body. Size limits are the caller's job.
pub fn parse(
    headers: &[(impl AsRef<str>, impl AsRef<str>)],
    body: &[u8],
) -> Result<Vec<PushEvent>> {
    parse_delivery(headers, body).map(|delivery| delivery.events)
}

/// The request headers [`parse_delivery`] reads (lower case); a caller may pass only these.
pub const HEADERS: &[&str] = &["content-type", "user-agent", "x-github-event"];

/// Like [`parse`], but also says which format was read and what was skipped.
pub fn parse_delivery(
    headers: &[(impl AsRef<str>, impl AsRef<str>)],
    body: &[u8],
) -> Result<Delivery> {
    let headers = Headers::of(headers);
    if let Some(delivery) =
        generic::direct(&headers, body).or_else(|| distribution::direct(&headers, body))
    {
        return Ok(delivery);
    }
    read_generally(&headers, body)
}

/// [`parse_delivery`] with every body read the general way (the JSON tree, then the format
/// detection), the direct reads of a generic push and of a distribution envelope left out.
/// It answers as [`parse_delivery`] does for every input; the tests and the registry fuzz
/// target check that it does.
pub fn parse_delivery_generally(
    headers: &[(impl AsRef<str>, impl AsRef<str>)],
    body: &[u8],
) -> Result<Delivery> {
    read_generally(&Headers::of(headers), body)
}

/// [`parse_delivery_generally`], on headers already read.
fn read_generally(headers: &Headers<'_>, body: &[u8]) -> Result<Delivery> {
    let value = read_json(headers, body)?;
    let format = detect::detect(headers, &value)?;
    let root = json::Node::root(&value, format);
    let found = match format {
        Format::DockerHub => dockerhub::parse(&root),
        Format::AlibabaAcr => acr_alibaba::parse(&root),
        Format::Harbor => harbor::parse(&root),
        Format::Quay => quay::parse(&root),
        Format::AzureAcr => azure::parse(&root),
        Format::Distribution => distribution::parse(&root),
        Format::GitHub => github::parse(&root, headers.github_event),
        Format::Artifactory => artifactory::parse(&root),
        Format::GoogleArtifactRegistry => google::parse(&root),
        // Never detected: a watch's pushes are made, not read.
        Format::Generic | Format::Watch => generic::parse(&root),
    }?;
    Ok(Delivery {
        format,
        events: dedup(found.events),
        skipped: found.skipped,
    })
}

/// The request headers this module reads ([`HEADERS`]): of each, the first value, trimmed,
/// its name compared case-insensitively. Borrowed from the caller's pairs.
#[derive(Clone, Copy, Default)]
struct Headers<'a> {
    content_type: Option<&'a str>,
    user_agent: Option<&'a str>,
    github_event: Option<&'a str>,
}

impl<'a> Headers<'a> {
    fn of(pairs: &'a [(impl AsRef<str>, impl AsRef<str>)]) -> Self {
        let mut headers = Headers::default();
        for (name, value) in pairs {
            let name = name.as_ref().trim();
            let slot = if name.eq_ignore_ascii_case("content-type") {
                &mut headers.content_type
            } else if name.eq_ignore_ascii_case("user-agent") {
                &mut headers.user_agent
            } else if name.eq_ignore_ascii_case("x-github-event") {
                &mut headers.github_event
            } else {
                continue;
            };
            slot.get_or_insert(value.as_ref().trim());
        }
        headers
    }

    /// The media type of `Content-Type`, without parameters (in the sender's case: compare
    /// it with `eq_ignore_ascii_case`).
    fn media_type(&self) -> Option<&'a str> {
        self.content_type
            .map(|value| value.split(';').next().unwrap_or("").trim())
    }
}

/// The body to read as JSON: without a leading byte-order mark (some Windows tools prefix
/// one, which JSON parsers refuse); an error for an empty body or a form.
fn json_body<'b>(headers: &Headers<'_>, body: &'b [u8]) -> Result<&'b [u8]> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Empty);
    }
    if headers
        .media_type()
        .is_some_and(|media| media.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    {
        return Err(Error::FormEncoded);
    }
    Ok(body)
}

fn read_json(headers: &Headers<'_>, body: &[u8]) -> Result<serde_json::Value> {
    let body = json_body(headers, body)?;
    json::parse_strict(body).map_err(|source| Error::NotJson {
        line: source.line(),
        column: source.column(),
        source,
    })
}

/// Drops events equal to an earlier one: a registry may repeat an event in one envelope, and
/// one push must not deploy twice.
fn dedup(events: Vec<PushEvent>) -> Vec<PushEvent> {
    if events.len() < 2 {
        return events;
    }
    // A set, not a scan of the kept list: a hostile body may list a million tags.
    let mut seen = HashSet::with_capacity(events.len());
    events
        .into_iter()
        .filter(|event| seen.insert(event.clone()))
        .collect()
}

/// The repository path under `node`: `node.full_key` (`repo_full_name`, `repo_name`), or
/// else `namespace` and `name` joined, as some payloads give only those. Returns the path and
/// the node to blame if it is invalid.
fn repository_path<'a>(node: &json::Node<'a>, full_key: &str) -> Result<(String, json::Node<'a>)> {
    if let Some(full) = node.get(full_key) {
        return Ok((full.str()?.to_owned(), full));
    }
    match (node.opt_str("namespace")?, node.opt_str("name")?) {
        (Some(namespace), Some(name)) => Ok((format!("{namespace}/{name}"), node.clone())),
        _ => Err(node.missing(full_key)),
    }
}

/// The image `registry/path`. If the grammar refuses it, the error names the field the
/// registry came from (`registry_from`) or the one the path came from (`path_from`).
fn image_at(
    registry: &str,
    registry_from: &json::Node<'_>,
    path: &str,
    path_from: &json::Node<'_>,
) -> Result<ImageRef> {
    ImageRef::from_parts(registry, path).map_err(|error| match error {
        reference::Error::InvalidRegistry { .. } => registry_from.reference_error(error),
        _ => path_from.reference_error(error),
    })
}

/// `image` with the tag in `node` (a string), checked against the tag grammar.
fn tag_from(image: ImageRef, node: &json::Node<'_>) -> Result<ImageRef> {
    image
        .into_tagged(node.str()?)
        .map_err(|e| node.reference_error(e))
}

/// `image` with the digest in `node` (a string), checked.
fn digest_from(image: ImageRef, node: &json::Node<'_>) -> Result<ImageRef> {
    image
        .into_pinned(node.str()?)
        .map_err(|e| node.reference_error(e))
}

/// `image` with the digest in `node`, unless the digest breaks the grammar while the push
/// names a tag (`image` already has one): then `image` is returned as it is and `skipped` gets
/// a sentence saying the digest was ignored.
///
/// Vendors' documented examples mask or cut their digests (Azure's
/// `sha256:xxxxd5c8…33xxxx`, Google's `sha256:6ec128e26cd5...`), and a digest is only ever
/// a pin next to the tag a trigger follows, so a push named by a valid tag is kept rather than
/// refused; the access record says what was dropped. A digest of the wrong JSON type is still
/// an error, and so is a bad digest with no tag beside it (then there is nothing to deploy).
///
/// `text` is the digest as read from `node` (a format may have to add `sha256:` or cut it out
/// of a whole reference first).
fn digest_unless_tagged(
    image: ImageRef,
    node: &json::Node<'_>,
    text: &str,
    skipped: &mut Vec<String>,
) -> Result<ImageRef> {
    match image.with_digest(text) {
        Ok(pinned) => Ok(pinned),
        Err(error) if image.tag().is_some() => {
            skipped.push(format!(
                "{}: {:?} is not a valid digest ({error}); the push is read by its tag only",
                node.path(),
                reference::preview(text)
            ));
            Ok(image)
        }
        Err(error) => Err(node.reference_error(error)),
    }
}

/// `image` if it has a tag or a digest; a push of neither cannot be deployed.
fn require_version(blame: &json::Node<'_>, image: ImageRef) -> Result<ImageRef> {
    if image.tag().is_none() && image.digest().is_none() {
        return Err(blame.invalid(format!(
            "it names {} but neither a tag nor a digest",
            image.full_repository()
        )));
    }
    Ok(image)
}
