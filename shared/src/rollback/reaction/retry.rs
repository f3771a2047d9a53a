//! Retrying a transient failure: "Build Diagnosed" of a job whose recorded
//! diagnosis is transient starts StartJob RETRY of the same job, at most
//! `max_retries` per job lineage, once whatever the deliveries (a claim in
//! the branch's state).

use chrono::{Duration, Utc};
use tracing::{info, warn};

use crate::core::error::Error;
use crate::core::events::{DiagnosisEvent, RetryEvent, detail_type as dt};
use crate::core::model::{AppId, BranchName, JobId};
use crate::ports::{AmplifyApi, StartJob};
use crate::rollback::RetryRecord;
use crate::stack::Stack;

use super::{RollbackAction, Rollbacker};

impl<K: Stack> Rollbacker<'_, K> {
    /// A transient failure is retried once per lineage (policy `max_retries`).
    pub(super) async fn on_diagnosed(&self, e: DiagnosisEvent) -> Result<RollbackAction, Error> {
        let e = match self.as_recorded(e).await? {
            Ok(e) => e,
            Err(why) => return Ok(RollbackAction::NotRetried(why)),
        };
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
        let (policy, enforcement) = self.policy(&e.app_id, &e.branch_name).await?;
        let now = Utc::now();
        if !enforcement.acts() {
            return self.observe_retry(&e, policy.max_retries, now).await;
        }
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
                state.prune_retries(now);
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
        // lost) is adopted, not started again, as the rollback path adopts
        // its own: found by the job's commit, which Amplify knows when the
        // record does not (a job ingest could not enrich).
        let taken: Vec<JobId> = state
            .retries
            .values()
            .filter_map(|r| r.retry_job)
            .chain(
                state
                    .history
                    .iter()
                    .chain(state.active.iter())
                    .filter_map(|r| r.rollback_job),
            )
            .collect();
        let commit = match e.commit_id.clone() {
            Some(commit) => Some(commit),
            None => self.job_commit(&e.app_id, &e.branch_name, e.job_id).await?,
        };
        let adopted = self
            .adoptable_retry(
                &e.app_id,
                &e.branch_name,
                e.job_id,
                commit.as_deref(),
                &taken,
            )
            .await?;
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

    /// "Build Diagnosed" as the job's record tells it: the event only names
    /// the job. Whether the failure is transient, its category, the commit
    /// and whether the job is a rollback are what the alerter recorded
    /// (before it published the event, in the same write) and what this
    /// function knows of its own rollbacks; a job whose record holds no
    /// diagnosis is not retried, whatever the event says.
    async fn as_recorded(
        &self,
        e: DiagnosisEvent,
    ) -> Result<Result<DiagnosisEvent, String>, Error> {
        let job = e.job_id;
        let record = self.record(&e.app_id, &e.branch_name, job).await?;
        let Some((d, diagnosis)) = record.and_then(|mut d| d.diagnosis.take().map(|x| (d, x)))
        else {
            let why = format!(
                "job {job}'s record holds no diagnosis: the event did not come from Sentinel's alerter; not acted on"
            );
            warn!(%job, %why, "Build Diagnosed not borne out by the job's record");
            return Ok(Err(why));
        };
        let state = self.state(&e.app_id, &e.branch_name).await?;
        Ok(Ok(DiagnosisEvent {
            environment: d.environment,
            commit_id: d.details.commit_id.clone(),
            category: diagnosis.category,
            title: diagnosis.title,
            transient: diagnosis.transient,
            fix: diagnosis.fix,
            is_rollback: d.is_rollback() || state.is_rollback_job(job),
            rollback_of: d.rollback_of,
            ..e
        }))
    }

    /// A RETRY of `commit` started after job `after` in the last 15 minutes
    /// (a redelivery comes within the queue's visibility timeout) that no
    /// record has `taken`: the job a StartJob whose answer was lost started.
    pub(super) async fn adoptable_retry(
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

    /// The commit Amplify says `job` built (GetJob); `None` when it names
    /// none or no longer has the job.
    async fn job_commit(
        &self,
        app: &AppId,
        branch: &BranchName,
        job: JobId,
    ) -> Result<Option<String>, Error> {
        let key = crate::core::deployment::DeploymentKey {
            app_id: app.clone(),
            branch_name: branch.clone(),
            job_id: job,
        };
        match self.amplify.get_job(&key).await {
            Ok(details) => Ok(details.commit_id),
            Err(crate::core::error::AmplifyError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
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

/// The rollback function's `Timeout` (template.yaml; a test holds them equal).
const ROLLBACK_TIMEOUT_SECONDS: i64 = 60;

/// A retry claimed but not yet started is someone else's for this long:
/// twice the function's timeout, so that the invocation holding it has
/// surely ended (and cannot still be calling StartJob) when another takes
/// it over. Shorter than the queue's visibility timeout (360 s), so the
/// redelivery of a crashed invocation takes it over.
const RETRY_CLAIM: Duration = Duration::seconds(ROLLBACK_TIMEOUT_SECONDS * 2);

#[cfg(test)]
mod tests {
    use super::*;

    /// The rollback function's `Timeout` in template.yaml, in seconds.
    fn rollback_timeout() -> i64 {
        let function = crate::template_text::resource(
            include_str!("../../../../template.yaml"),
            "RollbackFunction",
        );
        crate::template_text::number(&function, "Timeout").expect("a Timeout on RollbackFunction")
            as i64
    }

    /// Issue #18 item 9: a claim must outlive the invocation that holds
    /// it, with a margin, or a second delivery takes an unfinished claim
    /// over and StartJob runs twice.
    #[test]
    fn a_retry_claim_outlives_the_rollback_function() {
        let timeout = rollback_timeout();
        assert_eq!(timeout, ROLLBACK_TIMEOUT_SECONDS, "template.yaml changed");
        assert!(
            RETRY_CLAIM >= Duration::seconds(timeout) * 2,
            "claim {RETRY_CLAIM} vs timeout {timeout} s"
        );
    }
}
