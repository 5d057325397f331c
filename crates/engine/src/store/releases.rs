//! Releases: every deploy, from the request that queued it to its result.
//!
//! A release is queued by a request ([`Store::queue_release`], or
//! [`Store::record_and_queue`] for a trigger call, which writes the call's access record and
//! its release in one transaction: what was answered 202 is on disk whole or not at all).
//! Its application's worker claims it ([`Store::claim_release`]): the claim takes *every*
//! queued release of the application, the newest becomes the one that runs and carries the
//! others' [`Work`] (a deploy anywhere in the queue deploys the newest template version; scale
//! steps add up in the order they were asked for), and the others are marked superseded with
//! `carried_by` naming it, their calls' records linked to it. Merging never drops work. The
//! release is then given its template version and diff ([`Store::plan_release`]) and finished
//! ([`Store::finish_release`]). Each step is one transaction.
//!
//! Releases that a dead process left queued or running are taken over by the next process
//! that runs workers ([`Store::adopt_orphans`]) and carried out again: applying is
//! idempotent, and a replica count is decided and written to the release's work before it is
//! sent, so a resumed scale sends the same count instead of stepping twice.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Error, Result, Store, now};
use crate::diff::ManifestDiff;
use crate::release::{Options, ResourceOutcome, ScaleRequest};
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

/// What a claimed release carries out: its own request and those of the queued releases it
/// took over, merged in request order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Work {
    /// The releases it took over (their ids, oldest first), whose calls it answers for.
    #[serde(default)]
    pub carries: Vec<i64>,
    /// Deploy the template's newest version (some request asked for a deploy).
    #[serde(default)]
    pub deploy: bool,
    /// Take over conflicting fields (some request asked to).
    #[serde(default)]
    pub force_conflicts: bool,
    /// Scale steps not yet decided, in the order they were asked for.
    #[serde(default)]
    pub scales: Vec<ScaleRequest>,
    /// Replica counts decided for workloads before they were sent: a resumed release sends
    /// these again instead of stepping from whatever it finds.
    #[serde(default)]
    pub decided: Vec<Decided>,
    /// The commit of another branch to deploy instead of the tracked reference's newest (see
    /// [`Options::branch_commit`]): the newest request that asked for a deploy decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_commit: Option<crate::release::BranchCommit>,
}

/// A replica count decided for one workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Decided {
    /// The workload's kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The count.
    pub replicas: u32,
}

impl Work {
    /// The work one request asks for.
    pub fn of(options: &Options) -> Self {
        Work {
            deploy: options.scale.is_none(),
            force_conflicts: options.force_conflicts,
            scales: options.scale.iter().cloned().collect(),
            branch_commit: options
                .branch_commit
                .clone()
                .filter(|_| options.scale.is_none()),
            ..Work::default()
        }
    }

    /// This work followed by `later`'s. A count `later` decided already holds the steps
    /// asked for before it, so those steps are dropped rather than applied twice.
    pub fn then(mut self, later: Work) -> Work {
        // What to deploy is the newest deploy request's: a redeploy after a write-back to a
        // branch of a trigger's own deploys the tracked reference again, and the reverse.
        if later.deploy {
            self.branch_commit = later.branch_commit;
        }
        self.deploy |= later.deploy;
        self.force_conflicts |= later.force_conflicts;
        self.carries.extend(later.carries);
        for decided in later.decided {
            self.scales
                .retain(|s| !(s.kind == decided.kind && s.name == decided.name));
            self.decided
                .retain(|d| !(d.kind == decided.kind && d.name == decided.name));
            self.decided.push(decided);
        }
        self.scales.extend(later.scales);
        self
    }

    /// The workloads to scale, each once, in the order they were first asked for.
    pub fn workloads(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let named = self
            .decided
            .iter()
            .map(|d| (&d.kind, &d.name))
            .chain(self.scales.iter().map(|s| (&s.kind, &s.name)));
        for (kind, name) in named {
            if !out.iter().any(|(k, n)| k == kind && n == name) {
                out.push((kind.clone(), name.clone()));
            }
        }
        out
    }

    /// The replica count for `kind/name` starting from `live`: the decided count if there is
    /// one, then every step for it in order, each within its own trigger's bounds.
    pub fn target(&self, kind: &str, name: &str, live: u32) -> u32 {
        let start = self
            .decided
            .iter()
            .find(|d| d.kind == kind && d.name == name)
            .map_or(live, |d| d.replicas);
        self.scales
            .iter()
            .filter(|s| s.kind == kind && s.name == name)
            .fold(start, |count, step| step.target(count))
    }

    /// Records `replicas` as decided for `kind/name` (its steps are now part of it).
    pub fn decide(&mut self, kind: &str, name: &str, replicas: u32) {
        self.scales.retain(|s| !(s.kind == kind && s.name == name));
        self.decided.retain(|d| !(d.kind == kind && d.name == name));
        self.decided.push(Decided {
            kind: kind.to_owned(),
            name: name.to_owned(),
            replicas,
        });
    }

    /// True when it scales something.
    pub fn scales_anything(&self) -> bool {
        !self.scales.is_empty() || !self.decided.is_empty()
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
    /// What it carries out, once claimed (its own request and the releases it took over).
    pub work: Option<Work>,
    /// For a release another one took over: the release that did its work.
    pub carried_by: Option<i64>,
    /// For an application read from Git or a chart: the revision its template version was
    /// read from (the commit, or the chart version and digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<crate::source::Revision>,
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
    /// The template version the cluster now runs, when it differs from the planned one (a
    /// scale records its replica count as a new version).
    pub version: Option<u32>,
}

const COLUMNS: &str = "r.id, a.name, r.number, r.status, r.cause, r.options, r.queued_at, \
    r.started_at, r.finished_at, r.template_version, r.message, r.reason, r.resources, r.diff, \
    r.work, r.carried_by, \
    (SELECT v.revision FROM template_versions v \
     WHERE v.template_id = a.template_id AND v.number = r.template_version)";

/// A release's columns, and the revision its template version was read from.
type Row = (Columns, Option<String>);

type Columns = (
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
    Option<String>,
    Option<i64>,
);

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((read_columns(row)?, row.get(16)?))
}

fn read_columns(row: &rusqlite::Row<'_>) -> rusqlite::Result<Columns> {
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
        row.get(14)?,
        row.get(15)?,
    ))
}

fn json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| Error::Corrupt(format!("stored release {what} is not readable: {e}")))
}

fn decode((row, revision): Row) -> Result<Release> {
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
        work,
        carried_by,
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
        work: work.map(|w| json("work", &w)).transpose()?,
        carried_by,
        // Written by this code from a `Revision`; one that does not read back is left out.
        revision: revision.and_then(|text| serde_json::from_str(&text).ok()),
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

/// Inserts a queued release for application `app_id`, numbered after its last one.
fn insert_release(
    tx: &rusqlite::Transaction<'_>,
    app_id: i64,
    cause: &Cause,
    options: &Options,
) -> Result<i64> {
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
    Ok(tx.last_insert_rowid())
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
        let id = insert_release(&tx, app_id, cause, options)?;
        super::commit(tx)?;
        self.release(id)
    }

    /// Records a trigger call and the release it asks for in one transaction: the access
    /// record, then the release, whose cause names
    /// the record, then the record's link to the release. A crash leaves both or neither.
    /// Returns the record's id and the release.
    #[allow(clippy::too_many_arguments)]
    pub fn record_and_queue(
        &mut self,
        trigger_id: i64,
        record: &super::AccessRecord,
        app: &str,
        trigger: &str,
        event: Option<serde_json::Value>,
        options: &Options,
    ) -> Result<(i64, Release)> {
        let app_id = self.app_id(app)?;
        let tx = self.write()?;
        let record_id = super::records::insert_record(&tx, Some(trigger_id), record)?;
        let cause = Cause::Trigger {
            trigger: trigger.to_owned(),
            record: Some(record_id),
            event,
        };
        let id = insert_release(&tx, app_id, &cause, options)?;
        tx.execute(
            "UPDATE access_records SET release_id = ?2 WHERE id = ?1",
            params![record_id, id],
        )?;
        super::commit(tx)?;
        Ok((record_id, self.release(id)?))
    }

    /// Claims this process's queued releases of `app`: the newest is marked running and
    /// carries the [`Work`] of all of them, merged oldest first; the others are marked
    /// superseded, `carried_by` the newest, and their calls' access records are linked to
    /// it. `None` when nothing is queued.
    pub fn claim_release(&mut self, app: &str) -> Result<Option<Release>> {
        let app_id = self.app_id(app)?;
        let owner = std::process::id();
        let tx = self.write()?;
        let queued: Vec<(i64, u32, String, Option<String>)> = {
            let mut statement = tx.prepare_cached(
                "SELECT id, number, options, work FROM releases
                 WHERE app_id = ?1 AND status = 'queued' AND owner = ?2 ORDER BY number",
            )?;
            statement
                .query_map(params![app_id, owner], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<rusqlite::Result<_>>()?
        };
        let Some(&(id, number, _, _)) = queued.last() else {
            return Ok(None);
        };
        let mut work = Work::default();
        for (other, _, options, stored) in &queued {
            let own = match stored {
                Some(text) => json::<Work>("work", text)?,
                None => Work::of(&json::<Options>("options", options)?),
            };
            if *other != id {
                work.carries.push(*other);
            }
            work = work.then(own);
        }
        let at = now();
        for (other, _, _, _) in queued.iter().filter(|(other, ..)| *other != id) {
            tx.execute(
                "UPDATE releases SET status = 'superseded', finished_at = ?3, carried_by = ?2,
                        message = 'carried out by release ' || ?4 || ', which took over its work'
                 WHERE id = ?1",
                params![other, id, at, number],
            )?;
            // Releases it had taken over before (a resumed release) now point here too.
            tx.execute(
                "UPDATE releases SET carried_by = ?2 WHERE carried_by = ?1",
                params![other, id],
            )?;
        }
        tx.execute(
            "UPDATE access_records SET release_id = ?1
             WHERE release_id IN (SELECT id FROM releases WHERE carried_by = ?1)",
            [id],
        )?;
        tx.execute(
            "UPDATE releases SET status = 'running', started_at = ?2, owner = ?3, work = ?4
             WHERE id = ?1",
            params![id, at, owner, encode(&work)?],
        )?;
        super::commit(tx)?;
        self.release(id).map(Some)
    }

    /// Stores what a running release still has to do (a replica count decided before it is
    /// sent).
    pub fn save_work(&mut self, id: i64, work: &Work) -> Result<()> {
        let tx = self.write()?;
        tx.execute(
            "UPDATE releases SET work = ?2 WHERE id = ?1 AND status = 'running'",
            params![id, encode(work)?],
        )?;
        super::commit(tx)?;
        Ok(())
    }

    /// Takes over the releases that a dead process left queued or running: they are queued
    /// again under this process (a running one with a note that it is resumed), to be
    /// claimed and carried out as if they had just been asked for. Returns the applications
    /// that have work waiting.
    pub fn adopt_orphans(&mut self) -> Result<Vec<String>> {
        let orphans: Vec<(i64, u32, String)> = {
            let mut statement = self.conn.prepare(
                "SELECT r.id, r.owner, a.name FROM releases r JOIN apps a ON a.id = r.app_id
                 WHERE r.status IN ('queued', 'running')",
            )?;
            statement
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let dead: Vec<&(i64, u32, String)> = orphans
            .iter()
            .filter(|(_, owner, _)| !process_alive(*owner))
            .collect();
        if dead.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self.write()?;
        for (id, _, _) in &dead {
            tx.execute(
                "UPDATE releases SET status = 'queued', started_at = NULL, owner = ?2,
                        message = CASE status WHEN 'running'
                            THEN 'resumed: Tripline stopped during this deploy and carries it out again'
                            ELSE 'resumed: Tripline stopped before this deploy started' END
                 WHERE id = ?1 AND status IN ('queued', 'running')",
                params![id, std::process::id()],
            )?;
        }
        super::commit(tx)?;
        let mut apps: Vec<String> = dead.iter().map(|(_, _, app)| app.clone()).collect();
        apps.sort();
        apps.dedup();
        Ok(apps)
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
                    resources = ?6, applied = ?7,
                    template_version = coalesce(?8, template_version)
             WHERE id = ?1",
            params![
                id,
                finish.status.as_str(),
                now(),
                finish.message,
                finish.reason,
                encode(&finish.resources)?,
                encode(&finish.applied)?,
                finish.version
            ],
        )?;
        super::commit(tx)?;
        self.release(id)
    }

    /// How many releases, of every application, are in `status`.
    pub fn release_count(&self, status: ReleaseStatus) -> Result<u64> {
        let count: i64 = self.conn.query_row(
            "SELECT count(*) FROM releases WHERE status = ?1",
            [status.as_str()],
            |r| r.get(0),
        )?;
        Ok(count.max(0) as u64)
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

    /// Puts a running release back in the queue (its process is stopping): the next process
    /// that resumes work carries it out.
    pub fn requeue_release(&mut self, id: i64) -> Result<()> {
        let tx = self.write()?;
        tx.execute(
            "UPDATE releases SET status = 'queued', started_at = NULL,
                    message = 'Tripline stopped during this deploy; it is carried out again when Tripline starts'
             WHERE id = ?1 AND status = 'running'",
            [id],
        )?;
        super::commit(tx)?;
        Ok(())
    }
}
