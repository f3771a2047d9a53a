//! Superseded builds (no GitHub): a newer build stops the older one still
//! running, in any order of deliveries, never a rollback's, not in observe
//! mode nor when the policy says so.

use super::*;

/// What must not depend on the order deliveries arrive in.
type Shape = (
    BuildStatus,
    Option<(SkipKind, JobId, Option<String>)>,
    usize,
);

fn shape(d: &Deployment) -> Shape {
    (
        d.status.clone(),
        d.skipped
            .as_ref()
            .map(|s| (s.kind, s.by_job, s.stop_result.clone())),
        d.observed.len(),
    )
}

#[tokio::test]
async fn a_newer_build_stops_the_older_one_still_running_and_announces_it() {
    let w = World::new("", None).await;
    w.two_pushes().await;
    let outcome = w.started(7, Enforcement::Enforce, false).await.unwrap();
    assert_eq!(outcome.superseded, vec![JobId::new(6)]);
    assert!(!outcome.skipped && outcome.passed);
    assert_eq!(w.stopped(), vec![6], "StopJob of the older job only");
    let old = w.record(6).await;
    let skip = old.skipped.clone().unwrap();
    assert_eq!(
        (skip.kind, skip.by_job, skip.stop_result.as_deref()),
        (SkipKind::Superseded, JobId::new(7), Some("stopped"))
    );
    assert_eq!(skip.reason, "superseded by job 7 (a newer build of main)");
    assert_eq!(old.status, BuildStatus::Cancelled);
    assert!(old.outbox.is_empty(), "published");
    let skipped = w.published("Build Skipped");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["jobId"], "6");
    assert_eq!(skipped[0]["kind"], "superseded");
    assert_eq!(skipped[0]["byJobId"], "7");
    assert_eq!(skipped[0]["reason"], skip.reason.as_str());
    assert_eq!(w.published("Build Cancelled").len(), 1);
    assert!(w.record(7).await.skipped.is_none());
}

#[tokio::test]
async fn duplicated_and_reordered_starts_converge_on_the_same_records() {
    let mut shapes = Vec::new();
    for order in [[7u64, 6, 7, 6], [6, 7, 6, 7], [7, 7, 6, 6]] {
        let w = World::new("", None).await;
        w.two_pushes().await;
        for n in order {
            w.started(n, Enforcement::Enforce, false).await.unwrap();
        }
        assert_eq!(w.stopped(), vec![6], "{order:?}: one StopJob");
        assert_eq!(w.published("Build Skipped").len(), 1, "{order:?}");
        shapes.push((
            shape(&w.record(6).await),
            shape(&w.record(7).await),
            w.publisher.detail_types().len(),
        ));
    }
    assert!(shapes.windows(2).all(|p| p[0] == p[1]), "{shapes:#?}");
    assert_eq!(
        shapes[0].0,
        (
            BuildStatus::Cancelled,
            Some((SkipKind::Superseded, JobId::new(7), Some("stopped".into()))),
            0
        )
    );
}

#[tokio::test]
async fn a_pending_older_job_without_a_record_is_recorded_and_stopped() {
    let w = World::new("", None).await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    // Job 6 is pending: Amplify lists it, ingest never heard of it.
    w.amplify.jobs.lock().unwrap().insert(
        ("d1abc".into(), "main".into(), 6),
        JobDetails {
            status: Some(BuildStatus::Started),
            job_type: Some("WEB_HOOK".into()),
            ..Default::default()
        },
    );
    w.started(7, Enforcement::Enforce, false).await.unwrap();
    assert_eq!(w.stopped(), vec![6]);
    let old = w.record(6).await;
    assert_eq!(old.status, BuildStatus::Cancelled);
    assert_eq!(old.skipped.unwrap().stop_result.as_deref(), Some("stopped"));
}

#[tokio::test]
async fn in_observe_mode_nothing_is_stopped_and_the_would_have_is_told_once() {
    let w = World::new("", None).await;
    w.two_pushes().await;
    for n in [7, 6, 7] {
        w.started(n, Enforcement::Observe, false).await.unwrap();
    }
    assert!(w.stopped().is_empty(), "no StopJob");
    let old = w.record(6).await;
    assert_eq!(old.status, BuildStatus::Started, "still running");
    assert!(old.skipped.is_none());
    assert_eq!(old.observed.len(), 1);
    assert_eq!(old.observed[0].action, ObservedKind::Skip);
    assert_eq!(
        old.observed[0].summary,
        "would have skipped this build: superseded by job 7 (a newer build of main)"
    );
    let observed = w.published("Action Observed");
    assert_eq!(observed.len(), 1, "{observed:?}");
    assert_eq!(
        observed[0]["eventId"],
        "d1abc/main/0000000006/observed-skip"
    );
    assert_eq!(observed[0]["action"], "skip");
    assert!(w.published("Build Skipped").is_empty());
    assert!(w.record(7).await.observed.is_empty());
}

#[tokio::test]
async fn a_rollback_job_is_never_stopped_and_stops_nothing() {
    let w = World::new("", None).await;
    // 6: a rollback job (its record says so); 7 a push; 8 a rollback job
    // the branch's rollback state names (its record does not say yet).
    w.job(6, BuildStatus::Started, "RETRY", BASE).await;
    let mut six = w.record(6).await;
    six.rollback_of = Some(JobId::new(4));
    w.store.save_deployment(&six).await.unwrap();
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.job(8, BuildStatus::Started, "RETRY", BASE).await;
    let mut state =
        crate::rollback::RollbackState::new(key(1).app_id, key(1).branch_name, Environment::Prod);
    state.active = Some(crate::rollback::state::RollbackRecord {
        id: "d1abc/main/0000000005/rollback".into(),
        from_job: JobId::new(5),
        from_commit: None,
        target_job: JobId::new(3),
        target_commit: Some(BASE.into()),
        rollback_job: Some(JobId::new(8)),
        reason: "unhealthy".into(),
        requested_by: "automatic".into(),
        automatic: true,
        started_at: Utc::now(),
        outcome: None,
        finished_at: None,
        outcome_reason: None,
        auto_build_before: Some(true),
    });
    w.store.save_rollback_state(&state).await.unwrap();
    for n in [7, 8, 6] {
        let outcome = w.started(n, Enforcement::Enforce, false).await.unwrap();
        assert!(outcome.superseded.is_empty(), "job {n}: {outcome:?}");
    }
    assert!(w.stopped().is_empty(), "{:?}", w.stopped());
    for n in [6, 7, 8] {
        assert!(w.record(n).await.skipped.is_none(), "job {n}");
    }
    assert!(w.published("Build Skipped").is_empty());
}

#[tokio::test]
async fn a_retry_supersedes_nothing_a_newer_push_supersedes_it_and_ended_jobs_are_left() {
    let w = World::new("", None).await;
    w.job(5, BuildStatus::Succeeded, "WEB_HOOK", BASE).await;
    w.job(6, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.job(7, BuildStatus::Started, "RETRY", BASE).await;
    w.started(7, Enforcement::Enforce, false).await.unwrap();
    assert!(w.stopped().is_empty(), "a retry stops nothing");
    w.job(8, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    let outcome = w.started(8, Enforcement::Enforce, false).await.unwrap();
    assert_eq!(outcome.superseded, vec![JobId::new(6), JobId::new(7)]);
    assert_eq!(w.stopped(), vec![6, 7], "the ended job 5 is left alone");
    assert_eq!(w.record(5).await.status, BuildStatus::Succeeded);
}

#[tokio::test]
async fn cancel_superseded_false_leaves_both_builds_running() {
    let w = World::new("cancel_superseded: false\n", None).await;
    w.two_pushes().await;
    w.started(7, Enforcement::Enforce, false).await.unwrap();
    w.started(6, Enforcement::Enforce, false).await.unwrap();
    assert!(w.stopped().is_empty());
    assert!(w.record(6).await.observed.is_empty());
}

#[tokio::test]
async fn a_build_stopped_for_its_configuration_supersedes_nothing() {
    let w = World::new("required:\n  all: [DATABASE_URL]\n", None).await;
    w.two_pushes().await;
    let outcome = w.started(7, Enforcement::Enforce, false).await.unwrap();
    assert!(outcome.stopped && outcome.superseded.is_empty());
    assert_eq!(w.stopped(), vec![7]);
}
