//! What only reported deploys (`sentinel report`) are alerted for: two
//! terminal reports of one deploy that disagree ("Report Conflict").

use crate::alert::{Severity, Signal};
use crate::core::error::Error;
use crate::core::events::{ReportConflictEvent, detail_type as dt};

use super::alerter::{AlertOutcome, Alerter};
use super::context::plain;

/// The alert's category (and SNS `category` attribute).
pub const REPORT_CONFLICT_CATEGORY: &str = "report-conflict";

impl<K: crate::stack::Stack> Alerter<'_, K> {
    /// A notice: the deploy's own alerts (failed, unhealthy) follow from
    /// its record; this one says that two reports disagreed, so that the
    /// verdict a deploy script acted on can be checked.
    pub(super) async fn on_report_conflict(
        &self,
        e: ReportConflictEvent,
    ) -> Result<AlertOutcome, Error> {
        let ctx = self.context(
            e.environment,
            &e.app_id,
            &e.branch_name,
            Some(e.job_id),
            None,
            None,
            None,
        );
        let mut content = plain(
            dt::REPORT_CONFLICT,
            "Conflicting reports of one deploy",
            REPORT_CONFLICT_CATEGORY,
            Severity::Warning,
            format!(
                "Deploy {} was reported as {}, and again as {}.",
                e.job_id, e.recorded, e.reported
            ),
        );
        content.details.push(format!("Sentinel keeps {}.", e.kept));
        content.fix = Some(
            "Check which pipeline or script sent each report: one deploy id must belong to one deploy (docs/reporting.md, \"The deploy id\"), and only the service's own CI role may report it (its sentinel-service tag)."
                .into(),
        );
        self.alert(
            &e.event_id,
            ctx,
            content,
            Signal::Notice {
                severity: Severity::Warning,
            },
            Some(REPORT_CONFLICT_CATEGORY.into()),
        )
        .await
    }
}
