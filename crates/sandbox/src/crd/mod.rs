//! CustomResourceDefinitions: `apiextensions.k8s.io/v1` and the custom resources they
//! define.
//!
//! A CRD is stored like any other object (the `customresourcedefinitions` entry of
//! [`super::resources`]); what this module adds is what makes its resources served.
//!
//! How data flows:
//!
//! 1. **Writing a CRD** goes through the ordinary write pipeline; [`admit`] (called from
//!    `objects`) fills in the server's defaults (`conversion.strategy: None`, `singular`,
//!    `listKind`), refuses an invalid definition or a non-structural schema (`definition`,
//!    `schema`) with 422, and gives a new CRD the status the real server starts with: no
//!    conditions, empty accepted names, the storage version in `storedVersions`.
//! 2. **Establishing** is the [`controller`]'s job, a background task owned by the
//!    [`super::Sandbox`]: on every change of a CRD it checks the names against the other
//!    CRDs of the group, writes `NamesAccepted` and `Established` (as manager
//!    `kube-apiserver`, through `/status`), and puts the CRD's served versions in the
//!    [`Registry`]. When a CRD is deleted it takes them out and deletes their objects.
//! 3. **Serving**: routing, discovery and the store look a resource up in the built-in table
//!    first and in the [`Registry`] second. From there a custom resource takes the same paths
//!    as a built-in one (list, watch, get, create, update, patch, apply, delete, `/status`,
//!    `/scale`); the places where a custom kind behaves differently read its
//!    [`CustomKind`] through [`ResourceDef::custom_kind`]: pruning, defaulting and validation
//!    against the schema ([`admit`], [`unknown_fields`]), `kubectl get` columns (`table`),
//!    and the scale paths (`scale`).
//!
//! ## The registry: `&'static ResourceDef` for kinds that come and go
//!
//! The whole sandbox names a resource by `&'static ResourceDef`: the store files objects under
//! its group and plural, watches and the controller compare defs by address. Custom kinds
//! keep that contract instead of changing every signature: the [`Registry`] (one per store,
//! so per sandbox; it lives under the store's lock) *interns* one def per identity — group,
//! version, names, scope and which subresources exist — leaking it once, so a CRD that is
//! updated without changing its identity keeps the very same def, and one deleted and
//! created again gets it back. What may change without changing the identity (the schema,
//! printer columns, scale paths) is not in the def but in a [`CustomSlot`] the def points
//! to, swapped on every change of the CRD and emptied when it is deleted. The memory kept is
//! a few hundred bytes per distinct identity a sandbox has ever served, never a schema.

mod controller;
mod definition;
pub(crate) mod discovery;
mod schema;
pub(crate) mod table;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use serde_json::Value;

pub(crate) use controller::{Controller, restore};
pub(crate) use definition::{admit, validate};
use schema::Schema;

use super::resources::{NameRule, ResourceDef};

/// The API group of CRDs.
pub(crate) const GROUP: &str = "apiextensions.k8s.io";

/// The current behaviour of a served custom kind, swapped when its CRD changes.
#[derive(Debug, Default)]
pub(crate) struct CustomSlot {
    current: RwLock<Option<Arc<CustomKind>>>,
}

impl CustomSlot {
    fn set(&self, kind: Option<Arc<CustomKind>>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = kind;
    }

    fn get(&self) -> Option<Arc<CustomKind>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// One served version of a CRD: what a write of its resources is checked against.
#[derive(Debug)]
pub(crate) struct CustomKind {
    /// The version's structural schema.
    pub(crate) schema: Schema,
    /// `additionalPrinterColumns`.
    pub columns: Vec<Column>,
    /// The `/scale` subresource's paths, when declared.
    pub scale: Option<ScalePaths>,
    /// Discovery's `storageVersionHash`.
    pub storage_version_hash: String,
}

/// One `additionalPrinterColumns` entry.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    /// Header.
    pub name: String,
    /// `integer`, `number`, `string`, `boolean` or `date`.
    pub ty: String,
    /// `format`, as declared.
    pub format: String,
    /// `description`.
    pub description: String,
    /// `priority` (0 is shown by default).
    pub priority: i64,
    /// `jsonPath`, e.g. `.spec.size`.
    pub json_path: String,
}

/// `subresources.scale`.
#[derive(Debug, Clone)]
pub(crate) struct ScalePaths {
    /// `.spec.replicas`.
    pub spec_replicas: String,
    /// `.status.replicas`.
    pub status_replicas: String,
    /// `.status.selector`, when declared.
    pub label_selector: Option<String>,
}

impl ResourceDef {
    /// The custom kind behind this def, while its CRD serves it (`None` for built-ins).
    pub(crate) fn custom_kind(&self) -> Option<Arc<CustomKind>> {
        self.custom.and_then(CustomSlot::get)
    }
}

/// What makes two served versions the same resource: everything a [`ResourceDef`] holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    group: String,
    version: String,
    plural: String,
    singular: String,
    kind: String,
    namespaced: bool,
    short_names: Vec<String>,
    categories: Vec<String>,
    status: bool,
    scale: bool,
}

impl Identity {
    fn leak(&self) -> &'static ResourceDef {
        fn text(s: &str) -> &'static str {
            String::leak(s.to_owned())
        }
        fn texts(list: &[String]) -> &'static [&'static str] {
            Vec::leak(list.iter().map(|s| text(s)).collect())
        }
        let slot: &'static CustomSlot = Box::leak(Box::default());
        Box::leak(Box::new(ResourceDef {
            group: text(&self.group),
            version: text(&self.version),
            api_version: text(&format!("{}/{}", self.group, self.version)),
            plural: text(&self.plural),
            singular: text(&self.singular),
            kind: text(&self.kind),
            namespaced: self.namespaced,
            short_names: texts(&self.short_names),
            categories: texts(&self.categories),
            status: self.status,
            scale: self.scale,
            names: NameRule::Subdomain,
            generation: true,
            custom: Some(slot),
        }))
    }
}

/// The custom kinds a sandbox serves, and every def it has interned.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    interned: HashMap<Identity, &'static ResourceDef>,
    /// CRD name → its served versions.
    served: BTreeMap<String, Vec<&'static ResourceDef>>,
}

impl Registry {
    /// A served custom resource by group, version and plural.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
        self.defs()
            .find(|d| d.group == group && d.version == version && d.plural == plural)
    }

    /// The names of the CRDs served.
    pub fn crd_names(&self) -> Vec<String> {
        self.served.keys().cloned().collect()
    }

    /// Every served custom resource.
    pub fn defs(&self) -> impl Iterator<Item = &'static ResourceDef> + '_ {
        self.served.values().flatten().copied()
    }

    /// Whether a group/version has served custom resources.
    pub fn serves(&self, group: &str, version: &str) -> bool {
        self.defs()
            .any(|d| d.group == group && d.version == version)
    }

    /// The served custom resources of one group/version, by plural (discovery's order).
    pub fn in_group_version(&self, group: &str, version: &str) -> Vec<&'static ResourceDef> {
        let mut defs: Vec<_> = self
            .defs()
            .filter(|d| d.group == group && d.version == version)
            .collect();
        defs.sort_by_key(|d| d.plural);
        defs
    }

    /// The custom groups with their served versions, by group name.
    pub fn groups(&self) -> BTreeMap<&'static str, Vec<&'static str>> {
        let mut out: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
        for def in self.defs() {
            let versions = out.entry(def.group).or_default();
            if !versions.contains(&def.version) {
                versions.push(def.version);
            }
        }
        for versions in out.values_mut() {
            versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        out
    }

    /// Serves `crd`'s versions (replacing what it served before); returns the defs.
    fn serve(
        &mut self,
        crd: &str,
        kinds: Vec<(Identity, CustomKind)>,
    ) -> Vec<&'static ResourceDef> {
        let mut defs = Vec::new();
        for (identity, kind) in kinds {
            let def = *self
                .interned
                .entry(identity.clone())
                .or_insert_with(|| identity.leak());
            if let Some(slot) = def.custom {
                slot.set(Some(Arc::new(kind)));
            }
            defs.push(def);
        }
        if let Some(before) = self.served.insert(crd.to_owned(), defs.clone()) {
            for old in before {
                if !defs.iter().any(|d| std::ptr::eq(*d, old))
                    && let Some(slot) = old.custom
                {
                    slot.set(None);
                }
            }
        }
        defs
    }

    /// Stops serving `crd`; returns the defs it served.
    fn withdraw(&mut self, crd: &str) -> Vec<&'static ResourceDef> {
        let defs = self.served.remove(crd).unwrap_or_default();
        for def in &defs {
            if let Some(slot) = def.custom {
                slot.set(None);
            }
        }
        defs
    }
}

/// Kubernetes' version order: GA before beta before alpha, higher numbers first.
fn version_priority(version: &str) -> (u8, u64, u64) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<u64>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    let (stage, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        return (0, 0, 0);
    };
    (stage, major, minor)
}

/// The fields a write of a custom resource sets that its schema does not declare
/// (`spec.colour`); empty for built-in kinds.
pub(crate) fn unknown_fields(def: &ResourceDef, object: &Value) -> Vec<String> {
    def.custom_kind()
        .map(|kind| kind.schema.unknown_fields(object))
        .unwrap_or_default()
}

/// `fieldValidation` for a create or update of a custom resource: the warnings to send
/// (`Warn`, the default), none (`Ignore`), or a 400 (`Strict`) when the body sets fields
/// the schema does not declare. The fields are pruned later, in [`admit`].
pub(crate) fn field_validation(
    def: &ResourceDef,
    object: &Value,
    validation: super::decode::FieldValidation,
) -> super::status::ApiResult<Vec<String>> {
    use super::decode::FieldValidation;
    if validation == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let unknown = unknown_fields(def, object);
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    if validation == FieldValidation::Strict {
        return Err(strict_error(def, &unknown));
    }
    Ok(unknown
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect())
}

/// The 400 of a `fieldValidation=Strict` create or update with unknown fields.
fn strict_error(def: &ResourceDef, unknown: &[String]) -> super::status::ApiError {
    let listed: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect();
    super::status::ApiError::bad_request(format!(
        "{kind} in version {version:?} cannot be handled as a {kind}: strict decoding error: {}",
        listed.join(", "),
        kind = def.kind,
        version = def.version,
    ))
}

/// The 500 of a server-side apply whose configuration sets fields the schema does not
/// declare, whatever `fieldValidation` says (as the real server; its `Status` has no
/// `reason`).
pub(crate) fn apply_refusal(def: &ResourceDef, config: &Value) -> Option<axum::response::Response> {
    let unknown = unknown_fields(def, config);
    if unknown.is_empty() {
        return None;
    }
    let meta = |field: &str| {
        config
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let errors: Vec<String> = unknown
        .iter()
        .map(|f| format!(".{f}: field not declared in schema"))
        .collect();
    let errors = match errors.as_slice() {
        [one] => one.clone(),
        many => format!("errors:\n  {}", many.join("\n  ")),
    };
    let message = format!(
        "failed to create typed patch object ({}/{}; {}, Kind={}): {errors}",
        meta("namespace"),
        meta("name"),
        def.api_version,
        def.kind
    );
    let status = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "code": 500,
    });
    Some(super::routes::json_response(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        &status,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_as_kubernetes_sorts_them() {
        let mut versions = vec!["v1alpha1", "v2beta1", "v1", "v1beta2", "v2", "foo"];
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(
            versions,
            ["v2", "v1", "v2beta1", "v1beta2", "v1alpha1", "foo"]
        );
    }
}
