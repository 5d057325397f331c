//! A pod's `affinity`: node affinity's selector terms and pod (anti-)affinity's terms, as the
//! API server's `validateAffinity` checks them.

use serde_json::Value;

use super::Cause;
use super::names::qualified_name_problem;
use super::pod::{int, present};

const NODE_OPERATORS: [&str; 6] = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];

fn list(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Checks `{field}.affinity` of a pod spec.
pub(super) fn affinity(
    spec: &serde_json::Map<String, Value>,
    field: &str,
    causes: &mut Vec<Cause>,
) {
    let Some(affinity) = present(spec.get("affinity")) else {
        return;
    };
    let at = format!("{field}.affinity");
    if !affinity.is_object() {
        causes.push(Cause::type_invalid(&at, affinity, "a mapping"));
        return;
    }
    if let Some(node) = present(affinity.get("nodeAffinity")) {
        let at = format!("{at}.nodeAffinity");
        let key = "requiredDuringSchedulingIgnoredDuringExecution";
        if let Some(required) = present(node.get(key)) {
            let at = format!("{at}.{key}.nodeSelectorTerms");
            let terms = list(required.get("nodeSelectorTerms"));
            if terms.is_empty() {
                causes.push(Cause::required_because(
                    &at,
                    "must have at least one node selector term",
                ));
            }
            for (i, term) in terms.iter().enumerate() {
                node_term(term, &format!("{at}[{i}]"), causes);
            }
        }
        let key = "preferredDuringSchedulingIgnoredDuringExecution";
        for (i, preferred) in list(node.get(key)).iter().enumerate() {
            let at = format!("{at}.{key}[{i}]");
            weight(preferred, &at, causes);
            match present(preferred.get("preference")) {
                Some(term) => node_term(term, &format!("{at}.preference"), causes),
                None => causes.push(Cause::required(format!("{at}.preference"))),
            }
        }
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(pod) = present(affinity.get(kind)) else {
            continue;
        };
        let at = format!("{at}.{kind}");
        let key = "requiredDuringSchedulingIgnoredDuringExecution";
        for (i, term) in list(pod.get(key)).iter().enumerate() {
            pod_term(term, &format!("{at}.{key}[{i}]"), causes);
        }
        let key = "preferredDuringSchedulingIgnoredDuringExecution";
        for (i, preferred) in list(pod.get(key)).iter().enumerate() {
            let at = format!("{at}.{key}[{i}]");
            weight(preferred, &at, causes);
            match present(preferred.get("podAffinityTerm")) {
                Some(term) => pod_term(term, &format!("{at}.podAffinityTerm"), causes),
                None => causes.push(Cause::required(format!("{at}.podAffinityTerm"))),
            }
        }
    }
}

fn weight(preferred: &Value, at: &str, causes: &mut Vec<Cause>) {
    match present(preferred.get("weight")) {
        None => causes.push(Cause::required(format!("{at}.weight"))),
        Some(value) if !int(value).is_some_and(|w| (1..=100).contains(&w)) => {
            causes.push(Cause::invalid(
                format!("{at}.weight"),
                value,
                "must be in the range 1-100",
            ));
        }
        Some(_) => {}
    }
}

fn node_term(term: &Value, at: &str, causes: &mut Vec<Cause>) {
    for key in ["matchExpressions", "matchFields"] {
        for (j, requirement) in list(term.get(key)).iter().enumerate() {
            let at = format!("{at}.{key}[{j}]");
            if key == "matchExpressions" {
                match requirement.get("key").and_then(Value::as_str) {
                    None | Some("") => causes.push(Cause::required(format!("{at}.key"))),
                    Some(name) => {
                        if let Some(problem) = qualified_name_problem(name) {
                            causes.push(Cause::invalid(
                                format!("{at}.key"),
                                &requirement["key"],
                                &problem,
                            ));
                        }
                    }
                }
            }
            let values = list(requirement.get("values"));
            match requirement.get("operator").and_then(Value::as_str) {
                Some("In" | "NotIn") if values.is_empty() => causes.push(Cause::required_because(
                    format!("{at}.values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                )),
                Some("Exists" | "DoesNotExist") if !values.is_empty() => {
                    causes.push(Cause::forbidden(
                        format!("{at}.values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
                Some("Gt" | "Lt") => {
                    let one_integer = values.len() == 1
                        && values[0].as_str().is_some_and(|v| v.parse::<i64>().is_ok());
                    if !one_integer {
                        causes.push(Cause::required_because(
                            format!("{at}.values"),
                            "must be specified single value when `operator` is 'Lt' or 'Gt'",
                        ));
                    }
                }
                Some(operator) if NODE_OPERATORS.contains(&operator) => {}
                _ => causes.push(Cause::not_supported(
                    format!("{at}.operator"),
                    requirement.get("operator").unwrap_or(&Value::Null),
                    &NODE_OPERATORS,
                )),
            }
        }
    }
}

fn pod_term(term: &Value, at: &str, causes: &mut Vec<Cause>) {
    if !term.is_object() {
        causes.push(Cause::type_invalid(at, term, "a mapping"));
        return;
    }
    match term.get("topologyKey").and_then(Value::as_str) {
        None | Some("") => causes.push(Cause::required_because(
            format!("{at}.topologyKey"),
            "can not be empty",
        )),
        Some(key) => {
            if let Some(problem) = qualified_name_problem(key) {
                causes.push(Cause::invalid(
                    format!("{at}.topologyKey"),
                    &term["topologyKey"],
                    &problem,
                ));
            }
        }
    }
    for key in ["labelSelector", "namespaceSelector"] {
        if let Some(selector) = present(term.get(key)) {
            super::selector::check(selector, &format!("{at}.{key}"), causes);
        }
    }
}
