//! Applications.

use rusqlite::{OptionalExtension, params};

use super::templates::template_id;
use super::{Error, Result, Store, now};
use crate::app::{Application, ClusterRef, NewApplication, Source};

fn corrupt(what: &str, error: serde_json::Error) -> Error {
    Error::Corrupt(format!(
        "stored application {what} is not readable: {error}"
    ))
}

type Row = (String, String, String, String, String, bool, Option<String>);

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

fn decode((name, cluster, namespace, source, created_at, prune, hold): Row) -> Result<Application> {
    Ok(Application {
        name,
        cluster: serde_json::from_str::<ClusterRef>(&cluster).map_err(|e| corrupt("cluster", e))?,
        namespace,
        source: serde_json::from_str::<Source>(&source).map_err(|e| corrupt("source", e))?,
        prune,
        hold,
        created_at,
    })
}

impl Store {
    /// Creates an application; its template must exist.
    pub fn create_app(&mut self, new: &NewApplication) -> Result<Application> {
        new.validate()
            .map_err(|refused| Error::Invalid(refused.0))?;
        let tx = self.write()?;
        let exists: Option<i64> = tx
            .query_row("SELECT id FROM apps WHERE name = ?1", [&new.name], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Err(Error::AppExists(new.name.clone()));
        }
        let template = match new.source.template() {
            Some(name) => Some(template_id(&tx, name)?),
            None => None,
        };
        let app = insert_app(&tx, new, template)?;
        super::commit(tx)?;
        Ok(app)
    }

    /// Creates a Git or Helm application and the template that keeps its rendered manifests
    /// (named by its source), with `rendered` as that template's first version: both or
    /// neither.
    pub fn create_source_app(
        &mut self,
        new: &NewApplication,
        rendered: &crate::source::Rendered,
    ) -> Result<Application> {
        new.validate()
            .map_err(|refused| Error::Invalid(refused.0))?;
        let Some(template) = new.source.template() else {
            return Err(Error::Invalid("this source keeps no template".to_owned()));
        };
        let tx = self.write()?;
        let exists: Option<i64> = tx
            .query_row("SELECT id FROM apps WHERE name = ?1", [&new.name], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Err(Error::AppExists(new.name.clone()));
        }
        let template = Store::insert_source_template(&tx, template, rendered, None)?;
        let app = insert_app(&tx, new, Some(template))?;
        super::commit(tx)?;
        Ok(app)
    }

    /// All applications, by name.
    pub fn apps(&self) -> Result<Vec<Application>> {
        let mut statement = self.conn.prepare(
            "SELECT name, cluster, namespace, source, created_at, prune, hold FROM apps ORDER BY name",
        )?;
        let rows = statement.query_map([], from_row)?;
        rows.map(|row| decode(row?)).collect()
    }

    /// One application.
    pub fn app(&self, name: &str) -> Result<Application> {
        let row = self
            .conn
            .query_row(
                "SELECT name, cluster, namespace, source, created_at, prune, hold FROM apps WHERE name = ?1",
                [name],
                from_row,
            )
            .optional()?;
        match row {
            Some(row) => decode(row),
            None => Err(Error::AppNotFound(name.to_owned())),
        }
    }

    /// Puts an application on hold (`Some(reason)`) or lifts the hold (`None`). While on
    /// hold, trigger calls answer 409 and start nothing; people can still deploy.
    pub fn set_app_hold(&mut self, name: &str, hold: Option<&str>) -> Result<Application> {
        let tx = self.write()?;
        if tx.execute(
            "UPDATE apps SET hold = ?2 WHERE name = ?1",
            rusqlite::params![name, hold],
        )? == 0
        {
            return Err(Error::AppNotFound(name.to_owned()));
        }
        super::commit(tx)?;
        self.app(name)
    }

    /// Deletes an application (its template stays).
    pub fn delete_app(&mut self, name: &str) -> Result<()> {
        let tx = self.write()?;
        let deleted = tx.execute("DELETE FROM apps WHERE name = ?1", [name])?;
        if deleted == 0 {
            return Err(Error::AppNotFound(name.to_owned()));
        }
        super::commit(tx)?;
        Ok(())
    }
}

/// Inserts an application's row.
pub(super) fn insert_app(
    tx: &rusqlite::Transaction<'_>,
    new: &NewApplication,
    template: Option<i64>,
) -> Result<Application> {
    let app = Application {
        name: new.name.clone(),
        cluster: new.cluster.clone(),
        namespace: new.namespace.clone(),
        source: new.source.clone(),
        prune: new.prune,
        hold: None,
        created_at: now(),
    };
    let encode = |v: serde_json::Result<String>| v.map_err(|e| Error::Invalid(e.to_string()));
    tx.execute(
        "INSERT INTO apps (name, cluster, namespace, source, template_id, created_at, prune)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            app.name,
            encode(serde_json::to_string(&app.cluster))?,
            app.namespace,
            encode(serde_json::to_string(&app.source))?,
            template,
            app.created_at,
            app.prune
        ],
    )?;
    Ok(app)
}
