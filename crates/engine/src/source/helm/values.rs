//! Setting an image's repository and tag in a chart's values, for image triggers.
//!
//! A trigger on a Helm application does not patch rendered manifests (the next render would
//! undo it); it sets the chart's image values and renders again. Values are read with the
//! engine's YAML reader and written back with keys in their order; comments are not kept.

use serde_json::{Map, Value};
use serde_saphyr::{Options, budget::Budget};

use super::SourceError;
use crate::error::Code;

/// The values key a chart created by `helm create` reads its image repository from.
pub const DEFAULT_REPOSITORY_KEY: &str = "image.repository";
/// The values key a chart created by `helm create` reads its image tag from.
pub const DEFAULT_TAG_KEY: &str = "image.tag";

/// Sets `repository_key` to `repository` and `tag_key` to `tag` in a YAML values text, both
/// dotted paths (`image.repository`), creating maps on the way and keeping every other value.
/// The tag is always written as a string, so `1.10` stays `1.10`. Values that are not a map,
/// or a path through something that is not a map, are refused with [`Code::SourceInvalid`].
pub fn set_image_values(
    values: &str,
    repository_key: &str,
    tag_key: &str,
    repository: &str,
    tag: &str,
) -> Result<String, SourceError> {
    let mut root = match parse(values)? {
        Value::Null => Value::Object(Map::new()),
        Value::Object(map) => Value::Object(map),
        other => {
            return Err(invalid(format!(
                "the values are {}, not a map of keys; image values cannot be set in them",
                kind(&other)
            )));
        }
    };
    set(&mut root, repository_key, repository)?;
    set(&mut root, tag_key, tag)?;
    let text = serde_saphyr::to_string(&root)
        .map_err(|e| invalid(format!("the values could not be written back: {e}")))?;
    Ok(text
        .strip_prefix("---\n")
        .map(str::to_owned)
        .unwrap_or(text))
}

/// Checks that a values text is YAML holding a map of keys (or nothing), as `helm` wants;
/// the error ([`Code::SourceInvalid`]) says what it holds instead.
pub fn check_values(values: &str) -> Result<(), SourceError> {
    match parse(values)? {
        Value::Null | Value::Object(_) => Ok(()),
        other => Err(invalid(format!(
            "the values are {}, not a map of keys such as `replicaCount: 2`",
            kind(&other)
        ))),
    }
}

fn parse(values: &str) -> Result<Value, SourceError> {
    let mut options = Options::default();
    let mut budget = Budget::default();
    budget.max_depth = 64;
    options.budget = Some(budget);
    let value: Option<Value> = serde_saphyr::from_str_with_options(values, options)
        .map_err(|e| invalid(format!("the values are not valid YAML: {e}")))?;
    Ok(value.unwrap_or(Value::Null))
}

fn set(root: &mut Value, key: &str, value: &str) -> Result<(), SourceError> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.trim().is_empty()) {
        return Err(invalid(format!(
            "`{key}` is not a values key; write a dotted path such as image.repository"
        )));
    }
    let (last, path) = parts.split_last().expect("split yields at least one part");
    let mut node = root;
    for (depth, part) in path.iter().enumerate() {
        let map = node.as_object_mut().expect("every step is a map");
        let child = map
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if child.is_null() {
            *child = Value::Object(Map::new());
        }
        if !child.is_object() {
            return Err(invalid(format!(
                "values key `{}` is {}, not a map, so `{key}` cannot be set",
                parts[..=depth].join("."),
                kind(child)
            )));
        }
        node = child;
    }
    let map = node.as_object_mut().expect("every step is a map");
    map.insert((*last).to_owned(), Value::String(value.to_owned()));
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn invalid(message: String) -> SourceError {
    SourceError::new(Code::SourceInvalid, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Value {
        parse(text).unwrap()
    }

    #[test]
    fn image_values_are_set_and_the_rest_kept() {
        let values = "replicaCount: 2\nimage:\n  repository: nginx\n  pullPolicy: IfNotPresent\n  tag: \"\"\nservice:\n  port: 80\n";
        let out = set_image_values(
            values,
            DEFAULT_REPOSITORY_KEY,
            DEFAULT_TAG_KEY,
            "registry.example.com/team/app",
            "1.10",
        )
        .unwrap();
        let expected = read(
            "replicaCount: 2\nimage:\n  repository: registry.example.com/team/app\n  pullPolicy: IfNotPresent\n  tag: \"1.10\"\nservice:\n  port: 80\n",
        );
        assert_eq!(read(&out), expected, "{out}");
        // Key order is kept.
        let keys: Vec<String> = read(&out).as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["replicaCount", "image", "service"]);
    }

    #[test]
    fn maps_are_created_as_needed() {
        let table = [
            ("", "app.image.repo", "app.image.tag"),
            ("# only a comment\n", "image.repository", "image.tag"),
            ("app: null\n", "app.image.repo", "app.version"),
            ("other: 1\n", "repo", "tag"),
        ];
        for (values, repository_key, tag_key) in table {
            let out = set_image_values(values, repository_key, tag_key, "r", "007").unwrap();
            let value = read(&out);
            let at = |key: &str| {
                key.split('.')
                    .try_fold(&value, |node, part| node.get(part))
                    .cloned()
            };
            assert_eq!(at(repository_key), Some(Value::String("r".into())), "{out}");
            assert_eq!(at(tag_key), Some(Value::String("007".into())), "{out}");
        }
    }

    #[test]
    fn values_must_be_a_map() {
        for (values, ok) in [
            ("", true),
            ("# nothing\n", true),
            ("a: 1\nb: {c: d}\n", true),
            ("- a\n", false),
            ("just words", false),
            ("a: {unclosed\n", false),
        ] {
            assert_eq!(check_values(values).is_ok(), ok, "{values:?}");
        }
    }

    #[test]
    fn values_that_cannot_hold_the_keys_are_refused() {
        let table = [
            ("image: nginx\n", "image.repository", "`image` is a string"),
            ("- a\n- b\n", "image.repository", "the values are a list"),
            ("image: [1]\n", "image.repository", "`image` is a list"),
            ("a: {b: 3}\n", "a.b.c", "`a.b` is a number"),
            ("{}", "image..repository", "not a values key"),
            ("{}", "", "not a values key"),
            ("image: {unclosed\n", "image.repository", "not valid YAML"),
        ];
        for (values, key, expected) in table {
            let error = set_image_values(values, key, "tag", "r", "t").unwrap_err();
            assert_eq!(error.code, Code::SourceInvalid);
            assert!(
                error.message.contains(expected),
                "{values}: {}",
                error.message
            );
        }
    }
}
