//! The delivery figures of one environment over a window (build time,
//! success rate, the four DORA keys and their tiers): what the metrics
//! collector computes ([`crate::metrics::dora`]), the store keeps as a
//! snapshot and `sentinel metrics` shows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::model::Environment;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Low,
    Medium,
    High,
    Elite,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tiers {
    pub deployment_frequency: Tier,
    pub lead_time: Option<Tier>,
    pub change_failure_rate: Option<Tier>,
    pub recovery_time: Option<Tier>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    pub environment: Environment,
    pub window_days: u32,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub builds: u32,
    pub builds_succeeded: u32,
    pub builds_failed: u32,
    pub build_success_rate: Option<f64>,
    pub build_duration_p50_seconds: Option<f64>,
    pub build_duration_p90_seconds: Option<f64>,
    pub build_duration_p99_seconds: Option<f64>,
    pub deployments: u32,
    pub deployment_frequency_per_day: f64,
    pub lead_time_median_seconds: Option<f64>,
    pub lead_time_p90_seconds: Option<f64>,
    pub failed_deployments: u32,
    pub change_failure_rate: Option<f64>,
    pub recovery_time_median_seconds: Option<f64>,
    pub recoveries: u32,
    pub open_incidents: u32,
    pub rollbacks: u32,
    /// Observe mode: the actions Sentinel would have taken on the window's
    /// jobs (absent in snapshots written before observe mode: zero).
    #[serde(default)]
    pub observed: ObservedCounts,
    pub tiers: Tiers,
}

/// Jobs of a window with a "would have" of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedCounts {
    pub stop_build: u32,
    pub rollback: u32,
    pub retry: u32,
    /// Builds that would have been skipped (superseded, no change).
    #[serde(default)]
    pub skip: u32,
}
