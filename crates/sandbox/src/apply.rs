//! Server-side apply (`PATCH` with `application/apply-patch+yaml`), a practical subset of the
//! real semantics.
//!
//! A manager sends the fields it has opinions about (the applied configuration). [`apply`]:
//!
//! 1. computes the applied field set (see [`super::fields`]);
//! 2. finds conflicts: applied leaves whose value differs from the live one while another
//!    manager owns them — a 409 listing them, unless `force`, which takes ownership;
//! 3. merges the configuration into the live object (maps recursively, lists with a merge key
//!    item by item, other lists replaced — the rules of [`strategic_merge`]);
//! 4. removes the fields the manager applied last time but not this time, when no other
//!    manager owns them (how apply deletes);
//! 5. replaces the manager's `Apply` entry in `managedFields` with the new set.
//!
//! The result goes through [`super::objects`] like any other write.

use serde_json::{Map, Value, json};

use super::fields::{self, Elem, FieldSet, Path, Scope, get_at, same};
use super::managed::{self, Entry, Operation};
use super::resources::ResourceDef;
use super::status::{ApiError, ApiResult};

/// Who applies, and how.
#[derive(Debug, Clone)]
pub(crate) struct Applier<'a> {
    /// `fieldManager`.
    pub manager: &'a str,
    /// `force=true`: take fields from other managers instead of failing.
    pub force: bool,
    /// Now, RFC 3339.
    pub time: &'a str,
}

/// How the API server names a manager in a conflict message.
fn describe(entry: &Entry) -> String {
    let mut out = format!("{:?}", entry.manager);
    if let Some(sub) = &entry.subresource {
        out.push_str(&format!(" with subresource {sub:?}"));
    }
    if entry.operation == Operation::Update {
        out.push_str(&format!(" using {}", entry.api_version));
    }
    out
}

fn conflict_error(conflicts: &[(String, Path)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(manager, path)| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {manager}"),
                "field": fields::display(path),
            })
        })
        .collect();
    let message = if let [(manager, path)] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {manager}: {}",
            fields::display(path)
        )
    } else {
        let mut managers: Vec<&String> = conflicts.iter().map(|(m, _)| m).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            for (_, path) in conflicts.iter().filter(|(m, _)| m == manager) {
                lines.push(format!("- {}", fields::display(path)));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    ApiError::Conflict {
        message,
        details: Some(json!({"causes": causes})),
    }
}

/// Whether a path names a key field of a list item (`…[name="web"].name`): those go with
/// their item, never alone.
fn is_key_field(path: &[Elem]) -> bool {
    match path {
        [.., Elem::Key(key), Elem::Field(name)] => {
            serde_json::from_str::<Map<String, Value>>(key).is_ok_and(|k| k.contains_key(name))
        }
        _ => false,
    }
}

/// Removes a field, then any map or list it leaves empty (a typed API server omits empty
/// ones), up to but not including the top-level fields.
fn prune(object: &mut Value, path: &[Elem]) {
    if !fields::remove_at(object, path) {
        return;
    }
    let mut parent = &path[..path.len() - 1];
    while parent.len() > 1 {
        let empty = match get_at(object, parent) {
            Some(Value::Object(map)) => map.is_empty(),
            Some(Value::Array(items)) => items.is_empty(),
            _ => false,
        };
        if !empty {
            break;
        }
        fields::remove_at(object, parent);
        parent = &parent[..parent.len() - 1];
    }
}

fn strip_managed(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    copy
}

/// Applies `config` (already checked for apiVersion, kind, name and namespace) over `live`
/// (`None` creates). Returns the object to store, with its `managedFields`.
pub(crate) fn apply(
    def: &ResourceDef,
    live: Option<&Value>,
    config: Value,
    applier: &Applier<'_>,
) -> ApiResult<Value> {
    let ty = strategic_merge::schema::for_kind(def.group, def.kind);
    // `null` in an applied configuration means "no opinion".
    let mut config = super::objects::without_nulls(config);
    if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    if def.status
        && let Some(map) = config.as_object_mut()
    {
        // The main resource does not own the status.
        map.shift_remove("status");
    }
    let applied = FieldSet::of_object(
        &config,
        ty,
        Scope::Main {
            skip_status: def.status,
        },
    );

    let Some(live) = live else {
        let mut object = config;
        let entry = Entry {
            manager: applier.manager.to_owned(),
            operation: Operation::Apply,
            api_version: def.api_version.to_owned(),
            time: applier.time.to_owned(),
            subresource: None,
            fields: applied,
        };
        if object.get("metadata").is_none_or(|m| !m.is_object()) {
            object["metadata"] = Value::Object(Map::new());
        }
        managed::write(&mut object, &[entry]);
        return Ok(object);
    };

    if let Some(rv) = config
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        && !rv.is_empty()
        && Some(rv)
            != live
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
    {
        let name = live
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(ApiError::modified(def, name));
    }

    let mut entries = managed::read(live);
    let is_self = |e: &Entry| e.is(applier.manager, Operation::Apply, None);

    // Conflicts: a value the applier changes that someone else owns.
    let mut conflicts: Vec<(usize, Path)> = Vec::new();
    for path in applied.iter().filter(|p| applied.is_leaf(p)) {
        let Some(current) = get_at(live, path) else {
            continue;
        };
        if get_at(&config, path).is_some_and(|wanted| same(wanted, current)) {
            continue;
        }
        for (i, entry) in entries.iter().enumerate() {
            if !is_self(entry) && entry.fields.contains(path) {
                conflicts.push((i, path.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        if !applier.force {
            let described: Vec<(String, Path)> = conflicts
                .iter()
                .map(|(i, p)| (describe(&entries[*i]), p.clone()))
                .collect();
            return Err(conflict_error(&described));
        }
        for (i, path) in &conflicts {
            entries[*i].fields.remove(path);
        }
    }

    let previous = entries
        .iter()
        .find(|e| is_self(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();

    let mut merged = strategic_merge::apply(strip_managed(live), config, ty)
        .map_err(|e| ApiError::bad_request(format!("cannot apply the configuration: {e}")))?;

    // Fields applied before and not now are removed, unless someone else still wants them.
    // Parents first, so a dropped list item goes whole.
    let dropped = previous
        .with_named_parents()
        .difference(&applied.with_named_parents());
    for path in dropped.iter() {
        let wanted_elsewhere = entries
            .iter()
            .any(|e| !is_self(e) && e.fields.touches(path));
        if !wanted_elsewhere && !is_key_field(path) {
            prune(&mut merged, path);
        }
    }

    let object_changed = merged != strip_managed(live);
    match entries.iter_mut().find(|e| is_self(e)) {
        Some(own) => {
            if object_changed || own.fields != applied {
                own.time = applier.time.to_owned();
            }
            own.fields = applied;
            own.api_version = def.api_version.to_owned();
        }
        None => entries.push(Entry {
            manager: applier.manager.to_owned(),
            operation: Operation::Apply,
            api_version: def.api_version.to_owned(),
            time: applier.time.to_owned(),
            subresource: None,
            fields: applied,
        }),
    }
    managed::write(&mut merged, &entries);
    Ok(merged)
}

/// Server-side apply through `/scale`: the applier owns the object's `spec.replicas` (its
/// entry says `subresource: scale`), with the conflicts of any apply. `scaled` is the live
/// object with the new replica count (see [`super::scale::set_replicas`]).
pub(crate) fn apply_scale(
    live: &Value,
    mut scaled: Value,
    applier: &Applier<'_>,
    api_version: &str,
) -> ApiResult<Value> {
    let path: Path = vec![Elem::Field("spec".into()), Elem::Field("replicas".into())];
    let mut entries = managed::read(live);
    let is_self = |e: &Entry| e.is(applier.manager, Operation::Apply, Some("scale"));
    let changes = get_at(live, &path) != get_at(&scaled, &path);
    if changes {
        let owners: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !is_self(e) && e.fields.contains(&path))
            .map(|(i, _)| i)
            .collect();
        if !owners.is_empty() && !applier.force {
            let described: Vec<(String, Path)> = owners
                .iter()
                .map(|i| (describe(&entries[*i]), path.clone()))
                .collect();
            return Err(conflict_error(&described));
        }
        for i in owners {
            entries[i].fields.remove(&path);
        }
    }
    let mut fields = FieldSet::default();
    fields.insert(path);
    match entries.iter_mut().find(|e| is_self(e)) {
        Some(own) => {
            own.fields = fields;
            own.time = applier.time.to_owned();
        }
        None => entries.push(Entry {
            manager: applier.manager.to_owned(),
            operation: Operation::Apply,
            api_version: api_version.to_owned(),
            time: applier.time.to_owned(),
            subresource: Some("scale".into()),
            fields,
        }),
    }
    managed::write(&mut scaled, &entries);
    Ok(scaled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;

    fn deployment(replicas: Option<i64>, image: &str) -> Value {
        let mut d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "d"}},
                "template": {"metadata": {"labels": {"app": "d"}},
                             "spec": {"containers": [{"name": "web", "image": image}]}}
            }
        });
        if let Some(r) = replicas {
            d["spec"]["replicas"] = json!(r);
        }
        d
    }

    fn applier(manager: &str, force: bool) -> Applier<'_> {
        Applier {
            manager,
            force,
            time: "2025-01-01T00:00:00Z",
        }
    }

    #[test]
    fn apply_prunes_what_the_manager_dropped() {
        let def = lookup("apps", "v1", "deployments").unwrap();
        let first = apply(def, None, deployment(Some(3), "a"), &applier("m", false)).unwrap();
        let second = apply(
            def,
            Some(&first),
            deployment(None, "a"),
            &applier("m", false),
        )
        .unwrap();
        assert!(second.pointer("/spec/replicas").is_none(), "{second}");
    }

    #[test]
    fn apply_conflicts_with_other_managers_unless_forced() {
        let def = lookup("apps", "v1", "deployments").unwrap();
        let first = apply(def, None, deployment(Some(3), "a"), &applier("one", false)).unwrap();
        let err = apply(
            def,
            Some(&first),
            deployment(Some(5), "a"),
            &applier("two", false),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"one\": .spec.replicas"
        );
        // Same value: shared ownership, no conflict.
        let shared = apply(
            def,
            Some(&first),
            deployment(Some(3), "a"),
            &applier("two", false),
        )
        .unwrap();
        assert_eq!(managed::read(&shared).len(), 2);
        let forced = apply(
            def,
            Some(&first),
            deployment(Some(5), "b"),
            &applier("two", true),
        )
        .unwrap();
        assert_eq!(forced["spec"]["replicas"], 5);
        let owners = managed::read(&forced);
        let replicas: Path = vec![
            fields::Elem::Field("spec".into()),
            fields::Elem::Field("replicas".into()),
        ];
        assert!(!owners[0].fields.contains(&replicas));
        assert!(owners[1].fields.contains(&replicas));
    }

    #[test]
    fn several_conflicts_are_listed_by_manager() {
        let def = lookup("apps", "v1", "deployments").unwrap();
        let first = apply(def, None, deployment(Some(3), "a"), &applier("one", false)).unwrap();
        let err = apply(
            def,
            Some(&first),
            deployment(Some(5), "b"),
            &applier("two", false),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 2 conflicts: conflicts with \"one\":\n- .spec.replicas\n\
             - .spec.template.spec.containers[name=\"web\"].image"
        );
    }
}
