//! Git sources against real repositories: `file://` here, made with the real `git`.

use std::path::Path;
use std::process::Command;

use tripline_engine::error::Code;
use tripline_engine::source::git::{GitReader, GitSource};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: {value:?}\n"
    )
}

/// A bare repository at `root/origin.git` with one commit on `main`, and a work clone.
fn origin(root: &Path) -> (String, std::path::PathBuf) {
    let bare = root.join("origin.git");
    std::fs::create_dir_all(&bare).unwrap();
    git(&bare, &["init", "--bare", "-q"]);
    let work = root.join("work");
    std::fs::create_dir_all(work.join("deploy")).unwrap();
    git(&work, &["init", "-q"]);
    std::fs::write(work.join("deploy/a.yaml"), config_map("a", "1")).unwrap();
    std::fs::write(work.join("README.md"), "not a manifest").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "first"]);
    git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
    git(&work, &["push", "-q", "origin", "main"]);
    (format!("file://{}", bare.display()), work)
}

#[test]
fn a_branch_is_read_refreshed_and_its_errors_are_named() {
    let root = tempfile::tempdir().unwrap();
    let (url, work) = origin(root.path());
    let reader = GitReader::new(root.path().join("cache"), None);
    let source = GitSource {
        url: url.clone(),
        reference: "main".into(),
        path: "deploy".into(),
    };

    let head = reader.head(&source, None).unwrap();
    assert_eq!(head.commit, git(&work, &["rev-parse", "HEAD"]));
    let fetched = reader.fetch(&source, None).unwrap();
    assert_eq!(fetched, head);
    assert!(
        root.path().join("cache/shallow").exists(),
        "the fetch is shallow"
    );
    let rendered = reader.read(&source, &fetched.commit).unwrap();
    assert!(
        rendered.manifests.contains("name: a"),
        "{}",
        rendered.manifests
    );
    assert!(!rendered.manifests.contains("not a manifest"));

    // A new commit: head moves, the fetch brings it.
    std::fs::write(work.join("deploy/b.yaml"), config_map("b", "2")).unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "second"]);
    git(&work, &["push", "-q", "origin", "main"]);
    let second = reader.head(&source, None).unwrap();
    assert_ne!(second, head);
    let fetched = reader.fetch(&source, None).unwrap();
    let rendered = reader.read(&source, &fetched.commit).unwrap();
    assert!(
        rendered.manifests.find("name: a").unwrap() < rendered.manifests.find("name: b").unwrap()
    );

    // A force-push back to the first commit is followed.
    git(
        &work,
        &[
            "push",
            "-q",
            "--force",
            "origin",
            &format!("{}:main", head.commit),
        ],
    );
    assert_eq!(reader.fetch(&source, None).unwrap(), head);

    // Invalid YAML names its file.
    std::fs::write(work.join("deploy/bad.yaml"), "kind: [").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "broken"]);
    git(&work, &["push", "-q", "--force", "origin", "main"]);
    let broken = reader.fetch(&source, None).unwrap();
    let error = reader.read(&source, &broken.commit).unwrap_err();
    assert_eq!(error.code, Code::SourceInvalid);
    assert!(
        error.message.starts_with("deploy/bad.yaml"),
        "{}",
        error.message
    );

    // A missing directory, a deleted branch, an unreachable server.
    let elsewhere = GitSource {
        path: "nothing-here".into(),
        ..source.clone()
    };
    assert_eq!(
        reader.read(&elsewhere, &broken.commit).unwrap_err().code,
        Code::SourceNotFound
    );
    let gone = GitSource {
        reference: "release".into(),
        ..source.clone()
    };
    let error = reader.head(&gone, None).unwrap_err();
    assert_eq!(error.code, Code::SourceNotFound, "{}", error.message);
    assert!(error.message.contains("release"), "{}", error.message);
    let nowhere = GitSource {
        url: "http://127.0.0.1:9/none.git".into(),
        ..source.clone()
    };
    let error = reader.head(&nowhere, None).unwrap_err();
    assert_eq!(error.code, Code::SourceUnreachable, "{}", error.message);
}

#[test]
fn tags_and_kustomizations() {
    let root = tempfile::tempdir().unwrap();
    let (url, work) = origin(root.path());
    git(&work, &["tag", "-a", "v1", "-m", "one"]);
    git(&work, &["push", "-q", "origin", "v1"]);
    let reader = GitReader::new(root.path().join("cache"), None);
    let tagged = GitSource {
        url: url.clone(),
        reference: "v1".into(),
        path: "deploy".into(),
    };
    let head = reader.fetch(&tagged, None).unwrap();
    assert_eq!(
        head.commit,
        git(&work, &["rev-parse", "HEAD"]),
        "an annotated tag is peeled"
    );

    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: kustomization part: kubectl is not installed");
        return;
    }
    std::fs::create_dir_all(work.join("base")).unwrap();
    std::fs::write(work.join("base/cm.yaml"), config_map("base", "1")).unwrap();
    std::fs::write(
        work.join("base/kustomization.yaml"),
        "resources:\n- cm.yaml\n",
    )
    .unwrap();
    std::fs::create_dir_all(work.join("overlay")).unwrap();
    std::fs::write(
        work.join("overlay/kustomization.yaml"),
        "resources:\n- ../base\nnamePrefix: prod-\n",
    )
    .unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "kustomize"]);
    git(&work, &["push", "-q", "origin", "main"]);
    let overlay = GitSource {
        url,
        reference: "main".into(),
        path: "overlay".into(),
    };
    let head = reader.fetch(&overlay, None).unwrap();
    assert_eq!(head.commit, git(&work, &["rev-parse", "HEAD"]));
    let rendered = reader.read(&overlay, &head.commit).unwrap();
    assert!(
        rendered.manifests.contains("name: prod-base"),
        "{}",
        rendered.manifests
    );
}
