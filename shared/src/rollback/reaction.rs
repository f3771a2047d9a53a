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

use chrono::{Duration, Utc};
use tracing::{info, warn};

use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::Error;
use crate::core::events::{
    BuildEvent, DiagnosisEvent, Envelope, HealthEvent, OWNER_ROLLBACK, RetryEvent, RollbackEvent,
    detail_type as dt, entry,
};
use crate::core::model::{AppId, BranchName, BuildStatus, Environment, JobId};
use crate::effects::{Decided, read_decide_write};
use crate::ports::{
    AmplifyApi, DeploymentStore, EventPublisher, PolicyStore, RollbackStore, StartJob,
};
use crate::rollback::{
    AutoRollback, BranchLock, Outcome, Refusal, RetryRecord, RollbackPolicy, RollbackRecord,
    RollbackState,
};

/// Every detail type the rollback function takes.
pub const ACCEPTED: &[&str] = &[
    dt::DEPLOYMENT_UNHEALTHY,
    dt::DEPLOYMENT_HEALTHY,
    dt::BUILD_SUCCEEDED,
    dt::BUILD_FAILED,
    dt::BUILD_CANCELLED,
    dt::BUILD_DIAGNOSED,
];

/// A retry claimed but not yet started is someone else's for this long.
const RETRY_CLAIM: Duration = Duration::seconds(60);

pub struct Rollbacker<'a, S, A, P> {
    pub store: &'a S,
    pub amplify: &'a A,
    pub publisher: &'a P,
    pub environment: Environment,
    pub auto_rollback: AutoRollback,
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
    /// Not about a rollback or a retry.
    Ignored(String),
}

fn command(app: &AppId, branch: &BranchName, to: JobId) -> String {
    format!("sentinel rollback --app {app} --branch {branch} --to {to}")
}

impl<S, A, P> Rollbacker<'_, S, A, P>
where
    S: DeploymentStore + PolicyStore + RollbackStore,
    A: AmplifyApi,
    P: EventPublisher,
{
    /// Handles one domain event of the [`ACCEPTED`] types.
    pub async fn on_event(&self, envelope: &Envelope) -> Result<RollbackAction, Error> {
        match envelope.detail_type.as_str() {
            dt::DEPLOYMENT_UNHEALTHY => {
                let e: HealthEvent = envelope.detail()?;
                let state = self.state(&e.app_id, &e.branch_name).await?;
                if state.is_rollback_job(e.job_id) || e.is_rollback {
                    return self
                        .follow(
                            &e.app_id,
                            &e.branch_name,
                            e.job_id,
                            Err(format!(
                                "the rolled-back deployment is unhealthy too: {}",
                                e.reason
                            )),
                        )
                        .await;
                }
                if !e.rollback_allowed {
                    return Ok(RollbackAction::Ignored(
                        "the verdict does not allow a rollback (scheduled check, alert only)"
                            .into(),
                    ));
                }
                self.rollback(
                    &e.app_id,
                    &e.branch_name,
                    None,
                    Some((e.job_id, e.commit_id.clone())),
                    &format!("Deployment Unhealthy: {}", e.reason),
                    true,
                )
                .await
            }
            dt::DEPLOYMENT_HEALTHY => {
                let e: HealthEvent = envelope.detail()?;
                let state = self.state(&e.app_id, &e.branch_name).await?;
                if !state.is_rollback_job(e.job_id) {
                    return Ok(RollbackAction::Ignored("not a rollback job".into()));
                }
                let verdict = self
                    .check_commit(&state, e.commit_id.as_deref())
                    .map(|()| "verified healthy".to_owned());
                self.follow(&e.app_id, &e.branch_name, e.job_id, verdict)
                    .await
            }
            dt::BUILD_SUCCEEDED | dt::BUILD_FAILED | dt::BUILD_CANCELLED => {
                let e: BuildEvent = envelope.detail()?;
                let state = self.state(&e.app_id, &e.branch_name).await?;
                if !state.is_rollback_job(e.job_id) {
                    return Ok(RollbackAction::Ignored("not a rollback job".into()));
                }
                match e.status {
                    BuildStatus::Succeeded => {
                        match self.check_commit(&state, e.commit_id.as_deref()) {
                            Ok(()) => Ok(RollbackAction::Waiting),
                            Err(why) => {
                                self.follow(&e.app_id, &e.branch_name, e.job_id, Err(why))
                                    .await
                            }
                        }
                    }
                    status => {
                        let why = format!("the rollback build ended {}", status.as_str());
                        self.follow(&e.app_id, &e.branch_name, e.job_id, Err(why))
                            .await
                    }
                }
            }
            _ => self.on_diagnosed(envelope.detail()?).await,
        }
    }

    async fn state(&self, app: &AppId, branch: &BranchName) -> Result<RollbackState, Error> {
        Ok(self
            .store
            .get_rollback_state(app, branch)
            .await?
            .unwrap_or_else(|| RollbackState::new(app.clone(), branch.clone(), self.environment)))
    }

    async fn policy(&self, app: &AppId, branch: &BranchName) -> Result<RollbackPolicy, Error> {
        Ok(self
            .store
            .get_policy(app, branch)
            .await?
            .map(|p| p.policy.rollback)
            .unwrap_or_default())
    }

    /// Reads, changes and writes the branch's state under its version;
    /// `change` answers whether to write, and what it decided.
    async fn update<T>(
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
        if automatic && pointers.live_job.is_some_and(|live| live > from_job) {
            return Ok(self.refused(Refusal::Superseded, None));
        }
        // Never roll back a rollback.
        let from_key = DeploymentKey {
            app_id: app.clone(),
            branch_name: branch.clone(),
            job_id: from_job,
        };
        if automatic
            && self
                .store
                .get_deployment(&from_key)
                .await?
                .is_some_and(|d| d.is_rollback())
        {
            return Ok(self.refused(Refusal::IsRollback, None));
        }
        let target = match to {
            Some(job) => {
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
                Some((job, details.commit_id))
            }
            None => pointers
                .last_known_good_job
                .filter(|good| *good < from_job)
                .map(|good| (good, pointers.last_known_good_commit.clone()))
                .filter(|(_, commit)| commit.is_none() || *commit != from_commit),
        };
        let policy = self.policy(app, branch).await?;
        let Some((target_job, target_commit)) = target else {
            return self
                .recommend(app, branch, from_job, Refusal::NoKnownGood, None, reason)
                .await;
        };
        if automatic && !policy.automatic_in(self.environment, self.auto_rollback) {
            return self
                .recommend(
                    app,
                    branch,
                    from_job,
                    Refusal::AutomaticOff,
                    Some(target_job),
                    reason,
                )
                .await;
        }
        let now = Utc::now();
        let holder = self.holder.clone();
        let requested_by = if automatic {
            "automatic".to_owned()
        } else {
            self.holder.clone()
        };
        let (state, begun) = self
            .update(app, branch, |state| {
                let record = RollbackRecord {
                    id: state.rollback_id(from_job),
                    from_job,
                    from_commit: from_commit.clone(),
                    target_job,
                    target_commit: target_commit.clone(),
                    rollback_job: None,
                    reason: reason.to_owned(),
                    requested_by: requested_by.clone(),
                    automatic,
                    started_at: now,
                    outcome: None,
                    finished_at: None,
                    outcome_reason: None,
                };
                let begun = state.begin(record, &holder, now, &policy);
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
                return Ok(self.refused(Refusal::AlreadyHandled, None));
            }
            Err(refusal) if refusal.recommends() => {
                return self
                    .recommend(app, branch, from_job, refusal, Some(target_job), reason)
                    .await;
            }
            Err(refusal) => return Ok(self.refused(refusal, None)),
        }
        // A failure from here on releases the lease, so that the redelivery
        // takes the rollback over at once (adopting the job if a StartJob
        // whose answer was lost did start one).
        let started: Result<JobId, Error> = async {
            // Lock first: a push between the StartJob and the lock would build
            // over the rollback.
            self.amplify.set_auto_build(app, branch, false).await?;
            let taken: Vec<JobId> = state
                .history
                .iter()
                .filter_map(|h| h.rollback_job)
                .collect();
            let adopted = self
                .adoptable_retry(app, branch, from_job, target_commit.as_deref(), &taken)
                .await?;
            let job = match adopted {
                Some(job) => job,
                None => {
                    self.amplify
                        .start_job(
                            app,
                            branch,
                            StartJob::Retry(target_job),
                            &format!("Deploy Sentinel rollback of job {from_job}"),
                        )
                        .await?
                }
            };
            Ok(job)
        }
        .await;
        let rollback_job = match started {
            Ok(job) => job,
            Err(err) => {
                self.update(app, branch, |state| {
                    let mine = state.lease.as_ref().is_some_and(|l| l.holder == holder)
                        && state
                            .active
                            .as_ref()
                            .is_some_and(|a| a.from_job == from_job && a.rollback_job.is_none());
                    if mine {
                        state.lease = None;
                    }
                    (mine, ())
                })
                .await?;
                return Err(err);
            }
        };
        info!(%from_job, %target_job, %rollback_job, automatic, "rollback started");
        let by = requested_by.clone();
        let (state, _) = self
            .update(app, branch, |state| {
                let Some(active) = state.active.as_mut().filter(|a| a.from_job == from_job) else {
                    return (false, ());
                };
                active.rollback_job = Some(rollback_job);
                state.lease = None;
                state.lock = Some(BranchLock {
                    pinned_job: target_job,
                    pinned_commit: target_commit.clone(),
                    since: now,
                    by: by.clone(),
                    reason: format!("rollback of job {from_job}: {reason}"),
                });
                state.audit(format!(
                    "{} locked by {by} (rollback of job {from_job})",
                    now.to_rfc3339()
                ));
                (true, ())
            })
            .await?;
        self.mark_rollback_job(app, branch, rollback_job, from_job, target_commit.clone())
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

    fn refused(&self, refusal: Refusal, _target: Option<JobId>) -> RollbackAction {
        info!(why = %refusal.describe(), "no rollback");
        RollbackAction::Refused {
            why: refusal.describe(),
            recommended: false,
        }
    }

    /// "Rollback Recommended", once per unhealthy job.
    async fn recommend(
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

    /// A transient failure is retried once per lineage (policy `max_retries`).
    async fn on_diagnosed(&self, e: DiagnosisEvent) -> Result<RollbackAction, Error> {
        if !e.transient {
            return Ok(RollbackAction::NotRetried(format!(
                "{} is not transient",
                e.category
            )));
        }
        if e.is_rollback {
            return Ok(RollbackAction::NotRetried(
                "a rollback job is never retried".into(),
            ));
        }
        let policy = self.policy(&e.app_id, &e.branch_name).await?;
        let now = Utc::now();
        let key = e.job_id.to_string();
        let (state, claim) = self
            .update(&e.app_id, &e.branch_name, |state| {
                if let Some(existing) = state.retries.get(&key) {
                    let abandoned = existing.retry_job.is_none() && now - existing.at > RETRY_CLAIM;
                    if !abandoned {
                        return (false, RetryClaim::Existing(existing.retry_job));
                    }
                }
                let (root, attempts) = state.lineage(e.job_id);
                if attempts >= policy.max_retries && !state.retries.contains_key(&key) {
                    return (false, RetryClaim::Limit(root, attempts));
                }
                let attempt = state.retries.get(&key).map_or(attempts + 1, |r| r.attempt);
                state.retries.insert(
                    key.clone(),
                    RetryRecord {
                        root,
                        attempt,
                        retry_job: None,
                        at: now,
                    },
                );
                (true, RetryClaim::Mine(root))
            })
            .await?;
        let root = match claim {
            RetryClaim::Mine(root) => root,
            RetryClaim::Limit(root, attempts) => {
                return Ok(RollbackAction::NotRetried(format!(
                    "job {root}'s lineage has had {attempts} retr{} (max {})",
                    if attempts == 1 { "y" } else { "ies" },
                    policy.max_retries
                )));
            }
            RetryClaim::Existing(Some(retry_job)) => {
                let attempt = state.retries.get(&key).map_or(1, |r| r.attempt);
                self.publish_retry(&e, retry_job, attempt, policy.max_retries)
                    .await?;
                return Ok(RollbackAction::Retried { retry_job });
            }
            RetryClaim::Existing(None) => {
                return Ok(RollbackAction::NotRetried(
                    "a retry is being started".into(),
                ));
            }
        };
        // A RETRY that an earlier attempt started (its StartJob answer was
        // lost) is adopted, not started again.
        let taken: Vec<JobId> = state.retries.values().filter_map(|r| r.retry_job).collect();
        let adopted = match e.commit_id.as_deref() {
            Some(commit) => {
                self.adoptable_retry(&e.app_id, &e.branch_name, e.job_id, Some(commit), &taken)
                    .await?
            }
            None => None,
        };
        let started = match adopted {
            Some(job) => Ok(job),
            None => {
                self.amplify
                    .start_job(
                        &e.app_id,
                        &e.branch_name,
                        StartJob::Retry(e.job_id),
                        &format!("Deploy Sentinel retry of job {} ({})", e.job_id, e.category),
                    )
                    .await
            }
        };
        let retry_job = match started {
            Ok(job) => job,
            Err(err) => {
                // Release the claim: the redelivery tries again at once (and
                // adopts the job if this call did start one).
                self.update(&e.app_id, &e.branch_name, |state| {
                    let mine = state
                        .retries
                        .get(&key)
                        .is_some_and(|r| r.retry_job.is_none());
                    if mine {
                        state.retries.remove(&key);
                    }
                    (mine, ())
                })
                .await?;
                return Err(err.into());
            }
        };
        info!(job = %e.job_id, %retry_job, %root, "transient failure retried");
        let (state, _) = self
            .update(&e.app_id, &e.branch_name, |state| {
                match state.retries.get_mut(&key) {
                    Some(r) => {
                        r.retry_job = Some(retry_job);
                        (true, ())
                    }
                    None => (false, ()),
                }
            })
            .await?;
        let attempt = state.retries.get(&key).map_or(1, |r| r.attempt);
        self.publish_retry(&e, retry_job, attempt, policy.max_retries)
            .await?;
        Ok(RollbackAction::Retried { retry_job })
    }

    /// A RETRY of `commit` started after job `after` in the last 15 minutes
    /// (a redelivery comes within the queue's visibility timeout) that no
    /// record has `taken`: the job a StartJob whose answer was lost started.
    async fn adoptable_retry(
        &self,
        app: &AppId,
        branch: &BranchName,
        after: JobId,
        commit: Option<&str>,
        taken: &[JobId],
    ) -> Result<Option<JobId>, Error> {
        let since = Utc::now() - Duration::minutes(15);
        Ok(self
            .amplify
            .list_jobs(app, branch, 10)
            .await?
            .into_iter()
            .find(|j| {
                j.job_type.as_deref() == Some("RETRY")
                    && j.job_id > after
                    && j.commit_id.as_deref() == commit
                    && j.start_time.is_some_and(|t| t >= since)
                    && !taken.contains(&j.job_id)
            })
            .map(|j| j.job_id))
    }

    async fn publish_retry(
        &self,
        e: &DiagnosisEvent,
        retry_job: JobId,
        attempt: u32,
        max: u32,
    ) -> Result<(), Error> {
        let event = RetryEvent {
            event_id: format!(
                "{}/{}/{}/retried",
                e.app_id,
                e.branch_name,
                e.job_id.padded()
            ),
            environment: e.environment,
            app_id: e.app_id.clone(),
            branch_name: e.branch_name.clone(),
            job_id: e.job_id,
            retry_job_id: retry_job,
            category: e.category.clone(),
            attempt,
            max_retries: max,
        };
        self.publish(&event.event_id.clone(), dt::BUILD_RETRIED, &event)
            .await
    }

    /// Re-enables auto-build and releases the branch's lock, recording who.
    /// Returns the lock that was released, if there was one.
    pub async fn unlock(
        &self,
        app: &AppId,
        branch: &BranchName,
    ) -> Result<Option<BranchLock>, Error> {
        self.amplify.set_auto_build(app, branch, true).await?;
        let now = Utc::now();
        let by = self.holder.clone();
        let (_, released) = self
            .update(app, branch, |state| {
                let lock = state.lock.take();
                state.audit(format!("{} unlocked by {by}", now.to_rfc3339()));
                (true, lock)
            })
            .await?;
        Ok(released)
    }

    /// The branch's rollback state, for `sentinel`.
    pub async fn show(&self, app: &AppId, branch: &BranchName) -> Result<RollbackState, Error> {
        self.state(app, branch).await
    }
}

/// What a delivery of "Build Diagnosed" may do about a retry.
enum RetryClaim {
    /// This invocation starts the retry (of this lineage root).
    Mine(JobId),
    /// The lineage's retries are used up: (root, retries so far).
    Limit(JobId, u32),
    /// Another delivery claimed it (and started this job, if known).
    Existing(Option<JobId>),
}

#[cfg(test)]
mod tests;
