use std::sync::atomic::Ordering;

use serde_json::json;

use super::*;
use crate::adapters::memory::{InMemory, MemoryAmplify, MemoryPublisher, MemoryStore};
use crate::core::deployment::{Deployment, DeploymentKey, HealthRecord, JobDetails, LiveCheck};
use crate::core::verdicts::Verdict;
use crate::ports::{BranchPointer, DeploymentStore, StartJob};

const GOOD: &str = "1111111111111111111111111111111111111111";
const BAD: &str = "2222222222222222222222222222222222222222";

struct World {
    store: MemoryStore,
    amplify: MemoryAmplify,
    publisher: MemoryPublisher,
    environment: Environment,
}

fn key(n: u64) -> DeploymentKey {
    DeploymentKey {
        app_id: "d1abc".parse().unwrap(),
        branch_name: "main".parse().unwrap(),
        job_id: JobId::new(n),
    }
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

    /// The branch's lock, as `sentinel rollback show` reads it.
    async fn lock(&self) -> Option<crate::rollback::BranchLock> {
        self.rollbacker("x")
            .show(&key(1).app_id, &key(1).branch_name)
            .await
            .unwrap()
            .lock
    }

    async fn unlock(&self, by: &str) -> Option<crate::rollback::BranchLock> {
        self.rollbacker(by)
            .unlock(&key(1).app_id, &key(1).branch_name)
            .await
            .unwrap()
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

#[tokio::test]
async fn an_unhealthy_deploy_is_rolled_back_once_and_the_branch_locked() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    let action = w
        .rollbacker("r1")
        .on_event(&parsed(&health("unhealthy", 2, BAD, false)))
        .await
        .unwrap();
    assert_eq!(
        action,
        RollbackAction::Started {
            rollback_job: JobId::new(3),
            target_job: JobId::new(1)
        }
    );
    assert_eq!(
        w.starts(),
        vec![(JobId::new(3), StartJob::Retry(JobId::new(1)))]
    );
    assert_eq!(w.auto_build(), Some(false));
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Started"]);
    let record = w.store.get_deployment(&key(3)).await.unwrap().unwrap();
    assert_eq!(
        record.rollback_of,
        Some(JobId::new(2)),
        "the rollback job is marked"
    );

    // The same event again: reported again, nothing started.
    let again = w
        .rollbacker("r2")
        .on_event(&parsed(&health("unhealthy", 2, BAD, false)))
        .await
        .unwrap();
    assert!(matches!(again, RollbackAction::Started { .. }));
    assert_eq!(w.starts().len(), 1);

    // The rollback job builds the good commit and is verified healthy.
    w.built(3, BuildStatus::Succeeded, GOOD).await;
    assert_eq!(
        w.rollbacker("r3")
            .on_event(&parsed(&build("SUCCEED", 3, GOOD)))
            .await
            .unwrap(),
        RollbackAction::Waiting
    );
    w.checked(3, Verdict::Healthy).await;
    assert_eq!(
        w.rollbacker("r4")
            .on_event(&parsed(&health("healthy", 3, GOOD, true)))
            .await
            .unwrap(),
        RollbackAction::RollbackSucceeded
    );
    assert_eq!(
        w.publisher.detail_types().last().unwrap(),
        "Rollback Succeeded"
    );
    let state = w
        .rollbacker("x")
        .show(&key(1).app_id, &key(1).branch_name)
        .await
        .unwrap();
    assert!(state.lock.is_some(), "the lock stays until released");
    assert_eq!(w.auto_build(), Some(false));

    let released = w
        .rollbacker("alice")
        .unlock(&key(1).app_id, &key(1).branch_name)
        .await
        .unwrap();
    assert_eq!(released.unwrap().pinned_job, JobId::new(1));
    assert_eq!(w.auto_build(), Some(true));
    let state = w
        .rollbacker("x")
        .show(&key(1).app_id, &key(1).branch_name)
        .await
        .unwrap();
    assert!(state.lock.is_none());
    assert!(state.audit.last().unwrap().contains("unlocked by alice"));
}

#[tokio::test]
async fn concurrent_deliveries_start_one_job() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    let envelope = parsed(&health("unhealthy", 2, BAD, false));
    let runs: Vec<_> = (0..10).map(|i| format!("r{i}")).collect();
    let rollbackers: Vec<_> = runs.iter().map(|h| w.rollbacker(h)).collect();
    let results =
        futures::future::join_all(rollbackers.iter().map(|r| r.on_event(&envelope))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(w.starts().len(), 1);
}

#[tokio::test]
async fn an_unhealthy_rollback_fails_and_is_never_rolled_back() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    w.rollbacker("r1")
        .on_event(&parsed(&health("unhealthy", 2, BAD, false)))
        .await
        .unwrap();
    w.checked(3, Verdict::Unhealthy).await;
    let failed = w
        .rollbacker("r2")
        .on_event(&parsed(&health("unhealthy", 3, GOOD, true)))
        .await
        .unwrap();
    assert!(
        matches!(failed, RollbackAction::RollbackFailed(_)),
        "{failed:?}"
    );
    assert_eq!(w.starts().len(), 1, "no second rollback");
    assert_eq!(
        w.publisher.detail_types(),
        vec!["Rollback Started", "Rollback Failed"]
    );
}

#[tokio::test]
async fn another_commit_deployed_by_the_rollback_is_a_failure() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    w.rollbacker("r1")
        .on_event(&parsed(&health("unhealthy", 2, BAD, false)))
        .await
        .unwrap();
    w.built(3, BuildStatus::Succeeded, "3333333333333333").await;
    let failed = w
        .rollbacker("r2")
        .on_event(&parsed(&build("SUCCEED", 3, "3333333333333333")))
        .await
        .unwrap();
    let RollbackAction::RollbackFailed(why) = failed else {
        panic!("{failed:?}")
    };
    assert!(
        why.contains("instead of the target's 111111111111"),
        "{why}"
    );
}

/// World with jobs 1 (healthy, known good) and 2 (live) of the same commit.
async fn same_commit_world(commit: &str) -> World {
    let w = World::new(Environment::Prod, true).await;
    for n in [1, 2] {
        w.store
            .advance_pointer(&key(n), Some(commit), BranchPointer::Live)
            .await
            .unwrap();
        w.built(n, BuildStatus::Succeeded, commit).await;
    }
    w.store
        .advance_pointer(&key(1), Some(commit), BranchPointer::LastKnownGood)
        .await
        .unwrap();
    w.checked(2, Verdict::Unhealthy).await;
    w
}

#[tokio::test]
async fn a_known_good_job_of_the_same_commit_is_no_rollback_target() {
    let w = same_commit_world(GOOD).await;
    w.rollbacker("r1")
        .on_event(&parsed(&health("unhealthy", 2, GOOD, false)))
        .await
        .unwrap();
    assert!(
        w.starts().is_empty(),
        "the same commit rebuilt is no rollback"
    );
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Recommended"]);
}

#[tokio::test]
async fn manual_deployments_reporting_head_are_told_apart_by_job() {
    // CreateDeployment/StartDeployment jobs (no repository) all report
    // commit HEAD: the earlier healthy one is still the rollback target.
    let w = same_commit_world("HEAD").await;
    w.rollbacker("r1")
        .on_event(&parsed(&health("unhealthy", 2, "HEAD", false)))
        .await
        .unwrap();
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Started"]);
    assert_eq!(w.starts().len(), 1, "one RETRY of job 1");
}

#[tokio::test]
async fn without_a_known_good_job_it_only_recommends() {
    let w = World::new(Environment::Prod, false).await;
    w.checked(2, Verdict::Unhealthy).await;
    let action = w
        .rollbacker("r1")
        .on_event(&parsed(&health("unhealthy", 2, BAD, false)))
        .await
        .unwrap();
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
    assert!(w.starts().is_empty());
    assert_eq!(w.auto_build(), None, "auto-build untouched");
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Recommended"]);
}

#[tokio::test]
async fn in_dev_it_recommends_the_command_instead() {
    let w = World::new(Environment::Dev, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    w.rollbacker("r1")
        .on_event(&parsed(&health("unhealthy", 2, BAD, false)))
        .await
        .unwrap();
    w.rollbacker("r2")
        .on_event(&parsed(&health("unhealthy", 2, BAD, false)))
        .await
        .unwrap();
    assert!(w.starts().is_empty());
    let published = w.publisher.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1, "recommended once");
    assert!(
        published[0]
            .detail
            .contains("sentinel rollback --app d1abc --branch main --to 1"),
        "{}",
        published[0].detail
    );
}

#[tokio::test]
async fn a_transient_failure_is_retried_once_per_lineage() {
    let w = World::new(Environment::Prod, true).await;
    w.diagnosis(2, true).await;
    let first = w
        .rollbacker("r1")
        .on_event(&parsed(&diagnosed(2, true)))
        .await
        .unwrap();
    assert_eq!(
        first,
        RollbackAction::Retried {
            retry_job: JobId::new(3)
        }
    );
    assert_eq!(
        w.rollbacker("r2")
            .on_event(&parsed(&diagnosed(2, true)))
            .await
            .unwrap(),
        RollbackAction::Retried {
            retry_job: JobId::new(3)
        }
    );
    assert_eq!(w.starts().len(), 1, "a duplicate does not retry again");
    w.diagnosis(3, true).await;
    let again = w
        .rollbacker("r3")
        .on_event(&parsed(&diagnosed(3, true)))
        .await
        .unwrap();
    assert!(
        matches!(again, RollbackAction::NotRetried(_)),
        "the retry failed the same way: {again:?}"
    );
    w.diagnosis(1, false).await;
    let other = w
        .rollbacker("r4")
        .on_event(&parsed(&diagnosed(1, false)))
        .await
        .unwrap();
    assert!(matches!(other, RollbackAction::NotRetried(_)));
    assert_eq!(w.starts().len(), 1);
    assert_eq!(
        w.publisher.detail_types(),
        vec!["Build Retried", "Build Retried"]
    );
}

#[tokio::test]
async fn a_failed_start_job_is_taken_over_by_the_redelivery() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    w.amplify.fail_next_start.store(1, Ordering::SeqCst);
    let raw = health("unhealthy", 2, BAD, false);
    let first = w.rollbacker("r1").on_event(&parsed(&raw)).await;
    assert!(
        first.is_err(),
        "the delivery fails, to come again: {first:?}"
    );
    assert!(w.starts().is_empty());
    // The redelivery (another invocation) is not refused by r1's lease.
    let again = w.rollbacker("r2").on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(
        again,
        RollbackAction::Started {
            rollback_job: JobId::new(3),
            target_job: JobId::new(1)
        }
    );
    assert_eq!(w.starts().len(), 1);
}

#[tokio::test]
async fn a_start_job_whose_answer_was_lost_is_adopted_not_repeated() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    w.amplify.lose_next_start.store(1, Ordering::SeqCst);
    let raw = health("unhealthy", 2, BAD, false);
    assert!(w.rollbacker("r1").on_event(&parsed(&raw)).await.is_err());
    assert_eq!(w.starts().len(), 1, "the lost call did start job 3");
    let again = w.rollbacker("r2").on_event(&parsed(&raw)).await.unwrap();
    assert_eq!(
        again,
        RollbackAction::Started {
            rollback_job: JobId::new(3),
            target_job: JobId::new(1)
        }
    );
    assert_eq!(w.starts().len(), 1, "job 3 adopted, no second StartJob");
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Started"]);
}

#[tokio::test]
async fn a_transient_retry_survives_a_failed_or_lost_start_job() {
    for lost in [false, true] {
        let w = World::new(Environment::Prod, true).await;
        w.diagnosis(2, true).await;
        let counter = if lost {
            &w.amplify.lose_next_start
        } else {
            &w.amplify.fail_next_start
        };
        counter.store(1, Ordering::SeqCst);
        assert!(
            w.rollbacker("r1")
                .on_event(&parsed(&diagnosed(2, true)))
                .await
                .is_err()
        );
        let again = w
            .rollbacker("r2")
            .on_event(&parsed(&diagnosed(2, true)))
            .await
            .unwrap();
        assert_eq!(
            again,
            RollbackAction::Retried {
                retry_job: JobId::new(3)
            },
            "lost answer: {lost}"
        );
        assert_eq!(w.starts().len(), 1, "one RETRY (lost answer: {lost})");
    }
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

#[tokio::test]
async fn an_attempt_taking_over_keeps_what_auto_build_was_before_the_first() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    set_branch(&w, true);
    w.amplify.fail_next_start.store(1, Ordering::SeqCst);
    let raw = health("unhealthy", 2, BAD, false);
    assert!(w.rollbacker("r1").on_event(&parsed(&raw)).await.is_err());
    // The first attempt switched auto-build off before its StartJob failed;
    // Amplify now says "off", which is Sentinel's doing, not the team's.
    set_branch(&w, false);
    w.started("r2", &raw).await;
    assert_eq!(w.lock().await.unwrap().auto_build_before, Some(true));
    w.unlock("alice").await;
    assert_eq!(w.auto_build(), Some(true));
}

#[tokio::test]
async fn unlock_gives_a_manual_branch_back_its_manual_builds() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    // The team builds main by hand: auto-build is off before any rollback.
    set_branch(&w, false);
    w.started("r1", &health("unhealthy", 2, BAD, false)).await;
    assert_eq!(w.lock().await.unwrap().auto_build_before, Some(false));
    assert_eq!(w.auto_build(), Some(false));
    let released = w.unlock("alice").await.expect("there was a lock");
    assert_eq!(released.auto_build_before, Some(false));
    // Auto-build was never switched back on: the branch stays manual.
    assert!(
        !w.amplify.auto_build.lock().unwrap().values().any(|on| *on),
        "auto-build was switched on"
    );
}

#[tokio::test]
async fn unlock_without_a_lock_changes_nothing() {
    let w = World::new(Environment::Prod, true).await;
    assert_eq!(w.unlock("alice").await, None);
    assert_eq!(w.auto_build(), None, "Amplify was not touched");
    let state = w
        .rollbacker("x")
        .show(&key(1).app_id, &key(1).branch_name)
        .await
        .unwrap();
    assert!(state.audit.is_empty(), "{:?}", state.audit);
}

/// A branch policy of `enforcement: observe` over the stack's enforce (the
/// "would have" is kept on job 2's record).
async fn observing(w: &World) {
    let policy = crate::policy::BranchPolicy::parse("enforcement: observe\n", "p.yaml").unwrap();
    w.store
        .put_policy(&key(2).app_id, Some(&key(2).branch_name), &policy)
        .await
        .unwrap();
}

#[tokio::test]
async fn in_observe_mode_a_rollback_is_recorded_published_and_never_started() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    observing(&w).await;
    for holder in ["r1", "r2"] {
        let action = w
            .rollbacker(holder)
            .on_event(&parsed(&health("unhealthy", 2, BAD, false)))
            .await
            .unwrap();
        let RollbackAction::Observed(summary) = action else {
            panic!("{action:?}");
        };
        assert!(
            summary.starts_with("would have rolled back to job 1 (commit 111111111111)"),
            "{summary}"
        );
    }
    assert!(w.starts().is_empty(), "no StartJob");
    assert_eq!(w.auto_build(), None, "no UpdateBranch");
    let state = w
        .rollbacker("x")
        .show(&key(1).app_id, &key(1).branch_name)
        .await
        .unwrap();
    assert!(state.lock.is_none() && state.active.is_none() && state.history.is_empty());
    let record = w.store.get_deployment(&key(2)).await.unwrap().unwrap();
    assert_eq!(record.observed.len(), 1, "recorded once");
    assert_eq!(record.observed[0].target_job, Some(JobId::new(1)));
    assert_eq!(
        record.observed[0].command.as_deref(),
        Some("sentinel rollback --app d1abc --branch main --to 1")
    );
    assert!(record.outbox.is_empty(), "published and cleared");
    let published = w.publisher.published.lock().unwrap().clone();
    let ids: std::collections::BTreeSet<_> = published.iter().map(|e| e.id.clone()).collect();
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        vec!["d1abc/main/0000000002/observed-rollback"]
    );
    assert!(published.iter().all(|e| e.detail_type == "Action Observed"));
}

#[tokio::test]
async fn in_observe_mode_the_guards_still_decide_what_would_have_happened() {
    // Without a known good job, observe mode recommends, as enforce would.
    let w = World::new(Environment::Prod, false).await;
    w.checked(2, Verdict::Unhealthy).await;
    observing(&w).await;
    let action = w
        .rollbacker("r1")
        .on_event(&parsed(&health("unhealthy", 2, BAD, false)))
        .await
        .unwrap();
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
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Recommended"]);
    assert!(w.starts().is_empty());
}

#[tokio::test]
async fn in_observe_mode_a_transient_failure_is_not_retried() {
    let w = World::new(Environment::Prod, true).await;
    w.diagnosis(2, true).await;
    observing(&w).await;
    let action = w
        .rollbacker("r1")
        .on_event(&parsed(&diagnosed(2, true)))
        .await
        .unwrap();
    let RollbackAction::Observed(summary) = action else {
        panic!("{action:?}");
    };
    assert!(
        summary.starts_with("would have retried this build: StartJob RETRY of job 2 (attempt 1 of"),
        "{summary}"
    );
    assert!(w.starts().is_empty());
    assert_eq!(w.publisher.detail_types(), vec!["Action Observed"]);
    // The same branch under `enforcement: enforce` retries.
    let policy = crate::policy::BranchPolicy::parse("enforcement: enforce\n", "p.yaml").unwrap();
    w.store
        .put_policy(&key(2).app_id, Some(&key(2).branch_name), &policy)
        .await
        .unwrap();
    let action = w
        .rollbacker("r2")
        .on_event(&parsed(&diagnosed(2, true)))
        .await
        .unwrap();
    assert!(
        matches!(action, RollbackAction::Retried { .. }),
        "{action:?}"
    );
}

#[tokio::test]
async fn a_stack_in_observe_mode_acts_only_where_a_policy_says_enforce() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    let observer = Rollbacker::<InMemory> {
        enforcement: crate::core::enforcement::Enforcement::Observe,
        ..w.rollbacker("r1")
    };
    let action = observer
        .on_event(&parsed(&health("unhealthy", 2, BAD, false)))
        .await
        .unwrap();
    assert!(matches!(action, RollbackAction::Observed(_)), "{action:?}");
    assert!(w.starts().is_empty());
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

#[tokio::test]
async fn a_rollback_whose_start_job_is_refused_gives_auto_build_back_and_fails() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    set_branch(&w, true);
    w.amplify.reject_next_start.store(1, Ordering::SeqCst);
    let raw = health("unhealthy", 2, BAD, false);
    let action = w.rollbacker("r1").on_event(&parsed(&raw)).await.unwrap();
    let RollbackAction::RollbackFailed(why) = &action else {
        panic!("not a failed rollback: {action:?}");
    };
    assert!(why.contains("StartJob refused"), "{why}");
    assert!(w.starts().is_empty());
    assert_eq!(w.auto_build(), Some(true), "auto-build given back");
    assert_eq!(w.lock().await, None, "no lock stays");
    let state = w
        .rollbacker("x")
        .show(&key(1).app_id, &key(1).branch_name)
        .await
        .unwrap();
    let active = state.active.clone().unwrap();
    assert_eq!(active.outcome, Some(Outcome::Failed));
    assert!(state.lease.is_none());
    assert_eq!(
        state.automatic_within(Utc::now(), 24),
        1,
        "the guards count it"
    );
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Failed"]);
    assert!(failed_reason(&w).contains("StartJob refused"));
    // A redelivery neither starts it again nor leaves the branch changed.
    let again = w.rollbacker("r2").on_event(&parsed(&raw)).await.unwrap();
    assert!(
        !matches!(again, RollbackAction::Started { .. }),
        "{again:?}"
    );
    assert!(w.starts().is_empty());
    assert_eq!(w.auto_build(), Some(true));
}

#[tokio::test]
async fn a_refused_rollback_whose_auto_build_cannot_be_given_back_says_how_to() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    set_branch(&w, true);
    w.amplify.reject_next_start.store(1, Ordering::SeqCst);
    w.amplify.fail_next_enable.store(1, Ordering::SeqCst);
    let raw = health("unhealthy", 2, BAD, false);
    let action = w.rollbacker("r1").on_event(&parsed(&raw)).await.unwrap();
    assert!(
        matches!(action, RollbackAction::RollbackFailed(_)),
        "{action:?}"
    );
    assert_eq!(w.auto_build(), Some(false), "still off");
    let reason = failed_reason(&w);
    assert!(reason.contains("auto-build is still off"), "{reason}");
    assert!(
        reason.contains("sentinel unlock --app d1abc --branch main"),
        "{reason}"
    );
    // The lock stays, so that unlock gives auto-build back.
    assert_eq!(w.lock().await.unwrap().auto_build_before, Some(true));
    w.unlock("alice").await.expect("a lock to release");
    assert_eq!(w.auto_build(), Some(true));
}

#[tokio::test]
async fn a_rollback_that_failed_to_start_for_now_leaves_a_lock_to_release() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    set_branch(&w, true);
    w.amplify.fail_next_start.store(1, Ordering::SeqCst);
    let raw = health("unhealthy", 2, BAD, false);
    assert!(w.rollbacker("r1").on_event(&parsed(&raw)).await.is_err());
    // Auto-build is off and the redelivery takes over; should none come (the
    // queue gives up), the lock says so and unlock gives auto-build back.
    assert_eq!(w.auto_build(), Some(false));
    assert_eq!(w.lock().await.unwrap().auto_build_before, Some(true));
    w.unlock("alice").await.expect("a lock to release");
    assert_eq!(w.auto_build(), Some(true));
}

#[tokio::test]
async fn a_failed_start_whose_alert_was_not_published_is_published_by_the_redelivery() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    set_branch(&w, true);
    w.amplify.reject_next_start.store(1, Ordering::SeqCst);
    w.publisher.fail_next.store(1, Ordering::SeqCst);
    let raw = health("unhealthy", 2, BAD, false);
    assert!(w.rollbacker("r1").on_event(&parsed(&raw)).await.is_err());
    let again = w.rollbacker("r2").on_event(&parsed(&raw)).await.unwrap();
    assert!(
        matches!(again, RollbackAction::RollbackFailed(_)),
        "{again:?}"
    );
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Failed"]);
    assert!(w.starts().is_empty());
}

/// Issue #18 item 9: the per-branch `retries` map is pruned as retries are
/// recorded, so a branch that fails transiently for years stays far under
/// DynamoDB's 400 KB item.
#[tokio::test]
async fn the_retries_of_a_branch_stay_bounded() {
    use crate::rollback::ports::RollbackStore;
    let w = World::new(Environment::Prod, true).await;
    w.diagnosis(2, true).await;
    let (app, branch) = (key(1).app_id, key(1).branch_name);
    let mut state = RollbackState::new(app.clone(), branch.clone(), Environment::Prod);
    let long_ago = chrono::Utc::now() - chrono::Duration::days(60);
    for n in 1_000..3_000u64 {
        state.retries.insert(
            n.to_string(),
            crate::rollback::RetryRecord {
                root: JobId::new(n),
                attempt: 1,
                retry_job: Some(JobId::new(n + 100_000)),
                at: long_ago + chrono::Duration::minutes(n as i64),
            },
        );
    }
    w.store.save_rollback_state(&state).await.unwrap();
    let action = w
        .rollbacker("r1")
        .on_event(&parsed(&diagnosed(2, true)))
        .await
        .unwrap();
    assert!(
        matches!(action, RollbackAction::Retried { .. }),
        "{action:?}"
    );
    let state = w
        .store
        .get_rollback_state(&app, &branch)
        .await
        .unwrap()
        .unwrap();
    assert!(
        state.retries.len() <= crate::rollback::state::RETRIES_KEPT,
        "{}",
        state.retries.len()
    );
    assert!(state.retries.contains_key("2"), "the new retry is kept");
    assert!(serde_json::to_string(&state).unwrap().len() < 64 * 1024);
}

/// `raw` with some of its detail's fields replaced: what anything allowed
/// to put events on the bus could send.
fn saying(raw: &str, fields: serde_json::Value) -> String {
    let mut event: serde_json::Value = serde_json::from_str(raw).unwrap();
    for (field, value) in fields.as_object().unwrap() {
        event["detail"][field] = value.clone();
    }
    event.to_string()
}

impl World {
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
        let state = self
            .rollbacker("x")
            .show(&key(1).app_id, &key(1).branch_name)
            .await
            .unwrap();
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
}

/// Issue #18 item 10: a "Deployment Unhealthy" saying `rollbackAllowed`
/// is acted on only if the job's record holds the health checker's
/// unhealthy verdict (written before it publishes).
#[tokio::test]
async fn an_unhealthy_event_its_record_does_not_bear_out_starts_nothing() {
    let forged = saying(
        &health("unhealthy", 2, BAD, false),
        json!({"rollbackAllowed": true, "scheduled": false, "isRollback": false}),
    );
    for case in ["healthy", "no verdict", "inconclusive", "no record"] {
        let w = World::new(Environment::Prod, true).await;
        set_branch(&w, true);
        match case {
            "healthy" => w.checked(2, Verdict::Healthy).await,
            "inconclusive" => w.checked(2, Verdict::Inconclusive).await,
            "no verdict" => w.record(2, |_| ()).await,
            _ => {}
        }
        let action = w.rollbacker("r1").on_event(&parsed(&forged)).await.unwrap();
        let RollbackAction::Refused {
            why,
            recommended: false,
        } = &action
        else {
            panic!("{case}: {action:?}");
        };
        assert!(why.contains("not acted on"), "{case}: {why}");
        w.untouched(case).await;
    }
}

/// The deploy check's unhealthy verdict leads to a rollback whatever the
/// event says, and the reason given is the recorded one.
#[tokio::test]
async fn an_unhealthy_deploy_check_is_rolled_back_on_its_recorded_verdict() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    let event = saying(
        &health("unhealthy", 2, BAD, false),
        json!({"rollbackAllowed": false, "scheduled": true, "reason": "what the sender says"}),
    );
    w.started("r1", &event).await;
    let published = w.publisher.published.lock().unwrap().clone();
    let detail: serde_json::Value = serde_json::from_str(&published[0].detail).unwrap();
    let reason = detail["reason"].as_str().unwrap();
    assert!(reason.contains("recorded: Unhealthy"), "{reason}");
    assert!(!reason.contains("what the sender says"), "{reason}");
}

/// Only a scheduled check found the live job unhealthy: a rollback only
/// with the policy's `health.rollback_on_live_failure`, whatever the
/// event's `scheduled` and `rollbackAllowed` say.
#[tokio::test]
async fn an_unhealthy_scheduled_check_is_rolled_back_only_where_the_policy_says() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Healthy).await;
    w.live_checked(2, Verdict::Unhealthy).await;
    let claims_allowed = saying(
        &health("unhealthy", 2, BAD, false),
        json!({"rollbackAllowed": true, "scheduled": false}),
    );
    let action = w
        .rollbacker("r1")
        .on_event(&parsed(&claims_allowed))
        .await
        .unwrap();
    assert!(matches!(action, RollbackAction::Ignored(_)), "{action:?}");
    w.untouched("no policy flag").await;

    w.policy("health:\n  rollback_on_live_failure: true\n")
        .await;
    let claims_refused = saying(
        &health("unhealthy", 2, BAD, false),
        json!({"rollbackAllowed": false, "scheduled": true}),
    );
    w.started("r2", &claims_refused).await;
    assert_eq!(w.starts().len(), 1);
}

/// A rollback begun on a scheduled verdict is taken over by the redelivery
/// even if a later scheduled check found the site up again: the branch is
/// not left locked with no rollback.
#[tokio::test]
async fn a_rollback_begun_on_a_verdict_since_replaced_is_taken_over() {
    let w = World::new(Environment::Prod, true).await;
    w.policy("health:\n  rollback_on_live_failure: true\n")
        .await;
    w.live_checked(2, Verdict::Unhealthy).await;
    w.amplify.fail_next_start.store(1, Ordering::SeqCst);
    let raw = health("unhealthy", 2, BAD, false);
    assert!(w.rollbacker("r1").on_event(&parsed(&raw)).await.is_err());
    w.live_checked(2, Verdict::Healthy).await;
    w.started("r2", &raw).await;
    assert_eq!(w.starts().len(), 1);
}

/// Whether a job is a rollback is its record's word (or the branch's
/// rollback state's), never the event's `isRollback`.
#[tokio::test]
async fn a_rollback_job_is_known_by_its_record_not_by_the_event() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    w.started("r1", &health("unhealthy", 2, BAD, false)).await;
    // Job 3, the rollback, is concluded; later it is found unhealthy.
    w.checked(3, Verdict::Healthy).await;
    assert_eq!(
        w.rollbacker("r2")
            .on_event(&parsed(&health("healthy", 3, GOOD, true)))
            .await
            .unwrap(),
        RollbackAction::RollbackSucceeded
    );
    w.live_checked(3, Verdict::Unhealthy).await;
    w.policy("health:\n  rollback_on_live_failure: true\n")
        .await;
    let forged = saying(
        &health("unhealthy", 3, GOOD, false),
        json!({"isRollback": false, "rollbackOf": null, "rollbackAllowed": true}),
    );
    let action = w.rollbacker("r3").on_event(&parsed(&forged)).await.unwrap();
    assert!(
        !matches!(action, RollbackAction::Started { .. }),
        "{action:?}"
    );
    assert_eq!(w.starts().len(), 1, "never a rollback of the rollback");
    assert_eq!(
        w.publisher.detail_types(),
        vec!["Rollback Started", "Rollback Succeeded"]
    );
}

/// A rollback in progress is concluded on what its job's record says
/// only: a forged "Deployment Healthy", "Deployment Unhealthy" or "Build
/// Failed" of the rollback job ends nothing.
#[tokio::test]
async fn a_rollback_is_concluded_on_its_jobs_record_only() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Unhealthy).await;
    w.started("r1", &health("unhealthy", 2, BAD, false)).await;
    for raw in [
        health("healthy", 3, GOOD, true),
        health("unhealthy", 3, GOOD, true),
        build("FAILED", 3, GOOD),
        build("SUCCEED", 3, "3333333333333333"),
    ] {
        let action = w.rollbacker("r2").on_event(&parsed(&raw)).await.unwrap();
        assert!(
            matches!(action, RollbackAction::Refused { .. }),
            "{action:?}"
        );
    }
    let state = w
        .rollbacker("x")
        .show(&key(1).app_id, &key(1).branch_name)
        .await
        .unwrap();
    assert!(state.is_rollback_job(JobId::new(3)), "still in progress");
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Started"]);
}

/// "Build Diagnosed" is acted on as the alerter recorded it: a job whose
/// record holds no transient diagnosis, or is a rollback, is not retried
/// whatever the event says.
#[tokio::test]
async fn a_diagnosis_its_record_does_not_bear_out_retries_nothing() {
    let forged = saying(
        &diagnosed(2, true),
        json!({"transient": true, "isRollback": false, "rollbackOf": null}),
    );
    for case in ["not transient", "no diagnosis", "no record", "a rollback"] {
        let w = World::new(Environment::Prod, true).await;
        match case {
            "not transient" => w.diagnosis(2, false).await,
            "no diagnosis" => w.record(2, |_| ()).await,
            "a rollback" => {
                w.diagnosis(2, true).await;
                w.record(2, |d| d.rollback_of = Some(JobId::new(1))).await;
            }
            _ => {}
        }
        let action = w.rollbacker("r1").on_event(&parsed(&forged)).await.unwrap();
        assert!(
            matches!(action, RollbackAction::NotRetried(_)),
            "{case}: {action:?}"
        );
        w.untouched(case).await;
    }
}

#[tokio::test]
async fn an_unhealthy_reported_service_is_recommended_a_rollback_once_and_amplify_is_never_called()
{
    let w = World::new(Environment::Prod, true).await;
    let svc = DeploymentKey {
        app_id: "svc:shop-api".parse().unwrap(),
        branch_name: "prod".parse().unwrap(),
        job_id: JobId::new(1_764_000_000_000),
    };
    let mut d = Deployment::new(svc.clone(), Environment::Prod);
    d.status = BuildStatus::Succeeded;
    d.health = Some(HealthRecord {
        verdict: Verdict::Unhealthy,
        reason: "3 consecutive rounds failed: status 500".into(),
        url: "https://shop.example.com/".into(),
        checked_at: Utc::now(),
        rounds: 3,
        endpoints: Vec::new(),
    });
    w.store.save_deployment(&d).await.unwrap();
    let raw = health("unhealthy", svc.job_id.number(), BAD, false)
        .replace("d1abc/main", "svc:shop-api/prod")
        .replace("\"d1abc\"", "\"svc:shop-api\"")
        .replace("\"main\"", "\"prod\"");
    for _ in 0..2 {
        let action = w.rollbacker("r1").on_event(&parsed(&raw)).await.unwrap();
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
    assert!(w.starts().is_empty());
    assert_eq!(w.amplify.calls.load(Ordering::SeqCst), 0);
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Recommended"]);
    let published = w.publisher.published.lock().unwrap()[0].detail.clone();
    assert!(
        published.contains("cannot roll back a reported service"),
        "{published}"
    );
}

/// Issue #28 item 6: a rollback begun in enforce mode (branch locked,
/// auto-build off, its StartJob failed for now) whose branch was switched
/// to observe before the redelivery was refused in silence, the branch
/// left locked with auto-build off.
#[tokio::test]
async fn a_rollback_under_way_when_the_policy_turns_to_observe_gives_the_branch_back_and_says_so() {
    for enable_fails in [false, true] {
        let w = World::new(Environment::Prod, true).await;
        w.checked(2, Verdict::Unhealthy).await;
        set_branch(&w, true);
        w.amplify.fail_next_start.store(1, Ordering::SeqCst);
        let raw = health("unhealthy", 2, BAD, false);
        assert!(w.rollbacker("r1").on_event(&parsed(&raw)).await.is_err());
        assert_eq!(w.auto_build(), Some(false), "locked by the first attempt");
        observing(&w).await;
        if enable_fails {
            w.amplify.fail_next_enable.store(1, Ordering::SeqCst);
        }
        let again = w.rollbacker("r2").on_event(&parsed(&raw)).await.unwrap();
        let RollbackAction::RollbackFailed(why) = &again else {
            panic!("not said: {again:?}");
        };
        assert!(why.contains("observe mode"), "{why}");
        assert!(w.starts().is_empty(), "nothing started in observe mode");
        assert_eq!(w.publisher.detail_types(), vec!["Rollback Failed"]);
        let reason = failed_reason(&w);
        if enable_fails {
            // Could not give it back: the alert says how, the lock stays.
            assert_eq!(w.auto_build(), Some(false));
            assert!(reason.contains("sentinel unlock"), "{reason}");
            assert!(w.lock().await.is_some());
        } else {
            assert_eq!(w.auto_build(), Some(true), "auto-build given back");
            assert!(reason.contains("auto-build is back on"), "{reason}");
            assert_eq!(w.lock().await, None, "no lock stays");
        }
        // Delivered once more: nothing more happens, nothing more is said.
        let third = w.rollbacker("r3").on_event(&parsed(&raw)).await.unwrap();
        assert!(
            !matches!(
                third,
                RollbackAction::Started { .. } | RollbackAction::RollbackFailed(_)
            ),
            "{third:?}"
        );
        assert!(w.starts().is_empty());
        assert_eq!(w.publisher.detail_types(), vec!["Rollback Failed"]);
    }
}

/// Issue #28 item 6: a retry whose StartJob answer was lost, of a job
/// whose record has no commit, was started a second time (the adoption
/// looked for a RETRY of the record's commit only).
#[tokio::test]
async fn a_lost_retry_of_a_job_recorded_without_a_commit_is_adopted_not_repeated() {
    let w = World::new(Environment::Prod, true).await;
    w.diagnosis(2, true).await;
    w.record(2, |d| d.details.commit_id = None).await;
    // Amplify started RETRY job 3 of job 2's commit; its answer was lost.
    w.amplify.lose_next_start.store(1, Ordering::SeqCst);
    let first = w
        .rollbacker("r1")
        .on_event(&parsed(&diagnosed(2, true)))
        .await;
    assert!(first.is_err(), "{first:?}");
    assert_eq!(w.starts().len(), 1);
    // The redelivery, once the claim of the first attempt ran out.
    let state = w
        .rollbacker("x")
        .show(&key(1).app_id, &key(1).branch_name)
        .await
        .unwrap();
    assert!(
        state.retries.is_empty(),
        "the failed attempt released its claim"
    );
    let again = w
        .rollbacker("r2")
        .on_event(&parsed(&diagnosed(2, true)))
        .await
        .unwrap();
    assert_eq!(
        again,
        RollbackAction::Retried {
            retry_job: JobId::new(3)
        }
    );
    assert_eq!(w.starts().len(), 1, "job 3 adopted, no second StartJob");
}
