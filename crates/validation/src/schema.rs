//! Field names and JSON types of the built-in kinds, from the Kubernetes OpenAPI schema: the
//! check an API server makes when it decodes an object strictly (`kubectl apply` asks for
//! `fieldValidation=Strict`), before any per-kind rule runs.
//!
//! [`check_fields`] walks an object along its kind's schema and reports every field the
//! schema does not declare (`spec.template.spec.containers[0].imagePullPolcy`, with a "did
//! you mean" when a declared sibling is close) and every value of the wrong JSON type
//! (`replicas: "two"`, a mapping where a list belongs). Kinds the schema does not list —
//! custom resources, or a built-in kind under an apiVersion Kubernetes no longer serves — are
//! not checked here: their schema lives in the cluster.
//!
//! A template targets one Kubernetes version (see [`VERSIONS`]; by default the newest,
//! [`KUBERNETES_VERSION`]): a field that version does not have is refused, as a cluster of that
//! version would refuse it. Each version's schema is `schema/kube-<version>.json`, generated
//! by `scripts/gen-kube-schema.py` from the strict standalone JSON schemas of the PyPI
//! package `kubernetes-validate` 1.37.0. It keeps only the kinds a template may hold and the
//! types they reach, as field names and types (about 50 KB each). To add a version:
//!
//! ```sh
//! pip download kubernetes-validate --no-deps -d /tmp/kv
//! python3 scripts/gen-kube-schema.py /tmp/kv/kubernetes_validate-*.whl --kubernetes 1.38.0
//! ```
//!
//! and add it to [`VERSIONS`] and `EMBEDDED`. Required fields, enums and formats
//! are left to the per-kind rules of this module, which report them in the API server's words.
//!
//! What a type admits: `null` anywhere (the server decodes it as an unset field); an
//! int-or-string field (`targetPort`, `maxSurge`) an integer or a string; a quantity
//! (`resources.limits.cpu`) a number or a string; a map (`labels`, `annotations`, ConfigMap
//! `data`) any key; a free-form object (`RawExtension`) or a field marked
//! `x-kubernetes-preserve-unknown-fields` anything; `status` its own type.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::OnceLock;

use serde_json::Value;

use super::Cause;

/// The Kubernetes version a template is checked against unless it names another: the
/// newest of [`VERSIONS`].
pub const KUBERNETES_VERSION: &str = "1.37.0";

/// The Kubernetes versions templates can target, oldest first.
pub const VERSIONS: &[&str] = &[
    "1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0",
];

/// The generated schemas (see the module documentation), in the order of [`VERSIONS`].
const EMBEDDED: [&str; VERSIONS.len()] = [
    include_str!("schema/kube-1.31.0.json"),
    include_str!("schema/kube-1.32.0.json"),
    include_str!("schema/kube-1.33.0.json"),
    include_str!("schema/kube-1.34.0.json"),
    include_str!("schema/kube-1.35.0.json"),
    include_str!("schema/kube-1.36.0.json"),
    include_str!("schema/kube-1.37.0.json"),
];

/// The version of [`VERSIONS`] that `text` names: `1.33`, `1.33.0` or `v1.33` all name
/// `1.33.0`. `None` for a version Tripline has no schema of.
pub fn supported_version(text: &str) -> Option<&'static str> {
    let text = text.trim().trim_start_matches('v');
    let mut parts = text.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    if parts
        .next()
        .is_some_and(|patch| patch.parse::<u32>().is_err())
        || parts.next().is_some()
    {
        return None;
    }
    VERSIONS
        .iter()
        .copied()
        .find(|v| v.split('.').take(2).eq([major, minor]))
}

/// The most causes one object yields; a hostile document cannot grow an error without bound.
pub const MAX_CAUSES: usize = 50;
/// Keys longer than this are shortened in field paths and get no suggestion.
const MAX_KEY_SHOWN: usize = 64;
/// How deep the walk follows a value; deeper parts are not checked (saved templates are held
/// to a lower nesting limit anyway, see `template::MAX_DEPTH`).
const MAX_WALK_DEPTH: usize = 128;
/// The longest string value quoted in a message.
const MAX_VALUE_SHOWN: usize = 64;

/// The reason of an unknown-field cause. The API server's strict decoding reports such a
/// field in a message ("unknown field"), without a cause type of its own.
pub const UNKNOWN_FIELD: &str = "FieldValueUnknown";
/// The reason of a wrong-type cause, as the API server names it.
pub const TYPE_INVALID: &str = "FieldValueTypeInvalid";

/// One step of the path to a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A field of an object type.
    Field(String),
    /// An item of a list.
    Index(usize),
    /// An entry of a map.
    Key(String),
}

/// A field the schema does not declare, or a value of the wrong type, with what an API
/// server needs to word its decoding error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub path: Vec<Step>,
    /// True for an undeclared field, false for a value of the wrong type.
    pub unknown: bool,
    /// The Go struct that holds the field (`DeploymentSpec`).
    pub holder: String,
    /// The field's Go type (`int32`, `v1.PodTemplateSpec`, `[]v1.Container`); empty for an
    /// undeclared field.
    pub go_type: String,
    /// The JSON type found where another was expected (`string`, `object`, `array`…).
    pub found: &'static str,
}

/// Integer fields that Go declares as `int64` (the rest are `int32`), for decoding errors.
const INT64_FIELDS: &[&str] = &[
    "activeDeadlineSeconds",
    "terminationGracePeriodSeconds",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "expirationSeconds",
    "deletionGracePeriodSeconds",
    "generation",
    "observedGeneration",
    "gracePeriodSeconds",
    "startingDeadlineSeconds",
    "supplementalGroups",
];

/// The schema of the built-in kinds: for each `apiVersion` and `kind`, the object type, and
/// for each object type its fields.
#[derive(Debug)]
pub struct Schema {
    kubernetes: String,
    kinds: HashMap<(String, String), usize>,
    types: Vec<ObjectType>,
}

#[derive(Debug)]
struct ObjectType {
    name: String,
    /// Sorted, so suggestions are stable.
    fields: BTreeMap<String, Ty>,
}

/// What a field admits.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ty {
    /// Any JSON value.
    Any,
    /// Any JSON object.
    Object,
    /// One of these scalar types.
    Scalar(Scalars),
    /// A list of the inner type.
    List(Box<Ty>),
    /// A map from any key to the inner type.
    Map(Box<Ty>),
    /// An object type of [`Schema::types`]: no field but its own.
    Named(usize),
}

/// A set of JSON scalar types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scalars {
    string: bool,
    integer: bool,
    number: bool,
    boolean: bool,
}

impl Scalars {
    fn admits(self, value: &Value) -> bool {
        match value {
            Value::String(_) => self.string,
            Value::Bool(_) => self.boolean,
            Value::Number(n) => self.number || (self.integer && (n.is_i64() || n.is_u64())),
            _ => false,
        }
    }
}

impl fmt::Display for Scalars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.integer, "an integer"),
            (self.number, "a number"),
            (self.boolean, "a boolean"),
            (self.string, "a string"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        f.write_str(&names.join(" or "))
    }
}

impl Schema {
    /// The schema generated for [`KUBERNETES_VERSION`], parsed on first use.
    pub fn embedded() -> &'static Schema {
        Schema::for_version(KUBERNETES_VERSION).expect("the default version is embedded")
    }

    /// The schema of a version [`supported_version`] accepts, parsed on first use.
    pub fn for_version(version: &str) -> Option<&'static Schema> {
        // Read-only data compiled into the binary, not state: parsed once per process.
        static SCHEMAS: [OnceLock<Schema>; VERSIONS.len()] =
            [const { OnceLock::new() }; VERSIONS.len()];
        let version = supported_version(version)?;
        let index = VERSIONS.iter().position(|v| *v == version)?;
        Some(SCHEMAS[index].get_or_init(|| {
            Schema::parse(EMBEDDED[index])
                .unwrap_or_else(|e| panic!("schema/kube-{version}.json is broken: {e}"))
        }))
    }

    /// Reads a schema in the format `scripts/gen-kube-schema.py` writes.
    pub(crate) fn parse(text: &str) -> Result<Schema, String> {
        let root: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let kubernetes = root
            .get("kubernetes")
            .and_then(Value::as_str)
            .ok_or("no \"kubernetes\" version")?
            .to_owned();
        let Some(Value::Object(types)) = root.get("types") else {
            return Err("no \"types\" object".into());
        };
        let index: HashMap<&str, usize> = types
            .keys()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i))
            .collect();
        let mut parsed = Vec::with_capacity(types.len());
        for (name, fields) in types {
            let Value::Object(fields) = fields else {
                return Err(format!("type {name} is not an object"));
            };
            let mut out = BTreeMap::new();
            for (field, expr) in fields {
                let expr = expr
                    .as_str()
                    .ok_or_else(|| format!("{name}.{field} is not a string"))?;
                out.insert(field.clone(), parse_ty(expr, &index)?);
            }
            parsed.push(ObjectType {
                name: name.clone(),
                fields: out,
            });
        }
        let mut kinds = HashMap::new();
        let Some(Value::Object(versions)) = root.get("kinds") else {
            return Err("no \"kinds\" object".into());
        };
        for (api_version, by_kind) in versions {
            let Value::Object(by_kind) = by_kind else {
                return Err(format!("kinds of {api_version} are not an object"));
            };
            for (kind, ty) in by_kind {
                let ty = ty.as_str().unwrap_or_default();
                let at = *index
                    .get(ty)
                    .ok_or_else(|| format!("{api_version} {kind}: no type {ty}"))?;
                kinds.insert((api_version.clone(), kind.clone()), at);
            }
        }
        Ok(Schema {
            kubernetes,
            kinds,
            types: parsed,
        })
    }

    /// The Kubernetes version the schema describes.
    pub fn kubernetes_version(&self) -> &str {
        &self.kubernetes
    }

    /// Whether the schema describes `kind` under `api_version`.
    pub fn knows(&self, api_version: &str, kind: &str) -> bool {
        self.kinds
            .contains_key(&(api_version.to_owned(), kind.to_owned()))
    }

    /// Every undeclared field and wrong type in `object`, an object of `kind` under
    /// `api_version` (none for kinds the schema does not describe), at most [`MAX_CAUSES`].
    pub fn check(&self, api_version: &str, kind: &str, object: &Value) -> Vec<Cause> {
        self.walk(api_version, kind, object).0
    }

    /// [`Schema::check`]'s findings with their paths as steps and the Go types involved,
    /// for wording them as an API server's decoder does.
    pub fn problems(&self, api_version: &str, kind: &str, object: &Value) -> Vec<Problem> {
        self.walk(api_version, kind, object).1
    }

    fn walk(&self, api_version: &str, kind: &str, object: &Value) -> (Vec<Cause>, Vec<Problem>) {
        let mut causes = Vec::new();
        let mut problems = Vec::new();
        if let Some(&at) = self.kinds.get(&(api_version.to_owned(), kind.to_owned())) {
            let mut walk = Walk {
                schema: self,
                path: String::new(),
                steps: Vec::new(),
                holder: String::new(),
                causes: &mut causes,
                problems: &mut problems,
            };
            walk.value(&Ty::Named(at), object, 0);
        }
        (causes, problems)
    }

    /// The Go name of a type: `v1.Container`, `[]v1.Container`, `map[string]string`.
    fn go_name(&self, ty: &Ty, field: &str) -> String {
        match ty {
            Ty::Any | Ty::Object => "interface {}".into(),
            Ty::Scalar(s) if s.integer && !s.string => if INT64_FIELDS.contains(&field) {
                "int64"
            } else {
                "int32"
            }
            .into(),
            Ty::Scalar(s) if s.number && !s.string => "float64".into(),
            Ty::Scalar(s) if s.boolean && !s.string => "bool".into(),
            Ty::Scalar(s) if s.string && (s.integer || s.number) => "intstr.IntOrString".into(),
            Ty::Scalar(_) => "string".into(),
            Ty::List(item) => format!("[]{}", self.go_name(item, field)),
            Ty::Map(item) => format!("map[string]{}", self.go_name(item, field)),
            Ty::Named(at) => format!("v1.{}", short_name(&self.types[*at].name)),
        }
    }
}

fn parse_ty(expr: &str, index: &HashMap<&str, usize>) -> Result<Ty, String> {
    if let Some(inner) = expr.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
        return Ok(Ty::List(Box::new(parse_ty(inner, index)?)));
    }
    if let Some(inner) = expr.strip_prefix('{').and_then(|e| e.strip_suffix('}')) {
        return Ok(Ty::Map(Box::new(parse_ty(inner, index)?)));
    }
    match expr {
        "any" => return Ok(Ty::Any),
        "object" => return Ok(Ty::Object),
        _ => {}
    }
    if let Some(&at) = index.get(expr) {
        return Ok(Ty::Named(at));
    }
    let mut scalars = Scalars {
        string: false,
        integer: false,
        number: false,
        boolean: false,
    };
    for part in expr.split('|') {
        match part {
            "string" => scalars.string = true,
            "integer" => scalars.integer = true,
            "number" => scalars.number = true,
            "boolean" => scalars.boolean = true,
            _ => return Err(format!("unknown type {expr:?}")),
        }
    }
    Ok(Ty::Scalar(scalars))
}

/// `core.v1.DeploymentSpec` → `DeploymentSpec`.
fn short_name(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// How Go's `encoding/json` names the JSON type of a value.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One walk over an object, keeping the path of the value at hand.
struct Walk<'a> {
    schema: &'a Schema,
    path: String,
    steps: Vec<Step>,
    /// The object type that holds the value at hand.
    holder: String,
    causes: &'a mut Vec<Cause>,
    problems: &'a mut Vec<Problem>,
}

impl Walk<'_> {
    fn value(&mut self, ty: &Ty, value: &Value, depth: usize) {
        if self.causes.len() >= MAX_CAUSES || depth > MAX_WALK_DEPTH || value.is_null() {
            return;
        }
        match (ty, value) {
            (Ty::Any, _) | (Ty::Object, Value::Object(_)) => {}
            (Ty::Object, _) => self.wrong_type(ty, value, "a mapping"),
            (Ty::Scalar(scalars), _) => {
                if !scalars.admits(value) {
                    self.wrong_type(ty, value, &scalars.to_string());
                }
            }
            (Ty::List(item), Value::Array(items)) => {
                for (i, entry) in items.iter().enumerate() {
                    let len = self.path.len();
                    self.path.push_str(&format!("[{i}]"));
                    self.steps.push(Step::Index(i));
                    self.value(item, entry, depth + 1);
                    self.steps.pop();
                    self.path.truncate(len);
                }
            }
            (Ty::List(_), _) => self.wrong_type(ty, value, "a list"),
            (Ty::Map(item), Value::Object(entries)) => {
                for (key, entry) in entries {
                    let len = self.path.len();
                    self.path.push('[');
                    self.path.push_str(&shortened(key));
                    self.path.push(']');
                    self.steps.push(Step::Key(key.clone()));
                    self.value(item, entry, depth + 1);
                    self.steps.pop();
                    self.path.truncate(len);
                }
            }
            (Ty::Map(_), _) => self.wrong_type(ty, value, "a mapping"),
            (Ty::Named(at), Value::Object(entries)) => {
                let object = &self.schema.types[*at];
                let outer = std::mem::replace(&mut self.holder, object.name.clone());
                for (key, entry) in entries {
                    let len = self.path.len();
                    if !self.path.is_empty() {
                        self.path.push('.');
                    }
                    self.path.push_str(&shortened(key));
                    self.steps.push(Step::Field(key.clone()));
                    match object.fields.get(key) {
                        Some(field) => self.value(field, entry, depth + 1),
                        None => self.unknown(object, key),
                    }
                    self.steps.pop();
                    self.path.truncate(len);
                    if self.causes.len() >= MAX_CAUSES {
                        break;
                    }
                }
                self.holder = outer;
            }
            (Ty::Named(_), _) => self.wrong_type(ty, value, "a mapping"),
        }
    }

    fn unknown(&mut self, object: &ObjectType, key: &str) {
        let kind = object.name.rsplit('.').next().unwrap_or(&object.name);
        let mut message = format!(
            "Unknown field: {kind} in Kubernetes {} has no field {:?}",
            self.schema.kubernetes,
            shortened(key)
        );
        if let Some(close) = suggestion(key, object.fields.keys().map(String::as_str)) {
            // Not "; ": problems are listed joined by it.
            message.push_str(&format!(", did you mean {close:?}?"));
        }
        self.causes.push(Cause {
            reason: UNKNOWN_FIELD,
            field: self.path.clone(),
            message,
        });
        self.problems.push(Problem {
            path: self.steps.clone(),
            unknown: true,
            holder: short_name(&object.name).to_owned(),
            go_type: String::new(),
            found: json_type(&Value::Null),
        });
    }

    fn wrong_type(&mut self, ty: &Ty, value: &Value, expected: &str) {
        let field = self
            .steps
            .iter()
            .rev()
            .find_map(|step| match step {
                Step::Field(name) => Some(name.as_str()),
                _ => None,
            })
            .unwrap_or_default();
        self.problems.push(Problem {
            path: self.steps.clone(),
            unknown: false,
            holder: short_name(&self.holder).to_owned(),
            go_type: self.schema.go_name(ty, field),
            found: json_type(value),
        });
        let shown = match value {
            Value::String(s) => format!("{:?}", shortened_to(s, MAX_VALUE_SHOWN)),
            Value::Array(_) => "a list".into(),
            Value::Object(_) => "a mapping".into(),
            other => other.to_string(),
        };
        self.causes.push(Cause {
            reason: TYPE_INVALID,
            field: self.path.clone(),
            message: format!("Invalid value: {shown}: must be {expected}"),
        });
    }
}

fn shortened(key: &str) -> std::borrow::Cow<'_, str> {
    shortened_to(key, MAX_KEY_SHOWN)
}

fn shortened_to(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

/// The declared name closest to `key` — the same name in another case, or one at most two
/// edits away (one for names of four letters or fewer) — if any.
fn suggestion<'a>(key: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    if key.len() > MAX_KEY_SHOWN {
        return None;
    }
    let key: Vec<char> = key.to_lowercase().chars().collect();
    let allowed = if key.len() <= 4 { 1 } else { 2 };
    let mut best: Option<(usize, &str)> = None;
    for name in names {
        let lower: Vec<char> = name.to_lowercase().chars().collect();
        if lower.len().abs_diff(key.len()) > allowed {
            continue;
        }
        let distance = edit_distance(&key, &lower);
        if distance <= allowed && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, name));
        }
    }
    best.map(|(_, name)| name)
}

/// Damerau–Levenshtein distance (optimal string alignment: insertions, deletions,
/// substitutions and swaps of neighbours).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut rows = vec![0usize; (a.len() + 1) * width];
    for (j, cell) in rows.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        rows[i * width] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[(i - 1) * width + j] + 1)
                .min(rows[i * width + j - 1] + 1)
                .min(rows[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[(i - 2) * width + j - 2] + 1);
            }
            rows[i * width + j] = best;
        }
    }
    rows[a.len() * width + b.len()]
}

/// [`Schema::check`] with the embedded schema: every field of `object` that Kubernetes
/// [`KUBERNETES_VERSION`] does not declare for `kind` under `api_version`, and every value of
/// the wrong JSON type. Kinds it does not describe (custom resources) yield nothing.
pub fn check_fields(api_version: &str, kind: &str, object: &Value) -> Vec<Cause> {
    Schema::embedded().check(api_version, kind, object)
}

/// [`check_fields`] against another of [`VERSIONS`] (the default one when `version` is not
/// one of them: callers check versions when they are set).
pub fn check_fields_for(
    version: &str,
    api_version: &str,
    kind: &str,
    object: &Value,
) -> Vec<Cause> {
    Schema::for_version(version)
        .unwrap_or_else(Schema::embedded)
        .check(api_version, kind, object)
}

#[cfg(test)]
mod tests;
