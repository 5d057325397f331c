//! Reading templates and patches from files, stdin, or an editor.

use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};

use tripline_engine::error::{Code, ErrorBody};

/// The most we read from a file or stdin: a little over the template limit, so the
/// template parser can say how large the input was.
const READ_LIMIT: u64 = tripline_engine::template::MAX_TEMPLATE_BYTES as u64 + 1;

fn io_error(what: &str, error: std::io::Error) -> ErrorBody {
    ErrorBody::new(Code::InputIo, format!("cannot read {what}: {error}"))
}

/// Reads `path` (`-` is stdin) as bytes.
pub fn read(path: &Path) -> Result<Vec<u8>, ErrorBody> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(READ_LIMIT)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error("standard input", e))?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(READ_LIMIT).read_to_end(&mut bytes))
            .map_err(|e| io_error(&path.display().to_string(), e))?;
    }
    Ok(bytes)
}

/// Reads `file` if given, else stdin when it is not a terminal.
pub fn read_file_or_stdin(file: Option<&Path>, what: &str) -> Result<Option<Vec<u8>>, ErrorBody> {
    match file {
        Some(path) => read(path).map(Some),
        None if !std::io::stdin().is_terminal() => read(Path::new("-")).map(Some),
        None => {
            let _ = what;
            Ok(None)
        }
    }
}

/// Bytes to text, or an error naming where the bad byte is.
pub fn text(bytes: Vec<u8>) -> Result<String, ErrorBody> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        ErrorBody::new(
            Code::TemplateNotUtf8,
            format!(
                "the input is not valid UTF-8 text (invalid byte on line {line}); save it as UTF-8"
            ),
        )
    })
}

/// Opens `$VISUAL`/`$EDITOR` (else `vi`) on `content` and returns the edited text, or `None`
/// when nothing changed. The file is kept (and its path returned in errors) if the caller
/// cannot use the result, so no edit is lost.
pub fn edit(name: &str, content: &str) -> Result<Option<(String, PathBuf)>, ErrorBody> {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("tripline-{name}-{}.yaml", std::process::id()));
    std::fs::write(&path, content).map_err(|e| io_error(&path.display().to_string(), e))?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let mut parts = editor.split_whitespace();
    let program = parts.next().unwrap_or("vi");
    let status = std::process::Command::new(program)
        .args(parts)
        .arg(&path)
        .status()
        .map_err(|e| {
            ErrorBody::new(
                Code::InputEditor,
                format!("cannot start the editor {editor:?}: {e}; set $EDITOR"),
            )
        })?;
    if !status.success() {
        return Err(ErrorBody::new(
            Code::InputEditor,
            format!(
                "the editor exited with {status}; your text is kept in {}",
                path.display()
            ),
        ));
    }
    let edited =
        std::fs::read_to_string(&path).map_err(|e| io_error(&path.display().to_string(), e))?;
    if edited == content {
        let _ = std::fs::remove_file(&path);
        return Ok(None);
    }
    Ok(Some((edited, path)))
}
