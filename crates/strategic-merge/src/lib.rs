//! Kubernetes strategic merge patch, as `kubectl patch --type=strategic` applies it.
//!
//! Maps merge key by key; `null` deletes. Lists declared mergeable in [`schema`] merge item by
//! item on their merge key; every other list is replaced whole. The directives
//! `$patch: replace|delete` (in maps and list items), `$retainKeys`,
//! `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` are honoured.
//!
//! The order of a merged list follows Kubernetes exactly: items named by the patch keep the
//! patch's order, items only in the original keep theirs, and the two are interleaved using the
//! original's order as the tie-breaker (apimachinery's `normalizeElementOrder`). The fixtures in
//! `tests/fixtures/strategic/` were produced by kubectl and are replayed against this crate.
//!
//! [`apply_to`] finds the patch schema from an object's apiVersion and kind; [`apply`] takes
//! one from [`schema::for_kind`], for callers that already hold it.
//!
//! This crate depends on no other Tripline crate, only on `serde_json` (objects are JSON values)
//! and `thiserror`: the engine merges patches into template documents with it, and the sandbox
//! serves `PATCH` and server-side apply with it, so both merge exactly as kubectl does.

pub mod schema;

use serde_json::{Map, Value};

use schema::{Field, ListMerge, Type};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// A strategic merge patch that cannot be applied, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", if path.is_empty() { "(top level)" } else { path })]
pub struct MergeError {
    /// Where in the object, e.g. `spec.template.spec.containers[name=web]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// What merging returns.
pub type Result<T, E = MergeError> = std::result::Result<T, E>;

fn fail<T>(path: &str, message: impl Into<String>) -> Result<T> {
    Err(MergeError {
        path: path.to_owned(),
        message: message.into(),
    })
}

/// Applies `patch` to an object of the given apiVersion and kind.
pub fn apply_to(original: Value, patch: Value, api_version: &str, kind: &str) -> Result<Value> {
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    apply(original, patch, schema::for_kind(group, kind))
}

/// Applies `patch` to `original` using the schema `ty`. A `null` patch changes nothing.
pub fn apply(original: Value, patch: Value, ty: &'static Type) -> Result<Value> {
    if patch.is_null() {
        return Ok(original);
    }
    let Value::Object(patch) = patch else {
        return fail(
            "",
            format!(
                "a strategic merge patch must be a JSON object, found {}",
                kind_of(&patch)
            ),
        );
    };
    let original = match original {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    merge_map(original, patch, Some(ty), "").map(Value::Object)
}

/// A short name for a JSON value's type, for error messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: Option<&'static Type>,
    path: &str,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Map::new()),
            _ => fail(
                path,
                format!("unknown $patch directive {directive}: use \"replace\" or \"delete\""),
            ),
        };
    }
    apply_retain_keys(&mut original, &mut patch, path)?;
    apply_set_element_order(&mut original, &mut patch, ty, path)?;

    for (key, patch_value) in patch {
        let (key, delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(list) => (list.to_owned(), true),
            None => (key, false),
        };
        if patch_value.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let field_path = join(path, &key);
        let Some(original_value) = original.get_mut(&key) else {
            if !delete_list {
                original.insert(key, discard_nulls(patch_value));
            }
            continue;
        };
        let field = ty.and_then(|t| t.field(&key));
        match (original_value, patch_value) {
            (Value::Object(o), Value::Object(p)) => {
                let o = std::mem::take(o);
                let merged = merge_map(o, p, field.and_then(|f| f.ty), &field_path)?;
                original.insert(key, Value::Object(merged));
            }
            (Value::Array(o), Value::Array(p)) => {
                let o = std::mem::take(o);
                let merged = merge_list_field(o, p, field, delete_list, &field_path)?;
                original.insert(key, Value::Array(merged));
            }
            (slot, patch_value) => {
                if !same_type(slot, &patch_value) && delete_list {
                    continue;
                }
                *slot = discard_nulls(patch_value);
            }
        }
    }
    Ok(original)
}

fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    field: Option<&'static Field>,
    delete_list: bool,
    path: &str,
) -> Result<Vec<Value>> {
    if delete_list && field.and_then(|f| f.merge).is_none() {
        // `$deleteFromPrimitiveList/<field>` removes values even from lists declared atomic
        // (kubectl >= 1.28 does; older versions replaced the list with the deletion list).
        return Ok(original
            .into_iter()
            .filter(|item| !patch.iter().any(|p| scalar_eq(p, item)))
            .collect());
    }
    match field.and_then(|f| f.merge) {
        Some(merge) => merge_list(
            original,
            patch,
            field.and_then(|f| f.ty),
            merge,
            delete_list,
            path,
        ),
        None => Ok(patch),
    }
}

/// JSON type equality as Go's `reflect.TypeOf` sees decoded JSON.
fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Removes `null`s from a value that is added rather than merged (kubectl's
/// `IgnoreUnmatchedNulls`).
fn discard_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, discard_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(discard_nulls).collect()),
        other => other,
    }
}

/// Equality as Go compares decoded JSON scalars (all numbers are float64).
fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// The element kind shared by two lists; lists of lists and mixed lists are refused.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Element {
    Map,
    Scalar,
}

fn element_kind(lists: [&[Value]; 2], path: &str) -> Result<Option<Element>> {
    let mut first: Option<&Value> = None;
    for item in lists.into_iter().flatten() {
        if item.is_array() {
            return fail(path, "lists of lists cannot be merged");
        }
        match first {
            None => first = Some(item),
            Some(f) if !same_type(f, item) => {
                return fail(
                    path,
                    format!(
                        "list items must all be of one type, found {} and {}",
                        kind_of(f),
                        kind_of(item)
                    ),
                );
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|f| {
        if f.is_object() {
            Element::Map
        } else {
            Element::Scalar
        }
    }))
}

/// The identity of a list item for ordering: its merge key value, or itself for scalars.
fn item_key<'a>(item: &'a Value, key: Option<&str>) -> Option<&'a Value> {
    match key {
        Some(key) => item.as_object().and_then(|m| m.get(key)),
        None => Some(item),
    }
}

fn position(order: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    let wanted = item_key(item, key)?;
    order
        .iter()
        .position(|o| item_key(o, key).is_some_and(|v| scalar_eq(v, wanted)))
}

fn describe_key(item: &Value, key: &str) -> String {
    match item.get(key) {
        Some(Value::String(s)) => format!("[{key}={s}]"),
        Some(other) => format!("[{key}={other}]"),
        None => String::new(),
    }
}

fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    item_ty: Option<&'static Type>,
    merge: ListMerge,
    delete_list: bool,
    path: &str,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let Some(element) = element_kind([&original, &patch], path)? else {
        return Ok(original);
    };
    let merge_key = match merge {
        ListMerge::ByKey(key) => Some(key),
        ListMerge::Set => None,
    };
    let (merged, patch, original) = match element {
        Element::Scalar => {
            if delete_list {
                return Ok(original
                    .into_iter()
                    .filter(|item| !patch.iter().any(|p| scalar_eq(p, item)))
                    .collect());
            }
            let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for item in original.iter().chain(&patch) {
                if !merged.iter().any(|m| scalar_eq(m, item)) {
                    merged.push(item.clone());
                }
            }
            (merged, patch, original)
        }
        Element::Map => {
            let Some(key) = merge_key else {
                return fail(
                    path,
                    "this list holds objects but is declared a set of values; it cannot be merged",
                );
            };
            let (original, patch) = apply_list_directives(original, patch, key, path)?;
            let merged = merge_items(original.clone(), patch.clone(), key, item_ty, path)?;
            (merged, patch, original)
        }
    };
    let (in_patch, server_only) = partition(merged, &patch, merge_key, path)?;
    normalize_order(in_patch, server_only, &patch, &original, merge_key, path)
}

/// Handles `$patch: delete` and `$patch: replace` items; returns the original without deleted
/// items and the patch without directive items.
fn apply_list_directives(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
    path: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(value) = item.get(key) else {
                    return fail(
                        path,
                        format!("a list item with $patch: delete must name its {key:?}"),
                    );
                };
                original.retain(|o| !o.get(key).is_some_and(|v| scalar_eq(v, value)));
            }
            Some("replace") => replace = true,
            Some("merge") => return fail(path, "$patch: merge cannot be given for list items"),
            _ => {
                return fail(
                    path,
                    format!("unknown $patch directive {directive}: use \"replace\" or \"delete\""),
                );
            }
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// Merges patch items into original items with the same key; appends the rest.
fn merge_items(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
    item_ty: Option<&'static Type>,
    path: &str,
) -> Result<Vec<Value>> {
    for item in patch {
        let Some(value) = item.get(key) else {
            return fail(
                path,
                format!(
                    "a list item has no {key:?}: items of this list are matched by {key:?}, \
                     so every item in the patch must have one"
                ),
            );
        };
        let found = original
            .iter()
            .position(|o| o.get(key).is_some_and(|v| scalar_eq(v, value)));
        match found {
            Some(at) => {
                let item_path = format!("{path}{}", describe_key(&item, key));
                let Value::Object(patch_map) = item else {
                    unreachable!("element_kind checked that items are objects")
                };
                let original_map = match std::mem::take(&mut original[at]) {
                    Value::Object(map) => map,
                    _ => Map::new(),
                };
                original[at] =
                    Value::Object(merge_map(original_map, patch_map, item_ty, &item_path)?);
            }
            None => original.push(item),
        }
    }
    Ok(original)
}

fn partition(
    merged: Vec<Value>,
    by: &[Value],
    key: Option<&str>,
    path: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut in_patch = Vec::new();
    let mut server_only = Vec::new();
    for item in merged {
        if let Some(key) = key
            && item.get(key).is_none()
        {
            return fail(
                path,
                format!("a list item has no {key:?}, the key this list is merged by"),
            );
        }
        if position(by, &item, key).is_some() {
            in_patch.push(item);
        } else {
            server_only.push(item);
        }
    }
    Ok((in_patch, server_only))
}

/// Sorts patch items by the patch order and server-only items by the original order, then
/// interleaves them using the original order (apimachinery's `normalizeElementOrder`).
fn normalize_order(
    mut in_patch: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
    path: &str,
) -> Result<Vec<Value>> {
    if let Some(key) = key {
        for item in in_patch
            .iter()
            .chain(&server_only)
            .chain(patch_order)
            .chain(server_order)
        {
            if item.get(key).is_none() {
                return fail(
                    path,
                    format!("a list item has no {key:?}, the key this list is merged by"),
                );
            }
        }
    }
    in_patch.sort_by_key(|item| position(patch_order, item, key).unwrap_or(usize::MAX));
    server_only.sort_by_key(|item| position(server_order, item, key).unwrap_or(usize::MAX));

    let mut result = Vec::with_capacity(in_patch.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = in_patch.into_iter().peekable();
    loop {
        match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => result.extend(left.next()),
            (None, Some(_)) => result.extend(right.next()),
            (Some(l), Some(r)) => {
                let li = position(server_order, l, key);
                let ri = position(server_order, r, key);
                let take_left = matches!((li, ri), (Some(li), Some(ri)) if li < ri);
                if take_left {
                    result.extend(left.next());
                } else {
                    result.extend(right.next());
                }
            }
        }
    }
    Ok(result)
}

fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    path: &str,
) -> Result<()> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return fail(path, "$retainKeys must be a list of field names");
    };
    let keep = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !keep(k) {
            return fail(
                path,
                format!("field {k:?} is in the patch but not in its $retainKeys list"),
            );
        }
    }
    original.retain(|k, _| keep(k));
    Ok(())
}

fn apply_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: Option<&'static Type>,
    path: &str,
) -> Result<()> {
    let directives: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive in directives {
        let order = patch.shift_remove(&directive).unwrap_or(Value::Null);
        let field_name = &directive[SET_ELEMENT_ORDER.len()..];
        let field_path = join(path, field_name);
        let Value::Array(order) = order else {
            return fail(&field_path, format!("{directive} must be a list"));
        };
        let field = ty.and_then(|t| t.field(field_name));
        let merge_key = match field.and_then(|f| f.merge) {
            Some(ListMerge::ByKey(key)) => Some(key),
            _ => None,
        };
        let original_list = match original.get(field_name) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(_) => return fail(&field_path, "the field is not a list in the template"),
        };
        let patch_list = match patch.shift_remove(field_name) {
            None => None,
            Some(Value::Array(items)) => Some(items),
            Some(_) => return fail(&field_path, "the patch gives this field a non-list value"),
        };
        check_order_covers_patch(
            patch_list.as_deref().unwrap_or(&[]),
            &order,
            merge_key,
            &field_path,
        )?;
        let original_items = original_list.clone().unwrap_or_default();
        let patch_items = patch_list.clone().unwrap_or_default();
        let merged = match (original_list, patch_list) {
            (Some(o), None) => o,
            (None, Some(p)) => p,
            (Some(o), Some(p)) => merge_list_field(o, p, field, false, &field_path)?,
            (None, None) => continue,
        };
        let (in_order, server_only) = partition(merged, &order, merge_key, &field_path)?;
        element_kind([&original_items, &patch_items], &field_path)?;
        let sorted = normalize_order(
            in_order,
            server_only,
            &order,
            &original_items,
            merge_key,
            &field_path,
        )?;
        original.insert(field_name.to_owned(), Value::Array(sorted));
    }
    Ok(())
}

/// The patch list's items must appear in the `$setElementOrder` list in the same order.
fn check_order_covers_patch(
    patch: &[Value],
    order: &[Value],
    key: Option<&str>,
    path: &str,
) -> Result<()> {
    let items: Vec<&Value> = patch
        .iter()
        .filter(|item| key.is_none() || item.get(DIRECTIVE).is_none())
        .collect();
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        let equal = match key {
            Some(key) => match (items[p].get(key), order[o].get(key)) {
                (Some(a), Some(b)) => scalar_eq(a, b),
                _ => {
                    return fail(
                        path,
                        format!("items in the patch and in $setElementOrder must have {key:?}"),
                    );
                }
            },
            None => scalar_eq(items[p], &order[o]),
        };
        if equal {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() {
        return fail(
            path,
            "the order of the patch list does not match its $setElementOrder list",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::schema::for_kind;
    use super::*;

    fn patch(original: Value, p: Value) -> Value {
        apply(original, p, for_kind("apps", "Deployment")).expect("patch applies")
    }

    fn containers(names: &[&str]) -> Value {
        let items: Vec<Value> = names
            .iter()
            .map(|n| json!({"name": n, "image": format!("{n}:1")}))
            .collect();
        json!({"spec": {"template": {"spec": {"containers": items}}}})
    }

    fn names(v: &Value) -> Vec<String> {
        v["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn merged_list_order_follows_kubernetes() {
        // (original, patch, expected) — checked against kubectl 1.32.
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (&["a", "b", "c"], &["c", "d"], &["a", "b", "c", "d"]),
            (&["a", "b", "c"], &["d", "a"], &["d", "a", "b", "c"]),
            (&["a", "b", "c"], &["c", "a"], &["b", "c", "a"]),
            (&["a", "b", "c"], &["b", "x", "a"], &["b", "x", "a", "c"]),
            (&["a"], &[], &["a"]),
        ];
        for (original, p, expected) in cases {
            let result = patch(containers(original), containers(p));
            assert_eq!(
                names(&result),
                *expected,
                "original {original:?} patch {p:?}"
            );
        }
    }

    #[test]
    fn null_deletes_and_unmatched_nulls_are_dropped() {
        let result = patch(
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
            json!({"metadata": {"labels": {"a": null, "c": null}, "annotations": {"x": null, "y": "1"}}}),
        );
        assert_eq!(
            result,
            json!({"metadata": {"labels": {"b": "2"}, "annotations": {"y": "1"}}})
        );
    }

    #[test]
    fn list_without_merge_key_is_replaced() {
        let original = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["1", "2"]}]}}}});
        let result = patch(
            original,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["3"]}]}}}}),
        );
        assert_eq!(
            result["spec"]["template"]["spec"]["containers"][0]["args"],
            json!(["3"])
        );
    }

    #[test]
    fn delete_directive_removes_an_item() {
        let result = patch(
            containers(&["a", "b"]),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}}),
        );
        assert_eq!(names(&result), ["b"]);
    }

    #[test]
    fn missing_merge_key_names_the_path() {
        let error = apply(
            containers(&["a"]),
            json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
            for_kind("apps", "Deployment"),
        )
        .unwrap_err();
        assert_eq!(error.path, "spec.template.spec.containers");
        assert!(error.message.contains("\"name\""), "{error}");
    }
}
