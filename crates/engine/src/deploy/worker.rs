//! Per-application deploy workers: one deploy at a time per application.
//!
//! [`Workers::submit`] records a queued release and wakes the application's worker (a tokio
//! task, started on first use); the listener records a call and its release in one
//! transaction and calls [`Workers::queued`]. The worker claims every queued release of its
//! application at once ([`Store::claim_release`]): the newest runs and carries the others'
//! work, so requests that pile up during a deploy coalesce without losing any of it: the
//! newest template version is deployed if any of them asked for a deploy, then every scale
//! step is applied in order. Each carried release stays on record, pointing at the one that
//! did its work. Progress is pushed to subscribers as [`DeployEvent`]s; nothing polls.
//!
//! Each worker owns a child of the [`CancellationToken`] given to [`Workers::new`]: cancelling
//! it (or [`Workers::shutdown`]) stops them all. A long-lived process calls
//! [`Workers::resume`] once: it takes over what a dead process left queued or running, and
//! its own unfinished releases are left queued when it stops, for the next start to carry
//! out. A one-shot command (`tripline deploy`) does neither: stopping it fails its release.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Action, Deployer, Failure, Plan, Progress, ResourceOutcome};
use crate::app::{Application, Source};
use crate::cluster::Clusters;
use crate::diff;
use crate::error::Code;
use crate::release::BranchCommit;
use crate::source::sync::{Fresh, Sources};
use crate::store::{self, Cause, Finish, Pool, Release, ReleaseStatus, SaveOutcome, Store, Work};
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
    /// Connections to the database the releases are recorded in.
    pool: Pool,
    clusters: Clusters,
    events: broadcast::Sender<DeployEvent>,
    cancel: CancellationToken,
    workers: Mutex<HashMap<String, Worker>>,
    /// Leave unfinished releases queued on stop, for the next start (set by `resume`).
    requeue_on_stop: AtomicBool,
    /// Where Git applications' caches and credentials are (see [`Workers::use_sources`]).
    sources: std::sync::OnceLock<Sources>,
}

impl Shared {
    fn sources(&self) -> &Sources {
        self.sources
            .get_or_init(|| Sources::new(self.pool.path().parent().unwrap_or(Path::new(".")), None))
    }
}

/// The deploy workers of one process.
///
/// Front ends reach them through [`crate::api::Tripline`] (which starts them: for one command,
/// on first use); public for the engine's integration tests and benchmarks.
#[derive(Clone)]
pub struct Workers {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("database", &self.shared.pool.path())
            .finish_non_exhaustive()
    }
}

impl Workers {
    /// The connections to the workers' database, for others in the process to share.
    pub fn pool(&self) -> &Pool {
        &self.shared.pool
    }

    /// Workers that record releases in the database at `database` and deploy to `clusters`.
    pub fn new(
        database: PathBuf,
        clusters: Clusters,
        cancel: CancellationToken,
    ) -> store::Result<Self> {
        let pool = Pool::new(&database);
        pool.with(|_| Ok(()))?;
        let (events, _) = broadcast::channel(1024);
        Ok(Workers {
            shared: Arc::new(Shared {
                pool,
                clusters,
                events,
                cancel,
                workers: Mutex::new(HashMap::new()),
                requeue_on_stop: AtomicBool::new(false),
                sources: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Where Git applications' caches and credentials are. Without this, caches go beside
    /// the database and sources are read without credentials. Set once, before the first
    /// deploy; a later call changes nothing.
    pub fn use_sources(&self, sources: Sources) {
        let _ = self.shared.sources.set(sources);
    }

    /// Where Git applications' caches and credentials are: what [`Self::use_sources`] set,
    /// else caches beside the database and no credentials.
    pub fn sources(&self) -> Sources {
        self.shared.sources().clone()
    }

    /// Receives every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DeployEvent> {
        self.shared.events.subscribe()
    }

    /// Records a deploy request for `app` and wakes its worker.
    pub fn submit(
        &self,
        app: &str,
        cause: &Cause,
        options: &super::Options,
    ) -> store::Result<Release> {
        let release = self
            .shared
            .pool
            .with(|s| s.queue_release(app, cause, options))?;
        self.queued(&release);
        Ok(release)
    }

    /// Announces a release queued in the database (by [`Store::record_and_queue`]) and wakes
    /// its application's worker.
    pub fn queued(&self, release: &Release) {
        let _ = self.shared.events.send(DeployEvent {
            release: release.id,
            app: release.app.clone(),
            event: Event::Queued {
                number: release.number,
            },
        });
        self.wake(&release.app);
    }

    fn wake(&self, app: &str) {
        let mut workers = self
            .shared
            .workers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let worker = workers.entry(app.to_owned()).or_insert_with(|| {
            let wake = Arc::new(Notify::new());
            let task = tokio::spawn(run(self.shared.clone(), app.to_owned(), wake.clone()));
            Worker { wake, task }
        });
        worker.wake.notify_one();
    }

    /// Takes over the releases a dead process left queued or running and starts carrying
    /// them out; from now on, releases unfinished when these workers stop stay queued for the
    /// next start. For long-lived processes (the listener, the desktop app), once at start.
    /// Returns the applications whose work was resumed.
    pub fn resume(&self) -> store::Result<Vec<String>> {
        self.shared.requeue_on_stop.store(true, Ordering::Release);
        let apps = self.shared.pool.with(|s| s.adopt_orphans())?;
        for app in &apps {
            tracing::info!(%app, "resuming deploys that a stopped Tripline had accepted");
            self.wake(app);
        }
        Ok(apps)
    }

    /// Stops every worker (a running deploy is abandoned where it stands and its release is
    /// marked interrupted) and waits for them.
    pub async fn shutdown(&self) {
        self.shared.cancel.cancel();
        let tasks: Vec<JoinHandle<()>> = self
            .shared
            .workers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
            let claimed = shared.pool.with(|s| s.claim_release(&app));
            let release = match claimed {
                Ok(Some(release)) => release,
                Ok(None) => break,
                Err(error) => {
                    tracing::error!(%app, %error, "cannot claim a release");
                    break;
                }
            };
            announce_carried(&shared, &app, &release);
            let id = release.id;
            tokio::select! {
                _ = cancel.cancelled() => {
                    stopped(&shared, &app, id);
                    return;
                }
                () = execute(&shared, &app, release, &mut deployers) => {}
            }
        }
    }
}

/// Tells subscribers about the releases `carrier` took over: each is finished as
/// superseded, its `carried_by` naming the carrier (a waiting caller follows it there).
fn announce_carried(shared: &Shared, app: &str, carrier: &Release) {
    let Some(work) = &carrier.work else {
        return;
    };
    for &id in &work.carries {
        let _ = shared.events.send(DeployEvent {
            release: id,
            app: app.to_owned(),
            event: Event::Finished {
                status: ReleaseStatus::Superseded,
                message: format!(
                    "carried out by release {}, which took over its work",
                    carrier.number
                ),
                reason: None,
            },
        });
    }
}

/// A release the workers stopped during: queued again for the next start when these workers
/// resume work, failed as interrupted otherwise.
fn stopped(shared: &Shared, app: &str, id: i64) {
    if shared.requeue_on_stop.load(Ordering::Acquire) {
        match shared.pool.with(|s| s.requeue_release(id)) {
            Ok(()) => return,
            Err(error) => {
                tracing::error!(%app, release = id, %error, "cannot leave a stopped release queued");
            }
        }
    }
    finish(
        shared,
        app,
        id,
        ReleaseStatus::Failed,
        "Tripline stopped during this deploy; deploy again to be sure of the cluster state",
        Some("Interrupted"),
        &[],
        &[],
        None,
    );
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
    version: Option<u32>,
) {
    let finish = Finish {
        status,
        message,
        reason,
        resources,
        applied,
        version,
    };
    if let Err(error) = shared.pool.with(|s| s.finish_release(id, &finish)) {
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
        None,
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
    template: String,
    /// The newest template version, and its manifest.
    version: u32,
    manifest: Manifest,
    /// The version the last successful release left running.
    deployed: Option<u32>,
    /// What the last successful release applied.
    last_applied: Vec<ResourceId>,
    /// Prune against `last_applied` (the application prunes and was deployed before).
    prune: bool,
}

fn prepare(
    store: &mut Store,
    app: &str,
    release: &Release,
    work: &Work,
) -> Result<Prepared, Failure> {
    let fail = |e: store::Error| Failure::new("StoreError", None, e.to_string(), None);
    let application = store.app(app).map_err(fail)?;
    let template = application.source.template().unwrap_or_default().to_owned();
    let version = store.version(&template, None).map_err(fail)?;
    let manifest = Manifest::parse_recent(&version.content)
        .map_err(|e| Failure::new("InvalidTemplate", None, e.to_string(), None))?;
    let last = store.last_success(app).map_err(fail)?;
    let deployed = last.as_ref().map(|(version, _)| *version);
    if work.deploy {
        let diff = match deployed {
            Some(previous) if previous != version.summary.number => {
                let before = store.version(&template, Some(previous)).map_err(fail)?;
                diff::diff_texts(&before.content, &version.content).ok()
            }
            _ => None,
        };
        store
            .plan_release(release.id, version.summary.number, diff.as_ref())
            .map_err(fail)?;
    } else if let Some(deployed) = deployed {
        // A scale alone leaves the deployed version running (with a new replica count).
        store
            .plan_release(release.id, deployed, None)
            .map_err(fail)?;
    }
    let prune = application.prune && last.is_some();
    Ok(Prepared {
        application,
        template,
        version: version.summary.number,
        manifest,
        deployed,
        last_applied: last.map(|(_, applied)| applied).unwrap_or_default(),
        prune,
    })
}

/// Brings a Git application's template up to its source before a deploy: reads the newest
/// commit (or the commit of another branch the release names, `branch_commit`) into a new
/// template version when it differs (a Helm application's chart and values: see
/// [`super::helm`]). Returns what to say instead of
/// deploying when a trigger asked and nothing is new (the commit, or manifests equal to what
/// runs): a redeploy call then changes nothing. A person's deploy always applies; a rollback
/// deploys the stored version it made and reads nothing.
async fn refresh(
    shared: &Arc<Shared>,
    app: &str,
    release: &Release,
    branch_commit: Option<&BranchCommit>,
) -> Result<Option<String>, Failure> {
    let store_failure = |e: store::Error| Failure::new("StoreError", None, e.to_string(), None);
    if matches!(release.cause, Cause::Rollback { .. }) {
        return Ok(None);
    }
    let (application, latest, deployed) = shared
        .pool
        .with(|store| {
            let application = store.app(app)?;
            let Some(template) = application.source.template().map(str::to_owned) else {
                return Ok((application, None, None));
            };
            let latest = store.version(&template, None)?.summary;
            let deployed = store.last_success(app)?.map(|(version, _)| version);
            Ok((application, Some(latest), deployed))
        })
        .map_err(store_failure)?;
    let sources = shared.sources().clone();
    if let (Source::Helm { helm, template }, Some(latest)) = (&application.source, &latest) {
        let refresh = super::helm::Refresh {
            app,
            namespace: &application.namespace,
            helm,
            template,
            latest,
            deployed,
            is_trigger: matches!(release.cause, Cause::Trigger { .. }),
        };
        return super::helm::refresh(&shared.pool, &sources, refresh).await;
    }
    let (Source::Git { git, template }, Some(latest)) = (&application.source, latest) else {
        return Ok(None);
    };
    let (name, git_source, known) = (app.to_owned(), git.clone(), latest.revision.clone());
    let pinned = branch_commit.cloned();
    let fresh = tokio::task::spawn_blocking(move || {
        let credentials = sources.credentials(&name)?;
        match &pinned {
            Some(at) => sources.read_git_commit(
                &name,
                &git_source,
                at,
                known.as_ref(),
                credentials.as_ref(),
            ),
            None => sources.refresh_git(&name, &git_source, known.as_ref(), credentials.as_ref()),
        }
    })
    .await
    .map_err(|e| {
        Failure::new(
            "SourceFailed",
            None,
            format!("reading the source failed: {e}"),
            None,
        )
    })?
    .map_err(|e| Failure::new(e.code.as_str(), None, e.message, None))?;
    let is_trigger = matches!(release.cause, Cause::Trigger { .. });
    let running_latest = |number: u32| deployed == Some(number);
    match fresh {
        Fresh::Same(revision) if is_trigger && running_latest(latest.number) => {
            Ok(Some(format!("nothing new: {revision} is deployed")))
        }
        Fresh::Same(_) => Ok(None),
        Fresh::Read(rendered) => {
            let revision = rendered.revision.to_string();
            let saved = shared
                .pool
                .with(|store| store.save_source_version(template, &rendered, ""))
                .map_err(|e| {
                    Failure::new(
                        Code::SourceInvalid.as_str(),
                        None,
                        format!("{revision} cannot be deployed: {e}"),
                        None,
                    )
                })?;
            match saved {
                SaveOutcome::Unchanged { version }
                    if is_trigger && running_latest(version.number) =>
                {
                    Ok(Some(format!(
                        "nothing new: {revision} renders what version {} holds, which is deployed",
                        version.number
                    )))
                }
                _ => Ok(None),
            }
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Carries out a claimed release's work: deploys the newest template version if any request
/// it carries asked for a deploy, then applies every scale step it carries, in order.
async fn execute(
    shared: &Arc<Shared>,
    app: &str,
    release: Release,
    deployers: &mut HashMap<String, Arc<Deployer>>,
) {
    let started = Instant::now();
    let id = release.id;
    let mut work = release
        .work
        .clone()
        .unwrap_or_else(|| Work::of(&release.options));
    let mut said = Vec::new();
    if work.deploy {
        match refresh(shared, app, &release, work.branch_commit.as_ref()).await {
            Ok(None) => {}
            Ok(Some(nothing_new)) => {
                work.deploy = false;
                said.push(nothing_new);
            }
            Err(failure) => {
                fail(shared, app, id, &failure);
                return;
            }
        }
    }
    let prepared = shared
        .pool
        .with(|store| Ok(prepare(store, app, &release, &work)))
        .unwrap_or_else(|e| Err(Failure::new("StoreError", None, e.to_string(), None)));
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
    let mut options = release.options.clone();
    options.force_conflicts |= work.force_conflicts;
    options.scale = None;
    let progress = progress_for(shared, app, id);

    let mut outcomes = Vec::new();
    let applied: Vec<ResourceId>;
    // The version the cluster runs once this release is done.
    let mut running = prepared.deployed;
    if work.deploy {
        let manifest = with_decided(&prepared.manifest, &work);
        let plan = Plan {
            app,
            namespace: &prepared.application.namespace,
            manifest: &manifest,
            prune_from: prepared.prune.then_some(prepared.last_applied.as_slice()),
        };
        match deployer.deploy(&plan, &options, &progress).await {
            Ok(done) => {
                applied = done
                    .iter()
                    .filter(|o| o.action == Action::Applied)
                    .map(|o| o.id.clone())
                    .collect();
                said.push(format!(
                    "deployed version {} ({} object{})",
                    prepared.version,
                    applied.len(),
                    plural(applied.len())
                ));
                outcomes = done;
                running = Some(prepared.version);
            }
            Err(failure) => {
                fail(shared, app, id, &failure);
                return;
            }
        }
    } else {
        // A scale applies nothing new: what the last deploy applied stays the prune baseline.
        applied = prepared.last_applied.clone();
    }

    let mut version = None;
    if work.scales_anything() {
        match scale(
            shared, app, id, &prepared, &deployer, &mut work, &options, running, &progress,
        )
        .await
        {
            Ok(scaled) => {
                said.extend(scaled.said);
                outcomes.extend(scaled.outcomes);
                version = scaled.version;
            }
            Err((failure, scaled)) => {
                outcomes.extend(scaled);
                let message = if said.is_empty() {
                    failure.message.clone()
                } else {
                    format!("{}; then: {}", said.join(", "), failure.message)
                };
                finish(
                    shared,
                    app,
                    id,
                    ReleaseStatus::Failed,
                    &message,
                    Some(&failure.reason),
                    &outcomes,
                    &applied,
                    version,
                );
                return;
            }
        }
    }
    let mut message = said.join(", then ");
    if message.is_empty() {
        message = "nothing to do".to_owned();
    }
    message.push_str(&format!(" in {:.1}s", started.elapsed().as_secs_f64()));
    finish(
        shared,
        app,
        id,
        ReleaseStatus::Succeeded,
        &message,
        None,
        &outcomes,
        &applied,
        version,
    );
}

/// The manifest with the replica counts `work` had decided: a resumed release may have sent
/// them already (its process was killed before it recorded them), and a deploy must not apply
/// the template's older count over them.
fn with_decided(manifest: &Manifest, work: &Work) -> Manifest {
    let values: Vec<(usize, serde_json::Value)> = manifest
        .documents()
        .iter()
        .enumerate()
        .filter_map(|(position, document)| {
            let decided = work
                .decided
                .iter()
                .find(|d| d.kind == document.id.kind && d.name == document.id.name)?;
            let mut value = document.value.clone();
            value["spec"]["replicas"] = serde_json::json!(decided.replicas);
            Some((position, value))
        })
        .collect();
    if values.is_empty() {
        return manifest.clone();
    }
    manifest
        .clone()
        .replace(values)
        .unwrap_or_else(|_| manifest.clone())
}

/// What the scale steps did.
struct Scaled {
    said: Vec<String>,
    outcomes: Vec<ResourceOutcome>,
    /// The template version recording the new counts, when the cluster runs exactly it.
    version: Option<u32>,
}

/// Applies `work`'s scale steps: per workload, the count is decided (from the live count, or
/// the count a resumed release had decided), written to the release's work, sent through
/// `/scale`, and recorded as a template version (origin `scale`, so the next redeploy keeps
/// it); then the rollouts are followed when the release waits.
#[allow(clippy::too_many_arguments)]
async fn scale(
    shared: &Arc<Shared>,
    app: &str,
    id: i64,
    prepared: &Prepared,
    deployer: &Deployer,
    work: &mut Work,
    options: &super::Options,
    running: Option<u32>,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Scaled, (Failure, Vec<ResourceOutcome>)> {
    let mut said = Vec::new();
    let mut outcomes = Vec::new();
    let mut counts: Vec<(ResourceId, u32)> = Vec::new();
    for (kind, name) in work.workloads() {
        let namespace = prepared
            .manifest
            .documents()
            .iter()
            .find(|d| d.id.kind == kind && d.id.name == name)
            .and_then(|d| d.id.namespace.clone())
            .unwrap_or_else(|| prepared.application.namespace.clone());
        let workload = ResourceId {
            api_version: "apps/v1".into(),
            kind: kind.clone(),
            namespace: Some(namespace),
            name: name.clone(),
        };
        let live = match deployer.replicas(&workload).await {
            Ok(live) => live,
            Err(failure) => return Err((failure, outcomes)),
        };
        let target = work.target(&kind, &name, live);
        work.decide(&kind, &name, target);
        // Written before it is sent: a resumed release sends this count, not another step.
        if let Err(error) = shared.pool.with(|s| s.save_work(id, work)) {
            let failure = Failure::new("StoreError", None, error.to_string(), None);
            return Err((failure, outcomes));
        }
        let message = if live == target {
            format!("{kind}/{name} already has {target} replicas (within the triggers' bounds)")
        } else {
            if let Err(failure) = deployer.set_replicas(&workload, target).await {
                return Err((failure, outcomes));
            }
            format!("scaled {kind}/{name} from {live} to {target} replicas")
        };
        let outcome = ResourceOutcome {
            id: workload.clone(),
            action: Action::Applied,
            generation: None,
            message: Some(message.clone()),
        };
        progress(Progress::Resource(outcome.clone()));
        outcomes.push(outcome);
        said.push(message);
        counts.push((workload, target));
    }

    let version = record_counts(shared, app, prepared, &counts, &said, running);
    if options.wait {
        for (workload, _) in &counts {
            if let Err(failure) = deployer.wait_for(workload, options, progress).await {
                return Err((failure, outcomes));
            }
        }
    }
    Ok(Scaled {
        said,
        outcomes,
        version,
    })
}

/// Records the new replica counts as a template version. Returns the version the cluster
/// now runs exactly: the new one when it was made from the running version, else none.
fn record_counts(
    shared: &Shared,
    app: &str,
    prepared: &Prepared,
    counts: &[(ResourceId, u32)],
    said: &[String],
    running: Option<u32>,
) -> Option<u32> {
    let recorded = shared.pool.with(|store| {
        let base = store.version(&prepared.template, None)?.summary.number;
        let outcome = store.modify_template(
            &prepared.template,
            crate::store::Origin::Scale,
            &said.join("; "),
            None,
            |manifest| {
                let mut values = Vec::new();
                let mut changed = Vec::new();
                for (workload, to) in counts {
                    let Some(position) = manifest
                        .documents()
                        .iter()
                        .position(|d| d.id.kind == workload.kind && d.id.name == workload.name)
                    else {
                        continue;
                    };
                    let mut value = manifest.documents()[position].value.clone();
                    if value["spec"]["replicas"] == serde_json::json!(to) {
                        continue;
                    }
                    value["spec"]["replicas"] = serde_json::json!(to);
                    changed.push(manifest.documents()[position].id.clone());
                    values.push((position, value));
                }
                if values.is_empty() {
                    return Ok((manifest, changed));
                }
                Ok((manifest.replace(values)?, changed))
            },
        )?;
        Ok((base, outcome.version().number))
    });
    match recorded {
        Ok((base, version)) if Some(base) == running => Some(version),
        Ok((_, version)) => {
            tracing::info!(%app, version, "the new replica count is recorded in a version that also holds changes not deployed");
            None
        }
        Err(error) => {
            tracing::warn!(%app, %error, "scaled, but could not record the replica count in the template");
            None
        }
    }
}
