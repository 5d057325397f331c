//! Kubernetes object validation, as kube-apiserver does it, for the built-in kinds.
//!
//! [`validate`] takes one object (a JSON value with `apiVersion`, `kind`, `metadata`) and
//! returns every problem as a [`Cause`]: the field path the API server would name
//! (`spec.template.spec.containers[0].image`), a reason (`FieldValueRequired`,
//! `FieldValueInvalid`, …) and a message in the server's words. An empty list means a cluster
//! would accept the object as far as these rules go.
//!
//! Two callers share it: the template store refuses to make a version that a cluster would
//! refuse (before defaulting: a missing optional field is fine), and the sandbox API server
//! answers 422 Invalid with the same causes (after its own defaulting).
//!
//! What is checked:
//!
//! - metadata of every object, custom resources included: the name (DNS-1123 subdomain or
//!   label, or DNS-1035 for Services, per kind), namespace, label keys and values, annotation
//!   keys and their total size;
//! - pod specs wherever a workload holds one: containers non-empty with unique DNS-1123 label
//!   names, image references, ports and protocols, environment variable names, resource
//!   quantities, and the enums (`restartPolicy`, `dnsPolicy`, `imagePullPolicy`, …);
//!   affinity (node selector terms and their operators, pod affinity terms and weights),
//!   probes (one handler each, ports, thresholds), security contexts (user and group ids,
//!   `privileged` against `allowPrivilegeEscalation`), volumes (one source each, with the
//!   name it needs) and volume mounts (an existing volume, a unique path);
//! - per kind: replicas and counts non-negative, selectors present and matching the pod
//!   template's labels, strategy types, Service types and ports, ConfigMap and Secret keys,
//!   Ingress path types, CronJob schedules and policies, PodDisruptionBudget limits,
//!   NetworkPolicy selectors, ports and IP blocks.
//!
//! Kinds it does not know (custom resources) are checked for metadata only.
//!
//! Before those rules, [`check_fields`] holds the built-in kinds to the Kubernetes OpenAPI
//! schema ([`schema`]): no field the schema does not declare, no value of the wrong JSON type,
//! as the API server's strict decoding does. Templates are checked with it before a version is
//! saved; custom resources are left to the cluster, which holds their schema.
//!
//! This crate depends on no other Tripline crate, only on `serde_json` (objects are JSON
//! values). The engine checks every template version with it before saving one, and the
//! sandbox checks every write with it, so a template the engine saves is one the sandbox
//! accepts; keeping it apart lets the sandbox do without the engine.

mod affinity;
mod image;
mod kinds;
mod meta;
mod names;
mod pod;
mod probes;
mod quantity;
pub mod schema;
mod security;
mod selector;

use std::fmt;

use serde_json::Value;

pub use image::check_image_reference;
pub use names::{is_dns1035_label, is_dns1123_label, is_dns1123_subdomain};
pub use quantity::{Quantity, parse_quantity};
pub use schema::{KUBERNETES_VERSION, VERSIONS, check_fields, check_fields_for, supported_version};
pub use selector::selector_matches;

/// One field-level problem, as the API server lists it in a 422 Invalid `Status`
/// (`details.causes[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, …
    pub reason: &'static str,
    /// The field path, e.g. `spec.template.spec.containers[0].image`.
    pub field: String,
    /// What is wrong, e.g. `Required value`.
    pub message: String,
}

impl Cause {
    /// A missing required field.
    pub fn required(field: impl Into<String>) -> Cause {
        Cause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: "Required value".into(),
        }
    }

    /// A missing required field, with a hint of what it may hold.
    pub fn required_because(field: impl Into<String>, why: &str) -> Cause {
        Cause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: format!("Required value: {why}"),
        }
    }

    /// A field with a value that is not allowed; `value` is shown as the server shows it.
    pub fn invalid(field: impl Into<String>, value: &Value, why: &str) -> Cause {
        Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {}: {why}", Shown(value)),
        }
    }

    /// A field whose value is not one of the supported ones.
    pub fn not_supported(field: impl Into<String>, value: &Value, supported: &[&str]) -> Cause {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Cause {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!(
                "Unsupported value: {}: supported values: {}",
                Shown(value),
                list.join(", ")
            ),
        }
    }

    /// A field that may not be given (here, or with another one).
    pub fn forbidden(field: impl Into<String>, why: &str) -> Cause {
        Cause {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: format!("Forbidden: {why}"),
        }
    }

    /// A duplicated list entry.
    pub fn duplicate(field: impl Into<String>, value: &Value) -> Cause {
        Cause {
            reason: "FieldValueDuplicate",
            field: field.into(),
            message: format!("Duplicate value: {}", Shown(value)),
        }
    }

    /// A value that is too long.
    pub fn too_long(field: impl Into<String>, max: usize) -> Cause {
        Cause {
            reason: "FieldValueTooLong",
            field: field.into(),
            message: format!("Too long: may not be more than {max} bytes"),
        }
    }

    /// A field of the wrong JSON type.
    pub fn type_invalid(field: impl Into<String>, value: &Value, expected: &str) -> Cause {
        Cause {
            reason: "FieldValueTypeInvalid",
            field: field.into(),
            message: format!("Invalid value: {}: must be {expected}", Shown(value)),
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A value as the API server quotes it in messages: strings quoted, the rest as JSON.
struct Shown<'a>(&'a Value);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::String(s) => write!(f, "{s:?}"),
            other => write!(f, "{other}"),
        }
    }
}

/// Which rule an object's `metadata.name` follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain: lowercase alphanumerics, `-` and `.`, at most 253 characters.
    Subdomain,
    /// RFC 1123 label: lowercase alphanumerics and `-`, at most 63 characters (Services, which
    /// need a letter first, follow RFC 1035).
    Label,
    /// Anything that is a valid URL path segment (RBAC names such as `system:viewer`).
    PathSegment,
}

/// The name rule the API server applies to a kind.
pub fn name_rule(group: &str, kind: &str) -> NameRule {
    match (group, kind) {
        ("", "Namespace" | "Service") => NameRule::Label,
        (
            "rbac.authorization.k8s.io",
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
        ) => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    }
}

/// The API group of an `apiVersion` (`""` for the core group's `v1`).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// Every problem with `object`, an object of `kind` in API `group` (empty when valid). The
/// name rule is the kind's (see [`name_rule`]).
pub fn validate(group: &str, kind: &str, object: &Value) -> Vec<Cause> {
    validate_with(group, kind, name_rule(group, kind), object)
}

/// [`validate`] with the name rule given, for callers that keep their own table of kinds.
pub fn validate_with(group: &str, kind: &str, names: NameRule, object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    meta::object_meta(object, kind, names, &mut causes);
    kinds::spec(group, kind, object, &mut causes);
    causes
}

#[cfg(test)]
mod tests;
