//! An unhealthy deploy of a service that reports itself (`svc:`): Sentinel
//! cannot roll a PM2 server or a CI deploy back, so it recommends it, once
//! per deploy; the deploy script acts on `sentinel report --wait`'s exit
//! code (1: restore the backup). `docs/reporting.md`.

use tracing::info;

use crate::core::error::Error;
use crate::core::events::{RollbackEvent, detail_type as dt};
use crate::core::model::{AppId, BranchName, JobId};
use crate::stack::Stack;

use super::{RollbackAction, Rollbacker};

/// Why no rollback starts, as the recommendation and the alert say it.
pub const NOT_ROLLED_BACK: &str = "Sentinel cannot roll back a reported service: its deploy script \
restores the previous release when `sentinel report --wait` exits 1";

impl<K: Stack> Rollbacker<'_, K> {
    /// "Rollback Recommended" for `job` of a reporting service, once:
    /// published (a deterministic id, so a repeat is a duplicate that
    /// consumers drop), then remembered on the branch's rollback state.
    pub(super) async fn recommend_to_reporter(
        &self,
        app: &AppId,
        branch: &BranchName,
        job: JobId,
        reason: &str,
    ) -> Result<RollbackAction, Error> {
        let id = format!("{app}/{branch}/{}/rollback-recommended", job.padded());
        let state = self.state(app, branch).await?;
        if !state.handled.iter().any(|e| e == &id) {
            let event = RollbackEvent {
                event_id: id.clone(),
                environment: self.environment,
                app_id: app.clone(),
                branch_name: branch.clone(),
                from_job_id: Some(job),
                rollback_job_id: None,
                target_job_id: None,
                target_commit_id: None,
                reason: format!("Deployment Unhealthy: {reason} — {NOT_ROLLED_BACK}"),
                requested_by: None,
                time_to_restore_seconds: None,
                command: None,
            };
            self.publish(&id, dt::ROLLBACK_RECOMMENDED, &event).await?;
            self.update(app, branch, |state| (state.remember(&id), ()))
                .await?;
        }
        info!(%job, "reported service unhealthy: rollback recommended to its deploy script");
        Ok(RollbackAction::Refused {
            why: NOT_ROLLED_BACK.into(),
            recommended: true,
        })
    }
}
