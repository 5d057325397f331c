//! Applications: what to deploy, where.
//!
//! An [`Application`] names a cluster, a namespace and one [`Source`]: a Tripline template,
//! deployed at its latest version, a Git repository's directory of manifests, or a Helm chart
//! rendered with values. A Git or Helm application keeps what its source renders as versions
//! of a template of its own (named after it), so history, diffs and rollback work as for
//! templates; the versions say which commit or chart version they came from. A Helm
//! application's values are versioned too (see [`crate::store::ValuesVersion`]). Applications are validated here ([`NewApplication::validate`]) and
//! stored by [`crate::store`].

use serde::{Deserialize, Serialize};

use crate::source::git::GitSource;
use crate::source::helm::HelmSource;
use crate::template::check_dns_label;

/// Where an application is deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ClusterRef {
    /// The built-in sandbox cluster.
    Sandbox,
    /// A kubeconfig context, by name (the kubeconfig itself is never copied).
    Context {
        /// The context's name.
        name: String,
    },
}

impl std::fmt::Display for ClusterRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterRef::Sandbox => f.write_str("sandbox"),
            ClusterRef::Context { name } => write!(f, "context {name}"),
        }
    }
}

/// Which revision of a template an application deploys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Pin {
    /// Always the newest version.
    #[default]
    Latest,
}

/// What an application deploys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Source {
    /// A Tripline template.
    Template {
        /// The template's name.
        template: String,
        /// Which version.
        #[serde(default)]
        pin: Pin,
    },
    /// A directory of manifests in a Git repository, at a branch, tag or commit.
    Git {
        /// Where the manifests are.
        #[serde(flatten)]
        git: GitSource,
        /// The template the rendered manifests are kept in: the application's own name.
        template: String,
    },
    /// A Helm chart from a chart repository or an OCI registry, at a version or the newest
    /// in a range, rendered with the application's values.
    Helm {
        /// Where the chart is and which version.
        #[serde(flatten)]
        helm: HelmSource,
        /// The template the rendered manifests are kept in: the application's own name.
        template: String,
    },
}

impl Source {
    /// The template this source deploys: the one named, or the one a Git application keeps
    /// its rendered manifests in.
    pub fn template(&self) -> Option<&str> {
        match self {
            Source::Template { template, .. }
            | Source::Git { template, .. }
            | Source::Helm { template, .. } => Some(template),
        }
    }

    /// True for a source read from outside Tripline (Git, Helm), whose template only the
    /// source writes: a request body cannot patch it.
    pub fn is_external(&self) -> bool {
        !matches!(self, Source::Template { .. })
    }

    /// A Git source for the application `app`.
    pub fn git(app: &str, git: GitSource) -> Self {
        Source::Git {
            git,
            template: app.to_owned(),
        }
    }

    /// A Helm source for the application `app`.
    pub fn helm(app: &str, helm: HelmSource) -> Self {
        Source::Helm {
            helm,
            template: app.to_owned(),
        }
    }
}

/// A stored application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Unique name (a DNS label).
    pub name: String,
    /// Where it is deployed.
    pub cluster: ClusterRef,
    /// The namespace its namespaced objects go to.
    pub namespace: String,
    /// What it deploys.
    pub source: Source,
    /// Delete objects a new version no longer has.
    pub prune: bool,
    /// Why triggers may not act on it now, when it is on hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// An application to create.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct NewApplication {
    /// Unique name (a DNS label).
    pub name: String,
    /// Where it is deployed.
    pub cluster: ClusterRef,
    /// The namespace.
    pub namespace: String,
    /// What it deploys.
    pub source: Source,
    /// Delete objects a new version no longer has.
    pub prune: bool,
}

impl NewApplication {
    /// Checks names; the refusal says which field and why.
    pub fn validate(&self) -> Result<(), crate::error::Refused> {
        check_dns_label(&self.name, "application name")?;
        check_dns_label(&self.namespace, "namespace")?;
        if let ClusterRef::Context { name } = &self.cluster
            && name.trim().is_empty()
        {
            return Err("the kubeconfig context name is empty".into());
        }
        let (kind, template) = match &self.source {
            Source::Template { .. } => return Ok(()),
            Source::Git { git, template } => {
                git.validate()
                    .map_err(|e| crate::error::Refused(e.message))?;
                ("Git", template)
            }
            Source::Helm { helm, template } => {
                helm.validate()
                    .map_err(|e| crate::error::Refused(e.message))?;
                ("Helm", template)
            }
        };
        if template != &self.name {
            return Err(crate::error::Refused(format!(
                "a {kind} application keeps its manifests in a template named after it \
                 ({}), not {template}",
                self.name
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, namespace: &str) -> NewApplication {
        NewApplication {
            name: name.into(),
            cluster: ClusterRef::Sandbox,
            namespace: namespace.into(),
            source: Source::Template {
                template: "t".into(),
                pin: Pin::Latest,
            },
            prune: false,
        }
    }

    #[test]
    fn names_follow_dns_label_rules() {
        for (name, ok) in [
            ("demo", true),
            ("demo-2", true),
            ("Demo", false),
            ("-demo", false),
            ("demo_app", false),
            ("", false),
            (&"a".repeat(64), false),
        ] {
            assert_eq!(app(name, "default").validate().is_ok(), ok, "{name:?}");
        }
        let error = app("demo", "Prod").validate().unwrap_err();
        assert!(error.0.contains("namespace"), "{error}");
    }

    #[test]
    fn source_serialises_with_a_type_tag() {
        let source = Source::Template {
            template: "web".into(),
            pin: Pin::Latest,
        };
        assert_eq!(
            serde_json::to_value(&source).unwrap(),
            serde_json::json!({"type": "template", "template": "web", "pin": "latest"})
        );
    }
}
