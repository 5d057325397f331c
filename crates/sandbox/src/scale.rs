//! The `/scale` subresource: an `autoscaling/v1` `Scale` view of a workload's replicas.
//!
//! Reads answer [`view`]; writes (PUT, merge or strategic PATCH of the view) go through
//! [`set_replicas`], which turns the new `Scale` back into the workload with only
//! `spec.replicas` changed, then the normal update path bumps the generation. A custom
//! resource's replicas and selector are where its CRD's `subresources.scale` paths say.

use serde_json::{Value, json};

use super::resources::ResourceDef;
use super::status::{ApiError, ApiResult};

/// Where a kind keeps its replicas: `(spec replicas, status replicas, selector string)` as
/// JSON pointers; `None` for the selector means the workload's `spec.selector`.
fn paths(def: &ResourceDef) -> (String, String, Option<Option<String>>) {
    let pointer = |path: &str| path.replace('.', "/");
    match def.custom_kind().and_then(|kind| kind.scale.clone()) {
        Some(scale) => (
            pointer(&scale.spec_replicas),
            pointer(&scale.status_replicas),
            Some(scale.label_selector.as_deref().map(pointer)),
        ),
        None => ("/spec/replicas".into(), "/status/replicas".into(), None),
    }
}

/// `app=web,tier=front`: a `matchLabels` selector in its string form.
fn selector_string(object: &Value) -> String {
    let selector = object.pointer("/spec/selector");
    let labels = selector
        .and_then(|s| s.get("matchLabels"))
        .or(selector.filter(|s| s.get("matchExpressions").is_none()))
        .and_then(Value::as_object);
    labels
        .map(|l| {
            l.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// The `Scale` of a workload.
pub(crate) fn view(def: &ResourceDef, object: &Value) -> Value {
    let (spec_path, status_path, selector_path) = paths(def);
    let meta = |field: &str| object.pointer(&format!("/metadata/{field}")).cloned();
    let mut metadata = json!({});
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta(field) {
            metadata[field] = v;
        }
    }
    let Some(selector_path) = selector_path else {
        return json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": metadata,
            "spec": {"replicas": object.pointer(&spec_path).cloned().unwrap_or(json!(1))},
            "status": {
                "replicas": object.pointer(&status_path).cloned().unwrap_or(json!(0)),
                "selector": selector_string(object),
            }
        });
    };
    let mut status = json!({"replicas": object.pointer(&status_path).cloned().unwrap_or(json!(0))});
    if let Some(selector) = selector_path
        .and_then(|p| object.pointer(&p))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": object.pointer(&spec_path).cloned().unwrap_or(json!(0))},
        "status": status,
    })
}

/// The workload `old` with the replicas of the `Scale` `scale`. A `resourceVersion` in the
/// `Scale` is a precondition on the workload.
pub(crate) fn set_replicas(def: &ResourceDef, old: &Value, scale: &Value) -> ApiResult<Value> {
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::Invalid {
            message: format!(
                "Scale.autoscaling {:?} is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0",
                old.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ),
            details: None,
        });
    }
    let mut new = old.clone();
    set_at(&mut new, &paths(def).0, json!(replicas));
    if let Some(rv) = scale
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|rv| !rv.is_empty())
    {
        new["metadata"]["resourceVersion"] = json!(rv);
    }
    Ok(new)
}

/// Sets the value at a JSON pointer, creating the maps on the way.
fn set_at(object: &mut Value, pointer: &str, value: Value) {
    let mut here = object;
    let mut parts = pointer.split('/').filter(|p| !p.is_empty()).peekable();
    while let Some(part) = parts.next() {
        if !here.is_object() {
            *here = json!({});
        }
        let map = here.as_object_mut().expect("just made an object");
        if parts.peek().is_none() {
            map.insert(part.to_owned(), value);
            return;
        }
        here = map.entry(part.to_owned()).or_insert_with(|| json!({}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_views_and_sets_replicas() {
        let d = json!({
            "metadata": {"name": "d", "namespace": "n", "resourceVersion": "7"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d", "tier": "x"}}},
            "status": {"replicas": 2}
        });
        let def = crate::resources::lookup("apps", "v1", "deployments").unwrap();
        let v = view(def, &d);
        assert_eq!(v["spec"]["replicas"], 2);
        assert_eq!(v["status"]["selector"], "app=d,tier=x");
        let scaled = set_replicas(def, &d, &json!({"spec": {"replicas": 5}})).unwrap();
        assert_eq!(scaled["spec"]["replicas"], 5);
        assert!(set_replicas(def, &d, &json!({"spec": {"replicas": -1}})).is_err());
    }
}
