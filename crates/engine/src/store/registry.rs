//! Registry hosts' rate-limit budgets and last failures, as the registry client last saw
//! them. The façade writes a host's row now and then (never on the listener's hot path); any
//! process reads them, so `tripline registry status` shows what the app is spending.

use rusqlite::{OptionalExtension as _, params};

use super::{Result, Store, commit};

/// What was last seen of one registry host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistryHost {
    /// The host (`registry-1.docker.io`, `127.0.0.1:5000`).
    pub host: String,
    /// Requests allowed per window (`RateLimit-Limit`).
    pub limit: Option<u64>,
    /// Requests left in the window (`RateLimit-Remaining`).
    pub remaining: Option<u64>,
    /// The window's length in seconds.
    pub window_seconds: Option<u64>,
    /// Not before this time (`Retry-After`), RFC 3339.
    pub retry_at: Option<String>,
    /// When the registry said so, RFC 3339.
    pub seen_at: Option<String>,
    /// Why the last request failed, unless one succeeded since.
    pub last_error: Option<String>,
    /// When it failed, RFC 3339.
    pub error_at: Option<String>,
}

fn to_i64(value: Option<u64>) -> Option<i64> {
    value.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

fn to_u64(value: Option<i64>) -> Option<u64> {
    value.map(|v| u64::try_from(v).unwrap_or(0))
}

impl Store {
    /// Writes what was last seen of a registry host, replacing the earlier row.
    pub fn save_registry_host(&mut self, row: &RegistryHost) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(super::busy)?;
        tx.execute(
            "INSERT INTO registry_hosts (host, rate_limit, remaining, window_seconds, retry_at,
                 seen_at, last_error, error_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (host) DO UPDATE SET rate_limit = ?2, remaining = ?3,
                 window_seconds = ?4, retry_at = ?5, seen_at = ?6, last_error = ?7,
                 error_at = ?8, updated_at = ?9",
            params![
                row.host,
                to_i64(row.limit),
                to_i64(row.remaining),
                to_i64(row.window_seconds),
                row.retry_at,
                row.seen_at,
                row.last_error,
                row.error_at,
                super::now(),
            ],
        )?;
        commit(tx)
    }

    /// What was last seen of `host`, if anything was.
    pub fn registry_host(&self, host: &str) -> Result<Option<RegistryHost>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM registry_hosts WHERE host = ?1"),
                [host],
                row,
            )
            .optional()?)
    }

    /// Every registry host seen, by host.
    pub fn registry_hosts(&self) -> Result<Vec<RegistryHost>> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM registry_hosts ORDER BY host"
        ))?;
        let rows = statement.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

const COLUMNS: &str =
    "host, rate_limit, remaining, window_seconds, retry_at, seen_at, last_error, error_at";

fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RegistryHost> {
    Ok(RegistryHost {
        host: row.get(0)?,
        limit: to_u64(row.get(1)?),
        remaining: to_u64(row.get(2)?),
        window_seconds: to_u64(row.get(3)?),
        retry_at: row.get(4)?,
        seen_at: row.get(5)?,
        last_error: row.get(6)?,
        error_at: row.get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_row_is_replaced_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_dir(dir.path()).unwrap();
        assert!(store.registry_hosts().unwrap().is_empty());
        let mut row = RegistryHost {
            host: "registry-1.docker.io".into(),
            limit: Some(100),
            remaining: Some(76),
            window_seconds: Some(21600),
            seen_at: Some("2026-12-07T10:00:00Z".into()),
            ..RegistryHost::default()
        };
        store.save_registry_host(&row).unwrap();
        row.remaining = Some(0);
        row.retry_at = Some("2026-12-07T10:05:00Z".into());
        row.last_error = Some("rate limited".into());
        store.save_registry_host(&row).unwrap();
        store
            .save_registry_host(&RegistryHost {
                host: "ghcr.io".into(),
                limit: Some(u64::MAX),
                ..RegistryHost::default()
            })
            .unwrap();
        let rows = store.registry_hosts().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].host, "ghcr.io");
        assert_eq!(rows[0].limit, Some(i64::MAX as u64));
        assert_eq!(rows[1], row);
        assert_eq!(
            store.registry_host("ghcr.io").unwrap().unwrap().host,
            "ghcr.io"
        );
        assert_eq!(store.registry_host("quay.io").unwrap(), None);
    }
}
