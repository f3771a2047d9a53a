//! Starting a rollback: choose the target, take the lease, lock the branch,
//! start (or adopt) the rollback job, and record it; or refuse, and
//! recommend the command to run.

use chrono::Utc;
use tracing::{info, warn};

use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{AmplifyError, Error};
use crate::core::events::{RollbackEvent, detail_type as dt};
use crate::core::model::{AppId, BranchName, BuildStatus, JobId};
use crate::effects::{Decided, read_decide_write};
use crate::ports::{AmplifyApi, BranchState, DeploymentStore, Stack, StartJob};
use crate::rollback::{BranchLock, Outcome, Refusal, RollbackRecord, RollbackState};

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
    async fn start_rollback_job(
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
    async fn not_started(
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
    async fn lock(
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

/// Why a rollback job did not start.
enum NotStarted {
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

pub(super) fn command(app: &AppId, branch: &BranchName, to: JobId) -> String {
    format!("sentinel rollback --app {app} --branch {branch} --to {to}")
}

/// Whether two jobs deployed the same code, by their commits.
fn same_code(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a == b && crate::core::model::is_git_commit(a))
}
