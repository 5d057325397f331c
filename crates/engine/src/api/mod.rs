//! The application's API. [`Tripline`] opens one database, the secret store, the clusters
//! (with the sandbox), the deploy workers and the listener once, and its methods are what a
//! front end calls; each rule (a name, a template check, a trigger's target) is enforced
//! behind them once, in the domain function a method wraps.
//!
//! The desktop app and `tripline serve` go through it for everything: the store, secrets,
//! clusters and workers behind it are not public. The command line's one-shot commands do
//! not yet: they call the same domain functions these methods wrap (so both front ends give
//! the same answers, which the CLI crate's `tests/front_ends.rs` checks), without opening
//! the sandbox and the workers a `Tripline` starts.
//!
//! This file opens the handle and runs the listener; the methods front ends call live beside
//! it, one file per domain, each an `impl Tripline` block with that domain's view types:
//! `templates` (versions, saves, checks, diffs), `apps` (applications, clusters, live
//! workloads), `releases` (the timeline, deploy, rollback), `triggers` (what a trigger can
//! follow, its secrets and URL), `records` (access records), `status` (where the data lives)
//! and `demo` ("Try it on the sandbox"). Each method is a few lines over [`crate::store`],
//! [`crate::trigger`], [`crate::deploy`] and [`crate::listener`].
//!
//! Changes are pushed, never polled: [`Tripline::subscribe_deploys`] (release progress),
//! [`Tripline::subscribe_records`] (calls the listener recorded) and
//! [`Tripline::subscribe_listener`] (the listener started, stopped or failed).
//!
//! Every background task has an owner: the workers and the listener stop on
//! [`Tripline::shutdown`], which also stops a sandbox this process started.

mod apps;
mod demo;
mod records;
mod releases;
mod sources;
mod status;
mod templates;
mod triggers;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cluster::sandbox::{ClusterAccess, clusters_for};
use crate::deploy::worker::{DeployEvent, Workers};
use crate::error::{Code, ErrorBody};
use crate::listener::{self, Listener, Recorded};
use crate::secrets::Secrets;
use crate::store::Store;

pub use apps::{AppDetail, AppOverview, AppUsage, ClusterList};
pub use demo::Demo;
pub use sources::NewGitApplication;
pub use status::{SecretsKind, Storage};
pub use templates::{Diagnostic, TemplateCheck, VersionDiff};
pub use triggers::{ImageChoice, TagPreview, TriggerSetup, WorkloadChoice};

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

/// The application's API handle: the running Tripline (see the module docs).
pub struct Tripline {
    data_dir: PathBuf,
    database: PathBuf,
    via: &'static str,
    store: Mutex<Store>,
    secrets: Secrets,
    access: Mutex<Option<ClusterAccess>>,
    clusters: crate::cluster::Clusters,
    workers: Workers,
    /// Git applications' caches and credentials.
    sources: crate::source::sync::Sources,
    /// The applications whose accepted deploys were resumed when this opened.
    resumed: Vec<String>,
    listener: tokio::sync::Mutex<ListenerSlot>,
    records: broadcast::Sender<Recorded>,
    listener_changes: broadcast::Sender<ListenerStatus>,
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
        let store = Store::open_dir(&options.data_dir).map_err(|e| ErrorBody::from(&e))?;
        let database = store.info().map_err(|e| ErrorBody::from(&e))?.path;
        let secrets = options.secrets;
        let access = clusters_for(
            &crate::app::ClusterRef::Sandbox,
            &options.data_dir,
            options.quiet,
        )
        .await?;
        let clusters = access.clusters.clone();
        let cancel = CancellationToken::new();
        let workers = Workers::new(database.clone(), clusters.clone(), cancel.child_token())
            .map_err(|e| ErrorBody::from(&e))?;
        let sources = crate::source::sync::Sources::new(&options.data_dir, Some(secrets.clone()));
        workers.use_sources(sources.clone());
        let resumed = workers.resume().map_err(|e| ErrorBody::from(&e))?;
        let (records, _) = broadcast::channel(1024);
        let (listener_changes, _) = broadcast::channel(64);
        Ok(Tripline {
            data_dir: options.data_dir,
            database,
            via: options.via,
            store: Mutex::new(store),
            secrets,
            access: Mutex::new(Some(access)),
            clusters,
            workers,
            sources,
            resumed,
            listener: tokio::sync::Mutex::new(ListenerSlot {
                settings: ListenerSettings::default(),
                running: None,
                error: None,
            }),
            records,
            listener_changes,
            cancel,
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
    /// inside a trigger URL the person asked to see).
    pub(crate) fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// The clusters applications can use.
    pub(crate) fn clusters(&self) -> &crate::cluster::Clusters {
        &self.clusters
    }

    /// The deploy workers.
    pub(crate) fn workers(&self) -> &Workers {
        &self.workers
    }

    /// Who releases started here are recorded as coming from.
    pub fn via(&self) -> &'static str {
        self.via
    }

    /// Release progress, from now on.
    pub fn subscribe_deploys(&self) -> broadcast::Receiver<DeployEvent> {
        self.workers.subscribe()
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
        let state = listener::State::new(
            config,
            self.database.clone(),
            self.secrets.clone(),
            self.workers.clone(),
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
        self.workers.shutdown().await;
        self.cancel.cancel();
        let access = self
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
