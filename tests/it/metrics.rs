//! The metrics collector through the real binary and moto's DynamoDB: the
//! window read goes through the environment-and-time index and reads only
//! the window's items; the scheduled run stores the figures and publishes
//! each early warning once; `sentinel metrics` prints the same figures;
//! events are counted once; a malformed event lands in the DLQ.
//!
//! Histories are written in the past (1980–2020, each test its own
//! window) so the environment's live records of the other tests stay out of
//! the windows (moto does not expire items by TTL).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sentinel_shared::adapters::dynamodb::DynamoStore;
use sentinel_shared::core::deployment::{Deployment, DeploymentKey, HealthRecord};
use sentinel_shared::core::model::{AppId, BuildStatus, JobId};
use sentinel_shared::health::Verdict;
use sentinel_shared::ports::{DeploymentStore, MetricsStore};
use serde_json::{Value, json};

use crate::helpers::*;

fn store(stack: &Stack) -> DynamoStore {
    DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        &stack.table,
        3650,
    )
}

/// A past instant of this test run's own: noon of a random day of
/// 1980–2015 (noon, so that the same day's second run is the same day;
/// random, so that runs on a long-lived local stack do not share windows).
fn past_instant() -> DateTime<Utc> {
    let n: u64 = unique_app_id()
        .as_str()
        .bytes()
        .fold(17, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    Utc.with_ymd_and_hms(1980, 1, 1, 12, 0, 0).unwrap()
        + chrono::Duration::days((n % (35 * 365)) as i64)
}

fn record(
    stack: &Stack,
    app: &AppId,
    job: u64,
    start: DateTime<Utc>,
    minutes: i64,
    status: BuildStatus,
) -> Deployment {
    let key = DeploymentKey {
        app_id: app.clone(),
        branch_name: "main".parse().unwrap(),
        job_id: JobId::new(job),
    };
    let mut d = Deployment::new(key, stack.environment());
    d.status = status.clone();
    d.details.start_time = Some(start);
    d.details.end_time = Some(start + chrono::Duration::minutes(minutes));
    d.details.commit_time = Some(start - chrono::Duration::hours(1));
    if status == BuildStatus::Succeeded {
        d.health = Some(HealthRecord {
            verdict: Verdict::Healthy,
            reason: String::new(),
            url: String::new(),
            checked_at: start + chrono::Duration::minutes(minutes + 1),
            rounds: 2,
            endpoints: vec![],
        });
    }
    d
}

async fn save_all(store: &DynamoStore, records: &[Deployment]) {
    let writes = records.iter().map(|d| store.save_deployment(d));
    for result in futures::future::join_all(writes).await {
        result.unwrap();
    }
}

#[tokio::test]
async fn the_window_read_touches_only_the_windows_items() {
    let stack = Stack::new().await;
    let store = store(&stack);
    let app = unique_app_id();
    // 600 builds over 2020, one every 14.6 hours; the window is June.
    let year = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    let records: Vec<Deployment> = (0..600)
        .map(|i| {
            let start = year + chrono::Duration::minutes(i * 876);
            record(&stack, &app, i as u64 + 1, start, 5, BuildStatus::Succeeded)
        })
        .collect();
    save_all(&store, &records).await;
    let (from, to) = (
        Utc.with_ymd_and_hms(2020, 6, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2020, 7, 1, 0, 0, 0).unwrap(),
    );
    let ours_inside = records
        .iter()
        .filter(|d| d.started_at().is_some_and(|t| t >= from && t < to))
        .count();
    assert!(ours_inside > 40 && ours_inside < 60, "{ours_inside}");

    let read = store
        .deployments_between(stack.environment(), from, to)
        .await
        .unwrap();
    assert_eq!(
        read.items_read,
        read.deployments.len(),
        "every item read is in the window: no scan, no filter"
    );
    assert!(
        read.deployments
            .iter()
            .all(|d| d.started_at().is_some_and(|t| t >= from && t < to))
    );
    let ours: Vec<&Deployment> = read
        .deployments
        .iter()
        .filter(|d| d.key.app_id == app)
        .collect();
    assert_eq!(
        ours.len(),
        ours_inside,
        "all of ours in the window, none outside"
    );
}

fn scheduled(at: DateTime<Utc>) -> Value {
    json!({
        "version": "0", "id": format!("sched-{}", unique_app_id()),
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": at.to_rfc3339(), "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/deploy-sentinel-dev-MetricsScheduleRule"],
        "detail": {}
    })
}

async fn invoke(stack: &Stack, payload: &Value) -> Value {
    let endpoint = format!(
        "{}/2015-03-31/functions/metrics-collector/invocations",
        env("SENTINEL_LAMBDA_ENDPOINT")
    );
    let answer = stack
        .http
        .post(&endpoint)
        .json(payload)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    assert!(status.is_success(), "{body}");
    body
}

#[tokio::test]
async fn the_scheduled_run_stores_figures_and_warns_once() {
    let stack = Stack::new().await;
    let store = store(&stack);
    let app = unique_app_id();
    let now = past_instant();
    let h = |hours: i64| now - chrono::Duration::hours(hours);
    // 4 good deploys over the week before, then 3 failures in the last day.
    let mut records: Vec<Deployment> = (1..=4)
        .map(|n| {
            record(
                &stack,
                &app,
                n,
                h(24 * (n as i64 + 1)),
                6,
                BuildStatus::Succeeded,
            )
        })
        .collect();
    records
        .extend((5..=7).map(|n| record(&stack, &app, n, h(12 - n as i64), 6, BuildStatus::Failed)));
    // Outside every window.
    records.push(record(
        &stack,
        &app,
        0,
        h(24 * 60),
        6,
        BuildStatus::Succeeded,
    ));
    save_all(&store, &records).await;
    let warnings = stack
        .capture(
            &stack.bus,
            json!({"appId": [app.as_str()], "condition": [{"exists": true}]}),
        )
        .await
        .unwrap();

    let first = invoke(&stack, &scheduled(now)).await;
    assert_eq!(first["itemsRead"], 7, "{first}");
    assert_eq!(first["figures"][0]["windowDays"], 1);
    assert_eq!(first["figures"][0]["builds"], 3);
    assert_eq!(first["figures"][2]["deployments"], 4);
    let mut published: Vec<String> =
        serde_json::from_value(first["warningsPublished"].clone()).unwrap();
    published.sort();
    assert_eq!(published, ["consecutive-failures", "failure-rate-rising"]);

    let snapshot = store
        .latest_snapshot(stack.environment(), 30)
        .await
        .unwrap()
        .expect("the 30-day snapshot");
    assert_eq!(snapshot.to, now);
    assert_eq!((snapshot.builds_succeeded, snapshot.builds_failed), (4, 3));

    // The same hour again: nothing new is published.
    let again = invoke(&stack, &scheduled(now + chrono::Duration::minutes(5))).await;
    assert_eq!(again["warningsPublished"], json!([]));
    assert_eq!(again["warningsKnown"], 2);
    let events = warnings
        .collect(2, Duration::from_secs(30), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(
        events
            .iter()
            .all(|e| e["detail-type"] == "Degradation Detected")
    );

    // `sentinel metrics` computes the same figures from the table.
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let out = std::process::Command::new(format!("{target}/debug/sentinel"))
        .args([
            "metrics",
            "--window",
            "30d",
            "--json",
            "--at",
            &now.to_rfc3339(),
        ])
        .output()
        .expect("run sentinel");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: sentinel_shared::metrics::dora::Figures =
        serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, snapshot);
    let text = std::process::Command::new(format!("{target}/debug/sentinel"))
        .args(["metrics", "--window", "7d", "--at", &now.to_rfc3339()])
        .output()
        .expect("run sentinel");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Change failure rate"), "{text}");
    assert!(text.contains("3 failed"), "{text}");

    // Per branch, from the same table: another branch's failed build counts
    // for the app, not for main.
    let mut other = record(&stack, &app, 8, h(3), 6, BuildStatus::Failed);
    other.key.branch_name = "develop".parse().unwrap();
    save_all(&store, &[other]).await;
    let figures = |args: &[&str]| -> Value {
        let out = std::process::Command::new(format!("{target}/debug/sentinel"))
            .args([
                "metrics",
                "--window",
                "30d",
                "--json",
                "--at",
                &now.to_rfc3339(),
            ])
            .args(args)
            .output()
            .expect("run sentinel");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let main = figures(&["--app", app.as_str(), "--branch", "main"]);
    assert_eq!(main["branch"], "main");
    assert_eq!(
        (&main["buildsSucceeded"], &main["buildsFailed"]),
        (&json!(4), &json!(3))
    );
    let whole_app = figures(&["--app", app.as_str()]);
    assert_eq!(whole_app["buildsFailed"], 4, "{whole_app}");
    let develop = figures(&["--app", app.as_str(), "--branch", "develop"]);
    assert_eq!(
        (&develop["builds"], &develop["deployments"]),
        (&json!(1), &json!(0))
    );
}

#[tokio::test]
async fn a_build_is_counted_once_and_a_malformed_event_is_dead_lettered() {
    let stack = Stack::new().await;
    let app = unique_app_id();
    let event_id = format!("{app}/main/0000000001/SUCCEED");
    let event = json!({
        "version": "0", "id": format!("eb-{app}"), "source": "sentinel", "detail-type": "Build Succeeded",
        "detail": {"eventId": event_id, "environment": stack.environment().to_string(),
                   "appId": app.as_str(), "branchName": "main", "jobId": "1", "status": "SUCCEED",
                   "commitId": "abc1234", "commitMessage": "m", "commitTime": "2026-11-20T10:00:00Z",
                   "jobType": "RELEASE", "startTime": "2026-11-20T10:05:00Z",
                   "endTime": "2026-11-20T10:09:00Z", "durationSeconds": 240,
                   "isRollback": false, "rollbackOf": null}
    });
    let first = invoke(&stack, &event).await;
    assert_eq!(first, json!({"lines": 1, "duplicate": false}));
    let second = invoke(&stack, &event).await;
    assert_eq!(second, json!({"lines": 0, "duplicate": true}));

    // Through the queue, as EventBridge delivers: a detail without its job.
    let marker = format!("bad-{app}");
    stack
        .send_to_queue(
            "SENTINEL_QUEUE_METRICS_QUEUE",
            json!({"id": marker, "source": "sentinel", "detail-type": "Build Succeeded",
                   "detail": {"eventId": marker, "appId": app.as_str()}})
            .to_string(),
        )
        .await;
    let (error_type, message) = dead_letter_reason(&stack, &marker).await;
    assert_eq!(error_type, "NonRetryable.Event");
    assert!(message.contains("Build Succeeded detail"), "{message}");
}
