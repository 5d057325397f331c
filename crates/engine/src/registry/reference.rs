//! Image references (`nginx:1.27`, `ghcr.io/acme/api@sha256:…`), parsed and normalised the
//! way Docker and containerd do it, so that the name a registry webhook reports and the name
//! a manifest uses compare equal.
//!
//! The grammar is distribution's (`github.com/distribution/reference`):
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] path-component ( "/" path-component )*
//! domain     := host [ ":" port ]          host: DNS name, IPv4, or "[" IPv6 "]"
//! path-comp. := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest     := algorithm ":" hex           (sha256: 64 hex, sha512: 128 hex)
//! ```
//!
//! [`ImageRef::parse`] checks the raw text (empty, whitespace, control or non-ASCII
//! characters), splits off the digest and tag, decides whether the first path component is a
//! registry (it contains `.` or `:`, or is `localhost`), then normalises: no registry means
//! `docker.io`; `index.docker.io` and `registry-1.docker.io` are `docker.io`; a one-component
//! Docker Hub name gets `library/`; the registry host is lower-cased. The result always has a
//! registry and a full repository path, so two references name the same repository exactly
//! when [`ImageRef::full_repository`] is equal.
//!
//! One deliberate difference from current Docker: a first component with upper-case letters
//! (`Foo/bar`) is *not* taken as a registry host; it is reported as an upper-case repository,
//! which is what a person who typed it almost always meant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[cfg(test)]
mod tests;

/// The registry a reference without one refers to.
pub const DOCKER_HUB: &str = "docker.io";

/// The longest `registry/repository` name the grammar allows, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// The longest tag the grammar allows, in bytes.
pub const MAX_TAG_LEN: usize = 128;

/// Host names that mean Docker Hub.
const DOCKER_HUB_ALIASES: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

/// How much of a hostile input an error message quotes.
const PREVIEW_CHARS: usize = 80;

/// Why an image reference (or one of its parts) was refused.
///
/// Every variant quotes the input (shortened when it is long) and names the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The reference is the empty string.
    #[error("the image reference is empty: give a name such as nginx:1.27")]
    Empty,
    /// The reference contains a space, tab or line break.
    #[error("image reference {reference:?} contains whitespace at byte {at}")]
    Whitespace {
        /// The reference, shortened.
        reference: String,
        /// Byte offset of the first whitespace.
        at: usize,
    },
    /// The reference contains a control character.
    #[error("image reference {reference:?} contains a control character at byte {at}")]
    ControlCharacter {
        /// The reference, shortened.
        reference: String,
        /// Byte offset of the first control character.
        at: usize,
    },
    /// The reference contains a character outside ASCII, which the grammar never allows.
    #[error(
        "image reference {reference:?} contains the non-ASCII character {character:?} at byte \
         {at}; image names are ASCII only"
    )]
    NonAscii {
        /// The reference, shortened.
        reference: String,
        /// The first non-ASCII character.
        character: char,
        /// Its byte offset.
        at: usize,
    },
    /// `registry/repository` is longer than [`MAX_NAME_LEN`].
    #[error("image reference {reference:?} has a name of {len} bytes; the limit is {MAX_NAME_LEN}")]
    NameTooLong {
        /// The reference, shortened.
        reference: String,
        /// Length of the normalised name in bytes.
        len: usize,
    },
    /// The registry host (or port) is malformed.
    #[error("image reference {reference:?} has an invalid registry {registry:?}: {reason}")]
    InvalidRegistry {
        /// The reference, shortened.
        reference: String,
        /// The registry part.
        registry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The repository path has upper-case letters, which registries refuse.
    #[error(
        "image reference {reference:?} has upper-case letters in its repository {repository:?}; \
         repository names are lower-case"
    )]
    UpperCaseRepository {
        /// The reference, shortened.
        reference: String,
        /// The repository path as given.
        repository: String,
    },
    /// A repository path component is empty or malformed.
    #[error("image reference {reference:?} has an invalid repository {repository:?}: {reason}")]
    InvalidRepository {
        /// The reference, shortened.
        reference: String,
        /// The repository path as given.
        repository: String,
        /// What is wrong with it (which component, which character).
        reason: String,
    },
    /// The name is a 64-character hex string, which Docker reserves for image IDs.
    #[error(
        "image reference {reference:?} is a 64-character hex string, which is an image ID, not \
         a repository name"
    )]
    HexIdentifier {
        /// The reference, shortened.
        reference: String,
    },
    /// The tag breaks the tag grammar.
    #[error("image reference {reference:?} has an invalid tag {tag:?}: {reason}")]
    InvalidTag {
        /// The reference, shortened.
        reference: String,
        /// The tag, shortened.
        tag: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The digest is malformed or uses an algorithm we do not accept.
    #[error("image reference {reference:?} has an invalid digest {digest:?}: {reason}")]
    InvalidDigest {
        /// The reference, shortened.
        reference: String,
        /// The digest, shortened.
        digest: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A parsed, normalised image reference: always a registry and a full repository path, and
/// optionally a tag, a digest, or both.
///
/// Serialises as its canonical string ([`Display`](fmt::Display)), and deserialises through
/// [`ImageRef::parse`], so a stored reference is valid when read back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// Parses and normalises a reference such as `nginx`, `nginx:1.27`,
    /// `localhost:5000/app@sha256:…` or `ghcr.io/acme/api:v2@sha256:…`.
    pub fn parse(input: &str) -> Result<ImageRef, Error> {
        check_characters(input)?;
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (input, None),
        };
        let (name, tag) = split_tag(rest);
        let (registry, path) = split_registry(name);
        if registry.is_none() && is_hex_identifier(path) {
            return Err(Error::HexIdentifier {
                reference: preview(input),
            });
        }
        let mut image = build(input, registry.unwrap_or(DOCKER_HUB), path)?;
        if let Some(tag) = tag {
            image.tag = Some(checked_tag(input, tag)?);
        }
        if let Some(digest) = digest {
            image.digest = Some(checked_digest(input, digest)?);
        }
        Ok(image)
    }

    /// Builds a reference from a registry host and a repository path that a webhook reports
    /// separately, with the same checks and normalisation as [`ImageRef::parse`].
    pub fn from_parts(registry: &str, repository: &str) -> Result<ImageRef, Error> {
        let shown = format!("{registry}/{repository}");
        // Character problems in the host are registry errors, so a caller can tell which of
        // its two inputs was wrong.
        check_characters(registry).map_err(|error| Error::InvalidRegistry {
            reference: preview(&shown),
            registry: preview(registry),
            reason: character_reason(&error),
        })?;
        check_characters(&shown)?;
        let image = build(&shown, registry, repository)?;
        // The canonical text must read back as this registry: a bare `registry` host would
        // read as the first component of a Docker Hub repository.
        if !names_a_registry(&image.registry) {
            return Err(Error::InvalidRegistry {
                reference: preview(&shown),
                registry: preview(registry),
                reason: format!(
                    "a registry host needs a dot or a port (or is localhost): written in an image \
                     name, {:?} is a Docker Hub repository; configure the registry with its full \
                     host name or host:port",
                    preview(&format!("{}/{}", image.registry, image.repository))
                ),
            });
        }
        Ok(image)
    }

    /// The registry host, lower-cased, with its port if it has one (`docker.io`,
    /// `localhost:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path within the registry (`library/nginx`, `acme/api`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:…`), if the reference has one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `registry/repository`, without tag or digest: the identity of the repository.
    pub fn full_repository(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Whether both references name the same repository, whatever their tags and digests.
    pub fn same_repository(&self, other: &ImageRef) -> bool {
        self.registry == other.registry && self.repository == other.repository
    }

    /// The same reference with `tag` (checked against the tag grammar); any digest is kept.
    pub fn with_tag(&self, tag: &str) -> Result<ImageRef, Error> {
        self.clone().into_tagged(tag)
    }

    /// [`with_tag`](ImageRef::with_tag), consuming this reference. An error quotes the
    /// reference, written out only then.
    pub fn into_tagged(mut self, tag: &str) -> Result<ImageRef, Error> {
        check_tag_text(tag).map_err(|reason| tag_error(&self.to_string(), tag, reason))?;
        self.tag = Some(tag.to_owned());
        Ok(self)
    }

    /// The same reference with `digest` (checked); any tag is kept.
    pub fn with_digest(&self, digest: &str) -> Result<ImageRef, Error> {
        self.clone().into_pinned(digest)
    }

    /// [`with_digest`](ImageRef::with_digest), consuming this reference, as
    /// [`into_tagged`](ImageRef::into_tagged) does.
    pub fn into_pinned(mut self, digest: &str) -> Result<ImageRef, Error> {
        check_digest_text(digest)
            .map_err(|reason| digest_error(&self.to_string(), digest, reason))?;
        self.digest = Some(digest.to_owned());
        Ok(self)
    }

    /// The same repository with neither tag nor digest.
    pub fn without_version(&self) -> ImageRef {
        ImageRef {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }

    /// The short form people type: `nginx:1.27` for `docker.io/library/nginx:1.27`,
    /// `acme/api` for `docker.io/acme/api`, and the canonical form for other registries.
    pub fn familiar(&self) -> String {
        let name = if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .filter(|rest| !rest.contains('/'))
                .unwrap_or(&self.repository)
                .to_owned()
        } else {
            self.full_repository()
        };
        format!("{name}{}", self.version_suffix())
    }

    fn version_suffix(&self) -> String {
        let mut suffix = String::new();
        if let Some(tag) = &self.tag {
            suffix.push(':');
            suffix.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            suffix.push('@');
            suffix.push_str(digest);
        }
        suffix
    }
}

/// The canonical form: `registry/repository[:tag][@digest]`.
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}{}",
            self.registry,
            self.repository,
            self.version_suffix()
        )
    }
}

impl FromStr for ImageRef {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

impl Serialize for ImageRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImageRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ImageRef::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Checks a tag on its own (`1.27`, `v2-alpine`), as in `name:tag`.
pub fn check_tag(tag: &str) -> Result<(), Error> {
    checked_tag(tag, tag).map(drop)
}

/// Checks a digest on its own (`sha256:` and 64 lower-case hex digits).
pub fn check_digest(digest: &str) -> Result<(), Error> {
    checked_digest(digest, digest).map(drop)
}

/// Quotes at most [`PREVIEW_CHARS`] characters of `text`, so a megabyte of hostile input does
/// not end up in a log line.
pub(crate) fn preview(text: &str) -> String {
    match text.char_indices().nth(PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
        None => text.to_owned(),
    }
}

fn check_characters(input: &str) -> Result<(), Error> {
    if input.is_empty() {
        return Err(Error::Empty);
    }
    // The common case, printable ASCII throughout, in one pass over the bytes; the loop
    // below finds what is wrong with the rest.
    if input.bytes().all(|b| b.is_ascii_graphic()) {
        return Ok(());
    }
    let reference = || preview(input);
    for (at, character) in input.char_indices() {
        if character.is_whitespace() {
            return Err(Error::Whitespace {
                reference: reference(),
                at,
            });
        }
        if character.is_control() {
            return Err(Error::ControlCharacter {
                reference: reference(),
                at,
            });
        }
        if !character.is_ascii() {
            return Err(Error::NonAscii {
                reference: reference(),
                character,
                at,
            });
        }
    }
    Ok(())
}

/// The reason part of a [`check_characters`] error.
fn character_reason(error: &Error) -> String {
    match error {
        Error::Empty => "it is empty".to_owned(),
        Error::Whitespace { at, .. } => format!("it contains whitespace at byte {at}"),
        Error::ControlCharacter { at, .. } => {
            format!("it contains a control character at byte {at}")
        }
        Error::NonAscii { character, at, .. } => {
            format!("it contains the non-ASCII character {character:?} at byte {at}")
        }
        other => other.to_string(),
    }
}

/// Splits `name[:tag]`: the tag is after the last `:` that follows the last `/`, so the port
/// in `localhost:5000/app` stays in the name.
fn split_tag(rest: &str) -> (&str, Option<&str>) {
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(colon) => {
            let colon = last_slash + colon;
            (&rest[..colon], Some(&rest[colon + 1..]))
        }
        None => (rest, None),
    }
}

/// Decides whether the first component is a registry host, as Docker's `splitDockerDomain`
/// did before it began treating upper-case components as hosts (see the module primer).
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest)) if names_a_registry(first) => (Some(first), rest),
        _ => (None, name),
    }
}

/// Whether `first`, as the first component of an image name, is a registry host.
fn names_a_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

fn is_hex_identifier(path: &str) -> bool {
    path.len() == 64 && path.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Normalises and checks `registry` and `path`; `input` is only for error messages.
fn build(input: &str, registry: &str, path: &str) -> Result<ImageRef, Error> {
    let registry = normalise_registry(input, registry)?;
    check_repository(input, path)?;
    let repository = if registry == DOCKER_HUB && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_owned()
    };
    let len = registry.len() + 1 + repository.len();
    if len > MAX_NAME_LEN {
        return Err(Error::NameTooLong {
            reference: preview(input),
            len,
        });
    }
    Ok(ImageRef {
        registry,
        repository,
        tag: None,
        digest: None,
    })
}

fn normalise_registry(input: &str, registry: &str) -> Result<String, Error> {
    check_registry(registry).map_err(|reason| Error::InvalidRegistry {
        reference: preview(input),
        registry: preview(registry),
        reason,
    })?;
    let lower = registry.to_ascii_lowercase();
    if DOCKER_HUB_ALIASES.contains(&lower.as_str()) {
        Ok(DOCKER_HUB.to_owned())
    } else {
        Ok(lower)
    }
}

/// `host[:port]`, where host is a DNS name, an IPv4 address, or a bracketed IPv6 address.
fn check_registry(registry: &str) -> Result<(), String> {
    if registry.is_empty() {
        return Err("it is empty".to_owned());
    }
    let (host, port) = split_port(registry)?;
    if let Some(port) = port {
        check_port(port)?;
    }
    if let Some(inner) = host.strip_prefix('[') {
        return check_ipv6(inner);
    }
    check_host_name(host)
}

fn split_port(registry: &str) -> Result<(&str, Option<&str>), String> {
    if registry.starts_with('[') {
        let close = registry
            .find(']')
            .ok_or_else(|| "an IPv6 address must end with ']'".to_owned())?;
        let (host, after) = registry.split_at(close + 1);
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!(
                    "unexpected {:?} after the IPv6 address",
                    preview(after)
                )),
            },
        };
    }
    Ok(match registry.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    })
}

fn check_port(port: &str) -> Result<(), String> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the port {:?} is not a number", preview(port)));
    }
    match port.parse::<u16>() {
        Ok(n) if n > 0 => Ok(()),
        _ => Err(format!("the port {port} is not between 1 and 65535")),
    }
}

fn check_ipv6(inner: &str) -> Result<(), String> {
    let address = inner.strip_suffix(']').unwrap_or(inner);
    if address.is_empty() || !address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
        return Err(format!("{:?} is not an IPv6 address", preview(address)));
    }
    Ok(())
}

fn check_host_name(host: &str) -> Result<(), String> {
    for label in host.split('.') {
        if label.is_empty() {
            return Err("the host has an empty label (a leading, trailing or double '.')".into());
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
        {
            return Err(format!("the host contains {bad:?}"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "the host label {:?} starts or ends with '-'",
                preview(label)
            ));
        }
    }
    Ok(())
}

fn check_repository(input: &str, path: &str) -> Result<(), Error> {
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(Error::UpperCaseRepository {
            reference: preview(input),
            repository: preview(path),
        });
    }
    if path.is_empty() {
        return Err(invalid_repository(input, path, "it is empty".into()));
    }
    for component in path.split('/') {
        check_component(component).map_err(|reason| invalid_repository(input, path, reason))?;
    }
    Ok(())
}

fn invalid_repository(input: &str, path: &str, reason: String) -> Error {
    Error::InvalidRepository {
        reference: preview(input),
        repository: preview(path),
        reason,
    }
}

/// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*`
fn check_component(component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err("it has an empty path component (a leading, trailing or double '/')".into());
    }
    // The common case, letters and digits alone: nothing below can fail.
    if component
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Ok(());
    }
    if let Some(bad) = component.chars().find(|c| !is_path_char(*c)) {
        return Err(format!(
            "the component {:?} contains {bad:?}; use a-z, 0-9, '.', '_' and '-'",
            preview(component)
        ));
    }
    let bytes = component.as_bytes();
    if !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return Err(format!(
            "the component {:?} must start and end with a letter or digit",
            preview(component)
        ));
    }
    for run in component.split(|c: char| c.is_ascii_alphanumeric()) {
        if !run.is_empty() && !is_separator(run) {
            return Err(format!(
                "the component {:?} has the separator {:?}; use '.', '_', '__' or dashes",
                preview(component),
                preview(run)
            ));
        }
    }
    Ok(())
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
}

fn is_separator(run: &str) -> bool {
    matches!(run, "." | "_" | "__") || run.bytes().all(|b| b == b'-')
}

fn checked_tag(input: &str, tag: &str) -> Result<String, Error> {
    check_tag_text(tag).map_err(|reason| tag_error(input, tag, reason))?;
    Ok(tag.to_owned())
}

fn tag_error(input: &str, tag: &str, reason: String) -> Error {
    Error::InvalidTag {
        reference: preview(input),
        tag: preview(tag),
        reason,
    }
}

fn check_tag_text(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("it is empty (a ':' with nothing after it)".into());
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(format!(
            "it is {} bytes; the limit is {MAX_TAG_LEN}",
            tag.len()
        ));
    }
    if let Some(bad) = tag.chars().find(|c| !is_tag_char(*c)) {
        return Err(format!(
            "it contains {bad:?}; use letters, digits, '_', '.' and '-'"
        ));
    }
    if matches!(tag.as_bytes()[0], b'.' | b'-') {
        return Err("it must start with a letter, digit or '_'".into());
    }
    Ok(())
}

fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn checked_digest(input: &str, digest: &str) -> Result<String, Error> {
    check_digest_text(digest).map_err(|reason| digest_error(input, digest, reason))?;
    Ok(digest.to_owned())
}

fn digest_error(input: &str, digest: &str, reason: String) -> Error {
    Error::InvalidDigest {
        reference: preview(input),
        digest: preview(digest),
        reason,
    }
}

/// Only the algorithms the OCI image spec registers are accepted: a digest pins what gets
/// deployed, so one we cannot verify is refused rather than passed on.
fn check_digest_text(digest: &str) -> Result<(), String> {
    if digest.is_empty() {
        return Err("it is empty (an '@' with no digest after it)".into());
    }
    if digest.contains('@') {
        return Err("it contains a second '@'".into());
    }
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err("it has no ':' between algorithm and hex, as in sha256:<64 hex>".into());
    };
    let expected = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => {
            return Err(format!(
                "the algorithm {:?} is not sha256 or sha512",
                preview(algorithm)
            ));
        }
    };
    if let Some(bad) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
        return Err(format!(
            "it contains {bad:?}; the hex part is lower-case 0-9 and a-f"
        ));
    }
    if hex.len() != expected {
        return Err(format!(
            "a {algorithm} digest has {expected} hex digits, this one has {}",
            hex.len()
        ));
    }
    Ok(())
}
