//! The alerter's GitHub reconciler over the in-memory ports: the world
//! and the events it is sent, shared by the tests of each concern.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::adapters::memory::{
    GitHubCall, InMemory, MemoryAmplify, MemoryGitHub, MemoryRetries, MemoryStore,
};
use crate::core::deployment::Deployment;
use crate::core::model::BuildStatus;
use crate::github::api::{CheckStatus, Conclusion, DeploymentState};
use crate::github::ports::GitHubStateStore;

mod comments;
mod lifecycle;
mod retries;

struct World {
    store: MemoryStore,
    amplify: MemoryAmplify,
    github: MemoryGitHub,
    retries: MemoryRetries,
    breaker: Breaker,
}

fn key(branch: &str, job: u64) -> DeploymentKey {
    DeploymentKey::of(branch, job)
}

impl World {
    /// App `d1abc` on `sentinel-local/d1abc`, with branch `branch`.
    fn new(branch: &str) -> Self {
        Self::with_github(branch, MemoryGitHub::default())
    }

    fn with_github(branch: &str, github: MemoryGitHub) -> Self {
        let amplify =
            MemoryAmplify::with_branch(&key(branch, 1), |b| b.stage = Some("PRODUCTION".into()));
        amplify
            .apps
            .lock()
            .unwrap()
            .get_mut("d1abc")
            .unwrap()
            .repository = Some("https://github.com/sentinel-local/d1abc".into());
        Self {
            store: MemoryStore::default(),
            amplify,
            github,
            retries: MemoryRetries::default(),
            breaker: Breaker::default(),
        }
    }

    fn reporter(&self) -> GitHubReporter<'_, InMemory, MemoryRetries> {
        GitHubReporter {
            store: &self.store,
            amplify: &self.amplify,
            github: &self.github,
            retries: &self.retries,
            breaker: &self.breaker,
            environment: Environment::Prod,
            region: "eu-west-1",
            site_url_template: None,
            metrics_namespace: "DeploySentinel",
            owner: "request-1",
        }
    }

    /// A world for main whose job 1 failed (recorded, not yet reconciled).
    async fn failed_main() -> Self {
        let w = Self::new("main");
        w.record("main", 1, BuildStatus::Failed).await;
        w
    }

    /// The custom domains Amplify knows for d1abc.
    fn set_domains(&self, domains: Vec<crate::ports::DomainAssociation>) {
        self.amplify
            .domains
            .lock()
            .unwrap()
            .insert("d1abc".into(), domains);
    }

    /// Job `job` of `branch` succeeded, and the reconciler heard of it.
    async fn heard_succeeded(&self, branch: &str, job: u64) {
        self.heard(
            branch,
            job,
            BuildStatus::Succeeded,
            "Build Succeeded",
            "SUCCEEDED",
        )
        .await;
    }

    /// Job `job` of `branch` recorded as `status`, then the reconciler
    /// hears of it (`detail_type`, the event's `status`).
    async fn heard(
        &self,
        branch: &str,
        job: u64,
        status: BuildStatus,
        detail_type: &str,
        event_status: &str,
    ) {
        self.record(branch, job, status).await;
        self.reporter()
            .after_event(&event(detail_type, branch, job, event_status))
            .await;
    }

    /// Job `job` of `branch` recorded as `status`, then reconciled.
    async fn updated(&self, branch: &str, job: u64, status: BuildStatus) {
        self.record(branch, job, status).await;
        self.reporter().update(&key(branch, job), 0).await;
    }

    /// Stores job `job` of `branch` with `status` (a failure diagnosed).
    async fn record(&self, branch: &str, job: u64, status: BuildStatus) {
        let k = key(branch, job);
        let mut d = self
            .store
            .get_deployment(&k)
            .await
            .unwrap()
            .unwrap_or_else(|| Deployment::new(k.clone(), Environment::Prod));
        d.details.commit_id = Some(format!("c0ffee{job:02}"));
        if status == BuildStatus::Failed {
            d.diagnosis = Some(
                serde_json::from_value(json!({
                    "category": "out-of-memory",
                    "title": "The build ran out of memory",
                    "transient": false,
                    "fix": "Raise NODE_OPTIONS=--max-old-space-size",
                    "evidence": []
                }))
                .unwrap(),
            );
        }
        if status == BuildStatus::Succeeded {
            // The health checker's verdict: the deploy is done and good.
            d.health = Some(crate::core::deployment::HealthRecord {
                verdict: crate::core::verdicts::Verdict::Healthy,
                reason: "2 of 2 endpoints healthy".into(),
                url: format!("https://{branch}.d1abc.amplifyapp.com/"),
                checked_at: Utc::now(),
                rounds: 1,
                endpoints: Vec::new(),
            });
        }
        d.status = status;
        self.store.save_deployment(&d).await.unwrap();
    }

    fn writes(&self) -> Vec<GitHubCall> {
        self.github
            .calls()
            .into_iter()
            .filter(|c| !matches!(c, GitHubCall::Commit(..) | GitHubCall::FindComment(..)))
            .collect()
    }
}

/// A domain event on the stack's bus, as the alerter parses it.
fn envelope(id: String, detail_type: &str, detail: serde_json::Value) -> Envelope {
    let raw = json!({"id": id, "source": "sentinel", "detail-type": detail_type, "detail": detail})
        .to_string();
    Envelope::parse(&raw, crate::alert::reaction::ACCEPTED).unwrap()
}

fn event(detail_type: &str, branch: &str, job: u64, status: &str) -> Envelope {
    envelope(
        format!("eb-{detail_type}-{job}"),
        detail_type,
        json!({
            "eventId": format!("d1abc/{branch}/{job:010}/{status}"),
            "environment": "prod",
            "appId": "d1abc",
            "branchName": branch,
            "jobId": job.to_string(),
            "status": status,
            "commitId": format!("c0ffee{job:02}"),
            "commitMessage": null, "commitTime": null, "jobType": "RELEASE",
            "startTime": null, "endTime": null, "durationSeconds": null,
            "isRollback": false, "rollbackOf": null
        }),
    )
}

fn rollback_event(detail_type: &str, from: u64, by: u64, to: u64) -> Envelope {
    envelope(
        format!("eb-{detail_type}-{from}"),
        detail_type,
        json!({
            "eventId": format!("d1abc/main/{from:010}/rollback"),
            "environment": "prod",
            "appId": "d1abc",
            "branchName": "main",
            "fromJobId": from.to_string(),
            "rollbackJobId": by.to_string(),
            "targetJobId": to.to_string(),
            "reason": "unhealthy"
        }),
    )
}

fn only_run(w: &World) -> crate::github::api::CheckRun {
    let runs = w.github.check_runs.lock().unwrap();
    assert_eq!(runs.len(), 1, "one check run: {runs:?}");
    runs.values().next().unwrap().clone()
}
