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

struct World {
    store: MemoryStore,
    amplify: MemoryAmplify,
    github: MemoryGitHub,
    retries: MemoryRetries,
    breaker: Breaker,
}

fn key(branch: &str, job: u64) -> DeploymentKey {
    DeploymentKey {
        app_id: "d1abc".parse().unwrap(),
        branch_name: branch.parse().unwrap(),
        job_id: JobId::new(job),
    }
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

fn event(detail_type: &str, branch: &str, job: u64, status: &str) -> Envelope {
    let raw = json!({
        "id": format!("eb-{detail_type}-{job}"),
        "source": "sentinel",
        "detail-type": detail_type,
        "detail": {
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
        }
    })
    .to_string();
    let all: Vec<&str> = crate::alert::reaction::ACCEPTED.to_vec();
    Envelope::parse(&raw, &all).unwrap()
}

fn rollback_event(detail_type: &str, from: u64, by: u64, to: u64) -> Envelope {
    let raw = json!({
        "id": format!("eb-{detail_type}-{from}"),
        "source": "sentinel",
        "detail-type": detail_type,
        "detail": {
            "eventId": format!("d1abc/main/{from:010}/rollback"),
            "environment": "prod",
            "appId": "d1abc",
            "branchName": "main",
            "fromJobId": from.to_string(),
            "rollbackJobId": by.to_string(),
            "targetJobId": to.to_string(),
            "reason": "unhealthy"
        }
    })
    .to_string();
    Envelope::parse(&raw, crate::alert::reaction::ACCEPTED).unwrap()
}

fn only_run(w: &World) -> crate::github::api::CheckRun {
    let runs = w.github.check_runs.lock().unwrap();
    assert_eq!(runs.len(), 1, "one check run: {runs:?}");
    runs.values().next().unwrap().clone()
}

#[tokio::test]
async fn a_build_goes_in_progress_then_completed_and_a_late_start_changes_nothing() {
    let w = World::new("main");
    w.record("main", 1, BuildStatus::Started).await;
    let o = w
        .reporter()
        .after_event(&event("Build Started", "main", 1, "STARTED"))
        .await;
    assert_eq!((o.scheduled, o.dropped), (0, 0), "{o:?}");
    assert!(o.applied >= 1, "{o:?}");
    assert_eq!(only_run(&w).status, CheckStatus::InProgress);

    w.record("main", 1, BuildStatus::Failed).await;
    w.reporter()
        .after_event(&event("Build Failed", "main", 1, "FAILED"))
        .await;
    let run = only_run(&w);
    assert_eq!(
        (run.status, run.conclusion),
        (CheckStatus::Completed, Some(Conclusion::Failure))
    );
    assert!(run.summary.contains("out-of-memory"), "{}", run.summary);
    assert!(
        run.summary.contains("max-old-space-size"),
        "{}",
        run.summary
    );

    // "Build Started" delivered again, late: the record says failed.
    let before = w.writes().len();
    let o = w
        .reporter()
        .after_event(&event("Build Started", "main", 1, "STARTED"))
        .await;
    assert_eq!(o.applied, 0, "{o:?}");
    assert_eq!(w.writes().len(), before, "{:?}", w.writes());
    assert_eq!(only_run(&w).status, CheckStatus::Completed);
    // Whatever deployment the rendering made of it, no status went back.
    for (_, statuses) in w.github.deployments.lock().unwrap().values() {
        let states: Vec<_> = statuses.iter().map(|s| s.state).collect();
        if let Some(done) = states
            .iter()
            .position(|s| !matches!(s, DeploymentState::InProgress | DeploymentState::Pending))
        {
            assert!(
                !states[done..].contains(&DeploymentState::InProgress),
                "{states:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_same_event_twice_posts_nothing_new() {
    let w = World::new("main");
    w.record("main", 1, BuildStatus::Succeeded).await;
    let e = event("Build Succeeded", "main", 1, "SUCCEEDED");
    let first = w.reporter().after_event(&e).await;
    assert!(first.applied > 0);
    let calls = w.github.calls().len();
    let second = w.reporter().after_event(&e).await;
    assert_eq!(second, GitHubOutcome::default());
    // Only the state item is read: no request at all.
    assert_eq!(w.github.calls().len(), calls, "{:?}", w.github.calls());
    let deployments = w.github.deployments.lock().unwrap();
    assert_eq!(deployments.len(), 1);
    let (new, statuses) = deployments.values().next().unwrap();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].state, DeploymentState::Success);
    assert_eq!(
        statuses[0].environment_url.as_deref(),
        Some("https://main.d1abc.amplifyapp.com/")
    );
    assert_eq!(new.git_ref, "c0ffee01");
}

#[tokio::test]
async fn a_deployment_status_never_goes_back() {
    let w = World::new("main");
    w.record("main", 1, BuildStatus::Succeeded).await;
    w.reporter()
        .after_event(&event("Build Succeeded", "main", 1, "SUCCEEDED"))
        .await;
    // A record rewritten to "started" (as a stale writer might): the check
    // run follows the record, the deployment's status does not go back.
    let mut d = w
        .store
        .get_deployment(&key("main", 1))
        .await
        .unwrap()
        .unwrap();
    d.status = BuildStatus::Started;
    w.store.save_deployment(&d).await.unwrap();
    w.reporter().update(&key("main", 1), 0).await;
    let deployments = w.github.deployments.lock().unwrap();
    let (_, statuses) = deployments.values().next().unwrap();
    assert_eq!(
        statuses.iter().map(|s| s.state).collect::<Vec<_>>(),
        [DeploymentState::Success]
    );
}

#[tokio::test]
async fn a_rate_limit_schedules_a_retry_after_github_s_delay_and_opens_the_breaker() {
    let w = World::new("main");
    w.record("main", 1, BuildStatus::Failed).await;
    w.record("main", 2, BuildStatus::Failed).await;
    // The author is read first; the check run is refused.
    w.github.script_commit(CommitInfo {
        sha: "c0ffee01".into(),
        author_name: Some("Jane".into()),
        author_login: None,
        authored_at: None,
        committed_at: None,
    });
    w.github.outage(GitHubError::RateLimited {
        retry_after: Duration::from_secs(120),
        kind: "secondary",
    });
    let o = w.reporter().update(&key("main", 1), 0).await;
    assert_eq!((o.applied, o.scheduled, o.dropped), (0, 1, 0), "{o:?}");
    let sent = w.retries.sent();
    assert_eq!(sent[0].1, 120);
    let request = RetryRequest::parse(&sent[0].0).unwrap().unwrap();
    assert_eq!(request.key(), key("main", 1));
    assert_eq!(request.attempt, 1);
    assert!(
        sent[0].0.starts_with(r#"{"githubRetry":{"#),
        "{}",
        sent[0].0
    );

    // The next job's update skips GitHub while the breaker is open.
    let calls = w.github.calls().len();
    let o = w.reporter().update(&key("main", 2), 0).await;
    assert_eq!(o.scheduled, 1);
    assert_eq!(w.github.calls().len(), calls, "no request while open");
    let delay = w.retries.sent()[1].1;
    assert!((30..=120).contains(&delay), "{delay}");

    // GitHub is back, the breaker closed: the retry converges.
    w.github.recover();
    w.breaker.close(&key("main", 1).app_id);
    let o = w.reporter().on_retry(&request).await;
    assert!(o.applied >= 1, "{o:?}");
    assert_eq!(only_run(&w).conclusion, Some(Conclusion::Failure));
}

#[tokio::test]
async fn an_outage_backs_off_and_the_last_attempt_is_dropped_and_counted() {
    assert_eq!(
        (1..=MAX_ATTEMPTS)
            .map(|a| retry_delay(a, None))
            .collect::<Vec<_>>(),
        [30, 60, 120, 240, 480, 900, 900, 900, 900, 900]
    );
    // Ten attempts cover more than an hour.
    assert!(
        (1..=MAX_ATTEMPTS)
            .map(|a| retry_delay(a, None))
            .sum::<u32>()
            > 3600
    );
    assert_eq!(retry_delay(1, Some(Duration::from_secs(0))), 30);
    assert_eq!(retry_delay(1, Some(Duration::from_secs(4000))), 900);

    let w = World::new("main");
    w.record("main", 1, BuildStatus::Failed).await;
    w.github.outage(GitHubError::Unavailable {
        reason: "HTTP 500 token=ghs_abcdefghijklmnopqrstuvwxyz0123456789".into(),
        retry_after: None,
    });
    let o = w.reporter().update(&key("main", 1), 2).await;
    assert_eq!(o.scheduled, 1);
    assert_eq!(w.retries.sent()[0].1, 120, "the third retry waits 120 s");

    let w = World::new("main");
    w.record("main", 1, BuildStatus::Failed).await;
    w.github.outage(GitHubError::Unavailable {
        reason: "HTTP 500 token=ghs_abcdefghijklmnopqrstuvwxyz0123456789".into(),
        retry_after: None,
    });
    let o = w.reporter().update(&key("main", 1), MAX_ATTEMPTS).await;
    assert_eq!((o.scheduled, o.dropped), (0, 1), "{o:?}");
    assert!(w.retries.sent().is_empty());
    let line = &o.metric_lines[0];
    crate::metrics::emf::validate(line).unwrap();
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v[DROPPED_METRIC], 1.0);
    assert_eq!(v["job"], "1");
    assert!(!line.contains("ghs_abcdefghijklmnopqrstuvwxyz"), "{line}");
}

#[tokio::test]
async fn an_error_retrying_cannot_mend_is_dropped_at_once() {
    let w = World::new("main");
    w.record("main", 1, BuildStatus::Failed).await;
    w.github.outage(GitHubError::Rejected {
        status: 422,
        reason: "Validation Failed".into(),
    });
    let o = w.reporter().update(&key("main", 1), 0).await;
    assert_eq!((o.scheduled, o.dropped), (0, 1), "{o:?}");
    assert!(
        w.breaker.remaining(&key("main", 1).app_id).is_none(),
        "a 422 is no outage"
    );
}

#[tokio::test]
async fn a_retry_that_cannot_be_queued_is_dropped_not_failed() {
    let w = World::new("main");
    w.record("main", 1, BuildStatus::Failed).await;
    w.github.outage(GitHubError::Unavailable {
        reason: "HTTP 502".into(),
        retry_after: None,
    });
    *w.retries.fail.lock().unwrap() = true;
    let o = w.reporter().update(&key("main", 1), 0).await;
    assert_eq!((o.scheduled, o.dropped), (0, 1), "{o:?}");
}

#[tokio::test]
async fn a_token_writes_a_commit_status_not_a_check_run() {
    let w = World::with_github("main", MemoryGitHub::with_auth(AuthKind::Token));
    w.record("main", 1, BuildStatus::Failed).await;
    let o = w.reporter().update(&key("main", 1), 0).await;
    assert_eq!(o.dropped, 0, "{o:?}");
    let calls = w.writes();
    assert!(
        calls
            .iter()
            .any(|c| matches!(c, GitHubCall::CommitStatus(_, sha, s) if sha == "c0ffee01" && s.state == crate::github::api::CommitState::Failure)),
        "{calls:?}"
    );
    assert!(
        !calls
            .iter()
            .any(|c| matches!(c, GitHubCall::CreateCheckRun(..))),
        "{calls:?}"
    );
    // Again: the same status is not posted twice.
    let n = w.writes().len();
    w.reporter().update(&key("main", 1), 0).await;
    assert_eq!(w.writes().len(), n);
}

#[tokio::test]
async fn a_pull_request_gets_one_comment_created_then_edited() {
    let w = World::new("pr-7");
    w.record("pr-7", 1, BuildStatus::Failed).await;
    w.reporter().update(&key("pr-7", 1), 0).await;
    w.record("pr-7", 2, BuildStatus::Failed).await;
    w.reporter().update(&key("pr-7", 2), 0).await;
    let comments = w.github.comments.lock().unwrap().clone();
    assert_eq!(comments.len(), 1, "{comments:?}");
    let (number, body) = comments.values().next().unwrap();
    assert_eq!(*number, 7);
    assert!(body.contains(COMMENT_MARKER));
    assert!(
        body.to_lowercase().contains("job 2"),
        "edited for the newer job: {body}"
    );
    let calls = w.github.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| matches!(c, GitHubCall::CreateComment(..)))
            .count(),
        1
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| matches!(c, GitHubCall::UpdateComment(..)))
            .count(),
        1
    );
    // A preview's deployment is transient.
    let deployments = w.github.deployments.lock().unwrap();
    assert!(deployments.values().all(|(d, _)| d.transient_environment));
}

#[tokio::test]
async fn a_rollback_marks_the_replaced_deploy_inactive_and_the_rollback_gets_its_own() {
    let w = World::new("main");
    w.record("main", 1, BuildStatus::Succeeded).await;
    w.reporter()
        .after_event(&event("Build Succeeded", "main", 1, "SUCCEEDED"))
        .await;
    w.record("main", 2, BuildStatus::Succeeded).await;
    w.reporter()
        .after_event(&event("Build Succeeded", "main", 2, "SUCCEEDED"))
        .await;
    // Job 2 was unhealthy: job 3 rebuilds job 1.
    w.record("main", 3, BuildStatus::Succeeded).await;
    let mut rollback = w
        .store
        .get_deployment(&key("main", 3))
        .await
        .unwrap()
        .unwrap();
    rollback.rollback_of = Some(JobId::new(2));
    rollback.details.commit_id = Some("c0ffee01".into());
    w.store.save_deployment(&rollback).await.unwrap();
    let o = w
        .reporter()
        .after_event(&rollback_event("Rollback Started", 2, 3, 1))
        .await;
    assert_eq!(o.dropped, 0, "{o:?}");
    let state = w
        .store
        .get_github_state(&key("main", 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.replaced_by, Some(JobId::new(3)));
    let deployments = w.github.deployments.lock().unwrap().clone();
    assert_eq!(deployments.len(), 3, "the rollback job has its own");
    let of_job = |job: &str| {
        deployments
            .values()
            .find(|(d, _)| d.payload["job"] == job)
            .unwrap()
            .1
            .iter()
            .map(|s| s.state)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of_job("2"),
        [DeploymentState::Success, DeploymentState::Inactive]
    );
    assert_eq!(of_job("1"), [DeploymentState::Success]);
    assert_eq!(of_job("3"), [DeploymentState::Success]);
    let runs = w.github.check_runs.lock().unwrap().clone();
    let run2 = runs
        .values()
        .find(|r| r.external_id.as_deref() == Some("d1abc/main/2"))
        .unwrap();
    assert!(
        run2.summary.contains("Rolled back to job 1"),
        "{}",
        run2.summary
    );

    // "Rollback Succeeded" after it: job 2 stays inactive, nothing posted
    // twice.
    let before = w.github.deployments.lock().unwrap()[&state.deployment_id.unwrap()]
        .1
        .len();
    w.reporter()
        .after_event(&rollback_event("Rollback Succeeded", 2, 3, 1))
        .await;
    let after = w.github.deployments.lock().unwrap()[&state.deployment_id.unwrap()]
        .1
        .len();
    assert_eq!(before, after);
}

#[tokio::test]
async fn an_app_not_on_github_makes_no_request() {
    let w = World::new("main");
    w.amplify
        .apps
        .lock()
        .unwrap()
        .get_mut("d1abc")
        .unwrap()
        .repository = Some("https://gitlab.com/acme/shop".into());
    w.record("main", 1, BuildStatus::Failed).await;
    let o = w.reporter().update(&key("main", 1), 0).await;
    assert_eq!(o, GitHubOutcome::default());
    assert!(w.github.calls().is_empty());
}

#[tokio::test]
async fn a_job_leased_by_another_reconciler_is_retried_shortly() {
    let w = World::new("main");
    w.record("main", 1, BuildStatus::Failed).await;
    let mut held = GitHubState::new(key("main", 1));
    held.lease_owner = Some("request-other".into());
    held.lease_until = Some(Utc::now() + chrono::Duration::seconds(30));
    w.store.save_github_state(&held).await.unwrap();
    let o = w.reporter().update(&key("main", 1), 0).await;
    assert_eq!(o.scheduled, 1, "{o:?}");
    assert_eq!(w.retries.sent()[0].1, 30, "the backoff, at least");
    assert!(w.github.calls().is_empty());
    // An expired lease is taken over.
    let mut stale = w
        .store
        .get_github_state(&key("main", 1))
        .await
        .unwrap()
        .unwrap();
    stale.lease_until = Some(Utc::now() - chrono::Duration::seconds(1));
    w.store.save_github_state(&stale).await.unwrap();
    let o = w.reporter().update(&key("main", 1), 0).await;
    assert!(o.applied > 0, "{o:?}");
    let done = w
        .store
        .get_github_state(&key("main", 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.lease_owner, None, "released");
}

#[tokio::test]
async fn an_alert_names_the_author_unless_github_fails() {
    let w = World::new("main");
    w.github.script_commit(CommitInfo {
        sha: "c0ffee01".into(),
        author_name: Some("Jane Doe".into()),
        author_login: Some("jane".into()),
        authored_at: None,
        committed_at: None,
    });
    let app: AppId = "d1abc".parse().unwrap();
    let branch: BranchName = "main".parse().unwrap();
    let x = w
        .reporter()
        .alert_extras(&app, &branch, Some(JobId::new(1)), Some("c0ffee01"))
        .await;
    assert_eq!(x.author_line().as_deref(), Some("Jane Doe (@jane)"));
    assert_eq!(x.custom_site_url, None, "no custom domain");

    let w = World::new("main");
    w.github.fail_next(GitHubError::Unavailable {
        reason: "HTTP 500".into(),
        retry_after: None,
    });
    let x = w
        .reporter()
        .alert_extras(&app, &branch, Some(JobId::new(1)), Some("c0ffee01"))
        .await;
    assert_eq!(x.author, None);
    // The breaker is open: the next alert does not ask.
    let calls = w.github.calls().len();
    w.reporter()
        .alert_extras(&app, &branch, Some(JobId::new(2)), Some("c0ffee02"))
        .await;
    assert_eq!(w.github.calls().len(), calls);
}

#[test]
fn retry_bodies_are_recognised_and_bad_ones_named() {
    let r = RetryRequest {
        app: "d1abc".parse().unwrap(),
        branch: "main".parse().unwrap(),
        job: JobId::new(5),
        attempt: 3,
    };
    assert_eq!(RetryRequest::parse(&r.to_body()).unwrap().unwrap(), r);
    assert!(RetryRequest::parse(r#"{"id":"x","detail":{}}"#).is_none());
    assert!(RetryRequest::parse("not json").is_none());
    let bad = RetryRequest::parse(r#"{"githubRetry":{"app":"d1abc"}}"#)
        .unwrap()
        .unwrap_err();
    assert!(bad.reason.contains("githubRetry"), "{bad}");
}

#[tokio::test]
async fn a_fine_build_posts_no_comment_but_edits_the_failure_s_one() {
    let w = World::new("pr-8");
    w.record("pr-8", 1, BuildStatus::Succeeded).await;
    w.reporter().update(&key("pr-8", 1), 0).await;
    assert!(w.github.comments.lock().unwrap().is_empty(), "none yet");
    // The same event again asks GitHub nothing more.
    let calls = w.github.calls().len();
    w.reporter().update(&key("pr-8", 1), 0).await;
    assert_eq!(w.github.calls().len(), calls);

    w.record("pr-8", 2, BuildStatus::Failed).await;
    w.reporter().update(&key("pr-8", 2), 0).await;
    w.record("pr-8", 3, BuildStatus::Succeeded).await;
    w.reporter().update(&key("pr-8", 3), 0).await;
    let comments = w.github.comments.lock().unwrap().clone();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments
            .values()
            .next()
            .unwrap()
            .1
            .to_lowercase()
            .contains("job 3")
    );
}

#[tokio::test]
async fn the_alert_links_the_custom_domain_when_it_is_available() {
    use crate::ports::{DomainAssociation, SubDomain};
    let w = World::new("main");
    let domain = |status: &str| DomainAssociation {
        domain_name: "shop.example.com".into(),
        domain_status: status.into(),
        sub_domains: vec![SubDomain {
            prefix: "www".into(),
            branch_name: "main".into(),
            verified: true,
        }],
    };
    let app: AppId = "d1abc".parse().unwrap();
    let branch: BranchName = "main".parse().unwrap();
    w.amplify
        .domains
        .lock()
        .unwrap()
        .insert("d1abc".into(), vec![domain("PENDING_VERIFICATION")]);
    let x = w.reporter().alert_extras(&app, &branch, None, None).await;
    assert_eq!(x.custom_site_url, None, "not available yet");
    w.amplify
        .domains
        .lock()
        .unwrap()
        .insert("d1abc".into(), vec![domain("AVAILABLE")]);
    let x = w.reporter().alert_extras(&app, &branch, None, None).await;
    assert_eq!(
        x.custom_site_url.as_deref(),
        Some("https://www.shop.example.com/")
    );
    // The deployment's environment_url is the same site.
    w.record("main", 1, BuildStatus::Succeeded).await;
    w.reporter().update(&key("main", 1), 0).await;
    let deployments = w.github.deployments.lock().unwrap();
    let (_, statuses) = deployments.values().next().unwrap();
    assert_eq!(
        statuses[0].environment_url.as_deref(),
        Some("https://www.shop.example.com/")
    );
}

#[tokio::test]
async fn a_policy_saying_never_gets_no_comment() {
    let w = World::new("pr-9");
    let policy =
        crate::policy::BranchPolicy::parse("github:\n  pr_comment: never\n", "p.yaml").unwrap();
    crate::policy::PolicyStore::put_policy(&w.store, &"d1abc".parse().unwrap(), None, &policy)
        .await
        .unwrap();
    w.record("pr-9", 1, BuildStatus::Failed).await;
    let o = w.reporter().update(&key("pr-9", 1), 0).await;
    assert!(o.applied >= 1, "the check run still: {o:?}");
    assert!(w.github.comments.lock().unwrap().is_empty());
}

#[test]
fn the_breaker_holds_back_only_the_app_whose_github_failed() {
    let breaker = Breaker::default();
    let (a, b): (AppId, AppId) = ("d1abc".parse().unwrap(), "d2abc".parse().unwrap());
    breaker.trip(&a, Duration::from_secs(30));
    assert!(breaker.remaining(&a).is_some());
    assert_eq!(
        breaker.remaining(&b),
        None,
        "another app's GitHub is not held back"
    );
    // A shorter opening never shortens the one in force.
    breaker.trip(&a, Duration::from_secs(1));
    assert!(breaker.remaining(&a).unwrap() > Duration::from_secs(20));
    breaker.close(&a);
    assert_eq!(breaker.remaining(&a), None);
}
