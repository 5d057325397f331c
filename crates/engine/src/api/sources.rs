//! Applications read from Git: creating one (the repository is read first, so a bad URL,
//! reference, credential or manifest is an error now, not at the first deploy), its
//! credentials, and what the repository offers to deploy.

use super::Tripline;
use crate::app::{Application, ClusterRef, NewApplication, Source};
use crate::error::{Code, ErrorBody};
use crate::source::git::GitSource;
use crate::source::{Credentials, Revision};

/// A Git application to create.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct NewGitApplication {
    /// Unique name (a DNS label); its template gets the same name.
    pub name: String,
    /// Where it is deployed.
    pub cluster: ClusterRef,
    /// The namespace.
    pub namespace: String,
    /// The repository, reference and directory.
    pub git: GitSource,
    /// Delete objects a new commit no longer has.
    pub prune: bool,
    /// A user name for the repository's server, with `password`.
    #[serde(default)]
    pub username: Option<String>,
    /// A password or token (kept in the secret store, never in the database).
    #[serde(default)]
    pub password: Option<String>,
}

impl Tripline {
    /// Creates an application from a Git repository: reads its reference first, then stores
    /// the application, its template (the manifests at that commit as version 1) and its
    /// credentials. Nothing is kept when any step fails.
    pub async fn create_git_app(&self, new: NewGitApplication) -> Result<Application, ErrorBody> {
        let application = NewApplication {
            name: new.name.clone(),
            cluster: new.cluster,
            namespace: new.namespace,
            source: Source::git(&new.name, new.git.clone()),
            prune: new.prune,
        };
        application
            .validate()
            .map_err(|refused| ErrorBody::new(Code::InputInvalid, refused.0))?;
        let credentials = match (new.username, new.password) {
            (None, None) => None,
            (username, Some(password)) if !password.is_empty() => Some(Credentials {
                username: username
                    .filter(|u| !u.is_empty())
                    .unwrap_or_else(|| "tripline".into()),
                password,
            }),
            _ => {
                return Err(ErrorBody::new(
                    Code::InputInvalid,
                    "a user name without a password or token: add the password, or leave both out",
                ));
            }
        };
        if self.store().app(&new.name).is_ok() {
            return Err(ErrorBody::new(
                Code::AppExists,
                format!("an application named {} exists", new.name),
            ));
        }
        let sources = self.sources();
        let (name, git, given) = (new.name.clone(), new.git, credentials.clone());
        let rendered =
            tokio::task::spawn_blocking(move || sources.read_git(&name, &git, given.as_ref()))
                .await
                .map_err(|e| ErrorBody::new(Code::SourceUnreachable, e.to_string()))?;
        let rendered = match rendered {
            Ok(rendered) => rendered,
            Err(error) => {
                self.sources().forget(&new.name);
                return Err(error.into());
            }
        };
        if let Some(credentials) = &credentials {
            self.sources()
                .set_credentials(&new.name, Some(credentials))
                .map_err(ErrorBody::from)?;
        }
        match self.store().create_source_app(&application, &rendered) {
            Ok(app) => Ok(app),
            Err(error) => {
                self.sources().forget(&new.name);
                Err(error.into())
            }
        }
    }

    /// The revision an application's latest template version was read from (`None` for a
    /// template application, or a version written in Tripline, such as a rollback).
    pub fn source_revision(&self, app: &str) -> Result<Option<Revision>, ErrorBody> {
        let store = self.store();
        let application = store.app(app)?;
        let Some(template) = application.source.template() else {
            return Ok(None);
        };
        Ok(store.version(template, None)?.summary.revision)
    }
}
