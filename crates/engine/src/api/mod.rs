//! The application's API. [`Tripline`] opens one database, the secret store, the clusters
//! (with the sandbox), the deploy workers and the listener once, and its methods are what a
//! front end calls; each rule (a name, a template check, a trigger's target) is enforced
//! behind them once, in the domain function a method wraps.
//!
//! Every front end goes through it: the desktop app, `tripline serve` and each of the
//! command line's one-shot commands (the CLI crate's `tests/front_ends.rs` checks that they
//! answer a bad request with the same code and message). The store, secrets, clusters and
//! workers behind it are not a front end's to touch.
//!
//! Two ways to open it. [`Tripline::open`] (the desktop app, `tripline serve`) reaches the
//! sandbox, starts the workers and resumes the deploys a stopped Tripline had accepted, at
//! once. [`Tripline::open_for_command`] (a one-shot command) opens the database only: the
//! secret store is found the first time a token is read or written, and the clusters and
//! workers are started, for the cluster of the application at hand, by the first method that
//! needs them ([`Tripline::workloads`], [`Tripline::deploy_with`]); reading templates or
//! records starts nothing. Both fill the same cells, so the methods are the same.
//!
//! This file opens the handle and runs the listener; the methods front ends call live beside
//! it, one file per domain, each an `impl Tripline` block with that domain's view types:
//! `templates` (versions, saves, patches, checks, diffs), `apps` (applications, clusters, live
//! workloads), `releases` (the timeline, deploy, rollback, and following one release),
//! `triggers` (what a trigger can follow, its secrets and URL), `records` (access records),
//! `status` (where the data lives, what waits), `registry` (registry credentials, budgets and
//! tags) and `demo` ("Try it on the sandbox"). Each method is a few lines over [`crate::store`],
//! [`crate::trigger`], [`crate::deploy`] and [`crate::listener`].
//!
//! Changes are pushed, never polled: [`Tripline::subscribe_deploys`] (release progress),
//! [`Tripline::subscribe_records`] (calls the listener recorded) and
//! [`Tripline::subscribe_listener`] (the listener started, stopped or failed).
//!
//! Every background task has an owner: the workers and the listener stop on
//! [`Tripline::shutdown`], which also stops a sandbox this process started (a command calls
//! it once it is done with a cluster).

mod apps;
mod demo;
mod records;
mod registry;
mod releases;
mod sources;
mod status;
mod templates;
mod triggers;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use serde::{Deserialize, Serialize};
use tokio::sync::{OnceCell, broadcast};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::ClusterRef;
use crate::cluster::Clusters;
use crate::cluster::sandbox::{ClusterAccess, clusters_for, running_config};
use crate::deploy::worker::{DeployEvent, Workers};
use crate::error::{Code, ErrorBody};
use crate::listener::{self, Listener, Recorded};
use crate::secrets::Secrets;
use crate::store::Store;

pub use apps::{AppDetail, AppOverview, AppUsage, ClusterList};
pub use demo::Demo;
pub use registry::{
    CredentialSource, RegistryBudget, RegistryHostStatus, RegistryLogin, RegistryTags,
};
pub use releases::Deploying;
pub use sources::{NewGitApplication, NewHelmApplication, SourcePreview, ValuesDiff};
pub use status::{DatabaseStatus, SecretsKind, Storage};
pub use templates::{Diagnostic, PatchPreview, TemplateCheck, VersionDiff};
pub use triggers::{
    ImageChoice, IssuedTrigger, MaturingView, TagPreview, TriggerSetup, TriggerWatch,
    WorkloadChoice,
};

/// How to open the façade.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the database, the sandbox's state and (without a keyring) secret files live.
    pub data_dir: PathBuf,
    /// Where secrets go: the store the front end found ([`Secrets::detect`]), so that
    /// each front end words its own advice when none answers and the keyring is probed once.
    pub secrets: Secrets,
    /// Who is asking, recorded on releases (`desktop`, `cli`).
    pub via: &'static str,
    /// Say nothing on stderr when the sandbox is started here (the desktop app, whose stderr
    /// nobody reads, and `tripline serve --json`, whose output is for machines).
    pub quiet: bool,
}

/// How to open the façade for one command ([`Tripline::open_for_command`]).
pub struct CommandOptions {
    /// Where the database, the sandbox's state and (without a keyring) secret files live.
    pub data_dir: PathBuf,
    /// Finds the secret store, the first time a method needs it (a trigger's token or URL):
    /// a command that keeps no secret never probes the keyring. The front end words the
    /// advice when none answers.
    pub find_secrets: Box<dyn Fn() -> Result<Secrets, ErrorBody> + Send + Sync>,
    /// Who is asking, recorded on releases (`cli`).
    pub via: &'static str,
    /// Say nothing on stderr when the sandbox is started here.
    pub quiet: bool,
}

impl std::fmt::Debug for CommandOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandOptions")
            .field("data_dir", &self.data_dir)
            .field("via", &self.via)
            .field("quiet", &self.quiet)
            .finish_non_exhaustive()
    }
}

/// Listener settings a front end keeps (the rest are [`listener::Config`]'s defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ListenerSettings {
    /// `host:port` to listen on.
    pub listen: String,
    /// The base URL callers use, for trigger URLs (empty: `http://<listen>`).
    pub public_url: Option<String>,
    /// Reverse proxies and tunnels (addresses or networks, `10.0.0.1`, `10.0.0.0/8`) whose
    /// `X-Forwarded-For` names the caller. None: the peer is the caller.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

/// [`ListenerSettings`], checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidListenerSettings {
    /// Where to listen.
    pub listen: std::net::SocketAddr,
    /// The base of trigger URLs, when one is set.
    pub public_url: Option<String>,
    /// The trusted proxies.
    pub trusted_proxies: Vec<listener::TrustedProxy>,
}

impl ListenerSettings {
    /// The settings, checked: the error names the setting and what to write.
    pub fn validate(&self) -> Result<ValidListenerSettings, ErrorBody> {
        let (listen, public_url) = self.address_and_url()?;
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|given| given.trim())
            .filter(|given| !given.is_empty())
            .map(|given| {
                given.parse().map_err(|e: listener::ProxyError| {
                    ErrorBody::new(Code::ListenerTrustedProxy, format!("trusted proxies: {e}"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ValidListenerSettings {
            listen,
            public_url,
            trusted_proxies,
        })
    }

    fn address_and_url(&self) -> Result<(std::net::SocketAddr, Option<String>), ErrorBody> {
        let listen = self.listen.trim().parse().map_err(|_| {
            ErrorBody::new(
                Code::ListenerAddress,
                format!(
                    "{:?} is not an address to listen on; write IP:port, such as 127.0.0.1:8787",
                    self.listen
                ),
            )
        })?;
        let public_url = listener::public_url(self.public_url.as_deref())?;
        Ok((listen, public_url))
    }
}

impl Default for ListenerSettings {
    fn default() -> Self {
        ListenerSettings {
            listen: listener::Config::default().listen.to_string(),
            public_url: None,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Where the listener stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ListenerStatus {
    /// True while it serves.
    pub running: bool,
    /// The address it is bound to (or would bind to).
    pub address: String,
    /// The base of trigger URLs.
    pub public_url: String,
    /// Why it is not running, when starting it failed.
    pub error: Option<String>,
    /// Requests answered since it started, by trigger kind and status.
    pub requests: Vec<RequestCount>,
}

/// One counter of [`ListenerStatus::requests`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct RequestCount {
    /// `redeploy`, `scale`, `image` or `unknown`.
    pub kind: String,
    /// The HTTP status.
    pub status: u16,
    /// How many.
    pub count: u32,
}

struct Running {
    listener: Listener,
    state: Arc<listener::State>,
    forward: JoinHandle<()>,
}

struct ListenerSlot {
    settings: ListenerSettings,
    running: Option<Running>,
    error: Option<String>,
}

/// The clusters and the deploy workers, with the sandbox started for them.
struct Reach {
    clusters: Clusters,
    workers: Workers,
    /// The sandbox this process started, if it did (stopped by [`Tripline::shutdown`]).
    access: Mutex<Option<ClusterAccess>>,
}

impl Reach {
    /// Makes `cluster` reachable (a running sandbox is reused, else one is started here) and
    /// makes workers that deploy to it.
    async fn start(
        cluster: &ClusterRef,
        data_dir: &Path,
        database: PathBuf,
        quiet: bool,
        cancel: CancellationToken,
    ) -> Result<Self, ErrorBody> {
        let access = clusters_for(cluster, data_dir, quiet).await?;
        let clusters = access.clusters.clone();
        let workers = match Workers::new(database, clusters.clone(), cancel) {
            Ok(workers) => workers,
            Err(error) => {
                access.shutdown().await;
                return Err(ErrorBody::from(&error));
            }
        };
        Ok(Reach {
            clusters,
            workers,
            access: Mutex::new(Some(access)),
        })
    }
}

/// The secret store: given when the façade opens, or found the first time it is needed.
struct SecretStore {
    found: OnceLock<Secrets>,
    find: Option<Box<dyn Fn() -> Result<Secrets, ErrorBody> + Send + Sync>>,
}

impl SecretStore {
    fn get(&self) -> Result<&Secrets, ErrorBody> {
        if let Some(secrets) = self.found.get() {
            return Ok(secrets);
        }
        let find = self
            .find
            .as_ref()
            .ok_or_else(|| ErrorBody::new(Code::SecretsUnavailable, "no secret store was given"))?;
        let secrets = find()?;
        Ok(self.found.get_or_init(|| secrets))
    }
}

/// The application's API handle: the running Tripline (see the module docs).
pub struct Tripline {
    data_dir: PathBuf,
    database: PathBuf,
    via: &'static str,
    quiet: bool,
    store: Mutex<Store>,
    secrets: SecretStore,
    /// Filled by [`Tripline::open`]; for one command, by the first method that needs it.
    reach: OnceCell<Reach>,
    /// The applications whose accepted deploys were resumed when this opened.
    resumed: Vec<String>,
    listener: tokio::sync::Mutex<ListenerSlot>,
    records: broadcast::Sender<Recorded>,
    listener_changes: broadcast::Sender<ListenerStatus>,
    /// The registry client, its budgets' keeper and credentials found (see `registry`).
    registry: registry::RegistryState,
    cancel: CancellationToken,
}

impl std::fmt::Debug for Tripline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tripline")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Tripline {
    /// Opens the database, resumes the deploys a stopped Tripline had accepted,
    /// finds the secret store, reaches the sandbox (a running one, else started here) and
    /// starts the deploy workers. The listener is started separately.
    pub async fn open(options: Options) -> Result<Self, ErrorBody> {
        std::fs::create_dir_all(&options.data_dir).map_err(|e| {
            ErrorBody::new(
                Code::StoreIo,
                format!("cannot create {}: {e}", options.data_dir.display()),
            )
        })?;
        let secrets = SecretStore {
            found: OnceLock::from(options.secrets),
            find: None,
        };
        let mut tripline = Self::open_store(options.data_dir, options.via, options.quiet, secrets)?;
        let reach = Reach::start(
            &ClusterRef::Sandbox,
            &tripline.data_dir,
            tripline.database.clone(),
            tripline.quiet,
            tripline.cancel.child_token(),
        )
        .await?;
        reach.workers.use_sources(tripline.sources());
        let resumed = reach.workers.resume();
        tripline.reach = OnceCell::new_with(Some(reach));
        match resumed {
            Ok(resumed) => tripline.resumed = resumed,
            Err(error) => {
                tripline.shutdown().await;
                return Err(ErrorBody::from(&error));
            }
        }
        Ok(tripline)
    }

    /// Opens the database for one command, and nothing else: the secret store is found, the
    /// application's cluster reached (the sandbox started when it is not running) and the
    /// deploy workers made by the first method that needs them, so that reading a template
    /// starts nothing. Deploys a stopped Tripline had accepted are left for `tripline serve`
    /// or the desktop app. A command that reached a cluster calls [`Self::shutdown`] before
    /// it exits.
    pub fn open_for_command(options: CommandOptions) -> Result<Self, ErrorBody> {
        Self::open_store(
            options.data_dir,
            options.via,
            options.quiet,
            SecretStore {
                found: OnceLock::new(),
                find: Some(options.find_secrets),
            },
        )
    }

    fn open_store(
        data_dir: PathBuf,
        via: &'static str,
        quiet: bool,
        secrets: SecretStore,
    ) -> Result<Self, ErrorBody> {
        let store = Store::open_dir(&data_dir).map_err(|e| ErrorBody::from(&e))?;
        let database = store.info().map_err(|e| ErrorBody::from(&e))?.path;
        let (records, _) = broadcast::channel(1024);
        let (listener_changes, _) = broadcast::channel(64);
        Ok(Tripline {
            data_dir,
            database,
            via,
            quiet,
            store: Mutex::new(store),
            secrets,
            reach: OnceCell::new(),
            resumed: Vec::new(),
            listener: tokio::sync::Mutex::new(ListenerSlot {
                settings: ListenerSettings::default(),
                running: None,
                error: None,
            }),
            records,
            listener_changes,
            registry: registry::RegistryState::new(),
            cancel: CancellationToken::new(),
        })
    }

    /// The applications whose accepted deploys were resumed when this opened.
    pub fn resumed(&self) -> &[String] {
        &self.resumed
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The database, for the façade's methods (front ends call those, never the store).
    /// Held briefly: never across an `.await`.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the connection usable (SQLite rolls back an
        // unfinished transaction), so a poisoned lock is taken over rather than propagated.
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The secret store (tokens are written and read here, never returned to a UI except
    /// inside a trigger URL the person asked to see), found now if it was not yet.
    pub(crate) fn secrets(&self) -> Result<&Secrets, ErrorBody> {
        self.secrets.get()
    }

    /// The clusters and the workers, reached now for `cluster` if they were not yet (one
    /// command reaches the cluster of the application it acts on).
    async fn reach(&self, cluster: &ClusterRef) -> Result<&Reach, ErrorBody> {
        self.reach
            .get_or_try_init(|| async {
                let reach = Reach::start(
                    cluster,
                    &self.data_dir,
                    self.database.clone(),
                    self.quiet,
                    self.cancel.child_token(),
                )
                .await?;
                reach.workers.use_sources(self.sources());
                Ok(reach)
            })
            .await
    }

    /// Git applications' caches, and their credentials in the secret store (when one
    /// answers: without it, repositories are read anonymously).
    pub(crate) fn sources(&self) -> crate::source::sync::Sources {
        crate::source::sync::Sources::new(&self.data_dir, self.secrets.get().ok().cloned())
    }

    /// The clusters applications can use, reached now for `cluster` if they were not yet.
    pub(crate) async fn clusters(&self, cluster: &ClusterRef) -> Result<&Clusters, ErrorBody> {
        Ok(&self.reach(cluster).await?.clusters)
    }

    /// The clusters as they stand, without starting anything: a sandbox that runs is listed
    /// with its address, one that does not as "starts when needed".
    pub(crate) fn known_clusters(&self) -> Clusters {
        match self.reach.get() {
            Some(reach) => reach.clusters.clone(),
            None => Clusters::new(running_config(&self.data_dir)),
        }
    }

    /// The deploy workers, started now (with the cluster of `app`) if they were not yet.
    pub(crate) async fn workers_for(&self, cluster: &ClusterRef) -> Result<&Workers, ErrorBody> {
        Ok(&self.reach(cluster).await?.workers)
    }

    /// The deploy workers [`Self::open`] started; a façade opened for one command has none
    /// until an async method such as [`Self::deploy_with`] starts them.
    pub(crate) fn workers(&self) -> Result<&Workers, ErrorBody> {
        self.reach.get().map(|reach| &reach.workers).ok_or_else(|| {
            ErrorBody::new(
                Code::DeployNoWorkers,
                "the deploy workers are not running: this Tripline was opened for one command",
            )
        })
    }

    /// Who releases started here are recorded as coming from.
    pub fn via(&self) -> &'static str {
        self.via
    }

    /// Release progress, from now on. A façade opened for one command follows its own
    /// release with [`Self::deploy_with`] instead: before that, nothing would be sent here.
    pub fn subscribe_deploys(&self) -> broadcast::Receiver<DeployEvent> {
        match self.reach.get() {
            Some(reach) => reach.workers.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Calls the listener recorded, from now on (across listener restarts).
    pub fn subscribe_records(&self) -> broadcast::Receiver<Recorded> {
        self.records.subscribe()
    }

    /// Listener starts, stops and failures, from now on.
    pub fn subscribe_listener(&self) -> broadcast::Receiver<ListenerStatus> {
        self.listener_changes.subscribe()
    }

    /// Starts the listener with `settings` (restarting it if it runs). A failure to bind is
    /// returned and also kept in the status, so a tray can show it.
    pub async fn start_listener(
        &self,
        settings: ListenerSettings,
    ) -> Result<ListenerStatus, ErrorBody> {
        let mut slot = self.listener.lock().await;
        slot.settings = settings.clone();
        let config = settings.validate().map(|valid| listener::Config {
            listen: valid.listen,
            public_url: valid.public_url,
            trusted_proxies: valid.trusted_proxies,
            ..listener::Config::default()
        });
        self.replace_listener(&mut slot, config, "; choose another address in Settings")
            .await
            .map(|_| status_of(&slot))
    }

    /// Starts the listener with every setting a server gives (`tripline serve`: body limit,
    /// retention, connection caps) and returns the address it is bound to. A bind error
    /// names the address only.
    pub async fn serve_listener(
        &self,
        config: listener::Config,
    ) -> Result<std::net::SocketAddr, ErrorBody> {
        let mut slot = self.listener.lock().await;
        self.replace_listener(&mut slot, Ok(config), "").await
    }

    /// Stops the running listener, starts one with `config`, notes the outcome in the slot
    /// and tells the subscribers.
    async fn replace_listener(
        &self,
        slot: &mut ListenerSlot,
        config: Result<listener::Config, ErrorBody>,
        hint: &str,
    ) -> Result<std::net::SocketAddr, ErrorBody> {
        if let Some(running) = slot.running.take() {
            stop(running).await;
        }
        let started = match config {
            Ok(config) => self.bind_config(config, hint).await,
            Err(error) => Err(error),
        };
        let result = match started {
            Ok(running) => {
                let address = running.listener.address();
                slot.running = Some(running);
                slot.error = None;
                Ok(address)
            }
            Err(error) => {
                slot.error = Some(error.message.clone());
                Err(error)
            }
        };
        let _ = self.listener_changes.send(status_of(slot));
        result
    }

    async fn bind_config(
        &self,
        config: listener::Config,
        hint: &str,
    ) -> Result<Running, ErrorBody> {
        let workers = self.workers_for(&ClusterRef::Sandbox).await?.clone();
        let state = listener::State::with_registry(
            config,
            self.database.clone(),
            self.secrets()?.clone(),
            workers,
            self.registry_access()?,
        )
        .map_err(|e| ErrorBody::from(&e))?;
        let listen = state.config.listen;
        let listener = Listener::start(state.clone(), self.cancel.child_token())
            .await
            .map_err(|e| {
                ErrorBody::new(
                    Code::ListenerBind,
                    format!("cannot listen on {listen}: {e}{hint}"),
                )
            })?;
        let mut incoming = state.subscribe();
        let records = self.records.clone();
        let forward = tokio::spawn(async move {
            loop {
                match incoming.recv().await {
                    Ok(recorded) => {
                        let _ = records.send(recorded);
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Ok(Running {
            listener,
            state,
            forward,
        })
    }

    /// Stops the listener (in-flight requests finish first).
    pub async fn stop_listener(&self) -> ListenerStatus {
        let mut slot = self.listener.lock().await;
        if let Some(running) = slot.running.take() {
            stop(running).await;
        }
        slot.error = None;
        let status = status_of(&slot);
        let _ = self.listener_changes.send(status.clone());
        status
    }

    /// Where the listener stands now.
    pub async fn listener_status(&self) -> ListenerStatus {
        status_of(&*self.listener.lock().await)
    }

    /// The base of trigger URLs: the public URL, else the listen address.
    pub async fn base_url(&self) -> String {
        status_of(&*self.listener.lock().await).public_url
    }

    /// Stops the listener, the workers (releases in flight are marked interrupted by the
    /// next start) and a sandbox this process started.
    pub async fn shutdown(&self) {
        let running = self.listener.lock().await.running.take();
        if let Some(running) = running {
            stop(running).await;
        }
        let Some(reach) = self.reach.get() else {
            self.cancel.cancel();
            return;
        };
        reach.workers.shutdown().await;
        self.cancel.cancel();
        let access = reach
            .access
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(access) = access {
            access.shutdown().await;
        }
    }
}

async fn stop(running: Running) {
    running.listener.shutdown().await;
    running.state.flush_records().await;
    running.forward.abort();
}

fn status_of(slot: &ListenerSlot) -> ListenerStatus {
    let (address, public_url, requests) = match &slot.running {
        Some(running) => (
            running.listener.address().to_string(),
            // With port 0 the config names no real port: trigger URLs use the bound one.
            running
                .state
                .config
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", running.listener.address())),
            running
                .state
                .metrics
                .counts()
                .into_iter()
                .map(|(kind, status, count)| RequestCount {
                    kind,
                    status,
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                })
                .collect(),
        ),
        None => {
            let public = match slot.settings.public_url.as_deref().map(str::trim) {
                Some(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
                _ => format!("http://{}", slot.settings.listen.trim()),
            };
            (slot.settings.listen.clone(), public, Vec::new())
        }
    };
    ListenerStatus {
        running: slot.running.is_some(),
        address,
        public_url,
        error: slot.error.clone(),
        requests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opened for one command, the façade reads and writes the database without reaching a
    /// cluster, starting workers or looking for the secret store.
    #[test]
    fn a_command_that_only_reads_starts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let tripline = Tripline::open_for_command(CommandOptions {
            data_dir: dir.path().to_owned(),
            find_secrets: Box::new(|| panic!("the secret store was looked for")),
            via: "cli",
            quiet: true,
        })
        .unwrap();
        assert!(tripline.templates().unwrap().is_empty());
        assert!(tripline.apps().unwrap().is_empty());
        assert_eq!(tripline.database_status().unwrap().queued_releases, 0);
        let clusters = tripline.cluster_usage().unwrap();
        assert_eq!(clusters.clusters[0].cluster.name, "sandbox");
        assert!(tripline.reach.get().is_none());
        assert_eq!(
            tripline.deploy("web").unwrap_err().code,
            "deploy.no_workers"
        );
        assert!(!dir.path().join("sandbox").exists());
    }
}
