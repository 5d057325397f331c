//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), for the kinds kubectl's
//! typed commands create: `kubectl create namespace|configmap|secret|serviceaccount|
//! deployment|job|cronjob|service|role|clusterrole|rolebinding|clusterrolebinding`.
//!
//! kubectl (≥ 1.32) sends those bodies as protobuf and does not fall back to JSON. A body is
//! the `k8s\0` magic, then a `runtime.Unknown` envelope holding the object's `TypeMeta` and
//! its encoded bytes. [`decode`] turns those bytes into the JSON the rest of the sandbox
//! works with, using a table of the field numbers of the messages involved (from the
//! Kubernetes `generated.proto` files). Go writes every non-pointer field even when empty, so
//! fields missing from the table are accepted when they hold a zero value and refused (415)
//! when they hold data: a field is never silently dropped.

use serde_json::{Map, Value, json};

use super::defaults::base64;

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// The bytes are not protobuf, or not the Kubernetes envelope.
    #[error("the protobuf body is malformed: {0}")]
    Malformed(&'static str),
    /// The kind has no decoding table here.
    #[error(
        "protobuf bodies of kind {0:?} are not supported by the sandbox: send JSON or YAML (for example kubectl apply -f or kubectl create -f)"
    )]
    Kind(String),
    /// A field the table does not know carries data.
    #[error(
        "the protobuf body sets field {number} of {message}, which the sandbox does not decode: send JSON or YAML (for example kubectl apply -f)"
    )]
    Field {
        /// The message.
        message: &'static str,
        /// The field number.
        number: u64,
    },
}

type Result<T> = std::result::Result<T, DecodeError>;

/// How a field's value is read.
#[derive(Debug, Clone, Copy)]
enum Kind {
    String,
    /// A varint; zero is dropped (a non-pointer Go field).
    Int,
    /// A varint of a pointer Go field: zero is kept.
    OptInt,
    Bool,
    OptBool,
    Message(&'static Msg),
    StringMap,
    /// `map<string, bytes>`, base64 in JSON.
    BytesMap,
    /// `map<string, Quantity>`.
    QuantityMap,
    IntOrString,
    Time,
    /// Known and ignored (status, read-only fields).
    Skip,
}

#[derive(Debug)]
struct Field {
    number: u64,
    name: &'static str,
    kind: Kind,
    repeated: bool,
}

/// One protobuf message's fields.
#[derive(Debug)]
struct Msg {
    name: &'static str,
    fields: &'static [Field],
}

const fn one(number: u64, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        repeated: false,
    }
}

const fn many(number: u64, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        repeated: true,
    }
}

use Kind::String as Str;
use Kind::{
    Bool, BytesMap, Int, IntOrString, Message, OptBool, OptInt, QuantityMap, Skip, StringMap, Time,
};

static OWNER_REFERENCE: Msg = Msg {
    name: "OwnerReference",
    fields: &[
        one(5, "apiVersion", Str),
        one(1, "kind", Str),
        one(3, "name", Str),
        one(4, "uid", Str),
        one(6, "controller", OptBool),
        one(7, "blockOwnerDeletion", OptBool),
    ],
};

static OBJECT_META: Msg = Msg {
    name: "ObjectMeta",
    fields: &[
        one(1, "name", Str),
        one(2, "generateName", Str),
        one(3, "namespace", Str),
        one(4, "selfLink", Skip),
        one(5, "uid", Str),
        one(6, "resourceVersion", Str),
        one(7, "generation", Int),
        one(8, "creationTimestamp", Time),
        one(9, "deletionTimestamp", Time),
        one(10, "deletionGracePeriodSeconds", OptInt),
        one(11, "labels", StringMap),
        one(12, "annotations", StringMap),
        many(13, "ownerReferences", Message(&OWNER_REFERENCE)),
        many(14, "finalizers", Str),
        one(17, "managedFields", Skip),
    ],
};

static LABEL_SELECTOR_REQUIREMENT: Msg = Msg {
    name: "LabelSelectorRequirement",
    fields: &[
        one(1, "key", Str),
        one(2, "operator", Str),
        many(3, "values", Str),
    ],
};

static LABEL_SELECTOR: Msg = Msg {
    name: "LabelSelector",
    fields: &[
        one(1, "matchLabels", StringMap),
        many(2, "matchExpressions", Message(&LABEL_SELECTOR_REQUIREMENT)),
    ],
};

static LOCAL_OBJECT_REFERENCE: Msg = Msg {
    name: "LocalObjectReference",
    fields: &[one(1, "name", Str)],
};

static OBJECT_REFERENCE: Msg = Msg {
    name: "ObjectReference",
    fields: &[
        one(1, "kind", Str),
        one(2, "namespace", Str),
        one(3, "name", Str),
        one(4, "uid", Str),
        one(5, "apiVersion", Str),
        one(6, "resourceVersion", Str),
        one(7, "fieldPath", Str),
    ],
};

static CONTAINER_PORT: Msg = Msg {
    name: "ContainerPort",
    fields: &[
        one(1, "name", Str),
        one(2, "hostPort", Int),
        one(3, "containerPort", Int),
        one(4, "protocol", Str),
        one(5, "hostIP", Str),
    ],
};

static ENV_VAR: Msg = Msg {
    name: "EnvVar",
    fields: &[one(1, "name", Str), one(2, "value", Str)],
};

static RESOURCE_REQUIREMENTS: Msg = Msg {
    name: "ResourceRequirements",
    fields: &[
        one(1, "limits", QuantityMap),
        one(2, "requests", QuantityMap),
    ],
};

static VOLUME_MOUNT: Msg = Msg {
    name: "VolumeMount",
    fields: &[
        one(1, "name", Str),
        one(2, "readOnly", Bool),
        one(3, "mountPath", Str),
        one(4, "subPath", Str),
        one(5, "mountPropagation", Str),
        one(6, "subPathExpr", Str),
        one(7, "recursiveReadOnly", Str),
    ],
};

/// Messages kubectl sends empty (`securityContext: {}`); any content is refused.
static EMPTY: Msg = Msg {
    name: "(a message the sandbox does not decode)",
    fields: &[],
};

static CONTAINER: Msg = Msg {
    name: "Container",
    fields: &[
        one(1, "name", Str),
        one(2, "image", Str),
        many(3, "command", Str),
        many(4, "args", Str),
        one(5, "workingDir", Str),
        many(6, "ports", Message(&CONTAINER_PORT)),
        many(7, "env", Message(&ENV_VAR)),
        one(8, "resources", Message(&RESOURCE_REQUIREMENTS)),
        many(9, "volumeMounts", Message(&VOLUME_MOUNT)),
        one(13, "terminationMessagePath", Str),
        one(14, "imagePullPolicy", Str),
        one(15, "securityContext", Message(&EMPTY)),
        one(16, "stdin", Bool),
        one(17, "stdinOnce", Bool),
        one(18, "tty", Bool),
        one(20, "terminationMessagePolicy", Str),
        one(24, "restartPolicy", Str),
    ],
};

static POD_SPEC: Msg = Msg {
    name: "PodSpec",
    fields: &[
        many(2, "containers", Message(&CONTAINER)),
        one(3, "restartPolicy", Str),
        one(4, "terminationGracePeriodSeconds", OptInt),
        one(5, "activeDeadlineSeconds", OptInt),
        one(6, "dnsPolicy", Str),
        one(7, "nodeSelector", StringMap),
        one(8, "serviceAccountName", Str),
        one(9, "serviceAccount", Str),
        one(10, "nodeName", Str),
        one(11, "hostNetwork", Bool),
        one(12, "hostPID", Bool),
        one(13, "hostIPC", Bool),
        one(14, "securityContext", Message(&EMPTY)),
        many(15, "imagePullSecrets", Message(&LOCAL_OBJECT_REFERENCE)),
        one(16, "hostname", Str),
        one(17, "subdomain", Str),
        one(19, "schedulerName", Str),
        many(20, "initContainers", Message(&CONTAINER)),
        one(21, "automountServiceAccountToken", OptBool),
        one(24, "priorityClassName", Str),
        one(25, "priority", OptInt),
        one(27, "shareProcessNamespace", OptBool),
        one(29, "runtimeClassName", Str),
        one(30, "enableServiceLinks", OptBool),
        one(31, "preemptionPolicy", Str),
        one(35, "setHostnameAsFQDN", OptBool),
        one(37, "hostUsers", OptBool),
    ],
};

static POD_TEMPLATE_SPEC: Msg = Msg {
    name: "PodTemplateSpec",
    fields: &[
        one(1, "metadata", Message(&OBJECT_META)),
        one(2, "spec", Message(&POD_SPEC)),
    ],
};

static ROLLING_UPDATE_DEPLOYMENT: Msg = Msg {
    name: "RollingUpdateDeployment",
    fields: &[
        one(1, "maxUnavailable", IntOrString),
        one(2, "maxSurge", IntOrString),
    ],
};

static DEPLOYMENT_STRATEGY: Msg = Msg {
    name: "DeploymentStrategy",
    fields: &[
        one(1, "type", Str),
        one(2, "rollingUpdate", Message(&ROLLING_UPDATE_DEPLOYMENT)),
    ],
};

static DEPLOYMENT_SPEC: Msg = Msg {
    name: "DeploymentSpec",
    fields: &[
        one(1, "replicas", OptInt),
        one(2, "selector", Message(&LABEL_SELECTOR)),
        one(3, "template", Message(&POD_TEMPLATE_SPEC)),
        one(4, "strategy", Message(&DEPLOYMENT_STRATEGY)),
        one(5, "minReadySeconds", Int),
        one(6, "revisionHistoryLimit", OptInt),
        one(7, "paused", Bool),
        one(9, "progressDeadlineSeconds", OptInt),
    ],
};

static JOB_SPEC: Msg = Msg {
    name: "JobSpec",
    fields: &[
        one(1, "parallelism", OptInt),
        one(2, "completions", OptInt),
        one(3, "activeDeadlineSeconds", OptInt),
        one(4, "selector", Message(&LABEL_SELECTOR)),
        one(5, "manualSelector", OptBool),
        one(6, "template", Message(&POD_TEMPLATE_SPEC)),
        one(7, "backoffLimit", OptInt),
        one(8, "ttlSecondsAfterFinished", OptInt),
        one(9, "completionMode", Str),
        one(10, "suspend", OptBool),
        one(14, "podReplacementPolicy", Str),
        one(15, "managedBy", Str),
    ],
};

static JOB_TEMPLATE_SPEC: Msg = Msg {
    name: "JobTemplateSpec",
    fields: &[
        one(1, "metadata", Message(&OBJECT_META)),
        one(2, "spec", Message(&JOB_SPEC)),
    ],
};

static CRON_JOB_SPEC: Msg = Msg {
    name: "CronJobSpec",
    fields: &[
        one(1, "schedule", Str),
        one(2, "startingDeadlineSeconds", OptInt),
        one(3, "concurrencyPolicy", Str),
        one(4, "suspend", OptBool),
        one(5, "jobTemplate", Message(&JOB_TEMPLATE_SPEC)),
        one(6, "successfulJobsHistoryLimit", OptInt),
        one(7, "failedJobsHistoryLimit", OptInt),
        one(8, "timeZone", Str),
    ],
};

static SERVICE_PORT: Msg = Msg {
    name: "ServicePort",
    fields: &[
        one(1, "name", Str),
        one(2, "protocol", Str),
        one(3, "port", Int),
        one(4, "targetPort", IntOrString),
        one(5, "nodePort", Int),
        one(6, "appProtocol", Str),
    ],
};

static SERVICE_SPEC: Msg = Msg {
    name: "ServiceSpec",
    fields: &[
        many(1, "ports", Message(&SERVICE_PORT)),
        one(2, "selector", StringMap),
        one(3, "clusterIP", Str),
        one(4, "type", Str),
        many(5, "externalIPs", Str),
        one(7, "sessionAffinity", Str),
        one(8, "loadBalancerIP", Str),
        many(9, "loadBalancerSourceRanges", Str),
        one(10, "externalName", Str),
        one(11, "externalTrafficPolicy", Str),
        one(12, "healthCheckNodePort", Int),
        one(13, "publishNotReadyAddresses", Bool),
        one(17, "ipFamilyPolicy", Str),
        many(18, "clusterIPs", Str),
        many(19, "ipFamilies", Str),
        one(20, "allocateLoadBalancerNodePorts", OptBool),
        one(21, "loadBalancerClass", Str),
        one(22, "internalTrafficPolicy", Str),
    ],
};

static POLICY_RULE: Msg = Msg {
    name: "PolicyRule",
    fields: &[
        many(1, "verbs", Str),
        many(2, "apiGroups", Str),
        many(3, "resources", Str),
        many(4, "resourceNames", Str),
        many(5, "nonResourceURLs", Str),
    ],
};

static AGGREGATION_RULE: Msg = Msg {
    name: "AggregationRule",
    fields: &[many(1, "clusterRoleSelectors", Message(&LABEL_SELECTOR))],
};

static SUBJECT: Msg = Msg {
    name: "Subject",
    fields: &[
        one(1, "kind", Str),
        one(2, "apiGroup", Str),
        one(3, "name", Str),
        one(4, "namespace", Str),
    ],
};

static ROLE_REF: Msg = Msg {
    name: "RoleRef",
    fields: &[
        one(1, "apiGroup", Str),
        one(2, "kind", Str),
        one(3, "name", Str),
    ],
};

const META: Field = one(1, "metadata", Message(&OBJECT_META));
const STATUS: Field = one(3, "status", Skip);

static NAMESPACE_SPEC: Msg = Msg {
    name: "NamespaceSpec",
    fields: &[many(1, "finalizers", Str)],
};

static NAMESPACE: Msg = Msg {
    name: "Namespace",
    fields: &[META, one(2, "spec", Message(&NAMESPACE_SPEC)), STATUS],
};

static CONFIG_MAP: Msg = Msg {
    name: "ConfigMap",
    fields: &[
        META,
        one(2, "data", StringMap),
        one(3, "binaryData", BytesMap),
        one(4, "immutable", OptBool),
    ],
};

static SECRET: Msg = Msg {
    name: "Secret",
    fields: &[
        META,
        one(2, "data", BytesMap),
        one(3, "type", Str),
        one(4, "stringData", StringMap),
        one(5, "immutable", OptBool),
    ],
};

static SERVICE_ACCOUNT: Msg = Msg {
    name: "ServiceAccount",
    fields: &[
        META,
        many(2, "secrets", Message(&OBJECT_REFERENCE)),
        many(3, "imagePullSecrets", Message(&LOCAL_OBJECT_REFERENCE)),
        one(4, "automountServiceAccountToken", OptBool),
    ],
};

static DEPLOYMENT: Msg = Msg {
    name: "Deployment",
    fields: &[META, one(2, "spec", Message(&DEPLOYMENT_SPEC)), STATUS],
};

static JOB: Msg = Msg {
    name: "Job",
    fields: &[META, one(2, "spec", Message(&JOB_SPEC)), STATUS],
};

static CRON_JOB: Msg = Msg {
    name: "CronJob",
    fields: &[META, one(2, "spec", Message(&CRON_JOB_SPEC)), STATUS],
};

static SERVICE: Msg = Msg {
    name: "Service",
    fields: &[META, one(2, "spec", Message(&SERVICE_SPEC)), STATUS],
};

static ROLE: Msg = Msg {
    name: "Role",
    fields: &[META, many(2, "rules", Message(&POLICY_RULE))],
};

static CLUSTER_ROLE: Msg = Msg {
    name: "ClusterRole",
    fields: &[
        META,
        many(2, "rules", Message(&POLICY_RULE)),
        one(3, "aggregationRule", Message(&AGGREGATION_RULE)),
    ],
};

static ROLE_BINDING: Msg = Msg {
    name: "RoleBinding",
    fields: &[
        META,
        many(2, "subjects", Message(&SUBJECT)),
        one(3, "roleRef", Message(&ROLE_REF)),
    ],
};

fn schema(kind: &str) -> Option<&'static Msg> {
    Some(match kind {
        "Namespace" => &NAMESPACE,
        "ConfigMap" => &CONFIG_MAP,
        "Secret" => &SECRET,
        "ServiceAccount" => &SERVICE_ACCOUNT,
        "Deployment" => &DEPLOYMENT,
        "Job" => &JOB,
        "CronJob" => &CRON_JOB,
        "Service" => &SERVICE,
        "Role" => &ROLE,
        "ClusterRole" => &CLUSTER_ROLE,
        "RoleBinding" | "ClusterRoleBinding" => &ROLE_BINDING,
        _ => return None,
    })
}

/// A field as it is on the wire.
enum Wire<'a> {
    Varint(u64),
    Fixed(u64),
    Bytes(&'a [u8]),
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.at)
                .ok_or(DecodeError::Malformed("truncated varint"))?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::Malformed("varint too long"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(DecodeError::Malformed("truncated field"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    /// The next field, or `None` at the end.
    fn field(&mut self) -> Result<Option<(u64, Wire<'a>)>> {
        if self.at >= self.bytes.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed(u64::from_le_bytes(
                self.take(8)?.try_into().expect("8 bytes"),
            )),
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| DecodeError::Malformed("length too large"))?;
                Wire::Bytes(self.take(len)?)
            }
            5 => Wire::Fixed(u64::from(u32::from_le_bytes(
                self.take(4)?.try_into().expect("4 bytes"),
            ))),
            _ => return Err(DecodeError::Malformed("unsupported wire type")),
        };
        Ok(Some((key >> 3, wire)))
    }
}

fn fields(bytes: &[u8]) -> Result<Vec<(u64, Wire<'_>)>> {
    let mut reader = Reader { bytes, at: 0 };
    let mut out = Vec::new();
    while let Some(field) = reader.field()? {
        out.push(field);
    }
    Ok(out)
}

/// Whether a field holds nothing: zero, empty, or a message of such fields.
fn is_zero(wire: &Wire<'_>, depth: usize) -> bool {
    match wire {
        Wire::Varint(v) | Wire::Fixed(v) => *v == 0,
        Wire::Bytes([]) => true,
        Wire::Bytes(b) => {
            depth < 16 && fields(b).is_ok_and(|fs| fs.iter().all(|(_, w)| is_zero(w, depth + 1)))
        }
    }
}

fn text(wire: &Wire<'_>) -> Result<String> {
    match wire {
        Wire::Bytes(b) => String::from_utf8(b.to_vec())
            .map_err(|_| DecodeError::Malformed("a string is not UTF-8")),
        _ => Err(DecodeError::Malformed("expected a length-delimited string")),
    }
}

fn bytes<'a>(wire: &Wire<'a>) -> Result<&'a [u8]> {
    match wire {
        Wire::Bytes(b) => Ok(b),
        _ => Err(DecodeError::Malformed("expected a length-delimited field")),
    }
}

fn varint(wire: &Wire<'_>) -> Result<u64> {
    match wire {
        Wire::Varint(v) => Ok(*v),
        _ => Err(DecodeError::Malformed("expected a varint")),
    }
}

/// A map entry message: key (1), value (2).
fn entry<'a>(wire: &Wire<'a>) -> Result<(String, Option<Wire<'a>>)> {
    let mut key = String::new();
    let mut value = None;
    for (number, w) in fields(bytes(wire)?)? {
        match number {
            1 => key = text(&w)?,
            2 => value = Some(w),
            _ => {}
        }
    }
    Ok((key, value))
}

fn quantity(wire: &Wire<'_>) -> Result<Value> {
    let mut out = String::new();
    for (number, w) in fields(bytes(wire)?)? {
        if number == 1 {
            out = text(&w)?;
        }
    }
    Ok(json!(out))
}

fn int_or_string(wire: &Wire<'_>) -> Result<Option<Value>> {
    let (mut ty, mut int, mut string) = (0, 0i64, String::new());
    for (number, w) in fields(bytes(wire)?)? {
        match number {
            1 => ty = varint(&w)?,
            2 => int = varint(&w)? as i32 as i64,
            3 => string = text(&w)?,
            _ => {}
        }
    }
    Ok(Some(if ty == 1 { json!(string) } else { json!(int) }))
}

fn time(wire: &Wire<'_>) -> Result<Option<Value>> {
    let (mut seconds, mut nanos) = (0i64, 0i64);
    for (number, w) in fields(bytes(wire)?)? {
        match number {
            1 => seconds = varint(&w)? as i64,
            2 => nanos = varint(&w)? as i32 as i64,
            _ => {}
        }
    }
    if seconds == 0 && nanos == 0 {
        return Ok(None);
    }
    Ok(jiff::Timestamp::from_second(seconds)
        .ok()
        .map(|t| json!(t.to_string())))
}

/// One field's JSON value; `None` when it is a zero value the API omits.
fn value(field: &Field, wire: &Wire<'_>, depth: usize) -> Result<Option<Value>> {
    Ok(match field.kind {
        Str => Some(json!(text(wire)?)).filter(|v| v != "" || field.repeated),
        Int => {
            let v = varint(wire)? as i64;
            (v != 0).then(|| json!(v as i32 as i64))
        }
        OptInt => Some(json!(varint(wire)? as i64)),
        Bool => (varint(wire)? != 0).then_some(json!(true)),
        OptBool => Some(json!(varint(wire)? != 0)),
        Message(msg) => {
            let map = message(bytes(wire)?, msg, depth + 1)?;
            (!map.is_empty() || field.repeated).then_some(Value::Object(map))
        }
        IntOrString => int_or_string(wire)?,
        Time => time(wire)?,
        Skip | StringMap | BytesMap | QuantityMap => None,
    })
}

fn message(bytes_in: &[u8], msg: &'static Msg, depth: usize) -> Result<Map<String, Value>> {
    if depth > 32 {
        return Err(DecodeError::Malformed("nested too deeply"));
    }
    let mut out = Map::new();
    for (number, wire) in fields(bytes_in)? {
        let Some(field) = msg.fields.iter().find(|f| f.number == number) else {
            if is_zero(&wire, 0) {
                continue;
            }
            return Err(DecodeError::Field {
                message: msg.name,
                number,
            });
        };
        match field.kind {
            StringMap | BytesMap | QuantityMap => {
                let (key, entry_value) = entry(&wire)?;
                let rendered = match (field.kind, entry_value) {
                    (_, None) => json!(""),
                    (StringMap, Some(w)) => json!(text(&w)?),
                    (BytesMap, Some(w)) => json!(base64(bytes(&w)?)),
                    (_, Some(w)) => quantity(&w)?,
                };
                let map = out
                    .entry(field.name)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(map) = map.as_object_mut() {
                    map.insert(key, rendered);
                }
            }
            _ => {
                let Some(v) = value(field, &wire, depth)? else {
                    continue;
                };
                if field.repeated {
                    let list = out.entry(field.name).or_insert_with(|| json!([]));
                    if let Some(list) = list.as_array_mut() {
                        list.push(v);
                    }
                } else {
                    out.insert(field.name.to_owned(), v);
                }
            }
        }
    }
    Ok(out)
}

/// Decodes a Kubernetes protobuf body into a JSON object.
pub(crate) fn decode(body: &[u8]) -> Result<Value> {
    let envelope = body
        .strip_prefix(b"k8s\0")
        .ok_or(DecodeError::Malformed("missing the k8s protobuf magic"))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), None);
    for (number, wire) in fields(envelope)? {
        match number {
            1 => {
                for (n, w) in fields(bytes(&wire)?)? {
                    match n {
                        1 => api_version = text(&w)?,
                        2 => kind = text(&w)?,
                        _ => {}
                    }
                }
            }
            2 => raw = Some(bytes(&wire)?),
            3 | 4 if !is_zero(&wire, 0) => {
                return Err(DecodeError::Malformed(
                    "encoded or nested content types are not supported",
                ));
            }
            _ => {}
        }
    }
    let msg = schema(&kind).ok_or_else(|| DecodeError::Kind(kind.clone()))?;
    let fields = message(raw.unwrap_or_default(), msg, 0)?;
    let mut object = Map::new();
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    object.extend(fields);
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(number: u64, wire: u64) -> Vec<u8> {
        varint_bytes((number << 3) | wire)
    }

    fn varint_bytes(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn ld(number: u64, content: &[u8]) -> Vec<u8> {
        let mut out = key(number, 2);
        out.extend(varint_bytes(content.len() as u64));
        out.extend(content);
        out
    }

    fn num(number: u64, v: u64) -> Vec<u8> {
        let mut out = key(number, 0);
        out.extend(varint_bytes(v));
        out
    }

    fn envelope(kind: &str, api_version: &str, raw: &[u8]) -> Vec<u8> {
        let mut type_meta = ld(1, api_version.as_bytes());
        type_meta.extend(ld(2, kind.as_bytes()));
        let mut body = b"k8s\0".to_vec();
        body.extend(ld(1, &type_meta));
        body.extend(ld(2, raw));
        body.extend(ld(3, b""));
        body.extend(ld(4, b""));
        body
    }

    #[test]
    fn a_config_map_decodes_with_zero_fields_dropped() {
        let mut meta = ld(1, b"settings");
        meta.extend(ld(2, b""));
        meta.extend(num(7, 0));
        meta.extend(ld(8, &num(1, 0))); // a zero creationTimestamp
        let mut label = ld(1, b"app");
        label.extend(ld(2, b"web"));
        meta.extend(ld(11, &label));
        let mut raw = ld(1, &meta);
        let mut data = ld(1, b"greeting");
        data.extend(ld(2, b"hello"));
        raw.extend(ld(2, &data));
        let decoded = decode(&envelope("ConfigMap", "v1", &raw)).unwrap();
        assert_eq!(
            decoded,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "settings", "labels": {"app": "web"}},
                   "data": {"greeting": "hello"}})
        );
    }

    #[test]
    fn unknown_fields_with_data_are_refused_and_zero_ones_skipped() {
        let mut raw = ld(1, &ld(1, b"x"));
        raw.extend(num(99, 0));
        assert!(decode(&envelope("ConfigMap", "v1", &raw)).is_ok());
        raw.extend(num(98, 5));
        assert_eq!(
            decode(&envelope("ConfigMap", "v1", &raw)).unwrap_err(),
            DecodeError::Field {
                message: "ConfigMap",
                number: 98
            }
        );
        assert!(matches!(
            decode(&envelope("Widget", "v1", &ld(1, b""))),
            Err(DecodeError::Kind(_))
        ));
        for garbage in [&b"not protobuf"[..], b"k8s\0\xff", b"k8s\0\x0a\x05ab"] {
            assert!(decode(garbage).is_err());
        }
    }

    #[test]
    fn secrets_carry_base64_data_and_pointer_zeros_survive() {
        let mut entry = ld(1, b"password");
        entry.extend(ld(2, b"hunter2"));
        let mut raw = ld(1, &ld(1, b"s"));
        raw.extend(ld(2, &entry));
        raw.extend(ld(3, b"Opaque"));
        let decoded = decode(&envelope("Secret", "v1", &raw)).unwrap();
        assert_eq!(decoded["data"]["password"], "aHVudGVyMg==");
        let mut spec = num(1, 0); // replicas: 0, a pointer field
        spec.extend(num(7, 0)); // paused: false
        let mut raw = ld(1, &ld(1, b"d"));
        raw.extend(ld(2, &spec));
        let decoded = decode(&envelope("Deployment", "apps/v1", &raw)).unwrap();
        assert_eq!(decoded["spec"], json!({"replicas": 0}));
    }
}
