//! The real GitHub client (`shared/src/adapters/github`) against the local
//! stack's GitHub emulator (`tests/localstack/github_emulator.py`, which
//! checks every request and answer against GitHub's OpenAPI description
//! and the App's JWTs with its public key), with the App's key and the
//! fine-grained token read from moto's SSM as a function reads them.
//!
//! Each test uses its own repository (`sentinel-local/<unique app id>`),
//! and reads the emulator's call log for that repository only: other tests
//! share the emulator. The modes (rate limits, failures) are the
//! emulator's, for everyone: they are set for a few seconds and cleared.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use sentinel_shared::adapters::github::GitHubClient;
use sentinel_shared::github::api::{
    AuthKind, CheckRun, CheckStatus, CommitState, CommitStatus, Conclusion, DeploymentState,
    DeploymentStatus, GitHubApi, GitHubError, NewDeployment, Repo,
};
use sentinel_shared::github::settings::{Credentials, GitHubSettings};
use sentinel_shared::outbound::Outbound;
use serde_json::{Value, json};

use crate::helpers::*;

fn api_url() -> String {
    env("GITHUB_API_URL")
}

fn client(stack: &Stack, credentials: Credentials) -> GitHubClient {
    let api = api_url();
    let settings = GitHubSettings {
        api_url: api.clone(),
        credentials,
        outbound: Outbound::parse_list(&api).expect("the emulator's origin"),
    };
    GitHubClient::new(settings, stack.ssm()).expect("a client, without I/O")
}

fn app(stack: &Stack) -> GitHubClient {
    client(
        stack,
        Credentials::App {
            app_id: env("GITHUB_LOCAL_APP_ID").parse().expect("a number"),
            key_parameter: env("GITHUB_LOCAL_KEY_PARAMETER"),
        },
    )
}

fn token(stack: &Stack) -> GitHubClient {
    client(
        stack,
        Credentials::Token {
            parameter: env("GITHUB_LOCAL_TOKEN_PARAMETER"),
        },
    )
}

fn own_repo() -> Repo {
    Repo {
        owner: "sentinel-local".into(),
        name: unique_app_id().to_string(),
    }
}

async fn emulator(method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
    let url = format!("{}/_emulator/{path}", api_url());
    let mut request = reqwest::Client::new().request(method.clone(), &url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request
        .send()
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("{method} {url} → {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("{method} {url}: {text}"))
}

/// The emulator's calls, `METHOD path → status`.
async fn calls() -> Vec<(String, String, u64)> {
    emulator(reqwest::Method::GET, "calls", None)
        .await
        .expect("the emulator's calls")
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                c["method"].as_str().unwrap_or_default().to_owned(),
                c["path"].as_str().unwrap_or_default().to_owned(),
                c["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

async fn calls_on(repo: &Repo) -> Vec<String> {
    let prefix = format!("/repos/{}/", repo.full_name());
    calls()
        .await
        .into_iter()
        .filter(|(_, p, _)| p.starts_with(&prefix))
        .map(|(m, p, s)| format!("{m} {} {s}", p.trim_start_matches(&prefix)))
        .collect()
}

async fn mints() -> usize {
    calls()
        .await
        .iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/access_tokens"))
        .count()
}

async fn set_mode(mode: Value) {
    emulator(reqwest::Method::PUT, "mode", Some(mode))
        .await
        .expect("the emulator's mode");
}

fn run(status: CheckStatus, conclusion: Option<Conclusion>) -> CheckRun {
    CheckRun {
        name: "Deploy Sentinel / main".into(),
        head_sha: "a".repeat(40),
        status,
        conclusion,
        details_url: Some(
            "https://console.aws.amazon.com/amplify/apps/d1/branches/main/deployments/1".into(),
        ),
        external_id: Some("d1/main/1".into()),
        started_at: Some(chrono::Utc::now()),
        completed_at: conclusion.map(|_| chrono::Utc::now()),
        title: "Build 1".into(),
        summary: "Deployed".into(),
        annotations: vec![],
    }
}

#[tokio::test]
async fn the_app_mints_one_installation_token_for_many_requests() {
    // The installation's permissions are the emulator's, shared (doctor.rs
    // takes one away for a moment).
    let _answering = GITHUB_ANSWERS.read().await;
    let stack = Stack::new().await;
    let github = app(&stack);
    let repo = own_repo();
    assert_eq!(github.auth(), AuthKind::App);
    let before = mints().await;
    let sha = "a".repeat(40);
    for _ in 0..5 {
        github
            .create_commit_status(
                &repo,
                &sha,
                &CommitStatus {
                    state: CommitState::Pending,
                    context: "Deploy Sentinel / main".into(),
                    description: "building".into(),
                    target_url: None,
                },
            )
            .await
            .expect("a status");
    }
    let on_repo = calls_on(&repo).await;
    assert_eq!(
        on_repo
            .iter()
            .filter(|c| c.starts_with("GET installation"))
            .count(),
        1,
        "the installation is looked up once: {on_repo:?}"
    );
    assert_eq!(
        on_repo
            .iter()
            .filter(|c| c.starts_with("POST statuses/"))
            .count(),
        5
    );
    // Other tests' functions may mint their own meanwhile (once an hour
    // each); five requests with a token each would be five more.
    let minted = mints().await - before;
    assert!((1..=2).contains(&minted), "{minted} mints for 5 requests");
}

#[tokio::test]
async fn every_endpoint_speaks_githubs_json() {
    // The installation's permissions are the emulator's, shared (doctor.rs
    // takes one away for a moment).
    let _answering = GITHUB_ANSWERS.read().await;
    let stack = Stack::new().await;
    let github = app(&stack);
    let repo = own_repo();
    let base = "b".repeat(40);
    let head = "c".repeat(40);

    // Check run: created in progress, completed by an update.
    let id = github
        .create_check_run(&repo, &run(CheckStatus::InProgress, None))
        .await
        .expect("created");
    github
        .update_check_run(
            &repo,
            id,
            &run(CheckStatus::Completed, Some(Conclusion::Failure)),
        )
        .await
        .expect("updated");
    let state = emulator(reqwest::Method::GET, "state", None).await.unwrap();
    let mine = state["check_runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .expect("the run");
    assert_eq!(mine["conclusion"], "failure");
    assert_eq!(mine["output"]["title"], "Build 1");

    // A deployment and its status.
    let deployment = github
        .create_deployment(
            &repo,
            &NewDeployment {
                git_ref: head.clone(),
                environment: "production".into(),
                description: "Amplify job 1".into(),
                auto_merge: false,
                required_contexts: vec![],
                transient_environment: false,
                production_environment: true,
                payload: json!({"app": "d1", "branch": "main", "job": "1"}),
            },
        )
        .await
        .expect("a deployment");
    github
        .create_deployment_status(
            &repo,
            deployment,
            &DeploymentStatus {
                state: DeploymentState::Success,
                description: "healthy".into(),
                environment_url: Some("https://main.d1.amplifyapp.com".into()),
                log_url: None,
                auto_inactive: false,
            },
        )
        .await
        .expect("its status");

    // A scripted comparison: a rename lists both paths.
    emulator(
        reqwest::Method::PUT,
        "compare",
        Some(json!({
            "owner": repo.owner, "repo": repo.name, "base": base, "head": head,
            "files": [{"filename": "web/app.ts", "status": "renamed", "previous_filename": "shared/app.ts"}, "README.md"],
            "commits": [{"sha": head, "author_name": "Ada", "author_login": "ada"}],
        })),
    )
    .await
    .unwrap();
    let comparison = github.compare(&repo, &base, &head).await.expect("compared");
    assert_eq!(
        comparison.files,
        ["README.md", "shared/app.ts", "web/app.ts"]
    );
    assert!(!comparison.truncated);
    assert_eq!(comparison.commits[0].author_login.as_deref(), Some("ada"));

    // A commit.
    emulator(
        reqwest::Method::PUT,
        "commits",
        Some(json!({"owner": repo.owner, "repo": repo.name, "sha": head, "author_name": "Ada", "author_login": "ada"})),
    )
    .await
    .unwrap();
    let commit = github.commit(&repo, &head).await.expect("a commit");
    assert_eq!(commit.author_name.as_deref(), Some("Ada"));

    // The pull request's comment: created, found by its marker, updated.
    let marker = format!("<!-- deploy-sentinel:{} -->", repo.name);
    assert_eq!(
        github.find_issue_comment(&repo, 7, &marker).await.unwrap(),
        None
    );
    let comment = github
        .create_issue_comment(&repo, 7, &format!("Preview ready {marker}"))
        .await
        .expect("a comment");
    assert_eq!(
        github.find_issue_comment(&repo, 7, &marker).await.unwrap(),
        Some(comment)
    );
    github
        .update_issue_comment(&repo, comment, &format!("Preview unhealthy {marker}"))
        .await
        .expect("updated");

    // Not installed: not found, and said so.
    emulator(
        reqwest::Method::PUT,
        "installations",
        Some(json!({"repo": "elsewhere/nothing", "installed": false})),
    )
    .await
    .unwrap();
    let elsewhere = Repo {
        owner: "elsewhere".into(),
        name: "nothing".into(),
    };
    let err = github.commit(&elsewhere, &head).await.unwrap_err();
    assert!(
        matches!(err, GitHubError::NotFound(ref m) if m.contains("not installed")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_expired_token_is_minted_again_and_the_request_made_once_more() {
    // The installation's permissions are the emulator's, shared (doctor.rs
    // takes one away for a moment).
    let _answering = GITHUB_ANSWERS.read().await;
    let stack = Stack::new().await;
    let github = app(&stack);
    let repo = own_repo();
    let sha = "d".repeat(40);
    github.commit(&repo, &sha).await.expect("a first request");
    // GitHub revokes (here: expires) every token: the cached one gets a 401.
    emulator(
        reqwest::Method::PUT,
        "installations",
        Some(json!({"expire_tokens": true})),
    )
    .await
    .unwrap();
    github
        .commit(&repo, &sha)
        .await
        .expect("succeeds with a new token");
    let on_repo = calls_on(&repo).await;
    let commits: Vec<&String> = on_repo
        .iter()
        .filter(|c| c.starts_with("GET commits/"))
        .collect();
    assert_eq!(commits.len(), 3, "{on_repo:?}");
    assert!(commits[1].ends_with(" 401"), "{on_repo:?}");
    assert!(commits[2].ends_with(" 200"), "{on_repo:?}");
}

#[tokio::test]
async fn the_token_writes_statuses_but_no_check_runs() {
    // The installation's permissions are the emulator's, shared (doctor.rs
    // takes one away for a moment).
    let _answering = GITHUB_ANSWERS.read().await;
    let stack = Stack::new().await;
    let github = token(&stack);
    let repo = own_repo();
    assert_eq!(github.auth(), AuthKind::Token);
    github
        .create_commit_status(
            &repo,
            &"e".repeat(40),
            &CommitStatus {
                state: CommitState::Success,
                context: "Deploy Sentinel / main".into(),
                description: "healthy".into(),
                target_url: None,
            },
        )
        .await
        .expect("a status with the token");
    let err = github
        .create_check_run(&repo, &run(CheckStatus::Queued, None))
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err:?}");
    assert!(
        calls_on(&repo)
            .await
            .iter()
            .all(|c| !c.starts_with("GET installation")),
        "a token needs no installation"
    );
}

#[tokio::test]
async fn githubs_limits_and_outages_are_retryable_errors_and_not_retried_here() {
    // The installation's permissions are the emulator's, shared (doctor.rs
    // takes one away for a moment).
    let _answering = GITHUB_ANSWERS.read().await;
    let stack = Stack::new().await;
    let github = token(&stack);
    let repo = own_repo();
    let sha = "f".repeat(40);

    // Modes of this test's own repository: the other tests' GitHub answers.
    let scope = repo.full_name();
    set_mode(json!({"repo": scope, "secondary": {"retry_after": 30, "status": 403}, "seconds": 3}))
        .await;
    let secondary = github.commit(&repo, &sha).await;
    set_mode(json!({"repo": scope, "primary": {"reset_in": 120}, "seconds": 3})).await;
    let primary = github.commit(&repo, &sha).await;
    set_mode(json!({"repo": scope, "fail": {"status": 500, "seconds": 3}})).await;
    let outage = github.commit(&repo, &sha).await;
    set_mode(json!({"repo": scope})).await;

    assert_eq!(
        secondary.unwrap_err(),
        GitHubError::RateLimited {
            retry_after: Duration::from_secs(30),
            kind: "secondary"
        }
    );
    match primary.unwrap_err() {
        GitHubError::RateLimited {
            retry_after,
            kind: "primary",
        } => assert!(
            (Duration::from_secs(100)..=Duration::from_secs(121)).contains(&retry_after),
            "{retry_after:?}"
        ),
        other => panic!("{other:?}"),
    }
    let outage = outage.unwrap_err();
    assert!(
        matches!(outage, GitHubError::Unavailable { .. }) && outage.is_retryable(),
        "{outage:?}"
    );
    // One request each: the client never retries a limit or an outage.
    let on_repo = calls_on(&repo).await;
    assert_eq!(on_repo.len(), 3, "{on_repo:?}");
}

#[tokio::test]
async fn a_key_parameter_that_is_missing_is_an_outage_not_a_crash() {
    // The installation's permissions are the emulator's, shared (doctor.rs
    // takes one away for a moment).
    let _answering = GITHUB_ANSWERS.read().await;
    let stack = Stack::new().await;
    let github = client(
        &stack,
        Credentials::App {
            app_id: 4242,
            key_parameter: "/deploy-sentinel/dev/no-such-parameter".into(),
        },
    );
    let err = github.commit(&own_repo(), "abc").await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("no-such-parameter"), "{err}");
}
