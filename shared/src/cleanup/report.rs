//! The report of one cleanup run: counts per kind of change, published as
//! "Cleanup Completed" and emitted as metrics.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::plan::{Change, ChangeKind, Plan};
use crate::core::model::Environment;
use crate::metrics::emf::{self, Unit};

/// Who publishes "Cleanup Completed".
pub const OWNER_CLEANUP: &str = "cleanup";
pub const CLEANUP_COMPLETED: &str = "Cleanup Completed";

/// Counts per kind of change of one run: the detail of "Cleanup Completed".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub event_id: String,
    pub environment: Option<Environment>,
    pub dry_run: bool,
    pub items_scanned: usize,
    pub deployments_expired: usize,
    pub protected_kept: usize,
    pub expiry_extended: usize,
    pub deleted_branch_state: usize,
    pub alert_states_expired: usize,
    pub claims_expired: usize,
    pub snapshots_expired: usize,
    pub stuck_reconciled: usize,
    pub stuck_still_running: usize,
    pub timed_out: usize,
    pub missed_ingested: usize,
    /// Bakes still running past their end, ended inconclusive (alerted).
    #[serde(default)]
    pub bakes_concluded: usize,
    /// Every change, for `--dry-run` and the logs (not in the event).
    #[serde(skip)]
    pub changes: Vec<Change>,
    /// Reconciliations, as `app/branch/job: what` (not in the event).
    #[serde(skip)]
    pub reconciled: Vec<String>,
}

impl Report {
    /// Counts the plan's changes and keeps them (the reaction's part).
    pub(super) fn count(&mut self, plan: &Plan) {
        for c in &plan.changes {
            match c.action {
                ChangeKind::DeleteExpiredDeployment => self.deployments_expired += 1,
                ChangeKind::DeleteDeletedBranchState => self.deleted_branch_state += 1,
                ChangeKind::DeleteExpiredAlertState => self.alert_states_expired += 1,
                ChangeKind::DeleteExpiredClaim => self.claims_expired += 1,
                ChangeKind::DeleteExpiredSnapshot => self.snapshots_expired += 1,
                ChangeKind::ExtendExpiry => self.expiry_extended += 1,
            }
        }
        self.protected_kept = plan.protected_kept;
        self.changes = plan.changes.clone();
    }

    /// Whether the run changed (or would change) anything.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.stuck_reconciled + self.timed_out + self.missed_ingested + self.bakes_concluded
                == 0
    }

    /// The counts with every change and reconciliation: what the CLI's
    /// `--json` and a direct invocation answer (the event carries the counts
    /// only).
    pub fn detailed_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["changes"] = serde_json::to_value(&self.changes).unwrap_or_default();
        v["reconciled"] = serde_json::json!(self.reconciled);
        v
    }

    /// The counts as one EMF line.
    pub fn emf_line(&self, namespace: &str, now: DateTime<Utc>) -> String {
        let env = self.environment.map(|e| e.as_str()).unwrap_or("unknown");
        let c = |n: usize| n as f64;
        emf::line(
            namespace,
            &[("Environment", env)],
            &[&["Environment"]],
            &[
                (
                    "CleanupDeploymentsExpired",
                    c(self.deployments_expired),
                    Unit::Count,
                ),
                ("CleanupProtectedKept", c(self.protected_kept), Unit::Count),
                (
                    "CleanupBranchStateRemoved",
                    c(self.deleted_branch_state),
                    Unit::Count,
                ),
                (
                    "CleanupIdempotencyExpired",
                    c(self.claims_expired + self.alert_states_expired),
                    Unit::Count,
                ),
                (
                    "CleanupSnapshotsExpired",
                    c(self.snapshots_expired),
                    Unit::Count,
                ),
                (
                    "ReconciledJobs",
                    c(self.stuck_reconciled + self.missed_ingested),
                    Unit::Count,
                ),
                ("TimedOutJobs", c(self.timed_out), Unit::Count),
            ],
            &[("eventId", serde_json::json!(self.event_id))],
            now,
        )
    }
}
