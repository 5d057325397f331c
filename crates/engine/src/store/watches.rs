//! What watching image triggers remember between looks at a registry, and the pushes that
//! wait to mature.
//!
//! A watch keeps, per trigger and repository, the tag list's `ETag` and tags (so a tag that
//! appears is told from one that was there), and the tag it last acted on with its digest (so
//! a moved tag is noticed and the same choice is not made twice). It is written only when
//! something changed. A maturing push waits in `maturing` until it is due; a newer push for
//! the same trigger and repository takes its place. Both survive a restart.

use rusqlite::{OptionalExtension as _, params};

use super::{Result, Store, busy, commit};

/// What a watch last saw of one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchState {
    /// The tag list's `ETag`, when the registry sent one.
    pub etag: Option<String>,
    /// The tags the list held.
    pub tags: Vec<String>,
    /// The tag last acted on (or found in use when the watch began).
    pub tag: Option<String>,
    /// That tag's digest then.
    pub digest: Option<String>,
    /// Why the last look failed, if it did.
    pub error: Option<String>,
}

/// What a watch of one repository shows: what it knows and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct WatchView {
    /// The repository, normalised.
    pub repository: String,
    /// The tag last acted on (or in use when the watch began).
    pub tag: Option<String>,
    /// Its digest then.
    pub digest: Option<String>,
    /// How many tags the registry listed.
    pub tags: u32,
    /// When what the watch knows last changed (RFC 3339).
    pub changed_at: String,
    /// Why the last look failed, if it did.
    pub error: Option<String>,
}

/// A push that waits to mature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maturing {
    /// The trigger.
    pub trigger_id: i64,
    /// The repository, normalised.
    pub repository: String,
    /// The tag.
    pub tag: String,
    /// Its digest when it was pushed.
    pub digest: String,
    /// When it was pushed (RFC 3339).
    pub since: String,
    /// When it is deployed if the tag still has that digest (RFC 3339).
    pub due_at: String,
}

impl Store {
    /// What the watch of `trigger_id` last saw of `repository`.
    pub fn watch_state(&self, trigger_id: i64, repository: &str) -> Result<Option<WatchState>> {
        let row = self
            .conn
            .query_row(
                "SELECT etag, tags, tag, digest, error FROM watches
                 WHERE trigger_id = ?1 AND repository = ?2",
                params![trigger_id, repository],
                |row| {
                    Ok((
                        row.get::<_, Option<String>>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Option<String>>(2)?,
                        row.get::<_, Option<String>>(3)?,
                        row.get::<_, Option<String>>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((etag, tags, tag, digest, error)) = row else {
            return Ok(None);
        };
        let tags = serde_json::from_str(&tags)
            .map_err(|e| super::Error::Corrupt(format!("a watch's tag list: {e}")))?;
        Ok(Some(WatchState {
            etag,
            tags,
            tag,
            digest,
            error,
        }))
    }

    /// What the watches of `trigger_id` know, by repository.
    pub fn watches(&self, trigger_id: i64) -> Result<Vec<WatchView>> {
        let mut statement = self.conn.prepare(
            "SELECT repository, tag, digest, json_array_length(tags), checked_at, error
             FROM watches WHERE trigger_id = ?1 ORDER BY repository",
        )?;
        let rows = statement.query_map(params![trigger_id], |row| {
            Ok(WatchView {
                repository: row.get(0)?,
                tag: row.get(1)?,
                digest: row.get(2)?,
                tags: row.get(3)?,
                changed_at: row.get(4)?,
                error: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Keeps what the watch of `trigger_id` saw of `repository`.
    pub fn save_watch_state(
        &mut self,
        trigger_id: i64,
        repository: &str,
        state: &WatchState,
    ) -> Result<()> {
        let tags = serde_json::to_string(&state.tags).expect("a list of strings serialises");
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(busy)?;
        tx.execute(
            "INSERT INTO watches
                (trigger_id, repository, etag, tags, tag, digest, checked_at, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (trigger_id, repository) DO UPDATE SET
                etag = excluded.etag, tags = excluded.tags, tag = excluded.tag,
                digest = excluded.digest, checked_at = excluded.checked_at,
                error = excluded.error",
            params![
                trigger_id,
                repository,
                state.etag,
                tags,
                state.tag,
                state.digest,
                jiff::Timestamp::now().to_string(),
                state.error
            ],
        )?;
        commit(tx)
    }

    /// Holds a push until `due_at`; the push held before for the same trigger and repository,
    /// if any, is returned: this one takes its place.
    pub fn hold_maturing(&mut self, maturing: &Maturing) -> Result<Option<Maturing>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(busy)?;
        let replaced = tx
            .query_row(
                "SELECT trigger_id, repository, tag, digest, since, due_at FROM maturing
                 WHERE trigger_id = ?1 AND repository = ?2",
                params![maturing.trigger_id, maturing.repository],
                maturing_row,
            )
            .optional()?;
        tx.execute(
            "INSERT INTO maturing (trigger_id, repository, tag, digest, since, due_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (trigger_id, repository) DO UPDATE SET
                tag = excluded.tag, digest = excluded.digest, since = excluded.since,
                due_at = excluded.due_at",
            params![
                maturing.trigger_id,
                maturing.repository,
                maturing.tag,
                maturing.digest,
                maturing.since,
                maturing.due_at
            ],
        )?;
        commit(tx)?;
        Ok(replaced.filter(|r| r.tag != maturing.tag || r.digest != maturing.digest))
    }

    /// The held pushes due at `now` (RFC 3339), oldest first.
    pub fn due_maturing(&self, now: &str) -> Result<Vec<Maturing>> {
        let mut statement = self.conn.prepare(
            "SELECT trigger_id, repository, tag, digest, since, due_at FROM maturing
             WHERE due_at <= ?1 ORDER BY due_at",
        )?;
        let rows = statement.query_map(params![now], maturing_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every held push of `trigger_id`.
    pub fn maturing(&self, trigger_id: i64) -> Result<Vec<Maturing>> {
        let mut statement = self.conn.prepare(
            "SELECT trigger_id, repository, tag, digest, since, due_at FROM maturing
             WHERE trigger_id = ?1 ORDER BY due_at",
        )?;
        let rows = statement.query_map(params![trigger_id], maturing_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Lets go of `held`, if it is still the push held (a newer one may have taken its place
    /// meanwhile). Whether it was.
    pub fn release_maturing(&mut self, held: &Maturing) -> Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(busy)?;
        let deleted = tx.execute(
            "DELETE FROM maturing WHERE trigger_id = ?1 AND repository = ?2 AND tag = ?3
             AND digest = ?4 AND since = ?5",
            params![
                held.trigger_id,
                held.repository,
                held.tag,
                held.digest,
                held.since
            ],
        )?;
        commit(tx)?;
        Ok(deleted == 1)
    }
}

fn maturing_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Maturing> {
    Ok(Maturing {
        trigger_id: row.get(0)?,
        repository: row.get(1)?,
        tag: row.get(2)?,
        digest: row.get(3)?,
        since: row.get(4)?,
        due_at: row.get(5)?,
    })
}
