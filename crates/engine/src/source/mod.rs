//! Where an application's manifests come from when they are not a Tripline template: a Git
//! repository ([`git`]) or a Helm chart ([`helm`]).
//!
//! A source is read into a [`Rendered`]: the revision it stood at (a commit, a chart version
//! and its digest) and the manifests that revision renders to, as one multi-document YAML
//! text. The application keeps those manifests as versions of a template of its own, so
//! history, diffs, rollback and the deploy path are the ones template applications use; the
//! version says which revision it was rendered from.
//!
//! Reading a source talks to other servers and runs other programs; every failure is a
//! [`SourceError`] whose [`Code`] says which kind (unreachable, refused credentials, missing
//! ref or chart version, invalid content, a missing tool, a digest that does not match) and
//! whose message names the source and what to do.

pub mod git;
pub mod helm;
pub mod sync;
pub mod writeback;

use serde::{Deserialize, Serialize};

use crate::error::{Code, ErrorBody};

/// The revision a source stood at when it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Revision {
    /// A Git commit.
    Git {
        /// The commit's full hex id.
        commit: String,
        /// The branch, tag or commit the source follows, as configured.
        reference: String,
    },
    /// A Helm chart version.
    Helm {
        /// The chart's name.
        chart: String,
        /// The exact version rendered.
        version: String,
        /// The chart archive's digest (`sha256:…`), as verified.
        digest: String,
    },
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Revision::Git { commit, reference } => {
                write!(f, "commit {} of {reference}", short(commit))
            }
            Revision::Helm {
                chart,
                version,
                digest,
            } => write!(f, "chart {chart} {version} ({})", short_digest(digest)),
        }
    }
}

/// The first 12 characters of a commit id.
pub fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

fn short_digest(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

/// A source read at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Where the source stood.
    pub revision: Revision,
    /// The manifests, as one multi-document YAML text.
    pub manifests: String,
}

/// Why a source could not be read. The code says which kind of failure; the message names
/// the source (never its credentials) and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    /// Which kind of failure: one of the `source.*` codes.
    pub code: Code,
    /// For a person.
    pub message: String,
}

impl SourceError {
    /// An error of kind `code`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        SourceError {
            code,
            message: message.into(),
        }
    }
}

impl From<SourceError> for ErrorBody {
    fn from(error: SourceError) -> Self {
        ErrorBody::new(error.code, error.message)
    }
}

/// The most bytes a source may bring in: a repository's manifests, a chart archive, an index.
pub const SIZE_LIMIT: usize = 64 * 1024 * 1024;

/// A user name and password (or token) for a source's server, read from the secret store
/// when needed and never written into a message, a record or a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (for a token, whatever the server expects: often anything non-empty).
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Makes ring the process's TLS crypto provider (once), for the HTTPS clients sources use:
/// reqwest is built without a provider of its own so that no second one is compiled in.
pub(crate) fn use_ring_for_tls() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Another part of the process may have chosen one already: that one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
