//! Schema migrations, versioned in code.
//!
//! `PRAGMA user_version` holds the schema version. [`MIGRATIONS`]`[i]` upgrades version `i`
//! to `i + 1`, each in its own transaction. A database newer than [`MIGRATIONS`] knows is
//! refused rather than guessed at.

use std::path::Path;

use rusqlite::Connection;

use super::{Error, Result};

/// Each entry upgrades the schema by one version. Append only; never edit a released entry.
const MIGRATIONS: &[&str] = &[
    // 1: templates, immutable versions (metadata apart from content, so listing stays fast),
    // applications.
    r#"
    CREATE TABLE templates (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL
    ) STRICT;

    CREATE TABLE template_versions (
        template_id INTEGER NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
        number      INTEGER NOT NULL CHECK (number >= 1),
        hash        TEXT NOT NULL,
        size        INTEGER NOT NULL,
        resources   INTEGER NOT NULL,
        origin      TEXT NOT NULL CHECK (origin IN
                        ('edit', 'patch', 'image-update', 'scale', 'rollback', 'import')),
        message     TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        based_on    INTEGER,
        patch       TEXT,
        PRIMARY KEY (template_id, number)
    ) STRICT;

    CREATE TABLE template_contents (
        template_id INTEGER NOT NULL,
        number      INTEGER NOT NULL,
        content     TEXT NOT NULL,
        PRIMARY KEY (template_id, number),
        FOREIGN KEY (template_id, number)
            REFERENCES template_versions(template_id, number) ON DELETE CASCADE
    ) STRICT;

    CREATE TRIGGER template_versions_immutable BEFORE UPDATE ON template_versions
    BEGIN SELECT RAISE(ABORT, 'template versions are immutable'); END;

    CREATE TRIGGER template_contents_immutable BEFORE UPDATE ON template_contents
    BEGIN SELECT RAISE(ABORT, 'template versions are immutable'); END;

    CREATE TABLE apps (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        cluster     TEXT NOT NULL,
        namespace   TEXT NOT NULL,
        source      TEXT NOT NULL,
        template_id INTEGER REFERENCES templates(id) ON DELETE RESTRICT,
        created_at  TEXT NOT NULL
    ) STRICT;

    CREATE INDEX apps_template ON apps(template_id);
    "#,
    // 2: releases (every deploy), and the per-application prune switch.
    r#"
    ALTER TABLE apps ADD COLUMN prune INTEGER NOT NULL DEFAULT 0;

    CREATE TABLE releases (
        id               INTEGER PRIMARY KEY,
        app_id           INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        number           INTEGER NOT NULL,
        status           TEXT NOT NULL CHECK (status IN
                             ('queued', 'running', 'succeeded', 'failed', 'superseded')),
        cause            TEXT NOT NULL,
        options          TEXT NOT NULL,
        owner            INTEGER NOT NULL,
        queued_at        TEXT NOT NULL,
        started_at       TEXT,
        finished_at      TEXT,
        template_version INTEGER,
        message          TEXT NOT NULL DEFAULT '',
        reason           TEXT,
        resources        TEXT NOT NULL DEFAULT '[]',
        applied          TEXT NOT NULL DEFAULT '[]',
        diff             TEXT,
        UNIQUE (app_id, number)
    ) STRICT;

    CREATE INDEX releases_by_status ON releases(app_id, status);
    "#,
    // 3: triggers and their access records.
    r#"
    CREATE TABLE triggers (
        id          INTEGER PRIMARY KEY,
        app_id      INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        name        TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL,
        enabled     INTEGER NOT NULL DEFAULT 1,
        signed      INTEGER NOT NULL DEFAULT 0,
        token_hash  TEXT NOT NULL UNIQUE,
        token_hint  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        rotated_at  TEXT
    ) STRICT;

    CREATE TABLE access_records (
        id             INTEGER PRIMARY KEY,
        trigger_id     INTEGER REFERENCES triggers(id) ON DELETE CASCADE,
        at             TEXT NOT NULL,
        source         TEXT NOT NULL,
        method         TEXT NOT NULL,
        path           TEXT NOT NULL,
        headers        TEXT NOT NULL,
        body           TEXT NOT NULL,
        body_truncated INTEGER NOT NULL,
        event          TEXT,
        decision       TEXT NOT NULL,
        reason         TEXT NOT NULL,
        status         INTEGER NOT NULL,
        response       TEXT NOT NULL,
        release_id     INTEGER REFERENCES releases(id) ON DELETE SET NULL
    ) STRICT;

    CREATE INDEX access_records_by_trigger ON access_records(trigger_id, id);
    CREATE INDEX access_records_by_decision ON access_records(decision, id);
    "#,
    // 4: applications can be put on hold (triggers answer 409 and do nothing).
    r#"
    ALTER TABLE apps ADD COLUMN hold TEXT;
    "#,
    // 5: identical calls in a row fold into one access record (a flood keeps the history
    // it would otherwise evict); a generation number that moves whenever a trigger or an
    // application changes, so the listener's in-memory token index knows when to reload,
    // whichever process made the change.
    r#"
    ALTER TABLE access_records ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1 CHECK (repeats >= 1);
    ALTER TABLE access_records ADD COLUMN last_at TEXT;

    CREATE TABLE trigger_generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        n  INTEGER NOT NULL
    ) STRICT;
    INSERT INTO trigger_generation (id, n) VALUES (1, 0);

    CREATE TRIGGER triggers_inserted AFTER INSERT ON triggers
        BEGIN UPDATE trigger_generation SET n = n + 1; END;
    CREATE TRIGGER triggers_updated AFTER UPDATE ON triggers
        BEGIN UPDATE trigger_generation SET n = n + 1; END;
    CREATE TRIGGER triggers_deleted AFTER DELETE ON triggers
        BEGIN UPDATE trigger_generation SET n = n + 1; END;
    CREATE TRIGGER apps_inserted AFTER INSERT ON apps
        BEGIN UPDATE trigger_generation SET n = n + 1; END;
    CREATE TRIGGER apps_updated AFTER UPDATE ON apps
        BEGIN UPDATE trigger_generation SET n = n + 1; END;
    CREATE TRIGGER apps_deleted AFTER DELETE ON apps
        BEGIN UPDATE trigger_generation SET n = n + 1; END;
    "#,
    // 6: the deploy queue merges work instead of dropping it. `work` is what a claimed release
    // carries out (its own request and those of the queued releases it took over, and replica
    // counts decided before a scale was sent, so a resumed release never scales twice);
    // `carried_by` points a taken-over release at the release that did its work.
    r#"
    ALTER TABLE releases ADD COLUMN work TEXT;
    ALTER TABLE releases ADD COLUMN carried_by INTEGER REFERENCES releases(id) ON DELETE SET NULL;
    "#,
    // 7: indexes for the queue's lookups, which otherwise read whole tables on every claim
    // (found by profiling the listener's fuzz target, which slowed down as its history
    // grew): the releases a release carries, the calls a release carries out (only calls
    // that started a release are indexed: most records are refusals), and an application's
    // releases of one status in number order (the last success, the queue).
    r#"
    CREATE INDEX releases_by_carrier ON releases(carried_by) WHERE carried_by IS NOT NULL;
    CREATE INDEX access_records_by_release ON access_records(release_id)
        WHERE release_id IS NOT NULL;
    DROP INDEX releases_by_status;
    CREATE INDEX releases_by_status ON releases(app_id, status, number);
    "#,
    // 8: the base URL a trigger was created with (`trigger create --public-url`), so its URL
    // is shown again on the same base.
    r#"
    ALTER TABLE triggers ADD COLUMN public_url TEXT;
    "#,
    // 9: the Kubernetes version a template's versions are checked against (NULL: the
    // newest Tripline knows).
    r#"
    ALTER TABLE templates ADD COLUMN kubernetes_version TEXT;
    "#,
    // 10: the source revision (a Git commit, a chart version and digest) a version was
    // rendered from, as JSON; NULL for versions written in Tripline.
    r#"
    ALTER TABLE template_versions ADD COLUMN revision TEXT;
    "#,
    // 11: a Helm application's values, versioned like templates (immutable, numbered, checked
    // against their hash), and the values version a template version was rendered with.
    r#"
    CREATE TABLE source_values (
        app_id     INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        number     INTEGER NOT NULL,
        hash       TEXT NOT NULL,
        content    TEXT NOT NULL,
        origin     TEXT NOT NULL,
        message    TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (app_id, number)
    ) STRICT;

    CREATE TRIGGER source_values_immutable BEFORE UPDATE ON source_values
    BEGIN SELECT RAISE(ABORT, 'values versions are immutable'); END;

    ALTER TABLE template_versions ADD COLUMN values_number INTEGER;
    "#,
    // 12: what each registry host last said about its rate limit, and its last failure, so
    // that another process (`tripline registry status`) sees the budget the app is using.
    r#"
    CREATE TABLE registry_hosts (
        host           TEXT PRIMARY KEY,
        rate_limit     INTEGER,
        remaining      INTEGER,
        window_seconds INTEGER,
        retry_at       TEXT,
        seen_at        TEXT,
        last_error     TEXT,
        error_at       TEXT,
        updated_at     TEXT NOT NULL
    ) STRICT;
    "#,
    // 13: what watching image triggers last saw of each repository (the tag list's ETag, the
    // tags, the tag acted on and its digest, when that changed, the last look's error), and
    // the pushes that wait to mature (one per trigger and repository: a newer push takes the
    // place of an older one).
    r#"
    CREATE TABLE watches (
        trigger_id INTEGER NOT NULL REFERENCES triggers(id) ON DELETE CASCADE,
        repository TEXT NOT NULL,
        etag       TEXT,
        tags       TEXT NOT NULL,
        tag        TEXT,
        digest     TEXT,
        checked_at TEXT NOT NULL,
        error      TEXT,
        PRIMARY KEY (trigger_id, repository)
    ) STRICT;

    CREATE TABLE maturing (
        trigger_id INTEGER NOT NULL REFERENCES triggers(id) ON DELETE CASCADE,
        repository TEXT NOT NULL,
        tag        TEXT NOT NULL,
        digest     TEXT NOT NULL,
        since      TEXT NOT NULL,
        due_at     TEXT NOT NULL,
        PRIMARY KEY (trigger_id, repository)
    ) STRICT;
    "#,
];

/// The schema version this build writes.
pub const LATEST: u32 = MIGRATIONS.len() as u32;

/// The database's schema version.
pub fn current_version(conn: &Connection) -> Result<u32> {
    Ok(conn.query_row("PRAGMA user_version", [], |row| row.get(0))?)
}

/// Brings the schema up to [`LATEST`].
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let found = current_version(conn)?;
    if found > LATEST {
        return Err(Error::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: LATEST,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(super::busy)?;
        // Another process may have migrated while we waited for the lock.
        if current_version(&tx)? > index as u32 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as u32 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
