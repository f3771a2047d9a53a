//! The bake's steps. Each step is a delayed message to the health checker's
//! own queue ("Bake Step"): it reads one window of the app's metrics (one
//! GetMetricData call; the first step also reads the two baseline windows),
//! the team's alarms (one DescribeAlarms), judges the interval, records it
//! on the deployment with a version condition, and sends the next step.
//!
//! A step is decided once: the record holds the steps judged, and a step
//! whose number is not the next one is not judged again (a redelivery of
//! the last one re-sends the step after it, in case that send was lost).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;

use super::BakePolicy;
use super::analysis;
use crate::core::bake::{BakeOutcome, BakeRecord, BakeStep, Baseline, Figures};
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{Error, MetricsError, PublishError};
use crate::core::events::{HealthEvent, OWNER_HEALTH, SOURCE};
use crate::core::model::{AppId, BranchName, JobId};
use crate::core::verdicts::Verdict;
use crate::effects;
use crate::policy::PolicyStore;
use crate::ports::{BakeSteps, BranchPointer, DeploymentStore, HostingMetrics};
use crate::stack::Stack;

/// How long after a window ends its step reads it: Amplify's one-minute
/// datapoints land in CloudWatch a little after their minute.
pub const SETTLE_SECONDS: i64 = 60;
/// SQS's longest delay.
pub const MAX_DELAY_SECONDS: i64 = 900;

/// The detail type of the health checker's own delayed message: judge the
/// next interval of a bake. Sent to its queue only, never on the bus.
pub const BAKE_STEP: &str = "Bake Step";

/// The detail of "Bake Step".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BakeStepEvent {
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub job_id: JobId,
    /// 1-based.
    pub step: u32,
}

impl BakeStepEvent {
    /// The message body: an envelope as the bus would deliver it, so the
    /// queue's one parser reads it.
    pub fn to_body(&self) -> String {
        let key = DeploymentKey {
            app_id: self.app_id.clone(),
            branch_name: self.branch_name.clone(),
            job_id: self.job_id,
        };
        serde_json::json!({
            "id": key.event_id(&format!("bake-step/{}", self.step)),
            "source": SOURCE,
            "detail-type": BAKE_STEP,
            "detail": self,
        })
        .to_string()
    }
}

/// The bake a deploy found Healthy by its probes starts, if its policy
/// bakes its branch: the first interval starts at the next whole minute.
pub fn plan(
    policy: &BakePolicy,
    deployed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> BakeRecord {
    let minute = now.timestamp().div_euclid(60) * 60 + 60;
    BakeRecord {
        started_at: DateTime::from_timestamp(minute, 0).unwrap_or(now),
        deployed_at,
        interval_minutes: policy.interval_minutes,
        steps_total: policy.steps(),
        baseline: None,
        steps: Vec::new(),
        outcome: None,
        reason: None,
        decided_at: None,
        console_url: String::new(),
    }
}

/// What one step led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    /// The deployment has no bake running.
    NotBaking,
    /// This step was judged already (a redelivery).
    AlreadyDecided,
    /// Its window has not settled yet: sent again for later.
    NotYet,
    /// Judged; the bake goes on.
    Judged(crate::core::bake::StepOutcome),
    /// Judged, and the bake ended.
    Finished(BakeOutcome),
}

pub struct Baker<'a, K: Stack, M: HostingMetrics, Q: BakeSteps> {
    pub store: &'a K::Store,
    pub publisher: &'a K::Publisher,
    pub metrics: &'a M,
    pub steps: &'a Q,
    /// For the console link.
    pub region: &'a str,
}

impl<K: Stack, M: HostingMetrics, Q: BakeSteps> Baker<'_, K, M, Q> {
    /// After "Build Succeeded" was handled: sends the first step of a bake
    /// the check started (none judged yet). Sending it again (a redelivered
    /// "Build Succeeded") is harmless: a step is decided once.
    pub async fn start(&self, key: &DeploymentKey, now: DateTime<Utc>) -> Result<bool, Error> {
        let Some(record) = self.store.get_deployment(key).await? else {
            return Ok(false);
        };
        match &record.bake {
            Some(bake) if bake.running() && bake.steps.is_empty() => {
                self.send(key, 1, bake, now).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub async fn on_step(
        &self,
        event: &BakeStepEvent,
        now: DateTime<Utc>,
    ) -> Result<StepResult, Error> {
        let key = DeploymentKey {
            app_id: event.app_id.clone(),
            branch_name: event.branch_name.clone(),
            job_id: event.job_id,
        };
        let Some(record) = self.store.get_deployment(&key).await? else {
            return Ok(StepResult::NotBaking);
        };
        let Some(bake) = record.bake.clone() else {
            return Ok(StepResult::NotBaking);
        };
        let judged = bake.steps.len() as u32;
        if !bake.running() || event.step <= judged || event.step > judged + 1 {
            effects::flush(self.store, self.publisher, &record, OWNER_HEALTH).await?;
            if bake.running() && event.step == judged {
                // The send after this step may have been lost.
                self.send(&key, judged + 1, &bake, now).await?;
            }
            return Ok(StepResult::AlreadyDecided);
        }
        let (from, to) = bake.window(event.step);
        if now < to + Duration::seconds(SETTLE_SECONDS) {
            self.send(&key, event.step, &bake, now).await?;
            return Ok(StepResult::NotYet);
        }
        let state = self
            .store
            .get_branch_state(&key.app_id, &key.branch_name)
            .await?;
        if state.live_job.is_some_and(|live| live > key.job_id) {
            let record = effects::update(self.store, &key, |d| {
                Ok(stop(
                    d,
                    event.step,
                    now,
                    "a newer deploy went live during the bake",
                ))
            })
            .await?;
            info!(job = %key.job_id, "bake stopped: a newer deploy is live");
            effects::flush(self.store, self.publisher, &record, OWNER_HEALTH).await?;
            return Ok(StepResult::Finished(BakeOutcome::Superseded));
        }
        let policy = match self.store.get_policy(&key.app_id, &key.branch_name).await? {
            Some(stored) => stored.policy.health.bake,
            None => BakePolicy::default(),
        };
        if !policy.enabled {
            let record = effects::update(self.store, &key, |d| {
                Ok(stop(
                    d,
                    event.step,
                    now,
                    "the bake was turned off in the policy",
                ))
            })
            .await?;
            info!(job = %key.job_id, "bake stopped: turned off in the policy");
            effects::flush(self.store, self.publisher, &record, OWNER_HEALTH).await?;
            return Ok(StepResult::Finished(BakeOutcome::Superseded));
        }
        let baseline = match &bake.baseline {
            Some(_) => None,
            None => Some(self.baseline(&key.app_id, &bake).await?),
        };
        let mut reasons = Vec::new();
        let figures = match self.metrics.hosting_figures(&key.app_id, from, to).await {
            Ok(f) => Some(f),
            Err(MetricsError::Rejected(why)) => {
                reasons.push(format!("metrics unreadable: {why}"));
                None
            }
            Err(e) => return Err(e.into()),
        };
        let alarms = if policy.alarms.is_empty() {
            Vec::new()
        } else {
            match self.metrics.alarm_states(&policy.alarms).await {
                Ok(states) => states,
                Err(MetricsError::Rejected(why)) => {
                    reasons.push(format!("alarms unreadable: {why}"));
                    Vec::new()
                }
                Err(e) => return Err(e.into()),
            }
        };
        let baseline = match (&bake.baseline, baseline) {
            (Some(b), _) => b.clone(),
            // With the first step's alarms: the states already theirs at
            // the deploy are what later steps compare with.
            (None, Some(b)) => Baseline {
                alarms: analysis::alarms_at_deploy(
                    &alarms,
                    bake.deployed_at.unwrap_or(bake.started_at),
                ),
                ..b
            },
            (None, None) => Baseline::default(),
        };
        let limits = analysis::limits(&policy, &baseline);
        let (outcome, mut why) = analysis::judge(
            &policy,
            &limits,
            figures.as_ref(),
            &alarms,
            &baseline.alarms,
        );
        let outcome = match (outcome, reasons.is_empty()) {
            (crate::core::bake::StepOutcome::Passed, false) => {
                crate::core::bake::StepOutcome::Inconclusive
            }
            (o, _) => o,
        };
        why.extend(reasons);
        info!(job = %key.job_id, step = event.step, ?outcome, reasons = ?why, "bake step");
        let step = BakeStep {
            step: event.step,
            from,
            to,
            figures: figures.unwrap_or_default(),
            outcome,
            reasons: why,
        };
        let console_url = analysis::console_url(
            self.region,
            key.app_id.as_str(),
            &(bake.started_at - Duration::minutes(i64::from(bake.interval_minutes) * 2))
                .to_rfc3339(),
            &(bake.started_at
                + Duration::minutes(i64::from(bake.interval_minutes * bake.steps_total) + 5))
            .to_rfc3339(),
        );
        let record = effects::update(self.store, &key, |d| {
            Ok(record_step(d, &policy, &step, &baseline, &console_url, now))
        })
        .await?;
        let Some(bake) = record.bake.clone() else {
            return Err(Error::DeadLetter(
                "the bake vanished from the record".into(),
            ));
        };
        if bake.outcome == Some(BakeOutcome::Passed) {
            self.store
                .advance_pointer(
                    &key,
                    record.details.commit_id.as_deref(),
                    BranchPointer::LastKnownGood,
                )
                .await?;
        }
        effects::flush(self.store, self.publisher, &record, OWNER_HEALTH).await?;
        match bake.outcome {
            Some(o) => Ok(StepResult::Finished(o)),
            None => {
                if bake.steps.len() as u32 == event.step {
                    self.send(&key, event.step + 1, &bake, now).await?;
                }
                Ok(StepResult::Judged(outcome))
            }
        }
    }

    /// The two baseline windows: the bake's length before the deploy, and
    /// the same hours a week earlier. A window CloudWatch refuses to read
    /// counts as one without data.
    async fn baseline(&self, app: &AppId, bake: &BakeRecord) -> Result<Baseline, Error> {
        let length = Duration::minutes(i64::from(bake.interval_minutes * bake.steps_total));
        let until = bake.baseline_until();
        let week = Duration::days(7);
        let read = async |from: DateTime<Utc>, to: DateTime<Utc>| -> Result<Figures, Error> {
            match self.metrics.hosting_figures(app, from, to).await {
                Ok(f) => Ok(f),
                Err(MetricsError::Rejected(_)) => Ok(Figures::default()),
                Err(e) => Err(e.into()),
            }
        };
        Ok(Baseline {
            before_deploy: read(until - length, until).await?,
            week_ago: read(bake.started_at - week, bake.started_at - week + length).await?,
            alarms: Vec::new(),
        })
    }

    /// Sends step `step`, to be delivered once its window settled.
    async fn send(
        &self,
        key: &DeploymentKey,
        step: u32,
        bake: &BakeRecord,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let (_, to) = bake.window(step);
        let delay = (to + Duration::seconds(SETTLE_SECONDS) - now)
            .num_seconds()
            .clamp(0, MAX_DELAY_SECONDS) as u32;
        let body = BakeStepEvent {
            app_id: key.app_id.clone(),
            branch_name: key.branch_name.clone(),
            job_id: key.job_id,
            step,
        }
        .to_body();
        self.steps
            .schedule(&body, delay)
            .await
            .map_err(|e: PublishError| Error::Publish(e))
    }
}

/// Records step `step` if it is the next one; ends the bake when the rules
/// say so, with its event in the outbox.
fn record_step(
    d: &mut Deployment,
    policy: &BakePolicy,
    step: &BakeStep,
    baseline: &Baseline,
    console_url: &str,
    now: DateTime<Utc>,
) -> bool {
    let Some(bake) = d.bake.as_mut() else {
        return false;
    };
    if !bake.running() || bake.steps.len() as u32 + 1 != step.step {
        return false;
    }
    bake.baseline.get_or_insert_with(|| baseline.clone());
    if bake.console_url.is_empty() {
        bake.console_url = console_url.to_owned();
    }
    bake.steps.push(step.clone());
    if let Some((outcome, reason)) = analysis::outcome(policy, bake) {
        bake.outcome = Some(outcome);
        bake.reason = Some(crate::core::budget::truncate_to(
            &reason,
            crate::core::budget::REASON,
        ));
        bake.decided_at = Some(now);
        let evidence = analysis::evidence(policy, bake);
        queue_bake_event(d, outcome, &reason, evidence);
    }
    true
}

/// Ends a bake without a verdict (no event: nothing was judged).
fn stop(d: &mut Deployment, step: u32, now: DateTime<Utc>, why: &str) -> bool {
    let Some(bake) = d.bake.as_mut() else {
        return false;
    };
    if !bake.running() || bake.steps.len() as u32 + 1 != step {
        return false;
    }
    bake.outcome = Some(BakeOutcome::Superseded);
    bake.reason = Some(why.to_owned());
    bake.decided_at = Some(now);
    true
}

/// The alert's text of a bake's figures: before and after.
pub fn figures_text(e: &crate::core::bake::BakeEvidence) -> String {
    let line = |f: &Figures| {
        format!(
            "{} 5xx, p90 {}, {} requests",
            f.error_rate()
                .map_or_else(|| "–".to_owned(), analysis::percent),
            f.p90_latency_ms
                .map_or_else(|| "–".to_owned(), |p| format!("{p} ms")),
            f.requests
        )
    };
    format!("before: {}; after: {}", line(&e.before), line(&e.after))
}

pub(super) fn queue_bake_event(
    d: &mut Deployment,
    outcome: BakeOutcome,
    reason: &str,
    evidence: crate::core::bake::BakeEvidence,
) {
    let verdict = match outcome {
        BakeOutcome::Passed => Verdict::Healthy,
        BakeOutcome::Failed => Verdict::Unhealthy,
        BakeOutcome::Inconclusive | BakeOutcome::Superseded => Verdict::Inconclusive,
    };
    let reason = format!("{reason} — {}", figures_text(&evidence));
    let event = HealthEvent {
        event_id: d.key.event_id("bake"),
        environment: d.environment,
        app_id: d.key.app_id.clone(),
        branch_name: d.key.branch_name.clone(),
        job_id: d.key.job_id,
        commit_id: d.details.commit_id.clone(),
        verdict,
        reason: crate::core::budget::truncate_to(&reason, crate::core::budget::REASON),
        url: d.health.as_ref().map(|h| h.url.clone()).unwrap_or_default(),
        endpoints: Vec::new(),
        is_rollback: d.is_rollback(),
        rollback_of: d.rollback_of,
        scheduled: false,
        rollback_allowed: outcome == BakeOutcome::Failed,
        bake: Some(evidence),
    };
    if let Some(entry) = event.to_outbox(d.event_ids.len() as u64 + 400) {
        d.outbox.insert(entry.id.clone(), entry);
    }
}
