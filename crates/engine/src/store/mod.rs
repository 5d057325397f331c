//! Storage: one SQLite database in the data directory.
//!
//! [`Store::open`] creates or upgrades the database ([`migrations`]), in WAL mode with foreign
//! keys on. Everything that makes a version, an application or a record is one transaction:
//! after a crash it is there whole or not at all (`tests/crash.rs` kills a writer with SIGKILL
//! to check). Writes that read first (a patch reads the latest version, then adds the next)
//! take the write lock up front (`BEGIN IMMEDIATE`), so two processes cannot both build on
//! the same version.
//!
//! Versions are immutable: the schema refuses `UPDATE` on them, and they are only deleted
//! with their template.

mod apps;
mod migrations;
mod pool;
mod records;
mod registry;
mod releases;
mod retention;
mod templates;
mod triggers;
mod values;
mod watches;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::error::{Code, ErrorBody};

pub use pool::Pool;
pub use records::{AccessRecord, Decision, RecordFilter, RecordSummary, RecordWrite};
pub use registry::RegistryHost;
pub use releases::{Cause, Decided, Finish, Release, ReleaseStatus, Work};
pub use retention::Retention;
pub use templates::{Origin, SaveOutcome, TemplateSummary, Version, VersionSummary};
pub use triggers::{NewTrigger, TriggerIndex};
pub use values::{ValuesSaved, ValuesSummary, ValuesVersion};
pub use watches::{Maturing, WatchState, WatchView};

/// The database file's name inside the data directory.
pub const DATABASE_FILE: &str = "tripline.db";

/// Write transactions committed by this process, on any connection: a cache of the database
/// (the listener's token index) rechecks it when this moved, and on a short interval for
/// other processes' writes. Bumped after the commit, so a reader that sees the new count
/// also sees the data.
static COMMITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many write transactions this process has committed (see [`COMMITS`]).
pub fn local_commits() -> u64 {
    COMMITS.load(std::sync::atomic::Ordering::Acquire)
}

/// Commits `tx` and counts it in [`local_commits`]. Every write transaction of the store ends
/// here or in [`commit_records`].
fn commit(tx: rusqlite::Transaction<'_>) -> Result<()> {
    tx.commit()?;
    COMMITS.fetch_add(1, std::sync::atomic::Ordering::Release);
    Ok(())
}

/// Commits `tx`, which wrote access records and nothing else, without counting it in
/// [`local_commits`]. What watches that count caches triggers and applications, which no
/// access record changes (no SQL trigger on `access_records` writes elsewhere); and the
/// listener writes records for every call, so counting them would send the token index to
/// the database after each batch.
fn commit_records(tx: rusqlite::Transaction<'_>) -> Result<()> {
    tx.commit()?;
    Ok(())
}

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The data directory could not be created or read.
    #[error("cannot use the data directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database was written by a newer Tripline.
    #[error(
        "the database {path} was written by a newer Tripline (schema version {found}; this \
         version understands up to {supported}); upgrade Tripline or choose another --data-dir"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest this build knows.
        supported: u32,
    },
    /// Another process holds the write lock for too long.
    #[error("the database is busy (another Tripline process is writing); try again")]
    Busy,
    /// No template of that name.
    #[error("there is no template named {0:?} (see `tripline template list`)")]
    TemplateNotFound(String),
    /// A template of that name exists.
    #[error("a template named {0:?} already exists; choose another name or edit it")]
    TemplateExists(String),
    /// No such version.
    #[error("template {template:?} has no version {number} (its versions are 1 to {latest})")]
    VersionNotFound {
        /// The template.
        template: String,
        /// The version asked for.
        number: u32,
        /// Its newest version.
        latest: u32,
    },
    /// No such values version.
    #[error("{app:?} has no values version {number} (its versions are 1 to {latest})")]
    ValuesNotFound {
        /// The application.
        app: String,
        /// The version asked for.
        number: u32,
        /// Its newest version.
        latest: u32,
    },
    /// The template is used by applications.
    #[error(
        "template {template:?} is used by {}: delete or change {} first",
        plural_apps(.apps), if .apps.len() == 1 { "it" } else { "them" }
    )]
    TemplateInUse {
        /// The template.
        template: String,
        /// The applications that use it.
        apps: Vec<String>,
    },
    /// No application of that name.
    #[error("there is no application named {0:?} (see `tripline app list`)")]
    AppNotFound(String),
    /// An application of that name exists.
    #[error("an application named {0:?} already exists")]
    AppExists(String),
    /// No trigger of that name.
    #[error("there is no trigger named {0:?} (see `tripline trigger list`)")]
    TriggerNotFound(String),
    /// A trigger of that name exists.
    #[error("a trigger named {0:?} already exists")]
    TriggerExists(String),
    /// No access record with that id (it may have been trimmed by the retention limit).
    #[error("there is no access record {0} (older records are removed beyond the retention limit)")]
    RecordNotFound(i64),
    /// A name or field is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The new content is not a valid template.
    #[error(transparent)]
    Template(#[from] crate::template::Error),
    /// A patch could not be applied.
    #[error(transparent)]
    Patch(#[from] crate::patch::Error),
    /// Stored data does not match its checksum or cannot be read.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

fn plural_apps(apps: &[String]) -> String {
    let names = apps
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if apps.len() == 1 {
        format!("application {names}")
    } else {
        format!("applications {names}")
    }
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<&Error> for ErrorBody {
    fn from(error: &Error) -> Self {
        let message = error.to_string();
        let code = match error {
            Error::Template(inner) => return ErrorBody::from(inner),
            Error::Patch(inner) => return ErrorBody::from(inner),
            Error::Database(_) => Code::StoreDatabase,
            Error::Io { .. } => Code::StoreIo,
            Error::NewerSchema { .. } => Code::StoreNewerSchema,
            Error::Busy => Code::StoreBusy,
            Error::TemplateNotFound(_) => Code::TemplateNotFound,
            Error::TemplateExists(_) => Code::TemplateExists,
            Error::VersionNotFound { .. } | Error::ValuesNotFound { .. } => Code::VersionNotFound,
            Error::TemplateInUse { .. } => Code::TemplateInUse,
            Error::AppNotFound(_) => Code::AppNotFound,
            Error::AppExists(_) => Code::AppExists,
            Error::TriggerNotFound(_) => Code::TriggerNotFound,
            Error::TriggerExists(_) => Code::TriggerExists,
            Error::RecordNotFound(_) => Code::RecordNotFound,
            Error::Invalid(_) => Code::InputInvalid,
            Error::Corrupt(_) => Code::StoreCorrupt,
        };
        let details = match error {
            Error::TemplateInUse { apps, .. } => Some(serde_json::json!({ "apps": apps })),
            Error::VersionNotFound { latest, .. } | Error::ValuesNotFound { latest, .. } => {
                Some(serde_json::json!({ "latest": latest }))
            }
            _ => None,
        };
        ErrorBody {
            code,
            message,
            details,
        }
    }
}

/// The platform data directory (`~/.local/share/tripline` on Linux).
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "tripline").map(|dirs| dirs.data_dir().to_path_buf())
}

/// Facts about the open database.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    /// The database file.
    pub path: PathBuf,
    /// Its schema version.
    pub schema_version: u32,
}

/// The open database.
///
/// Front ends do not hold one: they call [`crate::api::Tripline`], which holds the store and
/// enforces each rule once. It stays public for the engine's own integration tests and
/// benchmarks (`crates/engine/tests`, `crates/engine/benches`), which drive it directly.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`.
    pub fn open_dir(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| Error::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        Self::open(&data_dir.join(DATABASE_FILE))
    }

    /// Opens (creating if needed) the database file at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a committed version survives power loss, not only a process crash.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Keep each prepared statement's query plan: without this SQLite re-plans joins for
        // every new bound value, which made the listener's token lookup ten times slower.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        migrations::migrate(&mut store.conn, path)?;
        Ok(store)
    }

    /// Where the database is and which schema it has.
    pub fn info(&self) -> Result<Info> {
        Ok(Info {
            path: self.path.clone(),
            schema_version: migrations::current_version(&self.conn)?,
        })
    }

    /// Lowers this connection's durability from FULL to NORMAL (WAL): commits survive a crash
    /// of the process but not a power cut. For high-volume, low-stakes writes (access records).
    pub fn relax_sync(&mut self) -> Result<()> {
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(())
    }

    /// Runs SQLite's own consistency check; `Ok(())` when it reports none.
    pub fn check_integrity(&self) -> Result<()> {
        let report: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        if report == "ok" {
            Ok(())
        } else {
            Err(Error::Corrupt(report))
        }
    }
}

/// Maps SQLite's busy error to [`Error::Busy`].
pub(crate) fn busy(error: rusqlite::Error) -> Error {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            Error::Busy
        }
        _ => Error::Database(error),
    }
}

/// Now, as stored: RFC 3339 in UTC.
pub(crate) fn now() -> String {
    jiff::Timestamp::now().to_string()
}

#[cfg(test)]
mod tests;
