//! The [`GitHubApi`] port over the client: one method per REST endpoint
//! Sentinel uses (check runs, commit statuses, deployments and their
//! statuses, compare, commits, issue comments).

use reqwest::Method;

use super::{GitHubClient, repo_path, seg, wire};
use crate::github::api::{
    AuthKind, CheckRun, CommitInfo, CommitStatus, Comparison, DeploymentStatus, GitHubApi,
    GitHubError, NewDeployment, Repo,
};
use crate::github::settings::Credentials;

/// Pages of 100 comments [`GitHubApi::find_issue_comment`] reads at most.
pub const COMMENT_PAGES: u32 = 10;

/// The comment among `page` whose body holds `marker`.
fn marked(page: &[wire::Comment], marker: &str) -> Option<u64> {
    page.iter()
        .find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)))
        .map(|c| c.id)
}

impl GitHubApi for GitHubClient {
    fn auth(&self) -> AuthKind {
        match self.credentials {
            Credentials::App { .. } => AuthKind::App,
            Credentials::Token { .. } => AuthKind::Token,
        }
    }

    // https://docs.github.com/en/rest/checks/runs#create-a-check-run
    async fn create_check_run(&self, repo: &Repo, run: &CheckRun) -> Result<u64, GitHubError> {
        let path = format!("{}/check-runs", repo_path(repo));
        let created: wire::Created = self.post(repo, &path, &wire::check_run(run, true)).await?;
        Ok(created.id)
    }

    // https://docs.github.com/en/rest/checks/runs#update-a-check-run
    async fn update_check_run(
        &self,
        repo: &Repo,
        id: u64,
        run: &CheckRun,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/check-runs/{id}", repo_path(repo));
        self.patch(repo, &path, &wire::check_run(run, false)).await
    }

    // https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
    async fn create_commit_status(
        &self,
        repo: &Repo,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/statuses/{}", repo_path(repo), seg(sha));
        self.post::<serde_json::Value>(repo, &path, status)
            .await
            .map(|_| ())
    }

    // https://docs.github.com/en/rest/deployments/deployments#create-a-deployment
    async fn create_deployment(
        &self,
        repo: &Repo,
        deployment: &NewDeployment,
    ) -> Result<u64, GitHubError> {
        let path = format!("{}/deployments", repo_path(repo));
        let created: wire::Created = self
            .post(repo, &path, &wire::deployment(deployment))
            .await?;
        Ok(created.id)
    }

    // https://docs.github.com/en/rest/deployments/statuses#create-a-deployment-status
    async fn create_deployment_status(
        &self,
        repo: &Repo,
        deployment_id: u64,
        status: &DeploymentStatus,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/deployments/{deployment_id}/statuses", repo_path(repo));
        self.post::<serde_json::Value>(repo, &path, status)
            .await
            .map(|_| ())
    }

    // https://docs.github.com/en/rest/commits/commits#compare-two-commits
    async fn compare(
        &self,
        repo: &Repo,
        base: &str,
        head: &str,
    ) -> Result<Comparison, GitHubError> {
        let path = format!("{}/compare/{}...{}", repo_path(repo), seg(base), seg(head));
        let answer: wire::Compare = self.call(Method::GET, &path, repo, None).await?;
        Ok(answer.into())
    }

    // https://docs.github.com/en/rest/commits/commits#get-a-commit
    async fn commit(&self, repo: &Repo, sha: &str) -> Result<CommitInfo, GitHubError> {
        let path = format!("{}/commits/{}", repo_path(repo), seg(sha));
        let answer: wire::Commit = self.call(Method::GET, &path, repo, None).await?;
        Ok(answer.into())
    }

    // https://docs.github.com/en/rest/issues/comments#list-issue-comments
    async fn find_issue_comment(
        &self,
        repo: &Repo,
        number: u64,
        marker: &str,
    ) -> Result<Option<u64>, GitHubError> {
        for page in 1..=COMMENT_PAGES {
            let path = format!(
                "{}/issues/{number}/comments?per_page=100&page={page}",
                repo_path(repo)
            );
            let comments: Vec<wire::Comment> = self.call(Method::GET, &path, repo, None).await?;
            if let Some(id) = marked(&comments, marker) {
                return Ok(Some(id));
            }
            if comments.len() < 100 {
                break;
            }
        }
        Ok(None)
    }

    // https://docs.github.com/en/rest/issues/comments#create-an-issue-comment
    async fn create_issue_comment(
        &self,
        repo: &Repo,
        number: u64,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let path = format!("{}/issues/{number}/comments", repo_path(repo));
        let created: wire::Created = self
            .post(repo, &path, &serde_json::json!({ "body": body }))
            .await?;
        Ok(created.id)
    }

    // https://docs.github.com/en/rest/issues/comments#update-an-issue-comment
    async fn update_issue_comment(
        &self,
        repo: &Repo,
        id: u64,
        body: &str,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/issues/comments/{id}", repo_path(repo));
        self.patch(repo, &path, &serde_json::json!({ "body": body }))
            .await
    }
}
