//! The alerter through the real binaries: a build fails on the emulator →
//! the alerter reads the failed step's log from its pre-signed URL,
//! diagnoses it and publishes one alert on the SNS topic (a queue
//! subscribed with a filter policy receives it); duplicates, repeats and
//! recovery behave as one incident.

use std::time::Duration;

use sentinel_shared::core::deployment::DeploymentKey;
use sentinel_shared::ports::DeploymentStore;
use serde_json::{Value, json};

use crate::end_to_end::{ensure_watched_app, watched_app, watched_build};
use crate::helpers::*;

const COMMIT: &str = "a1e47a1e47a1e47a1e47a1e47a1e47a1e47a1e47";

/// A log in Amplify's shape whose cause is a lockfile out of sync.
fn lockfile_log() -> Vec<&'static str> {
    vec![
        "# Starting phase: preBuild",
        "# Executing command: npm ci",
        "npm ERR! code EUSAGE",
        "npm ERR! `npm ci` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync. Please update your lock file with `npm install` before continuing.",
        "npm ERR! Missing: zod@3.22.4 from lock file",
        "!!! Build failed",
        "!!! Error: Command failed with exit code 1",
        "Terminating logging...",
    ]
}

async fn build(
    stack: &Stack,
    branch: &str,
    outcome: &str,
    log: Option<Vec<&str>>,
) -> DeploymentKey {
    let mut body = json!({"commitId": COMMIT, "commitMessage": "feat: pricing", "outcome": outcome,
                          "mode": "auto", "emit": true, "stepDelayMs": 50});
    if let Some(log) = log {
        body["log"] = json!(log);
    }
    let job = watched_build(stack, branch, body).await;
    DeploymentKey {
        app_id: watched_app(),
        branch_name: branch.parse().unwrap(),
        job_id: job,
    }
}

/// The alert as SNS delivered it to SQS: (subject, attributes, chat JSON).
fn parts(m: &Value) -> (String, Value, Value) {
    let subject = m["Subject"].as_str().unwrap_or_default().to_owned();
    let attributes = m["MessageAttributes"].clone();
    let chat = serde_json::from_str(m["Message"].as_str().unwrap_or("{}")).unwrap_or(Value::Null);
    (subject, attributes, chat)
}

async fn diagnosed(
    stack: &Stack,
    key: &DeploymentKey,
) -> sentinel_shared::core::deployment::Deployment {
    let store = stack.store();
    eventually(Duration::from_secs(90), "the diagnosis", || async {
        Ok(store
            .get_deployment(key)
            .await?
            .filter(|d| d.diagnosis.is_some()))
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_failed_build_sends_one_alert_with_the_cause_and_the_fix_even_delivered_twice() {
    let stack = Stack::new().await;
    let branch = format!("al-{}", unique_app_id());
    ensure_watched_app(&stack, &branch, COMMIT).await;
    let inbox = stack.subscribe_alerts(&branch).await.unwrap();
    let failed = stack
        .capture(
            &stack.bus,
            json!({"branchName": [branch.as_str()], "status": ["FAILED"]}),
        )
        .await
        .unwrap();
    let key = build(&stack, &branch, "FAILED", Some(lockfile_log())).await;

    let alerts = inbox
        .collect(1, Duration::from_secs(90), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let (subject, attributes, chat) = parts(&alerts[0]);
    assert!(
        subject.contains("Build failed (lockfile-out-of-sync)"),
        "{subject}"
    );
    assert!(subject.len() <= 100);
    assert_eq!(attributes["category"]["Value"], "lockfile-out-of-sync");
    assert_eq!(
        attributes["environment"]["Value"],
        stack.environment().to_string()
    );
    assert_eq!(chat["version"], "1.0");
    assert_eq!(chat["source"], "custom");
    let steps = chat["content"]["nextSteps"].to_string();
    assert!(steps.contains("npm install"), "the fix: {steps}");
    assert!(
        chat["content"]["description"]
            .as_str()
            .unwrap()
            .contains("Missing: zod")
    );

    let record = diagnosed(&stack, &key).await;
    let diagnosis = record.diagnosis.unwrap();
    assert_eq!(diagnosis.category, "lockfile-out-of-sync");
    assert_eq!(diagnosis.evidence[0].line, 4);

    // The same "Build Failed" again, straight into the alerter's queue.
    let events = failed
        .collect(1, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    let build_failed = events
        .iter()
        .find(|e| e["detail-type"] == "Build Failed")
        .expect("Build Failed");
    stack
        .send_to_queue("SENTINEL_QUEUE_ALERTER_QUEUE", &build_failed.to_string())
        .await;
    let again = inbox
        .collect(1, Duration::from_secs(8), Duration::from_secs(1))
        .await
        .unwrap();
    assert!(
        again.is_empty(),
        "a duplicate sent a second alert: {again:#?}"
    );
}

#[tokio::test]
async fn three_failures_are_one_incident_and_recovery_sends_one_resolve_notice() {
    let stack = Stack::new().await;
    let branch = format!("ar-{}", unique_app_id());
    ensure_watched_app(&stack, &branch, COMMIT).await;
    let inbox = stack.subscribe_alerts(&branch).await.unwrap();
    let store = stack.store();
    for _ in 0..3 {
        // The emulator's default failing log: the heap runs out.
        let key = build(&stack, &branch, "FAILED", None).await;
        let record = diagnosed(&stack, &key).await;
        assert_eq!(record.diagnosis.unwrap().category, "node-heap-oom");
    }
    let alerts = inbox
        .collect(1, Duration::from_secs(30), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1, "three failures, one incident: {alerts:#?}");
    assert!(parts(&alerts[0]).0.contains("node-heap-oom"));

    let ok = build(&stack, &branch, "SUCCEED", None).await;
    eventually(Duration::from_secs(60), "the success recorded", || async {
        Ok(store
            .get_deployment(&ok)
            .await?
            .filter(|d| d.status.is_terminal()))
    })
    .await
    .unwrap();
    let resolved = inbox
        .collect(1, Duration::from_secs(60), Duration::from_secs(5))
        .await
        .unwrap();
    let subjects: Vec<String> = resolved.iter().map(|m| parts(m).0).collect();
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert!(
        subjects[0].contains("RESOLVED build:node-heap-oom"),
        "{subjects:?}"
    );
    let (_, attributes, chat) = parts(&resolved[0]);
    assert_eq!(attributes["severity"]["Value"], "info");
    assert!(
        chat["content"]["description"]
            .as_str()
            .unwrap()
            .contains("3 occurrences"),
        "{chat}"
    );
}

#[tokio::test]
async fn a_malformed_domain_event_goes_to_the_dead_letter_queue_with_its_reason() {
    let stack = Stack::new().await;
    let marker = format!("bad-{}", unique_app_id());
    // Published on the stack's bus, so the alert rule routes it: a
    // "Deployment Unhealthy" whose detail lacks the verdict and the job.
    stack
        .events()
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source("sentinel")
                .detail_type("Deployment Unhealthy")
                .event_bus_name(&stack.bus)
                .detail(json!({"eventId": marker, "appId": watched_app().as_str(), "branchName": "main"}).to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (error_type, message) = dead_letter_reason(&stack, &marker).await;
    assert_eq!(error_type, "NonRetryable.Event");
    assert!(message.contains("Deployment Unhealthy detail"), "{message}");
}
