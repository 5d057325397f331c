//! The listener: the HTTP server that CI jobs, monitors and registries call.
//!
//! [`router`] builds the routes (tests call it in-process); [`Listener::start`] serves them on
//! a socket with explicit limits (body size, header read timeout, body read timeout) and a
//! graceful shutdown that lets in-flight requests finish.
//!
//! A call flows: the caller's address (the peer, or behind a trusted proxy the rightmost
//! untrusted `X-Forwarded-For` hop) → token lookup (by SHA-256 in an in-memory index that
//! follows the database, compared in constant time) → for a missing or unknown token, 429 if
//! the caller or the token's prefix is over the throttle's limit, else 401/404, all without
//! reading the body (a valid token is never throttled: see [`throttle`]) → body read
//! (limited) → enabled / hold / signature checks → the hook's own checks → an access record
//! (secrets redacted however they are spelled: see [`redact`]) → a queued release handed to
//! the application's worker ([`crate::deploy::worker`]). The handler never deploys; it
//! answers 202 with the release id (or waits for it with `?wait=true`). Rejections, no-ops
//! and skips are answered and recorded without touching the cluster.
//!
//! Connections are capped in all and per source address, idle ones are closed, and a socket
//! past a cap is answered `503` with `Retry-After` and closed ([`connections`]).
//!
//! `HEAD` on a hook is answered 405 with `Allow: GET, POST` and nothing else: no token
//! lookup, no record, no count. (axum would otherwise serve it with the GET handler, and a
//! link checker's probe would deploy.)
//!
//! Status codes: 200 no-op or skipped, 202 accepted, 400 bad request (body, parameters such as
//! a JSON Patch's `?kind=&name=`), 401 missing token or bad signature, 404 unknown token, 405
//! `HEAD`, 408 body too slow, 409 trigger disabled or application on hold, 413 body too large,
//! 415 unsupported media type, 429 too many bad tokens from one address or around one token
//! prefix, 503 storage down or too many open connections.

pub mod connections;
mod front;
mod hooks;
mod index;
mod metrics;
mod record;
mod redact;
mod retention;
mod throttle;
mod verify;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::deploy::worker::Workers;
use crate::error::Code;
use crate::secrets::Secrets;
use crate::store::Store;

pub use front::Front;
pub use metrics::Metrics;
pub use record::Recorder;
pub use throttle::{ProxyError, TrustedProxy};
pub use verify::{CredentialsFor, RegistryAccess};

use crate::store::{Decision, Retention};

/// A call the listener has recorded, announced to live views (the desktop app) once the
/// access record is in the database, so a view that reloads on it finds the record.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    /// The trigger the token named, if any.
    pub trigger: Option<String>,
    /// How many identical calls in a row this stands for (see [`record`]'s folding).
    pub repeats: u32,
    /// What was decided.
    pub decision: Decision,
    /// Why, in words.
    pub reason: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The release started, if any.
    pub release: Option<i64>,
    /// When (RFC 3339).
    pub at: String,
}

/// Listener settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (loopback by default).
    pub listen: SocketAddr,
    /// The base URL callers use, for printed trigger URLs (default: `http://<listen>`).
    pub public_url: Option<String>,
    /// The largest body accepted.
    pub body_limit: usize,
    /// Which access records are kept (pruned in the background).
    pub retention: Retention,
    /// How long a client may take to send a request's head, from its first byte (checked a few
    /// times per timeout: a slow head is cut off within a quarter more).
    pub header_timeout: Duration,
    /// How long a client may take to send its body.
    pub body_timeout: Duration,
    /// Bad tokens from one address within `throttle_window` before it gets 429s.
    pub throttle_failures: u32,
    /// The throttle's window.
    pub throttle_window: Duration,
    /// Proxies whose `X-Forwarded-For` names the caller (none by default: the peer is the
    /// caller). See [`TrustedProxy`].
    pub trusted_proxies: Vec<TrustedProxy>,
    /// Open connections held at once; past this a new one is answered 503 and closed.
    /// Default: from the descriptor limit ([`connections::caps_for`]).
    pub max_connections: usize,
    /// Open connections held at once from one source address (default: a quarter of
    /// `max_connections`).
    pub max_connections_per_address: usize,
    /// How long a connection may stay open with no request in flight and no bytes moving.
    pub idle_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        let (max_connections, max_connections_per_address) =
            connections::caps_for(connections::descriptor_limit());
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            public_url: None,
            body_limit: 1024 * 1024,
            retention: Retention::default(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            throttle_failures: 20,
            throttle_window: Duration::from_secs(60),
            trusted_proxies: Vec::new(),
            max_connections,
            max_connections_per_address,
            idle_timeout: Duration::from_secs(5),
        }
    }
}

impl Config {
    /// The base URL for trigger URLs.
    pub fn base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

/// A public URL as given, checked: trimmed and without a trailing slash, `None` when empty,
/// or an error (`listener.public_url`) that names it. Every front end that takes one calls
/// this: `serve --public-url`, `trigger create/url/rotate --public-url`, the desktop setting.
pub fn public_url(given: Option<&str>) -> Result<Option<String>, crate::error::ErrorBody> {
    let Some(url) = given
        .map(|url| url.trim().trim_end_matches('/'))
        .filter(|url| !url.is_empty())
    else {
        return Ok(None);
    };
    let http = url.starts_with("http://") || url.starts_with("https://");
    if !http || url.len() <= "https://".len() || url.contains(char::is_whitespace) {
        return Err(crate::error::ErrorBody::new(
            Code::ListenerPublicUrl,
            format!(
                "the public URL {url:?} must be an http:// or https:// URL, such as https://hooks.example.com"
            ),
        ));
    }
    Ok(Some(url.to_owned()))
}

/// What the handlers share.
pub struct State {
    /// Settings.
    pub config: Config,
    /// Where secrets live.
    pub secrets: Secrets,
    /// The deploy workers.
    pub workers: Workers,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// How registries are reached to verify pushes (and to watch repositories).
    pub registry: RegistryAccess,
    index: index::TokenIndex,
    recorder: Recorder,
    throttle: throttle::Throttle,
    recorded: tokio::sync::broadcast::Sender<Recorded>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl State {
    /// State over the database at `database` (starts the access-record writer thread),
    /// reaching registries anonymously.
    pub fn new(
        config: Config,
        database: PathBuf,
        secrets: Secrets,
        workers: Workers,
    ) -> crate::store::Result<Arc<Self>> {
        State::with_registry(
            config,
            database,
            secrets,
            workers,
            RegistryAccess::anonymous(),
        )
    }

    /// As [`State::new`], reaching registries through `registry` (the façade's shared client
    /// and credentials).
    pub fn with_registry(
        config: Config,
        database: PathBuf,
        secrets: Secrets,
        workers: Workers,
        registry: RegistryAccess,
    ) -> crate::store::Result<Arc<Self>> {
        let index = index::TokenIndex::open(&database)?;
        let (recorded, _) = tokio::sync::broadcast::channel(1024);
        let recorder = Recorder::start(&database, recorded.clone())?;
        let throttle = throttle::Throttle::new(config.throttle_failures, config.throttle_window);
        Ok(Arc::new(State {
            config,
            secrets,
            workers,
            metrics: Metrics::default(),
            registry,
            index,
            recorder,
            throttle,
            recorded,
        }))
    }

    /// Follows the calls recorded from now on (a slow follower skips, it never blocks calls).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Recorded> {
        self.recorded.subscribe()
    }

    fn announce(&self, record: &crate::store::AccessRecord) {
        let _ = self.recorded.send(Recorded::of(record));
    }

    /// Waits until every access record queued so far is written.
    pub async fn flush_records(&self) {
        self.recorder.flush().await;
    }

    /// Runs `f` on a database connection (shared with the deploy workers).
    fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> crate::store::Result<T>,
    ) -> crate::store::Result<T> {
        self.workers.pool().with(f)
    }
}

impl Recorded {
    fn of(record: &crate::store::AccessRecord) -> Self {
        Recorded {
            trigger: record.trigger.clone(),
            repeats: record.repeats,
            decision: record.decision,
            reason: record.reason.clone(),
            status: record.status,
            release: record.release,
            at: record.at.clone(),
        }
    }
}

/// The listener's routes.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics::render))
        .route(
            "/hook/trigger",
            get(hooks::trigger).post(hooks::trigger).head(hooks::head),
        )
        .route("/hook/registry", post(hooks::registry))
        .with_state(state)
}

/// A running listener.
#[derive(Debug)]
pub struct Listener {
    address: SocketAddr,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Listener {
    /// Binds and starts serving. The deploy-duration metrics follow the workers' events.
    pub async fn start(state: Arc<State>, cancel: CancellationToken) -> std::io::Result<Listener> {
        let socket = bind(state.config.listen)?;
        let address = socket.local_addr()?;
        metrics::follow(state.clone(), cancel.child_token());
        retention::prune_in_background(state.clone(), cancel.child_token());
        watch::watch_in_background(state.clone(), cancel.child_token());
        let task = tokio::spawn(serve(socket, state, cancel.clone()));
        Ok(Listener {
            address,
            cancel,
            task,
        })
    }

    /// The bound address (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting, lets in-flight requests finish (up to 30 s), and returns.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

/// Connections the kernel completes before the accept loop takes them. The usual 128 drops
/// handshakes when a burst outpaces the loop for a moment, and the client then waits a
/// second to retry; the loop takes sockets as fast as it can, answering those past the caps
/// with a 503, so a deeper queue costs little.
const BACKLOG: u32 = 1024;

fn bind(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

async fn serve(socket: tokio::net::TcpListener, state: Arc<State>, cancel: CancellationToken) {
    use connections::{AcceptFailures, Activity, Gate, Refusal, Refusals, Refuser, Tracked};
    use hyper_util::rt::TokioIo;
    use tokio::time::Instant;

    let header_timeout = state.config.header_timeout;
    let idle_timeout = state.config.idle_timeout;
    let gate = Gate::new(
        state.config.max_connections,
        state.config.max_connections_per_address,
    );
    // Slots free up as idle connections time out: a client that waits this long finds one.
    let refuser = Refuser::new(idle_timeout.as_secs().max(1), state.config.max_connections);
    let app = router(Arc::clone(&state));
    let mut failures = AcceptFailures::default();
    let mut refusals = Refusals::default();
    loop {
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = socket.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    let after = failures.failed(&error, Instant::now());
                    if let Some(failures) = after.log {
                        tracing::warn!(
                            %error,
                            open = gate.open(),
                            failures,
                            "cannot accept connections; retrying (raise the open-file limit, \
                             ulimit -n, or lower the connection caps)"
                        );
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        () = tokio::time::sleep(after.pause) => continue,
                    }
                }
            },
        };
        if let Some((failed, over)) = failures.accepted(Instant::now()) {
            tracing::info!(
                failed,
                over_ms = over.as_millis() as u64,
                "accepting connections again"
            );
        }
        let slot = match gate.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                if let Some(count) = refusals.refused(Instant::now()) {
                    let (cap, limit) = match refusal {
                        Refusal::Total { limit } => ("total", limit),
                        Refusal::Address { limit, .. } => ("per address", limit),
                    };
                    tracing::warn!(
                        %peer,
                        cap,
                        limit,
                        refused = count,
                        "refusing connections past the cap with 503"
                    );
                }
                refuser.refuse(stream, refusal);
                continue;
            }
        };
        let activity = Activity::new();
        let service =
            Front::new(Arc::clone(&state), app.clone(), peer).tracking(Arc::clone(&activity));
        // The header timeout is `drive`'s: hyper's would arm a timer for every request.
        let connection = hyper::server::conn::http1::Builder::new()
            .header_read_timeout(None)
            .max_buf_size(64 * 1024)
            .serve_connection(
                TokioIo::new(Tracked::new(stream, Arc::clone(&activity))),
                service,
            );
        let stop = cancel.clone();
        tokio::spawn(async move {
            connections::drive(
                connection,
                activity,
                (idle_timeout, header_timeout),
                stop,
                peer,
            )
            .await;
            drop(slot);
        });
    }
    drop(socket);
    // In-flight requests finish; idle connections close at once.
    let _ = tokio::time::timeout(Duration::from_secs(30), gate.drained()).await;
}

#[cfg(test)]
mod tests;

/// For the unit tests of the listener's parts: a database with template `t` (one ConfigMap)
/// and application `shop` on the sandbox deploying it.
#[cfg(test)]
fn shop_database() -> (tempfile::TempDir, PathBuf, Store) {
    use crate::app::{ClusterRef, NewApplication, Pin, Source};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tripline.db");
    let mut store = Store::open(&path).unwrap();
    store
        .create_template(
            "t",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            "first",
        )
        .unwrap();
    store
        .create_app(&NewApplication {
            name: "shop".into(),
            cluster: ClusterRef::Sandbox,
            namespace: "default".into(),
            source: Source::Template {
                template: "t".into(),
                pin: Pin::default(),
            },
            prune: false,
        })
        .unwrap();
    (dir, path, store)
}

/// Poisons `lock` the way a panic while it is held does (for tests of lock recovery).
#[cfg(test)]
fn poison<T: Send>(lock: &std::sync::Mutex<T>) {
    std::thread::scope(|s| {
        let _ = s
            .spawn(|| {
                let _held = lock.lock();
                panic!("a panic while a lock is held (test)");
            })
            .join();
    });
    assert!(lock.is_poisoned());
}
