//! The comparison of a build's commit with the branch's deployed one (GitHub
//! on), once per build: the lead time's first commit, and the monorepo
//! filter's skip of a build that changed nothing under its app's paths
//! (`validate::paths`).

use chrono::Utc;
use tracing::{info, warn};

use super::stop::decide_skip;
use super::{Context, Validator, input_from_amplify};
use crate::core::deployment::{CompareRecord, Deployment, DeploymentKey, SkipKind};
use crate::core::enforcement::{Enforcement, ObservedKind};
use crate::core::error::Error;
use crate::core::model::is_git_commit;
use crate::effects;
use crate::github::api::{GitHubApi, Repo};
use crate::ports::DeploymentStore;
use crate::rollback::ports::RollbackStore;
use crate::stack::Stack;
use crate::validate::paths::{AppPaths, PathVerdict};
use crate::validate::rules::buildspec::BuildSpec;

impl<K: Stack> Validator<'_, K> {
    /// The comparison of this build's commit with the branch's last
    /// deployed one, once per build (GitHub on, both git commits): the lead
    /// time's first commit, and the monorepo filter's verdict. A failed
    /// comparison is recorded and logged, never retried, and never stops
    /// the build.
    pub(super) async fn compare_once(
        &self,
        key: &DeploymentKey,
        ctx: &Context,
        record: Deployment,
    ) -> Result<Deployment, Error> {
        if record.compare.is_some() {
            return Ok(record);
        }
        let Some(github) = self.github else {
            return Ok(record);
        };
        let Some(repo) = ctx.app.repository.as_deref().and_then(Repo::from_amplify) else {
            return Ok(record);
        };
        let Some(head) = record
            .details
            .commit_id
            .clone()
            .filter(|c| is_git_commit(c))
        else {
            return Ok(record);
        };
        let state = self
            .store
            .get_branch_state(&key.app_id, &key.branch_name)
            .await?;
        let Some(base) = state.live_commit.filter(|c| is_git_commit(c)) else {
            return Ok(record);
        };
        let input = input_from_amplify(self.environment, &ctx.app, &ctx.branch);
        let spec = BuildSpec::read(input.build_spec.as_ref());
        let filter = match AppPaths::new(
            AppPaths::roots_of(&input.variables, &spec),
            &ctx.policy.paths,
            &ctx.policy.shared_paths,
        ) {
            Ok(filter) => filter,
            Err(why) => {
                // A stored policy is checked when it is put; never stop on doubt.
                warn!(%why, "the policy's paths do not compile; not filtered");
                None
            }
        };
        let rollback = record.is_rollback() || {
            let rollbacks = self
                .store
                .get_rollback_state(&key.app_id, &key.branch_name)
                .await?;
            Self::is_rollback_job(
                Some(&record),
                rollbacks.as_ref(),
                key.job_id,
                record.details.job_type.as_deref() == Some("RETRY"),
            )
        };
        let mut compared = CompareRecord {
            base: base.clone(),
            head: head.clone(),
            status: None,
            commits: 0,
            files: 0,
            truncated: false,
            outcome: String::new(),
            error: None,
        };
        let mut first_commit_at = None;
        let mut skip_reason = None;
        if base == head {
            compared.status = Some("identical".into());
            compared.outcome = "the deployed commit rebuilt: built".into();
        } else {
            match github.compare(&repo, &base, &head).await {
                Err(e) => {
                    let why = crate::core::redact::mask_in_text(&e.to_string());
                    warn!(%why, retryable = e.is_retryable(), "GitHub's compare failed: the build is not filtered, lead time runs from the head commit");
                    compared.error = Some(why.chars().take(500).collect());
                    compared.outcome = "compare failed: built".into();
                }
                Ok(cmp) => {
                    compared.status = Some(cmp.status.chars().take(20).collect());
                    compared.commits = cmp.total_commits;
                    compared.files = cmp.files.len();
                    compared.truncated = cmp.truncated;
                    // Oldest first; when truncated, the first listed may be
                    // later than the true first (docs/metrics.md).
                    first_commit_at = cmp
                        .commits
                        .first()
                        .and_then(|c| c.authored_at.or(c.committed_at));
                    compared.outcome = match (&filter, rollback) {
                        (None, _) => "no app root nor paths: not filtered".into(),
                        (Some(_), true) => "a rollback: never skipped".into(),
                        (Some(f), false) => match f.judge(&cmp) {
                            PathVerdict::Build(why) => format!("built: {why}"),
                            PathVerdict::Skip(why) => {
                                skip_reason = Some(why.clone());
                                why
                            }
                        },
                    };
                }
            }
        }
        info!(base = %compared.base, head = %compared.head, outcome = %compared.outcome, "compared with the deployed commit");
        let enforcement = ctx.enforcement;
        effects::update(self.store, key, |d| {
            Ok(record_compare(
                d,
                &compared,
                first_commit_at,
                skip_reason.as_deref(),
                enforcement,
            ))
        })
        .await
    }
}

/// Records the comparison once, the lead time's first commit, and the
/// monorepo filter's skip of this job (enforce: to be stopped; observe:
/// "would have skipped"). A job being stopped for its configuration, a job
/// that ended, or one already skipped is not skipped again.
fn record_compare(
    d: &mut Deployment,
    compared: &CompareRecord,
    first_commit_at: Option<chrono::DateTime<Utc>>,
    skip_reason: Option<&str>,
    enforcement: Enforcement,
) -> bool {
    if d.compare.is_some() {
        return false;
    }
    d.compare = Some(compared.clone());
    if first_commit_at.is_some() {
        d.details.first_commit_at = first_commit_at;
    }
    let stopping = d.validation.as_ref().is_some_and(|v| v.stop_requested)
        || d.observed
            .iter()
            .any(|a| a.action == ObservedKind::StopBuild);
    if let Some(why) = skip_reason
        && !stopping
    {
        let by = d.key.job_id;
        decide_skip(d, SkipKind::NoChange, why, by, enforcement);
    }
    true
}
