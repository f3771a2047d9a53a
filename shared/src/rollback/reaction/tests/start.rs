//! Starting a rollback: once per unhealthy deploy, the branch locked, the
//! known good target told apart, a recommendation where none can start, a
//! StartJob that failed or whose answer was lost.

use super::*;

#[tokio::test]
async fn an_unhealthy_deploy_is_rolled_back_once_and_the_branch_locked() {
    let w = World::unhealthy(true).await;
    let action = w.deliver("r1", &job_2_unhealthy()).await;
    assert_eq!(action, job_3_rolls_back_to_1());
    assert_eq!(
        w.starts(),
        vec![(JobId::new(3), StartJob::Retry(JobId::new(1)))]
    );
    assert_eq!(w.auto_build(), Some(false));
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Started"]);
    let record = w.store.get_deployment(&key(3)).await.unwrap().unwrap();
    assert_eq!(
        record.rollback_of,
        Some(JobId::new(2)),
        "the rollback job is marked"
    );

    // The same event again: reported again, nothing started.
    let again = w.deliver("r2", &job_2_unhealthy()).await;
    assert!(matches!(again, RollbackAction::Started { .. }));
    assert_eq!(w.starts().len(), 1);

    // The rollback job builds the good commit and is verified healthy.
    w.built(3, BuildStatus::Succeeded, GOOD).await;
    assert_eq!(
        w.deliver("r3", &build("SUCCEED", 3, GOOD)).await,
        RollbackAction::Waiting
    );
    w.checked(3, Verdict::Healthy).await;
    assert_eq!(
        w.deliver("r4", &health("healthy", 3, GOOD, true)).await,
        RollbackAction::RollbackSucceeded
    );
    assert_eq!(
        w.publisher.detail_types().last().unwrap(),
        "Rollback Succeeded"
    );
    let state = w.state().await;
    assert!(state.lock.is_some(), "the lock stays until released");
    assert_eq!(w.auto_build(), Some(false));

    let released = w
        .rollbacker("alice")
        .unlock(&key(1).app_id, &key(1).branch_name)
        .await
        .unwrap();
    assert_eq!(released.unwrap().pinned_job, JobId::new(1));
    assert_eq!(w.auto_build(), Some(true));
    let state = w.state().await;
    assert!(state.lock.is_none());
    assert!(state.audit.last().unwrap().contains("unlocked by alice"));
}

#[tokio::test]
async fn concurrent_deliveries_start_one_job() {
    let w = World::unhealthy(true).await;
    let envelope = parsed(&job_2_unhealthy());
    let runs: Vec<_> = (0..10).map(|i| format!("r{i}")).collect();
    let rollbackers: Vec<_> = runs.iter().map(|h| w.rollbacker(h)).collect();
    let results =
        futures::future::join_all(rollbackers.iter().map(|r| r.on_event(&envelope))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(w.starts().len(), 1);
}

#[tokio::test]
async fn an_unhealthy_rollback_fails_and_is_never_rolled_back() {
    let w = World::unhealthy(true).await;
    w.deliver("r1", &job_2_unhealthy()).await;
    w.checked(3, Verdict::Unhealthy).await;
    let failed = w.deliver("r2", &health("unhealthy", 3, GOOD, true)).await;
    assert!(
        matches!(failed, RollbackAction::RollbackFailed(_)),
        "{failed:?}"
    );
    assert_eq!(w.starts().len(), 1, "no second rollback");
    assert_eq!(
        w.publisher.detail_types(),
        vec!["Rollback Started", "Rollback Failed"]
    );
}

#[tokio::test]
async fn another_commit_deployed_by_the_rollback_is_a_failure() {
    let w = World::unhealthy(true).await;
    w.deliver("r1", &job_2_unhealthy()).await;
    w.built(3, BuildStatus::Succeeded, "3333333333333333").await;
    let failed = w
        .deliver("r2", &build("SUCCEED", 3, "3333333333333333"))
        .await;
    let RollbackAction::RollbackFailed(why) = failed else {
        panic!("{failed:?}")
    };
    assert!(
        why.contains("instead of the target's 111111111111"),
        "{why}"
    );
}

/// World with jobs 1 (healthy, known good) and 2 (live) of the same commit.
async fn same_commit_world(commit: &str) -> World {
    let w = World::new(Environment::Prod, true).await;
    for n in [1, 2] {
        w.store
            .advance_pointer(&key(n), Some(commit), BranchPointer::Live)
            .await
            .unwrap();
        w.built(n, BuildStatus::Succeeded, commit).await;
    }
    w.store
        .advance_pointer(&key(1), Some(commit), BranchPointer::LastKnownGood)
        .await
        .unwrap();
    w.checked(2, Verdict::Unhealthy).await;
    w
}

#[tokio::test]
async fn a_known_good_job_of_the_same_commit_is_no_rollback_target() {
    let w = same_commit_world(GOOD).await;
    w.deliver("r1", &health("unhealthy", 2, GOOD, false)).await;
    assert!(
        w.starts().is_empty(),
        "the same commit rebuilt is no rollback"
    );
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Recommended"]);
}

#[tokio::test]
async fn manual_deployments_reporting_head_are_told_apart_by_job() {
    // CreateDeployment/StartDeployment jobs (no repository) all report
    // commit HEAD: the earlier healthy one is still the rollback target.
    let w = same_commit_world("HEAD").await;
    w.deliver("r1", &health("unhealthy", 2, "HEAD", false))
        .await;
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Started"]);
    assert_eq!(w.starts().len(), 1, "one RETRY of job 1");
}

#[tokio::test]
async fn without_a_known_good_job_it_only_recommends() {
    let w = World::unhealthy(false).await;
    let action = w.deliver("r1", &job_2_unhealthy()).await;
    assert_recommended(&action);
    assert!(w.starts().is_empty());
    assert_eq!(w.auto_build(), None, "auto-build untouched");
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Recommended"]);
}

#[tokio::test]
async fn in_dev_it_recommends_the_command_instead() {
    let w = World::new(Environment::Dev, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    w.deliver("r1", &job_2_unhealthy()).await;
    w.deliver("r2", &job_2_unhealthy()).await;
    assert!(w.starts().is_empty());
    let published = w.publisher.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1, "recommended once");
    assert!(
        published[0]
            .detail
            .contains("sentinel rollback --app d1abc --branch main --to 1"),
        "{}",
        published[0].detail
    );
}

#[tokio::test]
async fn a_failed_start_job_is_taken_over_by_the_redelivery() {
    let w = World::unhealthy(true).await;
    w.amplify.fail_next_start.store(1, Ordering::SeqCst);
    let raw = job_2_unhealthy();
    let first = w.rollbacker("r1").on_event(&parsed(&raw)).await;
    assert!(
        first.is_err(),
        "the delivery fails, to come again: {first:?}"
    );
    assert!(w.starts().is_empty());
    // The redelivery (another invocation) is not refused by r1's lease.
    let again = w.deliver("r2", &raw).await;
    assert_eq!(again, job_3_rolls_back_to_1());
    assert_eq!(w.starts().len(), 1);
}

#[tokio::test]
async fn a_start_job_whose_answer_was_lost_is_adopted_not_repeated() {
    let w = World::unhealthy(true).await;
    w.amplify.lose_next_start.store(1, Ordering::SeqCst);
    let raw = job_2_unhealthy();
    w.fails("r1", &raw).await;
    assert_eq!(w.starts().len(), 1, "the lost call did start job 3");
    let again = w.deliver("r2", &raw).await;
    assert_eq!(again, job_3_rolls_back_to_1());
    assert_eq!(w.starts().len(), 1, "job 3 adopted, no second StartJob");
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Started"]);
}
