//! `health.bake`: how long a promoted deploy's real traffic is watched, and
//! what makes it fail. Off by default: a first install must not roll back
//! on a guess about a team's traffic.

use serde::{Deserialize, Serialize};

/// A finite number of a policy (a rate, a factor). `Eq` so that policies
/// compare; NaN and infinities are refused by [`BakePolicy::problems`].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Number(pub f64);

impl Eq for Number {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BakePolicy {
    /// Off by default.
    pub enabled: bool,
    /// How long the traffic is watched after the probes passed.
    pub duration_minutes: u32,
    /// One interval is judged per step (1 to 14: a step is a delayed SQS
    /// message, at most 15 minutes, with a minute for the metrics to land).
    pub interval_minutes: u32,
    /// Branches baked. Empty: the app's production branch only, since
    /// Amplify's metrics have one dimension, `App`: a preview branch's
    /// traffic cannot be told from production's, and is left to probes.
    pub branches: Vec<String>,
    /// An interval with fewer requests is inconclusive (1 or more).
    pub min_requests: u64,
    /// An interval fails when its 5xx rate is above
    /// max(`max_error_rate`, `error_rate_factor` × baseline rate).
    pub max_error_rate: Number,
    pub error_rate_factor: Number,
    /// An interval fails when its p90 latency is above
    /// max(`min_latency_limit_ms`, `latency_factor` × baseline p90). Not
    /// judged without a baseline with traffic.
    pub latency_factor: Number,
    pub min_latency_limit_ms: u64,
    /// Failed intervals that fail the bake (it stops at once then).
    pub failure_limit: u32,
    /// More inconclusive intervals than this make the bake inconclusive.
    pub inconclusive_limit: u32,
    /// The team's CloudWatch alarms: any in ALARM during the bake fails it.
    pub alarms: Vec<String>,
}

impl Default for BakePolicy {
    fn default() -> Self {
        Self {
            enabled: false,
            duration_minutes: 30,
            interval_minutes: 5,
            branches: Vec::new(),
            min_requests: 100,
            max_error_rate: Number(0.01),
            error_rate_factor: Number(3.0),
            latency_factor: Number(2.0),
            min_latency_limit_ms: 1_000,
            failure_limit: 2,
            inconclusive_limit: 2,
            alarms: Vec::new(),
        }
    }
}

/// CloudWatch's DescribeAlarms takes at most 100 names per call.
pub const MAX_ALARMS: usize = 100;
/// A bake records every step on the deployment: kept small.
pub const MAX_STEPS: u32 = 48;

impl BakePolicy {
    /// What is wrong with the section, if anything (empty: usable).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(1..=14).contains(&self.interval_minutes) {
            out.push(format!(
                "health.bake.interval_minutes is {}: it must be 1 to 14 (a step is a delayed SQS message, at most 15 minutes)",
                self.interval_minutes
            ));
        } else if self.duration_minutes < self.interval_minutes || self.steps() > MAX_STEPS {
            out.push(format!(
                "health.bake.duration_minutes is {}: it must hold 1 to {MAX_STEPS} intervals of {} minutes",
                self.duration_minutes, self.interval_minutes
            ));
        }
        for (name, n) in [
            ("max_error_rate", self.max_error_rate),
            ("error_rate_factor", self.error_rate_factor),
            ("latency_factor", self.latency_factor),
        ] {
            if !n.0.is_finite() || n.0 < 0.0 {
                out.push(format!("health.bake.{name} must be a number of 0 or more"));
            }
        }
        if self.min_requests == 0 {
            // With no floor, a window with no traffic at all has a 5xx rate
            // of 0 and passes: a bake must judge requests, not silence.
            out.push(
                "health.bake.min_requests is 0: it must be 1 or more (an interval without traffic must not pass)"
                    .into(),
            );
        }
        if self.failure_limit == 0 {
            out.push("health.bake.failure_limit must be 1 or more".into());
        }
        if self.alarms.len() > MAX_ALARMS {
            out.push(format!(
                "health.bake.alarms names more than {MAX_ALARMS} alarms"
            ));
        }
        out
    }

    /// How many intervals the bake judges (the duration rounded up).
    pub fn steps(&self) -> u32 {
        self.duration_minutes.div_ceil(self.interval_minutes.max(1))
    }

    /// Whether `branch` is baked: listed, or (no list) the production one.
    pub fn covers(&self, branch: &str, stage: Option<&str>) -> bool {
        if self.branches.is_empty() {
            stage == Some("PRODUCTION")
        } else {
            self.branches.iter().any(|b| b == branch)
        }
    }
}
