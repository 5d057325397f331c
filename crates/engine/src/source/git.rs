//! Git sources: a repository URL, a branch, tag or commit, and a directory of manifests.
//!
//! [`GitReader::head`] asks the server which commit the reference names (the handshake and
//! the reference listing only, like `git ls-remote`), so a refresh that finds the commit
//! already deployed costs one round trip and no pack. [`GitReader::fetch`] fetches that one
//! reference, shallow (depth 1), into a bare cache repository of the application's own, with
//! gix, in process. [`GitReader::read`] then reads the directory straight from the commit's
//! tree, without a checkout: every `*.yaml` and `*.yml` under it in byte order of their paths,
//! or, when the directory holds a `kustomization.yaml`, what `kubectl kustomize` renders from a
//! copy of the commit's files written to a private directory.
//!
//! Hostile repositories are expected: paths with `..`, absolute names, symlinks, submodules,
//! huge blobs and huge trees are refused or skipped with a message naming the file, and the
//! whole read is capped at [`super::SIZE_LIMIT`] bytes and [`MAX_FILES`] files.
//!
//! These functions block (network and disk): call them from a blocking thread.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use gix::bstr::ByteSlice as _;
use serde::{Deserialize, Serialize};

use super::{Credentials, Rendered, Revision, SIZE_LIMIT, SourceError};
use crate::error::Code;

/// The most files a read takes from a commit (manifests, or a kustomization's whole tree).
pub const MAX_FILES: usize = 20_000;

/// Where an application's manifests are in Git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct GitSource {
    /// The repository: `https://`, `http://`, `git://` or `file://`.
    pub url: String,
    /// A branch, a tag, or a full commit id.
    pub reference: String,
    /// The directory of manifests in the repository (empty or `.`: the top).
    #[serde(default)]
    pub path: String,
}

impl GitSource {
    /// Checks the URL, the reference and the path; the error says which and why.
    pub fn validate(&self) -> Result<(), SourceError> {
        let unsupported = |message: String| SourceError::new(Code::SourceUnsupported, message);
        let url = self.url.trim();
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        match scheme {
            Some("https" | "http" | "git" | "file") => {}
            Some("ssh") => {
                return Err(unsupported(format!(
                    "{url}: ssh repositories are not supported yet; use the https URL with a \
                     token as the password"
                )));
            }
            _ => {
                return Err(unsupported(format!(
                    "{url:?} is not a repository URL Tripline can fetch: write https://, \
                     http://, git:// or file://"
                )));
            }
        }
        if url.chars().any(char::is_whitespace) || url.contains('\0') {
            return Err(unsupported(format!(
                "{url:?}: a repository URL has no spaces"
            )));
        }
        let reference = self.reference.trim();
        if reference.is_empty() {
            return Err(unsupported(
                "name a branch, a tag or a commit to deploy from".to_owned(),
            ));
        }
        if !is_commit_id(reference)
            && gix::validate::reference::name_partial(reference.into()).is_err()
        {
            return Err(unsupported(format!(
                "{reference:?} is not a branch, tag or commit name"
            )));
        }
        relative_path(&self.path)?;
        Ok(())
    }

    /// The directory, normalised: no leading or trailing `/`, `.` for the top.
    pub fn directory(&self) -> Result<String, SourceError> {
        relative_path(&self.path)
    }
}

/// A 40-hex commit id.
pub fn is_commit_id(reference: &str) -> bool {
    reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `path` as a relative directory with no `..`: `deploy/prod`, or `` for the top.
fn relative_path(path: &str) -> Result<String, SourceError> {
    let mut parts = Vec::new();
    for part in path.trim().split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(SourceError::new(
                    Code::SourceUnsupported,
                    format!("{path:?}: the manifests' directory must stay inside the repository"),
                ));
            }
            part if part.contains('\0') || part.contains('\\') => {
                return Err(SourceError::new(
                    Code::SourceUnsupported,
                    format!("{path:?} is not a directory path"),
                ));
            }
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// Reads Git sources through a bare cache repository per application.
#[derive(Debug, Clone)]
pub struct GitReader {
    cache: PathBuf,
    kubectl: Option<PathBuf>,
}

/// A repository's branches and tags, each with its commit, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct References {
    /// Branch names and commits.
    pub branches: Vec<(String, String)>,
    /// Tag names and the commits they point to.
    pub tags: Vec<(String, String)>,
}

/// What the server says the reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The commit (tags peeled).
    pub commit: String,
}

impl GitReader {
    /// A reader whose cache repository is `cache` (created on first use). `kubectl` renders
    /// kustomizations (found on PATH when `None`).
    pub fn new(cache: impl Into<PathBuf>, kubectl: Option<PathBuf>) -> Self {
        super::use_ring_for_tls();
        GitReader {
            cache: cache.into(),
            kubectl,
        }
    }

    /// The commit the reference names on the server, from the reference listing alone.
    pub fn head(
        &self,
        source: &GitSource,
        credentials: Option<&Credentials>,
    ) -> Result<Head, SourceError> {
        source.validate()?;
        if is_commit_id(source.reference.trim()) {
            return Ok(Head {
                commit: source.reference.trim().to_ascii_lowercase(),
            });
        }
        let repo = self.open()?;
        self.connect(&repo, source, credentials, |prepare| {
            found_commit(prepare.ref_map(), source)
        })
    }

    /// The repository's branches and tags with their commits (tags peeled), from the
    /// reference listing alone: what a branch or tag picker offers.
    pub fn references(
        &self,
        url: &str,
        credentials: Option<&Credentials>,
    ) -> Result<References, SourceError> {
        let source = GitSource {
            url: url.to_owned(),
            reference: "main".to_owned(),
            path: String::new(),
        };
        source.validate()?;
        let listing = GitSource {
            reference: String::new(),
            ..source
        };
        let repo = self.open()?;
        self.connect(&repo, &listing, credentials, |prepare| {
            let mut found = References::default();
            for mapping in &prepare.ref_map().mappings {
                let (Some(name), Some(id)) = (
                    mapping.remote.as_name(),
                    mapping
                        .remote
                        .peeled_id()
                        .or_else(|| mapping.remote.as_id()),
                ) else {
                    continue;
                };
                let Ok(name) = name.to_str() else { continue };
                if let Some(branch) = name.strip_prefix("refs/heads/") {
                    found.branches.push((branch.to_owned(), id.to_string()));
                } else if let Some(tag) = name.strip_prefix("refs/tags/") {
                    found.tags.push((tag.to_owned(), id.to_string()));
                }
            }
            found.branches.sort();
            found.tags.sort();
            found.tags.dedup_by(|a, b| a.0 == b.0);
            Ok(found)
        })
    }

    /// Fetches the reference (depth 1) and returns its commit.
    pub fn fetch(
        &self,
        source: &GitSource,
        credentials: Option<&Credentials>,
    ) -> Result<Head, SourceError> {
        source.validate()?;
        let repo = self.open()?;
        let reference = source.reference.trim();
        if is_commit_id(reference) {
            let id = gix::ObjectId::from_hex(reference.as_bytes())
                .map_err(|e| SourceError::new(Code::SourceUnsupported, e.to_string()))?;
            if repo.find_commit(id).is_ok() {
                return Ok(Head {
                    commit: id.to_string(),
                });
            }
        }
        let interrupt = AtomicBool::new(false);
        let url = redacted(&source.url);
        self.connect(&repo, source, credentials, |prepare| {
            let head = found_commit(prepare.ref_map(), source)?;
            prepare
                .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(
                    NonZeroU32::new(1).expect("one is not zero"),
                ))
                .receive(gix::progress::Discard, &interrupt)
                .map_err(|e| classify(&url, &e.to_string()))?;
            Ok(head)
        })
    }

    /// The manifests at `commit` under the source's directory.
    pub fn read(&self, source: &GitSource, commit: &str) -> Result<Rendered, SourceError> {
        let repo = self.open()?;
        let id = gix::ObjectId::from_hex(commit.as_bytes())
            .map_err(|e| SourceError::new(Code::SourceInvalid, format!("{commit}: {e}")))?;
        let missing = |e: &dyn std::fmt::Display| {
            SourceError::new(
                Code::SourceNotFound,
                format!("commit {commit} is not in the fetched history: {e}"),
            )
        };
        let object = repo.find_object(id).map_err(|e| missing(&e))?;
        let commit_object = object.peel_to_commit().map_err(|e| missing(&e))?;
        let commit_id = commit_object.id.to_string();
        let tree = commit_object.tree().map_err(|e| missing(&e))?;
        let directory = source.directory()?;
        let mut files = Vec::new();
        let mut budget = Budget::default();
        collect(&repo, tree.id, "", &mut files, &mut budget)?;
        let prefix = if directory.is_empty() {
            String::new()
        } else {
            format!("{directory}/")
        };
        if !directory.is_empty() && !files.iter().any(|f| f.path.starts_with(&prefix)) {
            return Err(SourceError::new(
                Code::SourceNotFound,
                format!(
                    "{}: commit {} has no files under {directory}/",
                    redacted(&source.url),
                    super::short(&commit_id)
                ),
            ));
        }
        let kustomization = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
            .iter()
            .map(|name| format!("{prefix}{name}"))
            .find(|name| files.iter().any(|f| &f.path == name));
        let manifests = match kustomization {
            Some(_) => self.kustomize(&files, &directory)?,
            None => concatenate(&files, &prefix)?,
        };
        if manifests.trim().is_empty() {
            return Err(SourceError::new(
                Code::SourceInvalid,
                format!(
                    "{}: {} holds no .yaml or .yml manifests at commit {}",
                    redacted(&source.url),
                    if directory.is_empty() {
                        "the repository"
                    } else {
                        &directory
                    },
                    super::short(&commit_id)
                ),
            ));
        }
        Ok(Rendered {
            revision: Revision::Git {
                commit: commit_id,
                reference: source.reference.trim().to_owned(),
            },
            manifests,
        })
    }

    /// Opens the cache repository, creating it bare on first use.
    fn open(&self) -> Result<gix::Repository, SourceError> {
        let io = |e: &dyn std::fmt::Display| {
            SourceError::new(
                Code::StoreIo,
                format!("cannot use the Git cache {}: {e}", self.cache.display()),
            )
        };
        if self.cache.join("HEAD").exists() {
            return gix::open(&self.cache).map_err(|e| io(&e));
        }
        std::fs::create_dir_all(&self.cache).map_err(|e| io(&e))?;
        gix::init_bare(&self.cache).map_err(|e| io(&e))
    }

    /// Connects to the source's server for its reference and runs `then` on the prepared
    /// fetch (references listed, nothing received yet).
    fn connect<T>(
        &self,
        repo: &gix::Repository,
        source: &GitSource,
        credentials: Option<&Credentials>,
        then: impl FnOnce(
            gix::remote::fetch::Prepare<
                '_,
                '_,
                Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
            >,
        ) -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        let url = redacted(&source.url);
        if credentials.is_some() && !may_carry_credentials(source.url.trim()) {
            return Err(SourceError::new(
                Code::SourceUnsupported,
                format!(
                    "{url}: credentials are sent only over https (or plain http to this \
                     machine); use the https URL"
                ),
            ));
        }
        let reference = source.reference.trim();
        let specs: Vec<String> = if reference.is_empty() {
            // Every branch and tag, for a picker (nothing is fetched).
            vec![
                "+refs/heads/*:refs/tripline/heads/*".to_owned(),
                "+refs/tags/*:refs/tripline/tags/*".to_owned(),
            ]
        } else if is_commit_id(reference) {
            vec![format!("+{reference}:refs/tripline/commit")]
        } else if reference.starts_with("refs/") {
            vec![format!("+{reference}:refs/tripline/ref")]
        } else {
            vec![
                format!("+refs/heads/{reference}:refs/tripline/branch"),
                format!("+refs/tags/{reference}:refs/tripline/tag"),
            ]
        };
        let remote = repo
            .remote_at(source.url.trim())
            .map_err(|e| SourceError::new(Code::SourceUnsupported, format!("{url}: {e}")))?
            .with_refspecs(
                specs.iter().map(String::as_str),
                gix::remote::Direction::Fetch,
            )
            .map_err(|e| SourceError::new(Code::SourceUnsupported, format!("{url}: {e}")))?;
        let connection = remote
            .connect(gix::remote::Direction::Fetch)
            .map_err(|e| classify(&url, &e.to_string()))?;
        let auth = Arc::new(Mutex::new(Auth::default()));
        let given = credentials.cloned();
        let seen = auth.clone();
        let connection = connection.with_credentials(move |action| {
            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            match action {
                gix::credentials::helper::Action::Get(context) => {
                    seen.asked = true;
                    match &given {
                        Some(given) => Ok(Some(gix::credentials::protocol::Outcome {
                            credentials: gix::sec::identity::Credentials::UsernamePassword {
                                username: given.username.clone(),
                                password: given.password.clone(),
                                oauth_refresh_token: None,
                            },
                            next: context.into(),
                        })),
                        None => Ok(None),
                    }
                }
                gix::credentials::helper::Action::Store(_) => Ok(None),
                gix::credentials::helper::Action::Erase(_) => {
                    seen.rejected = true;
                    Ok(None)
                }
            }
        });
        let prepared = connection.prepare_fetch(
            gix::progress::Discard,
            gix::remote::ref_map::Options::default(),
        );
        let auth_failure = |auth: &Auth| {
            if auth.rejected {
                Some(SourceError::new(
                    Code::SourceAuth,
                    format!(
                        "{url}: the server refused the credentials; check the user name and token"
                    ),
                ))
            } else if auth.asked && credentials.is_none() {
                Some(SourceError::new(
                    Code::SourceAuth,
                    format!(
                        "{url}: the server asks for credentials; add a user name and token to the application"
                    ),
                ))
            } else {
                None
            }
        };
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                let auth = auth.lock().unwrap_or_else(|p| p.into_inner());
                return Err(
                    auth_failure(&auth).unwrap_or_else(|| classify(&url, &error.to_string()))
                );
            }
        };
        then(prepared)
    }

    /// Renders a kustomization: writes the commit's files to a private directory and runs
    /// `kubectl kustomize` on the source's directory.
    fn kustomize(&self, files: &[File], directory: &str) -> Result<String, SourceError> {
        let kubectl = match &self.kubectl {
            Some(path) => path.clone(),
            None => find_on_path("kubectl").ok_or_else(|| {
                SourceError::new(
                    Code::SourceToolMissing,
                    "the manifests' directory holds a kustomization.yaml and kubectl is not \
                     installed: install kubectl (its `kubectl kustomize` renders it)",
                )
            })?,
        };
        let scratch = tempfile::Builder::new()
            .prefix("tripline-kustomize-")
            .tempdir()
            .map_err(|e| {
                SourceError::new(
                    Code::StoreIo,
                    format!("cannot make a scratch directory: {e}"),
                )
            })?;
        for file in files {
            let path = scratch.path().join(&file.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    SourceError::new(Code::StoreIo, format!("cannot write {}: {e}", file.path))
                })?;
            }
            std::fs::write(&path, &file.data).map_err(|e| {
                SourceError::new(Code::StoreIo, format!("cannot write {}: {e}", file.path))
            })?;
        }
        let target = scratch.path().join(directory);
        let output = Command::new(&kubectl)
            .arg("kustomize")
            .arg(&target)
            .env_remove("KUBECONFIG")
            .output()
            .map_err(|e| {
                SourceError::new(
                    Code::SourceToolMissing,
                    format!("cannot run {}: {e}", kubectl.display()),
                )
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stderr = stderr.replace(&*scratch.path().to_string_lossy(), "");
            return Err(SourceError::new(
                Code::SourceInvalid,
                format!("kubectl kustomize failed: {}", stderr.trim()),
            ));
        }
        if output.stdout.len() > SIZE_LIMIT {
            return Err(SourceError::new(
                Code::SourceTooLarge,
                format!(
                    "the kustomization renders more than {} MiB",
                    SIZE_LIMIT >> 20
                ),
            ));
        }
        String::from_utf8(output.stdout).map_err(|_| {
            SourceError::new(
                Code::SourceInvalid,
                "kubectl kustomize printed text that is not UTF-8",
            )
        })
    }
}

#[derive(Debug, Default)]
struct Auth {
    asked: bool,
    rejected: bool,
}

/// The commit the listed references name for the source's reference.
fn found_commit(map: &gix::remote::fetch::RefMap, source: &GitSource) -> Result<Head, SourceError> {
    let reference = source.reference.trim();
    if is_commit_id(reference) {
        return Ok(Head {
            commit: reference.to_ascii_lowercase(),
        });
    }
    // A branch wins over a tag of the same name, as in `git checkout`.
    let mut found: Vec<(usize, String)> = map
        .mappings
        .iter()
        .filter_map(|mapping| {
            let id = mapping
                .remote
                .peeled_id()
                .or_else(|| mapping.remote.as_id())?;
            // Implicit mappings are tags gix would follow along; only the asked-for
            // reference counts.
            let gix::remote::fetch::refmap::SpecIndex::ExplicitInRemote(index) = mapping.spec_index
            else {
                return None;
            };
            Some((index, id.to_string()))
        })
        .collect();
    found.sort();
    match found.into_iter().next() {
        Some((_, commit)) => Ok(Head { commit }),
        None => Err(SourceError::new(
            Code::SourceNotFound,
            format!(
                "{}: no branch or tag named {reference:?} (it may have been deleted)",
                redacted(&source.url)
            ),
        )),
    }
}

/// A file read from a commit.
struct File {
    path: String,
    data: Vec<u8>,
}

#[derive(Default)]
struct Budget {
    bytes: usize,
    files: usize,
}

/// Every blob under `tree`, with its path, refusing names that could escape a directory.
fn collect(
    repo: &gix::Repository,
    tree: gix::ObjectId,
    prefix: &str,
    files: &mut Vec<File>,
    budget: &mut Budget,
) -> Result<(), SourceError> {
    let tree = repo
        .find_tree(tree)
        .map_err(|e| SourceError::new(Code::SourceInvalid, format!("{prefix}: {e}")))?;
    for entry in tree.iter() {
        let entry =
            entry.map_err(|e| SourceError::new(Code::SourceInvalid, format!("{prefix}: {e}")))?;
        let name = entry.filename().to_str().map_err(|_| {
            SourceError::new(
                Code::SourceInvalid,
                format!("{prefix}: a file name is not UTF-8"),
            )
        })?;
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
            return Err(SourceError::new(
                Code::SourceInvalid,
                format!(
                    "{prefix}{name:?}: the repository holds a file name that could escape its directory"
                ),
            ));
        }
        let path = format!("{prefix}{name}");
        let mode = entry.mode();
        if mode.is_tree() {
            collect(repo, entry.object_id(), &format!("{path}/"), files, budget)?;
        } else if mode.is_blob() {
            budget.files += 1;
            if budget.files > MAX_FILES {
                return Err(SourceError::new(
                    Code::SourceTooLarge,
                    format!("the commit holds more than {MAX_FILES} files"),
                ));
            }
            let blob = repo
                .find_blob(entry.object_id())
                .map_err(|e| SourceError::new(Code::SourceInvalid, format!("{path}: {e}")))?;
            budget.bytes += blob.data.len();
            if budget.bytes > SIZE_LIMIT {
                return Err(SourceError::new(
                    Code::SourceTooLarge,
                    format!(
                        "the commit's files pass {} MiB (at {path})",
                        SIZE_LIMIT >> 20
                    ),
                ));
            }
            files.push(File {
                path,
                data: blob.data.clone(),
            });
        }
        // Symlinks and submodules are skipped: a manifest must be a file of this repository.
    }
    Ok(())
}

/// Every `*.yaml` and `*.yml` under `prefix`, in byte order of their paths, as one YAML
/// stream; each file is checked alone first so a YAML error names its file.
fn concatenate(files: &[File], prefix: &str) -> Result<String, SourceError> {
    let mut chosen: Vec<&File> = files
        .iter()
        .filter(|f| f.path.starts_with(prefix))
        .filter(|f| f.path.ends_with(".yaml") || f.path.ends_with(".yml"))
        .collect();
    chosen.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let mut out = String::new();
    for file in chosen {
        let text = std::str::from_utf8(&file.data).map_err(|_| {
            SourceError::new(
                Code::SourceInvalid,
                format!("{}: not UTF-8 text", file.path),
            )
        })?;
        if text.trim().is_empty() {
            continue;
        }
        crate::template::Manifest::parse(text)
            .map_err(|e| SourceError::new(Code::SourceInvalid, format!("{}: {e}", file.path)))?;
        if !out.is_empty() {
            out.push_str("---\n");
        }
        out.push_str(&format!("# Source: {}\n", file.path));
        out.push_str(text.strip_prefix("---\n").unwrap_or(text));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Whether a password may travel to `url`: over https, or over plain http to this machine
/// (where it never crosses a network).
fn may_carry_credentials(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return !url.starts_with("git://");
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(host, _)| host),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sorts a gix failure into a code: unreachable, refused, or not found.
fn classify(url: &str, error: &str) -> SourceError {
    let lower = error.to_ascii_lowercase();
    let code = if lower.contains("401") || lower.contains("403") || lower.contains("authenticat") {
        Code::SourceAuth
    } else if lower.contains("404")
        || lower.contains("not found")
        || lower.contains("does not exist")
        || lower.contains("not appear to be a git repository")
    {
        Code::SourceNotFound
    } else {
        Code::SourceUnreachable
    };
    SourceError::new(code, format!("{url}: {}", scrub(error)))
}

/// The URL without a user name or password in it, for messages.
pub fn redacted(url: &str) -> String {
    let url = url.trim();
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_owned(),
    }
}

/// An error text with any `user:password@` removed.
fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(char::is_whitespace) {
        if word.contains("://") && word.contains('@') {
            out.push_str(&redacted(word.trim_end()));
            if word.ends_with(char::is_whitespace) {
                out.push(' ');
            }
        } else {
            out.push_str(word);
        }
    }
    out
}

/// `name` on PATH.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(url: &str, reference: &str, path: &str) -> GitSource {
        GitSource {
            url: url.into(),
            reference: reference.into(),
            path: path.into(),
        }
    }

    #[test]
    fn urls_references_and_paths_are_checked() {
        assert!(
            source("https://git.example/a.git", "main", "deploy")
                .validate()
                .is_ok()
        );
        assert!(source("file:///srv/a.git", "v1.2.0", "").validate().is_ok());
        let refused = |s: GitSource| s.validate().unwrap_err();
        assert_eq!(
            refused(source("ssh://git@host/a.git", "main", "")).code,
            Code::SourceUnsupported
        );
        assert!(
            refused(source("/srv/a.git", "main", ""))
                .message
                .contains("https://")
        );
        assert!(
            refused(source("https://h/a.git", "", ""))
                .message
                .contains("branch")
        );
        assert!(
            refused(source("https://h/a.git", "ma..in", ""))
                .message
                .contains("ma..in")
        );
        assert!(
            refused(source("https://h/a.git", "main", "../etc"))
                .message
                .contains("inside")
        );
        assert!(
            refused(source("https://h/a b.git", "main", ""))
                .message
                .contains("spaces")
        );
        assert_eq!(
            source("x", "m", "./deploy//prod/").directory().unwrap(),
            "deploy/prod"
        );
    }

    #[test]
    fn credentials_never_reach_a_message() {
        assert_eq!(
            redacted("https://user:s3cret@git.example/a.git"),
            "https://git.example/a.git"
        );
        let error = classify(
            "https://git.example/a.git",
            "connection to https://user:s3cret@git.example/a.git refused",
        );
        assert!(!error.message.contains("s3cret"), "{}", error.message);
        assert_eq!(error.code, Code::SourceUnreachable);
        assert_eq!(classify("u", "HTTP status 401").code, Code::SourceAuth);
        assert!(may_carry_credentials("https://git.example/a.git"));
        assert!(may_carry_credentials("http://127.0.0.1:8080/a.git"));
        assert!(may_carry_credentials("http://[::1]:8080/a.git"));
        assert!(may_carry_credentials("http://localhost/a.git"));
        assert!(!may_carry_credentials("http://git.example/a.git"));
        assert!(!may_carry_credentials(
            "http://127.0.0.1.evil.example/a.git"
        ));
        assert!(!may_carry_credentials("git://127.0.0.1/a.git"));
    }

    #[test]
    fn manifests_are_joined_in_path_order_and_a_bad_file_is_named() {
        let file = |path: &str, text: &str| File {
            path: path.into(),
            data: text.as_bytes().to_vec(),
        };
        let cm =
            |name: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n");
        let files = vec![
            file("deploy/b.yml", &cm("b")),
            file("deploy/a.yaml", &cm("a")),
            file("deploy/readme.md", "not yaml: ["),
            file("other/c.yaml", &cm("c")),
        ];
        let text = concatenate(&files, "deploy/").unwrap();
        let a = text.find("name: a").unwrap();
        let b = text.find("name: b").unwrap();
        assert!(a < b, "{text}");
        assert!(!text.contains("name: c"));
        let broken = vec![file("deploy/x.yaml", "kind: [")];
        let error = concatenate(&broken, "deploy/").unwrap_err();
        assert_eq!(error.code, Code::SourceInvalid);
        assert!(
            error.message.starts_with("deploy/x.yaml:"),
            "{}",
            error.message
        );
    }
}
