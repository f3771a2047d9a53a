//! Observe mode: the rollback or retry Sentinel would have started is
//! recorded on the job's deployment and published as "Action Observed";
//! nothing reaches Amplify and the branch's rollback state is not touched
//! (no lease, no lock, nothing counted against the automatic limit).

use chrono::{DateTime, Utc};
use tracing::info;

use crate::core::deployment::DeploymentKey;
use crate::core::enforcement::{self, ObservedAction, ObservedKind};
use crate::core::error::Error;
use crate::core::events::{DiagnosisEvent, OWNER_ROLLBACK, ObservedEvent};
use crate::core::model::{AppId, BranchName, JobId};
use crate::effects;
use crate::rollback::{RollbackPolicy, RollbackRecord};
use crate::stack::Stack;

use super::{RollbackAction, Rollbacker};

impl<K: Stack> Rollbacker<'_, K> {
    /// The automatic rollback of `record` as it would have gone: the same
    /// guards (a rollback in progress, the limit) decide, on a copy of the
    /// branch's state.
    pub(super) async fn observe_rollback(
        &self,
        app: &AppId,
        branch: &BranchName,
        record: &RollbackRecord,
        policy: &RollbackPolicy,
    ) -> Result<RollbackAction, Error> {
        let mut probe = self.state(app, branch).await?;
        let record = RollbackRecord {
            id: probe.rollback_id(record.from_job),
            ..record.clone()
        };
        if let Err(refusal) = probe.begin(record.clone(), &self.holder, record.started_at, policy) {
            if refusal.recommends() {
                return self
                    .recommend(
                        app,
                        branch,
                        record.from_job,
                        refusal,
                        Some(record.target_job),
                        &record.reason,
                    )
                    .await;
            }
            return Ok(self.refused(refusal, None));
        }
        let commit = record
            .target_commit
            .as_deref()
            .map(|c| format!(" (commit {})", &c[..c.len().min(12)]))
            .unwrap_or_default();
        let why = format!(
            "to job {}{commit}, auto-build off until `sentinel unlock`: {}",
            record.target_job, record.reason
        );
        let mut action = ObservedAction::new(ObservedKind::Rollback, &why, record.started_at);
        // "would have rolled back: to job 41" reads better without the colon.
        action.summary = action
            .summary
            .replacen("rolled back: to", "rolled back to", 1);
        action.target_job = Some(record.target_job);
        action.command = Some(super::start::command(app, branch, record.target_job));
        self.observe(app, branch, record.from_job, action).await
    }

    /// The retry of a transiently failed build as it would have gone.
    pub(super) async fn observe_retry(
        &self,
        e: &DiagnosisEvent,
        max_retries: u32,
        now: DateTime<Utc>,
    ) -> Result<RollbackAction, Error> {
        let state = self.state(&e.app_id, &e.branch_name).await?;
        let (root, attempts) = state.lineage(e.job_id);
        if attempts >= max_retries {
            return Ok(RollbackAction::NotRetried(format!(
                "job {root}'s lineage has had {attempts} retries (max {max_retries})"
            )));
        }
        let why = format!(
            "StartJob RETRY of job {} (attempt {} of {max_retries}): {} is transient",
            e.job_id,
            attempts + 1,
            e.category
        );
        let mut action = ObservedAction::new(ObservedKind::Retry, &why, now);
        action.target_job = Some(e.job_id);
        self.observe(&e.app_id, &e.branch_name, e.job_id, action)
            .await
    }

    /// Records `action` on the job's deployment (once) with its "Action
    /// Observed" in the outbox, and publishes it.
    async fn observe(
        &self,
        app: &AppId,
        branch: &BranchName,
        job: JobId,
        action: ObservedAction,
    ) -> Result<RollbackAction, Error> {
        let key = DeploymentKey {
            app_id: app.clone(),
            branch_name: branch.clone(),
            job_id: job,
        };
        let record = effects::update(self.store, &key, |d| {
            if d.observed.iter().any(|a| a.action == action.action) {
                return Ok(false);
            }
            let seq = d.event_ids.len() as u64 + 300;
            if let Some(entry) = ObservedEvent::outbox_entry(d, &action, OWNER_ROLLBACK, seq) {
                d.outbox.insert(entry.id.clone(), entry);
            }
            Ok(enforcement::record(&mut d.observed, action.clone()))
        })
        .await?;
        effects::flush(self.store, self.publisher, &record, OWNER_ROLLBACK).await?;
        let summary = record
            .observed
            .iter()
            .find(|a| a.action == action.action)
            .map_or_else(|| action.summary.clone(), |a| a.summary.clone());
        info!(%job, %summary, "observe mode: not acted on");
        Ok(RollbackAction::Observed(summary))
    }
}
