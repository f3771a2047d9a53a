//! The rollback function's reactions, and the operator's rollback and
//! unlock (the CLI takes the same path):
//!
//! - "Deployment Unhealthy" of a branch's live job, where the policy allows:
//!   the last known good job (verified healthy, another commit) is rebuilt
//!   with StartJob RETRY, under a lease so that concurrent deliveries act
//!   once; auto-build is switched off first (the branch is locked, pinned to
//!   the good commit) so that the next push does not undo it.
//! - The rollback job is followed: Build Succeeded / Deployment Healthy with
//!   the target's commit → "Rollback Succeeded"; a failed build, another
//!   commit or an unhealthy verdict → "Rollback Failed", and it stops.
//! - Guards: never a rollback of a rollback, never a second target on its
//!   own, no rollback without a known good job, at most `max_automatic` per
//!   window; otherwise "Rollback Recommended" with the command to run.
//! - "Build Diagnosed" with `transient: true`: StartJob RETRY of the same
//!   job, at most `max_retries` per job lineage; "Build Retried".
//! - What is acted on is what the job's record says (the verdict, the
//!   diagnosis, whether it is a rollback), re-read at every delivery; the
//!   event only names the job. An event its record does not bear out (no
//!   record, no such verdict) is refused and logged: it did not come from
//!   Sentinel ([`crate::rollback::verdict`]).

mod lock;
mod observe;
mod reported;
mod retry;
mod start;

use chrono::Utc;
use tracing::{info, warn};

use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::enforcement::Enforcement;
use crate::core::error::Error;
use crate::core::events::{
    BuildEvent, Envelope, HealthEvent, OWNER_ROLLBACK, RollbackEvent, detail_type as dt,
};
use crate::core::model::{AppId, BranchName, BuildStatus, Environment, JobId};
use crate::core::outbox::entry;
use crate::effects::{Decided, read_decide_write};
use crate::policy::PolicyStore;
use crate::ports::{DeploymentStore, EventPublisher};
use crate::rollback::ports::RollbackStore;
use crate::rollback::verdict::{Unhealthy, recorded_healthy};
use crate::rollback::{
    AutoRollback, BranchLock, Outcome, RollbackPolicy, RollbackRecord, RollbackState,
};
use crate::stack::Stack;

/// Every detail type the rollback function takes.
pub const ACCEPTED: &[&str] = &[
    dt::DEPLOYMENT_UNHEALTHY,
    dt::DEPLOYMENT_HEALTHY,
    dt::BUILD_SUCCEEDED,
    dt::BUILD_FAILED,
    dt::BUILD_CANCELLED,
    dt::BUILD_DIAGNOSED,
];

pub struct Rollbacker<'a, K: Stack> {
    pub store: &'a K::Store,
    pub amplify: &'a K::Amplify,
    pub publisher: &'a K::Publisher,
    pub environment: Environment,
    pub auto_rollback: AutoRollback,
    /// The stack's mode for automatic actions; a policy may override it per
    /// branch. The operator's own commands act in both.
    pub enforcement: Enforcement,
    /// Who acts: the request id (a function) or the operator (the CLI).
    pub holder: String,
}

/// What one delivery (or one command) led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackAction {
    /// A rollback job was started (or had been, and is reported again).
    Started {
        rollback_job: JobId,
        target_job: JobId,
    },
    /// No rollback: why (and whether "Rollback Recommended" went out).
    Refused {
        why: String,
        recommended: bool,
    },
    RollbackSucceeded,
    RollbackFailed(String),
    /// The rollback job is on its way; nothing to decide yet.
    Waiting,
    Retried {
        retry_job: JobId,
    },
    NotRetried(String),
    /// Observe mode: what would have been done (nothing reached Amplify).
    Observed(String),
    /// Not about a rollback or a retry.
    Ignored(String),
}

impl<K: Stack> Rollbacker<'_, K> {
    /// Handles one domain event of the [`ACCEPTED`] types.
    pub async fn on_event(&self, envelope: &Envelope) -> Result<RollbackAction, Error> {
        if let Some(app) = envelope
            .non_amplify_app()
            .filter(|app| app.source() == crate::core::model::Source::CloudFormation)
        {
            // StartJob and UpdateBranch do not exist for a stack
            // (CloudFormation rolls its own operations back). A reported
            // service goes on: an unhealthy one is recommended a rollback.
            return Ok(RollbackAction::Ignored(format!(
                "{app} is a {} deployment: not rolled back or retried by Sentinel",
                app.source()
            )));
        }
        match envelope.detail_type.as_str() {
            dt::DEPLOYMENT_UNHEALTHY => {
                let e: HealthEvent = envelope.detail()?;
                self.on_unhealthy(&e.app_id, &e.branch_name, e.job_id).await
            }
            dt::DEPLOYMENT_HEALTHY => {
                let e: HealthEvent = envelope.detail()?;
                let (app, branch, job) = (&e.app_id, &e.branch_name, e.job_id);
                let state = self.state(app, branch).await?;
                if !state.is_rollback_job(job) {
                    return Ok(RollbackAction::Ignored("not a rollback job".into()));
                }
                let record = self.record(app, branch, job).await?;
                if let Err(why) = recorded_healthy(record.as_ref(), job) {
                    return Ok(not_acted_on(dt::DEPLOYMENT_HEALTHY, job, why));
                }
                let deployed = record.and_then(|d| d.details.commit_id);
                let verdict = self
                    .check_commit(&state, deployed.as_deref())
                    .map(|()| "verified healthy".to_owned());
                self.follow(app, branch, job, verdict).await
            }
            dt::BUILD_SUCCEEDED | dt::BUILD_FAILED | dt::BUILD_CANCELLED => {
                let e: BuildEvent = envelope.detail()?;
                let (app, branch, job) = (&e.app_id, &e.branch_name, e.job_id);
                let state = self.state(app, branch).await?;
                if !state.is_rollback_job(job) {
                    return Ok(RollbackAction::Ignored("not a rollback job".into()));
                }
                // The status ingest recorded (before it published the event),
                // and the commit Amplify says the job built.
                let record = self.record(app, branch, job).await?;
                let announced = match envelope.detail_type.as_str() {
                    dt::BUILD_SUCCEEDED => BuildStatus::Succeeded,
                    dt::BUILD_FAILED => BuildStatus::Failed,
                    _ => BuildStatus::Cancelled,
                };
                let Some(record) = record.filter(|d| d.status == announced) else {
                    let why = format!(
                        "job {job}'s record is not {}: the event did not come from Sentinel; not acted on",
                        announced.as_str()
                    );
                    return Ok(not_acted_on(&envelope.detail_type, job, why));
                };
                match record.status {
                    BuildStatus::Succeeded => {
                        let deployed = record.details.commit_id.as_deref();
                        match self.check_commit(&state, deployed) {
                            Ok(()) => Ok(RollbackAction::Waiting),
                            Err(why) => self.follow(app, branch, job, Err(why)).await,
                        }
                    }
                    status => {
                        let why = format!("the rollback build ended {}", status.as_str());
                        self.follow(app, branch, job, Err(why)).await
                    }
                }
            }
            _ => {
                let e: crate::core::events::DiagnosisEvent = envelope.detail()?;
                if !e.app_id.is_amplify() {
                    return Ok(RollbackAction::Ignored(
                        "not an Amplify build: nothing to retry".into(),
                    ));
                }
                self.on_diagnosed(e).await
            }
        }
    }

    /// "Deployment Unhealthy" of `job`, decided from the job's record
    /// ([`crate::rollback::verdict`]): the event only names the job, and
    /// anything allowed to put events on the bus could have sent it.
    async fn on_unhealthy(
        &self,
        app: &AppId,
        branch: &BranchName,
        job: JobId,
    ) -> Result<RollbackAction, Error> {
        let record = self.record(app, branch, job).await?;
        let state = self.state(app, branch).await?;
        let is_rollback =
            state.is_rollback_job(job) || record.as_ref().is_some_and(Deployment::is_rollback);
        // An automatic rollback of this job begun by an earlier delivery, on
        // the verdict recorded then, is taken over or reported again whatever
        // the record says now (a scheduled check may have found the site up
        // since): the branch is not left locked with no rollback.
        let begun = state
            .active
            .as_ref()
            .filter(|a| a.from_job == job && a.automatic);
        if !is_rollback && let Some(begun) = begun {
            let (from_commit, reason) = (begun.from_commit.clone(), begun.reason.clone());
            return self
                .rollback(app, branch, None, Some((job, from_commit)), &reason, true)
                .await;
        }
        let unhealthy = match Unhealthy::recorded(record.as_ref(), job) {
            Ok(unhealthy) => unhealthy,
            Err(why) => return Ok(not_acted_on(dt::DEPLOYMENT_UNHEALTHY, job, why)),
        };
        if is_rollback {
            let why = format!(
                "the rolled-back deployment is unhealthy too: {}",
                unhealthy.reason()
            );
            return self.follow(app, branch, job, Err(why)).await;
        }
        let live_allowed = matches!(unhealthy, Unhealthy::Live { .. })
            && self.rolls_back_live_failures(app, branch).await?;
        if !unhealthy.allows_rollback(live_allowed) {
            return Ok(RollbackAction::Ignored(
                "the verdict does not allow a rollback (scheduled check, alert only)".into(),
            ));
        }
        if !app.is_amplify() {
            return self
                .recommend_to_reporter(app, branch, job, unhealthy.reason())
                .await;
        }
        let from_commit = record.and_then(|d| d.details.commit_id);
        self.rollback(
            app,
            branch,
            None,
            Some((job, from_commit)),
            &format!("Deployment Unhealthy: {}", unhealthy.reason()),
            true,
        )
        .await
    }

    /// The job's record, as the functions before this one left it.
    pub(super) async fn record(
        &self,
        app: &AppId,
        branch: &BranchName,
        job: JobId,
    ) -> Result<Option<Deployment>, Error> {
        let key = DeploymentKey {
            app_id: app.clone(),
            branch_name: branch.clone(),
            job_id: job,
        };
        Ok(self.store.get_deployment(&key).await?)
    }

    /// Whether the branch's policy lets an unhealthy scheduled check of the
    /// live deployment lead to a rollback (`health.rollback_on_live_failure`).
    async fn rolls_back_live_failures(
        &self,
        app: &AppId,
        branch: &BranchName,
    ) -> Result<bool, Error> {
        Ok(self
            .store
            .get_policy(app, branch)
            .await?
            .is_some_and(|p| p.policy.health.rollback_on_live_failure))
    }

    pub(super) async fn state(
        &self,
        app: &AppId,
        branch: &BranchName,
    ) -> Result<RollbackState, Error> {
        Ok(self
            .store
            .get_rollback_state(app, branch)
            .await?
            .unwrap_or_else(|| RollbackState::new(app.clone(), branch.clone(), self.environment)))
    }

    /// The branch's rollback policy, and whether its automatic actions act.
    async fn policy(
        &self,
        app: &AppId,
        branch: &BranchName,
    ) -> Result<(RollbackPolicy, Enforcement), Error> {
        let policy = self.store.get_policy(app, branch).await?.map(|p| p.policy);
        let enforcement = Enforcement::for_branch(
            self.enforcement,
            policy.as_ref().and_then(|p| p.enforcement),
        );
        Ok((policy.map(|p| p.rollback).unwrap_or_default(), enforcement))
    }

    /// Reads, changes and writes the branch's state under its version;
    /// `change` answers whether to write, and what it decided.
    pub(super) async fn update<T>(
        &self,
        app: &AppId,
        branch: &BranchName,
        mut change: impl FnMut(&mut RollbackState) -> (bool, T),
    ) -> Result<(RollbackState, T), Error> {
        read_decide_write(
            async || self.state(app, branch).await,
            |state| {
                Ok(match change(state) {
                    (true, out) => Decided::Write(out),
                    (false, out) => Decided::Keep(out),
                })
            },
            async |state| self.store.save_rollback_state(state).await,
        )
        .await
    }

    fn check_commit(&self, state: &RollbackState, deployed: Option<&str>) -> Result<(), String> {
        let Some(active) = state.in_progress() else {
            return Err("no rollback in progress".into());
        };
        match (active.target_commit.as_deref(), deployed) {
            (Some(want), Some(got)) if want != got => Err(format!(
                "Amplify deployed commit {} instead of the target's {}",
                &got[..got.len().min(12)],
                &want[..want.len().min(12)]
            )),
            _ => Ok(()),
        }
    }

    /// Ends the rollback in progress whose job is `job`.
    async fn follow(
        &self,
        app: &AppId,
        branch: &BranchName,
        job: JobId,
        verdict: Result<String, String>,
    ) -> Result<RollbackAction, Error> {
        let now = Utc::now();
        let (outcome, why) = match &verdict {
            Ok(why) => (Outcome::Succeeded, why.clone()),
            Err(why) => (Outcome::Failed, why.clone()),
        };
        let (state, finished) = self
            .update(app, branch, |state| {
                if !state.is_rollback_job(job) {
                    return (false, None);
                }
                let finished = state.finish(outcome, &why, now);
                (finished.is_some(), finished)
            })
            .await?;
        // Finished now, or before (a repeat delivery whose publication failed).
        let record = finished.or_else(|| {
            state
                .active
                .clone()
                .filter(|a| a.rollback_job == Some(job) && a.outcome == Some(outcome))
        });
        let Some(record) = record else {
            return Ok(RollbackAction::Ignored("the rollback already ended".into()));
        };
        match outcome {
            Outcome::Succeeded => {
                info!(%job, "rollback succeeded");
                self.publish_rollback(dt::ROLLBACK_SUCCEEDED, &state, &record, "succeeded")
                    .await?;
                Ok(RollbackAction::RollbackSucceeded)
            }
            Outcome::Failed => {
                warn!(%job, %why, "rollback failed; no further rollback");
                self.publish_rollback(dt::ROLLBACK_FAILED, &state, &record, "failed")
                    .await?;
                Ok(RollbackAction::RollbackFailed(why))
            }
        }
    }

    async fn publish_rollback(
        &self,
        detail_type: &str,
        state: &RollbackState,
        record: &RollbackRecord,
        suffix: &str,
    ) -> Result<(), Error> {
        let id = format!("{}/{suffix}", record.id);
        let reason = match (detail_type, &record.outcome_reason) {
            (dt::ROLLBACK_STARTED, _) | (_, None) => record.reason.clone(),
            (_, Some(outcome)) => format!("{outcome} (rollback of job {})", record.from_job),
        };
        let lock = state.lock.as_ref().map(BranchLock::short);
        let event = RollbackEvent {
            event_id: id.clone(),
            environment: state.environment,
            app_id: state.app_id.clone(),
            branch_name: state.branch_name.clone(),
            from_job_id: Some(record.from_job),
            rollback_job_id: record.rollback_job,
            target_job_id: Some(record.target_job),
            target_commit_id: record.target_commit.clone(),
            reason: match lock {
                Some(lock) => format!("{reason}. Branch: {lock}"),
                _ => reason,
            },
            requested_by: Some(record.requested_by.clone()),
            time_to_restore_seconds: record
                .time_to_restore()
                .map(|d| d.num_seconds().max(0) as u64),
            command: None,
        };
        self.publish(&id, detail_type, &event).await
    }

    async fn publish<T: serde::Serialize>(
        &self,
        id: &str,
        detail_type: &str,
        detail: &T,
    ) -> Result<(), Error> {
        let Some(entry) = entry(id, OWNER_ROLLBACK, detail_type, detail) else {
            return Err(Error::DeadLetter(format!("cannot encode {detail_type}")));
        };
        self.publisher.publish(&[entry]).await?;
        Ok(())
    }
}

/// An event about a job whose record does not bear it out: refused, and
/// logged as a warning (someone may be putting events on the bus).
pub(super) fn not_acted_on(detail_type: &str, job: JobId, why: String) -> RollbackAction {
    warn!(%job, %why, "{detail_type} not borne out by the job's record");
    RollbackAction::Refused {
        why,
        recommended: false,
    }
}

#[cfg(test)]
mod tests;
