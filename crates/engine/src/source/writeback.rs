//! Writing a pushed image back to a Git application's repository: a commit that changes only
//! the `image:` lines of the containers that use the pushed repository, pushed with the real
//! `git` (gix cannot push yet).
//!
//! The commit goes to the tracked branch, or to a branch the trigger names (see
//! [`check_branch`] for the names taken): built on that branch's head when the server has it,
//! else on the tracked reference's newest commit (a branch, a tag or a commit), which the push
//! then makes the branch from. The one reference wanted is fetched at depth 1 into a private
//! scratch directory. Credentials reach `git` through a credential helper that reads them from
//! its environment, never from its arguments or the URL. A push the server rejects because the
//! branch moved (someone else pushed, or made the branch first) is retried on the new head, up
//! to [`ATTEMPTS`] times; nothing is ever forced. A branch on which no container uses the
//! repository is a conflict, reported, not guessed at.
//!
//! The trigger's [`matching::Scope`] holds here as on a template: only the containers it
//! names change, and a pushed version lower than a file's is refused for that container (all
//! refused: nothing is written, [`Written::Refused`]). As only `image:` lines are edited, a
//! container the trigger names cannot change while one it does not name, in the same file,
//! reads the very same image: that is a conflict too.

use std::path::Path;
use std::process::{Command, Output};

use super::git::{GitSource, is_commit_id, redacted};
use super::{Credentials, SourceError};
use crate::error::Code;
use crate::registry::reference::ImageRef;
use crate::template::Manifest;
use crate::trigger::matching;

/// How many times a push rejected because the branch moved is retried on its new head.
pub const ATTEMPTS: usize = 3;
/// The longest branch name a trigger may write to.
pub const MAX_BRANCH_LENGTH: usize = 255;

/// An image to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUpdate {
    /// The repository, as the push named it.
    pub repository: String,
    /// The tag, if the push named one.
    pub tag: Option<String>,
    /// The digest, if the trigger pins digests.
    pub digest: Option<String>,
}

/// What a write-back did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// A commit was pushed.
    Committed {
        /// Its id.
        commit: String,
        /// The branch it was pushed to.
        branch: String,
        /// The push made the branch (a branch of the trigger's own, new on the server).
        created: bool,
        /// What changed: `deploy/web.yaml: Deployment/web web: app:v1 → app:v2`.
        changes: Vec<String>,
        /// Containers left on their version because the push was lower (see [`Refused`]).
        ///
        /// [`Refused`]: Written::Refused
        refused: Vec<String>,
    },
    /// Every container the push would change runs a higher version, and the trigger does not
    /// allow downgrades: nothing was written.
    Refused {
        /// Why, for each container: `deploy/web.yaml: tag 3.0.0 is lower than 7.9.1, deployed
        /// in Deployment/web container sidecar; the trigger does not allow downgrades`.
        reasons: Vec<String>,
    },
    /// The image is there already: nothing to commit.
    AlreadyThere {
        /// The commit that has it.
        commit: String,
        /// Where: the branch written to, or, when a branch of the trigger's own does not exist
        /// yet and the tracked reference has the image, that reference (no branch is made).
        branch: String,
    },
}

/// Who commits.
pub const AUTHOR_NAME: &str = "Tripline";
/// The committer's address.
pub const AUTHOR_EMAIL: &str = "tripline@localhost";

/// Checks a branch name as `git check-ref-format --branch` does, and a little stricter (no
/// `refs/` prefix: the branch's own name is wanted). The error says what is wrong.
pub fn check_branch(name: &str) -> Result<(), String> {
    let refuse = |why: String| Err(format!("{name:?} is not a branch name: {why}"));
    if name.is_empty() {
        return Err("the branch name is empty".into());
    }
    if name.len() > MAX_BRANCH_LENGTH {
        return refuse(format!(
            "it is {} bytes long; the limit is {MAX_BRANCH_LENGTH}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
    {
        let shown = if c == ' ' {
            "a space".to_owned()
        } else if c.is_control() {
            "a control character".to_owned()
        } else {
            format!("`{c}`")
        };
        return refuse(format!("it holds {shown}, which git does not allow"));
    }
    if name.starts_with('-') {
        return refuse("it starts with a dash".into());
    }
    if name == "HEAD" || name == "@" {
        return refuse(format!("{name} names something else in git"));
    }
    if name.starts_with("refs/") {
        return refuse("write the branch's own name (x, not refs/heads/x)".into());
    }
    if name.contains("..") {
        return refuse("it holds `..`".into());
    }
    if name.contains("@{") {
        return refuse("it holds `@{`".into());
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return refuse("it begins or ends with a slash, or has two in a row".into());
    }
    if name.ends_with('.') {
        return refuse("it ends with a dot".into());
    }
    for part in name.split('/') {
        if part.starts_with('.') {
            return refuse(format!("its part {part:?} starts with a dot"));
        }
        if part.ends_with(".lock") {
            return refuse(format!("its part {part:?} ends with .lock"));
        }
    }
    Ok(())
}

/// The branch a trigger names, when it is one of its own: not the branch `source` tracks.
pub fn own_branch<'b>(source: &GitSource, branch: Option<&'b str>) -> Option<&'b str> {
    let tracked = source.reference.trim();
    let tracked = tracked.strip_prefix("refs/heads/").unwrap_or(tracked);
    branch.map(str::trim).filter(|b| *b != tracked)
}

/// Writes `updates` as one commit with `message` to `branch`, or to `source`'s own branch when
/// `branch` is `None` (or names that branch), changing only what `scope` lets change. Blocks
/// (network, disk, processes): call from a blocking thread.
pub fn write_images(
    source: &GitSource,
    credentials: Option<&Credentials>,
    branch: Option<&str>,
    updates: &[ImageUpdate],
    scope: &matching::Scope,
    message: &str,
) -> Result<Written, SourceError> {
    source.validate()?;
    let tracked = source.reference.trim();
    let tracked = tracked.strip_prefix("refs/heads/").unwrap_or(tracked);
    let own = own_branch(source, branch);
    if let Some(own) = own {
        check_branch(own).map_err(|problem| {
            SourceError::new(
                Code::SourceUnsupported,
                format!("write-back branch: {problem}"),
            )
        })?;
    } else if is_commit_id(tracked) {
        return Err(SourceError::new(
            Code::SourceUnsupported,
            "the application follows a commit: a new image can only be written to a branch \
             (name one in the trigger)",
        ));
    }
    let target = own.unwrap_or(tracked);
    let url = redacted(&source.url);
    let scratch = tempfile::Builder::new()
        .prefix("tripline-writeback-")
        .tempdir()
        .map_err(|e| {
            SourceError::new(
                Code::StoreIo,
                format!("cannot make a scratch directory: {e}"),
            )
        })?;
    let work = scratch.path().join("work");
    let git = Git {
        credentials,
        url: &url,
    };
    git.run(scratch.path(), &["init", "--quiet", "work"])?;
    git.run(&work, &["remote", "add", "origin", "--", source.url.trim()])?;
    let directory = source.directory()?;
    for attempt in 1..=ATTEMPTS {
        // The target branch's head; or, for a branch of the trigger's own that the server does
        // not have yet, the tracked reference's newest commit, which the push makes it from.
        let (head, created) = match git.fetch(&work, &format!("refs/heads/{target}"))? {
            Some(head) => (head, false),
            None if own.is_some() => match git.fetch(&work, tracked)? {
                Some(head) => (head, true),
                None => {
                    return Err(SourceError::new(
                        Code::SourceNotFound,
                        format!(
                            "{url}: no branch, tag or commit named {tracked:?} to make {target} from"
                        ),
                    ));
                }
            },
            None => {
                return Err(SourceError::new(
                    Code::SourceNotFound,
                    format!(
                        "{url}: there is no branch {tracked} to write the image to (a tag cannot \
                         move: name a branch in the trigger)"
                    ),
                ));
            }
        };
        git.run(
            &work,
            &["checkout", "--quiet", "--force", "--detach", &head],
        )?;
        let (changes, refused) = rewrite(&work.join(&directory), &directory, updates, scope)?;
        if changes.is_empty() && !refused.is_empty() {
            return Ok(Written::Refused { reasons: refused });
        }
        if changes.is_empty() {
            return Ok(Written::AlreadyThere {
                commit: head,
                branch: if created { tracked } else { target }.to_owned(),
            });
        }
        git.run(&work, &["add", "--all", "--", directory_or_top(&directory)])?;
        git.run(
            &work,
            &[
                "-c",
                &format!("user.name={AUTHOR_NAME}"),
                "-c",
                &format!("user.email={AUTHOR_EMAIL}"),
                "commit",
                "--quiet",
                "--no-verify",
                "-m",
                message,
            ],
        )?;
        let pushed = git.output(
            &work,
            &[
                "push",
                "--quiet",
                "--porcelain",
                "origin",
                &format!("HEAD:refs/heads/{target}"),
            ],
        )?;
        if pushed.status.success() {
            let commit = git.run(&work, &["rev-parse", "HEAD"])?;
            return Ok(Written::Committed {
                commit: commit.trim().to_owned(),
                branch: target.to_owned(),
                created,
                changes,
                refused,
            });
        }
        let said = String::from_utf8_lossy(&pushed.stderr).into_owned()
            + &String::from_utf8_lossy(&pushed.stdout);
        // The branch moved: before the push (the server's check of the old value), or while
        // the server took it (another push won the ref's lock first). A branch someone else
        // made first is refused the same way.
        let moved = said.contains("fetch first")
            || said.contains("non-fast-forward")
            || said.contains("[rejected]")
            || said.contains("stale info")
            || said.contains("failed to update ref")
            || said.contains("cannot lock ref");
        if !moved {
            return Err(git.failure("push", &said));
        }
        if attempt == ATTEMPTS {
            return Err(SourceError::new(
                Code::SourceConflict,
                format!(
                    "{url}: {target} kept moving while the image was written ({ATTEMPTS} tries); \
                     nothing was forced"
                ),
            ));
        }
        // Someone else pushed: the next attempt starts again from the branch's new head.
    }
    unreachable!("the last attempt returns")
}

fn directory_or_top(directory: &str) -> &str {
    if directory.is_empty() { "." } else { directory }
}

/// Rewrites the `image:` lines that use the updates' repositories in every manifest under
/// `root`, within `scope`; returns what changed and what was refused as a downgrade. A
/// repository no container uses is a conflict, and so is a named container that reads the
/// same image as one the trigger does not name, in the same file.
fn rewrite(
    root: &Path,
    directory: &str,
    updates: &[ImageUpdate],
    scope: &matching::Scope,
) -> Result<(Vec<String>, Vec<String>), SourceError> {
    let mut files = Vec::new();
    list(root, root, &mut files)?;
    files.sort();
    let mut changes = Vec::new();
    let mut refused = Vec::new();
    let mut used = vec![false; updates.len()];
    for relative in files {
        let path = root.join(&relative);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(manifest) = Manifest::parse(&text) else {
            continue;
        };
        let mut edited = text.clone();
        for (index, update) in updates.iter().enumerate() {
            let Ok(wanted) = ImageRef::parse(&update.repository) else {
                continue;
            };
            if !matching::repositories(&manifest)
                .iter()
                .any(|r| r.same_repository(&wanted))
            {
                continue;
            }
            used[index] = true;
            let retagged = matching::retag(
                &manifest,
                &update.repository,
                update.tag.as_deref(),
                update.digest.as_deref(),
                scope,
            );
            let shown = if directory.is_empty() {
                relative.clone()
            } else {
                format!("{directory}/{relative}")
            };
            for change in &retagged.changes {
                if let Some(other) = retagged.passed_over.iter().find(|o| o.from == change.from) {
                    return Err(SourceError::new(
                        Code::SourceConflict,
                        format!(
                            "{shown}: container {} of {} and container {} of {}, which the \
                             trigger does not name, both read {}; only image lines are edited, \
                             so one cannot change without the other: nothing was written",
                            change.container,
                            change.resource,
                            other.container,
                            other.resource,
                            change.from
                        ),
                    ));
                }
            }
            refused.extend(
                retagged
                    .refused
                    .iter()
                    .map(|refusal| format!("{shown}: {refusal}")),
            );
            for change in retagged.changes {
                if replace_image(&mut edited, &change.from, &change.to) {
                    changes.push(format!(
                        "{shown}: {} {}: {} → {}",
                        change.resource, change.container, change.from, change.to
                    ));
                }
            }
        }
        if edited != text {
            std::fs::write(&path, edited).map_err(|e| {
                SourceError::new(Code::StoreIo, format!("cannot write {relative}: {e}"))
            })?;
        }
    }
    if let Some(index) = used.iter().position(|used| !used) {
        return Err(SourceError::new(
            Code::SourceConflict,
            format!(
                "no container in {} uses {}: the repository changed since the trigger was \
                 made; nothing was written",
                directory_or_top(directory),
                updates[index].repository
            ),
        ));
    }
    Ok((changes, refused))
}

/// Replaces `from` with `to` on the `image:` lines whose value is exactly `from` (quoted or
/// not), leaving every other byte of the file as it was.
pub fn replace_image(text: &mut String, from: &str, to: &str) -> bool {
    let mut out = String::with_capacity(text.len() + 16);
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        let trimmed = body.trim_start().trim_start_matches("- ").trim_start();
        if let Some(value) = trimmed.strip_prefix("image:") {
            let value = value.trim();
            let (unquoted, quote) = match value.chars().next() {
                Some(q @ ('"' | '\'')) if value.len() >= 2 && value.ends_with(q) => {
                    (&value[1..value.len() - 1], Some(q))
                }
                _ => (value.split(" #").next().unwrap_or(value).trim(), None),
            };
            if unquoted == from {
                let start = body.find("image:").expect("found above") + "image:".len();
                let prefix = &body[..start];
                let rest = &body[start..];
                let new_rest = match quote {
                    Some(q) => rest.replacen(&format!("{q}{from}{q}"), &format!("{q}{to}{q}"), 1),
                    None => rest.replacen(from, to, 1),
                };
                out.push_str(prefix);
                out.push_str(&new_rest);
                out.push_str(ending);
                changed = true;
                continue;
            }
        }
        out.push_str(line);
    }
    if changed {
        *text = out;
    }
    changed
}

/// Every `*.yaml`/`*.yml` under `dir`, relative to `root`; `.git` and symlinks are skipped.
fn list(root: &Path, dir: &Path, files: &mut Vec<String>) -> Result<(), SourceError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        SourceError::new(
            Code::SourceNotFound,
            format!("{}: {e}", dir.strip_prefix(root).unwrap_or(dir).display()),
        )
    })?;
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() && entry.file_name() != ".git" {
            list(root, &path, files)?;
        } else if kind.is_file()
            && path.extension().is_some_and(|e| e == "yaml" || e == "yml")
            && let Ok(relative) = path.strip_prefix(root)
        {
            files.push(relative.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// Runs `git` without the user's configuration, prompts or askpass, with the credentials
/// (if any) offered by a helper that reads them from the environment.
struct Git<'a> {
    credentials: Option<&'a Credentials>,
    url: &'a str,
}

impl Git<'_> {
    fn command(&self, dir: &Path) -> Command {
        let mut command = Command::new("git");
        command
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GIT_ASKPASS")
            .env_remove("SSH_ASKPASS")
            .args(["-c", "credential.helper="]);
        if let Some(credentials) = self.credentials {
            command
                .args([
                    "-c",
                    "credential.helper=!f() { test \"$1\" = get && echo username=\"$TRIPLINE_GIT_USERNAME\" && echo password=\"$TRIPLINE_GIT_PASSWORD\"; }; f",
                ])
                .env("TRIPLINE_GIT_USERNAME", &credentials.username)
                .env("TRIPLINE_GIT_PASSWORD", &credentials.password);
        }
        command
    }

    fn output(&self, dir: &Path, args: &[&str]) -> Result<Output, SourceError> {
        self.command(dir).args(args).output().map_err(|e| {
            SourceError::new(
                Code::SourceToolMissing,
                format!("writing an image back needs git, which cannot run: {e}"),
            )
        })
    }

    fn run(&self, dir: &Path, args: &[&str]) -> Result<String, SourceError> {
        let output = self.output(dir, args)?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        Err(self.failure(args[0], &String::from_utf8_lossy(&output.stderr)))
    }

    /// Fetches `reference` (a full ref name, a short branch or tag name, or a commit id) at
    /// depth 1 and returns its commit; `None` when the server has no such reference.
    fn fetch(&self, dir: &Path, reference: &str) -> Result<Option<String>, SourceError> {
        let output = self.output(
            dir,
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--depth",
                "1",
                "origin",
                reference,
            ],
        )?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            if said.contains("couldn't find remote ref") || said.contains("not our ref") {
                return Ok(None);
            }
            return Err(self.failure("fetch", &said));
        }
        let commit = self.run(dir, &["rev-parse", "--verify", "FETCH_HEAD^{commit}"])?;
        Ok(Some(commit.trim().to_owned()))
    }

    fn failure(&self, what: &str, said: &str) -> SourceError {
        let lower = said.to_ascii_lowercase();
        let code = if lower.contains("authentication")
            || lower.contains("401")
            || lower.contains("403")
            || lower.contains("could not read username")
        {
            Code::SourceAuth
        } else if lower.contains("not found") || lower.contains("remote branch") {
            Code::SourceNotFound
        } else if what == "push" {
            Code::SourceConflict
        } else {
            Code::SourceUnreachable
        };
        let said: String = said
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(4)
            .collect::<Vec<_>>()
            .join("; ");
        let said = match self.credentials {
            Some(c) if !c.password.is_empty() => said.replace(&c.password, "[redacted]"),
            _ => said,
        };
        SourceError::new(code, format!("{}: git {what} failed: {said}", self.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHARED: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/tools:2.0.0  # the app
        - name: sidecar
          image: ghcr.io/acme/tools:7.9.1
";

    /// What `rewrite` answered: the changes and the refusals, or the error.
    type Answer = Result<(Vec<String>, Vec<String>), SourceError>;

    fn rewritten(text: &str, tag: &str, scope: &matching::Scope) -> (Answer, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("web.yaml"), text).unwrap();
        let update = ImageUpdate {
            repository: "ghcr.io/acme/tools".into(),
            tag: Some(tag.into()),
            digest: None,
        };
        let result = rewrite(dir.path(), "deploy", &[update], scope);
        let after = std::fs::read_to_string(dir.path().join("web.yaml")).unwrap();
        (result, after)
    }

    #[test]
    fn write_back_keeps_to_the_named_containers_and_refuses_downgrades() {
        let guarded = matching::Scope::default();
        // 3.0.0: web moves up, the sidecar would move down and is refused.
        let (result, after) = rewritten(SHARED, "3.0.0", &guarded);
        let (changes, refused) = result.unwrap();
        assert_eq!(
            changes,
            [
                "deploy/web.yaml: Deployment/web web: ghcr.io/acme/tools:2.0.0 → ghcr.io/acme/tools:3.0.0"
            ]
        );
        assert_eq!(
            refused,
            [
                "deploy/web.yaml: tag 3.0.0 is lower than 7.9.1, deployed in Deployment/web \
              container sidecar; the trigger does not allow downgrades"
            ]
        );
        assert_eq!(
            after,
            SHARED.replace("tools:2.0.0  #", "tools:3.0.0  #"),
            "only the web line changed, its comment kept"
        );
        // Only the sidecar named: web stays though it would move up.
        let sidecar = matching::Scope {
            containers: vec!["sidecar".into()],
            allow_downgrade: false,
        };
        let (result, after) = rewritten(SHARED, "8.0.0", &sidecar);
        assert_eq!(result.unwrap().0.len(), 1);
        assert_eq!(after, SHARED.replace("tools:7.9.1", "tools:8.0.0"));
        // Everything lower: nothing changes, every refusal is reported.
        let (result, after) = rewritten(SHARED, "1.0.0", &guarded);
        let (changes, refused) = result.unwrap();
        assert!(changes.is_empty());
        assert_eq!(refused.len(), 2);
        assert_eq!(after, SHARED);
    }

    #[test]
    fn a_named_container_sharing_its_image_line_with_another_is_a_conflict() {
        let same = SHARED.replace("tools:7.9.1", "tools:2.0.0");
        let web = matching::Scope {
            containers: vec!["web".into()],
            allow_downgrade: false,
        };
        let (result, after) = rewritten(&same, "3.0.0", &web);
        let error = result.unwrap_err();
        assert_eq!(error.code, Code::SourceConflict);
        assert!(
            error.message.contains(
                "container web of Deployment/web and container sidecar of Deployment/web, \
                 which the trigger does not name, both read ghcr.io/acme/tools:2.0.0"
            ),
            "{}",
            error.message
        );
        assert_eq!(after, same, "nothing was written");
    }

    /// Each name, and what the refusal says (`None`: a branch name). Where `git` is installed,
    /// `git check-ref-format --branch` agrees on every one.
    #[test]
    fn branch_names_are_checked_as_git_does() {
        let table: &[(&str, Option<&str>)] = &[
            ("tripline/images", None),
            ("main", None),
            ("release-1.2", None),
            ("feature/a.b_c", None),
            ("ünïcode", None),
            ("a@b", None),
            ("", Some("empty")),
            ("a..b", Some("`..`")),
            ("has space", Some("a space")),
            ("a~1", Some("`~`")),
            ("a^", Some("`^`")),
            ("a:b", Some("`:`")),
            ("a?", Some("`?`")),
            ("a*", Some("`*`")),
            ("a[b", Some("`[`")),
            ("a\\b", Some("`\\`")),
            ("tab\there", Some("control character")),
            ("-dash", Some("starts with a dash")),
            ("x.lock", Some("ends with .lock")),
            ("a/b.lock/c", Some("ends with .lock")),
            ("trailing/", Some("slash")),
            ("/leading", Some("slash")),
            ("a//b", Some("slash")),
            ("ends.", Some("ends with a dot")),
            (".hidden", Some("starts with a dot")),
            ("a/.b", Some("starts with a dot")),
            ("a@{1}", Some("`@{`")),
            ("HEAD", Some("something else")),
        ];
        let long = "b".repeat(MAX_BRANCH_LENGTH + 1);
        let git = Command::new("git").arg("--version").output().is_ok();
        for (name, refused) in table
            .iter()
            .chain([&(long.as_str(), Some("the limit is 255"))])
        {
            let checked = check_branch(name);
            match (refused, &checked) {
                (None, Ok(())) => {}
                (Some(why), Err(said)) => assert!(said.contains(why), "{name:?}: {said}"),
                _ => panic!("{name:?}: {checked:?}"),
            }
            if git && name.len() <= MAX_BRANCH_LENGTH {
                let agrees = Command::new("git")
                    .args(["check-ref-format", "--branch", name])
                    .output()
                    .unwrap()
                    .status
                    .success();
                assert_eq!(
                    agrees,
                    checked.is_ok(),
                    "git and Tripline differ on {name:?}"
                );
            }
        }
        assert!(
            check_branch("refs/heads/x")
                .unwrap_err()
                .contains("own name")
        );
        // `git check-ref-format --branch @` expands `@` (the current branch); as a name, it is
        // refused.
        assert!(check_branch("@").unwrap_err().contains("something else"));
    }

    #[test]
    fn only_the_image_line_changes() {
        let mut text = "\
# the shop
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: web   # front
          image: registry.example/shop:v1   # pinned by CI
        - name: side
          image: \"registry.example/side:v1\"
      initContainers:
        - image: registry.example/shop:v1
          name: init
"
        .to_owned();
        let before = text.clone();
        assert!(replace_image(
            &mut text,
            "registry.example/shop:v1",
            "registry.example/shop:v2"
        ));
        let changed: Vec<(&str, &str)> = before
            .lines()
            .zip(text.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(changed.len(), 2, "{text}");
        assert!(text.contains("image: registry.example/shop:v2   # pinned by CI"));
        assert!(text.contains("- image: registry.example/shop:v2\n"));
        assert!(text.contains("\"registry.example/side:v1\""));
        assert!(!replace_image(&mut text, "registry.example/shop:v9", "x"));
    }
}
