//! What can go wrong talking to a registry. Every error names the registry and repository it
//! was about; none carries a password or a token (URLs are shown without their query).

use std::fmt;

use jiff::Timestamp;

use super::budget::Budget;

/// The result type of the registry client.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A registry host and repository, as messages name them (`ghcr.io/acme/api`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The registry host as the client reaches it (`registry-1.docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The repository inside it (`library/nginx`).
    pub repository: String,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.repository.is_empty() {
            // The registry itself (a login's check of `/v2/`).
            return f.write_str(&self.registry);
        }
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// Why a registry request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image reference does not name a repository the client can reach.
    #[error("{reference}: {reason}")]
    Reference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The repository, tag or manifest does not exist (HTTP 404).
    #[error("{what} was not found in {at} (HTTP 404)")]
    NotFound {
        /// Where.
        at: Place,
        /// What was asked for (`tag 1.27`, `the tag list`).
        what: String,
    },
    /// The registry (or its token service) refused the credentials, or wants some.
    #[error("{at} refused access: {reason}")]
    Auth {
        /// Where.
        at: Place,
        /// What the registry answered, and what to do about it.
        reason: String,
    },
    /// Credentials would have gone somewhere they must not: plain HTTP to another machine.
    #[error("{at}: credentials are not sent to {url}: {reason}")]
    Insecure {
        /// Where.
        at: Place,
        /// The URL they would have gone to, without its query.
        url: String,
        /// Why they are held back.
        reason: &'static str,
    },
    /// The registry answered 429: too many requests.
    #[error("{at} is rate limiting requests (HTTP 429); {}", retry_text(.retry_at))]
    RateLimited {
        /// Where.
        at: Place,
        /// When the registry says to try again (`Retry-After`), when it says.
        retry_at: Option<Timestamp>,
        /// The budget the registry reported with the refusal, if any.
        budget: Option<Box<Budget>>,
    },
    /// No answer: the connection failed or the registry did not answer in time.
    #[error("{at} could not be reached: {reason}")]
    Unreachable {
        /// Where.
        at: Place,
        /// The innermost cause (never the URL, which reqwest would repeat).
        reason: String,
    },
    /// The registry answered, but not as the distribution API says.
    #[error("{what} of {at} is invalid: {reason}")]
    Invalid {
        /// Where.
        at: Place,
        /// What was read (`the tag list`, `the manifest of 1.27`).
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The manifest's bytes do not hash to the digest the registry announced for them.
    #[error(
        "the manifest of {at}:{tag} does not match its digest: the registry says {announced}, \
         its bytes hash to {computed}"
    )]
    DigestMismatch {
        /// Where.
        at: Place,
        /// The tag read.
        tag: String,
        /// `Docker-Content-Digest`.
        announced: String,
        /// The digest of the bytes received.
        computed: String,
    },
    /// An answer was larger than the client reads.
    #[error("{what} of {at} is larger than the {limit} byte limit")]
    TooLarge {
        /// Where.
        at: Place,
        /// What was read.
        what: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The HTTP client could not be built (TLS set-up).
    #[error("the registry client could not be set up: {0}")]
    Setup(String),
}

fn retry_text(retry_at: &Option<Timestamp>) -> String {
    match retry_at {
        Some(at) => format!("try again after {}", at.strftime("%Y-%m-%d %H:%M:%S UTC")),
        None => "it did not say when to try again; wait before the next request".into(),
    }
}

impl Error {
    /// The registry and repository the error is about, when it is about one.
    pub fn place(&self) -> Option<&Place> {
        match self {
            Error::Reference { .. } | Error::Setup(_) => None,
            Error::NotFound { at, .. }
            | Error::Auth { at, .. }
            | Error::Insecure { at, .. }
            | Error::RateLimited { at, .. }
            | Error::Unreachable { at, .. }
            | Error::Invalid { at, .. }
            | Error::DigestMismatch { at, .. }
            | Error::TooLarge { at, .. } => Some(at),
        }
    }

    /// Whether the registry answered (refused, rate-limited, had nothing, sent something
    /// wrong), rather than not being reached or not asked.
    pub fn answered(&self) -> bool {
        !matches!(
            self,
            Error::Reference { .. } | Error::Setup(_) | Error::Unreachable { .. }
        )
    }

    /// When the registry said to try again, for a rate-limited request.
    pub fn retry_at(&self) -> Option<Timestamp> {
        match self {
            Error::RateLimited { retry_at, .. } => *retry_at,
            _ => None,
        }
    }
}
