//! A failed build's alert: diagnosed, recorded, published and sent once;
//! an expired log, repeats joining one incident, retried publishes,
//! concurrent deliveries, malformed details, a lost claim answer.

use super::*;

#[tokio::test]
async fn a_failed_build_is_diagnosed_recorded_published_and_alerted_once() {
    let w = World::new();
    let raw = w.failed_job(7, Some(OOM_LOG)).await;
    let first = w.deliver(&raw).await;
    assert_eq!(first.decision, "opened");
    assert_eq!(first.category.as_deref(), Some("node-heap-oom"));
    let again = w.deliver(&raw).await;
    assert_eq!(again.decision, "duplicate");
    let sent = w.one_sent();
    assert!(
        sent[0].subject.contains("Build failed (node-heap-oom)"),
        "{}",
        sent[0].subject
    );
    assert!(sent[0].email.contains("max-old-space-size"));
    assert!(
        !sent[0].email.contains("X-Amz-Signature"),
        "the log URL is a credential"
    );
    assert_eq!(w.publisher.detail_types(), vec!["Build Diagnosed"]);
    let stored = w.store.deployments();
    assert_eq!(
        stored[0].diagnosis.as_ref().unwrap().category,
        "node-heap-oom"
    );
    assert!(stored[0].outbox.is_empty());
}

#[tokio::test]
async fn an_expired_log_still_alerts_and_says_so() {
    let w = World::new();
    let raw = w.failed_job(8, None).await;
    let out = w.deliver(&raw).await;
    assert_eq!(out.category.as_deref(), Some("log-unavailable"));
    let sent = w.one_sent();
    assert!(
        sent[0].email.contains("log could not be read"),
        "{}",
        sent[0].email
    );
    assert!(sent[0].email.contains("Request has expired"));
}

#[tokio::test]
async fn repeats_join_one_incident_and_recovery_resolves_it() {
    let w = World::new();
    let mut raws = Vec::new();
    for n in 1..=3 {
        let raw = w.failed_job(n, Some(OOM_LOG)).await;
        w.deliver(&raw).await;
        raws.push(raw);
    }
    assert_eq!(w.notifier.sent().len(), 1);
    let out = w
        .deliver(&build_event("Build Succeeded", "SUCCEED", 4))
        .await;
    assert_eq!(out.decision, "resolved");
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1].subject.contains("RESOLVED build:node-heap-oom"),
        "{}",
        sent[1].subject
    );
    assert!(sent[1].email.contains("3 occurrences"), "{}", sent[1].email);
    // A late duplicate of an old failure neither reopens nor alerts.
    let late = w.deliver(&raws[1]).await;
    assert_eq!(late.decision, "duplicate");
    assert_eq!(w.notifier.sent().len(), 2);
}

#[tokio::test]
async fn a_failed_publish_is_retried_and_sent_once() {
    let w = World::new();
    let raw = w.failed_job(9, Some(OOM_LOG)).await;
    w.notifier.fail_next.store(1, Ordering::SeqCst);
    let err = w.alerter().on_event(&parsed(&raw)).await.unwrap_err();
    assert!(err.is_retryable());
    assert!(w.notifier.sent().is_empty());
    let retry = w.deliver(&raw).await;
    assert_eq!(retry.sent, 1);
    assert_eq!(w.notifier.sent().len(), 1);
    assert_eq!(w.deliver(&raw).await.sent, 0);
}

#[tokio::test]
async fn concurrent_deliveries_send_one_message() {
    let w = World::new();
    let raw = w.failed_job(10, Some(OOM_LOG)).await;
    let alerter = w.alerter();
    let envelope = parsed(&raw);
    let runs = (0..10).map(|_| alerter.on_event(&envelope));
    let results = futures::future::join_all(runs).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(w.notifier.sent().len(), 1);
}

#[tokio::test]
async fn a_malformed_detail_is_named_and_not_retried() {
    let w = World::new();
    let raw = json!({"id": "x", "source": "sentinel", "detail-type": "Deployment Unhealthy", "detail": {"appId": 5}}).to_string();
    let err = w.alerter().on_event(&parsed(&raw)).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(
        err.to_string().contains("Deployment Unhealthy detail"),
        "{err}"
    );
    let other =
        json!({"id": "y", "source": "sentinel", "detail-type": "Validation Completed", "detail": {}})
            .to_string();
    // Another detail type never reaches the reaction: the function's parse
    // refuses it, for good.
    let refused = Envelope::parse(&other, ACCEPTED).unwrap_err();
    assert!(refused.reason.contains("Validation Completed"), "{refused}");
    assert!(!Error::from(refused).is_retryable());
}

#[tokio::test]
async fn a_claim_whose_write_answer_was_lost_is_still_sent_once() {
    // The claiming write takes effect but its answer is lost: the SDK's
    // retry of the conditional write then conflicts with itself. The
    // delivery must recognise its own claim and send, not call it a
    // duplicate of another delivery (the alert was lost before the fix).
    let w = World::new();
    let raw = w.failed_job(9, Some(OOM_LOG)).await;
    w.store.lose_next_alert_write.store(1, Ordering::SeqCst);
    let first = w.deliver(&raw).await;
    assert_eq!(first.sent, 1, "{first:?}");
    assert_eq!(w.notifier.sent().len(), 1);
    let again = w.deliver(&raw).await;
    assert_eq!(again.decision, "duplicate");
    assert_eq!(w.notifier.sent().len(), 1, "and never twice");
}
