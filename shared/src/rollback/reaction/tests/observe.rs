//! Observe mode: what a rollback or a retry would have done, recorded and
//! published, never started; enforce where a policy says so.

use super::*;

/// A branch policy of `enforcement: observe` over the stack's enforce (the
/// "would have" is kept on job 2's record).
async fn observing(w: &World) {
    w.policy("enforcement: observe\n").await;
}

#[tokio::test]
async fn in_observe_mode_a_rollback_is_recorded_published_and_never_started() {
    let w = World::unhealthy(true).await;
    observing(&w).await;
    for holder in ["r1", "r2"] {
        let action = w.deliver(holder, &job_2_unhealthy()).await;
        let RollbackAction::Observed(summary) = action else {
            panic!("{action:?}");
        };
        assert!(
            summary.starts_with("would have rolled back to job 1 (commit 111111111111)"),
            "{summary}"
        );
    }
    assert!(w.starts().is_empty(), "no StartJob");
    assert_eq!(w.auto_build(), None, "no UpdateBranch");
    let state = w.state().await;
    assert!(state.lock.is_none() && state.active.is_none() && state.history.is_empty());
    let record = w.store.get_deployment(&key(2)).await.unwrap().unwrap();
    assert_eq!(record.observed.len(), 1, "recorded once");
    assert_eq!(record.observed[0].target_job, Some(JobId::new(1)));
    assert_eq!(
        record.observed[0].command.as_deref(),
        Some("sentinel rollback --app d1abc --branch main --to 1")
    );
    assert!(record.outbox.is_empty(), "published and cleared");
    let published = w.publisher.published.lock().unwrap().clone();
    let ids: std::collections::BTreeSet<_> = published.iter().map(|e| e.id.clone()).collect();
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        vec!["d1abc/main/0000000002/observed-rollback"]
    );
    assert!(published.iter().all(|e| e.detail_type == "Action Observed"));
}

#[tokio::test]
async fn in_observe_mode_the_guards_still_decide_what_would_have_happened() {
    // Without a known good job, observe mode recommends, as enforce would.
    let w = World::unhealthy(false).await;
    observing(&w).await;
    let action = w.deliver("r1", &job_2_unhealthy()).await;
    assert_recommended(&action);
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Recommended"]);
    assert!(w.starts().is_empty());
}

#[tokio::test]
async fn in_observe_mode_a_transient_failure_is_not_retried() {
    let w = World::new(Environment::Prod, true).await;
    w.diagnosis(2, true).await;
    observing(&w).await;
    let action = w.deliver("r1", &diagnosed(2, true)).await;
    let RollbackAction::Observed(summary) = action else {
        panic!("{action:?}");
    };
    assert!(
        summary.starts_with("would have retried this build: StartJob RETRY of job 2 (attempt 1 of"),
        "{summary}"
    );
    assert!(w.starts().is_empty());
    assert_eq!(w.publisher.detail_types(), vec!["Action Observed"]);
    // The same branch under `enforcement: enforce` retries.
    w.policy("enforcement: enforce\n").await;
    let action = w.deliver("r2", &diagnosed(2, true)).await;
    assert!(
        matches!(action, RollbackAction::Retried { .. }),
        "{action:?}"
    );
}

#[tokio::test]
async fn a_stack_in_observe_mode_acts_only_where_a_policy_says_enforce() {
    let w = World::unhealthy(true).await;
    let observer = Rollbacker::<InMemory> {
        enforcement: crate::core::enforcement::Enforcement::Observe,
        ..w.rollbacker("r1")
    };
    let action = observer
        .on_event(&parsed(&job_2_unhealthy()))
        .await
        .unwrap();
    assert!(matches!(action, RollbackAction::Observed(_)), "{action:?}");
    assert!(w.starts().is_empty());
}

/// Issue #28 item 6: a rollback begun in enforce mode (branch locked,
/// auto-build off, its StartJob failed for now) whose branch was switched
/// to observe before the redelivery was refused in silence, the branch
/// left locked with auto-build off.
#[tokio::test]
async fn a_rollback_under_way_when_the_policy_turns_to_observe_gives_the_branch_back_and_says_so() {
    for enable_fails in [false, true] {
        let (w, raw) = World::first_start_failed().await;
        assert_eq!(w.auto_build(), Some(false), "locked by the first attempt");
        observing(&w).await;
        if enable_fails {
            w.amplify.fail_next_enable.store(1, Ordering::SeqCst);
        }
        let again = w.deliver("r2", &raw).await;
        let RollbackAction::RollbackFailed(why) = &again else {
            panic!("not said: {again:?}");
        };
        assert!(why.contains("observe mode"), "{why}");
        assert!(w.starts().is_empty(), "nothing started in observe mode");
        assert_eq!(w.publisher.detail_types(), vec!["Rollback Failed"]);
        let reason = failed_reason(&w);
        if enable_fails {
            // Could not give it back: the alert says how, the lock stays.
            assert_eq!(w.auto_build(), Some(false));
            assert!(reason.contains("sentinel unlock"), "{reason}");
            assert!(w.lock().await.is_some());
        } else {
            assert_eq!(w.auto_build(), Some(true), "auto-build given back");
            assert!(reason.contains("auto-build is back on"), "{reason}");
            assert_eq!(w.lock().await, None, "no lock stays");
        }
        // Delivered once more: nothing more happens, nothing more is said.
        let third = w.deliver("r3", &raw).await;
        assert!(
            !matches!(
                third,
                RollbackAction::Started { .. } | RollbackAction::RollbackFailed(_)
            ),
            "{third:?}"
        );
        assert!(w.starts().is_empty());
        assert_eq!(w.publisher.detail_types(), vec!["Rollback Failed"]);
    }
}
