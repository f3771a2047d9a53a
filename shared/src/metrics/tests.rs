//! Hand-worked histories: each expected figure is worked out in the
//! comments from the definitions in `dora.rs`.

use chrono::{Duration, TimeZone, Utc};

use super::dora::{Tier, compute};
use crate::core::deployment::{Deployment, DeploymentKey, HealthRecord};
use crate::core::model::{BuildStatus, Environment, JobId};
use crate::health::Verdict;

fn t(day: i64, hour: u32, minute: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, hour, minute, 0).unwrap() + Duration::days(day)
}

struct Job {
    branch: &'static str,
    job: u64,
    status: BuildStatus,
    start: chrono::DateTime<Utc>,
    minutes: i64,
}

impl Job {
    fn new(
        branch: &'static str,
        job: u64,
        status: BuildStatus,
        start: chrono::DateTime<Utc>,
        minutes: i64,
    ) -> Self {
        Self {
            branch,
            job,
            status,
            start,
            minutes,
        }
    }

    fn end(&self) -> chrono::DateTime<Utc> {
        self.start + Duration::minutes(self.minutes)
    }

    fn record(&self) -> Deployment {
        let key = DeploymentKey {
            app_id: "d1abc".parse().unwrap(),
            branch_name: self.branch.parse().unwrap(),
            job_id: JobId::new(self.job),
        };
        let mut d = Deployment::new(key, Environment::Prod);
        d.status = self.status.clone();
        d.details.start_time = Some(self.start);
        d.details.end_time = Some(self.end());
        d
    }
}

fn verdict(d: &mut Deployment, verdict: Verdict, at: chrono::DateTime<Utc>) {
    d.health = Some(HealthRecord {
        verdict,
        reason: String::new(),
        url: String::new(),
        checked_at: at,
        rounds: 2,
        endpoints: vec![],
    });
}

/// The 7-day history of `dora.rs`'s test notes: see each line.
fn history() -> Vec<Deployment> {
    let mut out = Vec::new();
    // main 1: 10 min, committed 50 min before its end (lead 3 000 s), healthy.
    let j = Job::new("main", 1, BuildStatus::Succeeded, t(0, 10, 0), 10);
    let mut d = j.record();
    d.details.commit_time = Some(j.end() - Duration::minutes(50));
    verdict(&mut d, Verdict::Healthy, j.end() + Duration::minutes(1));
    out.push(d);
    // main 2: 20 min (ends d1 10:20), lead 7 200 s, unhealthy at 10:22.
    let j = Job::new("main", 2, BuildStatus::Succeeded, t(1, 10, 0), 20);
    let mut d = j.record();
    d.details.commit_time = Some(j.end() - Duration::hours(2));
    verdict(&mut d, Verdict::Unhealthy, t(1, 10, 22));
    out.push(d);
    // main 3: the rollback of 2, 5 min (10:23–10:28), healthy at 10:29: recovery 420 s.
    let j = Job::new("main", 3, BuildStatus::Succeeded, t(1, 10, 23), 5);
    let mut d = j.record();
    d.rollback_of = Some(JobId::new(2));
    verdict(&mut d, Verdict::Healthy, t(1, 10, 29));
    out.push(d);
    // main 4: a failed build, 15 min.
    out.push(Job::new("main", 4, BuildStatus::Failed, t(2, 9, 0), 15).record());
    // main 5: 30 min, its commit time an hour after its end (ignored), healthy.
    let j = Job::new("main", 5, BuildStatus::Succeeded, t(3, 9, 0), 30);
    let mut d = j.record();
    d.details.commit_time = Some(j.end() + Duration::hours(1));
    verdict(&mut d, Verdict::Healthy, j.end() + Duration::minutes(1));
    out.push(d);
    // feature 1: 40 min, lead 1 day + 1 hour (90 000 s), healthy.
    let j = Job::new("feature", 1, BuildStatus::Succeeded, t(4, 12, 0), 40);
    let mut d = j.record();
    d.details.commit_time = Some(j.end() - Duration::hours(25));
    verdict(&mut d, Verdict::Healthy, j.end() + Duration::minutes(1));
    out.push(d);
    // feature 2: cancelled — not a build.
    out.push(Job::new("feature", 2, BuildStatus::Cancelled, t(5, 12, 0), 3).record());
    out
}

#[test]
fn a_week_with_a_rollback() {
    let f = compute(Environment::Prod, t(0, 0, 0), t(7, 0, 0), &history());
    // Builds: succeeded main 1, 2, 3, 5, feature 1; failed main 4.
    assert_eq!((f.builds, f.builds_succeeded, f.builds_failed), (6, 5, 1));
    assert_eq!(f.build_success_rate, Some(5.0 / 6.0));
    // Durations 300 600 900 1200 1800 2400: p50 rank 3, p90 and p99 rank 6.
    assert_eq!(f.build_duration_p50_seconds, Some(900.0));
    assert_eq!(f.build_duration_p90_seconds, Some(2400.0));
    assert_eq!(f.build_duration_p99_seconds, Some(2400.0));
    // Deployments: main 1, 2, 5, feature 1 (the rollback is apart): 4 in 7 days.
    assert_eq!(f.deployments, 4);
    assert!((f.deployment_frequency_per_day - 4.0 / 7.0).abs() < 1e-9);
    assert_eq!(f.tiers.deployment_frequency, Tier::High);
    // Lead times 3000 7200 90000 (main 5's negative one ignored): median rank 2.
    assert_eq!(f.lead_time_median_seconds, Some(7200.0));
    assert_eq!(f.lead_time_p90_seconds, Some(90_000.0));
    assert_eq!(f.tiers.lead_time, Some(Tier::Elite));
    // One failed deployment (main 2) of four.
    assert_eq!(f.failed_deployments, 1);
    assert_eq!(f.change_failure_rate, Some(0.25));
    assert_eq!(f.tiers.change_failure_rate, Some(Tier::Low));
    // Recovered at 10:29 from 10:22.
    assert_eq!(f.recovery_time_median_seconds, Some(420.0));
    assert_eq!(f.tiers.recovery_time, Some(Tier::Elite));
    assert_eq!((f.recoveries, f.open_incidents, f.rollbacks), (1, 0, 1));
}

#[test]
fn no_deployments_at_all() {
    let f = compute(Environment::Prod, t(0, 0, 0), t(30, 0, 0), &[]);
    assert_eq!((f.builds, f.deployments), (0, 0));
    assert_eq!(f.deployment_frequency_per_day, 0.0);
    assert_eq!(f.tiers.deployment_frequency, Tier::Low);
    assert_eq!(f.build_success_rate, None);
    assert_eq!(f.lead_time_median_seconds, None);
    assert_eq!(f.change_failure_rate, None);
    assert_eq!(f.recovery_time_median_seconds, None);
}

#[test]
fn everything_failing() {
    let window: Vec<Deployment> = (1..=3)
        .map(|n| Job::new("main", n, BuildStatus::Failed, t(0, 9, n as u32), 12).record())
        .collect();
    let f = compute(Environment::Prod, t(0, 0, 0), t(1, 0, 0), &window);
    assert_eq!(f.build_success_rate, Some(0.0));
    assert_eq!(f.deployments, 0);
    assert_eq!(f.build_duration_p50_seconds, Some(720.0));
    assert_eq!(f.change_failure_rate, None, "no deployment, no rate");
}

#[test]
fn incidents_at_the_window_edges() {
    // Failed before the window (not read): its recovery inside is not counted.
    let j = Job::new("main", 8, BuildStatus::Succeeded, t(10, 1, 0), 10);
    let mut healed = j.record();
    verdict(&mut healed, Verdict::Healthy, t(10, 1, 11));
    // Failed inside, not yet recovered by the window's end: open.
    let j = Job::new("main", 9, BuildStatus::Succeeded, t(10, 20, 0), 10);
    let mut broken = j.record();
    verdict(&mut broken, Verdict::Unhealthy, t(10, 20, 12));
    let f = compute(
        Environment::Prod,
        t(10, 0, 0),
        t(11, 0, 0),
        &[healed, broken],
    );
    assert_eq!(
        (f.failed_deployments, f.recoveries, f.open_incidents),
        (1, 0, 1)
    );
    assert_eq!(f.recovery_time_median_seconds, None);
    assert_eq!(f.change_failure_rate, Some(0.5));
    assert_eq!(f.tiers.deployment_frequency, Tier::Elite, "2 a day");
}

#[test]
fn a_week_in_observe_mode_counts_the_would_haves_per_kind() {
    use crate::core::enforcement::{ObservedAction, ObservedKind, record};
    // Jobs 1–4; job 2 would have been stopped; job 3 would have been
    // rolled back from (and its retry is not a thing), job 4 would have
    // been retried: one of each, and job 2's second stop counts once.
    let mut jobs: Vec<Deployment> = (1..=4)
        .map(|n| Job::new("main", n, BuildStatus::Succeeded, t(n as i64, 10, 0), 5).record())
        .collect();
    let at = t(1, 10, 0);
    record(
        &mut jobs[1].observed,
        ObservedAction::new(ObservedKind::StopBuild, "1 error", at),
    );
    record(
        &mut jobs[1].observed,
        ObservedAction::new(ObservedKind::StopBuild, "again", at),
    );
    record(
        &mut jobs[2].observed,
        ObservedAction::new(ObservedKind::Rollback, "to job 1", at),
    );
    record(
        &mut jobs[3].observed,
        ObservedAction::new(ObservedKind::Retry, "network", at),
    );
    let f = compute(Environment::Prod, t(0, 0, 0), t(7, 0, 0), &jobs);
    assert_eq!(
        (f.observed.stop_build, f.observed.rollback, f.observed.retry),
        (1, 1, 1)
    );
    assert_eq!(f.rollbacks, 0, "a would-have is not a rollback");
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json["observed"]["stopBuild"], 1);
    // A snapshot written before observe mode reads as zero.
    let mut old = json.clone();
    old.as_object_mut().unwrap().remove("observed");
    let back: super::dora::Figures = serde_json::from_value(old).unwrap();
    assert_eq!(back.observed, Default::default());
}
