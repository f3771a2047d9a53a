//! The rollback reaction over the in-memory ports: the world (jobs 1 and 2
//! of main, the verdicts and diagnoses their records hold) and the events
//! it is sent, shared by the tests of each behaviour.

use std::sync::atomic::Ordering;

use serde_json::json;

use super::*;
use crate::adapters::memory::{InMemory, MemoryAmplify, MemoryPublisher, MemoryStore};
use crate::core::deployment::{Deployment, DeploymentKey, HealthRecord, JobDetails, LiveCheck};
use crate::core::verdicts::Verdict;
use crate::ports::{BranchPointer, DeploymentStore, StartJob};

mod lock;
mod observe;
mod recorded;
mod refused;
mod retry;
mod start;

const GOOD: &str = "1111111111111111111111111111111111111111";
const BAD: &str = "2222222222222222222222222222222222222222";

struct World {
    store: MemoryStore,
    amplify: MemoryAmplify,
    publisher: MemoryPublisher,
    environment: Environment,
}

fn key(n: u64) -> DeploymentKey {
    DeploymentKey::of("main", n)
}

impl World {
    /// Job 1 (GOOD) verified healthy, job 2 (BAD) live.
    async fn new(environment: Environment, known_good: bool) -> Self {
        let w = Self {
            store: MemoryStore::default(),
            amplify: MemoryAmplify::default(),
            publisher: MemoryPublisher::default(),
            environment,
        };
        for (n, commit) in [(1, GOOD), (2, BAD)] {
            let details = JobDetails {
                commit_id: Some(commit.into()),
                status: Some(BuildStatus::Succeeded),
                job_type: Some("RELEASE".into()),
                ..Default::default()
            };
            w.amplify
                .jobs
                .lock()
                .unwrap()
                .insert(("d1abc".into(), "main".into(), n), details);
            w.store
                .advance_pointer(&key(n), Some(commit), BranchPointer::Live)
                .await
                .unwrap();
        }
        if known_good {
            w.store
                .advance_pointer(&key(1), Some(GOOD), BranchPointer::LastKnownGood)
                .await
                .unwrap();
        }
        w
    }

    /// [`World::new`] in prod, job 2's deploy checked unhealthy.
    async fn unhealthy(known_good: bool) -> Self {
        let w = Self::new(Environment::Prod, known_good).await;
        w.checked(2, Verdict::Unhealthy).await;
        w
    }

    /// [`World::unhealthy`] with a known good job, main building on push.
    async fn unhealthy_building_on_push() -> Self {
        let w = Self::unhealthy(true).await;
        set_branch(&w, true);
        w
    }

    /// [`World::unhealthy_building_on_push`] whose first rollback attempt
    /// ("r1", on the answered event) failed at StartJob.
    async fn first_start_failed() -> (Self, String) {
        let w = Self::unhealthy_building_on_push().await;
        w.amplify.fail_next_start.store(1, Ordering::SeqCst);
        let raw = job_2_unhealthy();
        w.fails("r1", &raw).await;
        (w, raw)
    }

    /// Changes job `n`'s record (made first, with the commit Amplify knows,
    /// if there is none), as the function before the rollback's does
    /// before it publishes.
    async fn record(&self, n: u64, change: impl FnOnce(&mut Deployment)) {
        let mut d = match self.store.get_deployment(&key(n)).await.unwrap() {
            Some(d) => d,
            None => {
                let mut d = Deployment::new(key(n), self.environment);
                d.details.commit_id = self
                    .amplify
                    .jobs
                    .lock()
                    .unwrap()
                    .get(&("d1abc".into(), "main".into(), n))
                    .and_then(|j| j.commit_id.clone());
                d
            }
        };
        change(&mut d);
        self.store.save_deployment(&d).await.unwrap();
    }

    /// The health checker's verdict on job `n` after its deploy.
    async fn checked(&self, n: u64, verdict: Verdict) {
        self.record(n, |d| {
            d.health = Some(HealthRecord {
                verdict,
                reason: format!("recorded: {verdict:?}"),
                url: "https://main.d1abc.amplifyapp.com/".into(),
                checked_at: Utc::now(),
                rounds: 3,
                endpoints: Vec::new(),
            })
        })
        .await
    }

    /// A scheduled check's verdict on job `n`, live.
    async fn live_checked(&self, n: u64, verdict: Verdict) {
        self.record(n, |d| {
            d.live_check = Some(LiveCheck {
                verdict,
                reason: format!("recorded live: {verdict:?}"),
                checked_at: Utc::now(),
                changes: 1,
            })
        })
        .await
    }

    /// Job `n`'s status and commit, as ingest records them (GetJob's commit).
    async fn built(&self, n: u64, status: BuildStatus, commit: &str) {
        self.record(n, |d| {
            d.status = status;
            d.details.commit_id = Some(commit.into());
        })
        .await
    }

    /// The alerter's diagnosis of failed job `n`.
    async fn diagnosis(&self, n: u64, transient: bool) {
        let category = if transient {
            "network-transient"
        } else {
            "typescript-error"
        };
        let diagnosis = serde_json::from_value(json!({
            "category": category, "title": "t", "transient": transient, "fix": "f", "evidence": []
        }))
        .unwrap();
        self.record(n, |d| d.diagnosis = Some(diagnosis)).await
    }

    fn rollbacker(&self, holder: &str) -> Rollbacker<'_, InMemory> {
        Rollbacker {
            store: &self.store,
            amplify: &self.amplify,
            publisher: &self.publisher,
            environment: self.environment,
            auto_rollback: AutoRollback::Auto,
            enforcement: crate::core::enforcement::Enforcement::Enforce,
            holder: holder.into(),
        }
    }

    fn starts(&self) -> Vec<(JobId, StartJob)> {
        self.amplify
            .started
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, j, s)| (*j, *s))
            .collect()
    }

    /// The branch's rollback state, as `sentinel rollback show` reads it.
    async fn state(&self) -> crate::rollback::RollbackState {
        self.rollbacker("x")
            .show(&key(1).app_id, &key(1).branch_name)
            .await
            .unwrap()
    }

    /// The branch's lock, as `sentinel rollback show` reads it.
    async fn lock(&self) -> Option<crate::rollback::BranchLock> {
        self.state().await.lock
    }

    async fn unlock(&self, by: &str) -> Option<crate::rollback::BranchLock> {
        self.rollbacker(by)
            .unlock(&key(1).app_id, &key(1).branch_name)
            .await
            .unwrap()
    }

    /// Delivers `raw` as `holder` and expects the delivery to fail.
    async fn fails(&self, holder: &str, raw: &str) {
        assert!(
            self.rollbacker(holder)
                .on_event(&parsed(raw))
                .await
                .is_err()
        );
    }

    /// Delivers `raw` as `holder` and returns what was done.
    async fn deliver(&self, holder: &str, raw: &str) -> RollbackAction {
        self.rollbacker(holder)
            .on_event(&parsed(raw))
            .await
            .unwrap()
    }

    /// Nothing reached Amplify, nothing was published, the branch's
    /// rollback state is as it was.
    async fn untouched(&self, case: &str) {
        assert!(self.starts().is_empty(), "{case}: no StartJob");
        assert_eq!(self.auto_build(), None, "{case}: no UpdateBranch");
        assert!(
            self.publisher.detail_types().is_empty(),
            "{case}: {:?}",
            self.publisher.detail_types()
        );
        let state = self.state().await;
        assert!(
            state.lock.is_none() && state.active.is_none() && state.history.is_empty(),
            "{case}: {state:?}"
        );
    }

    /// A policy for main, as YAML.
    async fn policy(&self, yaml: &str) {
        let policy = crate::policy::BranchPolicy::parse(yaml, "p.yaml").unwrap();
        self.store
            .put_policy(&key(2).app_id, Some(&key(2).branch_name), &policy)
            .await
            .unwrap();
    }

    /// Delivers `raw` and expects a rollback to start.
    async fn started(&self, holder: &str, raw: &str) {
        let action = self
            .rollbacker(holder)
            .on_event(&parsed(raw))
            .await
            .unwrap();
        assert!(
            matches!(action, RollbackAction::Started { .. }),
            "{action:?}"
        );
    }

    fn auto_build(&self) -> Option<bool> {
        self.amplify
            .auto_build
            .lock()
            .unwrap()
            .get(&("d1abc".to_string(), "main".to_string()))
            .copied()
    }
}

fn envelope(detail_type: &str, detail: serde_json::Value) -> String {
    json!({"id": "eb-1", "source": "sentinel", "detail-type": detail_type, "detail": detail})
        .to_string()
}

fn health(verdict: &str, job: u64, commit: &str, is_rollback: bool) -> String {
    let detail_type = if verdict == "healthy" {
        "Deployment Healthy"
    } else {
        "Deployment Unhealthy"
    };
    envelope(
        detail_type,
        json!({
            "eventId": format!("d1abc/main/{job:010}/health"), "environment": "prod", "appId": "d1abc", "branchName": "main",
            "jobId": job.to_string(), "commitId": commit, "verdict": verdict, "reason": "3 consecutive rounds failed: status 500",
            "url": "http://127.0.0.1/", "endpoints": [], "isRollback": is_rollback, "rollbackOf": null,
            "scheduled": false, "rollbackAllowed": verdict == "unhealthy"
        }),
    )
}

/// The health checker's "Deployment Unhealthy" of job 2 (BAD).
fn job_2_unhealthy() -> String {
    health("unhealthy", 2, BAD, false)
}

fn build(status: &str, job: u64, commit: &str) -> String {
    let detail_type = match status {
        "SUCCEED" => "Build Succeeded",
        "FAILED" => "Build Failed",
        _ => "Build Cancelled",
    };
    envelope(
        detail_type,
        json!({
            "eventId": format!("d1abc/main/{job:010}/{status}"), "environment": "prod", "appId": "d1abc", "branchName": "main",
            "jobId": job.to_string(), "status": status, "commitId": commit, "commitMessage": null, "commitTime": null,
            "jobType": "RETRY", "startTime": null, "endTime": null, "durationSeconds": null, "isRollback": true, "rollbackOf": "2"
        }),
    )
}

fn diagnosed(job: u64, transient: bool) -> String {
    envelope(
        "Build Diagnosed",
        json!({
            "eventId": format!("d1abc/main/{job:010}/diagnosed"), "environment": "prod", "appId": "d1abc", "branchName": "main",
            "jobId": job.to_string(), "commitId": BAD, "category": if transient { "network-transient" } else { "typescript-error" },
            "title": "t", "transient": transient, "fix": "f", "isRollback": false, "rollbackOf": null
        }),
    )
}

/// A delivery as the function parses it.
fn parsed(raw: &str) -> Envelope {
    Envelope::parse(raw, ACCEPTED).expect("an accepted domain event")
}

/// Amplify's view of main: whether it builds on push.
fn set_branch(w: &World, enable_auto_build: bool) {
    w.amplify.branches.lock().unwrap().insert(
        ("d1abc".into(), "main".into()),
        crate::ports::BranchInfo {
            branch_name: "main".parse().unwrap(),
            display_name: "main".into(),
            stage: Some("PRODUCTION".into()),
            enable_auto_build,
            active_job_id: None,
            environment_variables: Default::default(),
            build_spec: None,
            framework: None,
            basic_auth: None,
        },
    );
}

/// The reason of the last "Rollback Failed" published.
fn failed_reason(w: &World) -> String {
    let published = w.publisher.published.lock().unwrap().clone();
    let failed = published
        .iter()
        .rfind(|e| e.detail_type == "Rollback Failed")
        .expect("Rollback Failed was published");
    let detail: serde_json::Value = serde_json::from_str(&failed.detail).unwrap();
    detail["reason"].as_str().unwrap().to_owned()
}

/// The action is a recommendation instead of a rollback.
fn assert_recommended(action: &RollbackAction) {
    assert!(
        matches!(
            action,
            RollbackAction::Refused {
                recommended: true,
                ..
            }
        ),
        "{action:?}"
    );
}

/// Job 3 started: a RETRY of job 1, the known good.
fn job_3_rolls_back_to_1() -> RollbackAction {
    RollbackAction::Started {
        rollback_job: JobId::new(3),
        target_job: JobId::new(1),
    }
}
