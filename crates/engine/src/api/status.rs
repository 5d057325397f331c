//! Facts about this installation a settings screen and `tripline status` show: where the
//! data lives, how large the database is, how many access records it holds, how many
//! releases wait, and where trigger tokens are kept.

use std::path::PathBuf;

use super::Tripline;
use crate::error::ErrorBody;
use crate::secrets::Secrets;
use crate::store::ReleaseStatus;

/// Where trigger tokens are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsKind {
    /// The OS keyring.
    Keyring,
    /// Owner-only files in the data directory.
    Files,
}

impl SecretsKind {
    /// `keyring` or `files`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretsKind::Keyring => "keyring",
            SecretsKind::Files => "files",
        }
    }
}

/// The installation's storage, as [`Tripline::storage`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The database's size on disk, in bytes.
    pub database_bytes: u64,
    /// How many access records the database holds.
    pub access_records: u64,
    /// Where trigger tokens are kept.
    pub secrets: SecretsKind,
}

/// The database, as [`Tripline::database_status`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseStatus {
    /// The database file.
    pub path: PathBuf,
    /// Its size on disk (with its write-ahead log), in bytes.
    pub bytes: u64,
    /// The schema version it is at.
    pub schema_version: u32,
    /// How many access records it holds.
    pub access_records: u64,
    /// Releases waiting for a worker.
    pub queued_releases: u64,
    /// Releases a worker is carrying out.
    pub running_releases: u64,
}

impl Tripline {
    /// The database: where it is, its size and schema, its records and the releases waiting.
    pub fn database_status(&self) -> Result<DatabaseStatus, ErrorBody> {
        let store = self.store();
        let info = store.info()?;
        Ok(DatabaseStatus {
            path: info.path,
            bytes: store.size(),
            schema_version: info.schema_version,
            access_records: store.record_count()?,
            queued_releases: store.release_count(ReleaseStatus::Queued)?,
            running_releases: store.release_count(ReleaseStatus::Running)?,
        })
    }

    /// The data directory, the database's size and record count, and the secret store.
    pub fn storage(&self) -> Result<Storage, ErrorBody> {
        let (database_bytes, access_records) = {
            let store = self.store();
            let records = store.record_count().map_err(|e| ErrorBody::from(&e))?;
            (store.size(), records)
        };
        Ok(Storage {
            data_dir: self.data_dir().to_owned(),
            database_bytes,
            access_records,
            secrets: match self.secrets()? {
                Secrets::Keyring => SecretsKind::Keyring,
                Secrets::Files(_) => SecretsKind::Files,
            },
        })
    }
}
