//! What a front end asks the façade for, beyond single store calls: overviews that join a
//! few tables, template checks with line numbers, version diffs, what a trigger can follow,
//! tag previews, and the operations that touch more than the database (deploys, trigger
//! secrets, live workload state).

use serde::Serialize;
use serde_json::Value;

use super::Tripline;
use crate::app::{Application, ClusterRef};
use crate::cluster::ClusterInfo;
use crate::deploy::Options;
use crate::deploy::live::{self, RolloutState, Workload};
use crate::diff::{self, ManifestDiff};
use crate::error::{Code, ErrorBody};
use crate::store::{Cause, NewTrigger, Release, Version};
use crate::template::{Error as TemplateError, Manifest, ResourceId};
use crate::trigger::{self, TagFilter, TagMatcher, Trigger, service};

/// An application in the list: where it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AppOverview {
    /// The application.
    pub app: Application,
    /// Its newest release, if it has one.
    pub last_release: Option<Release>,
    /// How many triggers it has.
    pub triggers: u32,
}

/// A cluster and the applications that use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AppUsage {
    /// The cluster.
    pub cluster: ClusterInfo,
    /// Applications deployed to it.
    pub apps: Vec<String>,
}

/// The clusters, and why the kubeconfig could not be read when it could not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ClusterList {
    /// The sandbox first, then the kubeconfig's contexts.
    pub clusters: Vec<AppUsage>,
    /// The kubeconfig's problem (a broken file; a missing one is not a problem).
    pub kubeconfig_error: Option<String>,
}

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

/// An image repository an application's template uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ImageChoice {
    /// The repository as people write it (`nginx`, `ghcr.io/org/app`).
    pub repository: String,
    /// The images in the template that use it, as written.
    pub images: Vec<String>,
}

/// A workload a scale trigger can name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct WorkloadChoice {
    /// Deployment, StatefulSet or ReplicaSet.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// `spec.replicas` in the template.
    pub replicas: Option<u32>,
}

/// What a new trigger for an application can follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TriggerSetup {
    /// Image repositories (for image triggers).
    pub images: Vec<ImageChoice>,
    /// Scalable workloads (for scale triggers).
    pub workloads: Vec<WorkloadChoice>,
}

/// Whether one sample tag passes a filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TagPreview {
    /// The tag.
    pub tag: String,
    /// True when a push of it would deploy.
    pub matches: bool,
    /// Why not, when it does not.
    pub reason: Option<String>,
}

/// At most this many sample tags are previewed at once.
const MAX_PREVIEW_TAGS: usize = 200;

impl Tripline {
    /// Every application with its newest release.
    pub fn app_overviews(&self) -> Result<Vec<AppOverview>, ErrorBody> {
        let store = self.store();
        let apps = store.apps()?;
        let triggers = store.triggers(None)?;
        apps.into_iter()
            .map(|app| {
                let last_release = store.releases(&app.name, 1)?.into_iter().next();
                let count = triggers.iter().filter(|t| t.app == app.name).count();
                Ok(AppOverview {
                    app,
                    last_release,
                    triggers: u32::try_from(count).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// The clusters, each with the applications that use it. A broken kubeconfig still
    /// lists the sandbox, with the kubeconfig's error beside it.
    pub fn cluster_usage(&self) -> Result<ClusterList, ErrorBody> {
        let apps = self.store().apps()?;
        let (clusters, kubeconfig_error) = match self.clusters().list() {
            Ok(clusters) => (clusters, None),
            Err(error) => (
                vec![ClusterInfo {
                    reference: ClusterRef::Sandbox,
                    name: "sandbox".into(),
                    server: None,
                    namespace: None,
                    current: false,
                }],
                Some(error.to_string()),
            ),
        };
        let clusters = clusters
            .into_iter()
            .map(|cluster| AppUsage {
                apps: apps
                    .iter()
                    .filter(|a| a.cluster == cluster.reference)
                    .map(|a| a.name.clone())
                    .collect(),
                cluster,
            })
            .collect();
        Ok(ClusterList {
            clusters,
            kubeconfig_error,
        })
    }

    /// Deletes an application with its triggers, their tokens included (the database's
    /// cascade alone would leave the tokens in the secret store).
    pub fn delete_app(&self, name: &str) -> Result<(), ErrorBody> {
        let mut store = self.store();
        for trigger in store.triggers(Some(name))? {
            service::delete(&mut store, self.secrets(), &trigger.name).map_err(ErrorBody::from)?;
        }
        store.delete_app(name).map_err(ErrorBody::from)
    }

    /// The application's workloads as the cluster reports them now.
    pub async fn workloads(&self, app: &str) -> Result<Vec<Workload>, ErrorBody> {
        let app = self.store().app(app)?;
        live::of_app(self.clusters(), &app).await
    }

    /// The application's rollout now: its workloads' worst health and replicas ready of
    /// desired (`None` when it has no workloads in the cluster).
    pub async fn rollout(&self, app: &str) -> Result<Option<RolloutState>, ErrorBody> {
        Ok(RolloutState::of(&self.workloads(app).await?))
    }

    /// Queues a deploy of the application's newest template version; progress follows as
    /// deploy events.
    pub fn deploy(&self, app: &str) -> Result<Release, ErrorBody> {
        let cause = Cause::User {
            via: self.via().into(),
        };
        self.workers()
            .submit(app, &cause, &Options::default())
            .map_err(ErrorBody::from)
    }

    /// Makes a new template version equal to version `to` and deploys it.
    pub fn rollback(&self, app: &str, to: u32) -> Result<Release, ErrorBody> {
        {
            let mut store = self.store();
            let application = store.app(app)?;
            let template = application.source.template().unwrap_or_default().to_owned();
            store.rollback(&template, to, &format!("rollback of application {app}"))?;
        }
        let cause = Cause::Rollback {
            to,
            via: self.via().into(),
        };
        self.workers()
            .submit(app, &cause, &Options::default())
            .map_err(ErrorBody::from)
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

    /// The image repositories and scalable workloads of the application's newest template.
    pub fn trigger_setup(&self, app: &str) -> Result<TriggerSetup, ErrorBody> {
        let content = {
            let store = self.store();
            let application = store.app(app)?;
            let Some(template) = application.source.template() else {
                return Ok(TriggerSetup {
                    images: Vec::new(),
                    workloads: Vec::new(),
                });
            };
            store.version(template, None)?.content
        };
        let manifest = Manifest::parse(&content).map_err(ErrorBody::from)?;
        let mut images: Vec<ImageChoice> = trigger::matching::repositories(&manifest)
            .into_iter()
            .map(|repository| ImageChoice {
                repository: repository.familiar(),
                images: Vec::new(),
            })
            .collect();
        let mut workloads = Vec::new();
        for document in manifest.documents() {
            let mut found = Vec::new();
            container_images(&document.value, &mut found, 0);
            for image in found {
                let Ok(parsed) = crate::registry::ImageRef::parse(&image) else {
                    continue;
                };
                let familiar = parsed.without_version().familiar();
                if let Some(choice) = images.iter_mut().find(|c| c.repository == familiar)
                    && !choice.images.contains(&image)
                {
                    choice.images.push(image);
                }
            }
            if trigger::SCALABLE_KINDS.contains(&document.id.kind.as_str()) {
                workloads.push(WorkloadChoice {
                    kind: document.id.kind.clone(),
                    name: document.id.name.clone(),
                    replicas: document
                        .value
                        .pointer("/spec/replicas")
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok()),
                });
            }
        }
        Ok(TriggerSetup { images, workloads })
    }

    /// Which of `tags` would pass `filter`. An invalid expression is an error (with the
    /// parser's words), so the editor can show it.
    pub fn preview_tags(filter: &TagFilter, tags: &[String]) -> Result<Vec<TagPreview>, ErrorBody> {
        let matcher = filter.matcher();
        if let TagMatcher::Regex { regex: Err(m), .. } = &matcher {
            return Err(ErrorBody::new(Code::TriggerInvalidPattern, m.clone()));
        }
        Ok(tags
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .take(MAX_PREVIEW_TAGS)
            .map(|tag| {
                let result = matcher.check(tag);
                TagPreview {
                    tag: tag.to_owned(),
                    matches: result.is_ok(),
                    reason: result.err(),
                }
            })
            .collect())
    }

    /// Creates a trigger. Its token goes to the secret store only; the URL is revealed on
    /// request ([`Self::trigger_url`]).
    pub fn create_trigger(&self, new: &NewTrigger) -> Result<Trigger, ErrorBody> {
        let mut store = self.store();
        service::create(&mut store, self.secrets(), new)
            .map(|created| created.trigger)
            .map_err(ErrorBody::from)
    }

    /// Gives a trigger a new token; the old URL stops working at once.
    pub fn rotate_trigger(&self, name: &str) -> Result<Trigger, ErrorBody> {
        let mut store = self.store();
        service::rotate(&mut store, self.secrets(), name)
            .map(|created| created.trigger)
            .map_err(ErrorBody::from)
    }

    /// Deletes a trigger and its secrets.
    pub fn delete_trigger(&self, name: &str) -> Result<(), ErrorBody> {
        let mut store = self.store();
        service::delete(&mut store, self.secrets(), name).map_err(ErrorBody::from)
    }

    /// The trigger's URL, token included.
    pub async fn trigger_url(&self, name: &str) -> Result<String, ErrorBody> {
        let base = self.base_url().await;
        let trigger = self.store().trigger(name)?;
        service::url(self.secrets(), &trigger, &base).map_err(ErrorBody::from)
    }

    /// A signed trigger's HMAC key, for the person setting up the caller's signature.
    pub fn trigger_signing_key(&self, name: &str) -> Result<String, ErrorBody> {
        let trigger = self.store().trigger(name)?;
        if !trigger.signed {
            return Err(ErrorBody::new(
                Code::TriggerNotSigned,
                format!("trigger {name} does not require signatures, so it has no signing key"),
            ));
        }
        self.secrets()
            .get(&trigger::signing_secret_name(name))
            .map_err(|e| ErrorBody::from(service::Error::Secrets(e)))
    }

    /// Ready-to-run curl commands for the trigger, in the seeds' forms.
    pub async fn trigger_examples(&self, name: &str) -> Result<Vec<String>, ErrorBody> {
        let url = self.trigger_url(name).await?;
        let (trigger, target) = {
            let store = self.store();
            let trigger = store.trigger(name)?;
            let target = store
                .app(&trigger.app)
                .ok()
                .and_then(|a| a.source.template().map(str::to_owned))
                .and_then(|t| store.version(&t, None).ok())
                .and_then(|v| Manifest::parse(&v.content).ok())
                .and_then(|m| trigger::ExampleTarget::find(&m));
            (trigger, target)
        };
        Ok(trigger::curl_examples(&trigger, &url, target.as_ref()))
    }
}

/// Collects `image` fields of containers anywhere in an object (pod templates, cron jobs).
fn container_images(value: &Value, found: &mut Vec<String>, depth: usize) {
    if depth > 16 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if matches!(
                    key.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                ) && let Value::Array(list) = child
                {
                    found.extend(
                        list.iter()
                            .filter_map(|c| c.get("image").and_then(Value::as_str))
                            .map(str::to_owned),
                    );
                } else {
                    container_images(child, found, depth + 1);
                }
            }
        }
        Value::Array(list) => list
            .iter()
            .for_each(|child| container_images(child, found, depth + 1)),
        _ => {}
    }
}

/// One diagnostic for a template error, at its line.
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

    #[test]
    fn tag_previews_follow_the_filter_and_refuse_bad_patterns() {
        let tags: Vec<String> = ["v1.2.3", "v1.3.0-rc1", " ", "latest"]
            .map(String::from)
            .to_vec();
        let regex = TagFilter::Regex {
            pattern: r"v\d+\.\d+\.\d+".into(),
        };
        let preview = Tripline::preview_tags(&regex, &tags).unwrap();
        let matched: Vec<_> = preview
            .iter()
            .map(|p| (p.tag.as_str(), p.matches))
            .collect();
        assert_eq!(
            matched,
            [("v1.2.3", true), ("v1.3.0-rc1", false), ("latest", false)]
        );
        assert!(
            preview[1]
                .reason
                .as_deref()
                .unwrap()
                .contains("does not match")
        );
        let bad = TagFilter::Regex {
            pattern: "v(".into(),
        };
        let error = Tripline::preview_tags(&bad, &tags).unwrap_err();
        assert_eq!(error.code, "trigger.invalid_pattern");
        let list = TagFilter::Tags {
            tags: vec!["latest".into()],
        };
        let preview = Tripline::preview_tags(&list, &tags).unwrap();
        assert_eq!(preview.iter().filter(|p| p.matches).count(), 1);
    }

    #[test]
    fn container_images_are_found_in_any_pod_template() {
        let cron: Value = serde_json::json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "initContainers": [{"name": "i", "image": "busybox"}],
            "containers": [{"name": "c", "image": "ghcr.io/org/app:1"}]}}}}}});
        let mut found = Vec::new();
        container_images(&cron, &mut found, 0);
        assert_eq!(found, ["busybox", "ghcr.io/org/app:1"]);
    }
}
