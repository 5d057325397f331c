//! Per-application deploy workers: one deploy at a time per application.
//!
//! [`Workers::submit`] records a queued release and wakes the application's worker (a tokio
//! task, started on first use). The worker claims the newest queued release — older ones are
//! marked superseded, so requests that pile up during a deploy coalesce and every one stays
//! on record — and runs it. Progress is pushed to subscribers as [`DeployEvent`]s; nothing
//! polls. Each worker owns a child of the [`CancellationToken`] given to [`Workers::new`]:
//! cancelling it (or [`Workers::shutdown`]) stops them all.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Action, Deployer, Failure, Options, Plan, Progress, ResourceOutcome, ScaleRequest};
use crate::app::Application;
use crate::cluster::Clusters;
use crate::diff;
use crate::store::{self, Cause, Finish, Release, ReleaseStatus, Store};
use crate::template::{Manifest, ResourceId};

/// Something that happened to a release.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct DeployEvent {
    /// The release.
    pub release: i64,
    /// Its application.
    pub app: String,
    /// What happened.
    pub event: Event,
}

/// The kinds of [`DeployEvent`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// Recorded and waiting.
    Queued {
        /// The release's number.
        number: u32,
    },
    /// Its deploy started.
    Started {
        /// The template version deployed.
        version: u32,
        /// How many objects it holds.
        resources: usize,
    },
    /// Progress of the deploy.
    Progress {
        /// What moved.
        progress: Progress,
    },
    /// Finished: succeeded, failed, or superseded.
    Finished {
        /// The final state.
        status: ReleaseStatus,
        /// The outcome in words.
        message: String,
        /// The status reason on failure.
        reason: Option<String>,
    },
}

struct Worker {
    wake: Arc<Notify>,
    task: JoinHandle<()>,
}

struct Shared {
    database: PathBuf,
    clusters: Clusters,
    events: broadcast::Sender<DeployEvent>,
    cancel: CancellationToken,
    workers: Mutex<HashMap<String, Worker>>,
}

/// The deploy workers of one process.
#[derive(Clone)]
pub struct Workers {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("database", &self.shared.database)
            .finish_non_exhaustive()
    }
}

impl Workers {
    /// Workers that record releases in the database at `database` and deploy to `clusters`.
    /// Releases that a dead process left unfinished are marked interrupted.
    pub fn new(
        database: PathBuf,
        clusters: Clusters,
        cancel: CancellationToken,
    ) -> store::Result<Self> {
        Store::open(&database)?.interrupt_orphans()?;
        let (events, _) = broadcast::channel(1024);
        Ok(Workers {
            shared: Arc::new(Shared {
                database,
                clusters,
                events,
                cancel,
                workers: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Receives every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DeployEvent> {
        self.shared.events.subscribe()
    }

    /// Records a deploy request for `app` and wakes its worker.
    pub fn submit(&self, app: &str, cause: &Cause, options: &Options) -> store::Result<Release> {
        let release = Store::open(&self.shared.database)?.queue_release(app, cause, options)?;
        let _ = self.shared.events.send(DeployEvent {
            release: release.id,
            app: app.to_owned(),
            event: Event::Queued {
                number: release.number,
            },
        });
        let mut workers = self.shared.workers.lock().expect("workers lock");
        let worker = workers.entry(app.to_owned()).or_insert_with(|| {
            let wake = Arc::new(Notify::new());
            let task = tokio::spawn(run(self.shared.clone(), app.to_owned(), wake.clone()));
            Worker { wake, task }
        });
        worker.wake.notify_one();
        Ok(release)
    }

    /// Stops every worker (a running deploy is abandoned where it stands and its release is
    /// marked interrupted) and waits for them.
    pub async fn shutdown(&self) {
        self.shared.cancel.cancel();
        let tasks: Vec<JoinHandle<()>> = self
            .shared
            .workers
            .lock()
            .expect("workers lock")
            .drain()
            .map(|(_, w)| w.task)
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn run(shared: Arc<Shared>, app: String, wake: Arc<Notify>) {
    let cancel = shared.cancel.child_token();
    let mut deployers: HashMap<String, Arc<Deployer>> = HashMap::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = wake.notified() => {}
        }
        loop {
            let claimed = Store::open(&shared.database).and_then(|mut s| s.claim_release(&app));
            let release = match claimed {
                Ok(Some(release)) => release,
                Ok(None) => break,
                Err(error) => {
                    tracing::error!(%app, %error, "cannot claim a release");
                    break;
                }
            };
            announce_superseded(&shared, &app, release.number);
            let id = release.id;
            tokio::select! {
                _ = cancel.cancelled() => {
                    finish(&shared, &app, id, ReleaseStatus::Failed,
                        "Tripline stopped during this deploy; deploy again to be sure of the cluster state",
                        Some("Interrupted"), &[], &[]);
                    return;
                }
                () = execute(&shared, &app, release, &mut deployers) => {}
            }
        }
    }
}

/// Tells subscribers about releases the last claim superseded.
fn announce_superseded(shared: &Shared, app: &str, by: u32) {
    let Ok(store) = Store::open(&shared.database) else {
        return;
    };
    let Ok(releases) = store.releases(app, 50) else {
        return;
    };
    for release in releases {
        if release.status == ReleaseStatus::Superseded
            && release.message.contains(&format!("release {by},"))
        {
            let _ = shared.events.send(DeployEvent {
                release: release.id,
                app: app.to_owned(),
                event: Event::Finished {
                    status: ReleaseStatus::Superseded,
                    message: release.message.clone(),
                    reason: None,
                },
            });
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    shared: &Shared,
    app: &str,
    id: i64,
    status: ReleaseStatus,
    message: &str,
    reason: Option<&str>,
    resources: &[ResourceOutcome],
    applied: &[ResourceId],
) {
    let finish = Finish {
        status,
        message,
        reason,
        resources,
        applied,
    };
    if let Err(error) =
        Store::open(&shared.database).and_then(|mut s| s.finish_release(id, &finish))
    {
        tracing::error!(%app, release = id, %error, "cannot record the end of a release");
    }
    let _ = shared.events.send(DeployEvent {
        release: id,
        app: app.to_owned(),
        event: Event::Finished {
            status,
            message: message.to_owned(),
            reason: reason.map(str::to_owned),
        },
    });
}

/// Ends a release as failed with `failure`'s words; what was applied before it stays the
/// prune baseline.
fn fail(shared: &Shared, app: &str, id: i64, failure: &Failure) {
    let applied: Vec<ResourceId> = failure
        .outcomes
        .iter()
        .filter(|o| o.action == Action::Applied)
        .map(|o| o.id.clone())
        .collect();
    finish(
        shared,
        app,
        id,
        ReleaseStatus::Failed,
        &failure.message,
        Some(&failure.reason),
        &failure.outcomes,
        &applied,
    );
}

/// A progress callback that broadcasts as release `id` of `app`.
fn progress_for(shared: &Shared, app: &str, id: i64) -> impl Fn(Progress) + Send + Sync + use<> {
    let events = shared.events.clone();
    let app = app.to_owned();
    move |p: Progress| {
        let _ = events.send(DeployEvent {
            release: id,
            app: app.clone(),
            event: Event::Progress { progress: p },
        });
    }
}

/// Everything a deploy needs from the database, read before touching the cluster.
struct Prepared {
    application: Application,
    version: u32,
    manifest: Manifest,
    prune_from: Option<Vec<ResourceId>>,
}

fn prepare(store: &mut Store, app: &str, release: &Release) -> Result<Prepared, Failure> {
    let fail = |e: store::Error| Failure::new("StoreError", None, e.to_string(), None);
    let application = store.app(app).map_err(fail)?;
    let template = application.source.template().unwrap_or_default().to_owned();
    let version = store.version(&template, None).map_err(fail)?;
    let manifest = Manifest::parse(&version.content)
        .map_err(|e| Failure::new("InvalidTemplate", None, e.to_string(), None))?;
    let last = store.last_success(app).map_err(fail)?;
    let diff = match &last {
        Some((previous, _)) if *previous != version.summary.number => {
            let before = store.version(&template, Some(*previous)).map_err(fail)?;
            diff::diff_texts(&before.content, &version.content).ok()
        }
        _ => None,
    };
    store
        .plan_release(release.id, version.summary.number, diff.as_ref())
        .map_err(fail)?;
    let prune_from = if application.prune {
        last.map(|(_, applied)| applied)
    } else {
        None
    };
    Ok(Prepared {
        application,
        version: version.summary.number,
        manifest,
        prune_from,
    })
}

async fn execute(
    shared: &Arc<Shared>,
    app: &str,
    release: Release,
    deployers: &mut HashMap<String, Arc<Deployer>>,
) {
    let started = Instant::now();
    let id = release.id;
    let prepared = Store::open(&shared.database)
        .map_err(|e| Failure::new("StoreError", None, e.to_string(), None))
        .and_then(|mut store| prepare(&mut store, app, &release));
    let prepared = match prepared {
        Ok(p) => p,
        Err(failure) => {
            fail(shared, app, id, &failure);
            return;
        }
    };
    let _ = shared.events.send(DeployEvent {
        release: id,
        app: app.to_owned(),
        event: Event::Started {
            version: prepared.version,
            resources: prepared.manifest.documents().len(),
        },
    });
    let cluster_key = serde_json::to_string(&prepared.application.cluster).unwrap_or_default();
    let deployer = match deployers.get(&cluster_key) {
        Some(d) => d.clone(),
        None => match shared.clusters.client(&prepared.application.cluster).await {
            Ok(client) => {
                let d = Arc::new(Deployer::new(client));
                deployers.insert(cluster_key, d.clone());
                d
            }
            Err(error) => {
                let failure = Failure::new("ClusterUnavailable", None, error.to_string(), None);
                fail(shared, app, id, &failure);
                return;
            }
        },
    };
    if let Some(request) = &release.options.scale {
        scale(
            shared, app, &release, &prepared, &deployer, request, started,
        )
        .await;
        return;
    }
    let plan = Plan {
        app,
        namespace: &prepared.application.namespace,
        manifest: &prepared.manifest,
        prune_from: prepared.prune_from.as_deref(),
    };
    let progress = progress_for(shared, app, id);
    match deployer.deploy(&plan, &release.options, &progress).await {
        Ok(outcomes) => {
            let applied: Vec<ResourceId> = outcomes
                .iter()
                .filter(|o| o.action == Action::Applied)
                .map(|o| o.id.clone())
                .collect();
            let message = format!(
                "deployed version {} ({} object{}) in {:.1}s",
                prepared.version,
                applied.len(),
                if applied.len() == 1 { "" } else { "s" },
                started.elapsed().as_secs_f64()
            );
            finish(
                shared,
                app,
                id,
                ReleaseStatus::Succeeded,
                &message,
                None,
                &outcomes,
                &applied,
            );
        }
        Err(failure) => fail(shared, app, id, &failure),
    }
}

/// A scale trigger's release: scale through `/scale`, record the replica count as a template
/// version (origin `scale`, so the next redeploy keeps it), and wait for the rollout.
async fn scale(
    shared: &Arc<Shared>,
    app: &str,
    release: &Release,
    prepared: &Prepared,
    deployer: &Deployer,
    request: &ScaleRequest,
    started: Instant,
) {
    let id = release.id;
    let namespace = prepared
        .manifest
        .documents()
        .iter()
        .find(|d| d.id.kind == request.kind && d.id.name == request.name)
        .and_then(|d| d.id.namespace.clone())
        .unwrap_or_else(|| prepared.application.namespace.clone());
    let workload = ResourceId {
        api_version: "apps/v1".into(),
        kind: request.kind.clone(),
        namespace: Some(namespace.clone()),
        name: request.name.clone(),
    };
    let (from, to) = match deployer.scale(&namespace, request).await {
        Ok(counts) => counts,
        Err(failure) => {
            fail(shared, app, id, &failure);
            return;
        }
    };
    let template = prepared
        .application
        .source
        .template()
        .unwrap_or_default()
        .to_owned();
    let message = format!(
        "scaled {}/{} from {from} to {to} replicas",
        request.kind, request.name
    );
    let recorded = Store::open(&shared.database).and_then(|mut store| {
        store.modify_template(
            &template,
            crate::store::Origin::Scale,
            &message,
            None,
            |manifest| {
                let Some(position) = manifest
                    .documents()
                    .iter()
                    .position(|d| d.id.kind == request.kind && d.id.name == request.name)
                else {
                    return Ok((manifest, Vec::new()));
                };
                let mut value = manifest.documents()[position].value.clone();
                if value["spec"]["replicas"] == serde_json::json!(to) {
                    return Ok((manifest, Vec::new()));
                }
                value["spec"]["replicas"] = serde_json::json!(to);
                let changed = vec![manifest.documents()[position].id.clone()];
                Ok((manifest.replace(vec![(position, value)])?, changed))
            },
        )
    });
    if let Err(error) = recorded {
        tracing::warn!(%app, release = id, %error, "scaled, but could not record the replica count in the template");
    }
    let outcome = ResourceOutcome {
        id: workload.clone(),
        action: Action::Applied,
        generation: None,
        message: Some(message.clone()),
    };
    // A scale applies nothing new: what the last deploy applied stays the prune baseline.
    let applied: Vec<ResourceId> = Store::open(&shared.database)
        .and_then(|s| s.last_success(app))
        .ok()
        .flatten()
        .map(|(_, applied)| applied)
        .unwrap_or_default();
    if from == to {
        let note = format!(
            "{}/{} already has {to} replicas (within the trigger's bounds)",
            request.kind, request.name
        );
        finish(
            shared,
            app,
            id,
            ReleaseStatus::Succeeded,
            &note,
            None,
            &[outcome],
            &applied,
        );
        return;
    }
    let progress = progress_for(shared, app, id);
    progress(Progress::Resource(outcome.clone()));
    let result = if release.options.wait {
        deployer
            .wait_for(&workload, release.options.timeout, &progress)
            .await
            .map(|_| ())
    } else {
        Ok(())
    };
    match result {
        Ok(()) => {
            let done = format!("{message} in {:.1}s", started.elapsed().as_secs_f64());
            finish(
                shared,
                app,
                id,
                ReleaseStatus::Succeeded,
                &done,
                None,
                &[outcome],
                &applied,
            );
        }
        Err(failure) => {
            finish(
                shared,
                app,
                id,
                ReleaseStatus::Failed,
                &failure.message,
                Some(&failure.reason),
                &[outcome],
                &applied,
            );
        }
    }
}
