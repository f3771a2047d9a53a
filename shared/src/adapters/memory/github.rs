//! GitHub in memory: what was written (check runs, statuses, deployments,
//! comments), scripted answers (comparisons, commits) and injected
//! failures, for unit tests.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use super::lock;
use crate::github::api::{
    AuthKind, CheckRun, CommitInfo, CommitStatus, Comparison, DeploymentStatus, GitHubApi,
    GitHubError, NewDeployment, Repo,
};

/// One request the fake received, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum GitHubCall {
    CreateCheckRun(Repo, CheckRun),
    UpdateCheckRun(Repo, u64, CheckRun),
    CommitStatus(Repo, String, CommitStatus),
    CreateDeployment(Repo, NewDeployment),
    DeploymentStatus(Repo, u64, DeploymentStatus),
    Compare(Repo, String, String),
    Commit(Repo, String),
    FindComment(Repo, u64),
    CreateComment(Repo, u64, String),
    UpdateComment(Repo, u64, String),
}

/// The fake. `Default` is an App installation that answers every request.
pub struct MemoryGitHub {
    pub auth: AuthKind,
    calls: Mutex<Vec<GitHubCall>>,
    /// Failures handed out, one per request, before any request succeeds.
    failures: Mutex<VecDeque<GitHubError>>,
    /// When set, every request fails with it (an outage).
    outage: Mutex<Option<GitHubError>>,
    comparisons: Mutex<BTreeMap<(String, String), Result<Comparison, GitHubError>>>,
    commits: Mutex<BTreeMap<String, CommitInfo>>,
    next_id: Mutex<u64>,
    /// The last state of each check run, by id.
    pub check_runs: Mutex<BTreeMap<u64, CheckRun>>,
    /// Each deployment and its statuses, in order, by id.
    pub deployments: Mutex<BTreeMap<u64, (NewDeployment, Vec<DeploymentStatus>)>>,
    /// Each comment's issue number and body, by id.
    pub comments: Mutex<BTreeMap<u64, (u64, String)>>,
}

impl Default for MemoryGitHub {
    fn default() -> Self {
        Self::with_auth(AuthKind::App)
    }
}

impl MemoryGitHub {
    pub fn with_auth(auth: AuthKind) -> Self {
        Self {
            auth,
            calls: Mutex::default(),
            failures: Mutex::default(),
            outage: Mutex::default(),
            comparisons: Mutex::default(),
            commits: Mutex::default(),
            next_id: Mutex::new(1000),
            check_runs: Mutex::default(),
            deployments: Mutex::default(),
            comments: Mutex::default(),
        }
    }

    /// Every request received so far, in order.
    pub fn calls(&self) -> Vec<GitHubCall> {
        lock(&self.calls).clone()
    }

    /// The next request fails with `error` (queued: call again for more).
    pub fn fail_next(&self, error: GitHubError) {
        lock(&self.failures).push_back(error);
    }

    /// Every request fails with `error` until [`MemoryGitHub::recover`].
    pub fn outage(&self, error: GitHubError) {
        *lock(&self.outage) = Some(error);
    }

    pub fn recover(&self) {
        *lock(&self.outage) = None;
    }

    /// What `compare(base, head)` answers.
    pub fn script_compare(&self, base: &str, head: &str, answer: Result<Comparison, GitHubError>) {
        lock(&self.comparisons).insert((base.to_owned(), head.to_owned()), answer);
    }

    /// What `commit(sha)` answers (else a commit by "unknown").
    pub fn script_commit(&self, commit: CommitInfo) {
        lock(&self.commits).insert(commit.sha.clone(), commit);
    }

    fn begin(&self, call: GitHubCall) -> Result<(), GitHubError> {
        lock(&self.calls).push(call);
        if let Some(e) = lock(&self.outage).clone() {
            return Err(e);
        }
        match lock(&self.failures).pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn id(&self) -> u64 {
        let mut n = lock(&self.next_id);
        *n += 1;
        *n
    }
}

impl GitHubApi for MemoryGitHub {
    fn auth(&self) -> AuthKind {
        self.auth
    }

    async fn create_check_run(&self, repo: &Repo, run: &CheckRun) -> Result<u64, GitHubError> {
        self.begin(GitHubCall::CreateCheckRun(repo.clone(), run.clone()))?;
        if self.auth != AuthKind::App {
            return Err(GitHubError::Rejected {
                status: 403,
                reason: "Resource not accessible by personal access token".into(),
            });
        }
        let id = self.id();
        lock(&self.check_runs).insert(id, run.clone());
        Ok(id)
    }

    async fn update_check_run(
        &self,
        repo: &Repo,
        id: u64,
        run: &CheckRun,
    ) -> Result<(), GitHubError> {
        self.begin(GitHubCall::UpdateCheckRun(repo.clone(), id, run.clone()))?;
        match lock(&self.check_runs).get_mut(&id) {
            Some(stored) => {
                *stored = run.clone();
                Ok(())
            }
            None => Err(GitHubError::NotFound(format!("check run {id}"))),
        }
    }

    async fn create_commit_status(
        &self,
        repo: &Repo,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), GitHubError> {
        self.begin(GitHubCall::CommitStatus(
            repo.clone(),
            sha.to_owned(),
            status.clone(),
        ))
    }

    async fn create_deployment(
        &self,
        repo: &Repo,
        deployment: &NewDeployment,
    ) -> Result<u64, GitHubError> {
        self.begin(GitHubCall::CreateDeployment(
            repo.clone(),
            deployment.clone(),
        ))?;
        let id = self.id();
        lock(&self.deployments).insert(id, (deployment.clone(), Vec::new()));
        Ok(id)
    }

    async fn create_deployment_status(
        &self,
        repo: &Repo,
        deployment_id: u64,
        status: &DeploymentStatus,
    ) -> Result<(), GitHubError> {
        self.begin(GitHubCall::DeploymentStatus(
            repo.clone(),
            deployment_id,
            status.clone(),
        ))?;
        match lock(&self.deployments).get_mut(&deployment_id) {
            Some((_, statuses)) => {
                statuses.push(status.clone());
                Ok(())
            }
            None => Err(GitHubError::NotFound(format!("deployment {deployment_id}"))),
        }
    }

    async fn compare(
        &self,
        repo: &Repo,
        base: &str,
        head: &str,
    ) -> Result<Comparison, GitHubError> {
        self.begin(GitHubCall::Compare(
            repo.clone(),
            base.to_owned(),
            head.to_owned(),
        ))?;
        lock(&self.comparisons)
            .get(&(base.to_owned(), head.to_owned()))
            .cloned()
            .unwrap_or_else(|| Err(GitHubError::NotFound(format!("{base}...{head}"))))
    }

    async fn commit(&self, repo: &Repo, sha: &str) -> Result<CommitInfo, GitHubError> {
        self.begin(GitHubCall::Commit(repo.clone(), sha.to_owned()))?;
        Ok(lock(&self.commits)
            .get(sha)
            .cloned()
            .unwrap_or_else(|| CommitInfo {
                sha: sha.to_owned(),
                author_name: Some("unknown".into()),
                author_login: None,
                authored_at: None,
                committed_at: None,
            }))
    }

    async fn find_issue_comment(
        &self,
        repo: &Repo,
        number: u64,
        marker: &str,
    ) -> Result<Option<u64>, GitHubError> {
        self.begin(GitHubCall::FindComment(repo.clone(), number))?;
        Ok(lock(&self.comments)
            .iter()
            .find(|(_, (n, body))| *n == number && body.contains(marker))
            .map(|(id, _)| *id))
    }

    async fn create_issue_comment(
        &self,
        repo: &Repo,
        number: u64,
        body: &str,
    ) -> Result<u64, GitHubError> {
        self.begin(GitHubCall::CreateComment(
            repo.clone(),
            number,
            body.to_owned(),
        ))?;
        let id = self.id();
        lock(&self.comments).insert(id, (number, body.to_owned()));
        Ok(id)
    }

    async fn update_issue_comment(
        &self,
        repo: &Repo,
        id: u64,
        body: &str,
    ) -> Result<(), GitHubError> {
        self.begin(GitHubCall::UpdateComment(repo.clone(), id, body.to_owned()))?;
        match lock(&self.comments).get_mut(&id) {
            Some((_, stored)) => {
                *stored = body.to_owned();
                Ok(())
            }
            None => Err(GitHubError::NotFound(format!("comment {id}"))),
        }
    }
}
