//! The CRD object itself: the server's defaults, its validation, its initial status, and
//! the served kinds it describes.

use serde_json::{Map, Value, json};

use super::schema::Schema;
use super::{Column, CustomKind, GROUP, Identity, ScalePaths};
use crate::resources::{self, ResourceDef};
use crate::status::{ApiError, ApiResult, Cause};

/// Whether `def` is the CRD resource.
pub(crate) fn is_crd(def: &ResourceDef) -> bool {
    def.group == GROUP && def.kind == "CustomResourceDefinition"
}

/// The write-pipeline step for CRDs and custom resources (a no-op for other kinds), run
/// after the built-in defaults and before validation: a CRD gets its defaults, is checked
/// (422 when invalid) and, when new, gets the initial status; a custom resource is pruned to
/// its schema, defaulted, and loses a `status` sent to a create when `/status` is a
/// subresource.
pub(crate) fn admit(def: &ResourceDef, object: &mut Value, old: Option<&Value>) -> ApiResult<()> {
    if is_crd(def) {
        return admit_definition(def, object, old);
    }
    let Some(kind) = def.custom_kind() else {
        return Ok(());
    };
    kind.schema.prune(object);
    if old.is_none()
        && def.status
        && let Some(map) = object.as_object_mut()
    {
        map.shift_remove("status");
    }
    kind.schema.apply_defaults(object);
    Ok(())
}

/// The schema causes of a custom resource (empty for other kinds).
pub(crate) fn validate(def: &ResourceDef, object: &Value) -> Vec<Cause> {
    def.custom_kind()
        .map(|kind| kind.schema.validate(object))
        .unwrap_or_default()
}

fn admit_definition(def: &ResourceDef, crd: &mut Value, old: Option<&Value>) -> ApiResult<()> {
    set_defaults(crd);
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let causes = check(crd, old);
    if !causes.is_empty() {
        return Err(ApiError::invalid(def, &name, causes));
    }
    let storage = versions(crd)
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name"))
        .cloned()
        .unwrap_or(Value::Null);
    match old {
        None => {
            crd["status"] = json!({
                "conditions": null,
                "acceptedNames": {"plural": "", "kind": ""},
                "storedVersions": [storage],
            });
        }
        Some(_) => {
            let stored = crd
                .pointer_mut("/status/storedVersions")
                .and_then(Value::as_array_mut);
            match stored {
                Some(stored) => {
                    if !stored.contains(&storage) {
                        stored.push(storage);
                    }
                }
                None => crd["status"]["storedVersions"] = json!([storage]),
            }
        }
    }
    Ok(())
}

fn versions(crd: &Value) -> &[Value] {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn set_defaults(crd: &mut Value) {
    let Some(spec) = crd.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if !spec.get("conversion").is_some_and(Value::is_object) {
        spec.insert("conversion".into(), json!({"strategy": "None"}));
    } else if spec["conversion"].get("strategy").is_none() {
        spec["conversion"]["strategy"] = json!("None");
    }
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
        let kind = names
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !kind.is_empty() {
            if names
                .get("singular")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                names.insert("singular".into(), json!(kind.to_lowercase()));
            }
            if names
                .get("listKind")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                names.insert("listKind".into(), json!(format!("{kind}List")));
            }
        }
    }
}

fn text<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn is_label(s: &str) -> bool {
    tripline_validation::is_dns1123_label(s)
}

/// Every problem with a CRD, with the API server's field paths.
fn check(crd: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = text(crd, "/metadata/name");
    let group = text(crd, "/spec/group");
    let plural = text(crd, "/spec/names/plural");
    if !name.is_empty()
        && !plural.is_empty()
        && !group.is_empty()
        && name != format!("{plural}.{group}")
    {
        causes.push(Cause::invalid(
            "metadata.name",
            &json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        causes.push(Cause::required("spec.group"));
    } else if !group.contains('.') {
        causes.push(Cause::invalid(
            "spec.group",
            &json!(group),
            "should be a domain with at least one dot",
        ));
    } else if !tripline_validation::is_dns1123_subdomain(group) {
        causes.push(Cause::invalid(
            "spec.group",
            &json!(group),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ));
    }
    match text(crd, "/spec/scope") {
        "Namespaced" | "Cluster" => {}
        "" => causes.push(Cause::required("spec.scope")),
        other => causes.push(Cause::not_supported(
            "spec.scope",
            &json!(other),
            &["Cluster", "Namespaced"],
        )),
    }
    for (field, value) in [
        ("plural", plural),
        ("singular", text(crd, "/spec/names/singular")),
    ] {
        if value.is_empty() && field == "plural" {
            causes.push(Cause::required("spec.names.plural"));
        } else if !value.is_empty() && (!is_label(value) || value != value.to_lowercase()) {
            causes.push(Cause::invalid(
                format!("spec.names.{field}"),
                &json!(value),
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            ));
        }
    }
    for field in ["kind", "listKind"] {
        let value = text(crd, &format!("/spec/names/{field}"));
        if value.is_empty() {
            causes.push(Cause::required(format!("spec.names.{field}")));
        } else if !is_label(&value.to_lowercase()) {
            causes.push(Cause::invalid(
                format!("spec.names.{field}"),
                &json!(value),
                "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
            ));
        }
    }
    if let Some(old) = old {
        for field in ["group", "scope"] {
            let pointer = format!("/spec/{field}");
            if crd.pointer(&pointer) != old.pointer(&pointer) {
                causes.push(Cause::invalid(
                    format!("spec.{field}"),
                    crd.pointer(&pointer).unwrap_or(&Value::Null),
                    "field is immutable",
                ));
            }
        }
    }
    check_versions(crd, &mut causes);
    if causes.is_empty() {
        check_built_in_clash(crd, &mut causes);
    }
    causes
}

fn check_versions(crd: &Value, causes: &mut Vec<Cause>) {
    let versions = versions(crd);
    if versions.is_empty() {
        causes.push(Cause::required_because(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
        return;
    }
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        causes.push(Cause::invalid(
            "spec.versions",
            &json!(versions),
            "must have exactly one version marked as storage version",
        ));
    }
    let mut seen = Vec::new();
    for (index, version) in versions.iter().enumerate() {
        let name = text(version, "/name");
        if !is_label(name) {
            causes.push(Cause::invalid(
                format!("spec.versions[{index}].name"),
                &json!(name),
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            ));
        }
        if seen.contains(&name) {
            causes.push(Cause {
                reason: "FieldValueDuplicate",
                field: format!("spec.versions[{index}].name"),
                message: format!("Duplicate value: {name:?}"),
            });
        }
        seen.push(name);
        if let Some(scale) = version.pointer("/subresources/scale") {
            let base = format!("spec.versions[{index}].subresources.scale");
            for (field, prefix) in [
                ("specReplicasPath", ".spec."),
                ("statusReplicasPath", ".status."),
            ] {
                let path = text(scale, &format!("/{field}"));
                if path.is_empty() {
                    causes.push(Cause::required(format!("{base}.{field}")));
                } else if !path.starts_with(prefix) {
                    causes.push(Cause::invalid(
                        format!("{base}.{field}"),
                        &json!(path),
                        &format!(
                            "should be a json path under {}",
                            prefix.trim_end_matches('.')
                        ),
                    ));
                }
            }
        }
    }
    // One schema for every version is reported as the internal `spec.validation`, as the
    // API server converts it; different schemas per version keep their own paths.
    let first = versions[0].pointer("/schema/openAPIV3Schema");
    let shared = versions
        .iter()
        .all(|v| v.pointer("/schema/openAPIV3Schema") == first);
    for (index, version) in versions.iter().enumerate() {
        if shared && index > 0 {
            break;
        }
        let path = if shared {
            "spec.validation.openAPIV3Schema".to_owned()
        } else {
            format!("spec.versions[{index}].schema.openAPIV3Schema")
        };
        match version.pointer("/schema/openAPIV3Schema") {
            None => causes.push(Cause::required_because(
                format!("spec.versions[{index}].schema.openAPIV3Schema"),
                "schemas are required",
            )),
            Some(json) => {
                if let Err(found) = Schema::parse(json, &path) {
                    causes.extend(found);
                }
            }
        }
    }
}

/// The sandbox serves a built-in resource and a custom one by the same name no better than
/// by refusing the CRD: the real server would accept it and keep serving the built-in one.
fn check_built_in_clash(crd: &Value, causes: &mut Vec<Cause>) {
    let group = text(crd, "/spec/group");
    let plural = text(crd, "/spec/names/plural");
    for version in versions(crd) {
        let version = text(version, "/name");
        if let Some(built_in) = resources::lookup(group, version, plural) {
            causes.push(Cause {
                reason: "FieldValueForbidden",
                field: "spec.names.plural".into(),
                message: format!(
                    "Forbidden: {} is a built-in resource of this server and cannot be redefined",
                    built_in.qualified()
                ),
            });
            return;
        }
    }
}

/// The names a CRD asks for, as `status.acceptedNames` holds them.
pub(crate) fn requested_names(crd: &Value) -> Value {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let mut out = Map::new();
    for field in [
        "plural",
        "singular",
        "shortNames",
        "kind",
        "listKind",
        "categories",
    ] {
        if let Some(value) = names.get(field) {
            out.insert(field.into(), value.clone());
        }
    }
    Value::Object(out)
}

/// The names in `names` another CRD of the same group already has (the first clash).
pub(crate) fn name_conflict(names: &Value, others: &[Value]) -> Option<String> {
    let mine = all_names(names);
    for other in others {
        let theirs = all_names(other);
        if let Some(clash) = mine.iter().find(|n| theirs.contains(n)) {
            return Some(format!("{clash:?} is already in use"));
        }
    }
    None
}

/// A CRD's names in the order the API server checks them for conflicts.
fn all_names(names: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |value: &str| {
        if !value.is_empty() {
            out.push(value.to_owned());
        }
    };
    push(text(names, "/plural"));
    push(text(names, "/singular"));
    for short in names
        .get("shortNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        push(short.as_str().unwrap_or_default());
    }
    push(text(names, "/kind"));
    push(text(names, "/listKind"));
    out
}

/// The served versions of an accepted CRD: their identities and behaviour.
pub(crate) fn served_kinds(crd: &Value) -> Vec<(Identity, CustomKind)> {
    let group = text(crd, "/spec/group");
    let namespaced = text(crd, "/spec/scope") == "Namespaced";
    let names = crd.pointer("/status/acceptedNames").unwrap_or(&Value::Null);
    let list = |field: &str| -> Vec<String> {
        names
            .get(field)
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for version in versions(crd) {
        if version.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let Some(schema) = version
            .pointer("/schema/openAPIV3Schema")
            .and_then(|json| Schema::parse(json, "openAPIV3Schema").ok())
        else {
            continue;
        };
        let version_name = text(version, "/name");
        let scale = version.pointer("/subresources/scale").map(|s| ScalePaths {
            spec_replicas: text(s, "/specReplicasPath").to_owned(),
            status_replicas: text(s, "/statusReplicasPath").to_owned(),
            label_selector: s
                .get("labelSelectorPath")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
        let columns = version
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .map(|columns| {
                columns
                    .iter()
                    .map(|c| Column {
                        name: text(c, "/name").to_owned(),
                        ty: text(c, "/type").to_owned(),
                        format: text(c, "/format").to_owned(),
                        description: text(c, "/description").to_owned(),
                        priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                        json_path: text(c, "/jsonPath").to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let kind = text(names, "/kind");
        let identity = Identity {
            group: group.to_owned(),
            version: version_name.to_owned(),
            plural: text(names, "/plural").to_owned(),
            singular: text(names, "/singular").to_owned(),
            kind: kind.to_owned(),
            namespaced,
            short_names: list("shortNames"),
            categories: list("categories"),
            status: version.pointer("/subresources/status").is_some(),
            scale: scale.is_some(),
        };
        out.push((
            identity,
            CustomKind {
                schema,
                columns,
                scale,
                storage_version_hash: storage_version_hash(group, version_name, kind),
            },
        ));
    }
    out
}

/// Discovery's `storageVersionHash`: the first 8 bytes of the SHA-256 of
/// `group/version/kind`, base64.
fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{group}/{version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_version_hashes_match_the_api_server() {
        assert_eq!(
            storage_version_hash("kg.example.com", "v1", "Widget"),
            "w78yHSBaKxo="
        );
        assert_eq!(
            storage_version_hash("kg.example.com", "v1", "Gizmo"),
            "pHv35UySqTw="
        );
    }

    #[test]
    fn names_clash_on_any_of_them() {
        let mine = json!({"plural": "widgets", "kind": "Widget", "shortNames": ["w"]});
        let other = json!({"plural": "wodgets", "kind": "Wodget", "shortNames": ["w"]});
        assert_eq!(
            name_conflict(&mine, &[other]).as_deref(),
            Some("\"w\" is already in use")
        );
        assert_eq!(name_conflict(&mine, &[]), None);
    }
}
