//! Templates and their immutable, numbered versions.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tripline_validation as validation;

use super::{Error, Result, Store, busy, now};
use crate::patch::{self, Patch};
use crate::source::{Rendered, Revision};
use crate::template::{self, Manifest, ResourceId, content_hash};

/// Why a version exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Saved by a person.
    Edit,
    /// Made by a patch (a trigger body or `tripline template patch`).
    Patch,
    /// Made by an image trigger.
    ImageUpdate,
    /// Made by a scale trigger, so the next deploy keeps the replica count.
    Scale,
    /// A copy of an older version.
    Rollback,
    /// The first version, read from a file.
    Import,
}

impl Origin {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Edit => "edit",
            Origin::Patch => "patch",
            Origin::ImageUpdate => "image-update",
            Origin::Scale => "scale",
            Origin::Rollback => "rollback",
            Origin::Import => "import",
        }
    }

    pub(super) fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "edit" => Origin::Edit,
            "patch" => Origin::Patch,
            "image-update" => Origin::ImageUpdate,
            "scale" => Origin::Scale,
            "rollback" => Origin::Rollback,
            "import" => Origin::Import,
            other => return Err(Error::Corrupt(format!("unknown version origin {other:?}"))),
        })
    }
}

/// A version without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct VersionSummary {
    /// The template's name.
    pub template: String,
    /// 1, 2, 3, …
    pub number: u32,
    /// Hex SHA-256 of the content.
    pub hash: String,
    /// Content size in bytes.
    pub size: i64,
    /// How many objects the content holds.
    pub resources: u32,
    /// Why it exists.
    pub origin: Origin,
    /// What changed, in words.
    pub message: String,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// For a rollback, the version it copies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub based_on: Option<u32>,
    /// For a version read from an application's Git repository or chart: the revision it was
    /// rendered from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<Revision>,
    /// For a version rendered from a Helm application's chart: the values version it was
    /// rendered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<u32>,
}

/// A version with its content.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Version {
    /// Everything but the content.
    #[serde(flatten)]
    pub summary: VersionSummary,
    /// The multi-document YAML.
    pub content: String,
    /// For a patch version, the patch that made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<Value>,
}

/// A template in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TemplateSummary {
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: String,
    /// The newest version.
    pub latest: VersionSummary,
    /// Applications that use it.
    pub apps: Vec<String>,
}

/// What a save did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum SaveOutcome {
    /// A new version was made.
    Created {
        /// The new version.
        version: VersionSummary,
        /// The objects that changed (for patches).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        changed: Vec<ResourceId>,
    },
    /// The content equals the latest version's; nothing was written.
    Unchanged {
        /// The latest version, which already has this content.
        version: VersionSummary,
    },
}

impl SaveOutcome {
    /// The new version, or the latest one when nothing changed.
    pub fn version(&self) -> &VersionSummary {
        match self {
            SaveOutcome::Created { version, .. } | SaveOutcome::Unchanged { version } => version,
        }
    }
}

/// A new version to insert.
struct NewVersion<'a> {
    manifest: &'a Manifest,
    origin: Origin,
    message: String,
    based_on: Option<u32>,
    patch: Option<&'a Value>,
    revision: Option<&'a Revision>,
    values: Option<u32>,
}

const SUMMARY_COLUMNS: &str = "v.number, v.hash, v.size, v.resources, v.origin, v.message, v.created_at, v.based_on, \
     v.revision, v.values_number";

fn summary_from_row(
    template: &str,
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(VersionSummary, String)> {
    let origin: String = row.get(4)?;
    Ok((
        VersionSummary {
            template: template.to_owned(),
            number: row.get(0)?,
            hash: row.get(1)?,
            size: row.get(2)?,
            resources: row.get(3)?,
            origin: Origin::Edit,
            message: row.get(5)?,
            created_at: row.get(6)?,
            based_on: row.get(7)?,
            // Written by this code from a `Revision`; a value that does not read back is
            // shown as no revision rather than failing the whole listing.
            revision: row
                .get::<_, Option<String>>(8)?
                .and_then(|text| serde_json::from_str(&text).ok()),
            values: row.get(9)?,
        },
        origin,
    ))
}

fn with_origin((mut summary, origin): (VersionSummary, String)) -> Result<VersionSummary> {
    summary.origin = Origin::parse(&origin)?;
    Ok(summary)
}

/// Template names follow the DNS label rules, like application names.
fn check_template_name(name: &str) -> Result<()> {
    template::check_dns_label(name, "template name").map_err(Error::Invalid)
}

/// The version of [`validation::VERSIONS`] that `text` names, or an error listing them.
fn target_version(text: &str) -> Result<&'static str> {
    validation::supported_version(text).ok_or_else(|| {
        Error::Invalid(format!(
            "Kubernetes {text:?} is not a version templates can target; use one of {}",
            validation::VERSIONS
                .iter()
                .map(|v| v.trim_end_matches(".0"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

impl Store {
    /// Creates a template whose first version is `content`.
    pub fn create_template(
        &mut self,
        name: &str,
        content: &str,
        message: &str,
    ) -> Result<VersionSummary> {
        self.create_template_for(name, content, message, None)
    }

    /// [`Store::create_template`] for a template that targets Kubernetes `version` (`None`:
    /// the newest Tripline knows); its versions are checked against that version's schema.
    pub fn create_template_for(
        &mut self,
        name: &str,
        content: &str,
        message: &str,
        version: Option<&str>,
    ) -> Result<VersionSummary> {
        check_template_name(name)?;
        let version = version.map(target_version).transpose()?;
        let manifest = Manifest::parse(content)?;
        let tx = self.write()?;
        let (_, version) = insert_template(
            &tx,
            name,
            version,
            NewVersion {
                manifest: &manifest,
                origin: Origin::Import,
                message: default_message(message, "created"),
                based_on: None,
                patch: None,
                revision: None,
                values: None,
            },
        )?;
        super::commit(tx)?;
        Ok(version)
    }

    /// The Kubernetes version `name`'s versions are checked against: the one it was set to,
    /// or the newest Tripline knows.
    pub fn template_kubernetes_version(&self, name: &str) -> Result<&'static str> {
        let id = template_id(&self.conn, name)?;
        let set: Option<String> = self.conn.query_row(
            "SELECT kubernetes_version FROM templates WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        Ok(set
            .as_deref()
            .and_then(validation::supported_version)
            .unwrap_or(validation::KUBERNETES_VERSION))
    }

    /// Sets the Kubernetes version `name` targets (`None`: the newest Tripline knows). The
    /// latest version must pass against it, or nothing changes: a template does not target a
    /// cluster its own latest version would be refused by.
    pub fn set_template_kubernetes_version(
        &mut self,
        name: &str,
        version: Option<&str>,
    ) -> Result<&'static str> {
        let version = match version {
            Some(text) => target_version(text)?,
            None => validation::KUBERNETES_VERSION,
        };
        let tx = self.write()?;
        let (id, latest) = latest_summary(&tx, name)?;
        let content = read_content(&tx, id, &latest)?;
        Manifest::parse(&content)?.check_for_save_for(version)?;
        tx.execute(
            "UPDATE templates SET kubernetes_version = ?2 WHERE id = ?1",
            params![id, version],
        )?;
        super::commit(tx)?;
        Ok(version)
    }

    /// Saves `content` as the next version of `name`, unless it equals the latest version.
    pub fn save_version(
        &mut self,
        name: &str,
        content: &str,
        origin: Origin,
        message: &str,
    ) -> Result<SaveOutcome> {
        let manifest = Manifest::parse(content)?;
        let tx = self.write()?;
        let (id, latest) = latest_summary(&tx, name)?;
        if latest.hash == manifest.hash() {
            return Ok(SaveOutcome::Unchanged { version: latest });
        }
        let version = insert_version(
            &tx,
            id,
            name,
            latest.number + 1,
            NewVersion {
                manifest: &manifest,
                origin,
                message: default_message(message, "edited"),
                based_on: None,
                patch: None,
                revision: None,
                values: None,
            },
        )?;
        super::commit(tx)?;
        Ok(SaveOutcome::Created {
            version,
            changed: Vec::new(),
        })
    }

    /// Saves what an application's source rendered as the next version of its template
    /// (origin `import`, with the revision), unless the manifests equal the latest version's.
    pub fn save_source_version(
        &mut self,
        name: &str,
        rendered: &Rendered,
        message: &str,
    ) -> Result<SaveOutcome> {
        self.save_rendered(name, rendered, None, message)
    }

    /// Saves what a Helm application's chart rendered with values version `values` as the
    /// next version of its template, as [`Self::save_source_version`] does.
    pub fn save_helm_version(
        &mut self,
        name: &str,
        rendered: &Rendered,
        values: u32,
        message: &str,
    ) -> Result<SaveOutcome> {
        self.save_rendered(name, rendered, Some(values), message)
    }

    fn save_rendered(
        &mut self,
        name: &str,
        rendered: &Rendered,
        values: Option<u32>,
        message: &str,
    ) -> Result<SaveOutcome> {
        let manifest = Manifest::parse(&rendered.manifests)?;
        let tx = self.write()?;
        let (id, latest) = latest_summary(&tx, name)?;
        if latest.hash == manifest.hash() {
            return Ok(SaveOutcome::Unchanged { version: latest });
        }
        let version = insert_version(
            &tx,
            id,
            name,
            latest.number + 1,
            NewVersion {
                manifest: &manifest,
                origin: Origin::Import,
                message: default_message(message, &read_message(rendered, values)),
                based_on: None,
                patch: None,
                revision: Some(&rendered.revision),
                values,
            },
        )?;
        super::commit(tx)?;
        Ok(SaveOutcome::Created {
            version,
            changed: Vec::new(),
        })
    }

    /// Creates the template a Git or Helm application keeps its rendered manifests in, with
    /// `rendered` (with values version `values`, for Helm) as its first version, inside the
    /// caller's transaction.
    pub(super) fn insert_source_template(
        tx: &Transaction<'_>,
        name: &str,
        rendered: &Rendered,
        values: Option<u32>,
    ) -> Result<i64> {
        check_template_name(name)?;
        let manifest = Manifest::parse(&rendered.manifests)?;
        let (id, _) = insert_template(
            tx,
            name,
            None,
            NewVersion {
                manifest: &manifest,
                origin: Origin::Import,
                message: read_message(rendered, values),
                based_on: None,
                patch: None,
                revision: Some(&rendered.revision),
                values,
            },
        )?;
        Ok(id)
    }

    /// Applies `patch` to the latest version of `name` and saves the result as the next
    /// version. A patch that changes nothing makes no version; one that fails changes nothing.
    pub fn patch_template(
        &mut self,
        name: &str,
        patch: &Patch,
        origin: Origin,
        message: &str,
    ) -> Result<SaveOutcome> {
        self.modify_template(name, origin, message, Some(patch.raw()), |manifest| {
            let applied = patch::apply(manifest, patch)?;
            Ok((applied.manifest, applied.changed))
        })
    }

    /// Reads the latest version of `name`, lets `change` make a new manifest from it, and saves
    /// that as the next version — all under the write lock, so no other writer can slip a
    /// version in between. `change` returns the objects it changed; none means no version.
    /// The default message names them.
    pub fn modify_template<F>(
        &mut self,
        name: &str,
        origin: Origin,
        message: &str,
        patch_record: Option<&Value>,
        change: F,
    ) -> Result<SaveOutcome>
    where
        F: FnOnce(Manifest) -> Result<(Manifest, Vec<ResourceId>)>,
    {
        let tx = self.write()?;
        let (id, latest) = latest_summary(&tx, name)?;
        let content = read_content(&tx, id, &latest)?;
        let manifest = Manifest::parse_recent(&content)?;
        let (manifest, changed) = change(manifest)?;
        if changed.is_empty() || manifest.hash() == latest.hash {
            return Ok(SaveOutcome::Unchanged { version: latest });
        }
        let default = format!(
            "{} {}",
            if origin == Origin::Patch {
                "patched"
            } else {
                "changed"
            },
            changed
                .iter()
                .map(|id| format!("{}/{}", id.kind, id.name))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let version = insert_version(
            &tx,
            id,
            name,
            latest.number + 1,
            NewVersion {
                manifest: &manifest,
                origin,
                message: default_message(message, &default),
                based_on: None,
                patch: patch_record,
                revision: None,
                values: None,
            },
        )?;
        super::commit(tx)?;
        Ok(SaveOutcome::Created { version, changed })
    }

    /// Makes a new version whose content equals version `to`.
    pub fn rollback(&mut self, name: &str, to: u32, message: &str) -> Result<SaveOutcome> {
        let tx = self.write()?;
        let (id, latest) = latest_summary(&tx, name)?;
        let target = version_summary(&tx, id, name, to, latest.number)?;
        if target.hash == latest.hash {
            return Ok(SaveOutcome::Unchanged { version: latest });
        }
        let content = read_content(&tx, id, &target)?;
        let manifest = Manifest::parse_recent(&content)?;
        let version = insert_version(
            &tx,
            id,
            name,
            latest.number + 1,
            NewVersion {
                manifest: &manifest,
                origin: Origin::Rollback,
                message: default_message(message, &format!("rolled back to version {to}")),
                based_on: Some(to),
                patch: None,
                revision: None,
                values: None,
            },
        )?;
        super::commit(tx)?;
        Ok(SaveOutcome::Created {
            version,
            changed: Vec::new(),
        })
    }

    /// All templates with their latest version, by name.
    pub fn templates(&self) -> Result<Vec<TemplateSummary>> {
        // The version summary comes first so `summary_from_row` reads it as everywhere else.
        let mut statement = self.conn.prepare(&format!(
            "SELECT {SUMMARY_COLUMNS}, t.name, t.created_at,
                    (SELECT group_concat(a.name, char(10)) FROM apps a WHERE a.template_id = t.id)
             FROM templates t
             JOIN template_versions v ON v.template_id = t.id
             WHERE v.number = (SELECT max(number) FROM template_versions WHERE template_id = t.id)
             ORDER BY t.name"
        ))?;
        let rows = statement.query_map([], |row| {
            let name: String = row.get(10)?;
            let latest = summary_from_row(&name, row)?;
            let created_at: String = row.get(11)?;
            let apps: Option<String> = row.get(12)?;
            Ok((name, created_at, latest, apps))
        })?;
        let mut templates = Vec::new();
        for row in rows {
            let (name, created_at, latest, apps) = row?;
            let mut apps: Vec<String> = apps
                .map(|a| a.split('\n').map(str::to_owned).collect())
                .unwrap_or_default();
            apps.sort();
            templates.push(TemplateSummary {
                name,
                created_at,
                latest: with_origin(latest)?,
                apps,
            });
        }
        Ok(templates)
    }

    /// The versions of `name`, oldest first, without content.
    pub fn versions(&self, name: &str) -> Result<Vec<VersionSummary>> {
        let id = template_id(&self.conn, name)?;
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM template_versions v WHERE v.template_id = ?1 ORDER BY v.number"
        ))?;
        let rows = statement.query_map([id], |row| summary_from_row(name, row))?;
        rows.map(|row| with_origin(row?)).collect()
    }

    /// One version with its content; `None` means the latest.
    pub fn version(&self, name: &str, number: Option<u32>) -> Result<Version> {
        let id = template_id(&self.conn, name)?;
        let latest = latest_number(&self.conn, id)?;
        let summary = version_summary(&self.conn, id, name, number.unwrap_or(latest), latest)?;
        let content = read_content(&self.conn, id, &summary)?;
        let patch: Option<String> = self.conn.query_row(
            "SELECT patch FROM template_versions WHERE template_id = ?1 AND number = ?2",
            params![id, summary.number],
            |row| row.get(0),
        )?;
        let patch = patch
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| Error::Corrupt(format!("stored patch is not JSON: {e}")))?;
        Ok(Version {
            summary,
            content,
            patch,
        })
    }

    /// Deletes a template and all its versions; refused while an application uses it.
    pub fn delete_template(&mut self, name: &str) -> Result<()> {
        let tx = self.write()?;
        let id = template_id(&tx, name)?;
        let mut statement =
            tx.prepare("SELECT name FROM apps WHERE template_id = ?1 ORDER BY name")?;
        let apps: Vec<String> = statement
            .query_map([id], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        drop(statement);
        if !apps.is_empty() {
            return Err(Error::TemplateInUse {
                template: name.to_owned(),
                apps,
            });
        }
        tx.execute("DELETE FROM templates WHERE id = ?1", [id])?;
        super::commit(tx)?;
        Ok(())
    }

    /// Starts a write transaction holding the write lock from the start.
    pub(super) fn write(&mut self) -> Result<Transaction<'_>> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(busy)
    }
}

fn read_message(rendered: &Rendered, values: Option<u32>) -> String {
    match values {
        Some(values) => format!("read {} with values version {values}", rendered.revision),
        None => format!("read {}", rendered.revision),
    }
}

fn default_message(given: &str, default: &str) -> String {
    let given = given.trim();
    if given.is_empty() {
        default.to_owned()
    } else {
        given.to_owned()
    }
}

pub(super) fn template_id(conn: &rusqlite::Connection, name: &str) -> Result<i64> {
    conn.query_row("SELECT id FROM templates WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| Error::TemplateNotFound(name.to_owned()))
}

fn latest_number(conn: &rusqlite::Connection, id: i64) -> Result<u32> {
    let latest: Option<u32> = conn.query_row(
        "SELECT max(number) FROM template_versions WHERE template_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    latest.ok_or_else(|| Error::Corrupt("a template has no versions".into()))
}

fn latest_summary(conn: &rusqlite::Connection, name: &str) -> Result<(i64, VersionSummary)> {
    let id = template_id(conn, name)?;
    let latest = latest_number(conn, id)?;
    Ok((id, version_summary(conn, id, name, latest, latest)?))
}

fn version_summary(
    conn: &rusqlite::Connection,
    id: i64,
    name: &str,
    number: u32,
    latest: u32,
) -> Result<VersionSummary> {
    let row = conn
        .query_row(
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM template_versions v
                 WHERE v.template_id = ?1 AND v.number = ?2"
            ),
            params![id, number],
            |row| summary_from_row(name, row),
        )
        .optional()?;
    match row {
        Some(row) => with_origin(row),
        None => Err(Error::VersionNotFound {
            template: name.to_owned(),
            number,
            latest,
        }),
    }
}

/// Reads a version's content and checks it against its hash.
fn read_content(conn: &rusqlite::Connection, id: i64, summary: &VersionSummary) -> Result<String> {
    let content: String = conn.query_row(
        "SELECT content FROM template_contents WHERE template_id = ?1 AND number = ?2",
        params![id, summary.number],
        |r| r.get(0),
    )?;
    if content_hash(&content) != summary.hash {
        return Err(Error::Corrupt(format!(
            "version {} of template {:?} does not match its checksum",
            summary.number, summary.template
        )));
    }
    Ok(content)
}

/// Creates the template `name` (refused when one of that name exists), targeting Kubernetes
/// `kubernetes_version` (`None`: the newest Tripline knows), with `first` as version 1.
fn insert_template(
    tx: &Transaction<'_>,
    name: &str,
    kubernetes_version: Option<&str>,
    first: NewVersion<'_>,
) -> Result<(i64, VersionSummary)> {
    let exists: Option<i64> = tx
        .query_row("SELECT id FROM templates WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    if exists.is_some() {
        return Err(Error::TemplateExists(name.to_owned()));
    }
    tx.execute(
        "INSERT INTO templates (name, created_at, kubernetes_version) VALUES (?1, ?2, ?3)",
        params![name, now(), kubernetes_version],
    )?;
    let id = tx.last_insert_rowid();
    let version = insert_version(tx, id, name, 1, first)?;
    Ok((id, version))
}

fn insert_version(
    tx: &Transaction<'_>,
    id: i64,
    name: &str,
    number: u32,
    new: NewVersion<'_>,
) -> Result<VersionSummary> {
    // Every write path ends here: nothing is saved that would not read back or that a
    // cluster of the template's Kubernetes version would refuse.
    let target: Option<String> = tx.query_row(
        "SELECT kubernetes_version FROM templates WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?;
    new.manifest
        .check_for_save_for(target.as_deref().unwrap_or(validation::KUBERNETES_VERSION))?;
    // The deploy that follows a save reads this text back.
    new.manifest.keep_recent();
    let text = new.manifest.text();
    let summary = VersionSummary {
        template: name.to_owned(),
        number,
        hash: new.manifest.hash(),
        size: text.len() as i64,
        resources: new.manifest.documents().len() as u32,
        origin: new.origin,
        message: new.message,
        created_at: now(),
        based_on: new.based_on,
        revision: new.revision.cloned(),
        values: new.values,
    };
    let patch = new.patch.map(Value::to_string);
    let revision = new
        .revision
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::Invalid(e.to_string()))?;
    tx.execute(
        "INSERT INTO template_versions
             (template_id, number, hash, size, resources, origin, message, created_at, based_on, patch,
              revision, values_number)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            id,
            number,
            summary.hash,
            summary.size,
            summary.resources,
            summary.origin.as_str(),
            summary.message,
            summary.created_at,
            summary.based_on,
            patch,
            revision,
            summary.values
        ],
    )?;
    tx.execute(
        "INSERT INTO template_contents (template_id, number, content) VALUES (?1, ?2, ?3)",
        params![id, number, text],
    )?;
    Ok(summary)
}
