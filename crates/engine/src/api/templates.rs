//! Templates: the list, their versions, creating one, saving an edit or a patch as a new
//! version (or previewing the patch), rolling back, deleting, the Kubernetes version a
//! template targets; checking text as a save would (each problem at its line) and comparing
//! two versions. The store holds every version to the template rules (names,
//! YAML, limits, the Kubernetes checks) on the way in.

use serde::Serialize;

use super::Tripline;
use crate::diff::{self, ManifestDiff};
use crate::error::ErrorBody;
use crate::patch::{self, Patch};
use crate::store::{Origin, SaveOutcome, TemplateSummary, Version, VersionSummary};
use crate::template::{Error as TemplateError, Manifest, ResourceId};

/// A problem in a template, at a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// 1-based line (1 when the problem has no line).
    pub line: u32,
    /// 1-based column, when known.
    pub column: Option<u32>,
    /// What is wrong and what to do.
    pub message: String,
}

/// The result of checking a template's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TemplateCheck {
    /// The objects it defines (empty when it does not parse).
    pub resources: Vec<ResourceId>,
    /// Problems (empty when it is valid).
    pub diagnostics: Vec<Diagnostic>,
}

/// Two versions of a template and how they differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct VersionDiff {
    /// The older side.
    pub from: Version,
    /// The newer side.
    pub to: Version,
    /// Per object and per field.
    pub diff: ManifestDiff,
}

/// What a patch would do to a template's newest version, saving nothing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchPreview {
    /// The version the patch would make.
    pub version: u32,
    /// What it would change (empty: nothing).
    pub diff: ManifestDiff,
}

impl Tripline {
    /// Every template with its newest version.
    pub fn templates(&self) -> Result<Vec<TemplateSummary>, ErrorBody> {
        Ok(self.store().templates()?)
    }

    /// A version's content (the newest when `number` is `None`).
    pub fn version(&self, template: &str, number: Option<u32>) -> Result<Version, ErrorBody> {
        Ok(self.store().version(template, number)?)
    }

    /// Every version of a template, oldest first.
    pub fn versions(&self, template: &str) -> Result<Vec<VersionSummary>, ErrorBody> {
        Ok(self.store().versions(template)?)
    }

    /// Creates a template whose first version is `content`.
    pub fn create_template(
        &self,
        name: &str,
        content: &str,
        message: &str,
    ) -> Result<VersionSummary, ErrorBody> {
        Ok(self.store().create_template(name, content, message)?)
    }

    /// Creates a template whose versions are checked against Kubernetes `kubernetes` (e.g.
    /// `1.33`; `None`: the newest Tripline knows).
    pub fn create_template_targeting(
        &self,
        name: &str,
        content: &str,
        message: &str,
        kubernetes: Option<&str>,
    ) -> Result<VersionSummary, ErrorBody> {
        Ok(self
            .store()
            .create_template_for(name, content, message, kubernetes)?)
    }

    /// The Kubernetes version the template's versions are checked against.
    pub fn template_target(&self, name: &str) -> Result<&'static str, ErrorBody> {
        Ok(self.store().template_kubernetes_version(name)?)
    }

    /// Sets the Kubernetes version the template's versions are checked against (`None`: the
    /// newest Tripline knows) and returns it.
    pub fn set_template_target(
        &self,
        name: &str,
        kubernetes: Option<&str>,
    ) -> Result<&'static str, ErrorBody> {
        Ok(self
            .store()
            .set_template_kubernetes_version(name, kubernetes)?)
    }

    /// Applies a patch to the newest version, saving the result as a new version (or
    /// reporting that nothing changed).
    pub fn patch_template(
        &self,
        name: &str,
        patch: &Patch,
        message: &str,
    ) -> Result<SaveOutcome, ErrorBody> {
        Ok(self
            .store()
            .patch_template(name, patch, Origin::Patch, message)?)
    }

    /// What [`Self::patch_template`] would change, saving nothing; a result that could not
    /// be saved is refused as the patch would be.
    pub fn preview_patch(&self, name: &str, patch: &Patch) -> Result<PatchPreview, ErrorBody> {
        let latest = self.store().version(name, None)?;
        let manifest = Manifest::parse(&latest.content).map_err(ErrorBody::from)?;
        let before = manifest.clone();
        let applied = patch::apply(manifest, patch).map_err(ErrorBody::from)?;
        applied.manifest.check_for_save().map_err(ErrorBody::from)?;
        Ok(PatchPreview {
            version: latest.summary.number + 1,
            diff: diff::diff(&before, &applied.manifest),
        })
    }

    /// Saves an edit as a new version (or reports that nothing changed).
    pub fn save_template(
        &self,
        name: &str,
        content: &str,
        message: &str,
    ) -> Result<SaveOutcome, ErrorBody> {
        Ok(self
            .store()
            .save_version(name, content, Origin::Edit, message)?)
    }

    /// Makes a new version equal to version `to` (without deploying).
    pub fn rollback_template(
        &self,
        template: &str,
        to: u32,
        message: &str,
    ) -> Result<SaveOutcome, ErrorBody> {
        Ok(self.store().rollback(template, to, message)?)
    }

    /// Deletes a template no application uses.
    pub fn delete_template(&self, name: &str) -> Result<(), ErrorBody> {
        Ok(self.store().delete_template(name)?)
    }

    /// Checks template text as a save would, with each problem's line: the YAML, the
    /// objects' identities, the limits and the Kubernetes rules (one diagnostic per field).
    pub fn check_template(content: &str) -> TemplateCheck {
        let manifest = match Manifest::parse(content) {
            Ok(manifest) => manifest,
            Err(error) => {
                // A value of the wrong type is refused while reading, one diagnostic a field.
                return TemplateCheck {
                    resources: Vec::new(),
                    diagnostics: diagnostics(error),
                };
            }
        };
        let diagnostics = match manifest.check_for_save() {
            Ok(()) => Vec::new(),
            Err(error) => diagnostics(error),
        };
        TemplateCheck {
            resources: manifest.documents().iter().map(|d| d.id.clone()).collect(),
            diagnostics,
        }
    }

    /// Versions `from` and `to` of a template and their differences.
    pub fn diff_versions(
        &self,
        template: &str,
        from: u32,
        to: u32,
    ) -> Result<VersionDiff, ErrorBody> {
        let (from, to) = {
            let store = self.store();
            (
                store.version(template, Some(from))?,
                store.version(template, Some(to))?,
            )
        };
        let diff = diff::diff_texts(&from.content, &to.content).map_err(ErrorBody::from)?;
        Ok(VersionDiff { from, to, diff })
    }
}

/// One diagnostic for each field a Kubernetes refusal names, or one for any other error.
fn diagnostics(error: TemplateError) -> Vec<Diagnostic> {
    match error {
        TemplateError::Rejected {
            index,
            line,
            id,
            problems,
        } => problems
            .iter()
            .map(|problem| Diagnostic {
                line: to_u32(problem.line.unwrap_or(line)),
                column: None,
                message: format!(
                    "document {index}, {} {}: {}: {}",
                    id.kind, id.name, problem.field, problem.message
                ),
            })
            .collect(),
        error => vec![diagnostic(&error)],
    }
}

fn diagnostic(error: &TemplateError) -> Diagnostic {
    let (line, column) = error.location().unwrap_or((1, None));
    Diagnostic {
        line: to_u32(line),
        column: column.map(to_u32),
        message: error.to_string(),
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_checks_point_at_the_line() {
        let check = Tripline::check_template(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\nkind: [\n",
        );
        assert!(check.resources.is_empty());
        assert_eq!(check.diagnostics.len(), 1);
        assert!(check.diagnostics[0].line >= 6, "{:?}", check.diagnostics);
        let ok =
            Tripline::check_template("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n");
        assert!(ok.diagnostics.is_empty());
        assert_eq!(ok.resources[0].name, "a");
    }

    #[test]
    fn template_checks_list_each_field_kubernetes_would_refuse_at_its_line() {
        let check = Tripline::check_template(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: Balanced\n  \
             ports:\n  - port: 70000\n",
        );
        assert_eq!(check.resources.len(), 1);
        let found: Vec<(u32, bool)> = check
            .diagnostics
            .iter()
            .map(|d| {
                (
                    d.line,
                    d.message.starts_with("document 1, Service web: spec."),
                )
            })
            .collect();
        assert_eq!(found, [(6, true), (8, true)], "{:?}", check.diagnostics);
    }

    /// The editor's check (the desktop app's `check_template`) refuses what a save refuses:
    /// undeclared fields and wrong types, each at its line.
    #[test]
    fn template_checks_name_unknown_fields_and_wrong_types_at_their_line() {
        let unknown = Tripline::check_template(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  \
             - port: 80\n    targetport: 8080\n  selectr: {}\n",
        );
        let found: Vec<(u32, &str)> = unknown
            .diagnostics
            .iter()
            .map(|d| (d.line, d.message.as_str()))
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0, 8);
        assert!(
            found[0].1.ends_with("did you mean \"targetPort\"?"),
            "{found:?}"
        );
        assert_eq!(found[1].0, 9);
        assert!(
            found[1].1.ends_with("did you mean \"selector\"?"),
            "{found:?}"
        );

        let wrong = Tripline::check_template(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  \
             - port: eighty\n  selector: [app]\n",
        );
        let lines: Vec<u32> = wrong.diagnostics.iter().map(|d| d.line).collect();
        assert_eq!(lines, [7, 8], "{:?}", wrong.diagnostics);
    }
}
