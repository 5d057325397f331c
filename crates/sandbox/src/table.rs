//! Server-side printing: `meta.k8s.io/v1` `Table` answers for `kubectl get`.
//!
//! kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. The columns follow
//! the real server's for the kinds people look at (pods: READY, STATUS, RESTARTS, AGE;
//! deployments: READY, UP-TO-DATE, AVAILABLE, AGE; services: TYPE, CLUSTER-IP, …); other
//! kinds get NAME and AGE. Each row carries the object's metadata (or the object, with
//! `includeObject=Object`) so kubectl can add namespace columns and sort.

use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::objects::meta_str;
use super::resources::ResourceDef;
use super::routes::{Request, json_response_as};

const TABLE_CONTENT_TYPE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Whether the client asked for a Table.
pub(crate) fn wanted(request: &Request) -> bool {
    request
        .header(header::ACCEPT)
        .unwrap_or("")
        .split(',')
        .any(|range| {
            let params: Vec<String> = range.split(';').map(|p| p.trim().to_owned()).collect();
            params.iter().any(|p| p == "as=Table")
                && params.iter().any(|p| p == "g=meta.k8s.io")
                && params.iter().any(|p| p == "v=v1" || p == "v=v1beta1")
        })
}

struct Column {
    name: &'static str,
    ty: &'static str,
    priority: u8,
    description: &'static str,
}

const fn col(
    name: &'static str,
    ty: &'static str,
    priority: u8,
    description: &'static str,
) -> Column {
    Column {
        name,
        ty,
        priority,
        description,
    }
}

const NAME: Column = col(
    "Name",
    "string",
    0,
    "Name must be unique within a namespace.",
);
const AGE: Column = col(
    "Age",
    "string",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

fn columns(def: &ResourceDef) -> Vec<Column> {
    match (def.group, def.kind) {
        ("", "Pod") => vec![
            NAME,
            col(
                "Ready",
                "string",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            col(
                "Status",
                "string",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            col(
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted.",
            ),
            AGE,
            col("IP", "string", 1, "IP address allocated to the pod."),
            col("Node", "string", 1, "Name of the node this pod runs on."),
        ],
        ("apps", "Deployment") => vec![
            NAME,
            col("Ready", "string", 0, "Number of the pod with ready state"),
            col(
                "Up-to-date",
                "integer",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            col(
                "Available",
                "integer",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            AGE,
            col(
                "Containers",
                "string",
                1,
                "Names of each container in the template.",
            ),
            col(
                "Images",
                "string",
                1,
                "Images referenced by each container in the template.",
            ),
            col("Selector", "string", 1, "Label selector for pods."),
        ],
        ("apps", "ReplicaSet") => vec![
            NAME,
            col("Desired", "integer", 0, "Number of desired pods."),
            col("Current", "integer", 0, "Number of actual replicas."),
            col(
                "Ready",
                "integer",
                0,
                "The number of ready replicas for this replica set.",
            ),
            AGE,
        ],
        ("apps", "StatefulSet") => vec![
            NAME,
            col("Ready", "string", 0, "Number of the pod with ready state"),
            AGE,
        ],
        ("apps", "DaemonSet") => vec![
            NAME,
            col(
                "Desired",
                "integer",
                0,
                "The desired number of nodes that should be running the daemon pod.",
            ),
            col(
                "Current",
                "integer",
                0,
                "The number of nodes that are running at least 1 daemon pod.",
            ),
            col(
                "Ready",
                "integer",
                0,
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
            ),
            col(
                "Up-to-date",
                "integer",
                0,
                "The total number of nodes that are running updated daemon pod",
            ),
            col(
                "Available",
                "integer",
                0,
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.",
            ),
            AGE,
        ],
        ("", "Service") => vec![
            NAME,
            col("Type", "string", 0, "The type of the service."),
            col("Cluster-IP", "string", 0, "The IP address of the service."),
            col("External-IP", "string", 0, "External IPs of the service."),
            col("Port(s)", "string", 0, "The ports of the service."),
            AGE,
            col(
                "Selector",
                "string",
                1,
                "Route service traffic to pods with label keys and values matching this selector.",
            ),
        ],
        ("", "Namespace") => vec![
            NAME,
            col("Status", "string", 0, "The status of the namespace"),
            AGE,
        ],
        ("", "ConfigMap") => vec![
            NAME,
            col("Data", "integer", 0, "Number of data entries."),
            AGE,
        ],
        ("", "Secret") => vec![
            NAME,
            col("Type", "string", 0, "The type of the secret"),
            col("Data", "integer", 0, "Number of data entries."),
            AGE,
        ],
        ("batch", "Job") => vec![
            NAME,
            col("Status", "string", 0, "Status of the job."),
            col(
                "Completions",
                "string",
                0,
                "The desired number of successfully finished pods the job should be run with.",
            ),
            AGE,
        ],
        ("", "Node") => vec![
            NAME,
            col("Status", "string", 0, "The status of the node"),
            col("Roles", "string", 0, "The roles of the node"),
            AGE,
            col(
                "Version",
                "string",
                0,
                "Kubelet Version reported by the node.",
            ),
        ],
        ("", "Event") => vec![
            col(
                "Last Seen",
                "string",
                0,
                "Time when this Event was last seen",
            ),
            col(
                "Type",
                "string",
                0,
                "Type of this event (Normal, Warning), new types could be added in the future.",
            ),
            col(
                "Reason",
                "string",
                0,
                "The reason this event was generated.",
            ),
            col(
                "Object",
                "string",
                0,
                "The object that this event is about.",
            ),
            col(
                "Message",
                "string",
                0,
                "A human-readable description of the status of this operation.",
            ),
        ],
        _ => vec![NAME, AGE],
    }
}

fn int(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `kubectl`'s short ages: `45s`, `3m12s`, `5h`, `2d3h`, `400d`.
pub(crate) fn age(created: &str) -> String {
    let Ok(created) = created.parse::<jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let seconds = jiff::Timestamp::now().as_second() - created.as_second();
    if seconds < -1 {
        return "<invalid>".into();
    }
    let seconds = seconds.max(0);
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let days = hours / 24;
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        }
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        }
    } else if days < 365 * 2 {
        format!("{days}d")
    } else {
        format!("{}y", days / 365)
    }
}

fn pod_status(pod: &Value) -> String {
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    let mut status = text(pod, "/status/phase").to_owned();
    if let Some(statuses) = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
    {
        for s in statuses {
            if let Some(reason) = s.pointer("/state/waiting/reason").and_then(Value::as_str) {
                status = reason.to_owned();
            } else if let Some(reason) = s
                .pointer("/state/terminated/reason")
                .and_then(Value::as_str)
            {
                status = reason.to_owned();
            }
        }
    }
    if status.is_empty() {
        "Unknown".into()
    } else {
        status
    }
}

fn cells(def: &ResourceDef, o: &Value) -> Vec<Value> {
    let name = json!(meta_str(o, "name").unwrap_or_default());
    let age = json!(age(meta_str(o, "creationTimestamp").unwrap_or_default()));
    let containers = o
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let join = |field: &str| {
        containers
            .iter()
            .map(|c| c.get(field).and_then(Value::as_str).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(",")
    };
    match (def.group, def.kind) {
        ("", "Pod") => {
            let statuses = o
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total = o
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses
                .iter()
                .filter(|s| s["ready"] == json!(true))
                .count();
            let restarts: i64 = statuses
                .iter()
                .filter_map(|s| s.get("restartCount").and_then(Value::as_i64))
                .sum();
            let or_none = |s: &str| {
                if s.is_empty() {
                    "<none>".to_owned()
                } else {
                    s.to_owned()
                }
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(o)),
                json!(restarts.to_string()),
                age,
                json!(or_none(text(o, "/status/podIP"))),
                json!(or_none(text(o, "/spec/nodeName"))),
            ]
        }
        ("apps", "Deployment") => vec![
            name,
            json!(format!(
                "{}/{}",
                int(o, "/status/readyReplicas"),
                int(o, "/spec/replicas")
            )),
            json!(int(o, "/status/updatedReplicas")),
            json!(int(o, "/status/availableReplicas")),
            age,
            json!(join("name")),
            json!(join("image")),
            json!(super::scale::view(def, o)["status"]["selector"]),
        ],
        ("apps", "ReplicaSet") => vec![
            name,
            json!(int(o, "/spec/replicas")),
            json!(int(o, "/status/replicas")),
            json!(int(o, "/status/readyReplicas")),
            age,
        ],
        ("apps", "StatefulSet") => vec![
            name,
            json!(format!(
                "{}/{}",
                int(o, "/status/readyReplicas"),
                int(o, "/spec/replicas")
            )),
            age,
        ],
        ("apps", "DaemonSet") => vec![
            name,
            json!(int(o, "/status/desiredNumberScheduled")),
            json!(int(o, "/status/currentNumberScheduled")),
            json!(int(o, "/status/numberReady")),
            json!(int(o, "/status/updatedNumberScheduled")),
            json!(int(o, "/status/numberAvailable")),
            age,
        ],
        ("", "Service") => {
            let ports: Vec<String> = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map(|ports| {
                    ports
                        .iter()
                        .map(|p| {
                            let node = p
                                .get("nodePort")
                                .and_then(Value::as_i64)
                                .map(|n| format!(":{n}"))
                                .unwrap_or_default();
                            format!(
                                "{}{node}/{}",
                                p.get("port").and_then(Value::as_i64).unwrap_or(0),
                                p.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let selector = o
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .map(|s| {
                    s.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_else(|| "<none>".into());
            vec![
                name,
                json!(text(o, "/spec/type")),
                json!(text(o, "/spec/clusterIP")),
                json!(if text(o, "/spec/type") == "LoadBalancer" {
                    "<pending>"
                } else {
                    "<none>"
                }),
                json!(if ports.is_empty() {
                    "<none>".into()
                } else {
                    ports.join(",")
                }),
                age,
                json!(selector),
            ]
        }
        ("", "Namespace") => vec![name, json!(text(o, "/status/phase")), age],
        ("", "ConfigMap") => {
            let count = ["data", "binaryData"]
                .iter()
                .filter_map(|f| o.get(*f).and_then(Value::as_object))
                .map(|m| m.len())
                .sum::<usize>();
            vec![name, json!(count), age]
        }
        ("", "Secret") => vec![
            name,
            json!(text(o, "/type")),
            json!(
                o.get("data")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
            ),
            age,
        ],
        ("batch", "Job") => {
            let complete = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Complete" && c["status"] == "True")
                });
            vec![
                name,
                json!(if complete { "Complete" } else { "Running" }),
                json!(format!(
                    "{}/{}",
                    int(o, "/status/succeeded"),
                    int(o, "/spec/completions").max(1)
                )),
                age,
            ]
        }
        ("", "Node") => vec![
            name,
            json!("Ready"),
            json!("control-plane"),
            age,
            json!(super::discovery::GIT_VERSION),
        ],
        ("", "Event") => {
            let kind = text(o, "/involvedObject/kind").to_ascii_lowercase();
            vec![
                json!(self::age(text(o, "/lastTimestamp"))),
                json!(text(o, "/type")),
                json!(text(o, "/reason")),
                json!(format!("{kind}/{}", text(o, "/involvedObject/name"))),
                json!(text(o, "/message")),
            ]
        }
        _ => vec![name, age],
    }
}

fn row(def: &ResourceDef, object: &Value, include: &str) -> Value {
    row_with(cells(def, object), object, include)
}

/// A row of `cells`, with the object as `includeObject` asks.
pub(crate) fn row_with(cells: Vec<Value>, object: &Value, include: &str) -> Value {
    let mut row = json!({"cells": cells});
    match include {
        "None" => {}
        "Object" => row["object"] = object.clone(),
        _ => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": object.get("metadata").cloned().unwrap_or(json!({})),
            });
        }
    }
    row
}

fn table_value(def: &ResourceDef, objects: &[&Value], metadata: &Value, include: &str) -> Value {
    if let Some(kind) = def.custom_kind() {
        return super::crd::table::value(&kind, objects, metadata, include);
    }
    let columns: Vec<Value> = columns(def)
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.ty,
                "format": if c.name == "Name" { "name" } else { "" },
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objects.iter().map(|o| row(def, o, include)).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

fn table(def: &ResourceDef, objects: &[&Value], metadata: &Value, request: &Request) -> Response {
    let include = request.param("includeObject").unwrap_or("Metadata");
    json_response_as(
        StatusCode::OK,
        &table_value(def, objects, metadata, include),
        TABLE_CONTENT_TYPE,
    )
}

/// What `includeObject` a Table request asks for, if the request wants a Table at all (a
/// watch sends each event's object as a one-row Table then).
pub(crate) fn watch_format(request: &Request) -> Option<String> {
    wanted(request).then(|| {
        request
            .param("includeObject")
            .unwrap_or("Metadata")
            .to_owned()
    })
}

/// One object as a one-row Table, for a watch event.
pub(crate) fn event_object(def: &ResourceDef, object: &Value, include: &str) -> Value {
    let metadata =
        json!({"resourceVersion": meta_str(object, "resourceVersion").unwrap_or_default()});
    table_value(def, &[object], &metadata, include)
}

/// A Table of one object.
pub(crate) fn single(def: &ResourceDef, object: &Value, request: &Request) -> Response {
    let metadata =
        json!({"resourceVersion": meta_str(object, "resourceVersion").unwrap_or_default()});
    table(def, &[object], &metadata, request)
}

/// A Table of a list.
pub(crate) fn list(
    def: &ResourceDef,
    items: &[std::sync::Arc<Value>],
    metadata: &Value,
    request: &Request,
) -> Response {
    let objects: Vec<&Value> = items.iter().map(|o| o.as_ref()).collect();
    table(def, &objects, metadata, request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let ago = |s: i64| {
            jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - s)
                .unwrap()
                .to_string()
        };
        for (seconds, expected) in [
            (5, "5s"),
            (119, "119s"),
            (125, "2m5s"),
            (3600, "60m"),
            (4 * 3600 + 60, "4h1m"),
            (30 * 3600, "30h"),
            (3 * 86400 + 3600, "3d1h"),
            (100 * 86400, "100d"),
        ] {
            assert_eq!(age(&ago(seconds)), expected, "{seconds}");
        }
    }

    #[test]
    fn pod_status_prefers_waiting_reasons() {
        let pod = json!({"status": {"phase": "Pending", "containerStatuses": [
            {"state": {"waiting": {"reason": "ImagePullBackOff"}}}
        ]}});
        assert_eq!(pod_status(&pod), "ImagePullBackOff");
    }
}
