//! The retry of a transient failure: once per lineage, surviving a failed
//! or lost StartJob, bounded per branch.

use super::*;

#[tokio::test]
async fn a_transient_failure_is_retried_once_per_lineage() {
    let w = World::new(Environment::Prod, true).await;
    w.diagnosis(2, true).await;
    let first = w.deliver("r1", &diagnosed(2, true)).await;
    assert_eq!(
        first,
        RollbackAction::Retried {
            retry_job: JobId::new(3)
        }
    );
    assert_eq!(
        w.deliver("r2", &diagnosed(2, true)).await,
        RollbackAction::Retried {
            retry_job: JobId::new(3)
        }
    );
    assert_eq!(w.starts().len(), 1, "a duplicate does not retry again");
    w.diagnosis(3, true).await;
    let again = w.deliver("r3", &diagnosed(3, true)).await;
    assert!(
        matches!(again, RollbackAction::NotRetried(_)),
        "the retry failed the same way: {again:?}"
    );
    w.diagnosis(1, false).await;
    let other = w.deliver("r4", &diagnosed(1, false)).await;
    assert!(matches!(other, RollbackAction::NotRetried(_)));
    assert_eq!(w.starts().len(), 1);
    assert_eq!(
        w.publisher.detail_types(),
        vec!["Build Retried", "Build Retried"]
    );
}

#[tokio::test]
async fn a_transient_retry_survives_a_failed_or_lost_start_job() {
    for lost in [false, true] {
        let w = World::new(Environment::Prod, true).await;
        w.diagnosis(2, true).await;
        let counter = if lost {
            &w.amplify.lose_next_start
        } else {
            &w.amplify.fail_next_start
        };
        counter.store(1, Ordering::SeqCst);
        assert!(
            w.rollbacker("r1")
                .on_event(&parsed(&diagnosed(2, true)))
                .await
                .is_err()
        );
        let again = w.deliver("r2", &diagnosed(2, true)).await;
        assert_eq!(
            again,
            RollbackAction::Retried {
                retry_job: JobId::new(3)
            },
            "lost answer: {lost}"
        );
        assert_eq!(w.starts().len(), 1, "one RETRY (lost answer: {lost})");
    }
}

/// Issue #18 item 9: the per-branch `retries` map is pruned as retries are
/// recorded, so a branch that fails transiently for years stays far under
/// DynamoDB's 400 KB item.
#[tokio::test]
async fn the_retries_of_a_branch_stay_bounded() {
    use crate::rollback::ports::RollbackStore;
    let w = World::new(Environment::Prod, true).await;
    w.diagnosis(2, true).await;
    let (app, branch) = (key(1).app_id, key(1).branch_name);
    let mut state = RollbackState::new(app.clone(), branch.clone(), Environment::Prod);
    let long_ago = chrono::Utc::now() - chrono::Duration::days(60);
    for n in 1_000..3_000u64 {
        state.retries.insert(
            n.to_string(),
            crate::rollback::RetryRecord {
                root: JobId::new(n),
                attempt: 1,
                retry_job: Some(JobId::new(n + 100_000)),
                at: long_ago + chrono::Duration::minutes(n as i64),
            },
        );
    }
    w.store.save_rollback_state(&state).await.unwrap();
    let action = w.deliver("r1", &diagnosed(2, true)).await;
    assert!(
        matches!(action, RollbackAction::Retried { .. }),
        "{action:?}"
    );
    let state = w
        .store
        .get_rollback_state(&app, &branch)
        .await
        .unwrap()
        .unwrap();
    assert!(
        state.retries.len() <= crate::rollback::state::RETRIES_KEPT,
        "{}",
        state.retries.len()
    );
    assert!(state.retries.contains_key("2"), "the new retry is kept");
    assert!(serde_json::to_string(&state).unwrap().len() < 64 * 1024);
}

/// Issue #28 item 6: a retry whose StartJob answer was lost, of a job
/// whose record has no commit, was started a second time (the adoption
/// looked for a RETRY of the record's commit only).
#[tokio::test]
async fn a_lost_retry_of_a_job_recorded_without_a_commit_is_adopted_not_repeated() {
    let w = World::new(Environment::Prod, true).await;
    w.diagnosis(2, true).await;
    w.record(2, |d| d.details.commit_id = None).await;
    // Amplify started RETRY job 3 of job 2's commit; its answer was lost.
    w.amplify.lose_next_start.store(1, Ordering::SeqCst);
    let first = w
        .rollbacker("r1")
        .on_event(&parsed(&diagnosed(2, true)))
        .await;
    assert!(first.is_err(), "{first:?}");
    assert_eq!(w.starts().len(), 1);
    // The redelivery, once the claim of the first attempt ran out.
    let state = w.state().await;
    assert!(
        state.retries.is_empty(),
        "the failed attempt released its claim"
    );
    let again = w.deliver("r2", &diagnosed(2, true)).await;
    assert_eq!(
        again,
        RollbackAction::Retried {
            retry_job: JobId::new(3)
        }
    );
    assert_eq!(w.starts().len(), 1, "job 3 adopted, no second StartJob");
}
