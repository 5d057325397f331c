//! Comparing two template versions.
//!
//! [`diff_texts`] parses both texts (documents whose text is identical in both are parsed
//! once), matches objects by [`ResourceId`], and for each object that changed produces:
//!
//! - a field-level change list with JSON-style paths, where lists of named things are matched
//!   by their merge key (`containers[name=web].image`), not by position, so inserting a
//!   container does not show every later container as changed;
//! - a unified line diff of the object's YAML, for people.
//!
//! The result is plain data ([`ManifestDiff`]) that the CLI prints in colour and the desktop
//! app renders.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use similar::TextDiff;
use strategic_merge::schema::{self, ListMerge, Type};

use crate::template::{self, Document, Manifest, ResourceId};

/// How an object differs between the two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Only in the newer version.
    Added,
    /// Only in the older version.
    Removed,
    /// In both, with different content.
    Changed,
    /// In both, the same.
    Unchanged,
}

/// What happened to one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// The field is new.
    Added,
    /// The field is gone.
    Removed,
    /// The field has a new value.
    Changed,
}

/// One changed field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FieldChange {
    /// Where: `spec.template.spec.containers[name=web].image`.
    pub path: String,
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// The old value, unless added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The new value, unless removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// One object's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ResourceDiff {
    /// Which object.
    pub id: ResourceId,
    /// Added, removed, changed or unchanged.
    pub status: Status,
    /// Field-level changes (empty unless changed).
    pub changes: Vec<FieldChange>,
    /// A unified diff of the object's YAML (empty if unchanged).
    pub unified: String,
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Summary {
    /// Objects only in the newer version.
    pub added: usize,
    /// Objects only in the older version.
    pub removed: usize,
    /// Objects whose content changed.
    pub changed: usize,
    /// Objects that are the same.
    pub unchanged: usize,
}

/// The comparison of two versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ManifestDiff {
    /// Counts per status.
    pub summary: Summary,
    /// One entry per object, in the newer version's order, removed objects last.
    pub resources: Vec<ResourceDiff>,
}

impl ManifestDiff {
    /// True when the versions hold the same objects with the same content.
    pub fn is_empty(&self) -> bool {
        self.summary.added + self.summary.removed + self.summary.changed == 0
    }
}

/// Parses and compares two template texts.
pub fn diff_texts(old: &str, new: &str) -> Result<ManifestDiff, template::Error> {
    let old = Manifest::parse_recent(old)?;
    let new = Manifest::parse_recent_reusing(new, &old)?;
    Ok(diff(&old, &new))
}

/// Compares two manifests.
pub fn diff(old: &Manifest, new: &Manifest) -> ManifestDiff {
    let by_id: std::collections::HashMap<&ResourceId, &Document> =
        old.documents().iter().map(|d| (&d.id, d)).collect();
    let mut seen = std::collections::HashSet::with_capacity(by_id.len());
    let mut summary = Summary::default();
    let mut resources = Vec::with_capacity(new.documents().len());
    for after in new.documents() {
        let Some(before) = by_id.get(&after.id) else {
            summary.added += 1;
            resources.push(ResourceDiff {
                id: after.id.clone(),
                status: Status::Added,
                changes: Vec::new(),
                unified: unified("", after.source(new), &after.id),
            });
            continue;
        };
        seen.insert(&after.id);
        let old_source = before.source(old);
        let new_source = after.source(new);
        if old_source == new_source || before.value == after.value {
            summary.unchanged += 1;
            resources.push(ResourceDiff {
                id: after.id.clone(),
                status: Status::Unchanged,
                changes: Vec::new(),
                unified: String::new(),
            });
            continue;
        }
        summary.changed += 1;
        let mut changes = Vec::new();
        let ty = schema::for_kind(after.id.group(), &after.id.kind);
        compare(
            &before.value,
            &after.value,
            String::new(),
            Some(ty),
            &mut changes,
        );
        resources.push(ResourceDiff {
            id: after.id.clone(),
            status: Status::Changed,
            changes,
            unified: unified(old_source, new_source, &after.id),
        });
    }
    for before in old.documents() {
        if !seen.contains(&before.id) {
            summary.removed += 1;
            resources.push(ResourceDiff {
                id: before.id.clone(),
                status: Status::Removed,
                changes: Vec::new(),
                unified: unified(before.source(old), "", &before.id),
            });
        }
    }
    ManifestDiff { summary, resources }
}

fn unified(old: &str, new: &str, id: &ResourceId) -> String {
    let name = format!("{}/{}", id.kind, id.name);
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&name, &name)
        .to_string()
}

fn child(path: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), simple) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

fn compare(
    old: &Value,
    new: &Value,
    path: String,
    ty: Option<&'static Type>,
    out: &mut Vec<FieldChange>,
) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (key, old_value) in o {
                let field_path = child(&path, key);
                match n.get(key) {
                    Some(new_value) => {
                        let field = ty.and_then(|t| t.field(key));
                        compare_field(old_value, new_value, field_path, field, out);
                    }
                    None => out.push(removed(field_path, old_value)),
                }
            }
            for (key, new_value) in n {
                if !o.contains_key(key) {
                    out.push(added(child(&path, key), new_value));
                }
            }
        }
        _ => out.push(FieldChange {
            path,
            kind: ChangeKind::Changed,
            old: Some(old.clone()),
            new: Some(new.clone()),
        }),
    }
}

fn compare_field(
    old: &Value,
    new: &Value,
    path: String,
    field: Option<&'static schema::Field>,
    out: &mut Vec<FieldChange>,
) {
    let item_ty = field.and_then(|f| f.ty);
    match (old, new) {
        (Value::Array(o), Value::Array(n)) => {
            let declared = match field.and_then(|f| f.merge) {
                Some(ListMerge::ByKey(key)) => Some(key),
                _ => None,
            };
            // Lists without a declared key are still matched by `name` when every item has
            // a distinct one: that is what people mean by "the same item".
            let key = declared
                .filter(|k| keyed(o, k) && keyed(n, k))
                .or_else(|| Some("name").filter(|k| keyed(o, k) && keyed(n, k)));
            match key {
                Some(key) => compare_keyed(o, n, &path, key, item_ty, out),
                None => compare_indexed(o, n, &path, item_ty, out),
            }
        }
        _ => compare(old, new, path, item_ty, out),
    }
}

/// True when every item is an object with a distinct scalar value for `key`.
fn keyed(items: &[Value], key: &str) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items.iter().all(|item| match item.get(key) {
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
            seen.insert(v.to_string())
        }
        _ => false,
    })
}

fn key_label(item: &Value, key: &str) -> String {
    match item.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn compare_keyed(
    old: &[Value],
    new: &[Value],
    path: &str,
    key: &str,
    ty: Option<&'static Type>,
    out: &mut Vec<FieldChange>,
) {
    for item in old {
        let label = key_label(item, key);
        let item_path = format!("{path}[{key}={label}]");
        match new.iter().find(|n| n.get(key) == item.get(key)) {
            Some(new_item) => compare(item, new_item, item_path, ty, out),
            None => out.push(removed(item_path, item)),
        }
    }
    for item in new {
        if !old.iter().any(|o| o.get(key) == item.get(key)) {
            let item_path = format!("{path}[{key}={}]", key_label(item, key));
            out.push(added(item_path, item));
        }
    }
}

fn compare_indexed(
    old: &[Value],
    new: &[Value],
    path: &str,
    ty: Option<&'static Type>,
    out: &mut Vec<FieldChange>,
) {
    for index in 0..old.len().max(new.len()) {
        let item_path = format!("{path}[{index}]");
        match (old.get(index), new.get(index)) {
            (Some(o), Some(n)) => compare(o, n, item_path, ty, out),
            (Some(o), None) => out.push(removed(item_path, o)),
            (None, Some(n)) => out.push(added(item_path, n)),
            (None, None) => {}
        }
    }
}

fn added(path: String, value: &Value) -> FieldChange {
    FieldChange {
        path,
        kind: ChangeKind::Added,
        old: None,
        new: Some(value.clone()),
    }
}

fn removed(path: String, value: &Value) -> FieldChange {
    FieldChange {
        path,
        kind: ChangeKind::Removed,
        old: Some(value.clone()),
        new: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: app:1\n      - name: sidecar\n        image: side:1\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n";

    #[test]
    fn containers_are_matched_by_name_not_position() {
        let new = BASE.replace(
            "      - name: app\n",
            "      - name: init\n        image: init:1\n      - name: app\n",
        );
        let diff = diff_texts(BASE, &new).unwrap();
        assert_eq!(
            diff.summary,
            Summary {
                added: 0,
                removed: 0,
                changed: 1,
                unchanged: 1
            }
        );
        let changes = &diff.resources[0].changes;
        assert_eq!(changes.len(), 1, "{changes:#?}");
        assert_eq!(changes[0].path, "spec.template.spec.containers[name=init]");
        assert_eq!(changes[0].kind, ChangeKind::Added);
        assert!(diff.resources[0].unified.contains("+      - name: init"));
    }

    #[test]
    fn added_removed_and_changed_objects() {
        let new = BASE.replace("image: app:1", "image: app:2").replace(
            "kind: Service\nmetadata:\n  name: web",
            "kind: Service\nmetadata:\n  name: web2",
        );
        let diff = diff_texts(BASE, &new).unwrap();
        assert_eq!(
            diff.summary,
            Summary {
                added: 1,
                removed: 1,
                changed: 1,
                unchanged: 0
            }
        );
        let change = &diff.resources[0].changes[0];
        assert_eq!(change.path, "spec.template.spec.containers[name=app].image");
        assert_eq!(change.old, Some(Value::from("app:1")));
        assert_eq!(change.new, Some(Value::from("app:2")));
        assert_eq!(diff.resources[2].status, Status::Removed);
    }

    #[test]
    fn identical_texts_have_an_empty_diff() {
        assert!(diff_texts(BASE, BASE).unwrap().is_empty());
    }

    #[test]
    fn odd_keys_are_quoted_in_paths() {
        let old = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    prometheus.io/port: \"1\"\n";
        let new = old.replace("\"1\"", "\"2\"");
        let diff = diff_texts(old, &new).unwrap();
        assert_eq!(
            diff.resources[0].changes[0].path,
            "metadata.annotations[\"prometheus.io/port\"]"
        );
    }
}
