//! The `alerts` section of a policy (`docs/policy.md`): how repeats group
//! into one incident and how often anyone is reminded. Defaults follow
//! Alertmanager's (`repeat_interval: 4h`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertPolicy {
    /// A repeat of an open incident's failure within this many minutes of
    /// its last occurrence joins it; later, it opens a new incident.
    pub group_window_minutes: u64,
    /// At most one reminder per incident per this many minutes.
    pub repeat_interval_minutes: u64,
    /// At most this many messages per branch per hour (a flapping branch);
    /// critical ones (a deploy unhealthy, a rollback failed) always go.
    pub max_messages_per_hour: usize,
    /// Send a notice when an incident is resolved.
    pub send_resolved: bool,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            group_window_minutes: 24 * 60,
            repeat_interval_minutes: 4 * 60,
            max_messages_per_hour: 6,
            send_resolved: true,
        }
    }
}
