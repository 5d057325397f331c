//! Human output: aligned tables and coloured diffs.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use tripline_engine::diff::{ChangeKind, ManifestDiff, Status};

/// Prints rows as left-aligned columns separated by two spaces; the first row is the header.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_owned()
    }
}

/// Renders a diff: a summary, the field changes of each changed object, and the line diff.
pub fn diff(diff: &ManifestDiff, color: bool) -> String {
    let green = Style::new().fg_color(Some(AnsiColor::Green.into()));
    let red = Style::new().fg_color(Some(AnsiColor::Red.into()));
    let cyan = Style::new().fg_color(Some(AnsiColor::Cyan.into()));
    let bold = Style::new().bold();
    let s = &diff.summary;
    let mut out = format!(
        "{} changed, {} added, {} removed, {} unchanged\n",
        s.changed, s.added, s.removed, s.unchanged
    );
    for resource in &diff.resources {
        if resource.status == Status::Unchanged {
            continue;
        }
        let _ = writeln!(out);
        let status = format!("{:?}", resource.status);
        let title = format!("{status} {}", resource.id);
        let _ = writeln!(out, "{}", paint(color, bold, &title));
        for change in &resource.changes {
            let line = match change.kind {
                ChangeKind::Added => paint(
                    color,
                    green,
                    &format!("  + {}: {}", change.path, short(&change.new)),
                ),
                ChangeKind::Removed => paint(
                    color,
                    red,
                    &format!("  - {}: {}", change.path, short(&change.old)),
                ),
                ChangeKind::Changed => format!(
                    "  ~ {}: {} → {}",
                    change.path,
                    paint(color, red, &short(&change.old)),
                    paint(color, green, &short(&change.new))
                ),
            };
            let _ = writeln!(out, "{line}");
        }
        for line in resource.unified.lines() {
            let styled = if line.starts_with("+++") || line.starts_with("---") {
                paint(color, bold, line)
            } else if line.starts_with('+') {
                paint(color, green, line)
            } else if line.starts_with('-') {
                paint(color, red, line)
            } else if line.starts_with("@@") {
                paint(color, cyan, line)
            } else {
                line.to_owned()
            };
            let _ = writeln!(out, "{styled}");
        }
    }
    out
}

/// A value on one line, shortened for the change list.
fn short(value: &Option<serde_json::Value>) -> String {
    let text = match value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["NAME".to_owned(), "VERSION".to_owned()],
            vec!["a-long-name".to_owned(), "1".to_owned()],
        ];
        assert_eq!(table(&rows), "NAME         VERSION\na-long-name  1\n");
    }

    #[test]
    fn diff_text_without_colour_has_no_escapes() {
        let old = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n";
        let new = old.replace("'1'", "'2'");
        let d = tripline_engine::diff::diff_texts(old, &new).unwrap();
        let text = diff(&d, false);
        assert!(
            text.starts_with("1 changed, 0 added, 0 removed, 0 unchanged"),
            "{text}"
        );
        assert!(text.contains("  ~ data.a: 1 → 2"), "{text}");
        assert!(!text.contains('\u{1b}'));
        assert!(diff(&d, true).contains('\u{1b}'));
    }
}

#[cfg(test)]
mod snapshots {
    /// The diff a person reads after the seed's patch and an added Service.
    #[test]
    fn seed_patch_diff_as_printed() {
        let before = include_str!("../../engine/tests/fixtures/templates/seed-demo.yaml");
        let after = format!(
            "{}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: demo\nspec:\n  ports:\n  - port: 80\n",
            before
                .replace(":blue", ":red")
                .replace("cpu: 100m", "cpu: 250m")
        );
        let diff = tripline_engine::diff::diff_texts(before, &after).unwrap();
        insta::assert_snapshot!(super::diff(&diff, false));
    }
}
