//! Image triggers: does a push concern us, and what does it change in the template?
//!
//! [`decide`] compares a registry push with an image trigger: the repository must be one the
//! trigger names (compared after normalisation, so `nginx` and `docker.io/library/nginx` are
//! the same) and the tag must pass the trigger's filter (all, whole-tag regex, or list).
//! [`retag`] then sets every container, init container and ephemeral container of the
//! template that uses that repository to the pushed tag (and digest, when pinning), keeping
//! the repository spelled as the template spells it, within the trigger's [`Scope`]: only the
//! containers it names, when it names some, and never to a lower version than the container
//! runs unless the trigger allows downgrades ([`downgrade`]: the anti-downgrade guard, which
//! the Git write-back and the Helm values update apply as well).

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

/// Which containers an image trigger may change, and whether to a lower version: the
/// trigger's `containers` and `allow_downgrade`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// The containers it may change, by name; empty: every one.
    pub containers: Vec<String>,
    /// A push may lower a container's version.
    pub allow_downgrade: bool,
}

impl Scope {
    /// The scope of `kind` (every container, no downgrades, for kinds that take no pushes).
    pub fn of(kind: &TriggerKind) -> Scope {
        match kind {
            TriggerKind::Image {
                containers,
                allow_downgrade,
                ..
            } => Scope {
                containers: containers.clone(),
                allow_downgrade: *allow_downgrade,
            },
            _ => Scope::default(),
        }
    }

    /// Whether the container named `name` may change.
    pub fn includes(&self, name: &str) -> bool {
        self.containers.is_empty() || self.containers.iter().any(|c| c == name)
    }
}

/// A change refused because the pushed version is lower than the one deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Downgrade {
    /// Where the deployed tag is: `Deployment/web container sidecar`, `values key image.tag`.
    pub place: String,
    /// The tag deployed there.
    pub deployed: String,
    /// The tag pushed.
    pub pushed: String,
}

impl std::fmt::Display for Downgrade {
    /// `tag 3.0.0 is lower than 7.9.1, deployed in Deployment/web container sidecar; the
    /// trigger does not allow downgrades`: the reason an access record gives.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tag {} is lower than {}, deployed in {}; the trigger does not allow downgrades",
            self.pushed, self.deployed, self.place
        )
    }
}

/// The anti-downgrade guard: a refusal when `scope` does not allow downgrades and both tags
/// name versions ([`super::semver::tag_version`]) with `pushed` the lower; `None` when the
/// change may go ahead (equal or higher versions, or a tag that names no version, which has
/// no order).
pub fn downgrade(scope: &Scope, place: &str, deployed: &str, pushed: &str) -> Option<Downgrade> {
    if scope.allow_downgrade || super::semver::is_lower(pushed, deployed) != Some(true) {
        return None;
    }
    Some(Downgrade {
        place: place.to_owned(),
        deployed: deployed.to_owned(),
        pushed: pushed.to_owned(),
    })
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

/// Every container of the template's pod specs (init and ephemeral ones too), in document
/// and container order.
fn every_container(manifest: &Manifest) -> impl Iterator<Item = &Value> {
    manifest.documents().iter().flat_map(|document| {
        let spec = pod_spec_path(&document.id.kind)
            .and_then(|path| path.iter().try_fold(&document.value, |v, k| v.get(*k)));
        ["initContainers", "containers", "ephemeralContainers"]
            .into_iter()
            .flat_map(move |list| {
                spec.and_then(|spec| spec.get(list))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
    })
}

/// The image a container names, when it names a valid one.
fn image_of(container: &Value) -> Option<ImageRef> {
    container
        .get("image")
        .and_then(Value::as_str)
        .and_then(|image| ImageRef::parse(image).ok())
}

/// Every image the template's containers use, as written (tag and digest included), in
/// document and container order.
pub fn images(manifest: &Manifest) -> Vec<ImageRef> {
    every_container(manifest).filter_map(image_of).collect()
}

/// Every image repository the template's containers use, without duplicates.
pub fn repositories(manifest: &Manifest) -> Vec<ImageRef> {
    let mut found: Vec<ImageRef> = Vec::new();
    for image in every_container(manifest).filter_map(image_of) {
        let repository = image.without_version();
        if !found.iter().any(|f| f.same_repository(&repository)) {
            found.push(repository);
        }
    }
    found
}

/// The names of the template's containers (init and ephemeral ones too) whose image is from
/// one of `repositories`, without duplicates, in the template's order.
pub fn containers_using(manifest: &Manifest, repositories: &[ImageRef]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for container in every_container(manifest) {
        let uses = image_of(container)
            .is_some_and(|image| repositories.iter().any(|r| r.same_repository(&image)));
        if let Some(name) = container.get("name").and_then(Value::as_str)
            && uses
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_owned());
        }
    }
    names
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

/// What [`retag`] makes of a template.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Retagged {
    /// New values of the documents that change, by position.
    pub values: Vec<(usize, Value)>,
    /// The containers that change.
    pub changes: Vec<ImageChange>,
    /// The containers left alone because the push would lower their version.
    pub refused: Vec<Downgrade>,
    /// The containers of the repository that the trigger does not name, left as they are
    /// (`to` is what they would have become).
    pub passed_over: Vec<ImageChange>,
}

/// New values for the documents whose containers use `repository`, within `scope`, and the
/// changes made and refused. Documents already on the wanted image are left out.
pub fn retag(
    manifest: &Manifest,
    repository: &str,
    tag: Option<&str>,
    digest: Option<&str>,
    scope: &Scope,
) -> Retagged {
    let mut retagged = Retagged::default();
    let Ok(wanted) = ImageRef::parse(repository) else {
        return retagged;
    };
    let Retagged {
        values,
        changes,
        refused,
        passed_over,
    } = &mut retagged;
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
                let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
                let resource = format!("{}/{}", document.id.kind, document.id.name);
                let change = ImageChange {
                    resource,
                    container: name.to_owned(),
                    from: image.to_owned(),
                    to: next.clone(),
                };
                if !scope.includes(name) {
                    passed_over.push(change);
                    continue;
                }
                if let (Some(deployed), Some(pushed)) = (current.tag(), tag) {
                    let place = format!("{} container {name}", change.resource);
                    if let Some(refusal) = downgrade(scope, &place, deployed, pushed) {
                        refused.push(refusal);
                        continue;
                    }
                }
                changes.push(change);
                container["image"] = Value::String(next);
                changed = true;
            }
        }
        if changed {
            values.push((position, value));
        }
    }
    retagged
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
            containers: Vec::new(),
            allow_downgrade: false,
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
            containers: Vec::new(),
            allow_downgrade: false,
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
        let every = Scope::default();
        let Retagged {
            values, changes, ..
        } = retag(
            &manifest,
            "docker.io/library/nginx",
            Some("1.27"),
            None,
            &every,
        );
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
        let again = retag(&updated, "nginx", Some("1.27"), None, &every);
        assert!(again.values.is_empty() && again.changes.is_empty());
    }

    const SHARED: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      initContainers:\n      - {name: migrate, image: 'ghcr.io/acme/tools:2.0.0'}\n      containers:\n      - {name: web, image: 'ghcr.io/acme/tools:2.0.0'}\n      - {name: sidecar, image: 'ghcr.io/acme/tools:7.9.1'}\n      - {name: stable, image: 'ghcr.io/acme/tools:stable'}\n";

    #[test]
    fn retag_changes_only_the_named_containers() {
        let manifest = Manifest::parse(SHARED).unwrap();
        let scope = Scope {
            containers: vec!["web".into(), "migrate".into()],
            allow_downgrade: false,
        };
        let retagged = retag(&manifest, "ghcr.io/acme/tools", Some("2.1.0"), None, &scope);
        let changed: Vec<&str> = retagged
            .changes
            .iter()
            .map(|c| c.container.as_str())
            .collect();
        assert_eq!(changed, ["migrate", "web"]);
        let passed: Vec<&str> = retagged
            .passed_over
            .iter()
            .map(|c| c.container.as_str())
            .collect();
        assert_eq!(passed, ["sidecar", "stable"]);
        assert!(retagged.refused.is_empty());
        let updated = manifest.replace(retagged.values).unwrap();
        assert!(updated.text().contains("ghcr.io/acme/tools:7.9.1"));
        assert!(updated.text().contains("ghcr.io/acme/tools:stable"));
        assert_eq!(
            updated.text().matches("ghcr.io/acme/tools:2.1.0").count(),
            2
        );
    }

    #[test]
    fn retag_refuses_a_lower_version_unless_downgrades_are_allowed() {
        let manifest = Manifest::parse(SHARED).unwrap();
        let guarded = Scope::default();
        let retagged = retag(
            &manifest,
            "ghcr.io/acme/tools",
            Some("3.0.0"),
            None,
            &guarded,
        );
        // 2.0.0 → 3.0.0 goes ahead, stable has no order; 7.9.1 → 3.0.0 is refused.
        let changed: Vec<&str> = retagged
            .changes
            .iter()
            .map(|c| c.container.as_str())
            .collect();
        assert_eq!(changed, ["migrate", "web", "stable"]);
        let reasons: Vec<String> = retagged.refused.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            reasons,
            [
                "tag 3.0.0 is lower than 7.9.1, deployed in Deployment/web container sidecar; \
              the trigger does not allow downgrades"
            ]
        );
        let allowed = Scope {
            containers: Vec::new(),
            allow_downgrade: true,
        };
        let retagged = retag(
            &manifest,
            "ghcr.io/acme/tools",
            Some("3.0.0"),
            None,
            &allowed,
        );
        assert_eq!(retagged.changes.len(), 4);
        assert!(retagged.refused.is_empty());
        // Versions are compared, not spellings: v7.9.1+build is not lower than 7.9.1.
        let retagged = retag(
            &manifest,
            "ghcr.io/acme/tools",
            Some("v7.9.1+b"),
            None,
            &guarded,
        );
        assert!(retagged.refused.is_empty());
        assert_eq!(retagged.changes.len(), 4);
        let retagged = retag(&manifest, "ghcr.io/acme/tools", Some("1.9"), None, &guarded);
        assert_eq!(retagged.refused.len(), 3);
        assert_eq!(retagged.changes.len(), 1);
    }

    #[test]
    fn the_guard_compares_versions_only() {
        let guarded = Scope::default();
        let place = "values key image.tag";
        assert!(downgrade(&guarded, place, "7.9.1", "3.0.0").is_some());
        assert!(downgrade(&guarded, place, "v7.9", "7.9.0").is_none());
        assert!(downgrade(&guarded, place, "2.0.0", "2.0.0-rc.1").is_some());
        assert!(downgrade(&guarded, place, "latest", "1.0").is_none());
        assert!(downgrade(&guarded, place, "1.0", "main-abc123").is_none());
        let allowed = Scope {
            containers: Vec::new(),
            allow_downgrade: true,
        };
        assert!(downgrade(&allowed, place, "7.9.1", "3.0.0").is_none());
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
