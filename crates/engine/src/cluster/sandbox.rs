//! Finding (or starting) the sandbox for a command or an app. The façade reaches it
//! ([`crate::api::Tripline`]); `tripline sandbox` uses the paths below to announce one.
//!
//! A running `tripline sandbox` writes its address to `<data dir>/sandbox/endpoint` and its
//! kubeconfig beside it. Whoever needs the sandbox uses that server when it answers;
//! otherwise it starts the sandbox in its own process for as long as it runs (its state
//! lives in the same directory, so nothing is lost between runs).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tripline_sandbox::{Sandbox, SandboxConfig};

use super::Clusters;
use crate::app::ClusterRef;
use crate::error::{Code, ErrorBody};

/// Where the sandbox keeps its state under a data directory.
pub fn sandbox_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("sandbox")
}

/// The file a running `tripline sandbox` writes its URL to.
pub fn endpoint_file(data_dir: &Path) -> PathBuf {
    sandbox_dir(data_dir).join("endpoint")
}

/// The kubeconfig path a running `tripline sandbox` writes.
pub fn kubeconfig_file(data_dir: &Path) -> PathBuf {
    sandbox_dir(data_dir).join("kubeconfig")
}

/// The client configuration of a `tripline sandbox` that announced itself, if any.
pub fn running_config(data_dir: &Path) -> Option<kube::Config> {
    let url = std::fs::read_to_string(endpoint_file(data_dir)).ok()?;
    let uri = url.trim().parse().ok()?;
    Some(kube::Config::new(uri))
}

/// True when the API server at `config` answers within two seconds.
pub async fn reachable(config: &kube::Config) -> bool {
    let Ok(client) = kube::Client::try_from(config.clone()) else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), client.apiserver_version()).await,
        Ok(Ok(_))
    )
}

/// Clusters for a command, with the sandbox it had to start (stopped by [`Self::shutdown`]).
/// The façade holds it ([`crate::api::Tripline`]); front ends ask the façade.
pub(crate) struct ClusterAccess {
    /// Where applications can be deployed.
    pub(crate) clusters: Clusters,
    started: Option<Sandbox>,
}

impl ClusterAccess {
    /// Stops the sandbox this command started, if it did.
    pub(crate) async fn shutdown(self) {
        if let Some(sandbox) = self.started {
            sandbox.shutdown().await;
        }
    }
}

/// Makes `cluster` reachable: a running sandbox is reused, else one is started in-process.
pub(crate) async fn clusters_for(
    cluster: &ClusterRef,
    data_dir: &Path,
    quiet: bool,
) -> Result<ClusterAccess, ErrorBody> {
    if *cluster != ClusterRef::Sandbox {
        return Ok(ClusterAccess {
            clusters: Clusters::new(running_config(data_dir)),
            started: None,
        });
    }
    if let Some(config) = running_config(data_dir)
        && reachable(&config).await
    {
        return Ok(ClusterAccess {
            clusters: Clusters::new(Some(config)),
            started: None,
        });
    }
    let config = SandboxConfig {
        data_dir: Some(sandbox_dir(data_dir)),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.map_err(|e| {
        ErrorBody::new(
            Code::SandboxStart,
            format!("cannot start the sandbox cluster: {e}"),
        )
    })?;
    if !quiet {
        eprintln!(
            "(started the sandbox cluster in this process; run `tripline sandbox` to keep it running between commands)"
        );
    }
    Ok(ClusterAccess {
        clusters: Clusters::new(Some(sandbox.client_config())),
        started: Some(sandbox),
    })
}
