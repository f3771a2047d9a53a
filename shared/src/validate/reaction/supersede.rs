//! Superseded builds (`validate::skip`): the branch's older builds still
//! running that a new one supersedes, and whether a newer one supersedes
//! it; each skip recorded on the skipped job's record, StopJob of it, and
//! what it put in the outbox published.

use tracing::{info, warn};

use super::stop::{decide_skip, record_skip_stop};
use super::{Context, Validator};
use crate::core::deployment::{Deployment, DeploymentKey, SkipKind};
use crate::core::enforcement::{Enforcement, ObservedKind};
use crate::core::error::{AmplifyError, Error};
use crate::core::events::OWNER_VALIDATOR;
use crate::core::model::{BuildStatus, JobId};
use crate::effects::{self, Decided};
use crate::ports::{AmplifyApi, DeploymentStore};
use crate::rollback::ports::RollbackStore;
use crate::stack::Stack;
use crate::validate::skip::{self, BranchJob};

/// How many of the branch's newest jobs are read to find the ones a start
/// supersedes: jobs still running are among the newest. ListJobs answers
/// newest first, each with its status (PENDING, PROVISIONING, RUNNING,
/// FAILED, SUCCEED, CANCELLING, CANCELLED) and job type (RELEASE, RETRY,
/// MANUAL, WEB_HOOK):
/// <https://docs.aws.amazon.com/amplify/latest/APIReference/API_JobSummary.html>.
pub const SUPERSEDE_WINDOW: usize = 20;

impl<K: Stack> Validator<'_, K> {
    /// StopJob of a skip recorded on `record` and not yet tried. Amplify
    /// refuses to stop a job that ended (a BadRequest, our `Rejected`) and
    /// answers the stopped job's summary otherwise
    /// (<https://docs.aws.amazon.com/amplify/latest/APIReference/API_StopJob.html>):
    /// either way the answer is recorded, never retried.
    pub(super) async fn complete_skip(
        &self,
        key: &DeploymentKey,
        record: Deployment,
    ) -> Result<Deployment, Error> {
        if record
            .skipped
            .as_ref()
            .is_none_or(|s| s.stop_result.is_some())
        {
            return Ok(record);
        }
        let result = match self.amplify.stop_job(key).await {
            Ok(status) if status.is_terminal() && status != BuildStatus::Cancelled => {
                format!("not stopped: the job had ended ({status})")
            }
            Ok(_) => "stopped".to_owned(),
            // The job ended (or is gone) before it could be stopped.
            Err(AmplifyError::Rejected(why) | AmplifyError::NotFound(why)) => {
                info!(job = %key.job_id, %why, "the skipped build could not be stopped");
                format!("not stopped: {why}")
            }
            Err(e) => return Err(e.into()),
        };
        info!(job = %key.job_id, %result, "StopJob of a build that should not run");
        effects::update(self.store, key, |d| Ok(record_skip_stop(d, &result))).await
    }

    /// The branch's older builds this one supersedes, and whether a newer
    /// one supersedes it (`validate::skip`): each is skipped on its own
    /// record. Answers the older jobs skipped and the events published.
    pub(super) async fn supersede(
        &self,
        key: &DeploymentKey,
        ctx: &Context,
        record: &Deployment,
    ) -> Result<(Vec<JobId>, usize), Error> {
        if !ctx.policy.cancel_superseded {
            return Ok((Vec::new(), 0));
        }
        let listed = match self
            .amplify
            .list_jobs(&key.app_id, &key.branch_name, SUPERSEDE_WINDOW)
            .await
        {
            Ok(jobs) => jobs,
            Err(e @ AmplifyError::Unavailable(_)) => return Err(e.into()),
            Err(e) => {
                warn!(error = %e, "ListJobs refused: superseded builds not looked for");
                return Ok((Vec::new(), 0));
            }
        };
        let rollbacks = self
            .store
            .get_rollback_state(&key.app_id, &key.branch_name)
            .await?;
        let mut jobs = Vec::with_capacity(listed.len());
        for row in &listed {
            let retry = row.job_type.as_deref() == Some("RETRY");
            // An older job that ended plays no part: its record is not read.
            if row.job_id < key.job_id && row.status.is_terminal() {
                continue;
            }
            let other = if row.job_id == key.job_id {
                Some(record.clone())
            } else {
                self.store
                    .get_deployment(&DeploymentKey {
                        job_id: row.job_id,
                        ..key.clone()
                    })
                    .await?
            };
            jobs.push(BranchJob {
                id: row.job_id,
                active: !row.status.is_terminal(),
                // A job being stopped (or that would be, in observe mode)
                // supersedes nothing, as if it were cancelled already.
                cancelled: row.status == BuildStatus::Cancelled
                    || (row.job_id != key.job_id && other.as_ref().is_some_and(is_stopping)),
                retry,
                rollback: Self::is_rollback_job(
                    other.as_ref(),
                    rollbacks.as_ref(),
                    row.job_id,
                    retry,
                ),
            });
        }
        let me = match jobs.iter().find(|j| j.id == key.job_id) {
            Some(me) => me.clone(),
            // Not listed yet (ListJobs lags): as the record knows it.
            None => {
                let retry = record.details.job_type.as_deref() == Some("RETRY");
                BranchJob {
                    id: key.job_id,
                    active: !record.status.is_terminal(),
                    cancelled: record.status == BuildStatus::Cancelled,
                    retry,
                    rollback: Self::is_rollback_job(
                        Some(record),
                        rollbacks.as_ref(),
                        key.job_id,
                        retry,
                    ),
                }
            }
        };
        let stopping = is_stopping(record);
        let found = skip::supersession(&me, !stopping && !record.status.is_terminal(), &jobs);
        let mut published = 0;
        let mut superseded = Vec::new();
        for old in &found.older {
            let target = DeploymentKey {
                job_id: *old,
                ..key.clone()
            };
            let why = skip::reason(key.job_id, key.branch_name.as_str());
            if self
                .skip(
                    &target,
                    SkipKind::Superseded,
                    &why,
                    key.job_id,
                    ctx.enforcement,
                )
                .await?
            {
                superseded.push(*old);
            }
            published += self.flush_other(&target).await?;
        }
        if let Some(newer) = found.by_newer {
            let why = skip::reason(newer, key.branch_name.as_str());
            self.skip(key, SkipKind::Superseded, &why, newer, ctx.enforcement)
                .await?;
        }
        if !found.older.is_empty() || found.by_newer.is_some() {
            info!(older = ?found.older, newer = ?found.by_newer, enforcement = %ctx.enforcement, "superseded builds");
        }
        Ok((superseded, published))
    }

    /// Records the skip of `target` (creating its record when ingest has
    /// not yet: a pending job has no Amplify event) and, in enforce mode,
    /// stops it. A job that ended, a rollback, or a job already skipped is
    /// left as it is. Answers whether the job is (or would have been)
    /// skipped for this reason.
    async fn skip(
        &self,
        target: &DeploymentKey,
        kind: SkipKind,
        why: &str,
        by_job: JobId,
        enforcement: Enforcement,
    ) -> Result<bool, Error> {
        let environment = self.environment;
        let (record, ()) = effects::read_decide_write(
            async || Ok(self.store.get_deployment(target).await?),
            |record: &mut Option<Deployment>| {
                let d = record.get_or_insert_with(|| Deployment::new(target.clone(), environment));
                Ok(if decide_skip(d, kind, why, by_job, enforcement) {
                    d.fit_budget();
                    Decided::Write(())
                } else {
                    Decided::Keep(())
                })
            },
            async |record| match record {
                Some(d) => self.store.save_deployment(d).await,
                None => Ok(()),
            },
        )
        .await?;
        let Some(record) = record else {
            return Ok(false);
        };
        let skipped = record
            .skipped
            .as_ref()
            .is_some_and(|s| s.kind == kind && s.by_job == by_job)
            || record
                .observed
                .iter()
                .any(|a| a.action == ObservedKind::Skip);
        if record.skipped.is_some() {
            self.complete_skip(target, record).await?;
        }
        Ok(skipped)
    }

    /// Publishes what the validator put in another job's outbox.
    async fn flush_other(&self, key: &DeploymentKey) -> Result<usize, Error> {
        match self.store.get_deployment(key).await? {
            Some(d) => effects::flush(self.store, self.publisher, &d, OWNER_VALIDATOR).await,
            None => Ok(0),
        }
    }
}

/// Whether the job is being stopped (or, in observe mode, would be) for its
/// configuration or because it should not run: such a job supersedes
/// nothing.
fn is_stopping(d: &Deployment) -> bool {
    d.validation.as_ref().is_some_and(|v| v.stop_requested)
        || d.skipped.is_some()
        || d.observed
            .iter()
            .any(|a| matches!(a.action, ObservedKind::StopBuild | ObservedKind::Skip))
}
