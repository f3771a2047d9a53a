//! The alerts of what Sentinel did, or in observe mode would have done, to
//! a build: a validation failure (and the stop), a rollback started,
//! succeeded, failed or recommended, and observe mode's "would have".

use super::alerter::{AlertOutcome, Alerter};
use super::context::plain;
use crate::alert::{Severity, Signal};
use crate::core::enforcement::ObservedKind;
use crate::core::error::Error;
use crate::core::events::{ObservedEvent, RollbackEvent, ValidationEvent, detail_type as dt};
use crate::ports::Stack;

/// What every "would have" alert adds: how to let Sentinel act.
const OBSERVE_NOTE: &str = "Nothing was changed on Amplify. To let Sentinel act, set `enforcement: enforce` in this app's or branch's policy (`sentinel policy push`), or the stack's Enforcement parameter.";

impl<K: Stack> Alerter<'_, K> {
    /// Observe mode: a rollback or retry that would have been started. A
    /// stop that would have happened is told by its "Validation Failed"
    /// alert, so that one failure makes one message.
    pub(super) async fn on_observed(&self, e: ObservedEvent) -> Result<AlertOutcome, Error> {
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

    pub(super) async fn on_validation_failed(
        &self,
        e: ValidationEvent,
    ) -> Result<AlertOutcome, Error> {
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

    pub(super) async fn on_rollback(
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
