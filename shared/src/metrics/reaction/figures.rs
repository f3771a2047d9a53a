//! A window's figures as lines: EMF metrics (the daily roll-up) and a log
//! record without metrics (the rolling figures the dashboard reads), with
//! the same names.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::metrics::dora::{Figures, Tier};
use crate::metrics::emf::{self, Unit};

fn tier_value(t: Option<Tier>) -> Option<f64> {
    // 4 elite … 1 low: a dashboard can graph the tier.
    t.map(|t| match t {
        Tier::Elite => 4.0,
        Tier::High => 3.0,
        Tier::Medium => 2.0,
        Tier::Low => 1.0,
    })
}

/// One EMF line with a window's figures (dimensions Environment, Window),
/// at `at` (the daily roll-up's: its midnight).
pub fn figures_line(namespace: &str, f: &Figures, at: DateTime<Utc>) -> String {
    let window = format!("{}d", f.window_days);
    emf::line(
        namespace,
        &[("Environment", f.environment.as_str()), ("Window", &window)],
        &[&["Environment", "Window"]],
        &figure_values(f),
        &[
            ("record", json!("daily-figures")),
            ("from", json!(f.from)),
            ("to", json!(f.to)),
        ],
        at,
    )
}

/// A window's rolling figures as a log line without metrics (the
/// dashboard's Logs Insights widgets read the latest): the same names as
/// [`figures_line`], `record` = `figures`.
pub fn figures_record(f: &Figures) -> String {
    let window = format!("{}d", f.window_days);
    let values: Vec<(&str, f64)> = figure_values(f)
        .into_iter()
        .map(|(name, value, _)| (name, value))
        .collect();
    emf::record(
        &[("Environment", f.environment.as_str()), ("Window", &window)],
        &values,
        &[
            ("record", json!("figures")),
            ("from", json!(f.from)),
            ("to", json!(f.to)),
        ],
    )
}

/// A window's figures by metric name; a figure without data is left out.
fn figure_values(f: &Figures) -> Vec<(&'static str, f64, Unit)> {
    let percent = |r: Option<f64>| r.map(|r| r * 100.0);
    let values: Vec<(&'static str, Option<f64>, Unit)> = vec![
        ("Builds", Some(f64::from(f.builds)), Unit::Count),
        (
            "BuildSuccessRate",
            percent(f.build_success_rate),
            Unit::Percent,
        ),
        (
            "BuildDurationP50",
            f.build_duration_p50_seconds,
            Unit::Seconds,
        ),
        (
            "BuildDurationP90",
            f.build_duration_p90_seconds,
            Unit::Seconds,
        ),
        (
            "BuildDurationP99",
            f.build_duration_p99_seconds,
            Unit::Seconds,
        ),
        ("Deployments", Some(f64::from(f.deployments)), Unit::Count),
        (
            "DeploymentFrequencyPerDay",
            Some(f.deployment_frequency_per_day),
            Unit::CountPerDay,
        ),
        ("LeadTimeMedian", f.lead_time_median_seconds, Unit::Seconds),
        ("LeadTimeP90", f.lead_time_p90_seconds, Unit::Seconds),
        (
            "ChangeFailureRate",
            percent(f.change_failure_rate),
            Unit::Percent,
        ),
        (
            "RecoveryTimeMedian",
            f.recovery_time_median_seconds,
            Unit::Seconds,
        ),
        (
            "OpenIncidents",
            Some(f64::from(f.open_incidents)),
            Unit::Count,
        ),
        ("Rollbacks", Some(f64::from(f.rollbacks)), Unit::Count),
        (
            "DeploymentFrequencyTier",
            tier_value(Some(f.tiers.deployment_frequency)),
            Unit::None,
        ),
        ("LeadTimeTier", tier_value(f.tiers.lead_time), Unit::None),
        (
            "ChangeFailureRateTier",
            tier_value(f.tiers.change_failure_rate),
            Unit::None,
        ),
        (
            "RecoveryTimeTier",
            tier_value(f.tiers.recovery_time),
            Unit::None,
        ),
    ];
    values
        .into_iter()
        .filter_map(|(n, v, u)| Some((n, v?, u)))
        .collect()
}
