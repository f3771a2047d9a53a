//! The scheduled check of every branch's live deployment: each branch on
//! its own, a few at a time; a verdict published when it changed.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tracing::{error, info, warn};

use super::HealthChecker;
use super::checker::{expected_version, reported_site};
use super::deploy::queue_event;
use crate::core::deployment::{Deployment, DeploymentKey, LiveCheck};
use crate::core::error::{AmplifyError, Error};
use crate::core::events::OWNER_HEALTH;
use crate::core::model::{AppId, BranchName, Environment, Source};
use crate::core::scope::Scope;
use crate::effects;
use crate::health::{HealthPolicy, HealthReport, Verdict};
use crate::policy::PolicyStore;
use crate::ports::{DeploymentFilter, DeploymentStore};
use crate::stack::Stack;

/// The most Amplify branches one scheduled run lists: Amplify allows 50
/// branches per app, so this covers 40 watched apps' every branch.
pub const MAX_LIVE_BRANCHES: usize = 2_000;

/// How many of the newest records a scheduled run also reads, for live
/// pointers written before they were listed (they are listed from their
/// branch's next deploy on).
pub const LEGACY_RECENT: usize = 500;

/// How many branches a scheduled run checks at once: enough to check a few
/// hundred branches well within a round, few enough not to burst Amplify's
/// API (GetBranch, GetApp) or the function's connections.
pub const LIVE_CHECKS_AT_ONCE: usize = 8;

/// What a scheduled run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleOutcome {
    /// Branches whose live job was checked.
    pub checked: usize,
    pub published: usize,
    /// Branches already checked in this round (by an earlier delivery).
    pub already_checked: usize,
    /// Branches Amplify no longer knows: skipped.
    pub gone: usize,
    /// Branches whose check failed (logged).
    pub failed: usize,
}

/// What became of one branch in a scheduled run.
enum Live {
    /// Checked; how many events were published.
    Checked(usize),
    /// No live job (or none recorded).
    NoLiveJob,
    AlreadyChecked,
    Gone,
}

impl<K: Stack> HealthChecker<'_, K> {
    /// The scheduled check of round `round` (the time the schedule fired;
    /// a redelivery of the round carries the same): every branch of the
    /// environment with a live deployment (found through the
    /// environment-and-time index, recent deployments first) is checked on
    /// its own, [`LIVE_CHECKS_AT_ONCE`] at a time; a verdict is published
    /// when it differs from that job's previous scheduled verdict.
    /// Only branches of `scope` are checked: a branch left out of the watch
    /// scope keeps its records but is no longer checked.
    ///
    /// One branch never stops the others:
    /// - a branch Amplify no longer knows (GetBranch or GetApp NotFound) is
    ///   skipped (the daily cleanup removes its records);
    /// - a branch whose check fails for good (e.g. a policy URL that is no
    ///   URL) is logged as an error and counted, and the run goes on: the
    ///   schedule's message is not dead-lettered for it every round;
    /// - a branch whose check fails for now (throttled, unavailable) fails
    ///   the run once every branch has had its turn, so that the queue
    ///   redelivers it; the redelivery skips the branches whose live job
    ///   was checked in this round already (their `live_check` is newer
    ///   than `round`), so only what failed is checked again.
    pub async fn on_schedule(
        &self,
        environment: Environment,
        scope: &Scope,
        round: DateTime<Utc>,
    ) -> Result<ScheduleOutcome, Error> {
        // Each Amplify branch with a live job, from its own pointer: what
        // else the table holds (reports, future-dated or not; a busy CI's
        // records) cannot push it out of the list.
        let mut branches = self
            .store
            .live_branches(Source::Amplify, MAX_LIVE_BRANCHES)
            .await?;
        // Pointers written before the live-branch list existed are listed
        // from the newest records, as before, until their branch deploys
        // again (docs/policy.md, "Scheduled checks").
        let recent = self
            .store
            .list_deployments(
                environment,
                &DeploymentFilter {
                    limit: LEGACY_RECENT,
                    ..Default::default()
                },
            )
            .await?;
        branches.extend(
            recent
                .into_iter()
                .map(|d| (d.key.app_id, d.key.branch_name)),
        );
        branches.retain(|(app, branch)| app.is_amplify() && scope.covers(app, branch));
        branches.sort();
        branches.dedup();
        let results: Vec<_> =
            futures::stream::iter(&branches)
                .map(|(app, branch)| async move {
                    (app, branch, self.check_live(app, branch, round).await)
                })
                .buffer_unordered(LIVE_CHECKS_AT_ONCE)
                .collect()
                .await;
        let mut outcome = ScheduleOutcome::default();
        let mut retry = None;
        for (app, branch, result) in results {
            match result {
                Ok(Live::Checked(published)) => {
                    outcome.checked += 1;
                    outcome.published += published;
                }
                Ok(Live::NoLiveJob) => {}
                Ok(Live::AlreadyChecked) => outcome.already_checked += 1,
                Ok(Live::Gone) => outcome.gone += 1,
                // A dead letter is retried by the queue, then kept: here, a
                // branch that cannot be checked (no site, no URL) for good.
                Err(e) if e.is_retryable() && !matches!(e, Error::DeadLetter(_)) => {
                    warn!(app = %app, branch = %branch, error = %e, "live check failed; retried");
                    outcome.failed += 1;
                    retry.get_or_insert(e);
                }
                Err(e) => {
                    error!(app = %app, branch = %branch, error = %e, "live check failed; not retried");
                    outcome.failed += 1;
                }
            }
        }
        info!(?outcome, "live checks");
        match retry {
            Some(e) => Err(e),
            None => Ok(outcome),
        }
    }

    /// Checks one branch's live job, unless it was checked in `round`
    /// already or Amplify no longer knows the branch.
    async fn check_live(
        &self,
        app: &AppId,
        branch: &BranchName,
        round: DateTime<Utc>,
    ) -> Result<Live, Error> {
        let state = self.store.get_branch_state(app, branch).await?;
        let Some(job_id) = state.live_job else {
            return Ok(Live::NoLiveJob);
        };
        let key = DeploymentKey {
            app_id: app.clone(),
            branch_name: branch.clone(),
            job_id,
        };
        let Some(record) = self.store.get_deployment(&key).await? else {
            return Ok(Live::NoLiveJob);
        };
        if record
            .live_check
            .as_ref()
            .is_some_and(|c| c.checked_at >= round)
        {
            return Ok(Live::AlreadyChecked);
        }
        let policy = match self.store.get_policy(app, branch).await? {
            Some(stored) => stored.policy.health,
            None => HealthPolicy::default(),
        };
        let rollback_allowed = policy.rollback_on_live_failure;
        if !app.is_amplify() && reported_site(&record, &policy).is_none() {
            return Ok(Live::NoLiveJob);
        }
        let (url, checker) = match self.checker_for(&record, policy).await {
            Ok(site) => site,
            Err(Error::Amplify(AmplifyError::NotFound(what))) => {
                info!(app = %app, branch = %branch, %what, "gone from Amplify; not checked");
                return Ok(Live::Gone);
            }
            Err(e) => return Err(e),
        };
        let report = match checker {
            Ok(checker) => checker.run(expected_version(&record)).await,
            Err(refused) => HealthReport::not_started(&refused),
        };
        info!(app = %app, branch = %branch, job = %job_id, verdict = ?report.verdict, "live check");
        let record = effects::update(self.store, &key, |d| {
            Ok(decide_live(d, &report, &url, rollback_allowed))
        })
        .await?;
        Ok(Live::Checked(
            effects::flush(self.store, self.publisher, &record, OWNER_HEALTH).await?,
        ))
    }
}

/// Records a scheduled verdict; an event only when the verdict changed
/// (the first scheduled check of a job compares with its deploy verdict).
fn decide_live(
    d: &mut Deployment,
    report: &HealthReport,
    url: &str,
    rollback_on_live_failure: bool,
) -> bool {
    let previous = d
        .live_check
        .as_ref()
        .map(|c| c.verdict)
        .or_else(|| d.health.as_ref().map(|h| h.verdict));
    let changes = d.live_check.as_ref().map_or(0, |c| c.changes);
    let changed = previous != Some(report.verdict);
    let changes = if changed { changes + 1 } else { changes };
    d.live_check = Some(LiveCheck {
        verdict: report.verdict,
        reason: report.reason.clone(),
        checked_at: Utc::now(),
        changes,
    });
    if changed {
        let allowed = rollback_on_live_failure && report.verdict == Verdict::Unhealthy;
        queue_event(
            d,
            report,
            url,
            &format!("live/{changes}"),
            true,
            allowed,
            300 + u64::from(changes),
        );
    }
    true
}
