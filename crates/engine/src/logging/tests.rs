//! The formats, the filter and the rotating file, each with a subscriber of its own (the
//! process-wide one is never installed here).

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use super::*;

/// Collects what a subscriber writes.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Runs `emit` under a subscriber of `format` and `filter`; what it wrote.
fn capture(format: Format, wanted: Option<&str>, emit: impl FnOnce()) -> String {
    let buffer = Buffer::default();
    let (filter, _) = filter(wanted);
    let subscriber = subscriber(format, filter, vec![BoxMakeWriter::new(buffer.clone())]);
    tracing::subscriber::with_default(subscriber, emit);
    buffer.text()
}

#[test]
fn json_lines_parse_and_carry_the_event_fields() {
    let written = capture(Format::Json, None, || {
        tracing::warn!(app = "shop", release = 7_i64, error = %"cluster unreachable", "cannot claim a release");
        tracing::info!(target: "tripline_engine::listener", listening = "127.0.0.1:8787", "listening");
    });
    let lines: Vec<Value> = written
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(lines.len(), 2, "{written}");
    let first = &lines[0];
    assert_eq!(first["level"], "WARN");
    assert_eq!(first["message"], "cannot claim a release");
    assert_eq!(first["app"], "shop");
    assert_eq!(first["release"], 7);
    assert_eq!(first["error"], "cluster unreachable");
    assert_eq!(first["target"], "tripline_engine::logging::tests");
    let timestamp = first["timestamp"].as_str().unwrap();
    assert!(
        timestamp.parse::<jiff::Timestamp>().is_ok(),
        "an RFC 3339 timestamp: {timestamp}"
    );
    assert_eq!(lines[1]["target"], "tripline_engine::listener");
    assert_eq!(lines[1]["listening"], "127.0.0.1:8787");
}

#[test]
fn text_is_one_line_per_event() {
    let written = capture(Format::Text, None, || {
        tracing::warn!(app = "shop", "a record was dropped");
    });
    assert_eq!(written.lines().count(), 1, "{written}");
    assert!(written.contains(" WARN "), "{written}");
    assert!(written.contains("a record was dropped"), "{written}");
    assert!(written.contains("app=\"shop\""), "{written}");
    assert!(!written.contains('\u{1b}'), "no colour codes: {written}");
}

/// Emits one event of `level` under `target` (both must be constants for `tracing`).
fn emit(target: &str, level: Level) {
    match (target, level) {
        ("tripline", Level::DEBUG) => tracing::debug!(target: "tripline_engine::deploy", "event"),
        ("tripline", Level::INFO) => tracing::info!(target: "tripline_engine::deploy", "event"),
        ("tripline", Level::WARN) => tracing::warn!(target: "tripline_engine::deploy", "event"),
        ("tripline_sandbox", Level::INFO) => {
            tracing::info!(target: "tripline_sandbox::controller", "event")
        }
        ("tripline_desktop", Level::INFO) => {
            tracing::info!(target: "tripline_desktop::tray", "event")
        }
        ("kube", Level::INFO) => tracing::info!(target: "kube_client::client", "event"),
        ("kube", Level::WARN) => tracing::warn!(target: "kube_client::client", "event"),
        _ => unreachable!("no such case"),
    }
}

#[test]
fn the_filter_follows_rust_log_and_defaults_to_info_for_tripline_warn_for_others() {
    let cases: &[(Option<&str>, &str, Level, bool)] = &[
        (None, "tripline", Level::INFO, true),
        (None, "tripline", Level::DEBUG, false),
        (None, "tripline_desktop", Level::INFO, true),
        (None, "tripline_sandbox", Level::INFO, true),
        (None, "kube", Level::INFO, false),
        (None, "kube", Level::WARN, true),
        (Some("tripline=debug"), "tripline", Level::DEBUG, true),
        (Some("tripline=debug"), "kube", Level::WARN, false),
        (Some("error"), "tripline", Level::WARN, false),
        (Some("kube_client=info"), "kube", Level::INFO, true),
        (Some("kube_client=info"), "tripline", Level::INFO, false),
        // Unusable: the default applies.
        (Some("tripline=[=bad"), "tripline", Level::INFO, true),
        (Some("tripline=[=bad"), "kube", Level::INFO, false),
    ];
    for (wanted, target, level, shown) in cases {
        let written = capture(Format::Text, *wanted, || emit(target, *level));
        assert_eq!(
            !written.is_empty(),
            *shown,
            "RUST_LOG={wanted:?}, {target} at {level}: {written:?}"
        );
    }
}

#[test]
fn an_unusable_rust_log_is_reported() {
    let cases = [
        ("tripline=[=bad", true),
        ("tripline=loud", true),
        ("tripline=debug,warn", false),
        ("info", false),
    ];
    for (wanted, rejected) in cases {
        let (_, why) = filter(Some(wanted));
        assert_eq!(why.is_some(), rejected, "{wanted}: {why:?}");
        if let Some(why) = why {
            assert!(why.contains(wanted), "{why}");
        }
    }
}

/// Every file of the rotation, current first.
fn files(path: &Path, keep: usize) -> Vec<(PathBuf, String)> {
    std::iter::once(path.to_owned())
        .chain((1..=keep + 1).map(|n| RotatingFile::rotated(path, n)))
        .filter(|p| p.exists())
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

#[test]
fn rotation_keeps_n_files_of_bounded_size_and_whole_lines() {
    // (max bytes, files kept, events, event length)
    let cases: &[(u64, usize, usize, usize)] = &[
        (1000, 3, 100, 95),
        (1000, 1, 50, 95),
        (256, 5, 200, 40),
        (4096, 2, 10, 100),
        // Each event alone nearly fills a file.
        (300, 3, 10, 290),
    ];
    for &(max, keep, events, length) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/tripline.log");
        let log = RotatingFile::open(&path, max, keep).unwrap();
        for i in 0..events {
            let line = format!("{i:06} {}\n", "x".repeat(length - 8));
            (&log).write_all(line.as_bytes()).unwrap();
        }
        let case = format!("max {max}, keep {keep}, {events} × {length}");
        let found = files(&path, keep);
        let written = events * length;
        let expected = if written as u64 <= max {
            1
        } else {
            keep.min(written.div_ceil((max as usize / length) * length))
        };
        assert_eq!(found.len(), expected, "{case}: {found:?}");
        let mut numbers = Vec::new();
        for (file, text) in &found {
            assert!(
                text.len() as u64 <= max,
                "{case}: {} is {} bytes",
                file.display(),
                text.len()
            );
            for line in text.lines() {
                assert_eq!(line.len(), length - 1, "{case}: a cut line {line:?}");
                numbers.push(line[..6].parse::<usize>().unwrap());
            }
        }
        // Newest first across the files: the current file holds the last event, and the
        // numbers run down without a gap until the oldest kept.
        numbers.sort_unstable();
        assert_eq!(numbers.last(), Some(&(events - 1)), "{case}");
        let oldest = numbers[0];
        assert_eq!(numbers, (oldest..events).collect::<Vec<_>>(), "{case}");
    }
}

#[test]
fn events_longer_than_a_file_are_cut_at_a_character() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tripline.log");
    let log = RotatingFile::open(&path, 256, 2).unwrap();
    let long = format!("{}\n", "é".repeat(1000));
    (&log).write_all(long.as_bytes()).unwrap();
    (&log).write_all(b"next\n").unwrap();
    let rotated = std::fs::read_to_string(RotatingFile::rotated(&path, 1)).unwrap();
    assert!(rotated.len() <= 256);
    assert!(rotated.ends_with("é\n"), "{rotated}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "next\n");
}

#[test]
fn reopening_appends_and_counts_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tripline.log");
    std::fs::write(&path, "x".repeat(900) + "\n").unwrap();
    let log = RotatingFile::open(&path, 1000, 3).unwrap();
    (&log).write_all(&[b'y'; 199]).unwrap();
    // 901 + 199 > 1000: the old content moved aside.
    assert_eq!(std::fs::read(&path).unwrap(), vec![b'y'; 199]);
    assert_eq!(
        std::fs::read_to_string(RotatingFile::rotated(&path, 1))
            .unwrap()
            .len(),
        901
    );
}

#[test]
fn a_log_file_that_cannot_be_opened_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("logs");
    std::fs::write(&blocker, "a file where the folder should be").unwrap();
    let options = Options {
        file: Some(FileLog::in_data_dir(dir.path(), "tripline")),
        ..Options::default()
    };
    let error = init(&options).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("cannot open the log file"), "{message}");
    assert!(message.contains("tripline.log"), "{message}");
}
