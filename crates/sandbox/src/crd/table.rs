//! `kubectl get` for custom resources: a Table with the name, then the CRD's
//! `additionalPrinterColumns` (or the age, when it declares none).

use serde_json::{Value, json};

use super::{Column, CustomKind};
use crate::objects::meta_str;
use crate::table::{age, row_with};

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

fn default_columns() -> Vec<Column> {
    vec![Column {
        name: "Age".into(),
        ty: "date".into(),
        format: String::new(),
        description: "CreationTimestamp is a timestamp representing the server time when this object was created.".into(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    }]
}

/// The Table of `objects` of a custom kind.
pub(crate) fn value(
    kind: &CustomKind,
    objects: &[&Value],
    metadata: &Value,
    include: &str,
) -> Value {
    let columns = if kind.columns.is_empty() {
        default_columns()
    } else {
        kind.columns.clone()
    };
    let mut definitions = vec![json!({
        "name": "Name", "type": "string", "format": "name",
        "description": NAME_DESCRIPTION, "priority": 0,
    })];
    definitions.extend(columns.iter().map(|c| {
        json!({
            "name": c.name, "type": c.ty, "format": c.format,
            "description": c.description, "priority": c.priority,
        })
    }));
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut cells = vec![json!(meta_str(object, "name").unwrap_or_default())];
            cells.extend(columns.iter().map(|c| cell(c, object)));
            row_with(cells, object, include)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// A column's value: what its JSONPath finds, shown as its type says (a `date` as an age).
fn cell(column: &Column, object: &Value) -> Value {
    let Some(found) = find(object, &column.json_path) else {
        return Value::Null;
    };
    match (column.ty.as_str(), found) {
        ("date", Value::String(time)) => json!(age(time)),
        (_, Value::String(_) | Value::Number(_) | Value::Bool(_)) => found.clone(),
        (_, other) => json!(other.to_string()),
    }
}

/// A simple JSONPath (`.spec.size`, `.status.conditions[0].type`, `{.spec.size}`).
fn find<'v>(object: &'v Value, path: &str) -> Option<&'v Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut here = object;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (field, indexes) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        if !field.is_empty() {
            here = here.get(field)?;
        }
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            let index: usize = index.trim_end_matches(']').parse().ok()?;
            here = here.get(index)?;
        }
    }
    Some(here)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_find_fields_and_list_items() {
        let object = json!({"spec": {"size": 3, "items": [{"name": "a"}]}});
        assert_eq!(find(&object, ".spec.size"), Some(&json!(3)));
        assert_eq!(find(&object, "{.spec.items[0].name}"), Some(&json!("a")));
        assert_eq!(find(&object, ".spec.missing"), None);
    }
}
