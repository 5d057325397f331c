//! Triggers: the list, enabling and disabling; what a new trigger for an application can
//! follow, tag-filter previews, and the operations that touch the secret store (create,
//! rotate, delete, reveal the URL, the signing key and curl examples).
//!
//! A trigger's URL starts with the listener's public URL. The desktop app's is the running
//! listener's ([`Tripline::trigger_url`]); the command line, which runs no listener, names
//! one (`--public-url`), else the one the trigger was created with, else the listener's
//! default address ([`Tripline::trigger_url_at`]).

use serde::Serialize;
use serde_json::Value;

use super::Tripline;
use crate::error::{Code, ErrorBody};
use crate::listener;
use crate::store::NewTrigger;
use crate::template::Manifest;
use crate::trigger::{self, TagFilter, Trigger, service};

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

/// A trigger just made or given a new token, with its URL (token included) and, for a
/// signed trigger just made, its HMAC key: shown once, to the person who asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTrigger {
    /// The trigger.
    pub trigger: Trigger,
    /// Its URL, token included.
    pub url: String,
    /// The HMAC key, for a signed trigger just made.
    pub signing_key: Option<String>,
}

/// What [`Tripline::trigger_watch`] shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TriggerWatch {
    /// Each watched repository.
    pub repositories: Vec<crate::store::WatchView>,
    /// Pushes that wait to mature.
    pub maturing: Vec<MaturingView>,
}

/// A push that waits to mature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct MaturingView {
    /// `repository:tag@digest`.
    pub image: String,
    /// When it was pushed (RFC 3339).
    pub since: String,
    /// When it deploys if its tag keeps that digest (RFC 3339).
    pub due_at: String,
}

/// At most this many sample tags are previewed at once.
const MAX_PREVIEW_TAGS: usize = 200;

impl Tripline {
    /// One trigger (without its token).
    pub fn trigger(&self, name: &str) -> Result<Trigger, ErrorBody> {
        Ok(self.store().trigger(name)?)
    }

    /// What an image trigger's watches know of each repository (nothing for a trigger that
    /// does not watch, or has not looked yet), and the pushes that wait to mature.
    pub fn trigger_watch(&self, name: &str) -> Result<TriggerWatch, ErrorBody> {
        let store = self.store();
        let trigger = store.trigger(name)?;
        Ok(TriggerWatch {
            repositories: store.watches(trigger.id)?,
            maturing: store
                .maturing(trigger.id)?
                .into_iter()
                .map(|m| MaturingView {
                    image: format!("{}:{}@{}", m.repository, m.tag, m.digest),
                    since: m.since,
                    due_at: m.due_at,
                })
                .collect(),
        })
    }

    /// Triggers, of one application or all.
    pub fn triggers(&self, app: Option<&str>) -> Result<Vec<Trigger>, ErrorBody> {
        Ok(self.store().triggers(app)?)
    }

    /// Enables or disables a trigger (a disabled trigger answers 409).
    pub fn set_trigger_enabled(&self, name: &str, enabled: bool) -> Result<Trigger, ErrorBody> {
        Ok(self.store().set_trigger_enabled(name, enabled)?)
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
        if let Some(problem) = matcher.broken() {
            return Err(ErrorBody::new(
                Code::TriggerInvalidPattern,
                problem.to_owned(),
            ));
        }
        Ok(tags
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .take(MAX_PREVIEW_TAGS)
            .map(|tag| {
                let admission = matcher.admits(tag);
                TagPreview {
                    tag: tag.to_owned(),
                    matches: admission.admitted(),
                    reason: admission.reason().map(str::to_owned),
                }
            })
            .collect())
    }

    /// Creates a trigger. Its token goes to the secret store only; the URL is revealed on
    /// request ([`Self::trigger_url`]).
    pub fn create_trigger(&self, new: &NewTrigger) -> Result<Trigger, ErrorBody> {
        let mut store = self.store();
        service::create(&mut store, self.secrets()?, new)
            .map(|created| created.trigger)
            .map_err(ErrorBody::from)
    }

    /// Creates a trigger whose callers reach the listener at `public_url` (checked before
    /// anything is made; `None`: the listener's default address) and returns its URL and
    /// signing key, for a front end that shows them once (the command line).
    pub fn create_trigger_at(
        &self,
        new: &NewTrigger,
        public_url: Option<&str>,
    ) -> Result<IssuedTrigger, ErrorBody> {
        let public_url = listener::public_url(public_url)?;
        let created = {
            let mut store = self.store();
            let created =
                service::create(&mut store, self.secrets()?, new).map_err(ErrorBody::from)?;
            if public_url.is_some() {
                store.set_trigger_public_url(&created.trigger.name, public_url.as_deref())?;
            }
            created
        };
        let base = public_url.unwrap_or_else(default_base);
        Ok(IssuedTrigger {
            url: trigger::url_with_token(&created.trigger, &base, &created.token),
            trigger: created.trigger,
            signing_key: created.signing_key,
        })
    }

    /// Gives a trigger a new token; the old URL stops working at once.
    pub fn rotate_trigger(&self, name: &str) -> Result<Trigger, ErrorBody> {
        let mut store = self.store();
        service::rotate(&mut store, self.secrets()?, name)
            .map(|created| created.trigger)
            .map_err(ErrorBody::from)
    }

    /// [`Self::rotate_trigger`], returning the new URL on the base
    /// [`Self::trigger_url_at`] chooses (checked before the token changes).
    pub fn rotate_trigger_at(
        &self,
        name: &str,
        public_url: Option<&str>,
    ) -> Result<IssuedTrigger, ErrorBody> {
        let given = listener::public_url(public_url)?;
        let rotated = {
            let mut store = self.store();
            service::rotate(&mut store, self.secrets()?, name).map_err(ErrorBody::from)?
        };
        let base = match given {
            Some(base) => base,
            None => self.stored_base(name)?,
        };
        Ok(IssuedTrigger {
            url: trigger::url_with_token(&rotated.trigger, &base, &rotated.token),
            trigger: rotated.trigger,
            signing_key: rotated.signing_key,
        })
    }

    /// Deletes a trigger and its secrets.
    pub fn delete_trigger(&self, name: &str) -> Result<(), ErrorBody> {
        let mut store = self.store();
        service::delete(&mut store, self.secrets()?, name).map_err(ErrorBody::from)
    }

    /// The trigger's URL, token included, on the running listener's base.
    pub async fn trigger_url(&self, name: &str) -> Result<String, ErrorBody> {
        let base = self.base_url().await;
        let trigger = self.store().trigger(name)?;
        service::url(self.secrets()?, &trigger, &base).map_err(ErrorBody::from)
    }

    /// The trigger's URL, token included, on `public_url`, else the public URL the trigger
    /// was created with, else the listener's default address: for a front end that runs no
    /// listener (the command line).
    pub fn trigger_url_at(
        &self,
        name: &str,
        public_url: Option<&str>,
    ) -> Result<String, ErrorBody> {
        let trigger = self.store().trigger(name)?;
        let base = match listener::public_url(public_url)? {
            Some(base) => base,
            None => self.stored_base(name)?,
        };
        service::url(self.secrets()?, &trigger, &base).map_err(ErrorBody::from)
    }

    /// The public URL the trigger was created with, else the listener's default address.
    fn stored_base(&self, name: &str) -> Result<String, ErrorBody> {
        let stored = self.store().trigger_public_url(name)?;
        Ok(stored.unwrap_or_else(default_base))
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
        self.secrets()?
            .get(&trigger::signing_secret_name(name))
            .map_err(|e| ErrorBody::from(service::Error::Secrets(e)))
    }

    /// Ready-to-run curl commands for the trigger, in the seeds' forms.
    pub async fn trigger_examples(&self, name: &str) -> Result<Vec<String>, ErrorBody> {
        let url = self.trigger_url(name).await?;
        let trigger = self.store().trigger(name)?;
        Ok(self.curl_examples(&trigger, &url))
    }

    /// Ready-to-run curl commands for `trigger` called at `url`, patching an object of its
    /// application's newest template where the kind takes a patch.
    pub fn curl_examples(&self, trigger: &Trigger, url: &str) -> Vec<String> {
        let target = {
            let store = self.store();
            store
                .app(&trigger.app)
                .ok()
                .and_then(|a| a.source.template().map(str::to_owned))
                .and_then(|t| store.version(&t, None).ok())
                .and_then(|v| Manifest::parse(&v.content).ok())
                .and_then(|m| trigger::ExampleTarget::find(&m))
        };
        trigger::curl_examples(trigger, url, target.as_ref())
    }
}

/// The listener's default address, as a URL base.
fn default_base() -> String {
    format!("http://{}", listener::Config::default().listen)
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let semver = |range: &str, prerelease| TagFilter::Semver {
            range: range.into(),
            prerelease,
        };
        let matched = |filter| -> Vec<bool> {
            Tripline::preview_tags(&filter, &tags)
                .unwrap()
                .iter()
                .map(|p| p.matches)
                .collect()
        };
        assert_eq!(matched(semver("^1.2", false)), [true, false, false]);
        assert_eq!(matched(semver("^1.2", true)), [true, true, false]);
        let error = Tripline::preview_tags(&semver(">=1 <", false), &tags).unwrap_err();
        assert_eq!(error.code, "trigger.invalid_pattern");
        assert!(
            error.message.contains("operator without a version"),
            "{}",
            error.message
        );
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
