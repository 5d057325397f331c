//! Finding the line of a field (`spec.template.spec.containers[0].image`) in a document's
//! YAML text, so that an error can point at it.
//!
//! This follows block-style YAML by indentation: each key of the path is looked for among the
//! children of the previous one, and `[n]` picks the n-th `- ` item of a list. It is a best
//! effort for messages: flow style (`{a: 1}`), anchors or odd layouts stop the search, and the
//! line of the deepest part found is returned (the object's own first line when nothing is).

/// One step of a field path.
#[derive(Debug, PartialEq, Eq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits `spec.containers[0].resources.limits[cpu]` into keys and indexes.
fn steps(path: &str) -> Vec<Step<'_>> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(open) => (&part[..open], &part[open..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            steps.push(Step::Key(key));
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let Some(close) = inner.find(']') else { break };
            let index = &inner[..close];
            steps.push(match index.parse() {
                Ok(n) => Step::Index(n),
                Err(_) => Step::Key(index),
            });
            rest = &inner[close + 1..];
        }
    }
    steps
}

/// A content line: where its key (or item) starts, and whether it is a list item.
struct Line<'a> {
    /// Column of the first character after the indentation and any `- ` markers.
    column: usize,
    /// Column of the line's first `-` item marker, when it has one.
    dash: Option<usize>,
    /// The text from `column` on.
    text: &'a str,
}

fn read(line: &str) -> Option<Line<'_>> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let mut text = &line[indent..];
    if text.trim().is_empty() || text.starts_with('#') {
        return None;
    }
    let mut column = indent;
    let mut dash = None;
    while let Some(after) = text.strip_prefix('-') {
        if !(after.is_empty() || after.starts_with(' ')) {
            break;
        }
        dash.get_or_insert(column);
        let spaces = after.len() - after.trim_start_matches(' ').len();
        column += 1 + spaces;
        text = &after[spaces..];
    }
    Some(Line { column, dash, text })
}

/// The key a line starts with, without quotes.
fn key_of(text: &str) -> Option<&str> {
    let (key, _) = text.split_once(':')?;
    let key = key.trim_end();
    Some(
        key.strip_prefix('"')
            .and_then(|k| k.strip_suffix('"'))
            .or_else(|| key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
            .unwrap_or(key),
    )
}

/// The 0-based line, within `source`, of the deepest part of `path` found there.
pub(super) fn line_of(source: &str, path: &str) -> Option<usize> {
    let lines: Vec<Option<Line<'_>>> = source.lines().map(read).collect();
    // The block being searched: lines [start, end), whose children start at `column` or
    // further right.
    let mut start = 0;
    let mut end = lines.len();
    let mut column = 0;
    let mut found = None;
    for step in steps(path) {
        match step {
            Step::Key(key) => {
                // The children of a block all start at the column of its first content line.
                let Some(child_column) = (start..end)
                    .filter_map(|i| lines[i].as_ref())
                    .map(|l| l.column)
                    .next()
                    .filter(|c| *c >= column)
                else {
                    break;
                };
                let hit = (start..end).find(|&i| {
                    lines[i]
                        .as_ref()
                        .is_some_and(|l| l.column == child_column && key_of(l.text) == Some(key))
                });
                let Some(i) = hit else { break };
                found = Some(i);
                // The value's block ends at the next line that is not to the right of the key
                // (a list may sit at the key's own column).
                let block_end = (i + 1..end)
                    .find(|&j| {
                        lines[j].as_ref().is_some_and(|l| {
                            let left = l.dash.unwrap_or(l.column);
                            left < child_column || (left == child_column && l.dash.is_none())
                        })
                    })
                    .unwrap_or(end);
                start = i + 1;
                end = block_end;
                column = child_column;
            }
            Step::Index(n) => {
                let Some(dash) = (start..end)
                    .filter_map(|i| lines[i].as_ref())
                    .next()
                    .and_then(|l| l.dash)
                else {
                    break;
                };
                let items: Vec<usize> = (start..end)
                    .filter(|&i| lines[i].as_ref().is_some_and(|l| l.dash == Some(dash)))
                    .collect();
                let Some(&i) = items.get(n) else { break };
                found = Some(i);
                start = i;
                end = items.get(n + 1).copied().unwrap_or(end);
                column = dash + 1;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = "\
# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: -1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      initContainers:
      - name: init
        image: busybox
      containers:
        - name: sidecar
          image: envoy
        - image: nginx
          name: Bad_Name
          env:
          - name: \"1 BAD\"
          resources:
            limits:
              cpu: lots
";

    #[test]
    fn fields_are_found_by_indentation() {
        let cases = [
            ("spec.replicas", Some(8)),
            ("metadata.labels", Some(5)),
            ("spec.template.metadata.labels", Some(14)),
            ("spec.template.spec.initContainers[0].image", Some(19)),
            ("spec.template.spec.containers[0].name", Some(21)),
            ("spec.template.spec.containers[1].name", Some(24)),
            ("spec.template.spec.containers[1].env[0].name", Some(26)),
            (
                "spec.template.spec.containers[1].resources.limits[cpu]",
                Some(29),
            ),
            // Not there: the deepest part found.
            (
                "spec.template.spec.containers[1].ports[0].containerPort",
                Some(23),
            ),
            ("spec.template.spec.containers[5].name", Some(20)),
            ("status.replicas", None),
        ];
        for (path, line) in cases {
            assert_eq!(line_of(DEPLOYMENT, path), line, "{path}");
        }
    }

    #[test]
    fn paths_split_into_steps() {
        assert_eq!(
            steps("a.b[2].c[cpu]"),
            vec![
                Step::Key("a"),
                Step::Key("b"),
                Step::Index(2),
                Step::Key("c"),
                Step::Key("cpu")
            ]
        );
    }

    #[test]
    fn flow_style_and_garbage_do_not_panic() {
        for source in ["{a: 1}", "- - - x", "a: [1, 2]", ":", "- ", "\t a: b", ""] {
            let _ = line_of(source, "a[0].b.c[1]");
        }
    }
}
