//! The workspace's crates and who may depend on whom, read from `cargo metadata`.
//!
//! ```text
//! tripline-strategic-merge   tripline-validation    leaves: no Tripline crate
//!                  \               /
//!                  tripline-sandbox                 the API server: the two leaves only
//!                         |
//!                  tripline-engine                  the domain and its façade
//!                   /            \
//!          tripline (CLI)    tripline-desktop       front ends: the engine only
//!
//! tripline-testbed                                  test servers: a leaf, dev-dependency only
//! ```
//!
//! `tripline-testbed` starts real Git, chart repository and registry servers for tests. Any
//! crate may take it as a dev-dependency (those edges are not drawn); none may build it into
//! its library or a program.
//!
//! Each crate builds on the ones below it and never reaches up (as kube-rs's `kube-core` ←
//! `kube-client` ← `kube-runtime` do), so the sandbox can be read and tested without the
//! engine, and the engine without a front end. Every dependency between workspace crates
//! (normal, dev and build) must be one of the edges drawn here, and `clap`, the command
//! line's argument parser, must stay out of the engine's and the desktop app's builds.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Every package of the workspace, with the workspace packages it depends on.
const EDGES: &[(&str, &[&str])] = &[
    ("tripline-strategic-merge", &[]),
    ("tripline-validation", &[]),
    (
        "tripline-sandbox",
        &["tripline-strategic-merge", "tripline-validation"],
    ),
    (
        "tripline-engine",
        &[
            "tripline-sandbox",
            "tripline-strategic-merge",
            "tripline-validation",
        ],
    ),
    ("tripline", &["tripline-engine"]),
    ("tripline-desktop", &["tripline-engine"]),
    ("hello-tauri", &[]),
    ("tripline-testbed", &[]),
];

/// The crate every other crate may take as a dev-dependency, and only as one.
const TESTBED: &str = "tripline-testbed";

/// `cargo metadata` of this workspace, with `args` added.
fn metadata(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

#[test]
fn workspace_crates_depend_only_on_the_crates_below_them() {
    let metadata = metadata(&["--no-deps"]);
    let packages = metadata["packages"].as_array().expect("packages");
    let members: BTreeSet<&str> = packages.iter().map(|p| text(&p["name"])).collect();
    let actual: BTreeMap<&str, BTreeSet<&str>> = packages
        .iter()
        .map(|package| {
            let internal = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|dependency| {
                    let testbed = text(&dependency["name"]) == TESTBED;
                    let dev = text(&dependency["kind"]) == "dev";
                    assert!(
                        !testbed || dev,
                        "{} depends on {TESTBED} outside its tests: the testbed is a \
                         dev-dependency only",
                        text(&package["name"])
                    );
                    !(testbed && dev)
                })
                .map(|dependency| text(&dependency["name"]))
                .filter(|name| members.contains(name))
                .collect();
            (text(&package["name"]), internal)
        })
        .collect();
    let expected: BTreeMap<&str, BTreeSet<&str>> = EDGES
        .iter()
        .map(|(name, dependencies)| (*name, dependencies.iter().copied().collect()))
        .collect();
    assert_eq!(
        actual, expected,
        "the workspace's crates or their dependencies on each other changed: update the \
         graph in this test's documentation and EDGES only if the change is meant"
    );
}

/// Every package in the normal (not dev, not build) dependency tree of `root`.
fn normal_tree<'a>(metadata: &'a Value, root: &str) -> BTreeSet<&'a str> {
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (text(&p["id"]), text(&p["name"])))
        .collect();
    let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("a resolved graph")
        .iter()
        .map(|node| (text(&node["id"]), node))
        .collect();
    let start = names
        .iter()
        .find(|(_, name)| **name == root)
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("no package {root}"));
    let mut seen = BTreeSet::from([start]);
    let mut queue = vec![start];
    while let Some(id) = queue.pop() {
        for dependency in nodes[id]["deps"].as_array().expect("deps") {
            let normal = dependency["dep_kinds"]
                .as_array()
                .expect("dep_kinds")
                .iter()
                .any(|kind| kind["kind"].is_null());
            let id = text(&dependency["pkg"]);
            if normal && seen.insert(id) {
                queue.push(id);
            }
        }
    }
    seen.iter().map(|id| names[id]).collect()
}

#[test]
fn clap_is_built_for_the_command_line_only() {
    // This machine's platform only: the others' dependencies need not be downloaded.
    let host = Command::new("rustc")
        .args(["--print", "host-tuple"])
        .output()
        .expect("rustc runs");
    let host = String::from_utf8(host.stdout).expect("a target name");
    let metadata = metadata(&["--filter-platform", host.trim()]);
    let is_clap = |name: &&str| *name == "clap" || name.starts_with("clap_");
    assert!(
        normal_tree(&metadata, "tripline").iter().any(is_clap),
        "the command line parses its arguments with clap"
    );
    for package in ["tripline-engine", "tripline-desktop"] {
        let claps: Vec<&str> = normal_tree(&metadata, package)
            .into_iter()
            .filter(is_clap)
            .collect();
        assert!(
            claps.is_empty(),
            "{package} builds {claps:?}: argument parsing belongs to the `tripline` crate"
        );
    }
}
