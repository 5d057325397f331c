//! Applications read from Git or Helm: creating one (the repository is read, or the chart
//! rendered, first, so a bad URL, reference, range, credential or manifest is an error now,
//! not at the first deploy), its credentials, what the source offers to deploy, and a Helm
//! application's values and their versions.

use serde::Serialize;

use super::Tripline;
use crate::app::{Application, ClusterRef, NewApplication, Source};
use crate::error::{Code, ErrorBody};
use crate::source::git::GitSource;
use crate::source::helm::{Helm, HelmSource, Limits, check_values};
use crate::source::{Credentials, Revision};
use crate::store::{Origin, ValuesSaved, ValuesSummary, ValuesVersion};

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

/// A Helm application to create.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct NewHelmApplication {
    /// Unique name (a DNS label); its template gets the same name, and it is the Helm
    /// release name the chart is rendered with.
    pub name: String,
    /// Where it is deployed.
    pub cluster: ClusterRef,
    /// The namespace (also the one the chart is rendered for).
    pub namespace: String,
    /// A chart repository (`https://…`, holding `index.yaml`) or an OCI registry path
    /// (`oci://host/path`).
    pub repository: String,
    /// The chart's name in the repository.
    pub chart: String,
    /// An exact version, a range (`^1.2`), or empty for the newest stable version.
    #[serde(default)]
    pub version: String,
    /// Talk plain HTTP to an OCI registry that is not on a loopback address.
    #[serde(default)]
    pub plain_http: bool,
    /// The values (a YAML map; empty for the chart's defaults): values version 1.
    #[serde(default)]
    pub values: String,
    /// Delete objects a new chart version or values no longer render.
    pub prune: bool,
    /// A user name for the repository or registry, with `password`.
    #[serde(default)]
    pub username: Option<String>,
    /// A password or token (kept in the secret store, never in the database).
    #[serde(default)]
    pub password: Option<String>,
}

/// Two values versions of a Helm application and how they differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ValuesDiff {
    /// The older side.
    pub from: ValuesSummary,
    /// The newer side.
    pub to: ValuesSummary,
    /// A unified diff of the two texts (empty when they are equal).
    pub diff: String,
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

    /// The revision (a commit, a chart version and digest) the version the application's last
    /// successful release deployed was read from; `None` when nothing was deployed, or for a
    /// template application.
    pub fn deployed_revision(&self, app: &str) -> Result<Option<Revision>, ErrorBody> {
        let store = self.store();
        let application = store.app(app)?;
        let (Some(template), Some((deployed, _))) =
            (application.source.template(), store.last_success(app)?)
        else {
            return Ok(None);
        };
        Ok(store.version(template, Some(deployed))?.summary.revision)
    }

    /// Creates an application from a Helm chart: resolves the version and renders the chart
    /// (release name: the application's; namespace: its namespace) first, then stores the
    /// application, its template (the rendered manifests as version 1), its values (version
    /// 1) and its credentials. Nothing is kept when any step fails.
    pub async fn create_helm_app(&self, new: NewHelmApplication) -> Result<Application, ErrorBody> {
        let helm_source = HelmSource {
            repository: new.repository.trim().to_owned(),
            chart: new.chart.trim().to_owned(),
            version: new.version.trim().to_owned(),
            plain_http: new.plain_http,
        };
        let application = NewApplication {
            name: new.name.clone(),
            cluster: new.cluster,
            namespace: new.namespace,
            source: Source::helm(&new.name, helm_source.clone()),
            prune: new.prune,
        };
        application
            .validate()
            .map_err(|refused| ErrorBody::new(Code::InputInvalid, refused.0))?;
        check_values(&new.values).map_err(ErrorBody::from)?;
        let credentials = credentials(new.username, new.password)?;
        if self.store().app(&new.name).is_ok() {
            return Err(ErrorBody::new(
                Code::AppExists,
                format!("an application named {} exists", new.name),
            ));
        }
        let helm = Helm::find(None).map_err(ErrorBody::from)?;
        let rendered = helm
            .render(
                &helm_source,
                &new.values,
                &new.name,
                &application.namespace,
                credentials.as_ref(),
            )
            .await
            .map_err(ErrorBody::from)?;
        if let Some(credentials) = &credentials {
            self.sources()
                .set_credentials(&new.name, Some(credentials))
                .map_err(ErrorBody::from)?;
        }
        let created = self
            .store()
            .create_helm_app(&application, &rendered, &new.values);
        created.map_err(|error| {
            if credentials.is_some() && !matches!(error, crate::store::Error::AppExists(_)) {
                self.sources().forget(&new.name);
            }
            ErrorBody::from(&error)
        })
    }

    /// A chart's versions, newest first, for a version picker. Needs no `helm`.
    /// `plain_http` is [`NewHelmApplication::plain_http`].
    pub async fn chart_versions(
        &self,
        repository: &str,
        chart: &str,
        plain_http: bool,
        username: Option<String>,
        password: Option<String>,
    ) -> Result<Vec<String>, ErrorBody> {
        let credentials = credentials(username, password)?;
        let source = HelmSource {
            repository: repository.trim().to_owned(),
            chart: chart.trim().to_owned(),
            version: String::new(),
            plain_http,
        };
        let helm = Helm::new("helm".into(), Limits::default()).map_err(ErrorBody::from)?;
        Ok(helm.versions(&source, credentials.as_ref()).await?)
    }

    /// One values version of a Helm application; `None` means the latest.
    pub fn values(&self, app: &str, number: Option<u32>) -> Result<ValuesVersion, ErrorBody> {
        Ok(self.store().values(app, number)?)
    }

    /// A Helm application's values versions, oldest first.
    pub fn values_versions(&self, app: &str) -> Result<Vec<ValuesSummary>, ErrorBody> {
        Ok(self.store().values_versions(app)?)
    }

    /// Saves `content` as a Helm application's next values version (none when it equals the
    /// latest): the next deploy renders the chart with it. Values that are not a YAML map
    /// are refused.
    pub fn save_values(
        &self,
        app: &str,
        content: &str,
        message: &str,
    ) -> Result<ValuesSaved, ErrorBody> {
        Ok(self
            .store()
            .save_values(app, content, Origin::Edit, message)?)
    }

    /// Values versions `from` and `to` of a Helm application and a unified diff of them.
    pub fn diff_values(&self, app: &str, from: u32, to: u32) -> Result<ValuesDiff, ErrorBody> {
        let store = self.store();
        let (before, after) = (store.values(app, Some(from))?, store.values(app, Some(to))?);
        let diff = similar::TextDiff::from_lines(&before.content, &after.content)
            .unified_diff()
            .context_radius(3)
            .header(&format!("values {from}"), &format!("values {to}"))
            .to_string();
        Ok(ValuesDiff {
            from: before.summary,
            to: after.summary,
            diff,
        })
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
        let git = match &application.source {
            Source::Git { git, .. } => git,
            Source::Helm { helm, .. } => {
                // The newest chart version in range, rendered with the latest values.
                let values = self.store().values(app, None)?.content;
                let credentials = self.sources().credentials(app)?;
                let rendered = Helm::find(None)?
                    .render(
                        helm,
                        &values,
                        app,
                        &application.namespace,
                        credentials.as_ref(),
                    )
                    .await?;
                return preview(running, rendered);
            }
            Source::Template { .. } => {
                return Err(ErrorBody::new(
                    Code::InputInvalid,
                    format!("{app} deploys a template: its versions show what changes"),
                ));
            }
        };
        let sources = self.sources();
        let (name, git) = (app.to_owned(), git.clone());
        let rendered = tokio::task::spawn_blocking(move || {
            let credentials = sources.credentials(&name)?;
            sources.read_git(&name, &git, credentials.as_ref())
        })
        .await
        .map_err(|e| ErrorBody::new(Code::SourceUnreachable, e.to_string()))??;
        preview(running, rendered)
    }
}

/// What `rendered` changes against the running version.
fn preview(
    running: Option<crate::store::Version>,
    rendered: crate::source::Rendered,
) -> Result<SourcePreview, ErrorBody> {
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
