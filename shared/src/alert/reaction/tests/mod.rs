//! The alerter's reaction over the in-memory ports: the world and the
//! events it is sent, shared by the tests of each kind of alert.

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

mod failed_build;
mod notices;
mod reported;
mod test_alert;
mod verdicts;

/// The alerter's ports, in memory (a watched stack's tests too).
pub(super) struct World {
    pub(super) store: MemoryStore,
    pub(super) amplify: MemoryAmplify,
    pub(super) cloudformation: MemoryCloudFormation,
    pub(super) publisher: MemoryPublisher,
    pub(super) notifier: MemoryNotifier,
    pub(super) logs: MemoryLogs,
}

const OOM_LOG: &str = "2024-03-01T10:00:00.000Z [INFO]: # Starting phase: build\n\
2024-03-01T10:00:00.000Z [INFO]: # Executing command: npm run build\n\
2024-03-01T10:00:01.000Z [INFO]: FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n\
2024-03-01T10:00:01.000Z [ERROR]: !!! Build failed\n\
2024-03-01T10:00:01.000Z [ERROR]: !!! Error: Command failed with exit code 134\n";

impl World {
    pub(super) fn new() -> Self {
        Self {
            store: MemoryStore::default(),
            amplify: MemoryAmplify::default(),
            cloudformation: MemoryCloudFormation::default(),
            publisher: MemoryPublisher::default(),
            notifier: MemoryNotifier::default(),
            logs: MemoryLogs::default(),
        }
    }

    /// Delivers `raw` to the alerter; answers what it did.
    async fn deliver(&self, raw: &str) -> AlertOutcome {
        self.alerter().on_event(&parsed(raw)).await.unwrap()
    }

    /// Delivering `raw` opens an incident with one message mentioning each
    /// of `expected`.
    async fn opens(&self, raw: &str, expected: &[&str]) {
        let outcome = self.deliver(raw).await;
        assert_eq!(outcome.decision, "opened");
        let sent = self.one_sent();
        assert_mentions(&sent[0].email, expected);
    }

    /// The one message sent so far.
    fn one_sent(&self) -> Vec<crate::alert::Notification> {
        let sent = self.notifier.sent();
        assert_eq!(sent.len(), 1);
        sent
    }

    /// The alert state of `branch` of d1abc.
    async fn alert_state(&self, branch: &str) -> crate::alert::AlertState {
        self.store
            .get_alert_state(&"d1abc".parse().unwrap(), &branch.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
    }

    fn alerter(&self) -> Alerter<'_, InMemory> {
        self.alerter_in("eu-west-1")
    }

    /// The alerter over these ports, in `region`.
    pub(super) fn alerter_in(&self, region: &'static str) -> Alerter<'_, InMemory> {
        Alerter {
            store: &self.store,
            amplify: &self.amplify,
            cloudformation: &self.cloudformation,
            publisher: &self.publisher,
            notifier: &self.notifier,
            logs: &self.logs,
            region,
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

/// Each of `expected` is in `email`.
fn assert_mentions(email: &str, expected: &[&str]) {
    for expected in expected {
        assert!(email.contains(expected), "{expected:?} not in {email}");
    }
}
