//! Reading a write's body as a built-in kind, as kube-apiserver's decoder does: fields the
//! Kubernetes schema does not declare, and values of the wrong JSON type.
//!
//! The schema is the one templates are checked against ([`tripline_validation::schema`]). What
//! the API server does with a problem depends on the verb:
//!
//! - **create, update, patch**: a wrong type is 400 (`json: cannot unmarshal string into Go
//!   struct field DeploymentSpec.spec.replicas of type int32`). An undeclared field follows
//!   the request's `fieldValidation`: `Strict` refuses it with 400 (`strict decoding error:
//!   unknown field "…"`); `Warn` — the default — drops it and says so in a `Warning` header;
//!   `Ignore` drops it silently.
//! - **server-side apply**: either is 500 (`failed to create typed patch object …: field not
//!   declared in schema`), whatever `fieldValidation` says: the applied configuration cannot
//!   be typed at all.
//!
//! Kinds the schema does not describe pass unchecked.

use serde_json::Value;

use super::fields;
use super::resources::ResourceDef;
use super::routes::Request;
use super::status::{ApiError, ApiResult};
use tripline_validation::schema::{Problem, Schema, Step};

/// What to do with undeclared fields (`?fieldValidation=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    /// Refuse the request.
    Strict,
    /// Drop them, with a `Warning` header each (the default).
    Warn,
    /// Drop them.
    Ignore,
}

impl FieldValidation {
    /// Reads `fieldValidation`; an unknown value is 400, as on a real server.
    pub(crate) fn of(request: &Request) -> ApiResult<FieldValidation> {
        match request.param("fieldValidation").unwrap_or_default() {
            "" | "Warn" => Ok(FieldValidation::Warn),
            "Strict" => Ok(FieldValidation::Strict),
            "Ignore" => Ok(FieldValidation::Ignore),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }
}

fn problems(def: &ResourceDef, object: &Value) -> Vec<Problem> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .unwrap_or(def.api_version);
    Schema::embedded().problems(api_version, def.kind, object)
}

/// `spec.template.spec.containers[0].imagePullPolcy`: the notation of strict decoding errors.
fn dotted(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Field(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Key(key) => out.push_str(&format!("[{key}]")),
        }
    }
    out
}

/// `spec.template.spec.containers.image`: the notation of Go's `encoding/json` errors.
fn go_field_path(path: &[Step]) -> String {
    path.iter()
        .filter_map(|step| match step {
            Step::Field(name) | Step::Key(name) => Some(name.as_str()),
            Step::Index(_) => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn remove(object: &mut Value, path: &[Step]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = object;
    for step in parents {
        let next = match step {
            Step::Field(name) | Step::Key(name) => at.get_mut(name.as_str()),
            Step::Index(i) => at.get_mut(*i),
        };
        match next {
            Some(next) => at = next,
            None => return,
        }
    }
    if let (Step::Field(name) | Step::Key(name), Some(map)) = (last, at.as_object_mut()) {
        map.shift_remove(name);
    }
}

/// Checks the body of a create, update or patch of `def`; drops undeclared fields unless
/// `validation` refuses them. Returns the `Warning` header values to send.
pub(crate) fn typed(
    def: &ResourceDef,
    object: &mut Value,
    validation: FieldValidation,
) -> ApiResult<Vec<String>> {
    let found = problems(def, object);
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let version = def
        .api_version
        .rsplit('/')
        .next()
        .unwrap_or(def.api_version);
    let prefix = format!(
        "{kind} in version {version:?} cannot be handled as a {kind}",
        kind = def.kind
    );
    if let Some(wrong) = found.iter().find(|p| !p.unknown) {
        return Err(ApiError::bad_request(format!(
            "{prefix}: json: cannot unmarshal {} into Go struct field {}.{} of type {}",
            wrong.found,
            wrong.holder,
            go_field_path(&wrong.path),
            wrong.go_type
        )));
    }
    let unknown: Vec<String> = found
        .iter()
        .map(|p| format!("unknown field {:?}", dotted(&p.path)))
        .collect();
    if validation == FieldValidation::Strict {
        return Err(ApiError::bad_request(format!(
            "{prefix}: strict decoding error: {}",
            unknown.join(", ")
        )));
    }
    for problem in found.iter().rev() {
        remove(object, &problem.path);
    }
    Ok(match validation {
        FieldValidation::Warn => unknown
            .iter()
            .map(|message| format!("299 - {message:?}"))
            .collect(),
        _ => Vec::new(),
    })
}

/// Checks an applied configuration of `def` named `name`: it must type-check entirely.
pub(crate) fn applied(def: &ResourceDef, name: &str, config: &Value) -> ApiResult<()> {
    let found = problems(def, config);
    if found.is_empty() {
        return Ok(());
    }
    let ty = strategic_merge::schema::for_kind(def.group, def.kind);
    let errors: Vec<String> = found
        .iter()
        .map(|problem| {
            let path = fields::display(&fields::path_of_steps(config, ty, &problem.path));
            let what = if problem.unknown {
                "field not declared in schema".to_owned()
            } else {
                format!(
                    "expected {}, got {}",
                    typed_name(&problem.go_type),
                    problem.found
                )
            };
            format!("{path}: {what}")
        })
        .collect();
    let errors = match errors.as_slice() {
        [one] => one.clone(),
        many => format!("errors:\n  {}", many.join("\n  ")),
    };
    let (group, version) = def
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", def.api_version));
    let gvk = if group.is_empty() {
        format!("/{version}, Kind={}", def.kind)
    } else {
        format!("{group}/{version}, Kind={}", def.kind)
    };
    Err(ApiError::TypedPatch(format!(
        "failed to create typed patch object (/{name}; {gvk}): {errors}"
    )))
}

/// How server-side apply names the type it expected.
fn typed_name(go_type: &str) -> &'static str {
    match go_type {
        "int32" | "int64" | "float64" => "numeric (int or float)",
        "bool" => "boolean",
        "string" => "string",
        t if t.starts_with("[]") => "list",
        _ => "map",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::resources::lookup;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "demo"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "demo"}},
                "template": {"metadata": {"labels": {"app": "demo"}},
                    "spec": {"containers": [{"name": "demo", "image": "nginx", "imagePullPolcy": "Always"}]}}
            }
        })
    }

    #[test]
    fn undeclared_fields_follow_field_validation() {
        let def = lookup("apps", "v1", "deployments").unwrap();
        let mut strict = deployment();
        let error = typed(def, &mut strict, FieldValidation::Strict).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding \
             error: unknown field \"spec.template.spec.containers[0].imagePullPolcy\""
        );
        let mut warned = deployment();
        let warnings = typed(def, &mut warned, FieldValidation::Warn).unwrap();
        assert_eq!(
            warnings,
            ["299 - \"unknown field \\\"spec.template.spec.containers[0].imagePullPolcy\\\"\""]
        );
        assert!(
            warned
                .pointer("/spec/template/spec/containers/0/imagePullPolcy")
                .is_none()
        );
        let mut ignored = deployment();
        assert!(
            typed(def, &mut ignored, FieldValidation::Ignore)
                .unwrap()
                .is_empty()
        );
        assert!(
            ignored
                .pointer("/spec/template/spec/containers/0/imagePullPolcy")
                .is_none()
        );
        assert_eq!(
            ignored.pointer("/spec/template/spec/containers/0/image"),
            Some(&json!("nginx"))
        );
    }

    #[test]
    fn wrong_types_are_decoding_errors() {
        let def = lookup("apps", "v1", "deployments").unwrap();
        let mut object = deployment();
        object["spec"]["replicas"] = json!("two");
        let error = typed(def, &mut object, FieldValidation::Ignore).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot \
             unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
        );
        let applied_error = applied(def, "demo", &object).unwrap_err();
        assert_eq!(applied_error.code(), 500);
        assert!(
            applied_error
                .to_string()
                .contains(".spec.replicas: expected numeric (int or float), got string")
        );
    }

    #[test]
    fn applied_configurations_name_list_items_by_key() {
        let def = lookup("apps", "v1", "deployments").unwrap();
        let error = applied(def, "demo", &deployment()).unwrap_err();
        assert_eq!(
            error.to_status()["message"],
            "failed to create typed patch object (/demo; apps/v1, Kind=Deployment): \
             .spec.template.spec.containers[name=\"demo\"].imagePullPolcy: field not declared in schema"
        );
        assert!(error.to_status().get("reason").is_none());
    }

    #[test]
    fn unknown_field_validation_values_are_refused() {
        for (given, ok) in [("Strict", true), ("strict", false), ("Bogus", false)] {
            let request = Request::for_test(&format!("fieldValidation={given}"));
            assert_eq!(FieldValidation::of(&request).is_ok(), ok, "{given}");
        }
    }
}
