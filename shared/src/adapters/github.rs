//! GitHub over HTTPS (REST API v3). PLACEHOLDER until the client lands:
//! every request is refused, so nothing is sent.

use crate::github::api::{
    AuthKind, CheckRun, CommitInfo, CommitStatus, Comparison, DeploymentStatus, GitHubApi,
    GitHubError, NewDeployment, Repo,
};

/// The HTTPS client (not built yet).
pub struct GitHubClient {
    auth: AuthKind,
}

impl GitHubClient {
    /// The client for `settings`; the credentials are read from SSM on
    /// first use (a failure to read them never stops the function).
    pub fn new(
        settings: crate::github::settings::GitHubSettings,
        _ssm: aws_sdk_ssm::Client,
    ) -> Result<Self, String> {
        Ok(Self {
            auth: match settings.credentials {
                crate::github::settings::Credentials::App { .. } => AuthKind::App,
                crate::github::settings::Credentials::Token { .. } => AuthKind::Token,
            },
        })
    }
}

fn refused<T>() -> Result<T, GitHubError> {
    Err(GitHubError::Rejected {
        status: 0,
        reason: "the GitHub client is not built yet".into(),
    })
}

impl GitHubApi for GitHubClient {
    fn auth(&self) -> AuthKind {
        self.auth
    }
    async fn create_check_run(&self, _: &Repo, _: &CheckRun) -> Result<u64, GitHubError> {
        refused()
    }
    async fn update_check_run(&self, _: &Repo, _: u64, _: &CheckRun) -> Result<(), GitHubError> {
        refused()
    }
    async fn create_commit_status(
        &self,
        _: &Repo,
        _: &str,
        _: &CommitStatus,
    ) -> Result<(), GitHubError> {
        refused()
    }
    async fn create_deployment(&self, _: &Repo, _: &NewDeployment) -> Result<u64, GitHubError> {
        refused()
    }
    async fn create_deployment_status(
        &self,
        _: &Repo,
        _: u64,
        _: &DeploymentStatus,
    ) -> Result<(), GitHubError> {
        refused()
    }
    async fn compare(&self, _: &Repo, _: &str, _: &str) -> Result<Comparison, GitHubError> {
        refused()
    }
    async fn commit(&self, _: &Repo, _: &str) -> Result<CommitInfo, GitHubError> {
        refused()
    }
    async fn find_issue_comment(
        &self,
        _: &Repo,
        _: u64,
        _: &str,
    ) -> Result<Option<u64>, GitHubError> {
        refused()
    }
    async fn create_issue_comment(&self, _: &Repo, _: u64, _: &str) -> Result<u64, GitHubError> {
        refused()
    }
    async fn update_issue_comment(&self, _: &Repo, _: u64, _: &str) -> Result<(), GitHubError> {
        refused()
    }
}
