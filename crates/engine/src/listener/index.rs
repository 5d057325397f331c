//! The listener's in-memory token index: token hash → trigger, with its application's hold
//! and template, so a call is authenticated without a query.
//!
//! The index is a snapshot of the database at one [`Store::trigger_generation`], a number
//! SQL triggers move whenever a trigger or an application changes, in any process (the CLI
//! disabling a trigger while `serve` runs included). SQLite's `data_version` changes when
//! another connection has committed something; only then does the index read the
//! generation, and only when that moved does it reload.
//!
//! Reading `data_version` is a read transaction (with file locks), too dear for every call
//! under a flood, so a lookup asks for it only when this process has committed a write since
//! the last check ([`crate::store::local_commits`], counted after each commit but those of
//! access records alone, which change no trigger: the listener writes them for every call) or
//! when
//! [`RECHECK`] has passed. A change made in this process (the app, the runtime, a test) is
//! therefore seen by the very next call, and one made by another process (the CLI) within
//! [`RECHECK`].

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use foldhash::HashMap;

use crate::store::{Result, Store};
use crate::trigger::{TokenDigest, Trigger};

/// What a token opens: the trigger and what the hooks need of its application.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The trigger.
    pub trigger: Trigger,
    /// The stored hash's digest, compared with the call's in constant time.
    pub stored_hash: TokenDigest,
    /// The application's hold, if it is on hold.
    pub hold: Option<String>,
    /// The application's template (for a Git or Helm application, the one its source's
    /// renderings are kept in; empty when the application is gone).
    pub template: String,
    /// Where the application's manifests come from, so a hook can branch on it without a
    /// read (`None` when the application is gone).
    pub source: Option<crate::app::Source>,
    /// What deciding on a push needs of the trigger (tag filter compiled, repositories
    /// parsed), made once per reload.
    pub matcher: crate::trigger::matching::Matcher,
}

/// The index, behind one connection of its own.
#[derive(Debug)]
pub struct TokenIndex {
    inner: Mutex<Inner>,
}

/// How stale the index may be for writes made by other processes.
pub const RECHECK: Duration = Duration::from_millis(1);

#[derive(Debug)]
struct Inner {
    store: Store,
    /// [`crate::store::local_commits`] and the time at the last check.
    checked: Option<(u64, Instant)>,
    /// The `data_version` last checked (`None`: never loaded).
    data_version: Option<i64>,
    generation: i64,
    by_hash: HashMap<TokenDigest, Arc<Entry>>,
}

impl TokenIndex {
    /// Poisons its lock, as a panic while it is held would (for tests of recovery).
    #[cfg(test)]
    pub(crate) fn poison(&self) {
        super::poison(&self.inner);
    }

    /// Opens its connection to the database at `database`; the index loads on first use.
    pub fn open(database: &Path) -> Result<Self> {
        Ok(TokenIndex {
            inner: Mutex::new(Inner {
                store: Store::open(database)?,
                checked: None,
                data_version: None,
                generation: 0,
                by_hash: HashMap::default(),
            }),
        })
    }

    /// The trigger whose token's digest is `digest`, as the database has it now.
    pub fn find(&self, digest: &TokenDigest) -> Result<Option<Arc<Entry>>> {
        let inner = self.fresh()?;
        Ok(inner.by_hash.get(digest).cloned())
    }

    /// The trigger with id `id` (a scan: for the watcher, not for calls).
    pub fn by_trigger(&self, id: i64) -> Result<Option<Arc<Entry>>> {
        let inner = self.fresh()?;
        Ok(inner.by_hash.values().find(|e| e.trigger.id == id).cloned())
    }

    /// The image triggers that watch their repositories.
    pub fn watched(&self) -> Result<Vec<Arc<Entry>>> {
        let inner = self.fresh()?;
        let mut watched: Vec<Arc<Entry>> = inner
            .by_hash
            .values()
            .filter(|e| {
                matches!(
                    e.trigger.kind,
                    crate::trigger::TriggerKind::Image { watch: Some(_), .. }
                )
            })
            .cloned()
            .collect();
        watched.sort_by_key(|e| e.trigger.id);
        Ok(watched)
    }

    /// The index, refreshed from the database.
    fn fresh(&self) -> Result<std::sync::MutexGuard<'_, Inner>> {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| {
            // A panic during a reload may have left the map half built: load it afresh.
            self.inner.clear_poison();
            let mut inner = poisoned.into_inner();
            inner.checked = None;
            inner.data_version = None;
            inner
        });
        inner.refresh()?;
        Ok(inner)
    }
}

impl Inner {
    fn refresh(&mut self) -> Result<()> {
        // Read before the check, so a commit counted after it is seen by the next lookup.
        let commits = crate::store::local_commits();
        let now = Instant::now();
        if let Some((seen, at)) = self.checked
            && seen == commits
            && now.duration_since(at) < RECHECK
        {
            return Ok(());
        }
        self.reload_if_changed()?;
        self.checked = Some((commits, now));
        Ok(())
    }

    fn reload_if_changed(&mut self) -> Result<()> {
        let data_version = self.store.data_version()?;
        if self.data_version == Some(data_version) {
            return Ok(());
        }
        let loaded = self.data_version.is_some();
        if loaded && self.store.trigger_generation()? == self.generation {
            self.data_version = Some(data_version);
            return Ok(());
        }
        let snapshot = self.store.trigger_index()?;
        let apps: HashMap<&str, &crate::app::Application> = snapshot
            .apps
            .iter()
            .map(|app| (app.name.as_str(), app))
            .collect();
        self.by_hash = snapshot
            .triggers
            .iter()
            .filter_map(|(trigger, hash)| {
                // Written only by `trigger::token_hash`: text that is not a digest opens
                // nothing, as no token hashes to it.
                let Some(digest) = crate::trigger::digest_of_hash(hash) else {
                    tracing::warn!(trigger = %trigger.name, "a stored token hash is not a SHA-256 digest: the trigger cannot be called");
                    return None;
                };
                let app = apps.get(trigger.app.as_str());
                let entry = Entry {
                    trigger: trigger.clone(),
                    stored_hash: digest,
                    hold: app.and_then(|app| app.hold.clone()),
                    template: app
                        .and_then(|app| app.source.template())
                        .unwrap_or_default()
                        .to_owned(),
                    source: app.map(|app| app.source.clone()),
                    matcher: crate::trigger::matching::Matcher::of(&trigger.kind),
                };
                Some((digest, Arc::new(entry)))
            })
            .collect();
        self.generation = snapshot.generation;
        self.data_version = Some(data_version);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewTrigger;
    use crate::trigger::TriggerKind;

    /// The stored hash of token `token`.
    fn hash(token: &str) -> String {
        crate::trigger::token_hash(token)
    }

    /// What a call with token `token` looks up.
    fn digest(token: &str) -> TokenDigest {
        crate::trigger::token_digest(token)
    }

    #[test]
    fn a_stored_hash_is_looked_up_by_its_digest_and_text_that_is_no_digest_opens_nothing() {
        let (_dir, path, mut store) = super::super::shop_database();
        store
            .create_trigger(&new_trigger("a"), &hash("tl_a"), "tl_a…")
            .unwrap();
        store
            .create_trigger(&new_trigger("b"), "not a digest", "tl_b…")
            .unwrap();
        let index = TokenIndex::open(&path).unwrap();
        let found = index.find(&digest("tl_a")).unwrap().unwrap();
        assert_eq!(found.trigger.name, "a");
        assert_eq!(
            crate::trigger::digest_of_hash(&hash("tl_a").to_uppercase()),
            Some(digest("tl_a"))
        );
        for bad in [
            "",
            "not a digest",
            &hash("tl_a")[1..],
            &format!("{}0", hash("tl_a")),
        ] {
            assert_eq!(crate::trigger::digest_of_hash(bad), None, "{bad:?}");
        }
        assert_eq!(
            index.inner.lock().unwrap().by_hash.len(),
            1,
            "b is left out"
        );
    }

    fn new_trigger(name: &str) -> NewTrigger {
        NewTrigger {
            name: name.into(),
            app: "shop".into(),
            kind: TriggerKind::Redeploy,
            signed: false,
        }
    }

    #[test]
    fn a_panic_while_the_index_was_locked_leaves_it_working_and_reloaded() {
        let (_dir, path, mut store) = super::super::shop_database();
        let index = TokenIndex::open(&path).unwrap();
        store
            .create_trigger(&new_trigger("a"), &hash("h1"), "tl_a…")
            .unwrap();
        assert!(index.find(&digest("h1")).unwrap().is_some());
        // A panic in the middle of a reload: the map is left wrong and the lock poisoned.
        let broken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut inner = index.inner.lock().unwrap();
            inner.by_hash.clear();
            panic!("a reload panicked");
        }));
        assert!(broken.is_err() && index.inner.is_poisoned());
        let found = index.find(&digest("h1")).unwrap();
        assert_eq!(found.map(|e| e.trigger.name.clone()).as_deref(), Some("a"));
        assert!(
            !index.inner.is_poisoned(),
            "the poison is cleared once recovered"
        );
    }

    #[test]
    fn changes_made_by_another_connection_are_seen_by_the_next_lookup() {
        let (_dir, path, mut store) = super::super::shop_database();
        let index = TokenIndex::open(&path).unwrap();
        assert!(index.find(&digest("h1")).unwrap().is_none());

        store
            .create_trigger(&new_trigger("a"), &hash("h1"), "tl_a…")
            .unwrap();
        let found = index
            .find(&digest("h1"))
            .unwrap()
            .expect("a new trigger is found at once");
        assert_eq!(found.trigger.name, "a");
        assert_eq!(found.template, "t");
        assert!(found.trigger.enabled && found.hold.is_none());

        store.set_trigger_enabled("a", false).unwrap();
        assert!(!index.find(&digest("h1")).unwrap().unwrap().trigger.enabled);

        store.set_app_hold("shop", Some("release freeze")).unwrap();
        assert_eq!(
            index.find(&digest("h1")).unwrap().unwrap().hold.as_deref(),
            Some("release freeze")
        );

        store.rotate_trigger("a", &hash("h2"), "tl_b…").unwrap();
        assert!(
            index.find(&digest("h1")).unwrap().is_none(),
            "the old token stops at once"
        );
        assert!(index.find(&digest("h2")).unwrap().is_some());

        store.delete_trigger("a").unwrap();
        assert!(index.find(&digest("h2")).unwrap().is_none());
    }

    #[test]
    fn a_change_from_outside_the_store_is_seen_once_the_recheck_interval_passed() {
        let (_dir, path, mut store) = super::super::shop_database();
        store
            .create_trigger(&new_trigger("a"), &hash("h1"), "tl_a…")
            .unwrap();
        let index = TokenIndex::open(&path).unwrap();
        assert!(index.find(&digest("h1")).unwrap().unwrap().trigger.enabled);
        // As another process would write: a plain connection, not counted by this one.
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute("UPDATE triggers SET enabled = 0 WHERE name = 'a'", [])
            .unwrap();
        std::thread::sleep(RECHECK * 5);
        assert!(
            !index.find(&digest("h1")).unwrap().unwrap().trigger.enabled,
            "seen within the recheck interval"
        );
    }

    #[test]
    fn writes_that_touch_no_trigger_or_application_do_not_reload() {
        let (_dir, path, mut store) = super::super::shop_database();
        store
            .create_trigger(&new_trigger("a"), &hash("h1"), "tl_a…")
            .unwrap();
        let index = TokenIndex::open(&path).unwrap();
        let before = index.find(&digest("h1")).unwrap().unwrap();
        let generation = store.trigger_generation().unwrap();
        // An access record and a template version are other tables' business.
        let record = super::super::record::Call::new(
            "127.0.0.1".parse().unwrap(),
            &axum::http::Method::GET,
            &"/hook/trigger?token=tl_x".parse().unwrap(),
            &axum::http::HeaderMap::new(),
        )
        .record(crate::store::Decision::Rejected, "r", 404, "", None);
        store.record_access(None, &record).unwrap();
        store
            .save_version(
                "t",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n",
                crate::store::Origin::Edit,
                "second",
            )
            .unwrap();
        assert_eq!(store.trigger_generation().unwrap(), generation);
        let after = index.find(&digest("h1")).unwrap().unwrap();
        assert!(Arc::ptr_eq(&before, &after), "the index was not reloaded");
    }
}
