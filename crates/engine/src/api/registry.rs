//! Container registries: credentials per host, each host's rate-limit budget, and a
//! repository's real tags.
//!
//! One [`Client`] (and its [`Budgets`]) serves the whole handle, made the first time it is
//! needed ([`Tripline::registry_client`]): the listener's verification, a watch and the
//! trigger dialog's preview all spend the same budget per host. Credentials come from
//! [`credentials::find`] (the secret store, then the Docker configuration and its helpers),
//! remembered for a minute so that a watch does not run a helper on every request.
//!
//! Budgets live in memory where requests are made; a keeper task owned by the handle writes
//! each host's budget and last failure to the database at most every few seconds after a
//! change, so another process (`tripline registry status`) sees them. The listener's requests
//! never wait for that write.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Tripline;
use crate::error::{Code, ErrorBody};
use crate::registry::ImageRef;
use crate::registry::client::credentials::{self, Found, Origin, Places};
use crate::registry::client::{
    Budgets, Client, Credentials, Error as ClientError, Limits, Repository, TagList,
};
use crate::secrets::Secrets;
use crate::store::{RegistryHost, Store};
use crate::trigger::TriggerKind;

/// The shortest time between two writes of the budgets to the database.
const PERSIST_EVERY: Duration = Duration::from_secs(3);

/// How long credentials found for a host are used before they are looked up again.
const REMEMBER_CREDENTIALS: Duration = Duration::from_secs(60);

/// The handle's registry state: where to look for credentials, the shared client (made when
/// first needed) and the task that writes its budgets down.
pub(crate) struct RegistryState {
    places: Places,
    client: OnceLock<Client>,
    keeper: Mutex<Option<JoinHandle<()>>>,
    /// Held while a host's row is read from the budgets and written, by the keeper and by a
    /// front end's own save alike: the row written last is then never older than one written
    /// before it.
    writing: Arc<Mutex<()>>,
    found: Mutex<HashMap<String, (Instant, Option<Found>)>>,
}

impl RegistryState {
    /// Looks for credentials where Docker does (see [`Places::from_env`]).
    pub(crate) fn new() -> Self {
        RegistryState {
            places: Places::from_env(),
            client: OnceLock::new(),
            keeper: Mutex::new(None),
            writing: Arc::new(Mutex::new(())),
            found: Mutex::new(HashMap::new()),
        }
    }
}

impl Drop for RegistryState {
    fn drop(&mut self) {
        if let Some(keeper) = lock(&self.keeper).take() {
            keeper.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Where a registry host's credentials come from. Never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum CredentialSource {
    /// None anywhere: the registry is asked anonymously.
    None,
    /// `tripline registry login`, kept in the OS keyring.
    Keyring,
    /// `tripline registry login`, kept in owner-only key files (a server without a keyring).
    KeyFiles,
    /// An `auths` entry of the Docker configuration.
    DockerConfig {
        /// The configuration file.
        path: String,
    },
    /// A Docker credential helper.
    Helper {
        /// Its name (`docker-credential-<name>`).
        name: String,
    },
}

impl CredentialSource {
    fn of(found: Option<&Found>, secrets: Option<&Secrets>) -> Self {
        match found.map(|f| &f.origin) {
            None => CredentialSource::None,
            Some(Origin::SecretStore) => match secrets {
                Some(Secrets::Files(_)) => CredentialSource::KeyFiles,
                _ => CredentialSource::Keyring,
            },
            Some(Origin::DockerConfig { path }) => CredentialSource::DockerConfig {
                path: path.display().to_string(),
            },
            Some(Origin::Helper { name }) => CredentialSource::Helper { name: name.clone() },
        }
    }
}

impl std::fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::None => f.write_str("none (anonymous)"),
            CredentialSource::Keyring => f.write_str("keyring"),
            CredentialSource::KeyFiles => f.write_str("key files"),
            CredentialSource::DockerConfig { path } => write!(f, "docker config {path}"),
            CredentialSource::Helper { name } => write!(f, "helper {name}"),
        }
    }
}

/// What a registry host last said about its rate limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct RegistryBudget {
    /// Requests allowed per window (`RateLimit-Limit`).
    pub limit: Option<u32>,
    /// Requests left in the window (`RateLimit-Remaining`).
    pub remaining: Option<u32>,
    /// The window's length in seconds.
    pub window_seconds: Option<u32>,
    /// Not before this time (`Retry-After`), RFC 3339.
    pub retry_at: Option<String>,
    /// When the registry said so, RFC 3339.
    pub seen_at: Option<String>,
}

/// One registry host: who uses it, whose credentials it gets, what budget is left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct RegistryHostStatus {
    /// The host as requests reach it (`registry-1.docker.io`, `127.0.0.1:5000`).
    pub host: String,
    /// The image triggers that name a repository there.
    pub triggers: Vec<String>,
    /// Where its credentials come from.
    pub credentials: CredentialSource,
    /// Why its credentials could not be looked up, when they could not.
    pub credentials_error: Option<String>,
    /// Its rate-limit budget, when it has reported one.
    pub budget: Option<RegistryBudget>,
    /// Why the last request to it failed, unless one succeeded since.
    pub last_error: Option<String>,
    /// When, RFC 3339.
    pub last_error_at: Option<String>,
}

/// A repository's tags, as the registry lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct RegistryTags {
    /// The registry host.
    pub host: String,
    /// The repository in it (`library/nginx`).
    pub repository: String,
    /// Every tag, in the registry's order.
    pub tags: Vec<String>,
    /// Whose credentials were used.
    pub credentials: CredentialSource,
}

/// The outcome of [`Tripline::registry_login`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct RegistryLogin {
    /// The host, as it is stored.
    pub host: String,
    /// False when the registry answered without asking for credentials, so they could not be
    /// checked (they are stored all the same).
    pub checked: bool,
    /// Where they are kept.
    pub credentials: CredentialSource,
}

impl Tripline {
    /// The registry client every registry request of this handle goes through, made now if it
    /// was not yet (and, within a tokio runtime, the task that writes its budgets down).
    pub(crate) fn registry_client(&self) -> Result<&Client, ErrorBody> {
        if let Some(client) = self.registry.client.get() {
            return Ok(client);
        }
        let client =
            Client::new(Limits::default(), Budgets::new()).map_err(|e| ErrorBody::from(&e))?;
        if self.registry.client.set(client).is_ok()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let client = self.registry.client.get().expect("just set");
            let keeper = runtime.spawn(keep_budgets(
                client.budgets().clone(),
                self.database.clone(),
                Arc::clone(&self.registry.writing),
                self.cancel.child_token(),
            ));
            *lock(&self.registry.keeper) = Some(keeper);
        }
        Ok(self
            .registry
            .client
            .get()
            .expect("set above or by a racing caller"))
    }

    /// What the listener reaches registries with, to verify pushes and to watch
    /// repositories: this handle's client (and so its budgets, kept in the database and shown
    /// by [`Tripline::registry_status`]) and the credentials found for each host, as
    /// [`credentials::find`] finds them (the secret store, then the Docker configuration and
    /// its helpers, run as blocking work).
    pub(crate) fn registry_access(&self) -> Result<crate::listener::RegistryAccess, ErrorBody> {
        let client = self.registry_client()?.clone();
        let secrets = self.secrets().ok().cloned();
        let places = self.registry.places.clone();
        let find = move |host: &str| {
            let look = || {
                let host = credentials::canonical_host(host).map_err(|e| e.to_string())?;
                credentials::find(&host, secrets.as_ref(), &places)
                    .map(|found| found.map(|f| f.credentials))
                    .map_err(|e| e.to_string())
            };
            match tokio::runtime::Handle::try_current() {
                Ok(runtime)
                    if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
                {
                    tokio::task::block_in_place(look)
                }
                _ => look(),
            }
        };
        Ok(crate::listener::RegistryAccess::new(client, Arc::new(find)))
    }

    /// Makes the running listener ask for `host`'s credentials afresh (after a login or a
    /// logout). A listener being started or stopped at this moment is left alone: it reads
    /// them anew when it starts.
    fn forget_registry_sessions(&self, host: &str) {
        if let Ok(slot) = self.listener.try_lock()
            && let Some(running) = &slot.running
        {
            running.state.registry.forget_host(host);
        }
    }

    /// Looks up the credentials for `host`, remembered for [`REMEMBER_CREDENTIALS`].
    fn registry_found(&self, host: &str) -> Result<Option<Found>, ErrorBody> {
        let host = credentials::canonical_host(host).map_err(|e| ErrorBody::from(&e))?;
        if let Some((at, found)) = lock(&self.registry.found).get(&host)
            && at.elapsed() < REMEMBER_CREDENTIALS
        {
            return Ok(found.clone());
        }
        let secrets = self.secrets().ok();
        let look = || credentials::find(&host, secrets, &self.registry.places);
        let found = match tokio::runtime::Handle::try_current() {
            Ok(runtime)
                if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
            {
                tokio::task::block_in_place(look)
            }
            _ => look(),
        }
        .map_err(|e| ErrorBody::from(&e))?;
        lock(&self.registry.found).insert(host, (Instant::now(), found.clone()));
        Ok(found)
    }

    /// Looks for registry credentials in `places` instead of the Docker configuration and
    /// `PATH` of this process (for tests, and front ends that are told where).
    pub fn use_registry_places(&mut self, places: Places) {
        self.registry.places = places;
        lock(&self.registry.found).clear();
    }

    /// Checks `username` and `password` against the registry at `host` (`GET /v2/`, its
    /// challenge answered with them: basic auth, or a token from its token service) and, when
    /// it lets them in, keeps them in the secret store for that host.
    pub async fn registry_login(
        &self,
        host: &str,
        username: &str,
        password: &str,
    ) -> Result<RegistryLogin, ErrorBody> {
        let host = credentials::canonical_host(host).map_err(|e| ErrorBody::from(&e))?;
        if username.trim().is_empty() {
            return Err(ErrorBody::new(
                Code::InputMissing,
                "give the username to log in with",
            ));
        }
        if password.is_empty() {
            return Err(ErrorBody::new(
                Code::InputMissing,
                "give the password or access token to log in with",
            ));
        }
        let secrets = self.secrets()?;
        let given = Credentials::new(username.trim(), password.trim_end_matches(['\n', '\r']));
        let repository = Repository::registry(&host).map_err(|e| ErrorBody::from(&e))?;
        let checked = self
            .registry_client()?
            .session(repository, Some(given.clone()))
            .ping()
            .await;
        self.save_registry_host(&host);
        let checked = checked.map_err(|e| ErrorBody::from(&e))?;
        secrets
            .set(
                &credentials::secret_name(&host),
                &credentials::stored_value(&given),
            )
            .map_err(|e| secrets_error(&host, &e))?;
        lock(&self.registry.found).remove(&host);
        self.forget_registry_sessions(&host);
        Ok(RegistryLogin {
            credentials: CredentialSource::of(
                Some(&Found {
                    credentials: given,
                    origin: Origin::SecretStore,
                }),
                Some(secrets),
            ),
            host,
            checked,
        })
    }

    /// Deletes the credentials kept for `host` (logging out of a host never logged in to is
    /// not an error). Returns the host's status after: the Docker configuration may still
    /// have credentials for it.
    pub fn registry_logout(&self, host: &str) -> Result<RegistryHostStatus, ErrorBody> {
        let host = credentials::canonical_host(host).map_err(|e| ErrorBody::from(&e))?;
        self.secrets()?
            .delete(&credentials::secret_name(&host))
            .map_err(|e| secrets_error(&host, &e))?;
        lock(&self.registry.found).remove(&host);
        self.forget_registry_sessions(&host);
        let triggers = self.registry_triggers()?.remove(&host).unwrap_or_default();
        let stored = self.store().registry_host(&host)?;
        Ok(self.host_status(&host, triggers, stored))
    }

    /// Every registry host an image trigger names, was logged in to, or was asked: where its
    /// credentials come from, its rate-limit budget and its last failure. Budgets are this
    /// process's when it has asked the host, else what the database last kept (another
    /// process, such as the desktop app, asked).
    pub fn registry_status(&self) -> Result<Vec<RegistryHostStatus>, ErrorBody> {
        let mut triggers = self.registry_triggers()?;
        let mut stored: BTreeMap<String, RegistryHost> = self
            .store()
            .registry_hosts()?
            .into_iter()
            .map(|row| (row.host.clone(), row))
            .collect();
        let mut hosts: Vec<String> = triggers.keys().cloned().collect();
        hosts.extend(stored.keys().cloned());
        if let Some(client) = self.registry.client.get() {
            let budgets = client.budgets();
            hosts.extend(
                budgets
                    .hosts()
                    .into_iter()
                    .filter(|host| answered(budgets, host)),
            );
        }
        hosts.sort();
        hosts.dedup();
        Ok(hosts
            .into_iter()
            .map(|host| {
                let users = triggers.remove(&host).unwrap_or_default();
                let row = stored.remove(&host);
                self.host_status(&host, users, row)
            })
            .collect())
    }

    /// The tags of `repository` (`nginx`, `ghcr.io/org/app`, `127.0.0.1:5000/team/api`; a tag
    /// or digest is ignored), read from its registry with the host's credentials.
    pub async fn registry_tags(&self, repository: &str) -> Result<RegistryTags, ErrorBody> {
        let repository = Repository::parse(repository.trim()).map_err(|e| ErrorBody::from(&e))?;
        let host = repository.host().to_owned();
        let found = self.registry_found(&host)?;
        let credentials = CredentialSource::of(found.as_ref(), self.secrets().ok());
        let name = repository.name().to_owned();
        let mut session = self
            .registry_client()?
            .session(repository, found.map(|f| f.credentials));
        let listed = session.tags(None).await;
        self.save_registry_host(&host);
        let tags = match listed.map_err(|e| ErrorBody::from(&e))? {
            TagList::Tags { tags, .. } => tags,
            TagList::Unchanged => Vec::new(),
        };
        Ok(RegistryTags {
            host,
            repository: name,
            tags,
            credentials,
        })
    }

    /// The image triggers naming each registry host.
    fn registry_triggers(&self) -> Result<BTreeMap<String, Vec<String>>, ErrorBody> {
        let mut hosts: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for trigger in self.store().triggers(None)? {
            let TriggerKind::Image { repositories, .. } = &trigger.kind else {
                continue;
            };
            for repository in repositories {
                let Some(host) = ImageRef::parse(repository)
                    .ok()
                    .and_then(|image| Repository::of(&image).ok())
                    .map(|r| r.host().to_owned())
                else {
                    continue;
                };
                let users = hosts.entry(host).or_default();
                if !users.contains(&trigger.name) {
                    users.push(trigger.name.clone());
                }
            }
        }
        Ok(hosts)
    }

    fn host_status(
        &self,
        host: &str,
        triggers: Vec<String>,
        stored: Option<RegistryHost>,
    ) -> RegistryHostStatus {
        let (credentials, credentials_error) = match self.registry_found(host) {
            Ok(found) => (
                CredentialSource::of(found.as_ref(), self.secrets().ok()),
                None,
            ),
            Err(error) => (CredentialSource::None, Some(error.message)),
        };
        // This process's view when it has one, else the database's.
        let seen = self
            .registry
            .client
            .get()
            .map(|client| snapshot(client.budgets(), host))
            .filter(|row| row.seen_at.is_some() || row.last_error.is_some());
        let row = seen.or(stored).unwrap_or_default();
        let budget = row.seen_at.is_some().then(|| RegistryBudget {
            limit: row.limit.map(saturate),
            remaining: row.remaining.map(saturate),
            window_seconds: row.window_seconds.map(saturate),
            retry_at: row.retry_at.clone(),
            seen_at: row.seen_at.clone(),
        });
        RegistryHostStatus {
            host: host.to_owned(),
            triggers,
            credentials,
            credentials_error,
            budget,
            last_error: row.last_error,
            last_error_at: row.error_at,
        }
    }

    /// Writes `host`'s budget and last failure now, after a front end's own request (the
    /// listener's go through the keeper), so that the host is listed from now on. A failure to
    /// write is logged, not returned: the request itself succeeded or failed on its own.
    fn save_registry_host(&self, host: &str) {
        let Some(client) = self.registry.client.get() else {
            return;
        };
        let budgets = client.budgets();
        let _writing = lock(&self.registry.writing);
        if !answered(budgets, host) && !matches!(self.store().registry_host(host), Ok(Some(_))) {
            return;
        }
        let row = snapshot(budgets, host);
        if let Err(error) = self.store().save_registry_host(&row) {
            tracing::warn!(%host, %error, "the registry host's budget was not saved");
        }
    }
}

fn saturate(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Whether `host` ever answered this process: a budget, a success, or a failure the registry
/// answered with. A host that was never reached (a mistyped name in the trigger dialog's
/// preview) is not written down unless it already was.
fn answered(budgets: &Budgets, host: &str) -> bool {
    budgets.get(host).is_some() || budgets.last_failure(host).is_none_or(|f| f.answered)
}

/// What `budgets` hold for `host`, as a database row.
fn snapshot(budgets: &Budgets, host: &str) -> RegistryHost {
    let budget = budgets.get(host);
    let failure = budgets.last_failure(host);
    RegistryHost {
        host: host.to_owned(),
        limit: budget.and_then(|b| b.limit),
        remaining: budget.and_then(|b| b.remaining),
        window_seconds: budget.and_then(|b| b.window).map(|w| w.as_secs()),
        retry_at: budget.and_then(|b| b.retry_at).map(|t| t.to_string()),
        seen_at: budget.map(|b| b.seen.to_string()),
        last_error: failure.as_ref().map(|f| f.message.clone()),
        error_at: failure.map(|f| f.at.to_string()),
    }
}

/// The keeper: after each change to `budgets`, writes the hosts whose row changed, then
/// waits [`PERSIST_EVERY`] before looking again, so a busy registry costs one write per host
/// every few seconds. Writes once more when cancelled.
async fn keep_budgets(
    budgets: Budgets,
    database: PathBuf,
    writing: Arc<Mutex<()>>,
    cancel: CancellationToken,
) {
    let mut written: HashMap<String, RegistryHost> = HashMap::new();
    let mut store: Option<Store> = None;
    loop {
        let stopping = tokio::select! {
            () = cancel.cancelled() => true,
            () = budgets.changed() => false,
        };
        let rows: Vec<(RegistryHost, bool)> = budgets
            .hosts()
            .iter()
            .map(|host| (snapshot(&budgets, host), answered(&budgets, host)))
            .filter(|(row, _)| written.get(&row.host) != Some(row))
            .collect();
        if !rows.is_empty() {
            let path = database.clone();
            let mut open = store.take();
            let (budgets, writing) = (budgets.clone(), Arc::clone(&writing));
            let outcome = tokio::task::spawn_blocking(move || {
                let result = (|| {
                    let connection = match open.as_mut() {
                        Some(store) => store,
                        None => open.insert(Store::open(&path)?),
                    };
                    // Read again under the lock: a front end's own save may have written a
                    // newer row since these were taken.
                    let _writing = lock(&writing);
                    let mut saved = Vec::new();
                    for (row, _) in rows {
                        let (row, answered) =
                            (snapshot(&budgets, &row.host), answered(&budgets, &row.host));
                        if answered || connection.registry_host(&row.host)?.is_some() {
                            connection.save_registry_host(&row)?;
                        }
                        // Kept as written either way: not looked at again until it changes.
                        saved.push(row);
                    }
                    Ok::<_, crate::store::Error>(saved)
                })();
                (open, result)
            })
            .await;
            match outcome {
                Ok((open, result)) => {
                    store = open;
                    match result {
                        Ok(rows) => {
                            for row in rows {
                                written.insert(row.host.clone(), row);
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "registry budgets were not saved");
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "the registry budget writer failed"),
            }
        }
        if stopping {
            return;
        }
        tokio::select! {
            () = cancel.cancelled() => {}
            () = tokio::time::sleep(PERSIST_EVERY) => {}
        }
    }
}

fn secrets_error(host: &str, error: &crate::secrets::Error) -> ErrorBody {
    ErrorBody::new(
        Code::SecretsUnavailable,
        format!("the credentials for {host} cannot be kept: {error}"),
    )
}

impl From<&ClientError> for ErrorBody {
    fn from(error: &ClientError) -> Self {
        let message = error.to_string();
        let place = error.place().map(|p| p.to_string());
        let code = match error {
            ClientError::Reference { .. } => Code::RegistryReference,
            ClientError::NotFound { .. } => Code::RegistryNotFound,
            ClientError::Auth { .. } => Code::RegistryUnauthorized,
            ClientError::Insecure { .. } => Code::RegistryInsecure,
            ClientError::RateLimited { .. } => Code::RegistryRateLimited,
            ClientError::Unreachable { .. } | ClientError::Setup(_) => Code::RegistryUnreachable,
            ClientError::Invalid { .. }
            | ClientError::DigestMismatch { .. }
            | ClientError::TooLarge { .. } => Code::RegistryInvalid,
        };
        let details = match error {
            ClientError::RateLimited {
                retry_at, budget, ..
            } => Some(serde_json::json!({
                "registry": place,
                "retryAt": retry_at.map(|t| t.to_string()),
                "limit": budget.as_ref().and_then(|b| b.limit),
                "remaining": budget.as_ref().and_then(|b| b.remaining),
            })),
            _ => place.map(|place| serde_json::json!({ "registry": place })),
        };
        ErrorBody {
            code,
            message,
            details,
        }
    }
}

impl From<&credentials::Error> for ErrorBody {
    fn from(error: &credentials::Error) -> Self {
        use credentials::Error as E;
        let code = match error {
            E::Host { .. } => Code::RegistryReference,
            E::Secrets { .. } => Code::SecretsUnavailable,
            E::Stored { .. }
            | E::DockerConfig { .. }
            | E::HelperMissing { .. }
            | E::HelperFailed { .. }
            | E::HelperAnswer { .. } => Code::RegistryCredentials,
        };
        ErrorBody::new(code, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CommandOptions;

    /// A registry on loopback answering every request with 429 and Docker Hub's headers.
    async fn refusing_registry() -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 429 Too Many Requests\r\nRateLimit-Limit: 100;w=21600\r\n\
                          RateLimit-Remaining: 0;w=21600\r\nRetry-After: 60\r\n\
                          Content-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            }
        });
        host
    }

    /// Requests made through the shared client (as the listener's verification makes them)
    /// reach the database through the keeper, not the caller.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_keeper_writes_the_shared_clients_budgets_down() {
        let dir = tempfile::tempdir().unwrap();
        let tripline = Tripline::open_for_command(CommandOptions {
            data_dir: dir.path().to_owned(),
            find_secrets: Box::new(|| panic!("no secret is needed")),
            via: "cli",
            quiet: true,
        })
        .unwrap();
        let host = refusing_registry().await;
        let client = tripline.registry_client().unwrap();
        assert!(std::ptr::eq(client, tripline.registry_client().unwrap()));
        let repository = Repository::parse(&format!("{host}/demo/app")).unwrap();
        let error = client
            .session(repository, None)
            .tags(None)
            .await
            .unwrap_err();
        assert!(matches!(error, ClientError::RateLimited { .. }), "{error}");
        let row = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                // The budget is seen before the failure: both arrive, a few seconds apart.
                if let Some(row) = tripline.store().registry_host(&host).unwrap()
                    && row.last_error.is_some()
                {
                    return row;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the keeper writes within seconds");
        assert_eq!((row.limit, row.remaining), (Some(100), Some(0)));
        assert!(row.last_error.unwrap().contains("rate limiting"));
        tripline.shutdown().await;
    }

    #[test]
    fn client_errors_get_their_codes() {
        let at = crate::registry::client::Place {
            registry: "ghcr.io".into(),
            repository: "o/r".into(),
        };
        let retry_at: jiff::Timestamp = "2026-12-07T10:02:00Z".parse().unwrap();
        let table = [
            (
                ClientError::RateLimited {
                    at: at.clone(),
                    retry_at: Some(retry_at),
                    budget: None,
                },
                "registry.rate_limited",
            ),
            (
                ClientError::NotFound {
                    at: at.clone(),
                    what: "tag 1".into(),
                },
                "registry.not_found",
            ),
            (
                ClientError::Auth {
                    at: at.clone(),
                    reason: "no".into(),
                },
                "registry.unauthorized",
            ),
            (
                ClientError::Unreachable {
                    at,
                    reason: "timeout".into(),
                },
                "registry.unreachable",
            ),
        ];
        for (error, code) in table {
            let body = ErrorBody::from(&error);
            assert_eq!(body.code, code, "{error}");
            assert_eq!(body.details.as_ref().unwrap()["registry"], "ghcr.io/o/r");
        }
        let body = ErrorBody::from(&ClientError::RateLimited {
            at: crate::registry::client::Place {
                registry: "ghcr.io".into(),
                repository: String::new(),
            },
            retry_at: Some(retry_at),
            budget: None,
        });
        assert_eq!(body.details.unwrap()["retryAt"], "2026-12-07T10:02:00Z");
    }
}
