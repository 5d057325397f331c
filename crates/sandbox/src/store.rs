//! The object store: every object as JSON, the resourceVersion counter, change events.
//!
//! All reads and writes go through one lock. A write is a closure run on a [`Txn`]: it reads
//! and puts or removes objects, each put or remove taking the next resourceVersion and
//! making an [`Event`]. When the closure succeeds the changes are written to SQLite (if the
//! sandbox persists) in one transaction, appended to a bounded history (for watches that
//! resume from a resourceVersion), and broadcast to watchers and the controller; when it
//! fails, or the request is a dry run, the changes are undone and nothing is announced.
//! Nothing here awaits, so a plain mutex is the right lock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, params};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::Error;
use super::crd;
use super::resources::{self, ResourceDef};
use super::status::{ApiError, ApiResult};

/// How many change events are kept for watches that resume from a resourceVersion.
const HISTORY: usize = 10_000;

/// How many events a slow watcher (or the controller) may fall behind before it must
/// catch up from the history or a fresh list.
const BROADCAST: usize = 4_096;

/// `ADDED`, `MODIFIED` or `DELETED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// The object was created.
    Added,
    /// The object changed.
    Modified,
    /// The object was removed.
    Deleted,
}

impl EventKind {
    /// The watch event type.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// One change.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// The resourceVersion of the change.
    pub rv: u64,
    /// What happened.
    pub kind: EventKind,
    /// Which resource.
    pub def: &'static ResourceDef,
    /// The object after the change (for `DELETED`, the last state with the deletion's
    /// resourceVersion).
    pub object: Arc<Value>,
    /// The object before the change, for `MODIFIED` (lets a watch with a selector turn an
    /// object leaving the selection into `DELETED`).
    pub old: Option<Arc<Value>>,
}

type GroupResource = (&'static str, &'static str);
type ObjectKey = (String, String);

fn gr(def: &ResourceDef) -> GroupResource {
    (def.group, def.plural)
}

struct Inner {
    objects: HashMap<GroupResource, BTreeMap<ObjectKey, Arc<Value>>>,
    rv: u64,
    history: VecDeque<Arc<Event>>,
    /// Watches may resume from any resourceVersion at or after this one.
    history_floor: u64,
    db: Option<Connection>,
    /// The custom resources CRDs define (see [`super::crd`]).
    custom: crd::Registry,
    /// Stored objects of resources not served (yet): custom resources loaded before their
    /// CRD is established, by group and plural.
    parked: HashMap<(String, String), BTreeMap<ObjectKey, Arc<Value>>>,
}

/// The store; shared by the HTTP handlers and the controller.
pub(crate) struct Store {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Arc<Event>>,
}

fn key_of(value: &Value) -> ObjectKey {
    let meta = |field: &str| {
        value
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (meta("namespace"), meta("name"))
}

/// Reads a resourceVersion string.
#[cfg(test)]
fn rv_of(value: &Value) -> u64 {
    value
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0)
}

fn database(path: &Path) -> Result<Connection, rusqlite::Error> {
    let db = Connection::open(path)?;
    db.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS objects (
             api_group TEXT NOT NULL,
             resource  TEXT NOT NULL,
             namespace TEXT NOT NULL,
             name      TEXT NOT NULL,
             body      TEXT NOT NULL,
             PRIMARY KEY (api_group, resource, namespace, name)
         );
         CREATE TABLE IF NOT EXISTS counters (
             name  TEXT PRIMARY KEY,
             value INTEGER NOT NULL
         );",
    )?;
    Ok(db)
}

impl Store {
    /// Opens the store: in memory, or backed by `dir/sandbox.db` and loaded from it.
    pub fn open(dir: Option<&Path>) -> Result<Store, Error> {
        let mut inner = Inner {
            objects: HashMap::new(),
            rv: 0,
            history: VecDeque::new(),
            history_floor: 0,
            db: None,
            custom: crd::Registry::default(),
            parked: HashMap::new(),
        };
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir).map_err(|source| Error::DataDir {
                path: dir.to_owned(),
                source,
            })?;
            let path = dir.join("sandbox.db");
            let db_error = |source| Error::Database {
                path: path.clone(),
                source,
            };
            let db = database(&path).map_err(db_error)?;
            inner.rv = db
                .query_row(
                    "SELECT value FROM counters WHERE name = 'resourceVersion'",
                    [],
                    |row| row.get::<_, i64>(0),
                )
                .map(|v| v.max(0) as u64)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(0),
                    other => Err(other),
                })
                .map_err(db_error)?;
            {
                let mut rows = db
                    .prepare("SELECT api_group, resource, namespace, name, body FROM objects")
                    .map_err(db_error)?;
                let rows = rows
                    .query_map([], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, String>(4)?,
                        ))
                    })
                    .map_err(db_error)?;
                for row in rows {
                    let (group, resource, namespace, name, body) = row.map_err(db_error)?;
                    let def = resources::RESOURCES
                        .iter()
                        .find(|r| r.group == group && r.plural == resource);
                    match serde_json::from_str::<Value>(&body) {
                        Ok(object) => {
                            let objects = match def {
                                Some(def) => inner.objects.entry(gr(def)).or_default(),
                                // A custom resource: served once its CRD is established.
                                None => inner.parked.entry((group, resource)).or_default(),
                            };
                            objects.insert((namespace, name), Arc::new(object));
                        }
                        Err(error) => {
                            tracing::warn!(%group, %resource, %namespace, %name, %error, "sandbox: skipping an unreadable stored object");
                        }
                    }
                }
            }
            inner.db = Some(db);
        }
        inner.history_floor = inner.rv;
        let (events, _) = broadcast::channel(BROADCAST);
        Ok(Store {
            inner: Mutex::new(inner),
            events,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the maps consistent (every change is one
        // insert or remove), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` as one transaction. On success the changes are stored and announced; on
    /// failure, or when `dry_run`, they are undone.
    pub fn write<T>(
        &self,
        dry_run: bool,
        f: impl FnOnce(&mut Txn<'_>) -> ApiResult<T>,
    ) -> ApiResult<T> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let start_rv = inner.rv;
        let mut txn = Txn {
            inner,
            undo: Vec::new(),
            events: Vec::new(),
            dry_run,
        };
        let result = f(&mut txn);
        let Txn { undo, events, .. } = txn;
        let value = match result {
            Ok(value) => value,
            Err(error) => {
                rollback(inner, undo, start_rv);
                return Err(error);
            }
        };
        if dry_run || events.is_empty() {
            rollback(inner, undo, start_rv);
            return Ok(value);
        }
        if let Some(db) = inner.db.as_mut()
            && let Err(error) = persist(db, &events, inner.rv)
        {
            rollback(inner, undo, start_rv);
            return Err(ApiError::Internal(format!(
                "the sandbox could not store the change: {error}"
            )));
        }
        for event in events {
            let event = Arc::new(event);
            inner.history.push_back(event.clone());
            while inner.history.len() > HISTORY {
                if let Some(dropped) = inner.history.pop_front() {
                    inner.history_floor = dropped.rv;
                }
            }
            // No receivers is fine: nobody is watching.
            let _ = self.events.send(event);
        }
        Ok(value)
    }

    /// Runs `f` with read access.
    pub fn read<T>(&self, f: impl FnOnce(&Txn<'_>) -> T) -> T {
        let mut guard = self.lock();
        let txn = Txn {
            inner: &mut guard,
            undo: Vec::new(),
            events: Vec::new(),
            dry_run: true,
        };
        f(&txn)
    }

    /// Subscribes to every future change (the controller's feed).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    /// Starts a watch of `def`: the events after `since` (or, with no `since`, the current
    /// objects), and a receiver for everything later, taken atomically so nothing is missed
    /// or seen twice. Fails with 410 Expired when `since` is older than the kept history.
    pub fn watch(&self, def: &'static ResourceDef, since: Option<u64>) -> ApiResult<WatchStart> {
        let inner = self.lock();
        let receiver = self.events.subscribe();
        let current = inner.rv;
        let backlog = match since {
            None => Backlog::Objects(
                inner
                    .objects
                    .get(&gr(def))
                    .map(|m| m.values().cloned().collect())
                    .unwrap_or_default(),
            ),
            Some(since) if since < inner.history_floor => {
                return Err(ApiError::Expired(format!(
                    "too old resource version: {since} ({})",
                    inner.history_floor
                )));
            }
            Some(since) => Backlog::Events(
                inner
                    .history
                    .iter()
                    .filter(|e| e.rv > since && std::ptr::eq(e.def, def))
                    .cloned()
                    .collect(),
            ),
        };
        Ok(WatchStart {
            backlog,
            receiver,
            rv: current,
        })
    }
}

impl Store {
    /// Forgets the history at or before `rv`, as etcd's compaction does: watches and exact
    /// lists from before it then answer 410 Expired.
    pub fn compact(&self, rv: u64) {
        let mut inner = self.lock();
        if rv <= inner.history_floor {
            return;
        }
        while inner.history.front().is_some_and(|e| e.rv <= rv) {
            inner.history.pop_front();
        }
        inner.history_floor = rv;
    }

    /// The objects of `def` (in `namespace`) as they were at resourceVersion `rv`, rebuilt
    /// from the current objects and the history after `rv`. Fails with 410 Expired when
    /// `rv` is older than the kept history, and with 504 when it is newer than the store.
    pub fn list_at(
        &self,
        def: &'static ResourceDef,
        namespace: Option<&str>,
        rv: u64,
    ) -> ApiResult<Vec<Arc<Value>>> {
        let inner = self.lock();
        if rv > inner.rv {
            return Err(ApiError::Timeout(format!(
                "Too large resource version: {rv}, current: {}",
                inner.rv
            )));
        }
        if rv < inner.history_floor {
            return Err(ApiError::Expired(
                "The resourceVersion for the provided list is too old.".into(),
            ));
        }
        let key = |o: &Value| {
            (
                o.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                o.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            )
        };
        let mut objects: BTreeMap<(String, String), Arc<Value>> = inner
            .objects
            .get(&gr(def))
            .map(|m| m.values().map(|o| (key(o), o.clone())).collect())
            .unwrap_or_default();
        for event in inner.history.iter().rev().take_while(|e| e.rv > rv) {
            if !std::ptr::eq(event.def, def) {
                continue;
            }
            let at = key(&event.object);
            match event.kind {
                EventKind::Added => {
                    objects.remove(&at);
                }
                EventKind::Modified => {
                    if let Some(old) = &event.old {
                        objects.insert(at, old.clone());
                    }
                }
                EventKind::Deleted => {
                    objects.insert(at, event.object.clone());
                }
            }
        }
        Ok(objects
            .into_iter()
            .filter(|((ns, _), _)| namespace.is_none_or(|want| want == ns))
            .map(|(_, o)| o)
            .collect())
    }
}

/// Where a watch starts.
pub(crate) struct WatchStart {
    /// What to send first.
    pub backlog: Backlog,
    /// Everything after.
    pub receiver: broadcast::Receiver<Arc<Event>>,
    /// The store's resourceVersion when the watch started.
    pub rv: u64,
}

/// The first part of a watch.
pub(crate) enum Backlog {
    /// Current objects, sent as `ADDED` (a watch with no resourceVersion, or `0`).
    Objects(Vec<Arc<Value>>),
    /// Changes after the requested resourceVersion.
    Events(Vec<Arc<Event>>),
}

fn rollback(inner: &mut Inner, undo: Vec<Undo>, start_rv: u64) {
    for (group_resource, key, previous) in undo.into_iter().rev() {
        let map = inner.objects.entry(group_resource).or_default();
        match previous {
            Some(previous) => {
                map.insert(key, previous);
            }
            None => {
                map.remove(&key);
            }
        }
    }
    inner.rv = start_rv;
}

fn persist(db: &mut Connection, events: &[Event], rv: u64) -> Result<(), rusqlite::Error> {
    let tx = db.transaction()?;
    for event in events {
        let (namespace, name) = key_of(&event.object);
        match event.kind {
            EventKind::Added | EventKind::Modified => {
                tx.execute(
                    "INSERT INTO objects (api_group, resource, namespace, name, body)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (api_group, resource, namespace, name) DO UPDATE SET body = ?5",
                    params![
                        event.def.group,
                        event.def.plural,
                        namespace,
                        name,
                        event.object.to_string()
                    ],
                )?;
            }
            EventKind::Deleted => {
                tx.execute(
                    "DELETE FROM objects
                     WHERE api_group = ?1 AND resource = ?2 AND namespace = ?3 AND name = ?4",
                    params![event.def.group, event.def.plural, namespace, name],
                )?;
            }
        }
    }
    tx.execute(
        "INSERT INTO counters (name, value) VALUES ('resourceVersion', ?1)
         ON CONFLICT (name) DO UPDATE SET value = ?1",
        params![rv as i64],
    )?;
    tx.commit()
}

type Undo = (GroupResource, ObjectKey, Option<Arc<Value>>);

/// A transaction: reads see its own writes.
pub(crate) struct Txn<'a> {
    inner: &'a mut Inner,
    undo: Vec<Undo>,
    events: Vec<Event>,
    /// A dry run: objects come back with the resourceVersion they had (none for creates),
    /// as from the real server, since nothing is stored.
    dry_run: bool,
}

impl Txn<'_> {
    /// One object.
    pub fn get(&self, def: &ResourceDef, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.inner
            .objects
            .get(&gr(def))?
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Objects of a resource, in one namespace or all, ordered by namespace and name.
    pub fn list(&self, def: &ResourceDef, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let Some(map) = self.inner.objects.get(&gr(def)) else {
            return Vec::new();
        };
        match namespace {
            Some(ns) => map
                .range((ns.to_owned(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, v)| v.clone())
                .collect(),
            None => map.values().cloned().collect(),
        }
    }

    /// The custom resources served.
    pub fn custom(&self) -> &crd::Registry {
        &self.inner.custom
    }

    /// The custom resources served, to change. Not undone when the transaction fails.
    pub fn custom_mut(&mut self) -> &mut crd::Registry {
        &mut self.inner.custom
    }

    /// Moves the stored objects of `def` that were loaded before it was served (custom
    /// resources, after a restart) to where `def`'s objects live.
    pub fn adopt(&mut self, def: &'static ResourceDef) {
        let key = (def.group.to_owned(), def.plural.to_owned());
        if let Some(parked) = self.inner.parked.remove(&key) {
            self.inner
                .objects
                .entry(gr(def))
                .or_default()
                .extend(parked);
        }
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.inner.rv
    }

    /// Stores an object (created or replaced), giving it the next resourceVersion.
    pub fn put(&mut self, def: &'static ResourceDef, mut object: Value) -> Arc<Value> {
        self.inner.rv += 1;
        let rv = self.inner.rv;
        let key = key_of(&object);
        let shown_rv = if self.dry_run {
            self.inner
                .objects
                .get(&gr(def))
                .and_then(|m| m.get(&key))
                .and_then(|o| o.pointer("/metadata/resourceVersion").cloned())
        } else {
            Some(json!(rv.to_string()))
        };
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            match shown_rv {
                Some(shown) => meta.insert("resourceVersion".into(), shown),
                None => meta.shift_remove("resourceVersion"),
            };
        }
        let object = Arc::new(object);
        let previous = self
            .inner
            .objects
            .entry(gr(def))
            .or_default()
            .insert(key.clone(), object.clone());
        self.events.push(Event {
            rv,
            kind: if previous.is_some() {
                EventKind::Modified
            } else {
                EventKind::Added
            },
            def,
            object: object.clone(),
            old: previous.clone(),
        });
        self.undo.push((gr(def), key, previous));
        object
    }

    /// Removes an object; returns its last state, stamped with the deletion's
    /// resourceVersion.
    pub fn remove(
        &mut self,
        def: &'static ResourceDef,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<Value>> {
        let key = (namespace.to_owned(), name.to_owned());
        let previous = self.inner.objects.get_mut(&gr(def))?.remove(&key)?;
        self.inner.rv += 1;
        let rv = self.inner.rv;
        let mut last = (*previous).clone();
        if let Some(meta) = last.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), json!(rv.to_string()));
        }
        let last = Arc::new(last);
        self.events.push(Event {
            rv,
            kind: EventKind::Deleted,
            def,
            object: last.clone(),
            old: None,
        });
        self.undo.push((gr(def), key, Some(previous)));
        Some(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}})
    }

    #[test]
    fn writes_count_versions_and_failed_writes_leave_nothing() {
        let store = Store::open(None).unwrap();
        let def = lookup("", "v1", "configmaps").unwrap();
        let mut events = store.subscribe();
        let first = store.write(false, |txn| Ok(txn.put(def, cm("a")))).unwrap();
        assert_eq!(rv_of(&first), 1);
        let failed: ApiResult<()> = store.write(false, |txn| {
            txn.put(def, cm("b"));
            Err(ApiError::bad_request("no"))
        });
        assert!(failed.is_err());
        store.write(true, |txn| Ok(txn.put(def, cm("c")))).unwrap();
        store.read(|txn| {
            assert_eq!(txn.list(def, Some("default")).len(), 1);
            assert_eq!(txn.rv(), 1);
        });
        let event = events.try_recv().unwrap();
        assert_eq!(event.kind, EventKind::Added);
        assert!(
            events.try_recv().is_err(),
            "no event for failed or dry-run writes"
        );
    }

    #[test]
    fn objects_and_the_counter_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let def = lookup("", "v1", "configmaps").unwrap();
        {
            let store = Store::open(Some(dir.path())).unwrap();
            store.write(false, |txn| Ok(txn.put(def, cm("a")))).unwrap();
            store.write(false, |txn| Ok(txn.put(def, cm("b")))).unwrap();
            store
                .write(false, |txn| Ok(txn.remove(def, "default", "b")))
                .unwrap();
        }
        let store = Store::open(Some(dir.path())).unwrap();
        store.read(|txn| {
            assert_eq!(txn.rv(), 3);
            assert!(txn.get(def, "default", "a").is_some());
            assert!(txn.get(def, "default", "b").is_none());
        });
        assert!(matches!(
            store.watch(def, Some(1)),
            Err(ApiError::Expired(_))
        ));
        assert!(store.watch(def, Some(3)).is_ok());
    }
}
