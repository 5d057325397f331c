//! Debian's `docker-registry` (the distribution registry) on loopback: filesystem storage,
//! plain HTTP, and optionally a notifications endpoint it calls on every push. Anonymous by
//! default; [`Registry::start_with`] puts it behind htpasswd basic auth or token auth (a token
//! service the test runs, whose signing certificate the registry trusts). Charts go in with the
//! real `helm push`, images with `skopeo copy`.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::{Daemon, Error, Helm, Result, check_name, io, output, which};

/// Who the registry lets in.
#[derive(Debug, Clone, Default)]
pub enum RegistryAuth {
    /// Everyone.
    #[default]
    Anonymous,
    /// One user, checked against an htpasswd file (bcrypt, made by `htpasswd -B`).
    Htpasswd {
        /// The user.
        username: String,
        /// Their password.
        password: String,
    },
    /// Bearer tokens from `realm`, signed with the key of a certificate in `root_certificate`.
    Token {
        /// The token service's URL, sent in the challenge.
        realm: String,
        /// The `service` the tokens are for (their `aud`).
        service: String,
        /// The tokens' `iss`.
        issuer: String,
        /// A PEM file of the certificates whose keys may sign tokens.
        root_certificate: PathBuf,
    },
}

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

    /// The programs an image registry test needs: the registry and [`Registry::copy_image`].
    pub const IMAGE_TOOLS: &'static [&'static str] = &["docker-registry", "skopeo"];

    /// Starts the registry, anonymous. With `notify`, it sends its push and pull events to
    /// that URL (`notifications.endpoints`, as a real registry would call Tripline's listener).
    pub fn start(notify: Option<&str>) -> Result<Registry> {
        Registry::start_with(notify, RegistryAuth::Anonymous)
    }

    /// Starts the registry with `auth` (htpasswd needs the `htpasswd` program).
    pub fn start_with(notify: Option<&str>, auth: RegistryAuth) -> Result<Registry> {
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
        let auth = auth_config(dir.path(), &auth)?;
        let (daemon, port) = Daemon::spawn(
            "docker-registry",
            &dir.path().join("registry.log"),
            |port| {
                std::fs::write(&config, registry_config(&storage, port, notify, &auth))
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

impl Registry {
    /// Copies the image tagged `latest` in the OCI layout `layout` (see [`crate::oci_layout`])
    /// to `<repository>:<tag>` with `skopeo copy`, as `credentials` (`user`, `password`) when
    /// given. Returns the digest of the manifest as pushed.
    pub fn copy_image(
        &self,
        layout: &Path,
        target: &str,
        credentials: Option<(&str, &str)>,
    ) -> Result<String> {
        check_image(target)?;
        let digest_file = tempfile::NamedTempFile::new_in(self.dir.path())
            .map_err(io("creating a digest file"))?;
        let mut command = Command::new("skopeo");
        command
            .args([
                "--insecure-policy",
                "copy",
                "--dest-tls-verify=false",
                "--digestfile",
            ])
            .arg(digest_file.path());
        if let Some((username, password)) = credentials {
            command.arg(format!("--dest-creds={username}:{password}"));
        }
        command
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{}/{target}", self.host()));
        output(&mut command)?;
        let digest = std::fs::read_to_string(digest_file.path())
            .map_err(io("reading skopeo's digest file"))?;
        Ok(digest.trim().to_owned())
    }

    /// Deletes the manifest `<repository>:<tag>` points at with `skopeo delete` (and with it
    /// every tag of that manifest).
    pub fn delete_image(&self, target: &str, credentials: Option<(&str, &str)>) -> Result<()> {
        check_image(target)?;
        let mut command = Command::new("skopeo");
        command.args(["--insecure-policy", "delete", "--tls-verify=false"]);
        if let Some((username, password)) = credentials {
            command.arg(format!("--creds={username}:{password}"));
        }
        command.arg(format!("docker://{}/{target}", self.host()));
        output(&mut command).map(drop)
    }
}

/// `repository:tag` with nothing a command line or URL would read differently.
fn check_image(target: &str) -> Result<()> {
    let fine = !target.is_empty()
        && target
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/:".contains(&b));
    if fine {
        Ok(())
    } else {
        Err(Error::Invalid {
            what: "image",
            value: target.to_owned(),
        })
    }
}

/// The `auth:` section for `auth`, writing the htpasswd file it names.
fn auth_config(dir: &Path, auth: &RegistryAuth) -> Result<String> {
    Ok(match auth {
        RegistryAuth::Anonymous => String::new(),
        RegistryAuth::Htpasswd { username, password } => {
            check_name("username", username)?;
            let out = output(Command::new("htpasswd").args([
                "-Bbn",
                username.as_str(),
                password.as_str(),
            ]))?;
            let path = dir.join("htpasswd");
            std::fs::write(&path, &out.stdout).map_err(io("writing the htpasswd file"))?;
            format!(
                "auth:\n  htpasswd:\n    realm: tripline\n    path: {}\n",
                path.display()
            )
        }
        RegistryAuth::Token {
            realm,
            service,
            issuer,
            root_certificate,
        } => format!(
            "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
            root_certificate.display()
        ),
    })
}

/// The digest on helm's `Digest: sha256:…` line.
fn digest_line(text: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.trim().strip_prefix("Digest:"))
        .map(|digest| digest.trim().to_string())
        .filter(|digest| digest.starts_with("sha256:"))
}

/// The registry's configuration: filesystem storage, plain HTTP on loopback, an endpoint
/// for notifications when one is given, and the `auth` section.
fn registry_config(storage: &Path, port: u16, notify: Option<&str>, auth: &str) -> String {
    let mut config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
        root = storage.display()
    );
    if let Some(url) = notify {
        config.push_str(&format!(
            "notifications:\n  endpoints:\n    - name: tripline\n      url: {url}\n      timeout: 3s\n      threshold: 3\n      backoff: 1s\n"
        ));
    }
    config.push_str(auth);
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
