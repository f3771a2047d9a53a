//! Under the lease: the branch locked (what auto-build was is recorded
//! first, then it is switched off), the rollback job started or adopted,
//! recorded and announced ("Rollback Started"); or, when it cannot start,
//! the branch given back its auto-build and the rollback ended failed
//! ("Rollback Failed").

use chrono::Utc;
use tracing::warn;

use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{AmplifyError, Error};
use crate::core::events::detail_type as dt;
use crate::core::model::{AppId, BranchName, JobId};
use crate::effects::{Decided, read_decide_write};
use crate::ports::{AmplifyApi, DeploymentStore, StartJob};
use crate::rollback::{BranchLock, Outcome, RollbackRecord, RollbackState};
use crate::stack::Stack;

use super::{RollbackAction, Rollbacker};

impl<K: Stack> Rollbacker<'_, K> {
    /// Under the lease: locks the branch (recorded first, then auto-build
    /// off) and starts the rollback job, or adopts the one a StartJob whose
    /// answer was lost did start.
    ///
    /// A failure worth retrying releases the lease, so that the redelivery
    /// takes the rollback over at once and finds the branch as this attempt
    /// left it: locked, with what auto-build was before recorded (should
    /// the queue give up, `sentinel unlock` gives it back). A failure for
    /// good (Amplify refuses, or no longer knows the job) keeps the lease
    /// for [`Self::not_started`], and says whether auto-build was switched.
    pub(super) async fn start_rollback_job(
        &self,
        app: &AppId,
        branch: &BranchName,
        state: &RollbackState,
        record: &RollbackRecord,
    ) -> Result<(JobId, Option<bool>), NotStarted> {
        let mut switched = false;
        let started: Result<(JobId, Option<bool>), Error> = async {
            let before = self
                .remember_auto_build(app, branch, state, record.from_job)
                .await?;
            // Lock first: a push between the StartJob and the lock would build
            // over the rollback. The lock is recorded before auto-build is
            // switched off, so that a branch is never left off by nobody.
            self.record_lock(app, branch, record, before).await?;
            // Refused for good, the switch changed nothing.
            self.amplify.set_auto_build(app, branch, false).await?;
            switched = true;
            let taken: Vec<JobId> = state
                .history
                .iter()
                .filter_map(|h| h.rollback_job)
                .collect();
            let target_commit = record.target_commit.as_deref();
            let adopted = self
                .adoptable_retry(app, branch, record.from_job, target_commit, &taken)
                .await?;
            let job = match adopted {
                Some(job) => job,
                None => {
                    self.amplify
                        .start_job(
                            app,
                            branch,
                            StartJob::Retry(record.target_job),
                            &format!("Deploy Sentinel rollback of job {}", record.from_job),
                        )
                        .await?
                }
            };
            Ok((job, before))
        }
        .await;
        let err = match started {
            Ok(started) => return Ok(started),
            Err(err @ Error::Amplify(AmplifyError::Rejected(_) | AmplifyError::NotFound(_))) => {
                return Err(NotStarted::ForGood { err, switched });
            }
            Err(err) => err,
        };
        let from_job = record.from_job;
        let released = self
            .update(app, branch, |state| {
                let mine = state
                    .lease
                    .as_ref()
                    .is_some_and(|l| l.holder == self.holder)
                    && state
                        .active
                        .as_ref()
                        .is_some_and(|a| a.from_job == from_job && a.rollback_job.is_none());
                if mine {
                    state.lease = None;
                }
                (mine, ())
            })
            .await;
        Err(NotStarted::ForNow(released.err().unwrap_or(err)))
    }

    /// Records the branch's lock for this rollback, unless the branch is
    /// locked already (an earlier rollback's lock, or this one's from an
    /// earlier attempt), which stands.
    async fn record_lock(
        &self,
        app: &AppId,
        branch: &BranchName,
        record: &RollbackRecord,
        auto_build_before: Option<bool>,
    ) -> Result<(), Error> {
        let from_job = record.from_job;
        self.update(app, branch, |state| {
            let ours = state
                .active
                .as_ref()
                .is_some_and(|a| a.from_job == from_job);
            if !ours || state.lock.is_some() {
                return (false, ());
            }
            state.lock = Some(branch_lock(record, auto_build_before));
            (true, ())
        })
        .await?;
        Ok(())
    }

    /// A rollback that cannot start (Amplify refused the StartJob for good,
    /// or the branch no longer enforces), `why`: gives the branch back its
    /// auto-build as it was before (unless an earlier rollback's lock holds
    /// it), ends the rollback as failed (the guards count it, no lock of it
    /// stays) and publishes "Rollback Failed". Should auto-build not come
    /// back, the lock stays and the reason says how to release it.
    pub(super) async fn not_started(
        &self,
        app: &AppId,
        branch: &BranchName,
        record: &RollbackRecord,
        mut why: String,
        switched: bool,
    ) -> Result<RollbackAction, Error> {
        let from_job = record.from_job;
        let current = self.state(app, branch).await?;
        let ours = current.lock.as_ref().filter(|l| is_lock_of(l, from_job));
        let mut release = ours.is_some();
        if let Some(lock) = ours
            && switched
            && lock.auto_build_before != Some(false)
        {
            match self.amplify.set_auto_build(app, branch, true).await {
                Ok(()) => why.push_str("; auto-build is back on"),
                Err(e) => {
                    release = false;
                    why.push_str(&format!(
                        "; the branch's auto-build is still off ({e}): run `sentinel unlock --app {app} --branch {branch}` to switch it back on"
                    ));
                }
            }
        }
        warn!(%from_job, %why, "rollback not started");
        let now = Utc::now();
        let (state, finished) = self
            .update(app, branch, |state| {
                if !state.active.as_ref().is_some_and(|a| {
                    a.from_job == from_job && a.rollback_job.is_none() && a.outcome.is_none()
                }) {
                    return (false, None);
                }
                let finished = state.finish(Outcome::Failed, &why, now);
                if release && state.lock.as_ref().is_some_and(|l| is_lock_of(l, from_job)) {
                    state.lock = None;
                    state.audit(format!(
                        "{} lock of the rollback of job {from_job} released: it could not start",
                        now.to_rfc3339()
                    ));
                }
                (true, finished)
            })
            .await?;
        let Some(finished) = finished else {
            return Ok(RollbackAction::Ignored("the rollback already ended".into()));
        };
        self.publish_rollback(dt::ROLLBACK_FAILED, &state, &finished, "failed")
            .await?;
        Ok(RollbackAction::RollbackFailed(why))
    }

    /// Whether auto-build was on before this rollback: as recorded by an
    /// earlier attempt of it, else by the lock still held (an earlier
    /// rollback's), else read from Amplify and recorded in the
    /// rollback before anything is switched. A branch Amplify does not know
    /// answers "not known" (unlock then switches auto-build on).
    async fn remember_auto_build(
        &self,
        app: &AppId,
        branch: &BranchName,
        state: &RollbackState,
        from_job: JobId,
    ) -> Result<Option<bool>, Error> {
        let active = state.active.as_ref().filter(|a| a.from_job == from_job);
        if let Some(known) = active.and_then(|a| a.auto_build_before) {
            return Ok(Some(known));
        }
        // A branch still locked by an earlier rollback is off because of
        // it: what it was before that lock is what it goes back to.
        let earlier = state.lock.as_ref().and_then(|l| l.auto_build_before);
        let enabled = match earlier {
            Some(enabled) => enabled,
            None => match self.amplify.get_branch(app, branch).await {
                Ok(info) => info.enable_auto_build,
                Err(AmplifyError::NotFound(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            },
        };
        let (state, ()) = self
            .update(app, branch, |state| {
                match state.active.as_mut().filter(|a| a.from_job == from_job) {
                    Some(a) if a.auto_build_before.is_none() => {
                        a.auto_build_before = Some(enabled);
                        (true, ())
                    }
                    _ => (false, ()),
                }
            })
            .await?;
        // A concurrent attempt may have recorded it first: its answer stands.
        Ok(state
            .active
            .as_ref()
            .filter(|a| a.from_job == from_job)
            .and_then(|a| a.auto_build_before)
            .or(Some(enabled)))
    }

    /// Records the started job in the branch's state, pinned and locked
    /// until a person unlocks it, marks its deployment as a rollback, and
    /// publishes "Rollback Started".
    pub(super) async fn lock(
        &self,
        app: &AppId,
        branch: &BranchName,
        record: &RollbackRecord,
        rollback_job: JobId,
    ) -> Result<RollbackAction, Error> {
        let (from_job, target_job) = (record.from_job, record.target_job);
        let now = record.started_at;
        let by = &record.requested_by;
        let (state, _) = self
            .update(app, branch, |state| {
                let Some(active) = state.active.as_mut().filter(|a| a.from_job == from_job) else {
                    return (false, ());
                };
                active.rollback_job = Some(rollback_job);
                state.lease = None;
                state.lock = Some(branch_lock(record, record.auto_build_before));
                state.audit(format!(
                    "{} locked by {by} (rollback of job {from_job})",
                    now.to_rfc3339()
                ));
                (true, ())
            })
            .await?;
        self.mark_rollback_job(
            app,
            branch,
            rollback_job,
            from_job,
            record.target_commit.clone(),
        )
        .await?;
        if let Some(active) = &state.active {
            self.publish_rollback(dt::ROLLBACK_STARTED, &state, active, "started")
                .await?;
        }
        Ok(RollbackAction::Started {
            rollback_job,
            target_job,
        })
    }

    /// Records the rollback job's deployment as a rollback before (or
    /// while) ingest records its events, so that every later event of it
    /// says `isRollback`.
    async fn mark_rollback_job(
        &self,
        app: &AppId,
        branch: &BranchName,
        job: JobId,
        from: JobId,
        commit: Option<String>,
    ) -> Result<(), Error> {
        let key = DeploymentKey {
            app_id: app.clone(),
            branch_name: branch.clone(),
            job_id: job,
        };
        read_decide_write(
            async || Ok(self.store.get_deployment(&key).await?),
            |record: &mut Option<Deployment>| {
                if record.as_ref().is_some_and(|r| r.rollback_of == Some(from)) {
                    return Ok(Decided::Keep(()));
                }
                let record = record.get_or_insert_with(|| {
                    let mut r = Deployment::new(key.clone(), self.environment);
                    r.details.start_time = Some(Utc::now());
                    r.details.job_type = Some("RETRY".into());
                    r.details.commit_id = commit.clone();
                    r
                });
                record.rollback_of = Some(from);
                Ok(Decided::Write(()))
            },
            async |record| match record {
                Some(r) => self.store.save_deployment(r).await,
                None => Ok(()),
            },
        )
        .await?;
        Ok(())
    }
}

/// Why a rollback job did not start.
pub(super) enum NotStarted {
    /// Worth retrying: the redelivery takes the rollback over.
    ForNow(Error),
    /// Amplify refused it for good; `switched`: auto-build was switched off.
    ForGood { err: Error, switched: bool },
}

/// The branch's lock for a rollback: pinned to its target until released.
fn branch_lock(record: &RollbackRecord, auto_build_before: Option<bool>) -> BranchLock {
    BranchLock {
        pinned_job: record.target_job,
        pinned_commit: record.target_commit.clone(),
        since: record.started_at,
        by: record.requested_by.clone(),
        reason: format!("rollback of job {}: {}", record.from_job, record.reason),
        auto_build_before,
    }
}

/// Whether `lock` is the one of the rollback of `from_job`.
fn is_lock_of(lock: &BranchLock, from_job: JobId) -> bool {
    lock.reason
        .starts_with(&format!("rollback of job {from_job}: "))
}
