//! The deployment record of one Amplify job: what is known of it (Amplify's
//! details, the status history, what each function recorded) and the
//! budget that keeps it within one DynamoDB item. The state machine that
//! applies status observations to it is [`crate::core::transitions`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::model::{AppId, BranchName, BuildStatus, Environment, JobId};
use crate::core::outbox::OutboxEntry;

/// Identifies one job of one branch of one app.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentKey {
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub job_id: JobId,
}

impl DeploymentKey {
    /// The deterministic id of a domain event about this job:
    /// `{appId}/{branchName}/{jobId padded}/{what}`. Consumers de-duplicate
    /// on it, because publication is at least once.
    pub fn event_id(&self, what: &str) -> String {
        format!(
            "{}/{}/{}/{what}",
            self.app_id,
            self.branch_name,
            self.job_id.padded()
        )
    }
}

/// A status the job went through, as first observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub status: BuildStatus,
    pub at: DateTime<Utc>,
    pub event_id: String,
}

/// What Amplify's `GetJob` says about the job. Every field is optional: the job
/// may be gone (Amplify deletes old jobs) and then only the event is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<BuildStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<JobStep>,
    /// The author date of the earliest commit the branch's previous deploy
    /// did not contain (GitHub's compare, oldest first; the first listed
    /// when GitHub truncated the list). Lead time runs from it when known
    /// ([`JobDetails::lead_time_from`]). Set by the validator, never by
    /// GetJob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_commit_at: Option<DateTime<Utc>>,
}

/// One step of a job. The step's `logUrl` is deliberately not kept: it is a
/// short-lived pre-signed URL (a credential while it lives) and is stale by the
/// time anyone reads the record; whoever needs the log asks `GetJob` again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStep {
    pub name: String,
    pub status: BuildStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
}

impl JobDetails {
    /// Commit messages can be long; events and records keep the first line
    /// and at most this many characters.
    pub const MAX_COMMIT_MESSAGE: usize = 500;

    /// Merges a newer answer of `GetJob` into what is known: a present value
    /// wins over an absent one, so the result does not depend on whether the
    /// job was fetched while running or after it ended.
    pub fn merge(&mut self, newer: JobDetails) {
        fn keep<T>(old: &mut Option<T>, new: Option<T>) {
            if new.is_some() {
                *old = new;
            }
        }
        keep(&mut self.commit_id, newer.commit_id);
        keep(
            &mut self.commit_message,
            newer.commit_message.map(truncate_message),
        );
        keep(&mut self.commit_time, newer.commit_time);
        keep(&mut self.job_type, newer.job_type);
        keep(&mut self.start_time, newer.start_time);
        keep(&mut self.end_time, newer.end_time);
        if newer.status.as_ref().is_some_and(BuildStatus::is_terminal) || self.status.is_none() {
            keep(&mut self.status, newer.status);
        }
        if newer.steps.len() >= self.steps.len() {
            self.steps = newer.steps;
        }
        keep(&mut self.first_commit_at, newer.first_commit_at);
    }

    /// Where a deploy's lead time starts: the first commit the previous
    /// deploy did not contain, else (GitHub off, no previous deploy, the
    /// compare failed) the head commit's time.
    pub fn lead_time_from(&self) -> Option<DateTime<Utc>> {
        self.first_commit_at.or(self.commit_time)
    }
}

/// The first line, secrets masked (a committer can paste a token into a
/// commit message; the record, events and alerts carry it), bounded.
fn truncate_message(message: String) -> String {
    let first_line = message.lines().next().unwrap_or_default();
    crate::core::redact::mask_in_text(first_line)
        .chars()
        .take(JobDetails::MAX_COMMIT_MESSAGE)
        .collect()
}

/// What a deploy that reports itself (`sentinel report`) said beyond its
/// status: where it answers and what it should serve there. The terminal
/// report's values win over the started one's, whatever the order they
/// arrive in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reported {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The record of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    #[serde(flatten)]
    pub key: DeploymentKey,
    pub environment: Environment,
    pub status: BuildStatus,
    pub transitions: Vec<Transition>,
    /// Every delivery applied, for de-duplication.
    pub event_ids: BTreeSet<String>,
    #[serde(default)]
    pub details: JobDetails,
    /// A reported deploy's URL and version (`svc:` apps only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<Reported>,
    /// Set when this job was started by a rollback, to the job it rolls back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<JobId>,
    /// The validator's verdict on this job's configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationRecord>,
    /// The health checker's verdict on this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthRecord>,
    /// The bake: this deploy's real traffic watched after its probes
    /// passed (`health.bake`). Rollback reads `bake.outcome` (Failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake: Option<crate::core::bake::BakeRecord>,
    /// The last scheduled check of this job while it was live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_check: Option<LiveCheck>,
    /// The alerter's diagnosis of a failed build (evidence masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<crate::core::verdicts::Diagnosis>,
    /// Set by cleanup's reconciliation when the job stayed Started past the
    /// build timeout and Amplify has no such job: it will never end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed_out_at: Option<DateTime<Utc>>,
    /// What Sentinel would have done to this job in enforce mode (observe
    /// mode): a stop, a rollback from it, a retry of it. One per kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<crate::core::enforcement::ObservedAction>,
    /// Set when Sentinel stopped (or meant to stop) this build because it
    /// should not run: superseded by a newer push, or nothing under the
    /// app's paths changed (enforce mode; observe mode records an
    /// [`ObservedAction`](crate::core::enforcement::ObservedAction) instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Skip>,
    /// The validator's one comparison of this build's commit with the
    /// branch's last deployed one (GitHub on, both git commits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareRecord>,
    /// Domain events decided but not yet confirmed published, by event id.
    /// They are written together with the state change and removed once
    /// EventBridge accepted them, so a crash in between republishes them.
    #[serde(default)]
    pub outbox: BTreeMap<String, OutboxEntry>,
    /// Optimistic concurrency: every write expects the version it read.
    #[serde(default)]
    pub version: u64,
}

/// What the validator decided for a job, and whether it stopped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationRecord {
    pub report: crate::core::verdicts::Report,
    /// Where the policy came from: `branch`, `app` or `default`.
    pub policy: String,
    pub validated_at: DateTime<Utc>,
    /// An error and `stop_on_error`: the build is to be stopped.
    pub stop_requested: bool,
    /// What StopJob did: `stopped`, or why it did not (the job had ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_result: Option<String>,
}

/// Why a build should not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipKind {
    /// A newer build of the branch started (policy `cancel_superseded`).
    Superseded,
    /// No changed file lies under the app's paths (the monorepo filter).
    NoChange,
}

impl SkipKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Superseded => "superseded",
            Self::NoChange => "no-change",
        }
    }
}

/// A build stopped because it should not run (enforce mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Skip {
    pub kind: SkipKind,
    /// "superseded by job 8", "no change under apps/web" (bounded).
    pub reason: String,
    /// The job whose start decided it: the newer job (superseded), the job
    /// itself (no change).
    pub by_job: JobId,
    pub at: DateTime<Utc>,
    /// What StopJob did: `stopped`, or why not (the job had ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_result: Option<String>,
}

/// What the comparison with the last deployed commit found (`files` and
/// `commits` are counts; the lists are not kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompareRecord {
    /// The branch's last deployed commit.
    pub base: String,
    pub head: String,
    /// GitHub's `status` (`ahead`, `behind`, `diverged`, `identical`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub commits: u64,
    pub files: usize,
    pub truncated: bool,
    /// The path filter's conclusion, or why it did not apply.
    pub outcome: String,
    /// Why the comparison failed (logged, never retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the health checker found after the deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthRecord {
    pub verdict: crate::core::verdicts::Verdict,
    pub reason: String,
    pub url: String,
    pub checked_at: DateTime<Utc>,
    pub rounds: usize,
    pub endpoints: Vec<crate::core::verdicts::EndpointReport>,
}

/// The last scheduled verdict on a live deployment; a verdict is published
/// when it differs from the one before, so a site that stays down alerts
/// once, and its recovery is announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveCheck {
    pub verdict: crate::core::verdicts::Verdict,
    pub reason: String,
    pub checked_at: DateTime<Utc>,
    /// How many times this verdict has been published (for event ids).
    pub changes: u32,
}

crate::core::version::versioned!(Deployment);

impl Deployment {
    /// The last guard before the record is written: its outbox within
    /// [`budget::OUTBOX`](crate::core::budget::OUTBOX) (each event's detail
    /// still JSON), the rest within
    /// [`budget::RECORD`](crate::core::budget::RECORD), so that the item stays
    /// well under DynamoDB's 400 KB, whatever a field held. Answers whether
    /// anything was cut.
    pub fn fit_budget(&mut self) -> bool {
        use crate::core::budget;
        let mut changed = false;
        // Measured as JSON text (escapes included), the larger measure.
        let total: usize = self
            .outbox
            .values()
            .map(|e| budget::json_len(&e.detail))
            .sum();
        if total > budget::OUTBOX {
            let each = budget::OUTBOX / self.outbox.len().max(1);
            for e in self.outbox.values_mut() {
                let mut room = each;
                while budget::json_len(&e.detail) > each && room > 64 {
                    e.detail = budget::fit_json_text(&e.detail, room);
                    room /= 2;
                    changed = true;
                }
            }
        }
        let outbox = std::mem::take(&mut self.outbox);
        if let Some(fitted) = budget::fit(self, budget::RECORD) {
            *self = fitted;
            changed = true;
        }
        self.outbox = outbox;
        changed
    }

    pub fn new(key: DeploymentKey, environment: Environment) -> Self {
        Self {
            key,
            environment,
            status: BuildStatus::Unknown("NONE".into()),
            transitions: Vec::new(),
            event_ids: BTreeSet::new(),
            details: JobDetails::default(),
            reported: None,
            rollback_of: None,
            validation: None,
            health: None,
            live_check: None,
            bake: None,
            diagnosis: None,
            timed_out_at: None,
            observed: Vec::new(),
            skipped: None,
            compare: None,
            outbox: BTreeMap::new(),
            version: 0,
        }
    }

    pub fn has_seen(&self, event_id: &str) -> bool {
        self.event_ids.contains(event_id)
    }

    /// When the job began: Amplify's start time, else the earliest observation.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.details
            .start_time
            .or_else(|| self.transitions.iter().map(|t| t.at).min())
    }

    /// When the job ended, if it has: Amplify's end time, else the terminal
    /// observation.
    pub fn ended_at(&self) -> Option<DateTime<Utc>> {
        if !self.status.is_terminal() {
            return None;
        }
        self.details.end_time.or_else(|| {
            self.transitions
                .iter()
                .find(|t| t.status == self.status)
                .map(|t| t.at)
        })
    }

    /// `None` unless the start is really known (Amplify's start time or a
    /// STARTED observation): a job seen only at its end has no duration.
    pub fn duration_seconds(&self) -> Option<i64> {
        let start = self.details.start_time.or_else(|| {
            self.transitions
                .iter()
                .find(|t| t.status == BuildStatus::Started)
                .map(|t| t.at)
        })?;
        let end = self.ended_at()?;
        let secs = (end - start).num_seconds();
        (secs >= 0).then_some(secs)
    }

    pub fn is_rollback(&self) -> bool {
        self.rollback_of.is_some()
    }

    /// Everything but the bookkeeping that depends on how many writes it took
    /// (version, outbox): two records that describe the same job the same way
    /// are equal under this comparison.
    pub fn same_state(&self, other: &Deployment) -> bool {
        let strip = |d: &Deployment| Deployment {
            version: 0,
            outbox: BTreeMap::new(),
            ..d.clone()
        };
        strip(self) == strip(other)
    }
}

/// A key for tests: job `job` of `d1abc`'s `branch`.
#[cfg(test)]
impl DeploymentKey {
    pub(crate) fn of(branch: &str, job: u64) -> Self {
        Self {
            app_id: "d1abc".parse().unwrap(),
            branch_name: branch.parse().unwrap(),
            job_id: JobId::new(job),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A bare "Build …" event for tests: `status` of `key` in prod, every
    /// detail unknown.
    pub(crate) fn build_event(
        event_id: &str,
        key: &DeploymentKey,
        status: BuildStatus,
    ) -> crate::core::events::BuildEvent {
        crate::core::events::BuildEvent {
            event_id: event_id.into(),
            environment: Environment::Prod,
            app_id: key.app_id.clone(),
            branch_name: key.branch_name.clone(),
            job_id: key.job_id,
            status,
            commit_id: None,
            commit_message: None,
            commit_time: None,
            first_commit_time: None,
            job_type: None,
            start_time: None,
            end_time: None,
            duration_seconds: None,
            is_rollback: false,
            rollback_of: None,
        }
    }

    /// Job 4 of `dapp1`'s `main` (the state machine's tests too).
    pub(crate) fn key() -> DeploymentKey {
        DeploymentKey {
            app_id: "dapp1".parse().unwrap(),
            branch_name: "main".parse().unwrap(),
            job_id: JobId::new(4),
        }
    }

    #[test]
    fn merge_prefers_present_values_whatever_the_order() {
        let running = JobDetails {
            commit_id: Some("abc".into()),
            status: Some(BuildStatus::Started),
            ..Default::default()
        };
        let done = JobDetails {
            commit_id: Some("abc".into()),
            end_time: Some(Utc.timestamp_opt(5, 0).unwrap()),
            status: Some(BuildStatus::Succeeded),
            ..Default::default()
        };
        let mut a = JobDetails::default();
        a.merge(running.clone());
        a.merge(done.clone());
        let mut b = JobDetails::default();
        b.merge(done);
        b.merge(running);
        assert_eq!(a, b);
    }

    #[test]
    fn commit_message_keeps_first_line_only() {
        let mut d = JobDetails::default();
        d.merge(JobDetails {
            commit_message: Some("fix: heap\n\nlong body".into()),
            ..Default::default()
        });
        assert_eq!(d.commit_message.as_deref(), Some("fix: heap"));
    }

    /// The last guard: a record holding a huge verdict and a huge event in
    /// its outbox (as a check before the field budgets made them) is cut to
    /// well under DynamoDB's 400 KB, and every event's detail stays JSON
    /// within EventBridge's 256 KB.
    #[test]
    fn an_oversized_record_is_shrunk_not_refused() {
        use crate::core::budget;
        use crate::core::events::HealthEvent;
        use crate::core::verdicts::{EndpointReport, Outcome, Verdict};
        let huge = "\"x\" ".repeat(300_000);
        let endpoint = EndpointReport {
            url: "https://example.com/api".into(),
            last_status: Some(200),
            last_latency_ms: 1,
            verdict: Outcome::SiteFailed,
            reason: Some(huge.clone()),
            attempts: 3,
            p50_ms: 1,
            p95_ms: 1,
        };
        let mut d = Deployment::new(key(), Environment::Prod);
        d.health = Some(HealthRecord {
            verdict: Verdict::Unhealthy,
            reason: huge.clone(),
            url: "https://example.com/".into(),
            checked_at: Utc::now(),
            rounds: 3,
            endpoints: vec![endpoint.clone(); 3],
        });
        let event = HealthEvent {
            event_id: d.key.event_id("health"),
            environment: d.environment,
            app_id: d.key.app_id.clone(),
            branch_name: d.key.branch_name.clone(),
            job_id: d.key.job_id,
            commit_id: None,
            verdict: Verdict::Unhealthy,
            reason: huge.clone(),
            url: "https://example.com/".into(),
            endpoints: vec![endpoint; 3],
            is_rollback: false,
            rollback_of: None,
            scheduled: false,
            rollback_allowed: true,
            bake: None,
        };
        let entry = event.to_outbox(1).unwrap();
        assert!(entry.detail.len() <= budget::EVENT_DETAIL);
        for i in 0..5 {
            let mut e = entry.clone();
            e.id = format!("{}/{i}", e.id);
            e.detail = serde_json::json!({"reason": huge}).to_string();
            d.outbox.insert(e.id.clone(), e);
        }
        assert!(serde_json::to_string(&d).unwrap().len() > budget::DYNAMODB_ITEM_LIMIT);
        assert!(d.fit_budget());
        let size = serde_json::to_string(&d).unwrap().len();
        assert!(size < budget::DYNAMODB_ITEM_LIMIT * 3 / 4, "{size}");
        for e in d.outbox.values() {
            assert!(e.detail.len() < budget::EVENTBRIDGE_ENTRY_LIMIT / 4);
            let _: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
        }
        let health = d.health.as_ref().unwrap();
        assert_eq!(health.verdict, Verdict::Unhealthy, "the verdict survives");
        assert!(health.reason.contains("…(cut, "));
        assert!(!d.fit_budget(), "fitted once, left alone");
    }
}
