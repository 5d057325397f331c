//! The verbs: get, list, create, update, patch, delete — each a small function that checks
//! the request, runs one store transaction through [`super::objects`], and answers with the
//! object (or a `Status`).
//!
//! Bodies are JSON (or YAML for creates and applies). The patch types are the API server's:
//! RFC 6902 JSON patch, RFC 7386 merge patch, strategic merge patch ([`strategic_merge`]) and
//! server-side apply ([`super::apply`]). Writes through `/status` change only the status;
//! writes through `/scale` change only `spec.replicas`.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::SandboxState;
use super::apply::{self, Applier};
use super::decode::{self, FieldValidation};
use super::managed::{Writer, manager_from_user_agent};
use super::objects::{self, Managed, Preconditions, Propagation, meta_str};
use super::resources::ResourceDef;
use super::routes::{Request, json_response};
use super::selector::{FieldSelector, LabelSelector, Selectors};
use super::status::{ApiError, ApiResult};
use super::{crd, protobuf, scale, table};

/// The object a request is about.
pub(crate) struct At<'a> {
    /// The resource.
    pub def: &'static ResourceDef,
    /// Namespace (empty for cluster-scoped).
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// `status` or `scale`.
    pub subresource: Option<&'a str>,
}

/// Parses `labelSelector` and `fieldSelector`.
pub(crate) fn selectors(def: &ResourceDef, request: &Request) -> ApiResult<Selectors> {
    Ok(Selectors {
        labels: LabelSelector::parse(request.param("labelSelector").unwrap_or(""))?,
        fields: FieldSelector::parse(request.param("fieldSelector").unwrap_or(""), def)?,
    })
}

/// Parses a JSON body, or a YAML one when `yaml_allowed`.
pub(crate) fn parse_body(bytes: &[u8], yaml_allowed: bool) -> ApiResult<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => Ok(value),
        Err(json_error) if yaml_allowed => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
            super::yaml::parse(text).map_err(|yaml_error| {
                if text.trim_start().starts_with(['{', '[']) {
                    return ApiError::bad_request(format!(
                        "the request body is not valid JSON: {json_error}"
                    ));
                }
                ApiError::bad_request(format!(
                    "error decoding YAML: error converting YAML to JSON: yaml: {}",
                    yaml_problem(&yaml_error)
                ))
            })
        }
        Err(error) => Err(ApiError::bad_request(format!(
            "the request body is not valid JSON: {error}"
        ))),
    }
}

/// A YAML parser error as go-yaml words it: `line 4: did not find expected key`. go-yaml
/// numbers the lines of parser errors from 0 and of scanner errors from 1; the messages
/// tell them apart (`while parsing …` is the parser's).
fn yaml_problem(error: &str) -> String {
    let first = error.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let Some(rest) = first.strip_prefix("line ") else {
        return first.to_owned();
    };
    let (line, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let message = rest.split_once(": ").map_or(rest, |(_, m)| m);
    let parser_error = message.starts_with("while parsing ");
    let message = message
        .strip_prefix("while parsing ")
        .and_then(|m| m.split_once(", "))
        .map_or(message, |(_, m)| m);
    let line = match line.parse::<u64>() {
        Ok(n) if parser_error => n.saturating_sub(1).to_string(),
        _ => line.to_owned(),
    };
    format!("line {line}: {message}")
}

/// The body of a create or update: JSON, YAML or Kubernetes protobuf; anything else is 415.
pub(crate) async fn object_body(def: &ResourceDef, request: &mut Request) -> ApiResult<Value> {
    let content_type = request.content_type();
    let yaml = match content_type.as_str() {
        "" | "application/json" | "*/*" => false,
        "application/yaml" => true,
        "application/vnd.kubernetes.protobuf" => {
            let bytes = request.body().await?;
            return protobuf::decode(&bytes).map_err(|error| match error {
                protobuf::DecodeError::Malformed(_) => ApiError::bad_request(error.to_string()),
                _ => ApiError::UnsupportedMediaType(error.to_string()),
            });
        }
        other => {
            tracing::debug!(content_type = other, "sandbox: unsupported body type");
            return Err(ApiError::UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types \
                 include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
                    .into(),
            ));
        }
    };
    let bytes = request.body().await?;
    if yaml || bytes.iter().all(u8::is_ascii_whitespace) {
        return parse_body(&bytes, yaml);
    }
    serde_json::from_slice::<Value>(&bytes).map_err(|error| {
        ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): couldn't get version/kind; \
             json parse error: {} ({})",
            def.kind,
            go_syntax_error(&bytes, &error),
            excerpt(&bytes),
        ))
    })
}

/// The start of a body as the API server quotes it in decoding errors: 30 bytes, then `...`.
fn excerpt(bytes: &[u8]) -> String {
    const SHOWN: usize = 30;
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.len() <= SHOWN {
        return text.to_owned();
    }
    let mut end = SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ...", &text[..end])
}

/// Checks a body's kind, apiVersion, namespace and name against the URL, and fills in what
/// the body leaves out (as the API server does).
fn check_identity(
    def: &ResourceDef,
    object: &mut Value,
    namespace: Option<&str>,
    name: Option<&str>,
) -> ApiResult<()> {
    let Some(map) = object.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): not a JSON object",
            def.kind
        )));
    };
    if let Some(kind) = map.get("kind").and_then(Value::as_str)
        && !kind.is_empty()
        && kind != def.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the body ({kind}) does not match the kind of the URL ({})",
            def.kind
        )));
    }
    if let Some(api_version) = map.get("apiVersion").and_then(Value::as_str)
        && !api_version.is_empty()
        && api_version != def.api_version
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            def.api_version
        )));
    }
    if !map.get("metadata").is_some_and(Value::is_object) {
        map.insert("metadata".into(), json!({}));
    }
    let meta = map["metadata"]
        .as_object_mut()
        .expect("just made an object");
    if def.namespaced {
        let path_ns = namespace.unwrap_or_default();
        if let Some(body_ns) = meta.get("namespace").and_then(Value::as_str)
            && !body_ns.is_empty()
            && body_ns != path_ns
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        meta.insert("namespace".into(), json!(path_ns));
    }
    if let Some(url_name) = name {
        if let Some(body_name) = meta.get("name").and_then(Value::as_str)
            && !body_name.is_empty()
            && body_name != url_name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({url_name})"
            )));
        }
        meta.insert("name".into(), json!(url_name));
    }
    Ok(())
}

/// The manager of a non-apply write: `fieldManager`, or derived from the User-Agent.
fn manager(request: &Request) -> String {
    match request.param("fieldManager") {
        Some(m) if !m.is_empty() => m.to_owned(),
        _ => manager_from_user_agent(request.header(header::USER_AGENT)),
    }
}

/// Answers with one object, as JSON or (if asked for) as a Table.
fn object_response(
    status: StatusCode,
    def: &ResourceDef,
    object: &Value,
    request: &Request,
) -> Response {
    if table::wanted(request) {
        return table::single(def, object, request);
    }
    json_response(status, object)
}

/// GET of one object (or its `/status` or `/scale`).
pub(crate) fn get(state: &SandboxState, at: &At<'_>, request: &Request) -> ApiResult<Response> {
    let object = state
        .store()
        .read(|txn| txn.get(at.def, at.namespace, at.name))
        .ok_or_else(|| ApiError::not_found(at.def, at.name))?;
    if at.subresource == Some("scale") {
        return Ok(json_response(StatusCode::OK, &scale::view(at.def, &object)));
    }
    Ok(object_response(StatusCode::OK, at.def, &object, request))
}

/// `GET …/pods/{name}/log`. The sandbox runs no containers: a container that is waiting is
/// refused as a real kubelet refuses it, and a running one answers with a line saying that
/// it is simulated.
pub(crate) fn logs(
    state: &SandboxState,
    def: &'static ResourceDef,
    namespace: &str,
    name: &str,
    request: &Request,
) -> ApiResult<Response> {
    let pod = state
        .store()
        .read(|txn| txn.get(def, namespace, name))
        .ok_or_else(|| ApiError::not_found(def, name))?;
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let wanted = request.param("container").map(str::to_owned).or_else(|| {
        containers
            .first()
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let Some(container) = wanted.as_deref().and_then(|w| {
        containers
            .iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(w))
    }) else {
        return Err(ApiError::bad_request(format!(
            "container {} is not valid for pod {name}",
            wanted.as_deref().unwrap_or("")
        )));
    };
    let container_name = container.get("name").and_then(Value::as_str).unwrap_or("");
    let image = container.get("image").and_then(Value::as_str).unwrap_or("");
    let waiting = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|statuses| {
            statuses
                .iter()
                .find(|s| s.get("name").and_then(Value::as_str) == Some(container_name))
        })
        .and_then(|s| s.pointer("/state/waiting/reason"))
        .and_then(Value::as_str);
    if let Some(reason) = waiting.or((pod
        .get("status")
        .and_then(|s| s.get("containerStatuses"))
        .is_none())
    .then_some("ContainerCreating"))
    {
        let why = if reason == "ImagePullBackOff" {
            "trying and failing to pull image".to_owned()
        } else {
            reason.to_owned()
        };
        return Err(ApiError::bad_request(format!(
            "container {container_name:?} in pod {name:?} is waiting to start: {why}"
        )));
    }
    let line = format!(
        "[tripline sandbox] container {container_name:?} ({image}) is simulated: it runs no process and writes no logs\n"
    );
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], line).into_response())
}

/// An opaque `continue` token: the last namespace and name of a page, hex-encoded.
/// A continue token in kube-apiserver's format: unpadded URL-safe base64 of
/// `{"v":"meta.k8s.io/v1","rv":N,"start":"namespace/name\u0000"}`, so clients that look
/// inside one (and error messages about a bad one) see what a real server gives.
fn encode_continue(namespace: &str, name: &str, rv: u64) -> String {
    use base64::Engine as _;
    let token =
        json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{namespace}/{name}\u{0}")});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

fn decode_continue(token: &str) -> ApiResult<(String, String)> {
    use base64::Engine as _;
    let invalid = |why: String| {
        ApiError::bad_request(format!(
            "invalid continue token: continue key is not valid: {why}"
        ))
    };
    // Lenient about the unused bits of the last symbol, as Go's decoder is.
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let bytes = lenient
        .decode(token)
        .map_err(|e| invalid(format!("illegal base64 data: {e}")))?;
    let parsed: Value =
        serde_json::from_slice(&bytes).map_err(|e| invalid(go_syntax_error(&bytes, &e)))?;
    if parsed["v"] != "meta.k8s.io/v1" {
        return Err(invalid(format!(
            "incorrect encoded start resourceVersion (version {})",
            parsed["v"]
        )));
    }
    let start = parsed["start"].as_str().unwrap_or_default();
    let start = start.strip_suffix('\u{0}').unwrap_or(start);
    let (namespace, name) = start
        .split_once('/')
        .ok_or_else(|| invalid("the start key names no object".into()))?;
    Ok((namespace.to_owned(), name.to_owned()))
}

/// A JSON syntax error in Go's words where they are easy to match (a bad first character,
/// a truncated document); serde's otherwise.
fn go_syntax_error(bytes: &[u8], error: &serde_json::Error) -> String {
    if error.classify() == serde_json::error::Category::Eof {
        return "unexpected end of JSON input".into();
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(&first)
            if !matches!(
                first,
                b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
            ) =>
        {
            let shown = if first.is_ascii_graphic() || first == b' ' {
                format!("'{}'", first as char)
            } else {
                format!("'\\u{:04x}'", first)
            };
            format!("invalid character {shown} looking for beginning of value")
        }
        _ => error.to_string(),
    }
}

/// The resourceVersion a list must be served at (`resourceVersionMatch=Exact`), or `None`
/// for the current state (no match, `NotOlderThan`: the sandbox is never behind).
fn exact_version(request: &Request) -> ApiResult<Option<u64>> {
    let rv = request.param("resourceVersion").unwrap_or_default();
    let parsed = || {
        rv.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "resourceVersion: Invalid value: {rv:?}: must be an integer"
            ))
        })
    };
    match request.param("resourceVersionMatch").unwrap_or_default() {
        "" => Ok(None),
        "Exact" | "NotOlderThan" if rv.is_empty() => Err(ApiError::bad_request(
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        )),
        "Exact" if rv == "0" => Err(ApiError::bad_request(
            "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"",
        )),
        "Exact" => parsed().map(Some),
        "NotOlderThan" => parsed().map(|_| None),
        other => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
        ))),
    }
}

fn without_type_meta(object: &Value) -> Value {
    let mut item = object.clone();
    if let Some(map) = item.as_object_mut() {
        map.shift_remove("kind");
        map.shift_remove("apiVersion");
    }
    item
}

/// LIST, with selectors and `limit`/`continue` paging.
pub(crate) fn list(
    state: &SandboxState,
    def: &'static ResourceDef,
    namespace: Option<&str>,
    request: &Request,
) -> ApiResult<Response> {
    let selectors = selectors(def, request)?;
    let namespace = namespace.filter(|_| def.namespaced);
    let (items, rv) = match exact_version(request)? {
        Some(at) => (state.store().list_at(def, namespace, at)?, at),
        None => state
            .store()
            .read(|txn| (txn.list(def, namespace), txn.rv())),
    };
    let mut items: Vec<Arc<Value>> = items.into_iter().filter(|o| selectors.matches(o)).collect();
    if let Some(token) = request.param("continue").filter(|t| !t.is_empty()) {
        let after = decode_continue(token)?;
        items.retain(|o| {
            let key = (
                meta_str(o, "namespace").unwrap_or_default().to_owned(),
                meta_str(o, "name").unwrap_or_default().to_owned(),
            );
            key > after
        });
    }
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(limit) = request
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        && items.len() > limit
    {
        let remaining = items.len() - limit;
        items.truncate(limit);
        if let Some(last) = items.last() {
            metadata["continue"] = json!(encode_continue(
                meta_str(last, "namespace").unwrap_or_default(),
                meta_str(last, "name").unwrap_or_default(),
                rv,
            ));
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    if table::wanted(request) {
        return Ok(table::list(def, &items, &metadata, request));
    }
    let list = json!({
        "kind": def.list_kind(),
        "apiVersion": def.api_version,
        "metadata": metadata,
        // A list's items carry no kind or apiVersion of their own (the list says them).
        "items": items.iter().map(|o| without_type_meta(o)).collect::<Vec<_>>(),
    });
    Ok(json_response(StatusCode::OK, &list))
}

/// POST to a collection.
pub(crate) async fn create(
    state: &SandboxState,
    def: &'static ResourceDef,
    namespace: Option<&str>,
    request: &mut Request,
) -> ApiResult<Response> {
    if def.namespaced && namespace.is_none() {
        return Err(ApiError::MethodNotAllowed(format!(
            "create {} in a namespace: POST to …/namespaces/{{namespace}}/{}",
            def.plural, def.plural
        )));
    }
    let dry_run = request.dry_run()?;
    let validation = FieldValidation::of(request)?;
    let mut object = object_body(def, request).await?;
    check_identity(def, &mut object, namespace, None)?;
    let mut warnings = decode::typed(def, &mut object, validation)?;
    warnings.extend(custom_warnings(def, &object, validation)?);
    let manager = manager(request);
    let time = objects::now();
    let writer = Writer {
        manager: &manager,
        subresource: None,
        time: &time,
    };
    let created = state.store().write(dry_run, |txn| {
        objects::create(txn, def, object, &Managed::Update(writer))
    })?;
    Ok(with_warnings(
        object_response(StatusCode::CREATED, def, &created, request),
        &warnings,
    ))
}

/// PUT of an object, its `/status` or its `/scale`.
pub(crate) async fn update(
    state: &SandboxState,
    at: &At<'_>,
    request: &mut Request,
) -> ApiResult<Response> {
    let dry_run = request.dry_run()?;
    let validation = FieldValidation::of(request)?;
    let mut body = object_body(at.def, request).await?;
    let manager = manager(request);
    let time = objects::now();
    let writer = Writer {
        manager: &manager,
        subresource: at.subresource,
        time: &time,
    };
    if at.subresource == Some("scale") {
        let updated = state.store().write(dry_run, |txn| {
            let old = txn
                .get(at.def, at.namespace, at.name)
                .ok_or_else(|| ApiError::not_found(at.def, at.name))?;
            let new = scale::set_replicas(at.def, &old, &body)?;
            objects::update(txn, at.def, &old, new, &Managed::Update(writer))
        })?;
        return Ok(json_response(
            StatusCode::OK,
            &scale::view(at.def, &updated),
        ));
    }
    check_identity(at.def, &mut body, Some(at.namespace), Some(at.name))?;
    let mut warnings = decode::typed(at.def, &mut body, validation)?;
    warnings.extend(custom_warnings(at.def, &body, validation)?);
    let updated = state.store().write(dry_run, |txn| {
        let old = txn
            .get(at.def, at.namespace, at.name)
            .ok_or_else(|| ApiError::not_found(at.def, at.name))?;
        let new = objects::for_subresource(at.def, &old, body, at.subresource);
        objects::update(txn, at.def, &old, new, &Managed::Update(writer))
    })?;
    Ok(with_warnings(
        object_response(StatusCode::OK, at.def, &updated, request),
        &warnings,
    ))
}

/// The patch formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

fn patch_kind(content_type: &str) -> ApiResult<PatchKind> {
    match content_type {
        "application/json-patch+json" => Ok(PatchKind::Json),
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
        "application/apply-patch+yaml" => Ok(PatchKind::Apply),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format ({other}) - accepted media types \
             include: application/json-patch+json, application/merge-patch+json, \
             application/apply-patch+yaml, application/strategic-merge-patch+json"
        ))),
    }
}

/// Applies a non-apply patch document to `base`.
fn apply_patch(def: &ResourceDef, kind: PatchKind, base: &Value, patch: Value) -> ApiResult<Value> {
    let mut doc = base.clone();
    match kind {
        PatchKind::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch).map_err(|e| {
                ApiError::bad_request(format!("the JSON patch is not a list of operations: {e}"))
            })?;
            json_patch::patch(&mut doc, &ops).map_err(|e| {
                // The API server says no more than this (its JSON patch library's error is
                // not passed on); the operation that failed goes to the log.
                tracing::debug!(error = %e, "sandbox: JSON patch refused");
                ApiError::Invalid {
                    message: "the server rejected our request due to an error in our request"
                        .into(),
                    details: Some(json!({})),
                }
            })?;
            Ok(doc)
        }
        PatchKind::Merge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            json_patch::merge(&mut doc, &patch);
            Ok(doc)
        }
        PatchKind::Strategic => {
            if let Some(found) = go_type_name(&patch) {
                return Err(ApiError::bad_request(format!(
                    "json: cannot unmarshal {found} into Go value of type map[string]interface {{}}"
                )));
            }
            strategic_merge::apply_to(doc, patch, def.api_version, def.kind).map_err(|e| {
                ApiError::bad_request(format!("cannot apply the strategic merge patch: {e}"))
            })
        }
        PatchKind::Apply => Err(ApiError::Internal("apply is not a patch document".into())),
    }
}

/// Applies a non-apply patch document of the given content type to `base`.
pub(crate) fn patch_document(
    def: &ResourceDef,
    content_type: &str,
    base: &Value,
    patch: Value,
) -> ApiResult<Value> {
    apply_patch(def, patch_kind(content_type)?, base, patch)
}

/// How Go's `encoding/json` names a JSON value that is not an object, in its unmarshal
/// errors; `None` for an object.
fn go_type_name(value: &Value) -> Option<&'static str> {
    match value {
        Value::Object(_) => None,
        Value::Array(_) => Some("array"),
        Value::String(_) => Some("string"),
        Value::Number(_) => Some("number"),
        Value::Bool(_) => Some("bool"),
        Value::Null => None,
    }
}

/// PATCH of an object, its `/status` or its `/scale`, in any of the four formats.
pub(crate) async fn patch(
    state: &SandboxState,
    at: &At<'_>,
    request: &mut Request,
) -> ApiResult<Response> {
    let kind = patch_kind(&request.content_type())?;
    let dry_run = request.dry_run()?;
    let validation = FieldValidation::of(request)?;
    let force = matches!(request.param("force"), Some("true" | "1"));
    if kind == PatchKind::Apply && request.param("fieldManager").is_none_or(str::is_empty) {
        return Err(ApiError::Invalid {
            message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: \
                      is required for apply patch"
                .into(),
            details: Some(json!({
                "group": "meta.k8s.io",
                "kind": "PatchOptions",
                "causes": [{
                    "reason": "FieldValueRequired",
                    "message": "Required value: is required for apply patch",
                    "field": "fieldManager",
                }],
            })),
        });
    }
    if force && kind != PatchKind::Apply {
        return Err(ApiError::bad_request(
            "force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    let bytes = request.body().await?;
    let body = parse_body(&bytes, kind == PatchKind::Apply)?;
    let manager = manager(request);
    let time = objects::now();
    if kind == PatchKind::Apply && at.subresource.is_none() {
        return server_side_apply(state, at, body, &manager, force, &time, dry_run, request);
    }
    let writer = Writer {
        manager: &manager,
        subresource: at.subresource,
        time: &time,
    };
    if kind == PatchKind::Apply && at.subresource == Some("scale") {
        let applier = Applier {
            manager: &manager,
            force,
            time: &time,
        };
        let updated = state.store().write(dry_run, |txn| {
            let old = txn
                .get(at.def, at.namespace, at.name)
                .ok_or_else(|| ApiError::not_found(at.def, at.name))?;
            let scaled = scale::set_replicas(at.def, &old, &body)?;
            let new = apply::apply_scale(&old, scaled, &applier, at.def.api_version)?;
            objects::update(txn, at.def, &old, new, &Managed::Keep)
        })?;
        return Ok(json_response(
            StatusCode::OK,
            &scale::view(at.def, &updated),
        ));
    }
    let mut warnings = Vec::new();
    let updated = state.store().write(dry_run, |txn| {
        let old = txn
            .get(at.def, at.namespace, at.name)
            .ok_or_else(|| ApiError::not_found(at.def, at.name))?;
        let new = match at.subresource {
            Some("scale") => {
                let kind = if kind == PatchKind::Apply {
                    PatchKind::Merge
                } else {
                    kind
                };
                let patched = apply_patch(at.def, kind, &scale::view(at.def, &old), body)?;
                scale::set_replicas(at.def, &old, &patched)?
            }
            _ => {
                // Apply through /status is treated as a merge of the status it sends.
                let kind = if kind == PatchKind::Apply {
                    PatchKind::Merge
                } else {
                    kind
                };
                let mut patched = apply_patch(at.def, kind, &old, body)?;
                check_identity(at.def, &mut patched, Some(at.namespace), Some(at.name))?;
                warnings = decode::typed(at.def, &mut patched, validation)?;
                objects::for_subresource(at.def, &old, patched, at.subresource)
            }
        };
        objects::update(txn, at.def, &old, new, &Managed::Update(writer))
    })?;
    if at.subresource == Some("scale") {
        return Ok(json_response(
            StatusCode::OK,
            &scale::view(at.def, &updated),
        ));
    }
    Ok(with_warnings(
        object_response(StatusCode::OK, at.def, &updated, request),
        &warnings,
    ))
}

/// The `Warning` header values for the fields a custom resource's schema does not declare
/// (built-in kinds are [`decode::typed`]'s).
fn custom_warnings(
    def: &ResourceDef,
    object: &Value,
    validation: FieldValidation,
) -> ApiResult<Vec<String>> {
    Ok(crd::field_validation(def, object, validation)?
        .iter()
        .map(|warning| format!("299 - {warning:?}"))
        .collect())
}

/// Adds `Warning` headers to a response.
fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        if let Ok(value) = axum::http::HeaderValue::from_str(warning) {
            response
                .headers_mut()
                .append(axum::http::header::WARNING, value);
        }
    }
    response
}

#[allow(clippy::too_many_arguments)]
fn server_side_apply(
    state: &SandboxState,
    at: &At<'_>,
    mut config: Value,
    manager: &str,
    force: bool,
    time: &str,
    dry_run: bool,
    request: &Request,
) -> ApiResult<Response> {
    let Some(map) = config.as_object() else {
        return Err(ApiError::bad_request(
            "the applied configuration must be an object",
        ));
    };
    if let Some(refusal) = crd::apply_refusal(at.def, &config) {
        return Ok(refusal);
    }
    let api_version = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
    if api_version.is_empty() || kind.is_empty() {
        // As the API server words it: the group/version and kind it could read.
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        return Err(ApiError::bad_request(format!(
            "invalid object type: {group}/{version}, Kind={kind}"
        )));
    }
    check_identity(at.def, &mut config, Some(at.namespace), Some(at.name))?;
    decode::applied(at.def, at.name, &config)?;
    let applier = Applier {
        manager,
        force,
        time,
    };
    let (object, created) = state.store().write(dry_run, |txn| {
        match txn.get(at.def, at.namespace, at.name) {
            None => {
                let new = apply::apply(at.def, None, config, &applier)?;
                Ok((objects::create(txn, at.def, new, &Managed::Keep)?, true))
            }
            Some(old) => {
                let new = apply::apply(at.def, Some(&old), config, &applier)?;
                let new = objects::for_subresource(at.def, &old, new, None);
                Ok((
                    objects::update(txn, at.def, &old, new, &Managed::Keep)?,
                    false,
                ))
            }
        }
    })?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(object_response(status, at.def, &object, request))
}

/// `DeleteOptions` from the body and the query.
fn delete_options(
    bytes: &[u8],
    request: &Request,
) -> ApiResult<(Propagation, Preconditions, bool)> {
    let options = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_body(bytes, false)?
    };
    let policy = request
        .param("propagationPolicy")
        .or_else(|| options.get("propagationPolicy").and_then(Value::as_str));
    let propagation = match policy {
        None | Some("Background" | "Foreground") => Propagation::Background,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let propagation = if options.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
        Propagation::Orphan
    } else {
        propagation
    };
    let text = |pointer: &str| {
        options
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let preconditions = Preconditions {
        uid: text("/preconditions/uid"),
        resource_version: text("/preconditions/resourceVersion"),
    };
    let dry_run = request.dry_run()?
        || options
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok((propagation, preconditions, dry_run))
}

/// What a delete answers: the object for pods and services (as the real server), a
/// success `Status` for the rest.
fn deleted_response(def: &ResourceDef, object: &Value) -> Response {
    if matches!((def.group, def.kind), ("", "Pod" | "Service")) {
        return json_response(StatusCode::OK, object);
    }
    let mut details = json!({"name": meta_str(object, "name").unwrap_or_default()});
    if !def.group.is_empty() {
        details["group"] = json!(def.group);
    }
    details["kind"] = json!(def.plural);
    details["uid"] = json!(meta_str(object, "uid").unwrap_or_default());
    json_response(
        StatusCode::OK,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
    )
}

/// DELETE of one object.
pub(crate) async fn delete(
    state: &SandboxState,
    at: &At<'_>,
    request: &mut Request,
) -> ApiResult<Response> {
    let bytes = request.body().await?;
    let (propagation, preconditions, dry_run) = delete_options(&bytes, request)?;
    let deleted = state.store().write(dry_run, |txn| {
        objects::delete(
            txn,
            at.def,
            at.namespace,
            at.name,
            propagation,
            &preconditions,
        )
    })?;
    Ok(deleted_response(at.def, &deleted))
}

/// DELETE of a collection (with selectors); answers with the list of deleted objects.
pub(crate) async fn delete_collection(
    state: &SandboxState,
    def: &'static ResourceDef,
    namespace: Option<&str>,
    request: &mut Request,
) -> ApiResult<Response> {
    if def.kind == "Namespace" {
        return Err(ApiError::MethodNotAllowed(
            "namespaces are deleted one at a time".into(),
        ));
    }
    let selectors = selectors(def, request)?;
    let bytes = request.body().await?;
    let (propagation, _, dry_run) = delete_options(&bytes, request)?;
    let namespace = namespace.filter(|_| def.namespaced);
    let (deleted, rv) = state.store().write(dry_run, |txn| {
        let mut deleted = Vec::new();
        for object in txn.list(def, namespace) {
            if !selectors.matches(&object) {
                continue;
            }
            let ns = meta_str(&object, "namespace")
                .unwrap_or_default()
                .to_owned();
            let name = meta_str(&object, "name").unwrap_or_default().to_owned();
            // Dependents already removed with an earlier owner are skipped.
            if txn.get(def, &ns, &name).is_some() {
                deleted.push(objects::delete(
                    txn,
                    def,
                    &ns,
                    &name,
                    propagation,
                    &Preconditions::default(),
                )?);
            }
        }
        Ok((deleted, txn.rv()))
    })?;
    let list = json!({
        "kind": def.list_kind(),
        "apiVersion": def.api_version,
        "metadata": {"resourceVersion": rv.to_string()},
        "items": deleted.iter().map(|o| o.as_ref()).collect::<Vec<_>>(),
    });
    Ok(json_response(StatusCode::OK, &list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = encode_continue("ns", "name", 42);
        assert_eq!(
            decode_continue(&token).unwrap(),
            ("ns".into(), "name".into())
        );
        // The real server's format: base64 of a JSON object naming the start key.
        use base64::Engine as _;
        let inside = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .unwrap();
        let inside: Value = serde_json::from_slice(&inside).unwrap();
        assert_eq!(
            inside,
            json!({"v": "meta.k8s.io/v1", "rv": 42, "start": "ns/name\u{0}"})
        );
        for bad in ["zz", "abc", "6e73", "!!!", "e30"] {
            assert!(decode_continue(bad).is_err(), "{bad}");
        }
        assert_eq!(
            decode_continue("garbage").unwrap_err().to_string(),
            "invalid continue token: continue key is not valid: invalid character '\\u0081' \
             looking for beginning of value"
        );
    }

    #[test]
    fn yaml_errors_are_worded_as_go_yaml_words_them() {
        let error = super::super::yaml::parse(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n data: [\n",
        )
        .unwrap_err();
        assert_eq!(
            yaml_problem(&error),
            "line 4: did not find expected key",
            "{error}"
        );
        assert_eq!(yaml_problem("something else"), "something else");
    }

    #[test]
    fn patch_types_come_from_the_content_type() {
        assert_eq!(
            patch_kind("application/merge-patch+json").unwrap(),
            PatchKind::Merge
        );
        assert_eq!(
            patch_kind("application/apply-patch+yaml").unwrap(),
            PatchKind::Apply
        );
        assert_eq!(patch_kind("text/plain").unwrap_err().code().as_u16(), 415);
    }
}
