//! The Amplify-only reactions leave a watched stack's deployment alone:
//! nothing is validated, checked or rolled back, Amplify is never called and
//! nothing is dead-lettered (docs/stacks.md).

use std::sync::atomic::Ordering;

use serde_json::json;

use crate::adapters::memory::{
    InMemory, MemoryAmplify, MemoryPublisher, MemorySecrets, MemoryStore,
};
use crate::core::enforcement::Enforcement;
use crate::core::events::{BuildEvent, Envelope};
use crate::core::model::Environment;
use crate::health::reaction::HealthChecker;
use crate::outbound::Outbound;
use crate::rollback::AutoRollback;
use crate::rollback::reaction::{ACCEPTED, RollbackAction, Rollbacker};
use crate::validate::reaction::Validator;

fn event(detail_type: &str, status: &str) -> Envelope {
    let raw = json!({
        "id": format!("eb-{detail_type}"),
        "source": "sentinel",
        "detail-type": detail_type,
        "detail": {
            "eventId": format!("cfn:shop-api-prod/prod/1795773600123/{status}"),
            "environment": "prod",
            "appId": "cfn:shop-api-prod",
            "branchName": "prod",
            "jobId": "1795773600123",
            "status": status,
            "commitId": null, "commitMessage": null, "commitTime": null,
            "jobType": "UPDATE", "startTime": null, "endTime": null,
            "durationSeconds": 40, "isRollback": false, "rollbackOf": null,
            "category": "stack-resource-not-stabilized", "title": "t", "transient": true, "fix": "f"
        }
    })
    .to_string();
    let mut accepted: Vec<&str> = ACCEPTED.to_vec();
    accepted.extend(["Build Started", "Build Succeeded"]);
    Envelope::parse(&raw, &accepted).unwrap()
}

#[tokio::test]
async fn the_validator_does_not_validate_a_stack() {
    let (store, amplify, secrets, publisher) = (
        MemoryStore::default(),
        MemoryAmplify::default(),
        MemorySecrets::default(),
        MemoryPublisher::default(),
    );
    let e: BuildEvent = event("Build Started", "STARTED").detail().unwrap();
    let out = Validator::<InMemory> {
        store: &store,
        amplify: &amplify,
        secrets: &secrets,
        publisher: &publisher,
        github: None,
        environment: Environment::Prod,
        enforcement: Enforcement::Enforce,
    }
    .on_build_started(&e)
    .await
    .unwrap();
    assert!(out.passed && !out.stopped && out.published == 0);
    assert_eq!(amplify.calls.load(Ordering::SeqCst), 0);
    assert!(store.deployments().is_empty());
}

#[tokio::test]
async fn rollback_neither_rolls_back_nor_retries_a_stack() {
    let (store, amplify, publisher) = (
        MemoryStore::default(),
        MemoryAmplify::default(),
        MemoryPublisher::default(),
    );
    let rollbacker = Rollbacker::<InMemory> {
        store: &store,
        amplify: &amplify,
        publisher: &publisher,
        environment: Environment::Prod,
        auto_rollback: AutoRollback::On,
        enforcement: Enforcement::Enforce,
        holder: "test".into(),
    };
    for (kind, status) in [("Build Diagnosed", "FAILED"), ("Build Failed", "FAILED")] {
        let out = rollbacker.on_event(&event(kind, status)).await.unwrap();
        assert!(
            matches!(out, RollbackAction::Ignored(ref why) if why.contains("cloudformation")),
            "{out:?}"
        );
    }
    assert_eq!(amplify.calls.load(Ordering::SeqCst), 0);
    assert!(amplify.started.lock().unwrap().is_empty());
    assert!(publisher.detail_types().is_empty());
}

#[tokio::test]
async fn the_health_checker_has_no_site_to_check_for_a_stack() {
    let (store, amplify, publisher) = (
        MemoryStore::default(),
        MemoryAmplify::default(),
        MemoryPublisher::default(),
    );
    let e: BuildEvent = event("Build Succeeded", "SUCCEED").detail().unwrap();
    let out = HealthChecker::<InMemory> {
        store: &store,
        amplify: &amplify,
        publisher: &publisher,
        site_url_template: None,
        outbound: &Outbound::public(),
    }
    .on_build_succeeded(&e)
    .await
    .unwrap();
    assert_eq!(out.verdict, None);
    assert_eq!(amplify.calls.load(Ordering::SeqCst), 0);
}
