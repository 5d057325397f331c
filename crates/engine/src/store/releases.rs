//! Releases: every deploy, from the request that queued it to its result.
//!
//! A release is queued by a request ([`Store::queue_release`]), claimed by its application's
//! worker ([`Store::claim_release`], which also marks older queued requests as superseded:
//! the newest wins, and every request stays on record), given its template version and diff
//! ([`Store::plan_release`]) and finished ([`Store::finish_release`]). Each step is one
//! transaction. A release left running or queued by a process that has died is marked failed
//! as interrupted ([`Store::interrupt_orphans`]).

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Error, Result, Store, now};
use crate::deploy::{Options, ResourceOutcome};
use crate::diff::ManifestDiff;
use crate::template::ResourceId;

/// What caused a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Cause {
    /// A person, through the CLI or the app.
    User {
        /// Where: `cli`, `desktop`.
        via: String,
    },
    /// A rollback to an older template version.
    Rollback {
        /// The version rolled back to.
        to: u32,
        /// Where: `cli`, `desktop`.
        via: String,
    },
    /// A trigger call.
    Trigger {
        /// The trigger's name.
        trigger: String,
        /// The access record of the call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<i64>,
        /// What the call carried: the registry push (owner, image, repository, namespace,
        /// tag, digest, registry), the scale request, or the patch's targets.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<serde_json::Value>,
    },
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::User { via } => write!(f, "deploy ({via})"),
            Cause::Rollback { to, via } => write!(f, "rollback to version {to} ({via})"),
            Cause::Trigger { trigger, .. } => write!(f, "trigger {trigger}"),
        }
    }
}

/// Where a release stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseStatus {
    /// Waiting for the application's worker.
    Queued,
    /// Being applied or rolled out.
    Running,
    /// Applied and rolled out.
    Succeeded,
    /// Failed (see the message and reason).
    Failed,
    /// A newer request for the same application replaced it before it started.
    Superseded,
}

impl ReleaseStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Queued => "queued",
            ReleaseStatus::Running => "running",
            ReleaseStatus::Succeeded => "succeeded",
            ReleaseStatus::Failed => "failed",
            ReleaseStatus::Superseded => "superseded",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "queued" => ReleaseStatus::Queued,
            "running" => ReleaseStatus::Running,
            "succeeded" => ReleaseStatus::Succeeded,
            "failed" => ReleaseStatus::Failed,
            "superseded" => ReleaseStatus::Superseded,
            other => return Err(Error::Corrupt(format!("unknown release status {other:?}"))),
        })
    }

    /// True once the release will not change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ReleaseStatus::Succeeded | ReleaseStatus::Failed | ReleaseStatus::Superseded
        )
    }
}

/// A release.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// Unique id.
    pub id: i64,
    /// The application.
    pub app: String,
    /// 1, 2, 3, … per application.
    pub number: u32,
    /// Where it stands.
    pub status: ReleaseStatus,
    /// What caused it.
    pub cause: Cause,
    /// How it deploys.
    pub options: Options,
    /// When it was requested.
    pub queued_at: String,
    /// When its deploy started.
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// The template version it deploys (set when it starts).
    pub template_version: Option<u32>,
    /// The outcome in words.
    pub message: String,
    /// Kubernetes' status reason (or ours) on failure.
    pub reason: Option<String>,
    /// Per-object outcomes.
    pub resources: Vec<ResourceOutcome>,
    /// What changed since the last successful release.
    pub diff: Option<ManifestDiff>,
}

/// How a release ended.
#[derive(Debug, Clone)]
pub struct Finish<'a> {
    /// Succeeded or failed.
    pub status: ReleaseStatus,
    /// The outcome in words.
    pub message: &'a str,
    /// The status reason on failure.
    pub reason: Option<&'a str>,
    /// Per-object outcomes.
    pub resources: &'a [ResourceOutcome],
    /// The objects now applied (what a later prune compares against).
    pub applied: &'a [ResourceId],
}

const COLUMNS: &str = "r.id, a.name, r.number, r.status, r.cause, r.options, r.queued_at, \
    r.started_at, r.finished_at, r.template_version, r.message, r.reason, r.resources, r.diff";

type Row = (
    i64,
    String,
    u32,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<u32>,
    String,
    Option<String>,
    String,
    Option<String>,
);

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
        row.get(11)?,
        row.get(12)?,
        row.get(13)?,
    ))
}

fn json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| Error::Corrupt(format!("stored release {what} is not readable: {e}")))
}

fn decode(row: Row) -> Result<Release> {
    let (
        id,
        app,
        number,
        status,
        cause,
        options,
        queued_at,
        started_at,
        finished_at,
        template_version,
        message,
        reason,
        resources,
        diff,
    ) = row;
    Ok(Release {
        id,
        app,
        number,
        status: ReleaseStatus::parse(&status)?,
        cause: json("cause", &cause)?,
        options: json("options", &options)?,
        queued_at,
        started_at,
        finished_at,
        template_version,
        message,
        reason,
        resources: json("resources", &resources)?,
        diff: diff.map(|d| json("diff", &d)).transpose()?,
    })
}

fn encode<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Invalid(e.to_string()))
}

fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl Store {
    fn app_id(&self, app: &str) -> Result<i64> {
        self.conn
            .query_row("SELECT id FROM apps WHERE name = ?1", [app], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::AppNotFound(app.to_owned()))
    }

    /// Records a deploy request for `app`.
    pub fn queue_release(
        &mut self,
        app: &str,
        cause: &Cause,
        options: &Options,
    ) -> Result<Release> {
        let app_id = self.app_id(app)?;
        let tx = self.write()?;
        let number: u32 = tx.query_row(
            "SELECT coalesce(max(number), 0) + 1 FROM releases WHERE app_id = ?1",
            [app_id],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO releases (app_id, number, status, cause, options, owner, queued_at)
             VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6)",
            params![
                app_id,
                number,
                encode(cause)?,
                encode(options)?,
                std::process::id(),
                now()
            ],
        )?;
        let id = tx.last_insert_rowid();
        super::commit(tx)?;
        self.release(id)
    }

    /// Takes the newest queued release of `app` and marks it running; older queued ones are
    /// superseded by it. `None` when nothing is queued.
    pub fn claim_release(&mut self, app: &str) -> Result<Option<Release>> {
        let app_id = self.app_id(app)?;
        let tx = self.write()?;
        let newest: Option<(i64, u32)> = tx
            .query_row(
                "SELECT id, number FROM releases WHERE app_id = ?1 AND status = 'queued'
                 ORDER BY number DESC LIMIT 1",
                [app_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((id, number)) = newest else {
            return Ok(None);
        };
        let at = now();
        tx.execute(
            "UPDATE releases SET status = 'superseded', finished_at = ?3,
                    message = 'superseded by release ' || ?2 || ', which was requested later'
             WHERE app_id = ?1 AND status = 'queued' AND id != ?4",
            params![app_id, number, at, id],
        )?;
        tx.execute(
            "UPDATE releases SET status = 'running', started_at = ?2, owner = ?3 WHERE id = ?1",
            params![id, at, std::process::id()],
        )?;
        super::commit(tx)?;
        self.release(id).map(Some)
    }

    /// Records which template version a running release deploys and what it changes.
    pub fn plan_release(
        &mut self,
        id: i64,
        template_version: u32,
        diff: Option<&ManifestDiff>,
    ) -> Result<()> {
        let diff = diff.map(encode).transpose()?;
        let tx = self.write()?;
        tx.execute(
            "UPDATE releases SET template_version = ?2, diff = ?3 WHERE id = ?1 AND status = 'running'",
            params![id, template_version, diff],
        )?;
        super::commit(tx)?;
        Ok(())
    }

    /// Ends a running release.
    pub fn finish_release(&mut self, id: i64, finish: &Finish<'_>) -> Result<Release> {
        let tx = self.write()?;
        tx.execute(
            "UPDATE releases SET status = ?2, finished_at = ?3, message = ?4, reason = ?5,
                    resources = ?6, applied = ?7
             WHERE id = ?1",
            params![
                id,
                finish.status.as_str(),
                now(),
                finish.message,
                finish.reason,
                encode(&finish.resources)?,
                encode(&finish.applied)?
            ],
        )?;
        super::commit(tx)?;
        self.release(id)
    }

    /// One release.
    pub fn release(&self, id: i64) -> Result<Release> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM releases r JOIN apps a ON a.id = r.app_id WHERE r.id = ?1"),
                [id],
                read_row,
            )
            .optional()?;
        match row {
            Some(row) => decode(row),
            None => Err(Error::Invalid(format!("there is no release with id {id}"))),
        }
    }

    /// The releases of `app`, newest first.
    pub fn releases(&self, app: &str, limit: usize) -> Result<Vec<Release>> {
        let app_id = self.app_id(app)?;
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM releases r JOIN apps a ON a.id = r.app_id
             WHERE r.app_id = ?1 ORDER BY r.number DESC LIMIT ?2"
        ))?;
        let rows = statement.query_map(params![app_id, limit as i64], read_row)?;
        rows.map(|row| decode(row?)).collect()
    }

    /// The template version and applied objects of the last successful release of `app`.
    pub fn last_success(&self, app: &str) -> Result<Option<(u32, Vec<ResourceId>)>> {
        let app_id = self.app_id(app)?;
        let row: Option<(Option<u32>, String)> = self
            .conn
            .query_row(
                "SELECT template_version, applied FROM releases
                 WHERE app_id = ?1 AND status = 'succeeded' ORDER BY number DESC LIMIT 1",
                [app_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((Some(version), applied)) => {
                Ok(Some((version, json("applied objects", &applied)?)))
            }
            _ => Ok(None),
        }
    }

    /// Marks releases that a dead process left queued or running as failed.
    pub fn interrupt_orphans(&mut self) -> Result<usize> {
        let orphans: Vec<(i64, u32)> = {
            let mut statement = self
                .conn
                .prepare("SELECT id, owner FROM releases WHERE status IN ('queued', 'running')")?;
            statement
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let dead: Vec<i64> = orphans
            .into_iter()
            .filter(|(_, owner)| !process_alive(*owner))
            .map(|(id, _)| id)
            .collect();
        if dead.is_empty() {
            return Ok(0);
        }
        let tx = self.write()?;
        for id in &dead {
            tx.execute(
                "UPDATE releases SET status = 'failed', reason = 'Interrupted', finished_at = ?2,
                        message = 'Tripline stopped before this deploy finished; deploy again to be sure of the cluster state'
                 WHERE id = ?1 AND status IN ('queued', 'running')",
                params![id, now()],
            )?;
        }
        super::commit(tx)?;
        Ok(dead.len())
    }
}
