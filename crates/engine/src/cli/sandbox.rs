//! `tripline sandbox`, and finding (or starting) the sandbox for other commands.
//!
//! A running `tripline sandbox` writes its address to `<data dir>/sandbox/endpoint` and its
//! kubeconfig beside it. Commands that deploy to the sandbox use that server when it answers;
//! otherwise they start the sandbox in their own process for as long as they run (its state
//! lives in the same directory, so nothing is lost between runs).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::Context;
use crate::app::ClusterRef;
use crate::cluster::Clusters;
use crate::error::ErrorBody;
use crate::sandbox::{Sandbox, SandboxConfig};

/// `tripline sandbox` arguments.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to serve the Kubernetes API on (loopback unless you mean it)
    #[arg(long, default_value = "127.0.0.1:6445")]
    listen: SocketAddr,
    /// How long a new pod takes to become ready, in milliseconds
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    rollout_delay: u64,
    /// An image the sandbox pretends it cannot pull (repeatable); hosts ending in .invalid never pull
    #[arg(long = "missing-image", value_name = "IMAGE")]
    missing_images: Vec<String>,
}

fn sandbox_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("sandbox")
}

fn endpoint_file(data_dir: &Path) -> PathBuf {
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

async fn reachable(config: &kube::Config) -> bool {
    let Ok(client) = kube::Client::try_from(config.clone()) else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), client.apiserver_version()).await,
        Ok(Ok(_))
    )
}

/// Clusters for a command, with the sandbox it had to start (stopped by [`Self::shutdown`]).
pub struct ClusterAccess {
    /// Where applications can be deployed.
    pub clusters: Clusters,
    started: Option<Sandbox>,
}

impl ClusterAccess {
    /// Stops the sandbox this command started, if it did.
    pub async fn shutdown(self) {
        if let Some(sandbox) = self.started {
            sandbox.shutdown().await;
        }
    }
}

/// Makes `cluster` reachable: a running sandbox is reused, else one is started in-process.
pub async fn clusters_for(
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
            "sandbox.start",
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

/// `tripline sandbox`: serves the sandbox until Ctrl-C or SIGTERM.
pub fn run(cx: &mut Context, args: SandboxArgs) -> Result<(), ErrorBody> {
    let data_dir = cx.data_dir.clone();
    let json = cx.json;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            ErrorBody::new(
                "cli.runtime",
                format!("cannot start the async runtime: {e}"),
            )
        })?;
    runtime.block_on(async move {
        if let Some(config) = running_config(&data_dir)
            && reachable(&config).await
        {
            return Err(ErrorBody::new(
                "sandbox.exists",
                format!(
                    "a sandbox for this data directory is already running at {}; its kubeconfig is {}",
                    config.cluster_url,
                    kubeconfig_file(&data_dir).display()
                ),
            ));
        }
        let config = SandboxConfig {
            data_dir: Some(sandbox_dir(&data_dir)),
            listen: args.listen,
            rollout_delay: Duration::from_millis(args.rollout_delay),
            missing_images: args.missing_images,
        };
        let sandbox = Sandbox::start(config)
            .await
            .map_err(|e| ErrorBody::new("sandbox.start", format!("cannot start the sandbox cluster: {e}")))?;
        let kubeconfig = sandbox.kubeconfig();
        let write = |path: PathBuf, text: &str| {
            std::fs::write(&path, text)
                .map_err(|e| ErrorBody::new("sandbox.io", format!("cannot write {}: {e}", path.display())))
        };
        write(kubeconfig_file(&data_dir), &kubeconfig)?;
        write(endpoint_file(&data_dir), &sandbox.url())?;
        if json {
            say!("{}", serde_json::json!({"url": sandbox.url(), "kubeconfig": kubeconfig_file(&data_dir)}));
        } else {
            say!("The sandbox cluster is serving the Kubernetes API at {}", sandbox.url());
            say!("Its kubeconfig is in {}:", kubeconfig_file(&data_dir).display());
            say!();
            say_raw!("{kubeconfig}");
            say!();
            say!("Try: KUBECONFIG={} kubectl get all -A", kubeconfig_file(&data_dir).display());
            say!("Press Ctrl-C to stop (the cluster's state is kept).");
        }
        wait_for_signal().await;
        let _ = std::fs::remove_file(endpoint_file(&data_dir));
        sandbox.shutdown().await;
        Ok(())
    })
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
