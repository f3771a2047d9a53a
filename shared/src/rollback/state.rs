//! Rollback and retry state of one branch, and the guards over it (pure;
//! the reactions are in `crate::rollback::reaction`). One item per branch
//! (`BRANCH#{app}#{branch}` / `ROLLBACK`), written with a version
//! condition: the lease that makes concurrent invocations act once, the
//! rollback in progress, the branch's lock (auto-build off, pinned to the
//! good commit), the history that bounds automatic rollbacks per window, and
//! the retries per job lineage.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use super::policy::{AutoRollback, RollbackPolicy};
use crate::core::model::{AppId, BranchName, Environment, JobId};

const HISTORY_KEPT: usize = 20;
const EVENTS_KEPT: usize = 256;
/// Retries kept per branch (the newest), and how long one is kept: a
/// lineage is judged within days, so older retries only grow the item.
pub const RETRIES_KEPT: usize = 100;
pub const RETRIES_KEPT_DAYS: i64 = 14;

/// Who holds the branch for a while (a rollback being started).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    pub holder: String,
    pub until: DateTime<Utc>,
}

/// Auto-build switched off, the branch pinned to a commit until released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BranchLock {
    pub pinned_job: JobId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_commit: Option<String>,
    pub since: DateTime<Utc>,
    pub by: String,
    pub reason: String,
    /// Whether auto-build was on before the lock (absent: not known, as in
    /// locks taken before this was recorded, which unlock switches on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_build_before: Option<bool>,
}

impl BranchLock {
    /// One line for alerts: what is pinned, and how to release it.
    pub fn short(&self) -> String {
        let commit = self.pinned_commit.as_deref().unwrap_or("?");
        format!(
            "auto-build off, pinned to {} (job {}) until `sentinel unlock`",
            &commit[..commit.len().min(12)],
            self.pinned_job
        )
    }

    pub fn describe(&self) -> String {
        let commit = self.pinned_commit.as_deref().unwrap_or("?");
        format!(
            "pinned to {} (job {}) since {} by {} until released: {}",
            &commit[..commit.len().min(12)],
            self.pinned_job,
            self.since.format("%Y-%m-%d %H:%M UTC"),
            self.by,
            self.reason
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Succeeded,
    Failed,
}

/// One rollback: from the unhealthy job to the last known good one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackRecord {
    /// `{appId}/{branchName}/{fromJob padded}/rollback`.
    pub id: String,
    pub from_job: JobId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_commit: Option<String>,
    pub target_job: JobId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_commit: Option<String>,
    /// The RETRY job, once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_job: Option<JobId>,
    pub reason: String,
    pub requested_by: String,
    pub automatic: bool,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_reason: Option<String>,
    /// Whether the branch built on push before this rollback switched
    /// auto-build off: read once, before the switch, so that an attempt
    /// taking over a failed one (and finding it off) keeps the first answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_build_before: Option<bool>,
}

impl RollbackRecord {
    pub fn time_to_restore(&self) -> Option<Duration> {
        match self.outcome {
            Some(Outcome::Succeeded) => self.finished_at.map(|f| f - self.started_at),
            _ => None,
        }
    }
}

/// A retry of a job that failed transiently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryRecord {
    /// The first job of the lineage (a retry of a retry counts against it).
    pub root: JobId,
    pub attempt: u32,
    /// The RETRY job, once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_job: Option<JobId>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackState {
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub environment: Environment,
    #[serde(default)]
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<BranchLock>,
    /// The rollback in progress (or the last one, until the next).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<RollbackRecord>,
    #[serde(default)]
    pub history: Vec<RollbackRecord>,
    /// Retries by the retried job's id.
    #[serde(default)]
    pub retries: BTreeMap<String, RetryRecord>,
    /// Lock and unlock operations, newest last (who and when).
    #[serde(default)]
    pub audit: Vec<String>,
    #[serde(default)]
    pub handled: VecDeque<String>,
}

/// Why no rollback is started for an unhealthy deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The unhealthy job is itself a rollback: never roll back a rollback.
    IsRollback,
    /// A newer job is live.
    Superseded,
    /// A rollback of this branch is in progress.
    InProgress(JobId),
    /// This unhealthy job was already rolled back (or is being).
    AlreadyHandled,
    /// No verified healthy job other than the unhealthy commit.
    NoKnownGood,
    /// Automatic rollback is off for this environment or branch.
    AutomaticOff,
    /// The automatic rollbacks of the window are used up.
    LimitReached { max: u32, hours: u64 },
    /// Another invocation holds the lease.
    Leased,
}

impl Refusal {
    pub fn describe(&self) -> String {
        match self {
            Self::IsRollback => {
                "the unhealthy job is itself a rollback: never rolled back again".into()
            }
            Self::Superseded => "a newer job is live".into(),
            Self::InProgress(job) => format!("a rollback is in progress (rollback job {job})"),
            Self::AlreadyHandled => "already rolled back".into(),
            Self::NoKnownGood => "no known good deployment to roll back to: fix forward".into(),
            Self::AutomaticOff => "automatic rollback is off for this environment".into(),
            Self::LimitReached { max, hours } => {
                format!("the limit of {max} automatic rollback(s) per {hours} h is reached")
            }
            Self::Leased => "another invocation is starting a rollback".into(),
        }
    }

    /// Whether the refusal deserves a "Rollback Recommended" (a human can act).
    pub fn recommends(&self) -> bool {
        matches!(
            self,
            Self::NoKnownGood | Self::AutomaticOff | Self::LimitReached { .. }
        )
    }
}

impl RollbackState {
    pub fn new(app_id: AppId, branch_name: BranchName, environment: Environment) -> Self {
        Self {
            app_id,
            branch_name,
            environment,
            version: 0,
            lease: None,
            lock: None,
            active: None,
            history: Vec::new(),
            retries: BTreeMap::new(),
            audit: Vec::new(),
            handled: VecDeque::new(),
        }
    }

    pub fn rollback_id(&self, from_job: JobId) -> String {
        format!(
            "{}/{}/{}/rollback",
            self.app_id,
            self.branch_name,
            from_job.padded()
        )
    }

    /// Remembers an event id; false when it was seen before.
    pub fn remember(&mut self, event_id: &str) -> bool {
        if self.handled.iter().any(|e| e == event_id) {
            return false;
        }
        self.handled.push_back(event_id.to_owned());
        while self.handled.len() > EVENTS_KEPT {
            self.handled.pop_front();
        }
        true
    }

    /// The rollback in progress (started, no outcome yet).
    pub fn in_progress(&self) -> Option<&RollbackRecord> {
        self.active.as_ref().filter(|a| a.outcome.is_none())
    }

    /// Whether `job` is the RETRY job of the rollback in progress.
    pub fn is_rollback_job(&self, job: JobId) -> bool {
        self.in_progress()
            .is_some_and(|a| a.rollback_job == Some(job))
    }

    /// Automatic rollbacks started within the last `hours`.
    pub fn automatic_within(&self, now: DateTime<Utc>, hours: u64) -> u32 {
        let since = now - Duration::hours(hours as i64);
        self.history
            .iter()
            .chain(self.active.iter())
            .filter(|r| r.automatic && r.started_at > since)
            .map(|r| &r.id)
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u32
    }

    /// Takes the lease and opens the rollback record, or says why not.
    /// `automatic` rollbacks also count against the window's limit.
    pub fn begin(
        &mut self,
        record: RollbackRecord,
        holder: &str,
        now: DateTime<Utc>,
        policy: &RollbackPolicy,
    ) -> Result<(), Refusal> {
        let lease_held_by_other = self
            .lease
            .as_ref()
            .is_some_and(|l| l.until > now && l.holder != holder);
        if let Some(active) = self.in_progress() {
            if active.from_job == record.from_job {
                // The same rollback: taken over only if its starter died
                // before starting the job (its lease ran out).
                if active.rollback_job.is_some() || lease_held_by_other {
                    return Err(Refusal::AlreadyHandled);
                }
                self.lease = Some(Lease {
                    holder: holder.to_owned(),
                    until: now + Duration::seconds(policy.lease_seconds as i64),
                });
                return Ok(());
            }
            // A rollback that never got its job started (its starter died)
            // is abandoned once its lease ran out; otherwise wait for it.
            if active.rollback_job.is_some() || self.lease.as_ref().is_some_and(|l| l.until > now) {
                return Err(active
                    .rollback_job
                    .map_or(Refusal::Leased, Refusal::InProgress));
            }
        }
        if self
            .history
            .iter()
            .chain(self.active.iter())
            .any(|r| r.from_job == record.from_job && r.outcome.is_some())
        {
            return Err(Refusal::AlreadyHandled);
        }
        if lease_held_by_other {
            return Err(Refusal::Leased);
        }
        if record.automatic
            && self.automatic_within(now, policy.window_hours) >= policy.max_automatic
        {
            return Err(Refusal::LimitReached {
                max: policy.max_automatic,
                hours: policy.window_hours,
            });
        }
        if let Some(previous) = self.active.take()
            && previous.outcome.is_some()
        {
            self.push_history(previous);
        }
        self.lease = Some(Lease {
            holder: holder.to_owned(),
            until: now + Duration::seconds(policy.lease_seconds as i64),
        });
        self.active = Some(record);
        Ok(())
    }

    /// Ends the rollback in progress; returns it, or `None` if none was.
    pub fn finish(
        &mut self,
        outcome: Outcome,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Option<RollbackRecord> {
        let active = self.active.as_mut().filter(|a| a.outcome.is_none())?;
        active.outcome = Some(outcome);
        active.finished_at = Some(now.max(active.started_at));
        active.outcome_reason = Some(reason.to_owned());
        self.lease = None;
        Some(active.clone())
    }

    fn push_history(&mut self, record: RollbackRecord) {
        if self.history.iter().any(|h| h.id == record.id) {
            return;
        }
        self.history.push(record);
        let excess = self.history.len().saturating_sub(HISTORY_KEPT);
        self.history.drain(..excess);
    }

    /// The lineage root of `job` and how many retries it has had.
    pub fn lineage(&self, job: JobId) -> (JobId, u32) {
        let root = self
            .retries
            .values()
            .find(|r| r.retry_job == Some(job))
            .map_or(job, |r| r.root);
        let attempts = self.retries.values().filter(|r| r.root == root).count() as u32;
        (root, attempts)
    }

    /// Forgets retries older than [`RETRIES_KEPT_DAYS`], then all but the
    /// newest [`RETRIES_KEPT`] - 1 (room for the one being recorded), so
    /// that the item stays small however long the branch lives.
    pub fn prune_retries(&mut self, now: DateTime<Utc>) {
        let since = now - Duration::days(RETRIES_KEPT_DAYS);
        self.retries.retain(|_, r| r.at > since);
        let keep = RETRIES_KEPT.saturating_sub(1);
        if self.retries.len() > keep {
            let mut ages: Vec<(DateTime<Utc>, String)> = self
                .retries
                .iter()
                .map(|(k, r)| (r.at, k.clone()))
                .collect();
            ages.sort();
            let excess = ages.len() - keep;
            for (_, k) in ages.into_iter().take(excess) {
                self.retries.remove(&k);
            }
        }
    }

    pub fn audit(&mut self, line: String) {
        self.audit.push(line);
        let excess = self.audit.len().saturating_sub(HISTORY_KEPT);
        self.audit.drain(..excess);
    }
}

crate::core::version::versioned!(RollbackState);

#[cfg(test)]
mod tests;
