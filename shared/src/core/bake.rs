//! What a bake (the watch of a promoted deploy's real traffic, after its
//! probes passed) records on the deployment: the baseline, one entry per
//! interval judged, and the outcome. The rules that fill it are in
//! `health::bake`; rollback reads [`BakeRecord::outcome`] from the record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What Amplify Hosting's metrics said for one window of the app's traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    pub requests: u64,
    pub errors_5xx: u64,
    pub errors_4xx: u64,
    /// Neither spelling of the 5xx metric had a datapoint in the window:
    /// the errors are unknown, not zero (`errors_5xx` is then 0).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub errors_5xx_missing: bool,
    /// p90 of `Latency` (time to first byte) over the window, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_latency_ms: Option<u64>,
    /// One-minute datapoints of `Requests` found in the window (0: the
    /// metric had no data at all: missing, not "no traffic").
    pub datapoints: u32,
}

impl Figures {
    /// 5xx per request; `None` without requests, or when the 5xx series
    /// had no data (unknown is not zero).
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0 && !self.errors_5xx_missing)
            .then(|| self.errors_5xx as f64 / self.requests as f64)
    }

    /// The sum of two windows (p90 latency: the worse of the two, as a
    /// p90 cannot be summed).
    pub fn plus(&self, other: &Figures) -> Figures {
        Figures {
            requests: self.requests + other.requests,
            errors_5xx: self.errors_5xx + other.errors_5xx,
            errors_4xx: self.errors_4xx + other.errors_4xx,
            errors_5xx_missing: self.errors_5xx_missing || other.errors_5xx_missing,
            p90_latency_ms: match (self.p90_latency_ms, other.p90_latency_ms) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            datapoints: self.datapoints + other.datapoints,
        }
    }
}

/// The state of one of the team's CloudWatch alarms (DescribeAlarms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
    /// No alarm of that name: a policy naming a wrong alarm is not a pass.
    Missing,
}

/// One of the team's alarms as DescribeAlarms reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alarm {
    pub name: String,
    pub state: AlarmState,
    /// When it entered `state` (`StateTransitionedTimestamp`, else
    /// `StateUpdatedTimestamp`); `None` when CloudWatch gave neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
}

impl Alarm {
    pub fn new(name: &str, state: AlarmState, since: Option<DateTime<Utc>>) -> Self {
        Self {
            name: name.to_owned(),
            state,
            since,
        }
    }
}

/// The baseline a bake compares with, read once at its first step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Baseline {
    /// The bake's length of time just before the deploy.
    pub before_deploy: Figures,
    /// The same hours a week earlier.
    pub week_ago: Figures,
    /// The team's alarms whose state at the first step was already theirs
    /// before the deploy (entered before it, or with no time given): an
    /// alarm here in ALARM that is still in ALARM since the same moment
    /// says nothing about the deploy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<Alarm>,
}

/// How one interval was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepOutcome {
    Passed,
    Failed,
    Inconclusive,
}

/// One judged interval `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BakeStep {
    /// 1-based.
    pub step: u32,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub figures: Figures,
    pub outcome: StepOutcome,
    pub reasons: Vec<String>,
}

/// How a bake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BakeOutcome {
    /// The traffic stayed within the thresholds: "Bake Passed".
    Passed,
    /// Too many failed intervals, or an alarm in ALARM: "Deployment
    /// Unhealthy" (reason bake), which rollback acts on.
    Failed,
    /// Too little traffic, missing datapoints, INSUFFICIENT_DATA: a human
    /// is told; never a rollback on its own.
    Inconclusive,
    /// Stopped without a verdict: a newer deploy went live, or the bake was
    /// turned off in the policy (the reason says which).
    Superseded,
}

/// The bake of one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BakeRecord {
    /// The first interval starts here (the minute after the probes' verdict).
    pub started_at: DateTime<Utc>,
    /// When the deploy went live (the job's end): the baseline ends here,
    /// so no minute of the new deploy's traffic is in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_at: Option<DateTime<Utc>>,
    pub interval_minutes: u32,
    pub steps_total: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    #[serde(default)]
    pub steps: Vec<BakeStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<BakeOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// The app's Amplify Hosting metrics in the CloudWatch console.
    pub console_url: String,
}

impl BakeRecord {
    /// The window of step `step` (1-based).
    pub fn window(&self, step: u32) -> (DateTime<Utc>, DateTime<Utc>) {
        let len = chrono::Duration::minutes(i64::from(self.interval_minutes));
        let from = self.started_at + len * (step as i32 - 1);
        (from, from + len)
    }

    /// Where the baseline windows end: the whole minute the deploy went
    /// live in (else the bake's start).
    pub fn baseline_until(&self) -> DateTime<Utc> {
        let at = self
            .deployed_at
            .unwrap_or(self.started_at)
            .min(self.started_at);
        DateTime::from_timestamp(at.timestamp().div_euclid(60) * 60, 0).unwrap_or(at)
    }

    /// Whether the bake still runs.
    pub fn running(&self) -> bool {
        self.outcome.is_none()
    }
}

/// What the alert shows of a bake: the figures before and after, the
/// intervals that failed, and where to look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BakeEvidence {
    pub outcome: BakeOutcome,
    /// The baseline the intervals were held to (the busier of the two).
    pub before: Figures,
    /// Every judged interval together.
    pub after: Figures,
    /// `step n [from–to]: reason`, at most 10.
    pub failed_intervals: Vec<String>,
    pub steps_judged: u32,
    pub steps_total: u32,
    pub console_url: String,
}
