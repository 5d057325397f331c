//! Errors as the Kubernetes API server answers them: `Status` objects.
//!
//! Every handler returns `Result<Response, ApiError>`; an [`ApiError`] becomes a JSON
//! `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":…,"code":…}` body with the
//! matching HTTP status, so `kube::Error::Api` and kubectl see what a real cluster would send.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::resources::ResourceDef;

/// One field-level problem inside a 422 Invalid (`details.causes[]`): the shared validation's
/// cause, so the sandbox and the template store speak the same words.
pub(crate) use tripline_validation::Cause;

/// A failed API request, as a Kubernetes `Status`.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ApiError {
    /// 404: the object, collection or path does not exist.
    #[error("{message}")]
    NotFound {
        /// Status message.
        message: String,
        /// `details`, when the object is known.
        details: Option<Value>,
    },
    /// 409: an object of that name already exists.
    #[error("{message}")]
    AlreadyExists {
        /// Status message.
        message: String,
        /// `details`.
        details: Option<Value>,
    },
    /// 409: a stale resourceVersion, a failed precondition or a server-side apply conflict.
    #[error("{message}")]
    Conflict {
        /// Status message.
        message: String,
        /// `details` (apply conflicts list their fields in `causes`).
        details: Option<Value>,
    },
    /// 422: the object fails validation.
    #[error("{message}")]
    Invalid {
        /// Status message.
        message: String,
        /// `details` with `causes`.
        details: Option<Value>,
    },
    /// 400: the request is malformed (bad JSON, bad selector, mismatched namespace…).
    #[error("{0}")]
    BadRequest(String),
    /// 403: the request is refused (deleting a namespace the cluster needs).
    #[error("{0}")]
    Forbidden(String),
    /// 405: the verb is not supported on this path.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 413: the request body is larger than the limit.
    #[error("{0}")]
    TooLarge(String),
    /// 415: the request's content type is not one the verb accepts.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 410: a watch asked for a resourceVersion older than the kept history.
    #[error("{0}")]
    Expired(String),
    /// 500: storage failed.
    #[error("{0}")]
    Internal(String),
    /// 504: a resourceVersion newer than the store's.
    #[error("{0}")]
    Timeout(String),
    /// 500 without a reason: a server-side apply whose configuration does not fit the
    /// kind's schema (kube-apiserver answers so, whatever `fieldValidation` says).
    #[error("{0}")]
    TypedPatch(String),
}

/// Shorthand for handler results.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

fn details(def: &ResourceDef, name: &str, kind: &str) -> Value {
    let mut d = Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !def.group.is_empty() {
        d.insert("group".into(), json!(def.group));
    }
    d.insert("kind".into(), json!(kind));
    Value::Object(d)
}

impl ApiError {
    /// `deployments.apps "demo" not found`.
    pub fn not_found(def: &ResourceDef, name: &str) -> ApiError {
        ApiError::NotFound {
            message: format!("{} {name:?} not found", def.qualified()),
            details: Some(details(def, name, def.plural)),
        }
    }

    /// `namespaces "x" not found`, for a create into a namespace that does not exist.
    pub fn namespace_not_found(namespace: &str) -> ApiError {
        ApiError::not_found(super::resources::namespaces(), namespace)
    }

    /// `deployments.apps "demo" already exists`.
    pub fn already_exists(def: &ResourceDef, name: &str) -> ApiError {
        ApiError::AlreadyExists {
            message: format!("{} {name:?} already exists", def.qualified()),
            details: Some(details(def, name, def.plural)),
        }
    }

    /// The optimistic-concurrency failure of an update with a stale resourceVersion.
    pub fn modified(def: &ResourceDef, name: &str) -> ApiError {
        ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} {name:?}: the object has been modified; \
                 please apply your changes to the latest version and try again",
                def.qualified()
            ),
            details: Some(details(def, name, def.plural)),
        }
    }

    /// A failed delete precondition (uid or resourceVersion).
    pub fn precondition(def: &ResourceDef, name: &str, what: &str) -> ApiError {
        ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} {name:?}: {what}",
                def.qualified()
            ),
            details: Some(details(def, name, def.plural)),
        }
    }

    /// 422 with the causes listed the way the API server lists them.
    pub fn invalid(def: &ResourceDef, name: &str, causes: Vec<Cause>) -> ApiError {
        let rendered: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let summary = match rendered.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let mut d = details(def, name, def.kind);
        d["causes"] = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        ApiError::Invalid {
            message: format!("{} {name:?} is invalid: {summary}", def.qualified_kind()),
            details: Some(d),
        }
    }

    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(message.into())
    }

    /// The HTTP status, the `reason` and the `code` of this error.
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "NotFound"),
            ApiError::AlreadyExists { .. } => (StatusCode::CONFLICT, "AlreadyExists"),
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "Conflict"),
            ApiError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BadRequest"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "Forbidden"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType")
            }
            ApiError::Expired(_) => (StatusCode::GONE, "Expired"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
            ApiError::TypedPatch(_) => (StatusCode::INTERNAL_SERVER_ERROR, ""),
            ApiError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "Timeout"),
        }
    }

    /// The HTTP status code.
    pub fn code(&self) -> StatusCode {
        self.parts().0
    }

    /// The error as a `Status` object.
    pub fn to_status(&self) -> Value {
        let (code, reason) = self.parts();
        let details = match self {
            ApiError::NotFound { details, .. }
            | ApiError::AlreadyExists { details, .. }
            | ApiError::Conflict { details, .. }
            | ApiError::Invalid { details, .. } => details.clone(),
            _ => None,
        };
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
        });
        if !reason.is_empty() {
            status["reason"] = json!(reason);
        }
        if let Some(details) = details {
            status["details"] = details;
        }
        status["code"] = json!(code.as_u16());
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.code().is_server_error() && !matches!(self, ApiError::TypedPatch(_)) {
            tracing::warn!(error = %self, "sandbox request failed");
        }
        (self.code(), axum::Json(self.to_status())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;

    #[test]
    fn not_found_matches_the_api_server() {
        let d = lookup("apps", "v1", "deployments").unwrap();
        assert_eq!(
            ApiError::not_found(d, "demo").to_status(),
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                   "message":"deployments.apps \"demo\" not found","reason":"NotFound",
                   "details":{"name":"demo","group":"apps","kind":"deployments"},"code":404})
        );
    }

    #[test]
    fn invalid_lists_one_or_many_causes() {
        let d = lookup("apps", "v1", "deployments").unwrap();
        let one = ApiError::invalid(d, "x", vec![Cause::required("spec.selector")]);
        assert_eq!(
            one.to_string(),
            "Deployment.apps \"x\" is invalid: spec.selector: Required value"
        );
        let two = ApiError::invalid(d, "x", vec![Cause::required("a"), Cause::required("b")]);
        assert_eq!(
            two.to_string(),
            "Deployment.apps \"x\" is invalid: [a: Required value, b: Required value]"
        );
        assert_eq!(two.to_status()["details"]["causes"][1]["field"], "b");
        assert_eq!(two.to_status()["code"], 422);
    }
}
