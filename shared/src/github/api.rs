//! The GitHub port: the few REST endpoints Sentinel uses, as typed
//! requests and answers. Field names follow GitHub's REST API
//! (`docs.github.com/en/rest`: checks, deployments, commit statuses,
//! commits' compare, issue comments); the adapter serialises them as the
//! API's JSON.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A GitHub repository, as an Amplify app names it (GetApp's
/// `repository`: `https://github.com/<owner>/<repo>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Repo {
    pub owner: String,
    pub name: String,
}

impl Repo {
    /// The repository of an app connected to github.com; `None` for any
    /// other provider (GitLab, Bitbucket, CodeCommit) or a manual app.
    /// Accepts `https://github.com/o/r`, with `.git` or a trailing `/`,
    /// and `git@github.com:o/r.git`.
    pub fn from_amplify(repository: &str) -> Option<Self> {
        let raw = repository.trim();
        let path = raw
            .strip_prefix("https://github.com/")
            .or_else(|| raw.strip_prefix("git@github.com:"))?;
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        let (owner, name) = path.split_once('/')?;
        let ok = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.len() <= 100
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        (ok(owner) && ok(name)).then(|| Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

impl std::fmt::Display for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// What the credentials can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// A GitHub App installation: check runs, statuses, deployments, comments.
    App,
    /// A fine-grained personal access token: commit statuses and
    /// deployments only (check runs need an App).
    Token,
}

/// A check run's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Queued,
    InProgress,
    Completed,
}

/// A completed check run's `conclusion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    Success,
    Failure,
    Neutral,
    Cancelled,
    Skipped,
    TimedOut,
    ActionRequired,
}

/// An annotation's `annotation_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationLevel {
    Notice,
    Warning,
    Failure,
}

/// One `output.annotations[]` item: a line of a file in the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub annotation_level: AnnotationLevel,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A check run as created or updated (POST `/repos/{o}/{r}/check-runs`,
/// PATCH `…/check-runs/{id}`): the whole desired state, so an update is
/// idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRun {
    /// "Deploy Sentinel / <branch>".
    pub name: String,
    pub head_sha: String,
    pub status: CheckStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<Conclusion>,
    /// The Amplify console's job page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details_url: Option<String>,
    /// `app/branch/job`: finds the run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    pub title: String,
    /// GitHub markdown, at most 65,535 characters.
    pub summary: String,
    /// At most 50 (GitHub's limit per request).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
}

/// A commit status's `state` (POST `/repos/{o}/{r}/statuses/{sha}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitState {
    Pending,
    Success,
    Failure,
    Error,
}

/// A commit status: the token's stand-in for a check run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitStatus {
    pub state: CommitState,
    /// "Deploy Sentinel / <branch>".
    pub context: String,
    /// At most 140 characters (GitHub truncates nothing: it refuses).
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
}

/// A deployment as created (POST `/repos/{o}/{r}/deployments`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDeployment {
    /// The commit deployed.
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub environment: String,
    pub description: String,
    /// Always false: Sentinel reports deploys, it does not merge.
    pub auto_merge: bool,
    /// Always empty: the deploy already happened.
    pub required_contexts: Vec<String>,
    /// PR previews.
    pub transient_environment: bool,
    pub production_environment: bool,
    /// `{"app": …, "branch": …, "job": …}`.
    #[serde(default)]
    pub payload: serde_json::Value,
}

/// A deployment status's `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    Queued,
    Pending,
    InProgress,
    Success,
    Failure,
    Error,
    Inactive,
}

/// A deployment status as created (POST
/// `/repos/{o}/{r}/deployments/{id}/statuses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentStatus {
    pub state: DeploymentState,
    /// At most 140 characters.
    pub description: String,
    /// The site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_url: Option<String>,
    /// The Amplify console's job page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_url: Option<String>,
    /// Whether GitHub marks the environment's earlier deployments
    /// inactive itself (false: Sentinel says which one a rollback replaced).
    pub auto_inactive: bool,
}

/// A commit of a comparison, or one read on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    pub sha: String,
    /// The git author's name (`commit.author.name`).
    pub author_name: Option<String>,
    /// The GitHub account (`author.login`), when GitHub matched one.
    pub author_login: Option<String>,
    /// `commit.author.date`.
    pub authored_at: Option<DateTime<Utc>>,
    /// `commit.committer.date`.
    pub committed_at: Option<DateTime<Utc>>,
}

/// GitHub's logins: letters, digits and single hyphens, at most 39.
pub fn valid_login(login: &str) -> bool {
    (1..=39).contains(&login.len())
        && !login.starts_with('-')
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// GET `/repos/{o}/{r}/compare/{base}...{head}`, the parts Sentinel reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// `ahead`, `behind`, `diverged` or `identical`.
    pub status: String,
    pub total_commits: u64,
    /// Oldest first, as GitHub lists them (at most 250).
    pub commits: Vec<CommitInfo>,
    /// Every changed path, and a renamed file's previous path too.
    pub files: Vec<String>,
    /// GitHub left files or commits out (300 files, 250 commits): the list
    /// cannot prove that nothing else changed.
    pub truncated: bool,
}

/// Why a GitHub request failed, and whether it is worth retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitHubError {
    /// A primary (`x-ratelimit-remaining: 0`) or secondary rate limit
    /// (403/429 with `retry-after`): try again after `retry_after`.
    #[error("GitHub rate limit ({kind}); retry after {}s", retry_after.as_secs())]
    RateLimited {
        retry_after: Duration,
        kind: &'static str,
    },
    /// A 5xx, a timeout, a connection failure.
    #[error("GitHub unavailable: {reason}")]
    Unavailable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// 404: the repository, the installation or the object is not there
    /// (or the credentials may not see it).
    #[error("not found on GitHub: {0}")]
    NotFound(String),
    /// Any other 4xx (401, 403 without a rate limit, 422): retrying the
    /// same request will not help.
    #[error("GitHub refused the request ({status}): {reason}")]
    Rejected { status: u16, reason: String },
}

impl GitHubError {
    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable { .. })
    }

    /// How long GitHub asked to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The REST endpoints Sentinel uses. An implementation mints and caches
/// its own credentials (an installation token from the App's key, or the
/// fine-grained token), never logs them, and holds every request to the
/// outbound rules (https, the pinned API host).
pub trait GitHubApi: Send + Sync {
    /// What the credentials can write.
    fn auth(&self) -> AuthKind;

    /// POST `/repos/{o}/{r}/check-runs`: the new run's id.
    fn create_check_run(
        &self,
        repo: &Repo,
        run: &CheckRun,
    ) -> impl Future<Output = Result<u64, GitHubError>> + Send;

    /// PATCH `/repos/{o}/{r}/check-runs/{id}`.
    fn update_check_run(
        &self,
        repo: &Repo,
        id: u64,
        run: &CheckRun,
    ) -> impl Future<Output = Result<(), GitHubError>> + Send;

    /// POST `/repos/{o}/{r}/statuses/{sha}`.
    fn create_commit_status(
        &self,
        repo: &Repo,
        sha: &str,
        status: &CommitStatus,
    ) -> impl Future<Output = Result<(), GitHubError>> + Send;

    /// POST `/repos/{o}/{r}/deployments`: the new deployment's id.
    fn create_deployment(
        &self,
        repo: &Repo,
        deployment: &NewDeployment,
    ) -> impl Future<Output = Result<u64, GitHubError>> + Send;

    /// POST `/repos/{o}/{r}/deployments/{id}/statuses`.
    fn create_deployment_status(
        &self,
        repo: &Repo,
        deployment_id: u64,
        status: &DeploymentStatus,
    ) -> impl Future<Output = Result<(), GitHubError>> + Send;

    /// GET `/repos/{o}/{r}/compare/{base}...{head}` (the first page: its
    /// files are GitHub's first 300; `truncated` says when there were more).
    fn compare(
        &self,
        repo: &Repo,
        base: &str,
        head: &str,
    ) -> impl Future<Output = Result<Comparison, GitHubError>> + Send;

    /// GET `/repos/{o}/{r}/commits/{sha}`.
    fn commit(
        &self,
        repo: &Repo,
        sha: &str,
    ) -> impl Future<Output = Result<CommitInfo, GitHubError>> + Send;

    /// The id of the comment on issue (or pull request) `number` whose body
    /// contains `marker` (GET `/repos/{o}/{r}/issues/{n}/comments`, all pages).
    fn find_issue_comment(
        &self,
        repo: &Repo,
        number: u64,
        marker: &str,
    ) -> impl Future<Output = Result<Option<u64>, GitHubError>> + Send;

    /// POST `/repos/{o}/{r}/issues/{n}/comments`: the comment's id.
    fn create_issue_comment(
        &self,
        repo: &Repo,
        number: u64,
        body: &str,
    ) -> impl Future<Output = Result<u64, GitHubError>> + Send;

    /// PATCH `/repos/{o}/{r}/issues/comments/{id}`.
    fn update_issue_comment(
        &self,
        repo: &Repo,
        id: u64,
        body: &str,
    ) -> impl Future<Output = Result<(), GitHubError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_from_amplify_accepts_github_forms_only() {
        let want = Some(Repo {
            owner: "acme".into(),
            name: "shop.web".into(),
        });
        assert_eq!(Repo::from_amplify("https://github.com/acme/shop.web"), want);
        assert_eq!(
            Repo::from_amplify("https://github.com/acme/shop.web.git"),
            want
        );
        assert_eq!(
            Repo::from_amplify("https://github.com/acme/shop.web/"),
            want
        );
        assert_eq!(Repo::from_amplify("git@github.com:acme/shop.web.git"), want);
        for other in [
            "https://gitlab.com/acme/shop",
            "https://github.com/acme",
            "https://github.com/acme/shop/tree/main",
            "https://github.com/../x",
            "https://github.com/acme/sh op",
            "",
        ] {
            assert_eq!(Repo::from_amplify(other), None, "{other}");
        }
    }

    #[test]
    fn only_limits_and_outages_are_retried() {
        let limited = GitHubError::RateLimited {
            retry_after: Duration::from_secs(60),
            kind: "secondary",
        };
        assert!(limited.is_retryable());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(60)));
        assert!(
            !GitHubError::Rejected {
                status: 422,
                reason: "x".into()
            }
            .is_retryable()
        );
        assert!(!GitHubError::NotFound("x".into()).is_retryable());
    }
}
