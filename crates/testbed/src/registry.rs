//! Debian's `docker-registry` (the distribution registry) on loopback: filesystem storage,
//! plain HTTP, and optionally a notifications endpoint it calls on every push. Charts go in
//! with the real `helm push`.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::{Daemon, Error, Helm, Result, check_name, io, output, which};

/// A distribution registry on loopback. Stops it and removes its storage on drop.
pub struct Registry {
    _daemon: Daemon,
    port: u16,
    helm: Option<Helm>,
    dir: TempDir,
}

impl Registry {
    /// The programs the registry and [`Registry::push_chart`] need, for [`crate::require`].
    pub const TOOLS: &'static [&'static str] = &["docker-registry", "helm"];

    /// Starts the registry. With `notify`, it sends its push and pull events to that URL
    /// (`notifications.endpoints`, as a real registry would call Tripline's listener).
    pub fn start(notify: Option<&str>) -> Result<Registry> {
        let binary = which("docker-registry").ok_or_else(|| Error::NotStarted {
            what: "docker-registry".into(),
            log: "docker-registry is not installed".into(),
        })?;
        let dir = tempfile::Builder::new()
            .prefix("tripline-registry-")
            .tempdir()
            .map_err(io("creating the registry's directory"))?;
        let config = dir.path().join("registry.yml");
        let storage = dir.path().join("storage");
        let (daemon, port) = Daemon::spawn(
            "docker-registry",
            &dir.path().join("registry.log"),
            |port| {
                std::fs::write(&config, registry_config(&storage, port, notify))
                    .map_err(io("writing the registry's configuration"))?;
                let mut command = Command::new(&binary);
                command.arg("serve").arg(&config);
                Ok(command)
            },
        )?;
        Ok(Registry {
            _daemon: daemon,
            port,
            helm: Helm::binary().is_some().then(Helm::new).transpose()?,
            dir,
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `oci://127.0.0.1:PORT/REPOSITORY`, as helm names a chart repository in a registry.
    pub fn oci_url(&self, repository: &str) -> String {
        format!("oci://{}/{repository}", self.host())
    }

    /// The registry's log (its access log included).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    /// The helm the registry pushes with, when helm is installed.
    pub fn helm(&self) -> Option<&Helm> {
        self.helm.as_ref()
    }

    /// Pushes a chart (a packaged `.tgz`, or a chart directory, packaged first) with
    /// `helm push` to `oci://127.0.0.1:PORT/<repository>`; the chart lands at
    /// `<repository>/<chart name>:<chart version>`. Returns the manifest digest helm reports
    /// (`sha256:…`).
    pub fn push_chart(&self, chart: &Path, repository: &str) -> Result<String> {
        check_name("repository", repository)?;
        let helm = self.helm.as_ref().ok_or_else(|| Error::NotStarted {
            what: "helm".into(),
            log: "helm is not installed".into(),
        })?;
        let packaged;
        let archive = if chart.is_dir() {
            packaged = tempfile::tempdir_in(self.dir.path())
                .map_err(io("creating a package directory"))?;
            helm.run([
                "package".as_ref(),
                chart.as_os_str(),
                "--destination".as_ref(),
                packaged.path().as_os_str(),
            ])?;
            std::fs::read_dir(packaged.path())
                .map_err(io("reading the packaged chart"))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|e| e == "tgz"))
                .ok_or_else(|| Error::Unexpected {
                    what: "helm package".into(),
                    output: "no .tgz".into(),
                })?
        } else {
            chart.to_path_buf()
        };
        let out = output(
            helm.command()
                .arg("push")
                .arg(&archive)
                .arg(self.oci_url(repository))
                .args(helm.plain_http_args()),
        )?;
        // helm 3.10 prints `Digest:` on stdout; other versions on stderr.
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        digest_line(&text).ok_or(Error::Unexpected {
            what: "helm push".into(),
            output: text,
        })
    }
}

/// The digest on helm's `Digest: sha256:…` line.
fn digest_line(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.trim().strip_prefix("Digest:"))
        .map(|digest| digest.trim().to_string())
        .filter(|digest| digest.starts_with("sha256:"))
}

/// The registry's configuration: filesystem storage, plain HTTP on loopback, and an endpoint
/// for notifications when one is given.
fn registry_config(storage: &Path, port: u16, notify: Option<&str>) -> String {
    let mut config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
        root = storage.display()
    );
    if let Some(url) = notify {
        config.push_str(&format!(
            "notifications:\n  endpoints:\n    - name: tripline\n      url: {url}\n      timeout: 3s\n      threshold: 3\n      backoff: 1s\n"
        ));
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_read_from_helms_output() {
        let out = "Pushed: 127.0.0.1:5000/charts/demo:0.1.0\nDigest: sha256:e3e1\n";
        assert_eq!(digest_line(out).as_deref(), Some("sha256:e3e1"));
        assert_eq!(digest_line("Pushed: x\n"), None);
    }
}
