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
use sentinel_shared::policy::BranchPolicy;
use sentinel_shared::policy::PolicyStore;
use sentinel_shared::ports::DeploymentStore;
use sentinel_shared::rollback::ports::RollbackStore;
use serde_json::{Value, json};

use crate::end_to_end::{ensure_watched_app, watched_app};
use crate::helpers::*;

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
    let policy = BranchPolicy::parse(
        &format!("{more}rollback:\n  automatic: true\nhealth:\n  healthy_after: 1\n  unhealthy_after: 2\n  round_interval_ms: 200\n  version_grace_ms: 0\n"),
        "test",
    )
    .unwrap();
    stack
        .store()
        .put_policy(&watched_app(), Some(&branch.parse().unwrap()), &policy)
        .await
        .unwrap();
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
    let out = stack
        .control(
            &format!("/apps/{}/branches/{}/builds", watched_app(), encode(branch)),
            body,
        )
        .await
        .unwrap();
    out["jobSummary"]["jobId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
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
    let out = stack
        .control(
            &format!("/apps/{}/branches/{}/builds", watched_app(), encode(branch)),
            json!({"commitId": commit, "outcome": "SUCCEED", "mode": "auto", "emit": false, "stepDelayMs": 10, "wait": true}),
        )
        .await
        .unwrap();
    out["jobSummary"]["jobId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
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

/// A fresh branch (`prefix`) rolled back on its own: v1 healthy, v2 (whose
/// site is broken) unhealthy, then "Rollback Started" and "Rollback
/// Succeeded" on the bus. Answers the branch, v1, v2 and the two events.
pub(crate) async fn rolled_back(stack: &Stack, prefix: &str) -> (String, JobId, JobId, Vec<Value>) {
    let branch = branch(stack, prefix).await;
    site(stack, &branch, &[V2]).await;
    let events = stack
        .capture(
            &stack.bus,
            json!({"branchName": [branch.as_str()], "fromJobId": [{"exists": true}]}),
        )
        .await
        .unwrap();
    let v1 = build(stack, &branch, V1, "SUCCEED", None).await;
    assert_eq!(verdict(stack, &branch, v1).await, "healthy");
    let v2 = build(stack, &branch, V2, "SUCCEED", None).await;
    assert_eq!(verdict(stack, &branch, v2).await, "unhealthy");
    let got = events
        .collect(2, Duration::from_secs(90), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(
        detail_types(&got),
        vec!["Rollback Started", "Rollback Succeeded"],
        "{got:#?}"
    );
    (branch, v1, v2, got)
}

#[tokio::test]
async fn an_unhealthy_deploy_is_rolled_back_once_and_stays_locked_until_unlocked() {
    let stack = Stack::new().await;
    let (branch, v1, v2, got) = rolled_back(&stack, "rb").await;
    let succeeded = &got[1]["detail"];
    assert_eq!(succeeded["targetJobId"], v1.to_string());
    assert_eq!(succeeded["targetCommitId"], V1);
    assert!(succeeded["timeToRestoreSeconds"].is_u64());

    let starts = start_jobs(&stack, &branch).await;
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert_eq!(starts[0].0, "RETRY");
    assert_eq!(starts[0].1.as_deref(), Some(v1.to_string().as_str()));
    assert!(!auto_build(&stack, &branch).await, "auto-build is off");
    let rollback_job: JobId = got[0]["detail"]["rollbackJobId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let record = stack
        .store()
        .get_deployment(&key(&branch, rollback_job))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.rollback_of, Some(v2), "the rollback job is marked");

    // A push while locked builds nothing.
    let pushed = stack
        .control(
            &format!("/apps/{}/branches/{}/push", watched_app(), encode(&branch)),
            json!({"commitId": V3}),
        )
        .await
        .unwrap();
    assert!(pushed["jobSummary"].is_null(), "{pushed}");

    let out = sentinel(&[
        "unlock",
        "--app",
        watched_app().as_str(),
        "--branch",
        &branch,
        "--by",
        "alice",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("unlocked by alice"));
    assert!(auto_build(&stack, &branch).await, "auto-build is on again");
}

#[tokio::test]
async fn ten_concurrent_deliveries_start_one_job() {
    let stack = Stack::new().await;
    let branch = branch(&stack, "rc").await;
    let v1 = build(&stack, &branch, V1, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v1).await, "healthy");
    // v2 exists in Amplify but its events are not emitted: only its
    // recorded verdict and the ten deliveries below speak of it.
    let v2 = silent_build(&stack, &branch, V2).await;
    record_verdict(&stack, &branch, v2, V2, Verdict::Unhealthy).await;
    let event = unhealthy_event(&stack, &format!("unhealthy-{branch}"), &branch, v2, V2);
    let endpoint = format!(
        "{}/2015-03-31/functions/rollback/invocations",
        env("SENTINEL_LAMBDA_ENDPOINT")
    );
    let invocations = (0..10).map(|_| stack.http.post(&endpoint).json(&event).send());
    let answers = futures::future::join_all(invocations).await;
    for answer in answers {
        let answer = answer.unwrap();
        assert!(
            answer.status().is_success(),
            "{}",
            answer.text().await.unwrap_or_default()
        );
    }
    let starts = start_jobs(&stack, &branch).await;
    assert_eq!(starts.len(), 1, "{starts:?}");
}

/// Issue #18 item 10: a "Deployment Unhealthy" saying `rollbackAllowed`
/// that the job's record does not bear out (its verdict is healthy) is
/// refused by the real function: no StartJob, auto-build untouched,
/// nothing published.
#[tokio::test]
async fn a_forged_unhealthy_event_starts_nothing() {
    let stack = Stack::new().await;
    let branch = branch(&stack, "rx").await;
    let events = stack
        .capture(
            &stack.bus,
            json!({"branchName": [branch.as_str()], "fromJobId": [{"exists": true}]}),
        )
        .await
        .unwrap();
    let v1 = build(&stack, &branch, V1, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v1).await, "healthy");
    // v2 was found healthy (v1 stays the last known good: a rollback to it
    // would start, were the event believed).
    let v2 = silent_build(&stack, &branch, V2).await;
    record_verdict(&stack, &branch, v2, V2, Verdict::Healthy).await;
    let forged = unhealthy_event(&stack, &format!("forged-{branch}"), &branch, v2, V2);
    let answer: Value = stack
        .http
        .post(format!(
            "{}/2015-03-31/functions/rollback/invocations",
            env("SENTINEL_LAMBDA_ENDPOINT")
        ))
        .json(&forged)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["action"], "refused", "{answer}");
    assert_eq!(answer["recommended"], false, "{answer}");
    assert!(
        answer["why"]
            .as_str()
            .unwrap_or_default()
            .contains("no unhealthy verdict"),
        "{answer}"
    );
    let starts = start_jobs(&stack, &branch).await;
    assert!(starts.is_empty(), "{starts:?}");
    assert!(auto_build(&stack, &branch).await, "auto-build untouched");
    let published = events
        .collect(0, Duration::from_secs(1), Duration::from_secs(3))
        .await
        .unwrap();
    assert!(published.is_empty(), "{published:#?}");
}

/// A StartJob that fails is not retried by the SDK (it is not idempotent)
/// and fails the delivery; the redelivery takes the rollback over (the failed
/// attempt released its lease) and starts exactly one job.
#[tokio::test]
async fn a_failed_start_job_is_taken_over_by_the_redelivery() {
    let stack = Stack::new().await;
    let branch = branch(&stack, "rf").await;
    let v1 = build(&stack, &branch, V1, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v1).await, "healthy");
    let v2 = silent_build(&stack, &branch, V2).await;
    record_verdict(&stack, &branch, v2, V2, Verdict::Unhealthy).await;
    let event = unhealthy_event(&stack, &format!("unhealthy-{branch}"), &branch, v2, V2);
    stack
        .control(
            "/faults",
            // A server error: a transient failure (the SDK does not repeat a
            // StartJob; a refusal, 4xx, ends the rollback as failed:
            // unit-tested). Only this branch's call takes it.
            json!({"operation": "StartJob", "error": "InternalFailureException", "count": 1,
                   "branchName": branch}),
        )
        .await
        .unwrap();
    let endpoint = format!(
        "{}/2015-03-31/functions/rollback/invocations",
        env("SENTINEL_LAMBDA_ENDPOINT")
    );
    let first: Value = stack
        .http
        .post(&endpoint)
        .json(&event)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        first.get("errorType").is_some(),
        "the delivery fails: {first}"
    );
    let again = stack
        .http
        .post(&endpoint)
        .json(&event)
        .send()
        .await
        .unwrap();
    assert!(
        again.status().is_success(),
        "{}",
        again.text().await.unwrap_or_default()
    );
    let starts = start_jobs(&stack, &branch).await;
    assert_eq!(
        starts.len(),
        2,
        "the refused call, then one more: {starts:?}"
    );
    let jobs = stack
        .amplify_sdk()
        .list_jobs()
        .app_id(watched_app().as_str())
        .branch_name(&branch)
        .send()
        .await
        .unwrap();
    let retries = jobs
        .job_summaries()
        .iter()
        .filter(|j| j.job_type().as_str() == "RETRY")
        .count();
    assert_eq!(retries, 1, "one rollback job");
}

#[tokio::test]
async fn an_unhealthy_rollback_fails_and_is_not_rolled_back_again() {
    let stack = Stack::new().await;
    let branch = branch(&stack, "ru").await;
    let events = stack
        .capture(
            &stack.bus,
            json!({"branchName": [branch.as_str()], "fromJobId": [{"exists": true}]}),
        )
        .await
        .unwrap();
    let v1 = build(&stack, &branch, V1, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v1).await, "healthy");
    site(&stack, &branch, &[V1, V2]).await; // v1 breaks too (a dependency went down)
    build(&stack, &branch, V2, "SUCCEED", None).await;
    let got = events
        .collect(2, Duration::from_secs(90), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        detail_types(&got),
        vec!["Rollback Started", "Rollback Failed"],
        "{got:#?}"
    );
    assert!(
        got[1]["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("unhealthy too"),
        "{got:#?}"
    );
    assert_eq!(
        start_jobs(&stack, &branch).await.len(),
        1,
        "no second rollback"
    );
}

#[tokio::test]
async fn a_rollback_that_deploys_another_commit_fails() {
    let stack = Stack::new().await;
    let branch = branch(&stack, "rw").await;
    let events = stack
        .capture(
            &stack.bus,
            json!({"branchName": [branch.as_str()], "fromJobId": [{"exists": true}]}),
        )
        .await
        .unwrap();
    stack
        .control(
            &format!(
                "/apps/{}/branches/{}/behaviour",
                watched_app(),
                encode(&branch)
            ),
            json!({"retryCommitId": V3, "stepDelayMs": 50}),
        )
        .await
        .unwrap();
    site(&stack, &branch, &[V2]).await;
    let v1 = build(&stack, &branch, V1, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v1).await, "healthy");
    build(&stack, &branch, V2, "SUCCEED", None).await;
    let got = events
        .collect(2, Duration::from_secs(90), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(
        detail_types(&got),
        vec!["Rollback Started", "Rollback Failed"],
        "{got:#?}"
    );
    let reason = got[1]["detail"]["reason"].as_str().unwrap();
    assert!(reason.contains("instead of the target's"), "{reason}");
}

#[tokio::test]
async fn without_a_known_good_job_nothing_is_started() {
    let stack = Stack::new().await;
    let branch = branch(&stack, "rn").await;
    let events = stack
        .capture(
            &stack.bus,
            json!({"branchName": [branch.as_str()], "fromJobId": [{"exists": true}]}),
        )
        .await
        .unwrap();
    site(&stack, &branch, &[V2]).await;
    let v2 = build(&stack, &branch, V2, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v2).await, "unhealthy");
    let got = events
        .collect(1, Duration::from_secs(60), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(detail_types(&got), vec!["Rollback Recommended"], "{got:#?}");
    assert!(
        got[0]["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("no known good")
    );
    assert!(start_jobs(&stack, &branch).await.is_empty());
    assert!(auto_build(&stack, &branch).await, "nothing locked");
}

const NETWORK_LOG: &[&str] = &[
    "# Starting phase: preBuild",
    "# Executing command: npm ci",
    "npm ERR! code ETIMEDOUT",
    "npm ERR! errno ETIMEDOUT",
    "npm ERR! network request to https://registry.npmjs.org/next failed, reason: connect ETIMEDOUT 104.16.1.35:443",
    "!!! Build failed",
    "!!! Error: Command failed with exit code 1",
];

#[tokio::test]
async fn a_transient_failure_is_retried_once_and_a_real_one_never() {
    let stack = Stack::new().await;
    let branch = branch(&stack, "rt").await;
    let retried = stack
        .capture(
            &stack.bus,
            json!({"branchName": [branch.as_str()], "retryJobId": [{"exists": true}]}),
        )
        .await
        .unwrap();
    // The retry fails the same way.
    stack
        .control(
            &format!(
                "/apps/{}/branches/{}/behaviour",
                watched_app(),
                encode(&branch)
            ),
            json!({"outcome": "FAILED", "log": NETWORK_LOG, "stepDelayMs": 50}),
        )
        .await
        .unwrap();
    let first = build(&stack, &branch, V1, "FAILED", Some(NETWORK_LOG.to_vec())).await;
    let got = retried
        .collect(1, Duration::from_secs(90), Duration::from_secs(8))
        .await
        .unwrap();
    assert_eq!(detail_types(&got), vec!["Build Retried"], "{got:#?}");
    assert_eq!(got[0]["detail"]["jobId"], first.to_string());
    let retry: JobId = got[0]["detail"]["retryJobId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let store = stack.store();
    let k = key(&branch, retry);
    eventually(Duration::from_secs(60), "the retry diagnosed", || async {
        Ok(store.get_deployment(&k).await?.and_then(|d| d.diagnosis))
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let starts = start_jobs(&stack, &branch).await;
    assert_eq!(starts.len(), 1, "one retry per lineage: {starts:?}");

    // A failure a retry cannot fix is not retried.
    let other = format!("{branch}-x");
    ensure_watched_app(&stack, &other, V1).await;
    let oom = build(&stack, &other, V2, "FAILED", None).await;
    let k = key(&other, oom);
    let record = eventually(Duration::from_secs(60), "the diagnosis", || async {
        Ok(store
            .get_deployment(&k)
            .await?
            .filter(|d| d.diagnosis.is_some()))
    })
    .await
    .unwrap();
    assert!(!record.diagnosis.unwrap().transient);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(start_jobs(&stack, &other).await.is_empty());
}

/// The time from a "Deployment Unhealthy" entering the rollback queue to the
/// StartJob call, over fresh branches. Not a test of correctness: run it
/// to measure (`docs/performance.md`):
///
/// make local-up && . .local/env && cargo test -p sentinel-local-stack-tests \
///     --test local_stack measure_rollback_latency -- --ignored --nocapture
#[tokio::test]
#[ignore]
async fn measure_rollback_latency() {
    let stack = Stack::new().await;
    let mut samples = Vec::new();
    for _ in 0..15 {
        let branch = branch(&stack, "rm").await;
        let v1 = build(&stack, &branch, V1, "SUCCEED", None).await;
        assert_eq!(verdict(&stack, &branch, v1).await, "healthy");
        let v2 = silent_build(&stack, &branch, V2).await;
        record_verdict(&stack, &branch, v2, V2, Verdict::Unhealthy).await;
        let event = unhealthy_event(&stack, &format!("m-{branch}"), &branch, v2, V2);
        let sent = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        stack
            .sqs()
            .send_message()
            .queue_url(env("SENTINEL_QUEUE_ROLLBACK_QUEUE"))
            .message_body(event.to_string())
            .send()
            .await
            .unwrap();
        let called = eventually(Duration::from_secs(30), "StartJob", || async {
            Ok(start_jobs(&stack, &branch).await.first().map(|c| c.2))
        })
        .await
        .unwrap();
        samples.push(((called - sent) * 1000.0) as u64);
    }
    samples.sort_unstable();
    let median = samples[samples.len() / 2];
    let p90 = samples[samples.len() * 9 / 10];
    println!(
        "Deployment Unhealthy → StartJob over {} rollbacks: median {median} ms, p90 {p90} ms, max {} ms",
        samples.len(),
        samples[samples.len() - 1]
    );
    assert!(median > 0);
}

#[tokio::test]
async fn unlock_gives_a_manual_branch_back_its_manual_builds() {
    let stack = Stack::new().await;
    let branch = branch(&stack, "man").await;
    site(&stack, &branch, &[V2]).await;
    // The team builds this branch by hand (the console's "Run build").
    stack
        .amplify_sdk()
        .update_branch()
        .app_id(watched_app().as_str())
        .branch_name(&branch)
        .enable_auto_build(false)
        .send()
        .await
        .unwrap();
    let events = stack
        .capture(
            &stack.bus,
            json!({"branchName": [branch.as_str()], "detail-type": ["Rollback Succeeded"]}),
        )
        .await
        .unwrap();
    let v1 = build(&stack, &branch, V1, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v1).await, "healthy");
    let v2 = build(&stack, &branch, V2, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v2).await, "unhealthy");
    events
        .collect(1, Duration::from_secs(90), Duration::from_secs(1))
        .await
        .unwrap();
    let state = stack
        .store()
        .get_rollback_state(&watched_app(), &branch.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.lock.unwrap().auto_build_before, Some(false));

    // Unlock publishes nothing: it runs without the stack's bus.
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let out = std::process::Command::new(format!("{target}/debug/sentinel"))
        .args([
            "unlock",
            "--app",
            watched_app().as_str(),
            "--branch",
            &branch,
        ])
        .args(["--by", "alice"])
        .env_remove("SENTINEL_EVENT_BUS")
        .output()
        .expect("run sentinel");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("auto-build stays off"), "{stdout}");
    assert!(
        !auto_build(&stack, &branch).await,
        "the branch stays manual"
    );

    // A second unlock finds no lock and changes nothing.
    let again = sentinel(&[
        "unlock",
        "--app",
        watched_app().as_str(),
        "--branch",
        &branch,
    ]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success());
    assert!(stdout.contains("has no lock; nothing changed"), "{stdout}");
    assert!(!auto_build(&stack, &branch).await);
}
