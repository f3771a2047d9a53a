//! Starting a rollback: choose the target, take the lease, lock the branch,
//! start (or adopt) the rollback job, and record it; or refuse, and
//! recommend the command to run. Once the lease is taken, `lock` locks the
//! branch and starts (or adopts) the job.

use chrono::Utc;
use tracing::info;

use crate::core::deployment::DeploymentKey;
use crate::core::error::Error;
use crate::core::events::{RollbackEvent, detail_type as dt};
use crate::core::model::{AppId, BranchName, BuildStatus, JobId};
use crate::ports::{AmplifyApi, BranchState, DeploymentStore};
use crate::rollback::{Outcome, Refusal, RollbackRecord};
use crate::stack::Stack;

use super::lock::NotStarted;
use super::{RollbackAction, Rollbacker};

impl<K: Stack> Rollbacker<'_, K> {
    /// Rolls a branch back: to `to`, or to its last known good job; from
    /// `from` (the unhealthy job), or from its live job. The same path for
    /// the automatic reaction and for `sentinel rollback`.
    pub async fn rollback(
        &self,
        app: &AppId,
        branch: &BranchName,
        to: Option<JobId>,
        from: Option<(JobId, Option<String>)>,
        reason: &str,
        automatic: bool,
    ) -> Result<RollbackAction, Error> {
        let pointers = self.store.get_branch_state(app, branch).await?;
        let (from_job, from_commit) = match from {
            Some(f) => f,
            None => match pointers.live_job {
                Some(job) => (job, pointers.live_commit.clone()),
                None => return Ok(self.refused(Refusal::NoKnownGood, None)),
            },
        };
        if automatic
            && let Some(refusal) = self
                .not_automatically(app, branch, &pointers, from_job)
                .await?
        {
            return Ok(self.refused(refusal, None));
        }
        let target = match to {
            Some(job) => Some(self.chosen_target(app, branch, job).await?),
            None => pointers
                .last_known_good_job
                .filter(|good| *good < from_job)
                .map(|good| (good, pointers.last_known_good_commit.clone()))
                // Retrying a job of the same commit rebuilds the same code:
                // no rollback. Only a git commit says so (a manual
                // deployment's jobs all report `HEAD`).
                .filter(|(_, commit)| !same_code(commit.as_deref(), from_commit.as_deref())),
        };
        let (policy, enforcement) = self.policy(app, branch).await?;
        let Some((target_job, target_commit)) = target else {
            return self
                .recommend(app, branch, from_job, Refusal::NoKnownGood, None, reason)
                .await;
        };
        if automatic && !policy.automatic_in(self.environment, self.auto_rollback) {
            let refusal = Refusal::AutomaticOff;
            return self
                .recommend(app, branch, from_job, refusal, Some(target_job), reason)
                .await;
        }
        let record = RollbackRecord {
            id: String::new(),
            from_job,
            from_commit,
            target_job,
            target_commit,
            rollback_job: None,
            reason: reason.to_owned(),
            requested_by: if automatic {
                "automatic".to_owned()
            } else {
                self.holder.clone()
            },
            automatic,
            started_at: Utc::now(),
            outcome: None,
            finished_at: None,
            outcome_reason: None,
            auto_build_before: None,
        };
        if automatic && !enforcement.acts() {
            if let Some(ended) = self.end_begun(app, branch, &record, &policy).await? {
                return Ok(ended);
            }
            return self.observe_rollback(app, branch, &record, &policy).await;
        }
        let now = record.started_at;
        let (state, begun) = self
            .update(app, branch, |state| {
                let record = RollbackRecord {
                    id: state.rollback_id(from_job),
                    ..record.clone()
                };
                let begun = state.begin(record, &self.holder, now, &policy);
                (begun.is_ok(), begun)
            })
            .await?;
        match begun {
            Ok(()) => {}
            Err(Refusal::AlreadyHandled) => {
                // A repeat delivery: report the rollback again if it started.
                if let Some(active) = state.active.as_ref().filter(|a| a.from_job == from_job)
                    && let Some(job) = active.rollback_job
                {
                    self.publish_rollback(dt::ROLLBACK_STARTED, &state, active, "started")
                        .await?;
                    return Ok(RollbackAction::Started {
                        rollback_job: job,
                        target_job: active.target_job,
                    });
                }
                // Or report again that it could not start (its "Rollback
                // Failed" may not have gone out).
                if let Some(active) = state.active.as_ref().filter(|a| {
                    a.from_job == from_job
                        && a.rollback_job.is_none()
                        && a.outcome == Some(Outcome::Failed)
                }) {
                    self.publish_rollback(dt::ROLLBACK_FAILED, &state, active, "failed")
                        .await?;
                    let why = active.outcome_reason.clone().unwrap_or_default();
                    return Ok(RollbackAction::RollbackFailed(why));
                }
                return Ok(self.refused(Refusal::AlreadyHandled, None));
            }
            Err(refusal) if refusal.recommends() => {
                return self
                    .recommend(app, branch, from_job, refusal, Some(target_job), reason)
                    .await;
            }
            Err(refusal) => return Ok(self.refused(refusal, None)),
        }
        let (rollback_job, auto_build_before) =
            match self.start_rollback_job(app, branch, &state, &record).await {
                Ok(started) => started,
                Err(NotStarted::ForNow(err)) => return Err(err),
                Err(NotStarted::ForGood { err, switched }) => {
                    let why = format!("the rollback could not start: {err}");
                    return self.not_started(app, branch, &record, why, switched).await;
                }
            };
        info!(%from_job, %target_job, %rollback_job, automatic, "rollback started");
        let record = RollbackRecord {
            auto_build_before,
            ..record
        };
        self.lock(app, branch, &record, rollback_job).await
    }

    /// Observe mode now, but this job's automatic rollback was begun while
    /// the branch enforced (the branch locked, auto-build switched off) and
    /// its job never started: it is not started now. Under the lease (as a
    /// take-over), the branch gets its auto-build back and the rollback
    /// ends failed, said by "Rollback Failed" (or, should auto-build not
    /// come back, how to release it): never a branch left locked in
    /// silence. `None`: no such rollback, or another invocation holds it.
    async fn end_begun(
        &self,
        app: &AppId,
        branch: &BranchName,
        record: &RollbackRecord,
        policy: &crate::rollback::RollbackPolicy,
    ) -> Result<Option<RollbackAction>, Error> {
        let from_job = record.from_job;
        let now = Utc::now();
        let (_, taken) = self
            .update(app, branch, |state| {
                let begun = state.in_progress().is_some_and(|a| {
                    a.from_job == from_job && a.automatic && a.rollback_job.is_none()
                });
                let record = RollbackRecord {
                    id: state.rollback_id(from_job),
                    ..record.clone()
                };
                let taken = begun && state.begin(record, &self.holder, now, policy).is_ok();
                (taken, taken)
            })
            .await?;
        if !taken {
            return Ok(None);
        }
        let why = "the rollback was not started: the branch's policy was switched to observe mode (`enforcement: observe`) while it was under way".to_owned();
        Ok(Some(
            self.not_started(app, branch, record, why, true).await?,
        ))
    }

    /// The guards of an automatic rollback that need no policy: the
    /// unhealthy job was already superseded, or is itself a rollback.
    async fn not_automatically(
        &self,
        app: &AppId,
        branch: &BranchName,
        pointers: &BranchState,
        from_job: JobId,
    ) -> Result<Option<Refusal>, Error> {
        if pointers.live_job.is_some_and(|live| live > from_job) {
            return Ok(Some(Refusal::Superseded));
        }
        // Never roll back a rollback.
        let from_key = DeploymentKey {
            app_id: app.clone(),
            branch_name: branch.clone(),
            job_id: from_job,
        };
        let is_rollback = self
            .store
            .get_deployment(&from_key)
            .await?
            .is_some_and(|d| d.is_rollback());
        Ok(is_rollback.then_some(Refusal::IsRollback))
    }

    /// The job an operator asked for, if it succeeded (else the command is
    /// refused for good).
    async fn chosen_target(
        &self,
        app: &AppId,
        branch: &BranchName,
        job: JobId,
    ) -> Result<(JobId, Option<String>), Error> {
        let key = DeploymentKey {
            app_id: app.clone(),
            branch_name: branch.clone(),
            job_id: job,
        };
        let details = self.amplify.get_job(&key).await?;
        if details.status != Some(BuildStatus::Succeeded) {
            return Err(Error::DeadLetter(format!(
                "job {job} did not succeed; it cannot be rolled back to"
            )));
        }
        Ok((job, details.commit_id))
    }

    pub(super) fn refused(&self, refusal: Refusal, _target: Option<JobId>) -> RollbackAction {
        info!(why = %refusal.describe(), "no rollback");
        RollbackAction::Refused {
            why: refusal.describe(),
            recommended: false,
        }
    }

    /// "Rollback Recommended", once per unhealthy job.
    pub(super) async fn recommend(
        &self,
        app: &AppId,
        branch: &BranchName,
        from_job: JobId,
        refusal: Refusal,
        target: Option<JobId>,
        reason: &str,
    ) -> Result<RollbackAction, Error> {
        let id = format!("{app}/{branch}/{}/rollback-recommended", from_job.padded());
        let (_, fresh) = self
            .update(app, branch, |state| {
                let fresh = state.remember(&id);
                (fresh, fresh)
            })
            .await?;
        let why = refusal.describe();
        info!(%why, %from_job, "rollback recommended, not started");
        if fresh {
            let event = RollbackEvent {
                event_id: id.clone(),
                environment: self.environment,
                app_id: app.clone(),
                branch_name: branch.clone(),
                from_job_id: Some(from_job),
                rollback_job_id: None,
                target_job_id: target,
                target_commit_id: None,
                reason: format!("{reason} — not rolled back automatically: {why}"),
                requested_by: None,
                time_to_restore_seconds: None,
                command: target.map(|t| command(app, branch, t)),
            };
            self.publish(&id, dt::ROLLBACK_RECOMMENDED, &event).await?;
        }
        Ok(RollbackAction::Refused {
            why,
            recommended: true,
        })
    }
}

pub(super) fn command(app: &AppId, branch: &BranchName, to: JobId) -> String {
    format!("sentinel rollback --app {app} --branch {branch} --to {to}")
}

/// Whether two jobs deployed the same code, by their commits.
fn same_code(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a == b && crate::core::model::is_git_commit(a))
}
