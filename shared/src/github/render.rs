//! What appears on GitHub for one job, as pure functions of its record
//! (`docs/github.md`, "What appears where"): the check run, the commit
//! status that stands in for it with a token, the deployment and its
//! status, and the pull request comment. The alerter's GitHub reaction
//! reads the record, calls [`desired`] and applies the answer; applying
//! the same answer twice changes nothing.
//!
//! Decisions (documented in `docs/github.md`):
//!
//! - **The check run** is `in_progress` while the build runs *and* while
//!   the health checker judges the deploy, so that a required check is
//!   never green before the site is; it completes `success` (healthy),
//!   `failure` (build failed, stopped by validation, unhealthy, bake
//!   failed), `neutral` (health inconclusive), `cancelled`, `skipped` or
//!   `timed_out` (a job that never ended), `neutral` too for a deploy
//!   replaced before it was judged. A bake that fails after the Healthy
//!   verdict turns `success` into `failure`: the reaction applies the
//!   latest record's answer, and a completed run never returns to
//!   `in_progress` for the same record.
//! - **The deployment** exists only for a job that deployed (Amplify's
//!   job succeeded): `None` before (the check run shows the build) and for
//!   a build that failed, was cancelled or skipped, so that no deployment
//!   is left `in_progress` by a build that then failed, and the
//!   environment's history lists deploys only. Its environment is the
//!   **branch name**: each Amplify branch is its own site, so each is a
//!   GitHub environment (Sentinel's `dev`/`staging`/`prod` names the stack,
//!   which serves many branches). Its status is `in_progress` while the
//!   health check runs, `success` only with a Healthy verdict, `failure`
//!   when Unhealthy or the bake failed, `error` when Inconclusive (a
//!   deploy that could not be judged), `inactive` once replaced.
//! - **The pull request comment** is only for Amplify's `pr-N` previews.
//!
//! Where each part is: where the job stands and its title (`stage`), the
//! check run (`check_run`), the deployment (`deployment`), the pull request
//! comment (`comment`), and the footer and links they share (`footer`).

mod check_run;
mod comment;
mod deployment;
mod footer;
mod stage;

pub use super::api::valid_login;
pub use check_run::{BRANCH_IN_NAME_MAX, SUMMARY_MAX, check_name};
pub use comment::{COMMENT_MARKER, COMMENT_MAX, PrComment, pr_number};
pub use deployment::{DESCRIPTION_MAX, DesiredDeployment};
pub use stage::RenderContext;

use super::api::{CheckRun, CheckStatus, CommitStatus};
use super::markdown::cut;
use crate::core::deployment::Deployment;
use crate::core::model::is_git_commit;
use check_run::{annotations, completed_at, summary};
use comment::pr_comment;
use deployment::deployment;
use footer::job_url;
use stage::{Stage, title};

// What the tests (`use super::*`) name through this module.
#[cfg(test)]
use {
    super::annotate,
    super::api::{AnnotationLevel, CommitInfo, CommitState, Conclusion, DeploymentState},
    crate::core::bake::BakeOutcome,
    crate::core::enforcement::ObservedKind,
    crate::core::model::{BuildStatus, JobId},
    crate::core::verdicts::{Outcome as EndpointOutcome, Severity, Verdict},
    chrono::{DateTime, Utc},
};

/// Everything that should appear on GitHub for one job, now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub check_run: CheckRun,
    /// The token's stand-in for the check run: the same verdict in at most
    /// 140 characters.
    pub commit_status: CommitStatus,
    /// `None` for a build that never deployed (running, failed, cancelled,
    /// skipped).
    pub deployment: Option<DesiredDeployment>,
    /// The pull request comment's whole body (starts with
    /// [`COMMENT_MARKER`]): `Some` only for a `pr-N` branch and as the
    /// policy says.
    pub pr_comment: Option<String>,
    /// Whether the reaction may post [`Self::pr_comment`] when the pull
    /// request has none yet; `false`: edit an existing one only (a
    /// `failures` policy's later builds, which say it is fixed).
    pub pr_comment_may_create: bool,
}

/// Everything that should appear on GitHub for `record` now (see the
/// module's documentation for each mapping). A record without a commit
/// id has an empty `head_sha` and `ref`: GitHub refuses those, and the
/// reaction writes nothing for such a job.
pub fn desired(record: &Deployment, ctx: &RenderContext, pr_comment_policy: PrComment) -> Desired {
    let stage = Stage::of(record, ctx);
    let title = title(record, &stage, ctx);
    let (status, conclusion) = stage.check();
    let details_url = job_url(record, ctx);
    let head_sha = record
        .details
        .commit_id
        .clone()
        .filter(|c| is_git_commit(c))
        .unwrap_or_default();
    let check_run = CheckRun {
        name: check_name(&record.key.branch_name),
        head_sha,
        status,
        conclusion,
        details_url: details_url.clone(),
        external_id: Some(format!(
            "{}/{}/{}",
            record.key.app_id, record.key.branch_name, record.key.job_id
        )),
        started_at: record.started_at(),
        completed_at: (status == CheckStatus::Completed)
            .then(|| completed_at(record))
            .flatten(),
        title: title.clone(),
        summary: summary(record, &stage, &title, ctx),
        annotations: annotations(record, ctx),
    };
    let commit_status = CommitStatus {
        state: stage.commit_state(),
        context: check_run.name.clone(),
        description: cut(&title, DESCRIPTION_MAX),
        target_url: details_url,
    };
    let (pr_comment, pr_comment_may_create) =
        pr_comment(record, &stage, &title, ctx, pr_comment_policy);
    Desired {
        deployment: deployment(record, &stage, &title, ctx),
        check_run,
        commit_status,
        pr_comment,
        pr_comment_may_create,
    }
}

#[cfg(test)]
mod tests;
