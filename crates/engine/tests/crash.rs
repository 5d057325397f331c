//! Nothing is lost or half-written when the process dies mid-write.
//!
//! The test re-runs its own binary as a child that writes versions and applications in a
//! loop, kills it with SIGKILL at varying moments, and after each kill opens the database and
//! checks that every version is whole: SQLite's integrity check passes, version numbers have
//! no gaps, each content matches its hash and parses, and every application row is readable.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tripline_engine::store::{Origin, Store};
use tripline_engine::template::Manifest;

const CHILD_DIR: &str = "TRIPLINE_CRASH_CHILD_DIR";

fn big_template(round: usize) -> String {
    // ~250 KB: enough that a write spans many pages and takes a while.
    let mut text = String::new();
    for i in 0..200 {
        text.push_str(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  round: \"{round}\"\n  payload: \"{}\"\n---\n",
            "x".repeat(1200)
        ));
    }
    text
}

/// Not a test on its own: the writer the crash test runs (and kills) in a child process.
/// Without the environment variable it returns at once.
#[test]
fn child_process_writer() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let mut store = Store::open_dir(std::path::Path::new(&dir)).expect("open");
    if store.versions("load").is_err() {
        store
            .create_template("load", &big_template(0), "")
            .expect("create");
    }
    let start = store.versions("load").expect("versions").len();
    for round in start.. {
        store
            .save_version(
                "load",
                &big_template(round),
                Origin::Edit,
                &format!("round {round}"),
            )
            .expect("save");
        if round % 5 == 0 {
            let app = tripline_engine::app::NewApplication {
                name: format!("app-{round}"),
                cluster: tripline_engine::app::ClusterRef::Sandbox,
                namespace: "default".into(),
                source: tripline_engine::app::Source::Template {
                    template: "load".into(),
                    pin: tripline_engine::app::Pin::Latest,
                },
                prune: false,
            };
            store.create_app(&app).expect("app");
        }
    }
}

fn check(dir: &std::path::Path) -> usize {
    let store = Store::open_dir(dir).expect("database opens after a crash");
    store.check_integrity().expect("integrity");
    let versions = match store.versions("load") {
        Ok(v) => v,
        Err(tripline_engine::store::Error::TemplateNotFound(_)) => return 0,
        Err(e) => panic!("{e}"),
    };
    for (i, summary) in versions.iter().enumerate() {
        assert_eq!(summary.number as usize, i + 1, "gap in version numbers");
        // `version` verifies the content against its hash.
        let version = store
            .version("load", Some(summary.number))
            .expect("whole version");
        // Parsing is slow in a debug build: the hash check covers older versions.
        if i + 3 >= versions.len() {
            let manifest = Manifest::parse(&version.content).expect("content parses");
            assert_eq!(manifest.documents().len(), 200);
        }
    }
    for app in store.apps().expect("apps readable") {
        assert_eq!(app.source.template(), Some("load"));
    }
    versions.len()
}

#[test]
fn killed_writers_leave_only_whole_versions() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut versions = 0;
    let started = Instant::now();
    for round in 0..20u64 {
        let mut child = Command::new(&exe)
            .args([
                "child_process_writer",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("child starts");
        // Vary the moment of the kill so it lands in different phases of a write.
        std::thread::sleep(Duration::from_millis(60 + (round * 37) % 250));
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        let now = check(dir.path());
        assert!(now >= versions, "versions disappeared: {versions} -> {now}");
        versions = now;
    }
    assert!(
        versions >= 20,
        "the writer made only {versions} versions in {:?}",
        started.elapsed()
    );
}
