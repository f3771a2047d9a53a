//! GitHub through the real binaries (#29's "done means"): the alerter,
//! built with the real GitHub client, writes to the local stack's GitHub
//! emulator (`tests/localstack/github_emulator.py`, `GITHUB_API_URL`), whose
//! control API shows what GitHub holds (`GET /_emulator/state`), what it
//! was asked (`GET /_emulator/calls`) and fails on demand
//! (`PUT /_emulator/mode`). The local apps' repository is
//! `sentinel-local/<appId>`, where the local App is installed.
//!
//! A failed build gets a completed check run naming its cause and fix; a
//! healthy deploy a deployment `success` at the site; a rollback marks the
//! bad deploy `inactive`; and with GitHub answering 500, alerts and
//! rollbacks happen as fast as without it.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use sentinel_shared::core::model::JobId;
use sentinel_shared::ports::DeploymentStore;
use serde_json::{Value, json};

use crate::end_to_end::{ensure_watched_app, watched_app};
use crate::helpers::*;
use crate::rollback::{branch, build, key, rolled_back, site, start_jobs, verdict};

const V1: &str = "1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a";
const V2: &str = "2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b";

/// How long GitHub may take to show a job: longer than the first retries
/// (30 s, 60 s) of an update another test's outage delayed.
const GITHUB_WITHIN: Duration = Duration::from_secs(150);

/// One control call to the GitHub emulator.
async fn emulator(method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
    let url = format!("{}/_emulator{path}", env("GITHUB_API_URL"));
    let mut request = reqwest::Client::new().request(method, &url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request.send().await.with_context(|| url.clone())?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("{url} → {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("{url}: {text}"))
}

async fn state() -> Result<Value> {
    emulator(reqwest::Method::GET, "/state", None).await
}

/// The check run of one job (its `external_id` is `app/branch/job`).
async fn check_run(branch: &str, job: JobId) -> Result<Option<Value>> {
    let id = format!("{}/{branch}/{job}", watched_app());
    Ok(state().await?["check_runs"]
        .as_array()
        .into_iter()
        .flatten()
        .rfind(|r| r["external_id"] == id.as_str())
        .cloned())
}

/// The deployment of one job (its payload names the job).
async fn deployment(branch: &str, job: JobId) -> Result<Option<Value>> {
    let app = watched_app().to_string();
    let job = job.to_string();
    Ok(state().await?["deployments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| {
            let p = &d["payload"];
            p["app"] == app.as_str() && p["branch"] == branch && p["job"] == job.as_str()
        })
        .cloned())
}

/// Waits for the job's check run to be completed with the diagnosis of
/// [`lockfile_log`] in its summary. A "Build Started" handled after the
/// failure was recorded but before its diagnosis may complete the run
/// first; the "Build Failed" that follows the diagnosis brings the summary
/// in step.
async fn diagnosed_run(branch: &str, job: JobId, within: Duration) -> Value {
    eventually(within, "a completed, diagnosed check run", || async {
        Ok(check_run(branch, job).await?.filter(|r| {
            r["status"] == "completed"
                && r["output"]["summary"]
                    .as_str()
                    .is_some_and(|s| s.contains("lockfile-out-of-sync"))
        }))
    })
    .await
    .unwrap()
}

fn last_state(deployment: &Value) -> Option<String> {
    deployment["statuses"]
        .as_array()?
        .last()?
        .get("state")?
        .as_str()
        .map(str::to_owned)
}

/// A failed build's log whose cause is a lockfile out of sync.
fn lockfile_log() -> Vec<&'static str> {
    vec![
        "# Starting phase: preBuild",
        "# Executing command: npm ci",
        "npm ERR! code EUSAGE",
        "npm ERR! `npm ci` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync. Please update your lock file with `npm install` before continuing.",
        "npm ERR! Missing: zod@3.22.4 from lock file",
        "!!! Build failed",
        "!!! Error: Command failed with exit code 1",
    ]
}

#[tokio::test]
async fn a_failed_build_gets_a_completed_check_run_naming_the_cause_and_the_fix() {
    let _answering = GITHUB_ANSWERS.read().await;
    let stack = Stack::new().await;
    let branch = format!("gh-{}", unique_app_id());
    ensure_watched_app(&stack, &branch, V1).await;
    let job = build(&stack, &branch, V1, "FAILED", Some(lockfile_log())).await;
    let run = diagnosed_run(&branch, job, GITHUB_WITHIN).await;
    assert_eq!(run["conclusion"], "failure", "{run:#}");
    assert_eq!(run["head_sha"], V1);
    assert_eq!(
        run["repo"],
        format!("sentinel-local/{}", watched_app()),
        "{run:#}"
    );
    let summary = run["output"]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("lockfile-out-of-sync"), "{summary}");
    assert!(summary.contains("npm install"), "the fix: {summary}");
    // One check run per job, however many events it saw.
    let runs = state().await.unwrap()["check_runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["external_id"] == format!("{}/{branch}/{job}", watched_app()).as_str())
        .count();
    assert_eq!(runs, 1);
}

#[tokio::test]
async fn a_healthy_deploy_gets_a_successful_deployment_at_its_site() {
    let _answering = GITHUB_ANSWERS.read().await;
    let stack = Stack::new().await;
    let branch = branch(&stack, "ghd").await;
    let v1 = build(&stack, &branch, V1, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v1).await, "healthy");
    let record = stack
        .store()
        .get_deployment(&key(&branch, v1))
        .await
        .unwrap()
        .unwrap();
    let checked = record.health.unwrap().url;
    let d = eventually(GITHUB_WITHIN, "a successful deployment", || async {
        Ok(deployment(&branch, v1)
            .await?
            .filter(|d| last_state(d).as_deref() == Some("success")))
    })
    .await
    .unwrap();
    let status = d["statuses"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(status["environment_url"], checked.as_str(), "{d:#}");
    assert_eq!(d["sha"], V1, "{d:#}");
    // Never backwards: no status after "success" says "in_progress".
    let states: Vec<&str> = d["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["state"].as_str())
        .collect();
    let first_success = states.iter().position(|s| *s == "success").unwrap();
    assert!(
        !states[first_success..].contains(&"in_progress"),
        "{states:?}"
    );
}

#[tokio::test]
async fn a_rollback_marks_the_bad_deploy_inactive() {
    let _answering = GITHUB_ANSWERS.read().await;
    let stack = Stack::new().await;
    let (branch, v1, v2, got) = rolled_back(&stack, "ghr").await;
    let rollback_job: JobId = got[0]["detail"]["rollbackJobId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let bad = eventually(GITHUB_WITHIN, "the bad deploy inactive", || async {
        Ok(deployment(&branch, v2)
            .await?
            .filter(|d| last_state(d).as_deref() == Some("inactive")))
    })
    .await
    .unwrap();
    // Nothing follows "inactive".
    let states: Vec<&str> = bad["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["state"].as_str())
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "inactive").count(),
        1,
        "{states:?}"
    );
    let run = eventually(GITHUB_WITHIN, "the check run says so", || async {
        Ok(check_run(&branch, v2).await?.filter(|r| {
            r["output"]["summary"]
                .as_str()
                .is_some_and(|s| s.contains(&format!("Rolled back to job {v1}")))
        }))
    })
    .await
    .unwrap();
    assert_eq!(run["status"], "completed");
    // The rollback job has its own deployment.
    eventually(GITHUB_WITHIN, "the rollback's deployment", || async {
        deployment(&branch, rollback_job).await
    })
    .await
    .unwrap();
}

/// The watched app's repository on the emulator (`sentinel-local/<appId>`).
fn watched_repo() -> String {
    format!("sentinel-local/{}", watched_app())
}

/// Puts the watched app's repository back to answering normally, even when
/// the test fails.
struct Healed;

impl Drop for Healed {
    fn drop(&mut self) {
        let url = format!("{}/_emulator/mode", env("GITHUB_API_URL"));
        let body = json!({ "repo": watched_repo() }).to_string();
        let _ = std::process::Command::new("curl")
            .args(["-s", "-X", "PUT", "-H", "content-type: application/json"])
            .args(["-d", &body, &url])
            .output();
    }
}

#[tokio::test]
async fn with_github_answering_500_alerts_and_rollbacks_are_on_time() {
    // GitHub fails for the watched app's repository only (the other tests'
    // repositories answer), and no test that needs it answering runs
    // meanwhile.
    let _failing = GITHUB_ANSWERS.write().await;
    let stack = Stack::new().await;
    emulator(
        reqwest::Method::PUT,
        "/mode",
        Some(json!({"repo": watched_repo(), "fail": {"status": 500, "seconds": 3600}})),
    )
    .await
    .unwrap();
    let healed = Healed;

    // A failed build's alert: as fast as tests/it/alert.rs's (within its
    // 90 s bound), and in practice within seconds of the failure.
    let failing = format!("gho-{}", unique_app_id());
    ensure_watched_app(&stack, &failing, V1).await;
    let inbox = stack.subscribe_alerts(&failing).await.unwrap();
    let started = Instant::now();
    let failed_job = build(&stack, &failing, V1, "FAILED", Some(lockfile_log())).await;
    let alerts = inbox
        .collect(1, Duration::from_secs(90), Duration::from_secs(1))
        .await
        .unwrap();
    let alert_took = started.elapsed();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0]["Subject"]
            .as_str()
            .unwrap_or_default()
            .contains("lockfile-out-of-sync"),
        "{:#}",
        alerts[0]
    );
    assert!(
        alert_took < Duration::from_secs(45),
        "the alert took {alert_took:?} with GitHub down"
    );

    // An unhealthy deploy is rolled back, as in tests/it/rollback.rs.
    let branch = branch(&stack, "ghor").await;
    site(&stack, &branch, &[V2]).await;
    let v1 = build(&stack, &branch, V1, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v1).await, "healthy");
    let v2 = build(&stack, &branch, V2, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v2).await, "unhealthy");
    let unhealthy_at = Instant::now();
    let starts = eventually(Duration::from_secs(90), "StartJob", || async {
        let s = start_jobs(&stack, &branch).await;
        Ok((!s.is_empty()).then_some(s))
    })
    .await
    .unwrap();
    assert_eq!(starts[0].0, "RETRY");
    eprintln!(
        "with GitHub answering 500: alert after {alert_took:?}, StartJob {:?} after the verdict",
        unhealthy_at.elapsed()
    );
    assert!(
        unhealthy_at.elapsed() < Duration::from_secs(45),
        "the rollback started {:?} after the verdict with GitHub down",
        unhealthy_at.elapsed()
    );

    // GitHub was asked, and answered 500; nothing was dead-lettered for it.
    let calls = emulator(reqwest::Method::GET, "/calls", None)
        .await
        .unwrap();
    let failed = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == 500)
        .count();
    assert!(failed > 0, "the emulator saw no 500: {calls:#}");

    // GitHub answers again: the updates the outage held back arrive through
    // the alerter's own retries (30 s, then 60 s, … after each failure),
    // never dead-lettered, and the failed build's check run completes with
    // its diagnosis.
    drop(healed);
    let run = diagnosed_run(&failing, failed_job, Duration::from_secs(300)).await;
    assert_eq!(run["conclusion"], "failure", "{run:#}");
    let summary = run["output"]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("lockfile-out-of-sync"), "{summary}");
}

/// The job's GitHub state item on moto's DynamoDB: written under its
/// version (a stale writer is refused), read back whole. Needs no GitHub.
#[tokio::test]
async fn the_github_state_item_is_written_under_its_version() {
    use sentinel_shared::core::error::StoreError;
    use sentinel_shared::github::ports::GitHubStateStore;
    use sentinel_shared::github::state::GitHubState;

    let stack = Stack::new().await;
    let store = stack.store();
    let job = key(&format!("ghs-{}", unique_app_id()), JobId::new(7));
    assert_eq!(store.get_github_state(&job).await.unwrap(), None);
    let mut state = GitHubState::new(job.clone());
    state.check_run_id = Some(4242);
    state.deployment_state = Some(sentinel_shared::github::api::DeploymentState::Success);
    state.lease_owner = Some("r-1#0".into());
    store.save_github_state(&state).await.unwrap();
    let stored = store.get_github_state(&job).await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(stored.check_run_id, Some(4242));
    assert_eq!(stored.deployment_state, state.deployment_state);
    // A second writer that read nothing (version 0) is refused…
    assert!(matches!(
        store.save_github_state(&state).await,
        Err(StoreError::Conflict)
    ));
    // …one that read version 1 writes version 2.
    let mut next = stored.clone();
    next.lease_owner = None;
    store.save_github_state(&next).await.unwrap();
    let again = store.get_github_state(&job).await.unwrap().unwrap();
    assert_eq!((again.version, again.lease_owner), (2, None));
    // Another job of the branch is another item.
    let other = sentinel_shared::core::deployment::DeploymentKey {
        job_id: JobId::new(8),
        ..job.clone()
    };
    assert_eq!(store.get_github_state(&other).await.unwrap(), None);
}
