//! Cleanup and reconciliation through the real binary, moto's DynamoDB and
//! the Amplify emulator: expired and protected items mixed → only the
//! expired, unprotected ones go; a deleted branch loses its state; a stuck
//! deployment whose job succeeded is reconciled and "Build Succeeded"
//! published once (the health checker then runs); a job no event reported
//! is ingested; a job Amplify does not have is marked timed out; a dry run
//! changes nothing; a second run does nothing more.
//!
//! Each test limits the run to its own app (`"apps": [...]`): the stack's
//! table is shared with the other tests running at the same time.

use std::time::Duration;

use chrono::Utc;
use sentinel_shared::alert::AlertState;
use sentinel_shared::alert::ports::AlertStore;
use sentinel_shared::core::deployment::{Deployment, DeploymentKey};
use sentinel_shared::core::model::{AppId, BuildStatus, JobId};
use sentinel_shared::core::transitions::Observation;
use sentinel_shared::policy::PolicyStore;
use sentinel_shared::ports::{BranchPointer, DeploymentStore};
use sentinel_shared::rollback::ports::RollbackStore;
use sentinel_shared::rollback::{BranchLock, Lease, RollbackState};
use serde_json::{Value, json};

use crate::helpers::*;

const COMMIT: &str = "c1eac1eac1eac1eac1eac1eac1eac1eac1eac1ea";

async fn invoke(stack: &Stack, payload: Value) -> Value {
    stack.invoke("cleanup", payload).await
}

fn key(app: &AppId, branch: &str, job: u64) -> DeploymentKey {
    DeploymentKey {
        app_id: app.clone(),
        branch_name: branch.parse().unwrap(),
        job_id: JobId::new(job),
    }
}

/// A record as ingest leaves it: `status` observed, started `minutes_ago`.
fn record(stack: &Stack, key: DeploymentKey, minutes_ago: i64, status: BuildStatus) -> Deployment {
    let start = Utc::now() - chrono::Duration::minutes(minutes_ago);
    let mut d = Deployment::new(key, stack.environment());
    d.apply(Observation {
        event_id: format!("test-{}", d.key.job_id),
        status,
        at: start,
    });
    d.details.start_time = Some(start);
    d
}

const DAY: i64 = 24 * 60;

#[tokio::test]
async fn only_expired_unprotected_items_go_and_a_second_run_does_nothing() {
    let stack = Stack::new().await;
    let store = stack.store();
    let app = unique_app_id();
    stack.create_app(&app, "main", COMMIT).await.unwrap();
    // main: jobs 1–7 from 200 days ago (past the 90 days), job 8 recent.
    for job in 1..=8u64 {
        let age = if job == 8 {
            2 * DAY
        } else {
            (207 - job as i64) * DAY
        };
        let d = record(&stack, key(&app, "main", job), age, BuildStatus::Succeeded);
        store.save_deployment(&d).await.unwrap();
    }
    // Live 7, last known good 6, an open incident on 2, a lock pinning 3.
    for (job, pointer) in [(7, BranchPointer::Live), (6, BranchPointer::LastKnownGood)] {
        store
            .advance_pointer(&key(&app, "main", job), Some(COMMIT), pointer)
            .await
            .unwrap();
    }
    let mut alerts = AlertState::new(app.clone(), "main".parse().unwrap(), stack.environment());
    alerts.open.insert(
        "build:unknown".into(),
        serde_json::from_value(json!({
            "id": "i1", "key": "build:unknown", "severity": "critical", "openedAt": Utc::now(),
            "lastSeen": Utc::now(), "count": 1, "firstJob": "2", "lastJob": "2",
            "lastNotifiedAt": Utc::now(),
        }))
        .unwrap(),
    );
    store.save_alert_state(&alerts).await.unwrap();
    let mut lock = RollbackState::new(app.clone(), "main".parse().unwrap(), stack.environment());
    lock.lock = Some(BranchLock {
        pinned_job: JobId::new(3),
        pinned_commit: Some(COMMIT.into()),
        since: Utc::now(),
        by: "test".into(),
        reason: "test".into(),
        auto_build_before: None,
    });
    store.save_rollback_state(&lock).await.unwrap();
    // A branch Amplify no longer has, with its state and a stale lease.
    store
        .advance_pointer(&key(&app, "gone", 1), Some(COMMIT), BranchPointer::Live)
        .await
        .unwrap();
    let mut stale = RollbackState::new(app.clone(), "gone".parse().unwrap(), stack.environment());
    stale.lease = Some(Lease {
        holder: "crashed".into(),
        until: Utc::now() - chrono::Duration::hours(5),
    });
    store.save_rollback_state(&stale).await.unwrap();

    let present = |jobs: Vec<u64>| {
        let store = stack.store();
        let app = app.clone();
        async move {
            let mut found = vec![];
            for job in jobs {
                if store
                    .get_deployment(&key(&app, "main", job))
                    .await
                    .unwrap()
                    .is_some()
                {
                    found.push(job);
                }
            }
            found
        }
    };

    let dry = invoke(&stack, json!({"dryRun": true, "apps": [app.as_str()]})).await;
    assert_eq!(dry["deploymentsExpired"], 3, "{dry}");
    assert_eq!(dry["deletedBranchState"], 2, "{dry}");
    assert_eq!(dry["protectedKept"], 4, "{dry}");
    assert_eq!(
        present((1..=8).collect()).await,
        (1..=8).collect::<Vec<_>>(),
        "a dry run changes nothing"
    );

    let events = stack
        .capture(
            &stack.bus,
            json!({"eventId": [{"prefix": "cleanup/"}], "deploymentsExpired": [3]}),
        )
        .await
        .unwrap();
    let run = invoke(&stack, json!({"apps": [app.as_str()]})).await;
    assert_eq!(run["deploymentsExpired"], 3, "{run}");
    assert_eq!(present((1..=8).collect()).await, [2, 3, 6, 7, 8]);
    let gone: sentinel_shared::core::model::BranchName = "gone".parse().unwrap();
    assert_eq!(
        store.get_branch_state(&app, &gone).await.unwrap().live_job,
        None
    );
    assert!(
        store
            .get_rollback_state(&app, &gone)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_rollback_state(&app, &"main".parse().unwrap())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_alert_state(&app, &"main".parse().unwrap())
            .await
            .unwrap()
            .is_some()
    );
    let completed = events
        .collect(1, Duration::from_secs(20), Duration::from_secs(1))
        .await
        .unwrap();
    assert!(
        completed
            .iter()
            .any(|e| e["detail-type"] == "Cleanup Completed"),
        "{completed:#?}"
    );

    let again = invoke(&stack, json!({"apps": [app.as_str()]})).await;
    for count in [
        "deploymentsExpired",
        "deletedBranchState",
        "expiryExtended",
        "claimsExpired",
        "stuckReconciled",
        "missedIngested",
        "timedOut",
    ] {
        assert_eq!(again[count], 0, "{count} in {again}");
    }
    assert_eq!(present((1..=8).collect()).await, [2, 3, 6, 7, 8]);
}

#[tokio::test]
async fn a_stuck_build_that_succeeded_is_reconciled_once_and_checked() {
    let stack = Stack::new().await;
    let store = stack.store();
    let app = unique_app_id();
    stack.create_app(&app, "main", COMMIT).await.unwrap();
    // A quick check, so the verdict comes within the test.
    let policy = sentinel_shared::policy::BranchPolicy::parse(
        "health:\n  healthy_after: 1\n  unhealthy_after: 2\n  round_interval_ms: 200\n  version_grace_ms: 0\n",
        "test",
    )
    .unwrap();
    store.put_policy(&app, None, &policy).await.unwrap();
    let job = stack.manual_build(&app, "main", COMMIT).await.unwrap();
    stack
        .advance(&app, "main", &job, "RUNNING", false)
        .await
        .unwrap();
    stack
        .advance(&app, "main", &job, "SUCCEED", false)
        .await
        .unwrap();
    // Recorded as Started two hours ago; its end was never reported.
    let k = key(&app, "main", job.parse().unwrap());
    store
        .save_deployment(&record(&stack, k.clone(), 120, BuildStatus::Started))
        .await
        .unwrap();
    let events = stack
        .capture(
            &stack.bus,
            json!({"appId": [app.as_str()], "status": ["SUCCEED"]}),
        )
        .await
        .unwrap();

    let run = invoke(&stack, json!({"apps": [app.as_str()]})).await;
    assert_eq!(run["stuckReconciled"], 1, "{run}");
    assert_eq!(
        run["missedIngested"], 0,
        "the stuck job is not ingested twice: {run}"
    );
    let d = store.get_deployment(&k).await.unwrap().unwrap();
    assert_eq!(d.status, BuildStatus::Succeeded);
    assert_eq!(
        d.details.commit_id.as_deref(),
        Some(COMMIT),
        "enriched by GetJob"
    );

    // The health checker runs on the published "Build Succeeded".
    let checked = eventually(Duration::from_secs(60), "a health verdict", || async {
        Ok(stack
            .store()
            .get_deployment(&k)
            .await?
            .filter(|d| d.health.is_some()))
    })
    .await
    .unwrap();
    assert!(checked.health.is_some());

    let again = invoke(&stack, json!({"apps": [app.as_str()]})).await;
    assert_eq!(again["stuckReconciled"], 0, "{again}");
    assert_eq!(again["missedIngested"], 0, "{again}");
    let published = events
        .collect(1, Duration::from_secs(20), Duration::from_secs(3))
        .await
        .unwrap();
    let succeeded: Vec<&Value> = published
        .iter()
        .filter(|e| e["detail-type"] == "Build Succeeded")
        .collect();
    assert_eq!(succeeded.len(), 1, "{published:#?}");
}

#[tokio::test]
async fn a_job_no_event_reported_is_ingested_and_a_vanished_one_times_out() {
    let stack = Stack::new().await;
    let store = stack.store();
    let app = unique_app_id();
    stack.create_app(&app, "main", COMMIT).await.unwrap();
    let job = stack.manual_build(&app, "main", COMMIT).await.unwrap();
    stack
        .advance(&app, "main", &job, "FAILED", false)
        .await
        .unwrap();
    let missed = key(&app, "main", job.parse().unwrap());
    // A job Amplify never had (deleted), stuck in Started for a day.
    let vanished = key(&app, "main", 9_999);
    store
        .save_deployment(&record(&stack, vanished.clone(), DAY, BuildStatus::Started))
        .await
        .unwrap();

    let dry = invoke(&stack, json!({"dryRun": true, "apps": [app.as_str()]})).await;
    assert_eq!(dry["missedIngested"], 1, "{dry}");
    assert_eq!(dry["timedOut"], 1, "{dry}");
    assert!(
        store.get_deployment(&missed).await.unwrap().is_none(),
        "dry"
    );

    let run = invoke(&stack, json!({"apps": [app.as_str()]})).await;
    assert_eq!(run["missedIngested"], 1, "{run}");
    assert_eq!(run["timedOut"], 1, "{run}");
    let d = store
        .get_deployment(&missed)
        .await
        .unwrap()
        .expect("ingested");
    assert_eq!(d.status, BuildStatus::Failed);
    let v = store.get_deployment(&vanished).await.unwrap().unwrap();
    assert!(v.timed_out_at.is_some());
    assert_eq!(
        v.status,
        BuildStatus::Started,
        "its status is what was observed"
    );

    let again = invoke(&stack, json!({"apps": [app.as_str()]})).await;
    assert_eq!(again["missedIngested"], 0, "{again}");
    assert_eq!(again["timedOut"], 0, "{again}");
    let after = store.get_deployment(&missed).await.unwrap().unwrap();
    assert_eq!(after.event_ids, d.event_ids, "nothing applied twice");
}

#[tokio::test]
async fn a_malformed_request_is_refused_with_its_reason() {
    let stack = Stack::new().await;
    let (_, answer) = stack
        .invoke_answer("cleanup", json!({"dryRun": "please"}))
        .await;
    let message = answer["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("dryRun must be true or false"), "{answer}");
}

/// A deploy found healthy `minutes_ago` whose 3 × 5-minute bake started
/// then, `judged` steps judged and none since.
fn baking(stack: &Stack, key: DeploymentKey, minutes_ago: i64) -> Deployment {
    use sentinel_shared::health::bake::BakePolicy;
    use sentinel_shared::health::bake::reaction::plan;
    let mut d = record(stack, key, minutes_ago + 10, BuildStatus::Succeeded);
    d.details.commit_id = Some(COMMIT.into());
    let policy = BakePolicy {
        enabled: true,
        interval_minutes: 5,
        duration_minutes: 15,
        ..BakePolicy::default()
    };
    d.bake = Some(plan(
        &policy,
        None,
        Utc::now() - chrono::Duration::minutes(minutes_ago),
    ));
    d
}

/// Issue #28 item 5: a bake whose step message dead-lettered stayed
/// "running" for ever, and no one was told.
#[tokio::test]
async fn a_bake_long_past_its_end_is_concluded_inconclusive_and_alerted_once() {
    let stack = Stack::new().await;
    let store = stack.store();
    let app = unique_app_id();
    stack.create_app(&app, "main", COMMIT).await.unwrap();
    let inbox = stack
        .subscribe_alerts_where("app", app.as_str())
        .await
        .unwrap();
    // Job 1 baked a day ago and its steps stopped coming; job 2 bakes now.
    let stuck = key(&app, "main", 1);
    let baking_now = key(&app, "main", 2);
    store
        .save_deployment(&baking(&stack, stuck.clone(), DAY))
        .await
        .unwrap();
    store
        .save_deployment(&baking(&stack, baking_now.clone(), 3))
        .await
        .unwrap();

    let dry = invoke(&stack, json!({"dryRun": true, "apps": [app.as_str()]})).await;
    assert_eq!(dry["bakesConcluded"], 1, "{dry}");
    let untouched = store.get_deployment(&stuck).await.unwrap().unwrap();
    assert!(
        untouched.bake.unwrap().running(),
        "a dry run changes nothing"
    );

    let run = invoke(&stack, json!({"apps": [app.as_str()]})).await;
    assert_eq!(run["bakesConcluded"], 1, "{run}");
    let d = store.get_deployment(&stuck).await.unwrap().unwrap();
    let bake = d.bake.clone().unwrap();
    assert_eq!(
        bake.outcome,
        Some(sentinel_shared::core::bake::BakeOutcome::Inconclusive)
    );
    assert!(
        bake.reason
            .as_deref()
            .unwrap_or_default()
            .contains("never came back"),
        "{bake:?}"
    );
    assert!(
        !d.outbox.contains_key(&stuck.event_id("bake")),
        "its event went out: {:?}",
        d.outbox.keys()
    );
    let now = store.get_deployment(&baking_now).await.unwrap().unwrap();
    assert!(
        now.bake.unwrap().running(),
        "a bake within its window is left alone"
    );

    let again = invoke(&stack, json!({"apps": [app.as_str()]})).await;
    assert_eq!(again["bakesConcluded"], 0, "{again}");
    let alerts = inbox
        .collect(1, Duration::from_secs(60), Duration::from_secs(5))
        .await
        .unwrap();
    let subjects: Vec<&str> = alerts
        .iter()
        .map(|m| m["Subject"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(alerts.len(), 1, "one alert: {subjects:?}");
    assert!(subjects[0].contains("Bake inconclusive"), "{subjects:?}");
}
