//! Bringing an application's template up to its source: [`Sources`] knows where each
//! application's Git cache lives and where its credentials are kept, and
//! [`Sources::refresh`] reads the source's newest revision into a new template version when it
//! differs from the one the template holds.
//!
//! The deploy worker refreshes before every deploy of a Git application, so a redeploy call
//! deploys what is newest; a rollback deploys a stored version and does not refresh. A release
//! that names a commit of another branch (an image trigger's write-back to a branch of its
//! own) reads that commit instead ([`Sources::read_git_commit`]); the next refresh reads the
//! tracked reference again.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::git::{GitReader, GitSource};
use super::{Credentials, Rendered, Revision, SourceError};
use crate::error::Code;
use crate::release::BranchCommit;
use crate::secrets::Secrets;

/// Where sources' caches and credentials are.
#[derive(Debug, Clone)]
pub struct Sources {
    root: PathBuf,
    secrets: Option<Secrets>,
}

/// Credentials as kept in the secret store.
#[derive(Serialize, Deserialize)]
struct Stored {
    username: String,
    password: String,
}

/// What a refresh found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fresh {
    /// The source stands where the template's latest version came from: nothing was fetched.
    Same(Revision),
    /// A new revision, read (its manifests may still equal the latest version's).
    Read(Rendered),
}

impl Sources {
    /// Caches under `data_dir/sources`; credentials from `secrets` (none: sources are read
    /// anonymously).
    pub fn new(data_dir: impl Into<PathBuf>, secrets: Option<Secrets>) -> Self {
        Sources {
            root: data_dir.into().join("sources"),
            secrets,
        }
    }

    fn secret_name(app: &str) -> String {
        format!("source/{app}")
    }

    /// The credentials kept for `app`'s source, if any.
    pub fn credentials(&self, app: &str) -> Result<Option<Credentials>, SourceError> {
        let Some(secrets) = &self.secrets else {
            return Ok(None);
        };
        match secrets.get(&Self::secret_name(app)) {
            Ok(text) => {
                let stored: Stored = serde_json::from_str(&text).map_err(|_| {
                    SourceError::new(
                        Code::SecretsUnavailable,
                        format!("the credentials kept for {app}'s source do not read back; set them again"),
                    )
                })?;
                Ok(Some(Credentials {
                    username: stored.username,
                    password: stored.password,
                }))
            }
            Err(crate::secrets::Error::Missing(_)) => Ok(None),
            Err(e) => Err(SourceError::new(Code::SecretsUnavailable, e.to_string())),
        }
    }

    /// Keeps (or, with `None`, forgets) the credentials for `app`'s source.
    pub fn set_credentials(
        &self,
        app: &str,
        credentials: Option<&Credentials>,
    ) -> Result<(), SourceError> {
        let Some(secrets) = &self.secrets else {
            return Err(SourceError::new(
                Code::SecretsUnavailable,
                "no secret store is open to keep the source's credentials in",
            ));
        };
        let name = Self::secret_name(app);
        let result = match credentials {
            Some(c) => {
                let text = serde_json::to_string(&Stored {
                    username: c.username.clone(),
                    password: c.password.clone(),
                })
                .map_err(|e| SourceError::new(Code::SecretsUnavailable, e.to_string()))?;
                secrets.set(&name, &text)
            }
            None => secrets.delete(&name),
        };
        result.map_err(|e| SourceError::new(Code::SecretsUnavailable, e.to_string()))
    }

    /// The reader of `app`'s Git cache.
    pub fn git(&self, app: &str) -> GitReader {
        GitReader::new(self.root.join("git").join(app), None)
    }

    /// Removes what is cached for `app` (after the application is deleted).
    pub fn forget(&self, app: &str) {
        let _ = std::fs::remove_dir_all(self.root.join("git").join(app));
        let _ = self.set_credentials(app, None);
    }

    /// Reads `app`'s Git source at its newest commit, unless that is `known` (the commit the
    /// template's latest version came from). Blocks: call from a blocking thread.
    pub fn refresh_git(
        &self,
        app: &str,
        git: &GitSource,
        known: Option<&Revision>,
        credentials: Option<&Credentials>,
    ) -> Result<Fresh, SourceError> {
        let reader = self.git(app);
        let head = reader.head(git, credentials)?;
        if let Some(Revision::Git { commit, reference }) = known
            && commit == &head.commit
            && reference == git.reference.trim()
        {
            return Ok(Fresh::Same(known.cloned().expect("matched above")));
        }
        let fetched = reader.fetch(git, credentials)?;
        reader.read(git, &fetched.commit).map(Fresh::Read)
    }

    /// Reads `app`'s Git source at `at`, a commit of a branch other than the tracked one (an
    /// image trigger's write-back to a branch of its own), unless that is `known`. The revision
    /// names that branch. Blocks: call from a blocking thread.
    pub fn read_git_commit(
        &self,
        app: &str,
        git: &GitSource,
        at: &BranchCommit,
        known: Option<&Revision>,
        credentials: Option<&Credentials>,
    ) -> Result<Fresh, SourceError> {
        if let Some(Revision::Git { commit, reference }) = known
            && commit == &at.commit
            && reference == &at.branch
        {
            return Ok(Fresh::Same(known.cloned().expect("matched above")));
        }
        let pinned = GitSource {
            reference: at.commit.clone(),
            ..git.clone()
        };
        let reader = self.git(app);
        let fetched = reader.fetch(&pinned, credentials)?;
        let mut rendered = reader.read(&pinned, &fetched.commit)?;
        rendered.revision = Revision::Git {
            commit: fetched.commit,
            reference: at.branch.clone(),
        };
        Ok(Fresh::Read(rendered))
    }

    /// Reads `app`'s source at the revision of its choice (for creating the application).
    pub fn read_git(
        &self,
        app: &str,
        git: &GitSource,
        credentials: Option<&Credentials>,
    ) -> Result<Rendered, SourceError> {
        let reader = self.git(app);
        let fetched = reader.fetch(git, credentials)?;
        reader.read(git, &fetched.commit)
    }
}
