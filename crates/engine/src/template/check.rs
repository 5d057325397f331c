//! What a manifest must pass before it becomes a version: size limits that keep every saved
//! version readable, and the rules a Kubernetes API server applies to the objects.
//!
//! [`Manifest::check_for_save`] runs on the finished result of every write (a new template, an
//! edit, a patch of any format, an image update, a scale record, a rollback) just before the
//! store writes it, so no version exists that a later read could refuse or a cluster would
//! reject. Reading stays more lenient than saving: the YAML reader's budget (nesting depth,
//! node and alias counts) sits above the limits here, so a version at a limit still parses,
//! and fields the Kubernetes schema does not declare ([`validation::check_fields`]) are refused
//! here only, so a version saved before that check still reads.

use std::fmt;

use serde_json::Value;
use tripline_validation as validation;

use super::yaml::{PARSER_MAX_ALIASES, PARSER_MAX_DEPTH, PARSER_MAX_NODES};
use super::{Document, Error, MAX_DOCUMENT_BYTES, MAX_TEMPLATE_BYTES, Manifest, Result, locate};

/// The deepest nesting of mappings and lists a saved document may have (its top mapping is
/// level 1). Real manifests rarely pass 20; the reader stops at 64.
pub const MAX_DEPTH: usize = 48;
/// The most nodes (mappings, lists and scalars, keys included) a saved document may have.
pub const MAX_NODES: usize = 100_000;
/// The most aliases (`*name`) a saved document may use.
pub const MAX_ALIASES: usize = 1_000;

const _: () = assert!(MAX_DEPTH < PARSER_MAX_DEPTH);
const _: () = assert!(MAX_NODES < PARSER_MAX_NODES);
const _: () = assert!(MAX_ALIASES < PARSER_MAX_ALIASES);

/// The most field problems one error lists; the rest are counted.
const MAX_LISTED_PROBLEMS: usize = 5;

/// Which limit a document is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Nesting depth ([`MAX_DEPTH`]).
    Depth,
    /// Node count ([`MAX_NODES`]).
    Nodes,
    /// Alias count ([`MAX_ALIASES`]).
    Aliases,
}

impl Limit {
    /// The stable name used in error details.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Depth => "depth",
            Limit::Nodes => "nodes",
            Limit::Aliases => "aliases",
        }
    }

    /// What to do about it.
    pub(super) fn hint(self) -> &'static str {
        match self {
            Limit::Depth => "flatten the nesting (a patch nests its values where it puts them)",
            Limit::Nodes => "split the object, or move bulk data into a ConfigMap",
            Limit::Aliases => "write the repeated parts out instead of using aliases",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::Depth => "nesting depth",
            Limit::Nodes => "node count",
            Limit::Aliases => "alias count",
        })
    }
}

/// One field a Kubernetes API server would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field path, as the API server names it (`spec.template.spec.containers[0].image`).
    pub field: String,
    /// The API server's reason (`FieldValueInvalid`, `FieldValueRequired`, …).
    pub reason: &'static str,
    /// What is wrong, in the API server's words.
    pub message: String,
    /// The 1-based line of the field in the template text, when it can be found there.
    pub line: Option<usize>,
}

impl FieldProblem {
    /// `cause`, with the line of its field in `source`, a document whose body starts at line
    /// `first_line` of the template.
    pub(super) fn located(cause: validation::Cause, source: &str, first_line: usize) -> Self {
        FieldProblem {
            line: locate::line_of(source, &cause.field).map(|offset| first_line + offset),
            field: cause.field,
            reason: cause.reason,
            message: cause.message,
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} (line {line}): {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

/// A list of problems, shortened for a message.
pub(super) struct Problems<'a>(pub &'a [FieldProblem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().take(MAX_LISTED_PROBLEMS).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        if self.0.len() > MAX_LISTED_PROBLEMS {
            write!(f, "; and {} more", self.0.len() - MAX_LISTED_PROBLEMS)?;
        }
        Ok(())
    }
}

impl Manifest {
    /// Checks that this manifest may be saved as a version: within the size, depth, node and
    /// alias limits, and every object one a Kubernetes API server would accept. The first
    /// document that fails is named in the error.
    pub fn check_for_save(&self) -> Result<()> {
        self.check_for_save_for(validation::KUBERNETES_VERSION)
    }

    /// [`Manifest::check_for_save`] for a template that targets Kubernetes `version` (one
    /// of [`validation::VERSIONS`]): fields that version does not have are refused.
    pub fn check_for_save_for(&self, version: &str) -> Result<()> {
        if self.text.len() > MAX_TEMPLATE_BYTES {
            return Err(Error::TooLarge {
                size: self.text.len(),
                limit: MAX_TEMPLATE_BYTES,
            });
        }
        for document in &self.documents {
            self.check_limits(document)?;
        }
        for document in &self.documents {
            self.check_rules(document, version)?;
        }
        Ok(())
    }

    fn check_limits(&self, document: &Document) -> Result<()> {
        let size = document.span.len();
        if size > MAX_DOCUMENT_BYTES {
            return Err(Error::DocumentTooLarge {
                index: document.index,
                line: document.line,
                size,
                limit: MAX_DOCUMENT_BYTES,
            });
        }
        let over = |limit: Limit, value: usize, max: usize| Error::OverLimit {
            index: document.index,
            line: document.line,
            id: Box::new(document.id.clone()),
            limit,
            value,
            max,
        };
        if document.aliases > MAX_ALIASES {
            return Err(over(Limit::Aliases, document.aliases, MAX_ALIASES));
        }
        let shape = Shape::of(&document.value);
        if shape.depth > MAX_DEPTH {
            return Err(over(Limit::Depth, shape.depth, MAX_DEPTH));
        }
        if shape.nodes > MAX_NODES {
            return Err(over(Limit::Nodes, shape.nodes, MAX_NODES));
        }
        Ok(())
    }

    fn check_rules(&self, document: &Document, version: &str) -> Result<()> {
        let id = &document.id;
        // The API server decodes an object before it validates it: unknown fields and wrong
        // types come first, and a value of the wrong type is not validated any further.
        let mut causes =
            validation::check_fields_for(version, &id.api_version, &id.kind, &document.value);
        if !causes
            .iter()
            .any(|c| c.reason == validation::schema::TYPE_INVALID)
        {
            causes.extend(validation::validate(id.group(), &id.kind, &document.value));
        }
        if causes.is_empty() {
            return Ok(());
        }
        let source = document.source(self);
        let problems = causes
            .into_iter()
            .map(|cause| FieldProblem::located(cause, source, document.line))
            .collect();
        Err(Error::Rejected {
            index: document.index,
            line: document.line,
            id: Box::new(document.id.clone()),
            problems,
        })
    }
}

/// The nesting depth and node count of a value, counted as the YAML reader counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    depth: usize,
    nodes: usize,
}

impl Shape {
    /// Walks `value` without recursion, so a hostile depth cannot overflow the stack.
    fn of(value: &Value) -> Shape {
        let mut shape = Shape { depth: 0, nodes: 0 };
        let mut stack: Vec<(&Value, usize)> = vec![(value, 1)];
        while let Some((value, level)) = stack.pop() {
            shape.nodes += 1;
            match value {
                Value::Object(map) => {
                    shape.depth = shape.depth.max(level);
                    // Each key is a scalar node of its own.
                    shape.nodes += map.len();
                    stack.extend(map.values().map(|v| (v, level + 1)));
                }
                Value::Array(items) => {
                    shape.depth = shape.depth.max(level);
                    stack.extend(items.iter().map(|v| (v, level + 1)));
                }
                _ => {}
            }
        }
        shape
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_count_as_the_reader_does() {
        let cases = [
            (json!("x"), 0, 1),
            (json!({}), 1, 1),
            (json!({"a": 1}), 1, 3),
            (json!({"a": [1, {"b": 2}]}), 3, 7),
        ];
        for (value, depth, nodes) in cases {
            assert_eq!(Shape::of(&value), Shape { depth, nodes }, "{value}");
        }
    }
}
