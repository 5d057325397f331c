//! `tripline serve`: the listener and the deploy workers, headless.

use std::net::SocketAddr;

use clap::Args;
use tripline_engine::api::{Options, Tripline};
use tripline_engine::error::{Code, ErrorBody};
use tripline_engine::listener;
use tripline_engine::secrets::Secrets;

use crate::{Context, sandbox};

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
    /// Keep access records younger than this many days (older ones go only when they are
    /// also beyond --keep-records)
    #[arg(long, default_value_t = 90, value_name = "DAYS")]
    keep_days: u32,
    /// Keep each trigger's newest records, this many, whatever their age
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    keep_records: usize,
    /// A reverse proxy (address or network, e.g. 10.0.0.1 or 10.0.0.0/8) whose
    /// X-Forwarded-For names the caller; repeat for several. Without one, the peer is the caller
    #[arg(long = "trusted-proxy", value_name = "ADDR|CIDR")]
    trusted_proxies: Vec<listener::TrustedProxy>,
    /// Open connections held at once; past this a new one is answered 503 with Retry-After
    /// and closed [default: from the open-file limit, three quarters of it, at most 16384]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// Open connections held at once from one address (an IPv6 one's /64)
    /// [default: a quarter of --max-connections, at least 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections_per_address: Option<u32>,
}

/// The connection caps `(total, per address)`: the flags, or what the descriptor limit
/// allows.
fn connection_caps(args: &ServeArgs) -> Result<(usize, usize), ErrorBody> {
    let descriptors = listener::connections::descriptor_limit();
    let (default_total, _) = listener::connections::caps_for(descriptors);
    let total = args.max_connections.map_or(default_total, |n| n as usize);
    let per_address = args
        .max_connections_per_address
        .map_or(listener::connections::per_address_cap(total), |n| {
            n as usize
        });
    if per_address > total {
        return Err(ErrorBody::new(
            Code::CliUsage,
            format!(
                "--max-connections-per-address {per_address} is more than --max-connections \
                 {total}: one address cannot hold more than all of them"
            ),
        ));
    }
    if total > default_total {
        tracing::warn!(
            max_connections = total,
            open_file_limit = ?descriptors,
            "--max-connections is above what the open-file limit leaves room for: past it, \
             connections fail instead of being answered 503 (raise the limit, e.g. ulimit -n)"
        );
    }
    Ok((total, per_address))
}

/// Runs the listener until SIGINT or SIGTERM, then drains in-flight requests. The database,
/// secrets, sandbox and deploy workers are the façade's ([`Tripline::open`]), as in the
/// desktop app; only the listener's server settings come from the flags.
pub fn run(cx: &mut Context, args: ServeArgs) -> Result<(), ErrorBody> {
    let (max_connections, max_connections_per_address) = connection_caps(&args)?;
    let public_url = listener::public_url(args.public_url.as_deref())?;
    // Found here, with the command line's own advice when no keyring answers.
    let secrets = cx.secrets()?;
    let files_chosen = matches!(cx.secrets, super::SecretsChoice::Files);
    let options = Options {
        data_dir: cx.data_dir.clone(),
        secrets: secrets.clone(),
        via: "cli",
        quiet: cx.json,
    };
    let json = cx.json;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            ErrorBody::new(
                Code::CliRuntime,
                format!("cannot start the async runtime: {e}"),
            )
        })?;
    runtime.block_on(async move {
        match &secrets {
            Secrets::Keyring => tracing::info!("trigger tokens are in the OS keyring"),
            Secrets::Files(dir) if files_chosen => tracing::info!(
                folder = %dir.display(),
                "trigger tokens are kept in owner-only files (mode 0600), as --secrets files asks"
            ),
            Secrets::Files(dir) => tracing::warn!(
                folder = %dir.display(),
                "no OS keyring answered: trigger tokens are kept in owner-only files (mode 0600); \
                 pass --secrets keyring to require the keyring instead"
            ),
        }
        let tripline = Tripline::open(options).await?;
        if !tripline.resumed().is_empty() {
            tracing::info!(
                apps = %tripline.resumed().join(", "),
                "resuming the deploys a stopped Tripline had accepted"
            );
        }
        let config = listener::Config {
            listen: args.listen,
            public_url: public_url.clone(),
            body_limit: args.body_limit,
            retention: tripline_engine::store::Retention {
                days: args.keep_days,
                per_trigger: args.keep_records,
            },
            trusted_proxies: args.trusted_proxies,
            max_connections,
            max_connections_per_address,
            ..listener::Config::default()
        };
        let address = match tripline.serve_listener(config).await {
            Ok(address) => address,
            Err(error) => {
                tripline.shutdown().await;
                return Err(error);
            }
        };
        // The bound address, not the asked-for one: `--listen 127.0.0.1:0` picks a port.
        let base = public_url.unwrap_or_else(|| format!("http://{address}"));
        tracing::info!(listening = %address, public_url = %base, "listening");
        if json {
            say!(
                "{}",
                serde_json::json!({"listening": address.to_string(), "publicUrl": base})
            );
        } else {
            say!("Tripline is listening on http://{address} (trigger URLs use {base}).");
            say!("Press Ctrl-C to stop.");
        }
        sandbox::wait_for_signal().await;
        tracing::info!("stopping: finishing requests in flight");
        tripline.shutdown().await;
        Ok(())
    })
}
