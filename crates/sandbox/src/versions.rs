//! Resources served in more than one version: HorizontalPodAutoscalers are stored as
//! `autoscaling/v2` and also served as `autoscaling/v1`, converted on the way in and out as
//! kube-apiserver converts them.
//!
//! A request for the v1 resource is answered by the v2 handlers: a create or update body is
//! converted to v2 first; a patch is applied to the object as v1 sees it and the result
//! written as a v2 update (with the read's resourceVersion, so a concurrent change is a
//! conflict); an applied configuration is converted and applied. Every answer — objects,
//! lists, watch events — is converted back to v1.
//!
//! v1 knows one metric, the CPU utilization target (`targetCPUUtilizationPercentage`); it is
//! v2's `Resource` metric for `cpu` with a `Utilization` target. Other v2 metrics and
//! `behavior` are not shown through v1, and a v1 write keeps the stored object's other
//! metrics and behavior.

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use futures::StreamExt as _;
use http_body_util::BodyExt as _;
use serde_json::{Map, Value, json};

use super::SandboxState;
use super::resources::{self, ResourceDef};
use super::routes::{Request, Target};
use super::status::{ApiError, ApiResult};

const V1: &str = "autoscaling/v1";
const V2: &str = "autoscaling/v2";

/// The stored resource a served one is converted to, if it is a converted view.
pub(crate) fn stored_as(def: &ResourceDef) -> Option<&'static ResourceDef> {
    (def.api_version == V1 && def.plural == "horizontalpodautoscalers")
        .then(|| resources::by_kind(V2, "HorizontalPodAutoscaler"))
        .flatten()
}

fn is_cpu_utilization(metric: &Value) -> bool {
    metric["type"] == "Resource"
        && metric["resource"]["name"] == "cpu"
        && metric["resource"]["target"]["type"] == "Utilization"
}

/// A stored (v2) HorizontalPodAutoscaler as v1 shows it.
pub(crate) fn to_v1(object: &Value) -> Value {
    let Some(map) = object.as_object() else {
        return object.clone();
    };
    let mut out = Map::new();
    out.insert("kind".into(), json!("HorizontalPodAutoscaler"));
    out.insert("apiVersion".into(), json!(V1));
    if let Some(metadata) = map.get("metadata") {
        out.insert("metadata".into(), metadata.clone());
    }
    let spec = &object["spec"];
    let mut v1_spec = Map::new();
    for key in ["scaleTargetRef", "minReplicas", "maxReplicas"] {
        if let Some(value) = spec.get(key) {
            v1_spec.insert(key.into(), value.clone());
        }
    }
    if let Some(target) = spec["metrics"]
        .as_array()
        .and_then(|m| m.iter().find(|m| is_cpu_utilization(m)))
        .map(|m| m["resource"]["target"]["averageUtilization"].clone())
        .filter(|t| !t.is_null())
    {
        v1_spec.insert("targetCPUUtilizationPercentage".into(), target);
    }
    out.insert("spec".into(), Value::Object(v1_spec));
    let status = &object["status"];
    let mut v1_status = Map::new();
    for key in [
        "observedGeneration",
        "lastScaleTime",
        "currentReplicas",
        "desiredReplicas",
    ] {
        if let Some(value) = status.get(key) {
            v1_status.insert(key.into(), value.clone());
        }
    }
    if !v1_status.contains_key("currentReplicas") && status.is_object() {
        v1_status.insert("currentReplicas".into(), json!(0));
    }
    if !v1_status.contains_key("desiredReplicas") && status.is_object() {
        v1_status.insert("desiredReplicas".into(), json!(0));
    }
    if let Some(current) = status["currentMetrics"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|m| m["type"] == "Resource" && m["resource"]["name"] == "cpu")
        })
        .map(|m| m["resource"]["current"]["averageUtilization"].clone())
        .filter(|c| !c.is_null())
    {
        v1_status.insert("currentCPUUtilizationPercentage".into(), current);
    }
    if status.is_object() {
        out.insert("status".into(), Value::Object(v1_status));
    }
    Value::Object(out)
}

/// A v1 HorizontalPodAutoscaler as it is stored (v2), keeping from `stored` what v1 cannot
/// say (other metrics, behavior, conditions).
pub(crate) fn to_v2(object: &Value, stored: Option<&Value>) -> Value {
    let mut out = stored.cloned().unwrap_or_else(|| json!({}));
    out["apiVersion"] = json!(V2);
    out["kind"] = json!("HorizontalPodAutoscaler");
    if let Some(metadata) = object.get("metadata") {
        out["metadata"] = metadata.clone();
    }
    let spec = &object["spec"];
    if !out["spec"].is_object() {
        out["spec"] = json!({});
    }
    for key in ["scaleTargetRef", "minReplicas", "maxReplicas"] {
        match spec.get(key) {
            Some(value) => out["spec"][key] = value.clone(),
            None => {
                if let Some(map) = out["spec"].as_object_mut() {
                    map.shift_remove(key);
                }
            }
        }
    }
    let mut metrics: Vec<Value> = out["spec"]["metrics"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| !is_cpu_utilization(m))
        .collect();
    if let Some(target) = spec
        .get("targetCPUUtilizationPercentage")
        .filter(|t| !t.is_null())
    {
        metrics.insert(
            0,
            json!({"type": "Resource", "resource": {"name": "cpu",
                   "target": {"type": "Utilization", "averageUtilization": target}}}),
        );
    }
    if metrics.is_empty() {
        if let Some(map) = out["spec"].as_object_mut() {
            map.shift_remove("metrics");
        }
    } else {
        out["spec"]["metrics"] = json!(metrics);
    }
    if let Some(status) = object.get("status").filter(|s| s.is_object()) {
        if !out["status"].is_object() {
            out["status"] = json!({});
        }
        for key in [
            "observedGeneration",
            "lastScaleTime",
            "currentReplicas",
            "desiredReplicas",
        ] {
            if let Some(value) = status.get(key) {
                out["status"][key] = value.clone();
            }
        }
    }
    out
}

/// Converts a JSON answer of the stored resource to v1: an object, a list or a watch event
/// (anything else, a `Status` or a table, passes unchanged).
fn answer_to_v1(value: &mut Value) {
    match value["kind"].as_str() {
        Some("HorizontalPodAutoscaler") => *value = to_v1(value),
        Some("HorizontalPodAutoscalerList") => {
            value["apiVersion"] = json!(V1);
            if let Some(items) = value["items"].as_array_mut() {
                for item in items {
                    let mut converted = to_v1(item);
                    if let Some(map) = converted.as_object_mut() {
                        // List items leave kind and apiVersion to the list.
                        map.shift_remove("kind");
                        map.shift_remove("apiVersion");
                    }
                    *item = converted;
                }
            }
        }
        _ if value.get("type").is_some()
            && value["object"]["kind"] == "HorizontalPodAutoscaler" =>
        {
            value["object"] = to_v1(&value["object"]);
        }
        _ => {}
    }
}

async fn response_to_v1(response: Response, watching: bool) -> ApiResult<Response> {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !is_json {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    if watching {
        // One event per chunk, each a JSON line.
        let events = body.into_data_stream().map(|chunk| {
            chunk.map(|bytes| {
                let Ok(mut event) = serde_json::from_slice::<Value>(&bytes) else {
                    return bytes;
                };
                answer_to_v1(&mut event);
                let mut line = serde_json::to_vec(&event).unwrap_or_default();
                line.push(b'\n');
                Bytes::from(line)
            })
        });
        return Ok(Response::from_parts(parts, Body::from_stream(events)));
    }
    let bytes = body
        .collect()
        .await
        .map_err(|e| ApiError::Internal(format!("reading an answer to convert: {e}")))?
        .to_bytes();
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Ok(Response::from_parts(parts, Body::from(bytes)));
    };
    answer_to_v1(&mut value);
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Ok(Response::from_parts(
        parts,
        Body::from(serde_json::to_vec(&value).unwrap_or_default()),
    ))
}

/// Serves a request for the v1 view `served` of the stored resource `stored`.
pub(crate) async fn serve(
    state: &SandboxState,
    served: &'static ResourceDef,
    stored: &'static ResourceDef,
    target: Target,
    request: &mut Request,
) -> ApiResult<Response> {
    let watching = matches!(request.param("watch"), Some("true" | "1"));
    let target = target.with_def(stored);
    let method = request.method.clone();
    match (&target, method) {
        (Target::Collection { .. }, Method::POST) | (Target::Object { .. }, Method::PUT) => {
            let body = super::handlers::object_body(served, request).await?;
            let existing = match &target {
                Target::Object {
                    namespace, name, ..
                } => state.store().read(|txn| txn.get(stored, namespace, name)),
                Target::Collection { .. } => None,
            };
            let converted = to_v2(&body, existing.as_deref());
            request.replace_body(
                serde_json::to_vec(&converted).unwrap_or_default(),
                "application/json",
            );
        }
        (
            Target::Object {
                namespace,
                name,
                subresource,
                ..
            },
            Method::PATCH,
        ) if subresource.as_deref() != Some("scale") => {
            let content_type = request.content_type();
            let bytes = request.body().await?;
            if content_type == "application/apply-patch+yaml" {
                let config = super::handlers::parse_body(&bytes, true)?;
                let mut converted = to_v2(&config, None);
                if config.get("status").is_none()
                    && let Some(map) = converted.as_object_mut()
                {
                    map.shift_remove("status");
                }
                // JSON is YAML: the body stays an applied configuration.
                request.replace_body(
                    serde_json::to_vec(&converted).unwrap_or_default(),
                    "application/apply-patch+yaml",
                );
            } else {
                let current = state
                    .store()
                    .read(|txn| txn.get(stored, namespace, name))
                    .ok_or_else(|| ApiError::not_found(served, name))?;
                let patch = super::handlers::parse_body(&bytes, false)?;
                let patched = super::handlers::patch_document(
                    served,
                    &content_type,
                    &to_v1(&current),
                    patch,
                )?;
                let mut converted = to_v2(&patched, Some(&current));
                converted["metadata"]["resourceVersion"] =
                    current["metadata"]["resourceVersion"].clone();
                request.method = Method::PUT;
                request.replace_body(
                    serde_json::to_vec(&converted).unwrap_or_default(),
                    "application/json",
                );
            }
        }
        _ => {}
    }
    let response = Box::pin(super::routes::route(state, target, request)).await?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        return Ok(response);
    }
    response_to_v1(response, watching).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_targets_convert_both_ways_and_v2_only_fields_survive_a_v1_write() {
        let v1 = json!({
            "apiVersion": V1, "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 70}
        });
        let v2 = to_v2(&v1, None);
        assert_eq!(v2["apiVersion"], V2);
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            70
        );
        assert_eq!(to_v1(&v2)["spec"], v1["spec"]);

        let mut stored = v2.clone();
        stored["spec"]["metrics"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}));
        stored["spec"]["behavior"] = json!({"scaleDown": {"stabilizationWindowSeconds": 60}});
        let mut update = v1.clone();
        update["spec"]["targetCPUUtilizationPercentage"] = json!(50);
        let written = to_v2(&update, Some(&stored));
        let metrics = written["spec"]["metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 2);
        assert_eq!(metrics[0]["resource"]["target"]["averageUtilization"], 50);
        assert_eq!(metrics[1]["type"], "Pods");
        assert_eq!(written["spec"]["behavior"], stored["spec"]["behavior"]);
        // v1 without a CPU target drops it.
        let mut no_target = v1.clone();
        no_target["spec"]
            .as_object_mut()
            .unwrap()
            .shift_remove("targetCPUUtilizationPercentage");
        assert!(to_v2(&no_target, None)["spec"].get("metrics").is_none());
    }

    #[test]
    fn lists_and_watch_events_convert() {
        let stored = json!({"apiVersion": V2, "kind": "HorizontalPodAutoscaler", "metadata": {"name": "a"},
                            "spec": {"maxReplicas": 3}, "status": {"currentReplicas": 1, "desiredReplicas": 2}});
        let mut list = json!({"kind": "HorizontalPodAutoscalerList", "apiVersion": V2,
                              "items": [{"metadata": {"name": "a"}, "spec": {"maxReplicas": 3}}]});
        answer_to_v1(&mut list);
        assert_eq!(list["apiVersion"], V1);
        assert!(list["items"][0].get("kind").is_none());
        let mut event = json!({"type": "ADDED", "object": stored});
        answer_to_v1(&mut event);
        assert_eq!(event["object"]["apiVersion"], V1);
        assert_eq!(event["object"]["status"]["desiredReplicas"], 2);
        let mut status = json!({"kind": "Status", "code": 404});
        let before = status.clone();
        answer_to_v1(&mut status);
        assert_eq!(status, before);
    }
}
