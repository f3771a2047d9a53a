//! Builds that should not run, through the real binaries (issue #29 items
//! 8, 9): a newer build of a branch stops the older one still running
//! (the Amplify emulator's call log shows StopJob of the older job, "Build
//! Skipped" is published once, also when "Build Started" is delivered
//! again); a monorepo build outside its app root is stopped and one touching
//! a shared path is not (GitHub's compare scripted on the GitHub emulator).

use std::time::Duration;

use sentinel_shared::core::deployment::{Deployment, DeploymentKey, SkipKind};
use sentinel_shared::core::model::BuildStatus;
use sentinel_shared::policy::BranchPolicy;
use sentinel_shared::policy::PolicyStore;
use sentinel_shared::ports::DeploymentStore;
use serde_json::{Value, json};

use crate::end_to_end::{ensure_watched_app, watched_app};
use crate::helpers::*;

/// A git commit id of its own per run (the emulators' logs outlive a run).
fn unique_sha(tag: u8) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{tag:02x}{:038x}", nanos ^ u128::from(std::process::id()))
}

fn key(branch: &str, job: &str) -> DeploymentKey {
    DeploymentKey {
        app_id: watched_app(),
        branch_name: branch.parse().unwrap(),
        job_id: job.parse().unwrap(),
    }
}

/// Starts a build of `commit` the test advances by hand, moved to RUNNING
/// (Amplify's STARTED event delivered): its job id.
async fn running_build(stack: &Stack, branch: &str, commit: &str) -> String {
    let app = watched_app();
    let job = stack.manual_build(&app, branch, commit).await.unwrap();
    stack
        .advance(&app, branch, &job, "RUNNING", true)
        .await
        .unwrap();
    job
}

/// Waits until the job's record satisfies `done` with nothing left to
/// publish.
async fn record_when(
    stack: &Stack,
    branch: &str,
    job: &str,
    what: &str,
    done: impl Fn(&Deployment) -> bool,
) -> Deployment {
    let store = stack.store();
    let key = key(branch, job);
    eventually(Duration::from_secs(90), what, || async {
        Ok(store
            .get_deployment(&key)
            .await?
            .filter(|d| done(d) && d.outbox.is_empty()))
    })
    .await
    .unwrap()
}

/// StopJob calls of `branch` in the Amplify emulator's log: the jobs.
async fn stop_jobs(stack: &Stack, branch: &str) -> Vec<String> {
    stack
        .amplify_calls()
        .await
        .iter()
        .filter(|c| c["operation"] == "StopJob" && c["params"]["branchName"] == branch)
        .filter_map(|c| c["params"]["jobId"].as_str().map(str::to_owned))
        .collect()
}

async fn emulated_status(stack: &Stack, branch: &str, job: &str) -> String {
    stack
        .amplify_sdk()
        .get_job()
        .app_id(watched_app().as_str())
        .branch_name(branch)
        .job_id(job)
        .send()
        .await
        .unwrap()
        .job()
        .unwrap()
        .summary()
        .unwrap()
        .status()
        .as_str()
        .to_owned()
}

#[tokio::test]
async fn a_newer_build_stops_the_older_one_still_running() {
    let stack = Stack::new().await;
    let branch = format!("sup-{}", unique_app_id());
    ensure_watched_app(&stack, &branch, "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a").await;
    let capture = stack
        .capture(&stack.bus, json!({"branchName": [branch.as_str()]}))
        .await
        .unwrap();

    // v1 runs and is validated; nothing newer exists yet.
    let v1 = running_build(&stack, &branch, "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a51").await;
    record_when(&stack, &branch, &v1, "v1 validated", |d| {
        d.validation.is_some()
    })
    .await;
    assert!(stop_jobs(&stack, &branch).await.is_empty(), "v1 runs alone");

    // v2 starts while v1 still runs: v1 is superseded.
    let v2 = running_build(&stack, &branch, "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a52").await;
    let old = record_when(&stack, &branch, &v1, "v1 skipped", |d| {
        d.skipped.as_ref().is_some_and(|s| s.stop_result.is_some())
    })
    .await;
    let skip = old.skipped.clone().unwrap();
    assert_eq!(skip.kind, SkipKind::Superseded);
    assert_eq!(skip.by_job.to_string(), v2);
    assert_eq!(skip.stop_result.as_deref(), Some("stopped"));
    assert_eq!(old.status, BuildStatus::Cancelled);
    assert_eq!(
        stop_jobs(&stack, &branch).await,
        vec![v1.clone()],
        "StopJob of v1 only"
    );
    assert!(
        ["CANCELLING", "CANCELLED"].contains(&emulated_status(&stack, &branch, &v1).await.as_str())
    );
    assert_eq!(emulated_status(&stack, &branch, &v2).await, "RUNNING");
    let new = record_when(&stack, &branch, &v2, "v2 validated", |d| {
        d.validation.is_some()
    })
    .await;
    assert!(new.skipped.is_none());

    // v1's "Build Started" delivered again, late: nothing more happens.
    let mut events = capture
        .collect(0, Duration::from_secs(20), Duration::from_secs(3))
        .await
        .unwrap();
    let started_v1 = events
        .iter()
        .find(|e| e["detail-type"] == "Build Started" && e["detail"]["jobId"] == v1.as_str())
        .cloned()
        .expect("v1's Build Started was published");
    stack
        .send_to_queue("SENTINEL_QUEUE_VALIDATOR_QUEUE", &started_v1.to_string())
        .await;
    events.extend(
        capture
            .collect(0, Duration::from_secs(1), Duration::from_secs(6))
            .await
            .unwrap(),
    );
    let skipped: Vec<&Value> = events
        .iter()
        .filter(|e| e["detail-type"] == "Build Skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "{events:#?}");
    let detail = &skipped[0]["detail"];
    assert_eq!(detail["jobId"], v1.as_str());
    assert_eq!(detail["byJobId"], v2.as_str());
    assert_eq!(detail["kind"], "superseded");
    assert_eq!(detail["appId"], watched_app().as_str());
    assert!(
        detail["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("superseded by job {v2}")),
        "{detail}"
    );
    assert_eq!(
        stop_jobs(&stack, &branch).await,
        vec![v1],
        "still one StopJob"
    );
}

// ----- the monorepo path filter: GitHub's compare on the GitHub emulator -----

/// The GitHub emulator's base URL (`.local/env`).
fn github_url() -> String {
    env("GITHUB_API_URL")
}

/// Scripts the emulator's answer to GET /repos/{repo}/compare/{base}...{head}
/// (`PUT /_emulator/compare`: owner, repo, base, head, files, commits
/// oldest first).
async fn script_compare(stack: &Stack, repo: &str, base: &str, head: &str, files: &[&str]) {
    let (owner, name) = repo.split_once('/').expect("owner/name");
    let body = json!({
        "owner": owner,
        "repo": name,
        "base": base,
        "head": head,
        "status": "ahead",
        "total_commits": 2,
        "commits": [
            {"sha": format!("{}0", &head[..39]), "author_name": "dev", "author_login": "dev",
             "date": "2026-12-01T10:00:00Z"},
            {"sha": head, "author_name": "dev", "author_login": "dev",
             "date": "2026-12-01T11:00:00Z"},
        ],
        "files": files,
    });
    let url = format!("{}/_emulator/compare", github_url());
    let answer = stack.http.put(&url).json(&body).send().await.unwrap();
    assert!(
        answer.status().is_success(),
        "PUT {url}: {}",
        answer.status()
    );
}

/// The compare calls the GitHub emulator received (`GET /_emulator/calls`).
async fn compare_calls(stack: &Stack, base: &str, head: &str) -> usize {
    let calls = stack
        .get_json(&format!("{}/_emulator/calls", github_url()))
        .await;
    calls
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|c| {
            c["method"] == "GET"
                && c["path"]
                    .as_str()
                    .is_some_and(|p| p.contains(&format!("/compare/{base}...{head}")))
        })
        .count()
}

/// The watched app's repository, as GetApp gives it: `owner/name`.
async fn repository(stack: &Stack) -> String {
    let app = stack
        .amplify_sdk()
        .get_app()
        .app_id(watched_app().as_str())
        .send()
        .await
        .unwrap();
    let url = app.app().unwrap().repository().to_owned();
    url.trim_start_matches("https://github.com/")
        .trim_end_matches(".git")
        .to_owned()
}

/// A monorepo branch (app root `apps/web`, `shared_paths`) whose last
/// deploy was `base`; then a build of `head` whose compare lists `files`.
/// Answers the branch and the head's job.
async fn monorepo_build(
    stack: &Stack,
    prefix: &str,
    base: &str,
    head: &str,
    files: &[&str],
) -> (String, String) {
    let app = watched_app();
    let branch = format!("{prefix}-{}", unique_app_id());
    ensure_watched_app(stack, &branch, base).await;
    stack
        .amplify_sdk()
        .update_branch()
        .app_id(app.as_str())
        .branch_name(&branch)
        .environment_variables("AMPLIFY_MONOREPO_APP_ROOT", "apps/web")
        .send()
        .await
        .unwrap();
    let policy =
        BranchPolicy::parse("shared_paths: [packages/**, pnpm-lock.yaml]\n", "test").unwrap();
    stack
        .store()
        .put_policy(&app, Some(&branch.parse().unwrap()), &policy)
        .await
        .unwrap();
    // The base deploys: the branch's live commit.
    let v1 = running_build(stack, &branch, base).await;
    stack
        .advance(&app, &branch, &v1, "SUCCEED", true)
        .await
        .unwrap();
    let store = stack.store();
    let (a, b) = (app.clone(), branch.parse().unwrap());
    eventually(Duration::from_secs(60), "the base is live", || async {
        Ok(store
            .get_branch_state(&a, &b)
            .await?
            .live_commit
            .filter(|c| c == base))
    })
    .await
    .unwrap();
    script_compare(stack, &repository(stack).await, base, head, files).await;
    let v2 = running_build(stack, &branch, head).await;
    (branch, v2)
}

#[tokio::test]
async fn a_monorepo_build_outside_its_app_root_is_stopped() {
    // The compare is GitHub's: it must answer for the watched app.
    let _answering = GITHUB_ANSWERS.read().await;
    let stack = Stack::new().await;
    let (base, head) = (&unique_sha(0x6b), &unique_sha(0x6c));
    let (branch, job) = monorepo_build(
        &stack,
        "mono-out",
        base,
        head,
        &["apps/api/src/x.ts", "README.md"],
    )
    .await;
    let d = record_when(&stack, &branch, &job, "skipped: no change", |d| {
        d.skipped.as_ref().is_some_and(|s| s.stop_result.is_some())
    })
    .await;
    let skip = d.skipped.unwrap();
    assert_eq!(skip.kind, SkipKind::NoChange);
    assert_eq!(skip.reason, "no change under apps/web");
    assert_eq!(skip.stop_result.as_deref(), Some("stopped"));
    assert_eq!(stop_jobs(&stack, &branch).await, vec![job]);
    assert_eq!(compare_calls(&stack, base, head).await, 1);
}

#[tokio::test]
async fn a_monorepo_build_touching_a_shared_path_is_not_stopped() {
    // The compare is GitHub's: it must answer for the watched app.
    let _answering = GITHUB_ANSWERS.read().await;
    let stack = Stack::new().await;
    let (base, head) = (&unique_sha(0x7c), &unique_sha(0x7d));
    let (branch, job) = monorepo_build(
        &stack,
        "mono-shared",
        base,
        head,
        &["apps/api/x.ts", "packages/ui/button.tsx"],
    )
    .await;
    let d = record_when(&stack, &branch, &job, "compared", |d| d.compare.is_some()).await;
    let compared = d.compare.clone().unwrap();
    assert_eq!(
        compared.outcome, "built: a shared path changed",
        "{compared:?}"
    );
    assert!(d.skipped.is_none());
    assert_eq!(
        d.details.first_commit_at.map(|t| t.to_rfc3339()),
        Some("2026-12-01T10:00:00+00:00".into()),
        "lead time from the first new commit"
    );
    assert!(stop_jobs(&stack, &branch).await.is_empty());
    assert_eq!(compare_calls(&stack, base, head).await, 1);
}
