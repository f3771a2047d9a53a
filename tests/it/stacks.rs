//! Watched CloudFormation stacks on the local stack (docs/stacks.md): the
//! Amplify emulator scripts a SAM stack's operation (DescribeStacks and
//! DescribeStackEvents in CloudFormation's wire format) and puts its
//! "CloudFormation Stack Status Change" events on moto's default bus; the
//! template's rule routes them to the ingest queue; the real binaries
//! record, diagnose and alert.

use std::time::Duration;

use sentinel_shared::core::deployment::{Deployment, DeploymentKey};
use sentinel_shared::core::model::{AppId, BuildStatus, JobId};
use sentinel_shared::core::scope::Scope;
use sentinel_shared::ingest::reaction::IngestOutcome;
use sentinel_shared::ports::{DeploymentStore, MetricsStore};
use serde_json::{Value, json};

use crate::helpers::*;

const DENIED: &str = "Resource handler returned message: \"User: arn:aws:sts::123456789012:assumed-role/sam-deploy/GitHubActions is not authorized to perform: iam:PutRolePolicy on resource: role it-api-ApiFunctionRole because no identity-based policy allows the iam:PutRolePolicy action (Service: Iam, Status Code: 403)\" (RequestToken: 9a8b, HandlerErrorCode: AccessDenied)";

/// A stack of this test's own (the local stack watches `it-*`), tagged
/// with an environment of its own so that its alerts can be told apart.
struct TestStack {
    name: String,
    environment: String,
}

impl TestStack {
    async fn create(stack: &Stack) -> TestStack {
        let id = unique_app_id();
        let suffix = &id.as_str()[1..];
        let t = TestStack {
            name: format!("it-{suffix}-api"),
            environment: format!("it-env-{suffix}"),
        };
        stack
            .control(
                "/stacks",
                json!({"stackName": t.name, "tags": {"Environment": t.environment, "team": "shop"}}),
            )
            .await
            .unwrap();
        t
    }

    fn app_id(&self) -> AppId {
        AppId::stack(&self.name).unwrap()
    }

    /// Plays an operation; answers its key (the job: the first event's
    /// epoch milliseconds) and the EventBridge events it announced.
    async fn operate(
        &self,
        stack: &Stack,
        token: &str,
        emit: bool,
        steps: Value,
    ) -> (DeploymentKey, Vec<Value>) {
        let out = stack
            .control(
                &format!("/stacks/{}/operations", self.name),
                json!({"clientRequestToken": token, "emit": emit, "stepMs": 1500,
                       "startedSecondsAgo": 30, "steps": steps}),
            )
            .await
            .unwrap();
        if emit {
            let delivered: Vec<_> = out["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["delivered"].clone())
                .collect();
            assert!(delivered.iter().all(|d| d == true), "{out}");
        }
        let first = out["stackEvents"][0]["Timestamp"].as_f64().unwrap();
        let key = DeploymentKey {
            app_id: self.app_id(),
            branch_name: self.environment.parse().unwrap(),
            job_id: JobId::new((first * 1000.0).round() as u64),
        };
        (key, out["events"].as_array().unwrap().clone())
    }
}

fn failing_update() -> Value {
    json!([
        {"status": "UPDATE_IN_PROGRESS", "reason": "User Initiated"},
        {"logicalId": "ApiFunctionRole", "type": "AWS::IAM::Role", "status": "UPDATE_IN_PROGRESS"},
        {"logicalId": "ApiFunctionRole", "type": "AWS::IAM::Role", "status": "UPDATE_FAILED", "reason": DENIED},
        {"logicalId": "WorkerFunction", "type": "AWS::Lambda::Function", "status": "UPDATE_FAILED", "reason": "Resource update cancelled"},
        {"status": "UPDATE_ROLLBACK_IN_PROGRESS", "reason": "The following resource(s) failed to update: [ApiFunctionRole, WorkerFunction]. "},
        {"logicalId": "ApiFunctionRole", "type": "AWS::IAM::Role", "status": "UPDATE_COMPLETE"},
        {"status": "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"},
        {"status": "UPDATE_ROLLBACK_COMPLETE"}
    ])
}

fn successful_update() -> Value {
    json!([
        {"status": "UPDATE_IN_PROGRESS", "reason": "User Initiated"},
        {"logicalId": "ApiFunction", "type": "AWS::Lambda::Function", "status": "UPDATE_IN_PROGRESS"},
        {"logicalId": "ApiFunction", "type": "AWS::Lambda::Function", "status": "UPDATE_COMPLETE"},
        {"status": "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"},
        {"status": "UPDATE_COMPLETE"}
    ])
}

async fn ended(stack: &Stack, key: &DeploymentKey, diagnosed: bool) -> Deployment {
    let store = stack.store();
    eventually(
        Duration::from_secs(90),
        "the operation recorded",
        || async {
            Ok(store
                .get_deployment(key)
                .await?
                .filter(|d| d.status.is_terminal() && (!diagnosed || d.diagnosis.is_some())))
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_stack_update_denied_on_one_resource_is_recorded_diagnosed_and_alerted_once() {
    let stack = Stack::new().await;
    let t = TestStack::create(&stack).await;
    let inbox = stack.subscribe_alerts(&t.environment).await.unwrap();
    let (key, announced) = t
        .operate(&stack, "sam-deploy-1", true, failing_update())
        .await;
    assert_eq!(announced.len(), 4, "the stack-level statuses only");

    let record = ended(&stack, &key, true).await;
    assert_eq!(record.status, BuildStatus::Failed);
    assert_eq!(record.details.job_type.as_deref(), Some("UPDATE"));
    let diagnosis = record.diagnosis.unwrap();
    assert_eq!(diagnosis.category, "stack-permission-denied");
    assert_eq!(
        diagnosis.phase.as_deref(),
        Some("ApiFunctionRole"),
        "the resource, not the cancelled one"
    );
    assert_eq!(diagnosis.command.as_deref(), Some("AWS::IAM::Role"));
    assert!(
        diagnosis.evidence[0].text.contains("iam:PutRolePolicy"),
        "{:?}",
        diagnosis.evidence
    );

    let alerts = inbox
        .collect(1, Duration::from_secs(90), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1, "one alert: {alerts:#?}");
    let subject = alerts[0]["Subject"].as_str().unwrap_or_default();
    assert!(
        subject.contains("Stack deploy failed (stack-permission-denied)"),
        "{subject}"
    );
    let attributes = &alerts[0]["MessageAttributes"];
    assert_eq!(attributes["app"]["Value"], t.app_id().as_str());
    assert_eq!(attributes["category"]["Value"], "stack-permission-denied");
    let chat = alerts[0]["Message"].as_str().unwrap_or_default();
    assert!(chat.contains("ApiFunctionRole"), "{chat}");
    // Amplify is never asked about a stack.
    let asked: Vec<_> = stack
        .amplify_calls()
        .await
        .into_iter()
        .filter(|c| c.to_string().contains(&t.name))
        .collect();
    assert!(asked.is_empty(), "{asked:?}");
}

#[tokio::test]
async fn a_successful_stack_update_counts_in_the_delivery_figures() {
    let stack = Stack::new().await;
    let t = TestStack::create(&stack).await;
    let (failed, _) = t
        .operate(&stack, "sam-deploy-1", true, failing_update())
        .await;
    ended(&stack, &failed, false).await;
    let (ok, _) = t
        .operate(&stack, "sam-deploy-2", true, successful_update())
        .await;
    assert!(ok.job_id > failed.job_id, "operations are ordered in time");
    let record = ended(&stack, &ok, false).await;
    assert_eq!(record.status, BuildStatus::Succeeded);
    assert_eq!(record.duration_seconds(), Some(6));
    let state = stack
        .store()
        .get_branch_state(&ok.app_id, &ok.branch_name)
        .await
        .unwrap();
    assert_eq!(
        state.live_job,
        Some(ok.job_id),
        "the live deployment of the stack"
    );

    // The metrics collector's own window read and computation, for this
    // stack's records: one deployment, one failed build.
    let now = chrono::Utc::now();
    let window = stack
        .store()
        .deployments_between(
            stack.environment(),
            now - chrono::Duration::hours(1),
            now + chrono::Duration::minutes(1),
        )
        .await
        .unwrap();
    let ours: Vec<Deployment> = window
        .deployments
        .into_iter()
        .filter(|d| d.key.app_id == t.app_id())
        .collect();
    assert_eq!(ours.len(), 2, "{ours:#?}");
    let figures = sentinel_shared::metrics::dora::compute(
        stack.environment(),
        now - chrono::Duration::hours(1),
        now + chrono::Duration::minutes(1),
        &ours,
    );
    assert_eq!((figures.builds_succeeded, figures.builds_failed), (1, 1));
    assert_eq!(figures.deployments, 1);
    assert!(figures.deployment_frequency_per_day > 0.0);
}

#[tokio::test]
async fn the_same_stack_events_twice_or_reordered_give_the_same_record() {
    let stack = Stack::new().await;
    let bus = stack.create_bus().await.unwrap();
    let mut deps = stack.deps(&bus);
    deps.clients.scope = Scope::default().with_stacks("it-*").unwrap();
    let ingest = async |event: &Value| {
        build_event_handler::on_raw(&deps, "test", &event.to_string())
            .await
            .unwrap()
    };

    let t = TestStack::create(&stack).await;
    let (key, events) = t
        .operate(&stack, "sam-deploy-1", false, failing_update())
        .await;
    for e in &events {
        assert!(matches!(ingest(e).await, IngestOutcome::Recorded { .. }));
    }
    let clean = stack.store().get_deployment(&key).await.unwrap().unwrap();
    assert_eq!(clean.status, BuildStatus::Failed);
    for e in events.iter().rev() {
        assert!(
            matches!(ingest(e).await, IngestOutcome::Duplicate { .. }),
            "{e}"
        );
    }
    let again = stack.store().get_deployment(&key).await.unwrap().unwrap();
    assert!(again.same_state(&clean), "{again:#?}\n!=\n{clean:#?}");

    // Another stack, the same operation's events in reverse order, twice.
    let u = TestStack::create(&stack).await;
    let (reordered, events) = u
        .operate(&stack, "sam-deploy-1", false, failing_update())
        .await;
    for e in events.iter().rev().chain(events.iter()) {
        ingest(e).await;
    }
    let messy = stack
        .store()
        .get_deployment(&reordered)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(messy.status, BuildStatus::Failed);
    let statuses = |d: &Deployment| {
        d.transitions
            .iter()
            .map(|t| t.status.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(&messy), statuses(&clean));
    assert_eq!(messy.event_ids.len(), clean.event_ids.len());
    assert_eq!(messy.duration_seconds(), clean.duration_seconds());
}

#[tokio::test]
async fn a_stack_operation_stuck_started_is_reconciled_from_its_events_by_cleanup() {
    let stack = Stack::new().await;
    let bus = stack.create_bus().await.unwrap();
    let mut deps = stack.deps(&bus);
    deps.clients.scope = Scope::default().with_stacks("it-*").unwrap();
    let t = TestStack::create(&stack).await;
    // Two hours ago; only its first event reached Sentinel.
    let out = stack
        .control(
            &format!("/stacks/{}/operations", t.name),
            json!({"clientRequestToken": "sam-deploy-1", "emit": false, "stepMs": 1500,
                   "startedSecondsAgo": 7200, "steps": failing_update()}),
        )
        .await
        .unwrap();
    let first = &out["events"][0];
    build_event_handler::on_raw(&deps, "test", &first.to_string())
        .await
        .unwrap();
    let key = DeploymentKey {
        app_id: t.app_id(),
        branch_name: t.environment.parse().unwrap(),
        job_id: JobId::new(
            (out["stackEvents"][0]["Timestamp"].as_f64().unwrap() * 1000.0).round() as u64,
        ),
    };
    let store = stack.store();
    assert_eq!(
        store.get_deployment(&key).await.unwrap().unwrap().status,
        BuildStatus::Started
    );

    let run = stack
        .invoke("cleanup", json!({"apps": [t.app_id().as_str()]}))
        .await;
    assert_eq!(run["stuckReconciled"], 1, "{run}");
    let record = store.get_deployment(&key).await.unwrap().unwrap();
    assert_eq!(
        record.status,
        BuildStatus::Failed,
        "CloudFormation says UPDATE_ROLLBACK_COMPLETE"
    );
    assert_eq!(record.timed_out_at, None);
    let again = stack
        .invoke("cleanup", json!({"apps": [t.app_id().as_str()]}))
        .await;
    assert_eq!(again["stuckReconciled"], 0, "{again}");
}
