//! Image triggers: does a push concern us, and what does it change in the template?
//!
//! [`decide`] compares a registry push with an image trigger: the repository must be one the
//! trigger names (compared after normalisation, so `nginx` and `docker.io/library/nginx` are
//! the same) and the tag must pass the trigger's filter (all, whole-tag regex, or list).
//! [`retag`] then sets every container, init container and ephemeral container of the
//! template that uses that repository to the pushed tag (and digest, when pinning), keeping
//! the repository spelled as the template spells it.

use serde::Serialize;
use serde_json::Value;

use super::{Admission, TagFilter, TagMatcher, TriggerKind};
use crate::registry::{ImageRef, PushEvent};
use crate::template::Manifest;

/// The verdict on one push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Update images of this repository to this tag and/or digest.
    Update {
        /// The repository, normalised.
        repository: String,
        /// The tag to set, if the push has one.
        tag: Option<String>,
        /// The digest to pin, if pinning and the push has one.
        digest: Option<String>,
    },
    /// Not for this trigger.
    Skip {
        /// Why, for the access record ("untriggered: tag v2-rc not in list").
        reason: String,
    },
}

/// Decides what an image trigger does with a push.
pub fn decide(kind: &TriggerKind, event: &PushEvent) -> Verdict {
    decide_with(kind, &Matcher::of(kind), event)
}

/// What [`decide`] needs of a trigger, made beforehand: its tag filter compiled and its
/// repositories parsed. The listener keeps one per trigger, so neither is redone per push.
#[derive(Debug, Clone)]
pub struct Matcher {
    tags: TagMatcher,
    repositories: Vec<ImageRef>,
}

impl Matcher {
    /// The trigger's tag filter, ready to check tags.
    pub fn tags(&self) -> &TagMatcher {
        &self.tags
    }

    /// The matcher of `kind` (an empty one for kinds that take no pushes).
    pub fn of(kind: &TriggerKind) -> Matcher {
        match kind {
            TriggerKind::Image {
                repositories,
                filter,
                ..
            } => Matcher {
                tags: filter.matcher(),
                repositories: repositories
                    .iter()
                    .filter_map(|r| ImageRef::parse(r).ok())
                    .collect(),
            },
            _ => Matcher {
                tags: TagMatcher::All,
                repositories: Vec::new(),
            },
        }
    }
}

/// [`decide`], with the trigger's [`Matcher`] made beforehand.
pub fn decide_with(kind: &TriggerKind, matcher: &Matcher, event: &PushEvent) -> Verdict {
    let TriggerKind::Image {
        filter, pin_digest, ..
    } = kind
    else {
        return Verdict::Skip {
            reason: format!("a {} trigger does not take registry pushes", kind.name()),
        };
    };
    let Some(ours) = matcher
        .repositories
        .iter()
        .find(|r| same_repository(r, event))
    else {
        return Verdict::Skip {
            reason: format!(
                "repository {} is not one this trigger follows",
                event.image.full_repository()
            ),
        };
    };
    let admission = match (&event.tag, filter) {
        (_, TagFilter::All) => Admission::Admitted,
        (None, _) => Admission::Refused(
            "the push names no tag (a push by digest) and this trigger filters tags".to_owned(),
        ),
        (Some(tag), _) => matcher.tags.admits(tag),
    };
    if let Some(reason) = admission.reason() {
        return Verdict::Skip {
            reason: reason.to_owned(),
        };
    }
    let digest = if *pin_digest || event.tag.is_none() {
        event.digest.clone()
    } else {
        None
    };
    if event.tag.is_none() {
        // Multi-platform pushes send each platform's manifest by digest before the tagged
        // index; deploying those would pin one platform. Only tagged pushes deploy.
        return Verdict::Skip {
            reason: "the push names no tag (a platform manifest or a push by digest)".into(),
        };
    }
    Verdict::Update {
        repository: ours.full_repository(),
        tag: event.tag.clone(),
        digest,
    }
}

/// Alibaba ACR's webhook names the region's registry host, while Enterprise Edition
/// instances pull from `<instance>-registry.<region>.cr.aliyuncs.com`: for ACR pushes the
/// repository path decides, on any Alibaba Cloud registry host.
fn same_repository(ours: &ImageRef, event: &PushEvent) -> bool {
    if ours.same_repository(&event.image) {
        return true;
    }
    event.format == crate::registry::Format::AlibabaAcr
        && ours.registry().ends_with(".aliyuncs.com")
        && ours.repository() == event.image.repository()
}

/// One container whose image changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageChange {
    /// `Deployment/web`.
    pub resource: String,
    /// The container.
    pub container: String,
    /// Before.
    pub from: String,
    /// After.
    pub to: String,
}

/// Every image the template's containers use, as written (tag and digest included), in
/// document and container order.
pub fn images(manifest: &Manifest) -> Vec<ImageRef> {
    let mut found = Vec::new();
    for document in manifest.documents() {
        let Some(path) = pod_spec_path(&document.id.kind) else {
            continue;
        };
        let Some(spec) = path.iter().try_fold(&document.value, |v, k| v.get(*k)) else {
            continue;
        };
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            for container in spec
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(Ok(image)) = container
                    .get("image")
                    .and_then(Value::as_str)
                    .map(ImageRef::parse)
                {
                    found.push(image);
                }
            }
        }
    }
    found
}

/// Every image repository the template's containers use, without duplicates.
pub fn repositories(manifest: &Manifest) -> Vec<ImageRef> {
    let mut found: Vec<ImageRef> = Vec::new();
    for document in manifest.documents() {
        let Some(path) = pod_spec_path(&document.id.kind) else {
            continue;
        };
        let Some(spec) = path.iter().try_fold(&document.value, |v, k| v.get(*k)) else {
            continue;
        };
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            for container in spec
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(image) = container.get("image").and_then(Value::as_str) else {
                    continue;
                };
                if let Ok(image) = ImageRef::parse(image) {
                    let repository = image.without_version();
                    if !found.iter().any(|f| f.same_repository(&repository)) {
                        found.push(repository);
                    }
                }
            }
        }
    }
    found
}

/// Where the pod spec of each workload kind lives.
fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        "Pod" => &["spec"],
        "PodTemplate" => &["template", "spec"],
        _ => return None,
    })
}

/// The image string with a new tag/digest, keeping how the template names the repository.
fn rewrite(image: &str, tag: Option<&str>, digest: Option<&str>) -> String {
    let name = image.split('@').next().unwrap_or(image);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let name = match name[last_slash..].rfind(':') {
        Some(colon) => &name[..last_slash + colon],
        None => name,
    };
    let mut out = name.to_owned();
    if let Some(tag) = tag {
        out.push(':');
        out.push_str(tag);
    }
    if let Some(digest) = digest {
        out.push('@');
        out.push_str(digest);
    }
    out
}

/// New values for the documents whose containers use `repository`, and the changes made.
/// Documents already on the wanted image are left out.
pub fn retag(
    manifest: &Manifest,
    repository: &str,
    tag: Option<&str>,
    digest: Option<&str>,
) -> (Vec<(usize, Value)>, Vec<ImageChange>) {
    let Ok(wanted) = ImageRef::parse(repository) else {
        return (Vec::new(), Vec::new());
    };
    let mut values = Vec::new();
    let mut changes = Vec::new();
    for (position, document) in manifest.documents().iter().enumerate() {
        let Some(path) = pod_spec_path(&document.id.kind) else {
            continue;
        };
        let mut value = document.value.clone();
        let Some(spec) = path.iter().try_fold(&mut value, |v, k| v.get_mut(*k)) else {
            continue;
        };
        let mut changed = false;
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            let Some(Value::Array(containers)) = spec.get_mut(list) else {
                continue;
            };
            for container in containers {
                let Some(image) = container.get("image").and_then(Value::as_str) else {
                    continue;
                };
                let Ok(current) = ImageRef::parse(image) else {
                    continue;
                };
                if !current.same_repository(&wanted) {
                    continue;
                }
                let next = rewrite(image, tag, digest);
                if next == image {
                    continue;
                }
                changes.push(ImageChange {
                    resource: format!("{}/{}", document.id.kind, document.id.name),
                    container: container
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned(),
                    from: image.to_owned(),
                    to: next.clone(),
                });
                container["image"] = Value::String(next);
                changed = true;
            }
        }
        if changed {
            values.push((position, value));
        }
    }
    (values, changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Format;

    fn push(image: &str, tag: Option<&str>, digest: Option<&str>) -> PushEvent {
        let mut event = PushEvent::new(Format::Generic, ImageRef::parse(image).unwrap());
        event.tag = tag.map(str::to_owned);
        event.digest = digest.map(str::to_owned);
        event
    }

    fn image_trigger(filter: TagFilter, pin: bool) -> TriggerKind {
        TriggerKind::Image {
            repositories: vec!["nginx".into(), "ghcr.io/acme/web".into()],
            filter,
            pin_digest: pin,
            branch: None,
            values: None,
            verify: crate::trigger::Verify::Off,
            watch: None,
            maturing: None,
        }
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn verdicts_follow_repository_and_tag_filter() {
        let all = image_trigger(TagFilter::All, false);
        let listed = image_trigger(
            TagFilter::Tags {
                tags: vec!["1.27".into(), "stable".into()],
            },
            false,
        );
        let regex = image_trigger(
            TagFilter::Regex {
                pattern: r"\d+\.\d+".into(),
            },
            false,
        );
        let acr = TriggerKind::Image {
            repositories: vec![
                "liusheng-registry.cn-beijing.cr.aliyuncs.com/liusheng/rollouts-demo".into(),
            ],
            filter: TagFilter::All,
            pin_digest: false,
            branch: None,
            values: None,
            verify: crate::trigger::Verify::Off,
            watch: None,
            maturing: None,
        };
        let acr_push = |image: &str, tag: &str| {
            let mut event = PushEvent::new(Format::AlibabaAcr, ImageRef::parse(image).unwrap());
            event.tag = Some(tag.into());
            event
        };
        type Expected<'a> = Result<(Option<&'a str>, Option<&'a str>), &'a str>;
        let cases: Vec<(&TriggerKind, PushEvent, Expected)> = vec![
            (
                &all,
                push("docker.io/library/nginx", Some("1.27"), None),
                Ok((Some("1.27"), None)),
            ),
            (
                &all,
                push("index.docker.io/library/nginx", Some("x"), Some(DIGEST)),
                Ok((Some("x"), None)),
            ),
            (&all, push("nginx", None, Some(DIGEST)), Err("names no tag")),
            (
                &acr,
                acr_push(
                    "registry.cn-beijing.aliyuncs.com/liusheng/rollouts-demo",
                    "green",
                ),
                Ok((Some("green"), None)),
            ),
            (
                &acr,
                push(
                    "registry.cn-beijing.aliyuncs.com/liusheng/rollouts-demo",
                    Some("green"),
                    None,
                ),
                Err("not one this trigger follows"),
            ),
            (
                &all,
                push("ghcr.io/acme/api", Some("1"), None),
                Err("repository ghcr.io/acme/api is not one this trigger follows"),
            ),
            (
                &listed,
                push("nginx", Some("stable"), None),
                Ok((Some("stable"), None)),
            ),
            (
                &listed,
                push("nginx", Some("v2-rc"), None),
                Err("tag v2-rc is not in the list"),
            ),
            (
                &regex,
                push("ghcr.io/acme/web", Some("2.0"), None),
                Ok((Some("2.0"), None)),
            ),
            (
                &regex,
                push("ghcr.io/acme/web", Some("2.0-rc1"), None),
                Err("tag 2.0-rc1 does not match"),
            ),
            (
                &regex,
                push("ghcr.io/acme/web", None, Some(DIGEST)),
                Err("push by digest"),
            ),
        ];
        for (trigger, event, expected) in cases {
            let verdict = decide(trigger, &event);
            match (verdict, expected) {
                (Verdict::Update { tag, digest, .. }, Ok((want_tag, want_digest))) => {
                    assert_eq!((tag.as_deref(), digest.as_deref()), (want_tag, want_digest));
                }
                (Verdict::Skip { reason }, Err(want)) => {
                    assert!(reason.contains(want), "{reason} / {want}")
                }
                (other, want) => panic!("{:?} gave {other:?}, wanted {want:?}", event.image),
            }
        }
        let pinned = image_trigger(TagFilter::All, true);
        assert_eq!(
            decide(&pinned, &push("nginx", Some("1.27"), Some(DIGEST))),
            Verdict::Update {
                repository: "docker.io/library/nginx".into(),
                tag: Some("1.27".into()),
                digest: Some(DIGEST.into())
            }
        );
    }

    #[test]
    fn retag_updates_every_container_of_the_repository_and_keeps_its_spelling() {
        let manifest = Manifest::parse(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      initContainers:\n      - {name: warm, image: 'nginx:1.25'}\n      containers:\n      - {name: web, image: 'docker.io/library/nginx:1.25@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}\n      - {name: side, image: 'ghcr.io/acme/side:3'}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: job}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - {name: c, image: nginx}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {image: 'nginx:1.25'}\n",
        )
        .unwrap();
        let (values, changes) = retag(&manifest, "docker.io/library/nginx", Some("1.27"), None);
        assert_eq!(values.len(), 2);
        let tos: Vec<(&str, &str)> = changes
            .iter()
            .map(|c| (c.container.as_str(), c.to.as_str()))
            .collect();
        assert_eq!(
            tos,
            [
                ("warm", "nginx:1.27"),
                ("web", "docker.io/library/nginx:1.27"),
                ("c", "nginx:1.27")
            ]
        );
        // Applying the values keeps the other container and the ConfigMap untouched.
        let updated = manifest.clone().replace(values).unwrap();
        assert!(updated.text().contains("ghcr.io/acme/side:3"));
        assert!(updated.text().contains("data: {image: 'nginx:1.25'}"));
        // Already on that tag: nothing to do.
        let (again, _) = retag(&updated, "nginx", Some("1.27"), None);
        assert!(again.is_empty());
    }

    #[test]
    fn rewrite_keeps_registry_ports_and_handles_digests() {
        let cases = [
            (
                "localhost:5000/app:1",
                Some("2"),
                None,
                "localhost:5000/app:2",
            ),
            (
                "localhost:5000/app",
                Some("2"),
                None,
                "localhost:5000/app:2",
            ),
            (
                "app@sha256:aa",
                Some("2"),
                Some("sha256:bb"),
                "app:2@sha256:bb",
            ),
            ("app:1", None, Some("sha256:bb"), "app@sha256:bb"),
        ];
        for (image, tag, digest, expected) in cases {
            assert_eq!(rewrite(image, tag, digest), expected);
        }
    }
}
