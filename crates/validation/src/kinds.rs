//! The rules for each built-in kind's `spec` (and its data, for ConfigMaps and Secrets).

use std::collections::HashSet;

use serde_json::Value;

use super::Cause;
use super::meta::{annotations, labels};
use super::names::{
    DNS1035_MESSAGE, SUBDOMAIN_MESSAGE, is_dns1035_label, is_dns1123_subdomain, port_name_problem,
};
use super::pod::{RESTART_POLICIES, at_least, data_keys, int, one_of, pod_spec, present};
use super::selector;

const JOB_RESTART: (&[&str], bool) = (&["OnFailure", "Never"], true);
const WORKLOAD_RESTART: (&[&str], bool) = (&["Always"], false);

/// Checks the kind-specific parts of `object`.
pub(super) fn spec(group: &str, kind: &str, object: &Value, causes: &mut Vec<Cause>) {
    let spec = object.get("spec").filter(|s| !s.is_null());
    if let Some(spec) = spec
        && !spec.is_object()
        && kind != "Secret"
        && kind != "ConfigMap"
    {
        causes.push(Cause::type_invalid("spec", spec, "a mapping"));
        return;
    }
    match (group, kind) {
        ("apps" | "extensions", "Deployment") => {
            workload(spec, true, causes);
            one_of(
                spec.and_then(|s| s.get("strategy")),
                "type",
                &["Recreate", "RollingUpdate"],
                "spec.strategy",
                causes,
            );
            if let Some(strategy) = spec.and_then(|s| s.get("strategy"))
                && strategy.get("type").and_then(Value::as_str) == Some("Recreate")
                && strategy.get("rollingUpdate").is_some_and(|r| !r.is_null())
            {
                causes.push(Cause::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
            for key in [
                "minReadySeconds",
                "revisionHistoryLimit",
                "progressDeadlineSeconds",
            ] {
                at_least(spec, key, 0, "spec", causes);
            }
        }
        ("apps" | "extensions", "ReplicaSet") => {
            workload(spec, true, causes);
            at_least(spec, "minReadySeconds", 0, "spec", causes);
        }
        ("apps", "StatefulSet") => {
            workload(spec, true, causes);
            one_of(
                spec.and_then(|s| s.get("updateStrategy")),
                "type",
                &["RollingUpdate", "OnDelete"],
                "spec.updateStrategy",
                causes,
            );
            one_of(
                spec,
                "podManagementPolicy",
                &["OrderedReady", "Parallel"],
                "spec",
                causes,
            );
            for key in ["minReadySeconds", "revisionHistoryLimit"] {
                at_least(spec, key, 0, "spec", causes);
            }
        }
        ("apps" | "extensions", "DaemonSet") => {
            workload(spec, false, causes);
            one_of(
                spec.and_then(|s| s.get("updateStrategy")),
                "type",
                &["RollingUpdate", "OnDelete"],
                "spec.updateStrategy",
                causes,
            );
            for key in ["minReadySeconds", "revisionHistoryLimit"] {
                at_least(spec, key, 0, "spec", causes);
            }
        }
        ("", "ReplicationController") => replication_controller(spec, causes),
        ("", "Pod") => pod_spec(spec, "spec", (&RESTART_POLICIES, false), causes),
        ("", "PodTemplate") => {
            let template = object.get("template");
            template_meta(template, "template", causes);
            pod_spec(
                template.and_then(|t| t.get("spec")),
                "template.spec",
                (&RESTART_POLICIES, false),
                causes,
            );
        }
        ("batch", "Job") => job(spec, "spec", causes),
        ("batch", "CronJob") => cron_job(spec, causes),
        ("", "Service") => service(spec, causes),
        ("", "ConfigMap" | "Secret") => data_keys(object, causes),
        ("networking.k8s.io", "Ingress") => ingress(spec, causes),
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaler(spec, causes),
        ("policy", "PodDisruptionBudget") => disruption_budget(spec, causes),
        ("networking.k8s.io", "NetworkPolicy") => network_policy(spec, causes),
        _ => {}
    }
}

/// A workload's replicas, selector, template labels and pod spec.
fn workload(spec: Option<&Value>, replicas: bool, causes: &mut Vec<Cause>) {
    if replicas {
        at_least(spec, "replicas", 0, "spec", causes);
    }
    let template = spec.and_then(|s| s.get("template"));
    let template_labels = template.and_then(|t| t.pointer("/metadata/labels"));
    match spec.and_then(|s| s.get("selector")) {
        None | Some(Value::Null) => {
            causes.push(Cause::required("spec.selector"));
            // No selector matches no labels: the API server says so too.
            causes.push(Cause::invalid(
                "spec.template.metadata.labels",
                template_labels.unwrap_or(&Value::Null),
                "`selector` does not match template `labels`",
            ));
        }
        Some(chosen) => {
            let before = causes.len();
            selector::check(chosen, "spec.selector", causes);
            if causes.len() == before {
                if selector::is_empty(chosen) {
                    causes.push(Cause::invalid(
                        "spec.selector",
                        chosen,
                        "empty selector is invalid for deployment",
                    ));
                } else {
                    selector_matches_template(chosen, template_labels, causes);
                }
            }
        }
    }
    template_meta(template, "spec.template", causes);
    pod_spec(
        template.and_then(|t| t.get("spec")),
        "spec.template.spec",
        WORKLOAD_RESTART,
        causes,
    );
}

/// A pod template's labels and annotations.
fn template_meta(template: Option<&Value>, at: &str, causes: &mut Vec<Cause>) {
    let Some(metadata) = template.and_then(|t| t.get("metadata")) else {
        return;
    };
    if let Some(labels_value) = metadata.get("labels") {
        labels(labels_value, &format!("{at}.metadata.labels"), causes);
    }
    if let Some(annotations_value) = metadata.get("annotations") {
        annotations(
            annotations_value,
            &format!("{at}.metadata.annotations"),
            causes,
        );
    }
}

fn selector_matches_template(
    chosen: &Value,
    template_labels: Option<&Value>,
    causes: &mut Vec<Cause>,
) {
    if !selector::selector_matches(chosen, template_labels.and_then(Value::as_object)) {
        causes.push(Cause::invalid(
            "spec.template.metadata.labels",
            template_labels.unwrap_or(&Value::Null),
            "`selector` does not match template `labels`",
        ));
    }
}

fn replication_controller(spec: Option<&Value>, causes: &mut Vec<Cause>) {
    at_least(spec, "replicas", 0, "spec", causes);
    let template = spec.and_then(|s| s.get("template"));
    let template_labels = template.and_then(|t| t.pointer("/metadata/labels"));
    if let Some(map) = spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null())
    {
        labels(map, "spec.selector", causes);
        let as_selector = serde_json::json!({ "matchLabels": map });
        selector_matches_template(&as_selector, template_labels, causes);
    }
    template_meta(template, "spec.template", causes);
    pod_spec(
        template.and_then(|t| t.get("spec")),
        "spec.template.spec",
        WORKLOAD_RESTART,
        causes,
    );
}

fn job(spec: Option<&Value>, at: &str, causes: &mut Vec<Cause>) {
    for key in [
        "parallelism",
        "completions",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ] {
        at_least(spec, key, 0, at, causes);
    }
    at_least(spec, "activeDeadlineSeconds", 1, at, causes);
    one_of(
        spec,
        "completionMode",
        &["NonIndexed", "Indexed"],
        at,
        causes,
    );
    let template = spec.and_then(|s| s.get("template"));
    let template_labels = template.and_then(|t| t.pointer("/metadata/labels"));
    if let Some(chosen) = spec
        .and_then(|s| s.get("selector"))
        .filter(|s| !s.is_null())
    {
        let field = format!("{at}.selector");
        let before = causes.len();
        selector::check(chosen, &field, causes);
        if causes.len() == before
            && !selector::selector_matches(chosen, template_labels.and_then(Value::as_object))
        {
            causes.push(Cause::invalid(
                format!("{at}.template.metadata.labels"),
                template_labels.unwrap_or(&Value::Null),
                "`selector` does not match template `labels`",
            ));
        }
    }
    template_meta(template, &format!("{at}.template"), causes);
    pod_spec(
        template.and_then(|t| t.get("spec")),
        &format!("{at}.template.spec"),
        JOB_RESTART,
        causes,
    );
}

fn cron_job(spec: Option<&Value>, causes: &mut Vec<Cause>) {
    match spec.and_then(|s| s.get("schedule")) {
        Some(Value::String(schedule)) if !schedule.trim().is_empty() => {
            let fields = schedule.split_whitespace().count();
            if !schedule.starts_with('@') && fields != 5 {
                causes.push(Cause::invalid(
                    "spec.schedule",
                    &schedule.as_str().into(),
                    &format!("expected exactly 5 fields, found {fields}"),
                ));
            }
        }
        _ => causes.push(Cause::required("spec.schedule")),
    }
    one_of(
        spec,
        "concurrencyPolicy",
        &["Allow", "Forbid", "Replace"],
        "spec",
        causes,
    );
    for key in [
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        at_least(spec, key, 0, "spec", causes);
    }
    job(
        spec.and_then(|s| s.pointer("/jobTemplate/spec")),
        "spec.jobTemplate.spec",
        causes,
    );
}

const SERVICE_TYPES: [&str; 4] = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];

fn service(spec: Option<&Value>, causes: &mut Vec<Cause>) {
    let kind_value = spec.and_then(|s| s.get("type")).filter(|t| !t.is_null());
    let kind = match kind_value {
        None => "ClusterIP",
        Some(value) => match value.as_str() {
            Some(kind) if SERVICE_TYPES.contains(&kind) => kind,
            _ => {
                causes.push(Cause::not_supported("spec.type", value, &SERVICE_TYPES));
                "ClusterIP"
            }
        },
    };
    one_of(
        spec,
        "sessionAffinity",
        &["ClientIP", "None"],
        "spec",
        causes,
    );
    one_of(
        spec,
        "externalTrafficPolicy",
        &["Cluster", "Local"],
        "spec",
        causes,
    );
    one_of(
        spec,
        "internalTrafficPolicy",
        &["Cluster", "Local"],
        "spec",
        causes,
    );
    if let Some(map) = spec.and_then(|s| s.get("selector")) {
        labels(map, "spec.selector", causes);
    }
    if kind == "ExternalName" {
        match spec
            .and_then(|s| s.get("externalName"))
            .and_then(Value::as_str)
        {
            None | Some("") => causes.push(Cause::required("spec.externalName")),
            Some(name) if !is_dns1123_subdomain(name.trim_end_matches('.')) => {
                causes.push(Cause::invalid(
                    "spec.externalName",
                    &name.into(),
                    SUBDOMAIN_MESSAGE,
                ));
            }
            Some(_) => {}
        }
    }
    let headless = spec
        .and_then(|s| s.get("clusterIP"))
        .and_then(Value::as_str)
        == Some("None");
    let ports = spec.and_then(|s| s.get("ports")).filter(|p| !p.is_null());
    let Some(ports) = ports else {
        if kind != "ExternalName" && !headless {
            causes.push(Cause::required("spec.ports"));
        }
        return;
    };
    let Some(ports) = ports.as_array() else {
        causes.push(Cause::type_invalid("spec.ports", ports, "a list"));
        return;
    };
    if ports.is_empty() && kind != "ExternalName" && !headless {
        causes.push(Cause::required("spec.ports"));
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        match port.get("port") {
            None | Some(Value::Null) => causes.push(Cause::required(format!("{at}.port"))),
            Some(p) if !int(p).is_some_and(|p| (1..=65535).contains(&p)) => {
                causes.push(Cause::invalid(
                    format!("{at}.port"),
                    p,
                    "must be between 1 and 65535, inclusive",
                ));
            }
            _ => {}
        }
        one_of(Some(port), "protocol", &["TCP", "UDP", "SCTP"], &at, causes);
        if let Some(node_port) = port.get("nodePort").filter(|p| !p.is_null())
            && !int(node_port).is_some_and(|p| (0..=65535).contains(&p))
        {
            causes.push(Cause::invalid(
                format!("{at}.nodePort"),
                node_port,
                "must be between 1 and 65535, inclusive",
            ));
        }
        if let Some(target) = port.get("targetPort").filter(|p| !p.is_null()) {
            target_port(target, &format!("{at}.targetPort"), causes);
        }
        let name_value = port.get("name");
        let name = name_value.and_then(Value::as_str).unwrap_or("");
        if ports.len() > 1 && name.is_empty() {
            causes.push(Cause::required(format!("{at}.name")));
        }
        if !name.is_empty() {
            if !super::names::is_dns1123_label(name) {
                causes.push(Cause::invalid(
                    format!("{at}.name"),
                    &name.into(),
                    super::names::LABEL_MESSAGE,
                ));
            }
            if !names.insert(name) {
                causes.push(Cause::duplicate(format!("{at}.name"), &name.into()));
            }
        }
    }
}

/// A port given by number (1-65535) or by a container port's name.
fn target_port(target: &Value, at: &str, causes: &mut Vec<Cause>) {
    match target {
        Value::String(name) => {
            if let Ok(number) = name.parse::<i64>() {
                if !(1..=65535).contains(&number) {
                    causes.push(Cause::invalid(
                        at,
                        target,
                        "must be between 1 and 65535, inclusive",
                    ));
                }
            } else if let Some(problem) = port_name_problem(name) {
                causes.push(Cause::invalid(at, target, problem));
            }
        }
        other => {
            if !int(other).is_some_and(|p| (1..=65535).contains(&p)) {
                causes.push(Cause::invalid(
                    at,
                    other,
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
    }
}

const PATH_TYPES: [&str; 3] = ["Exact", "Prefix", "ImplementationSpecific"];

fn ingress(spec: Option<&Value>, causes: &mut Vec<Cause>) {
    if let Some(backend) = spec
        .and_then(|s| s.get("defaultBackend"))
        .filter(|b| !b.is_null())
    {
        ingress_backend(backend, "spec.defaultBackend", causes);
    }
    let Some(rules) = spec.and_then(|s| s.get("rules")).and_then(Value::as_array) else {
        return;
    };
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("spec.rules[{i}]");
        if let Some(host) = rule.get("host").and_then(Value::as_str)
            && !host.is_empty()
            && !is_dns1123_subdomain(host.strip_prefix("*.").unwrap_or(host))
        {
            causes.push(Cause::invalid(
                format!("{at}.host"),
                &host.into(),
                SUBDOMAIN_MESSAGE,
            ));
        }
        let Some(paths) = rule.pointer("/http/paths").and_then(Value::as_array) else {
            continue;
        };
        for (j, path) in paths.iter().enumerate() {
            let at = format!("{at}.http.paths[{j}]");
            match path.get("pathType").and_then(Value::as_str) {
                None => causes.push(Cause::required_because(
                    format!("{at}.pathType"),
                    "pathType must be specified",
                )),
                Some(kind) if !PATH_TYPES.contains(&kind) => causes.push(Cause::not_supported(
                    format!("{at}.pathType"),
                    &kind.into(),
                    &PATH_TYPES,
                )),
                Some("Exact" | "Prefix") => {
                    if !path
                        .get("path")
                        .and_then(Value::as_str)
                        .is_some_and(|p| p.starts_with('/'))
                    {
                        causes.push(Cause::invalid(
                            format!("{at}.path"),
                            path.get("path").unwrap_or(&Value::Null),
                            "must be an absolute path",
                        ));
                    }
                }
                Some(_) => {}
            }
            match path.get("backend") {
                Some(backend) if !backend.is_null() => {
                    ingress_backend(backend, &format!("{at}.backend"), causes);
                }
                _ => causes.push(Cause::required(format!("{at}.backend"))),
            }
        }
    }
}

fn ingress_backend(backend: &Value, at: &str, causes: &mut Vec<Cause>) {
    let Some(service) = backend.get("service").filter(|s| !s.is_null()) else {
        if backend.get("resource").is_none_or(Value::is_null) {
            causes.push(Cause::invalid(
                at,
                backend,
                "must specify a service or a resource",
            ));
        }
        return;
    };
    match service.get("name").and_then(Value::as_str) {
        None | Some("") => causes.push(Cause::required(format!("{at}.service.name"))),
        Some(name) if !is_dns1035_label(name) => {
            causes.push(Cause::invalid(
                format!("{at}.service.name"),
                &name.into(),
                DNS1035_MESSAGE,
            ));
        }
        Some(_) => {}
    }
    let port = service.get("port");
    let number = port.and_then(|p| p.get("number")).filter(|n| !n.is_null());
    let name = port
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty());
    match (number, name) {
        (None, None) => causes.push(Cause::required_because(
            format!("{at}.service.port"),
            "port name or number is required",
        )),
        (Some(_), Some(_)) => causes.push(Cause::invalid(
            format!("{at}.service.port"),
            port.unwrap_or(&Value::Null),
            "cannot set both port name & port number",
        )),
        (Some(number), None) => {
            if !int(number).is_some_and(|p| (1..=65535).contains(&p)) {
                causes.push(Cause::invalid(
                    format!("{at}.service.port.number"),
                    number,
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
        (None, Some(name)) => {
            if let Some(problem) = port_name_problem(name) {
                causes.push(Cause::invalid(
                    format!("{at}.service.port.name"),
                    &name.into(),
                    problem,
                ));
            }
        }
    }
}

fn autoscaler(spec: Option<&Value>, causes: &mut Vec<Cause>) {
    at_least(spec, "minReplicas", 1, "spec", causes);
    match spec.and_then(|s| s.get("maxReplicas")) {
        None | Some(Value::Null) => causes.push(Cause::required("spec.maxReplicas")),
        Some(max) => {
            let min = spec
                .and_then(|s| s.get("minReplicas"))
                .and_then(Value::as_i64)
                .unwrap_or(1);
            if !int(max).is_some_and(|m| m >= 1 && m >= min) {
                causes.push(Cause::invalid(
                    "spec.maxReplicas",
                    max,
                    "must be greater than or equal to `minReplicas` and to 1",
                ));
            }
        }
    }
    let target = spec.and_then(|s| s.get("scaleTargetRef"));
    for key in ["kind", "name"] {
        if target
            .and_then(|t| t.get(key))
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            causes.push(Cause::required(format!("spec.scaleTargetRef.{key}")));
        }
    }
}

/// A PodDisruptionBudget: one of `minAvailable` and `maxUnavailable`, each a count or a
/// percentage, and a valid selector.
fn disruption_budget(spec: Option<&Value>, causes: &mut Vec<Cause>) {
    let Some(spec) = spec else {
        return;
    };
    let given = |key: &str| present(spec.get(key));
    for key in ["minAvailable", "maxUnavailable"] {
        if let Some(value) = given(key) {
            int_or_percent(value, &format!("spec.{key}"), causes);
        }
    }
    if given("minAvailable").is_some() && given("maxUnavailable").is_some() {
        causes.push(Cause::invalid(
            "spec",
            spec,
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    if let Some(selector) = given("selector") {
        selector::check(selector, "spec.selector", causes);
    }
    one_of(
        Some(spec),
        "unhealthyPodEvictionPolicy",
        &["IfHealthyBudget", "AlwaysAllow"],
        "spec",
        causes,
    );
}

/// A count (at least 0) or a percentage (`"0%"` to `"100%"`).
fn int_or_percent(value: &Value, at: &str, causes: &mut Vec<Cause>) {
    match value {
        Value::Number(_) => {
            if int(value).is_none_or(|n| n < 0) {
                causes.push(Cause::invalid(
                    at,
                    value,
                    "must be greater than or equal to 0",
                ));
            }
        }
        Value::String(text) => {
            let percent = text
                .strip_suffix('%')
                .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .map(|digits| digits.parse::<u64>().unwrap_or(u64::MAX));
            match percent {
                None => causes.push(Cause::invalid(
                    at,
                    value,
                    "a valid percent string must be a numeric string followed by an ending '%' \
                     (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                )),
                Some(p) if p > 100 => {
                    causes.push(Cause::invalid(at, value, "must not be greater than 100%"));
                }
                Some(_) => {}
            }
        }
        other => causes.push(Cause::type_invalid(at, other, "an integer or a percentage")),
    }
}

/// A NetworkPolicy: its pod selector, policy types, and each rule's ports and peers.
fn network_policy(spec: Option<&Value>, causes: &mut Vec<Cause>) {
    let Some(spec) = spec else {
        causes.push(Cause::required("spec.podSelector"));
        return;
    };
    match present(spec.get("podSelector")) {
        // `{}` selects every pod of the namespace: allowed, but it must be given.
        Some(selector) => selector::check(selector, "spec.podSelector", causes),
        None => causes.push(Cause::required("spec.podSelector")),
    }
    if let Some(types) = spec.get("policyTypes").and_then(Value::as_array) {
        for (i, kind) in types.iter().enumerate() {
            if !matches!(kind.as_str(), Some("Ingress" | "Egress")) {
                causes.push(Cause::not_supported(
                    format!("spec.policyTypes[{i}]"),
                    kind,
                    &["Ingress", "Egress"],
                ));
            }
        }
    }
    for (direction, peers) in [("ingress", "from"), ("egress", "to")] {
        let Some(rules) = spec.get(direction).and_then(Value::as_array) else {
            continue;
        };
        for (i, rule) in rules.iter().enumerate() {
            let at = format!("spec.{direction}[{i}]");
            if let Some(ports) = rule.get("ports").and_then(Value::as_array) {
                for (j, port) in ports.iter().enumerate() {
                    policy_port(port, &format!("{at}.ports[{j}]"), causes);
                }
            }
            if let Some(list) = rule.get(peers).and_then(Value::as_array) {
                for (j, peer) in list.iter().enumerate() {
                    policy_peer(peer, &format!("{at}.{peers}[{j}]"), causes);
                }
            }
        }
    }
}

fn policy_port(port: &Value, at: &str, causes: &mut Vec<Cause>) {
    one_of(Some(port), "protocol", &["TCP", "UDP", "SCTP"], at, causes);
    let given = present(port.get("port"));
    let number = match given {
        None => None,
        Some(value @ Value::String(name)) => {
            if let Some(problem) = port_name_problem(name) {
                causes.push(Cause::invalid(format!("{at}.port"), value, problem));
            }
            None
        }
        Some(value) => match int(value) {
            Some(n) if (1..=65535).contains(&n) => Some(n),
            _ => {
                causes.push(Cause::invalid(
                    format!("{at}.port"),
                    value,
                    "must be between 1 and 65535, inclusive",
                ));
                None
            }
        },
    };
    if let Some(end) = present(port.get("endPort")) {
        match (number, int(end)) {
            (Some(start), Some(end_port)) if (start..=65535).contains(&end_port) => {}
            (None, _) if given.is_none() => causes.push(Cause::required_because(
                format!("{at}.port"),
                "must be specified when endPort is specified",
            )),
            (None, _) => causes.push(Cause::forbidden(
                format!("{at}.endPort"),
                "may not be specified when `port` is non-numeric",
            )),
            _ => causes.push(Cause::invalid(
                format!("{at}.endPort"),
                end,
                "must be greater than or equal to `port`",
            )),
        }
    }
}

fn policy_peer(peer: &Value, at: &str, causes: &mut Vec<Cause>) {
    let given = |key: &str| present(peer.get(key));
    if let Some(selector) = given("podSelector") {
        selector::check(selector, &format!("{at}.podSelector"), causes);
    }
    if let Some(selector) = given("namespaceSelector") {
        selector::check(selector, &format!("{at}.namespaceSelector"), causes);
    }
    let Some(block) = given("ipBlock") else {
        if given("podSelector").is_none() && given("namespaceSelector").is_none() {
            causes.push(Cause::required_because(at, "must specify a peer"));
        }
        return;
    };
    if given("podSelector").is_some() || given("namespaceSelector").is_some() {
        causes.push(Cause::forbidden(
            at,
            "may not specify both ipBlock and another peer",
        ));
    }
    let cidr_at = format!("{at}.ipBlock.cidr");
    let Some(cidr_value) = present(block.get("cidr")) else {
        causes.push(Cause::required(cidr_at));
        return;
    };
    let Some(network) = cidr_value.as_str().and_then(parse_cidr) else {
        causes.push(Cause::invalid(
            cidr_at,
            cidr_value,
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        ));
        return;
    };
    if let Some(except) = block.get("except").and_then(Value::as_array) {
        for (i, value) in except.iter().enumerate() {
            let except_at = format!("{at}.ipBlock.except[{i}]");
            match value.as_str().and_then(parse_cidr) {
                None => causes.push(Cause::invalid(
                    except_at,
                    value,
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                )),
                Some(inner) if !strictly_within(inner, network) => causes.push(Cause::invalid(
                    except_at,
                    value,
                    "must be a strict subset of `cidr`",
                )),
                Some(_) => {}
            }
        }
    }
}

/// `address/prefix`, the address and prefix length, when it is one.
fn parse_cidr(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (address, prefix) = text.split_once('/')?;
    let address: std::net::IpAddr = address.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    (prefix <= max && prefix.to_string() == text.split_once('/')?.1).then_some((address, prefix))
}

/// Whether network `inner` lies strictly inside `outer` (same family, longer prefix, same
/// leading bits).
fn strictly_within(inner: (std::net::IpAddr, u8), outer: (std::net::IpAddr, u8)) -> bool {
    use std::net::IpAddr;
    let bits = |address: IpAddr| -> u128 {
        match address {
            IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
            IpAddr::V6(v6) => u128::from(v6),
        }
    };
    if inner.0.is_ipv4() != outer.0.is_ipv4() || inner.1 <= outer.1 {
        return false;
    }
    let shift = if outer.0.is_ipv4() {
        32 - u32::from(outer.1) + 96
    } else {
        128 - u32::from(outer.1)
    };
    let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
    bits(inner.0) & mask == bits(outer.0) & mask
}
