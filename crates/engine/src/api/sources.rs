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
        let credentials = credentials(new.username, new.password)?;
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

/// What deploying an application's newest source revision would change, before deploying it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct SourcePreview {
    /// The revision the running release deployed (none before the first deploy, or when it
    /// deployed a version written in Tripline, such as a rollback).
    pub deployed: Option<Revision>,
    /// The source's newest revision.
    pub newest: Revision,
    /// What would change against the running release's manifests (none before the first
    /// deploy).
    pub diff: Option<crate::diff::ManifestDiff>,
}

impl Tripline {
    /// A repository's branches and tags, for a picker (`username` and `password` as for
    /// creating the application; nothing is stored).
    pub async fn git_references(
        &self,
        url: &str,
        username: Option<String>,
        password: Option<String>,
    ) -> Result<crate::source::git::References, ErrorBody> {
        let credentials = credentials(username, password)?;
        let reader =
            crate::source::git::GitReader::new(self.data_dir.join("sources").join("listing"), None);
        let url = url.to_owned();
        tokio::task::spawn_blocking(move || reader.references(&url, credentials.as_ref()))
            .await
            .map_err(|e| ErrorBody::new(Code::SourceUnreachable, e.to_string()))?
            .map_err(ErrorBody::from)
    }

    /// Reads an application's source at its newest revision and compares it with what runs,
    /// without saving or deploying anything.
    pub async fn source_preview(&self, app: &str) -> Result<SourcePreview, ErrorBody> {
        let (application, running) = {
            let store = self.store();
            let application = store.app(app)?;
            let running = match (application.source.template(), store.last_success(app)?) {
                (Some(template), Some((number, _))) => Some(store.version(template, Some(number))?),
                _ => None,
            };
            (application, running)
        };
        let Source::Git { git, .. } = &application.source else {
            return Err(ErrorBody::new(
                Code::InputInvalid,
                format!("{app} deploys a template: its versions show what changes"),
            ));
        };
        let sources = self.sources();
        let (name, git) = (app.to_owned(), git.clone());
        let rendered = tokio::task::spawn_blocking(move || {
            let credentials = sources.credentials(&name)?;
            sources.read_git(&name, &git, credentials.as_ref())
        })
        .await
        .map_err(|e| ErrorBody::new(Code::SourceUnreachable, e.to_string()))??;
        let diff = match &running {
            Some(version) => Some(
                crate::diff::diff_texts(&version.content, &rendered.manifests)
                    .map_err(|e| ErrorBody::new(Code::SourceInvalid, e.to_string()))?,
            ),
            None => None,
        };
        Ok(SourcePreview {
            deployed: running.and_then(|v| v.summary.revision),
            newest: rendered.revision,
            diff,
        })
    }
}

/// Credentials from a front end's two fields: both, neither, or a clear error.
fn credentials(
    username: Option<String>,
    password: Option<String>,
) -> Result<Option<Credentials>, ErrorBody> {
    match (username, password) {
        (username, Some(password)) if !password.is_empty() => Ok(Some(Credentials {
            username: username
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "tripline".into()),
            password,
        })),
        (None, None) | (None, Some(_)) => Ok(None),
        (Some(username), _) if username.is_empty() => Ok(None),
        _ => Err(ErrorBody::new(
            Code::InputInvalid,
            "a user name without a password or token: add the password, or leave both out",
        )),
    }
}
