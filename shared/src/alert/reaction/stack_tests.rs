//! A watched stack's failed operation through the alerter, over the
//! in-memory ports: diagnosed from its events, alerted once, resolved by
//! the next successful operation; Amplify never called.

use std::sync::atomic::Ordering;

use serde_json::json;

use super::tests::World;
use super::*;
use crate::adapters::memory::InMemory;
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::model::BuildStatus;
use crate::ingest::stack_operation::fixtures::*;
use crate::ports::{DeploymentStore, StackInfo};

impl World {
    /// The alerter's world with a stack whose last update failed.
    fn with_failed_stack() -> Self {
        let w = World::new();
        w.cloudformation.put_stack(StackInfo {
            stack_id: STACK_ID.into(),
            stack_name: NAME.into(),
            status: "UPDATE_ROLLBACK_COMPLETE".into(),
            status_reason: None,
            tags: Default::default(),
            parent_id: None,
        });
        w.cloudformation.push_events(failed_update());
        w
    }

    fn stack_alerter(&self) -> Alerter<'_, InMemory> {
        self.alerter_in("us-east-1")
    }

    async fn recorded(&self, job: u64, status: BuildStatus) {
        let mut d = Deployment::new(key(job), Environment::Prod);
        d.status = status;
        d.details.job_type = Some("UPDATE".into());
        self.store.save_deployment(&d).await.unwrap();
    }
}

/// The job of the failed update: its first event's epoch milliseconds.
fn update_job() -> u64 {
    ((T0 + 600) * 1000 + 123) as u64
}

fn key(job: u64) -> DeploymentKey {
    DeploymentKey {
        app_id: format!("cfn:{NAME}").parse().unwrap(),
        branch_name: "prod".parse().unwrap(),
        job_id: JobId::new(job),
    }
}

fn event(detail_type: &str, status: &str, job: u64) -> Envelope {
    let raw = json!({
        "id": format!("eb-{detail_type}-{job}"),
        "source": "sentinel",
        "detail-type": detail_type,
        "detail": {
            "eventId": format!("cfn:{NAME}/prod/{job}/{status}"),
            "environment": "prod",
            "appId": format!("cfn:{NAME}"),
            "branchName": "prod",
            "jobId": job.to_string(),
            "status": status,
            "commitId": null, "commitMessage": null, "commitTime": null,
            "jobType": "UPDATE", "startTime": null, "endTime": null,
            "durationSeconds": 40, "isRollback": false, "rollbackOf": null
        }
    })
    .to_string();
    Envelope::parse(&raw, ACCEPTED).unwrap()
}

#[tokio::test]
async fn a_failed_stack_update_is_diagnosed_to_the_resource_and_alerted_once() {
    let w = World::with_failed_stack();
    w.recorded(update_job(), BuildStatus::Failed).await;
    let failed = event("Build Failed", "FAILED", update_job());
    let first = w.stack_alerter().on_event(&failed).await.unwrap();
    assert_eq!(first.decision, "opened");
    assert_eq!(first.category.as_deref(), Some("stack-permission-denied"));
    let again = w.stack_alerter().on_event(&failed).await.unwrap();
    assert_eq!(again.decision, "duplicate");
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 1);
    let email = &sent[0].email;
    assert!(email.contains(": stack "), "{email}");
    assert!(email.contains(" / environment "), "{email}");
    assert!(
        sent[0]
            .subject
            .contains("Stack deploy failed (stack-permission-denied)"),
        "{}",
        sent[0].subject
    );
    assert!(
        email.contains("ApiFunctionRole (AWS::IAM::Role)"),
        "{email}"
    );
    assert!(email.contains("iam:PutRolePolicy"), "the evidence: {email}");
    assert!(
        email.contains("cloudformation/home?region=us-east-1#/stacks/events?stackId=shop-api-prod"),
        "{email}"
    );
    assert!(
        !email.contains("amplifyapp.com"),
        "a stack has no Amplify site: {email}"
    );
    assert!(
        email.contains("EVIDENCE (from the stack's events)"),
        "{email}"
    );
    assert_eq!(w.publisher.detail_types(), vec!["Build Diagnosed"]);
    let d = w
        .store
        .get_deployment(&key(update_job()))
        .await
        .unwrap()
        .unwrap();
    let diagnosis = d.diagnosis.unwrap();
    assert_eq!(diagnosis.phase.as_deref(), Some("ApiFunctionRole"));
    assert_eq!(
        w.amplify.calls.load(Ordering::SeqCst),
        0,
        "Amplify is never called"
    );
}

#[tokio::test]
async fn the_next_successful_operation_resolves_the_incident() {
    let w = World::with_failed_stack();
    w.recorded(update_job(), BuildStatus::Failed).await;
    w.stack_alerter()
        .on_event(&event("Build Failed", "FAILED", update_job()))
        .await
        .unwrap();
    let next = update_job() + 3_600_000;
    w.recorded(next, BuildStatus::Succeeded).await;
    let out = w
        .stack_alerter()
        .on_event(&event("Build Succeeded", "SUCCEED", next))
        .await
        .unwrap();
    assert_eq!(out.decision, "resolved");
    assert_eq!(w.notifier.sent().len(), 2);
}

#[tokio::test]
async fn unreadable_events_still_give_an_alert_and_a_throttle_is_retried() {
    let w = World::with_failed_stack();
    w.cloudformation.fail_next.store(1, Ordering::SeqCst);
    w.recorded(update_job(), BuildStatus::Failed).await;
    let failed = event("Build Failed", "FAILED", update_job());
    let err = w.stack_alerter().on_event(&failed).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(w.notifier.sent().is_empty());
    // An operation no longer in the stack's events: said so, alerted.
    let gone = update_job() + 1;
    w.recorded(gone, BuildStatus::Failed).await;
    let out = w
        .stack_alerter()
        .on_event(&event("Build Failed", "FAILED", gone))
        .await
        .unwrap();
    assert_eq!(out.category.as_deref(), Some("stack-events-unavailable"));
}
