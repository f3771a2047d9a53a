//! Superseded builds (pure): which jobs of a branch a started job stops,
//! and whether it is itself superseded (issue #29 item 9). The reaction
//! (`validate::reaction`) reads the branch's jobs (ListJobs, authoritative)
//! and which of them are rollbacks, and acts on the answer.
//!
//! The rule is symmetric, so that duplicated and reordered "Build Started"
//! deliveries converge: when job J starts, every older job of the branch
//! still pending, provisioning or running is superseded by J; and if a newer
//! job of the branch exists, J is superseded by it. Either job's reaction
//! reaches the same pair.
//!
//! What a user expects, decided here (`docs/validation.md`):
//! - a rollback job is never stopped, and never stops another job: it
//!   restores the last known good deploy (the branch is locked meanwhile),
//!   it is not a newer push;
//! - a RETRY job (a transient failure's retry, the console's "Redeploy this
//!   version") rebuilds an older commit: a newer job number does not make it
//!   newer code, so it supersedes nothing; a newer push does supersede it;
//! - a job that is itself being stopped (a validation error, no change
//!   under the app's paths) supersedes nothing: the older build may be the
//!   one carrying the change;
//! - a newer job cancelled (by hand, or because it was itself superseded)
//!   supersedes nothing; its own superseder does.

use crate::core::model::JobId;

/// One job of the branch, as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchJob {
    pub id: JobId,
    /// PENDING, PROVISIONING, RUNNING (or CANCELLING): not ended.
    pub active: bool,
    pub cancelled: bool,
    /// Job type RETRY.
    pub retry: bool,
    /// A rollback job (its record's `rollback_of`, or the branch's rollback
    /// state names it).
    pub rollback: bool,
}

impl BranchJob {
    /// Whether a start of this job supersedes older ones.
    fn supersedes(&self) -> bool {
        !self.retry && !self.rollback && !self.cancelled
    }
}

/// The started job's conclusion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Supersession {
    /// Older jobs to stop, oldest first.
    pub older: Vec<JobId>,
    /// The newer job that supersedes the started one (the oldest such).
    pub by_newer: Option<JobId>,
}

/// What the start of `me` supersedes. `goes_on` is false when `me` is
/// itself being stopped (validation, no change); `jobs` is the branch's
/// jobs as ListJobs gives them (`me` among them or not).
pub fn supersession(me: &BranchJob, goes_on: bool, jobs: &[BranchJob]) -> Supersession {
    let mut older: Vec<JobId> = if goes_on && me.supersedes() {
        jobs.iter()
            .filter(|j| j.id < me.id && j.active && !j.rollback)
            .map(|j| j.id)
            .collect()
    } else {
        Vec::new()
    };
    older.sort();
    older.dedup();
    let by_newer = if me.rollback || !me.active {
        None
    } else {
        jobs.iter()
            .filter(|j| j.id > me.id && j.supersedes())
            .map(|j| j.id)
            .min()
    };
    Supersession { older, by_newer }
}

/// "superseded by job 8 (a newer build of main)".
pub fn reason(by: JobId, branch: &str) -> String {
    format!(
        "superseded by job {by} (a newer build of {})",
        crate::core::model::preview(branch).trim_matches('"')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(n: u64, active: bool) -> BranchJob {
        BranchJob {
            id: JobId::new(n),
            active,
            cancelled: false,
            retry: false,
            rollback: false,
        }
    }

    fn ids(v: &[u64]) -> Vec<JobId> {
        v.iter().map(|n| JobId::new(*n)).collect()
    }

    #[test]
    fn a_start_stops_every_older_active_job_and_is_stopped_by_a_newer_one() {
        let jobs = [job(5, false), job(6, true), job(7, true), job(8, true)];
        let s = supersession(&jobs[2], true, &jobs);
        assert_eq!(s.older, ids(&[6]));
        assert_eq!(s.by_newer, Some(JobId::new(8)));
        // The newest: stops both older ones, nothing newer.
        let s = supersession(&jobs[3], true, &jobs);
        assert_eq!((s.older, s.by_newer), (ids(&[6, 7]), None));
    }

    #[test]
    fn either_job_s_start_reaches_the_same_pair() {
        let jobs = [job(1, true), job(2, true)];
        let from_new = supersession(&jobs[1], true, &jobs);
        let from_old = supersession(&jobs[0], true, &jobs);
        assert_eq!(from_new.older, ids(&[1]));
        assert_eq!(from_old.by_newer, Some(JobId::new(2)));
    }

    #[test]
    fn rollbacks_are_never_stopped_and_stop_nothing() {
        let mut rollback = job(7, true);
        rollback.rollback = true;
        let jobs = [job(6, true), rollback.clone(), job(8, true)];
        let s = supersession(&rollback, true, &jobs);
        assert_eq!(s, Supersession::default(), "stops nothing, is not stopped");
        let s = supersession(&jobs[2], true, &jobs);
        assert_eq!(s.older, ids(&[6]), "the rollback is left alone");
        let s = supersession(&jobs[0], true, &jobs);
        assert_eq!(
            s.by_newer,
            Some(JobId::new(8)),
            "the rollback supersedes nothing"
        );
    }

    #[test]
    fn a_retry_a_stopped_job_and_a_cancelled_one_supersede_nothing() {
        let mut retry = job(8, true);
        retry.retry = true;
        let jobs = [job(7, true), retry.clone()];
        assert!(supersession(&retry, true, &jobs).older.is_empty());
        assert_eq!(supersession(&jobs[0], true, &jobs).by_newer, None);
        // A newer push supersedes the retry.
        let jobs = [retry.clone(), job(9, true)];
        assert_eq!(
            supersession(&retry, true, &jobs).by_newer,
            Some(JobId::new(9))
        );
        // A job being stopped itself stops nothing older.
        let jobs = [job(7, true), job(8, true)];
        assert!(supersession(&jobs[1], false, &jobs).older.is_empty());
        // A newer job cancelled by hand supersedes nothing.
        let mut cancelled = job(9, false);
        cancelled.cancelled = true;
        let jobs = [job(8, true), cancelled];
        assert_eq!(supersession(&jobs[0], true, &jobs).by_newer, None);
    }

    #[test]
    fn ended_jobs_are_left_alone() {
        let jobs = [job(6, false), job(7, false), job(8, true)];
        assert!(supersession(&jobs[2], true, &jobs).older.is_empty());
        assert_eq!(supersession(&jobs[1], true, &jobs).by_newer, None);
    }
}
