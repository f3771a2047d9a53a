use std::sync::atomic::Ordering;

use serde_json::json;

use super::*;
use crate::adapters::memory::{
    InMemory, MemoryAmplify, MemoryCloudFormation, MemoryLogs, MemoryNotifier, MemoryPublisher,
    MemoryStore,
};
use crate::alert::ports::AlertStore;
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::model::BuildStatus;
use crate::ports::DeploymentStore;

struct World {
    store: MemoryStore,
    amplify: MemoryAmplify,
    cloudformation: MemoryCloudFormation,
    publisher: MemoryPublisher,
    notifier: MemoryNotifier,
    logs: MemoryLogs,
}

const OOM_LOG: &str = "2024-03-01T10:00:00.000Z [INFO]: # Starting phase: build\n\
2024-03-01T10:00:00.000Z [INFO]: # Executing command: npm run build\n\
2024-03-01T10:00:01.000Z [INFO]: FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n\
2024-03-01T10:00:01.000Z [ERROR]: !!! Build failed\n\
2024-03-01T10:00:01.000Z [ERROR]: !!! Error: Command failed with exit code 134\n";

impl World {
    fn new() -> Self {
        Self {
            store: MemoryStore::default(),
            amplify: MemoryAmplify::default(),
            cloudformation: MemoryCloudFormation::default(),
            publisher: MemoryPublisher::default(),
            notifier: MemoryNotifier::default(),
            logs: MemoryLogs::default(),
        }
    }

    fn alerter(&self) -> Alerter<'_, InMemory> {
        Alerter {
            store: &self.store,
            amplify: &self.amplify,
            cloudformation: &self.cloudformation,
            publisher: &self.publisher,
            notifier: &self.notifier,
            logs: &self.logs,
            region: "eu-west-1",
            site_url_template: None,
            extras: None,
        }
    }

    /// Records job `n` as failed, with `log` behind its log URL (or none).
    async fn failed_job(&self, n: u64, log: Option<&str>) -> String {
        let key = DeploymentKey {
            app_id: "d1abc".parse().unwrap(),
            branch_name: "main".parse().unwrap(),
            job_id: JobId::new(n),
        };
        let mut d = Deployment::new(key.clone(), Environment::Prod);
        d.status = BuildStatus::Failed;
        d.details.commit_id = Some(format!("c0ffee{n:02}"));
        d.details.commit_message = Some("Add pricing page".into());
        self.store.save_deployment(&d).await.unwrap();
        let url = format!("https://logs.example/job{n}?X-Amz-Signature=secret");
        self.amplify.log_urls.lock().unwrap().insert(
            (key.app_id.to_string(), key.branch_name.to_string(), n),
            url.clone(),
        );
        if let Some(log) = log {
            self.logs
                .logs
                .lock()
                .unwrap()
                .insert(url, log.as_bytes().to_vec());
        }
        build_event("Build Failed", "FAILED", n)
    }
}

fn build_event(detail_type: &str, status: &str, n: u64) -> String {
    json!({
        "id": format!("eb-{detail_type}-{n}"),
        "source": "sentinel",
        "detail-type": detail_type,
        "detail": {
            "eventId": format!("d1abc/main/{n:010}/{status}"),
            "environment": "prod",
            "appId": "d1abc",
            "branchName": "main",
            "jobId": n.to_string(),
            "status": status,
            "commitId": format!("c0ffee{n:02}"),
            "commitMessage": null,
            "commitTime": null,
            "jobType": "RELEASE",
            "startTime": null,
            "endTime": null,
            "durationSeconds": 95,
            "isRollback": false,
            "rollbackOf": null
        }
    })
    .to_string()
}

#[tokio::test]
async fn a_failed_build_is_diagnosed_recorded_published_and_alerted_once() {
    let w = World::new();
    let raw = w.failed_job(7, Some(OOM_LOG)).await;
    let first = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(first.decision, "opened");
    assert_eq!(first.category.as_deref(), Some("node-heap-oom"));
    let again = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(again.decision, "duplicate");
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 1);
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
    let out = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(out.category.as_deref(), Some("log-unavailable"));
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 1);
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
        w.alerter().on_event(&parsed(&raw)).await.unwrap();
        raws.push(raw);
    }
    assert_eq!(w.notifier.sent().len(), 1);
    let out = w
        .alerter()
        .on_event(&parsed(&build_event("Build Succeeded", "SUCCEED", 4)))
        .await
        .unwrap();
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
    let late = w.alerter().on_event(&parsed(&raws[1])).await.unwrap();
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
    let retry = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(retry.sent, 1);
    assert_eq!(w.notifier.sent().len(), 1);
    assert_eq!(w.alerter().on_event(&parsed(&raw)).await.unwrap().sent, 0);
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
        w.alerter().on_event(&parsed(&event(t))).await.unwrap();
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
        w.alerter().on_event(&parsed(&rollback)).await.unwrap();
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
        .alerter()
        .on_event(&parsed(&observed(
            "stop-build",
            "would have stopped this build: 1 error(s)",
        )))
        .await
        .unwrap();
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
    w.alerter().on_event(&parsed(&failed)).await.unwrap();
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

#[tokio::test]
async fn a_claim_whose_write_answer_was_lost_is_still_sent_once() {
    // The claiming write takes effect but its answer is lost: the SDK's
    // retry of the conditional write then conflicts with itself. The
    // delivery must recognise its own claim and send, not call it a
    // duplicate of another delivery (the alert was lost before the fix).
    let w = World::new();
    let raw = w.failed_job(9, Some(OOM_LOG)).await;
    w.store.lose_next_alert_write.store(1, Ordering::SeqCst);
    let first = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(first.sent, 1, "{first:?}");
    assert_eq!(w.notifier.sent().len(), 1);
    let again = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(again.decision, "duplicate");
    assert_eq!(w.notifier.sent().len(), 1, "and never twice");
}

/// A delivery as the function parses it.
fn parsed(raw: &str) -> Envelope {
    Envelope::parse(raw, ACCEPTED).expect("an accepted domain event")
}

fn alert_test_event(id: &str, branch: &str) -> String {
    json!({
        "id": format!("eb-{id}"), "source": "sentinel", "detail-type": "Alert Test",
        "detail": {"eventId": format!("alert-test/d1abc/{branch}/{id}"), "environment": "prod",
                   "appId": "d1abc", "branchName": branch, "requestedBy": "ana",
                   "requestedAt": "2024-03-01T10:00:00Z"}
    })
    .to_string()
}

#[tokio::test]
async fn a_test_alert_is_sent_once_marked_as_a_test_and_touches_no_incident() {
    let w = World::new();
    // An incident is open on the branch: the test neither joins nor resolves it.
    let failed = w.failed_job(1, Some(OOM_LOG)).await;
    w.alerter().on_event(&parsed(&failed)).await.unwrap();
    let out = w
        .alerter()
        .on_event(&parsed(&alert_test_event("t1", "main")))
        .await
        .unwrap();
    assert_eq!((out.decision.as_str(), out.sent), ("notice", 1));
    let again = w
        .alerter()
        .on_event(&parsed(&alert_test_event("t1", "main")))
        .await
        .unwrap();
    assert_eq!(again.sent, 0, "a redelivery sends nothing");
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 2);
    let test = &sent[1];
    assert!(test.subject.contains("[test]"), "{}", test.subject);
    assert_eq!(test.attributes["category"], "test");
    assert_eq!(test.attributes["event"], "Alert Test");
    assert_eq!(test.attributes["severity"], "info");
    assert!(test.email.contains("sentinel alert test"), "{}", test.email);
    assert!(test.email.contains("ana"), "{}", test.email);
    let state = w
        .store
        .get_alert_state(&"d1abc".parse().unwrap(), &"main".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.open.len(), 1, "the build's incident, still open");
    assert!(state.open.keys().all(|k| k.starts_with("build:")));
    // On a quiet branch, nothing is opened.
    w.alerter()
        .on_event(&parsed(&alert_test_event("t2", "quiet")))
        .await
        .unwrap();
    let quiet = w
        .store
        .get_alert_state(&"d1abc".parse().unwrap(), &"quiet".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(quiet.open.is_empty() && quiet.resolved.is_empty());
}

/// The resource `name`'s lines in template.yaml.
fn resource(name: &str) -> String {
    crate::template_text::resource(include_str!("../../../../template.yaml"), name)
}

#[test]
fn the_test_alert_reaches_the_alerter_and_no_metric() {
    assert!(ACCEPTED.contains(&dt::ALERT_TEST));
    assert!(!crate::metrics::reaction::ACCEPTED.contains(&dt::ALERT_TEST));
    let alert_rule = resource("AlertRule");
    assert!(alert_rule.contains("- Alert Test"), "{alert_rule}");
    let metrics_rule = resource("MetricsRule");
    assert!(metrics_rule.contains("Build Succeeded"), "{metrics_rule}");
    assert!(!metrics_rule.contains("Alert Test"), "{metrics_rule}");
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
    let outcome = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(outcome.decision, "opened");
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 1);
    let message = crate::adapters::sns::message(&sent[0]);
    assert!(
        message.len() < crate::core::budget::SNS_MESSAGE_LIMIT,
        "{} bytes",
        message.len()
    );
    let chat: serde_json::Value = serde_json::from_str(&sent[0].chat).unwrap();
    assert!(chat.is_object(), "the chat body stays JSON");
    assert!(sent[0].email.contains("…(cut, "));
    let state = w
        .store
        .get_alert_state(&"d1abc".parse().unwrap(), &"main".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        serde_json::to_string(&state).unwrap().len() < crate::core::budget::DYNAMODB_ITEM_LIMIT / 2
    );
}

fn bake_event(detail_type: &str, verdict: &str, id: &str) -> String {
    json!({
        "id": id, "source": "sentinel", "detail-type": detail_type,
        "detail": {
            "eventId": "d1abc/main/0000000008/bake", "environment": "prod",
            "appId": "d1abc", "branchName": "main", "jobId": "8", "commitId": "c0ffee08",
            "verdict": verdict,
            "reason": "bake: 2 of 2 intervals failed; last: 5xx rate 20.00 % (200 of 1000) above 1.00 % — before: 0.10 % 5xx, p90 120 ms, 3000 requests; after: 20.00 % 5xx, p90 130 ms, 2000 requests",
            "url": "https://main.d1abc.amplifyapp.com/", "endpoints": [],
            "isRollback": false, "rollbackOf": null, "rollbackAllowed": verdict == "unhealthy",
            "bake": {
                "outcome": if verdict == "unhealthy" { "failed" } else { "inconclusive" },
                "before": {"requests": 3000, "errors5xx": 3, "errors4xx": 0, "p90LatencyMs": 120, "datapoints": 15},
                "after": {"requests": 2000, "errors5xx": 400, "errors4xx": 0, "p90LatencyMs": 130, "datapoints": 10},
                "failedIntervals": ["step 1 [10:01–10:06]: 5xx rate 20.00 % (200 of 1000) above 1.00 %"],
                "stepsJudged": 2, "stepsTotal": 6,
                "consoleUrl": "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#metricsV2:graph=x"
            }
        }
    })
    .to_string()
}

#[tokio::test]
async fn a_failed_bake_alerts_with_its_figures_before_and_after_and_the_metrics_link() {
    let w = World::new();
    let raw = bake_event("Deployment Unhealthy", "unhealthy", "eb-bake-8");
    let outcome = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(outcome.decision, "opened");
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 1);
    let email = &sent[0].email;
    for expected in [
        "failed its bake",
        "before: 0.10 % 5xx, p90 120 ms, 3000 requests",
        "after: 20.00 % 5xx, p90 130 ms, 2000 requests",
        "Failed interval step 1 [10:01–10:06]",
        "cloudwatch/home?region=eu-west-1",
    ] {
        assert!(email.contains(expected), "{expected:?} not in {email}");
    }
}

#[tokio::test]
async fn an_inconclusive_bake_alerts_a_person() {
    let w = World::new();
    let raw = bake_event("Deployment Check Inconclusive", "inconclusive", "eb-bake-9");
    let outcome = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(outcome.decision, "opened");
    assert!(w.notifier.sent()[0].email.contains("Bake inconclusive"));
}

/// The probes' verdict on job `n` (no bake), scheduled or after the deploy.
fn check_event(detail_type: &str, verdict: &str, n: u64, scheduled: bool, reason: &str) -> String {
    let suffix = if scheduled { "live/1" } else { "health" };
    json!({
        "id": format!("eb-{verdict}-{n}-{suffix}"), "source": "sentinel", "detail-type": detail_type,
        "detail": {
            "eventId": format!("d1abc/main/{n:010}/{suffix}"), "environment": "prod",
            "appId": "d1abc", "branchName": "main", "jobId": n.to_string(), "commitId": "c0ffee08",
            "verdict": verdict, "reason": reason,
            "url": "https://main.d1abc.amplifyapp.com/",
            "endpoints": [{"url": "https://main.d1abc.amplifyapp.com/", "lastStatus": null,
                           "lastLatencyMs": 3, "verdict": "ourSide", "reason": reason,
                           "attempts": 1, "p50Ms": 3, "p95Ms": 3}],
            "isRollback": false, "rollbackOf": null, "scheduled": scheduled,
            "rollbackAllowed": false
        }
    })
    .to_string()
}

/// Issue #28 item 4: an inconclusive deploy check was never alerted
/// ("probe-inconclusive-not-alerted"), though `sentinel report --wait`
/// exits 3 saying "see the alert".
#[tokio::test]
async fn an_inconclusive_check_is_alerted_once_with_its_reason_and_resolved_when_healthy() {
    let w = World::new();
    let why = "not checked: refused main.d1abc.amplifyapp.com: it resolves to 10.0.0.7, not a public address";
    let raw = check_event(
        "Deployment Check Inconclusive",
        "inconclusive",
        8,
        false,
        why,
    );
    let outcome = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(outcome.decision, "opened");
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 1);
    let email = &sent[0].email;
    for expected in [
        "Deployment check inconclusive",
        "could not be judged by the check after the deploy",
        "so nothing was rolled back",
        "it resolves to 10.0.0.7, not a public address",
    ] {
        assert!(email.contains(expected), "{expected:?} not in {email}");
    }
    // The same verdict delivered again: one alert.
    let again = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(again.decision, "duplicate");
    // The scheduled check's change to inconclusive joins the open incident
    // (the alert policy's grouping), no second alert.
    let live = check_event(
        "Deployment Check Inconclusive",
        "inconclusive",
        8,
        true,
        why,
    );
    let joined = w.alerter().on_event(&parsed(&live)).await.unwrap();
    assert_eq!(joined.decision, "joined");
    assert_eq!(w.notifier.sent().len(), 1);
    // Judged healthy since: the incident is resolved, and said so.
    let healthy = check_event(
        "Deployment Healthy",
        "healthy",
        9,
        false,
        "2 consecutive rounds passed",
    );
    let resolved = w.alerter().on_event(&parsed(&healthy)).await.unwrap();
    assert_eq!(resolved.decision, "resolved");
    assert_eq!(w.notifier.sent().len(), 2);
}

#[tokio::test]
async fn a_reported_service_s_inconclusive_check_says_what_its_wait_did() {
    let w = World::new();
    let raw = check_event(
        "Deployment Check Inconclusive",
        "inconclusive",
        1_764_000_000_000,
        false,
        "deadline reached without a verdict",
    )
    .replace("d1abc/main", "svc:shop-api/prod")
    .replace("\"d1abc\"", "\"svc:shop-api\"")
    .replace("\"main\"", "\"prod\"");
    let outcome = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(outcome.decision, "opened");
    let email = &w.notifier.sent()[0].email;
    assert!(
        email.contains("deadline reached without a verdict"),
        "{email}"
    );
    assert!(email.contains("--wait` exited 3"), "{email}");
}

/// A reported service's failed deploy (`sentinel report failed`): the
/// event of `n`, its record holding the diagnosis the report sent, or none.
async fn reported_failure(w: &World, n: u64, sent: Option<&str>) -> String {
    let key = DeploymentKey {
        app_id: "svc:shop-api".parse().unwrap(),
        branch_name: "prod".parse().unwrap(),
        job_id: JobId::new(n),
    };
    let mut d = Deployment::new(key, Environment::Prod);
    d.status = BuildStatus::Failed;
    d.diagnosis = sent.map(|log| crate::diagnose::diagnose_bytes(log.as_bytes()));
    w.store.save_deployment(&d).await.unwrap();
    build_event("Build Failed", "FAILED", n)
        .replace("d1abc/main", "svc:shop-api/prod")
        .replace("\"d1abc\"", "\"svc:shop-api\"")
        .replace("\"main\"", "\"prod\"")
}

#[tokio::test]
async fn a_reported_failure_is_alerted_with_its_sent_diagnosis_and_no_amplify_call() {
    let w = World::new();
    let raw = reported_failure(&w, 1_764_000_000_000, Some(OOM_LOG)).await;
    let out = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(out.decision, "opened");
    assert_eq!(out.category.as_deref(), Some("node-heap-oom"));
    assert_eq!(w.amplify.calls.load(Ordering::SeqCst), 0);
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].email.contains("max-old-space-size"),
        "{}",
        sent[0].email
    );
    assert!(
        !sent[0].email.contains("Amplify console"),
        "{}",
        sent[0].email
    );
    // Named as what it is: a service and its environment, not an app's
    // branch nor a stack; the evidence is the log the CLI read.
    assert!(
        sent[0]
            .email
            .contains(": service shop-api / environment prod")
            && !sent[0].email.contains("stack")
            && sent[0].email.contains("sentinel report --log"),
        "{}",
        sent[0].email
    );
    // The diagnosis was the report's: no "Build Diagnosed" (nothing to retry).
    assert!(w.publisher.detail_types().is_empty());
}

#[tokio::test]
async fn a_reported_failure_without_a_log_says_how_to_send_one() {
    let w = World::new();
    let raw = reported_failure(&w, 2, None).await;
    let out = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(out.decision, "opened");
    assert_eq!(w.amplify.calls.load(Ordering::SeqCst), 0);
    let sent = w.notifier.sent();
    assert!(sent[0].email.contains("--log FILE"), "{}", sent[0].email);
}

/// The site links of a notification: the e-mail's `Site:` line and the
/// chat message's related resources.
fn site_links(n: &crate::alert::Notification) -> Vec<String> {
    let chat: serde_json::Value = serde_json::from_str(&n.chat).unwrap();
    n.email
        .lines()
        .filter_map(|l| l.strip_prefix("Site: "))
        .map(str::to_owned)
        .chain(
            chat["metadata"]["relatedResources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str().map(str::to_owned)),
        )
        .collect()
}

#[tokio::test]
async fn a_branch_name_cannot_point_the_site_link_at_another_host() {
    let templates = [
        None,
        Some("https://{displayName}.{appId}.amplifyapp.com/{branch}"),
    ];
    for template in templates {
        let w = World::new();
        let alerter = Alerter {
            site_url_template: template,
            extras: None,
            ..w.alerter()
        };
        for (n, branch) in ["x@evil%2Ecom#", "a:b@evil.example", "feature/new.ui"]
            .into_iter()
            .enumerate()
        {
            alerter
                .on_event(&parsed(&alert_test_event(&format!("t{n}"), branch)))
                .await
                .unwrap();
            let sent = w.notifier.sent();
            let links = site_links(&sent[n]);
            for link in &links {
                let url = url::Url::parse(link).unwrap_or_else(|e| panic!("{branch}: {link}: {e}"));
                assert!(
                    url.host_str()
                        .is_some_and(|h| h.ends_with(".d1abc.amplifyapp.com")),
                    "{branch} linked to another host: {link}"
                );
            }
            // A name that makes no host name has no link (the log says why);
            // an ordinary one keeps its link.
            assert_eq!(
                links.is_empty(),
                branch != "feature/new.ui",
                "{branch}: {links:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_diagnosis_the_deploy_script_sent_is_alerted_as_the_scripts() {
    let w = World::new();
    let n = 3;
    let raw = reported_failure(&w, n, Some(OOM_LOG)).await;
    let key = DeploymentKey {
        app_id: "svc:shop-api".parse().unwrap(),
        branch_name: "prod".parse().unwrap(),
        job_id: JobId::new(n),
    };
    let mut d = w.store.get_deployment(&key).await.unwrap().unwrap();
    if let Some(diagnosis) = d.diagnosis.as_mut() {
        diagnosis.from_report = true;
    }
    w.store.save_deployment(&d).await.unwrap();
    w.alerter().on_event(&parsed(&raw)).await.unwrap();
    let sent = w.notifier.sent();
    assert!(
        sent[0].email.contains("Diagnosed by the deploy script")
            && sent[0].email.contains("did not read the log"),
        "{}",
        sent[0].email
    );
}

#[tokio::test]
async fn conflicting_reports_of_one_deploy_are_alerted_once() {
    let w = World::new();
    let raw = json!({
        "id": "eb-c1", "source": "sentinel", "detail-type": "Report Conflict",
        "detail": {"eventId": "svc:shop-api/prod/00000000000000000042/report-conflict-1",
                   "environment": "prod", "appId": "svc:shop-api", "branchName": "prod",
                   "jobId": "42", "recorded": "succeeded, commit aaaaaaa",
                   "reported": "failed, commit bbbbbbb",
                   "kept": "the status reported with the latest reportedAt"}
    })
    .to_string();
    let out = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(out.sent, 1, "{out:?}");
    assert_eq!(out.category.as_deref(), Some("report-conflict"));
    let again = w.alerter().on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(again.sent, 0, "{again:?}");
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].email.contains("succeeded, commit aaaaaaa")
            && sent[0].email.contains("failed, commit bbbbbbb"),
        "{}",
        sent[0].email
    );
}
