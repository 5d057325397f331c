//! The `helm` program with private homes: its cache, configuration, data and registry
//! logins live in a temporary directory, never in the user's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tempfile::TempDir;

use crate::{Error, Result, io, run};

/// `helm`, run with its own `HELM_CACHE_HOME`, `HELM_CONFIG_HOME`, `HELM_DATA_HOME` and
/// `HELM_REGISTRY_CONFIG` under a temporary directory removed on drop.
pub struct Helm {
    binary: PathBuf,
    home: TempDir,
    plain_http: OnceLock<bool>,
}

impl Helm {
    /// A helm with fresh homes. Fails when helm is not installed (see [`Helm::binary`]).
    pub fn new() -> Result<Helm> {
        let binary = Helm::binary().ok_or_else(|| Error::NotStarted {
            what: "helm".into(),
            log: "helm is not installed (neither TRIPLINE_HELM nor PATH names it)".into(),
        })?;
        let home = tempfile::Builder::new()
            .prefix("tripline-helm-")
            .tempdir()
            .map_err(io("creating helm's home"))?;
        Ok(Helm {
            binary,
            home,
            plain_http: OnceLock::new(),
        })
    }

    /// The helm program: `TRIPLINE_HELM` when set, else `helm` on `PATH`.
    pub fn binary() -> Option<PathBuf> {
        match std::env::var_os("TRIPLINE_HELM") {
            Some(path) if !path.is_empty() => {
                let path = PathBuf::from(path);
                path.is_file().then_some(path)
            }
            _ => crate::which("helm"),
        }
    }

    /// A `helm` command with this helm's private homes.
    pub fn command(&self) -> Command {
        let home = self.home.path();
        let mut command = Command::new(&self.binary);
        command
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("HELM_REGISTRY_CONFIG", home.join("registry.json"))
            .env(
                "HELM_REPOSITORY_CONFIG",
                home.join("config/repositories.yaml"),
            )
            .env("HELM_REPOSITORY_CACHE", home.join("cache/repository"));
        command
    }

    /// Runs helm with `args` and returns its stdout.
    pub fn run<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        run(self.command().args(args))
    }

    /// The flags that make `helm push` and `helm pull` talk plain HTTP to an OCI registry:
    /// `--plain-http` on helm 3.13 and later; nothing on older helms, which use plain HTTP for
    /// registries on `localhost` and `127.0.0.1` by themselves.
    pub fn plain_http_args(&self) -> &'static [&'static str] {
        let supported = *self.plain_http.get_or_init(|| {
            self.run(["push", "--help"])
                .is_ok_and(|help| help.contains("--plain-http"))
        });
        if supported { &["--plain-http"] } else { &[] }
    }

    /// The directory holding the homes, for files a test wants to keep beside them.
    pub fn home(&self) -> &Path {
        self.home.path()
    }
}
