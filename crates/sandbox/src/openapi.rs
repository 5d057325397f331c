//! A minimal OpenAPI v3 document, enough for kubectl's field-validation check.
//!
//! kubectl (≥ 1.27) decides whether the server validates fields itself by looking, in
//! `/openapi/v3/<group-version>`, for a PATCH operation of the object's kind (the
//! `x-kubernetes-group-version-kind` extension) that takes a `fieldValidation` query
//! parameter. If it finds one it sends `fieldValidation=Strict` and validates nothing itself;
//! if the document is missing it falls back to downloading the full v2 schema and fails
//! with "failed to download openapi". So each group-version gets a document listing its
//! operations and parameters; there are no schemas (`kubectl explain` is not supported).
//! `/openapi/v2` answers 404.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::resources::{self, ResourceDef};
use super::routes::{json_response, unknown_path};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn param(name: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": ty, "uniqueItems": true}})
}

fn operation(def: &ResourceDef, action: &str, params: &[Value]) -> Value {
    let mut op = json!({
        "tags": [def.group],
        "operationId": format!("{action}{}", def.kind),
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": def.group, "version": def.version, "kind": def.kind},
    });
    if !params.is_empty() {
        op["parameters"] = json!(params);
    }
    op
}

fn document(group: &str, version: &str) -> Option<Value> {
    let defs: Vec<&ResourceDef> = resources::in_group_version(group, version).collect();
    if defs.is_empty() {
        return None;
    }
    let write_params = [
        param("dryRun", "string"),
        param("fieldManager", "string"),
        param("fieldValidation", "string"),
    ];
    let mut patch_params = write_params.to_vec();
    patch_params.push(param("force", "boolean"));
    let mut paths = Map::new();
    for def in defs {
        let base = if def.namespaced {
            format!(
                "/{}/namespaces/{{namespace}}/{}",
                gv_path(group, version),
                def.plural
            )
        } else {
            format!("/{}/{}", gv_path(group, version), def.plural)
        };
        paths.insert(
            base.clone(),
            json!({
                "get": operation(def, "list", &[param("labelSelector", "string"), param("fieldSelector", "string")]),
                "post": operation(def, "post", &write_params),
            }),
        );
        paths.insert(
            format!("{base}/{{name}}"),
            json!({
                "get": operation(def, "get", &[]),
                "put": operation(def, "put", &write_params),
                "patch": operation(def, "patch", &patch_params),
                "delete": operation(def, "delete", &[param("dryRun", "string")]),
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": super::discovery::GIT_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

fn hash(value: &Value) -> String {
    Sha256::digest(value.to_string().as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// `GET /openapi/v3`: the index of group-version documents.
pub(crate) async fn v3_root() -> Response {
    let mut paths = Map::new();
    for (group, version) in resources::group_versions() {
        if let Some(doc) = document(group, version) {
            let path = gv_path(group, version);
            paths.insert(
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", hash(&doc))}),
            );
        }
    }
    json_response(StatusCode::OK, &json!({"paths": paths}))
}

/// `GET /openapi/v3/api/v1`, `/openapi/v3/apis/{group}/{version}`.
pub(crate) async fn v3_document(Path(path): Path<String>) -> Response {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let doc = match segments.as_slice() {
        ["api", version] => document("", version),
        ["apis", group, version] => document(group, version),
        _ => None,
    };
    match doc {
        Some(doc) => json_response(StatusCode::OK, &doc),
        None => unknown_path().into_response(),
    }
}

/// `GET /openapi/v2`: not served.
pub(crate) async fn v2() -> Response {
    unknown_path().into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_operations_name_their_kind_and_take_field_validation() {
        let doc = document("apps", "v1").unwrap();
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(
            op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            document("", "v1").unwrap()["paths"]
                .get("/api/v1/namespaces/{name}")
                .is_some()
        );
        assert!(
            document("", "v1").unwrap()["paths"]
                .get("/api/v1/namespaces/{namespace}/pods/{name}")
                .is_some()
        );
    }
}
