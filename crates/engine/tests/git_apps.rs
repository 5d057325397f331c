//! Git applications end to end, through the façade the front ends use, against a real Git
//! server (lighttpd + `git http-backend`, basic auth) and the sandbox cluster: create, deploy,
//! a redeploy call with nothing new, a new commit, a force-push, invalid YAML, a deleted
//! branch, a server gone, and the calls a Git application refuses.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use tripline_engine::api::{ListenerSettings, NewGitApplication, Options, Tripline};
use tripline_engine::app::{ClusterRef, Source};
use tripline_engine::error::Code;
use tripline_engine::source::Revision;
use tripline_engine::source::git::GitSource;
use tripline_engine::store::{Cause, NewTrigger, Release, ReleaseStatus};
use tripline_engine::trigger::{TagFilter, TriggerKind};

fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: {value:?}\n"
    )
}

async fn open(dir: &tempfile::TempDir) -> Tripline {
    Tripline::open(Options {
        data_dir: dir.path().to_owned(),
        secrets: tripline_engine::secrets::Secrets::Files(dir.path().join("secrets")),
        via: "test",
        quiet: true,
    })
    .await
    .expect("tripline opens")
}

/// POSTs `body` to `url` (`http://host:port/path?query`) and returns the status and body.
fn post(url: &str, body: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').expect("a path");
    let mut stream = std::net::TcpStream::connect(host).expect("listener answers");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().expect("a status line");
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// Waits for the application's release `number` to finish.
async fn finished(tripline: &Tripline, app: &str, number: u32) -> Release {
    for _ in 0..600 {
        if let Some(release) = tripline
            .releases(app, 10)
            .unwrap()
            .into_iter()
            .find(|r| r.number == number)
            && !matches!(
                release.status,
                ReleaseStatus::Queued | ReleaseStatus::Running
            )
        {
            return release;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("release {number} of {app} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_git_application_follows_its_branch() {
    if !testbed::require(&["git", "lighttpd"]) {
        return;
    }
    let server = testbed::GitServer::start().expect("git server starts");
    let repo = server
        .create_repo("shop", Some(("deployer", "s3cret-token")))
        .expect("repository");
    let first = repo
        .commit_files(
            "main",
            &[("deploy/a.yaml", &config_map("shop-a", "1"))],
            "first",
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    let git = GitSource {
        url: repo.http_url(),
        reference: "main".into(),
        path: "deploy".into(),
    };
    let new = |password: Option<&str>| NewGitApplication {
        name: "shop".into(),
        cluster: ClusterRef::Sandbox,
        namespace: "default".into(),
        git: git.clone(),
        prune: true,
        username: password.map(|_| "deployer".to_owned()),
        password: password.map(str::to_owned),
    };

    // Without credentials, and with wrong ones: refused, and nothing is kept.
    let error = tripline.create_git_app(new(None)).await.unwrap_err();
    assert_eq!(error.code, Code::SourceAuth, "{error:?}");
    let error = tripline
        .create_git_app(new(Some("wrong")))
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceAuth, "{error:?}");
    assert!(!error.message.contains("wrong"), "{}", error.message);
    assert!(tripline.app_overviews().unwrap().is_empty());

    let app = tripline
        .create_git_app(new(Some("s3cret-token")))
        .await
        .unwrap();
    assert!(matches!(app.source, Source::Git { .. }));
    let revision = tripline.source_revision("shop").unwrap();
    assert_eq!(
        revision,
        Some(Revision::Git {
            commit: first.clone(),
            reference: "main".into()
        })
    );
    let stored = std::fs::read_to_string(dir.path().join("tripline.db")).unwrap_or_default();
    assert!(
        !stored.contains("s3cret-token"),
        "the token is not in the database"
    );

    // A person's deploy applies version 1.
    let release = tripline.deploy("shop").unwrap();
    let release = finished(&tripline, "shop", release.number).await;
    assert_eq!(
        release.status,
        ReleaseStatus::Succeeded,
        "{}",
        release.message
    );
    assert_eq!(release.template_version, Some(1));

    // A redeploy trigger with nothing new: accepted, and nothing is applied.
    tripline
        .create_trigger(&NewTrigger {
            name: "shop-redeploy".into(),
            app: "shop".into(),
            kind: TriggerKind::Redeploy,
            signed: false,
        })
        .unwrap();
    tripline
        .start_listener(ListenerSettings {
            listen: "127.0.0.1:0".into(),
            ..ListenerSettings::default()
        })
        .await
        .unwrap();
    let url = tripline.trigger_url("shop-redeploy").await.unwrap();
    let (status, body) = post(&url, "");
    assert_eq!(status, 202, "{body}");
    let release = finished(&tripline, "shop", release.number + 1).await;
    assert_eq!(
        release.status,
        ReleaseStatus::Succeeded,
        "{}",
        release.message
    );
    assert!(
        release.message.starts_with("nothing new: commit"),
        "{}",
        release.message
    );
    assert!(
        release.resources.is_empty(),
        "nothing applied: {:?}",
        release.resources
    );

    // A new commit: the call deploys it as version 2, which names the commit.
    let second = repo
        .commit_files(
            "main",
            &[("deploy/b.yaml", &config_map("shop-b", "2"))],
            "second",
        )
        .unwrap();
    // What would change, before deploying it; and the picker's branches and tags.
    let preview = tripline.source_preview("shop").await.unwrap();
    assert_eq!(
        preview.newest,
        Revision::Git {
            commit: second.clone(),
            reference: "main".into()
        }
    );
    assert_eq!(preview.deployed, revision);
    let diff = serde_json::to_string(&preview.diff).unwrap();
    assert!(diff.contains("shop-b"), "{diff}");
    repo.create_tag("v1", &first, Some("one")).unwrap();
    let references = tripline
        .git_references(
            &repo.http_url(),
            Some("deployer".into()),
            Some("s3cret-token".into()),
        )
        .await
        .unwrap();
    assert_eq!(
        references.branches,
        vec![("main".to_owned(), second.clone())]
    );
    assert_eq!(references.tags, vec![("v1".to_owned(), first.clone())]);
    let error = tripline
        .git_references(&repo.http_url(), None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Code::SourceAuth, "{error:?}");
    let (status, body) = post(&url, "");
    assert_eq!(status, 202, "{body}");
    let release = finished(&tripline, "shop", release.number + 1).await;
    assert_eq!(
        release.status,
        ReleaseStatus::Succeeded,
        "{}",
        release.message
    );
    assert_eq!(release.template_version, Some(2));
    assert_eq!(
        release.revision,
        Some(Revision::Git {
            commit: second.clone(),
            reference: "main".into()
        }),
        "the release says which commit it deployed"
    );
    let version = tripline.version("shop", Some(2)).unwrap();
    assert!(version.content.contains("shop-b"));
    assert_eq!(
        version.summary.revision,
        Some(Revision::Git {
            commit: second.clone(),
            reference: "main".into()
        })
    );

    // A force-push back to the first commit is deployed too (and prunes shop-b).
    repo.force_push("main", &first).unwrap();
    let (status, _) = post(&url, "");
    assert_eq!(status, 202);
    let release = finished(&tripline, "shop", release.number + 1).await;
    assert_eq!(
        release.status,
        ReleaseStatus::Succeeded,
        "{}",
        release.message
    );
    assert_eq!(release.template_version, Some(3));
    assert!(
        !tripline
            .version("shop", Some(3))
            .unwrap()
            .content
            .contains("shop-b")
    );

    // Invalid YAML on the branch: the release fails and names the file; version 3 runs on.
    repo.commit_files("main", &[("deploy/bad.yaml", "kind: [")], "broken")
        .unwrap();
    let (status, _) = post(&url, "");
    assert_eq!(status, 202);
    let failed = finished(&tripline, "shop", release.number + 1).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    assert_eq!(
        failed.reason.as_deref(),
        Some("source.invalid"),
        "{}",
        failed.message
    );
    assert!(
        failed.message.contains("deploy/bad.yaml"),
        "{}",
        failed.message
    );

    // The branch deleted: a clear failure, and still version 3 is what runs.
    repo.delete_ref("refs/heads/main").unwrap();
    let (status, _) = post(&url, "");
    assert_eq!(status, 202);
    let failed = finished(&tripline, "shop", failed.number + 1).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    assert_eq!(
        failed.reason.as_deref(),
        Some("source.not_found"),
        "{}",
        failed.message
    );
    assert!(failed.message.contains("main"), "{}", failed.message);
    let last_success = tripline
        .releases("shop", 20)
        .unwrap()
        .into_iter()
        .find(|r| r.status == ReleaseStatus::Succeeded && r.template_version.is_some())
        .unwrap();
    assert_eq!(last_success.template_version, Some(3));

    // The server gone: a clear failure naming the repository, and version 3 runs on.
    let repository = repo.http_url();
    drop(server);
    let (status, _) = post(&url, "");
    assert_eq!(status, 202);
    let failed = finished(&tripline, "shop", failed.number + 1).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    assert_eq!(
        failed.reason.as_deref(),
        Some("source.unreachable"),
        "{}",
        failed.message
    );
    assert!(failed.message.contains(&repository), "{}", failed.message);
    assert!(
        !failed.message.contains("s3cret-token"),
        "{}",
        failed.message
    );

    // A body cannot patch a Git application.
    let (status, body) = post(&url, r#"{"resource":{"kind":"ConfigMap"}}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("deploys from Git"), "{body}");

    // Deleting the application removes its template and its credentials.
    tripline.delete_app("shop").unwrap();
    assert!(tripline.version("shop", None).is_err());
    assert!(
        !dir.path().join("secrets").join("source").exists()
            || std::fs::read_dir(dir.path().join("secrets").join("source"))
                .unwrap()
                .next()
                .is_none()
    );
    tripline.shutdown().await;
}

const DEPLOYMENT: &str = "\
# The shop's web front.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example/shop:v1   # set by Tripline
";

/// An image push is written back to the branch as a commit that changes only the image
/// line, and that commit is deployed; a branch where no container uses the repository is a
/// conflict, answered as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_push_is_committed_to_the_branch_then_deployed() {
    if !testbed::require(&["git", "lighttpd"]) {
        return;
    }
    let server = testbed::GitServer::start().expect("git server starts");
    let repo = server
        .create_repo("web", Some(("deployer", "token-1")))
        .expect("repository");
    repo.commit_files("main", &[("deploy/web.yaml", DEPLOYMENT)], "web v1")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    tripline
        .create_git_app(NewGitApplication {
            name: "web".into(),
            cluster: ClusterRef::Sandbox,
            namespace: "default".into(),
            git: GitSource {
                url: repo.http_url(),
                reference: "main".into(),
                path: "deploy".into(),
            },
            prune: false,
            username: Some("deployer".into()),
            password: Some("token-1".into()),
        })
        .await
        .unwrap();
    tripline
        .create_trigger(&NewTrigger {
            name: "web-image".into(),
            app: "web".into(),
            kind: TriggerKind::Image {
                repositories: vec!["registry.example/shop".into()],
                filter: TagFilter::All,
                pin_digest: false,
                branch: None,
                values: None,
                verify: tripline_engine::trigger::Verify::Off,
                watch: None,
                maturing: None,
                containers: Vec::new(),
                allow_downgrade: false,
            },
            signed: false,
        })
        .unwrap();
    tripline
        .start_listener(ListenerSettings {
            listen: "127.0.0.1:0".into(),
            ..ListenerSettings::default()
        })
        .await
        .unwrap();
    let url = tripline.trigger_url("web-image").await.unwrap();
    let (status, body) = post(&url, r#"{"image":"registry.example/shop:v2"}"#);
    assert_eq!(status, 202, "{body}");
    let release = finished(&tripline, "web", 1).await;
    assert_eq!(
        release.status,
        ReleaseStatus::Succeeded,
        "{}",
        release.message
    );

    let log = repo.log("main").unwrap();
    let commit = &log[0];
    assert!(commit.author.starts_with("Tripline"), "{commit:?}");
    assert!(
        commit.message.contains("registry.example/shop:v2"),
        "{commit:?}"
    );
    assert!(commit.message.contains("web-image"), "{commit:?}");
    let file = repo.read_file("main", "deploy/web.yaml").unwrap().unwrap();
    assert_eq!(
        file,
        DEPLOYMENT.replace("shop:v1   #", "shop:v2   #"),
        "only the image changed, comments and all"
    );
    let deployed = tripline.version("web", release.template_version).unwrap();
    assert!(deployed.content.contains("registry.example/shop:v2"));
    assert_eq!(
        deployed.summary.revision,
        Some(Revision::Git {
            commit: commit.id.clone(),
            reference: "main".into()
        })
    );

    // The same push again: the branch already has it; nothing new is committed or applied.
    let (status, body) = post(&url, r#"{"image":"registry.example/shop:v2"}"#);
    assert_eq!(status, 202, "{body}");
    let again = finished(&tripline, "web", 2).await;
    assert!(
        again.message.starts_with("nothing new"),
        "{}",
        again.message
    );
    assert_eq!(repo.log("main").unwrap().len(), log.len());

    // A lower version than the branch holds is refused, recorded, and nothing is committed.
    let (status, body) = post(&url, r#"{"image":"registry.example/shop:v1"}"#);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("untriggered"), "{body}");
    assert!(
        body.contains(
            "deploy/web.yaml: tag v1 is lower than v2, deployed in Deployment/web container web; \
             the trigger does not allow downgrades"
        ),
        "{body}"
    );
    assert_eq!(repo.log("main").unwrap().len(), log.len());

    // Someone replaced the image on the branch: a push for the old repository conflicts.
    repo.commit_files(
        "main",
        &[(
            "deploy/web.yaml",
            &DEPLOYMENT.replace("registry.example/shop:v1", "other.example/web:v1"),
        )],
        "moved to another registry",
    )
    .unwrap();
    let (status, body) = post(&url, r#"{"image":"registry.example/shop:v3"}"#);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("source.conflict"), "{body}");
    assert!(body.contains("registry.example/shop"), "{body}");
    tripline.shutdown().await;
}

/// Someone else pushes to the branch while an image is being written: the server turns the
/// write-back's push away, and the write-back starts again from the branch's new head, so both
/// commits are on the branch and nothing was forced.
#[test]
fn a_write_back_that_loses_the_race_is_redone_on_the_new_head() {
    use tripline_engine::source::writeback::{ImageUpdate, Written, write_images};
    if !testbed::require(&["git", "lighttpd"]) {
        return;
    }
    let server = testbed::GitServer::start().expect("git server starts");
    let repo = server
        .create_repo("race", Some(("deployer", "token-2")))
        .expect("repository");
    repo.commit_files("main", &[("deploy/web.yaml", DEPLOYMENT)], "web v1")
        .unwrap();
    // The first push to arrive finds that someone else's commit landed on main just before
    // it: the hook moves main to a new commit (a README change; outside the push's
    // quarantine, as another push would), so the server's update of main from the old value
    // fails.
    let hook = repo.path().join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\n\
         [ -e raced ] && exit 0\n\
         touch raced\n\
         unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n\
         tree=$(git rev-parse refs/heads/main^{tree})\n\
         blob=$(echo 'someone else was here' | git hash-object -w --stdin)\n\
         new=$( (git ls-tree refs/heads/main; printf '100644 blob %s\\tREADME\\n' \"$blob\") | git mktree)\n\
         commit=$(echo 'a concurrent change' | GIT_AUTHOR_NAME=Other GIT_AUTHOR_EMAIL=o@example \
           GIT_COMMITTER_NAME=Other GIT_COMMITTER_EMAIL=o@example git commit-tree \"$new\" -p refs/heads/main)\n\
         git update-ref refs/heads/main \"$commit\"\n\
         exit 0\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let git = GitSource {
        url: repo.http_url(),
        reference: "main".into(),
        path: "deploy".into(),
    };
    let credentials = tripline_engine::source::Credentials {
        username: "deployer".into(),
        password: "token-2".into(),
    };
    let written = write_images(
        &git,
        Some(&credentials),
        None,
        &[ImageUpdate {
            repository: "registry.example/shop".into(),
            tag: Some("v2".into()),
            digest: None,
        }],
        &Default::default(),
        "Set registry.example/shop:v2",
    )
    .unwrap();
    let Written::Committed { commit, .. } = written else {
        panic!("a commit was expected: {written:?}");
    };
    assert!(repo.path().join("raced").exists(), "the race happened");
    let log = repo.log("main").unwrap();
    assert_eq!(log[0].id, commit, "the write-back is the newest commit");
    assert!(log[1].message.contains("a concurrent change"), "{log:?}");
    assert_eq!(
        repo.read_file("main", "README").unwrap().as_deref(),
        Some("someone else was here\n"),
        "the other change is kept"
    );
    let file = repo.read_file("main", "deploy/web.yaml").unwrap().unwrap();
    assert!(file.contains("registry.example/shop:v2"), "{file}");
}

/// Makes the next push to `branch` of `repo` lose a race: a pre-receive hook moves the branch
/// to a commit of someone else's (a README change) just before the push's update, once.
fn race_next_push(repo: &testbed::Repo, branch: &str) {
    let hook = repo.path().join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n\
             [ -e raced ] && exit 0\n\
             touch raced\n\
             unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n\
             ref=refs/heads/{branch}\n\
             blob=$(echo 'someone else was here' | git hash-object -w --stdin)\n\
             new=$( (git ls-tree $ref; printf '100644 blob %s\\tREADME\\n' \"$blob\") | git mktree)\n\
             commit=$(echo 'a concurrent change' | GIT_AUTHOR_NAME=Other GIT_AUTHOR_EMAIL=o@example \
               GIT_COMMITTER_NAME=Other GIT_COMMITTER_EMAIL=o@example git commit-tree \"$new\" -p $ref)\n\
             git update-ref $ref \"$commit\"\n\
             exit 0\n"
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// An image trigger that names a branch of its own: the first push makes the branch from the
/// tracked one with the image commit, later pushes build on the branch's head (one that lost a
/// race with someone else's push is redone on the new head), each commit is what its release
/// deploys and records, and the tracked branch is never touched. A redeploy of the application
/// reads the tracked branch again. Names git refuses, and the option on a Helm application's
/// trigger, are refused when the trigger is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_push_is_committed_to_a_branch_of_the_triggers_own() {
    if !testbed::require(&["git", "lighttpd"]) {
        return;
    }
    const BRANCH: &str = "tripline/images";
    let server = testbed::GitServer::start().expect("git server starts");
    let repo = server
        .create_repo("web", Some(("deployer", "token-3")))
        .expect("repository");
    let main = repo
        .commit_files("main", &[("deploy/web.yaml", DEPLOYMENT)], "web v1")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tripline = open(&dir).await;
    tripline
        .create_git_app(NewGitApplication {
            name: "web".into(),
            cluster: ClusterRef::Sandbox,
            namespace: "default".into(),
            git: GitSource {
                url: repo.http_url(),
                reference: "main".into(),
                path: "deploy".into(),
            },
            prune: false,
            username: Some("deployer".into()),
            password: Some("token-3".into()),
        })
        .await
        .unwrap();
    let image = |branch: Option<&str>| TriggerKind::Image {
        repositories: vec!["registry.example/shop".into()],
        filter: TagFilter::All,
        pin_digest: false,
        branch: branch.map(str::to_owned),
        values: None,
        verify: tripline_engine::trigger::Verify::Off,
        watch: None,
        maturing: None,
        containers: Vec::new(),
        allow_downgrade: false,
    };
    let new = |name: &str, kind: TriggerKind| NewTrigger {
        name: name.into(),
        app: "web".into(),
        kind,
        signed: false,
    };

    // Names git refuses, and Helm values keys on a Git application, are refused.
    for (branch, said) in [
        ("a..b", "`..`"),
        ("two words", "a space"),
        ("-x", "starts with a dash"),
        ("x.lock", "ends with .lock"),
        ("what?", "`?`"),
        ("end/", "slash"),
    ] {
        let error = tripline
            .create_trigger(&new("bad", image(Some(branch))))
            .unwrap_err();
        assert_eq!(error.code, "trigger.invalid", "{branch}: {error:?}");
        assert!(error.message.contains(said), "{branch}: {}", error.message);
    }
    let with_values = TriggerKind::Image {
        repositories: vec!["registry.example/shop".into()],
        filter: TagFilter::All,
        pin_digest: false,
        branch: None,
        values: Some(tripline_engine::trigger::ImageValues::default()),
        verify: tripline_engine::trigger::Verify::Off,
        watch: None,
        maturing: None,
        containers: Vec::new(),
        allow_downgrade: false,
    };
    let error = tripline
        .create_trigger(&new("bad", with_values))
        .unwrap_err();
    assert!(
        error
            .message
            .contains("values keys are for applications that deploy a Helm chart"),
        "{}",
        error.message
    );
    assert!(tripline.triggers(None).unwrap().is_empty());

    tripline
        .create_trigger(&new("web-image", image(Some(BRANCH))))
        .unwrap();
    tripline
        .start_listener(ListenerSettings {
            listen: "127.0.0.1:0".into(),
            ..ListenerSettings::default()
        })
        .await
        .unwrap();
    let url = tripline.trigger_url("web-image").await.unwrap();
    let deployed = |release: &Release| {
        let version = tripline.version("web", release.template_version).unwrap();
        (version.summary.revision, version.content)
    };

    // The first push makes the branch from main, with one commit that changes the image.
    let (status, body) = post(&url, r#"{"image":"registry.example/shop:v2"}"#);
    assert_eq!(status, 202, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["details"]["branch"], BRANCH, "{body}");
    assert_eq!(answer["details"]["created"], true, "{body}");
    let release = finished(&tripline, "web", 1).await;
    assert_eq!(
        release.status,
        ReleaseStatus::Succeeded,
        "{}",
        release.message
    );
    let log = repo.log(BRANCH).unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[1].id, main, "the branch starts at main's head");
    assert!(log[0].author.starts_with("Tripline"), "{:?}", log[0]);
    assert!(log[0].message.contains("web-image"), "{:?}", log[0]);
    assert!(
        log[0].message.contains("registry.example/shop:v2"),
        "{:?}",
        log[0]
    );
    assert_eq!(
        repo.read_file(BRANCH, "deploy/web.yaml").unwrap().unwrap(),
        DEPLOYMENT.replace("shop:v1", "shop:v2")
    );
    assert_eq!(repo.head("main").unwrap(), main, "main is untouched");
    let (revision, content) = deployed(&release);
    assert_eq!(
        revision,
        Some(Revision::Git {
            commit: log[0].id.clone(),
            reference: BRANCH.into()
        }),
        "the release deployed the branch's commit"
    );
    assert!(content.contains("registry.example/shop:v2"));
    let Source::Git { git, .. } = tripline.app("web").unwrap().source else {
        panic!("a Git application");
    };
    assert_eq!(git.reference, "main", "the application still follows main");
    let Cause::Trigger {
        event: Some(event), ..
    } = &release.cause
    else {
        panic!("{:?}", release.cause);
    };
    assert_eq!(event["branch"], BRANCH);
    assert_eq!(event["commit"], log[0].id.as_str());

    // The next push builds on the branch's head, not on main's.
    repo.commit_files(
        "main",
        &[("deploy/other.yaml", &config_map("other", "1"))],
        "other",
    )
    .unwrap();
    let main = repo.head("main").unwrap();
    let (status, body) = post(&url, r#"{"image":"registry.example/shop:v3"}"#);
    assert_eq!(status, 202, "{body}");
    let release = finished(&tripline, "web", 2).await;
    assert_eq!(
        release.status,
        ReleaseStatus::Succeeded,
        "{}",
        release.message
    );
    let second = repo.log(BRANCH).unwrap();
    assert_eq!(second.len(), 3, "{second:?}");
    assert_eq!(second[1].id, log[0].id);
    assert!(
        repo.read_file(BRANCH, "deploy/other.yaml")
            .unwrap()
            .is_none()
    );
    assert_eq!(
        deployed(&release).0,
        Some(Revision::Git {
            commit: second[0].id.clone(),
            reference: BRANCH.into()
        })
    );

    // Someone pushes to the branch while the image is written: redone on the new head.
    race_next_push(&repo, BRANCH);
    let (status, body) = post(&url, r#"{"image":"registry.example/shop:v4"}"#);
    assert_eq!(status, 202, "{body}");
    let release = finished(&tripline, "web", 3).await;
    assert_eq!(
        release.status,
        ReleaseStatus::Succeeded,
        "{}",
        release.message
    );
    assert!(repo.path().join("raced").exists(), "the race happened");
    let third = repo.log(BRANCH).unwrap();
    assert!(third[0].message.contains("shop:v4"), "{third:?}");
    assert!(
        third[1].message.contains("a concurrent change"),
        "{third:?}"
    );
    assert_eq!(third[2].id, second[0].id);
    assert_eq!(
        repo.read_file(BRANCH, "README").unwrap().as_deref(),
        Some("someone else was here\n")
    );
    let (revision, content) = deployed(&release);
    assert_eq!(
        revision,
        Some(Revision::Git {
            commit: third[0].id.clone(),
            reference: BRANCH.into()
        })
    );
    assert!(content.contains("registry.example/shop:v4"));
    assert_eq!(repo.head("main").unwrap(), main, "main is untouched");

    // A redeploy of the application reads its tracked branch again.
    let redeploy = tripline.deploy("web").unwrap();
    let release = finished(&tripline, "web", redeploy.number).await;
    assert_eq!(
        release.status,
        ReleaseStatus::Succeeded,
        "{}",
        release.message
    );
    let (revision, content) = deployed(&release);
    assert_eq!(
        revision,
        Some(Revision::Git {
            commit: main.clone(),
            reference: "main".into()
        })
    );
    assert!(content.contains("registry.example/shop:v1"));

    // The branch has the image already: no commit, and its head is deployed again.
    let (status, body) = post(&url, r#"{"image":"registry.example/shop:v4"}"#);
    assert_eq!(status, 202, "{body}");
    let release = finished(&tripline, "web", redeploy.number + 1).await;
    assert_eq!(
        release.status,
        ReleaseStatus::Succeeded,
        "{}",
        release.message
    );
    assert_eq!(repo.log(BRANCH).unwrap().len(), third.len());
    assert_eq!(
        deployed(&release).0,
        Some(Revision::Git {
            commit: third[0].id.clone(),
            reference: BRANCH.into()
        })
    );
    tripline.shutdown().await;
}
