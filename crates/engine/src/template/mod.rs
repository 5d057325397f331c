//! Templates: multi-document Kubernetes YAML, parsed into validated manifests.
//!
//! A template's text goes through three steps:
//!
//! 1. [`split`] cuts the text into document bodies at `---` / `...` marker lines, remembering
//!    each body's byte range and first line, so errors can point at a line and unchanged
//!    documents can be written back exactly as the user wrote them (comments included).
//! 2. Each non-empty body is parsed on its own with hard limits (size, nesting depth, alias
//!    expansion), so a hostile document fails fast with an error that names it.
//! 3. Each object is validated (`apiVersion`, `kind`, `metadata.name`) and keyed by its
//!    [`ResourceId`]; two documents with the same identity are refused.
//!
//! [`Manifest::replace`] is the only way a manifest changes: it swaps the values of some
//! documents, renders just those back to YAML (keeping the comment lines above each one;
//! comments inside a re-rendered object are lost), and re-validates them.
//!
//! Before a manifest becomes a version, [`Manifest::check_for_save`] ([`check`]) holds it to
//! limits below the reader's (so every saved version reads back) and to the rules of the
//! Kubernetes API server ([`tripline_validation`]), naming the document, field and line.

mod check;
mod id;
mod locate;
mod recent;
mod schema;
mod split;
mod yaml;

use std::fmt;
use std::ops::Range;

use serde_json::Value;
use sha2::{Digest, Sha256};

pub use check::{FieldProblem, Limit, MAX_ALIASES, MAX_DEPTH, MAX_NODES};
pub use id::ResourceId;
pub(crate) use id::check_dns_label;
pub(crate) use schema::check_schema;
use split::split;

/// The largest template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 32 * 1024 * 1024;
/// The largest single document accepted, in bytes: the Kubernetes API refuses objects
/// near this size anyway (etcd's request limit is 1.5 MiB, the API server's body limit 3 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 3 * 1024 * 1024;
/// The most documents one template may hold.
pub const MAX_DOCUMENTS: usize = 10_000;

/// Errors from reading a template.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not UTF-8.
    #[error(
        "the template is not valid UTF-8 text: invalid byte at line {line}, column {column}; \
         save the file as UTF-8"
    )]
    NotUtf8 {
        /// 1-based line of the first invalid byte.
        line: usize,
        /// 1-based column (in bytes) of the first invalid byte.
        column: usize,
    },
    /// The whole template is larger than [`MAX_TEMPLATE_BYTES`].
    #[error("the template is {}, larger than the {} limit", Size(*.size), Size(*.limit))]
    TooLarge {
        /// Size of the text in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The template has more than [`MAX_DOCUMENTS`] documents.
    #[error("the template has more than {limit} documents; split it into several templates")]
    TooManyDocuments {
        /// The limit.
        limit: usize,
    },
    /// One document is larger than [`MAX_DOCUMENT_BYTES`].
    #[error(
        "document {index} (line {line}) is {}, larger than the {} a Kubernetes object may have",
        Size(*.size), Size(*.limit)
    )]
    DocumentTooLarge {
        /// 1-based index of the document.
        index: usize,
        /// 1-based first line of the document.
        line: usize,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A document is not valid YAML, or breaks a parsing limit (depth, aliases).
    #[error("document {index}, line {line}, column {column}: {message}")]
    Yaml {
        /// 1-based index of the document.
        index: usize,
        /// 1-based line in the whole template.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the YAML parser said.
        message: String,
    },
    /// A document is YAML but not a Kubernetes object.
    #[error(
        "document {index} (line {line}) is {found}, not a Kubernetes object: \
         expected a mapping with apiVersion, kind and metadata.name"
    )]
    NotAnObject {
        /// 1-based index of the document.
        index: usize,
        /// 1-based first line of the document.
        line: usize,
        /// What it is instead ("a list", "a string", …).
        found: &'static str,
    },
    /// A required field is missing or malformed.
    #[error("document {index} (line {line}): {problem}")]
    Invalid {
        /// 1-based index of the document.
        index: usize,
        /// 1-based first line of the document.
        line: usize,
        /// What is wrong, naming the field.
        problem: String,
    },
    /// Two documents describe the same object.
    #[error(
        "documents {first_index} (line {first_line}) and {index} (line {line}) both define {id}; \
         each object may appear once"
    )]
    Duplicate {
        /// The shared identity.
        id: Box<ResourceId>,
        /// 1-based index of the earlier document.
        first_index: usize,
        /// Its first line.
        first_line: usize,
        /// 1-based index of the later document.
        index: usize,
        /// Its first line.
        line: usize,
    },
    /// No document holds an object.
    #[error(
        "the template has no Kubernetes objects: add at least one document with apiVersion, \
         kind and metadata.name"
    )]
    Empty,
    /// A document of a manifest about to be saved is over a depth, node or alias limit.
    #[error(
        "document {index} (line {line}), {kind} {name}: its {limit} is {value}, more than the \
         {max} a saved template may have; {hint}",
        kind = id.kind, name = id.name, hint = limit.hint()
    )]
    OverLimit {
        /// 1-based index of the document.
        index: usize,
        /// 1-based first line of the document.
        line: usize,
        /// The object.
        id: Box<ResourceId>,
        /// Which limit.
        limit: Limit,
        /// The document's value for it.
        value: usize,
        /// The limit's value.
        max: usize,
    },
    /// An object a Kubernetes API server would refuse.
    #[error(
        "document {index} (line {line}), {kind} {name} would be refused by Kubernetes: \
         {problems}; correct the fields named",
        kind = id.kind, name = id.name, problems = check::Problems(problems)
    )]
    Rejected {
        /// 1-based index of the document.
        index: usize,
        /// 1-based first line of the document.
        line: usize,
        /// The object.
        id: Box<ResourceId>,
        /// Every field at fault, in the API server's order.
        problems: Vec<FieldProblem>,
    },
    /// A changed document could not be written back as YAML.
    #[error("could not render {id} as YAML: {message}")]
    Render {
        /// The object.
        id: Box<ResourceId>,
        /// What the serializer said.
        message: String,
    },
}

impl Error {
    /// Where in the template text the problem is, as 1-based (line, column) when known, for
    /// editors that show errors at the line.
    pub fn location(&self) -> Option<(usize, Option<usize>)> {
        match self {
            Error::NotUtf8 { line, column } | Error::Yaml { line, column, .. } => {
                Some((*line, Some(*column)))
            }
            Error::Rejected { line, problems, .. } => {
                Some((problems.iter().find_map(|p| p.line).unwrap_or(*line), None))
            }
            Error::DocumentTooLarge { line, .. }
            | Error::OverLimit { line, .. }
            | Error::NotAnObject { line, .. }
            | Error::Invalid { line, .. }
            | Error::Duplicate { line, .. } => Some((*line, None)),
            _ => None,
        }
    }
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One Kubernetes object in a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 1-based position among the template's non-empty documents.
    pub index: usize,
    /// 1-based line where the document's body starts.
    pub line: usize,
    /// The object's identity.
    pub id: ResourceId,
    /// The object itself (always a JSON object).
    pub value: Value,
    /// Byte range of the body in the manifest's text.
    span: Range<usize>,
    /// How many aliases (`*name`) the body uses (none once it is re-rendered).
    aliases: usize,
}

impl Document {
    /// The document's YAML exactly as it stands in the template.
    pub fn source<'a>(&self, manifest: &'a Manifest) -> &'a str {
        &manifest.text[self.span.clone()]
    }
}

/// `text` with every carriage return that is not followed by a line feed turned into a line
/// feed, or `None` when it has none (the common case costs one scan and no copy).
fn lone_carriage_returns_as_line_feeds(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let lone = |(i, &b): (usize, &u8)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n');
    if !text.contains('\r') || !bytes.iter().enumerate().any(lone) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\r') {
        out.push_str(&rest[..at]);
        if rest[at + 1..].starts_with('\n') {
            out.push('\r');
        } else {
            out.push('\n');
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// A parsed, validated template text.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    text: String,
    documents: Vec<Document>,
}

impl Manifest {
    /// Parses and validates raw bytes (from a file, stdin or an HTTP body).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_TEMPLATE_BYTES {
            return Err(Error::TooLarge {
                size: bytes.len(),
                limit: MAX_TEMPLATE_BYTES,
            });
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::parse(text),
            Err(e) => {
                let valid = &bytes[..e.valid_up_to()];
                let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
                let column =
                    valid.len() - valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
                Err(Error::NotUtf8 { line, column })
            }
        }
    }

    /// Parses and validates template text.
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_inner(text, None)
    }

    /// Parses `text`, or clones the manifest of a recent parse or save of the same text (see
    /// `recent`): the paths from a trigger call to the cluster read the same few texts
    /// several times.
    pub fn parse_recent(text: &str) -> Result<Self> {
        Self::parse_recent_inner(text, None)
    }

    /// [`Manifest::parse_reusing`], or the manifest of a recent parse or save of `text`.
    pub fn parse_recent_reusing(text: &str, previous: &Manifest) -> Result<Self> {
        Self::parse_recent_inner(text, Some(previous))
    }

    fn parse_recent_inner(text: &str, previous: Option<&Manifest>) -> Result<Self> {
        if let Some(found) = recent::find(text) {
            return Ok((*found).clone());
        }
        let manifest = Self::parse_inner(text, previous)?;
        recent::keep(std::sync::Arc::new(manifest.clone()));
        Ok(manifest)
    }

    /// Keeps this manifest for [`Manifest::parse_recent`] (a version just saved is read back
    /// by the deploy that follows).
    pub fn keep_recent(&self) {
        recent::keep(std::sync::Arc::new(self.clone()));
    }

    /// Parses `text`, reusing the parsed objects of `previous` for documents whose text is
    /// identical: comparing two versions of a large template then parses each document once.
    pub fn parse_reusing(text: &str, previous: &Manifest) -> Result<Self> {
        Self::parse_inner(text, Some(previous))
    }

    fn parse_inner(text: &str, previous: Option<&Manifest>) -> Result<Self> {
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(Error::TooLarge {
                size: text.len(),
                limit: MAX_TEMPLATE_BYTES,
            });
        }
        let known: std::collections::HashMap<&str, &Document> = previous
            .map(|m| m.documents.iter().map(|d| (d.source(m), d)).collect())
            .unwrap_or_default();
        // Every leading byte-order mark goes, not only the first: the text kept must parse back
        // to itself (found by fuzzing: two marks left one in the text, which the next parse
        // dropped).
        let text = text.trim_start_matches('\u{feff}');
        // YAML reads a carriage return that no line feed follows (old Mac line ends) as a line
        // break; the document cutter and the renderer read lines by `\n`. Such breaks become `\n`
        // in the kept text, so every part sees the same lines (found by fuzzing: a comment
        // line ended by a lone CR swallowed the key after it, and re-rendering duplicated it).
        let normalised = lone_carriage_returns_as_line_feeds(text);
        let text = normalised.as_deref().unwrap_or(text);
        let mut documents = Vec::new();
        for chunk in split(text) {
            if documents.len() == MAX_DOCUMENTS {
                return Err(Error::TooManyDocuments {
                    limit: MAX_DOCUMENTS,
                });
            }
            let index = documents.len() + 1;
            let body = &text[chunk.span.clone()];
            if let Some(reused) = known.get(body) {
                documents.push(Document {
                    index,
                    line: chunk.line,
                    id: reused.id.clone(),
                    value: reused.value.clone(),
                    span: chunk.span,
                    aliases: reused.aliases,
                });
            } else if let Some(document) = parse_document(body, index, chunk.line, chunk.span)? {
                documents.push(document);
            }
        }
        let manifest = Manifest {
            text: text.to_owned(),
            documents,
        };
        manifest.check_unique()?;
        Ok(manifest)
    }

    /// The template text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Consumes the manifest, returning its text.
    pub fn into_text(self) -> String {
        self.text
    }

    /// The objects, in template order.
    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    /// The hex SHA-256 of the text: what "identical content" means for versions.
    pub fn hash(&self) -> String {
        content_hash(&self.text)
    }

    /// Replaces the values of some documents (by position in [`Manifest::documents`]),
    /// rendering only those back to YAML; every other byte of the text is kept.
    ///
    /// The new values are validated like parsed ones; an identity clash is refused.
    pub fn replace(self, changes: Vec<(usize, Value)>) -> Result<Self> {
        let Manifest {
            text: old_text,
            mut documents,
        } = self;
        let mut changes = changes;
        changes.sort_by_key(|(position, _)| *position);
        let mut text = String::with_capacity(old_text.len() + 256);
        let mut copied = 0;
        let mut line_shift: isize = 0;
        let mut pending = changes.into_iter().peekable();
        for (position, document) in documents.iter_mut().enumerate() {
            let old_span = document.span.clone();
            text.push_str(&old_text[copied..old_span.start]);
            let start = text.len();
            document.line = shift(document.line, line_shift);
            if let Some((_, value)) = pending.next_if(|(p, _)| *p == position) {
                let rendered = yaml::render(&value).map_err(|message| Error::Render {
                    id: Box::new(document.id.clone()),
                    message,
                })?;
                let old_body = &old_text[old_span.clone()];
                // Comments above the object (a title, a note) survive its re-rendering;
                // comments inside it cannot be placed again and are lost.
                let header = leading_comments(old_body);
                let rendered = format!("{header}{rendered}");
                line_shift += count_lines(&rendered) as isize - count_lines(old_body) as isize;
                text.push_str(&rendered);
                let id = validate(&value, document.index, document.line, &rendered)?;
                document.id = id;
                document.value = value;
                document.aliases = 0;
            } else {
                text.push_str(&old_text[old_span.clone()]);
            }
            document.span = start..text.len();
            copied = old_span.end;
        }
        text.push_str(&old_text[copied..]);
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(Error::TooLarge {
                size: text.len(),
                limit: MAX_TEMPLATE_BYTES,
            });
        }
        let manifest = Manifest { text, documents };
        manifest.check_unique()?;
        Ok(manifest)
    }

    fn check_unique(&self) -> Result<()> {
        if self.documents.is_empty() {
            return Err(Error::Empty);
        }
        let mut seen = std::collections::HashMap::with_capacity(self.documents.len());
        for document in &self.documents {
            if let Some(first) = seen.insert(&document.id, document) {
                return Err(Error::Duplicate {
                    id: Box::new(document.id.clone()),
                    first_index: first.index,
                    first_line: first.line,
                    index: document.index,
                    line: document.line,
                });
            }
        }
        Ok(())
    }
}

/// The hex SHA-256 of a template text.
pub fn content_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The blank and comment lines a document body starts with.
fn leading_comments(body: &str) -> &str {
    let mut end = 0;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            end += line.len();
        } else {
            break;
        }
    }
    &body[..end]
}

fn shift(line: usize, by: isize) -> usize {
    (line as isize + by).max(1) as usize
}

fn count_lines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count()
}

fn parse_document(
    body: &str,
    index: usize,
    line: usize,
    span: Range<usize>,
) -> Result<Option<Document>> {
    if split::is_blank(body) {
        return Ok(None);
    }
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::DocumentTooLarge {
            index,
            line,
            size: body.len(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    let (value, aliases) = yaml::parse_counting(body).map_err(|e| Error::Yaml {
        index,
        line: line + e.line.saturating_sub(1),
        column: e.column,
        message: e.message,
    })?;
    if value.is_null() {
        return Ok(None);
    }
    let id = validate(&value, index, line, body)?;
    Ok(Some(Document {
        index,
        line,
        id,
        value,
        span,
        aliases,
    }))
}

/// Checks that a value is a Kubernetes object and returns its identity; `source` is the
/// document's text, whose first line is `line`.
fn validate(value: &Value, index: usize, line: usize, source: &str) -> Result<ResourceId> {
    let Value::Object(object) = value else {
        return Err(Error::NotAnObject {
            index,
            line,
            found: kind_of(value),
        });
    };
    let id = ResourceId::from_object(object).map_err(|refused| Error::Invalid {
        index,
        line,
        problem: refused.0,
    })?;
    if let Err(problem) = check_schema(&id, value) {
        // The Kubernetes schema's type check names the same mistakes in the API server's
        // words, at their line; the typed decoding above still stands guard for the rest.
        let problems: Vec<FieldProblem> =
            tripline_validation::check_fields(&id.api_version, &id.kind, value)
                .into_iter()
                .filter(|cause| cause.reason == tripline_validation::schema::TYPE_INVALID)
                .map(|cause| FieldProblem::located(cause, source, line))
                .collect();
        if problems.is_empty() {
            return Err(Error::Invalid {
                index,
                line,
                problem: format!("{} {}: {problem}", id.kind, id.name),
            });
        }
        return Err(Error::Rejected {
            index,
            line,
            id: Box::new(id),
            problems,
        });
    }
    Ok(id)
}

/// Parses one YAML document into a JSON value (for patches written as YAML); the error is
/// (line, column, message).
pub(crate) fn parse_yaml_value(text: &str) -> std::result::Result<Value, (usize, usize, String)> {
    yaml::parse(text).map_err(|e| (e.line, e.column, e.message))
}

/// A short name for a JSON value's type, for error messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Formats a byte count for people.
pub(crate) struct Size(pub usize);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: f64 = 1024.0;
        let bytes = self.0 as f64;
        if bytes >= KIB * KIB {
            write!(f, "{:.1} MiB", bytes / KIB / KIB)
        } else if bytes >= KIB {
            write!(f, "{:.1} KiB", bytes / KIB)
        } else {
            write!(f, "{} bytes", self.0)
        }
    }
}

#[cfg(test)]
mod tests;
