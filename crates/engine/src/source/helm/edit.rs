//! Editing a values text in place: [`set_scalar`] replaces the scalar at a key path, or adds the
//! key (and the maps on the way) under the deepest map of the path that exists, and leaves every
//! other byte as it was: comments, blank lines, key order, quoting, anchors.
//!
//! The text is read with granit-parser (the parser serde-saphyr is built on, which it exports),
//! which places every node in the text, and the edit is one splice computed from those places:
//!
//! - a scalar that exists is replaced where it stands, in its own quotes when it had some and in
//!   plain style only when the new value reads back as the same string (`1.10` is quoted);
//!   a block scalar (`|`, `>`) or a tagged one (`!!int 5`) becomes a quoted scalar;
//! - a key a block map lacks goes on a line of its own after the map's last entry, at the
//!   entries' indentation; in a flow map (`{a: 1}`) it goes after the last entry;
//! - an empty or null parent (`image:`, `image: ~`) becomes a map holding the key.
//!
//! A list, a string, a number or an alias on the path is refused ([`Refusal`]). Callers check
//! the result by reading it back (see `values`): an edit that would change anything but the
//! key (an anchor shared with other keys, say) is caught there.

use serde_saphyr::granit_parser::{self, Event, Parser, ScalarStyle, StructureStyle};

/// Why a path cannot be set in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The first `depth` segments of the path name something that is not a map (`what`).
    NotAMap {
        /// How many segments lead to it (0: the top of the document).
        depth: usize,
        /// What it is: "a list", "a string", "an alias".
        what: &'static str,
    },
    /// The path names a map or a list, not a value.
    NotAValue {
        /// "a map" or "a list".
        what: &'static str,
    },
    /// The text does not parse (the caller has parsed it before: this is not expected).
    Unreadable(String),
}

/// A node of the document, with where it is in the text (byte offsets).
#[derive(Debug)]
struct Node {
    /// Where its text starts (its tag, when it has one).
    start: usize,
    /// Where its text ends (exclusive): after the closing bracket of a flow collection, after
    /// the last entry of a block collection, after the last non-blank character of a block
    /// scalar.
    end: usize,
    /// Its column (for a block map: the column of its keys).
    column: usize,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Scalar {
        value: String,
        style: ScalarStyle,
    },
    Alias,
    Map {
        flow: bool,
        entries: Vec<(Node, Node)>,
    },
    List,
}

impl Node {
    fn what(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar { .. } if self.is_null() => "empty",
            Kind::Scalar { value, style } => match (style, value.as_str()) {
                (ScalarStyle::Plain, "true" | "false" | "True" | "False" | "TRUE" | "FALSE") => {
                    "a boolean"
                }
                (ScalarStyle::Plain, v) if v.parse::<f64>().is_ok() => "a number",
                _ => "a string",
            },
            Kind::Alias => "an alias",
            Kind::Map { .. } => "a map",
            Kind::List => "a list",
        }
    }

    fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: ScalarStyle::Plain }
            if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }
}

/// Reads the first document of `text` into nodes; `None` when it holds none (empty, or only
/// comments).
fn read(text: &str) -> Result<Option<Node>, Refusal> {
    let mut options = granit_parser::Options::default();
    options.emit_comments = false;
    let mut events = Events {
        parser: Parser::new_from_str_with_options(text, options),
        text,
    };
    loop {
        match events.next()? {
            (Event::DocumentStart(..), _) => break,
            (Event::StreamEnd, _) => return Ok(None),
            _ => {}
        }
    }
    let (event, span) = events.next()?;
    if matches!(event, Event::DocumentEnd) {
        return Ok(None);
    }
    events.node(event, span).map(Some)
}

struct Events<'a> {
    parser: Parser<'a, granit_parser::StrInput<'a>>,
    text: &'a str,
}

/// A span's start and end as byte offsets, and its start column.
struct Place {
    start: usize,
    end: usize,
    column: usize,
    tag: Option<usize>,
}

impl<'a> Events<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Place), Refusal> {
        let (event, span) = self
            .parser
            .next()
            .ok_or_else(|| Refusal::Unreadable("the text ends early".into()))?
            .map_err(|e| Refusal::Unreadable(e.to_string()))?;
        let offset = |marker: granit_parser::Marker| {
            marker
                .byte_offset()
                .ok_or_else(|| Refusal::Unreadable("no byte offsets".into()))
        };
        let place = Place {
            start: offset(span.start)?,
            end: offset(span.end)?,
            column: span.start.col(),
            tag: span.tag_start().and_then(|m| m.byte_offset()),
        };
        Ok((event, place))
    }

    fn node(&mut self, event: Event<'a>, place: Place) -> Result<Node, Refusal> {
        let start = place.tag.map_or(place.start, |tag| tag.min(place.start));
        match event {
            Event::Scalar(value, style, ..) => {
                if place.start == place.end {
                    // An empty value (`key:`) is placed at its key's end: place it after the
                    // colon, where a value would go.
                    let rest = &self.text[place.start..];
                    let after = rest.trim_start_matches([' ', '\t']);
                    if after.starts_with(':') {
                        let at = place.start + (rest.len() - after.len()) + 1;
                        return Ok(Node {
                            start: at,
                            end: at,
                            column: place.column,
                            kind: Kind::Scalar {
                                value: value.into_owned(),
                                style,
                            },
                        });
                    }
                }
                let end = if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    // The span runs to the next line's indentation: end at the last character.
                    place.start + self.text[place.start..place.end].trim_end().len()
                } else {
                    place.end
                };
                Ok(Node {
                    start,
                    end,
                    column: place.column,
                    kind: Kind::Scalar {
                        value: value.into_owned(),
                        style,
                    },
                })
            }
            Event::Alias(_) => Ok(Node {
                start,
                end: place.end,
                column: place.column,
                kind: Kind::Alias,
            }),
            Event::MappingStart(style, ..) => {
                let mut entries = Vec::new();
                let mut end = place.end;
                loop {
                    let (event, at) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        if style == StructureStyle::Flow {
                            end = at.end;
                        }
                        break;
                    }
                    let key = self.node(event, at)?;
                    let (event, at) = self.next()?;
                    let value = self.node(event, at)?;
                    if style == StructureStyle::Block {
                        end = value.end.max(key.end);
                    }
                    entries.push((key, value));
                }
                let column = match (style, entries.first()) {
                    (StructureStyle::Block, Some((key, _))) => key.column,
                    _ => place.column,
                };
                let start = match (style, entries.first()) {
                    (StructureStyle::Block, Some((key, _))) => start.min(key.start),
                    _ => start,
                };
                Ok(Node {
                    start,
                    end,
                    column,
                    kind: Kind::Map {
                        flow: style == StructureStyle::Flow,
                        entries,
                    },
                })
            }
            Event::SequenceStart(style, ..) => {
                let mut end = place.end;
                loop {
                    let (event, at) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        if style == StructureStyle::Flow {
                            end = at.end;
                        }
                        break;
                    }
                    let item = self.node(event, at)?;
                    if style == StructureStyle::Block {
                        end = item.end;
                    }
                }
                Ok(Node {
                    start,
                    end,
                    column: place.column,
                    kind: Kind::List,
                })
            }
            other => Err(Refusal::Unreadable(format!("unexpected {other:?}"))),
        }
    }
}

/// `text` with the scalar at `path` set to `value` (or added), every other byte kept.
pub(super) fn set_scalar(text: &str, path: &[String], value: &str) -> Result<String, Refusal> {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let Some(root) = read(text)? else {
        // Nothing but comments: the keys go at the end.
        return Ok(append_block(text, 0, path, value, newline));
    };
    let (last, parents) = path.split_last().expect("a path has a segment");
    let mut node = &root;
    let mut parent: Option<(&Node, &Node)> = None; // the map holding `node`, and `node`'s key
    for (depth, segment) in parents.iter().enumerate() {
        match &node.kind {
            Kind::Map { entries, .. } => match find(entries, segment) {
                Some((key, value)) => {
                    parent = Some((node, key));
                    node = value;
                }
                None => return Ok(add(text, node, &path[depth..], value, newline)),
            },
            _ if node.is_null() => {
                return Ok(fill_null(
                    text,
                    node,
                    parent,
                    &path[depth..],
                    value,
                    newline,
                ));
            }
            _ => {
                return Err(Refusal::NotAMap {
                    depth,
                    what: node.what(),
                });
            }
        }
    }
    let entries = match &node.kind {
        Kind::Map { entries, .. } => entries,
        _ if node.is_null() => {
            let rest = std::slice::from_ref(last);
            return Ok(fill_null(text, node, parent, rest, value, newline));
        }
        _ => {
            return Err(Refusal::NotAMap {
                depth: parents.len(),
                what: node.what(),
            });
        }
    };
    let Some((key, leaf)) = find(entries, last) else {
        return Ok(add(text, node, std::slice::from_ref(last), value, newline));
    };
    match &leaf.kind {
        Kind::Map { .. } | Kind::List => Err(Refusal::NotAValue { what: leaf.what() }),
        Kind::Alias => Ok(splice(text, leaf.start, leaf.end, &scalar(value, None))),
        Kind::Scalar { style, .. } => {
            if leaf.start == leaf.end {
                // `key:` with nothing after it.
                return Ok(splice(
                    text,
                    leaf.start,
                    leaf.end,
                    &format!(" {}", scalar(value, None)),
                ));
            }
            let start = match style {
                ScalarStyle::Literal | ScalarStyle::Folded => {
                    block_indicator(text, key.end, leaf.start)
                }
                _ => leaf.start,
            };
            let keep = match style {
                ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Some(*style),
                _ => None,
            };
            Ok(splice(text, start, leaf.end, &scalar(value, keep)))
        }
    }
}

/// The entry of `entries` whose key is the scalar `name` (the last one, if it is there twice).
fn find<'n>(entries: &'n [(Node, Node)], name: &str) -> Option<(&'n Node, &'n Node)> {
    entries
        .iter()
        .rev()
        .find(|(key, _)| matches!(&key.kind, Kind::Scalar { value, .. } if value == name))
        .map(|(key, value)| (key, value))
}

/// Where a block scalar's header (`|`, `>-`, with its tag or anchor) starts: the first
/// non-blank character after the key's colon.
fn block_indicator(text: &str, key_end: usize, content: usize) -> usize {
    let between = &text[key_end..content];
    let after_colon = between.find(':').map_or(key_end, |i| key_end + i + 1);
    let rest = &text[after_colon..content];
    after_colon + (rest.len() - rest.trim_start().len())
}

/// Adds `rest` (one or more segments) with `value` to the map `map`, which lacks `rest[0]`.
fn add(text: &str, map: &Node, rest: &[String], value: &str, newline: &str) -> String {
    let Kind::Map { flow, entries } = &map.kind else {
        unreachable!("only maps get keys added");
    };
    if *flow {
        let entry = flow_entry(rest, value);
        return match entries.last() {
            Some((_, last)) => splice(text, last.end, last.end, &format!(", {entry}")),
            // After the `{`.
            None => splice(text, map.start + 1, map.start + 1, &entry),
        };
    }
    let at = line_end(text, map.end);
    let block = block_lines(map.column, rest, value, newline);
    if at == text.len() && !text.ends_with('\n') {
        return format!("{text}{newline}{block}");
    }
    splice(text, at, at, &block)
}

/// Replaces a null value (`key:`, `key: ~`, an empty document) with a map holding `rest`.
fn fill_null(
    text: &str,
    null: &Node,
    parent: Option<(&Node, &Node)>,
    rest: &[String],
    value: &str,
    newline: &str,
) -> String {
    let flow_parent = matches!(
        parent,
        Some((
            Node {
                kind: Kind::Map { flow: true, .. },
                ..
            },
            _
        ))
    );
    if flow_parent {
        let entry = format!("{{{}}}", flow_entry(rest, value));
        let entry = if null.start == null.end {
            format!(" {entry}")
        } else {
            entry
        };
        return splice(text, null.start, null.end, &entry);
    }
    let indent = match parent {
        Some((_, key)) => key.column + 2,
        None => 0,
    };
    // The null's own text goes; whatever follows it on its line (a comment) stays, and the
    // map starts on the next line.
    let at = line_end(text, null.end);
    let after = &text[null.end..at];
    let ends_line = at < text.len();
    let mut replacement = after.trim_end_matches(['\n', '\r']).to_owned();
    if parent.is_some() || !text[..null.start].trim().is_empty() {
        replacement.push_str(newline);
    }
    replacement.push_str(&block_lines(indent, rest, value, newline));
    if !ends_line {
        replacement.truncate(replacement.trim_end_matches(['\n', '\r']).len());
        replacement.push_str(newline);
    }
    let start = trim_space_before(text, null.start);
    splice(text, start, at, &replacement)
}

/// `position` moved back over spaces and tabs (so `key: ~` does not keep a trailing space).
fn trim_space_before(text: &str, position: usize) -> usize {
    position - (text[..position].len() - text[..position].trim_end_matches([' ', '\t']).len())
}

/// `text` with the empty-or-not range `[start, end)` replaced by `with`.
fn splice(text: &str, start: usize, end: usize, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..start]);
    out.push_str(with);
    out.push_str(&text[end..]);
    out
}

/// Where the line holding `position` ends: just after its line break, or the end of the text.
fn line_end(text: &str, position: usize) -> usize {
    text[position..]
        .find('\n')
        .map_or(text.len(), |i| position + i + 1)
}

/// `rest` as block lines at `indent` (two more spaces per level), ending with a line break.
fn block_lines(indent: usize, rest: &[String], value: &str, newline: &str) -> String {
    let mut out = String::new();
    for (level, segment) in rest.iter().enumerate() {
        out.push_str(&" ".repeat(indent + 2 * level));
        out.push_str(&key(segment));
        if level + 1 == rest.len() {
            out.push_str(": ");
            out.push_str(&scalar(value, None));
        } else {
            out.push(':');
        }
        out.push_str(newline);
    }
    out
}

/// `block_lines` for a text that holds no document: after it, on a line of their own.
fn append_block(text: &str, indent: usize, rest: &[String], value: &str, newline: &str) -> String {
    let mut out = text.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(newline);
    }
    out.push_str(&block_lines(indent, rest, value, newline));
    out
}

/// `a: {b: value}` for `rest = [a, b]`.
fn flow_entry(rest: &[String], value: &str) -> String {
    let (first, deeper) = rest.split_first().expect("a path has a segment");
    if deeper.is_empty() {
        format!("{}: {}", key(first), scalar(value, None))
    } else {
        format!("{}: {{{}}}", key(first), flow_entry(deeper, value))
    }
}

/// A key as written: plain when that reads back as the same string, else double-quoted.
fn key(name: &str) -> String {
    if plain_is_string(name) {
        name.to_owned()
    } else {
        double_quoted(name)
    }
}

/// A string value as written: in the quotes it had (`keep`), else plain when that reads back
/// as the same string (in YAML 1.1 and 1.2: `1.10`, `yes` and `null` are quoted), else
/// double-quoted.
fn scalar(value: &str, keep: Option<ScalarStyle>) -> String {
    match keep {
        Some(ScalarStyle::SingleQuoted) if !value.chars().any(char::is_control) => {
            format!("'{}'", value.replace('\'', "''"))
        }
        Some(ScalarStyle::DoubleQuoted) => double_quoted(value),
        _ if plain_is_string(value) => value.to_owned(),
        _ => double_quoted(value),
    }
}

/// True when `text` written plain reads back as the string `text` in YAML 1.1 and 1.2 (what
/// Helm's reader and Tripline's both take): it starts with a letter, holds only characters
/// that mean nothing in a plain scalar, and is not a boolean or null word.
fn plain_is_string(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    first.is_ascii_alphabetic()
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@' | '+')
        })
        && !text.ends_with(':')
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "y" | "yes" | "n" | "no" | "true" | "false" | "on" | "off" | "null"
        )
}

fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, path: &str, value: &str) -> String {
        let path: Vec<String> = path.split('.').map(str::to_owned).collect();
        set_scalar(text, &path, value).unwrap_or_else(|e| panic!("{path:?} in {text:?}: {e:?}"))
    }

    /// Each case: the text, the path, the value, and the whole text expected.
    #[test]
    fn edits_touch_only_the_value() {
        let table: &[(&str, &str, &str, &str)] = &[
            // Replaced in place, comments and quotes kept.
            (
                "# top\nimage:\n  repository: nginx  # the repo\n  tag: \"1.0\" # pinned\nservice: {port: 80}\n",
                "image.tag",
                "1.10",
                "# top\nimage:\n  repository: nginx  # the repo\n  tag: \"1.10\" # pinned\nservice: {port: 80}\n",
            ),
            (
                "image:\n  repository: nginx  # the repo\n",
                "image.repository",
                "ghcr.io/org/app",
                "image:\n  repository: ghcr.io/org/app  # the repo\n",
            ),
            ("tag: 'v1'\n", "tag", "it's", "tag: 'it''s'\n"),
            ("tag: v1\n", "tag", "1.10", "tag: \"1.10\"\n"),
            ("tag: v1\n", "tag", "yes", "tag: \"yes\"\n"),
            ("tag: !!int 5\n", "tag", "v2", "tag: v2\n"),
            // A block scalar becomes a quoted one.
            (
                "a:\n  tag: |  # note\n    v1\n  next: 1\n",
                "a.tag",
                "v2",
                "a:\n  tag: v2\n  next: 1\n",
            ),
            // Missing keys go after the map's last entry, at its indentation.
            (
                "image:\n  repository: nginx   # keep\n\n# the service\nservice:\n  port: 80\n",
                "image.tag",
                "v2",
                "image:\n  repository: nginx   # keep\n  tag: v2\n\n# the service\nservice:\n  port: 80\n",
            ),
            (
                "replicas: 1 # one\n",
                "backend.image.tag",
                "v2",
                "replicas: 1 # one\nbackend:\n  image:\n    tag: v2\n",
            ),
            ("replicas: 1", "tag", "v2", "replicas: 1\ntag: v2\n"),
            (
                "list:\n  - a: 1\n    b: 2\nx:\n    deep: 1\n",
                "x.tag",
                "v2",
                "list:\n  - a: 1\n    b: 2\nx:\n    deep: 1\n    tag: v2\n",
            ),
            // Flow maps stay flow maps.
            (
                "image: {repository: nginx, tag: v1}  # flow\n",
                "image.tag",
                "v2",
                "image: {repository: nginx, tag: v2}  # flow\n",
            ),
            (
                "image: {repository: nginx}\n",
                "image.tag",
                "v2",
                "image: {repository: nginx, tag: v2}\n",
            ),
            ("image: {}\n", "image.tag", "v2", "image: {tag: v2}\n"),
            ("a: {b: {}}\n", "a.b.c.d", "v2", "a: {b: {c: {d: v2}}}\n"),
            // Null and empty parents become maps.
            (
                "image:\nother: 1\n",
                "image.tag",
                "v2",
                "image:\n  tag: v2\nother: 1\n",
            ),
            (
                "image: ~   # none yet\nother: 1\n",
                "image.tag",
                "v2",
                "image:   # none yet\n  tag: v2\nother: 1\n",
            ),
            ("image: null", "image.tag", "v2", "image:\n  tag: v2\n"),
            (
                "a: {image: ~}\n",
                "a.image.tag",
                "v2",
                "a: {image: {tag: v2}}\n",
            ),
            ("tag:\n", "tag", "v2", "tag: v2\n"),
            ("tag: ~\n", "tag", "v2", "tag: v2\n"),
            // Nothing at all, or only comments.
            ("", "image.tag", "v2", "image:\n  tag: v2\n"),
            (
                "# only a comment",
                "image.tag",
                "v2",
                "# only a comment\nimage:\n  tag: v2\n",
            ),
            ("~\n", "tag", "v2", "tag: v2\n"),
            // Keys that need quotes.
            ("a: 1\n", "yes", "v", "a: 1\n\"yes\": v\n"),
            ("a: 1\n", "1", "v", "a: 1\n\"1\": v\n"),
            // An alias leaf is replaced by the value; the anchor stays.
            (
                "base: &v v1\ntag: *v\n",
                "tag",
                "v2",
                "base: &v v1\ntag: v2\n",
            ),
            // Windows line endings.
            (
                "a: 1\r\nb:\r\n  c: 2\r\n",
                "b.d",
                "v",
                "a: 1\r\nb:\r\n  c: 2\r\n  d: v\r\n",
            ),
            // Values that need escapes.
            ("t: x\n", "t", "a\"b\\c", "t: \"a\\\"b\\\\c\"\n"),
        ];
        for (text, path, value, expected) in table {
            assert_eq!(&set(text, path, value), expected, "{path} in {text:?}");
        }
    }

    #[test]
    fn paths_through_values_that_are_not_maps_are_refused() {
        let table: &[(&str, &str, Refusal)] = &[
            (
                "image: nginx\n",
                "image.tag",
                Refusal::NotAMap {
                    depth: 1,
                    what: "a string",
                },
            ),
            (
                "a:\n  b: [1]\n",
                "a.b.c",
                Refusal::NotAMap {
                    depth: 2,
                    what: "a list",
                },
            ),
            (
                "a: 3\n",
                "a.b",
                Refusal::NotAMap {
                    depth: 1,
                    what: "a number",
                },
            ),
            (
                "base: &b {x: 1}\na: *b\n",
                "a.tag",
                Refusal::NotAMap {
                    depth: 1,
                    what: "an alias",
                },
            ),
            (
                "- 1\n",
                "tag",
                Refusal::NotAMap {
                    depth: 0,
                    what: "a list",
                },
            ),
            (
                "image:\n  tag: {a: 1}\n",
                "image.tag",
                Refusal::NotAValue { what: "a map" },
            ),
            ("tag: [1]\n", "tag", Refusal::NotAValue { what: "a list" }),
        ];
        for (text, path, expected) in table {
            let path: Vec<String> = path.split('.').map(str::to_owned).collect();
            assert_eq!(
                set_scalar(text, &path, "v").unwrap_err(),
                *expected,
                "{path:?} in {text:?}"
            );
        }
    }

    #[test]
    fn plain_only_where_it_reads_back_as_the_string() {
        for (value, plain) in [
            ("v1.2.3", true),
            ("registry.example.com:5000/team/app", true),
            ("app@sha256:abc", true),
            ("1.10", false),
            ("007", false),
            ("No", false),
            ("null", false),
            ("", false),
            (".inf", false),
            ("a b", false),
            ("a: b", false),
            ("a#b", false),
            ("ends:", false),
            ("-x", false),
        ] {
            assert_eq!(plain_is_string(value), plain, "{value:?}");
        }
    }
}
