//! The watch scope through the real binaries: the local stack watches every
//! branch but `unwatched/*` (`WatchedBranches`), so a branch of that name on
//! a watched app is never recorded, reconciled, checked, alerted or rolled
//! back — while a watched branch beside it, built at the same time, is.

use std::time::Duration;

use sentinel_shared::core::deployment::{Deployment, DeploymentKey, HealthRecord};
use sentinel_shared::core::model::BuildStatus;
use sentinel_shared::core::verdicts::Verdict;
use sentinel_shared::ports::{DeploymentFilter, DeploymentStore};
use serde_json::{Value, json};

use crate::end_to_end::{ensure_watched_app, watched_app};
use crate::helpers::*;

const COMMIT: &str = "5c0b5c0b5c0b5c0b5c0b5c0b5c0b5c0b5c0b5c0b";

async fn failed_build(stack: &Stack, branch: &str) -> String {
    let out = stack
        .control(
            &format!("/apps/{}/branches/{}/builds", watched_app(), encode(branch)),
            json!({"commitId": COMMIT, "outcome": "FAILED", "mode": "auto", "emit": true, "stepDelayMs": 50}),
        )
        .await
        .unwrap();
    out["jobSummary"]["jobId"].as_str().unwrap().to_owned()
}

/// A domain event about `branch`, straight into a function's queue.
async fn deliver(stack: &Stack, queue: &str, detail_type: &str, branch: &str, job: &str) {
    let detail = json!({
        "eventId": format!("{}/{branch}/{job:0>10}/scope-test", watched_app()),
        "environment": stack.environment().as_str(), "appId": watched_app().as_str(),
        "branchName": branch, "jobId": job, "commitId": COMMIT, "verdict": "unhealthy",
        "reason": "status 500", "url": "http://127.0.0.1:9/", "endpoints": [],
        "isRollback": false, "rollbackOf": null, "scheduled": false, "rollbackAllowed": true,
    });
    let envelope = json!({"version": "0", "id": format!("scope-{job}-{detail_type}"),
        "source": "sentinel", "detail-type": detail_type, "account": "123456789012",
        "time": "2026-11-27T07:00:00Z", "region": "us-east-1", "resources": [], "detail": detail});
    stack.send_to_queue(queue, &envelope.to_string()).await;
}

/// The health checker's unhealthy verdict on the job, through the real
/// store, as it writes it before it publishes.
async fn record_unhealthy(stack: &Stack, key: &DeploymentKey) {
    let mut d = Deployment::new(key.clone(), stack.environment());
    d.details.commit_id = Some(COMMIT.into());
    d.health = Some(HealthRecord {
        verdict: Verdict::Unhealthy,
        reason: "status 500".into(),
        url: "http://127.0.0.1:9/".into(),
        checked_at: chrono::Utc::now(),
        rounds: 2,
        endpoints: Vec::new(),
    });
    stack.store().save_deployment(&d).await.unwrap();
}

fn skips_of(branch: &str) -> usize {
    let log = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/lambda.log"),
    )
    .unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("outside the watch scope") && l.contains(branch))
        .count()
}

#[tokio::test]
async fn an_unwatched_branch_is_never_recorded_reconciled_checked_alerted_or_rolled_back() {
    let stack = Stack::new().await;
    let id = unique_app_id();
    let unwatched = format!("unwatched/{id}");
    let watched = format!("scoped-{id}");
    ensure_watched_app(&stack, &unwatched, COMMIT).await;
    ensure_watched_app(&stack, &watched, COMMIT).await;
    let alerts = stack.subscribe_alerts(&unwatched).await.unwrap();
    let events = stack
        .capture(&stack.bus, json!({"branchName": [unwatched.as_str()]}))
        .await
        .unwrap();

    let job = failed_build(&stack, &unwatched).await;
    let control = failed_build(&stack, &watched).await;
    // The watched branch's build is recorded: the events were delivered.
    let store = stack.store();
    let key = |branch: &str, job: &str| DeploymentKey {
        app_id: watched_app(),
        branch_name: branch.parse().unwrap(),
        job_id: job.parse().unwrap(),
    };
    let watched_key = key(&watched, &control);
    eventually(
        Duration::from_secs(90),
        "the watched build's record",
        || async {
            Ok(store
                .get_deployment(&watched_key)
                .await?
                .filter(|d| d.status == BuildStatus::Failed))
        },
    )
    .await
    .unwrap();

    // The daily reconciliation walks the app's branches: not this one.
    stack
        .invoke("cleanup", json!({"apps": [watched_app().as_str()]}))
        .await;
    // Ingest said twice why it did nothing (STARTED, FAILED); the
    // reconciliation recorded nothing either.
    eventually(Duration::from_secs(60), "ingest's two skips", || async {
        Ok((skips_of(&unwatched) >= 2).then_some(()))
    })
    .await
    .unwrap();
    assert_eq!(
        store.get_deployment(&key(&unwatched, &job)).await.unwrap(),
        None
    );
    let listed = store
        .list_deployments(
            stack.environment(),
            &DeploymentFilter {
                app_id: Some(watched_app()),
                branch_name: Some(unwatched.parse().unwrap()),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");

    // Domain events about it, as if something had published them, with
    // the unhealthy verdict recorded as the health checker would (the
    // rollback acts on the record, not on the event): only the watch
    // scope keeps them from being acted on.
    record_unhealthy(&stack, &key(&unwatched, &job)).await;
    for (queue, detail_type) in [
        ("SENTINEL_QUEUE_ALERTER_QUEUE", "Deployment Unhealthy"),
        ("SENTINEL_QUEUE_ROLLBACK_QUEUE", "Deployment Unhealthy"),
        ("SENTINEL_QUEUE_HEALTH_CHECK_QUEUE", "Build Succeeded"),
    ] {
        deliver(&stack, queue, detail_type, &unwatched, &job).await;
    }
    // Each function said why it did nothing: ingest twice, then the
    // alerter, the rollback and the health checker.
    eventually(Duration::from_secs(60), "five skips in the log", || async {
        Ok((skips_of(&unwatched) >= 5).then_some(()))
    })
    .await
    .unwrap();
    let record = store
        .get_deployment(&key(&unwatched, &job))
        .await
        .unwrap()
        .expect("the record the test wrote");
    assert!(
        record.outbox.is_empty() && record.observed.is_empty(),
        "{record:?}"
    );
    let published = events
        .collect(0, Duration::from_secs(1), Duration::from_secs(3))
        .await
        .unwrap();
    assert!(published.is_empty(), "{published:#?}");
    let sent = alerts
        .collect(0, Duration::from_secs(1), Duration::from_secs(2))
        .await
        .unwrap();
    assert!(sent.is_empty(), "{sent:#?}");
    let calls = stack.amplify_calls().await;
    let touched: Vec<&Value> = calls
        .iter()
        .filter(|c| c["params"]["branchName"] == unwatched.as_str())
        .filter(|c| c["operation"] != "GetBranch" && c["operation"] != "CreateBranch")
        .collect();
    assert!(touched.is_empty(), "Amplify was acted on: {touched:#?}");
}
