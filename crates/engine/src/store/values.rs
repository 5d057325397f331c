//! A Helm application's values: YAML texts versioned like templates (immutable, numbered,
//! checked against their hash on every read), each with its origin and message. The newest
//! version is what the next deploy renders the chart with; a template version rendered from
//! the chart names the values version it used ([`super::VersionSummary::values`]).

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::apps::insert_app;
use super::{Error, Origin, Result, Store, now};
use crate::app::{Application, NewApplication, Source};
use crate::source::Rendered;
use crate::source::helm::check_values;
use crate::template::content_hash;

/// A values version without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ValuesSummary {
    /// The application.
    pub app: String,
    /// 1, 2, 3, …
    pub number: u32,
    /// Hex SHA-256 of the content.
    pub hash: String,
    /// Content size in bytes.
    pub size: i64,
    /// Why it exists: `import` (given at creation), `edit`, `image-update` (an image trigger).
    pub origin: Origin,
    /// What changed, in words.
    pub message: String,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
}

/// A values version with its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ValuesVersion {
    /// Everything but the content.
    #[serde(flatten)]
    pub summary: ValuesSummary,
    /// The YAML text.
    pub content: String,
}

/// What saving values did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ValuesSaved {
    /// A new version was made.
    Created {
        /// The new version.
        version: ValuesSummary,
    },
    /// The content equals the latest version's; nothing was written.
    Unchanged {
        /// The latest version, which already has this content.
        version: ValuesSummary,
    },
}

impl ValuesSaved {
    /// The new version, or the latest one when nothing changed.
    pub fn version(&self) -> &ValuesSummary {
        match self {
            ValuesSaved::Created { version } | ValuesSaved::Unchanged { version } => version,
        }
    }
}

const COLUMNS: &str = "number, hash, length(CAST(content AS BLOB)), origin, message, created_at";

fn summary_from_row(
    app: &str,
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(ValuesSummary, String)> {
    Ok((
        ValuesSummary {
            app: app.to_owned(),
            number: row.get(0)?,
            hash: row.get(1)?,
            size: row.get(2)?,
            origin: Origin::Edit,
            message: row.get(4)?,
            created_at: row.get(5)?,
        },
        row.get(3)?,
    ))
}

fn with_origin((mut summary, origin): (ValuesSummary, String)) -> Result<ValuesSummary> {
    summary.origin = Origin::parse(&origin)?;
    Ok(summary)
}

fn check(content: &str) -> Result<()> {
    check_values(content).map_err(|e| Error::Invalid(e.message))
}

/// The application's id and its newest values number; refused for an application without
/// values (one that is not a Helm application).
fn latest(conn: &rusqlite::Connection, app: &str) -> Result<(i64, u32)> {
    let row: Option<(i64, Option<u32>)> = conn
        .query_row(
            "SELECT a.id, (SELECT max(number) FROM source_values v WHERE v.app_id = a.id)
             FROM apps a WHERE a.name = ?1",
            [app],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => Err(Error::AppNotFound(app.to_owned())),
        Some((_, None)) => Err(Error::Invalid(format!(
            "{app} is not a Helm application: only Helm applications have values"
        ))),
        Some((id, Some(latest))) => Ok((id, latest)),
    }
}

fn summary(conn: &rusqlite::Connection, id: i64, app: &str, number: u32) -> Result<ValuesSummary> {
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM source_values WHERE app_id = ?1 AND number = ?2"),
            params![id, number],
            |row| summary_from_row(app, row),
        )
        .optional()?;
    row.map(with_origin).transpose()?.ok_or_else(|| {
        let latest = latest(conn, app).map(|(_, n)| n).unwrap_or(0);
        Error::ValuesNotFound {
            app: app.to_owned(),
            number,
            latest,
        }
    })
}

fn insert(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    app: &str,
    number: u32,
    content: &str,
    origin: Origin,
    message: &str,
) -> Result<ValuesSummary> {
    let summary = ValuesSummary {
        app: app.to_owned(),
        number,
        hash: content_hash(content),
        size: content.len() as i64,
        origin,
        message: message.to_owned(),
        created_at: now(),
    };
    tx.execute(
        "INSERT INTO source_values (app_id, number, hash, content, origin, message, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            number,
            summary.hash,
            content,
            origin.as_str(),
            summary.message,
            summary.created_at
        ],
    )?;
    Ok(summary)
}

impl Store {
    /// Creates a Helm application, the template that keeps its rendered manifests (with
    /// `rendered` as version 1) and its values (`values` as version 1): all or nothing.
    pub fn create_helm_app(
        &mut self,
        new: &NewApplication,
        rendered: &Rendered,
        values: &str,
    ) -> Result<Application> {
        new.validate()
            .map_err(|refused| Error::Invalid(refused.0))?;
        let Source::Helm { template, .. } = &new.source else {
            return Err(Error::Invalid("not a Helm application".to_owned()));
        };
        check(values)?;
        let tx = self.write()?;
        let exists: Option<i64> = tx
            .query_row("SELECT id FROM apps WHERE name = ?1", [&new.name], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Err(Error::AppExists(new.name.clone()));
        }
        let template = Store::insert_source_template(&tx, template, rendered, Some(1))?;
        let app = insert_app(&tx, new, Some(template))?;
        insert(
            &tx,
            tx.last_insert_rowid(),
            &new.name,
            1,
            values,
            Origin::Import,
            "given when the application was created",
        )?;
        super::commit(tx)?;
        Ok(app)
    }

    /// One values version of a Helm application; `None` means the latest.
    pub fn values(&self, app: &str, number: Option<u32>) -> Result<ValuesVersion> {
        let (id, latest) = latest(&self.conn, app)?;
        let summary = summary(&self.conn, id, app, number.unwrap_or(latest))?;
        let content: String = self.conn.query_row(
            "SELECT content FROM source_values WHERE app_id = ?1 AND number = ?2",
            params![id, summary.number],
            |r| r.get(0),
        )?;
        if content_hash(&content) != summary.hash {
            return Err(Error::Corrupt(format!(
                "values version {} of {app:?} does not match its checksum",
                summary.number
            )));
        }
        Ok(ValuesVersion { summary, content })
    }

    /// A Helm application's values versions, oldest first, without content.
    pub fn values_versions(&self, app: &str) -> Result<Vec<ValuesSummary>> {
        let (id, _) = latest(&self.conn, app)?;
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM source_values WHERE app_id = ?1 ORDER BY number"
        ))?;
        let rows = statement.query_map([id], |row| summary_from_row(app, row))?;
        rows.map(|row| with_origin(row?)).collect()
    }

    /// Saves `content` as a Helm application's next values version, unless it equals the
    /// latest one. Values that are not a YAML map are refused.
    pub fn save_values(
        &mut self,
        app: &str,
        content: &str,
        origin: Origin,
        message: &str,
    ) -> Result<ValuesSaved> {
        check(content)?;
        let tx = self.write()?;
        let (id, number) = latest(&tx, app)?;
        let current = summary(&tx, id, app, number)?;
        if current.hash == content_hash(content) {
            return Ok(ValuesSaved::Unchanged { version: current });
        }
        let message = match message.trim() {
            "" => "edited",
            given => given,
        };
        let version = insert(&tx, id, app, number + 1, content, origin, message)?;
        super::commit(tx)?;
        Ok(ValuesSaved::Created { version })
    }
}
