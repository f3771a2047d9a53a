//! A rollback that could not start: refused by Amplify, failed for now, its
//! alert published by the redelivery.

use super::*;

#[tokio::test]
async fn a_rollback_whose_start_job_is_refused_gives_auto_build_back_and_fails() {
    let w = World::unhealthy_building_on_push().await;
    w.amplify.reject_next_start.store(1, Ordering::SeqCst);
    let raw = job_2_unhealthy();
    let action = w.deliver("r1", &raw).await;
    let RollbackAction::RollbackFailed(why) = &action else {
        panic!("not a failed rollback: {action:?}");
    };
    assert!(why.contains("StartJob refused"), "{why}");
    assert!(w.starts().is_empty());
    assert_eq!(w.auto_build(), Some(true), "auto-build given back");
    assert_eq!(w.lock().await, None, "no lock stays");
    let state = w.state().await;
    let active = state.active.clone().unwrap();
    assert_eq!(active.outcome, Some(Outcome::Failed));
    assert!(state.lease.is_none());
    assert_eq!(
        state.automatic_within(Utc::now(), 24),
        1,
        "the guards count it"
    );
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Failed"]);
    assert!(failed_reason(&w).contains("StartJob refused"));
    // A redelivery neither starts it again nor leaves the branch changed.
    let again = w.deliver("r2", &raw).await;
    assert!(
        !matches!(again, RollbackAction::Started { .. }),
        "{again:?}"
    );
    assert!(w.starts().is_empty());
    assert_eq!(w.auto_build(), Some(true));
}

#[tokio::test]
async fn a_refused_rollback_whose_auto_build_cannot_be_given_back_says_how_to() {
    let w = World::unhealthy_building_on_push().await;
    w.amplify.reject_next_start.store(1, Ordering::SeqCst);
    w.amplify.fail_next_enable.store(1, Ordering::SeqCst);
    let raw = job_2_unhealthy();
    let action = w.deliver("r1", &raw).await;
    assert!(
        matches!(action, RollbackAction::RollbackFailed(_)),
        "{action:?}"
    );
    assert_eq!(w.auto_build(), Some(false), "still off");
    let reason = failed_reason(&w);
    assert!(reason.contains("auto-build is still off"), "{reason}");
    assert!(
        reason.contains("sentinel unlock --app d1abc --branch main"),
        "{reason}"
    );
    // The lock stays, so that unlock gives auto-build back.
    assert_eq!(w.lock().await.unwrap().auto_build_before, Some(true));
    w.unlock("alice").await.expect("a lock to release");
    assert_eq!(w.auto_build(), Some(true));
}

#[tokio::test]
async fn a_rollback_that_failed_to_start_for_now_leaves_a_lock_to_release() {
    let (w, _) = World::first_start_failed().await;
    // Auto-build is off and the redelivery takes over; should none come (the
    // queue gives up), the lock says so and unlock gives auto-build back.
    assert_eq!(w.auto_build(), Some(false));
    assert_eq!(w.lock().await.unwrap().auto_build_before, Some(true));
    w.unlock("alice").await.expect("a lock to release");
    assert_eq!(w.auto_build(), Some(true));
}

#[tokio::test]
async fn a_failed_start_whose_alert_was_not_published_is_published_by_the_redelivery() {
    let w = World::unhealthy_building_on_push().await;
    w.amplify.reject_next_start.store(1, Ordering::SeqCst);
    w.publisher.fail_next.store(1, Ordering::SeqCst);
    let raw = job_2_unhealthy();
    w.fails("r1", &raw).await;
    let again = w.deliver("r2", &raw).await;
    assert!(
        matches!(again, RollbackAction::RollbackFailed(_)),
        "{again:?}"
    );
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Failed"]);
    assert!(w.starts().is_empty());
}
