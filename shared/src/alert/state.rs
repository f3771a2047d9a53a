//! Alerting without noise: a branch's alert state (its open incidents, the
//! events already handled, the messages recently sent, the messages waiting
//! to be sent) and the pure decisions over it. One item per branch, written
//! with a version condition, so one conditional write decides both "is this
//! event new?" and "does it send a message?" before anything is published.
//!
//! - A failure opens an incident keyed by its kind (`build:{category}`,
//!   `validation`, `unhealthy`, `inconclusive`, `bake-inconclusive`,
//!   `degradation:{condition}`) and sends one alert.
//! - A repeat within the group window joins it (its count grows); a
//!   reminder goes at most once per repeat interval.
//! - A build success resolves `build:*` and `validation`; a healthy verdict
//!   resolves `unhealthy` and `inconclusive` — one resolve notice with the
//!   time to restore.
//! - A failure older than the branch's last success is stale: no alert.
//! - At most `max_messages_per_hour` per branch (critical ones excepted);
//!   what was held back is counted in the next message.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use super::message::Notification;
pub use super::policy::AlertPolicy;
use crate::core::model::{AppId, BranchName, Environment, JobId};

/// Event ids remembered per branch for de-duplication.
const RECENT_EVENTS: usize = 256;
/// Resolved incidents kept per branch (for `sentinel` and the metrics).
const RESOLVED_KEPT: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    /// The id of the event that opened it.
    pub id: String,
    pub key: String,
    pub severity: Severity,
    pub opened_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_job: Option<JobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_job: Option<JobId>,
    pub last_notified_at: DateTime<Utc>,
    #[serde(default)]
    pub reminders: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by_job: Option<JobId>,
}

impl Incident {
    /// From the first failure to the resolution.
    pub fn time_to_restore(&self) -> Option<Duration> {
        self.resolved_at.map(|r| r - self.opened_at)
    }
}

/// A message waiting to be published, claimed by the invocation publishing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    pub notification: Notification,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_until: Option<DateTime<Utc>>,
    /// Which delivery claimed it: a delivery whose claiming write took effect
    /// but whose answer was lost finds its own claim on re-reading, and
    /// sends the message instead of taking it for another delivery's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
}

/// One branch's alerting state (item `BRANCH#{app}#{branch}` / `ALERTS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertState {
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub environment: Environment,
    #[serde(default)]
    pub version: u64,
    #[serde(default)]
    pub open: BTreeMap<String, Incident>,
    #[serde(default)]
    pub resolved: Vec<Incident>,
    #[serde(default)]
    pub recent_events: VecDeque<String>,
    #[serde(default)]
    pub sent_at: VecDeque<DateTime<Utc>>,
    #[serde(default)]
    pub suppressed: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_job: Option<JobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_healthy_job: Option<JobId>,
    #[serde(default)]
    pub outbox: BTreeMap<String, Pending>,
}

/// What an event means for alerting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Opens or joins the incident `key`.
    Failure {
        key: String,
        job: Option<JobId>,
        severity: Severity,
    },
    /// A build succeeded (`healthy: false`) or a deploy was verified healthy.
    Recovery { job: JobId, healthy: bool },
    /// A one-off notice (a rollback's progress).
    Notice { severity: Severity },
}

/// What the state decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The event was handled before.
    Duplicate,
    /// A failure older than the branch's last success or healthy verdict.
    Stale,
    Opened(Incident),
    /// A repeat joined the open incident, and a reminder is due.
    Reminder(Incident),
    /// A repeat joined the open incident; no message.
    Joined(Incident),
    Resolved(Vec<Incident>),
    /// A recovery with nothing open.
    NothingOpen,
    Notice,
}

impl Decision {
    /// Whether the decision calls for a message.
    pub fn sends(&self) -> bool {
        matches!(
            self,
            Self::Opened(_) | Self::Reminder(_) | Self::Resolved(_) | Self::Notice
        )
    }
}

/// Which incidents a recovery resolves.
fn resolves(key: &str, healthy: bool) -> bool {
    if healthy {
        // A site judged healthy again: down, or not judgeable, no longer.
        key == "unhealthy" || key == "inconclusive"
    } else {
        key.starts_with("build:") || key == "validation"
    }
}

impl AlertState {
    pub fn new(app_id: AppId, branch_name: BranchName, environment: Environment) -> Self {
        Self {
            app_id,
            branch_name,
            environment,
            version: 0,
            open: BTreeMap::new(),
            resolved: Vec::new(),
            recent_events: VecDeque::new(),
            sent_at: VecDeque::new(),
            suppressed: 0,
            last_success_job: None,
            last_healthy_job: None,
            outbox: BTreeMap::new(),
        }
    }

    pub fn seen(&self, event_id: &str) -> bool {
        self.recent_events.iter().any(|e| e == event_id)
    }

    /// Applies one event.
    pub fn decide(
        &mut self,
        event_id: &str,
        signal: &Signal,
        now: DateTime<Utc>,
        policy: &AlertPolicy,
    ) -> Decision {
        if self.seen(event_id) {
            return Decision::Duplicate;
        }
        self.recent_events.push_back(event_id.to_owned());
        while self.recent_events.len() > RECENT_EVENTS {
            self.recent_events.pop_front();
        }
        match signal {
            Signal::Failure { key, job, severity } => {
                self.failure(event_id, key, *job, *severity, now, policy)
            }
            Signal::Recovery { job, healthy } => self.recovery(*job, *healthy, now),
            Signal::Notice { .. } => Decision::Notice,
        }
    }

    fn failure(
        &mut self,
        event_id: &str,
        key: &str,
        job: Option<JobId>,
        severity: Severity,
        now: DateTime<Utc>,
        policy: &AlertPolicy,
    ) -> Decision {
        let recovered = if key == "unhealthy" || key == "inconclusive" {
            self.last_healthy_job
        } else if key.starts_with("build:") || key == "validation" {
            self.last_success_job
        } else {
            None
        };
        if let (Some(job), Some(recovered)) = (job, recovered)
            && recovered > job
        {
            return Decision::Stale;
        }
        let window = Duration::minutes(policy.group_window_minutes as i64);
        let repeat = Duration::minutes(policy.repeat_interval_minutes as i64);
        if let Some(open) = self.open.get_mut(key)
            && now - open.last_seen <= window
        {
            open.count += 1;
            open.last_seen = now.max(open.last_seen);
            open.last_job = open.last_job.max(job);
            if now - open.last_notified_at >= repeat {
                open.last_notified_at = now;
                open.reminders += 1;
                return Decision::Reminder(open.clone());
            }
            return Decision::Joined(open.clone());
        }
        let incident = Incident {
            id: event_id.to_owned(),
            key: key.to_owned(),
            severity,
            opened_at: now,
            last_seen: now,
            count: 1,
            first_job: job,
            last_job: job,
            last_notified_at: now,
            reminders: 0,
            resolved_at: None,
            resolved_by_job: None,
        };
        self.open.insert(key.to_owned(), incident.clone());
        Decision::Opened(incident)
    }

    fn recovery(&mut self, job: JobId, healthy: bool, now: DateTime<Utc>) -> Decision {
        let pointer = if healthy {
            &mut self.last_healthy_job
        } else {
            &mut self.last_success_job
        };
        *pointer = (*pointer).max(Some(job));
        let keys: Vec<String> = self
            .open
            .iter()
            .filter(|(k, i)| resolves(k, healthy) && i.last_job.is_none_or(|last| last <= job))
            .map(|(k, _)| k.clone())
            .collect();
        if keys.is_empty() {
            return Decision::NothingOpen;
        }
        let mut resolved = Vec::new();
        for key in keys {
            if let Some(mut incident) = self.open.remove(&key) {
                incident.resolved_at = Some(now.max(incident.last_seen));
                incident.resolved_by_job = Some(job);
                resolved.push(incident);
            }
        }
        self.resolved.extend(resolved.iter().cloned());
        let excess = self.resolved.len().saturating_sub(RESOLVED_KEPT);
        self.resolved.drain(..excess);
        Decision::Resolved(resolved)
    }

    /// Whether a message of `severity` may go now (the branch's hourly
    /// budget); counts it as sent, or as held back.
    pub fn admit(&mut self, severity: Severity, now: DateTime<Utc>, policy: &AlertPolicy) -> bool {
        let hour_ago = now - Duration::hours(1);
        while self.sent_at.front().is_some_and(|t| *t <= hour_ago) {
            self.sent_at.pop_front();
        }
        if severity < Severity::Critical && self.sent_at.len() >= policy.max_messages_per_hour {
            self.suppressed += 1;
            return false;
        }
        self.sent_at.push_back(now);
        true
    }

    /// Queues a message, claimed by the caller until `claim_until`.
    pub fn enqueue(
        &mut self,
        notification: Notification,
        claim_until: DateTime<Utc>,
        claimed_by: &str,
    ) {
        self.suppressed = 0;
        let notification = notification.within_budget();
        self.outbox.insert(
            notification.id.clone(),
            Pending {
                notification,
                claimed_until: Some(claim_until),
                claimed_by: Some(claimed_by.to_owned()),
            },
        );
    }
}

impl Notification {
    /// The last guard before a message is stored and sent: each body (as
    /// the JSON text SNS receives) within
    /// [`budget::MESSAGE_BODY`](crate::core::budget::MESSAGE_BODY), the chat
    /// body still JSON, so that the message stays well under SNS's 256 KB
    /// and the alert state under DynamoDB's 400 KB.
    pub fn within_budget(mut self) -> Self {
        use crate::core::budget;
        if budget::json_len(&self.email) > budget::MESSAGE_BODY {
            self.email = budget::truncate_json_text(&self.email, budget::MESSAGE_BODY);
        }
        if budget::json_len(&self.chat) > budget::MESSAGE_BODY {
            // The chat body is JSON text inside the JSON message: shrink
            // the value so that its text, once escaped, fits.
            let mut room = budget::MESSAGE_BODY;
            for _ in 0..8 {
                let chat = budget::fit_json_text(&self.chat, room);
                if budget::json_len(&chat) <= budget::MESSAGE_BODY {
                    self.chat = chat;
                    break;
                }
                room /= 2;
            }
        }
        self
    }
}

crate::core::version::versioned!(AlertState);

#[cfg(test)]
mod tests;
