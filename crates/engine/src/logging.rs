//! Logging set-up, shared by the `tripline` command line and the desktop app.
//!
//! The engine reports what it cannot answer to anyone (an access record dropped, an accept
//! that failed, a release it could not claim) with `tracing`; [`init`] installs the one
//! subscriber that writes those events out:
//!
//! - **Filter**: `RUST_LOG` when it is set and valid, else [`DEFAULT_FILTER`] (Tripline's own
//!   crates at `info`, everything else at `warn`).
//! - **Format**: [`Format::Text`], one readable line per event, or [`Format::Json`], one JSON
//!   object per line (`timestamp`, `level`, `target`, `message` and the event's fields) for
//!   log collectors.
//! - **Where**: stderr, and optionally a file ([`FileLog`]) rotated by size by
//!   [`RotatingFile`].
//!
//! No event carries a trigger token or a signing key: handlers log addresses, names and ids,
//! and access records keep the redacted request.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::Registry;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

/// What is logged when `RUST_LOG` is not set: Tripline's crates at `info`, the rest at `warn`.
/// A directive's target matches every target it begins, so `tripline` also names
/// `tripline_engine`, `tripline_sandbox` and the other crates of the workspace.
pub const DEFAULT_FILTER: &str = "warn,tripline=info,tripline_desktop=info";

/// How events are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// A log file, rotated by size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLog {
    /// The file written to; rotated copies sit beside it as `<name>.1`, `<name>.2`, …
    pub path: PathBuf,
    /// The largest a file grows before it is rotated.
    pub max_bytes: u64,
    /// How many files are kept, the one written to included.
    pub keep: usize,
}

impl FileLog {
    /// `<data dir>/logs/<program>.log`, 10 MiB a file, 5 files.
    pub fn in_data_dir(data_dir: &Path, program: &str) -> Self {
        FileLog {
            path: data_dir.join("logs").join(format!("{program}.log")),
            max_bytes: 10 * 1024 * 1024,
            keep: 5,
        }
    }
}

/// Logging settings.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The format, for stderr and the file alike.
    pub format: Format,
    /// A file to log to as well as stderr.
    pub file: Option<FileLog>,
    /// The filter, in `RUST_LOG`'s syntax; `None` for [`DEFAULT_FILTER`].
    pub filter: Option<String>,
}

impl Options {
    /// Settings with the filter from the `RUST_LOG` environment variable.
    pub fn from_env(format: Format, file: Option<FileLog>) -> Self {
        Options {
            format,
            file,
            filter: std::env::var("RUST_LOG")
                .ok()
                .filter(|f| !f.trim().is_empty()),
        }
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The log file (or its folder) could not be opened.
    #[error("cannot open the log file {}: {source}; check the folder's permissions or log to stderr only", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Another subscriber was installed first.
    #[error("a logger is already installed in this process")]
    AlreadyInstalled(#[source] tracing::subscriber::SetGlobalDefaultError),
}

/// The filter to use, and the reason `wanted` was not usable if it was not.
pub fn filter(wanted: Option<&str>) -> (EnvFilter, Option<String>) {
    if let Some(wanted) = wanted {
        match EnvFilter::builder().parse(wanted) {
            Ok(filter) => return (filter, None),
            Err(error) => {
                let why = format!("RUST_LOG={wanted:?} is not a valid filter ({error})");
                return (default_filter(), Some(why));
            }
        }
    }
    (default_filter(), None)
}

fn default_filter() -> EnvFilter {
    EnvFilter::new(DEFAULT_FILTER)
}

type Boxed = Box<dyn Layer<Registry> + Send + Sync>;

/// One formatting layer writing to `writer`.
fn layer<W>(format: Format, writer: W) -> Boxed
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false);
    match format {
        Format::Text => layer.boxed(),
        Format::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .boxed(),
    }
}

/// The subscriber [`init`] installs, writing each event to every one of `writers` (tests
/// pass their own).
pub fn subscriber(
    format: Format,
    filter: EnvFilter,
    writers: Vec<BoxMakeWriter>,
) -> impl tracing::Subscriber + Send + Sync {
    let layers: Vec<Boxed> = writers.into_iter().map(|w| layer(format, w)).collect();
    tracing_subscriber::registry().with(layers).with(filter)
}

/// Installs the process's logger: stderr, and the file when asked. Call once, early.
///
/// An unusable `RUST_LOG` is reported as a warning through the new logger, and the default
/// filter is used instead.
pub fn init(options: &Options) -> Result<(), Error> {
    let (filter, rejected) = filter(options.filter.as_deref());
    let mut writers = vec![BoxMakeWriter::new(io::stderr)];
    if let Some(file) = &options.file {
        let rotating =
            RotatingFile::open(&file.path, file.max_bytes, file.keep).map_err(|source| {
                Error::File {
                    path: file.path.clone(),
                    source,
                }
            })?;
        writers.push(BoxMakeWriter::new(rotating));
    }
    tracing::subscriber::set_global_default(subscriber(options.format, filter, writers))
        .map_err(Error::AlreadyInstalled)?;
    if let Some(why) = rejected {
        tracing::warn!("{why}; logging with the default filter {DEFAULT_FILTER:?}");
    }
    Ok(())
}

/// A log file that rotates by size: past `max_bytes` it becomes `<name>.1` (the older
/// copies shift up, the oldest beyond `keep` is removed) and a fresh file starts.
///
/// Each event is written whole with one write, so no line is split across two files; an
/// event longer than a whole file is cut to fit. (`tracing-appender` rotates by time only,
/// which bounds neither a file's size nor the space a burst of warnings takes.)
#[derive(Debug)]
pub struct RotatingFile {
    state: Mutex<Rotation>,
}

#[derive(Debug)]
struct Rotation {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: File,
    size: u64,
}

impl RotatingFile {
    /// Opens (appends to) `path`, creating its folder; `max_bytes` and `keep` are at least
    /// 256 and 1.
    pub fn open(path: &Path, max_bytes: u64, keep: usize) -> io::Result<Self> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let file = append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            state: Mutex::new(Rotation {
                path: path.to_owned(),
                max_bytes: max_bytes.max(256),
                keep: keep.max(1),
                file,
                size,
            }),
        })
    }

    /// The path of rotated copy `n` (`n` ≥ 1).
    pub fn rotated(path: &Path, n: usize) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Rotation {
    fn rotate(&mut self) -> io::Result<()> {
        if self.keep > 1 {
            let oldest = RotatingFile::rotated(&self.path, self.keep - 1);
            match std::fs::remove_file(&oldest) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            for n in (1..self.keep - 1).rev() {
                let from = RotatingFile::rotated(&self.path, n);
                if from.exists() {
                    std::fs::rename(&from, RotatingFile::rotated(&self.path, n + 1))?;
                }
            }
            std::fs::rename(&self.path, RotatingFile::rotated(&self.path, 1))?;
            self.file = append(&self.path)?;
        } else {
            self.file.set_len(0)?;
        }
        self.size = 0;
        Ok(())
    }

    fn write_event(&mut self, event: &[u8]) -> io::Result<()> {
        let limit = usize::try_from(self.max_bytes).unwrap_or(usize::MAX);
        let event = if event.len() > limit {
            cut(event, limit)
        } else {
            event.to_vec()
        };
        if self.size > 0 && self.size + event.len() as u64 > self.max_bytes {
            // A failed rotation keeps writing to the current file rather than lose events.
            let _ = self.rotate();
        }
        self.file.write_all(&event)?;
        self.size += event.len() as u64;
        Ok(())
    }
}

/// `event` cut to `limit` bytes at a character boundary, ending in a newline.
fn cut(event: &[u8], limit: usize) -> Vec<u8> {
    let mut end = limit.saturating_sub(1);
    while end > 0 && (event[end] & 0b1100_0000) == 0b1000_0000 {
        end -= 1;
    }
    let mut cut = event[..end].to_vec();
    cut.push(b'\n');
    cut
}

impl Write for &RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.write_event(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.file.flush()
    }
}

impl<'a> MakeWriter<'a> for RotatingFile {
    type Writer = &'a RotatingFile;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

#[cfg(test)]
mod tests;
