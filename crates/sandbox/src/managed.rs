//! `metadata.managedFields`: who set which field, and how.
//!
//! Every write names a manager (`fieldManager`, or one derived from the User-Agent). An apply
//! replaces its manager's `Apply` entry with the applied field set ([`super::apply`]); any
//! other write ([`record_update`]) gives the writer the fields it changed, taking them from
//! the managers that had them. After every write, entries forget fields the object no
//! longer has, and empty entries are dropped — the bookkeeping the real API server does.

use serde_json::{Value, json};

use super::fields::{self, Elem, FieldSet, Scope, get_at, same};

/// `Apply` or `Update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write (create, update, patch).
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The manager's name.
    pub manager: String,
    /// How it wrote.
    pub operation: Operation,
    /// The apiVersion it wrote with.
    pub api_version: String,
    /// When it last changed something (RFC 3339).
    pub time: String,
    /// `status` or `scale` for writes through a subresource.
    pub subresource: Option<String>,
    /// The fields it owns.
    pub fields: FieldSet,
}

impl Entry {
    /// Whether this entry belongs to `manager` writing with `operation` through
    /// `subresource` (the identity the API server uses).
    pub fn is(&self, manager: &str, operation: Operation, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    fn to_json(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation.as_str(),
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_fields_v1(),
        });
        if let Some(subresource) = &self.subresource {
            entry["subresource"] = json!(subresource);
        }
        entry
    }

    fn from_json(value: &Value) -> Option<Entry> {
        Some(Entry {
            manager: value.get("manager")?.as_str()?.to_owned(),
            operation: match value.get("operation")?.as_str()? {
                "Apply" => Operation::Apply,
                _ => Operation::Update,
            },
            api_version: value
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            time: value
                .get("time")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            subresource: value
                .get("subresource")
                .and_then(Value::as_str)
                .map(str::to_owned),
            fields: FieldSet::from_fields_v1(value.get("fieldsV1").unwrap_or(&Value::Null)),
        })
    }
}

/// The entries of an object (malformed ones are skipped).
pub(crate) fn read(object: &Value) -> Vec<Entry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(Entry::from_json).collect())
        .unwrap_or_default()
}

/// Writes entries into the object, dropping empty ones; no entries removes the field.
/// Entries are in the API server's order: `Apply` before `Update`, then by time (to the
/// second), manager and API version.
pub(crate) fn write(object: &mut Value, entries: &[Entry]) {
    let mut kept: Vec<&Entry> = entries.iter().filter(|e| !e.fields.is_empty()).collect();
    kept.sort_by(|a, b| {
        (
            a.operation.as_str(),
            second(&a.time),
            &a.manager,
            &a.api_version,
        )
            .cmp(&(
                b.operation.as_str(),
                second(&b.time),
                &b.manager,
                &b.api_version,
            ))
    });
    let rendered: Vec<Value> = kept.into_iter().map(Entry::to_json).collect();
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if rendered.is_empty() {
        metadata.shift_remove("managedFields");
    } else {
        metadata.insert("managedFields".into(), Value::Array(rendered));
    }
}

/// An RFC 3339 time to the second (`2025-01-01T00:00:00Z`), for ordering.
fn second(time: &str) -> &str {
    time.get(..19).unwrap_or(time)
}

/// Drops from every entry the fields `object` no longer has, except the ones the server
/// rewrites after recording them: a Secret's `stringData` (moved into `data`) and fields
/// stored without their zero value ([`super::defaults::OMITTED_WHEN_ZERO`]).
pub(crate) fn forget_missing(entries: &mut [Entry], object: &Value) {
    let rewritten = |path: &fields::Path| {
        matches!(path.first(), Some(Elem::Field(top)) if top == "stringData")
            || matches!(path.last(), Some(Elem::Field(name))
                if super::defaults::OMITTED_WHEN_ZERO.contains(&name.as_str()))
    };
    for entry in entries.iter_mut() {
        entry
            .fields
            .retain(|path| rewritten(path) || get_at(object, path).is_some());
    }
}

/// The fields of `new` that a write from `old` set or changed: leaves whose value differs,
/// and containers (maps, lists, list items) that did not exist before, as the API server's
/// field manager compares them. A create compares with the kind's empty object as Go
/// encodes it ([`empty_object`]), so the structs every object has (`spec`, a Deployment's
/// `strategy` and `template`) are never new, while maps and lists (`labels`, `ports`) are.
pub(crate) fn changed_fields(
    old: Option<&Value>,
    new: &Value,
    ty: &'static strategic_merge::schema::Type,
    scope: Scope,
) -> FieldSet {
    let all = FieldSet::of_written(new, ty, scope);
    let kind = new.get("kind").and_then(Value::as_str).unwrap_or_default();
    let mut before = empty_object(kind);
    if let Some(old) = old {
        overlay(&mut before, old);
    }
    let mut changed = FieldSet::default();
    for path in all.iter() {
        let was = get_at(&before, path);
        let differs = if all.is_leaf(path) {
            !was.is_some_and(|b| get_at(new, path).is_some_and(|n| same(b, n)))
        } else {
            was.is_none()
        };
        if differs {
            changed.insert(path.clone());
        }
    }
    changed
}

/// The containers an empty object of `kind` has when Go encodes it: the structs that are
/// not pointers, and the lists without `omitempty` (as `null`).
fn empty_object(kind: &str) -> Value {
    let pod_template = json!({"metadata": {}, "spec": {"containers": null}});
    match kind {
        "Deployment" => {
            json!({"metadata": {}, "spec": {"selector": null, "template": pod_template, "strategy": {}}, "status": {}})
        }
        "ReplicaSet" | "ReplicationController" => {
            json!({"metadata": {}, "spec": {"selector": null, "template": pod_template}, "status": {}})
        }
        "StatefulSet" | "DaemonSet" => {
            json!({"metadata": {}, "spec": {"selector": null, "template": pod_template, "updateStrategy": {}}, "status": {}})
        }
        "Job" => json!({"metadata": {}, "spec": {"template": pod_template}, "status": {}}),
        "CronJob" => {
            json!({"metadata": {}, "spec": {"jobTemplate": {"metadata": {}, "spec": {"template": pod_template}}}, "status": {}})
        }
        "Pod" => json!({"metadata": {}, "spec": {"containers": null}, "status": {}}),
        "Service" | "Ingress" => {
            json!({"metadata": {}, "spec": {}, "status": {"loadBalancer": {}}})
        }
        // Set by the namespace strategy after the field manager has run: never a manager's.
        "Namespace" => {
            json!({"metadata": {}, "spec": {"finalizers": ["kubernetes"]}, "status": {}})
        }
        "PersistentVolumeClaim"
        | "PodDisruptionBudget"
        | "HorizontalPodAutoscaler"
        | "NetworkPolicy" => {
            json!({"metadata": {}, "spec": {}, "status": {}})
        }
        "CustomResourceDefinition" => json!({
            "metadata": {},
            "spec": {"group": "", "names": {"plural": "", "kind": ""}, "scope": "", "versions": null},
            "status": {"conditions": null, "acceptedNames": {"plural": "", "kind": ""}, "storedVersions": null}
        }),
        _ => json!({"metadata": {}}),
    }
}

/// Lays `top` over `base`: maps merge key by key, anything else replaces.
fn overlay(base: &mut Value, top: &Value) {
    match (base, top) {
        (Value::Object(base), Value::Object(top)) => {
            for (key, value) in top {
                match base.get_mut(key) {
                    Some(slot) if slot.is_object() && value.is_object() => overlay(slot, value),
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, top) => *base = top.clone(),
    }
}

/// Who is writing, for the `managedFields` bookkeeping of a non-apply write.
#[derive(Debug, Clone)]
pub(crate) struct Writer<'a> {
    /// Manager name.
    pub manager: &'a str,
    /// `status` or `scale` when writing through a subresource.
    pub subresource: Option<&'a str>,
    /// Now, RFC 3339.
    pub time: &'a str,
}

/// Records a create or update by `writer` into `new`'s `managedFields`, starting from the
/// entries of `old` (any `managedFields` the client sent are ignored).
pub(crate) fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    writer: &Writer<'_>,
    api_version: &str,
    ty: &'static strategic_merge::schema::Type,
    skip_status: bool,
) {
    let scope = match writer.subresource {
        Some("status") => Scope::Status,
        _ => Scope::Main { skip_status },
    };
    let changed = changed_fields(old, new, ty, scope);
    let mut entries = old.map(read).unwrap_or_default();
    for entry in entries.iter_mut() {
        if !entry.is(writer.manager, Operation::Update, writer.subresource) {
            for path in changed.iter() {
                entry.fields.remove(path);
            }
        }
    }
    if !changed.is_empty() {
        match entries
            .iter_mut()
            .find(|e| e.is(writer.manager, Operation::Update, writer.subresource))
        {
            Some(own) => {
                own.fields.extend(&changed);
                own.time = writer.time.to_owned();
                own.api_version = api_version.to_owned();
            }
            None => entries.push(Entry {
                manager: writer.manager.to_owned(),
                operation: Operation::Update,
                api_version: api_version.to_owned(),
                time: writer.time.to_owned(),
                subresource: writer.subresource.map(str::to_owned),
                fields: changed,
            }),
        }
    }
    forget_missing(&mut entries, new);
    write(new, &entries);
}

/// The manager name the API server derives from a User-Agent when a non-apply request names
/// none: the part before the first `/` (`kubectl/v1.32.4 (linux/amd64)` → `kubectl`).
pub(crate) fn manager_from_user_agent(user_agent: Option<&str>) -> String {
    let agent = user_agent.unwrap_or("").trim();
    let name = agent.split('/').next().unwrap_or("").trim();
    if name.is_empty() {
        "unknown".into()
    } else {
        name.chars().take(128).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strategic_merge::schema::for_kind;

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}
        })
    }

    #[test]
    fn an_update_takes_the_fields_it_changes() {
        let ty = for_kind("apps", "Deployment");
        let mut created = deployment(1, "a");
        let creator = Writer {
            manager: "creator",
            subresource: None,
            time: "2025-01-01T00:00:00Z",
        };
        record_update(None, &mut created, &creator, "apps/v1", ty, true);
        let entries = read(&created);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].manager, "creator");

        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(3);
        let scaler = Writer {
            manager: "scaler",
            subresource: Some("scale"),
            time: "2025-01-01T00:00:01Z",
        };
        record_update(Some(&created), &mut scaled, &scaler, "apps/v1", ty, true);
        let entries = read(&scaled);
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[1].fields.to_fields_v1(),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert_eq!(entries[1].subresource.as_deref(), Some("scale"));
        assert!(
            entries[0]
                .fields
                .to_fields_v1()
                .pointer("/f:spec/f:replicas")
                .is_none()
        );
    }

    #[test]
    fn user_agents_name_managers() {
        for (agent, manager) in [
            (
                Some("kubectl/v1.32.4 (linux/amd64) kubernetes/abc"),
                "kubectl",
            ),
            (Some("kube-rs/5.0"), "kube-rs"),
            (None, "unknown"),
        ] {
            assert_eq!(manager_from_user_agent(agent), manager);
        }
    }
}
