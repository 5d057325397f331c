//! The write pipeline every change goes through, from a request or from the controller.
//!
//! [`create`] and [`update`] take the object a writer wants, fill in what the server owns
//! (uid, creationTimestamp, generation — bumped when `spec` changes — and the initial status),
//! apply [`super::defaults`], check [`super::validate`], record `managedFields`, and store the
//! result through a [`Txn`]. An update that changes nothing is not written (no new
//! resourceVersion), like the real API server. [`delete`] removes an object and, following
//! the propagation policy, everything it owns (ownerReferences) — or, for a namespace,
//! everything in it.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::admission;
use super::managed::{self, Writer};
use super::resources::{self, ResourceDef};
use super::status::{ApiError, ApiResult, Cause};
use super::store::Txn;
use super::{defaults, validate};

/// How a write's `managedFields` are kept.
#[derive(Debug, Clone)]
pub(crate) enum Managed<'a> {
    /// Record an `Update` entry for this writer.
    Update(Writer<'a>),
    /// The object already carries its entries (server-side apply): only forget fields the
    /// object no longer has.
    Keep,
    /// Keep the stored entries unchanged (the controller's status writes).
    Untracked,
}

/// `metadata.*` fields only the server sets.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "creationTimestamp",
    "generation",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
];

/// Now, as the API server writes times (RFC 3339, whole seconds, UTC).
pub(crate) fn now() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

/// Five characters from the alphabet Kubernetes uses for generated names.
pub(crate) fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(5)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// An object's resourceVersion as a number (0 when it has none).
pub(crate) fn rv_number(object: &Value) -> u64 {
    meta_str(object, "resourceVersion")
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0)
}

/// Reads a string at `metadata.<field>`.
pub(crate) fn meta_str<'v>(object: &'v Value, field: &str) -> Option<&'v str> {
    object.get("metadata")?.get(field)?.as_str()
}

fn metadata(object: &mut Value) -> ApiResult<&mut Map<String, Value>> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the object must be a JSON object"))?;
    if !map.get("metadata").is_some_and(Value::is_object) {
        map.insert("metadata".into(), Value::Object(Map::new()));
    }
    Ok(map
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .expect("just made an object"))
}

/// Drops `null`s: the real server decodes into typed structs, where a null and a missing
/// field are the same thing (templates sent by kubectl carry `creationTimestamp: null`).
pub(crate) fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Sets `apiVersion` and `kind` first, as the server prints them, and drops `null`s.
fn type_meta(def: &ResourceDef, object: Value) -> Value {
    let map = match without_nulls(object) {
        Value::Object(map) => map,
        other => return other,
    };
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(def.api_version));
    out.insert("kind".into(), json!(def.kind));
    for (k, v) in map {
        if k != "apiVersion" && k != "kind" {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

fn record(def: &ResourceDef, old: Option<&Value>, new: &mut Value, managed: &Managed<'_>) {
    let ty = strategic_merge::schema::for_kind(def.group, def.kind);
    match managed {
        Managed::Update(writer) => {
            managed::record_update(old, new, writer, def.api_version, ty, def.status);
        }
        Managed::Keep => {
            let mut entries = managed::read(new);
            managed::forget_missing(&mut entries, new);
            managed::write(new, &entries);
        }
        Managed::Untracked => {
            let entries = old.map(managed::read).unwrap_or_default();
            managed::write(new, &entries);
        }
    }
}

/// Creates an object. The namespace (for namespaced kinds) must already be in
/// `metadata.namespace`.
pub(crate) fn create(
    txn: &mut Txn<'_>,
    def: &'static ResourceDef,
    object: Value,
    managed: &Managed<'_>,
) -> ApiResult<Arc<Value>> {
    let mut object = type_meta(def, object);
    let meta = metadata(&mut object)?;
    for field in SERVER_METADATA {
        meta.shift_remove(*field);
    }
    if meta
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        match meta.get("generateName").and_then(Value::as_str) {
            Some(prefix) if !prefix.is_empty() => {
                let name = format!("{prefix}{}", random_suffix());
                meta.insert("name".into(), json!(name));
            }
            _ => {
                return Err(ApiError::invalid(
                    def,
                    "",
                    vec![Cause {
                        reason: "FieldValueRequired",
                        field: "metadata.name".into(),
                        message: "Required value: name or generateName is required".into(),
                    }],
                ));
            }
        }
    }
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if def.namespaced {
        if namespace.is_empty() {
            return Err(ApiError::bad_request(
                "the namespace of the object is required for a namespaced resource",
            ));
        }
        if txn.get(resources::namespaces(), "", &namespace).is_none() {
            return Err(ApiError::namespace_not_found(&namespace));
        }
    } else {
        meta.shift_remove("namespace");
    }
    if txn.get(def, &namespace, &name).is_some() {
        return Err(ApiError::already_exists(def, &name));
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(now()));
    if def.generation {
        meta.insert("generation".into(), json!(1));
    }
    if let Some(status) = defaults::initial_status(def, &object) {
        // A new object's status is the server's, whatever the client sent.
        if def.status || object.get("status").is_none() {
            object["status"] = status;
        }
    }
    defaults::apply(txn, def, &mut object, None);
    super::crd::admit(def, &mut object, None)?;
    let causes = validate::object(def, &object, None);
    if !causes.is_empty() {
        return Err(ApiError::invalid(def, &name, causes));
    }
    record(def, None, &mut object, managed);
    match (def.group, def.kind) {
        ("", "Pod") => admission::pod(&mut object),
        ("apps", "DaemonSet") => {
            // The DaemonSet strategy numbers template generations (after the field manager).
            object["metadata"]["annotations"]["deprecated.daemonset.template.generation"] =
                json!("1");
        }
        _ => {}
    }
    let created = txn.put(def, object);
    if (def.group, def.kind) == ("", "Namespace") {
        admission::namespace_created(txn, &name)?;
    }
    Ok(created)
}

/// Replaces `old` with `new` (the whole object the writer wants). A `resourceVersion` in
/// `new` that is not the stored one is a conflict.
pub(crate) fn update(
    txn: &mut Txn<'_>,
    def: &'static ResourceDef,
    old: &Arc<Value>,
    new: Value,
    managed: &Managed<'_>,
) -> ApiResult<Arc<Value>> {
    let name = meta_str(old, "name").unwrap_or_default().to_owned();
    let mut new = type_meta(def, new);
    let stored_rv = meta_str(old, "resourceVersion")
        .unwrap_or_default()
        .to_owned();
    let meta = metadata(&mut new)?;
    if let Some(rv) = meta.get("resourceVersion").and_then(Value::as_str)
        && !rv.is_empty()
        && rv != stored_rv
    {
        return Err(ApiError::modified(def, &name));
    }
    for field in SERVER_METADATA {
        meta.shift_remove(*field);
        if let Some(v) = old.get("metadata").and_then(|m| m.get(*field)) {
            meta.insert((*field).to_owned(), v.clone());
        }
    }
    meta.insert("name".into(), json!(name));
    if def.namespaced {
        meta.insert(
            "namespace".into(),
            json!(meta_str(old, "namespace").unwrap_or_default()),
        );
    }
    defaults::apply(txn, def, &mut new, Some(old));
    super::crd::admit(def, &mut new, Some(old))?;
    let causes = validate::object(def, &new, Some(old));
    if !causes.is_empty() {
        return Err(ApiError::invalid(def, &name, causes));
    }
    if def.generation && new.get("spec") != old.get("spec") {
        let generation = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        new["metadata"]["generation"] = json!(generation + 1);
    }
    record(def, Some(old), &mut new, managed);
    if (def.group, def.kind) == ("apps", "DaemonSet")
        && new.pointer("/spec/template") != old.pointer("/spec/template")
    {
        let generation = old
            .pointer("/metadata/annotations/deprecated.daemonset.template.generation")
            .and_then(Value::as_str)
            .and_then(|g| g.parse::<u64>().ok())
            .unwrap_or(0);
        new["metadata"]["annotations"]["deprecated.daemonset.template.generation"] =
            json!((generation + 1).to_string());
    }
    if new == **old {
        return Ok(old.clone());
    }
    Ok(txn.put(def, new))
}

/// What happens to the objects a deleted object owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagation {
    /// Delete them too (the default; `Foreground` is treated the same).
    Background,
    /// Keep them, without the ownerReference.
    Orphan,
}

/// Preconditions of a delete.
#[derive(Debug, Clone, Default)]
pub(crate) struct Preconditions {
    /// Required uid.
    pub uid: Option<String>,
    /// Required resourceVersion.
    pub resource_version: Option<String>,
}

/// Namespaces that cannot be deleted.
const PERMANENT_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// Deletes an object and, by `propagation`, its dependents; returns the deleted object.
pub(crate) fn delete(
    txn: &mut Txn<'_>,
    def: &'static ResourceDef,
    namespace: &str,
    name: &str,
    propagation: Propagation,
    preconditions: &Preconditions,
) -> ApiResult<Arc<Value>> {
    let Some(object) = txn.get(def, namespace, name) else {
        return Err(ApiError::not_found(def, name));
    };
    if let Some(uid) = &preconditions.uid
        && meta_str(&object, "uid") != Some(uid.as_str())
    {
        return Err(ApiError::precondition(
            def,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta_str(&object, "uid").unwrap_or_default()
            ),
        ));
    }
    if let Some(rv) = &preconditions.resource_version
        && meta_str(&object, "resourceVersion") != Some(rv.as_str())
    {
        return Err(ApiError::precondition(
            def,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta_str(&object, "resourceVersion").unwrap_or_default()
            ),
        ));
    }
    if def.kind == "Namespace" {
        if PERMANENT_NAMESPACES.contains(&name) {
            return Err(ApiError::Forbidden(format!(
                "namespaces {name:?} is forbidden: this namespace may not be deleted"
            )));
        }
        let custom: Vec<&'static ResourceDef> = txn.custom().defs().collect();
        for r in resources::stored().chain(custom).filter(|r| r.namespaced) {
            for item in txn.list(r, Some(name)) {
                let item_name = meta_str(&item, "name").unwrap_or_default().to_owned();
                txn.remove(r, name, &item_name);
            }
        }
    }
    let removed = txn
        .remove(def, namespace, name)
        .ok_or_else(|| ApiError::not_found(def, name))?;
    if let Some(uid) = meta_str(&removed, "uid") {
        collect_dependents(txn, uid, namespace, propagation)?;
    }
    Ok(removed)
}

/// Whether `object` has an ownerReference to `uid`.
pub(crate) fn owned_by(object: &Value, uid: &str) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
        })
}

/// The garbage collector, done at once: dependents of a deleted owner are deleted (and
/// theirs, recursively) or orphaned.
fn collect_dependents(
    txn: &mut Txn<'_>,
    owner_uid: &str,
    namespace: &str,
    propagation: Propagation,
) -> ApiResult<()> {
    let custom: Vec<&'static ResourceDef> = txn.custom().defs().collect();
    for r in resources::stored().chain(custom) {
        // Namespaced owners only own objects in their namespace; cluster-scoped owners may
        // own anything.
        let scope = (!namespace.is_empty()).then_some(namespace);
        if !r.namespaced && scope.is_some() {
            continue;
        }
        for dependent in txn.list(r, if r.namespaced { scope } else { None }) {
            if !owned_by(&dependent, owner_uid) {
                continue;
            }
            let ns = meta_str(&dependent, "namespace")
                .unwrap_or_default()
                .to_owned();
            let dep_name = meta_str(&dependent, "name").unwrap_or_default().to_owned();
            match propagation {
                Propagation::Background => {
                    if let Some(removed) = txn.remove(r, &ns, &dep_name)
                        && let Some(uid) = meta_str(&removed, "uid")
                    {
                        collect_dependents(txn, uid, &ns, propagation)?;
                    }
                }
                Propagation::Orphan => {
                    let mut orphan = (*dependent).clone();
                    if let Some(refs) = orphan
                        .pointer_mut("/metadata/ownerReferences")
                        .and_then(Value::as_array_mut)
                    {
                        refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid));
                        if refs.is_empty()
                            && let Some(meta) = orphan["metadata"].as_object_mut()
                        {
                            meta.shift_remove("ownerReferences");
                        }
                    }
                    update(txn, r, &dependent, orphan, &Managed::Untracked)?;
                }
            }
        }
    }
    Ok(())
}

/// The object a write through `subresource` leaves: the main resource keeps the stored
/// status (for kinds with a status subresource); `/status` changes only the status.
pub(crate) fn for_subresource(
    def: &ResourceDef,
    old: &Value,
    mut new: Value,
    subresource: Option<&str>,
) -> Value {
    match subresource {
        Some("status") => {
            let mut merged = old.clone();
            merged["status"] = new.get("status").cloned().unwrap_or(json!({}));
            if let Some(rv) = new.pointer("/metadata/resourceVersion").cloned() {
                merged["metadata"]["resourceVersion"] = rv;
            }
            merged
        }
        _ if def.status => {
            if let Some(map) = new.as_object_mut() {
                match old.get("status") {
                    Some(status) => {
                        map.insert("status".into(), status.clone());
                    }
                    None => {
                        map.shift_remove("status");
                    }
                }
            }
            new
        }
        _ => new,
    }
}
