//! Triggers.
//!
//! A trigger row holds its kind, switches and the SHA-256 of its token (never the token).
//! The calls made with it are its access records (`records.rs`); deleting a trigger deletes
//! them.

use rusqlite::{OptionalExtension, params};
use serde::Deserialize;

use super::{Error, Result, Store, now};
use crate::trigger::{Trigger, TriggerKind};

/// A trigger to create.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct NewTrigger {
    /// Unique name (a DNS label).
    pub name: String,
    /// The application.
    pub app: String,
    /// What it does.
    pub kind: TriggerKind,
    /// Calls must carry an HMAC signature.
    pub signed: bool,
}

/// What [`Store::trigger_index`] reads.
#[derive(Debug, Clone)]
pub struct TriggerIndex {
    /// The [`Store::trigger_generation`] this is a snapshot of.
    pub generation: i64,
    /// Every trigger, with the SHA-256 of its token.
    pub triggers: Vec<(Trigger, String)>,
    /// Every application.
    pub apps: Vec<crate::app::Application>,
}

type TriggerRow = (
    i64,
    String,
    String,
    String,
    bool,
    bool,
    String,
    String,
    Option<String>,
);

const TRIGGER_COLUMNS: &str =
    "t.id, t.name, a.name, t.kind, t.enabled, t.signed, t.token_hint, t.created_at, t.rotated_at";

fn trigger_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TriggerRow> {
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
    ))
}

fn decode_trigger(row: TriggerRow) -> Result<Trigger> {
    let (id, name, app, kind, enabled, signed, token_hint, created_at, rotated_at) = row;
    Ok(Trigger {
        id,
        name,
        app,
        kind: serde_json::from_str(&kind)
            .map_err(|e| Error::Corrupt(format!("stored trigger kind is not readable: {e}")))?,
        enabled,
        signed,
        token_hint,
        created_at,
        rotated_at,
    })
}

impl Store {
    /// Creates a trigger whose token hashes to `token_hash`.
    pub fn create_trigger(
        &mut self,
        new: &NewTrigger,
        token_hash: &str,
        token_hint: &str,
    ) -> Result<Trigger> {
        crate::template::check_dns_label(&new.name, "trigger name").map_err(Error::Invalid)?;
        new.kind
            .validate()
            .map_err(|refused| Error::Invalid(refused.0))?;
        let kind = serde_json::to_string(&new.kind).map_err(|e| Error::Invalid(e.to_string()))?;
        let tx = self.write()?;
        let app_id: i64 = tx
            .query_row("SELECT id FROM apps WHERE name = ?1", [&new.app], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| Error::AppNotFound(new.app.clone()))?;
        let taken: Option<i64> = tx
            .query_row(
                "SELECT id FROM triggers WHERE name = ?1",
                [&new.name],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_some() {
            return Err(Error::TriggerExists(new.name.clone()));
        }
        tx.execute(
            "INSERT INTO triggers (app_id, name, kind, signed, token_hash, token_hint, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                app_id,
                new.name,
                kind,
                new.signed,
                token_hash,
                token_hint,
                now()
            ],
        )?;
        super::commit(tx)?;
        self.trigger(&new.name)
    }

    /// One trigger by name.
    pub fn trigger(&self, name: &str) -> Result<Trigger> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {TRIGGER_COLUMNS} FROM triggers t JOIN apps a ON a.id = t.app_id WHERE t.name = ?1"),
                [name],
                trigger_row,
            )
            .optional()?;
        row.map(decode_trigger)
            .transpose()?
            .ok_or_else(|| Error::TriggerNotFound(name.to_owned()))
    }

    /// All triggers, or an application's, by name.
    pub fn triggers(&self, app: Option<&str>) -> Result<Vec<Trigger>> {
        if let Some(app) = app {
            // Say "no such application" rather than list nothing.
            self.app(app)?;
        }
        let mut statement = self.conn.prepare(&format!(
            "SELECT {TRIGGER_COLUMNS} FROM triggers t JOIN apps a ON a.id = t.app_id
             WHERE ?1 IS NULL OR a.name = ?1 ORDER BY t.name"
        ))?;
        let rows = statement.query_map([app], trigger_row)?;
        rows.map(|row| decode_trigger(row?)).collect()
    }

    /// Enables or disables a trigger.
    pub fn set_trigger_enabled(&mut self, name: &str, enabled: bool) -> Result<Trigger> {
        let tx = self.write()?;
        let changed = tx.execute(
            "UPDATE triggers SET enabled = ?2 WHERE name = ?1",
            params![name, enabled],
        )?;
        if changed == 0 {
            return Err(Error::TriggerNotFound(name.to_owned()));
        }
        super::commit(tx)?;
        self.trigger(name)
    }

    /// Remembers the base URL a trigger's URL was given on (`None` forgets it).
    pub fn set_trigger_public_url(&mut self, name: &str, url: Option<&str>) -> Result<()> {
        let tx = self.write()?;
        let changed = tx.execute(
            "UPDATE triggers SET public_url = ?2 WHERE name = ?1",
            params![name, url],
        )?;
        if changed == 0 {
            return Err(Error::TriggerNotFound(name.to_owned()));
        }
        super::commit(tx)?;
        Ok(())
    }

    /// The base URL a trigger's URL was given on, if one was.
    pub fn trigger_public_url(&self, name: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT public_url FROM triggers WHERE name = ?1",
                [name],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .ok_or_else(|| Error::TriggerNotFound(name.to_owned()))
    }

    /// Replaces a trigger's token (the old one stops working at once).
    pub fn rotate_trigger(
        &mut self,
        name: &str,
        token_hash: &str,
        token_hint: &str,
    ) -> Result<Trigger> {
        let tx = self.write()?;
        let changed = tx.execute(
            "UPDATE triggers SET token_hash = ?2, token_hint = ?3, rotated_at = ?4 WHERE name = ?1",
            params![name, token_hash, token_hint, now()],
        )?;
        if changed == 0 {
            return Err(Error::TriggerNotFound(name.to_owned()));
        }
        super::commit(tx)?;
        self.trigger(name)
    }

    /// Deletes a trigger and its access records.
    pub fn delete_trigger(&mut self, name: &str) -> Result<()> {
        let tx = self.write()?;
        if tx.execute("DELETE FROM triggers WHERE name = ?1", [name])? == 0 {
            return Err(Error::TriggerNotFound(name.to_owned()));
        }
        super::commit(tx)?;
        Ok(())
    }

    /// What the listener's in-memory token index holds, read in one transaction: the
    /// [`Store::trigger_generation`] it stands for, every trigger with its token's hash, and
    /// the applications (for their holds and templates).
    pub fn trigger_index(&self) -> Result<TriggerIndex> {
        let tx = self.conn.unchecked_transaction()?;
        let generation = self.trigger_generation()?;
        let triggers = {
            let mut statement = tx.prepare_cached(&format!(
                "SELECT {TRIGGER_COLUMNS}, t.token_hash FROM triggers t JOIN apps a ON a.id = t.app_id"
            ))?;
            let rows =
                statement.query_map([], |row| Ok((trigger_row(row)?, row.get::<_, String>(9)?)))?;
            rows.map(|row| {
                let (row, hash) = row?;
                Ok((decode_trigger(row)?, hash))
            })
            .collect::<Result<Vec<_>>>()?
        };
        let apps = self.apps()?;
        // A read: nothing to count.
        tx.commit()?;
        Ok(TriggerIndex {
            generation,
            triggers,
            apps,
        })
    }

    /// A number that changes whenever a trigger or an application is created, changed or
    /// deleted, by any process (SQL triggers keep it).
    pub fn trigger_generation(&self) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT n FROM trigger_generation WHERE id = 1")?
            .query_row([], |row| row.get(0))?)
    }

    /// SQLite's `data_version`: it changes when another connection commits, whatever it wrote.
    /// Much cheaper than a query, so a cache checks it first.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |row| row.get(0))?)
    }
}
