//! `metadata`: names, namespaces, labels and annotations, for every kind.

use serde_json::Value;

use super::names::{
    DNS1035_MESSAGE, LABEL_MESSAGE, LABEL_VALUE_MESSAGE, SUBDOMAIN_MESSAGE, is_dns1035_label,
    is_dns1123_label, is_dns1123_subdomain, is_label_value, qualified_name_problem,
};
use super::{Cause, NameRule};

/// The most bytes all annotations of one object may hold, keys and values together.
pub const MAX_ANNOTATION_BYTES: usize = 256 * 1024;

/// Checks an object's `metadata`.
pub(super) fn object_meta(object: &Value, kind: &str, rule: NameRule, causes: &mut Vec<Cause>) {
    let Some(metadata) = object.get("metadata") else {
        causes.push(Cause::required("metadata.name"));
        return;
    };
    let Some(metadata) = metadata.as_object() else {
        causes.push(Cause::type_invalid("metadata", metadata, "a mapping"));
        return;
    };
    match metadata.get("name") {
        None | Some(Value::Null) => causes.push(Cause::required("metadata.name")),
        Some(Value::String(name)) => name_causes(rule, kind, name, "metadata.name", causes),
        Some(other) => causes.push(Cause::type_invalid("metadata.name", other, "a string")),
    }
    match metadata.get("namespace") {
        None | Some(Value::Null) => {}
        Some(Value::String(ns)) if ns.is_empty() || is_dns1123_label(ns) => {}
        Some(ns) => causes.push(Cause::invalid("metadata.namespace", ns, LABEL_MESSAGE)),
    }
    if let Some(labels_value) = metadata.get("labels") {
        labels(labels_value, "metadata.labels", causes);
    }
    if let Some(annotations_value) = metadata.get("annotations") {
        annotations(annotations_value, "metadata.annotations", causes);
    }
}

/// The problems with a name under a rule.
pub(super) fn name_causes(
    rule: NameRule,
    kind: &str,
    name: &str,
    field: &str,
    causes: &mut Vec<Cause>,
) {
    let value = Value::String(name.to_owned());
    match rule {
        NameRule::PathSegment => {
            if name.is_empty() {
                causes.push(Cause::required(field));
            }
            if name == "." || name == ".." {
                causes.push(Cause::invalid(
                    field,
                    &value,
                    &format!("may not be '{name}'"),
                ));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    causes.push(Cause::invalid(
                        field,
                        &value,
                        &format!("may not contain '{bad}'"),
                    ));
                }
            }
        }
        NameRule::Subdomain => {
            if name.len() > 253 {
                causes.push(Cause::invalid(
                    field,
                    &value,
                    "must be no more than 253 characters",
                ));
            }
            if !is_dns1123_subdomain(name) {
                causes.push(Cause::invalid(field, &value, SUBDOMAIN_MESSAGE));
            }
        }
        NameRule::Label => {
            if name.len() > 63 {
                causes.push(Cause::invalid(
                    field,
                    &value,
                    "must be no more than 63 characters",
                ));
            }
            // Services need DNS-1035 (a letter first); namespaces RFC 1123.
            if kind == "Service" {
                if !is_dns1035_label(name) {
                    causes.push(Cause::invalid(field, &value, DNS1035_MESSAGE));
                }
            } else if !is_dns1123_label(name) {
                causes.push(Cause::invalid(field, &value, LABEL_MESSAGE));
            }
        }
    }
}

/// Checks a map of labels at `field`: qualified-name keys, label-value values.
pub(super) fn labels(labels: &Value, field: &str, causes: &mut Vec<Cause>) {
    let Some(labels) = labels.as_object() else {
        if !labels.is_null() {
            causes.push(Cause::type_invalid(field, labels, "a map of strings"));
        }
        return;
    };
    for (key, value) in labels {
        if let Some(problem) = qualified_name_problem(key) {
            causes.push(Cause::invalid(field, &key.as_str().into(), &problem));
        }
        match value.as_str() {
            Some(text) if is_label_value(text) => {}
            Some(_) => causes.push(Cause::invalid(field, value, LABEL_VALUE_MESSAGE)),
            None => causes.push(Cause::type_invalid(
                format!("{field}.{key}"),
                value,
                "a string",
            )),
        }
    }
}

/// Checks a map of annotations at `field`: qualified-name keys (any case), string values,
/// [`MAX_ANNOTATION_BYTES`] in all.
pub(super) fn annotations(annotations: &Value, field: &str, causes: &mut Vec<Cause>) {
    let Some(annotations) = annotations.as_object() else {
        if !annotations.is_null() {
            causes.push(Cause::type_invalid(field, annotations, "a map of strings"));
        }
        return;
    };
    let mut total = 0usize;
    for (key, value) in annotations {
        if let Some(problem) = qualified_name_problem(&key.to_lowercase()) {
            causes.push(Cause::invalid(field, &key.as_str().into(), &problem));
        }
        match value.as_str() {
            Some(text) => total = total.saturating_add(key.len() + text.len()),
            None => causes.push(Cause::type_invalid(
                format!("{field}.{key}"),
                value,
                "a string",
            )),
        }
    }
    if total > MAX_ANNOTATION_BYTES {
        causes.push(Cause::too_long(field, MAX_ANNOTATION_BYTES));
    }
}
