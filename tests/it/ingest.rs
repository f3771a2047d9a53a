//! Ingest against the local stack: the handler's code with the real SDK
//! clients, DynamoDB and EventBridge on moto, GetJob on the Amplify emulator.

use std::time::Duration;

use sentinel_shared::adapters::amplify::AmplifyClient;
use sentinel_shared::adapters::eventbridge::EventBridgePublisher;
use sentinel_shared::core::deployment::DeploymentKey;
use sentinel_shared::core::model::{AppId, BuildStatus, JobId};
use sentinel_shared::ingest::reaction::IngestOutcome;
use sentinel_shared::ports::{DeploymentFilter, DeploymentStore};
use serde_json::json;

use crate::helpers::*;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

struct Case {
    stack: Stack,
    app: AppId,
    job: String,
    bus: String,
}

impl Case {
    /// A fresh app with one manual job, advanced to `to` (RUNNING, SUCCEED…).
    async fn new(to: &[&str]) -> Case {
        let stack = Stack::new().await;
        let app = unique_app_id();
        stack.create_app(&app, "main", COMMIT).await.unwrap();
        let job = stack.manual_build(&app, "main", COMMIT).await.unwrap();
        for status in to {
            stack
                .advance(&app, "main", &job, status, false)
                .await
                .unwrap();
        }
        let bus = stack.create_bus().await.unwrap();
        Case {
            stack,
            app,
            job,
            bus,
        }
    }

    fn key(&self) -> DeploymentKey {
        DeploymentKey {
            app_id: self.app.clone(),
            branch_name: "main".parse().unwrap(),
            job_id: self.job.parse().unwrap(),
        }
    }

    fn fixture(&self, name: &str) -> String {
        fixture_for(name, &self.app, &self.job)
    }

    async fn ingest(
        &self,
        name: &str,
    ) -> Result<IngestOutcome, sentinel_shared::core::error::Error> {
        build_event_handler::on_raw(&self.stack.deps(&self.bus), "test", &self.fixture(name)).await
    }

    async fn capture(&self) -> Capture {
        self.stack
            .capture(&self.bus, json!({"appId": [self.app.as_str()]}))
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn each_status_fixture_is_recorded_with_get_job_enrichment() {
    let cases = [
        (
            "amplify-status-change-started.json",
            vec!["RUNNING"],
            "STARTED",
        ),
        (
            "amplify-status-change-succeed.json",
            vec!["RUNNING", "SUCCEED"],
            "SUCCEED",
        ),
        (
            "amplify-status-change-failed.json",
            vec!["RUNNING", "FAILED"],
            "FAILED",
        ),
        (
            "amplify-status-change-unknown-status.json",
            vec![],
            "PROVISIONING_V2",
        ),
    ];
    for (fixture, path, expected) in cases {
        let case = Case::new(&path).await;
        case.ingest(fixture).await.unwrap();
        let record = case
            .stack
            .store()
            .get_deployment(&case.key())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.status.as_str(), expected, "{fixture}");
        assert_eq!(
            record.details.commit_id.as_deref(),
            Some(COMMIT),
            "{fixture}"
        );
        assert_eq!(
            record.details.commit_message.as_deref(),
            Some("feat: checkout"),
            "{fixture}"
        );
        assert!(record.details.job_type.is_some(), "{fixture}");
        assert!(record.details.start_time.is_some(), "{fixture}");
        if expected != "STARTED" && expected != "PROVISIONING_V2" {
            assert!(record.details.end_time.is_some(), "{fixture}");
            assert!(record.duration_seconds().is_some(), "{fixture}");
        }
    }
}

#[tokio::test]
async fn the_same_event_three_times_gives_one_transition_and_one_domain_event() {
    let case = Case::new(&["RUNNING", "SUCCEED"]).await;
    let capture = case.capture().await;
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(
            case.ingest("amplify-status-change-succeed.json")
                .await
                .unwrap(),
        );
    }
    assert!(matches!(
        outcomes[0],
        IngestOutcome::Recorded { published: 1, .. }
    ));
    assert_eq!(outcomes[1], IngestOutcome::Duplicate { published: 0 });
    let record = case
        .stack
        .store()
        .get_deployment(&case.key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.transitions.len(), 1);
    let events = capture
        .collect(1, Duration::from_secs(10), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], "Build Succeeded");
    assert_eq!(events[0]["source"], "sentinel");
    assert_eq!(events[0]["detail"]["commitId"], COMMIT);
    assert_eq!(events[0]["detail"]["jobId"], case.job.as_str());
    let state = case
        .stack
        .store()
        .get_branch_state(&case.app, &"main".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(state.live_job, Some(case.job.parse::<JobId>().unwrap()));
    assert_eq!(state.live_commit.as_deref(), Some(COMMIT));
}

#[tokio::test]
async fn started_and_terminal_in_either_order_with_repeats_give_the_same_record() {
    let case = Case::new(&["RUNNING", "FAILED"]).await;
    let store = case.stack.store();
    let started = "amplify-status-change-started.json";
    let failed = "amplify-status-change-failed.json";

    for name in [started, failed] {
        case.ingest(name).await.unwrap();
    }
    let clean = store.get_deployment(&case.key()).await.unwrap().unwrap();
    delete_record(&case).await;

    for name in [failed, started, failed, started, started] {
        case.ingest(name).await.unwrap();
    }
    let shuffled = store.get_deployment(&case.key()).await.unwrap().unwrap();
    assert!(clean.same_state(&shuffled), "{clean:#?}\n!=\n{shuffled:#?}");
    assert_eq!(shuffled.status, BuildStatus::Failed);
    assert_eq!(shuffled.transitions.len(), 2);
}

async fn delete_record(case: &Case) {
    aws_sdk_dynamodb::Client::new(&case.stack.sdk)
        .delete_item()
        .table_name(&case.stack.table)
        .key(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("BRANCH#{}#main", case.app)),
        )
        .key(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("JOB#{:0>10}", case.job)),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn every_malformed_fixture_fails_non_retryable_and_writes_nothing() {
    let case = Case::new(&["RUNNING"]).await;
    let fixtures = [
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
        ("amplify-malformed-not-json.txt", "not JSON"),
    ];
    for (name, expected) in fixtures {
        let err = case.ingest(name).await.unwrap_err();
        assert!(!err.is_retryable(), "{name}");
        assert_eq!(err.error_type(), "NonRetryable.Event", "{name}");
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
    let found = case
        .stack
        .store()
        .list_deployments(
            case.stack.environment(),
            &DeploymentFilter {
                app_id: Some(case.app.clone()),
                branch_name: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(found.is_empty(), "{found:?}");
}

#[tokio::test]
async fn a_publish_failure_after_the_write_is_published_exactly_once_on_retry() {
    let case = Case::new(&["RUNNING", "SUCCEED"]).await;
    let capture = case.capture().await;
    let raw = case.fixture("amplify-status-change-succeed.json");

    let mut broken = case.stack.deps(&case.bus);
    broken.clients.publisher = EventBridgePublisher::new(case.stack.broken_events(), &case.bus);
    let err = build_event_handler::on_raw(&broken, "attempt-1", &raw)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let record = case
        .stack
        .store()
        .get_deployment(&case.key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.outbox.len(),
        1,
        "the decision survives the failed publish"
    );

    let good = case.stack.deps(&case.bus);
    let retry = build_event_handler::on_raw(&good, "attempt-2", &raw)
        .await
        .unwrap();
    assert_eq!(retry, IngestOutcome::Duplicate { published: 1 });
    let again = build_event_handler::on_raw(&good, "attempt-3", &raw)
        .await
        .unwrap();
    assert_eq!(again, IngestOutcome::Duplicate { published: 0 });

    let events = capture
        .collect(1, Duration::from_secs(10), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let record = case
        .stack
        .store()
        .get_deployment(&case.key())
        .await
        .unwrap()
        .unwrap();
    assert!(record.outbox.is_empty());
}

#[tokio::test]
async fn a_transient_get_job_error_fails_retryable_and_writes_nothing() {
    let case = Case::new(&["RUNNING"]).await;
    let mut deps = case.stack.deps(&case.bus);
    deps.clients.amplify = AmplifyClient::new(case.stack.broken_amplify());
    let err = build_event_handler::on_raw(
        &deps,
        "test",
        &case.fixture("amplify-status-change-started.json"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "Retryable.Amplify", "{err}");
    assert!(
        case.stack
            .store()
            .get_deployment(&case.key())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_job_amplify_does_not_have_is_recorded_from_the_event() {
    let case = Case::new(&[]).await;
    let raw = fixture_for("amplify-status-change-failed.json", &case.app, "77");
    build_event_handler::on_raw(&case.stack.deps(&case.bus), "test", &raw)
        .await
        .unwrap();
    let key = DeploymentKey {
        job_id: JobId::new(77),
        ..case.key()
    };
    let record = case
        .stack
        .store()
        .get_deployment(&key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, BuildStatus::Failed);
    assert_eq!(record.details.commit_id, None);
}

#[tokio::test]
async fn the_live_job_only_moves_forward() {
    let stack = Stack::new().await;
    let app = unique_app_id();
    stack.create_app(&app, "main", COMMIT).await.unwrap();
    let first = stack.manual_build(&app, "main", COMMIT).await.unwrap();
    let second = stack
        .manual_build(&app, "main", "fedcba9876543210fedcba9876543210fedcba98")
        .await
        .unwrap();
    for job in [&first, &second] {
        stack
            .advance(&app, "main", job, "RUNNING", false)
            .await
            .unwrap();
        stack
            .advance(&app, "main", job, "SUCCEED", false)
            .await
            .unwrap();
    }
    let bus = stack.create_bus().await.unwrap();
    let deps = stack.deps(&bus);
    // The newer job's success arrives first.
    for job in [&second, &first] {
        let raw = fixture_for("amplify-status-change-succeed.json", &app, job)
            .replace("4c02", &format!("{job:0>4}"));
        build_event_handler::on_raw(&deps, "test", &raw)
            .await
            .unwrap();
    }
    let state = stack
        .store()
        .get_branch_state(&app, &"main".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(state.live_job, Some(second.parse().unwrap()));
    assert_eq!(
        state.live_commit.as_deref(),
        Some("fedcba9876543210fedcba9876543210fedcba98")
    );
}
