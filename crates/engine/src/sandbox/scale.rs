//! The `/scale` subresource: an `autoscaling/v1` `Scale` view of a workload's replicas.
//!
//! Reads answer [`view`]; writes (PUT, merge or strategic PATCH of the view) go through
//! [`set_replicas`], which turns the new `Scale` back into the workload with only
//! `spec.replicas` changed, then the normal update path bumps the generation.

use serde_json::{Value, json};

use super::status::{ApiError, ApiResult};

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
pub(crate) fn view(object: &Value) -> Value {
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
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": object.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": object.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector_string(object),
        }
    })
}

/// The workload `old` with the replicas of the `Scale` `scale`. A `resourceVersion` in the
/// `Scale` is a precondition on the workload.
pub(crate) fn set_replicas(old: &Value, scale: &Value) -> ApiResult<Value> {
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
    new["spec"]["replicas"] = json!(replicas);
    if let Some(rv) = scale
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|rv| !rv.is_empty())
    {
        new["metadata"]["resourceVersion"] = json!(rv);
    }
    Ok(new)
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
        let v = view(&d);
        assert_eq!(v["spec"]["replicas"], 2);
        assert_eq!(v["status"]["selector"], "app=d,tier=x");
        let scaled = set_replicas(&d, &json!({"spec": {"replicas": 5}})).unwrap();
        assert_eq!(scaled["spec"]["replicas"], 5);
        assert!(set_replicas(&d, &json!({"spec": {"replicas": -1}})).is_err());
    }
}
