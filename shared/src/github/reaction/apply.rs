//! Applying what differs: the job's record rendered (`render::desired`)
//! and compared with what its GitHub state item says was applied; the check
//! run (or, with a token, the commit status), the deployment and its
//! status, and the pull request comment are written only where they
//! changed, each recorded as it is.

use super::{Failure, GitHubReporter};
use crate::core::deployment::DeploymentKey;
use crate::core::error::Error;
use crate::core::model::BranchName;
use crate::github::api::{AuthKind, GitHubApi, GitHubError, Repo};
use crate::github::render::{self, COMMENT_MARKER, PrComment, RenderContext};
use crate::github::state::{GitHubState, fingerprint, goes_back};
use crate::policy::{PolicyStore, StoredPolicy};
use crate::ports::{AmplifyApi, AppInfo, DeploymentStore, RetryQueue};
use crate::stack::Stack;

/// Amplify's monorepo app root variable.
const MONOREPO_APP_ROOT: &str = "AMPLIFY_MONOREPO_APP_ROOT";

impl<K: Stack, Q: RetryQueue> GitHubReporter<'_, K, Q> {
    pub(super) async fn apply(
        &self,
        key: &DeploymentKey,
        state: &mut GitHubState,
    ) -> Result<usize, Failure> {
        let Some(record) = self.store.get_deployment(key).await.map_err(Error::from)? else {
            return Ok(0);
        };
        let app = self
            .amplify
            .get_app(&key.app_id)
            .await
            .map_err(Error::from)?;
        let Some(repo) = app.repository.as_deref().and_then(Repo::from_amplify) else {
            // Not connected to GitHub: nothing to show there.
            return Ok(0);
        };
        let branch = self
            .amplify
            .get_branch(&key.app_id, &key.branch_name)
            .await
            .ok();
        let site = self
            .site_url(
                &app,
                &key.branch_name,
                branch.as_ref().map(|b| b.display_name.as_str()),
            )
            .await;
        let sha = record.details.commit_id.clone().unwrap_or_default();
        if state.author.is_none() && !sha.is_empty() {
            // Decoration only: a failure here is the next call's to report.
            if let Ok(author) = self.github.commit(&repo, &sha).await {
                *state = self
                    .modify(key, |s| {
                        s.author = Some(author.clone());
                        Ok(())
                    })
                    .await?;
            }
        }
        let policy = self
            .store
            .get_policy(&key.app_id, &key.branch_name)
            .await
            .map_err(Error::from)?;
        // A monorepo's app root, the branch's setting over the app's.
        let app_root = branch
            .as_ref()
            .and_then(|b| b.environment_variables.get(MONOREPO_APP_ROOT))
            .or_else(|| app.environment_variables.get(MONOREPO_APP_ROOT))
            .cloned();
        let ctx = RenderContext {
            region: self.region,
            site_url: site.as_deref(),
            branch_stage: branch.as_ref().and_then(|b| b.stage.as_deref()),
            author: state.author.as_ref(),
            rolled_back_to: state.rolled_back_to,
            replaced: state.replaced_by.is_some(),
            repo_root_hints: &[],
            app_root: app_root.as_deref(),
        };
        let desired = render::desired(&record, &ctx, pr_comment(policy.as_ref()));
        let mut written = 0;

        // The check run (App) or the commit status (token).
        if !sha.is_empty() {
            match self.github.auth() {
                AuthKind::App => {
                    let fp = fingerprint(&desired.check_run);
                    if state.check_applied.as_deref() != Some(fp.as_str()) {
                        let id = match state.check_run_id {
                            Some(id) => match self
                                .github
                                .update_check_run(&repo, id, &desired.check_run)
                                .await
                            {
                                Ok(()) => id,
                                // Deleted on GitHub's side: a new one.
                                Err(GitHubError::NotFound(_)) => {
                                    self.github
                                        .create_check_run(&repo, &desired.check_run)
                                        .await?
                                }
                                Err(e) => return Err(e.into()),
                            },
                            None => {
                                self.github
                                    .create_check_run(&repo, &desired.check_run)
                                    .await?
                            }
                        };
                        *state = self
                            .modify(key, |s| {
                                s.check_run_id = Some(id);
                                s.check_applied = Some(fp.clone());
                                Ok(())
                            })
                            .await?;
                        written += 1;
                    }
                }
                AuthKind::Token => {
                    let fp = fingerprint(&desired.commit_status);
                    if state.check_applied.as_deref() != Some(fp.as_str()) {
                        self.github
                            .create_commit_status(&repo, &sha, &desired.commit_status)
                            .await?;
                        *state = self
                            .modify(key, |s| {
                                s.check_applied = Some(fp.clone());
                                Ok(())
                            })
                            .await?;
                        written += 1;
                    }
                }
            }
        }

        // The deployment: created once, its status posted when it changed
        // and does not go back.
        if let Some(deployment) = &desired.deployment {
            let fp = fingerprint(&deployment.status);
            let next = deployment.status.state;
            let wanted = state.deployment_applied.as_deref() != Some(fp.as_str())
                && !goes_back(state.deployment_state, next);
            if wanted {
                let id = match state.deployment_id {
                    Some(id) => id,
                    None => {
                        let id = self
                            .github
                            .create_deployment(&repo, &deployment.new)
                            .await?;
                        *state = self
                            .modify(key, |s| {
                                s.deployment_id = Some(id);
                                Ok(())
                            })
                            .await?;
                        written += 1;
                        id
                    }
                };
                self.github
                    .create_deployment_status(&repo, id, &deployment.status)
                    .await?;
                *state = self
                    .modify(key, |s| {
                        s.deployment_state = Some(next);
                        s.deployment_applied = Some(fp.clone());
                        Ok(())
                    })
                    .await?;
                written += 1;
            }
        }

        // The pull request's one comment: found by its marker (another
        // job of the same PR may have written it), edited in place.
        if let (Some(body), Some(number)) =
            (&desired.pr_comment, render::pr_number(&key.branch_name))
        {
            let fp = fingerprint(body);
            if state.comment_applied.as_deref() != Some(fp.as_str()) {
                let found = match state.comment_id {
                    Some(id) => Some(id),
                    None => {
                        self.github
                            .find_issue_comment(&repo, number, COMMENT_MARKER)
                            .await?
                    }
                };
                let id = match found {
                    Some(id) => match self.github.update_issue_comment(&repo, id, body).await {
                        Ok(()) => Some(id),
                        Err(GitHubError::NotFound(_)) if desired.pr_comment_may_create => Some(
                            self.github
                                .create_issue_comment(&repo, number, body)
                                .await?,
                        ),
                        Err(GitHubError::NotFound(_)) => None,
                        Err(e) => return Err(e.into()),
                    },
                    None if desired.pr_comment_may_create => Some(
                        self.github
                            .create_issue_comment(&repo, number, body)
                            .await?,
                    ),
                    // Nothing to edit, and the policy posts none for this
                    // outcome (`failures`, a build that is fine).
                    None => None,
                };
                if id.is_some() {
                    written += 1;
                }
                *state = self
                    .modify(key, |s| {
                        s.comment_id = s.comment_id.or(id);
                        s.comment_applied = Some(fp.clone());
                        Ok(())
                    })
                    .await?;
            }
        }
        Ok(written)
    }

    /// The branch's site as the health checker resolves it: the custom
    /// domain when Amplify reports one available, else Amplify's.
    async fn site_url(
        &self,
        app: &AppInfo,
        branch: &BranchName,
        display_name: Option<&str>,
    ) -> Option<String> {
        let domains = self
            .amplify
            .list_domain_associations(&app.app_id)
            .await
            .unwrap_or_default();
        let custom = crate::health::site::custom_domain_host(&domains, branch);
        let display = display_name.map_or_else(|| branch.display_name(), str::to_owned);
        crate::health::site::branch_url(
            self.site_url_template,
            &app.app_id,
            branch,
            &display,
            Some(app.default_domain.as_str()).filter(|d| !d.is_empty()),
            custom.as_deref(),
        )
        .ok()
    }
}

/// The policy's `github.pr_comment` (the default without a policy).
fn pr_comment(policy: Option<&StoredPolicy>) -> PrComment {
    policy
        .map(|p| p.policy.github.pr_comment)
        .unwrap_or_default()
}
