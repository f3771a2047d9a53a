//! What a build's events post: check run, commit status and deployments,
//! never going back, once per event, nothing for an app not on GitHub, a
//! job leased elsewhere, a rollback's own deployment.

use super::*;

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

    w.heard("main", 1, BuildStatus::Failed, "Build Failed", "FAILED")
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
    w.heard_succeeded("main", 1).await;
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
async fn a_rollback_marks_the_replaced_deploy_inactive_and_the_rollback_gets_its_own() {
    let w = World::new("main");
    w.heard_succeeded("main", 1).await;
    w.heard_succeeded("main", 2).await;
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
