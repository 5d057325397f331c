//! Structural schemas: a CRD version's `openAPIV3Schema`, checked once when the CRD is
//! written and then used on every write of its custom resources.
//!
//! [`Schema::parse`] turns the JSON schema into a tree and reports what makes it
//! non-structural, with the API server's field paths and words. On a custom resource the tree
//! [`Schema::unknown_fields`] lists the fields it does not declare (for `fieldValidation` and
//! server-side apply), [`Schema::prune`] drops them, [`Schema::apply_defaults`] fills in `default`s,
//! and [`Schema::validate`] checks types, `required`, bounds, `enum` and `pattern`.
//!
//! Every walk recurses once per level of the object or schema; bodies are JSON or YAML
//! limited to 3 MiB and the decoders refuse nesting deeper than 128 levels, which bounds the
//! recursion.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;

use crate::status::Cause;

/// How many of an `enum`'s values a refusal lists.
const ENUM_SHOWN: usize = 32;

/// The JSON types a structural schema names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
}

impl Type {
    fn parse(name: &str) -> Option<Type> {
        Some(match name {
            "object" => Type::Object,
            "array" => Type::Array,
            "string" => Type::String,
            "integer" => Type::Integer,
            "number" => Type::Number,
            "boolean" => Type::Boolean,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Type::Object => "object",
            Type::Array => "array",
            Type::String => "string",
            Type::Integer => "integer",
            Type::Number => "number",
            Type::Boolean => "boolean",
        }
    }

    fn holds(self, value: &Value) -> bool {
        match (self, value) {
            (Type::Object, Value::Object(_))
            | (Type::Array, Value::Array(_))
            | (Type::String, Value::String(_))
            | (Type::Boolean, Value::Bool(_))
            | (Type::Number, Value::Number(_)) => true,
            (Type::Integer, Value::Number(n)) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        }
    }
}

/// The JSON type of a value, as validation messages name it.
fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One node of a structural schema.
#[derive(Debug, Default)]
pub(crate) struct Schema {
    ty: Option<Type>,
    properties: BTreeMap<String, Schema>,
    items: Option<Box<Schema>>,
    additional: Option<Box<Schema>>,
    required: Vec<String>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: bool,
    exclusive_maximum: bool,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    enumeration: Vec<Value>,
    pattern: Option<Regex>,
    default: Option<Value>,
    nullable: bool,
    preserve_unknown: bool,
    int_or_string: bool,
    embedded: bool,
}

/// Where a schema node sits, for the "type must not be empty" messages.
#[derive(Clone, Copy)]
enum Level {
    Root,
    Field,
    Item,
}

impl Schema {
    /// Parses `openAPIV3Schema`; every structural problem is a cause under `path` (as the API
    /// server names it: `spec.validation.openAPIV3Schema` for a CRD whose versions share one
    /// schema).
    pub fn parse(json: &Value, path: &str) -> Result<Schema, Vec<Cause>> {
        let mut causes = Vec::new();
        let schema = parse_node(json, path, Level::Root, &mut causes);
        if causes.is_empty() {
            Ok(schema)
        } else {
            Err(causes)
        }
    }

    /// The paths (`spec.colour`) of every field the schema does not declare, in order.
    pub fn unknown_fields(&self, object: &Value) -> Vec<String> {
        let mut out = Vec::new();
        if let Value::Object(map) = object {
            for (key, value) in map {
                if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                match self.properties.get(key) {
                    Some(child) => child.unknown_in(value, key, &mut out),
                    None if self.preserve_unknown => {}
                    None => out.push(key.clone()),
                }
            }
        }
        out
    }

    fn unknown_in(&self, value: &Value, path: &str, out: &mut Vec<String>) {
        if self.embedded {
            return;
        }
        match value {
            Value::Object(map) => {
                for (key, child_value) in map {
                    let child_path = format!("{path}.{key}");
                    if let Some(child) = self.properties.get(key) {
                        child.unknown_in(child_value, &child_path, out);
                    } else if let Some(additional) = &self.additional {
                        additional.unknown_in(child_value, &child_path, out);
                    } else if !self.preserve_unknown && self.ty == Some(Type::Object) {
                        out.push(child_path);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = &self.items {
                    for (index, item) in items.iter().enumerate() {
                        item_schema.unknown_in(item, &format!("{path}[{index}]"), out);
                    }
                }
            }
            _ => {}
        }
    }

    /// Drops every field the schema does not declare (`apiVersion`, `kind` and `metadata`
    /// stay at the root).
    pub fn prune(&self, object: &mut Value) {
        if let Value::Object(map) = object {
            map.retain(|key, _| {
                matches!(key.as_str(), "apiVersion" | "kind" | "metadata")
                    || self.preserve_unknown
                    || self.properties.contains_key(key)
            });
            for (key, value) in map.iter_mut() {
                if let Some(child) = self.properties.get(key) {
                    child.prune_node(value);
                }
            }
        }
    }

    fn prune_node(&self, value: &mut Value) {
        if self.embedded {
            return;
        }
        match value {
            Value::Object(map) => {
                if self.additional.is_none()
                    && !self.preserve_unknown
                    && self.ty == Some(Type::Object)
                {
                    map.retain(|key, _| self.properties.contains_key(key));
                }
                for (key, child_value) in map.iter_mut() {
                    if let Some(child) = self.properties.get(key) {
                        child.prune_node(child_value);
                    } else if let Some(additional) = &self.additional {
                        additional.prune_node(child_value);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = &self.items {
                    for item in items {
                        item_schema.prune_node(item);
                    }
                }
            }
            _ => {}
        }
    }

    /// Fills in the `default` of every absent field whose parent object is present.
    pub fn apply_defaults(&self, object: &mut Value) {
        self.default_node(object);
    }

    fn default_node(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, child) in &self.properties {
                    if !map.contains_key(key)
                        && let Some(default) = &child.default
                    {
                        map.insert(key.clone(), default.clone());
                    }
                }
                for (key, child_value) in map.iter_mut() {
                    if let Some(child) = self.properties.get(key) {
                        child.default_node(child_value);
                    } else if let Some(additional) = &self.additional {
                        additional.default_node(child_value);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = &self.items {
                    for item in items {
                        item_schema.default_node(item);
                    }
                }
            }
            _ => {}
        }
    }

    /// Every way `object` breaks the schema (empty when it holds).
    pub fn validate(&self, object: &Value) -> Vec<Cause> {
        let mut causes = Vec::new();
        if let Value::Object(map) = object {
            for required in &self.required {
                if !map.contains_key(required) {
                    causes.push(Cause::required(required.clone()));
                }
            }
            for (key, child) in &self.properties {
                if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                if let Some(value) = map.get(key) {
                    child.validate_node(value, key, &mut causes);
                }
            }
        }
        causes
    }

    fn validate_node(&self, value: &Value, path: &str, causes: &mut Vec<Cause>) {
        if value.is_null() {
            if !self.nullable && self.ty.is_some() {
                causes.push(type_invalid(path, value, self.ty_name()));
            }
            return;
        }
        if self.int_or_string {
            if !(value.is_string() || Type::Integer.holds(value)) {
                causes.push(type_invalid(path, value, "integer,string"));
            }
        } else if let Some(ty) = self.ty
            && !ty.holds(value)
        {
            causes.push(type_invalid(path, value, ty.name()));
            return;
        }
        if !self.enumeration.is_empty() && !self.enumeration.contains(value) {
            // A schema may list thousands of values; the message names the first ones.
            let mut supported: Vec<String> = self
                .enumeration
                .iter()
                .take(ENUM_SHOWN)
                .map(shown)
                .collect();
            if self.enumeration.len() > ENUM_SHOWN {
                supported.push(format!("… ({} more)", self.enumeration.len() - ENUM_SHOWN));
            }
            causes.push(Cause {
                reason: "FieldValueNotSupported",
                field: path.to_owned(),
                message: format!(
                    "Unsupported value: {}: supported values: {}",
                    shown(value),
                    supported.join(", ")
                ),
            });
        }
        match value {
            Value::Number(n) => {
                self.check_bounds(n.as_f64().unwrap_or_default(), value, path, causes)
            }
            Value::String(s) => self.check_string(s, value, path, causes),
            Value::Array(items) => {
                let count = items.len() as u64;
                if let Some(min) = self.min_items
                    && count < min
                {
                    causes.push(Cause::invalid(
                        path,
                        &Value::from(count),
                        &format!("{path} in body should have at least {min} items"),
                    ));
                }
                if let Some(max) = self.max_items
                    && count > max
                {
                    causes.push(Cause {
                        reason: "FieldValueTooMany",
                        field: path.to_owned(),
                        message: format!("Too many: {count}: must have at most {max} items"),
                    });
                }
                if let Some(item_schema) = &self.items {
                    for (index, item) in items.iter().enumerate() {
                        item_schema.validate_node(item, &format!("{path}[{index}]"), causes);
                    }
                }
            }
            Value::Object(map) if !self.embedded => {
                for required in &self.required {
                    if !map.contains_key(required) {
                        causes.push(Cause::required(format!("{path}.{required}")));
                    }
                }
                for (key, child_value) in map {
                    let child_path = format!("{path}.{key}");
                    if let Some(child) = self.properties.get(key) {
                        child.validate_node(child_value, &child_path, causes);
                    } else if let Some(additional) = &self.additional {
                        additional.validate_node(child_value, &child_path, causes);
                    }
                }
            }
            _ => {}
        }
    }

    fn ty_name(&self) -> &'static str {
        self.ty.map_or("object", Type::name)
    }

    fn check_bounds(&self, n: f64, value: &Value, path: &str, causes: &mut Vec<Cause>) {
        if let Some(min) = self.minimum {
            let (below, words) = if self.exclusive_minimum {
                (n <= min, "greater than")
            } else {
                (n < min, "greater than or equal to")
            };
            if below {
                causes.push(Cause::invalid(
                    path,
                    value,
                    &format!("{path} in body should be {words} {}", number(min)),
                ));
            }
        }
        if let Some(max) = self.maximum {
            let (above, words) = if self.exclusive_maximum {
                (n >= max, "less than")
            } else {
                (n > max, "less than or equal to")
            };
            if above {
                causes.push(Cause::invalid(
                    path,
                    value,
                    &format!("{path} in body should be {words} {}", number(max)),
                ));
            }
        }
    }

    fn check_string(&self, s: &str, value: &Value, path: &str, causes: &mut Vec<Cause>) {
        let length = s.chars().count() as u64;
        if let Some(min) = self.min_length
            && length < min
        {
            causes.push(Cause::invalid(
                path,
                value,
                &format!("{path} in body should be at least {min} chars long"),
            ));
        }
        if let Some(max) = self.max_length
            && length > max
        {
            causes.push(Cause {
                reason: "FieldValueTooLong",
                field: path.to_owned(),
                message: format!("Too long: may not be more than {max} bytes"),
            });
        }
        if let Some(pattern) = &self.pattern
            && !pattern.is_match(s)
        {
            causes.push(Cause::invalid(
                path,
                value,
                &format!("{path} in body should match '{}'", pattern.as_str()),
            ));
        }
    }
}

/// `1` rather than `1.0`, as Go prints a whole float.
fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn type_invalid(path: &str, value: &Value, expected: &str) -> Cause {
    let actual = type_of(value);
    Cause {
        reason: "FieldValueTypeInvalid",
        field: path.to_owned(),
        message: format!(
            "Invalid value: \"{actual}\": {path} in body must be of type {expected}: \"{actual}\""
        ),
    }
}

fn parse_node(json: &Value, path: &str, level: Level, causes: &mut Vec<Cause>) -> Schema {
    let mut schema = Schema::default();
    let Some(map) = json.as_object() else {
        causes.push(Cause::invalid(path, json, "must be an object"));
        return schema;
    };
    let flag = |name: &str| map.get(name).and_then(Value::as_bool).unwrap_or(false);
    schema.preserve_unknown = flag("x-kubernetes-preserve-unknown-fields");
    schema.int_or_string = flag("x-kubernetes-int-or-string");
    schema.embedded = flag("x-kubernetes-embedded-resource");
    schema.nullable = flag("nullable");
    if map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        causes.push(Cause::invalid(
            format!("{path}.x-kubernetes-preserve-unknown-fields"),
            &Value::Bool(false),
            "must be true or undefined",
        ));
    }

    if let Some(items) = map.get("items") {
        schema.items = Some(Box::new(parse_node(
            items,
            &format!("{path}.items"),
            Level::Item,
            causes,
        )));
    }
    if let Some(properties) = map.get("properties") {
        match properties.as_object() {
            Some(properties) => {
                let sorted: BTreeMap<&String, &Value> = properties.iter().collect();
                for (name, property) in sorted {
                    let child = parse_node(
                        property,
                        &format!("{path}.properties[{name}]"),
                        Level::Field,
                        causes,
                    );
                    schema.properties.insert(name.clone(), child);
                }
            }
            None => causes.push(Cause::invalid(
                format!("{path}.properties"),
                properties,
                "must be an object",
            )),
        }
    }
    match map.get("additionalProperties") {
        Some(Value::Object(_)) if map.contains_key("properties") => {
            causes.push(Cause {
                reason: "FieldValueForbidden",
                field: format!("{path}.additionalProperties"),
                message: "Forbidden: additionalProperties and properties are mutual exclusive"
                    .into(),
            });
        }
        Some(additional @ Value::Object(_)) => {
            schema.additional = Some(Box::new(parse_node(
                additional,
                &format!("{path}.additionalProperties"),
                Level::Field,
                causes,
            )));
        }
        Some(Value::Bool(false)) | None => {}
        Some(other) => causes.push(Cause {
            reason: "FieldValueForbidden",
            field: format!("{path}.additionalProperties"),
            message: format!(
                "Forbidden: must not be {other} in a structural schema (use x-kubernetes-preserve-unknown-fields)"
            ),
        }),
    }

    match map.get("type") {
        Some(Value::String(name)) if !name.is_empty() => match Type::parse(name) {
            Some(ty) => schema.ty = Some(ty),
            None => causes.push(Cause::not_supported(
                format!("{path}.type"),
                &Value::String(name.clone()),
                &["array", "boolean", "integer", "number", "object", "string"],
            )),
        },
        Some(other) if !other.is_string() => {
            causes.push(Cause::invalid(
                format!("{path}.type"),
                other,
                "must be a string",
            ));
        }
        _ => {
            if !schema.int_or_string && !schema.embedded {
                let why = match level {
                    Level::Root => "must not be empty at the root",
                    Level::Field => "must not be empty for specified object fields",
                    Level::Item => "must not be empty for specified array items",
                };
                causes.push(Cause::required_because(format!("{path}.type"), why));
            }
        }
    }
    if matches!(level, Level::Root) && schema.ty.is_some_and(|t| t != Type::Object) {
        causes.push(Cause::invalid(
            format!("{path}.type"),
            &Value::String(schema.ty_name().into()),
            "must be object at the root",
        ));
    }
    if schema.ty == Some(Type::Array) && schema.items.is_none() {
        causes.push(Cause::required_because(
            format!("{path}.items"),
            "must be specified",
        ));
    }

    let numeric = |name: &str| map.get(name).and_then(Value::as_f64);
    let count = |name: &str| map.get(name).and_then(Value::as_u64);
    schema.minimum = numeric("minimum");
    schema.maximum = numeric("maximum");
    schema.exclusive_minimum = flag("exclusiveMinimum");
    schema.exclusive_maximum = flag("exclusiveMaximum");
    schema.min_length = count("minLength");
    schema.max_length = count("maxLength");
    schema.min_items = count("minItems");
    schema.max_items = count("maxItems");
    if let Some(required) = map.get("required").and_then(Value::as_array) {
        schema.required = required
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    if let Some(values) = map.get("enum").and_then(Value::as_array) {
        schema.enumeration = values.clone();
    }
    if let Some(pattern) = map.get("pattern").and_then(Value::as_str) {
        match regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
        {
            Ok(regex) => schema.pattern = Some(regex),
            Err(error) => causes.push(Cause::invalid(
                format!("{path}.pattern"),
                &Value::String(pattern.into()),
                &format!("must be a valid regular expression, but isn't: {error}"),
            )),
        }
    }
    if let Some(default) = map.get("default") {
        if matches!(level, Level::Root) {
            causes.push(Cause {
                reason: "FieldValueForbidden",
                field: format!("{path}.default"),
                message: "Forbidden: must not be set at the root".into(),
            });
        } else {
            let mut problems = Vec::new();
            schema.validate_node(default, "", &mut problems);
            for problem in problems {
                causes.push(Cause::invalid(
                    format!("{path}.default"),
                    default,
                    problem.message.trim_start_matches("Invalid value: "),
                ));
            }
            schema.default = Some(default.clone());
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn widget() -> Schema {
        Schema::parse(
            &json!({"type": "object", "properties": {
            "spec": {"type": "object", "required": ["size"], "properties": {
                "size": {"type": "integer", "minimum": 1},
                "color": {"type": "string", "default": "blue", "enum": ["blue", "red"]},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}}
            }}}}),
            "spec.validation.openAPIV3Schema",
        )
        .expect("structural")
    }

    #[test]
    fn unknown_fields_are_listed_and_pruned_but_preserved_ones_stay() {
        let schema = widget();
        let mut cr = json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "w"},
            "spec": {"size": 1, "colour": "red", "extra": {"any": [1]}}, "other": 1});
        assert_eq!(schema.unknown_fields(&cr), ["spec.colour", "other"]);
        schema.prune(&mut cr);
        schema.apply_defaults(&mut cr);
        assert_eq!(
            cr,
            json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "w"},
                "spec": {"size": 1, "extra": {"any": [1]}, "color": "blue"}})
        );
    }

    #[test]
    fn validation_speaks_the_api_servers_words() {
        let schema = widget();
        let messages = |cr: Value| -> Vec<String> {
            schema
                .validate(&cr)
                .into_iter()
                .map(|c| format!("{}: {}", c.field, c.message))
                .collect()
        };
        assert_eq!(messages(json!({"spec": {}})), ["spec.size: Required value"]);
        assert_eq!(
            messages(json!({"spec": {"size": 0}})),
            ["spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"]
        );
        assert_eq!(
            messages(json!({"spec": {"size": "3"}})),
            [
                "spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\""
            ]
        );
        assert_eq!(
            messages(json!({"spec": {"size": 1, "color": "green"}})),
            ["spec.color: Unsupported value: \"green\": supported values: \"blue\", \"red\""]
        );
        assert_eq!(
            messages(json!({"spec": {"size": 1, "tags": ["A"]}})),
            ["spec.tags[0]: Invalid value: \"A\": spec.tags[0] in body should match '^[a-z]+$'"]
        );
    }

    #[test]
    fn non_structural_schemas_are_refused_children_first() {
        let causes = Schema::parse(
            &json!({"properties": {"spec": {"x-kubernetes-int-or-string": false}}}),
            "spec.validation.openAPIV3Schema",
        )
        .unwrap_err();
        let rendered: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        assert_eq!(
            rendered,
            [
                "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
                "spec.validation.openAPIV3Schema.type: Required value: must not be empty at the root"
            ]
        );
    }
}
