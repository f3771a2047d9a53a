//! Which jobs an event is about: the events that make only a GitHub
//! update ([`GITHUB_ONLY`]), the job each names, and the job a rollback
//! replaced.

use serde::Deserialize;

use crate::core::deployment::DeploymentKey;
use crate::core::events::{Envelope, detail_type as dt};
use crate::core::model::{AppId, BranchName, JobId};

/// The detail types that make no alert, only a GitHub update: their
/// only consumer in the alerter is this module.
pub const GITHUB_ONLY: &[&str] = &[dt::BUILD_STARTED, dt::BUILD_CANCELLED, dt::BUILD_SKIPPED];

/// The job a GitHub-only event names ("Build Started", "Build Cancelled",
/// "Build Skipped"): what the alerter checks of their detail.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRef {
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub job_id: JobId,
}

/// The jobs an event is about (`None` when it names none: degradation, a
/// test alert, a report conflict).
pub(super) fn jobs_of(envelope: &Envelope) -> Option<Vec<DeploymentKey>> {
    let d = &envelope.detail;
    let app: AppId = d.get("appId")?.as_str()?.parse().ok()?;
    if !app.is_amplify() {
        return None;
    }
    let branch: BranchName = d.get("branchName")?.as_str()?.parse().ok()?;
    let job = |field: &str| -> Option<JobId> { serde_json::from_value(d.get(field)?.clone()).ok() };
    let jobs: Vec<JobId> = match envelope.detail_type.as_str() {
        dt::ROLLBACK_STARTED
        | dt::ROLLBACK_SUCCEEDED
        | dt::ROLLBACK_FAILED
        | dt::ROLLBACK_RECOMMENDED => [job("fromJobId"), job("rollbackJobId")]
            .into_iter()
            .flatten()
            .collect(),
        dt::DEGRADATION_DETECTED | dt::ALERT_TEST | dt::REPORT_CONFLICT => Vec::new(),
        _ => job("jobId").into_iter().collect(),
    };
    Some(
        jobs.into_iter()
            .map(|job_id| DeploymentKey {
                app_id: app.clone(),
                branch_name: branch.clone(),
                job_id,
            })
            .collect(),
    )
}

/// For a rollback that started or succeeded: the job it replaced, the
/// rollback job, and the job rolled back to.
pub(super) fn replacement(envelope: &Envelope) -> Option<(DeploymentKey, JobId, Option<JobId>)> {
    if !matches!(
        envelope.detail_type.as_str(),
        dt::ROLLBACK_STARTED | dt::ROLLBACK_SUCCEEDED
    ) {
        return None;
    }
    let e: crate::core::events::RollbackEvent = envelope.detail().ok()?;
    let from = e.from_job_id?;
    let by = e.rollback_job_id?;
    if !e.app_id.is_amplify() {
        return None;
    }
    Some((
        DeploymentKey {
            app_id: e.app_id,
            branch_name: e.branch_name,
            job_id: from,
        },
        by,
        e.target_job_id,
    ))
}
