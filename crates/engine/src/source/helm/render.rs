//! Running `helm template` on a verified chart archive.
//!
//! The archive and the values are written to a private temporary directory (mode 0700) that
//! also holds Helm's cache, config and data homes, so a render reads no repository list,
//! registry login or plugin of the machine's own Helm and leaves nothing behind. Helm runs
//! with a timeout (and is killed past it), its output is cut off past the size limit, and
//! its error output, trimmed, is what a failed render reports.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::{Limits, SourceError};
use crate::error::Code;

/// How much of Helm's error output is kept.
const STDERR_LIMIT: usize = 64 * 1024;

/// Renders `archive` with `values` as release `release` in `namespace`.
pub(super) async fn template(
    helm: &Path,
    archive: &[u8],
    values: &str,
    release: &str,
    namespace: &str,
    limits: &Limits,
) -> Result<String, SourceError> {
    check_name("release name", release, 53)?;
    check_name("namespace", namespace, 63)?;
    let dir = tempfile::Builder::new()
        .prefix("tripline-helm-")
        .tempdir()
        .map_err(|e| io_error("a temporary directory could not be made", e))?;
    let root = dir.path();
    let chart = root.join("chart.tgz");
    let values_file = root.join("values.yaml");
    for (path, bytes) in [(&chart, archive), (&values_file, values.as_bytes())] {
        tokio::fs::write(path, bytes)
            .await
            .map_err(|e| io_error("the chart could not be written to disk", e))?;
    }
    let mut command = Command::new(helm);
    command
        .arg("template")
        .arg(release)
        .arg(&chart)
        .arg("--namespace")
        .arg(namespace)
        .arg("--values")
        .arg(&values_file)
        .current_dir(root)
        .env("HELM_CACHE_HOME", root.join("cache"))
        .env("HELM_CONFIG_HOME", root.join("config"))
        .env("HELM_DATA_HOME", root.join("data"))
        .env(
            "HELM_REPOSITORY_CONFIG",
            root.join("config/repositories.yaml"),
        )
        .env("HELM_REPOSITORY_CACHE", root.join("cache/repository"))
        .env("HELM_REGISTRY_CONFIG", root.join("config/registry.json"))
        .env("HELM_PLUGINS", root.join("data/plugins"))
        .env_remove("HELM_DEBUG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            super::tool_missing(&format!("{} does not exist", helm.display()))
        } else {
            io_error(&format!("{} could not be started", helm.display()), error)
        }
    })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let run = async {
        let (out, err) = tokio::try_join!(
            read_capped(stdout, limits.size, true),
            read_capped(stderr, STDERR_LIMIT, false),
        )?;
        let status = child
            .wait()
            .await
            .map_err(|e| io_error("helm could not be waited for", e))?;
        Ok::<_, SourceError>((status, out, err))
    };
    let (status, out, err) = match tokio::time::timeout(limits.render_timeout, run).await {
        Ok(result) => result?,
        Err(_) => {
            // `kill_on_drop` ends helm when `child` drops with this scope.
            return Err(SourceError::new(
                Code::SourceInvalid,
                format!(
                    "helm template did not finish within {}; the chart may loop or be too large",
                    seconds(limits.render_timeout)
                ),
            ));
        }
    };
    if !status.success() {
        let stderr = String::from_utf8_lossy(&err);
        let stderr = stderr.trim();
        let stderr = if stderr.is_empty() {
            format!("it exited with {status} and said nothing")
        } else {
            stderr.to_owned()
        };
        return Err(SourceError::new(
            Code::SourceInvalid,
            format!("helm template failed: {stderr}"),
        ));
    }
    String::from_utf8(out).map_err(|_| {
        SourceError::new(
            Code::SourceInvalid,
            "helm template wrote manifests that are not UTF-8 text",
        )
    })
}

/// Reads a stream to its end, keeping at most `limit` bytes. Past the limit, stdout is an
/// error (the manifests would be cut) and stderr is just cut.
async fn read_capped(
    stream: impl AsyncRead + Unpin,
    limit: usize,
    is_stdout: bool,
) -> Result<Vec<u8>, SourceError> {
    let mut kept = Vec::new();
    let mut limited = stream.take(limit as u64 + 1);
    limited
        .read_to_end(&mut kept)
        .await
        .map_err(|e| io_error("helm's output could not be read", e))?;
    if kept.len() > limit {
        if is_stdout {
            return Err(SourceError::new(
                Code::SourceTooLarge,
                format!(
                    "helm template wrote more than the {} limit of manifests",
                    super::bytes(limit)
                ),
            ));
        }
        kept.truncate(limit);
        // Drain the rest so helm is not blocked writing to a full pipe.
        let mut rest = limited.into_inner();
        let _ = tokio::io::copy(&mut rest, &mut tokio::io::sink()).await;
    }
    Ok(kept)
}

/// A release name or namespace: a DNS label, so it can never read as a flag or a path.
fn check_name(what: &str, name: &str, max: usize) -> Result<(), SourceError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(SourceError::new(
            Code::SourceInvalid,
            format!(
                "`{}` is not a valid {what}: use at most {max} lowercase letters, digits and `-`, \
                 starting and ending with a letter or digit",
                super::clip(name, 80)
            ),
        ))
    }
}

fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs())
}

fn io_error(what: &str, error: std::io::Error) -> SourceError {
    SourceError::new(Code::SourceInvalid, format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in `helm`: a shell script running `body`.
    #[cfg(unix)]
    fn fake_helm(dir: &Path, body: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join("helm");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn helm_runs_with_private_homes_and_its_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let helm = fake_helm(
            dir.path(),
            "echo \"$@\"; echo \"$HELM_CONFIG_HOME\"; cat \"$7\"; test -f \"$3\"",
        );
        let out = template(
            &helm,
            b"archive",
            "a: 1\n",
            "web",
            "shop",
            &Limits::default(),
        )
        .await
        .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("template web ")
                && lines[0].contains(" --namespace shop --values "),
            "{out}"
        );
        assert!(
            lines[1].contains("tripline-helm-") && lines[1].ends_with("/config"),
            "{out}"
        );
        assert_eq!(lines[2], "a: 1");
        // The temporary directory is gone afterwards.
        assert!(!Path::new(lines[1]).exists());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_slow_or_loud_helm_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            render_timeout: Duration::from_millis(300),
            size: 1024 * 1024,
            ..Limits::default()
        };
        let slow = fake_helm(dir.path(), "sleep 30");
        let started = std::time::Instant::now();
        let error = template(&slow, b"", "", "web", "default", &limits)
            .await
            .unwrap_err();
        assert_eq!(error.code, Code::SourceInvalid);
        assert!(
            error.message.contains("did not finish"),
            "{}",
            error.message
        );
        assert!(started.elapsed() < Duration::from_secs(10));

        let loud = fake_helm(dir.path(), "yes 'kind: ConfigMap'");
        let error = template(&loud, b"", "", "web", "default", &limits)
            .await
            .unwrap_err();
        assert_eq!(error.code, Code::SourceTooLarge, "{}", error.message);

        let failing = fake_helm(
            dir.path(),
            "echo '  Error: parse error in x.yaml  ' >&2; exit 1",
        );
        let error = template(&failing, b"", "", "web", "default", &limits)
            .await
            .unwrap_err();
        assert_eq!(error.code, Code::SourceInvalid);
        assert_eq!(
            error.message,
            "helm template failed: Error: parse error in x.yaml"
        );
    }

    #[test]
    fn release_names_and_namespaces_are_dns_labels() {
        for good in ["web", "a", "my-app-2", &"a".repeat(53)] {
            check_name("release name", good, 53).unwrap();
        }
        for bad in [
            "",
            "-n",
            "--kubeconfig=/etc/x",
            "Web",
            "a_b",
            "a/b",
            "../x",
            "x-",
            &"a".repeat(54),
        ] {
            let error = check_name("release name", bad, 53).unwrap_err();
            assert_eq!(error.code, Code::SourceInvalid, "{bad}");
        }
    }
}
