//! A Helm chart repository over HTTP: charts made by `helm create`, edited as a test needs,
//! packaged by `helm package`, indexed by `helm repo index` and served by lighttpd.
//!
//! ```text
//! add_chart ─ helm create ─ set version ─ customise(dir) ─ helm package ─ helm repo index --merge
//!                                                                               │
//! http://127.0.0.1:P/charts/index.yaml, /charts/NAME-VERSION.tgz ─ lighttpd ─ www/charts/
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use tempfile::TempDir;

use crate::lighttpd::{self, Lighttpd};
use crate::{Error, Helm, Result, check_credentials, check_name, io};

/// A chart repository on loopback. Stops lighttpd and removes the charts on drop.
pub struct ChartRepo {
    lighttpd: Lighttpd,
    helm: Helm,
    charts: PathBuf,
    work: PathBuf,
    credentials: Option<(String, String)>,
    /// One `add_chart` at a time: each rewrites the index.
    lock: Mutex<()>,
    _dir: TempDir,
}

impl ChartRepo {
    /// The programs the repository needs, for [`crate::require`].
    pub const TOOLS: &'static [&'static str] = &["helm", "lighttpd"];

    /// Starts an anonymous chart repository, with an empty index.
    pub fn start() -> Result<ChartRepo> {
        ChartRepo::start_inner(None)
    }

    /// Starts a chart repository that asks for `user` and `password` (basic auth) for every
    /// file, the index included.
    pub fn start_with_auth(user: &str, password: &str) -> Result<ChartRepo> {
        check_credentials(user, password)?;
        ChartRepo::start_inner(Some((user.to_string(), password.to_string())))
    }

    fn start_inner(credentials: Option<(String, String)>) -> Result<ChartRepo> {
        let dir = tempfile::Builder::new()
            .prefix("tripline-charts-")
            .tempdir()
            .map_err(io("creating the chart repository's directory"))?;
        let www = dir.path().join("www");
        let charts = www.join("charts");
        let work = dir.path().join("work");
        let web = dir.path().join("lighttpd");
        for d in [&charts, &work, &web] {
            std::fs::create_dir_all(d).map_err(io(format!("creating {d:?}")))?;
        }
        let mut config = String::new();
        if let Some((user, password)) = &credentials {
            let users = web.join("users");
            std::fs::write(&users, format!("{user}:{password}\n"))
                .map_err(io("writing the user file"))?;
            config = lighttpd::basic_auth("^/", "charts", &users);
        }
        let lighttpd = Lighttpd::start(&web, &www, &config)?;
        let repo = ChartRepo {
            lighttpd,
            helm: Helm::new()?,
            charts,
            work,
            credentials,
            lock: Mutex::new(()),
            _dir: dir,
        };
        // An empty index, as a new repository serves.
        let staging =
            tempfile::tempdir_in(&repo.work).map_err(io("creating a staging directory"))?;
        repo.helm.run([
            "repo".as_ref(),
            "index".as_ref(),
            staging.path().as_os_str(),
            "--url".as_ref(),
            repo.base_url().as_ref(),
        ])?;
        std::fs::rename(staging.path().join("index.yaml"), repo.index_path())
            .map_err(io("placing the index"))?;
        Ok(repo)
    }

    /// `http://127.0.0.1:P/charts`: the repository's URL, as `helm repo add` takes it.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/charts", self.lighttpd.port())
    }

    /// `http://127.0.0.1:P/charts/index.yaml`.
    pub fn index_url(&self) -> String {
        format!("{}/index.yaml", self.base_url())
    }

    /// The user and password the repository asks for, if any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The served `index.yaml` on disk (a test may rewrite it).
    pub fn index_path(&self) -> PathBuf {
        self.charts.join("index.yaml")
    }

    /// The served archive of `name` at `version` on disk.
    pub fn archive_path(&self, name: &str, version: &str) -> PathBuf {
        self.charts.join(format!("{name}-{version}.tgz"))
    }

    /// `http://127.0.0.1:P/charts/NAME-VERSION.tgz`.
    pub fn archive_url(&self, name: &str, version: &str) -> String {
        format!("{}/{name}-{version}.tgz", self.base_url())
    }

    /// The helm (with private homes) the repository packages and indexes with.
    pub fn helm(&self) -> &Helm {
        &self.helm
    }

    /// Makes chart `name` at `version` with `helm create`, lets `customise` edit its
    /// directory (see [`set_app_version`], [`set_image`], [`set_yaml_value`]), packages it
    /// and adds it to the index; returns the archive's path. The entries already indexed
    /// keep their digests, so an archive corrupted earlier stays detectably corrupt.
    pub fn add_chart(
        &self,
        name: &str,
        version: &str,
        customise: impl FnOnce(&Path),
    ) -> Result<PathBuf> {
        check_name("chart name", name)?;
        check_name("chart version", version)?;
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let source = tempfile::tempdir_in(&self.work).map_err(io("creating a chart directory"))?;
        self.helm
            .command()
            .current_dir(source.path())
            .args(["create", name])
            .output()
            .map_err(io("running helm create"))
            .and_then(|out| {
                if out.status.success() {
                    Ok(())
                } else {
                    Err(Error::Command {
                        command: format!("helm create {name}"),
                        status: out.status.to_string(),
                        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                    })
                }
            })?;
        let chart = source.path().join(name);
        set_chart_version(&chart, version)?;
        customise(&chart);
        let staging =
            tempfile::tempdir_in(&self.work).map_err(io("creating a staging directory"))?;
        self.helm.run([
            "package".as_ref(),
            chart.as_os_str(),
            "--destination".as_ref(),
            staging.path().as_os_str(),
        ])?;
        let packaged = staging.path().join(format!("{name}-{version}.tgz"));
        if !packaged.is_file() {
            return Err(Error::Unexpected {
                what: "helm package".into(),
                output: format!("no {packaged:?} (did customise change the name or version?)"),
            });
        }
        // Only the new archive is indexed; the served entries are merged in unchanged.
        let index = self.index_path();
        self.helm.run([
            "repo".as_ref(),
            "index".as_ref(),
            staging.path().as_os_str(),
            "--url".as_ref(),
            self.base_url().as_ref(),
            "--merge".as_ref(),
            index.as_os_str(),
        ])?;
        let archive = self.archive_path(name, version);
        std::fs::rename(&packaged, &archive).map_err(io("placing the archive"))?;
        std::fs::rename(staging.path().join("index.yaml"), &index)
            .map_err(io("placing the index"))?;
        Ok(archive)
    }

    /// Changes a byte in the middle of the served archive of `name` at `version`, so it no
    /// longer matches the index's digest.
    pub fn corrupt_archive(&self, name: &str, version: &str) -> Result<()> {
        let path = self.archive_path(name, version);
        let mut bytes = std::fs::read(&path).map_err(io(format!("reading {path:?}")))?;
        let middle = bytes.len() / 2;
        let byte = bytes.get_mut(middle).ok_or_else(|| Error::Invalid {
            what: "archive (empty)",
            value: path.display().to_string(),
        })?;
        *byte ^= 0xff;
        std::fs::write(&path, bytes).map_err(io(format!("writing {path:?}")))
    }
}

/// Sets `version:` in the chart's `Chart.yaml`.
pub fn set_chart_version(chart: &Path, version: &str) -> Result<()> {
    set_yaml_value(&chart.join("Chart.yaml"), &["version"], version)
}

/// Sets `appVersion:` in the chart's `Chart.yaml`.
pub fn set_app_version(chart: &Path, app_version: &str) -> Result<()> {
    set_yaml_value(&chart.join("Chart.yaml"), &["appVersion"], app_version)
}

/// Sets the default `image.repository` and `image.tag` in the chart's `values.yaml` (as
/// `helm create` lays it out).
pub fn set_image(chart: &Path, repository: &str, tag: &str) -> Result<()> {
    let values = chart.join("values.yaml");
    set_yaml_value(&values, &["image", "repository"], repository)?;
    set_yaml_value(&values, &["image", "tag"], tag)
}

/// Sets the scalar at `key_path` (`["image", "tag"]`) of a block-style YAML mapping to the
/// string `value`, in place, keeping the rest of the file (comments included) as it is.
/// Fails when the key is not in the file.
pub fn set_yaml_value(file: &Path, key_path: &[&str], value: &str) -> Result<()> {
    let text = std::fs::read_to_string(file).map_err(io(format!("reading {file:?}")))?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // The keys enclosing the current line, with their indentation.
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut found = false;
    for line in &mut lines {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('-') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let Some((key, _)) = trimmed.split_once(':') else {
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key.trim().to_string()));
        if stack.len() == key_path.len() && stack.iter().zip(key_path).all(|((_, k), p)| k == p) {
            *line = format!("{}{}: {}", " ".repeat(indent), key.trim(), quote(value));
            found = true;
            break;
        }
    }
    if !found {
        return Err(Error::Invalid {
            what: "YAML key (not in the file)",
            value: format!("{} in {}", key_path.join("."), file.display()),
        });
    }
    let mut out = lines.join("\n");
    out.push('\n');
    std::fs::write(file, out).map_err(io(format!("writing {file:?}")))
}

/// `value` as a double-quoted YAML string.
fn quote(value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_value_is_set_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("values.yaml");
        std::fs::write(
            &file,
            "# comment\nreplicaCount: 1\n\nimage:\n  repository: nginx\n  # why\n  tag: \"\"\nother:\n  tag: keep\n",
        )
        .unwrap();
        set_yaml_value(&file, &["image", "tag"], "1.2.3").unwrap();
        set_yaml_value(&file, &["image", "repository"], "example.org/app").unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "# comment\nreplicaCount: 1\n\nimage:\n  repository: \"example.org/app\"\n  # why\n  tag: \"1.2.3\"\nother:\n  tag: keep\n"
        );
        assert!(set_yaml_value(&file, &["tag"], "x").is_err());
    }
}
