//! Bringing a Helm application's template up to its chart and values before a deploy.
//!
//! The range is resolved again; when the chart version and digest it picks are the ones the
//! template's latest version was rendered from, and that version used the newest values,
//! nothing is downloaded or rendered. Otherwise the chart is rendered with the newest values
//! into a new template version (none when the manifests are the same). The worker calls this
//! where it refreshes Git applications, with the same rules: a trigger that finds nothing new
//! deploys nothing; a failure fails the release with the `source.*` code as its reason, and
//! what runs stays.

use super::Failure;
use crate::error::Code;
use crate::source::helm::{Helm, HelmSource};
use crate::source::sync::Sources;
use crate::source::{Revision, SourceError};
use crate::store::{Pool, SaveOutcome, VersionSummary};

/// What a worker knows when it refreshes.
pub(super) struct Refresh<'a> {
    pub app: &'a str,
    /// The namespace the chart is rendered for (the application's).
    pub namespace: &'a str,
    pub helm: &'a HelmSource,
    pub template: &'a str,
    /// The template's latest version.
    pub latest: &'a VersionSummary,
    /// The version the last successful release deployed.
    pub deployed: Option<u32>,
    /// The release was asked for by a trigger.
    pub is_trigger: bool,
}

fn failed(error: SourceError) -> Failure {
    Failure::new(error.code.as_str(), None, error.message, None)
}

/// Returns what to say instead of deploying when a trigger asked and nothing is new.
pub(super) async fn refresh(
    pool: &Pool,
    sources: &Sources,
    refresh: Refresh<'_>,
) -> Result<Option<String>, Failure> {
    let store_failure =
        |e: crate::store::Error| Failure::new("StoreError", None, e.to_string(), None);
    let values = pool
        .with(|store| store.values(refresh.app, None))
        .map_err(store_failure)?;
    let values_number = values.summary.number;
    let credentials = sources.credentials(refresh.app).map_err(failed)?;
    let helm = Helm::find(None).map_err(failed)?;
    let running_latest = |number: u32| refresh.is_trigger && refresh.deployed == Some(number);
    let resolved = helm
        .resolve(refresh.helm, credentials.as_ref())
        .await
        .map_err(failed)?;
    if let Some(Revision::Helm {
        version, digest, ..
    }) = &refresh.latest.revision
        && version == &resolved.version
        && resolved.digest.as_ref() == Some(digest)
        && refresh.latest.values == Some(values_number)
    {
        let revision = refresh.latest.revision.as_ref().expect("matched above");
        return Ok(running_latest(refresh.latest.number).then(|| {
            format!("nothing new: {revision} with values version {values_number} is deployed")
        }));
    }
    let rendered = helm
        .render(
            refresh.helm,
            &values.content,
            refresh.app,
            refresh.namespace,
            credentials.as_ref(),
        )
        .await
        .map_err(failed)?;
    let revision = rendered.revision.to_string();
    let saved = pool
        .with(|store| store.save_helm_version(refresh.template, &rendered, values_number, ""))
        .map_err(|e| {
            Failure::new(
                Code::SourceInvalid.as_str(),
                None,
                format!("{revision} with values version {values_number} cannot be deployed: {e}"),
                None,
            )
        })?;
    Ok(match saved {
        SaveOutcome::Unchanged { version } if running_latest(version.number) => Some(format!(
            "nothing new: {revision} with values version {values_number} renders what version {} \
             holds, which is deployed",
            version.number
        )),
        _ => None,
    })
}
