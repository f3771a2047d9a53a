//! What an alert adds with GitHub on: who pushed the commit, and the site
//! on its custom domain; read within [`AUTHOR_TIMEOUT`], never waiting on
//! a GitHub that fails.

use std::time::Duration;

use super::GitHubReporter;
use super::retry::retry_delay;
use crate::core::deployment::DeploymentKey;
use crate::core::model::{AppId, BranchName, JobId};
use crate::github::api::{CommitInfo, GitHubApi, Repo};
use crate::github::ports::GitHubStateStore;
use crate::ports::{AmplifyApi, AppInfo, RetryQueue};
use crate::stack::Stack;

/// How long an alert waits at most for the commit's author.
pub const AUTHOR_TIMEOUT: Duration = Duration::from_secs(2);

/// What an alert adds with GitHub on: who pushed, and the site on its
/// custom domain when Amplify has one available.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertExtras {
    /// The commit as GitHub knows it (its author's name and login).
    pub author: Option<CommitInfo>,
    /// `health::site::branch_url` with the custom domain's host; `None`
    /// when the branch has no custom domain available.
    pub custom_site_url: Option<String>,
}

impl AlertExtras {
    /// "Jane Doe (@jane)", "Jane Doe" or "@jane" (bounded; the message
    /// escapes it as any free text).
    pub fn author_line(&self) -> Option<String> {
        self.author.as_ref().and_then(author_text)
    }
}

impl<K: Stack, Q: RetryQueue> GitHubReporter<'_, K, Q> {
    /// The branch's site on its custom domain, if one is available.
    async fn custom_site_url(&self, app: &AppInfo, branch: &BranchName) -> Option<String> {
        let domains = self
            .amplify
            .list_domain_associations(&app.app_id)
            .await
            .ok()?;
        let custom = crate::health::site::custom_domain_host(&domains, branch)?;
        crate::health::site::branch_url(
            self.site_url_template,
            &app.app_id,
            branch,
            &branch.display_name(),
            Some(app.default_domain.as_str()).filter(|d| !d.is_empty()),
            Some(custom.as_str()),
        )
        .ok()
    }

    /// Who pushed the job's commit and where its site is, for the alert.
    /// Bounded by [`AUTHOR_TIMEOUT`]; the author is skipped on any error,
    /// when the app is not on GitHub, or while the breaker is open: an
    /// alert never waits on GitHub.
    pub async fn alert_extras(
        &self,
        app_id: &AppId,
        branch: &BranchName,
        job: Option<JobId>,
        commit: Option<&str>,
    ) -> AlertExtras {
        if !app_id.is_amplify() {
            return AlertExtras::default();
        }
        let work = async {
            let Ok(app) = self.amplify.get_app(app_id).await else {
                return AlertExtras::default();
            };
            let custom_site_url = self.custom_site_url(&app, branch).await;
            let author = self.author(&app, branch, job, commit).await;
            AlertExtras {
                author,
                custom_site_url,
            }
        };
        tokio::time::timeout(AUTHOR_TIMEOUT, work)
            .await
            .unwrap_or_default()
    }

    async fn author(
        &self,
        app: &AppInfo,
        branch: &BranchName,
        job: Option<JobId>,
        commit: Option<&str>,
    ) -> Option<CommitInfo> {
        let repo = app.repository.as_deref().and_then(Repo::from_amplify)?;
        let sha = commit.filter(|c| !c.is_empty())?;
        if let Some(job) = job {
            let key = DeploymentKey {
                app_id: app.app_id.clone(),
                branch_name: branch.clone(),
                job_id: job,
            };
            if let Ok(Some(known)) = self.store.get_github_state(&key).await
                && let Some(author) = known.author.filter(|a| a.sha == sha)
            {
                return Some(author);
            }
        }
        if self.breaker.remaining(&app.app_id).is_some() {
            return None;
        }
        match self.github.commit(&repo, sha).await {
            Ok(c) => Some(c),
            Err(e) => {
                if e.is_retryable() {
                    self.breaker.trip(
                        &app.app_id,
                        Duration::from_secs(u64::from(retry_delay(1, e.retry_after()))),
                    );
                }
                tracing::info!(error = %e, "the alert names no author");
                None
            }
        }
    }
}

/// "Jane Doe (@jane)", "Jane Doe" or "@jane": bounded, as free text from
/// the commit.
fn author_text(c: &CommitInfo) -> Option<String> {
    let name = c
        .author_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let login = c
        .author_login
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let text = match (name, login) {
        (Some(n), Some(l)) => format!("{n} (@{l})"),
        (Some(n), None) => n.to_owned(),
        (None, Some(l)) => format!("@{l}"),
        (None, None) => return None,
    };
    Some(text.chars().take(120).collect())
}
