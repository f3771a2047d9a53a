//! Through the real binary: the emulator plays a build and emits Amplify's
//! events to moto's default bus; the template's rule routes them to the
//! ingest queue; the dispatcher invokes `build-event-handler` under
//! `cargo lambda watch`; the record lands in DynamoDB and the domain events on
//! the stack's bus.

use std::time::Duration;

use sentinel_shared::core::deployment::DeploymentKey;
use sentinel_shared::core::model::{AppId, BuildStatus, JobId};
use sentinel_shared::policy::PolicyStore;
use sentinel_shared::ports::DeploymentStore;
use serde_json::{Value, json};

use crate::helpers::*;

/// One of the app ids the local stack's rule watches (`AmplifyAppIds`).
pub fn watched_app() -> AppId {
    "dsentinel0002".parse().unwrap()
}

pub async fn ensure_watched_app(stack: &Stack, branch: &str, commit: &str) {
    let app = watched_app();
    // The app may exist from an earlier test run against the same stack.
    let _ = stack
        .control(
            "/apps",
            json!({"appId": app.as_str(), "name": "watched", "platform": "WEB_COMPUTE"}),
        )
        .await;
    stack
        .control(
            &format!("/apps/{app}/branches"),
            json!({"branchName": branch, "stage": "PRODUCTION",
                   "headCommit": {"commitId": commit, "commitMessage": "feat: e2e"}}),
        )
        .await
        .unwrap();
}

/// Asks the Amplify emulator for a build of the watched app's `branch`
/// (`body` says how it goes: commit, outcome, log, step delay); its job.
pub async fn watched_build(stack: &Stack, branch: &str, body: Value) -> JobId {
    let out = stack
        .control(
            &format!("/apps/{}/branches/{}/builds", watched_app(), encode(branch)),
            body,
        )
        .await
        .unwrap();
    out["jobSummary"]["jobId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Stores `yaml` as the policy of the watched app's `branch`.
pub async fn put_watched_policy(stack: &Stack, branch: &str, yaml: &str) {
    let policy = sentinel_shared::policy::BranchPolicy::parse(yaml, "test").unwrap();
    stack
        .store()
        .put_policy(&watched_app(), Some(&branch.parse().unwrap()), &policy)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_played_build_is_recorded_and_announced_through_the_real_binary() {
    let stack = Stack::new().await;
    let branch = format!("e2e-{}", unique_app_id());
    let commit = "e2e0000000000000000000000000000000000001";
    ensure_watched_app(&stack, &branch, commit).await;
    let capture = stack
        .capture(&stack.bus, json!({"branchName": [branch.as_str()]}))
        .await
        .unwrap();

    let out = stack
        .control(
            &format!(
                "/apps/{}/branches/{}/builds",
                watched_app(),
                encode(&branch)
            ),
            json!({"commitId": commit, "commitMessage": "feat: e2e", "outcome": "SUCCEED",
                   "mode": "auto", "emit": true, "stepDelayMs": 200}),
        )
        .await
        .unwrap();
    let job = out
        .pointer("/job/summary/jobId")
        .or_else(|| out.pointer("/jobSummary/jobId"))
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();

    let key = DeploymentKey {
        app_id: watched_app(),
        branch_name: branch.parse().unwrap(),
        job_id: job.parse().unwrap(),
    };
    let store = stack.store();
    let record = eventually(
        Duration::from_secs(90),
        "the record to reach SUCCEED",
        || async {
            Ok(store
                .get_deployment(&key)
                .await?
                .filter(|d| d.status == BuildStatus::Succeeded && d.transitions.len() == 2))
        },
    )
    .await
    .unwrap();
    assert_eq!(record.details.commit_id.as_deref(), Some(commit));

    let events = capture
        .collect(3, Duration::from_secs(30), Duration::from_secs(2))
        .await
        .unwrap();
    // The validator's verdict travels on the same bus; only the build's own
    // events are counted here.
    let types: Vec<&str> = events
        .iter()
        .filter_map(|e| e["detail-type"].as_str())
        .filter(|t| t.starts_with("Build "))
        .collect();
    assert_eq!(types.len(), 2, "{events:?}");
    assert!(
        types.contains(&"Build Started") && types.contains(&"Build Succeeded"),
        "{types:?}"
    );
}

#[tokio::test]
async fn the_binary_rejects_a_malformed_event_as_non_retryable() {
    let endpoint = env("SENTINEL_LAMBDA_ENDPOINT");
    let raw = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../events/amplify-malformed-no-detail.json"),
    )
    .unwrap();
    let resp = reqwest::Client::new()
        .post(format!(
            "{endpoint}/2015-03-31/functions/build-event-handler/invocations"
        ))
        .body(raw)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errorType"], "NonRetryable.Event", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("detail is missing"),
        "{body}"
    );
}

#[tokio::test]
async fn a_malformed_event_on_the_bus_lands_in_the_dead_letter_queue_once() {
    let stack = Stack::new().await;
    let marker = format!("malformed-{}", unique_app_id());
    // Passes the rule's pattern (watched app) but its jobId is not a job id.
    stack
        .events()
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source("aws.amplify")
                .detail_type("Amplify Deployment Status Change")
                .detail(
                    json!({"appId": watched_app().as_str(), "branchName": marker,
                           "jobId": "not-a-number", "jobStatus": "STARTED"})
                    .to_string(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let sqs = stack.sqs();
    let dlq = env("SENTINEL_DLQ_URL");
    let found = eventually(Duration::from_secs(90), "the event in the DLQ", || async {
        let out = sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .visibility_timeout(0)
            .wait_time_seconds(1)
            .send()
            .await?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.body.as_deref().is_some_and(|b| b.contains(&marker))))
    })
    .await
    .unwrap();
    let attrs = found.message_attributes.unwrap_or_default();
    let error_type = attrs.get("errorType").and_then(|a| a.string_value.clone());
    assert_eq!(error_type.as_deref(), Some("NonRetryable.Event"));
    let message = attrs
        .get("errorMessage")
        .and_then(|a| a.string_value.clone())
        .unwrap_or_default();
    assert!(message.contains("detail.jobId"), "{message}");
}
