//! The built-in sandbox cluster: an in-process Kubernetes API server on loopback.
//!
//! It speaks the real Kubernetes REST protocol over plain HTTP, so the `kube` client and
//! `kubectl` work against it unchanged; it is the default cluster on a fresh machine and the
//! cluster the deploy tests run on. It is a simulation, not Kubernetes: there are no
//! containers, only objects and a controller that moves them the way a cluster would.
//!
//! How a request flows:
//!
//! 1. **HTTP routing** (`routes`): axum serves discovery (`discovery`: `/version`, `/api`,
//!    `/apis`, the resource lists, aggregated discovery), a minimal OpenAPI v3 (`openapi`)
//!    and every resource path, which is parsed into a collection or object target of a kind
//!    from the table in `resources`.
//! 2. **Handlers** (`handlers`, `watch`): one small function per verb. Writes are
//!    checked (bodies are JSON, YAML, or — as kubectl's typed commands send them — protobuf,
//!    `protobuf`), then run as one store transaction through the write pipeline in `objects` —
//!    defaults (`defaults`), validation (`validate`), server-owned metadata, and
//!    `managedFields` (`managed`, `fields`); server-side apply merges, prunes and detects
//!    conflicts in `apply`. Errors are Kubernetes `Status` objects (`status`); lists and
//!    watches filter with `selector`; `/scale` is `scale`; `kubectl get` tables are
//!    `table`; `pods/{name}/log` says the container is simulated (there is no process).
//! 3. **Store** (`store`): every object as JSON behind one lock, a global resourceVersion
//!    counter, SQLite persistence when a data directory is given, and a history of changes.
//! 4. **Change events**: each committed write is broadcast; watches stream them to clients
//!    and the controller consumes them.
//! 5. **Controller** (`controller`): a background task that turns events and timers into
//!    ReplicaSets, pods, readiness after the rollout delay, image-pull failures, and the
//!    workload status `kubectl rollout status` reads.
//! 6. **CustomResourceDefinitions** (`crd`): a second background task establishes stored
//!    CRDs and serves their resources through a registry beside the built-in table; custom
//!    resources then take the same paths as built-in ones, pruned, defaulted and validated
//!    against their schema.
//!
//! [`Sandbox`] owns its background tasks (the HTTP server, the controller, the CRD
//! controller, the history compactor) and the [`CancellationToken`] that stops them, on
//! [`Sandbox::shutdown`] or on drop.
//!
//! ## What it depends on
//!
//! Two Tripline crates and no other: [`strategic_merge`] merges strategic merge patches and
//! server-side applies, and names list items in `managedFields`; [`tripline_validation`] holds
//! every write to the API server's rules, the same ones the engine holds templates to. The
//! sandbox knows nothing of templates, applications or triggers: the engine starts a
//! [`Sandbox`] and deploys to it through [`Sandbox::client_config`] as to any cluster (how it
//! finds or starts one for a data directory is the engine's `cluster::sandbox`), and `kubectl`
//! reaches it through [`Sandbox::kubeconfig`].
//!
//! ## Checked against kube-apiserver
//!
//! `tests/kube_golden.rs` replays a corpus of requests recorded against a real
//! kube-apiserver v1.36 with kube-controller-manager (`tests/fixtures/kube-golden`: status,
//! content type, `Warning` headers and bodies, rollout end states and ReplicaSet names) and
//! fails on any difference not listed below. A listed case that starts to match fails it
//! too, so the list stays true.
//!
//! ## Where the sandbox differs from kube-apiserver
//!
//! - `001`: `/version` names the sandbox's own build (`…-tripline-sandbox`, no git commit),
//!   not a Kubernetes release.
//! - `003`, `004`, `005`, `010`: discovery lists exactly the resources the sandbox serves.
//!   A real server also has groups and resources no Tripline or kubectl workflow here uses
//!   (`apiregistration.k8s.io`, `authentication.k8s.io`, `events.k8s.io`, …, `bindings`,
//!   `componentstatuses`, `pods/exec`, `pods/portforward`, `services/proxy`); listing them
//!   would promise what the sandbox cannot do.
//! - `008`, `009`: the OpenAPI v3 documents list each group-version's operations and
//!   parameters, which is what kubectl's field-validation check reads; they carry no
//!   schemas (`kubectl explain` is not supported), so their content and hashes differ.
//! - `101`, `102`, `129`: the recorded server ran etcd 3.5.1, which cannot send watch
//!   progress notifications: it answered these bookmark and initial-events watches with an
//!   ERROR event. The sandbox answers as Kubernetes does with a current etcd (the existing
//!   objects as ADDED; with `sendInitialEvents`, then a BOOKMARK annotated
//!   `k8s.io/initial-events-end`), as the corpus README advises.

mod admission;
mod apply;
mod controller;
mod crd;
mod decode;
mod defaults;
mod discovery;
mod fields;
mod handlers;
mod managed;
mod objects;
mod openapi;
mod protobuf;
mod quantity;
mod resources;
mod routes;
mod scale;
mod seed;
mod selector;
mod status;
mod store;
mod table;
mod validate;
mod versions;
mod watch;
mod yaml;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use routes::{MAX_BODY_BYTES, router};

/// How long [`Sandbox::shutdown`] waits for open connections before it stops waiting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Errors starting the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory could not be created.
    #[error("cannot create the sandbox data directory {}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite database could not be opened or read.
    #[error("cannot use the sandbox database {}: {source}", path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr} for the sandbox cluster: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The built-in objects (namespaces, node) could not be created.
    #[error("cannot create the sandbox's built-in objects: {0}")]
    Seed(String),
}

/// How to run a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// `None` keeps everything in memory; `Some(dir)` persists to `dir/sandbox.db` (SQLite)
    /// so objects survive restarts.
    pub data_dir: Option<PathBuf>,
    /// Where to listen; the default `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// How long a new pod takes to become Ready; `Duration::ZERO` makes it instant.
    pub rollout_delay: Duration,
    /// Image references that cannot be pulled (exact string, or the same Docker Hub
    /// repository and tag spelled differently). Images from a `*.invalid` registry never can.
    pub missing_images: Vec<String>,
    /// How often the change history is compacted to where it stood one interval before, as
    /// kube-apiserver compacts etcd (every 5 minutes): watches and exact lists from before
    /// then get 410 Expired.
    pub compaction_interval: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            data_dir: None,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            rollout_delay: Duration::from_secs(1),
            missing_images: Vec::new(),
            compaction_interval: Duration::from_secs(5 * 60),
        }
    }
}

/// What the HTTP handlers share: the store and the shutdown signal.
#[derive(Clone)]
pub struct SandboxState {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<store::Store>,
    shutdown: CancellationToken,
    address: String,
}

impl SandboxState {
    pub(crate) fn store(&self) -> &store::Store {
        &self.shared.store
    }

    pub(crate) fn shutdown_token(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }

    pub(crate) fn address(&self) -> &str {
        &self.shared.address
    }
}

impl std::fmt::Debug for SandboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxState")
            .field("address", &self.shared.address)
            .finish_non_exhaustive()
    }
}

/// A running sandbox cluster. Dropping it stops its tasks; [`Sandbox::shutdown`] also waits
/// for them.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    state: SandboxState,
    shutdown: CancellationToken,
    server: Option<JoinHandle<()>>,
    controller: Option<JoinHandle<()>>,
    compactor: Option<JoinHandle<()>>,
    /// Establishes CRDs ([`crd`]).
    crds: Option<JoinHandle<()>>,
}

/// Compacts the store's history every `interval` to where it stood one interval before.
async fn compact_every(store: Arc<store::Store>, interval: Duration, stop: CancellationToken) {
    let mut previous = store.read(|txn| txn.rv());
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        store.compact(previous);
        previous = store.read(|txn| txn.rv());
    }
}

impl Sandbox {
    /// Opens the store, binds the listener (so [`Sandbox::url`] works as soon as this
    /// returns), and starts the HTTP server and the controller.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, Error> {
        let store = Arc::new(store::Store::open(config.data_dir.as_deref())?);
        seed::ensure(&store).map_err(|e| Error::Seed(e.to_string()))?;
        crd::restore(&store);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;
        let shutdown = CancellationToken::new();
        let state = SandboxState {
            shared: Arc::new(Shared {
                store: store.clone(),
                shutdown: shutdown.clone(),
                address: addr.to_string(),
            }),
        };
        let compactor = tokio::spawn(compact_every(
            store.clone(),
            config.compaction_interval,
            shutdown.clone(),
        ));
        let crds = tokio::spawn(crd::Controller::new(store.clone()).run(shutdown.clone()));
        let controller = controller::Controller::new(
            store,
            controller::Settings {
                rollout_delay: config.rollout_delay,
                missing_images: config.missing_images,
            },
        );
        let controller = tokio::spawn(controller.run(shutdown.clone()));
        let app = router(state.clone());
        let stop = shutdown.clone();
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "sandbox HTTP server stopped with an error");
            }
        });
        tracing::info!(url = %format!("http://{addr}"), "sandbox cluster started");
        Ok(Sandbox {
            addr,
            state,
            shutdown,
            server: Some(server),
            controller: Some(controller),
            compactor: Some(compactor),
            crds: Some(crds),
        })
    }

    /// The API server URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig for kubectl: cluster, user and context `tripline-sandbox`, no
    /// credentials, selected as the current context.
    pub fn kubeconfig(&self) -> String {
        let url = self.url();
        [
            "apiVersion: v1",
            "kind: Config",
            "clusters:",
            "- name: tripline-sandbox",
            "  cluster:",
            &format!("    server: {url}"),
            "users:",
            "- name: tripline-sandbox",
            "  user: {}",
            "contexts:",
            "- name: tripline-sandbox",
            "  context:",
            "    cluster: tripline-sandbox",
            "    user: tripline-sandbox",
            "    namespace: default",
            "current-context: tripline-sandbox",
            "preferences: {}",
            "",
        ]
        .join("\n")
    }

    /// A `kube::Config` for this sandbox (plain HTTP, no authentication, namespace
    /// `default`).
    pub fn client_config(&self) -> kube::Config {
        let url = self
            .url()
            .parse()
            .expect("an http URL built from a socket address parses");
        kube::Config::new(url)
    }

    /// The state the HTTP handlers use, for serving [`router`] in-process.
    pub fn state(&self) -> SandboxState {
        self.state.clone()
    }

    /// Stops the server (letting open requests finish; watches end) and the controller, and
    /// waits for both.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for task in [
            self.server.take(),
            self.controller.take(),
            self.compactor.take(),
            self.crds.take(),
        ]
        .into_iter()
        .flatten()
        {
            let abort = task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                tracing::warn!("sandbox task did not stop in time; aborting it");
                abort.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
