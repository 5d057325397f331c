//! Real servers on loopback for Tripline's tests: Git, a Helm chart repository and an OCI
//! registry. No mocks: each fixture runs the program a user's cluster would talk to.
//!
//! - [`GitServer`]: Debian's `lighttpd` running `git http-backend` as CGI (smart HTTP, with
//!   basic auth per repository and pushes to the authenticated ones), and `git daemon` for
//!   `git://` URLs, both serving one directory of bare repositories. [`Repo`] commits,
//!   rewrites and reads them with the real `git` through a scratch clone.
//! - [`ChartRepo`]: charts made by `helm create`, packaged by `helm package`, indexed by
//!   `helm repo index` and served by `lighttpd`.
//! - [`Registry`]: Debian's `docker-registry` (the distribution registry) over plain HTTP,
//!   anonymous or behind htpasswd or token auth, with `helm push` to put charts in it and
//!   `skopeo` to copy and delete images ([`oci_layout`] writes one to copy).
//!
//! Every fixture binds `127.0.0.1` on a free port, owns its processes and its temporary
//! directory, and stops them on drop (the whole process group, CGI children included).
//!
//! A test first asks [`require`] for the programs it needs: without them it is skipped, loudly,
//! unless `TRIPLINE_REQUIRE_SOURCES=1` (set by `scripts/test.sh`), when it fails instead.

use std::ffi::OsStr;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod chart;
mod git;
mod helm;
pub mod http;
mod image;
mod lighttpd;
mod registry;

pub use chart::{ChartRepo, set_app_version, set_chart_version, set_image, set_yaml_value};
pub use git::{AUTHOR_EMAIL, AUTHOR_NAME, Commit, GitServer, Repo, git_command};
pub use helm::Helm;
pub use image::oci_layout;
pub use registry::{Registry, RegistryAuth};

/// What can go wrong while starting or driving a fixture.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A program ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line, for the reader.
        command: String,
        /// How it ended.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A server did not start listening, or stopped.
    #[error("{what} did not start: {log}")]
    NotStarted {
        /// Which server.
        what: String,
        /// The end of its log.
        log: String,
    },
    /// A program's output was not what the fixture expects.
    #[error("unexpected output from {what}: {output}")]
    Unexpected {
        /// Which program.
        what: String,
        /// What it printed.
        output: String,
    },
    /// An argument the fixture cannot use (a name with odd characters, say).
    #[error("invalid {what}: {value:?}")]
    Invalid {
        /// What the value is.
        what: &'static str,
        /// The value given.
        value: String,
    },
}

/// The fixtures' result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether every tool is installed. When one is missing it prints
/// `SKIPPED: <test>: <tool> is not installed (scripts/test.sh installs it)` on stderr and
/// returns false, so the test can return early; with `TRIPLINE_REQUIRE_SOURCES=1` it panics
/// naming the tool instead. `helm` is found as [`Helm::binary`] finds it (`TRIPLINE_HELM`,
/// then `PATH`); the other tools on `PATH` or in `/usr/sbin` and `/sbin`.
pub fn require(tools: &[&str]) -> bool {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    for tool in tools {
        let found = if *tool == "helm" {
            Helm::binary().is_some()
        } else {
            which(tool).is_some()
        };
        if found {
            continue;
        }
        if std::env::var_os("TRIPLINE_REQUIRE_SOURCES").is_some_and(|v| v == "1") {
            panic!("{test}: {tool} is not installed and TRIPLINE_REQUIRE_SOURCES=1");
        }
        eprintln!("SKIPPED: {test}: {tool} is not installed (scripts/test.sh installs it)");
        return false;
    }
    true
}

/// The path of an executable named `tool`, from `PATH` and then the system directories a
/// user's `PATH` often lacks (`lighttpd` lives in `/usr/sbin`).
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` to the end and returns its output, or an error with its stderr when it
/// fails.
fn output(command: &mut Command) -> Result<Output> {
    let described = describe(command);
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("running `{described}`")))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(Error::Command {
            command: described,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// Runs `command` and returns its stdout, trimmed.
fn run(command: &mut Command) -> Result<String> {
    let output = output(command)?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// A port on 127.0.0.1 nobody listens on now. Another process may take it before the server
/// binds it: [`Daemon::spawn`] tries again with another port when the server exits.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io("finding a free port"))?
        .port())
}

/// A server process and its children, killed together on drop: each daemon leads its own
/// process group, so the CGI programs and `git daemon`'s workers go with it.
struct Daemon {
    child: Child,
}

impl Daemon {
    /// Starts the server `command(port)` builds on a free port, and waits until it accepts
    /// connections. `log` is where the server writes; its end goes into the error when the
    /// server does not start.
    fn spawn(
        what: &str,
        log: &Path,
        mut command: impl FnMut(u16) -> Result<Command>,
    ) -> Result<(Daemon, u16)> {
        use std::os::unix::process::CommandExt as _;
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let port = free_port()?;
            let mut command = command(port)?;
            let log_file = std::fs::File::create(log).map_err(io(format!("creating {log:?}")))?;
            let err_file = log_file.try_clone().map_err(io("opening the log"))?;
            let child = command
                .stdin(Stdio::null())
                .stdout(log_file)
                .stderr(err_file)
                .process_group(0)
                .spawn()
                .map_err(io(format!("starting {what}")))?;
            let mut daemon = Daemon { child };
            if daemon.wait_listening(port, Duration::from_secs(10)) {
                return Ok((daemon, port));
            }
            drop(daemon);
            last_log = tail(log);
        }
        Err(Error::NotStarted {
            what: what.to_string(),
            log: last_log,
        })
    }

    /// Whether the server accepts connections on `port` within `timeout`; false as soon as it
    /// exits.
    fn wait_listening(&mut self, port: u16, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.running() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a name such as `USR1`) to the server process.
    fn signal(&self, signal: &str) -> Result<()> {
        run(Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string()))
        .map(drop)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The group is killed before the leader is reaped, while its id cannot be reused.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.pid())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last lines of a log file, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Checks that `name` is safe in a path, a URL and a lighttpd regular expression: letters,
/// digits, `-`, `_`, `.` and inner `/`, without `..`.
fn check_name(what: &'static str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            what,
            value: name.to_string(),
        })
    }
}

/// Checks a basic-auth user and password for lighttpd's plain user file (`user:password`
/// lines).
fn check_credentials(user: &str, password: &str) -> Result<()> {
    if user.is_empty() || user.contains([':', '\n', '\r']) {
        return Err(Error::Invalid {
            what: "user name",
            value: user.to_string(),
        });
    }
    if password.contains(['\n', '\r']) {
        return Err(Error::Invalid {
            what: "password",
            value: "(a password with a line break)".to_string(),
        });
    }
    Ok(())
}

/// `text` percent-encoded for the user-information part of a URL.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for ok in ["app", "team/app", "a-b_c.d"] {
            assert!(check_name("name", ok).is_ok(), "{ok}");
        }
        for bad in ["", "/abs", "x/", "a/../b", "a b", "a$", "a\"b"] {
            assert!(check_name("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_information_is_percent_encoded() {
        assert_eq!(percent_encode("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
        assert_eq!(percent_encode("plain-1.2_~"), "plain-1.2_~");
    }
}
