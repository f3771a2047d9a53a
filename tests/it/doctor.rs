//! `sentinel doctor` and `sentinel alert test` against the local stack,
//! through the real binary and `--stack` (the settings provision.py
//! registers in CloudFormation). The doctor passes on the stack as
//! provisioned, then catches a broken wiring — a disabled rule, an e-mail
//! subscription nobody confirmed, a message in the DLQ — each with its fix,
//! and exits 1; what was broken is restored whatever happens. Other tests
//! share the stack: the breakage is made on pieces they do not use (a
//! schedule rule the local stack never fires, a subscription of this
//! test's own), and the DLQ, which they may fill too, is judged by its
//! own depth.

use std::process::Output;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::FutureExt;
use serde_json::{Value, json};

use crate::helpers::*;

fn sentinel(args: &[&str]) -> Output {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let mut command = std::process::Command::new(format!("{target}/debug/sentinel"));
    for (name, _) in std::env::vars() {
        if name.starts_with("SENTINEL_") {
            command.env_remove(name);
        }
    }
    command.args(args).output().expect("run sentinel")
}

fn stack_name() -> String {
    format!("deploy-sentinel-{}", env("SENTINEL_ENVIRONMENT"))
}

/// The doctor's report (`--json`: exactly one document) and its exit code.
fn doctor() -> (Value, i32) {
    let out = sentinel(&["--stack", &stack_name(), "doctor", "--json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "one JSON document: {e}\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.code().unwrap_or(-1))
}

fn checks(report: &Value) -> Vec<Value> {
    report["checks"].as_array().cloned().unwrap_or_default()
}

fn named(report: &Value, name: &str) -> Value {
    checks(report)
        .into_iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {report:#}"))
}

async fn dlq_depth(stack: &Stack) -> u64 {
    let out = stack
        .sqs()
        .get_queue_attributes()
        .queue_url(env("SENTINEL_DLQ_URL"))
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attributes = out.attributes.unwrap_or_default();
    [
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|k| {
        attributes
            .get(k)
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    })
    .sum()
}

/// Every check passes but the DLQ's when other tests left dead letters in
/// it; what the local stack cannot check is said, never a ✓.
async fn assert_healthy(stack: &Stack) {
    let (report, code) = doctor();
    let dlq_empty = dlq_depth(stack).await == 0;
    for c in checks(&report) {
        let may_fail = c["area"] == "dlq" && !dlq_empty;
        assert!(c["status"] != "fail" || may_fail, "{c:#}\nin {report:#}");
    }
    assert_eq!(
        named(&report, "dead-letter queue")["status"] == "pass",
        dlq_empty
    );
    assert_eq!(code, if dlq_empty { 0 } else { 1 }, "{report:#}");
    assert_eq!(report["passed"], dlq_empty);
    // Honest about the local stack: the dispatcher plays the event source
    // mappings, and no schedule fires.
    let unchecked: Vec<String> = checks(&report)
        .into_iter()
        .filter(|c| c["status"] == "unchecked")
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    // Eight event sources (the seven functions' queues and the reported
    // services' health queue) and three schedules.
    assert_eq!(unchecked.len(), 8 + 3, "{unchecked:?}");
    assert!(
        unchecked
            .iter()
            .all(|n| n.starts_with("event source ") || n.contains("Schedule"))
    );
    for name in [
        "rule AmplifyStatusRule (default bus)",
        "rule AlertRule (stack bus)",
        "archive deploy-sentinel-dev-domain-events",
        "queue deploy-sentinel-dev-alerter",
        "a confirmed subscription",
        "app dsentinel0001",
        "table deploy-sentinel-dev",
        "event bus sentinel-dev",
    ] {
        assert_eq!(named(&report, name)["status"], "pass", "{name}: {report:#}");
    }
}

#[tokio::test]
async fn doctor_passes_on_the_local_stack_and_catches_a_broken_wiring_with_its_fix() {
    // Its GitHub lines need the App installed on the watched apps' repositories.
    let _answering = GITHUB_ANSWERS.read().await;
    let stack = Stack::new().await;
    assert_healthy(&stack).await;

    // Break three pieces.
    let events = stack.events();
    let rule = format!("{}-CleanupScheduleRule", stack_name());
    let sns = aws_sdk_sns::Client::new(&stack.sdk);
    let topic = env("SENTINEL_TOPIC_ALERT_TOPIC");
    let email = format!("doctor-{}@example.com", unique_app_id());
    let marker = format!("doctor-test-{}", unique_app_id());
    let dlq = env("SENTINEL_DLQ_URL");
    events.disable_rule().name(&rule).send().await.unwrap();
    let subscription = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("email")
        .endpoint(&email)
        .return_subscription_arn(true)
        .send()
        .await
        .unwrap()
        .subscription_arn
        .unwrap();
    let attribute = |v: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .unwrap()
    };
    stack
        .sqs()
        .send_message()
        .queue_url(&dlq)
        .message_body(format!("{{\"marker\":\"{marker}\"}}"))
        .message_attributes("errorType", attribute("NonRetryable.DoctorTest"))
        .message_attributes(
            "errorMessage",
            attribute("a message the doctor test put here"),
        )
        .message_attributes(
            "sourceQueue",
            attribute("arn:aws:sqs:us-east-1:123456789012:deploy-sentinel-dev-cleanup"),
        )
        .send()
        .await
        .unwrap();

    let checked = std::panic::AssertUnwindSafe(async {
        let (report, code) = doctor();
        assert_eq!(code, 1, "{report:#}");
        assert_eq!(report["passed"], false);
        let disabled = named(&report, "rule CleanupScheduleRule (default bus)");
        assert_eq!(disabled["status"], "fail", "{disabled:#}");
        assert!(
            disabled["detail"].as_str().unwrap().contains("DISABLED"),
            "{disabled:#}"
        );
        assert!(
            disabled["fix"]
                .as_str()
                .unwrap()
                .starts_with(&format!("aws events enable-rule --name {rule}")),
            "{disabled:#}"
        );
        let pending = named(&report, &format!("subscription email {email}"));
        assert_eq!(pending["status"], "fail", "{pending:#}");
        assert!(
            pending["fix"]
                .as_str()
                .unwrap()
                .contains("Confirm subscription"),
            "{pending:#}"
        );
        let dead = named(&report, "dead-letter queue");
        assert_eq!(dead["status"], "fail", "{dead:#}");
        assert!(
            dead["detail"]
                .as_str()
                .unwrap()
                .contains("NonRetryable.DoctorTest (from deploy-sentinel-dev-cleanup)"),
            "{dead:#}"
        );
        assert!(
            dead["fix"].as_str().unwrap().contains("dlq redrive"),
            "{dead:#}"
        );
        // The same as a checklist for people.
        let out = sentinel(&["--stack", &stack_name(), "doctor"]);
        assert_eq!(out.status.code(), Some(1));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("✗ rule CleanupScheduleRule (default bus):"),
            "{text}"
        );
        assert!(text.contains("    fix: aws events enable-rule"), "{text}");
        assert!(text.contains("✓ rule AlertRule (stack bus):"), "{text}");
    })
    .catch_unwind()
    .await;

    // Restore, whatever happened.
    events.enable_rule().name(&rule).send().await.unwrap();
    sns.unsubscribe()
        .subscription_arn(&subscription)
        .send()
        .await
        .unwrap();
    remove_from_dlq(&stack, &dlq, &marker).await.unwrap();
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
    assert_healthy(&stack).await;
}

async fn remove_from_dlq(stack: &Stack, dlq: &str, marker: &str) -> Result<()> {
    let sqs = stack.sqs();
    eventually(
        Duration::from_secs(60),
        "the test's message out of the DLQ",
        || async {
            let out = sqs
                .receive_message()
                .queue_url(dlq)
                .max_number_of_messages(10)
                .visibility_timeout(2)
                .wait_time_seconds(1)
                .send()
                .await?;
            for m in out.messages.unwrap_or_default() {
                if m.body.as_deref().is_some_and(|b| b.contains(marker)) {
                    sqs.delete_message()
                        .queue_url(dlq)
                        .receipt_handle(m.receipt_handle.context("receipt")?)
                        .send()
                        .await?;
                    return Ok(Some(()));
                }
            }
            Ok(None)
        },
    )
    .await
}

#[tokio::test]
async fn a_test_alert_arrives_through_the_real_path_marked_and_opens_no_incident() {
    let stack = Stack::new().await;
    let branch = format!("alert-test-{}", unique_app_id());
    let inbox = stack.subscribe_alerts(&branch).await.unwrap();
    let out = sentinel(&[
        "--stack",
        &stack_name(),
        "alert",
        "test",
        "--branch",
        &branch,
        "--by",
        "doctor-test",
        "--json",
    ]);
    let sent: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(sent["detailType"], "Alert Test");
    assert_eq!(
        sent["app"], "dsentinel0001",
        "the stack's first watched app"
    );
    let got = inbox
        .collect(1, Duration::from_secs(90), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(got.len(), 1, "one message: {got:#?}");
    let message = &got[0];
    let subject = message["Subject"].as_str().unwrap_or_default();
    assert!(subject.contains("[test]"), "{message:#}");
    assert!(subject.contains(&branch), "{message:#}");
    assert_eq!(message["MessageAttributes"]["category"]["Value"], "test");
    assert_eq!(message["MessageAttributes"]["event"]["Value"], "Alert Test");
    let body = message["Message"].as_str().unwrap_or_default();
    assert!(body.contains("doctor-test"), "{body}");
    // No incident: the branch's alert state has nothing open or resolved.
    use sentinel_shared::alert::ports::AlertStore;
    let state = stack
        .store()
        .get_alert_state(&"dsentinel0001".parse().unwrap(), &branch.parse().unwrap())
        .await
        .unwrap()
        .expect("the alert state recorded the test");
    assert!(
        state.open.is_empty() && state.resolved.is_empty(),
        "{state:?}"
    );
    // A branch outside the watch scope is refused before anything is sent.
    let out = sentinel(&[
        "--stack",
        &stack_name(),
        "alert",
        "test",
        "--branch",
        "unwatched/x",
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("outside the stack's watch scope"),
        "{out:?}"
    );
}

/// The GitHub emulator's installation (its control API), for doctor's
/// GitHub checks.
async fn installations(body: Value) {
    let url = format!("{}/_emulator/installations", env("GITHUB_API_URL"));
    let resp = reqwest::Client::new()
        .put(&url)
        .json(&body)
        .send()
        .await
        .expect("the GitHub emulator");
    assert!(resp.status().is_success(), "PUT {url}: {}", resp.status());
}

#[tokio::test]
async fn doctor_checks_the_github_app_is_installed_with_its_permissions_on_each_app() {
    // It uninstalls the App from a watched app's repository and takes a
    // permission away for a moment: no test needing them runs meanwhile.
    let _changing = GITHUB_ANSWERS.write().await;
    let _stack = Stack::new().await;
    let name = "GitHub dsentinel0001 (sentinel-local/dsentinel0001)";
    let (report, _) = doctor();
    let app = named(&report, "GitHub App");
    assert_eq!(app["area"], "github");
    assert_eq!(app["status"], "pass", "{app:#}");
    let installed = named(&report, name);
    assert_eq!(installed["status"], "pass", "{installed:#}");

    // Not installed on the app's repository, then a permission missing;
    // restored whatever happens (other tests use the App).
    let all = json!({"checks": "write", "statuses": "write", "deployments": "write",
                     "pull_requests": "write", "contents": "read", "metadata": "read"});
    let checked = std::panic::AssertUnwindSafe(async {
        installations(json!({"repo": "sentinel-local/dsentinel0001", "installed": false})).await;
        let (report, code) = doctor();
        installations(json!({"repo": "sentinel-local/dsentinel0001", "installed": true})).await;
        let missing = named(&report, name);
        assert_eq!(missing["status"], "fail", "{missing:#}");
        assert!(
            missing["fix"]
                .as_str()
                .unwrap()
                .contains("install the App on sentinel-local/dsentinel0001"),
            "{missing:#}"
        );
        assert_eq!(code, 1);

        let mut fewer = all.clone();
        fewer["pull_requests"] = json!("read");
        installations(json!({ "permissions": fewer })).await;
        let (report, _) = doctor();
        installations(json!({ "permissions": all })).await;
        let lacking = named(&report, name);
        assert_eq!(lacking["status"], "fail", "{lacking:#}");
        assert!(
            lacking["detail"]
                .as_str()
                .unwrap()
                .contains("pull_requests: write (has read)"),
            "{lacking:#}"
        );
    })
    .catch_unwind()
    .await;
    installations(json!({"repo": "sentinel-local/dsentinel0001", "installed": true})).await;
    installations(json!({ "permissions": all })).await;
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
}
