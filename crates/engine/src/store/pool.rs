//! Open connections to one database, kept for reuse.
//!
//! Opening a connection costs more than most of the statements the listener and the deploy
//! workers run on it (SQLite reads the schema, the pragmas run, the migrations are checked),
//! and each trigger call and each release used to open one or more. A [`Pool`] keeps a few
//! idle connections; one is taken for the length of one closure and given back only when no
//! transaction is left open on it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::{Result, Store};

/// Idle connections kept at most (the listener's callers and the workers use a few at once).
const MAX_IDLE: usize = 4;

/// Connections to the database at one path.
#[derive(Debug)]
pub struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl Pool {
    /// A pool for the database at `path`; nothing is opened until a connection is needed.
    pub fn new(path: &Path) -> Self {
        Pool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The database's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a connection: an idle one, or a new one.
    pub fn with<T>(&self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        let taken = self.idle().pop();
        let mut store = match taken {
            Some(store) => store,
            None => Store::open(&self.path)?,
        };
        let result = f(&mut store);
        // A transaction still open means `f` leaked it; such a connection is closed instead.
        if store.conn.is_autocommit() {
            let mut idle = self.idle();
            if idle.len() < MAX_IDLE {
                idle.push(store);
            }
        }
        result
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Store>> {
        // Connections are pushed and popped whole: the list is sound after any panic.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_reused_and_one_left_in_a_transaction_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = Store::open_dir(dir.path()).unwrap().info().unwrap().path;
        let pool = Pool::new(&path);
        // A temporary table lives as long as its connection and only that one sees it.
        pool.with(|store| Ok(store.conn.execute_batch("CREATE TEMP TABLE mark (x)")?))
            .unwrap();
        let marked = |store: &mut Store| Ok(store.conn.prepare("SELECT x FROM temp.mark").is_ok());
        assert!(pool.with(marked).unwrap(), "the idle connection is reused");
        pool.with(|store| {
            store.conn.execute_batch("BEGIN")?;
            Ok(())
        })
        .unwrap();
        assert!(
            pool.idle().is_empty(),
            "a connection inside a transaction is dropped"
        );
        // An error from `f` is returned and the connection still goes back.
        let error = pool
            .with(|store| store.release(424_242).map(|_| ()))
            .unwrap_err();
        assert!(error.to_string().contains("424242"), "{error}");
        assert_eq!(pool.idle().len(), 1);
    }

    #[test]
    fn connections_beyond_the_idle_limit_are_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = Store::open_dir(dir.path()).unwrap().info().unwrap().path;
        let pool = Pool::new(&path);
        fn nest(pool: &Pool, depth: usize) -> Result<()> {
            if depth == 0 {
                return Ok(());
            }
            pool.with(|_| nest(pool, depth - 1))
        }
        nest(&pool, MAX_IDLE + 3).unwrap();
        assert_eq!(pool.idle().len(), MAX_IDLE);
    }
}
