//! `tripline sandbox`: serves the sandbox cluster and announces it (see
//! [`tripline_engine::cluster::sandbox`] for how other commands find it).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tripline_engine::cluster::sandbox::{
    endpoint_file, kubeconfig_file, reachable, running_config, sandbox_dir,
};
use tripline_engine::error::{Code, ErrorBody};
use tripline_engine::sandbox::{Sandbox, SandboxConfig};

use crate::Context;

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

/// `tripline sandbox`: serves the sandbox until Ctrl-C or SIGTERM.
pub fn run(cx: &mut Context, args: SandboxArgs) -> Result<(), ErrorBody> {
    let data_dir = cx.data_dir.clone();
    let json = cx.json;
    super::runtime()?.block_on(async move {
        if let Some(config) = running_config(&data_dir)
            && reachable(&config).await
        {
            return Err(ErrorBody::new(Code::SandboxExists,
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
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::start(config)
            .await
            .map_err(|e| ErrorBody::new(Code::SandboxStart, format!("cannot start the sandbox cluster: {e}")))?;
        let kubeconfig = sandbox.kubeconfig();
        let write = |path: PathBuf, text: &str| {
            std::fs::write(&path, text)
                .map_err(|e| ErrorBody::new(Code::SandboxIo, format!("cannot write {}: {e}", path.display())))
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
