//! HTTP routing: from a URL and a method to a handler.
//!
//! Discovery (`/version`, `/api`, `/apis`, `/apis/{group}[/{version}]`) and OpenAPI are
//! served by [`super::discovery`] and [`super::openapi`]. Every other `/api/…` and `/apis/…`
//! path is parsed into a [`Target`] — a collection (`…/namespaces/{ns}/{resource}`, or
//! `…/{resource}` across namespaces) or an object (`…/{resource}/{name}[/{subresource}]`) —
//! and handed, with its verb, to [`super::handlers`]. Request bodies are read here, with the
//! size limit.

use std::collections::HashMap;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

use super::SandboxState;
use super::resources::{self, ResourceDef};
use super::status::{ApiError, ApiResult};
use super::{discovery, handlers, openapi, versions, watch};

/// The largest request body accepted (the API server's own limit is 3 MiB too).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// What a resource URL names.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A collection: one namespace's, or (for `None`) every namespace's or the cluster's.
    Collection {
        /// The resource.
        def: &'static ResourceDef,
        /// The namespace in the path.
        namespace: Option<String>,
    },
    /// One object, or one of its subresources.
    Object {
        /// The resource.
        def: &'static ResourceDef,
        /// The namespace (empty for cluster-scoped objects).
        namespace: String,
        /// The name.
        name: String,
        /// `status` or `scale`.
        subresource: Option<String>,
    },
}

impl Target {
    /// The resource the target is of.
    pub fn def(&self) -> &'static ResourceDef {
        match self {
            Target::Collection { def, .. } | Target::Object { def, .. } => def,
        }
    }

    /// The same target in another resource (a stored version of a served one).
    pub fn with_def(self, other: &'static ResourceDef) -> Target {
        match self {
            Target::Collection { namespace, .. } => Target::Collection {
                def: other,
                namespace,
            },
            Target::Object {
                namespace,
                name,
                subresource,
                ..
            } => Target::Object {
                def: other,
                namespace,
                name,
                subresource,
            },
        }
    }
}

/// The request around a target: query, headers and (unread) body.
pub(crate) struct Request {
    /// The method.
    pub method: Method,
    /// Query parameters.
    pub query: HashMap<String, String>,
    /// Headers.
    pub headers: HeaderMap,
    /// The body, read on demand with [`Request::body`].
    body: Option<Body>,
}

impl Request {
    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// A header as text.
    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The media type of the body (`application/json`), without parameters.
    pub fn content_type(&self) -> String {
        self.header(header::CONTENT_TYPE)
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }

    /// Reads the body, refusing more than [`MAX_BODY_BYTES`] with 413.
    pub async fn body(&mut self) -> ApiResult<Bytes> {
        let too_large = || {
            ApiError::TooLarge(format!(
                "the request body is larger than the {MAX_BODY_BYTES}-byte limit"
            ))
        };
        if let Some(length) = self
            .header(header::CONTENT_LENGTH)
            .and_then(|l| l.parse::<usize>().ok())
            && length > MAX_BODY_BYTES
        {
            return Err(too_large());
        }
        let Some(body) = self.body.take() else {
            return Ok(Bytes::new());
        };
        axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|error| {
                if error.to_string().contains("length limit") {
                    too_large()
                } else {
                    ApiError::bad_request(format!("could not read the request body: {error}"))
                }
            })
    }

    /// Replaces the body with a JSON document of this content type (a converted one, see
    /// [`super::versions`]).
    pub fn replace_body(&mut self, json: Vec<u8>, content_type: &'static str) {
        self.headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(content_type),
        );
        self.headers.remove(header::CONTENT_LENGTH);
        self.body = Some(Body::from(json));
    }

    /// A request with this query and nothing else, for tests.
    #[cfg(test)]
    pub fn for_test(query: &str) -> Request {
        Request {
            method: Method::GET,
            query: form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// `dryRun=All`.
    pub fn dry_run(&self) -> ApiResult<bool> {
        match self.param("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "unsupported dryRun value {other:?}: the only supported value is \"All\""
            ))),
        }
    }
}

/// The sandbox's HTTP API.
pub fn router(state: SandboxState) -> Router {
    Router::new()
        .route("/version", get(discovery::version))
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .route("/api", get(discovery::core_versions))
        .route("/apis", get(discovery::groups))
        .route("/openapi/v2", get(openapi::v2))
        .route("/openapi/v3", get(openapi::v3_root))
        .route("/openapi/v3/{*path}", get(openapi::v3_document))
        .route("/api/{*rest}", any(resource))
        .route("/apis/{*rest}", any(resource))
        .fallback(not_found)
        .with_state(state)
}

async fn ok() -> &'static str {
    "ok"
}

/// 404 for a path the API does not have.
pub(crate) fn unknown_path() -> ApiError {
    ApiError::NotFound {
        message: "the server could not find the requested resource".into(),
        details: Some(json!({})),
    }
}

/// 404 for a group/version the server does not serve at all: the plain-text answer of the
/// real server's HTTP mux, not a `Status` (a CRD's group before it is established).
pub(crate) fn page_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

async fn not_found() -> Response {
    unknown_path().into_response()
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    json_response_as(status, value, "application/json")
}

/// A JSON response with a specific content type (aggregated discovery, Table).
pub(crate) fn json_response_as(status: StatusCode, value: &Value, content_type: &str) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (
        status,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CACHE_CONTROL, "no-cache, private".to_owned()),
        ],
        body,
    )
        .into_response()
}

async fn resource(
    State(state): State<SandboxState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match dispatch(&state, method, &uri, headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn parse_query(uri: &Uri) -> ApiResult<HashMap<String, String>> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))
}

async fn dispatch(
    state: &SandboxState,
    method: Method,
    uri: &Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group] => {
            require_get(&method)?;
            return discovery::group(state, group);
        }
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(unknown_path()),
    };
    if rest.is_empty() {
        require_get(&method)?;
        return discovery::resource_list(state, group, version, &headers);
    }
    let custom = |g: &str, v: &str, p: &str| state.store().read(|txn| txn.custom().lookup(g, v, p));
    let built_in_group = resources::group_versions().contains(&(group, version));
    if !built_in_group
        && !state
            .store()
            .read(|txn| txn.custom().serves(group, version))
    {
        return Ok(page_not_found());
    }
    let target = parse_target_with(group, version, rest, &|g, v, p| {
        resources::lookup(g, v, p).or_else(|| custom(g, v, p))
    })?;
    let mut request = Request {
        method,
        query: parse_query(uri)?,
        headers,
        body: Some(body),
    };
    route(state, target, &mut request).await
}

fn require_get(method: &Method) -> ApiResult<()> {
    if method == Method::GET {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed(format!(
            "the server does not allow this method on the requested resource ({method})"
        )))
    }
}

/// Parses a path's resource part against the built-in table only.
#[cfg(test)]
pub(crate) fn parse_target(group: &str, version: &str, rest: &[&str]) -> ApiResult<Target> {
    parse_target_with(group, version, rest, &resources::lookup)
}

/// Parses the part of a path after `/api/v1` or `/apis/{group}/{version}`, finding resources
/// with `lookup` (the built-in table, then the served custom resources).
fn parse_target_with(
    group: &str,
    version: &str,
    rest: &[&str],
    lookup: &dyn Fn(&str, &str, &str) -> Option<&'static ResourceDef>,
) -> ApiResult<Target> {
    let def_of = |plural: &str| lookup(group, version, plural).ok_or_else(unknown_path);
    let namespaced_resource =
        |plural: &str| lookup(group, version, plural).filter(|d| d.namespaced);
    match rest {
        ["namespaces", ns, plural, tail @ ..] if namespaced_resource(plural).is_some() => {
            let def = def_of(plural)?;
            match tail {
                [] => Ok(Target::Collection {
                    def,
                    namespace: Some((*ns).to_owned()),
                }),
                [name] => Ok(object(def, ns, name, None)),
                [name, sub] => Ok(object(def, ns, name, Some(sub))),
                _ => Err(unknown_path()),
            }
        }
        [plural] => Ok(Target::Collection {
            def: def_of(plural)?,
            namespace: None,
        }),
        [plural, name] => {
            let def = def_of(plural)?;
            if def.namespaced {
                return Err(unknown_path());
            }
            Ok(object(def, "", name, None))
        }
        [plural, name, sub] => {
            let def = def_of(plural)?;
            if def.namespaced {
                return Err(unknown_path());
            }
            Ok(object(def, "", name, Some(sub)))
        }
        _ => Err(unknown_path()),
    }
}

fn object(def: &'static ResourceDef, ns: &str, name: &str, sub: Option<&str>) -> Target {
    Target::Object {
        def,
        namespace: ns.to_owned(),
        name: name.to_owned(),
        subresource: sub.map(str::to_owned),
    }
}

fn method_not_allowed(method: &Method) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "the server does not allow this method on the requested resource ({method})"
    ))
}

pub(crate) async fn route(
    state: &SandboxState,
    target: Target,
    request: &mut Request,
) -> ApiResult<Response> {
    if let Some(stored) = versions::stored_as(target.def()) {
        let served = target.def();
        return versions::serve(state, served, stored, target, request).await;
    }
    let method = request.method.clone();
    match target {
        Target::Collection { def, namespace } => {
            let watching = matches!(request.param("watch"), Some("true" | "1"));
            match method {
                Method::GET if watching => watch::serve(state, def, namespace, request),
                Method::GET => handlers::list(state, def, namespace.as_deref(), request),
                Method::POST => handlers::create(state, def, namespace.as_deref(), request).await,
                Method::DELETE => {
                    handlers::delete_collection(state, def, namespace.as_deref(), request).await
                }
                _ => Err(method_not_allowed(&method)),
            }
        }
        Target::Object {
            def,
            namespace,
            name,
            subresource,
        } => {
            let sub = subresource.as_deref();
            match sub {
                None => {}
                Some("status") if def.status => {}
                Some("scale") if def.scale => {}
                Some("log") if def.kind == "Pod" && method == Method::GET => {
                    return handlers::logs(state, def, &namespace, &name, request);
                }
                Some(_) => return Err(unknown_path()),
            }
            let at = handlers::At {
                def,
                namespace: &namespace,
                name: &name,
                subresource: sub,
            };
            match method {
                Method::GET => handlers::get(state, &at, request),
                Method::PUT => handlers::update(state, &at, request).await,
                Method::PATCH => handlers::patch(state, &at, request).await,
                Method::DELETE if sub.is_none() => handlers::delete(state, &at, request).await,
                _ => Err(method_not_allowed(&method)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_collections_and_objects() {
        let cases: &[(&str, &str, &[&str], &str)] = &[
            ("apps", "v1", &["deployments"], "collection deployments all"),
            (
                "apps",
                "v1",
                &["namespaces", "ns", "deployments"],
                "collection deployments ns",
            ),
            (
                "apps",
                "v1",
                &["namespaces", "ns", "deployments", "d"],
                "object deployments ns/d -",
            ),
            (
                "apps",
                "v1",
                &["namespaces", "ns", "deployments", "d", "scale"],
                "object deployments ns/d scale",
            ),
            ("", "v1", &["namespaces"], "collection namespaces all"),
            ("", "v1", &["namespaces", "ns"], "object namespaces /ns -"),
            (
                "",
                "v1",
                &["namespaces", "ns", "status"],
                "object namespaces /ns status",
            ),
            ("", "v1", &["nodes", "n"], "object nodes /n -"),
        ];
        for (group, version, rest, expected) in cases {
            let described = match parse_target(group, version, rest).unwrap() {
                Target::Collection { def, namespace } => format!(
                    "collection {} {}",
                    def.plural,
                    namespace.as_deref().unwrap_or("all")
                ),
                Target::Object {
                    def,
                    namespace,
                    name,
                    subresource,
                } => format!(
                    "object {} {namespace}/{name} {}",
                    def.plural,
                    subresource.as_deref().unwrap_or("-")
                ),
            };
            assert_eq!(&described, expected, "{rest:?}");
        }
        for rest in [
            &["widgets"][..],
            &["deployments", "d"][..],
            &["namespaces", "ns", "widgets"][..],
        ] {
            assert!(parse_target("apps", "v1", rest).is_err(), "{rest:?}");
        }
    }
}
