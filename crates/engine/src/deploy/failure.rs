//! Why a deploy failed, in words a person can act on.
//!
//! Every `kube` error on the deploy path becomes a [`Failure`]: a stable reason (the
//! Kubernetes status reason, such as `Conflict` or `Invalid`, or one of ours such as
//! `Unreachable` or `Timeout`), the HTTP code when there is one, the object it concerns, and
//! a message that says what to do.

use serde::{Deserialize, Serialize};

use super::{ResourceOutcome, short};
use crate::template::ResourceId;

/// A failed deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct Failure {
    /// Kubernetes' status reason, or ours (`Unreachable`, `Timeout`, …).
    pub reason: String,
    /// The HTTP status code, when the API server answered.
    pub code: Option<u16>,
    /// What went wrong and what to do.
    pub message: String,
    /// The object it concerns.
    pub resource: Option<Box<ResourceId>>,
    /// Outcomes of the objects handled before the failure.
    #[serde(default)]
    pub outcomes: Vec<ResourceOutcome>,
}

impl Failure {
    /// A failure with no outcomes yet.
    pub fn new(
        reason: &str,
        code: Option<u16>,
        message: String,
        resource: Option<ResourceId>,
    ) -> Self {
        Failure {
            reason: reason.to_owned(),
            code,
            message,
            resource: resource.map(Box::new),
            outcomes: Vec::new(),
        }
    }

    pub(super) fn with_outcomes(mut self, outcomes: Vec<ResourceOutcome>) -> Self {
        self.outcomes = outcomes;
        self
    }

    /// A failure while looking up an object's kind.
    pub(super) fn discovery(error: kube::Error, id: &ResourceId) -> Self {
        match &error {
            kube::Error::Discovery(_) => Failure::new(
                "NotFound",
                Some(404),
                format!(
                    "the cluster does not serve kind {} in {}: check apiVersion and kind, or \
                     install the CustomResourceDefinition first",
                    id.kind, id.api_version
                ),
                Some(id.clone()),
            ),
            kube::Error::Api(status) if status.code == 404 => Failure::new(
                "NotFound",
                Some(404),
                format!(
                    "the cluster does not serve {} (kind {}): check apiVersion and kind, or \
                     install the CustomResourceDefinition first",
                    id.api_version, id.kind
                ),
                Some(id.clone()),
            ),
            _ => Self::apply(error, id),
        }
    }

    /// A failure while applying, reading or deleting an object.
    pub(super) fn apply(error: kube::Error, id: &ResourceId) -> Self {
        let what = short(id);
        match error {
            kube::Error::Api(status) => {
                let code = status.code;
                let reason = if status.reason.is_empty() {
                    format!("Http{code}")
                } else {
                    status.reason.clone()
                };
                let detail = status.message.clone();
                let message = match code {
                    401 => format!(
                        "the cluster did not accept Tripline's credentials (401 Unauthorized) \
                         while applying {what}: refresh the kubeconfig user's token or certificate"
                    ),
                    403 => format!(
                        "not allowed to apply {what} (403 Forbidden): {detail}. Give the \
                         kubeconfig user permission (RBAC) to patch this resource"
                    ),
                    409 => format!(
                        "conflict applying {what}: {detail}. Another field manager owns these \
                         fields; deploy with --force-conflicts to take them over"
                    ),
                    422 => format!(
                        "the cluster rejected {what} as invalid: {detail}. Fix the template and deploy again"
                    ),
                    404 => format!("{what}: {detail}"),
                    429 => format!(
                        "the API server is throttling requests while applying {what}: {detail}. Try again shortly"
                    ),
                    // Server-side apply answers 500 for a field the object's schema does not
                    // declare, or a value of the wrong type: a mistake in the manifest, not a
                    // fault of the server.
                    500 if is_untyped(&detail) => format!(
                        "the cluster cannot read {what} as its kind: {detail}. Check the field's \
                         name, place and type in the template (a typo?) and deploy again"
                    ),
                    500..=599 => format!(
                        "the API server failed while applying {what} ({code}): {detail}. Try again; if it persists, check the cluster's health"
                    ),
                    _ => format!("applying {what} failed ({code} {reason}): {detail}"),
                };
                let reason = if code == 500 && is_untyped(&detail) {
                    "Invalid".to_owned()
                } else {
                    reason
                };
                Failure::new(&reason, Some(code), message, Some(id.clone()))
            }
            kube::Error::HyperError(e) => unreachable_cluster(&what, &e.to_string(), id),
            kube::Error::Service(e) => unreachable_cluster(&what, &e.to_string(), id),
            other => Failure::new(
                "ClientError",
                None,
                format!("applying {what} failed: {other}"),
                Some(id.clone()),
            ),
        }
    }
}

fn unreachable_cluster(what: &str, detail: &str, id: &ResourceId) -> Failure {
    Failure::new(
        "Unreachable",
        None,
        format!(
            "cannot reach the API server while applying {what} ({detail}): is the cluster \
             running and the kubeconfig's server address right?"
        ),
        Some(id.clone()),
    )
}

/// Whether a 500 from a server-side apply says the configuration does not fit the kind's
/// schema (an undeclared field, a wrong type): kube-apiserver's "failed to create typed
/// patch object".
fn is_untyped(detail: &str) -> bool {
    detail.contains("failed to create typed patch object")
        || detail.contains("field not declared in schema")
}
