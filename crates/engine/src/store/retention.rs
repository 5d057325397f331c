//! How long access records are kept, and the database's size.
//!
//! Records are never trimmed while a call is written: the listener's hot path only inserts.
//! A background task ([`crate::listener`]) calls [`Store::prune_records`] now and then,
//! which deletes in small batches (each its own short transaction, so calls keep being
//! recorded between them) the records that the [`Retention`] policy no longer keeps: a
//! record goes only when it is both older than the age limit *and* beyond its trigger's
//! newest `per_trigger` records. Whichever rule keeps more wins, so a quiet trigger keeps
//! its history for months and a busy one keeps at least the last `per_trigger` calls.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{Result, Store};

/// Which access records are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    /// Records younger than this many days are kept.
    pub days: u32,
    /// Each trigger's newest records, this many, are kept whatever their age.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub per_trigger: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            days: 90,
            per_trigger: 100_000,
        }
    }
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} days, or the newest {} calls of each trigger, whichever keeps more",
            self.days, self.per_trigger
        )
    }
}

/// Rows deleted per transaction while pruning.
const BATCH: i64 = 2_000;

impl Store {
    /// Deletes the access records `retention` no longer keeps, as of `now` (RFC 3339), in
    /// batches. Returns how many went.
    pub fn prune_records(&mut self, retention: &Retention, now: jiff::Timestamp) -> Result<usize> {
        let cutoff = now
            .checked_sub(jiff::SignedDuration::from_hours(
                24 * i64::from(retention.days),
            ))
            .unwrap_or(jiff::Timestamp::MIN)
            .to_string();
        let mut total = 0;
        loop {
            let tx = self.write()?;
            let deleted = tx
                .prepare_cached(
                    "DELETE FROM access_records WHERE id IN (
                         SELECT id FROM (
                             SELECT id, at, row_number() OVER (
                                 PARTITION BY trigger_id ORDER BY id DESC) AS n
                             FROM access_records)
                         WHERE n > ?1 AND at < ?2
                         LIMIT ?3)",
                )?
                .execute(params![retention.per_trigger as i64, cutoff, BATCH])?;
            super::commit_records(tx)?;
            total += deleted;
            if (deleted as i64) < BATCH {
                return Ok(total);
            }
        }
    }

    /// The database's size on disk in bytes: the file and its write-ahead log.
    pub fn size(&self) -> u64 {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        [self.path.as_os_str(), wal.as_os_str()]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// How many access records there are.
    pub fn record_count(&self) -> Result<u64> {
        let count: i64 = self
            .conn
            .query_row("SELECT count(*) FROM access_records", [], |r| r.get(0))?;
        Ok(count.max(0) as u64)
    }
}
