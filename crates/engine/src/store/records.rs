//! Access records: what each call to the listener looked like and what was decided.
//!
//! Every call that reaches the listener with a token — known or not — leaves a record
//! ([`Store::record_access`], or [`Store::record_accesses`] for the listener's batches, which
//! also fold a run of identical calls into one record). A call that starts a release is
//! recorded first and finished when its answer is known ([`Store::finish_access_record`],
//! [`Store::link_access_release`]). Old records are pruned in the background by the
//! retention policy (`retention.rs`).

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Error, Result, Store};

/// What the listener decided about a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// A deploy (or scale) was started.
    Triggered,
    /// Valid, but the trigger's rules say to do nothing (e.g. a tag not in the list).
    Untriggered,
    /// Valid, and the cluster already has what it asks for.
    NoOp,
    /// Refused: bad token, disabled, bad body, throttled, …
    Rejected,
}

impl Decision {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Triggered => "triggered",
            Decision::Untriggered => "untriggered",
            Decision::NoOp => "no-op",
            Decision::Rejected => "rejected",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "triggered" => Decision::Triggered,
            "untriggered" => Decision::Untriggered,
            "no-op" => Decision::NoOp,
            "rejected" => Decision::Rejected,
            other => return Err(Error::Corrupt(format!("unknown decision {other:?}"))),
        })
    }
}

/// A call as the listener saw it (secrets already redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AccessRecord {
    /// Unique id.
    pub id: i64,
    /// The trigger, when the token named one.
    pub trigger: Option<String>,
    /// When (RFC 3339).
    pub at: String,
    /// The caller's address.
    pub source: String,
    /// GET or POST.
    pub method: String,
    /// Path and query, with the token redacted.
    pub path: String,
    /// The headers worth keeping, secrets redacted.
    pub headers: Vec<(String, String)>,
    /// The body (at most 64 KiB, secrets redacted).
    pub body: String,
    /// True when the body was cut.
    pub body_truncated: bool,
    /// The parsed event (patch, scale request or registry push).
    pub event: Option<Value>,
    /// What was decided.
    pub decision: Decision,
    /// Why, in words ("untriggered: tag v2-rc not in list").
    pub reason: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The response body.
    pub response: String,
    /// The release started, if any.
    pub release: Option<i64>,
    /// How many identical calls in a row this record stands for (1 for most). A flood of
    /// the same call is kept as one record, so it does not evict the history before it.
    pub repeats: u32,
    /// When the last of the repeated calls came (RFC 3339); `None` when `repeats` is 1.
    pub last_at: Option<String>,
}

/// What a list of access records shows of each: everything but the request's headers and
/// body, the parsed event and the response, which stay in the database until the record is
/// opened ([`Store::access_record`]). A page of these is a few hundred bytes a record, where
/// full records can carry 64 KiB bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct RecordSummary {
    /// Unique id.
    pub id: i64,
    /// The trigger, when the token named one.
    pub trigger: Option<String>,
    /// When (RFC 3339).
    pub at: String,
    /// The caller's address.
    pub source: String,
    /// GET or POST.
    pub method: String,
    /// Path and query, with the token redacted.
    pub path: String,
    /// What was decided.
    pub decision: Decision,
    /// Why, in words.
    pub reason: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The release started, if any.
    pub release: Option<i64>,
    /// How many identical calls in a row this record stands for.
    pub repeats: u32,
    /// When the last of the repeated calls came; `None` when `repeats` is 1.
    pub last_at: Option<String>,
}

/// One record for [`Store::record_accesses`] to write.
#[derive(Debug, Clone)]
pub struct RecordWrite {
    /// The trigger the call named (`None`: an unknown token).
    pub trigger_id: Option<i64>,
    /// The record; its `repeats` and `last_at` are what a fold adds.
    pub record: AccessRecord,
    /// The record to add these calls to, if it is still the trigger's newest.
    pub fold_into: Option<i64>,
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter<'a> {
    /// Only this trigger's.
    pub trigger: Option<&'a str>,
    /// Only with this decision.
    pub decision: Option<Decision>,
    /// Only records older than this id (for paging backwards).
    pub before: Option<i64>,
    /// At most this many (newest first).
    pub limit: usize,
}

/// The filter of [`Store::access_records`] and [`Store::access_record_summaries`]: ?1 trigger
/// name, ?2 decision, ?3 before this id, ?4 at most this many, newest first.
const RECORD_FILTER: &str = "FROM access_records r LEFT JOIN triggers t ON t.id = r.trigger_id
     WHERE (?1 IS NULL OR t.name = ?1) AND (?2 IS NULL OR r.decision = ?2)
       AND (?3 IS NULL OR r.id < ?3)
     ORDER BY r.id DESC LIMIT ?4";

const SUMMARY_COLUMNS: &str = "r.id, t.name, r.at, r.source, r.method, r.path, r.decision, \
    r.reason, r.status, r.release_id, r.repeats, r.last_at";

const RECORD_COLUMNS: &str = "r.id, t.name, r.at, r.source, r.method, r.path, r.headers, r.body, \
    r.body_truncated, r.event, r.decision, r.reason, r.status, r.response, r.release_id, \
    r.repeats, r.last_at";

fn decode_record(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(AccessRecord, String, String, Option<String>)> {
    Ok((
        AccessRecord {
            id: row.get(0)?,
            trigger: row.get(1)?,
            at: row.get(2)?,
            source: row.get(3)?,
            method: row.get(4)?,
            path: row.get(5)?,
            headers: Vec::new(),
            body: row.get(7)?,
            body_truncated: row.get(8)?,
            event: None,
            decision: Decision::Rejected,
            reason: row.get(11)?,
            status: row.get(12)?,
            response: row.get(13)?,
            release: row.get(14)?,
            repeats: row.get(15)?,
            last_at: row.get(16)?,
        },
        row.get(6)?,
        row.get(10)?,
        row.get(9)?,
    ))
}

/// [`RECORD_FILTER`]'s parameters.
fn filter_params<'a>(
    filter: &RecordFilter<'a>,
) -> (Option<&'a str>, Option<&'static str>, Option<i64>, i64) {
    (
        filter.trigger,
        filter.decision.map(Decision::as_str),
        filter.before,
        filter.limit.max(1) as i64,
    )
}

fn finish_record(
    (mut record, headers, decision, event): (AccessRecord, String, String, Option<String>),
) -> Result<AccessRecord> {
    let corrupt =
        |e: serde_json::Error| Error::Corrupt(format!("stored access record is not readable: {e}"));
    record.headers = serde_json::from_str(&headers).map_err(corrupt)?;
    record.decision = Decision::parse(&decision)?;
    record.event = event
        .map(|e| serde_json::from_str(&e))
        .transpose()
        .map_err(corrupt)?;
    Ok(record)
}

pub(super) fn insert_record(
    tx: &rusqlite::Transaction<'_>,
    trigger_id: Option<i64>,
    record: &AccessRecord,
) -> Result<i64> {
    let headers =
        serde_json::to_string(&record.headers).map_err(|e| Error::Invalid(e.to_string()))?;
    let event = record.event.as_ref().map(Value::to_string);
    tx.prepare_cached(
        "INSERT INTO access_records (trigger_id, at, source, method, path, headers, body,
             body_truncated, event, decision, reason, status, response, release_id, repeats,
             last_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        trigger_id,
        record.at,
        record.source,
        record.method,
        record.path,
        headers,
        record.body,
        record.body_truncated,
        event,
        record.decision.as_str(),
        record.reason,
        record.status,
        record.response,
        record.release,
        record.repeats.max(1),
        // A single call has no last call of its own.
        record.last_at.as_ref().filter(|_| record.repeats > 1),
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Adds `write`'s calls to record `id` when that is still the newest record of the trigger
/// (so folding never reorders the history). True when it did.
fn fold_record(tx: &rusqlite::Transaction<'_>, id: i64, write: &RecordWrite) -> Result<bool> {
    let last_at = write.record.last_at.as_deref().unwrap_or(&write.record.at);
    let changed = tx
        .prepare_cached(
            "UPDATE access_records SET repeats = min(repeats + ?2, 4294967295), last_at = ?3
             WHERE id = ?1 AND id = (SELECT max(id) FROM access_records WHERE trigger_id IS ?4)",
        )?
        .execute(params![id, write.record.repeats, last_at, write.trigger_id])?;
    Ok(changed == 1)
}

impl Store {
    /// Stores an access record (its `id` is ignored). Returns the new id.
    pub fn record_access(&mut self, trigger_id: Option<i64>, record: &AccessRecord) -> Result<i64> {
        let tx = self.write()?;
        let id = insert_record(&tx, trigger_id, record)?;
        super::commit_records(tx)?;
        Ok(id)
    }

    /// Stores several records in one transaction (each still whole). A record given with
    /// `fold_into: Some(id)` is added to record `id` (its `repeats` and `last_at`) when `id`
    /// is still its trigger's newest record, and stored as a new record otherwise. Returns
    /// each record's id, in order. Old records are pruned apart from this, in the
    /// background ([`Store::prune_records`]).
    pub fn record_accesses(&mut self, records: &[RecordWrite]) -> Result<Vec<i64>> {
        let tx = self.write()?;
        let mut ids = Vec::with_capacity(records.len());
        for write in records {
            let id = match write.fold_into {
                Some(id) if fold_record(&tx, id, write)? => id,
                _ => insert_record(&tx, write.trigger_id, &write.record)?,
            };
            ids.push(id);
        }
        super::commit_records(tx)?;
        Ok(ids)
    }

    /// Sets the status and response of a record written before the answer was known.
    pub fn finish_access_record(&mut self, record: i64, status: u16, response: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE access_records SET status = ?2, response = ?3 WHERE id = ?1",
            params![record, status, response],
        )?;
        Ok(())
    }

    /// Links a record to the release it started.
    pub fn link_access_release(&mut self, record: i64, release: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE access_records SET release_id = ?2 WHERE id = ?1",
            params![record, release],
        )?;
        Ok(())
    }

    /// Records, newest first.
    pub fn access_records(&self, filter: &RecordFilter<'_>) -> Result<Vec<AccessRecord>> {
        if let Some(name) = filter.trigger {
            self.trigger(name)?;
        }
        let mut statement = self
            .conn
            .prepare_cached(&format!("SELECT {RECORD_COLUMNS} {RECORD_FILTER}"))?;
        let rows = statement.query_map(filter_params(filter), decode_record)?;
        rows.map(|row| finish_record(row?)).collect()
    }

    /// The access records `filter` selects, as a list shows them ([`RecordSummary`]).
    pub fn access_record_summaries(&self, filter: &RecordFilter<'_>) -> Result<Vec<RecordSummary>> {
        if let Some(name) = filter.trigger {
            self.trigger(name)?;
        }
        let mut statement = self
            .conn
            .prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} {RECORD_FILTER}"))?;
        let rows = statement.query_map(filter_params(filter), |row| {
            Ok((
                RecordSummary {
                    id: row.get(0)?,
                    trigger: row.get(1)?,
                    at: row.get(2)?,
                    source: row.get(3)?,
                    method: row.get(4)?,
                    path: row.get(5)?,
                    decision: Decision::Rejected,
                    reason: row.get(7)?,
                    status: row.get(8)?,
                    release: row.get(9)?,
                    repeats: row.get(10)?,
                    last_at: row.get(11)?,
                },
                row.get::<_, String>(6)?,
            ))
        })?;
        rows.map(|row| {
            let (mut summary, decision) = row?;
            summary.decision = Decision::parse(&decision)?;
            Ok(summary)
        })
        .collect()
    }

    /// One record.
    pub fn access_record(&self, id: i64) -> Result<AccessRecord> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {RECORD_COLUMNS} FROM access_records r LEFT JOIN triggers t ON t.id = r.trigger_id WHERE r.id = ?1"),
                [id],
                decode_record,
            )
            .optional()?;
        match row {
            Some(row) => finish_record(row),
            None => Err(Error::RecordNotFound(id)),
        }
    }
}
