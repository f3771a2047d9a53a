//! The branch's lock and auto-build: what it was before the first attempt,
//! and what unlocking gives back.

use super::*;

#[tokio::test]
async fn an_attempt_taking_over_keeps_what_auto_build_was_before_the_first() {
    let (w, raw) = World::first_start_failed().await;
    // The first attempt switched auto-build off before its StartJob failed;
    // Amplify now says "off", which is Sentinel's doing, not the team's.
    set_branch(&w, false);
    w.started("r2", &raw).await;
    assert_eq!(w.lock().await.unwrap().auto_build_before, Some(true));
    w.unlock("alice").await;
    assert_eq!(w.auto_build(), Some(true));
}

#[tokio::test]
async fn unlock_gives_a_manual_branch_back_its_manual_builds() {
    let w = World::unhealthy(true).await;
    // The team builds main by hand: auto-build is off before any rollback.
    set_branch(&w, false);
    w.started("r1", &job_2_unhealthy()).await;
    assert_eq!(w.lock().await.unwrap().auto_build_before, Some(false));
    assert_eq!(w.auto_build(), Some(false));
    let released = w.unlock("alice").await.expect("there was a lock");
    assert_eq!(released.auto_build_before, Some(false));
    // Auto-build was never switched back on: the branch stays manual.
    assert!(
        !w.amplify.auto_build.lock().unwrap().values().any(|on| *on),
        "auto-build was switched on"
    );
}

#[tokio::test]
async fn unlock_without_a_lock_changes_nothing() {
    let w = World::new(Environment::Prod, true).await;
    assert_eq!(w.unlock("alice").await, None);
    assert_eq!(w.auto_build(), None, "Amplify was not touched");
    let state = w.state().await;
    assert!(state.audit.is_empty(), "{:?}", state.audit);
}
