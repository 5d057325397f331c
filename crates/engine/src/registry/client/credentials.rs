//! Credentials per registry host, found where a person already keeps them.
//!
//! [`find`] looks, in order:
//!
//! 1. Tripline's secret store (the OS keyring, or owner-only key files on a server), under
//!    [`secret_name`] (`registry/<host>`), written by `tripline registry login`;
//! 2. the user's Docker configuration (`$DOCKER_CONFIG/config.json`, else
//!    `~/.docker/config.json`): a `credHelpers` entry for the host, then the `auths` entry
//!    (`auth` as base64 `user:password`, or `username`/`password`, or `identitytoken`), then
//!    the `credsStore` every host falls back to. A helper is run as Docker runs it:
//!    `docker-credential-<name> get`, the server's address on stdin, a JSON answer on stdout.
//!
//! Where to look is a [`Places`] value, so a test names its own configuration and `PATH`
//! instead of changing the process's environment. What is found says where it came from
//! ([`Origin`]) without the secret, and no error carries one: a helper's output is read up to
//! a limit, within a timeout, and only its first line of complaint is repeated.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use super::{Credentials, Repository};
use crate::secrets::{self, Secrets};

/// The username a credential helper answers with when its secret is an identity token.
pub const IDENTITY_TOKEN_USER: &str = "<token>";

/// The key Docker writes Docker Hub's credentials under.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The largest Docker configuration file read.
const CONFIG_LIMIT: u64 = 1024 * 1024;

/// The most a credential helper may write on stdout or stderr.
const HELPER_OUTPUT_LIMIT: usize = 64 * 1024;

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why credentials could not be found. No variant carries a password or token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host is not a registry host.
    #[error("`{host}` is not a registry host: {reason}")]
    Host {
        /// The host as given (clipped).
        host: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The secret store failed.
    #[error("the credentials for {host} cannot be read from the secret store: {source}")]
    Secrets {
        /// The registry host.
        host: String,
        /// Why.
        #[source]
        source: secrets::Error,
    },
    /// What the secret store holds for the host is not a username and password.
    #[error(
        "the secret store's entry for {host} is damaged ({reason}); run `tripline registry \
         login {host}` again"
    )]
    Stored {
        /// The registry host.
        host: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The Docker configuration cannot be read or is not what Docker writes.
    #[error("the Docker configuration {path} cannot be used: {reason}")]
    DockerConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration names a credential helper that is not installed.
    #[error(
        "the Docker configuration names the credential helper `{name}`, but \
         docker-credential-{name} is not on PATH; install it or remove it from the configuration"
    )]
    HelperMissing {
        /// The helper's name (`pass`, `ecr-login`).
        name: String,
    },
    /// The helper could not be run, failed, or took too long.
    #[error("the credential helper docker-credential-{name} failed: {reason}")]
    HelperFailed {
        /// The helper's name.
        name: String,
        /// Its exit status and the first line it complained with, or the timeout.
        reason: String,
    },
    /// The helper answered something other than `{"Username":…,"Secret":…}`.
    #[error("the credential helper docker-credential-{name} answered malformed JSON: {reason}")]
    HelperAnswer {
        /// The helper's name.
        name: String,
        /// What is wrong with the answer (never its content).
        reason: String,
    },
}

/// Where credentials were found. Shown to people; never holds the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Tripline's secret store (`tripline registry login`).
    SecretStore,
    /// An `auths` entry of the Docker configuration file.
    DockerConfig {
        /// The file.
        path: PathBuf,
    },
    /// A Docker credential helper (`credHelpers` or `credsStore`).
    Helper {
        /// Its name (`docker-credential-<name>`).
        name: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::SecretStore => f.write_str("Tripline's secret store"),
            Origin::DockerConfig { path } => {
                write!(f, "the Docker configuration {}", path.display())
            }
            Origin::Helper { name } => write!(f, "the credential helper docker-credential-{name}"),
        }
    }
}

/// Credentials and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The credentials (an identity token has [`IDENTITY_TOKEN_USER`] as its username).
    pub credentials: Credentials,
    /// Where they came from.
    pub origin: Origin,
}

/// Where to look besides the secret store: the Docker configuration file and the `PATH`
/// credential helpers are found on.
#[derive(Debug, Clone)]
pub struct Places {
    /// The Docker configuration file, if there is a place for one.
    pub docker_config: Option<PathBuf>,
    /// The directories helpers are looked for in (and the `PATH` they run with).
    pub path: Option<OsString>,
    /// How long a helper may take.
    pub helper_timeout: Duration,
}

impl Places {
    /// As Docker looks: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; this
    /// process's `PATH`; helpers given ten seconds.
    pub fn from_env() -> Places {
        let docker_config = match std::env::var_os("DOCKER_CONFIG") {
            Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir).join("config.json")),
            _ => std::env::var_os("HOME")
                .filter(|home| !home.is_empty())
                .map(|home| PathBuf::from(home).join(".docker").join("config.json")),
        };
        Places {
            docker_config,
            path: std::env::var_os("PATH"),
            helper_timeout: Duration::from_secs(10),
        }
    }

    /// Nowhere: only the secret store is asked.
    pub fn nowhere() -> Places {
        Places {
            docker_config: None,
            path: None,
            helper_timeout: Duration::from_secs(10),
        }
    }
}

/// The registry host as the client reaches it, from what a person types: `ghcr.io`,
/// `https://ghcr.io/`, `127.0.0.1:5000`, `docker.io` (which is `registry-1.docker.io`).
pub fn canonical_host(input: &str) -> Result<String> {
    let trimmed = input.trim();
    let bare = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .unwrap_or(trimmed);
    let bare = bare.split('/').next().unwrap_or(bare);
    let invalid = |reason: String| Error::Host {
        host: clip(input, 100),
        reason,
    };
    if bare.is_empty() {
        return Err(invalid("it is empty".into()));
    }
    // `x` as the repository: a host alone is not an image reference.
    let repository = Repository::parse(&format!("{bare}/x")).map_err(|e| invalid(e.to_string()))?;
    if !bare.contains(['.', ':']) && !bare.eq_ignore_ascii_case("localhost") {
        return Err(invalid(
            "a registry host has a dot or a port (`ghcr.io`, `registry.local:5000`)".into(),
        ));
    }
    Ok(repository.host().to_owned())
}

/// The secret store's name for a registry host's credentials: `registry/<host>`, with the
/// port's colon (and an IPv6 address's brackets) written as `_`.
pub fn secret_name(host: &str) -> String {
    let safe: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("registry/{safe}")
}

/// The secret store's value for `credentials`.
pub fn stored_value(credentials: &Credentials) -> String {
    serde_json::json!({"username": credentials.username, "password": credentials.password})
        .to_string()
}

/// Reads back what [`stored_value`] wrote.
fn parse_stored(host: &str, value: &str) -> Result<Credentials> {
    let damaged = |reason: &str| Error::Stored {
        host: host.to_owned(),
        reason: reason.to_owned(),
    };
    let value: Value = serde_json::from_str(value).map_err(|_| damaged("not JSON"))?;
    let field = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    match (field("username"), field("password")) {
        (Some(username), Some(password)) if !password.is_empty() => {
            Ok(Credentials::new(username, password))
        }
        _ => Err(damaged("no username and password")),
    }
}

/// The credentials for `host` (as [`canonical_host`] writes it): from `secrets` when it holds
/// some, else from the Docker configuration and its helpers in `places`. `None` when nowhere
/// has any: the registry is then asked anonymously.
pub fn find(host: &str, secrets: Option<&Secrets>, places: &Places) -> Result<Option<Found>> {
    if let Some(secrets) = secrets {
        match secrets.get(&secret_name(host)) {
            Ok(value) => {
                return Ok(Some(Found {
                    credentials: parse_stored(host, &value)?,
                    origin: Origin::SecretStore,
                }));
            }
            Err(secrets::Error::Missing(_)) => {}
            Err(source) => {
                return Err(Error::Secrets {
                    host: host.to_owned(),
                    source,
                });
            }
        }
    }
    let Some(path) = &places.docker_config else {
        return Ok(None);
    };
    let Some(config) = DockerConfig::read(path)? else {
        return Ok(None);
    };
    config.find(host, places)
}

/// What a Docker configuration file says, for the parts credentials come from.
#[derive(Debug, Default)]
struct DockerConfig {
    path: PathBuf,
    /// `auths`: the key as written, and the entry.
    auths: Vec<(String, AuthEntry)>,
    /// `credHelpers`: the key as written, and the helper's name.
    helpers: Vec<(String, String)>,
    /// `credsStore`.
    store: Option<String>,
}

/// One `auths` entry, decoded.
#[derive(Debug, Default, PartialEq, Eq)]
struct AuthEntry {
    username: Option<String>,
    password: Option<String>,
    identity_token: Option<String>,
}

impl DockerConfig {
    /// Reads the file; `None` when there is none.
    fn read(path: &Path) -> Result<Option<DockerConfig>> {
        let unusable = |reason: String| Error::DockerConfig {
            path: path.to_owned(),
            reason,
        };
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unusable(e.to_string())),
        };
        let mut text = Vec::new();
        file.take(CONFIG_LIMIT + 1)
            .read_to_end(&mut text)
            .map_err(|e| unusable(e.to_string()))?;
        if text.len() as u64 > CONFIG_LIMIT {
            return Err(unusable(format!(
                "it is larger than {} KiB",
                CONFIG_LIMIT / 1024
            )));
        }
        DockerConfig::parse(path, &text).map(Some)
    }

    /// Reads the parts that matter, naming the key of anything malformed and never a value.
    fn parse(path: &Path, text: &[u8]) -> Result<DockerConfig> {
        let unusable = |reason: String| Error::DockerConfig {
            path: path.to_owned(),
            reason,
        };
        let value: Value = serde_json::from_slice(text).map_err(|e| {
            unusable(format!(
                "not JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(top) = value else {
            return Err(unusable("it is not a JSON object".into()));
        };
        let mut config = DockerConfig {
            path: path.to_owned(),
            ..DockerConfig::default()
        };
        match top.get("auths") {
            None | Some(Value::Null) => {}
            Some(Value::Object(auths)) => {
                for (key, entry) in auths {
                    let entry = AuthEntry::parse(entry).map_err(|reason| {
                        unusable(format!("auths[{:?}]: {reason}", clip(key, 100)))
                    })?;
                    config.auths.push((key.clone(), entry));
                }
            }
            Some(_) => return Err(unusable("`auths` is not an object".into())),
        }
        match top.get("credHelpers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(helpers)) => {
                for (key, name) in helpers {
                    let name = helper_name(name).map_err(|reason| {
                        unusable(format!("credHelpers[{:?}]: {reason}", clip(key, 100)))
                    })?;
                    config.helpers.push((key.clone(), name));
                }
            }
            Some(_) => return Err(unusable("`credHelpers` is not an object".into())),
        }
        match top.get("credsStore") {
            None | Some(Value::Null) => {}
            Some(Value::String(name)) if name.is_empty() => {}
            Some(name) => {
                config.store = Some(
                    helper_name(name)
                        .map_err(|reason| unusable(format!("credsStore: {reason}")))?,
                );
            }
        }
        Ok(config)
    }

    /// The credentials for `host`: its credential helper, its `auths` entry, then the
    /// credentials store.
    fn find(&self, host: &str, places: &Places) -> Result<Option<Found>> {
        if let Some((key, name)) = self.helpers.iter().find(|(key, _)| key_host(key) == host) {
            return run_helper(name, &server_url(key, host), places);
        }
        let entry = self.auths.iter().find(|(key, _)| key_host(key) == host);
        if let Some((_, entry)) = entry
            && let Some(credentials) = entry.credentials()
        {
            return Ok(Some(Found {
                credentials,
                origin: Origin::DockerConfig {
                    path: self.path.clone(),
                },
            }));
        }
        if let Some(name) = &self.store {
            let key = entry.map(|(key, _)| key.as_str());
            return run_helper(name, &server_url(key.unwrap_or(host), host), places);
        }
        Ok(None)
    }
}

impl AuthEntry {
    fn parse(entry: &Value) -> Result<AuthEntry, String> {
        let Value::Object(entry) = entry else {
            return Err("not an object".into());
        };
        let text = |key: &str| -> Result<Option<String>, String> {
            match entry.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("`{key}` is not a string")),
            }
        };
        let mut parsed = AuthEntry {
            username: text("username")?,
            password: text("password")?,
            identity_token: text("identitytoken")?,
        };
        if let Some(auth) = text("auth")? {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| "`auth` is not base64".to_owned())?;
            let decoded =
                String::from_utf8(decoded).map_err(|_| "`auth` is not UTF-8".to_owned())?;
            let (username, password) = decoded
                .split_once(':')
                .ok_or_else(|| "`auth` is not `username:password`".to_owned())?;
            parsed.username = Some(username.to_owned());
            parsed.password = Some(password.to_owned());
        }
        Ok(parsed)
    }

    /// The entry as credentials: an identity token first (Docker prefers it), then a username
    /// and password.
    fn credentials(&self) -> Option<Credentials> {
        if let Some(token) = &self.identity_token {
            return Some(Credentials::new(IDENTITY_TOKEN_USER, token.clone()));
        }
        match (&self.username, &self.password) {
            (Some(username), Some(password)) => {
                Some(Credentials::new(username.clone(), password.clone()))
            }
            _ => None,
        }
    }
}

/// A helper's name: letters, digits, `-`, `_` and `.` only, since it becomes part of a
/// program's name.
fn helper_name(value: &Value) -> Result<String, String> {
    let Value::String(name) = value else {
        return Err("the helper's name is not a string".into());
    };
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    if fine {
        Ok(name.clone())
    } else {
        Err(format!(
            "`{}` is not a helper name (letters, digits, `-`, `_`, `.`)",
            clip(name, 64)
        ))
    }
}

/// The registry host a configuration key names, as [`canonical_host`] writes it: keys are
/// written with or without a scheme and path (`https://index.docker.io/v1/`, `ghcr.io`).
/// A key that names no host matches nothing.
fn key_host(key: &str) -> String {
    canonical_host(key).unwrap_or_default()
}

/// The server address handed to a helper: the configuration's own key when there is one
/// (what `docker login` stored it under), else Docker Hub's key or the host.
fn server_url(key: &str, host: &str) -> String {
    if key_host(key) == host && key != host {
        return key.to_owned();
    }
    if canonical_host(DOCKER_HUB_KEY).is_ok_and(|hub| hub == host) {
        return DOCKER_HUB_KEY.to_owned();
    }
    host.to_owned()
}

/// `docker-credential-<name>` in the directories of `path`.
fn helper_program(name: &str, path: Option<&OsString>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let program = format!("docker-credential-{name}");
    std::env::split_paths(path?)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(&program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// Runs `docker-credential-<name> get` with `server` on stdin, as Docker does, within the
/// timeout and reading at most [`HELPER_OUTPUT_LIMIT`] of each stream. A helper that says it
/// has no credentials for the server is `None`.
fn run_helper(name: &str, server: &str, places: &Places) -> Result<Option<Found>> {
    let program =
        helper_program(name, places.path.as_ref()).ok_or_else(|| Error::HelperMissing {
            name: name.to_owned(),
        })?;
    let failed = |reason: String| Error::HelperFailed {
        name: name.to_owned(),
        reason,
    };
    let mut command = Command::new(&program);
    command
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = &places.path {
        command.env("PATH", path);
    }
    let mut child = command
        .spawn()
        .map_err(|e| failed(format!("it could not be started ({e})")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let server = server.to_owned();
    // A helper that never reads its input must not hold this thread: writing is its own.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(server.as_bytes());
    });
    let stdout = bounded_reader(child.stdout.take().expect("stdout is piped"));
    let stderr = bounded_reader(child.stderr.take().expect("stderr is piped"));
    let deadline = Instant::now() + places.helper_timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!(
                    "it did not answer within {} s",
                    places.helper_timeout.as_secs_f32()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(failed(format!("waiting for it failed ({e})"))),
        }
    };
    let _ = writer.join();
    let (stdout, stdout_over) = stdout.join().unwrap_or_default();
    let (stderr, _) = stderr.join().unwrap_or_default();
    let malformed = |reason: &str| Error::HelperAnswer {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    // Checked first: a helper cut off at the limit dies of the broken pipe.
    if stdout_over {
        return Err(malformed(&format!(
            "it wrote more than {} KiB",
            HELPER_OUTPUT_LIMIT / 1024
        )));
    }
    if !status.success() {
        let said = first_line(&stderr)
            .or_else(|| first_line(&stdout))
            .unwrap_or_default();
        // docker-credential-helpers' "not found" answer, on stdout, exit status 1.
        if said.contains("credentials not found") {
            return Ok(None);
        }
        let status = match status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_owned(),
        };
        return Err(failed(if said.is_empty() {
            status
        } else {
            format!("{status}: {said}")
        }));
    }
    let answer: Value = serde_json::from_slice(&stdout).map_err(|e| {
        malformed(&format!(
            "not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let field = |key: &str| match answer.get(key) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(malformed(&format!("`{key}` is not a string"))),
    };
    let username = field("Username")?.unwrap_or_default();
    let Some(secret) = field("Secret")?.filter(|s| !s.is_empty()) else {
        return Err(malformed("it has no `Secret`"));
    };
    Ok(Some(Found {
        credentials: Credentials::new(username, secret),
        origin: Origin::Helper {
            name: name.to_owned(),
        },
    }))
}

/// Reads `stream` on its own thread up to [`HELPER_OUTPUT_LIMIT`] bytes; the flag says the
/// stream had more. Stops reading there, so a helper that keeps writing gets a broken pipe.
fn bounded_reader(
    stream: impl std::io::Read + Send + 'static,
) -> std::thread::JoinHandle<(Vec<u8>, bool)> {
    std::thread::spawn(move || {
        let mut read = Vec::new();
        let _ = stream
            .take(HELPER_OUTPUT_LIMIT as u64 + 1)
            .read_to_end(&mut read);
        let over = read.len() > HELPER_OUTPUT_LIMIT;
        read.truncate(HELPER_OUTPUT_LIMIT);
        (read, over)
    })
}

/// The first non-empty line of `bytes`, clipped, for a message.
fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| clip(line, 200))
}

fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
#[path = "credentials_tests.rs"]
mod tests;
