//! The last few parsed templates, kept so one text is parsed once on its way from a trigger
//! call to the cluster: the call patches the latest version (parsed), saves the result
//! (remembered here), and the deploy worker reads that version back and diffs it against the
//! deployed one, both found here instead of parsed again.
//!
//! Parsing is a pure function of the text, so an entry is found by comparing whole texts
//! (length first), never by a hash that could collide.

use std::sync::{Arc, Mutex, PoisonError};

use super::Manifest;

/// Texts kept at most.
const MAX_ENTRIES: usize = 8;
/// Bytes of text kept at most, over all entries; a larger template is not kept.
const MAX_BYTES: usize = 8 * 1024 * 1024;

static RECENT: Mutex<Vec<Arc<Manifest>>> = Mutex::new(Vec::new());

fn recent() -> std::sync::MutexGuard<'static, Vec<Arc<Manifest>>> {
    // The list is valid after any panic: entries are only added or removed whole.
    RECENT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The manifest parsed from `text`, if it is kept (and moves it to the front).
pub(super) fn find(text: &str) -> Option<Arc<Manifest>> {
    let mut recent = recent();
    let at = recent.iter().position(|m| m.text() == text)?;
    let found = recent.remove(at);
    recent.insert(0, Arc::clone(&found));
    Some(found)
}

/// Keeps `manifest` at the front, dropping the least recently used beyond the limits.
pub(super) fn keep(manifest: Arc<Manifest>) {
    if manifest.text().len() > MAX_BYTES / 2 {
        return;
    }
    let mut recent = recent();
    recent.retain(|m| m.text() != manifest.text());
    recent.insert(0, manifest);
    let mut total = 0;
    let mut count = 0;
    recent.retain(|m| {
        total += m.text().len();
        count += 1;
        total <= MAX_BYTES && count <= MAX_ENTRIES
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_map(name: &str) -> String {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
    }

    #[test]
    fn a_kept_text_is_found_whole_and_only_whole() {
        let text = config_map("recent-kept");
        let manifest = Manifest::parse_recent(&text).unwrap();
        assert_eq!(*find(&text).unwrap(), manifest);
        assert!(find(&text[..text.len() - 1]).is_none());
        assert!(find(&config_map("recent-never-parsed")).is_none());
    }

    #[test]
    fn the_oldest_entries_go_first_and_large_texts_are_not_kept() {
        let texts: Vec<String> = (0..MAX_ENTRIES + 4)
            .map(|i| config_map(&format!("recent-lru-{i}")))
            .collect();
        for text in &texts {
            keep(Arc::new(Manifest::parse(text).unwrap()));
        }
        // Other tests share the list; the newest of ours are still there, the first are not.
        assert!(find(texts.last().unwrap()).is_some());
        assert!(find(&texts[0]).is_none());
        // Over the limit in documents each below the largest a document may be.
        let large = (0..3)
            .map(|i| {
                format!(
                    "{}data:\n  big: {}\n",
                    config_map(&format!("recent-large-{i}")),
                    "x".repeat(MAX_BYTES / 6)
                )
            })
            .collect::<Vec<_>>()
            .join("---\n");
        keep(Arc::new(Manifest::parse(&large).unwrap()));
        assert!(find(&large).is_none());
    }

    #[test]
    fn an_error_is_not_kept_and_is_the_same_error_every_time() {
        let text = "apiVersion: v1\nkind: ConfigMap\n";
        let first = Manifest::parse_recent(text).unwrap_err().to_string();
        assert_eq!(Manifest::parse_recent(text).unwrap_err().to_string(), first);
        assert!(find(text).is_none());
    }
}
