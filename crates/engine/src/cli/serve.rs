//! `tripline serve`: the listener and the deploy workers, headless.

use std::net::SocketAddr;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::{Context, boundary, sandbox};
use crate::app::ClusterRef;
use crate::deploy::worker::Workers;
use crate::error::ErrorBody;
use crate::listener::{self, Listener};
use crate::secrets::Secrets;

/// `tripline serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback unless you mean it: 0.0.0.0:8787 for a server)
    #[arg(long, default_value = "127.0.0.1:8787", env = "TRIPLINE_LISTEN")]
    listen: SocketAddr,
    /// The base URL registries and CI reach this listener at, for printed trigger URLs
    #[arg(long, env = "TRIPLINE_PUBLIC_URL")]
    public_url: Option<String>,
    /// The largest request body accepted, in bytes
    #[arg(long, default_value_t = 1024 * 1024)]
    body_limit: usize,
    /// Access records kept per trigger
    #[arg(long, default_value_t = 10_000)]
    retention: usize,
}

/// Runs the listener until SIGINT or SIGTERM, then drains in-flight requests.
pub fn run(cx: &mut Context, args: ServeArgs) -> Result<(), ErrorBody> {
    let secrets = cx.secrets()?;
    let database = cx.store.info().map_err(boundary)?.path;
    let data_dir = cx.data_dir.clone();
    let json = cx.json;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            ErrorBody::new(
                "cli.runtime",
                format!("cannot start the async runtime: {e}"),
            )
        })?;
    runtime.block_on(async move {
        match &secrets {
            Secrets::Keyring => tracing::info!("trigger tokens are in the OS keyring"),
            Secrets::Files(dir) => tracing::warn!(
                folder = %dir.display(),
                "no OS keyring answered: trigger tokens are kept in owner-only files (mode 0600); \
                 pass --secrets keyring to require the keyring instead"
            ),
        }
        let access =
            crate::sandbox::access::clusters_for(&ClusterRef::Sandbox, &data_dir, json).await?;
        let cancel = CancellationToken::new();
        let workers = Workers::new(
            database.clone(),
            access.clusters.clone(),
            cancel.child_token(),
        )
        .map_err(boundary)?;
        let config = listener::Config {
            listen: args.listen,
            public_url: args.public_url,
            body_limit: args.body_limit,
            retention: args.retention,
            ..listener::Config::default()
        };
        let base = config.base_url();
        let state =
            listener::State::new(config, database, secrets, workers.clone()).map_err(boundary)?;
        let listener = Listener::start(state, cancel.child_token())
            .await
            .map_err(|e| {
                ErrorBody::new(
                    "listener.bind",
                    format!("cannot listen on {}: {e}", args.listen),
                )
            })?;
        tracing::info!(listening = %listener.address(), public_url = %base, "listening");
        if json {
            say!(
                "{}",
                serde_json::json!({"listening": listener.address().to_string(), "publicUrl": base})
            );
        } else {
            say!(
                "Tripline is listening on http://{} (trigger URLs use {base}).",
                listener.address()
            );
            say!("Press Ctrl-C to stop.");
        }
        sandbox::wait_for_signal().await;
        tracing::info!("stopping: finishing requests in flight");
        listener.shutdown().await;
        workers.shutdown().await;
        access.shutdown().await;
        Ok(())
    })
}
