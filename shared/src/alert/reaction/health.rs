//! The alerts of a deploy's health: unhealthy (after the deploy, on a
//! scheduled check, or by its bake) and inconclusive (the probes, or the
//! bake's traffic, could not judge it).

use super::alerter::{AlertOutcome, Alerter};
use super::context::plain;
use crate::alert::message::Context;
use crate::alert::{Severity, Signal};
use crate::core::error::Error;
use crate::core::events::{HealthEvent, detail_type as dt};
use crate::ports::Stack;

impl<K: Stack> Alerter<'_, K> {
    pub(super) async fn on_unhealthy(&self, e: HealthEvent) -> Result<AlertOutcome, Error> {
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
    pub(super) async fn on_inconclusive(&self, e: HealthEvent) -> Result<AlertOutcome, Error> {
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
}

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
