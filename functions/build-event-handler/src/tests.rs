//! Unit tests over the in-memory ports. The same behaviours run against the
//! local AWS stack in `tests/` at the workspace root.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use chrono::TimeZone;
use lambda_runtime::{Context, LambdaEvent};
use proptest::prelude::*;
use sentinel_shared::adapters::memory::{
    InMemory, MemoryAmplify, MemoryDeadLetter, MemoryPublisher, MemoryStore,
};
use sentinel_shared::core::deployment::{DeploymentKey, JobDetails};
use sentinel_shared::core::model::{BuildStatus, Environment, JobId};
use sentinel_shared::ports::DeploymentStore;
use serde_json::Value;

use super::*;

type MemDeps = Deps<InMemory>;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn key() -> DeploymentKey {
    DeploymentKey {
        app_id: "dsentinel0001".parse().unwrap(),
        branch_name: "main".parse().unwrap(),
        job_id: JobId::new(4),
    }
}

fn deps() -> MemDeps {
    let details = JobDetails {
        commit_id: Some("a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0".into()),
        commit_message: Some("feat: checkout".into()),
        job_type: Some("RELEASE".into()),
        start_time: Some(
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
                .unwrap(),
        ),
        ..Default::default()
    };
    Deps {
        clients: Clients {
            store: MemoryStore::default(),
            amplify: MemoryAmplify::with_job(&key(), details),
            cloudformation: Default::default(),
            publisher: MemoryPublisher::default(),
            dead_letter: Some(MemoryDeadLetter::default()),
            environment: Environment::Staging,
            site_url_template: None,
            scope: Default::default(),
            enforcement: sentinel_shared::core::enforcement::Enforcement::Enforce,
        },
    }
}

async fn invoke(deps: &MemDeps, payload: &str) -> Result<Value, Error> {
    let payload: Value = serde_json::from_str(payload).unwrap();
    handle(deps, LambdaEvent::new(payload, Context::default())).await
}

const STATUS_FIXTURES: &[(&str, &str)] = &[
    ("amplify-status-change-started.json", "STARTED"),
    ("amplify-status-change-succeed.json", "SUCCEED"),
    ("amplify-status-change-failed.json", "FAILED"),
    (
        "amplify-status-change-unknown-status.json",
        "PROVISIONING_V2",
    ),
];

const MALFORMED_FIXTURES: &[(&str, &str)] = &[
    ("amplify-malformed-no-detail.json", "detail is missing"),
    (
        "amplify-malformed-job-id-number.json",
        "detail.jobId must be a string",
    ),
    ("amplify-malformed-bad-app-id.json", "detail.appId"),
    (
        "amplify-malformed-oversized-branch.json",
        "detail.branchName",
    ),
    ("amplify-malformed-bad-job-id.json", "detail.jobId"),
    ("amplify-malformed-wrong-source.json", "source is"),
    ("amplify-malformed-bad-time.json", "time"),
];

#[tokio::test]
async fn each_status_fixture_is_recorded_with_enrichment() {
    for (name, status) in STATUS_FIXTURES {
        let deps = deps();
        let out = invoke(&deps, &fixture(name)).await.unwrap();
        assert_eq!(out["outcome"], "recorded", "{name}");
        let stored = deps.clients.store.deployments();
        assert_eq!(stored.len(), 1, "{name}");
        assert_eq!(stored[0].status.as_str(), *status, "{name}");
        assert_eq!(
            stored[0].details.commit_message.as_deref(),
            Some("feat: checkout")
        );
    }
}

#[tokio::test]
async fn each_malformed_fixture_fails_without_retry_and_writes_nothing() {
    for (name, expected) in MALFORMED_FIXTURES {
        let deps = deps();
        let err = invoke(&deps, &fixture(name)).await.unwrap_err();
        assert!(!err.is_retryable(), "{name}");
        assert_eq!(err.error_type(), "NonRetryable.Event");
        let message = err.to_string();
        assert!(message.contains(expected), "{name}: {message}");
        assert!(
            message.contains("1c0a4f3e-7b1d-4c55-9e1a"),
            "{name} names the event: {message}"
        );
        assert!(deps.clients.store.deployments().is_empty(), "{name}");
        assert_eq!(
            deps.clients.amplify.calls.load(Ordering::SeqCst),
            0,
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_dead_lettered_from_a_batch() {
    let deps = deps();
    let batch = serde_json::json!({"Records": [
        {"messageId": "m-bad", "body": fixture("amplify-malformed-not-json.txt")},
        {"messageId": "m-ok", "body": fixture("amplify-status-change-started.json")},
    ]});
    let out = invoke(&deps, &batch.to_string()).await.unwrap();
    assert_eq!(out["batchItemFailures"], serde_json::json!([]));
    let dead = deps
        .clients
        .dead_letter
        .as_ref()
        .unwrap()
        .messages
        .lock()
        .unwrap()
        .clone();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].2.contains("not JSON"), "{}", dead[0].2);
    assert_eq!(deps.clients.store.deployments().len(), 1);
}

#[tokio::test]
async fn the_same_event_three_times_gives_one_transition_and_one_domain_event() {
    let deps = deps();
    let raw = fixture("amplify-status-change-succeed.json");
    for _ in 0..3 {
        invoke(&deps, &raw).await.unwrap();
    }
    let stored = deps.clients.store.deployments();
    assert_eq!(stored[0].transitions.len(), 1);
    assert_eq!(
        deps.clients.publisher.detail_types(),
        vec!["Build Succeeded"]
    );
    let state = deps
        .clients
        .store
        .get_branch_state(&key().app_id, &key().branch_name)
        .await
        .unwrap();
    assert_eq!(state.live_job, Some(JobId::new(4)));
}

#[tokio::test]
async fn a_publish_failure_after_the_write_is_published_once_on_retry() {
    let deps = deps();
    deps.clients.publisher.fail_next.store(1, Ordering::SeqCst);
    let raw = fixture("amplify-status-change-failed.json");
    let err = invoke(&deps, &raw).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(
        deps.clients.store.deployments()[0].outbox.len(),
        1,
        "kept for the retry"
    );
    let out = invoke(&deps, &raw).await.unwrap();
    assert_eq!(out["outcome"], "duplicate");
    assert_eq!(out["published"], 1);
    invoke(&deps, &raw).await.unwrap();
    assert_eq!(deps.clients.publisher.detail_types(), vec!["Build Failed"]);
    assert!(deps.clients.store.deployments()[0].outbox.is_empty());
}

#[tokio::test]
async fn a_transient_get_job_error_is_retried_and_writes_nothing() {
    let deps = deps();
    deps.clients.amplify.fail_next.store(1, Ordering::SeqCst);
    let err = invoke(&deps, &fixture("amplify-status-change-started.json"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Retryable.Amplify");
    assert!(deps.clients.store.deployments().is_empty());
}

#[tokio::test]
async fn a_job_amplify_no_longer_has_is_recorded_from_the_event() {
    let mut deps = deps();
    deps.clients.amplify = MemoryAmplify::default();
    invoke(&deps, &fixture("amplify-status-change-succeed.json"))
        .await
        .unwrap();
    let stored = deps.clients.store.deployments();
    assert_eq!(stored[0].status, BuildStatus::Succeeded);
    assert_eq!(stored[0].details.commit_id, None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any interleaving and duplication of a job's STARTED and SUCCEED
    /// deliveries ends in the same record, with one "Build Succeeded".
    #[test]
    fn any_order_and_duplication_gives_the_same_record(order in prop::collection::vec(0usize..2, 1..8)) {
        let raws = [fixture("amplify-status-change-started.json"), fixture("amplify-status-change-succeed.json")];
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (got, published) = rt.block_on(async {
            let deps = deps();
            for i in order.iter().chain([0usize, 1].iter()) {
                invoke(&deps, &raws[*i]).await.unwrap();
            }
            (deps.clients.store.deployments().remove(0), deps.clients.publisher.detail_types())
        });
        let clean = rt.block_on(async {
            let deps = deps();
            for raw in &raws {
                invoke(&deps, raw).await.unwrap();
            }
            deps.clients.store.deployments().remove(0)
        });
        prop_assert!(got.same_state(&clean), "{got:?}\n!=\n{clean:?}");
        prop_assert_eq!(published.iter().filter(|t| *t == "Build Succeeded").count(), 1);
        prop_assert!(published.iter().filter(|t| *t == "Build Started").count() <= 1);
    }
}

// ----- reports (`sentinel report`, source `sentinel.report`) -----

fn report_fixture(status: &str) -> String {
    fixture(&format!("report-deployment-reported-{status}.json"))
}

fn report_key() -> DeploymentKey {
    DeploymentKey {
        app_id: "svc:shop-api".parse().unwrap(),
        branch_name: "staging".parse().unwrap(),
        job_id: JobId::new(1_763_805_600_000),
    }
}

#[tokio::test]
async fn a_reported_deploy_is_recorded_without_calling_amplify() {
    let deps = deps();
    invoke(&deps, &report_fixture("started")).await.unwrap();
    let out = invoke(&deps, &report_fixture("succeeded")).await.unwrap();
    assert_eq!(out["outcome"], "recorded");
    let d = deps
        .clients
        .store
        .get_deployment(&report_key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, BuildStatus::Succeeded);
    assert_eq!(d.duration_seconds(), Some(300));
    assert_eq!(
        d.details.commit_id.as_deref(),
        Some("a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0")
    );
    let reported = d.reported.unwrap();
    assert_eq!(reported.url.as_deref(), Some("https://shop.example.com/"));
    assert_eq!(reported.version.as_deref(), Some("1.4.2"));
    assert_eq!(deps.clients.amplify.calls.load(Ordering::SeqCst), 0);
    assert_eq!(
        deps.clients.publisher.detail_types(),
        vec!["Build Started", "Build Succeeded"]
    );
}

#[tokio::test]
async fn a_failed_report_keeps_the_sent_diagnosis_and_publishes_build_failed() {
    let deps = deps();
    invoke(&deps, &report_fixture("failed")).await.unwrap();
    let d = deps
        .clients
        .store
        .get_deployment(&report_key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.status, BuildStatus::Failed);
    let diagnosis = d.diagnosis.unwrap();
    assert_eq!(diagnosis.category, "node-heap-oom");
    assert_eq!(diagnosis.evidence.len(), 1);
    assert_eq!(deps.clients.publisher.detail_types(), vec!["Build Failed"]);
}

#[tokio::test]
async fn reports_twice_and_in_any_order_leave_the_same_record() {
    let orders: &[&[&str]] = &[
        &["started", "succeeded"],
        &["succeeded", "started"],
        &["started", "started", "succeeded", "succeeded"],
        &["succeeded", "started", "succeeded", "started"],
    ];
    let mut records = Vec::new();
    for (n, order) in orders.iter().enumerate() {
        let deps = deps();
        for (i, status) in order.iter().enumerate() {
            // A redelivery under a new EventBridge id is the same report.
            let raw = report_fixture(status).replace("7f3c1e52", &format!("order{n}-{i}"));
            invoke(&deps, &raw).await.unwrap();
        }
        let d = deps
            .clients
            .store
            .get_deployment(&report_key())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.status, BuildStatus::Succeeded, "{order:?}");
        let mut types = deps.clients.publisher.detail_types();
        types.sort();
        types.dedup();
        assert!(types.contains(&"Build Succeeded".to_owned()), "{order:?}");
        records.push(d);
    }
    for r in &records[1..] {
        assert!(records[0].same_state(r), "{:?}\n{:?}", records[0], r);
    }
}

#[tokio::test]
async fn a_report_for_another_environment_is_dead_lettered() {
    let deps = deps();
    let raw = report_fixture("started").replace("\"staging\"", "\"prod\"");
    let err = invoke(&deps, &raw).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("detail.environment"), "{err}");
    assert!(deps.clients.store.deployments().is_empty());
}

#[tokio::test]
async fn a_malformed_report_is_dead_lettered_naming_the_field() {
    let cases = [
        (
            "\"commit\": \"a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0\"",
            "\"commit\": \"HEAD\"",
            "detail.commit",
        ),
        (
            "\"service\": \"shop-api\"",
            "\"service\": \"shop api\"",
            "detail.service",
        ),
        (
            "\"deployId\": \"1763805600000\"",
            "\"deployId\": \"-1\"",
            "detail.deployId",
        ),
        ("\"schema\": 1", "\"schema\": 9", "detail.schema"),
    ];
    for (from, to, field) in cases {
        let deps = deps();
        let raw = report_fixture("started").replace(from, to);
        assert_ne!(raw, report_fixture("started"), "{field}");
        let err = invoke(&deps, &raw).await.unwrap_err();
        assert!(!err.is_retryable(), "{field}");
        assert_eq!(err.error_type(), "NonRetryable.Event");
        assert!(err.to_string().contains(field), "{field}: {err}");
        assert!(deps.clients.store.deployments().is_empty(), "{field}");
    }
}

#[tokio::test]
async fn a_report_whose_detail_names_another_service_than_its_source_is_dead_lettered() {
    let deps = deps();
    // Sent as cart (the service its CI role may report), about shop-api.
    let raw = report_fixture("failed").replace("sentinel.report.shop-api", "sentinel.report.cart");
    let err = invoke(&deps, &raw).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(
        err.to_string().contains("detail.service") && err.to_string().contains("cart"),
        "{err}"
    );
    assert!(deps.clients.store.deployments().is_empty());
    assert!(deps.clients.publisher.detail_types().is_empty());
}

#[tokio::test]
async fn a_report_from_an_old_cli_is_dead_lettered_saying_to_update_it() {
    let deps = deps();
    let raw = report_fixture("started").replace("sentinel.report.shop-api", "sentinel.report");
    let err = invoke(&deps, &raw).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("update the CLI"), "{err}");
}

/// `raw` as one SQS record that SQS received at `sent` (epoch ms).
fn sqs_batch_of(raw: &str, sent: i64) -> String {
    serde_json::json!({"Records": [{
        "messageId": "m-1", "body": raw, "eventSource": "aws:sqs",
        "attributes": {"SentTimestamp": sent.to_string()},
        "messageAttributes": {}
    }]})
    .to_string()
}

#[tokio::test]
async fn a_report_dated_2099_is_recorded_at_the_time_sqs_received_it() {
    let deps = deps();
    // The sender chose both `time` and `reportedAt`.
    let raw = report_fixture("started").replace("2026-11-22T10:00:00Z", "2099-01-01T00:00:00Z");
    assert!(raw.contains("2099"), "{raw}");
    let received = chrono::Utc
        .with_ymd_and_hms(2026, 11, 22, 10, 0, 3)
        .unwrap();
    let out = invoke(&deps, &sqs_batch_of(&raw, received.timestamp_millis()))
        .await
        .unwrap();
    assert_eq!(out["batchItemFailures"], serde_json::json!([]), "{out}");
    let d = deps
        .clients
        .store
        .get_deployment(&report_key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.started_at(), Some(received));
    assert!(d.transitions.iter().all(|t| t.at == received), "{d:?}");
}

#[tokio::test]
async fn a_failed_report_after_a_succeeded_one_is_alerted_as_a_conflict_once() {
    let deps = deps();
    invoke(&deps, &report_fixture("succeeded")).await.unwrap();
    let failed = report_fixture("failed");
    invoke(&deps, &failed).await.unwrap();
    invoke(&deps, &failed.replace("7f3c1e52", "again"))
        .await
        .unwrap();
    let types = deps.clients.publisher.detail_types();
    assert_eq!(
        types.iter().filter(|t| *t == "Report Conflict").count(),
        1,
        "{types:?}"
    );
    // The sent diagnosis is marked as the script's.
    let d = deps
        .clients
        .store
        .get_deployment(&report_key())
        .await
        .unwrap()
        .unwrap();
    assert!(d.diagnosis.is_some_and(|x| x.from_report));
}

#[tokio::test]
async fn the_same_status_reported_again_with_another_url_is_alerted_and_changes_nothing() {
    let deps = deps();
    invoke(&deps, &report_fixture("succeeded")).await.unwrap();
    let other = report_fixture("succeeded")
        .replace(
            "https://shop.example.com/",
            "https://elsewhere.example.net/",
        )
        .replace("7f3c1e52", "other");
    let out = invoke(&deps, &other).await.unwrap();
    assert_eq!(out["outcome"], "recorded", "{out}");
    let d = deps
        .clients
        .store
        .get_deployment(&report_key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        d.reported.and_then(|r| r.url).as_deref(),
        Some("https://shop.example.com/")
    );
    assert!(
        deps.clients
            .publisher
            .detail_types()
            .contains(&"Report Conflict".to_owned())
    );
}
