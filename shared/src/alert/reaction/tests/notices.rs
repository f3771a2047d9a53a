//! Rollback notices, observe mode's "would have", and an unhealthy reason
//! too long for SNS.

use super::*;

#[tokio::test]
async fn rollback_notices_are_sent_once_each() {
    let w = World::new();
    let event = |t: &str| {
        json!({
        "id": "r", "source": "sentinel", "detail-type": t,
        "detail": {"eventId": format!("d1abc/main/rb/{t}"), "environment": "prod", "appId": "d1abc", "branchName": "main",
                   "fromJobId": "12", "rollbackJobId": "13", "targetJobId": "11", "targetCommitId": "abc123", "reason": "Deployment Unhealthy"}
    }).to_string()
    };
    for t in ["Rollback Started", "Rollback Started", "Rollback Failed"] {
        w.deliver(&event(t)).await;
    }
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].attributes["severity"], "critical");
    assert!(
        sent[0].subject.contains("Rollback started"),
        "{}",
        sent[0].subject
    );
}

#[tokio::test]
async fn observe_mode_alerts_say_would_have_and_one_failure_makes_one_message() {
    let w = World::new();
    let observed = |action: &str, summary: &str| {
        json!({
        "id": format!("o-{action}"), "source": "sentinel", "detail-type": "Action Observed",
        "detail": {"eventId": format!("d1abc/main/0000000012/observed-{action}"), "environment": "prod", "appId": "d1abc",
                   "branchName": "main", "jobId": "12", "commitId": "abc123", "action": action, "summary": summary,
                   "targetJobId": "11", "command": "sentinel rollback --app d1abc --branch main --to 11"}
    }).to_string()
    };
    let rollback = observed(
        "rollback",
        "would have rolled back to job 11: Deployment Unhealthy",
    );
    for _ in 0..2 {
        w.deliver(&rollback).await;
    }
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 1, "once");
    assert!(
        sent[0].subject.contains("Would have rolled back"),
        "{}",
        sent[0].subject
    );
    assert!(
        sent[0]
            .email
            .contains("Sentinel would have rolled back to job 11")
    );
    assert!(
        sent[0]
            .email
            .contains("Run: sentinel rollback --app d1abc --branch main --to 11")
    );
    assert!(sent[0].email.contains("enforcement: enforce"));
    // A stop is told by its Validation Failed alert, not twice.
    let stop = w
        .deliver(&observed(
            "stop-build",
            "would have stopped this build: 1 error(s)",
        ))
        .await;
    assert_eq!(
        (stop.sent, stop.decision.as_str()),
        (0, "told-by-validation-failed")
    );
    let failed = json!({
        "id": "v", "source": "sentinel", "detail-type": "Validation Failed",
        "detail": {"eventId": "d1abc/main/0000000013/validation-failed", "environment": "prod", "appId": "d1abc",
                   "branchName": "main", "jobId": "13", "commitId": "abc", "passed": false, "errors": 1, "warnings": 0,
                   "findings": [], "policy": "branch", "stopRequested": false, "wouldStop": true}
    })
    .to_string();
    w.deliver(&failed).await;
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1]
            .email
            .contains("Observe mode: Sentinel would have stopped this build"),
        "{}",
        sent[1].email
    );
}

/// Issue #18 item 2: an unhealthy verdict whose reasons are huge (a site's
/// 1 MB JSON value) still makes an SNS message well under SNS's 256 KB, and
/// an alert state item well under DynamoDB's 400 KB.
#[tokio::test]
async fn a_huge_unhealthy_reason_makes_a_message_within_sns_s_limit() {
    let w = World::new();
    let huge = "\"d\u{e9}grad\u{e9}\" ".repeat(1_000_000 / 14);
    let endpoint = json!({
        "url": "https://main.d1abc.amplifyapp.com/api/health", "lastStatus": 200,
        "lastLatencyMs": 12, "verdict": "siteFailed",
        "reason": format!("JSON /status is {huge}, expected \"ok\""),
        "attempts": 3, "p50Ms": 10, "p95Ms": 12
    });
    let raw = json!({
        "id": "eb-unhealthy", "source": "sentinel", "detail-type": "Deployment Unhealthy",
        "detail": {
            "eventId": "d1abc/main/0000000007/health", "environment": "prod",
            "appId": "d1abc", "branchName": "main", "jobId": "7", "commitId": "c0ffee07",
            "verdict": "unhealthy", "reason": format!("3 consecutive rounds failed: {huge}"),
            "url": "https://main.d1abc.amplifyapp.com/",
            "endpoints": vec![endpoint; 60],
            "isRollback": false, "rollbackOf": null
        }
    })
    .to_string();
    let outcome = w.deliver(&raw).await;
    assert_eq!(outcome.decision, "opened");
    let sent = w.one_sent();
    let message = crate::adapters::sns::message(&sent[0]);
    assert!(
        message.len() < crate::core::budget::SNS_MESSAGE_LIMIT,
        "{} bytes",
        message.len()
    );
    let chat: serde_json::Value = serde_json::from_str(&sent[0].chat).unwrap();
    assert!(chat.is_object(), "the chat body stays JSON");
    assert!(sent[0].email.contains("…(cut, "));
    let state = w.alert_state("main").await;
    assert!(
        serde_json::to_string(&state).unwrap().len() < crate::core::budget::DYNAMODB_ITEM_LIMIT / 2
    );
}
