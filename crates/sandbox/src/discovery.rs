//! Discovery: `/version`, `/api`, `/apis`, `/apis/{group}`, `/api/v1`, `/apis/{group}/{version}`.
//!
//! Built from [`super::resources`]. Two forms are served, chosen by the `Accept` header as the
//! real server does: the legacy documents (`APIVersions`, `APIGroupList`, `APIResourceList`
//! with subresources as their own `deployments/status` entries), and aggregated discovery
//! (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`) that kubectl ≥ 1.30 and
//! `kube::Discovery::run_aggregated` ask for first.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::resources::{self, ResourceDef};
use super::routes::{json_response, json_response_as, unknown_path};
use super::status::ApiResult;
use super::{SandboxState, crd};

/// The Kubernetes version the sandbox speaks.
pub const GIT_VERSION: &str = "v1.33.0-tripline-sandbox";

const AGGREGATED_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const NAMESPACE_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const SUBRESOURCE_VERBS: &[&str] = &["get", "patch", "update"];

/// `GET /version`.
pub(crate) async fn version() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "major": "1",
            "minor": "33",
            "emulationMajor": "1",
            "emulationMinor": "33",
            "minCompatibilityMajor": "1",
            "minCompatibilityMinor": "32",
            "gitVersion": GIT_VERSION,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-04-23T00:00:00Z",
            "goVersion": "go1.24.2",
            "compiler": "gc",
            "platform": "linux/amd64"
        }),
    )
}

/// Whether the client asked for aggregated discovery (v2).
fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let params: Vec<String> = range
                .split(';')
                .map(|p| p.trim().replace(' ', ""))
                .collect();
            params.iter().any(|p| p == "g=apidiscovery.k8s.io")
                && params.iter().any(|p| p == "v=v2")
                && params.iter().any(|p| p == "as=APIGroupDiscoveryList")
        })
}

fn verbs(def: &ResourceDef) -> &'static [&'static str] {
    if def.kind == "Namespace" {
        NAMESPACE_VERBS
    } else {
        VERBS
    }
}

fn subresources(def: &ResourceDef) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    if def.scale {
        out.push((
            "scale",
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
        ));
    }
    if def.kind == "Pod" {
        out.push(("log", json!({"group": "", "version": "v1", "kind": "Pod"})));
    }
    if def.status {
        out.push((
            "status",
            json!({"group": def.group, "version": def.version, "kind": def.kind}),
        ));
    }
    out
}

fn subresource_verbs(subresource: &str) -> &'static [&'static str] {
    if subresource == "log" {
        &["get"]
    } else {
        SUBRESOURCE_VERBS
    }
}

/// The `storageVersionHash` of a resource, as kube-apiserver computes it: the first 8 bytes
/// of the SHA-256 of `group/version/kind`, in base64.
fn storage_version_hash(def: &ResourceDef) -> String {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}/{}/{}", def.group, def.version, def.kind));
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

/// The `APIResource` entries of one resource: itself, then its subresources.
fn legacy_entries(def: &ResourceDef) -> Vec<Value> {
    let mut main = json!({
        "name": def.plural,
        "singularName": def.singular,
        "namespaced": def.namespaced,
        "kind": def.kind,
        "verbs": verbs(def),
    });
    if !def.short_names.is_empty() {
        main["shortNames"] = json!(def.short_names);
    }
    main["storageVersionHash"] = json!(storage_version_hash(def));
    if !def.categories.is_empty() {
        main["categories"] = json!(def.categories);
    }
    let mut entries = vec![main];
    for (sub, kind) in subresources(def) {
        let mut entry = json!({
            "name": format!("{}/{sub}", def.plural),
            "singularName": "",
            "namespaced": def.namespaced,
            "kind": kind["kind"],
            "verbs": subresource_verbs(sub),
        });
        if sub == "scale" {
            entry["group"] = json!("autoscaling");
            entry["version"] = json!("v1");
        }
        entries.push(entry);
    }
    entries
}

fn aggregated_resource(def: &ResourceDef) -> Value {
    let subresources: Vec<Value> = subresources(def)
        .into_iter()
        .map(|(sub, kind)| {
            json!({
                "subresource": sub,
                "responseKind": kind,
                "verbs": subresource_verbs(sub),
            })
        })
        .collect();
    let mut resource = json!({
        "resource": def.plural,
        "responseKind": {"group": def.group, "version": def.version, "kind": def.kind},
        "scope": if def.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": def.singular,
        "verbs": verbs(def),
    });
    if !def.short_names.is_empty() {
        resource["shortNames"] = json!(def.short_names);
    }
    if !def.categories.is_empty() {
        resource["categories"] = json!(def.categories);
    }
    if !subresources.is_empty() {
        resource["subresources"] = json!(subresources);
    }
    resource
}

fn aggregated(
    groups: impl Iterator<Item = (&'static str, &'static str)>,
    custom: Vec<Value>,
) -> Response {
    let mut items: Vec<Value> = Vec::new();
    for (group, version) in groups {
        let resources: Vec<Value> = resources::in_group_version(group, version)
            .map(aggregated_resource)
            .collect();
        let entry = json!({"version": version, "resources": resources, "freshness": "Current"});
        // A group's versions share one item, the preferred one first.
        match items
            .iter_mut()
            .find(|item| item["metadata"]["name"] == group)
        {
            Some(item) => item["versions"]
                .as_array_mut()
                .expect("versions")
                .push(entry),
            None => items.push(json!({
                "metadata": {"name": group, "creationTimestamp": null},
                "versions": [entry],
            })),
        }
    }
    items.extend(custom);
    let mut response = json_response_as(
        StatusCode::OK,
        &json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        }),
        AGGREGATED_V2,
    );
    response
        .headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Accept"));
    response
}

/// `GET /api`.
pub(crate) async fn core_versions(
    State(state): State<SandboxState>,
    headers: HeaderMap,
) -> Response {
    if wants_aggregated(&headers) {
        return aggregated(
            resources::group_versions()
                .into_iter()
                .filter(|(g, _)| g.is_empty()),
            Vec::new(),
        );
    }
    json_response(
        StatusCode::OK,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": state.address()}
            ]
        }),
    )
}

/// An `APIGroup`: the group's versions, the first (preferred) one as `preferredVersion`.
fn group_json(group: &str) -> Value {
    let versions: Vec<Value> = resources::group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(_, version)| json!({"groupVersion": format!("{group}/{version}"), "version": version}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

/// `GET /apis`.
pub(crate) async fn groups(State(state): State<SandboxState>, headers: HeaderMap) -> Response {
    let named = resources::group_versions()
        .into_iter()
        .filter(|(g, _)| !g.is_empty());
    if wants_aggregated(&headers) {
        let custom = state
            .store()
            .read(|txn| crd::discovery::aggregated(txn.custom()));
        return aggregated(named, custom);
    }
    let mut names: Vec<&str> = Vec::new();
    for (group, _) in named {
        if !names.contains(&group) {
            names.push(group);
        }
    }
    let mut groups: Vec<Value> = names.into_iter().map(group_json).collect();
    groups.extend(
        state
            .store()
            .read(|txn| crd::discovery::groups(txn.custom())),
    );
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    )
}

/// `GET /apis/{group}`.
pub(crate) fn group(state: &SandboxState, group: &str) -> ApiResult<Response> {
    let built_in = resources::group_versions()
        .into_iter()
        .find(|(g, _)| *g == group && !g.is_empty());
    let Some((name, _)) = built_in else {
        return state
            .store()
            .read(|txn| crd::discovery::group(txn.custom(), group))
            .map(|body| json_response(StatusCode::OK, &body))
            .ok_or_else(unknown_path);
    };
    let mut body = group_json(name);
    body["kind"] = json!("APIGroup");
    body["apiVersion"] = json!("v1");
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/v1` or `/apis/{group}/{version}`.
pub(crate) fn resource_list(
    state: &SandboxState,
    group: &str,
    version: &str,
    _headers: &HeaderMap,
) -> ApiResult<Response> {
    let mut entries: Vec<Value> = resources::in_group_version(group, version)
        .flat_map(legacy_entries)
        .collect();
    // In name order, as kube-apiserver lists them.
    entries.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    if entries.is_empty() {
        return state
            .store()
            .read(|txn| crd::discovery::resource_list(txn.custom(), group, version))
            .map(|body| json_response(StatusCode::OK, &body))
            .ok_or_else(unknown_path);
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": entries,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_discovery_is_chosen_by_accept() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
                .parse()
                .unwrap(),
        );
        assert!(wants_aggregated(&headers));
        headers.insert(header::ACCEPT, "application/json, */*".parse().unwrap());
        assert!(!wants_aggregated(&headers));
    }

    #[test]
    fn subresources_are_their_own_legacy_entries() {
        let d = resources::lookup("apps", "v1", "deployments").unwrap();
        let entries = legacy_entries(d);
        let names: Vec<&str> = entries
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["deployments", "deployments/scale", "deployments/status"]
        );
        assert_eq!(entries[1]["group"], "autoscaling");
        assert_eq!(entries[1]["kind"], "Scale");
        assert_eq!(entries[0]["shortNames"], json!(["deploy"]));
    }
}
