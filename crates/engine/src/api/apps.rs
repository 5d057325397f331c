//! Applications: the list with each one's newest release, one with its releases and
//! triggers, creating one (the store holds its name and source to the rules), holding it,
//! deleting it with its trigger secrets, the clusters and who uses them, and the live state
//! of its workloads.

use serde::Serialize;

use super::Tripline;
use crate::app::{Application, ClusterRef, NewApplication};
use crate::cluster::ClusterInfo;
use crate::deploy::live::{self, RolloutState, Workload};
use crate::error::ErrorBody;
use crate::store::Release;
use crate::trigger::{Trigger, service};

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

/// An application with its releases and triggers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AppDetail {
    /// The application.
    pub app: Application,
    /// Its newest releases, newest first.
    pub releases: Vec<Release>,
    /// Its triggers.
    pub triggers: Vec<Trigger>,
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

impl Tripline {
    /// Every application, by name.
    pub fn apps(&self) -> Result<Vec<Application>, ErrorBody> {
        Ok(self.store().apps()?)
    }

    /// One application.
    pub fn app(&self, name: &str) -> Result<Application, ErrorBody> {
        Ok(self.store().app(name)?)
    }

    /// One application with its newest `releases` releases and its triggers.
    pub fn app_detail(&self, name: &str, releases: usize) -> Result<AppDetail, ErrorBody> {
        let store = self.store();
        Ok(AppDetail {
            app: store.app(name)?,
            releases: store.releases(name, releases)?,
            triggers: store.triggers(Some(name))?,
        })
    }

    /// Creates an application.
    pub fn create_app(&self, new: &NewApplication) -> Result<Application, ErrorBody> {
        if new.source.is_external() {
            return Err(ErrorBody::new(
                crate::error::Code::InputInvalid,
                "a Git application is created with its repository read first: use create_git_app",
            ));
        }
        Ok(self.store().create_app(new)?)
    }

    /// Puts an application on hold (its triggers answer 409) with a reason, or lifts the hold
    /// (`None`).
    pub fn hold_app(&self, name: &str, reason: Option<&str>) -> Result<Application, ErrorBody> {
        Ok(self.store().set_app_hold(name, reason)?)
    }

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
    /// lists the sandbox, with the kubeconfig's error beside it. Starts nothing: a sandbox
    /// that is not running is listed without an address.
    pub fn cluster_usage(&self) -> Result<ClusterList, ErrorBody> {
        let apps = self.store().apps()?;
        let (clusters, kubeconfig_error) = match self.known_clusters().list() {
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
            service::delete(&mut store, self.secrets()?, &trigger.name).map_err(ErrorBody::from)?;
        }
        let application = store.app(name)?;
        store.delete_app(name).map_err(ErrorBody::from)?;
        // A Git application's template is its own: it goes with it, as do its cache and
        // credentials.
        if let (true, Some(template)) = (
            application.source.is_external(),
            application.source.template(),
        ) {
            store.delete_template(template).map_err(ErrorBody::from)?;
            self.sources().forget(name);
        }
        Ok(())
    }

    /// The application's workloads as the cluster reports them now (reaching its cluster
    /// first when this Tripline was opened for one command).
    pub async fn workloads(&self, app: &str) -> Result<Vec<Workload>, ErrorBody> {
        let app = self.store().app(app)?;
        live::of_app(self.clusters(&app.cluster).await?, &app).await
    }

    /// The application's rollout now: its workloads' worst health and replicas ready of
    /// desired (`None` when it has no workloads in the cluster).
    pub async fn rollout(&self, app: &str) -> Result<Option<RolloutState>, ErrorBody> {
        Ok(RolloutState::of(&self.workloads(app).await?))
    }
}
