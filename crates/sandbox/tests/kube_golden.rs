//! The differential suite: the kube-golden corpus (answers of a real kube-apiserver v1.36)
//! replayed against the sandbox.
//!
//! Every case must match, except the ones the sandbox's module docs list under "Where the
//! sandbox differs from kube-apiserver", each with its reason. A listed case that starts to
//! match fails the test too, so the list stays true.
//!
//! `TRIPLINE_GOLDEN_CORPUS=DIR` replays another copy of the corpus (the default is
//! `tests/fixtures/kube-golden`). `TRIPLINE_GOLDEN_SERVER=URL` replays it against another
//! API server instead of a fresh sandbox (a real cluster through `kubectl proxy`, say): the
//! test then reports every difference and asserts nothing, and the namespaces `kg-*` must not
//! exist there yet.

mod golden;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tripline_sandbox::{Sandbox, SandboxConfig};

/// The cases the sandbox's module docs list as differing on purpose or not yet matched.
fn listed_differences() -> BTreeSet<String> {
    let docs = include_str!("../src/lib.rs");
    let mut in_section = false;
    let mut listed = BTreeSet::new();
    for line in docs.lines() {
        let Some(text) = line.strip_prefix("//!") else {
            break;
        };
        let text = text.trim();
        if text.starts_with("## ") {
            in_section = text == "## Where the sandbox differs from kube-apiserver";
            continue;
        }
        if in_section && let Some(rest) = text.strip_prefix("- ") {
            // `- 049, 050: why` or `- 049: why`
            let ids = rest.split(':').next().unwrap_or_default();
            for id in ids.split(',') {
                let id = id.trim().trim_matches('`');
                if id.len() == 3 && id.bytes().all(|b| b.is_ascii_digit()) {
                    listed.insert(id.to_owned());
                }
            }
        }
    }
    listed
}

fn corpus() -> PathBuf {
    std::env::var_os("TRIPLINE_GOLDEN_CORPUS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kube-golden"),
        PathBuf::from,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_kube_golden_corpus_replays_against_the_sandbox() {
    let cases = golden::load(&corpus());
    assert!(
        cases.len() >= 100,
        "only {} cases in {}",
        cases.len(),
        corpus().display()
    );
    let other_server = std::env::var("TRIPLINE_GOLDEN_SERVER").ok();
    let sandbox = match other_server {
        Some(_) => None,
        None => Some(
            Sandbox::start(SandboxConfig {
                rollout_delay: Duration::from_millis(200),
                // Case 131 waits for a compaction: the real server's is every 5 minutes.
                compaction_interval: Duration::from_secs(2),
                ..SandboxConfig::default()
            })
            .await
            .expect("start the sandbox"),
        ),
    };
    let url = other_server
        .clone()
        .unwrap_or_else(|| sandbox.as_ref().expect("sandbox").url());
    let replayer = std::sync::Arc::new(golden::Replayer::new(&url));

    let started = Instant::now();
    // Discovery cases were recorded before any CRD existed: they run first. Rollout
    // timelines only wait on their own namespace's workload, so they run beside the rest.
    let (timelines, rest): (Vec<_>, Vec<_>) = cases
        .iter()
        .partition(|case| case.id.as_str() > "010" && case.description.starts_with("timeline"));
    let mut outcomes = Vec::new();
    let mut background = Vec::new();
    let mut timelines_started = false;
    for case in &rest {
        if !timelines_started && case.id.as_str() > "010" {
            timelines_started = true;
            for timeline in &timelines {
                let replayer = replayer.clone();
                let case = (*timeline).clone();
                background.push(tokio::spawn(async move { replayer.run(&case).await }));
            }
        }
        outcomes.push(replayer.run(case).await);
    }
    for task in background {
        outcomes.push(task.await.expect("timeline case"));
    }
    outcomes.sort_by(|a, b| a.id.cmp(&b.id));

    let listed = listed_differences();
    let mut report = String::new();
    let mut unexpected = Vec::new();
    let mut now_matching = Vec::new();
    for outcome in &outcomes {
        let matched = outcome.differences.is_empty();
        let is_listed = listed.contains(&outcome.id);
        report.push_str(&format!(
            "{} {} ({} ms){}\n",
            outcome.id,
            if matched { "matches" } else { "differs" },
            outcome.took.as_millis(),
            if is_listed { " [listed]" } else { "" }
        ));
        for difference in outcome.differences.iter().take(40) {
            report.push_str(&format!("    {difference}\n"));
        }
        if outcome.differences.len() > 40 {
            report.push_str(&format!(
                "    … and {} more\n",
                outcome.differences.len() - 40
            ));
        }
        match (matched, is_listed) {
            (false, false) => unexpected.push(outcome.id.clone()),
            (true, true) => now_matching.push(outcome.id.clone()),
            _ => {}
        }
    }
    let matched = outcomes.iter().filter(|o| o.differences.is_empty()).count();
    eprintln!(
        "{report}\n{matched} of {} cases match ({} listed as differing), in {:.1} s",
        outcomes.len(),
        listed.len(),
        started.elapsed().as_secs_f64()
    );
    if other_server.is_some() {
        return;
    }
    assert!(
        unexpected.is_empty() && now_matching.is_empty(),
        "cases that differ but are not listed in the sandbox's module docs: {unexpected:?}; \
         listed cases that now match (take them off the list): {now_matching:?}"
    );
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
}
