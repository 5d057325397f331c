//! Clusters: kubeconfig contexts, referenced by name, and the built-in sandbox.
//!
//! [`Clusters`] reads the kubeconfig (`$KUBECONFIG`, else `~/.kube/config`) when asked, never
//! copies it, and turns an application's [`ClusterRef`] into a `kube::Client`. The sandbox
//! has no kubeconfig entry of its own here: whoever started it passes its client config in;
//! [`sandbox`] finds the one running for a data directory, or starts one.

pub mod sandbox;

use serde::Serialize;

use crate::app::ClusterRef;
use crate::error::Code;

/// Errors from finding or connecting to a cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig could not be read or parsed.
    #[error("cannot read the kubeconfig: {0}")]
    Kubeconfig(#[source] kube::config::KubeconfigError),
    /// No kubeconfig file exists.
    #[error(
        "no kubeconfig found ($KUBECONFIG is unset and ~/.kube/config does not exist); \
         use the sandbox cluster or point KUBECONFIG at your cluster's config"
    )]
    NoKubeconfig,
    /// The context is not in the kubeconfig.
    #[error("the kubeconfig has no context named {name:?} (it has: {available})")]
    UnknownContext {
        /// The context asked for.
        name: String,
        /// The contexts there are.
        available: String,
    },
    /// The sandbox is not running in this process.
    #[error(
        "the sandbox cluster is not running; start it with `tripline sandbox` or let `tripline deploy` start it"
    )]
    SandboxNotRunning,
    /// The context's settings could not be turned into a client.
    #[error("cannot connect to context {name:?}: {source}")]
    Client {
        /// The context.
        name: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
}

impl From<&Error> for crate::error::ErrorBody {
    fn from(error: &Error) -> Self {
        let code = match error {
            Error::Kubeconfig(_) => Code::ClusterKubeconfig,
            Error::NoKubeconfig => Code::ClusterNoKubeconfig,
            Error::UnknownContext { .. } => Code::ClusterNotFound,
            Error::SandboxNotRunning => Code::ClusterSandboxNotRunning,
            Error::Client { .. } => Code::ClusterUnreachable,
        };
        crate::error::ErrorBody::new(code, error.to_string())
    }
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A cluster as listed to people (no credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    /// How applications refer to it.
    pub reference: ClusterRef,
    /// Display name (`sandbox` or the context name).
    pub name: String,
    /// The API server URL, when known.
    pub server: Option<String>,
    /// The context's default namespace.
    pub namespace: Option<String>,
    /// The kubeconfig's current context.
    pub current: bool,
}

/// The clusters Tripline can deploy to.
#[derive(Clone, Default)]
pub struct Clusters {
    sandbox: Option<kube::Config>,
}

impl std::fmt::Debug for Clusters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clusters")
            .field(
                "sandbox",
                &self.sandbox.as_ref().map(|c| c.cluster_url.to_string()),
            )
            .finish()
    }
}

fn read_kubeconfig() -> Result<Option<kube::config::Kubeconfig>> {
    match kube::config::Kubeconfig::read() {
        Ok(config) => Ok(Some(config)),
        Err(kube::config::KubeconfigError::FindPath) => Ok(None),
        Err(kube::config::KubeconfigError::ReadConfig(e, _))
            if e.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::Kubeconfig(e)),
    }
}

impl Clusters {
    /// Clusters with the sandbox reachable through `sandbox`, if it runs.
    pub fn new(sandbox: Option<kube::Config>) -> Self {
        Clusters { sandbox }
    }

    /// The sandbox and every kubeconfig context.
    pub fn list(&self) -> Result<Vec<ClusterInfo>> {
        let mut clusters = vec![ClusterInfo {
            reference: ClusterRef::Sandbox,
            name: "sandbox".into(),
            server: self.sandbox.as_ref().map(|c| c.cluster_url.to_string()),
            namespace: None,
            current: false,
        }];
        if let Some(config) = read_kubeconfig()? {
            for context in &config.contexts {
                let details = context.context.as_ref();
                let server = details.and_then(|d| {
                    config
                        .clusters
                        .iter()
                        .find(|c| c.name == d.cluster)
                        .and_then(|c| c.cluster.as_ref())
                        .and_then(|c| c.server.clone())
                });
                clusters.push(ClusterInfo {
                    reference: ClusterRef::Context {
                        name: context.name.clone(),
                    },
                    name: context.name.clone(),
                    server,
                    namespace: details.and_then(|d| d.namespace.clone()),
                    current: config.current_context.as_deref() == Some(context.name.as_str()),
                });
            }
        }
        Ok(clusters)
    }

    /// A client for `cluster`.
    pub async fn client(&self, cluster: &ClusterRef) -> Result<kube::Client> {
        let config = self.config(cluster).await?;
        let name = cluster.to_string();
        kube::Client::try_from(config).map_err(|source| Error::Client {
            name,
            source: Box::new(source),
        })
    }

    /// The client configuration for `cluster`.
    pub async fn config(&self, cluster: &ClusterRef) -> Result<kube::Config> {
        match cluster {
            ClusterRef::Sandbox => self.sandbox.clone().ok_or(Error::SandboxNotRunning),
            ClusterRef::Context { name } => {
                let kubeconfig = read_kubeconfig()?.ok_or(Error::NoKubeconfig)?;
                if !kubeconfig.contexts.iter().any(|c| &c.name == name) {
                    let available = kubeconfig
                        .contexts
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(Error::UnknownContext {
                        name: name.clone(),
                        available,
                    });
                }
                let options = kube::config::KubeConfigOptions {
                    context: Some(name.clone()),
                    ..Default::default()
                };
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(Error::Kubeconfig)
            }
        }
    }
}
