//! Cutting a YAML stream into document bodies.
//!
//! YAML forbids a line that starts with `---` or `...` (followed by a space or the line's end)
//! anywhere inside a scalar, so such a line always marks a document boundary. Cutting there
//! ourselves, instead of letting the parser stream documents, gives every document its exact
//! byte range and first line: errors can name both, and unchanged documents are kept byte for
//! byte when others are patched.

use std::ops::Range;

/// One document body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Chunk {
    /// Byte range of the body (without its `---` marker).
    pub span: Range<usize>,
    /// 1-based line where the body starts.
    pub line: usize,
}

/// Splits `text` into document bodies. Bodies that are blank or only comments are included;
/// [`is_blank`] tells them apart.
pub(super) fn split(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (line_number, line) in (1..).zip(text.split_inclusive('\n')) {
        let marker = marker_len(line);
        if let Some(len) = marker {
            chunks.push(Chunk {
                span: start..offset,
                line: start_line,
            });
            // Content after `--- ` on the same line belongs to the new document.
            let rest = &line[len..];
            let content = rest.trim_start_matches([' ', '\t']);
            if line.starts_with("---") && !content.trim().is_empty() && !content.starts_with('#') {
                start = offset + line.len() - content.len();
                start_line = line_number;
            } else {
                start = offset + line.len();
                start_line = line_number + 1;
            }
        }
        offset += line.len();
    }
    chunks.push(Chunk {
        span: start..text.len(),
        line: start_line,
    });
    chunks
}

/// The length of a `---` or `...` marker at the start of `line`, if the line is a marker.
fn marker_len(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    if bytes.len() < 3 || !(bytes.starts_with(b"---") || bytes.starts_with(b"...")) {
        return None;
    }
    match bytes.get(3) {
        None | Some(b' ' | b'\t' | b'\r' | b'\n') => Some(3),
        _ => None,
    }
}

/// True when a body holds nothing but blank lines, comments and directives.
pub(super) fn is_blank(body: &str) -> bool {
    body.lines().all(|line| {
        let trimmed = line.trim();
        trimmed.is_empty() || trimmed.starts_with('#') || line.starts_with('%')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(text: &str) -> Vec<(&str, usize)> {
        split(text)
            .into_iter()
            .map(|c| (&text[c.span], c.line))
            .collect()
    }

    #[test]
    fn splits_at_markers_and_keeps_lines() {
        let text = "a: 1\n---\nb: 2\nc: 3\n--- \nd: 4\n...\n";
        assert_eq!(
            bodies(text),
            vec![("a: 1\n", 1), ("b: 2\nc: 3\n", 3), ("d: 4\n", 6), ("", 8)]
        );
    }

    #[test]
    fn leading_marker_makes_an_empty_first_body() {
        let text = "# header\n---\na: 1\n";
        let parts = bodies(text);
        assert_eq!(parts[0], ("# header\n", 1));
        assert!(is_blank(parts[0].0));
        assert_eq!(parts[1], ("a: 1\n", 3));
    }

    #[test]
    fn content_on_the_marker_line_starts_the_document() {
        let text = "--- {a: 1}\n--- # just a comment\nb: 2\n";
        assert_eq!(bodies(text), vec![("", 1), ("{a: 1}\n", 1), ("b: 2\n", 3)]);
    }

    #[test]
    fn dashes_that_are_not_markers_stay_in_the_body() {
        let text = "a: |\n  ---\n  x\nb: ----\n---x: 1\n";
        assert_eq!(bodies(text), vec![(text, 1)]);
    }

    #[test]
    fn crlf_markers_are_recognised() {
        let text = "a: 1\r\n---\r\nb: 2\r\n";
        assert_eq!(bodies(text), vec![("a: 1\r\n", 1), ("b: 2\r\n", 3)]);
    }
}
