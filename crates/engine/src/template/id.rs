//! The identity of a Kubernetes object in a template.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Refused;

/// What makes an object unique in a template: apiVersion, kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ResourceId {
    /// `apps/v1`, `v1`, …
    pub api_version: String,
    /// `Deployment`, `Service`, …
    pub kind: String,
    /// `metadata.namespace`, when the document sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl ResourceId {
    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// Reads and checks the identity fields of an object; the error names the field.
    pub fn from_object(object: &Map<String, Value>) -> Result<Self, Refused> {
        let api_version = required_string(object, "apiVersion", "apiVersion")?;
        check_api_version(api_version)?;
        let kind = required_string(object, "kind", "kind")?;
        check_kind(kind)?;
        let metadata = match object.get("metadata") {
            None => return Err("metadata is missing (it must hold at least a name)".into()),
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(Refused(format!(
                    "metadata must be a mapping, found {}",
                    super::kind_of(other)
                )));
            }
        };
        let name = match metadata.get("name") {
            None if metadata.contains_key("generateName") => {
                return Err(
                    "metadata.name is missing: generateName is not supported in \
                            templates, because Tripline must find the object again"
                        .into(),
                );
            }
            _ => required_string(metadata, "name", "metadata.name")?,
        };
        check_name(name, "metadata.name")?;
        let namespace = match metadata.get("namespace") {
            None | Some(Value::Null) => None,
            Some(Value::String(ns)) => {
                check_dns_label(ns, "metadata.namespace")?;
                Some(ns.clone())
            }
            Some(other) => {
                return Err(Refused(format!(
                    "metadata.namespace must be a string, found {}",
                    super::kind_of(other)
                )));
            }
        };
        Ok(ResourceId {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace,
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)?;
        if let Some(ns) = &self.namespace {
            write!(f, " in namespace {ns}")?;
        }
        write!(f, " ({})", self.api_version)
    }
}

fn required_string<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a str, String> {
    match object.get(key) {
        None | Some(Value::Null) => Err(format!("{path} is missing")),
        Some(Value::String(s)) if s.trim().is_empty() => Err(format!("{path} is empty")),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!(
            "{path} must be a string, found {}",
            super::kind_of(other)
        )),
    }
}

fn check_api_version(api_version: &str) -> Result<(), String> {
    let valid = match api_version.split_once('/') {
        None => is_version(api_version),
        Some((group, version)) => {
            !group.is_empty()
                && group.len() <= 253
                && group
                    .split('.')
                    .all(|part| !part.is_empty() && is_dns_label_chars(part))
                && is_version(version)
        }
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "apiVersion {api_version:?} is not of the form \"v1\" or \"group/version\" \
             (e.g. \"apps/v1\")"
        ))
    }
}

fn is_version(version: &str) -> bool {
    version.starts_with('v')
        && version.len() > 1
        && version
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn check_kind(kind: &str) -> Result<(), String> {
    let first = kind.chars().next().unwrap_or('a');
    if !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "kind {kind:?} may hold only letters and digits (e.g. \"Deployment\")"
        ));
    }
    if !first.is_ascii_uppercase() {
        let mut suggestion = first.to_ascii_uppercase().to_string();
        suggestion.push_str(&kind[1..]);
        return Err(format!(
            "kind {kind:?} must start with an upper-case letter (did you mean {suggestion:?}?)"
        ));
    }
    Ok(())
}

/// The rules the API server applies to every object name (a path segment, at most 253
/// characters). Most kinds are stricter (DNS subdomains); the API server says so on apply.
fn check_name(name: &str, path: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!(
            "{path} is {} characters long; the limit is 253",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("{path} may not be {name:?}"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| matches!(c, '/' | '%') || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{path} {name:?} contains {bad:?}; names may not hold '/', '%', spaces or control characters"
        ));
    }
    Ok(())
}

fn is_dns_label_chars(part: &str) -> bool {
    part.len() <= 63
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !part.starts_with('-')
        && !part.ends_with('-')
}

/// Checks an RFC 1123 DNS label: lower-case letters, digits and '-', at most 63 characters.
pub(crate) fn check_dns_label(value: &str, what: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if !is_dns_label_chars(value) {
        return Err(format!(
            "{what} {value:?} is not a valid DNS label: use at most 63 lower-case letters, \
             digits and '-', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}
