//! Secrets: trigger tokens and HMAC keys, kept in the OS keyring — never in the database,
//! never in logs, never sent to the webview.
//!
//! [`Secrets::detect`] picks where secrets live: the OS keyring (the Secret Service on Linux,
//! through the `keyring` crate) when one answers, otherwise — on a bare server with no
//! session bus — a directory of key files readable only by their owner (mode 0600 in a
//! 0700 directory), which `tripline serve` announces at start. The database keeps only a
//! SHA-256 hash of each token, which is all the listener needs to authenticate a call.

use std::fmt;
use std::path::{Path, PathBuf};

/// The keyring service name all Tripline entries use.
pub const SERVICE: &str = "tripline";

/// Errors from storing or reading a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The OS keyring refused or failed.
    #[error("the OS keyring failed: {0}")]
    Keyring(#[source] keyring::Error),
    /// The key file could not be written or read.
    #[error("cannot use the key file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// There is no secret under that name.
    #[error("no secret is stored for {0:?} (it was never created here, or was deleted)")]
    Missing(String),
    /// A name that cannot be a file name.
    #[error("invalid secret name {0:?}")]
    InvalidName(String),
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where secrets are kept.
#[derive(Clone, PartialEq, Eq)]
pub enum Secrets {
    /// The OS keyring.
    Keyring,
    /// Owner-only files in a directory (for servers without a keyring).
    Files(PathBuf),
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secrets::Keyring => f.write_str("Secrets::Keyring"),
            Secrets::Files(dir) => write!(f, "Secrets::Files({})", dir.display()),
        }
    }
}

impl fmt::Display for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secrets::Keyring => f.write_str("the OS keyring"),
            Secrets::Files(dir) => write!(f, "owner-only key files in {}", dir.display()),
        }
    }
}

/// How to choose the secret store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    /// The keyring if it answers, else key files.
    #[default]
    Auto,
    /// The keyring or nothing.
    Keyring,
    /// Key files.
    Files,
}

impl Secrets {
    /// Chooses the store; `Auto` probes the keyring with a throwaway entry.
    pub fn detect(choice: Choice, data_dir: &Path) -> Result<Self> {
        let files = Secrets::Files(data_dir.join("secrets"));
        match choice {
            Choice::Files => Ok(files),
            Choice::Keyring => probe().map(|()| Secrets::Keyring),
            Choice::Auto => Ok(probe().map(|()| Secrets::Keyring).unwrap_or(files)),
        }
    }

    /// Stores `value` under `name`, replacing any earlier value.
    pub fn set(&self, name: &str, value: &str) -> Result<()> {
        match self {
            Secrets::Keyring => entry(name)?.set_password(value).map_err(Error::Keyring),
            Secrets::Files(dir) => write_private(dir, name, value),
        }
    }

    /// Reads the secret `name`.
    pub fn get(&self, name: &str) -> Result<String> {
        match self {
            Secrets::Keyring => match entry(name)?.get_password() {
                Ok(value) => Ok(value),
                Err(keyring::Error::NoEntry) => Err(Error::Missing(name.to_owned())),
                Err(e) => Err(Error::Keyring(e)),
            },
            Secrets::Files(dir) => {
                let path = file(dir, name)?;
                match std::fs::read_to_string(&path) {
                    Ok(value) => Ok(value),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Err(Error::Missing(name.to_owned()))
                    }
                    Err(source) => Err(Error::File { path, source }),
                }
            }
        }
    }

    /// Deletes the secret `name`; deleting a missing secret is not an error.
    pub fn delete(&self, name: &str) -> Result<()> {
        match self {
            Secrets::Keyring => match entry(name)?.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(Error::Keyring(e)),
            },
            Secrets::Files(dir) => {
                let path = file(dir, name)?;
                match std::fs::remove_file(&path) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(source) => Err(Error::File { path, source }),
                }
            }
        }
    }
}

fn entry(name: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, name).map_err(Error::Keyring)
}

/// Writes, reads back and deletes a throwaway entry: the only sure sign a keyring works.
fn probe() -> Result<()> {
    let name = format!("probe-{}", std::process::id());
    let entry = entry(&name)?;
    entry.set_password("probe").map_err(Error::Keyring)?;
    let read = entry.get_password().map_err(Error::Keyring);
    let _ = entry.delete_credential();
    match read? {
        value if value == "probe" => Ok(()),
        _ => Err(Error::Missing(name)),
    }
}

fn file(dir: &Path, name: &str) -> Result<PathBuf> {
    let safe = !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        && !name.contains("..");
    if !safe {
        return Err(Error::InvalidName(name.to_owned()));
    }
    Ok(dir.join(name.replace('/', "__")))
}

fn write_private(dir: &Path, name: &str, value: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
    let path = file(dir, name)?;
    let io = |source: std::io::Error| Error::File {
        path: path.clone(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    // Write a new file and rename it over the old one: a crash leaves one or the other.
    let temporary = path.with_extension("tmp");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(io)?;
    out.write_all(value.as_bytes()).map_err(io)?;
    out.sync_all().map_err(io)?;
    std::fs::rename(&temporary, &path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn key_files_are_private_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Secrets::detect(Choice::Files, dir.path()).unwrap();
        secrets.set("trigger/shop-redeploy", "tl_secret").unwrap();
        assert_eq!(secrets.get("trigger/shop-redeploy").unwrap(), "tl_secret");
        let path = dir.path().join("secrets/trigger__shop-redeploy");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(dir.path().join("secrets"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        secrets.set("trigger/shop-redeploy", "tl_rotated").unwrap();
        assert_eq!(secrets.get("trigger/shop-redeploy").unwrap(), "tl_rotated");
        secrets.delete("trigger/shop-redeploy").unwrap();
        secrets.delete("trigger/shop-redeploy").unwrap();
        assert!(matches!(
            secrets.get("trigger/shop-redeploy"),
            Err(Error::Missing(_))
        ));
    }

    #[test]
    fn hostile_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Secrets::Files(dir.path().to_path_buf());
        for name in ["", "../etc/passwd", "a\0b", "x y", &"a".repeat(300)] {
            assert!(
                matches!(secrets.set(name, "v"), Err(Error::InvalidName(_))),
                "{name:?}"
            );
        }
    }

    /// Runs against the real Secret Service when the test environment provides one
    /// (`scripts/test.sh` starts gnome-keyring-daemon in a D-Bus session). Set
    /// TRIPLINE_REQUIRE_KEYRING=1 to make its absence a failure.
    #[test]
    fn the_os_keyring_round_trips_when_present() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = match Secrets::detect(Choice::Keyring, dir.path()) {
            Ok(secrets) => secrets,
            Err(error) => {
                assert!(
                    std::env::var_os("TRIPLINE_REQUIRE_KEYRING").is_none(),
                    "TRIPLINE_REQUIRE_KEYRING is set but the keyring failed: {error}"
                );
                eprintln!("no OS keyring here ({error}); skipped");
                return;
            }
        };
        let name = format!("test/{}", std::process::id());
        secrets.set(&name, "tl_value").unwrap();
        assert_eq!(secrets.get(&name).unwrap(), "tl_value");
        secrets.delete(&name).unwrap();
        assert!(matches!(secrets.get(&name), Err(Error::Missing(_))));
    }
}
