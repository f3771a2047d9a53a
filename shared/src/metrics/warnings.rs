//! Early warning: trends of a branch that will break its builds if left
//! alone. Each is computed per app and branch from the last day (`recent`)
//! against the seven days before it (`baseline`), from the same window read
//! as the DORA figures:
//!
//! | condition | fires when |
//! |---|---|
//! | `build-duration-rising` | the recent build duration p50 is more than 30 % above the baseline's (each with at least 3 builds) |
//! | `failure-rate-rising` | the recent build failure rate is at least 25 points above the baseline's (at least 3 recent builds) |
//! | `consecutive-failures` | the branch's last 3 builds all failed |
//! | `near-build-timeout` | a recent build took more than 80 % of the build timeout: the branch's or app's `_BUILD_TIMEOUT` variable (minutes), else Amplify's default of 30 minutes |
//! | `memory-pressure` | a recent failure was diagnosed as memory-related (`node-heap-oom`, `build-instance-oom`, `cache-step-oom`) and none in the baseline |
//!
//! The collector publishes each condition at most once per branch per day.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::dora::percentile;
use crate::core::deployment::Deployment;
use crate::core::model::{AppId, BranchName, BuildStatus};

/// Amplify's default build timeout.
pub const BUILD_TIMEOUT_SECONDS: f64 = 30.0 * 60.0;
/// The shortest timeout `_BUILD_TIMEOUT` can set (5 minutes): builds
/// shorter than 80 % of it cannot be near any timeout.
const SHORTEST_TIMEOUT_SECONDS: f64 = 5.0 * 60.0;
/// The variable that sets an app's or branch's build timeout, in minutes.
pub const BUILD_TIMEOUT_VARIABLE: &str = "_BUILD_TIMEOUT";

/// The build timeout (seconds) that the branch's, else the app's,
/// `_BUILD_TIMEOUT` sets: whole minutes from 5 to 120 (Amplify's range);
/// anything else leaves Amplify's default.
pub fn build_timeout_seconds(branch_value: Option<&str>, app_value: Option<&str>) -> f64 {
    let parse = |v: Option<&str>| {
        v.and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|m| (5..=120).contains(m))
    };
    parse(branch_value)
        .or_else(|| parse(app_value))
        .map_or(BUILD_TIMEOUT_SECONDS, |m| f64::from(m) * 60.0)
}

/// The branches whose build timeout matters at `now`: a build of the last
/// day long enough to be near the shortest possible timeout. Only these
/// need their `_BUILD_TIMEOUT` looked up.
pub fn timeout_candidates(window: &[Deployment], now: DateTime<Utc>) -> Vec<(AppId, BranchName)> {
    let mut out: Vec<(AppId, BranchName)> = window
        .iter()
        .filter(|d| {
            d.started_at()
                .is_some_and(|t| t >= now - Duration::days(1) && t < now)
        })
        .filter(|d| {
            d.duration_seconds()
                .is_some_and(|s| s as f64 > 0.8 * SHORTEST_TIMEOUT_SECONDS)
        })
        .map(|d| (d.key.app_id.clone(), d.key.branch_name.clone()))
        .collect();
    out.sort();
    out.dedup();
    out
}
const MEMORY: &[&str] = &["node-heap-oom", "build-instance-oom", "cache-step-oom"];

#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub condition: &'static str,
    pub summary: String,
    pub evidence: Vec<String>,
}

fn builds(jobs: &[&Deployment]) -> Vec<(f64, bool)> {
    jobs.iter()
        .filter(|d| matches!(d.status, BuildStatus::Succeeded | BuildStatus::Failed))
        .filter(|d| !d.is_rollback())
        .map(|d| {
            (
                d.duration_seconds().unwrap_or(0) as f64,
                d.status == BuildStatus::Failed,
            )
        })
        .collect()
}

fn p50(builds: &[(f64, bool)]) -> Option<f64> {
    let mut d: Vec<f64> = builds.iter().map(|b| b.0).filter(|s| *s > 0.0).collect();
    d.sort_by(f64::total_cmp);
    percentile(&d, 50.0)
}

fn failure_rate(builds: &[(f64, bool)]) -> Option<f64> {
    (!builds.is_empty()).then(|| builds.iter().filter(|b| b.1).count() as f64 / builds.len() as f64)
}

/// The conditions holding at `now` over `window` (which should cover the
/// last 8 days).
pub fn detect(window: &[Deployment], now: DateTime<Utc>) -> Vec<Warning> {
    detect_with(window, now, |_, _| BUILD_TIMEOUT_SECONDS)
}

/// [`detect`] with each branch's build timeout in seconds.
pub fn detect_with(
    window: &[Deployment],
    now: DateTime<Utc>,
    timeout_of: impl Fn(&AppId, &BranchName) -> f64,
) -> Vec<Warning> {
    let recent_from = now - Duration::days(1);
    let baseline_from = recent_from - Duration::days(7);
    let mut by_branch: BTreeMap<(String, String), Vec<&Deployment>> = BTreeMap::new();
    for d in window {
        by_branch
            .entry((d.key.app_id.to_string(), d.key.branch_name.to_string()))
            .or_default()
            .push(d);
    }
    let mut out = Vec::new();
    for jobs in by_branch.values_mut() {
        jobs.sort_by_key(|d| d.key.job_id);
        let started = |d: &&&Deployment| d.started_at().unwrap_or_default();
        let recent: Vec<&Deployment> = jobs
            .iter()
            .filter(|d| started(d) >= recent_from && started(d) < now)
            .copied()
            .collect();
        let baseline: Vec<&Deployment> = jobs
            .iter()
            .filter(|d| started(d) >= baseline_from && started(d) < recent_from)
            .copied()
            .collect();
        let Some(first) = jobs.first() else { continue };
        let mut warn = |condition: &'static str, summary: String, evidence: Vec<String>| {
            out.push(Warning {
                app_id: first.key.app_id.clone(),
                branch_name: first.key.branch_name.clone(),
                condition,
                summary,
                evidence,
            });
        };
        let (r, b) = (builds(&recent), builds(&baseline));
        if let (Some(now_p50), Some(base_p50)) = (p50(&r), p50(&b))
            && r.len() >= 3
            && b.len() >= 3
            && now_p50 > base_p50 * 1.3
        {
            warn(
                "build-duration-rising",
                format!(
                    "Build duration p50 rose {:.0} % in the last day: {:.0} s against {:.0} s over the 7 days before",
                    (now_p50 / base_p50 - 1.0) * 100.0,
                    now_p50,
                    base_p50
                ),
                vec![format!(
                    "{} recent builds, {} baseline builds",
                    r.len(),
                    b.len()
                )],
            );
        }
        if let (Some(now_rate), Some(base_rate)) =
            (failure_rate(&r), failure_rate(&b).or(Some(0.0)))
            && r.len() >= 3
            && now_rate >= base_rate + 0.25
        {
            warn(
                "failure-rate-rising",
                format!(
                    "Build failure rate {:.0} % in the last day against {:.0} % over the 7 days before",
                    now_rate * 100.0,
                    base_rate * 100.0
                ),
                vec![format!(
                    "{} of {} recent builds failed",
                    r.iter().filter(|x| x.1).count(),
                    r.len()
                )],
            );
        }
        let ended: Vec<&&Deployment> = jobs
            .iter()
            .filter(|d| {
                matches!(d.status, BuildStatus::Succeeded | BuildStatus::Failed) && !d.is_rollback()
            })
            .collect();
        if ended.len() >= 3
            && ended[ended.len() - 3..]
                .iter()
                .all(|d| d.status == BuildStatus::Failed)
        {
            let last: Vec<String> = ended[ended.len() - 3..]
                .iter()
                .map(|d| {
                    format!(
                        "job {}: {}",
                        d.key.job_id,
                        d.diagnosis
                            .as_ref()
                            .map_or("not diagnosed", |g| g.category.as_str())
                    )
                })
                .collect();
            warn(
                "consecutive-failures",
                "The branch's last 3 builds failed".into(),
                last,
            );
        }
        let timeout = timeout_of(&first.key.app_id, &first.key.branch_name);
        if let Some(slow) = recent
            .iter()
            .filter_map(|d| Some((d, d.duration_seconds()? as f64)))
            .filter(|(_, s)| *s > 0.8 * timeout)
            .max_by(|a, b| a.1.total_cmp(&b.1))
        {
            warn(
                "near-build-timeout",
                format!(
                    "A build took {:.0} % of the {:.0}-minute build timeout",
                    slow.1 / timeout * 100.0,
                    timeout / 60.0
                ),
                vec![format!("job {}: {:.0} s", slow.0.key.job_id, slow.1)],
            );
        }
        let memory = |set: &[&Deployment]| -> Vec<String> {
            set.iter()
                .filter_map(|d| {
                    let g = d.diagnosis.as_ref()?;
                    MEMORY
                        .contains(&g.category.as_str())
                        .then(|| format!("job {}: {}", d.key.job_id, g.category))
                })
                .collect()
        };
        let recent_memory = memory(&recent);
        if !recent_memory.is_empty() && memory(&baseline).is_empty() {
            warn(
                "memory-pressure",
                "Builds started running out of memory".into(),
                recent_memory,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::core::deployment::DeploymentKey;
    use crate::core::model::{Environment, JobId};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
    }

    fn job(n: u64, hours_ago: i64, minutes: i64, failed: bool) -> Deployment {
        let key = DeploymentKey {
            app_id: "d1abc".parse().unwrap(),
            branch_name: "main".parse().unwrap(),
            job_id: JobId::new(n),
        };
        let mut d = Deployment::new(key, Environment::Prod);
        d.status = if failed {
            BuildStatus::Failed
        } else {
            BuildStatus::Succeeded
        };
        let start = now() - Duration::hours(hours_ago);
        d.details.start_time = Some(start);
        d.details.end_time = Some(start + Duration::minutes(minutes));
        d
    }

    fn conditions(window: &[Deployment]) -> Vec<&'static str> {
        detect(window, now()).iter().map(|w| w.condition).collect()
    }

    #[test]
    fn steady_builds_raise_nothing() {
        // Noise: durations vary ±20 %, one failure a day.
        let window: Vec<Deployment> = (0..47u64)
            .map(|n| {
                job(
                    n + 1,
                    190 - (n as i64) * 4,
                    10 + (n as i64 % 3) - 1,
                    n % 6 == 5,
                )
            })
            .collect();
        assert_eq!(conditions(&window), Vec::<&str>::new());
    }

    #[test]
    fn slower_builds_and_failures_are_told() {
        let mut window: Vec<Deployment> = (0..10u64)
            .map(|n| job(n + 1, 150 - n as i64 * 10, 10, false))
            .collect();
        window.extend((0..4u64).map(|n| job(20 + n, 20 - n as i64 * 4, 26, true)));
        let found = conditions(&window);
        assert_eq!(
            found,
            vec![
                "build-duration-rising",
                "failure-rate-rising",
                "consecutive-failures",
                "near-build-timeout"
            ]
        );
    }

    #[test]
    fn the_apps_build_timeout_counts() {
        // A 9-minute build: nothing under the 30-minute default, near a
        // 10-minute `_BUILD_TIMEOUT`.
        let window = vec![job(1, 3, 9, false)];
        assert!(!conditions(&window).contains(&"near-build-timeout"));
        let ten = build_timeout_seconds(Some("10"), Some("60"));
        assert_eq!(ten, 600.0, "the branch's value wins");
        let found = detect_with(&window, now(), |_, _| ten);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].condition, "near-build-timeout");
        assert!(
            found[0].summary.contains("10-minute"),
            "{}",
            found[0].summary
        );
        assert_eq!(timeout_candidates(&window, now()).len(), 1);
        assert!(timeout_candidates(&[job(2, 3, 3, false)], now()).is_empty());
    }

    #[test]
    fn a_malformed_build_timeout_leaves_the_default() {
        for (branch, app, expected) in [
            (None, Some("45"), 2700.0),
            (Some("soon"), Some("45"), 2700.0),
            (Some("0"), None, BUILD_TIMEOUT_SECONDS),
            (Some("500"), None, BUILD_TIMEOUT_SECONDS),
            (None, None, BUILD_TIMEOUT_SECONDS),
        ] {
            assert_eq!(
                build_timeout_seconds(branch, app),
                expected,
                "{branch:?} {app:?}"
            );
        }
    }

    #[test]
    fn memory_trouble_is_new_only_once() {
        let mut failed = job(30, 2, 12, true);
        failed.diagnosis = Some(crate::diagnose::diagnose_bytes(
            b"FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n",
        ));
        let mut old = job(29, 60, 12, true);
        assert_eq!(conditions(&[failed.clone()]), vec!["memory-pressure"]);
        old.diagnosis = failed.diagnosis.clone();
        assert!(
            !conditions(&[old, failed]).contains(&"memory-pressure"),
            "already seen in the baseline"
        );
    }
}
