//! Label selectors as objects hold them (`matchLabels`, `matchExpressions`): their syntax and
//! whether they select a set of labels.

use serde_json::{Map, Value};

use super::Cause;
use super::names::{LABEL_VALUE_MESSAGE, is_label_value, qualified_name_problem};

const OPERATORS: [&str; 4] = ["In", "NotIn", "Exists", "DoesNotExist"];

/// Checks a `LabelSelector` at `field`.
pub(super) fn check(selector: &Value, field: &str, causes: &mut Vec<Cause>) {
    let Some(selector) = selector.as_object() else {
        causes.push(Cause::type_invalid(
            field,
            selector,
            "a label selector mapping",
        ));
        return;
    };
    if let Some(labels) = selector.get("matchLabels") {
        super::meta::labels(labels, &format!("{field}.matchLabels"), causes);
    }
    let Some(expressions) = selector.get("matchExpressions") else {
        return;
    };
    let Some(expressions) = expressions.as_array() else {
        causes.push(Cause::type_invalid(
            format!("{field}.matchExpressions"),
            expressions,
            "a list",
        ));
        return;
    };
    for (i, expression) in expressions.iter().enumerate() {
        let at = format!("{field}.matchExpressions[{i}]");
        match expression.get("key").and_then(Value::as_str) {
            None | Some("") => causes.push(Cause::required(format!("{at}.key"))),
            Some(key) => {
                if let Some(problem) = qualified_name_problem(key) {
                    causes.push(Cause::invalid(format!("{at}.key"), &key.into(), &problem));
                }
            }
        }
        let values = expression.get("values").and_then(Value::as_array);
        let count = values.map_or(0, Vec::len);
        let operator = expression.get("operator");
        match operator.and_then(Value::as_str) {
            None => causes.push(Cause::required(format!("{at}.operator"))),
            Some("In" | "NotIn") if count == 0 => causes.push(Cause::required_because(
                format!("{at}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            Some("Exists" | "DoesNotExist") if count > 0 => causes.push(Cause {
                reason: "FieldValueForbidden",
                field: format!("{at}.values"),
                message: "Forbidden: may not be specified when `operator` is 'Exists' or \
                          'DoesNotExist'"
                    .into(),
            }),
            Some(op) if OPERATORS.contains(&op) => {}
            Some(_) => causes.push(Cause::not_supported(
                format!("{at}.operator"),
                operator.unwrap_or(&Value::Null),
                &OPERATORS,
            )),
        }
        for (j, value) in values.into_iter().flatten().enumerate() {
            match value.as_str() {
                Some(text) if is_label_value(text) => {}
                Some(_) => causes.push(Cause::invalid(
                    format!("{at}.values[{j}]"),
                    value,
                    LABEL_VALUE_MESSAGE,
                )),
                None => causes.push(Cause::type_invalid(
                    format!("{at}.values[{j}]"),
                    value,
                    "a string",
                )),
            }
        }
    }
}

/// True when `selector` has no requirements (it would select everything).
pub(super) fn is_empty(selector: &Value) -> bool {
    let labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    labels && expressions
}

/// True when a `LabelSelector` object selects an object with `labels`.
pub fn selector_matches(selector: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    if let Some(wanted) = selector.get("matchLabels").and_then(Value::as_object)
        && !wanted
            .iter()
            .all(|(key, value)| value.as_str().is_some_and(|v| label(key) == Some(v)))
    {
        return false;
    }
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    expressions.iter().all(|expression| {
        let key = expression.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = expression
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match expression.get("operator").and_then(Value::as_str) {
            Some("In") => label(key).is_some_and(|v| values.contains(&v)),
            Some("NotIn") => label(key).is_none_or(|v| !values.contains(&v)),
            Some("Exists") => label(key).is_some(),
            Some("DoesNotExist") => label(key).is_none(),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_match_labels() {
        let labels = json!({"app": "web", "tier": "front"});
        let labels = labels.as_object();
        let cases = [
            (json!({"matchLabels": {"app": "web"}}), true),
            (json!({"matchLabels": {"app": "api"}}), false),
            (json!({"matchLabels": {"missing": "x"}}), false),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "app", "operator": "Near"}]}),
                false,
            ),
        ];
        for (selector, matches) in cases {
            assert_eq!(selector_matches(&selector, labels), matches, "{selector}");
        }
    }

    #[test]
    fn selector_syntax_is_checked() {
        let cases = [
            (json!({"matchLabels": {"app": "web"}}), None),
            (
                json!({"matchLabels": {"app": "a b"}}),
                Some("s.matchLabels"),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
                Some("s.matchExpressions[0].values"),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                Some("s.matchExpressions[0].values"),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Near"}]}),
                Some("s.matchExpressions[0].operator"),
            ),
            (
                json!({"matchExpressions": [{"operator": "Exists"}]}),
                Some("s.matchExpressions[0].key"),
            ),
            (json!("app=web"), Some("s")),
        ];
        for (selector, field) in cases {
            let mut causes = Vec::new();
            check(&selector, "s", &mut causes);
            assert_eq!(
                causes.first().map(|c| c.field.as_str()),
                field,
                "{selector}: {causes:?}"
            );
        }
    }
}
