//! What Sentinel has written to GitHub for one job: the ids of the objects
//! it created there and a fingerprint of what it last applied to each, so
//! that a reconciliation writes only what differs; what the job was
//! replaced by (a rollback); and the short lease that keeps two
//! reconcilers of one job from writing at once. Pure: stored by
//! `ports::GitHubStateStore`.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::core::deployment::DeploymentKey;
use crate::core::model::JobId;
use crate::github::api::{CommitInfo, DeploymentState};

/// How long a reconciler holds a job: longer than its GitHub calls take
/// (each bounded by the client's timeout), short enough that a crashed
/// holder delays the next one by a minute at most.
pub const LEASE: Duration = Duration::seconds(60);

/// The GitHub state item of one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitHubState {
    pub key: DeploymentKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_run_id: Option<u64>,
    /// Fingerprint of the check run (or, with a token, the commit status)
    /// last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_applied: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<u64>,
    /// The state of the last deployment status posted: a status is never
    /// posted that goes back from it ([`goes_back`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_state: Option<DeploymentState>,
    /// Fingerprint of the last deployment status posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_applied: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_applied: Option<String>,
    /// The rollback job that replaced this job's deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<JobId>,
    /// The job that rollback rebuilt ("Rolled back to job N").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_to: Option<JobId>,
    /// The commit's author, read once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<CommitInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub version: u64,
}

crate::core::version::versioned!(GitHubState);

impl GitHubState {
    pub fn new(key: DeploymentKey) -> Self {
        Self {
            key,
            check_run_id: None,
            check_applied: None,
            deployment_id: None,
            deployment_state: None,
            deployment_applied: None,
            comment_id: None,
            comment_applied: None,
            replaced_by: None,
            rolled_back_to: None,
            author: None,
            lease_owner: None,
            lease_until: None,
            version: 0,
        }
    }

    /// Whether another reconciler holds the job at `now`.
    pub fn leased_by_other(&self, owner: &str, now: DateTime<Utc>) -> bool {
        self.lease_owner.as_deref().is_some_and(|o| o != owner)
            && self.lease_until.is_some_and(|until| until > now)
    }
}

/// Where a deployment status stands: later ones never go back to earlier
/// ones (`in_progress` never follows `success`; nothing follows `inactive`).
fn rank(state: DeploymentState) -> u8 {
    match state {
        DeploymentState::Queued | DeploymentState::Pending => 0,
        DeploymentState::InProgress => 1,
        DeploymentState::Success | DeploymentState::Failure | DeploymentState::Error => 2,
        DeploymentState::Inactive => 3,
    }
}

/// Whether posting `next` after `last` would go backwards.
pub fn goes_back(last: Option<DeploymentState>, next: DeploymentState) -> bool {
    last.is_some_and(|last| rank(next) < rank(last) || last == DeploymentState::Inactive)
}

/// A stable fingerprint of what was applied (FNV-1a over its JSON): the
/// same desired object, the same text, whatever process computes it.
pub fn fingerprint<T: Serialize>(value: &T) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_statuses_never_go_back() {
        use DeploymentState::*;
        assert!(!goes_back(None, InProgress));
        assert!(!goes_back(Some(InProgress), Success));
        assert!(!goes_back(Some(Success), Failure));
        assert!(!goes_back(Some(Failure), Inactive));
        assert!(goes_back(Some(Success), InProgress));
        assert!(goes_back(Some(Inactive), Success));
        assert!(goes_back(Some(Inactive), Inactive));
    }

    #[test]
    fn fingerprints_are_stable_and_tell_changes() {
        assert_eq!(fingerprint(&"a"), fingerprint(&"a"));
        assert_ne!(fingerprint(&"a"), fingerprint(&"b"));
        // FNV-1a of `"a"` (its JSON): the same in every process and release.
        assert_eq!(fingerprint(&"a"), "d4272417d7c77eea");
    }
}
