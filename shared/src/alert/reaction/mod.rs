//! The alerter's reactions: diagnose a failed build (GetJob → the failed
//! step's log → the diagnosis engine), record it, publish "Build Diagnosed",
//! and alert; alert on validation failures, unhealthy deploys, rollbacks and
//! degradation; send a resolve notice when a branch recovers.
//!
//! Every message goes through the branch's alert state (`crate::alert`):
//! the conditional write that records the event also queues the message,
//! claimed by this invocation, before anything is published — so the same
//! event delivered twice (or concurrently) sends one message.
//!
//! Here: what the alerter takes, and what each event's alert says. Beside
//! it: the alerter itself (`alerter`), what every alert starts from
//! (`context`), a failed build's and a failed stack operation's diagnosis
//! (`diagnosis`, `stack`), reported deploys (`report`), and the once-only
//! sending (`delivery`).

mod alerter;
mod context;
mod delivery;
mod diagnosis;
mod report;
mod stack;
#[cfg(test)]
mod stack_tests;

pub use alerter::{AlertOutcome, Alerter};

use crate::alert::message::Context;
use crate::alert::{Severity, Signal};
use crate::core::enforcement::ObservedKind;
use crate::core::error::Error;
use crate::core::events::{
    AlertTestEvent, BuildEvent, DegradationEvent, Envelope, HealthEvent, ObservedEvent,
    RollbackEvent, ValidationEvent, detail_type as dt,
};
use crate::stack::Stack;
use context::plain;

// What the tests (`use super::*`) name through this module.
#[cfg(test)]
use crate::core::model::{Environment, JobId};

/// What every "would have" alert adds: how to let Sentinel act.
const OBSERVE_NOTE: &str = "Nothing was changed on Amplify. To let Sentinel act, set `enforcement: enforce` in this app's or branch's policy (`sentinel policy push`), or the stack's Enforcement parameter.";

/// Every detail type the alerter takes.
pub const ACCEPTED: &[&str] = &[
    dt::BUILD_FAILED,
    dt::BUILD_SUCCEEDED,
    dt::VALIDATION_FAILED,
    dt::DEPLOYMENT_UNHEALTHY,
    dt::DEPLOYMENT_HEALTHY,
    dt::DEPLOYMENT_CHECK_INCONCLUSIVE,
    dt::ROLLBACK_STARTED,
    dt::ROLLBACK_SUCCEEDED,
    dt::ROLLBACK_FAILED,
    dt::ROLLBACK_RECOMMENDED,
    dt::DEGRADATION_DETECTED,
    dt::ACTION_OBSERVED,
    dt::ALERT_TEST,
    dt::REPORT_CONFLICT,
    // No alert: GitHub only (`github::reaction::GITHUB_ONLY`), and only
    // when GitHub is on (the template's rule sends them then).
    dt::BUILD_STARTED,
    dt::BUILD_CANCELLED,
    dt::BUILD_SKIPPED,
];

/// The category (and SNS `category` attribute) of a test alert; its
/// headline starts with this marker, so the subject says it too.
pub const TEST_CATEGORY: &str = "test";
pub const TEST_MARKER: &str = "[test]";

impl<K: Stack> Alerter<'_, K> {
    /// Handles one domain event of the [`ACCEPTED`] types.
    pub async fn on_event(&self, envelope: &Envelope) -> Result<AlertOutcome, Error> {
        match envelope.detail_type.as_str() {
            t if crate::github::reaction::GITHUB_ONLY.contains(&t) => {
                // Checked, though only GitHub reads it: the job it names.
                let _: crate::github::reaction::JobRef = envelope.detail()?;
                Ok(AlertOutcome {
                    decision: "github-only".into(),
                    sent: 0,
                    category: None,
                })
            }
            dt::BUILD_FAILED => self.on_build_failed(&envelope.detail()?).await,
            dt::BUILD_SUCCEEDED => {
                let e: BuildEvent = envelope.detail()?;
                let ctx = self.context(
                    e.environment,
                    &e.app_id,
                    &e.branch_name,
                    Some(e.job_id),
                    e.commit_id,
                    e.commit_message,
                    None,
                );
                let content = plain(
                    dt::BUILD_SUCCEEDED,
                    "Build succeeded",
                    "resolved",
                    Severity::Info,
                    String::new(),
                );
                self.alert(
                    &e.event_id,
                    ctx,
                    content,
                    Signal::Recovery {
                        job: e.job_id,
                        healthy: false,
                    },
                    None,
                )
                .await
            }
            dt::DEPLOYMENT_HEALTHY => {
                let e: HealthEvent = envelope.detail()?;
                let ctx = self.context(
                    e.environment,
                    &e.app_id,
                    &e.branch_name,
                    Some(e.job_id),
                    e.commit_id,
                    None,
                    Some(e.url),
                );
                let content = plain(
                    dt::DEPLOYMENT_HEALTHY,
                    "Deployment healthy",
                    "resolved",
                    Severity::Info,
                    e.reason,
                );
                self.alert(
                    &e.event_id,
                    ctx,
                    content,
                    Signal::Recovery {
                        job: e.job_id,
                        healthy: true,
                    },
                    None,
                )
                .await
            }
            dt::DEPLOYMENT_UNHEALTHY => self.on_unhealthy(envelope.detail()?).await,
            dt::DEPLOYMENT_CHECK_INCONCLUSIVE => self.on_inconclusive(envelope.detail()?).await,
            dt::VALIDATION_FAILED => self.on_validation_failed(envelope.detail()?).await,
            dt::DEGRADATION_DETECTED => {
                let e: DegradationEvent = envelope.detail()?;
                let ctx = self.context(
                    e.environment,
                    &e.app_id,
                    &e.branch_name,
                    None,
                    None,
                    None,
                    None,
                );
                let mut content = plain(
                    dt::DEGRADATION_DETECTED,
                    "Degradation detected",
                    &e.condition,
                    Severity::Warning,
                    e.summary,
                );
                content.details = e.evidence;
                let signal = Signal::Failure {
                    key: format!("degradation:{}", e.condition),
                    job: None,
                    severity: Severity::Warning,
                };
                self.alert(&e.event_id, ctx, content, signal, None).await
            }
            dt::ACTION_OBSERVED => self.on_observed(envelope.detail()?).await,
            dt::ALERT_TEST => self.on_test(envelope.detail()?).await,
            dt::REPORT_CONFLICT => self.on_report_conflict(envelope.detail()?).await,
            rollback => self.on_rollback(rollback, envelope.detail()?).await,
        }
    }

    /// Observe mode: a rollback or retry that would have been started. A
    /// stop that would have happened is told by its "Validation Failed"
    /// alert, so that one failure makes one message.
    async fn on_observed(&self, e: ObservedEvent) -> Result<AlertOutcome, Error> {
        let headline = match e.action {
            ObservedKind::StopBuild => {
                return Ok(AlertOutcome {
                    decision: "told-by-validation-failed".into(),
                    sent: 0,
                    category: None,
                });
            }
            ObservedKind::Rollback => "Would have rolled back (observe mode)",
            ObservedKind::Retry => "Would have retried (observe mode)",
            ObservedKind::Skip => "Would have skipped this build (observe mode)",
        };
        let ctx = self.context(
            e.environment,
            &e.app_id,
            &e.branch_name,
            Some(e.job_id),
            e.commit_id.clone(),
            None,
            None,
        );
        let mut content = plain(
            dt::ACTION_OBSERVED,
            headline,
            "observed",
            Severity::Warning,
            format!("Job {}: Sentinel {}.", e.job_id, e.summary),
        );
        content.details.push(OBSERVE_NOTE.into());
        content.fix = e.command.clone().map(|c| format!("Run: {c}"));
        self.alert(
            &e.event_id,
            ctx,
            content,
            Signal::Notice {
                severity: Severity::Warning,
            },
            None,
        )
        .await
    }

    /// `sentinel alert test`: one notice through the real path (the branch's
    /// alert state, SNS, e-mail and Chatbot), marked as a test. A notice
    /// never opens, joins or resolves an incident.
    async fn on_test(&self, e: AlertTestEvent) -> Result<AlertOutcome, Error> {
        let ctx = self.context(
            e.environment,
            &e.app_id,
            &e.branch_name,
            None,
            None,
            None,
            None,
        );
        let mut content = plain(
            dt::ALERT_TEST,
            &format!("{TEST_MARKER} Test alert"),
            TEST_CATEGORY,
            Severity::Info,
            format!(
                "A test alert, sent by {} at {} with `sentinel alert test`: if you read this, \
                 Deploy Sentinel's alerts of {}/{} reach you here.",
                e.requested_by,
                e.requested_at.format("%Y-%m-%d %H:%M:%S UTC"),
                e.app_id,
                e.branch_name
            ),
        );
        content.details.push(
            "Nothing happened to this app or branch: a test opens no incident and no metric counts it."
                .into(),
        );
        self.alert(
            &e.event_id,
            ctx,
            content,
            Signal::Notice {
                severity: Severity::Info,
            },
            Some(TEST_CATEGORY.into()),
        )
        .await
    }

    async fn on_unhealthy(&self, e: HealthEvent) -> Result<AlertOutcome, Error> {
        let ctx = self.context(
            e.environment,
            &e.app_id,
            &e.branch_name,
            Some(e.job_id),
            e.commit_id.clone(),
            None,
            Some(e.url.clone()),
        );
        let what = if e.bake.is_some() {
            "its bake (the site's real traffic, after its probes passed)"
        } else if e.scheduled {
            "the scheduled check of the live deployment"
        } else {
            "the check after the deploy"
        };
        let mut content = plain(
            dt::DEPLOYMENT_UNHEALTHY,
            if e.is_rollback {
                "Rollback deployment unhealthy"
            } else {
                "Deployment unhealthy"
            },
            "unhealthy",
            Severity::Critical,
            format!("Job {} at {} failed {what}: {}", e.job_id, e.url, e.reason),
        );
        content.details = endpoint_lines(&e.endpoints);
        if let Some(bake) = &e.bake {
            content.details.extend(bake_details(bake));
        }
        if e.app_id.source() == crate::core::model::Source::Report && !e.scheduled {
            content.details.push(
                "Sentinel cannot roll back a reported service: its deploy script restores the previous release when `sentinel report --wait` exits 1 (a \"Rollback Recommended\" follows).".into(),
            );
        } else if e.rollback_allowed {
            content
                .details
                .push("An automatic rollback may follow, as the policy allows (in observe mode, a message says what it would have been).".into());
        }
        let signal = Signal::Failure {
            key: "unhealthy".into(),
            job: Some(e.job_id),
            severity: Severity::Critical,
        };
        self.alert(&e.event_id, ctx, content, signal, None).await
    }

    /// An inconclusive verdict: the site could not be judged, so nothing
    /// was rolled back, and a person is told why (the verdict's reason).
    /// A bake (too little traffic, missing datapoints, an alarm without
    /// data) and a probe check (an address the outbound rules refuse, a
    /// site that cannot be reached, the deadline) each open their own
    /// incident, grouped and repeated as the alert policy says.
    async fn on_inconclusive(&self, e: HealthEvent) -> Result<AlertOutcome, Error> {
        let ctx = self.context(
            e.environment,
            &e.app_id,
            &e.branch_name,
            Some(e.job_id),
            e.commit_id.clone(),
            None,
            Some(e.url.clone()),
        );
        let Some(bake) = &e.bake else {
            return self.on_check_inconclusive(e, ctx).await;
        };
        let mut content = plain(
            dt::DEPLOYMENT_CHECK_INCONCLUSIVE,
            "Bake inconclusive: look at the deploy's traffic",
            "inconclusive",
            Severity::Warning,
            format!(
                "Job {} could not be judged by its traffic, so it was not rolled back: {}",
                e.job_id, e.reason
            ),
        );
        content.details = bake_details(bake);
        let signal = Signal::Failure {
            key: "bake-inconclusive".into(),
            job: Some(e.job_id),
            severity: Severity::Warning,
        };
        self.alert(&e.event_id, ctx, content, signal, None).await
    }

    /// The probes' inconclusive verdict (the check after the deploy, or a
    /// scheduled one's change to inconclusive).
    async fn on_check_inconclusive(
        &self,
        e: HealthEvent,
        ctx: Context,
    ) -> Result<AlertOutcome, Error> {
        let what = if e.scheduled {
            "the scheduled check of the live deployment"
        } else {
            "the check after the deploy"
        };
        let mut content = plain(
            dt::DEPLOYMENT_CHECK_INCONCLUSIVE,
            if e.scheduled {
                "Live check inconclusive: the site could not be judged"
            } else {
                "Deployment check inconclusive: the site could not be judged"
            },
            "inconclusive",
            Severity::Warning,
            format!(
                "Job {} at {} could not be judged by {what}, so nothing was rolled back: {}",
                e.job_id, e.url, e.reason
            ),
        );
        content.details = endpoint_lines(&e.endpoints);
        if e.app_id.source() == crate::core::model::Source::Report && !e.scheduled {
            content.details.push(
                "`sentinel report --wait` exited 3: the deploy script decides what an unjudged deploy means.".into(),
            );
        }
        content.fix = Some(
            "Make sure the health checker may and can reach the site: an https URL on a public address, \
             answering within the policy's timeout (`sentinel check URL` runs the same check); \
             a reason starting \"not checked: refused\" names the outbound rule that refused it."
                .into(),
        );
        let signal = Signal::Failure {
            key: "inconclusive".into(),
            job: Some(e.job_id),
            severity: Severity::Warning,
        };
        self.alert(&e.event_id, ctx, content, signal, None).await
    }

    async fn on_validation_failed(&self, e: ValidationEvent) -> Result<AlertOutcome, Error> {
        let ctx = self.context(
            e.environment,
            &e.app_id,
            &e.branch_name,
            Some(e.job_id),
            e.commit_id.clone(),
            None,
            None,
        );
        let stopped = if e.stop_requested {
            " The build was stopped."
        } else if e.would_stop {
            " Observe mode: Sentinel would have stopped this build; it was not stopped."
        } else {
            ""
        };
        let mut content = plain(
            dt::VALIDATION_FAILED,
            "Validation failed",
            "validation",
            Severity::Warning,
            format!(
                "Job {}: {} error(s), {} warning(s) in the build's configuration (policy: {}).{stopped}",
                e.job_id, e.errors, e.warnings, e.policy
            ),
        );
        content.details = e
            .findings
            .iter()
            .map(|f| {
                format!(
                    "[{:?}] {}{}: {} Fix: {}",
                    f.severity,
                    f.rule,
                    f.location
                        .as_deref()
                        .map_or(String::new(), |l| format!(" ({l})")),
                    f.message,
                    f.fix
                )
            })
            .collect();
        content.fix = e.findings.first().map(|f| f.fix.clone());
        if e.would_stop {
            content.details.push(OBSERVE_NOTE.into());
        }
        let signal = Signal::Failure {
            key: "validation".into(),
            job: Some(e.job_id),
            severity: Severity::Warning,
        };
        self.alert(&e.event_id, ctx, content, signal, None).await
    }

    async fn on_rollback(
        &self,
        detail_type: &str,
        e: RollbackEvent,
    ) -> Result<AlertOutcome, Error> {
        let (headline, severity) = match detail_type {
            dt::ROLLBACK_STARTED => ("Rollback started", Severity::Warning),
            dt::ROLLBACK_SUCCEEDED => ("Rollback succeeded", Severity::Info),
            dt::ROLLBACK_FAILED => ("Rollback failed", Severity::Critical),
            _ => ("Rollback recommended", Severity::Warning),
        };
        let job = e.rollback_job_id.or(e.from_job_id);
        let ctx = self.context(
            e.environment,
            &e.app_id,
            &e.branch_name,
            job,
            e.target_commit_id.clone(),
            None,
            None,
        );
        let target = match (e.target_job_id, e.target_commit_id.as_deref()) {
            (Some(j), Some(c)) => format!(" to job {j} (commit {})", &c[..c.len().min(12)]),
            (Some(j), None) => format!(" to job {j}"),
            _ => String::new(),
        };
        let mut content = plain(
            detail_type,
            headline,
            "rollback",
            severity,
            format!("{headline}{target}: {}", e.reason),
        );
        if let Some(by) = &e.requested_by {
            content.details.push(format!("Requested by {by}."));
        }
        if let Some(secs) = e.time_to_restore_seconds {
            content.details.push(format!("Time to restore: {secs} s."));
        }
        content.fix = e.command.clone().map(|c| format!("Run: {c}"));
        self.alert(&e.event_id, ctx, content, Signal::Notice { severity }, None)
            .await
    }
}

#[cfg(test)]
mod tests;

/// The alert's line per endpoint checked: its last answer and why it failed.
fn endpoint_lines(endpoints: &[crate::core::verdicts::EndpointReport]) -> Vec<String> {
    endpoints
        .iter()
        .map(|p| {
            format!(
                "{} -> {:?}{}{} after {} attempt(s), p95 {} ms",
                p.url,
                p.verdict,
                p.last_status
                    .map_or(String::new(), |s| format!(" (HTTP {s})")),
                p.reason
                    .as_deref()
                    .map_or(String::new(), |r| format!(": {r}")),
                p.attempts,
                p.p95_ms
            )
        })
        .collect()
}

/// The alert's lines of a bake: the figures before and after, the failed
/// intervals, and the metrics in the console.
fn bake_details(b: &crate::core::bake::BakeEvidence) -> Vec<String> {
    let mut lines = vec![format!(
        "Bake: {} of {} intervals judged; {}",
        b.steps_judged,
        b.steps_total,
        crate::health::bake::reaction::figures_text(b)
    )];
    lines.extend(
        b.failed_intervals
            .iter()
            .map(|i| format!("Failed interval {i}")),
    );
    lines.push(format!("Metrics: {}", b.console_url));
    lines
}
