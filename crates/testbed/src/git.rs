//! A Git server: bare repositories in one directory, served over smart HTTP by lighttpd
//! running `git http-backend` as CGI, and over `git://` by `git daemon`.
//!
//! ```text
//! http://127.0.0.1:P/git/NAME.git  ─ lighttpd ─ mod_auth (per repository) ─ git http-backend ─┐
//! git://127.0.0.1:Q/NAME.git       ─ git daemon (read-only, every repository) ────────────────┤
//! file:///…/repos/NAME.git         ─────────────────────────────────────────────────── repos/NAME.git
//!                                        Repo helpers ─ scratch clone ─ push over the file system ┘
//! ```
//!
//! A repository created with credentials asks for them (basic auth, 401 without) and takes
//! pushes over HTTP; one created without is anonymous and read-only over HTTP. `git daemon`
//! serves every repository read-only and without authentication, as `git://` does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

use tempfile::TempDir;

use crate::lighttpd::{self, Lighttpd};
use crate::{Daemon, Error, Result, check_credentials, check_name, io, percent_encode, run};

/// The name the helpers commit as.
pub const AUTHOR_NAME: &str = "Tripline Testbed";
/// The e-mail address the helpers commit as.
pub const AUTHOR_EMAIL: &str = "testbed@tripline.invalid";

/// A `git` command that ignores the user's and the system's configuration and never prompts,
/// with the testbed's identity given on the command line (`-c user.name=… -c user.email=…`).
pub fn git_command() -> Command {
    let mut command = Command::new("git");
    command
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .args(["-c", &format!("user.name={AUTHOR_NAME}")])
        .args(["-c", &format!("user.email={AUTHOR_EMAIL}")]);
    command
}

fn git_in(dir: &Path) -> Command {
    let mut command = git_command();
    command.arg("-C").arg(dir);
    command
}

/// A Git server on loopback: lighttpd with `git http-backend` and `git daemon`, serving the
/// same directory of bare repositories. Stops both and removes the repositories on drop.
pub struct GitServer {
    lighttpd: Mutex<Lighttpd>,
    _daemon: Daemon,
    git_port: u16,
    backend: PathBuf,
    repos: PathBuf,
    scratch: PathBuf,
    home: PathBuf,
    /// The repositories that ask for credentials: (name, user file).
    protected: Mutex<Vec<(String, PathBuf)>>,
    dir: TempDir,
}

impl GitServer {
    /// The programs the server needs, for [`crate::require`].
    pub const TOOLS: &'static [&'static str] = &["git", "lighttpd"];

    /// Starts lighttpd and `git daemon` on free ports, serving an empty directory.
    pub fn start() -> Result<GitServer> {
        let dir = tempfile::Builder::new()
            .prefix("tripline-git-")
            .tempdir()
            .map_err(io("creating the git server's directory"))?;
        let repos = dir.path().join("repos");
        let scratch = dir.path().join("scratch");
        let home = dir.path().join("home");
        let web = dir.path().join("lighttpd");
        let users = dir.path().join("users");
        for d in [&repos, &scratch, &home, &web, &users] {
            std::fs::create_dir_all(d).map_err(io(format!("creating {d:?}")))?;
        }
        let backend =
            PathBuf::from(run(git_command().arg("--exec-path"))?).join("git-http-backend");
        if !backend.is_file() {
            return Err(Error::NotStarted {
                what: "git http-backend".into(),
                log: format!("{backend:?} is missing"),
            });
        }
        let daemon_log = dir.path().join("git-daemon.log");
        let (daemon, git_port) = Daemon::spawn("git daemon", &daemon_log, |port| {
            let mut command = git_command();
            command
                .env("HOME", &home)
                .arg("daemon")
                .args(["--reuseaddr", "--export-all", "--informative-errors"])
                .arg(format!("--base-path={}", repos.display()))
                .arg("--listen=127.0.0.1")
                .arg(format!("--port={port}"));
            Ok(command)
        })?;
        let config = http_config(&backend, &repos, &home, &[]);
        Ok(GitServer {
            lighttpd: Mutex::new(Lighttpd::start(&web, &repos, &config)?),
            _daemon: daemon,
            git_port,
            backend,
            repos,
            scratch,
            home,
            protected: Mutex::new(Vec::new()),
            dir,
        })
    }

    /// Creates the bare repository `NAME.git` (default branch `main`, no commits). With
    /// `auth`, HTTP asks for that user and password and takes pushes; without, HTTP is
    /// anonymous and read-only. `name` may hold `/` (`team/app`).
    pub fn create_repo(&self, name: &str, auth: Option<(&str, &str)>) -> Result<Repo> {
        check_name("repository name", name)?;
        let bare = self.repos.join(format!("{name}.git"));
        if bare.exists() {
            return Err(Error::Invalid {
                what: "repository name (it exists)",
                value: name.to_string(),
            });
        }
        run(git_command()
            .args(["init", "--quiet", "--bare", "--initial-branch=main"])
            .arg(&bare))?;
        if let Some((user, password)) = auth {
            check_credentials(user, password)?;
            run(git_in(&bare).args(["config", "http.receivepack", "true"]))?;
            let users = self
                .dir
                .path()
                .join("users")
                .join(format!("{}.users", name.replace('/', "__")));
            std::fs::write(&users, format!("{user}:{password}\n"))
                .map_err(io("writing the user file"))?;
            let mut lighttpd = self.lighttpd.lock().unwrap_or_else(PoisonError::into_inner);
            let mut protected = self
                .protected
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            protected.push((name.to_string(), users));
            lighttpd.reload(&http_config(
                &self.backend,
                &self.repos,
                &self.home,
                &protected,
            ))?;
        }
        let port = self.http_port();
        Ok(Repo {
            name: name.to_string(),
            bare,
            scratch: self.scratch.join(name),
            http_url: format!("http://127.0.0.1:{port}/git/{name}.git"),
            git_url: format!("git://127.0.0.1:{}/{name}.git", self.git_port),
            credentials: auth.map(|(u, p)| (u.to_string(), p.to_string())),
            lock: Arc::new(Mutex::new(())),
        })
    }

    /// The port lighttpd (smart HTTP) listens on.
    pub fn http_port(&self) -> u16 {
        self.lighttpd
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .port()
    }

    /// The port `git daemon` (`git://`) listens on.
    pub fn git_port(&self) -> u16 {
        self.git_port
    }

    /// The directory of bare repositories.
    pub fn repos_dir(&self) -> &Path {
        &self.repos
    }
}

/// The lighttpd configuration for the repositories: the CGI for every URL under `/git/`, and
/// basic auth for each protected repository, `(name, user file)`.
fn http_config(
    backend: &Path,
    repos: &Path,
    home: &Path,
    protected: &[(String, PathBuf)],
) -> String {
    let mut config = format!(
        r#"alias.url = ("/git/" => "{backend}/")
$HTTP["url"] =~ "^/git/" {{
  cgi.assign = ("" => "")
  setenv.add-environment = (
    "GIT_PROJECT_ROOT" => "{repos}",
    "GIT_HTTP_EXPORT_ALL" => "",
    "GIT_CONFIG_NOSYSTEM" => "1",
    "HOME" => "{home}",
  )
}}
"#,
        backend = backend.display(),
        repos = repos.display(),
        home = home.display(),
    );
    for (name, users) in protected {
        let regex = format!("^/git/{}\\.git(/|$)", lighttpd::regex_escape(name));
        config.push_str(&lighttpd::basic_auth(&regex, name, users));
    }
    config
}

/// One commit, as [`Repo::log`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The full commit id.
    pub id: String,
    /// `Name <email>` of the author.
    pub author: String,
    /// The whole message, subject and body, without the final line break.
    pub message: String,
}

/// A bare repository of a [`GitServer`], and helpers that change and read it with the real
/// `git`. Changes go through a scratch clone and are pushed over the file system, so they
/// need no credentials. The handle is valid while its server lives.
#[derive(Debug, Clone)]
pub struct Repo {
    name: String,
    bare: PathBuf,
    scratch: PathBuf,
    http_url: String,
    git_url: String,
    credentials: Option<(String, String)>,
    /// The helpers share one scratch clone: one at a time.
    lock: Arc<Mutex<()>>,
}

impl Repo {
    /// The repository's name, without `.git`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `http://127.0.0.1:P/git/NAME.git`.
    pub fn http_url(&self) -> String {
        self.http_url.clone()
    }

    /// The HTTP URL with the user and password in it (percent-encoded); the plain URL for an
    /// anonymous repository.
    pub fn http_url_with_credentials(&self) -> String {
        match &self.credentials {
            Some((user, password)) => self.http_url.replacen(
                "http://",
                &format!(
                    "http://{}:{}@",
                    percent_encode(user),
                    percent_encode(password)
                ),
                1,
            ),
            None => self.http_url.clone(),
        }
    }

    /// The user and password HTTP asks for, if any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// `git://127.0.0.1:Q/NAME.git` (read-only, no authentication).
    pub fn git_url(&self) -> String {
        self.git_url.clone()
    }

    /// `file:///…/NAME.git`.
    pub fn file_url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    /// The bare repository on disk.
    pub fn path(&self) -> &Path {
        &self.bare
    }

    /// Writes `files` (path, contents) on `branch` and commits and pushes them; returns the
    /// new commit's id. A branch that does not exist yet starts from `main`, or from nothing
    /// when `main` has no commits either.
    pub fn commit_files(
        &self,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
    ) -> Result<String> {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let work = self.checkout(branch)?;
        for (path, contents) in files {
            check_name("file path", path)?;
            let file = work.join(path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).map_err(io(format!("creating {parent:?}")))?;
            }
            std::fs::write(&file, contents).map_err(io(format!("writing {file:?}")))?;
        }
        run(git_in(&work).args(["add", "--all"]))?;
        self.commit_and_push(&work, branch, message)
    }

    /// Removes `paths` from `branch` and commits and pushes; returns the new commit's id.
    pub fn delete_files(&self, branch: &str, paths: &[&str], message: &str) -> Result<String> {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let work = self.checkout(branch)?;
        run(git_in(&work)
            .args(["rm", "-r", "--quiet", "--"])
            .args(paths))?;
        self.commit_and_push(&work, branch, message)
    }

    /// Moves `branch` to `commit` with a forced push, as a history rewrite does (the commits
    /// after it are dropped from the branch).
    pub fn force_push(&self, branch: &str, commit: &str) -> Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let work = self.scratch()?;
        run(git_in(&work).args([
            "push",
            "--quiet",
            "--force",
            "origin",
            &format!("{commit}:refs/heads/{branch}"),
        ]))
        .map(drop)
    }

    /// Points `branch` at `commit` (creating it), on the server.
    pub fn create_branch(&self, branch: &str, commit: &str) -> Result<()> {
        run(git_in(&self.bare).args(["update-ref", &format!("refs/heads/{branch}"), commit]))
            .map(drop)
    }

    /// Deletes the reference `refname` (`refs/heads/x`, `refs/tags/v1`) on the server.
    pub fn delete_ref(&self, refname: &str) -> Result<()> {
        run(git_in(&self.bare).args(["update-ref", "-d", refname])).map(drop)
    }

    /// Tags `commit` (a commit id or a branch) as `tag` on the server: an annotated tag when
    /// a `message` is given, else a lightweight one.
    pub fn create_tag(&self, tag: &str, commit: &str, message: Option<&str>) -> Result<()> {
        let mut command = git_in(&self.bare);
        command.arg("tag");
        if let Some(message) = message {
            command.args(["--annotate", "--message", message]);
        }
        run(command.args(["--", tag, commit])).map(drop)
    }

    /// The commit `branch` points at on the server.
    pub fn head(&self, branch: &str) -> Result<String> {
        run(git_in(&self.bare).args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}^{{commit}}"),
        ]))
    }

    /// Every reference on the server with the object it points at: `(refname, id)`, sorted.
    pub fn refs(&self) -> Result<Vec<(String, String)>> {
        let out =
            run(git_in(&self.bare).args(["for-each-ref", "--format=%(refname) %(objectname)"]))?;
        Ok(out
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(r, id)| (r.to_string(), id.to_string()))
            .collect())
    }

    /// The commits of `branch` on the server, newest first, as pushed (by the helpers or by
    /// the code under test).
    pub fn log(&self, branch: &str) -> Result<Vec<Commit>> {
        let out = run(git_in(&self.bare).args([
            "log",
            "--format=%H%x1f%an <%ae>%x1f%B%x1e",
            &format!("refs/heads/{branch}"),
            "--",
        ]))?;
        Ok(out
            .split('\x1e')
            .map(|record| record.trim_start_matches('\n'))
            .filter(|record| !record.is_empty())
            .filter_map(|record| {
                let mut fields = record.splitn(3, '\x1f');
                Some(Commit {
                    id: fields.next()?.to_string(),
                    author: fields.next()?.to_string(),
                    message: fields.next()?.trim_end().to_string(),
                })
            })
            .collect())
    }

    /// The contents of `path` on `branch` on the server, or `None` when it has no such file.
    pub fn read_file(&self, branch: &str, path: &str) -> Result<Option<String>> {
        let spec = format!("refs/heads/{branch}:{path}");
        let exists = git_in(&self.bare)
            .args(["cat-file", "-e", &spec])
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(io("running git cat-file"))?
            .success();
        if !exists {
            return Ok(None);
        }
        let out = crate::output(git_in(&self.bare).args(["cat-file", "blob", &spec]))?;
        Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()))
    }

    /// The scratch clone, up to date with the server.
    fn scratch(&self) -> Result<PathBuf> {
        if !self.scratch.join(".git").exists() {
            if let Some(parent) = self.scratch.parent() {
                std::fs::create_dir_all(parent).map_err(io("creating the scratch directory"))?;
            }
            run(git_command()
                .args(["clone", "--quiet", "--no-checkout"])
                .arg(&self.bare)
                .arg(&self.scratch))?;
        }
        run(git_in(&self.scratch).args(["fetch", "--quiet", "--prune", "--force", "origin"]))?;
        Ok(self.scratch.clone())
    }

    /// The scratch clone with `branch` checked out as the server has it, with a clean tree.
    fn checkout(&self, branch: &str) -> Result<PathBuf> {
        let work = self.scratch()?;
        let has = |r: &str| {
            git_in(&work)
                .args(["rev-parse", "--verify", "--quiet", r])
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let remote = format!("refs/remotes/origin/{branch}");
        if has(&remote) {
            run(git_in(&work).args(["checkout", "--quiet", "--force", "-B", branch, &remote]))?;
        } else if has("refs/remotes/origin/main") {
            run(git_in(&work).args([
                "checkout",
                "--quiet",
                "--force",
                "-B",
                branch,
                "refs/remotes/origin/main",
            ]))?;
        } else {
            run(git_in(&work).args(["checkout", "--quiet", "--force", "--orphan", branch]))?;
            run(git_in(&work).args(["rm", "-r", "--quiet", "--force", "--ignore-unmatch", "."]))?;
        }
        run(git_in(&work).args(["clean", "-d", "-x", "--force", "--quiet"]))?;
        Ok(work)
    }

    fn commit_and_push(&self, work: &Path, branch: &str, message: &str) -> Result<String> {
        run(git_in(work).args(["commit", "--quiet", "--allow-empty", "--message", message]))?;
        run(git_in(work).args([
            "push",
            "--quiet",
            "origin",
            &format!("HEAD:refs/heads/{branch}"),
        ]))?;
        run(git_in(work).args(["rev-parse", "HEAD"]))
    }
}
