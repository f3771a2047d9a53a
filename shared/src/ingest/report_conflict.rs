//! Two terminal reports of one deploy that disagree: `succeeded` and
//! `failed`, or the same status with another commit, URL or version (two
//! pipelines sharing a deploy id, a script that reported twice, a reporter
//! of the same service that should not have). The record still resolves as
//! `docs/events.md` says; what is decided here is that it is said:
//! a "Report Conflict" goes in the record's outbox for the alerter.
//! Pure: the ingest reaction calls [`detect`] before it merges the report.

use crate::core::deployment::Deployment;
use crate::core::events::{OWNER_INGEST, ReportConflictEvent, detail_type};
use crate::core::outbox::OutboxEntry;
use crate::ingest::report_event::{ReportEvent, ReportStatus};

/// A report that conflicts with its record, ready to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub event: ReportConflictEvent,
}

impl Conflict {
    /// Queues the "Report Conflict" on `record` and remembers it, so that a
    /// redelivery of the same report adds nothing; false when it already was.
    pub fn record(&self, record: &mut Deployment) -> bool {
        if !record.event_ids.insert(self.event.event_id.clone()) {
            return false;
        }
        let Ok(detail) = serde_json::to_string(&self.event) else {
            return false;
        };
        let entry = OutboxEntry {
            id: self.event.event_id.clone(),
            seq: record.event_ids.len() as u64,
            owner: OWNER_INGEST.to_owned(),
            detail_type: detail_type::REPORT_CONFLICT.to_owned(),
            detail,
        };
        record.outbox.insert(entry.id.clone(), entry);
        true
    }
}

/// The conflict `report` makes with `record` as it stands before the report
/// is merged, if any.
pub fn detect(record: &Deployment, report: &ReportEvent) -> Option<Conflict> {
    let other = match report.status {
        ReportStatus::Started => return None,
        ReportStatus::Succeeded => ReportStatus::Failed,
        ReportStatus::Failed => ReportStatus::Succeeded,
    };
    let id = |s: ReportStatus| record.key.event_id(&format!("report-{}", s.as_str()));
    let reported = describe(
        report.status,
        Some(&report.commit),
        report.reported.url.as_deref(),
        report.reported.version.as_deref(),
    );
    let recorded_as = |status: ReportStatus| {
        let r = record.reported.clone().unwrap_or_default();
        describe(
            status,
            record.details.commit_id.as_deref(),
            r.url.as_deref(),
            r.version.as_deref(),
        )
    };
    let (recorded, kept) = match (record.has_seen(&id(report.status)), record.has_seen(&id(other))) {
        // A new terminal status after the other one.
        (false, true) => (
            recorded_as(other),
            "the status reported with the latest reportedAt (a tie: failed); both stay in the deploy's history".to_owned(),
        ),
        // The same status again: a redelivery, or a report that says
        // something else under the same deploy id.
        (true, false) => {
            let r = record.reported.clone().unwrap_or_default();
            let differs = |new: Option<&str>, old: Option<&str>| new.is_some() && new != old;
            let same = !differs(Some(&report.commit), record.details.commit_id.as_deref())
                && !differs(report.reported.url.as_deref(), r.url.as_deref())
                && !differs(report.reported.version.as_deref(), r.version.as_deref());
            if same {
                return None;
            }
            (
                recorded_as(report.status),
                "the first report's commit, URL and version; this report changed nothing".to_owned(),
            )
        }
        // Nothing terminal yet; or both statuses already (alerted when the
        // second came; the record's values are then the last one merged, so
        // a redelivery cannot be told from a change).
        (false, false) | (true, true) => return None,
    };
    let digest = fnv1a(reported.as_bytes());
    Some(Conflict {
        event: ReportConflictEvent {
            event_id: record
                .key
                .event_id(&format!("report-conflict-{digest:016x}")),
            environment: record.environment,
            app_id: record.key.app_id.clone(),
            branch_name: record.key.branch_name.clone(),
            job_id: record.key.job_id,
            recorded,
            reported,
            kept,
        },
    })
}

fn describe(
    status: ReportStatus,
    commit: Option<&str>,
    url: Option<&str>,
    version: Option<&str>,
) -> String {
    let mut out = status.as_str().to_owned();
    for (name, value) in [("commit", commit), ("URL", url), ("version", version)] {
        if let Some(v) = value {
            out.push_str(&format!(", {name} {v}"));
        }
    }
    out
}

/// A stable digest (FNV-1a, 64 bits) of what a conflicting report said: the
/// same report delivered again gets the same event id. Not a security
/// measure: ids only de-duplicate.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
