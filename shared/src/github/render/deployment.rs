//! The GitHub deployment, only for a job that deployed: created once per
//! job (`ref` the commit, `environment` the branch), and the status it
//! should have now.

use super::comment::pr_number;
use super::footer::{job_url, site_url};
use super::stage::{RenderContext, Stage};
use crate::alert::escape::untrusted;
use crate::core::deployment::Deployment;
use crate::core::model::BuildStatus;
use crate::github::api::{DeploymentState, DeploymentStatus, NewDeployment};
use crate::github::markdown::cut;

/// A commit status's or deployment status's `description` holds at most
/// 140 characters; GitHub refuses longer ones
/// (docs.github.com/en/rest/deployments/statuses#create-a-deployment-status,
/// docs.github.com/en/rest/commits/statuses#create-a-commit-status).
pub const DESCRIPTION_MAX: usize = 140;

/// The deployment to create (once per job) and its current status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredDeployment {
    /// Created once per job (the reaction keeps its id): `ref` the commit,
    /// `environment` the branch.
    pub new: NewDeployment,
    /// The status it should have now; a new one is posted when it differs.
    pub status: DeploymentStatus,
}

pub(super) fn deployment(
    record: &Deployment,
    stage: &Stage,
    title: &str,
    ctx: &RenderContext,
) -> Option<DesiredDeployment> {
    if record.status != BuildStatus::Succeeded || matches!(stage, Stage::Skipped(_)) {
        return None;
    }
    let branch = record.key.branch_name.as_str();
    let preview =
        ctx.branch_stage == Some("PULL_REQUEST") || pr_number(&record.key.branch_name).is_some();
    let (state, description) = if ctx.replaced {
        (
            DeploymentState::Inactive,
            match ctx.rolled_back_to {
                Some(to) => format!("Rolled back to job {to}"),
                None => "Replaced by a later deploy".to_owned(),
            },
        )
    } else {
        let state = match stage {
            Stage::CheckingSite => DeploymentState::InProgress,
            Stage::Healthy => DeploymentState::Success,
            Stage::Unhealthy | Stage::BakeFailed => DeploymentState::Failure,
            _ => DeploymentState::Error,
        };
        (state, title.to_owned())
    };
    let job = record.key.job_id;
    let mut payload = serde_json::json!({
        "app": record.key.app_id.as_str(),
        "branch": branch,
        "job": job.to_string(),
    });
    if let Some(target) = record.rollback_of {
        payload["rollbackOf"] = serde_json::json!(target.to_string());
    }
    Some(DesiredDeployment {
        new: NewDeployment {
            git_ref: record.details.commit_id.clone().unwrap_or_default(),
            environment: untrusted(branch),
            description: cut(
                &match record.rollback_of {
                    Some(target) => format!("Amplify job {job}: rollback to job {target}"),
                    None => format!("Amplify job {job}"),
                },
                DESCRIPTION_MAX,
            ),
            auto_merge: false,
            required_contexts: Vec::new(),
            transient_environment: preview,
            production_environment: ctx.branch_stage == Some("PRODUCTION"),
            payload,
        },
        status: DeploymentStatus {
            state,
            description: cut(&untrusted(&description), DESCRIPTION_MAX),
            environment_url: site_url(ctx),
            log_url: job_url(record, ctx),
            auto_inactive: false,
        },
    })
}
