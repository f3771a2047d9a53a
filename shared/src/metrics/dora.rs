//! Delivery figures of one environment over a window: build success rate
//! and durations, and the four DORA keys with their tier.
//!
//! Definitions (the window holds the deployments whose job *started* in
//! `[from, to)`, as read through the environment-and-time index):
//!
//! - a **build** is a job that ended Succeeded or Failed (Cancelled is
//!   neither); **build success rate** = succeeded ÷ (succeeded + failed);
//!   **build duration** p50/p90/p99 over builds with a known duration;
//! - a **deployment** is a succeeded build that is not itself a rollback
//!   (rollbacks are remediation, counted apart); **deployment frequency** =
//!   deployments ÷ days in the window;
//! - **lead time for changes** = deployment end − the time of the first
//!   commit the branch's previous deploy did not contain (GitHub on: the
//!   validator's compare, `JobDetails::first_commit_at`), else the head
//!   commit's time, over deployments with both; non-positive values (a
//!   commit time after the deploy: clock skew, rebased history) are
//!   ignored; median and p90;
//! - a deployment **failed** when its check after the deploy or a later
//!   scheduled check found it Unhealthy, or when it was rolled back;
//!   **change failure rate** = failed deployments ÷ deployments;
//! - **failed deployment recovery time** = from the failure (the unhealthy
//!   verdict, else the end of the failed deployment) to the first Healthy
//!   verdict of a later job of the same branch; median over the failures of
//!   the window that recovered (`open_incidents` counts the others). A
//!   failure before the window is not read, so not counted.
//!
//! Percentiles are nearest-rank: the p-th percentile of n sorted values is
//! the value at rank ⌈p·n/100⌉ (the median of an even count is the lower
//! middle value).
//!
//! Tiers follow DORA's software delivery performance clusters
//! (Accelerate State of DevOps Report 2023, Google Cloud / DORA,
//! <https://dora.dev/research/2023/dora-report/>):
//!
//! | key | elite | high | medium | low |
//! |---|---|---|---|---|
//! | deployment frequency | ≥ 1 per day (on demand) | ≥ 1 per week | ≥ 1 per month | less |
//! | lead time for changes | < 1 day | < 1 week | < 1 month | longer |
//! | change failure rate | ≤ 5 % | ≤ 10 % | ≤ 15 % | more |
//! | failed deployment recovery time | < 1 hour | < 1 day | < 1 week | longer |

use chrono::{DateTime, Duration, Utc};

use crate::core::deployment::Deployment;
use crate::core::enforcement::ObservedKind;
pub use crate::core::figures::{Figures, ObservedCounts, Tier, Tiers};
use crate::core::model::{BuildStatus, Environment};
use crate::core::verdicts::Verdict;

impl ObservedCounts {
    pub fn of(window: &[Deployment]) -> Self {
        let count = |kind: ObservedKind| {
            window
                .iter()
                .filter(|d| d.observed.iter().any(|a| a.action == kind))
                .count() as u32
        };
        Self {
            stop_build: count(ObservedKind::StopBuild),
            rollback: count(ObservedKind::Rollback),
            retry: count(ObservedKind::Retry),
            skip: count(ObservedKind::Skip),
        }
    }
}

/// The nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

pub fn frequency_tier(per_day: f64) -> Tier {
    match per_day {
        f if f >= 1.0 => Tier::Elite,
        f if f >= 1.0 / 7.0 => Tier::High,
        f if f >= 1.0 / 30.0 => Tier::Medium,
        _ => Tier::Low,
    }
}

pub fn lead_time_tier(seconds: f64) -> Tier {
    match seconds {
        s if s < 86_400.0 => Tier::Elite,
        s if s < 7.0 * 86_400.0 => Tier::High,
        s if s < 30.0 * 86_400.0 => Tier::Medium,
        _ => Tier::Low,
    }
}

pub fn failure_rate_tier(rate: f64) -> Tier {
    match rate {
        r if r <= 0.05 => Tier::Elite,
        r if r <= 0.10 => Tier::High,
        r if r <= 0.15 => Tier::Medium,
        _ => Tier::Low,
    }
}

pub fn recovery_tier(seconds: f64) -> Tier {
    match seconds {
        s if s < 3_600.0 => Tier::Elite,
        s if s < 86_400.0 => Tier::High,
        s if s < 7.0 * 86_400.0 => Tier::Medium,
        _ => Tier::Low,
    }
}

/// When a deployment was found failed: its unhealthy verdict (at deploy,
/// else at a scheduled check), else — rolled back without a verdict — its end.
fn failed_at(d: &Deployment, rolled_back: bool) -> Option<DateTime<Utc>> {
    if let Some(h) = d
        .health
        .as_ref()
        .filter(|h| h.verdict == Verdict::Unhealthy)
    {
        return Some(h.checked_at);
    }
    if let Some(c) = d
        .live_check
        .as_ref()
        .filter(|c| c.verdict == Verdict::Unhealthy)
    {
        return Some(c.checked_at);
    }
    rolled_back.then(|| d.ended_at()).flatten()
}

type BranchKey<'a> = (&'a str, &'a str);
/// A job of a branch and when it was verified healthy, if it was.
type JobHealth = (u64, Option<DateTime<Utc>>);

fn branch_of(d: &Deployment) -> BranchKey<'_> {
    (d.key.app_id.as_str(), d.key.branch_name.as_str())
}

/// The failed deployments, the recovery times of those that recovered, and
/// the number still open — in O(n log n): per branch, the jobs in order with
/// a "next healthy job" pointer, so each failure finds its recovery without
/// scanning the branch.
fn failures_and_recoveries(
    window: &[Deployment],
    deployments: &[&Deployment],
    to: DateTime<Utc>,
) -> (u32, Vec<f64>, u32) {
    use std::collections::{HashMap, HashSet};
    let rolled_back: HashSet<(BranchKey<'_>, u64)> = window
        .iter()
        .filter_map(|r| Some((branch_of(r), r.rollback_of?.number())))
        .collect();
    // Per branch: (job id, healthy verdict time) of every job, sorted.
    let mut healthy: HashMap<BranchKey<'_>, Vec<JobHealth>> = HashMap::new();
    for r in window {
        let at = r
            .health
            .as_ref()
            .filter(|h| h.verdict == Verdict::Healthy)
            .map(|h| h.checked_at);
        healthy
            .entry(branch_of(r))
            .or_default()
            .push((r.key.job_id.number(), at));
    }
    // next[i]: the first index >= i with a healthy verdict.
    let mut next: HashMap<BranchKey<'_>, Vec<Option<usize>>> = HashMap::new();
    for (branch, jobs) in healthy.iter_mut() {
        jobs.sort_unstable_by_key(|j| j.0);
        let mut pointers = vec![None; jobs.len() + 1];
        for i in (0..jobs.len()).rev() {
            pointers[i] = if jobs[i].1.is_some() {
                Some(i)
            } else {
                pointers[i + 1]
            };
        }
        next.insert(*branch, pointers);
    }
    let mut failures = 0u32;
    let mut recoveries = Vec::new();
    let mut open = 0u32;
    for d in deployments {
        let branch = branch_of(d);
        let was_rolled_back = rolled_back.contains(&(branch, d.key.job_id.number()));
        let Some(at) = failed_at(d, was_rolled_back) else {
            continue;
        };
        failures += 1;
        let jobs = &healthy[&branch];
        let pointers = &next[&branch];
        // The first later job verified healthy at or after the failure.
        let mut i = jobs.partition_point(|j| j.0 <= d.key.job_id.number());
        let mut healed = None;
        while let Some(j) = pointers[i] {
            match jobs[j].1 {
                Some(t) if t >= at && t < to => {
                    healed = Some(t);
                    break;
                }
                _ => i = j + 1,
            }
        }
        match healed {
            Some(t) => recoveries.push((t - at).num_seconds() as f64),
            None => open += 1,
        }
    }
    (failures, recoveries, open)
}

/// The figures of the deployments read for the window `[from, to)`.
pub fn compute(
    environment: Environment,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    window: &[Deployment],
) -> Figures {
    let days = ((to - from).num_seconds() as f64 / 86_400.0).max(1.0 / 24.0);
    let succeeded: Vec<&Deployment> = window
        .iter()
        .filter(|d| d.status == BuildStatus::Succeeded)
        .collect();
    let failed = window
        .iter()
        .filter(|d| d.status == BuildStatus::Failed)
        .count() as u32;
    let builds = succeeded.len() as u32 + failed;
    let durations = sorted(
        window
            .iter()
            .filter(|d| matches!(d.status, BuildStatus::Succeeded | BuildStatus::Failed))
            .filter_map(|d| d.duration_seconds())
            .map(|s| s as f64)
            .collect(),
    );
    let deployments: Vec<&Deployment> = succeeded
        .iter()
        .copied()
        .filter(|d| !d.is_rollback())
        .collect();
    let rollbacks = succeeded.iter().filter(|d| d.is_rollback()).count() as u32
        + window
            .iter()
            .filter(|d| d.is_rollback() && d.status == BuildStatus::Failed)
            .count() as u32;
    let lead_times = sorted(
        deployments
            .iter()
            .filter_map(
                |d| Some((d.ended_at()? - d.details.lead_time_from()?).num_seconds() as f64),
            )
            .filter(|s| *s > 0.0)
            .collect(),
    );
    let (failures, recoveries, open) = failures_and_recoveries(window, &deployments, to);
    let recoveries = sorted(recoveries);
    let frequency = deployments.len() as f64 / days;
    let change_failure_rate =
        (!deployments.is_empty()).then(|| f64::from(failures) / deployments.len() as f64);
    let lead_median = percentile(&lead_times, 50.0);
    let recovery_median = percentile(&recoveries, 50.0);
    Figures {
        environment,
        window_days: (days.round() as u32).max(1),
        from,
        to,
        builds,
        builds_succeeded: succeeded.len() as u32,
        builds_failed: failed,
        build_success_rate: (builds > 0).then(|| succeeded.len() as f64 / f64::from(builds)),
        build_duration_p50_seconds: percentile(&durations, 50.0),
        build_duration_p90_seconds: percentile(&durations, 90.0),
        build_duration_p99_seconds: percentile(&durations, 99.0),
        deployments: deployments.len() as u32,
        deployment_frequency_per_day: frequency,
        lead_time_median_seconds: lead_median,
        lead_time_p90_seconds: percentile(&lead_times, 90.0),
        failed_deployments: failures,
        change_failure_rate,
        recovery_time_median_seconds: recovery_median,
        recoveries: recoveries.len() as u32,
        open_incidents: open,
        rollbacks,
        observed: ObservedCounts::of(window),
        tiers: Tiers {
            deployment_frequency: frequency_tier(frequency),
            lead_time: lead_median.map(lead_time_tier),
            change_failure_rate: change_failure_rate.map(failure_rate_tier),
            recovery_time: recovery_median.map(recovery_tier),
        },
    }
}

/// The windows the collector computes, in days.
pub const WINDOWS: [u32; 3] = [1, 7, 30];

pub fn window(to: DateTime<Utc>, days: u32) -> (DateTime<Utc>, DateTime<Utc>) {
    (to - Duration::days(i64::from(days)), to)
}
