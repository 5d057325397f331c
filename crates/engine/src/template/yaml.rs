//! Parsing one YAML document into JSON values, and rendering values back, with limits.
//!
//! `serde-saphyr` is used rather than the archived `serde_yaml` or `serde_yml` (unsound,
//! unmaintained): it is maintained, never panics on input, and enforces a budget on nesting
//! depth, node count and alias replay, which is what stops YAML bombs before they allocate.

use std::cell::Cell;
use std::rc::Rc;

use serde_json::Value;
use serde_saphyr::{Options, RenderOptions, SnippetMode, budget::Budget, options::AliasLimits};

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

/// The deepest nesting of mappings and sequences the reader accepts (the document's top
/// mapping is level 1). Saved versions stay well below it (`limits::MAX_DEPTH`).
pub(super) const PARSER_MAX_DEPTH: usize = 64;
/// The most nodes (mappings, sequences, scalars, aliases replayed) one document may have.
pub(super) const PARSER_MAX_NODES: usize = 250_000;
/// The most aliases (`*name`) one document may use.
pub(super) const PARSER_MAX_ALIASES: usize = 50_000;

fn options() -> Options {
    let mut options = Options::default();
    let mut budget = Budget::default();
    budget.max_depth = PARSER_MAX_DEPTH;
    budget.max_nodes = PARSER_MAX_NODES;
    budget.max_aliases = PARSER_MAX_ALIASES;
    options.budget = Some(budget);
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
    parse_counting(body).map(|(value, _)| value)
}

/// Parses one document and counts the aliases it uses.
pub(super) fn parse_counting(body: &str) -> Result<(Value, usize), YamlError> {
    let aliases = Rc::new(Cell::new(0));
    let seen = Rc::clone(&aliases);
    let options = options().with_budget_report(move |report| seen.set(report.aliases));
    let value = serde_saphyr::from_str_with_options::<Value>(body, options).map_err(|error| {
        let location = error.location();
        let mut render = RenderOptions::default();
        render.snippets = SnippetMode::Off;
        let plain = error.render_with_options(render);
        YamlError {
            line: location.map_or(1, |l| l.line() as usize),
            column: location.map_or(1, |l| l.column() as usize),
            message: strip_location(&plain),
        }
    })?;
    Ok((value, aliases.get()))
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
