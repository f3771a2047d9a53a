//! Issue #18 item 2: a site serving a 1 MB JSON value that fails
//! `json_equals` yields a verdict whose record and event stay well under
//! DynamoDB's and EventBridge's limits.

use super::*;
use crate::adapters::memory::{InMemory, MemoryAmplify, MemoryPublisher, MemoryStore};
use crate::core::budget;
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::model::{BuildStatus, Environment, JobId};
use crate::health::reaction::HealthChecker;
use crate::policy::BranchPolicy;
use crate::policy::PolicyStore;
use crate::ports::DeploymentStore;

#[tokio::test]
async fn a_megabyte_json_value_failing_json_equals_fits_the_record_and_the_event() {
    let body =
        serde_json::json!({"status": "\"d\u{e9}grad\u{e9}\" ".repeat(1_000_000 / 14)}).to_string();
    assert!(body.len() > 900_000 && body.len() < 1024 * 1024);
    let addr = serve(move |_, _| Reply::ok(&body)).await;
    let key = DeploymentKey {
        app_id: "d1abc".parse().unwrap(),
        branch_name: "main".parse().unwrap(),
        job_id: JobId::new(3),
    };
    let amplify = MemoryAmplify::with_branch(&key, |_| {});
    let store = MemoryStore::default();
    let mut record = Deployment::new(key.clone(), Environment::Prod);
    record.status = BuildStatus::Succeeded;
    store.save_deployment(&record).await.unwrap();
    let policy = BranchPolicy {
        health: HealthPolicy {
            url: Some(format!("http://{addr}/")),
            endpoints: vec![EndpointCheck {
                path: "/api/health".into(),
                json_equals: Some(("/status".into(), serde_json::json!("ok"))),
                ..EndpointCheck::default()
            }],
            ..fast()
        },
        ..BranchPolicy::default()
    };
    store.put_policy(&key.app_id, None, &policy).await.unwrap();
    let publisher = MemoryPublisher::default();
    let checker = HealthChecker::<InMemory> {
        store: &store,
        amplify: &amplify,
        publisher: &publisher,
        site_url_template: None,
        outbound: &local(addr),
    };
    let event = succeeded(&key);
    let outcome = checker.on_build_succeeded(&event).await.unwrap();
    assert_eq!(outcome.verdict, Some(Verdict::Unhealthy));
    let record = store.get_deployment(&key).await.unwrap().unwrap();
    let health = record.health.as_ref().unwrap();
    assert!(
        health.reason.contains("…(cut, "),
        "{} bytes",
        health.reason.len()
    );
    assert!(health.reason.len() <= budget::REASON);
    let json = serde_json::to_string(&record).unwrap();
    assert!(
        json.len() < budget::DYNAMODB_ITEM_LIMIT / 4,
        "{}",
        json.len()
    );
    let item: std::collections::HashMap<String, serde_dynamo::AttributeValue> =
        serde_dynamo::to_item(&record).unwrap();
    assert!(
        serde_json::to_string(&item).unwrap().len() < budget::DYNAMODB_ITEM_LIMIT / 2,
        "as a DynamoDB item"
    );
    let published = publisher.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1);
    let entry = &published[0];
    assert_eq!(entry.detail_type, "Deployment Unhealthy");
    let size = entry.detail.len() + entry.detail_type.len() + entry.id.len();
    assert!(size < budget::EVENTBRIDGE_ENTRY_LIMIT / 4, "{size}");
    let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap();
    assert_eq!(detail["verdict"], "unhealthy");
}
