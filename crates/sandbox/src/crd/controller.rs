//! Establishing CRDs: the part of the API server that turns a stored CRD into served
//! resources.
//!
//! [`Controller::run`] follows the store's change events. For every CRD that changed it
//! checks the requested names against the accepted names of the group's other CRDs, writes
//! `acceptedNames` and the `NamesAccepted` and `Established` conditions through `/status`
//! (manager `kube-apiserver`, as the real server), and serves the established CRD's versions
//! from the [`super::Registry`]. A CRD that is gone stops being served and its custom
//! resources are deleted. [`restore`] does the same for every stored CRD when the sandbox
//! starts, so persisted custom resources are served again before the first request.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::definition::{self, is_crd};
use crate::managed::Writer;
use crate::objects::{self, Managed, meta_str};
use crate::resources::{self, ResourceDef};
use crate::status::ApiResult;
use crate::store::{Store, Txn};

/// The manager of the status the server writes.
const MANAGER: &str = "kube-apiserver";

fn crd_def() -> &'static ResourceDef {
    resources::known("apiextensions.k8s.io/v1", "CustomResourceDefinition")
}

/// Establishes every stored CRD now; called before the sandbox serves its first request.
pub(crate) fn restore(store: &Store) {
    reconcile_all(store);
}

/// The CRD establishing task.
pub(crate) struct Controller {
    store: Arc<Store>,
}

impl Controller {
    /// A controller over `store`.
    pub fn new(store: Arc<Store>) -> Controller {
        Controller { store }
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut events = self.store.subscribe();
        reconcile_all(&self.store);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                event = events.recv() => match event {
                    Ok(event) if is_crd(event.def) => {
                        let name = meta_str(&event.object, "name").unwrap_or_default().to_owned();
                        reconcile(&self.store, &name);
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => reconcile_all(&self.store),
                    Err(RecvError::Closed) => break,
                },
            }
        }
    }
}

fn reconcile_all(store: &Store) {
    let mut names: Vec<String> = store.read(|txn| {
        txn.list(crd_def(), None)
            .iter()
            .filter_map(|crd| meta_str(crd, "name").map(str::to_owned))
            .collect()
    });
    names.extend(store.read(|txn| txn.custom().crd_names()));
    names.sort();
    names.dedup();
    for name in names {
        reconcile(store, &name);
    }
}

fn reconcile(store: &Store, name: &str) {
    let result = store.write(false, |txn| match txn.get(crd_def(), "", name) {
        None => {
            withdraw(txn, name);
            Ok(())
        }
        Some(crd) => establish(txn, &crd),
    });
    if let Err(error) = result {
        tracing::warn!(crd = name, %error, "sandbox: could not establish a CustomResourceDefinition");
    }
}

/// Stops serving a deleted CRD's resources and deletes them.
fn withdraw(txn: &mut Txn<'_>, name: &str) {
    for def in txn.custom_mut().withdraw(name) {
        for object in txn.list(def, None) {
            let namespace = meta_str(&object, "namespace")
                .unwrap_or_default()
                .to_owned();
            let object_name = meta_str(&object, "name").unwrap_or_default().to_owned();
            txn.remove(def, &namespace, &object_name);
        }
    }
}

fn condition(kind: &str, ok: bool, reason: &str, message: &str, old: &Value, time: &str) -> Value {
    let status = if ok { "True" } else { "False" };
    let previous = old
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        });
    let since = match previous {
        Some(p) if p.get("status").and_then(Value::as_str) == Some(status) => p
            .get("lastTransitionTime")
            .cloned()
            .unwrap_or_else(|| json!(time)),
        _ => json!(time),
    };
    json!({
        "type": kind,
        "status": status,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    })
}

fn establish(txn: &mut Txn<'_>, crd: &Arc<Value>) -> ApiResult<()> {
    let name = meta_str(crd, "name").unwrap_or_default().to_owned();
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let others: Vec<Value> = txn
        .list(crd_def(), None)
        .iter()
        .filter(|other| {
            meta_str(other, "name") != Some(name.as_str())
                && other.pointer("/spec/group").and_then(Value::as_str) == Some(group.as_str())
        })
        .filter_map(|other| other.pointer("/status/acceptedNames").cloned())
        .collect();
    let requested = definition::requested_names(crd);
    let conflict = definition::name_conflict(&requested, &others);
    let time = objects::now();
    let was_established = crd
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Established")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        });
    let mut status = crd.get("status").cloned().unwrap_or(json!({}));
    let (names_accepted, established) = match &conflict {
        None => {
            status["acceptedNames"] = requested;
            (
                condition(
                    "NamesAccepted",
                    true,
                    "NoConflicts",
                    "no conflicts found",
                    crd,
                    &time,
                ),
                condition(
                    "Established",
                    true,
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                    crd,
                    &time,
                ),
            )
        }
        Some(message) => (
            condition("NamesAccepted", false, "NameConflict", message, crd, &time),
            if was_established {
                condition(
                    "Established",
                    true,
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                    crd,
                    &time,
                )
            } else {
                condition(
                    "Established",
                    false,
                    "NotAccepted",
                    "not all names are accepted",
                    crd,
                    &time,
                )
            },
        ),
    };
    let mut conditions: Vec<Value> = status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| {
            !matches!(
                c.get("type").and_then(Value::as_str),
                Some("NamesAccepted" | "Established")
            )
        })
        .collect();
    conditions.insert(0, established);
    conditions.insert(0, names_accepted);
    status["conditions"] = json!(conditions);
    let current = if crd.get("status") == Some(&status) {
        crd.clone()
    } else {
        let mut new = (**crd).clone();
        new["status"] = status;
        let writer = Writer {
            manager: MANAGER,
            subresource: Some("status"),
            time: &time,
        };
        objects::update(txn, crd_def(), crd, new, &Managed::Update(writer))?
    };
    let serving = conflict.is_none() || was_established;
    if serving {
        let kinds = definition::served_kinds(&current);
        for def in txn.custom_mut().serve(&name, kinds) {
            txn.adopt(def);
        }
    } else {
        txn.custom_mut().withdraw(&name);
    }
    Ok(())
}
