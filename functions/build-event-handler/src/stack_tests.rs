//! A watched stack's events through the handler, over the in-memory ports
//! (the same story runs on the local stack in `tests/it/stacks.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use chrono::{DateTime, TimeZone, Utc};
use lambda_runtime::{Context, LambdaEvent};
use sentinel_shared::adapters::memory::{
    InMemory, MemoryAmplify, MemoryCloudFormation, MemoryDeadLetter, MemoryPublisher, MemoryStore,
};
use sentinel_shared::core::model::{BuildStatus, Environment};
use sentinel_shared::core::scope::Scope;
use sentinel_shared::ports::{StackEvent, StackInfo};
use serde_json::Value;

use super::*;

const ARN: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-api-prod/4a1b2c3d-0000-11ef-8000-0a1b2c3d4e5f";
const NAME: &str = "shop-api-prod";

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const IN_PROGRESS: &str = "cloudformation-stack-status-change-update-in-progress.json";
const ROLLING_BACK: &str = "cloudformation-stack-status-change-update-rollback-in-progress.json";
const ROLLED_BACK: &str = "cloudformation-stack-status-change-update-rollback-complete.json";

fn at(secs: u32, millis: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 10, 10, secs).unwrap()
        + chrono::Duration::milliseconds(i64::from(millis))
}

fn event(
    n: u32,
    t: DateTime<Utc>,
    logical: &str,
    kind: &str,
    status: &str,
    reason: &str,
) -> StackEvent {
    StackEvent {
        event_id: format!("ev-{n:03}"),
        stack_id: ARN.into(),
        stack_name: NAME.into(),
        logical_resource_id: logical.into(),
        physical_resource_id: Some(if logical == NAME {
            ARN.into()
        } else {
            format!("{logical}-1")
        }),
        resource_type: kind.into(),
        timestamp: t,
        resource_status: status.into(),
        resource_status_reason: (!reason.is_empty()).then(|| reason.to_owned()),
        client_request_token: Some("sam-2".into()),
    }
}

/// The failed update the fixtures announce, as DescribeStackEvents lists it.
fn failed_update() -> Vec<StackEvent> {
    let stack = "AWS::CloudFormation::Stack";
    vec![
        event(
            1,
            at(0, 250),
            NAME,
            stack,
            "UPDATE_IN_PROGRESS",
            "User Initiated",
        ),
        event(
            2,
            at(2, 0),
            "ApiFunctionRole",
            "AWS::IAM::Role",
            "UPDATE_FAILED",
            "User: arn:aws:sts::123456789012:assumed-role/sam-deploy/ci is not authorized to perform: iam:PutRolePolicy (HandlerErrorCode: AccessDenied)",
        ),
        event(
            3,
            at(3, 0),
            "WorkerFunction",
            "AWS::Lambda::Function",
            "UPDATE_FAILED",
            "Resource update cancelled",
        ),
        event(
            4,
            at(5, 100),
            NAME,
            stack,
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to update: [ApiFunctionRole, WorkerFunction].",
        ),
        event(5, at(40, 500), NAME, stack, "UPDATE_ROLLBACK_COMPLETE", ""),
    ]
}

fn deps_with(scope: Scope, tags: &[(&str, &str)]) -> Deps<InMemory> {
    let cloudformation = MemoryCloudFormation::default();
    cloudformation.put_stack(StackInfo {
        stack_id: ARN.into(),
        stack_name: NAME.into(),
        status: "UPDATE_ROLLBACK_COMPLETE".into(),
        status_reason: None,
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        parent_id: None,
    });
    cloudformation.push_events(failed_update());
    Deps {
        clients: Clients {
            store: MemoryStore::default(),
            amplify: MemoryAmplify::default(),
            cloudformation,
            publisher: MemoryPublisher::default(),
            dead_letter: Some(MemoryDeadLetter::default()),
            environment: Environment::Prod,
            site_url_template: None,
            scope,
            enforcement: sentinel_shared::core::enforcement::Enforcement::Enforce,
        },
    }
}

fn watching() -> Scope {
    Scope::default().with_stacks("shop-*").unwrap()
}

async fn invoke(deps: &Deps<InMemory>, payload: &str) -> Result<Value, Error> {
    let payload: Value = serde_json::from_str(payload).unwrap();
    handle(deps, LambdaEvent::new(payload, Context::default())).await
}

#[tokio::test]
async fn a_failed_stack_update_is_one_failed_deployment_of_the_stack() {
    let deps = deps_with(watching(), &[]);
    for name in [IN_PROGRESS, ROLLING_BACK, ROLLED_BACK] {
        let out = invoke(&deps, &fixture(name)).await.unwrap();
        assert_eq!(out["outcome"], "recorded", "{name}: {out}");
    }
    let stored = deps.clients.store.deployments();
    assert_eq!(stored.len(), 1, "one operation, one deployment");
    let d = &stored[0];
    assert_eq!(d.key.app_id.as_str(), "cfn:shop-api-prod");
    assert_eq!(d.key.branch_name.as_str(), "prod", "from the name's suffix");
    assert_eq!(
        d.key.job_id.number(),
        at(0, 250).timestamp_millis() as u64,
        "the operation's first event"
    );
    assert_eq!(d.status, BuildStatus::Failed);
    assert_eq!(d.details.job_type.as_deref(), Some("UPDATE"));
    assert_eq!(d.details.start_time, Some(at(0, 250)));
    assert_eq!(d.details.end_time, Some(at(40, 500)));
    assert_eq!(d.duration_seconds(), Some(40));
    assert_eq!(
        deps.clients.publisher.detail_types(),
        vec!["Build Started", "Build Failed"]
    );
    assert_eq!(
        deps.clients.amplify.calls.load(Ordering::SeqCst),
        0,
        "Amplify is never called"
    );
}

#[tokio::test]
async fn the_same_events_twice_and_reordered_give_the_same_record() {
    let clean = deps_with(watching(), &[]);
    for name in [IN_PROGRESS, ROLLING_BACK, ROLLED_BACK] {
        invoke(&clean, &fixture(name)).await.unwrap();
    }
    let messy = deps_with(watching(), &[]);
    for name in [
        ROLLED_BACK,
        IN_PROGRESS,
        ROLLED_BACK,
        ROLLING_BACK,
        IN_PROGRESS,
    ] {
        invoke(&messy, &fixture(name)).await.unwrap();
    }
    let (a, b) = (
        clean.clients.store.deployments().remove(0),
        messy.clients.store.deployments().remove(0),
    );
    assert!(a.same_state(&b), "{a:?}\n!=\n{b:?}");
    assert_eq!(
        messy.clients.publisher.detail_types(),
        vec!["Build Failed"],
        "a late start announces nothing"
    );
}

#[tokio::test]
async fn the_environment_tag_names_the_branch() {
    let deps = deps_with(watching(), &[("Environment", "production")]);
    invoke(&deps, &fixture(IN_PROGRESS)).await.unwrap();
    assert_eq!(
        deps.clients.store.deployments()[0].key.branch_name.as_str(),
        "production"
    );
}

#[tokio::test]
async fn a_stack_not_named_in_watched_stacks_is_skipped() {
    for scope in [
        Scope::default(),
        Scope::default().with_stacks("billing-*").unwrap(),
    ] {
        let deps = deps_with(scope, &[]);
        let out = invoke(&deps, &fixture(IN_PROGRESS)).await.unwrap();
        assert_eq!(out["outcome"], "skipped");
        assert!(deps.clients.store.deployments().is_empty());
        assert_eq!(deps.clients.cloudformation.calls.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn deletions_no_op_updates_and_nested_stacks_are_not_deployments() {
    let deps = deps_with(watching(), &[]);
    for (status, reason) in [
        ("DELETE_IN_PROGRESS", "User Initiated"),
        ("DELETE_COMPLETE", ""),
        ("UPDATE_COMPLETE", "No updates are to be performed."),
        ("REVIEW_IN_PROGRESS", ""),
    ] {
        let mut v: Value = serde_json::from_str(&fixture(IN_PROGRESS)).unwrap();
        v["detail"]["status-details"]["status"] = status.into();
        v["detail"]["status-details"]["status-reason"] = reason.into();
        let out = invoke(&deps, &v.to_string()).await.unwrap();
        assert_eq!(out["outcome"], "skipped", "{status}");
    }
    let mut nested = deps_with(watching(), &[]);
    let mut info = nested
        .clients
        .cloudformation
        .stacks
        .lock()
        .unwrap()
        .get(ARN)
        .cloned()
        .unwrap();
    info.parent_id = Some("arn:aws:cloudformation:us-east-1:123456789012:stack/shop-root/1".into());
    nested.clients.cloudformation.put_stack(info);
    nested.clients.environment = Environment::Prod;
    let out = invoke(&nested, &fixture(IN_PROGRESS)).await.unwrap();
    assert_eq!(out["outcome"], "skipped");
    assert!(deps.clients.store.deployments().is_empty());
    assert!(nested.clients.store.deployments().is_empty());
}

#[tokio::test]
async fn a_failed_rollback_is_flagged_for_a_person() {
    let deps = deps_with(watching(), &[]);
    let mut v: Value = serde_json::from_str(&fixture(ROLLED_BACK)).unwrap();
    v["detail"]["status-details"]["status"] = "UPDATE_ROLLBACK_FAILED".into();
    invoke(&deps, &v.to_string()).await.unwrap();
    let d = deps.clients.store.deployments().remove(0);
    assert_eq!(d.status, BuildStatus::Failed);
    assert_eq!(d.details.steps[0].name, "UPDATE_ROLLBACK_FAILED");
    assert!(
        d.details.steps[0]
            .status_reason
            .as_deref()
            .unwrap()
            .contains("continue-update-rollback")
    );
}

#[tokio::test]
async fn an_operation_not_listed_yet_is_retried() {
    let deps = deps_with(watching(), &[]);
    let mut v: Value = serde_json::from_str(&fixture(IN_PROGRESS)).unwrap();
    v["detail"]["client-request-token"] = "sam-3".into();
    let err = invoke(&deps, &v.to_string()).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.error_type(), "Retryable.CloudFormation");
    deps.clients
        .cloudformation
        .fail_next
        .store(1, Ordering::SeqCst);
    let err = invoke(&deps, &fixture(IN_PROGRESS)).await.unwrap_err();
    assert!(err.is_retryable());
    assert!(deps.clients.store.deployments().is_empty());
}

#[tokio::test]
async fn each_malformed_stack_event_is_dead_lettered_without_retry() {
    for (name, expected) in [
        (
            "cloudformation-malformed-no-stack-id.json",
            "detail.stack-id is missing",
        ),
        (
            "cloudformation-malformed-bad-stack-arn.json",
            "is not a stack ARN",
        ),
        (
            "cloudformation-malformed-status-details-string.json",
            "detail.status-details must be an object",
        ),
        (
            "cloudformation-malformed-status-number.json",
            "detail.status-details.status must be a string",
        ),
        (
            "cloudformation-malformed-resource-event.json",
            "detail-type is",
        ),
    ] {
        let deps = deps_with(watching(), &[]);
        let err = invoke(&deps, &fixture(name)).await.unwrap_err();
        assert!(!err.is_retryable(), "{name}");
        assert_eq!(err.error_type(), "NonRetryable.Event", "{name}");
        assert!(err.to_string().contains(expected), "{name}: {err}");
        assert!(deps.clients.store.deployments().is_empty());
        // From a batch: straight to the DLQ, the rest of the batch intact.
        let batch = serde_json::json!({"Records": [
            {"messageId": "m-bad", "body": fixture(name)},
            {"messageId": "m-ok", "body": fixture(IN_PROGRESS)},
        ]});
        let out = invoke(&deps, &batch.to_string()).await.unwrap();
        assert_eq!(out["batchItemFailures"], serde_json::json!([]), "{name}");
        let dead = deps
            .clients
            .dead_letter
            .as_ref()
            .unwrap()
            .messages
            .lock()
            .unwrap()
            .clone();
        assert_eq!(dead.len(), 1, "{name}");
        assert!(dead[0].2.contains(expected), "{name}: {}", dead[0].2);
        assert_eq!(deps.clients.store.deployments().len(), 1);
    }
}
