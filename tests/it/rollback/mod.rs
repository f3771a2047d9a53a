//! Rollback and retries through the real binaries and the emulator: a
//! healthy v1, an unhealthy v2 → one StartJob RETRY of v1, auto-build off,
//! "Rollback Succeeded", the lock kept until `sentinel unlock`; concurrent
//! deliveries start one job; a rollback that is unhealthy or deploys another
//! commit fails and stops; no known good job → only a recommendation;
//! transient failures are retried once, others never; a "Deployment
//! Unhealthy" its job's record does not bear out starts nothing.

use std::time::Duration;

use sentinel_shared::core::deployment::{Deployment, DeploymentKey, HealthRecord};
use sentinel_shared::core::model::JobId;
use sentinel_shared::core::verdicts::Verdict;
use sentinel_shared::ports::DeploymentStore;
use sentinel_shared::rollback::ports::RollbackStore;
use serde_json::{Value, json};

use crate::end_to_end::{ensure_watched_app, put_watched_policy, watched_app, watched_build};
use crate::helpers::*;

mod failure;
mod retry;
mod start;

const V1: &str = "1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a";
const V2: &str = "2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b";
const V3: &str = "3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c";

/// A fresh branch whose policy turns automatic rollback on (the local stack
/// is `dev`, where it is off by default) and checks quickly.
pub(crate) async fn branch(stack: &Stack, prefix: &str) -> String {
    branch_with(stack, prefix, "").await
}

/// [`branch`], its policy beginning with `more` (YAML lines).
pub(crate) async fn branch_with(stack: &Stack, prefix: &str, more: &str) -> String {
    let branch = format!("{prefix}-{}", unique_app_id());
    ensure_watched_app(stack, &branch, V1).await;
    put_watched_policy(
        stack,
        &branch,
        &format!("{more}rollback:\n  automatic: true\nhealth:\n  healthy_after: 1\n  unhealthy_after: 2\n  round_interval_ms: 200\n  version_grace_ms: 0\n"),
    )
    .await;
    branch
}

pub(crate) async fn site(stack: &Stack, branch: &str, broken: &[&str]) {
    stack
        .control(
            &format!("/apps/{}/branches/{}/site", watched_app(), encode(branch)),
            json!({"brokenCommits": broken}),
        )
        .await
        .unwrap();
}

pub(crate) async fn build(
    stack: &Stack,
    branch: &str,
    commit: &str,
    outcome: &str,
    log: Option<Vec<&str>>,
) -> JobId {
    let mut body = json!({"commitId": commit, "commitMessage": "feat", "outcome": outcome,
                          "mode": "auto", "emit": true, "stepDelayMs": 50});
    if let Some(log) = log {
        body["log"] = json!(log);
    }
    watched_build(stack, branch, body).await
}

/// Builds `commit` on `branch` and waits for its healthy verdict.
pub(crate) async fn healthy(stack: &Stack, branch: &str, commit: &str) -> JobId {
    let job = build(stack, branch, commit, "SUCCEED", None).await;
    assert_eq!(verdict(stack, branch, job).await, "healthy");
    job
}

/// The rollback function's invocation URL on the local stack.
pub(crate) fn rollback_endpoint() -> String {
    format!(
        "{}/2015-03-31/functions/rollback/invocations",
        env("SENTINEL_LAMBDA_ENDPOINT")
    )
}

/// Invokes the rollback function with `event`; answers what it returned.
pub(crate) async fn deliver(stack: &Stack, event: &Value) -> Value {
    stack
        .http
        .post(rollback_endpoint())
        .json(event)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Collects `want.len()` events (within `within` s, then `quiet` s of
/// nothing more) and expects their detail types to be `want`.
pub(crate) async fn expect(events: &Capture, want: &[&str], within: u64, quiet: u64) -> Vec<Value> {
    let got = events
        .collect(
            want.len(),
            Duration::from_secs(within),
            Duration::from_secs(quiet),
        )
        .await
        .unwrap();
    assert_eq!(detail_types(&got), want, "{got:#?}");
    got
}

pub(crate) fn key(branch: &str, job: JobId) -> DeploymentKey {
    DeploymentKey {
        app_id: watched_app(),
        branch_name: branch.parse().unwrap(),
        job_id: job,
    }
}

/// Waits for the job's health verdict (`healthy`/`unhealthy`).
pub(crate) async fn verdict(stack: &Stack, branch: &str, job: JobId) -> String {
    let store = stack.store();
    let k = key(branch, job);
    eventually(Duration::from_secs(90), "a health verdict", || async {
        Ok(store
            .get_deployment(&k)
            .await?
            .and_then(|d| d.health)
            .map(|h| format!("{:?}", h.verdict).to_lowercase()))
    })
    .await
    .unwrap()
}

/// A "Deployment Unhealthy" of `job` sent by the test, not the health
/// checker: it says what the checker would (rollback allowed), and the
/// rollback acts only on what the job's record says.
pub(crate) fn unhealthy_event(
    stack: &Stack,
    id: &str,
    branch: &str,
    job: JobId,
    commit: &str,
) -> Value {
    json!({
        "version": "0", "id": id, "source": "sentinel", "detail-type": "Deployment Unhealthy",
        "detail": {"eventId": format!("{}/{branch}/{}/health", watched_app(), job.padded()), "environment": stack.environment().to_string(),
                   "appId": watched_app().as_str(), "branchName": branch, "jobId": job.to_string(), "commitId": commit,
                   "verdict": "unhealthy", "reason": "status 500", "url": "http://127.0.0.1/", "endpoints": [],
                   "isRollback": false, "rollbackOf": null, "scheduled": false, "rollbackAllowed": true}
    })
}

/// Records the health checker's verdict on `job`'s deploy through the real
/// store, as the checker does before it publishes: for a job built with
/// `emit: false` (that no function recorded) whose "Deployment Unhealthy"
/// the test sends itself.
pub(crate) async fn record_verdict(
    stack: &Stack,
    branch: &str,
    job: JobId,
    commit: &str,
    verdict: Verdict,
) {
    let store = stack.store();
    let k = key(branch, job);
    let mut d = store
        .get_deployment(&k)
        .await
        .unwrap()
        .unwrap_or_else(|| Deployment::new(k.clone(), stack.environment()));
    d.details.commit_id = Some(commit.into());
    d.health = Some(HealthRecord {
        verdict,
        reason: format!("recorded by the test: {verdict:?}"),
        url: "http://127.0.0.1/".into(),
        checked_at: chrono::Utc::now(),
        rounds: 2,
        endpoints: Vec::new(),
    });
    store.save_deployment(&d).await.unwrap();
}

/// Job `commit` built on `branch` with its events not emitted: Amplify
/// knows it, no function heard of it.
pub(crate) async fn silent_build(stack: &Stack, branch: &str, commit: &str) -> JobId {
    watched_build(
        stack,
        branch,
        json!({"commitId": commit, "outcome": "SUCCEED", "mode": "auto", "emit": false, "stepDelayMs": 10, "wait": true}),
    )
    .await
}

/// V1 built healthy on `branch`, then V2 built without its events and its
/// record given `verdict`; answers a "Deployment Unhealthy" of V2 (event
/// id `<prefix>-<branch>`) to deliver.
pub(crate) async fn silently_judged(
    stack: &Stack,
    branch: &str,
    verdict: Verdict,
    prefix: &str,
) -> Value {
    healthy(stack, branch, V1).await;
    let v2 = silent_build(stack, branch, V2).await;
    record_verdict(stack, branch, v2, V2, verdict).await;
    unhealthy_event(stack, &format!("{prefix}-{branch}"), branch, v2, V2)
}

/// The emulator's StartJob calls for the branch: (jobType, jobId asked).
pub(crate) async fn start_jobs(stack: &Stack, branch: &str) -> Vec<(String, Option<String>, f64)> {
    stack
        .amplify_calls()
        .await
        .iter()
        .filter(|c| c["operation"] == "StartJob" && c["params"]["branchName"] == branch)
        .map(|c| {
            (
                c["params"]["jobType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                c["params"]["jobId"].as_str().map(str::to_owned),
                c["time"].as_f64().unwrap_or_default(),
            )
        })
        .collect()
}

pub(crate) async fn auto_build(stack: &Stack, branch: &str) -> bool {
    stack
        .amplify_sdk()
        .get_branch()
        .app_id(watched_app().as_str())
        .branch_name(branch)
        .send()
        .await
        .unwrap()
        .branch
        .unwrap()
        .enable_auto_build
}

pub(crate) fn detail_types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub(crate) fn sentinel(args: &[&str]) -> std::process::Output {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    std::process::Command::new(format!("{target}/debug/sentinel"))
        .args(args)
        .output()
        .expect("run sentinel")
}

/// Captures the rollback events of `branch` (those naming the job rolled
/// back from) on the stack's bus.
pub(crate) async fn rollback_events(stack: &Stack, branch: &str) -> Capture {
    events_naming(stack, branch, "fromJobId").await
}

/// Captures the events of `branch` on the stack's bus whose detail has
/// `field`.
pub(crate) async fn events_naming(stack: &Stack, branch: &str, field: &str) -> Capture {
    stack
        .capture(
            &stack.bus,
            json!({"branchName": [branch], field: [{"exists": true}]}),
        )
        .await
        .unwrap()
}

/// Tells the emulator how `branch` of the watched app behaves from now on.
pub(crate) async fn behave(stack: &Stack, branch: &str, behaviour: Value) {
    stack
        .control(
            &format!(
                "/apps/{}/branches/{}/behaviour",
                watched_app(),
                encode(branch)
            ),
            behaviour,
        )
        .await
        .unwrap();
}

/// A fresh branch (`prefix`) rolled back on its own: v1 healthy, v2 (whose
/// site is broken) unhealthy, then "Rollback Started" and "Rollback
/// Succeeded" on the bus. Answers the branch, v1, v2 and the two events.
pub(crate) async fn rolled_back(stack: &Stack, prefix: &str) -> (String, JobId, JobId, Vec<Value>) {
    let branch = branch(stack, prefix).await;
    site(stack, &branch, &[V2]).await;
    let events = rollback_events(stack, &branch).await;
    let v1 = healthy(stack, &branch, V1).await;
    let v2 = build(stack, &branch, V2, "SUCCEED", None).await;
    assert_eq!(verdict(stack, &branch, v2).await, "unhealthy");
    let got = expect(&events, &["Rollback Started", "Rollback Succeeded"], 90, 3).await;
    (branch, v1, v2, got)
}
