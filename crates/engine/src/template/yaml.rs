//! Parsing one YAML document into JSON values, and rendering values back, with limits.
//!
//! `serde-saphyr` is used rather than the archived `serde_yaml` or `serde_yml` (unsound,
//! unmaintained): it is maintained, never panics on input, and enforces a budget on nesting
//! depth, node count and alias replay, which is what stops YAML bombs before they allocate.

use serde_json::Value;
use serde_saphyr::{Options, RenderOptions, SnippetMode, options::AliasLimits};

/// A YAML error with its position inside the document.
#[derive(Debug)]
pub(super) struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Alias replays allowed in one document: a real manifest uses a handful; a billion-laughs
/// document needs millions.
const MAX_REPLAYED_EVENTS: usize = 100_000;

fn options() -> Options {
    let mut options = Options::default();
    let mut limits = AliasLimits::default();
    limits.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    limits.max_replay_stack_depth = 16;
    limits.max_alias_expansions_per_anchor = 1_000;
    options.alias_limits = limits;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options
}

/// Parses one document. A blank document parses to `Value::Null`.
pub(super) fn parse(body: &str) -> Result<Value, YamlError> {
    serde_saphyr::from_str_with_options::<Value>(body, options()).map_err(|error| {
        let location = error.location();
        let mut render = RenderOptions::default();
        render.snippets = SnippetMode::Off;
        let plain = error.render_with_options(render);
        YamlError {
            line: location.map_or(1, |l| l.line() as usize),
            column: location.map_or(1, |l| l.column() as usize),
            message: strip_location(&plain),
        }
    })
}

/// Drops the parser's own "at line X column Y" suffix: our message carries the position
/// relative to the whole template instead.
fn strip_location(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    match first.rfind(" at line ") {
        Some(at) => first[..at].to_owned(),
        None => first.to_owned(),
    }
}

/// Renders one object as a YAML document body (ending in a newline, no `---`).
pub(super) fn render(value: &Value) -> Result<String, String> {
    let mut text = serde_saphyr::to_string(value).map_err(|e| e.to_string())?;
    if let Some(stripped) = text.strip_prefix("---\n") {
        text = stripped.to_owned();
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}
