use super::*;
use crate::app::{ClusterRef, NewApplication, Pin, Source};
use crate::patch::{Patch, PatchType};

const SEED: &str = include_str!("../../tests/fixtures/templates/seed-demo.yaml");
const SEED_PATCH: &str = include_str!("../../tests/fixtures/templates/seed-demo-patch.json");

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path()).unwrap();
    (dir, store)
}

fn seed_patch(body: &str) -> Patch {
    Patch::parse(PatchType::Resource, body.as_bytes(), None).unwrap()
}

fn app(name: &str, template: &str) -> NewApplication {
    NewApplication {
        name: name.into(),
        cluster: ClusterRef::Sandbox,
        namespace: "default".into(),
        source: Source::Template {
            template: template.into(),
            pin: Pin::Latest,
        },
        prune: false,
    }
}

#[test]
fn versions_are_numbered_and_identical_content_makes_none() {
    let (_dir, mut store) = store();
    let v1 = store.create_template("demo", SEED, "").unwrap();
    assert_eq!((v1.number, v1.origin, v1.resources), (1, Origin::Import, 1));
    assert_eq!(v1.message, "created");

    let same = store
        .save_version("demo", SEED, Origin::Edit, "again")
        .unwrap();
    assert!(matches!(same, SaveOutcome::Unchanged { ref version } if version.number == 1));

    let edited = SEED.replace("minReadySeconds: 5", "minReadySeconds: 10");
    let v2 = store
        .save_version("demo", &edited, Origin::Edit, "slower")
        .unwrap();
    assert_eq!(v2.version().number, 2);
    assert_eq!(store.version("demo", None).unwrap().content, edited);
    assert_eq!(store.version("demo", Some(1)).unwrap().content, SEED);
    let numbers: Vec<u32> = store
        .versions("demo")
        .unwrap()
        .iter()
        .map(|v| v.number)
        .collect();
    assert_eq!(numbers, [1, 2]);
}

#[test]
fn patch_makes_a_version_that_records_the_patch() {
    let (_dir, mut store) = store();
    store.create_template("demo", SEED, "").unwrap();
    let outcome = store
        .patch_template("demo", &seed_patch(SEED_PATCH), Origin::Patch, "")
        .unwrap();
    let SaveOutcome::Created { version, changed } = outcome else {
        panic!("no version made");
    };
    assert_eq!((version.number, version.origin), (2, Origin::Patch));
    assert_eq!(version.message, "patched Deployment/demo");
    assert_eq!(changed[0].name, "demo");
    let stored = store.version("demo", Some(2)).unwrap();
    assert!(stored.content.contains("rollouts-demo:red"));
    assert_eq!(
        stored.patch.unwrap()["resource"]["deployment"]["metadata"]["name"],
        "demo"
    );

    // The same patch again changes nothing and makes no version.
    let again = store
        .patch_template("demo", &seed_patch(SEED_PATCH), Origin::Patch, "")
        .unwrap();
    assert!(matches!(again, SaveOutcome::Unchanged { .. }));
    assert_eq!(store.versions("demo").unwrap().len(), 2);
}

#[test]
fn a_failing_patch_leaves_the_database_unchanged() {
    let (_dir, mut store) = store();
    store.create_template("demo", SEED, "").unwrap();
    for body in [
        r#"{"resource":{"deployment":{"metadata":{"name":"missing"}}}}"#,
        r#"{"resource":{"service":{"metadata":{"name":"demo"}}}}"#,
        r#"{"resource":{"deployment":{"metadata":{"name":"demo"},"apiVersion":null}}}"#,
        r#"{"resource":{"deployment":{"metadata":{"name":"demo"},"spec":{"replicas":"x"}}}}"#,
    ] {
        assert!(
            store
                .patch_template("demo", &seed_patch(body), Origin::Patch, "")
                .is_err(),
            "{body}"
        );
    }
    assert_eq!(store.versions("demo").unwrap().len(), 1);
    assert_eq!(store.version("demo", None).unwrap().content, SEED);
}

#[test]
fn rollback_copies_an_old_version() {
    let (_dir, mut store) = store();
    store.create_template("demo", SEED, "").unwrap();
    store
        .patch_template("demo", &seed_patch(SEED_PATCH), Origin::Patch, "")
        .unwrap();
    let rollback = store.rollback("demo", 1, "").unwrap();
    let version = rollback.version();
    assert_eq!(
        (version.number, version.origin, version.based_on),
        (3, Origin::Rollback, Some(1))
    );
    assert_eq!(version.message, "rolled back to version 1");
    assert_eq!(store.version("demo", Some(3)).unwrap().content, SEED);
    // Rolling back to what is already current makes nothing.
    assert!(matches!(
        store.rollback("demo", 1, "").unwrap(),
        SaveOutcome::Unchanged { .. }
    ));
    let error = store.rollback("demo", 9, "").unwrap_err().to_string();
    assert_eq!(
        error,
        "template \"demo\" has no version 9 (its versions are 1 to 3)"
    );
}

#[test]
fn invalid_content_and_names_are_refused_without_writing() {
    let (_dir, mut store) = store();
    assert!(matches!(
        store.create_template("demo", "kind: [", ""),
        Err(Error::Template(_))
    ));
    assert!(matches!(
        store.create_template("Demo", SEED, ""),
        Err(Error::Invalid(_))
    ));
    assert!(store.templates().unwrap().is_empty());
    store.create_template("demo", SEED, "").unwrap();
    assert!(matches!(
        store.create_template("demo", SEED, ""),
        Err(Error::TemplateExists(_))
    ));
    assert!(matches!(
        store.save_version("demo", "- a\n", Origin::Edit, ""),
        Err(Error::Template(_))
    ));
    assert!(matches!(
        store.save_version("nope", SEED, Origin::Edit, ""),
        Err(Error::TemplateNotFound(_))
    ));
    assert_eq!(store.versions("demo").unwrap().len(), 1);
}

#[test]
fn templates_used_by_apps_cannot_be_deleted() {
    let (_dir, mut store) = store();
    store.create_template("demo", SEED, "").unwrap();
    store.create_app(&app("shop", "demo")).unwrap();
    store.create_app(&app("blog", "demo")).unwrap();
    let error = store.delete_template("demo").unwrap_err().to_string();
    assert_eq!(
        error,
        "template \"demo\" is used by applications \"blog\", \"shop\": delete or change them first"
    );
    assert_eq!(store.templates().unwrap()[0].apps, ["blog", "shop"]);
    store.delete_app("blog").unwrap();
    store.delete_app("shop").unwrap();
    store.delete_template("demo").unwrap();
    assert!(matches!(
        store.versions("demo"),
        Err(Error::TemplateNotFound(_))
    ));
    let leftovers: i64 = store
        .conn
        .query_row("SELECT count(*) FROM template_contents", [], |r| r.get(0))
        .unwrap();
    assert_eq!(leftovers, 0);
}

#[test]
fn apps_need_an_existing_template_and_a_unique_valid_name() {
    let (_dir, mut store) = store();
    assert!(matches!(
        store.create_app(&app("shop", "demo")),
        Err(Error::TemplateNotFound(_))
    ));
    store.create_template("demo", SEED, "").unwrap();
    let created = store.create_app(&app("shop", "demo")).unwrap();
    assert_eq!(store.app("shop").unwrap(), created);
    assert!(matches!(
        store.create_app(&app("shop", "demo")),
        Err(Error::AppExists(_))
    ));
    assert!(matches!(
        store.create_app(&app("Shop!", "demo")),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(store.app("nope"), Err(Error::AppNotFound(_))));
    assert!(matches!(
        store.delete_app("nope"),
        Err(Error::AppNotFound(_))
    ));
    assert_eq!(store.apps().unwrap().len(), 1);
}

#[test]
fn versions_cannot_be_updated() {
    let (_dir, mut store) = store();
    store.create_template("demo", SEED, "").unwrap();
    for sql in [
        "UPDATE template_versions SET message = 'rewritten'",
        "UPDATE template_contents SET content = 'x'",
    ] {
        let error = store.conn.execute(sql, []).unwrap_err().to_string();
        assert!(error.contains("immutable"), "{error}");
    }
}

#[test]
fn damaged_content_is_detected_on_read() {
    let (_dir, mut store) = store();
    store.create_template("demo", SEED, "").unwrap();
    store
        .conn
        .execute_batch(
            "DROP TRIGGER template_contents_immutable;
             UPDATE template_contents SET content = content || '# tampered';",
        )
        .unwrap();
    let error = store.version("demo", None).unwrap_err();
    assert!(matches!(error, Error::Corrupt(_)), "{error}");
    assert!(
        store
            .patch_template("demo", &seed_patch(SEED_PATCH), Origin::Patch, "")
            .is_err()
    );
}

#[test]
fn a_newer_database_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_dir(dir.path()).unwrap();
        assert_eq!(store.info().unwrap().schema_version, migrations::LATEST);
        store.conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let error = Store::open_dir(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("written by a newer Tripline (schema version 99"),
        "{error}"
    );
}

#[test]
fn reopening_keeps_everything_and_does_not_migrate_again() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open_dir(dir.path()).unwrap();
        store.create_template("demo", SEED, "").unwrap();
    }
    let store = Store::open_dir(dir.path()).unwrap();
    assert_eq!(store.versions("demo").unwrap().len(), 1);
    store.check_integrity().unwrap();
}

#[test]
fn two_writers_never_build_on_the_same_version() {
    let dir = tempfile::tempdir().unwrap();
    Store::open_dir(dir.path())
        .unwrap()
        .create_template("demo", SEED, "")
        .unwrap();
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let mut store = Store::open_dir(&path).unwrap();
                for i in 0..10 {
                    let body = SEED_PATCH.replace(":red", &format!(":w{writer}-{i}"));
                    store
                        .patch_template("demo", &seed_patch(&body), Origin::Patch, "")
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let store = Store::open_dir(dir.path()).unwrap();
    let versions = store.versions("demo").unwrap();
    assert_eq!(versions.len(), 21);
    // Every patched version differs from its predecessor in exactly the image.
    for pair in versions.windows(2) {
        let before = store.version("demo", Some(pair[0].number)).unwrap().content;
        let after = store.version("demo", Some(pair[1].number)).unwrap().content;
        let diff = crate::diff::diff_texts(&before, &after).unwrap();
        assert_eq!(diff.summary.changed, 1);
        assert_eq!(diff.resources[0].changes.len(), 1);
    }
}

fn user() -> Cause {
    Cause::User { via: "test".into() }
}

#[test]
fn newest_queued_release_carries_the_others_work_and_they_stay_on_record() {
    let (_dir, mut store) = store();
    store.create_template("demo", SEED, "").unwrap();
    store.create_app(&app("shop", "demo")).unwrap();
    let options = crate::release::Options::default();
    let first = store.queue_release("shop", &user(), &options).unwrap();
    let second = store.queue_release("shop", &user(), &options).unwrap();
    let third = store
        .queue_release(
            "shop",
            &Cause::Rollback {
                to: 1,
                via: "test".into(),
            },
            &options,
        )
        .unwrap();
    assert_eq!((first.number, second.number, third.number), (1, 2, 3));
    assert_eq!(first.status, ReleaseStatus::Queued);

    let claimed = store
        .claim_release("shop")
        .unwrap()
        .expect("something to claim");
    assert_eq!(
        (claimed.id, claimed.status),
        (third.id, ReleaseStatus::Running)
    );
    assert!(claimed.started_at.is_some());
    let work = claimed
        .work
        .clone()
        .expect("a claimed release holds its work");
    assert_eq!(work.carries, [first.id, second.id]);
    assert!(work.deploy);
    for older in [first.id, second.id] {
        let release = store.release(older).unwrap();
        assert_eq!(release.status, ReleaseStatus::Superseded);
        assert_eq!(release.carried_by, Some(third.id));
        assert!(
            release.message.contains("carried out by release 3"),
            "{}",
            release.message
        );
    }
    assert!(store.claim_release("shop").unwrap().is_none());

    store.plan_release(claimed.id, 1, None).unwrap();
    let applied = vec![
        crate::template::Manifest::parse(SEED).unwrap().documents()[0]
            .id
            .clone(),
    ];
    let finished = store
        .finish_release(
            claimed.id,
            &Finish {
                status: ReleaseStatus::Succeeded,
                message: "deployed",
                reason: None,
                resources: &[],
                applied: &applied,
                version: None,
            },
        )
        .unwrap();
    assert_eq!(
        (finished.status, finished.template_version),
        (ReleaseStatus::Succeeded, Some(1))
    );
    assert_eq!(store.last_success("shop").unwrap(), Some((1, applied)));
    let listed: Vec<u32> = store
        .releases("shop", 10)
        .unwrap()
        .iter()
        .map(|r| r.number)
        .collect();
    assert_eq!(listed, [3, 2, 1]);
}

#[test]
fn releases_of_a_dead_process_are_queued_again_for_the_next_one() {
    let (_dir, mut store) = store();
    store.create_template("demo", SEED, "").unwrap();
    store.create_app(&app("shop", "demo")).unwrap();
    let options = crate::release::Options::default();
    let queued = store.queue_release("shop", &user(), &options).unwrap();
    let running = store.queue_release("shop", &user(), &options).unwrap();
    // Our own process is alive: nothing is taken over.
    assert!(store.adopt_orphans().unwrap().is_empty());
    // Pretend a process that no longer exists queued one and was running the other.
    store
        .conn
        .execute("UPDATE releases SET owner = 4294967294", [])
        .unwrap();
    store
        .conn
        .execute(
            "UPDATE releases SET status = 'running' WHERE id = ?1",
            [running.id],
        )
        .unwrap();
    // Another process's queue is not claimed.
    assert!(store.claim_release("shop").unwrap().is_none());
    assert_eq!(store.adopt_orphans().unwrap(), ["shop"]);
    for id in [queued.id, running.id] {
        let release = store.release(id).unwrap();
        assert_eq!(release.status, ReleaseStatus::Queued, "{}", release.message);
        assert!(
            release.message.starts_with("resumed"),
            "{}",
            release.message
        );
    }
    let claimed = store.claim_release("shop").unwrap().unwrap();
    assert_eq!(claimed.id, running.id);
    assert_eq!(claimed.work.unwrap().carries, [queued.id]);
    // A stopping process leaves its running release queued for the next start.
    store.requeue_release(running.id).unwrap();
    assert_eq!(
        store.release(running.id).unwrap().status,
        ReleaseStatus::Queued
    );
}

#[test]
fn a_call_and_its_release_are_written_together_and_linked() {
    let (_dir, mut store) = store();
    store.create_template("demo", SEED, "").unwrap();
    store.create_app(&app("shop", "demo")).unwrap();
    let trigger = store
        .create_trigger(
            &super::NewTrigger {
                name: "shop-redeploy".into(),
                app: "shop".into(),
                kind: crate::trigger::TriggerKind::Redeploy,
                signed: false,
            },
            &"ab".repeat(32),
            "ab12",
        )
        .unwrap();
    let record = super::AccessRecord {
        id: 0,
        trigger: Some("shop-redeploy".into()),
        at: "2026-01-01T00:00:00Z".into(),
        source: "127.0.0.1".into(),
        method: "POST".into(),
        path: "/hook/trigger?token=[redacted]".into(),
        headers: vec![],
        body: String::new(),
        body_truncated: false,
        event: None,
        decision: Decision::Triggered,
        reason: "triggered: release queued".into(),
        status: 202,
        response: String::new(),
        release: None,
        repeats: 1,
        last_at: None,
    };
    let (record_id, release) = store
        .record_and_queue(
            trigger.id,
            &record,
            "shop",
            "shop-redeploy",
            None,
            &crate::release::Options::default(),
        )
        .unwrap();
    assert_eq!(
        store.access_record(record_id).unwrap().release,
        Some(release.id)
    );
    assert_eq!(
        release.cause,
        Cause::Trigger {
            trigger: "shop-redeploy".into(),
            record: Some(record_id),
            event: None,
        }
    );
    // An unknown application writes neither.
    let before = store.access_records(&Default::default()).unwrap().len();
    assert!(
        store
            .record_and_queue(
                trigger.id,
                &record,
                "nope",
                "shop-redeploy",
                None,
                &Default::default()
            )
            .is_err()
    );
    assert_eq!(
        store.access_records(&Default::default()).unwrap().len(),
        before
    );
}

#[test]
fn merged_work_keeps_every_step_in_order_within_each_bound() {
    use crate::release::{Direction, Options, ScaleRequest};
    use crate::store::Work;
    let step = |direction, step, min, max| Options {
        scale: Some(ScaleRequest {
            kind: "Deployment".into(),
            name: "web".into(),
            direction,
            step,
            min,
            max,
        }),
        ..Options::default()
    };
    let out = |n| step(Direction::ScaleOut, n, None, Some(6));
    let inn = |n| step(Direction::ScaleIn, n, Some(1), None);
    // (requests, live count, expected count, deploys)
    let cases: Vec<(Vec<Options>, u32, u32, bool)> = vec![
        (vec![out(1), out(1), out(1)], 1, 4, false),
        (vec![out(4), inn(1), out(3)], 1, 6, false),
        (vec![inn(5), out(2)], 2, 3, false),
        (vec![Options::default(), out(2)], 1, 3, true),
        (vec![out(2), Options::default()], 1, 3, true),
    ];
    for (requests, live, expected, deploys) in cases {
        let work = requests
            .iter()
            .map(Work::of)
            .fold(Work::default(), Work::then);
        assert_eq!(work.deploy, deploys, "{requests:?}");
        assert_eq!(
            work.target("Deployment", "web", live),
            expected,
            "{requests:?}"
        );
        assert_eq!(work.target("Deployment", "other", live), live);
    }
    // A decided count holds the steps before it; steps after it still apply.
    let mut resumed = Work::of(&out(2));
    resumed.decide("Deployment", "web", 3);
    let merged = Work::of(&out(1)).then(resumed).then(Work::of(&out(1)));
    assert_eq!(merged.target("Deployment", "web", 9), 4);
    assert_eq!(
        merged.workloads(),
        [("Deployment".to_owned(), "web".to_owned())]
    );
}

/// What a merged release deploys is the newest deploy request's: a commit of a write-back
/// branch, or (a redeploy after it) the tracked reference again. A scale between them changes
/// neither.
#[test]
fn merged_work_deploys_what_the_newest_deploy_request_names() {
    use crate::release::{BranchCommit, Direction, Options, ScaleRequest};
    use crate::store::Work;
    let pinned = |commit: &str| Options {
        branch_commit: Some(BranchCommit {
            branch: "tripline/images".into(),
            commit: commit.into(),
        }),
        ..Options::default()
    };
    let scale = Options {
        scale: Some(ScaleRequest {
            kind: "Deployment".into(),
            name: "web".into(),
            direction: Direction::ScaleOut,
            step: 1,
            min: None,
            max: None,
        }),
        ..Options::default()
    };
    let redeploy = Options::default();
    let (a, b) = (pinned("a"), pinned("b"));
    let cases: Vec<(Vec<&Options>, Option<&str>)> = vec![
        (vec![&a], Some("a")),
        (vec![&a, &b], Some("b")),
        (vec![&a, &scale], Some("a")),
        (vec![&a, &redeploy], None),
        (vec![&redeploy, &a, &scale], Some("a")),
        (vec![&scale], None),
    ];
    for (requests, expected) in cases {
        let work = requests
            .iter()
            .map(|options| Work::of(options))
            .fold(Work::default(), Work::then);
        assert_eq!(
            work.branch_commit.as_ref().map(|b| b.commit.as_str()),
            expected,
            "{requests:?}"
        );
        // Stored and read back (a resumed release), it names the same commit.
        let text = serde_json::to_string(&work).unwrap();
        assert_eq!(serde_json::from_str::<Work>(&text).unwrap(), work);
    }
}

#[test]
fn releases_need_an_existing_app_and_go_with_it() {
    let (_dir, mut store) = store();
    let options = crate::release::Options::default();
    assert!(matches!(
        store.queue_release("nope", &user(), &options),
        Err(Error::AppNotFound(_))
    ));
    store.create_template("demo", SEED, "").unwrap();
    store.create_app(&app("shop", "demo")).unwrap();
    let release = store.queue_release("shop", &user(), &options).unwrap();
    store.delete_app("shop").unwrap();
    assert!(store.release(release.id).is_err());
}

#[test]
fn access_records_go_when_they_are_both_old_and_beyond_the_newest_kept() {
    let (_dir, mut store) = store();
    let now = jiff::Timestamp::now();
    let days_ago = |days: i64| {
        now.checked_sub(jiff::SignedDuration::from_hours(24 * days))
            .unwrap()
            .to_string()
    };
    let record = |n: usize| rejected_record(days_ago(150 - n as i64), format!("call {n}"));
    // Call n was made 150 - n days ago: 0 is the oldest, 149 yesterday.
    let writes: Vec<_> = (0..150)
        .map(|n| crate::store::RecordWrite {
            trigger_id: None,
            record: record(n),
            fold_into: None,
        })
        .collect();
    store.record_accesses(&writes).unwrap();
    let kept = |store: &Store| {
        store
            .access_records(&RecordFilter {
                limit: 1000,
                ..RecordFilter::default()
            })
            .unwrap()
    };
    assert_eq!(kept(&store).len(), 150, "writing trims nothing");
    // (days, per trigger, how many are kept, the oldest kept)
    let cases = [
        // Nothing is both older than 200 days and beyond the newest 100.
        (200, 100, 150, "call 0"),
        // The newest 100 (up to 100 days old) are kept; the 50 older ones go.
        (90, 100, 100, "call 50"),
        // Only 10 by count, but everything younger than 90 days stays.
        (90, 10, 90, "call 60"),
        // A long limit by count keeps everything however old.
        (1, 1_000, 90, "call 60"),
    ];
    for (days, per_trigger, count, oldest) in cases {
        let retention = crate::store::Retention { days, per_trigger };
        store.prune_records(&retention, now).unwrap();
        let kept = kept(&store);
        assert_eq!(kept.len(), count, "{retention}");
        assert_eq!(kept.last().unwrap().reason, oldest, "{retention}");
        assert_eq!(kept[0].reason, "call 149", "the newest are kept");
    }
    assert!(store.size() > 0);
    assert_eq!(store.record_count().unwrap(), 90);
}

#[test]
fn record_summaries_are_the_records_without_their_payloads_under_the_same_filter() {
    let (_dir, mut store) = store();
    store.create_template("demo", SEED, "").unwrap();
    store.create_app(&app("shop", "demo")).unwrap();
    let trigger = store
        .create_trigger(
            &NewTrigger {
                name: "shop-redeploy".into(),
                app: "shop".into(),
                kind: crate::trigger::TriggerKind::Redeploy,
                signed: false,
            },
            "0".repeat(64).as_str(),
            "tl_0000",
        )
        .unwrap();
    let release = store
        .queue_release("shop", &user(), &crate::release::Options::default())
        .unwrap();
    let record = |n: usize, decision: Decision| crate::store::AccessRecord {
        id: 0,
        trigger: None,
        at: format!("2026-01-01T00:00:{n:02}Z"),
        source: "127.0.0.1".into(),
        method: "POST".into(),
        path: "/hook/registry?token=[redacted]".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: "x".repeat(64 * 1024),
        body_truncated: true,
        event: Some(serde_json::json!({"image": "nginx:1"})),
        decision,
        reason: format!("call {n}"),
        status: if decision == Decision::Rejected {
            404
        } else {
            200
        },
        response: "{\"status\":\"untriggered\"}".into(),
        release: None,
        repeats: 1 + n as u32 % 3,
        last_at: (!n.is_multiple_of(3)).then(|| format!("2026-01-01T00:01:{n:02}Z")),
    };
    // Every third call is the trigger's (and every sixth started the release); the rest
    // came with unknown tokens.
    for n in 0..30_usize {
        let decision = if n.is_multiple_of(2) {
            Decision::Rejected
        } else {
            Decision::Untriggered
        };
        let ours = n.is_multiple_of(3);
        let id = store
            .record_access(ours.then_some(trigger.id), &record(n, decision))
            .unwrap();
        if n.is_multiple_of(6) {
            store.link_access_release(id, release.id).unwrap();
        }
    }
    let filters = [
        RecordFilter {
            limit: 1000,
            ..RecordFilter::default()
        },
        RecordFilter {
            limit: 7,
            ..RecordFilter::default()
        },
        RecordFilter {
            decision: Some(Decision::Untriggered),
            limit: 5,
            ..RecordFilter::default()
        },
        RecordFilter {
            before: Some(10),
            limit: 4,
            ..RecordFilter::default()
        },
        RecordFilter {
            trigger: Some("shop-redeploy"),
            limit: 1000,
            ..RecordFilter::default()
        },
    ];
    for filter in &filters {
        let full = store.access_records(filter).unwrap();
        let slim = store.access_record_summaries(filter).unwrap();
        assert!(!slim.is_empty());
        let expected: Vec<crate::store::RecordSummary> = full
            .iter()
            .map(|r| crate::store::RecordSummary {
                id: r.id,
                trigger: r.trigger.clone(),
                at: r.at.clone(),
                source: r.source.clone(),
                method: r.method.clone(),
                path: r.path.clone(),
                decision: r.decision,
                reason: r.reason.clone(),
                status: r.status,
                release: r.release,
                repeats: r.repeats,
                last_at: r.last_at.clone(),
            })
            .collect();
        assert_eq!(slim, expected, "{:?} {:?}", filter.trigger, filter.decision);
    }
    let ours = store
        .access_record_summaries(&RecordFilter {
            trigger: Some("shop-redeploy"),
            limit: 1000,
            ..RecordFilter::default()
        })
        .unwrap();
    assert_eq!(ours.len(), 10, "the trigger's calls only");
    assert!(
        ours.iter()
            .all(|r| r.trigger.as_deref() == Some("shop-redeploy"))
    );
    assert_eq!(
        ours.iter()
            .filter(|r| r.release == Some(release.id))
            .count(),
        5,
        "the release the calls started"
    );
    let unknown = store.access_record_summaries(&RecordFilter {
        trigger: Some("nope"),
        limit: 10,
        ..RecordFilter::default()
    });
    assert!(
        unknown.is_err(),
        "an unknown trigger is an error, as for full records"
    );
}

// ----- Limits on what a version may hold, through every write path -----

use crate::patch::Target;
use crate::template::{Limit, MAX_ALIASES, MAX_DEPTH, MAX_NODES, Manifest};

/// A custom resource: its spec may nest as deep as anyone likes, so only the limits apply.
const WIDGET: &str =
    "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 1\n";

/// `{"a": {"a": … 1}}`, `levels` mappings deep.
fn nested(levels: usize) -> serde_json::Value {
    (0..levels).fold(
        serde_json::json!(1),
        |inner, _| serde_json::json!({ "a": inner }),
    )
}

/// A Widget whose `spec.deep` makes the document `depth` levels deep (the top mapping is 1,
/// `spec` 2).
fn widget_with(field: &str, value: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1, field: value},
    })
}

fn deep_value(depth: usize) -> serde_json::Value {
    nested(depth - 2)
}

fn many_nodes() -> serde_json::Value {
    serde_json::Value::Array(vec![serde_json::json!(0); MAX_NODES])
}

/// What a write path is asked to add at `spec.<field>`.
#[derive(Debug, Clone, Copy)]
enum Path {
    Create,
    Edit,
    ResourcePatch,
    StrategicPatch,
    MergePatch,
    JsonPatch,
    ImageUpdate,
    Scale,
}

const PATHS: [Path; 8] = [
    Path::Create,
    Path::Edit,
    Path::ResourcePatch,
    Path::StrategicPatch,
    Path::MergePatch,
    Path::JsonPatch,
    Path::ImageUpdate,
    Path::Scale,
];

fn target() -> Option<Target> {
    Some(Target {
        kind: "Widget".into(),
        name: "w".into(),
        ..Target::default()
    })
}

/// Writes a Widget with `spec.<field> = value` through `path`, on a template `t` that starts as
/// [`WIDGET`] (except for [`Path::Create`], which makes it).
fn write(store: &mut Store, path: Path, field: &str, value: serde_json::Value) -> Result<()> {
    let object = widget_with(field, value.clone());
    let addition = serde_json::json!({ "spec": { field: value.clone() } });
    let origin_of = |path| match path {
        Path::ImageUpdate => Origin::ImageUpdate,
        _ => Origin::Scale,
    };
    match path {
        Path::Create => store
            .create_template("t", &object.to_string(), "")
            .map(drop),
        Path::Edit => store
            .save_version("t", &object.to_string(), Origin::Edit, "")
            .map(drop),
        Path::ResourcePatch => {
            let body = serde_json::json!({"resource": {"Widget": {
                "metadata": {"name": "w"}, "spec": { field: value }}}});
            let patch = Patch::parse(PatchType::Resource, body.to_string().as_bytes(), None)
                .map_err(Error::Patch)?;
            store
                .patch_template("t", &patch, Origin::Patch, "")
                .map(drop)
        }
        Path::StrategicPatch | Path::MergePatch => {
            let kind = if matches!(path, Path::MergePatch) {
                PatchType::Merge
            } else {
                PatchType::Strategic
            };
            let patch = Patch::parse(kind, addition.to_string().as_bytes(), target())
                .map_err(Error::Patch)?;
            store
                .patch_template("t", &patch, Origin::Patch, "")
                .map(drop)
        }
        Path::JsonPatch => {
            let body = serde_json::json!([{"op": "add", "path": format!("/spec/{field}"), "value": value}]);
            let patch = Patch::parse(PatchType::Json, body.to_string().as_bytes(), target())
                .map_err(Error::Patch)?;
            store
                .patch_template("t", &patch, Origin::Patch, "")
                .map(drop)
        }
        Path::ImageUpdate | Path::Scale => store
            .modify_template("t", origin_of(path), "", None, |manifest| {
                // As the image and scale writers do: change one field of the stored object.
                let id = manifest.documents()[0].id.clone();
                let mut changed = manifest.documents()[0].value.clone();
                changed["spec"][field] = value;
                Ok((manifest.replace(vec![(0, changed)])?, vec![id]))
            })
            .map(drop),
    }
}

/// What is written, the field it goes in, its value, and the limit broken with the value
/// reported (`None`: the document size).
type OverLimitCase = (
    &'static str,
    &'static str,
    serde_json::Value,
    Option<(Limit, usize)>,
);

#[test]
fn results_over_a_limit_are_refused_on_every_write_path_and_make_no_version() {
    // (what, field, value, the limit it breaks, the value reported)
    let blob = "x".repeat(crate::template::MAX_DOCUMENT_BYTES / 2 + 1);
    let cases: Vec<OverLimitCase> = vec![
        (
            "one level too deep",
            "deep",
            deep_value(MAX_DEPTH + 1),
            Some((Limit::Depth, MAX_DEPTH + 1)),
        ),
        (
            "as deep as the issue's patches",
            "deep",
            deep_value(61),
            Some((Limit::Depth, 61)),
        ),
        (
            "too many nodes",
            "items",
            many_nodes(),
            Some((Limit::Nodes, MAX_NODES + 15)),
        ),
        (
            "two halves make a document too large",
            "blob",
            serde_json::json!(blob),
            None,
        ),
    ];
    for (what, field, value, limit) in cases {
        for path in PATHS {
            if field == "blob" && matches!(path, Path::Create | Path::Edit) {
                // Whole texts keep no first half; the reader holds them to the size
                // (template tests).
                continue;
            }
            let (_dir, mut store) = store();
            let mut base = WIDGET.to_owned();
            if field == "blob" {
                // The template already holds half a document's worth; the write adds the rest.
                base.push_str(&format!("  other: {blob}\n"));
            }
            if !matches!(path, Path::Create) {
                store.create_template("t", &base, "").unwrap();
            }
            let error = match write(&mut store, path, field, value.clone()) {
                Ok(()) => panic!("{what} via {path:?}: saved"),
                Err(error) => error,
            };
            let message = error.to_string();
            match (&error, limit) {
                (
                    Error::Template(crate::template::Error::OverLimit {
                        limit: found,
                        value: got,
                        max,
                        ..
                    }),
                    Some((limit, expected)),
                ) => {
                    assert_eq!((*found, *got), (limit, expected), "{what} via {path:?}");
                    assert!(
                        message.contains(&format!("{limit} is {expected}, more than the {max}")),
                        "{message}"
                    );
                }
                (Error::Template(crate::template::Error::DocumentTooLarge { .. }), None) => {}
                // Written as text, a document over the reader's budget fails as YAML: still
                // refused, still nothing saved.
                (Error::Template(crate::template::Error::Yaml { .. }), _)
                    if matches!(path, Path::Create | Path::Edit) => {}
                _ => panic!("{what} via {path:?}: unexpected error {message}"),
            }
            let versions = store.versions("t").map(|v| v.len()).unwrap_or(0);
            let expected = usize::from(!matches!(path, Path::Create));
            assert_eq!(
                versions, expected,
                "{what} via {path:?}: a version was made"
            );
        }
    }
}

#[test]
fn a_result_at_the_depth_limit_is_saved_reads_back_and_takes_the_next_patch() {
    for path in PATHS {
        let (_dir, mut store) = store();
        if !matches!(path, Path::Create) {
            store.create_template("t", WIDGET, "").unwrap();
        }
        write(&mut store, path, "deep", deep_value(MAX_DEPTH))
            .unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let saved = store.version("t", None).unwrap();
        let manifest = Manifest::parse(&saved.content).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert_eq!(
            manifest.documents()[0].value["spec"]["deep"],
            deep_value(MAX_DEPTH),
            "{path:?}"
        );
        // Not poisoned: the next patch still applies.
        let patch = Patch::parse(PatchType::Merge, br#"{"spec":{"size":2}}"#, target()).unwrap();
        let outcome = store
            .patch_template("t", &patch, Origin::Patch, "")
            .unwrap();
        assert!(matches!(outcome, SaveOutcome::Created { .. }), "{path:?}");
    }
}

#[test]
fn too_many_aliases_are_refused_when_written_as_text() {
    // The reader allows ten aliases per anchor; this uses nine of each of enough anchors.
    let anchors = MAX_ALIASES / 9 + 1;
    let text_with = |uses: usize| {
        let mut text = format!("{WIDGET}  anchors:\n");
        for i in 0..anchors {
            text.push_str(&format!("  - &a{i} {i}\n"));
        }
        text.push_str("  uses:\n");
        for i in 0..anchors {
            for _ in 0..uses {
                text.push_str(&format!("  - *a{i}\n"));
            }
        }
        text
    };
    let (_dir, mut store) = store();
    let error = store.create_template("t", &text_with(9), "").unwrap_err();
    assert!(
        matches!(
            error,
            Error::Template(crate::template::Error::OverLimit { limit: Limit::Aliases, value, .. })
                if value == 9 * anchors
        ),
        "{error}"
    );
    assert!(store.templates().unwrap().is_empty());
    store.create_template("t", &text_with(1), "").unwrap();
}

#[test]
fn a_rollback_to_a_version_that_breaks_a_limit_is_refused() {
    let (_dir, mut store) = store();
    store.create_template("t", WIDGET, "").unwrap();
    // A version saved before the limits existed.
    let poisoned = widget_with("deep", deep_value(MAX_DEPTH + 5)).to_string();
    let id: i64 = store
        .conn
        .query_row("SELECT id FROM templates WHERE name = 't'", [], |r| {
            r.get(0)
        })
        .unwrap();
    store
        .conn
        .execute(
            "INSERT INTO template_versions (template_id, number, hash, size, resources, origin, message, created_at)
             VALUES (?1, 2, ?2, ?3, 1, 'edit', 'old', '2020-01-01T00:00:00Z')",
            rusqlite::params![id, crate::template::content_hash(&poisoned), poisoned.len() as i64],
        )
        .unwrap();
    store
        .conn
        .execute(
            "INSERT INTO template_contents (template_id, number, content) VALUES (?1, 2, ?2)",
            rusqlite::params![id, poisoned],
        )
        .unwrap();
    store
        .save_version("t", &WIDGET.replace("size: 1", "size: 3"), Origin::Edit, "")
        .unwrap();
    let error = store.rollback("t", 2, "").unwrap_err();
    assert!(
        matches!(
            error,
            Error::Template(crate::template::Error::OverLimit {
                limit: Limit::Depth,
                ..
            })
        ),
        "{error}"
    );
    assert_eq!(store.versions("t").unwrap().len(), 3);
}

#[test]
fn the_queue_and_history_lookups_use_indexes_not_whole_table_scans() {
    // Each of these runs on every claim or every deploy; a scan of `access_records` or
    // `releases` makes the listener slower the longer its history is.
    let (_dir, store) = store();
    for sql in [
        "UPDATE releases SET carried_by = 2 WHERE carried_by = 1",
        "UPDATE access_records SET release_id = 1
         WHERE release_id IN (SELECT id FROM releases WHERE carried_by = 1)",
        "SELECT id, number, options, work FROM releases
         WHERE app_id = 1 AND status = 'queued' AND owner = 7 ORDER BY number",
        "SELECT template_version, applied FROM releases
         WHERE app_id = 1 AND status = 'succeeded' ORDER BY number DESC LIMIT 1",
        "DELETE FROM releases WHERE id = 1",
    ] {
        let plan: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for step in &plan {
            assert!(
                !step.starts_with("SCAN") && !step.contains("TEMP B-TREE"),
                "{sql}\n{plan:#?}"
            );
        }
    }
}

/// The record of a call refused for an unknown token, made `at`, for `reason`.
fn rejected_record(at: String, reason: String) -> crate::store::AccessRecord {
    crate::store::AccessRecord {
        id: 0,
        trigger: None,
        at,
        source: "127.0.0.1".into(),
        method: "GET".into(),
        path: "/hook/trigger?token=[redacted]".into(),
        headers: vec![],
        body: String::new(),
        body_truncated: false,
        event: None,
        decision: Decision::Rejected,
        reason,
        status: 404,
        response: String::new(),
        release: None,
        repeats: 1,
        last_at: None,
    }
}

#[test]
fn access_records_are_not_counted_as_commits_that_can_change_triggers() {
    let (_dir, mut store) = store();
    let record = rejected_record(jiff::Timestamp::now().to_string(), "unknown token".into());
    let write = crate::store::RecordWrite {
        trigger_id: None,
        record: record.clone(),
        fold_into: None,
    };
    // The count is the process's: another test's commit in between moves it, so each side
    // gets a few tries (a record write that is counted moves it on every try).
    let moves = |store: &mut Store, write_once: &dyn Fn(&mut Store)| {
        (0..20).all(|_| {
            let before = local_commits();
            write_once(store);
            local_commits() != before
        })
    };
    assert!(
        !moves(&mut store, &|store| {
            store.record_access(None, &record).unwrap();
        }),
        "one record"
    );
    assert!(
        !moves(&mut store, &|store| {
            store.record_accesses(std::slice::from_ref(&write)).unwrap();
        }),
        "a batch of records"
    );
    assert!(
        !moves(&mut store, &|store| {
            store
                .prune_records(&Retention::default(), jiff::Timestamp::now())
                .unwrap();
        }),
        "pruning records"
    );
    let made = std::cell::Cell::new(0);
    assert!(
        moves(&mut store, &|store| {
            made.set(made.get() + 1);
            let name = format!("t{}", made.get());
            store
                .create_template(
                    &name,
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
                    "",
                )
                .unwrap();
        }),
        "a template is a counted commit"
    );
}
