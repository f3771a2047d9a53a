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
//! Here: what the alerter takes and the dispatch of each event. Beside it:
//! the alerter itself (`alerter`), what every alert starts from (`context`),
//! a failed build's and a failed stack operation's diagnosis (`diagnosis`,
//! `stack`), a deploy's health (`health`), what Sentinel did or would have
//! done (`actions`), reported deploys (`report`), and the once-only sending
//! (`delivery`).

mod actions;
mod alerter;
mod context;
mod delivery;
mod diagnosis;
mod health;
mod report;
mod stack;
#[cfg(test)]
mod stack_tests;

pub use alerter::{AlertOutcome, Alerter};

use crate::alert::{Severity, Signal};
use crate::core::error::Error;
use crate::core::events::{
    AlertTestEvent, BuildEvent, DegradationEvent, Envelope, HealthEvent, detail_type as dt,
};
use crate::ports::Stack;
use context::plain;

// What the tests (`use super::*`) name through this module.
#[cfg(test)]
use crate::core::model::{Environment, JobId};

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
}

#[cfg(test)]
mod tests;
