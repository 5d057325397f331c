//! Field sets: which fields of an object a manager owns, in the `FieldsV1` notation.
//!
//! Server-side apply and `metadata.managedFields` talk about sets of field paths:
//! `f:spec` → `f:template` → … → `f:containers` → `k:{"name":"web"}` → `f:image`. A
//! [`FieldSet`] is such a set, built from an object ([`FieldSet::of_object`], using the merge
//! keys of [`strategic_merge::schema`] to name list items), read from and written to the JSON
//! form kept in `managedFields[].fieldsV1`, and used to find ([`get_at`]) or remove
//! ([`remove_at`]) the value a path names.

use std::collections::BTreeSet;
use std::ops::Bound;

use serde_json::{Map, Value};
use strategic_merge::schema::{Field, ListMerge, Type};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Elem {
    /// A map field: `f:name`.
    Field(String),
    /// A list item found by its key fields: `k:{"name":"web"}` (canonical JSON).
    Key(String),
    /// A list item of a set of scalars: `v:"value"` (JSON).
    Value(String),
    /// A list item by position: `i:0`.
    Index(usize),
}

impl Elem {
    fn encode(&self) -> String {
        match self {
            Elem::Field(name) => format!("f:{name}"),
            Elem::Key(key) => format!("k:{key}"),
            Elem::Value(value) => format!("v:{value}"),
            Elem::Index(index) => format!("i:{index}"),
        }
    }

    fn decode(text: &str) -> Option<Elem> {
        let (prefix, rest) = text.split_once(':')?;
        Some(match prefix {
            "f" => Elem::Field(rest.to_owned()),
            "k" => Elem::Key(rest.to_owned()),
            "v" => Elem::Value(rest.to_owned()),
            "i" => Elem::Index(rest.parse().ok()?),
            _ => return None,
        })
    }
}

/// A path from the object's root.
pub(crate) type Path = Vec<Elem>;

/// Which part of an object a write may own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The main resource; `.status` is excluded when the kind has a status subresource.
    Main {
        /// Whether `.status` belongs to the `/status` subresource.
        skip_status: bool,
    },
    /// The `/status` subresource: only `.status`.
    Status,
}

/// Metadata fields the server owns, never a manager (as the API server's field manager
/// strips them).
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Maps that are owned as a whole (`x-kubernetes-map-type: atomic` in the API).
const ATOMIC_MAPS: &[&str] = &["selector"];

/// Free-form maps: their keys are data, not field names of a type.
const FREE_FORM_MAPS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "binaryData",
    "stringData",
    "nodeSelector",
    "limits",
    "requests",
    "matchLabels",
];

/// Lists whose items are owned whole (`+structType=atomic` in the API).
const ATOMIC_ITEMS: &[&str] = &["ownerReferences"];

/// Keyed lists whose key has a field with a default: the API server names their items with
/// the default filled in (`k:{"containerPort":8080,"protocol":"TCP"}`) even when the item
/// does not spell it out. (merge key, defaulted key field, its default)
const DEFAULTED_KEYS: &[(&str, &str, &str)] = &[
    ("containerPort", "protocol", "TCP"),
    ("port", "protocol", "TCP"),
];

/// Which containers (maps, lists, list items) a field set has as members besides leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Members {
    /// As server-side apply owns an applied configuration: list items only (a map is
    /// owned through its fields).
    Applied,
    /// Every map, list and list item too, so that a write can tell which ones it created
    /// (those get `.` in an update's entry).
    Written,
}

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSet(BTreeSet<Path>);

impl FieldSet {
    /// Every field set in `object`, as an applier that sent `object` would own them.
    pub fn of_object(object: &Value, ty: &'static Type, scope: Scope) -> FieldSet {
        FieldSet::collect(object, ty, scope, Members::Applied)
    }

    /// Every field and every container (map, list, list item) in `object`: what a
    /// non-apply write of `object` could have set.
    pub fn of_written(object: &Value, ty: &'static Type, scope: Scope) -> FieldSet {
        FieldSet::collect(object, ty, scope, Members::Written)
    }

    fn collect(object: &Value, ty: &'static Type, scope: Scope, members: Members) -> FieldSet {
        let mut out = BTreeSet::new();
        let mut path = Vec::new();
        walk(object, Some(ty), members, &mut path, &mut out);
        out.retain(|p| in_scope(p, scope));
        FieldSet(out)
    }

    /// The set with every named field that has members below it made a member too (the
    /// field manager's `EnsureNamedFieldsAreMembers`): what pruning a manager's dropped
    /// fields removes whole. Keys of free-form maps (`labels`) are not named fields.
    pub fn with_named_parents(&self) -> FieldSet {
        let mut out = self.0.clone();
        for path in &self.0 {
            for end in 1..path.len() {
                let named = matches!(path[end - 1], Elem::Field(_))
                    && !matches!(end.checked_sub(2).map(|i| &path[i]),
                        Some(Elem::Field(parent)) if FREE_FORM_MAPS.contains(&parent.as_str()));
                if named {
                    out.insert(path[..end].to_vec());
                }
            }
        }
        FieldSet(out)
    }

    /// Reads a `fieldsV1` value; unknown notation is skipped.
    pub fn from_fields_v1(value: &Value) -> FieldSet {
        fn read(value: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
            let Some(map) = value.as_object() else {
                return;
            };
            for (key, child) in map {
                if key == "." {
                    out.insert(path.clone());
                    continue;
                }
                let Some(elem) = Elem::decode(key) else {
                    continue;
                };
                path.push(elem);
                if child.as_object().is_none_or(Map::is_empty) {
                    out.insert(path.clone());
                } else {
                    read(child, path, out);
                }
                path.pop();
            }
        }
        let mut out = BTreeSet::new();
        read(value, &mut Vec::new(), &mut out);
        FieldSet(out)
    }

    /// The `fieldsV1` JSON form: nested `f:`/`k:`/`v:`/`i:` maps, `{}` leaves, and `.` for
    /// members that also have members below them.
    pub fn to_fields_v1(&self) -> Value {
        #[derive(Default)]
        struct Node {
            member: bool,
            children: std::collections::BTreeMap<String, Node>,
        }
        fn render(node: &Node) -> Value {
            let mut map = Map::new();
            if node.member && !node.children.is_empty() {
                map.insert(".".into(), Value::Object(Map::new()));
            }
            for (key, child) in &node.children {
                map.insert(key.clone(), render(child));
            }
            Value::Object(map)
        }
        let mut root = Node::default();
        for path in &self.0 {
            let mut node = &mut root;
            for elem in path {
                node = node.children.entry(elem.encode()).or_default();
            }
            node.member = true;
        }
        render(&root)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `path` is a member.
    pub fn contains(&self, path: &Path) -> bool {
        self.0.contains(path)
    }

    /// Whether `path` or anything below it is a member.
    pub fn touches(&self, path: &Path) -> bool {
        self.0
            .range::<Path, _>((Bound::Included(path), Bound::Unbounded))
            .next()
            .is_some_and(|p| p.starts_with(path))
    }

    /// Whether `path` is a member with no members below it (a value, not a container).
    pub fn is_leaf(&self, path: &Path) -> bool {
        self.contains(path)
            && !self
                .0
                .range::<Path, _>((Bound::Excluded(path), Bound::Unbounded))
                .next()
                .is_some_and(|p| p.starts_with(path))
    }

    /// The members, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Path> {
        self.0.iter()
    }

    /// Adds a member.
    pub fn insert(&mut self, path: Path) {
        self.0.insert(path);
    }

    /// Removes a member.
    pub fn remove(&mut self, path: &Path) {
        self.0.remove(path);
    }

    /// Adds every member of `other`.
    pub fn extend(&mut self, other: &FieldSet) {
        self.0.extend(other.0.iter().cloned());
    }

    /// Members of `self` not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    /// Keeps the members for which `keep` holds.
    pub fn retain(&mut self, keep: impl FnMut(&Path) -> bool) {
        self.0.retain(keep);
    }
}

fn in_scope(path: &Path, scope: Scope) -> bool {
    let top = match path.first() {
        Some(Elem::Field(name)) => name.as_str(),
        _ => return false,
    };
    match scope {
        // The status subresource also takes annotations (the deployment controller writes
        // its revision annotation through it).
        Scope::Status => {
            top == "status"
                || (top == "metadata"
                    && matches!(path.get(1), Some(Elem::Field(name)) if name == "annotations"))
        }
        Scope::Main { skip_status } => {
            if top == "apiVersion" || top == "kind" || (skip_status && top == "status") {
                return false;
            }
            if top == "metadata" {
                return match path.get(1) {
                    Some(Elem::Field(name)) => !SERVER_METADATA.contains(&name.as_str()),
                    _ => false,
                };
            }
            true
        }
    }
}

fn walk(
    value: &Value,
    ty: Option<&'static Type>,
    members: Members,
    path: &mut Path,
    out: &mut BTreeSet<Path>,
) {
    let Some(map) = value.as_object() else {
        return;
    };
    for (name, child) in map {
        if child.is_null() {
            continue;
        }
        let field = ty.and_then(|t| t.field(name));
        path.push(Elem::Field(name.clone()));
        add_field(name, child, field, members, path, out);
        path.pop();
    }
}

fn add_field(
    name: &str,
    value: &Value,
    field: Option<&'static Field>,
    members: Members,
    path: &mut Path,
    out: &mut BTreeSet<Path>,
) {
    let written = members == Members::Written;
    match (value, field.and_then(|f| f.merge)) {
        (Value::Array(items), Some(ListMerge::ByKey(key))) if !items.is_empty() => {
            if written {
                out.insert(path.clone());
            }
            for item in items {
                match item.get(key).filter(|k| !k.is_null()) {
                    Some(key_value) => {
                        path.push(Elem::Key(key_json(key, key_value, item)));
                        out.insert(path.clone());
                        if !ATOMIC_ITEMS.contains(&name) {
                            walk(item, field.and_then(|f| f.ty), members, path, out);
                        }
                        path.pop();
                    }
                    // An item without its key cannot be named: own the list whole.
                    None => {
                        out.insert(path.clone());
                    }
                }
            }
        }
        (Value::Array(items), Some(ListMerge::Set)) if !items.is_empty() => {
            if written {
                out.insert(path.clone());
            }
            for item in items {
                path.push(Elem::Value(item.to_string()));
                out.insert(path.clone());
                path.pop();
            }
        }
        (Value::Object(map), _) if !map.is_empty() && !ATOMIC_MAPS.contains(&name) => {
            if written {
                out.insert(path.clone());
            }
            walk(value, field.and_then(|f| f.ty), members, path, out);
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

/// The canonical JSON naming a keyed list item: `{"name":"web"}`, or with a defaulted key
/// field `{"containerPort":8080,"protocol":"TCP"}` (fields in name order).
fn key_json(key: &str, value: &Value, item: &Value) -> String {
    let mut map = Map::new();
    map.insert(key.to_owned(), value.clone());
    for (merge_key, field, default) in DEFAULTED_KEYS {
        if *merge_key == key {
            let given = item.get(*field).filter(|v| !v.is_null());
            map.insert(
                (*field).to_owned(),
                given.cloned().unwrap_or_else(|| Value::from(*default)),
            );
        }
    }
    map.sort_keys();
    Value::Object(map).to_string()
}

fn item_matches(item: &Value, key: &str) -> bool {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(key) else {
        return false;
    };
    fields
        .iter()
        .all(|(k, v)| match item.get(k).filter(|x| !x.is_null()) {
            Some(x) => same(x, v),
            None => DEFAULTED_KEYS
                .iter()
                .any(|(_, field, default)| field == k && v.as_str() == Some(*default)),
        })
}

fn value_matches(item: &Value, encoded: &str) -> bool {
    serde_json::from_str::<Value>(encoded).is_ok_and(|v| same(item, &v))
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The value a path names, if the object has it.
pub(crate) fn get_at<'v>(object: &'v Value, path: &[Elem]) -> Option<&'v Value> {
    path.iter().try_fold(object, |value, elem| match elem {
        Elem::Field(name) => value.get(name),
        Elem::Key(key) => value
            .as_array()?
            .iter()
            .find(|item| item_matches(item, key)),
        Elem::Value(encoded) => value
            .as_array()?
            .iter()
            .find(|item| value_matches(item, encoded)),
        Elem::Index(index) => value.as_array()?.get(*index),
    })
}

fn get_at_mut<'v>(object: &'v mut Value, path: &[Elem]) -> Option<&'v mut Value> {
    let mut value = object;
    for elem in path {
        value = match elem {
            Elem::Field(name) => value.get_mut(name)?,
            Elem::Key(key) => value
                .as_array_mut()?
                .iter_mut()
                .find(|item| item_matches(item, key))?,
            Elem::Value(encoded) => value
                .as_array_mut()?
                .iter_mut()
                .find(|item| value_matches(item, encoded))?,
            Elem::Index(index) => value.as_array_mut()?.get_mut(*index)?,
        };
    }
    Some(value)
}

/// Removes the value a path names; false when there was nothing to remove.
pub(crate) fn remove_at(object: &mut Value, path: &[Elem]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    let Some(parent) = get_at_mut(object, parent) else {
        return false;
    };
    match last {
        Elem::Field(name) => parent
            .as_object_mut()
            .is_some_and(|m| m.shift_remove(name).is_some()),
        Elem::Key(key) => parent.as_array_mut().is_some_and(|items| {
            let before = items.len();
            items.retain(|item| !item_matches(item, key));
            items.len() != before
        }),
        Elem::Value(encoded) => parent.as_array_mut().is_some_and(|items| {
            let before = items.len();
            items.retain(|item| !value_matches(item, encoded));
            items.len() != before
        }),
        Elem::Index(index) => parent.as_array_mut().is_some_and(|items| {
            if *index < items.len() {
                items.remove(*index);
                true
            } else {
                false
            }
        }),
    }
}

/// The path a schema check names (fields, list indices, map keys) in the notation of field
/// sets, naming keyed list items by their key the way server-side apply does
/// (`containers[name="demo"]`), so [`display`] prints it as the API server does.
pub(crate) fn path_of_steps(
    object: &Value,
    ty: &'static Type,
    steps: &[tripline_validation::schema::Step],
) -> Path {
    use tripline_validation::schema::Step;
    let mut path = Vec::with_capacity(steps.len());
    let mut at = Some(object);
    let mut current_ty = Some(ty);
    let mut field: Option<&'static Field> = None;
    for step in steps {
        match step {
            Step::Field(name) | Step::Key(name) => {
                path.push(Elem::Field(name.clone()));
                at = at.and_then(|v| v.get(name));
                field = current_ty.and_then(|t| t.field(name));
                current_ty = field.and_then(|f| f.ty);
            }
            Step::Index(index) => {
                let item = at.and_then(|v| v.get(*index));
                let keyed = match (field.and_then(|f| f.merge), item) {
                    (Some(ListMerge::ByKey(key)), Some(item)) => item
                        .get(key)
                        .filter(|k| !k.is_null())
                        .map(|k| Elem::Key(key_json(key, k, item))),
                    _ => None,
                };
                path.push(keyed.unwrap_or(Elem::Index(*index)));
                at = item;
                field = None;
            }
        }
    }
    path
}

/// A path as the API server prints it in conflicts: `.spec.containers[name="web"].image`.
pub(crate) fn display(path: &[Elem]) -> String {
    let mut out = String::new();
    for elem in path {
        match elem {
            Elem::Field(name) => {
                out.push('.');
                out.push_str(name);
            }
            Elem::Key(key) => {
                let fields: Vec<String> = serde_json::from_str::<Map<String, Value>>(key)
                    .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                    .unwrap_or_default();
                out.push('[');
                out.push_str(&fields.join(","));
                out.push(']');
            }
            Elem::Value(value) => {
                out.push_str("[=");
                out.push_str(value);
                out.push(']');
            }
            Elem::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use strategic_merge::schema::for_kind;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "demo", "namespace": "default", "labels": {"app": "demo"}, "resourceVersion": "5"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "demo"}},
                "template": {
                    "metadata": {"labels": {"app": "demo"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx", "args": ["a"]}]}
                }
            },
            "status": {"replicas": 2}
        })
    }

    #[test]
    fn fields_of_a_deployment_use_the_real_notation() {
        let set = FieldSet::of_object(
            &deployment(),
            for_kind("apps", "Deployment"),
            Scope::Main { skip_status: true },
        );
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                            ".": {}, "f:args": {}, "f:image": {}, "f:name": {}
                        }}}
                    }
                }
            })
        );
        // Round trip.
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), set);
    }

    #[test]
    fn paths_find_remove_and_print() {
        let mut d = deployment();
        let image = vec![
            Elem::Field("spec".into()),
            Elem::Field("template".into()),
            Elem::Field("spec".into()),
            Elem::Field("containers".into()),
            Elem::Key("{\"name\":\"web\"}".into()),
            Elem::Field("image".into()),
        ];
        assert_eq!(get_at(&d, &image), Some(&json!("nginx")));
        assert_eq!(
            display(&image),
            ".spec.template.spec.containers[name=\"web\"].image"
        );
        assert!(remove_at(&mut d, &image));
        assert_eq!(get_at(&d, &image), None);
        assert!(!remove_at(&mut d, &image));
    }

    #[test]
    fn status_scope_keeps_only_status() {
        let set = FieldSet::of_object(&deployment(), for_kind("apps", "Deployment"), Scope::Status);
        assert_eq!(set.to_fields_v1(), json!({"f:status": {"f:replicas": {}}}));
    }

    #[test]
    fn a_write_has_its_containers_as_members_and_named_parents_are_added() {
        let written = FieldSet::of_written(
            &deployment(),
            for_kind("apps", "Deployment"),
            Scope::Main { skip_status: true },
        );
        let fields = written.to_fields_v1();
        assert_eq!(
            fields["f:metadata"],
            json!({"f:labels": {".": {}, "f:app": {}}})
        );
        assert_eq!(
            fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["."],
            json!({})
        );
        let applied = FieldSet::of_object(
            &deployment(),
            for_kind("apps", "Deployment"),
            Scope::Main { skip_status: true },
        );
        let named = applied.with_named_parents().to_fields_v1();
        // Struct fields with members below become members; keys of a label map do not.
        assert_eq!(named["f:spec"]["f:template"]["."], json!({}));
        assert_eq!(named["f:metadata"]["f:labels"]["."], json!({}));
        assert_eq!(named["f:metadata"]["f:labels"]["f:app"], json!({}));
    }

    #[test]
    fn ports_are_named_with_their_defaulted_protocol() {
        let pod =
            json!({"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 80}]}]}});
        let set = FieldSet::of_object(&pod, for_kind("", "Pod"), Scope::Main { skip_status: true });
        let key = "k:{\"containerPort\":80,\"protocol\":\"TCP\"}";
        assert_eq!(
            set.to_fields_v1()["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:ports"][key],
            json!({".": {}, "f:containerPort": {}})
        );
        // The name finds the item whether or not it spells the protocol out.
        let path = FieldSet::from_fields_v1(&set.to_fields_v1());
        let port = path
            .iter()
            .find(|p| p.len() == 6)
            .expect("the port's path")
            .clone();
        assert!(get_at(&pod, &port).is_some());
        let mut spelled = pod.clone();
        spelled["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
        assert!(get_at(&spelled, &port).is_some());
        spelled["spec"]["containers"][0]["ports"][0]["protocol"] = json!("UDP");
        assert!(get_at(&spelled, &port).is_none());
    }

    #[test]
    fn leaves_and_touches() {
        let set = FieldSet::of_written(
            &deployment(),
            for_kind("apps", "Deployment"),
            Scope::Main { skip_status: true },
        );
        let labels = vec![Elem::Field("metadata".into()), Elem::Field("labels".into())];
        assert!(set.contains(&labels));
        assert!(!set.is_leaf(&labels));
        assert!(set.touches(&vec![Elem::Field("spec".into())]));
        assert!(!set.touches(&vec![Elem::Field("status".into())]));
    }
}
