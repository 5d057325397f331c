//! Patches: how triggers and users change a template without rewriting it.
//!
//! A [`Patch`] is parsed from a request body and its media type ([`PatchType`]), then
//! [`apply`]ed to a [`Manifest`]:
//!
//! 1. every resource the patch names is found by kind (case-insensitive, as in the seed's
//!    `{"resource":{"deployment":…}}`), `metadata.name` and, when given, namespace and
//!    apiVersion — a name that matches nothing, or more than one object, is an error;
//! 2. the patch is merged into that object: strategic merge ([`strategic_merge`]) for the seed
//!    format and `strategic-merge-patch+json`, RFC 7396 for `merge-patch+json`, RFC 6902 for
//!    `json-patch+json`;
//! 3. the result must still be a valid object with the same identity, and the manifest is
//!    rebuilt with [`Manifest::replace`], which re-renders only the changed documents.
//!
//! Nothing is written here: the caller (the store) decides whether a new version results.

use serde::Serialize;
use serde_json::Value;

use crate::template::{self, Manifest, ResourceId, kind_of};

/// The largest patch body accepted, in bytes.
pub const MAX_PATCH_BYTES: usize = 3 * 1024 * 1024;

/// Errors from parsing or applying a patch. None of them changes anything.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is larger than [`MAX_PATCH_BYTES`].
    #[error("the patch is {size} bytes, larger than the {limit}-byte limit")]
    TooLarge {
        /// Size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is empty.
    #[error("the patch is empty")]
    Empty,
    /// The body is neither JSON nor YAML.
    #[error("the patch is not valid JSON (line {line}, column {column}: {message})")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The body has the wrong structure for its type.
    #[error("{0}")]
    Shape(String),
    /// The media type names no patch format we accept.
    #[error(
        "unsupported patch type {0:?}: use application/json (the {{\"resource\":…}} form), \
         application/strategic-merge-patch+json, application/merge-patch+json or \
         application/json-patch+json"
    )]
    UnsupportedType(String),
    /// The patch names a kind the template does not have.
    #[error("the template has no {kind} (it has: {available})")]
    KindNotInTemplate {
        /// The kind the patch names.
        kind: String,
        /// The kinds the template has, comma-separated.
        available: String,
    },
    /// The patch names an object the template does not have.
    #[error("the template has no {kind} named {name:?}{} (it has: {available})", namespace_suffix(.namespace))]
    ResourceNotFound {
        /// The kind.
        kind: String,
        /// The name the patch gives.
        name: String,
        /// The namespace the patch gives, if any.
        namespace: Option<String>,
        /// Names of that kind in the template, comma-separated.
        available: String,
    },
    /// More than one object matches; the patch must say which.
    #[error(
        "{count} objects match {kind} {name:?}: {candidates}; add metadata.namespace or apiVersion to the patch to choose one"
    )]
    Ambiguous {
        /// The kind.
        kind: String,
        /// The name.
        name: String,
        /// How many match.
        count: usize,
        /// The matches.
        candidates: String,
    },
    /// The strategic merge failed.
    #[error("cannot patch {id}: {source}")]
    Strategic {
        /// The object.
        id: Box<ResourceId>,
        /// Where and why.
        #[source]
        source: strategic_merge::MergeError,
    },
    /// An RFC 6902 operation failed.
    #[error("cannot patch {id}: {source}")]
    JsonPatch {
        /// The object.
        id: Box<ResourceId>,
        /// Which operation and why.
        #[source]
        source: json_patch::PatchError,
    },
    /// The patch would change which object a document is.
    #[error("the patch would change {from} into {to}; a patch may not rename or move an object")]
    IdentityChanged {
        /// Before.
        from: Box<ResourceId>,
        /// After.
        to: Box<ResourceId>,
    },
    /// The patched manifest is not valid.
    #[error("the patched template is not valid: {0}")]
    Invalid(#[source] template::Error),
}

fn namespace_suffix(namespace: &Option<String>) -> String {
    namespace
        .as_ref()
        .map(|ns| format!(" in namespace {ns:?}"))
        .unwrap_or_default()
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The patch formats, as named by a request's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchType {
    /// The seed's `{"resource":{"<kind>":{…}}}` body (`application/json`).
    Resource,
    /// A strategic merge patch of one object (`application/strategic-merge-patch+json`).
    Strategic,
    /// An RFC 7396 merge patch of one object (`application/merge-patch+json`).
    Merge,
    /// An RFC 6902 JSON Patch of one object (`application/json-patch+json`).
    Json,
}

impl PatchType {
    /// Maps a `Content-Type` value (parameters ignored) to a patch type.
    pub fn from_media_type(media_type: &str) -> Result<Self> {
        let essence = media_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "" | "application/json" | "text/json" | "application/yaml" | "text/yaml" => {
                Ok(Self::Resource)
            }
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/json-patch+json" => Ok(Self::Json),
            _ => Err(Error::UnsupportedType(media_type.to_owned())),
        }
    }

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resource => "resource",
            Self::Strategic => "strategic",
            Self::Merge => "merge",
            Self::Json => "json",
        }
    }
}

/// Which object a single-object patch applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Target {
    /// Kind, matched case-insensitively.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, to choose among objects of the same name.
    pub namespace: Option<String>,
    /// `apiVersion`, to choose among objects of the same kind and name.
    pub api_version: Option<String>,
}

/// One object's part of a patch.
#[derive(Debug, Clone, PartialEq)]
struct Part {
    target: Target,
    body: Body,
}

#[derive(Debug, Clone, PartialEq)]
enum Body {
    Strategic(Value),
    Merge(Value),
    Json(json_patch::Patch),
}

/// A parsed patch, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    kind: PatchType,
    parts: Vec<Part>,
    /// The patch as received, as JSON, for the version record.
    raw: Value,
}

impl Patch {
    /// Parses a patch body. `target` names the object for single-object patch types; for
    /// strategic and merge patches it may be left out when the body itself carries `kind`
    /// and `metadata.name`.
    pub fn parse(kind: PatchType, body: &[u8], target: Option<Target>) -> Result<Self> {
        let raw = parse_body(body)?;
        let parts = match kind {
            PatchType::Resource => resource_parts(&raw)?,
            PatchType::Strategic | PatchType::Merge => {
                if !raw.is_object() {
                    return Err(Error::Shape(format!(
                        "a {} patch must be a JSON object, found {}",
                        kind.as_str(),
                        kind_of(&raw)
                    )));
                }
                let target = match target {
                    Some(t) => t,
                    None => target_from_body(&raw)?,
                };
                let body = if kind == PatchType::Strategic {
                    Body::Strategic(raw.clone())
                } else {
                    Body::Merge(raw.clone())
                };
                vec![Part { target, body }]
            }
            PatchType::Json => {
                let target = target.ok_or_else(|| {
                    Error::Shape(
                        "a JSON Patch does not say which object it changes: give the kind and \
                         name (--kind/--resource-name on the command line, ?kind=&name= on a trigger)"
                            .into(),
                    )
                })?;
                let operations: json_patch::Patch =
                    serde_json::from_value(raw.clone()).map_err(|e| {
                        Error::Shape(format!(
                            "not a JSON Patch (RFC 6902): {e}; expected a list such as \
                             [{{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":3}}]"
                        ))
                    })?;
                vec![Part {
                    target,
                    body: Body::Json(operations),
                }]
            }
        };
        Ok(Patch { kind, parts, raw })
    }

    /// The patch format.
    pub fn kind(&self) -> PatchType {
        self.kind
    }

    /// The patch as JSON, as it was received.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The objects this patch names, as `Kind/name` strings.
    pub fn targets(&self) -> Vec<String> {
        self.parts
            .iter()
            .map(|p| format!("{}/{}", p.target.kind, p.target.name))
            .collect()
    }
}

/// The result of applying a patch.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The patched manifest (the input, unchanged, when `changed` is empty).
    pub manifest: Manifest,
    /// The objects whose content changed.
    pub changed: Vec<ResourceId>,
}

/// Applies `patch` to `manifest`.
pub fn apply(manifest: Manifest, patch: &Patch) -> Result<Applied> {
    // Patch values per document position, starting from the current ones.
    let mut working: Vec<(usize, Value)> = Vec::new();
    for part in &patch.parts {
        let position = find(&manifest, &part.target)?;
        let document = &manifest.documents()[position];
        let slot = match working.iter().position(|(p, _)| *p == position) {
            Some(slot) => slot,
            None => {
                working.push((position, document.value.clone()));
                working.len() - 1
            }
        };
        let current = std::mem::take(&mut working[slot].1);
        let next = apply_body(current, &part.body, &document.id)?;
        check_identity(&document.id, &next, document.index, document.line)?;
        working[slot].1 = next;
    }
    let changes: Vec<(usize, Value)> = working
        .into_iter()
        .filter(|(position, value)| manifest.documents()[*position].value != *value)
        .collect();
    let changed: Vec<ResourceId> = changes
        .iter()
        .map(|(position, _)| manifest.documents()[*position].id.clone())
        .collect();
    if changes.is_empty() {
        return Ok(Applied { manifest, changed });
    }
    let manifest = manifest.replace(changes).map_err(Error::Invalid)?;
    Ok(Applied { manifest, changed })
}

fn apply_body(current: Value, body: &Body, id: &ResourceId) -> Result<Value> {
    match body {
        Body::Strategic(patch) => {
            let schema = strategic_merge::schema::for_kind(id.group(), &id.kind);
            strategic_merge::apply(current, patch.clone(), schema).map_err(|source| {
                Error::Strategic {
                    id: Box::new(id.clone()),
                    source,
                }
            })
        }
        Body::Merge(patch) => {
            let mut value = current;
            json_patch::merge(&mut value, patch);
            Ok(value)
        }
        Body::Json(operations) => {
            let mut value = current;
            json_patch::patch(&mut value, operations).map_err(|source| Error::JsonPatch {
                id: Box::new(id.clone()),
                source,
            })?;
            Ok(value)
        }
    }
}

fn check_identity(
    before: &ResourceId,
    after_value: &Value,
    index: usize,
    line: usize,
) -> Result<()> {
    let Value::Object(object) = after_value else {
        return Err(Error::Invalid(template::Error::NotAnObject {
            index,
            line,
            found: kind_of(after_value),
        }));
    };
    let after = ResourceId::from_object(object).map_err(|refused| {
        Error::Invalid(template::Error::Invalid {
            index,
            line,
            problem: refused.0,
        })
    })?;
    if after != *before {
        return Err(Error::IdentityChanged {
            from: Box::new(before.clone()),
            to: Box::new(after),
        });
    }
    Ok(())
}

/// Accepts a kind as written in the template, in any case, or its plural.
fn kind_matches(wanted: &str, kind: &str) -> bool {
    let wanted = wanted.to_ascii_lowercase();
    let kind = kind.to_ascii_lowercase();
    if wanted == kind {
        return true;
    }
    let plural = if let Some(stem) = kind.strip_suffix('y') {
        format!("{stem}ies")
    } else if kind.ends_with('s') || kind.ends_with("ch") || kind.ends_with('x') {
        format!("{kind}es")
    } else {
        format!("{kind}s")
    };
    wanted == plural
}

fn find(manifest: &Manifest, target: &Target) -> Result<usize> {
    let documents = manifest.documents();
    let of_kind: Vec<usize> = (0..documents.len())
        .filter(|&i| kind_matches(&target.kind, &documents[i].id.kind))
        .collect();
    if of_kind.is_empty() {
        let mut kinds: Vec<&str> = documents.iter().map(|d| d.id.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        return Err(Error::KindNotInTemplate {
            kind: target.kind.clone(),
            available: kinds.join(", "),
        });
    }
    let matches: Vec<usize> = of_kind
        .iter()
        .copied()
        .filter(|&i| {
            let id = &documents[i].id;
            id.name == target.name
                && target
                    .namespace
                    .as_ref()
                    .is_none_or(|ns| id.namespace.as_ref() == Some(ns))
                && target
                    .api_version
                    .as_ref()
                    .is_none_or(|v| &id.api_version == v)
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => {
            let kind = documents[of_kind[0]].id.kind.clone();
            let names: Vec<String> = of_kind
                .iter()
                .map(|&i| {
                    let id = &documents[i].id;
                    match &id.namespace {
                        Some(ns) => format!("{ns}/{}", id.name),
                        None => id.name.clone(),
                    }
                })
                .collect();
            Err(Error::ResourceNotFound {
                kind,
                name: target.name.clone(),
                namespace: target.namespace.clone(),
                available: names.join(", "),
            })
        }
        many => Err(Error::Ambiguous {
            kind: target.kind.clone(),
            name: target.name.clone(),
            count: many.len(),
            candidates: many
                .iter()
                .map(|&i| documents[i].id.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        }),
    }
}

fn parse_body(body: &[u8]) -> Result<Value> {
    if body.len() > MAX_PATCH_BYTES {
        return Err(Error::TooLarge {
            size: body.len(),
            limit: MAX_PATCH_BYTES,
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| Error::Syntax {
        line: 1 + body[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        column: 1,
        message: "the patch is not valid UTF-8".into(),
    })?;
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Err(Error::Empty);
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return serde_json::from_str(trimmed).map_err(|e| Error::Syntax {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        });
    }
    // Not JSON: accept YAML, as kubectl does for -p and patch files.
    let manifest_like = template::parse_yaml_value(trimmed).map_err(|e| Error::Syntax {
        line: e.0,
        column: e.1,
        message: format!("neither JSON nor YAML: {}", e.2),
    })?;
    Ok(manifest_like)
}

fn target_from_body(raw: &Value) -> Result<Target> {
    let kind = raw.get("kind").and_then(Value::as_str);
    let name = raw
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str);
    match (kind, name) {
        (Some(kind), Some(name)) => Ok(Target {
            kind: kind.to_owned(),
            name: name.to_owned(),
            namespace: raw
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            api_version: raw
                .get("apiVersion")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }),
        _ => Err(Error::Shape(
            "the patch does not say which object it changes: include kind and metadata.name in \
             it, or give the target (--kind/--resource-name on the command line, ?kind=&name= on a trigger)"
                .into(),
        )),
    }
}

/// Reads the seed's `{"resource":{"<kind>":{…} | [{…}, …]}}` body.
fn resource_parts(raw: &Value) -> Result<Vec<Part>> {
    const EXAMPLE: &str =
        "{\"resource\":{\"deployment\":{\"metadata\":{\"name\":\"demo\"},\"spec\":{…}}}}";
    let Value::Object(top) = raw else {
        return Err(Error::Shape(format!(
            "the patch must be a JSON object like {EXAMPLE}, found {}",
            kind_of(raw)
        )));
    };
    if let Some(extra) = top.keys().find(|k| *k != "resource") {
        return Err(Error::Shape(format!(
            "unexpected field {extra:?}: the body must be {EXAMPLE}"
        )));
    }
    let resources = match top.get("resource") {
        Some(Value::Object(resources)) if !resources.is_empty() => resources,
        Some(Value::Object(_)) => {
            return Err(Error::Shape(
                "\"resource\" is empty: name at least one kind, e.g. \"deployment\"".into(),
            ));
        }
        Some(other) => {
            return Err(Error::Shape(format!(
                "\"resource\" must be an object keyed by kind, found {}",
                kind_of(other)
            )));
        }
        None => {
            return Err(Error::Shape(format!(
                "the body has no \"resource\" field: expected {EXAMPLE}"
            )));
        }
    };
    let mut parts = Vec::new();
    for (kind, patches) in resources {
        let items: Vec<&Value> = match patches {
            Value::Array(items) if !items.is_empty() => items.iter().collect(),
            Value::Array(_) => {
                return Err(Error::Shape(format!("resource.{kind} is an empty list")));
            }
            other => vec![other],
        };
        for item in items {
            let Value::Object(object) = item else {
                return Err(Error::Shape(format!(
                    "resource.{kind} must be an object with metadata.name, found {}",
                    kind_of(item)
                )));
            };
            let metadata = object.get("metadata").and_then(Value::as_object);
            let name = metadata.and_then(|m| m.get("name"));
            let name = match name {
                Some(Value::String(name)) if !name.is_empty() => name.clone(),
                Some(other) if !other.is_string() => {
                    return Err(Error::Shape(format!(
                        "resource.{kind}.metadata.name must be a string, found {}",
                        kind_of(other)
                    )));
                }
                _ => {
                    return Err(Error::Shape(format!(
                        "resource.{kind} has no metadata.name: say which {kind} to patch"
                    )));
                }
            };
            if let Some(body_kind) = object.get("kind")
                && !body_kind
                    .as_str()
                    .is_some_and(|k| kind_matches(kind, k) || k.eq_ignore_ascii_case(kind))
            {
                return Err(Error::Shape(format!(
                    "resource.{kind} sets kind to {body_kind}, which is not a {kind}"
                )));
            }
            let namespace = match metadata.and_then(|m| m.get("namespace")) {
                None => None,
                Some(Value::String(ns)) => Some(ns.clone()),
                Some(other) => {
                    return Err(Error::Shape(format!(
                        "resource.{kind}.metadata.namespace must be a string, found {}",
                        kind_of(other)
                    )));
                }
            };
            let api_version = object
                .get("apiVersion")
                .and_then(Value::as_str)
                .map(str::to_owned);
            parts.push(Part {
                target: Target {
                    kind: kind.clone(),
                    name,
                    namespace,
                    api_version,
                },
                body: Body::Strategic(item.clone()),
            });
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests;
