//! Verify, then act: before an image trigger changes anything for a push, the registry is
//! asked what the pushed tag is. A tag the registry does not have is refused (a forged or
//! mistaken payload cannot deploy a tag that does not exist); a payload whose digest
//! disagrees with the registry's is refused; otherwise the registry's digest is the one
//! deployed (pinned as `tag@digest` unless the trigger opts out).
//!
//! When the registry cannot be reached (no answer, a 5xx, a 429), the push waits and is asked
//! again, a bounded number of times within a bounded wait ([`RegistryAccess`]), honouring a
//! `Retry-After` that fits in the wait. Then, unless the trigger allows unverified deploys
//! ([`Verify::IfReachable`]), it is refused with `503` and `Retry-After`: registries deliver
//! their notifications again, and nothing was done. A tag not found is asked for again the
//! same way before it is refused: the distribution registry sends its notification before it
//! links the pushed tag, so a verification that follows at once can miss it. Every outcome is
//! on the call's record.
//!
//! Sessions (and the tokens they hold) are kept per repository, so a registry with token auth
//! costs one round trip per verification, not two.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::error::Code;
use crate::registry::client::{self, Budgets, Client, Credentials, Error, Limits, Repository};
use crate::trigger::Verify;

/// Finds the credentials for a registry host (`None`: anonymous). The error is a message
/// without the secret.
pub type CredentialsFor = dyn Fn(&str) -> Result<Option<Credentials>, String> + Send + Sync;

/// What the listener (and the watcher) reach registries with.
pub struct RegistryAccess {
    client: Client,
    credentials: Arc<CredentialsFor>,
    sessions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<client::Session>>>>,
    /// Attempts for one push while the registry cannot be reached or rate-limits.
    pub attempts: u32,
    /// The wait before the second attempt; doubled for each one after.
    pub backoff: Duration,
    /// The longest one push waits in all; a `Retry-After` beyond it is not waited for.
    pub patience: Duration,
}

/// The most sessions kept; past it they are all dropped (and remade as pushes come).
const MAX_SESSIONS: usize = 4096;

impl std::fmt::Debug for RegistryAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAccess")
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .field("patience", &self.patience)
            .finish_non_exhaustive()
    }
}

impl RegistryAccess {
    /// Access through `client`, with credentials from `credentials`; three attempts within
    /// ten seconds.
    pub fn new(client: Client, credentials: Arc<CredentialsFor>) -> Self {
        RegistryAccess {
            client,
            credentials,
            sessions: Mutex::new(HashMap::new()),
            attempts: 3,
            backoff: Duration::from_millis(500),
            patience: Duration::from_secs(10),
        }
    }

    /// Anonymous access with the default limits (what a listener has unless its owner gives
    /// it more).
    pub fn anonymous() -> Self {
        let client = Client::new(Limits::default(), Budgets::new())
            .expect("the platform's TLS set-up works");
        RegistryAccess::new(client, Arc::new(|_| Ok(None)))
    }

    /// The client (and its budgets).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Drops the sessions with `host`'s repositories (their credentials and tokens), so the
    /// next request asks for credentials afresh: after a login or a logout.
    pub fn forget_host(&self, host: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .retain(|repository, _| Repository::parse(repository).is_ok_and(|r| r.host() != host));
    }

    /// The session with `repository` (normalised, `host/name`), made on first use.
    pub(crate) fn session(
        &self,
        repository: &str,
    ) -> Result<Arc<tokio::sync::Mutex<client::Session>>, Error> {
        let lock = || self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(session) = lock().get(repository) {
            return Ok(Arc::clone(session));
        }
        // Found without the lock held: finding credentials may run a Docker credential
        // helper, and other repositories' pushes must not wait for it.
        let target = Repository::parse(repository)?;
        let credentials = (self.credentials)(target.host()).map_err(|reason| Error::Auth {
            at: client::Place {
                registry: target.host().to_owned(),
                repository: target.name().to_owned(),
            },
            reason: format!("its credentials cannot be read: {reason}"),
        })?;
        let made = Arc::new(tokio::sync::Mutex::new(
            self.client.session(target, credentials),
        ));
        let mut sessions = lock();
        if sessions.len() >= MAX_SESSIONS {
            sessions.clear();
        }
        // A session another push made meanwhile is kept (with the token it may hold).
        Ok(Arc::clone(
            sessions.entry(repository.to_owned()).or_insert(made),
        ))
    }

    /// The digest `tag` of `repository` has now, asked again while the registry cannot be
    /// reached, within this access's bounds. The error is the last one, with the attempts
    /// made and the time waited.
    pub(crate) async fn digest(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<client::Manifest, (Error, Tried)> {
        let session = self
            .session(repository)
            .map_err(|e| (e, Tried::default()))?;
        let mut tried = Tried::default();
        let mut wait = self.backoff;
        loop {
            tried.attempts += 1;
            let answer = session.lock().await.digest(tag).await;
            let error = match answer {
                Ok(manifest) => return Ok(manifest),
                Err(error) => error,
            };
            // A 404 is asked again too: the distribution registry notifies a push before it
            // links the tag, so a tag just pushed can be missing for a moment.
            let transient = matches!(
                error,
                Error::Unreachable { .. } | Error::RateLimited { .. } | Error::NotFound { .. }
            );
            if !transient || tried.attempts >= self.attempts.max(1) {
                return Err((error, tried));
            }
            let pause = match error.retry_at() {
                Some(at) => {
                    let seconds = at.duration_since(jiff::Timestamp::now()).as_secs_f64();
                    Duration::from_secs_f64(seconds.max(0.0))
                }
                None => wait,
            };
            if tried.waited + pause > self.patience {
                return Err((error, tried));
            }
            tokio::time::sleep(pause).await;
            tried.waited += pause;
            wait *= 2;
        }
    }
}

/// How hard a verification tried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tried {
    /// Requests made (a request answered with a challenge counts once).
    pub attempts: u32,
    /// Time spent waiting between them.
    pub waited: Duration,
}

/// What verification found for one push, as the record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verified", rename_all = "kebab-case")]
pub(super) enum Checked {
    /// The registry has the tag, at this digest.
    Registry {
        /// `host/name:tag`.
        image: String,
        /// The registry's digest.
        digest: String,
    },
    /// Not checked with the registry.
    Unverified {
        /// `host/name:tag`.
        image: String,
        /// Why not.
        reason: String,
    },
}

impl Checked {
    /// The digest to deploy: the registry's, or the one the push names when unverified.
    pub(super) fn digest<'a>(&'a self, claimed: Option<&'a str>) -> Option<&'a str> {
        match self {
            Checked::Registry { digest, .. } => Some(digest),
            Checked::Unverified { .. } => claimed,
        }
    }
}

/// A push that is not acted on: its answer's code, message and (for an unreachable registry)
/// when to call again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub code: Code,
    pub message: String,
    pub retry_after: Option<u64>,
}

/// Checks one push (`repository` normalised, `tag`, the digest the payload names) as `policy`
/// says.
pub(super) async fn check(
    access: &RegistryAccess,
    policy: Verify,
    repository: &str,
    tag: &str,
    claimed: Option<&str>,
) -> Result<Checked, Refusal> {
    let image = format!("{repository}:{tag}");
    if policy == Verify::Off {
        return Ok(Checked::Unverified {
            image,
            reason: "the trigger does not verify pushes with the registry".into(),
        });
    }
    let (error, tried) = match access.digest(repository, tag).await {
        Ok(manifest) => {
            if let Some(claimed) = claimed
                && !claimed.eq_ignore_ascii_case(&manifest.digest)
            {
                return Err(Refusal {
                    code: Code::DigestDisagrees,
                    message: format!(
                        "the push says {image} is {claimed}, but the registry says it is {}; \
                         nothing was deployed",
                        manifest.digest
                    ),
                    retry_after: None,
                });
            }
            return Ok(Checked::Registry {
                image,
                digest: manifest.digest,
            });
        }
        Err(failed) => failed,
    };
    let waited = format!(
        "{} attempt{} over {:.1}s",
        tried.attempts,
        if tried.attempts == 1 { "" } else { "s" },
        tried.waited.as_secs_f64()
    );
    match error {
        Error::NotFound { .. } => Err(Refusal {
            code: Code::ImageNotInRegistry,
            message: format!(
                "the registry has no tag {tag} in {repository}: {error} ({waited}); nothing \
                 was deployed"
            ),
            retry_after: None,
        }),
        Error::Unreachable { .. } | Error::RateLimited { .. } => {
            if policy == Verify::IfReachable {
                return Ok(Checked::Unverified {
                    image,
                    reason: format!(
                        "the registry could not be reached ({error}; {waited}); deployed \
                         unverified, as the trigger allows"
                    ),
                });
            }
            let retry_after = error
                .retry_at()
                .map(|at| {
                    at.duration_since(jiff::Timestamp::now())
                        .as_secs_f64()
                        .ceil()
                        .max(1.0) as u64
                })
                .unwrap_or(30);
            Err(Refusal {
                code: Code::VerifyUnreachable,
                message: format!(
                    "{image} cannot be verified: {error} ({waited}); it is not deployed \
                     unverified; deliver the push again later"
                ),
                retry_after: Some(retry_after),
            })
        }
        other => Err(Refusal {
            code: Code::VerifyRefused,
            message: format!("{image} cannot be verified: {other}; nothing was deployed"),
            retry_after: None,
        }),
    }
}
