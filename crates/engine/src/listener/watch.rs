//! Watching: image triggers that ask the registry themselves, for a laptop the registry cannot
//! call (behind NAT), or beside its notifications.
//!
//! A trigger with a watch interval has each of its repositories looked at every interval,
//! jittered by ±10 % so that many triggers do not ask at the same moment. A look costs the
//! registry as little as it can:
//!
//! - the tag list, asked with the `ETag` of the last one (a `304` when nothing changed);
//!   skipped for a trigger that follows a fixed list of tags none of which is a version;
//! - a digest `HEAD` only when there is something to deploy, or for a tag that can move
//!   (`latest`, `stable`: a tag that is not a version) to see whether it moved;
//! - nothing at all while the trigger is disabled, its application is on hold, or the
//!   registry's budget says to wait (`Retry-After`, or no requests left in the window).
//!
//! What a look finds is chosen as a push would be: among the tags the trigger's filter admits,
//! the highest version when the tags are versions (so a semver range follows its newest
//! release), otherwise a tag that appeared since the last look; or the tag in use, when its
//! digest moved. That goes down the same path as a registry's notification
//! ([`super::hooks::watched`]): the trigger's rules, the anti-downgrade guard, the no-op check,
//! the release; its access record is a call from this machine with method `WATCH`. A new tag
//! that names a lower version than the one in use goes down that path too, so the guard's
//! refusal is on the record rather than the tag silently passed over.
//!
//! The same loop deploys maturing pushes that are due, when their tag still has the digest it
//! was pushed with ([`crate::store::Maturing`]).
//!
//! Between looks a watch remembers, in the database, the tag list's `ETag` and tags, and the
//! tag it last acted on with its digest, so a restart neither repeats a deploy nor misses a
//! tag pushed while Tripline was stopped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::State;
use super::index::Entry;
use crate::registry::client::{self, TagList};
use crate::registry::{Delivery, Format, ImageRef, PushEvent};
use crate::store::WatchState;
use crate::trigger::{TagFilter, TriggerKind, semver};

/// How often the loop wakes to see what is due.
const TICK: Duration = Duration::from_secs(1);
/// Looks in flight at once. Every look that is due is started at its tick and waits here for
/// its turn: a bound on the looks started per tick would cap a watch at `PARALLEL` looks a
/// second (500 repositories at 5 s need 100).
const PARALLEL: usize = 8;
/// How long a maturing push waits before it is tried again when the registry cannot say
/// whether its tag moved.
const MATURING_RETRY: Duration = Duration::from_secs(30);

/// Starts the watch loop; it stops with `cancel`.
pub(super) fn watch_in_background(state: Arc<State>, cancel: CancellationToken) {
    tokio::spawn(async move {
        let mut due: HashMap<(i64, String), Instant> = HashMap::new();
        let mut looks: JoinSet<()> = JoinSet::new();
        let mut busy: std::collections::HashSet<(i64, String)> = Default::default();
        let turns = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(i64, String)>();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(TICK) => {}
            }
            while let Some(finished) = looks.try_join_next() {
                if let Err(error) = finished
                    && error.is_panic()
                {
                    tracing::error!(%error, "a watch's look panicked");
                }
            }
            while let Ok(key) = done_rx.try_recv() {
                busy.remove(&key);
            }
            mature(&state).await;
            let entries = match state.index.watched() {
                Ok(entries) => entries,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the watched triggers");
                    continue;
                }
            };
            let now = Instant::now();
            let mut wanted = std::collections::HashSet::new();
            for entry in entries {
                let TriggerKind::Image {
                    repositories,
                    watch: Some(seconds),
                    ..
                } = &entry.trigger.kind
                else {
                    continue;
                };
                let interval = Duration::from_secs(u64::from(*seconds));
                for repository in repositories {
                    let Ok(image) = ImageRef::parse(repository) else {
                        continue;
                    };
                    let key = (entry.trigger.id, image.full_repository());
                    wanted.insert(key.clone());
                    // A new watch starts within its first interval (at most ten seconds in).
                    let next = *due.entry(key.clone()).or_insert_with(|| {
                        now + jittered(interval.min(Duration::from_secs(10)), 0.0, 1.0)
                    });
                    if next > now || busy.contains(&key) {
                        continue;
                    }
                    due.insert(key.clone(), now + jittered(interval, 0.9, 1.1));
                    if !entry.trigger.enabled || entry.hold.is_some() {
                        continue;
                    }
                    busy.insert(key.clone());
                    let (state, entry, done) = (state.clone(), entry.clone(), done_tx.clone());
                    let turns = Arc::clone(&turns);
                    looks.spawn(async move {
                        // The semaphore is never closed.
                        if let Ok(_turn) = turns.acquire().await {
                            look(&state, &entry, &key.1).await;
                        }
                        let _ = done.send(key);
                    });
                }
            }
            due.retain(|key, _| wanted.contains(key));
        }
        looks.shutdown().await;
    });
}

/// `interval` scaled by a random factor between `low` and `high`.
fn jittered(interval: Duration, low: f64, high: f64) -> Duration {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    let unit = f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX);
    interval.mul_f64(low + (high - low) * unit)
}

/// Whether a tag names a version (`1.4.2`, `v2`, `1.27.0-alpine`): such tags are taken not
/// to move; any other (`latest`, `stable`, `main`) may be pushed again with new content.
pub(crate) fn is_version(tag: &str) -> bool {
    semver::tag_version(tag).is_some()
}

/// Of the tags that appeared since the last look and pass the filter, the versions lower than
/// `current` (at most [`MAX_LOWER`]): they go down the push path too, where the
/// anti-downgrade guard refuses them on the record (a lower version pushed is never silently
/// ignored, nor deployed unless the trigger allows downgrades).
fn lower_new<'t>(
    tags: &'t [String],
    known: &[String],
    current: Option<&str>,
    admits: impl Fn(&str) -> bool,
) -> Vec<&'t String> {
    let Some(current) = current else {
        return Vec::new();
    };
    tags.iter()
        .filter(|t| !known.contains(t) && admits(t))
        .filter(|t| semver::is_lower(t, current) == Some(true))
        .take(MAX_LOWER)
        .collect()
}

/// The most lower versions one look sends down the push path.
const MAX_LOWER: usize = 5;

/// One look at one repository of one trigger.
async fn look(state: &Arc<State>, entry: &Arc<Entry>, repository: &str) {
    let trigger = &entry.trigger;
    let TriggerKind::Image { filter, .. } = &trigger.kind else {
        return;
    };
    let Ok(target) = client::Repository::parse(repository) else {
        return;
    };
    if let Some(budget) = state.registry.client().budgets().get(target.host()) {
        let now = jiff::Timestamp::now();
        let waiting = budget.retry_at.is_some_and(|at| at > now);
        let spent = budget.remaining == Some(0)
            && budget.window.is_none_or(|w| {
                budget.seen + jiff::SignedDuration::try_from(w).unwrap_or_default() > now
            });
        if waiting || spent {
            tracing::debug!(repository, "the registry's budget says to wait; not asked");
            return;
        }
    }
    let known = match state.with_store(|s| s.watch_state(trigger.id, repository)) {
        Ok(known) => known,
        Err(error) => {
            tracing::warn!(%error, trigger = %trigger.name, "cannot read a watch's state");
            return;
        }
    };
    let first = known.is_none();
    let mut seen = known.unwrap_or_default();
    if first {
        // What the application uses now is where the watch starts.
        if let Some((tag, digest)) = in_use(state, entry, repository) {
            seen.tag = Some(tag);
            seen.digest = digest;
        }
    }
    let before = seen.clone();
    let session = match state.registry.session(repository) {
        Ok(session) => session,
        Err(error) => {
            tracing::warn!(%error, trigger = %trigger.name, "cannot watch a repository");
            seen.error = Some(error.to_string());
            save(state, trigger.id, repository, &before, &seen);
            return;
        }
    };
    let matcher = entry.matcher.tags();
    // 1. The tag list, unless the trigger follows fixed tags that are not versions.
    let fixed = matches!(filter, TagFilter::Tags { tags } if !tags.iter().any(|t| is_version(t)));
    let mut candidate: Option<String> = None;
    let mut lower: Vec<String> = Vec::new();
    if !fixed {
        let listed = session.lock().await.tags(seen.etag.as_deref()).await;
        match listed {
            Ok(TagList::Unchanged) => {}
            Ok(TagList::Tags { tags, etag }) => {
                let admitted: Vec<&String> = tags
                    .iter()
                    .filter(|t| matcher.admits(t).admitted())
                    .collect();
                if !first {
                    lower = lower_new(&tags, &seen.tags, seen.tag.as_deref(), |t| {
                        matcher.admits(t).admitted()
                    })
                    .into_iter()
                    .cloned()
                    .collect();
                }
                candidate = match matcher.best(&tags) {
                    Some(best) => Some(best.to_owned()),
                    // Tags that are not versions have no order: one that appeared since the
                    // last look (none on the first: the watch starts from what is there).
                    None if !first => admitted
                        .iter()
                        .rev()
                        .find(|t| !seen.tags.contains(t))
                        .map(|t| (*t).clone()),
                    None => None,
                };
                seen.tags = tags;
                seen.etag = etag;
            }
            Err(error) => {
                tracing::info!(%error, trigger = %trigger.name, "a watch could not read the tag list");
                seen.error = Some(error.to_string());
                save(state, trigger.id, repository, &before, &seen);
                return;
            }
        }
    }
    seen.error = None;
    for tag in &lower {
        let digest = match session.lock().await.digest(tag).await {
            Ok(manifest) => manifest.digest,
            Err(error) => {
                tracing::info!(%error, trigger = %trigger.name, tag, "a watch could not read a digest");
                continue;
            }
        };
        fire(state, entry, repository, tag, &digest).await;
    }
    // 2. A new choice, or the tag in use when it can move.
    let (tag, moved_only) = match candidate {
        Some(tag) if Some(&tag) != seen.tag.as_ref() => (tag, false),
        _ => match seen.tag.clone() {
            Some(tag) if !is_version(&tag) && matcher.admits(&tag).admitted() => (tag, true),
            _ => {
                save(state, trigger.id, repository, &before, &seen);
                return;
            }
        },
    };
    let digest = match session.lock().await.digest(&tag).await {
        Ok(manifest) => manifest.digest,
        Err(error) => {
            tracing::info!(%error, trigger = %trigger.name, tag, "a watch could not read a digest");
            seen.error = Some(error.to_string());
            save(state, trigger.id, repository, &before, &seen);
            return;
        }
    };
    if moved_only && seen.digest.as_deref() == Some(digest.as_str()) {
        save(state, trigger.id, repository, &before, &seen);
        return;
    }
    if moved_only && seen.digest.is_none() {
        // The first digest seen of a tag in use: where the watch starts, not a move.
        seen.digest = Some(digest);
        save(state, trigger.id, repository, &before, &seen);
        return;
    }
    seen.tag = Some(tag.clone());
    seen.digest = Some(digest.clone());
    save(state, trigger.id, repository, &before, &seen);
    fire(state, entry, repository, &tag, &digest).await;
}

/// Sends what a look found down the push path, recorded as a `WATCH` call.
async fn fire(state: &Arc<State>, entry: &Entry, repository: &str, tag: &str, digest: &str) {
    let Ok(image) = ImageRef::parse(&format!("{repository}:{tag}@{digest}")) else {
        return;
    };
    let delivery = Delivery {
        format: Format::Watch,
        events: vec![PushEvent::new(Format::Watch, image)],
        skipped: Vec::new(),
    };
    let path = format!("/watch/{repository}");
    let status = super::hooks::watched(state, entry, delivery, &path, false).await;
    let trigger = &entry.trigger.name;
    tracing::info!(trigger, repository, tag, digest, status, "a watch acted");
}

fn save(state: &State, trigger: i64, repository: &str, before: &WatchState, now: &WatchState) {
    if before == now {
        return;
    }
    if let Err(error) = state.with_store(|s| s.save_watch_state(trigger, repository, now)) {
        tracing::warn!(%error, "cannot keep a watch's state");
    }
}

/// The tag (and digest) the application's latest template version uses for `repository`, for
/// a template application; `None` for the others (their watch starts from the tags there).
fn in_use(state: &State, entry: &Entry, repository: &str) -> Option<(String, Option<String>)> {
    if !matches!(
        entry.source,
        Some(crate::app::Source::Template { .. }) | None
    ) {
        return None;
    }
    let version = state
        .with_store(|s| s.version(&entry.template, None))
        .ok()?;
    let manifest = crate::template::Manifest::parse_recent(&version.content).ok()?;
    let wanted = ImageRef::parse(repository).ok()?;
    crate::trigger::matching::images(&manifest)
        .into_iter()
        .find(|image| image.same_repository(&wanted))
        .and_then(|image| Some((image.tag()?.to_owned(), image.digest().map(str::to_owned))))
}

/// Deploys the maturing pushes that are due, when the registry says their tag still has the
/// digest it was pushed with; a tag that moved meanwhile is let go (its new push, received
/// or watched, matures in its place).
async fn mature(state: &Arc<State>) {
    let now = jiff::Timestamp::now();
    let due = match state.with_store(|s| s.due_maturing(&now.to_string())) {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(%error, "cannot read the maturing pushes");
            return;
        }
    };
    for held in due {
        let entry = match state.index.by_trigger(held.trigger_id) {
            Ok(Some(entry)) => entry,
            _ => continue,
        };
        if !entry.trigger.enabled || entry.hold.is_some() {
            continue;
        }
        let digest = match state.registry.digest(&held.repository, &held.tag).await {
            Ok(manifest) => manifest.digest,
            Err((error, _)) => {
                tracing::info!(%error, tag = held.tag, "a maturing push waits: its tag cannot be read");
                let mut later = held.clone();
                later.due_at = (now
                    + jiff::SignedDuration::try_from(MATURING_RETRY).unwrap_or_default())
                .to_string();
                let _ = state.with_store(|s| s.hold_maturing(&later));
                continue;
            }
        };
        match state.with_store(|s| s.release_maturing(&held)) {
            Ok(true) => {}
            _ => continue,
        }
        if digest != held.digest {
            tracing::info!(
                tag = held.tag,
                pushed = held.digest,
                now = digest,
                "a maturing push's tag moved before it was due; not deployed"
            );
            continue;
        }
        let Ok(image) = ImageRef::parse(&format!("{}:{}@{}", held.repository, held.tag, digest))
        else {
            continue;
        };
        let delivery = Delivery {
            format: Format::Watch,
            events: vec![PushEvent::new(Format::Watch, image)],
            skipped: Vec::new(),
        };
        let path = format!("/matured/{}", held.repository);
        super::hooks::watched(state, &entry, delivery, &path, true).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_tags_are_told_from_moving_ones() {
        for tag in ["1", "1.4", "v1.4.2", "1.27.0-alpine", "2.0.0-rc1"] {
            assert!(is_version(tag), "{tag}");
        }
        for tag in ["latest", "stable", "main", "", "v", "sha-abc123", ".1"] {
            assert!(!is_version(tag), "{tag}");
        }
    }

    #[test]
    fn new_lower_versions_are_the_ones_sent_for_the_guard() {
        let tags: Vec<String> = ["1.0.0", "1.1.0", "1.0.5", "0.9", "latest", "1.2.0", "0.1"]
            .iter()
            .map(|t| t.to_string())
            .collect();
        let known: Vec<String> = vec!["1.0.0".into(), "1.1.0".into(), "0.1".into()];
        let all = |_: &str| true;
        let lower = lower_new(&tags, &known, Some("1.1.0"), all);
        assert_eq!(lower, ["1.0.5", "0.9"], "new, a version, lower than in use");
        let no_zero = |t: &str| !t.starts_with('0');
        assert_eq!(lower_new(&tags, &known, Some("1.1.0"), no_zero), ["1.0.5"]);
        assert!(lower_new(&tags, &known, None, all).is_empty());
        assert!(lower_new(&tags, &known, Some("latest"), all).is_empty());
        let many: Vec<String> = (0..20).map(|n| format!("0.{n}")).collect();
        assert_eq!(lower_new(&many, &[], Some("1.0"), all).len(), MAX_LOWER);
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let interval = Duration::from_secs(100);
        for _ in 0..200 {
            let d = jittered(interval, 0.9, 1.1);
            assert!(
                d >= Duration::from_secs(90) && d <= Duration::from_secs(110),
                "{d:?}"
            );
        }
    }
}
