//! The pure judgement of a bake: one interval against the baseline and the
//! team's alarms, and the bake's outcome from the intervals judged so far.
//!
//! Inconclusive is not failure. Too little traffic, missing datapoints and
//! alarms in INSUFFICIENT_DATA make an interval inconclusive, and a bake
//! with too many of those ends Inconclusive: a person is told, nothing is
//! rolled back. AWS AppConfig makes the opposite choice (an alarm without
//! data during a deployment's bake rolls it back); a Sentinel rollback is a
//! full Amplify rebuild and locks auto-build, so it acts only on evidence.

use chrono::{DateTime, Utc};

use crate::core::bake::{
    Alarm, AlarmState, BakeEvidence, BakeOutcome, BakeRecord, BakeStep, Baseline, Figures,
    StepOutcome,
};

use super::BakePolicy;

/// The error rate and p90 latency an interval is held to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub error_rate: f64,
    /// `None`: latency not judged (no baseline with traffic).
    pub p90_latency_ms: Option<u64>,
    /// The baseline's own figures (the busier window with traffic).
    pub reference: Option<Figures>,
}

/// The reference of a baseline: of the window before the deploy and the
/// week-ago one, those with at least `min_requests`; of them, the higher
/// error rate and the higher p90 (the lenient side: a rollback needs a
/// clear change, not a quiet hour compared with a busy one).
pub fn limits(policy: &BakePolicy, baseline: &Baseline) -> Limits {
    let with_traffic: Vec<&Figures> = [&baseline.before_deploy, &baseline.week_ago]
        .into_iter()
        .filter(|f| f.requests >= policy.min_requests.max(1))
        .collect();
    let rate = with_traffic
        .iter()
        .filter_map(|f| f.error_rate())
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    let p90 = with_traffic.iter().filter_map(|f| f.p90_latency_ms).max();
    let error_rate = policy
        .max_error_rate
        .0
        .max(policy.error_rate_factor.0 * rate.unwrap_or(0.0));
    let p90_latency_ms = p90.map(|p| {
        policy
            .min_latency_limit_ms
            .max((policy.latency_factor.0 * p as f64).round() as u64)
    });
    let reference = with_traffic.iter().max_by_key(|f| f.requests).map(|f| **f);
    Limits {
        error_rate,
        p90_latency_ms,
        reference,
    }
}

/// The alarms read at the first step whose state then was already theirs
/// at the deploy (`deployed_at`): entered before it, or with no time given
/// (the first reading is then the best view of "before").
pub fn alarms_at_deploy(readings: &[Alarm], deployed_at: DateTime<Utc>) -> Vec<Alarm> {
    readings
        .iter()
        .filter(|a| a.since.is_none_or(|t| t <= deployed_at))
        .cloned()
        .collect()
}

/// Whether `alarm` (in ALARM now) is the same ALARM the baseline found:
/// in ALARM at the deploy and not left since (same moment of entry).
fn firing_before_the_deploy(alarm: &Alarm, at_deploy: &[Alarm]) -> bool {
    at_deploy
        .iter()
        .any(|b| b.name == alarm.name && b.state == AlarmState::Alarm && b.since == alarm.since)
}

/// One interval: its figures (`None`: the metrics had no data at all) and
/// the alarms' states, against the limits. An alarm fails the interval
/// only by a transition into ALARM after the deploy; one in ALARM since
/// before it (`at_deploy`, the baseline's) cannot be judged.
pub fn judge(
    policy: &BakePolicy,
    limits: &Limits,
    figures: Option<&Figures>,
    alarms: &[Alarm],
    at_deploy: &[Alarm],
) -> (StepOutcome, Vec<String>) {
    let mut unsure = Vec::new();
    let mut firing = Vec::new();
    for a in alarms.iter().filter(|a| a.state == AlarmState::Alarm) {
        if firing_before_the_deploy(a, at_deploy) {
            unsure.push(format!(
                "alarm {} was in ALARM before the deploy and still is: not judged",
                a.name
            ));
        } else {
            firing.push(format!("alarm {} is in ALARM", a.name));
        }
    }
    if !firing.is_empty() {
        return (StepOutcome::Failed, firing);
    }
    let mut failed = Vec::new();
    match figures {
        None => unsure.push("no datapoints for Requests".to_owned()),
        Some(f) if f.datapoints == 0 => unsure.push("no datapoints for Requests".to_owned()),
        Some(f) if f.requests < policy.min_requests => unsure.push(format!(
            "{} requests, below the minimum of {}",
            f.requests, policy.min_requests
        )),
        Some(f) => {
            // Requests has data but 5xx none: zero errors would be a guess.
            let rate = f.error_rate();
            if rate.is_none() {
                unsure.push(format!(
                    "no datapoints for 5xxErrors while Requests counted {}: the error rate is unknown",
                    f.requests
                ));
            }
            if let Some(rate) = rate
                && rate > limits.error_rate
            {
                failed.push(format!(
                    "5xx rate {} ({} of {}) above {}",
                    percent(rate),
                    f.errors_5xx,
                    f.requests,
                    percent(limits.error_rate)
                ));
            }
            if let (Some(p90), Some(limit)) = (f.p90_latency_ms, limits.p90_latency_ms)
                && p90 > limit
            {
                failed.push(format!("p90 latency {p90} ms above {limit} ms"));
            }
        }
    }
    if !failed.is_empty() {
        return (StepOutcome::Failed, failed);
    }
    for a in alarms {
        match a.state {
            AlarmState::InsufficientData => {
                unsure.push(format!("alarm {} has INSUFFICIENT_DATA", a.name));
            }
            AlarmState::Missing => unsure.push(format!("no alarm named {}", a.name)),
            AlarmState::Ok | AlarmState::Alarm => {}
        }
    }
    if unsure.is_empty() {
        (StepOutcome::Passed, Vec::new())
    } else {
        (StepOutcome::Inconclusive, unsure)
    }
}

/// The bake's outcome after the steps judged so far, `None` while it goes
/// on: failed at once on an alarm in ALARM or at `failure_limit` failed
/// intervals; at the last step, inconclusive when more than
/// `inconclusive_limit` intervals were (or none passed), else passed.
pub fn outcome(policy: &BakePolicy, bake: &BakeRecord) -> Option<(BakeOutcome, String)> {
    let count = |o| bake.steps.iter().filter(|s| s.outcome == o).count() as u32;
    let (failed, unsure, passed) = (
        count(StepOutcome::Failed),
        count(StepOutcome::Inconclusive),
        count(StepOutcome::Passed),
    );
    if let Some(alarm) = bake.steps.iter().rev().find_map(|s| {
        s.reasons
            .iter()
            .find(|r| r.starts_with("alarm ") && r.ends_with("in ALARM"))
    }) {
        return Some((BakeOutcome::Failed, format!("bake: {alarm}")));
    }
    if failed >= policy.failure_limit.max(1) {
        let last = bake
            .steps
            .iter()
            .rev()
            .find(|s| s.outcome == StepOutcome::Failed)
            .map(|s| s.reasons.join("; "))
            .unwrap_or_default();
        return Some((
            BakeOutcome::Failed,
            format!(
                "bake: {failed} of {} intervals failed; last: {last}",
                bake.steps.len()
            ),
        ));
    }
    if (bake.steps.len() as u32) < bake.steps_total {
        return None;
    }
    if unsure > policy.inconclusive_limit || passed == 0 {
        let last = bake
            .steps
            .iter()
            .rev()
            .find(|s| s.outcome == StepOutcome::Inconclusive)
            .map(|s| s.reasons.join("; "))
            .unwrap_or_default();
        return Some((
            BakeOutcome::Inconclusive,
            format!(
                "bake inconclusive: {unsure} of {} intervals could not be judged; last: {last}",
                bake.steps.len()
            ),
        ));
    }
    Some((
        BakeOutcome::Passed,
        format!(
            "bake passed: {passed} of {} intervals within limits ({failed} failed, {unsure} inconclusive)",
            bake.steps.len()
        ),
    ))
}

/// What an alert shows of the bake.
pub fn evidence(policy: &BakePolicy, bake: &BakeRecord) -> BakeEvidence {
    let before = bake
        .baseline
        .as_ref()
        .and_then(|b| limits(policy, b).reference)
        .unwrap_or_default();
    let after = bake
        .steps
        .iter()
        .fold(Figures::default(), |acc, s| acc.plus(&s.figures));
    let failed_intervals = bake
        .steps
        .iter()
        .filter(|s| s.outcome == StepOutcome::Failed)
        .take(10)
        .map(interval_line)
        .collect();
    BakeEvidence {
        outcome: bake.outcome.unwrap_or(BakeOutcome::Inconclusive),
        before,
        after,
        failed_intervals,
        steps_judged: bake.steps.len() as u32,
        steps_total: bake.steps_total,
        console_url: bake.console_url.clone(),
    }
}

fn interval_line(s: &BakeStep) -> String {
    format!(
        "step {} [{}–{}]: {}",
        s.step,
        s.from.format("%H:%M"),
        s.to.format("%H:%M"),
        s.reasons.join("; ")
    )
}

/// `0.2` as `20.00 %`.
pub fn percent(rate: f64) -> String {
    format!("{:.2} %", rate * 100.0)
}

/// The CloudWatch console's graph of the app's Amplify Hosting metrics
/// (Requests, 5xxErrors, Latency p90) over the bake.
pub fn console_url(region: &str, app_id: &str, from: &str, to: &str) -> String {
    let metric = |name: &str, stat: &str| {
        format!("~(~'AWS*2fAmplifyHosting~'{name}~'App~'{app_id}~(stat~'{stat}))")
    };
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#metricsV2:graph=~(metrics~({}{}{})~period~60~start~'{from}~end~'{to})",
        metric("Requests", "Sum"),
        metric("5xxErrors", "Sum"),
        metric("Latency", "p90"),
    )
}
