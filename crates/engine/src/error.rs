//! The one error shape that crosses a boundary: `{code, message, details?}`.
//!
//! Each module keeps its own error enum; [`ErrorBody::from`] maps them to a stable machine
//! code (for scripts, the HTTP listener and the UI), a sentence a person can act on, and
//! optional structured details. The CLI also derives its exit code from the code's family.

use serde::Serialize;
use serde_json::Value;

/// An error as the CLI (`--json`), the HTTP listener and the UI show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ErrorBody {
    /// A stable code, `area.problem` (e.g. `template.invalid`, `patch.resource_not_found`).
    pub code: &'static str,
    /// What went wrong and what to do, for a person.
    pub message: String,
    /// Structured facts (the document, line, path …), when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// The broad class of an error, which decides CLI exit codes (and later HTTP statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The input is wrong (bad YAML, bad patch, bad name).
    Invalid,
    /// Something named does not exist.
    NotFound,
    /// The request conflicts with what exists (name taken, template in use).
    Conflict,
    /// Storage or the system failed.
    Internal,
    /// A deploy ran and failed.
    DeployFailed,
}

impl Class {
    /// The CLI exit code for this class (documented in the README).
    pub fn exit_code(self) -> u8 {
        match self {
            Class::Internal => 1,
            Class::Invalid => 3,
            Class::NotFound => 4,
            Class::Conflict => 5,
            Class::DeployFailed => 6,
        }
    }
}

impl ErrorBody {
    /// Builds a body with no details.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The class, from the code.
    pub fn class(&self) -> Class {
        let problem = self.code.rsplit('.').next().unwrap_or("");
        if self.code.starts_with("deploy.") {
            Class::DeployFailed
        } else if problem.ends_with("not_found") {
            Class::NotFound
        } else if matches!(problem, "exists" | "in_use" | "busy") {
            Class::Conflict
        } else if matches!(problem, "database" | "io" | "newer_schema" | "corrupt") {
            Class::Internal
        } else {
            Class::Invalid
        }
    }
}

impl From<&crate::template::Error> for ErrorBody {
    fn from(error: &crate::template::Error) -> Self {
        use crate::template::Error as E;
        let message = error.to_string();
        let (code, details) = match error {
            E::NotUtf8 { line, column } => (
                "template.not_utf8",
                Some(serde_json::json!({"line": line, "column": column})),
            ),
            E::TooLarge { size, limit } => (
                "template.too_large",
                Some(serde_json::json!({"size": size, "limit": limit})),
            ),
            E::TooManyDocuments { limit } => (
                "template.too_many_documents",
                Some(serde_json::json!({"limit": limit})),
            ),
            E::DocumentTooLarge { index, line, .. } => (
                "template.document_too_large",
                Some(serde_json::json!({"document": index, "line": line})),
            ),
            E::Yaml {
                index,
                line,
                column,
                ..
            } => (
                "template.yaml",
                Some(serde_json::json!({"document": index, "line": line, "column": column})),
            ),
            E::NotAnObject { index, line, .. } | E::Invalid { index, line, .. } => (
                "template.invalid",
                Some(serde_json::json!({"document": index, "line": line})),
            ),
            E::Duplicate { index, line, .. } => (
                "template.duplicate",
                Some(serde_json::json!({"document": index, "line": line})),
            ),
            E::OverLimit {
                index,
                line,
                limit,
                value,
                max,
                ..
            } => (
                "template.over_limit",
                Some(serde_json::json!({
                    "document": index, "line": line, "limit": limit.as_str(),
                    "value": value, "max": max,
                })),
            ),
            E::Rejected {
                index,
                line,
                problems,
                ..
            } => (
                "template.invalid",
                Some(serde_json::json!({
                    "document": index,
                    "line": line,
                    "problems": problems.iter().map(|p| serde_json::json!({
                        "field": p.field, "reason": p.reason, "message": p.message, "line": p.line,
                    })).collect::<Vec<_>>(),
                })),
            ),
            E::Empty => ("template.empty", None),
            E::Render { .. } => ("template.render", None),
        };
        ErrorBody {
            code,
            message,
            details,
        }
    }
}

impl From<&crate::patch::Error> for ErrorBody {
    fn from(error: &crate::patch::Error) -> Self {
        use crate::patch::Error as E;
        let message = error.to_string();
        let code = match error {
            E::TooLarge { .. } => "patch.too_large",
            E::Empty => "patch.empty",
            E::Syntax { .. } => "patch.syntax",
            E::Shape(_) => "patch.shape",
            E::UnsupportedType(_) => "patch.unsupported_type",
            E::KindNotInTemplate { .. } => "patch.kind_not_in_template",
            E::ResourceNotFound { .. } => "patch.resource_missing",
            E::Ambiguous { .. } => "patch.ambiguous",
            E::Strategic { .. } => "patch.strategic",
            E::JsonPatch { .. } => "patch.json_patch",
            E::IdentityChanged { .. } => "patch.identity_changed",
            E::Invalid(inner) => {
                let mut body = ErrorBody::from(inner);
                body.code = "patch.invalid_result";
                body.message = message;
                return body;
            }
        };
        let details = match error {
            E::Strategic { source, .. } => Some(serde_json::json!({"path": source.path})),
            E::Syntax { line, column, .. } => {
                Some(serde_json::json!({"line": line, "column": column}))
            }
            _ => None,
        };
        ErrorBody {
            code,
            message,
            details,
        }
    }
}
