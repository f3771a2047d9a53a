//! Unit tests over the in-memory ports: the alert first, GitHub after it,
//! and GitHub's failures never failing the message.

use lambda_runtime::{Context, LambdaEvent};
use sentinel_shared::adapters::memory::{
    GitHubCall, InMemory, MemoryAmplify, MemoryDeadLetter, MemoryGitHub, MemoryLogs,
    MemoryNotifier, MemoryPublisher, MemoryRetries, MemoryStore,
};
use sentinel_shared::core::deployment::{Deployment, DeploymentKey};
use sentinel_shared::core::model::{BuildStatus, Environment, JobId};
use sentinel_shared::github::api::{CommitInfo, GitHubError};
use sentinel_shared::ports::DeploymentStore;

use super::*;

type MemDeps = Deps<InMemory, MemoryRetries>;

fn key(job: u64) -> DeploymentKey {
    DeploymentKey {
        app_id: "d1abc".parse().unwrap(),
        branch_name: "main".parse().unwrap(),
        job_id: JobId::new(job),
    }
}

fn deps(github: bool) -> MemDeps {
    let amplify = MemoryAmplify::with_branch(&key(1), |_| {});
    amplify
        .apps
        .lock()
        .unwrap()
        .get_mut("d1abc")
        .unwrap()
        .repository = Some("https://github.com/sentinel-local/d1abc".into());
    Deps {
        clients: Clients {
            store: MemoryStore::default(),
            amplify,
            cloudformation: Default::default(),
            publisher: MemoryPublisher::default(),
            dead_letter: Some(MemoryDeadLetter::default()),
            environment: Environment::Prod,
            site_url_template: None,
            scope: Default::default(),
            enforcement: sentinel_shared::core::enforcement::Enforcement::Enforce,
        },
        notifier: MemoryNotifier::default(),
        logs: MemoryLogs::default(),
        region: "eu-west-1".into(),
        github: github.then(|| GitHubDeps {
            client: MemoryGitHub::default(),
            retries: MemoryRetries::default(),
            breaker: Breaker::default(),
            metrics_namespace: "DeploySentinel".into(),
        }),
    }
}

fn gh(deps: &MemDeps) -> &GitHubDeps<InMemory, MemoryRetries> {
    deps.github.as_ref().unwrap()
}

async fn failed_job(deps: &MemDeps, job: u64) {
    let mut d = Deployment::new(key(job), Environment::Prod);
    d.status = BuildStatus::Failed;
    d.details.commit_id = Some(format!("c0ffee{job:02}"));
    deps.clients.store.save_deployment(&d).await.unwrap();
}

fn build_event(detail_type: &str, status: &str, job: u64) -> String {
    json!({
        "id": format!("eb-{detail_type}-{job}"),
        "source": "sentinel",
        "detail-type": detail_type,
        "detail": {
            "eventId": format!("d1abc/main/{job:010}/{status}"),
            "environment": "prod",
            "appId": "d1abc",
            "branchName": "main",
            "jobId": job.to_string(),
            "status": status,
            "commitId": format!("c0ffee{job:02}"),
            "commitMessage": null, "commitTime": null, "jobType": "RELEASE",
            "startTime": null, "endTime": null, "durationSeconds": 95,
            "isRollback": false, "rollbackOf": null
        }
    })
    .to_string()
}

fn batch(raw: &str) -> Value {
    json!({"Records": [{
        "messageId": "m-1", "body": raw, "eventSource": "aws:sqs",
        "attributes": {"SentTimestamp": "1764000000000"},
        "messageAttributes": {}
    }]})
}

async fn invoke(deps: &MemDeps, payload: Value) -> Value {
    handle(deps, LambdaEvent::new(payload, Context::default()))
        .await
        .unwrap()
}

#[tokio::test]
async fn with_github_off_nothing_of_it_runs() {
    let deps = deps(false);
    failed_job(&deps, 1).await;
    let h = on_raw(&deps, "r", &build_event("Build Failed", "FAILED", 1))
        .await
        .unwrap();
    assert_eq!(h.alert.unwrap().sent, 1);
    assert_eq!(h.github, None);
    let h = on_raw(&deps, "r", &build_event("Build Started", "STARTED", 2))
        .await
        .unwrap();
    assert_eq!(h.alert.unwrap().decision, "github-only");
    assert_eq!(deps.notifier.sent().len(), 1, "no alert for a start");
    // A retry left from when GitHub was on: answered, not dead-lettered.
    let retry = r#"{"githubRetry":{"app":"d1abc","branch":"main","job":"1","attempt":1}}"#;
    assert_eq!(on_raw(&deps, "r", retry).await.unwrap(), Handled::default());
}

#[tokio::test]
async fn the_alert_is_sent_and_the_message_succeeds_while_github_is_down() {
    let deps = deps(true);
    failed_job(&deps, 1).await;
    gh(&deps).client.outage(GitHubError::Unavailable {
        reason: "HTTP 500".into(),
        retry_after: None,
    });
    let out = invoke(&deps, batch(&build_event("Build Failed", "FAILED", 1))).await;
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");
    assert_eq!(deps.notifier.sent().len(), 1, "the alert went out");
    let dead = deps.clients.dead_letter.as_ref().unwrap();
    assert!(dead.messages.lock().unwrap().is_empty());
    let retries = gh(&deps).retries.sent();
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert_eq!(retries[0].1, 30);

    // The retry arrives: GitHub still down, the breaker open: another
    // retry, no request, and the message succeeds.
    let calls = gh(&deps).client.calls().len();
    let out = invoke(&deps, batch(&retries[0].0)).await;
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");
    assert_eq!(gh(&deps).client.calls().len(), calls);
    assert_eq!(gh(&deps).retries.sent().len(), 2);
    assert!(
        gh(&deps).retries.sent()[1].0.contains(r#""attempt":2"#),
        "{:?}",
        gh(&deps).retries.sent()
    );
}

#[tokio::test]
async fn a_retry_message_converges_once_github_is_back() {
    let deps = deps(true);
    failed_job(&deps, 1).await;
    let retry = r#"{"githubRetry":{"app":"d1abc","branch":"main","job":"1","attempt":3}}"#;
    let out = invoke(&deps, batch(retry)).await;
    assert_eq!(out["batchItemFailures"], json!([]), "{out}");
    assert!(out.get("decision").is_none());
    let calls = gh(&deps).client.calls();
    assert!(
        calls
            .iter()
            .any(|c| matches!(c, GitHubCall::CreateCheckRun(..))),
        "{calls:?}"
    );
    assert!(deps.notifier.sent().is_empty(), "a retry alerts nobody");
}

#[tokio::test]
async fn the_alert_names_who_pushed() {
    let deps = deps(true);
    failed_job(&deps, 1).await;
    gh(&deps).client.script_commit(CommitInfo {
        sha: "c0ffee01".into(),
        author_name: Some("Jane Doe".into()),
        author_login: Some("jane".into()),
        authored_at: None,
        committed_at: None,
    });
    on_raw(&deps, "r", &build_event("Build Failed", "FAILED", 1))
        .await
        .unwrap();
    let sent = deps.notifier.sent();
    assert!(
        sent[0].email.contains("Pushed by: Jane Doe (@jane)"),
        "{}",
        sent[0].email
    );
    assert!(
        sent[0].email.contains("https://main.d1abc.amplifyapp.com/"),
        "{}",
        sent[0].email
    );
}

#[tokio::test]
async fn build_started_and_cancelled_update_github_only() {
    let deps = deps(true);
    let mut d = Deployment::new(key(1), Environment::Prod);
    d.status = BuildStatus::Started;
    d.details.commit_id = Some("c0ffee01".into());
    deps.clients.store.save_deployment(&d).await.unwrap();
    let h = on_raw(&deps, "r", &build_event("Build Started", "STARTED", 1))
        .await
        .unwrap();
    assert_eq!(h.alert.unwrap().decision, "github-only");
    assert!(h.github.unwrap().applied > 0);
    assert!(deps.notifier.sent().is_empty());
    // The author was not read for an event that alerts nobody... but by the
    // reconciler, once, for the check run.
    let commits = gh(&deps)
        .client
        .calls()
        .iter()
        .filter(|c| matches!(c, GitHubCall::Commit(..)))
        .count();
    assert_eq!(commits, 1);

    let mut d = deps
        .clients
        .store
        .get_deployment(&key(1))
        .await
        .unwrap()
        .unwrap();
    d.status = BuildStatus::Cancelled;
    deps.clients.store.save_deployment(&d).await.unwrap();
    let h = on_raw(&deps, "r", &build_event("Build Cancelled", "CANCELLED", 1))
        .await
        .unwrap();
    assert_eq!(h.alert.unwrap().sent, 0);
    let runs = gh(&deps).client.check_runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs.values().next().unwrap().conclusion,
        Some(sentinel_shared::github::api::Conclusion::Cancelled)
    );
}

#[tokio::test]
async fn a_github_only_event_without_its_job_is_malformed() {
    let deps = deps(true);
    let raw = json!({"id": "x", "source": "sentinel", "detail-type": "Build Started",
                     "detail": {"appId": "d1abc", "branchName": "main"}})
    .to_string();
    let err = on_raw(&deps, "r", &raw).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("jobId"), "{err}");
    assert!(gh(&deps).client.calls().is_empty());
}

#[tokio::test]
async fn a_skipped_build_is_for_github_only() {
    let deps = deps(true);
    let raw = json!({"id": "s", "source": "sentinel", "detail-type": "Build Skipped",
                     "detail": {"eventId": "d1abc/main/0000000003/skipped", "environment": "prod",
                                "appId": "d1abc", "branchName": "main", "jobId": "3",
                                "commitId": "c0ffee03", "kind": "superseded",
                                "reason": "superseded by job 4", "byJobId": "4"}})
    .to_string();
    let h = on_raw(&deps, "r", &raw).await.unwrap();
    assert_eq!(h.alert.unwrap().decision, "github-only");
    assert!(deps.notifier.sent().is_empty());
}
