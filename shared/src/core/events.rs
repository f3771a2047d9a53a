//! Domain events the stack publishes on its own EventBridge bus (source
//! `sentinel`). Only the build-event handler knows Amplify's event format;
//! every other function reads these. `docs/events.md` documents each field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::deployment::Deployment;
use crate::core::error::MalformedEvent;
use crate::core::model::{AppId, BranchName, BuildStatus, Environment, JobId};
use crate::core::outbox::OutboxEntry;

pub const OWNER_INGEST: &str = "ingest";
pub const OWNER_VALIDATOR: &str = "validator";
pub const OWNER_HEALTH: &str = "health";
pub const OWNER_ALERTER: &str = "alerter";

/// The `source` of every event the stack publishes.
pub const SOURCE: &str = "sentinel";

/// `detail-type` values of the build lifecycle.
pub mod detail_type {
    pub const BUILD_STARTED: &str = "Build Started";
    pub const BUILD_SUCCEEDED: &str = "Build Succeeded";
    pub const BUILD_FAILED: &str = "Build Failed";
    pub const BUILD_CANCELLED: &str = "Build Cancelled";
    pub const VALIDATION_COMPLETED: &str = "Validation Completed";
    pub const VALIDATION_FAILED: &str = "Validation Failed";
    pub const DEPLOYMENT_HEALTHY: &str = "Deployment Healthy";
    pub const DEPLOYMENT_UNHEALTHY: &str = "Deployment Unhealthy";
    pub const DEPLOYMENT_CHECK_INCONCLUSIVE: &str = "Deployment Check Inconclusive";
    /// A bake ended within its thresholds (`health.bake`).
    pub const BAKE_PASSED: &str = "Bake Passed";
    pub const BUILD_DIAGNOSED: &str = "Build Diagnosed";
    pub const ROLLBACK_STARTED: &str = "Rollback Started";
    pub const ROLLBACK_SUCCEEDED: &str = "Rollback Succeeded";
    pub const ROLLBACK_FAILED: &str = "Rollback Failed";
    pub const ROLLBACK_RECOMMENDED: &str = "Rollback Recommended";
    pub const DEGRADATION_DETECTED: &str = "Degradation Detected";
    pub const BUILD_RETRIED: &str = "Build Retried";
    /// Observe mode: an action Sentinel would have taken, and did not.
    pub const ACTION_OBSERVED: &str = "Action Observed";
    /// A build Sentinel stopped because it should not run: superseded by a
    /// newer one, or no change under the app's paths (enforce mode).
    pub const BUILD_SKIPPED: &str = "Build Skipped";
    /// `sentinel alert test`: a message through the real alert path, marked
    /// as a test; it never opens an incident and no metric counts it.
    pub const ALERT_TEST: &str = "Alert Test";
    /// Two terminal reports of one deploy that disagree (`sentinel report`):
    /// alerted, never dropped in silence.
    pub const REPORT_CONFLICT: &str = "Report Conflict";
}

/// The detail of "Report Conflict": a terminal report of a deploy whose
/// record already holds another terminal report that says something else
/// (the other status, or the same status with another commit, URL or
/// version). Published by ingest (`ingest::report_conflict`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportConflictEvent {
    /// `{appId}/{branchName}/{jobId padded}/report-conflict-{digest}`: one
    /// per distinct conflicting report, however often it is delivered.
    pub event_id: String,
    pub environment: Environment,
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub job_id: JobId,
    /// What the record held before: "succeeded, commit …, URL …".
    pub recorded: String,
    /// What the conflicting report said, in the same form.
    pub reported: String,
    /// What the record keeps, and why.
    pub kept: String,
}

/// Who publishes "Alert Test" (the operator CLI).
pub const OWNER_OPERATOR: &str = "operator";

/// The detail of "Alert Test": what `sentinel alert test` asks the alerter
/// to send, so that a team sees a message arrive in its inbox and chat
/// channel. The app and branch route it (SNS filter policies on `app` and
/// `branch`), and must be in the stack's watch scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertTestEvent {
    /// `alert-test/{appId}/{branchName}/{unique}`: each test is new (never
    /// a duplicate of the last one).
    pub event_id: String,
    pub environment: Environment,
    pub app_id: AppId,
    pub branch_name: BranchName,
    /// Who asked (recorded in the message).
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

pub const OWNER_ROLLBACK: &str = "rollback";

/// The detail of "Action Observed": in observe mode, what Sentinel would
/// have done to a job in enforce mode (`crate::core::enforcement`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedEvent {
    /// `{appId}/{branchName}/{jobId padded}/observed-{action}`.
    pub event_id: String,
    pub environment: Environment,
    pub app_id: AppId,
    pub branch_name: BranchName,
    /// The job the action was about (stopped, rolled back from, retried).
    pub job_id: JobId,
    pub commit_id: Option<String>,
    pub action: crate::core::enforcement::ObservedKind,
    /// "would have rolled back to job 41: …" (bounded, secrets masked).
    pub summary: String,
    /// The job a rollback would have rebuilt, or a retry would have retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_job_id: Option<JobId>,
    /// The command that does it by hand, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

impl ObservedEvent {
    /// The event of `action` as recorded on `d`, for `owner`'s outbox.
    pub fn outbox_entry(
        d: &Deployment,
        action: &crate::core::enforcement::ObservedAction,
        owner: &str,
        seq: u64,
    ) -> Option<OutboxEntry> {
        let event = Self {
            event_id: d
                .key
                .event_id(&format!("observed-{}", action.action.as_str())),
            environment: d.environment,
            app_id: d.key.app_id.clone(),
            branch_name: d.key.branch_name.clone(),
            job_id: d.key.job_id,
            commit_id: d.details.commit_id.clone(),
            action: action.action,
            summary: action.summary.clone(),
            target_job_id: action.target_job,
            command: action.command.clone(),
        };
        Some(OutboxEntry {
            id: event.event_id.clone(),
            seq,
            owner: owner.to_owned(),
            detail_type: detail_type::ACTION_OBSERVED.to_owned(),
            detail: serde_json::to_string(&event).ok()?,
        })
    }
}

/// The detail of "Build Skipped": the validator stopped this build
/// (StopJob answered) because it should not run. Published once per job,
/// from the skipped job's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkipEvent {
    /// `{appId}/{branchName}/{jobId padded}/skipped`.
    pub event_id: String,
    pub environment: Environment,
    pub app_id: AppId,
    pub branch_name: BranchName,
    /// The job stopped.
    pub job_id: JobId,
    pub commit_id: Option<String>,
    pub kind: crate::core::deployment::SkipKind,
    /// "superseded by job 8", "no change under apps/web".
    pub reason: String,
    /// The newer job (superseded), or the job itself (no change).
    pub by_job_id: JobId,
}

impl SkipEvent {
    /// The event of the skip recorded on `d`, for the validator's outbox.
    pub fn outbox_entry(d: &Deployment, seq: u64) -> Option<OutboxEntry> {
        let skip = d.skipped.as_ref()?;
        let event = Self {
            event_id: d.key.event_id("skipped"),
            environment: d.environment,
            app_id: d.key.app_id.clone(),
            branch_name: d.key.branch_name.clone(),
            job_id: d.key.job_id,
            commit_id: d.details.commit_id.clone(),
            kind: skip.kind,
            reason: skip.reason.clone(),
            by_job_id: skip.by_job,
        };
        Some(OutboxEntry {
            id: event.event_id.clone(),
            seq,
            owner: OWNER_VALIDATOR.to_owned(),
            detail_type: detail_type::BUILD_SKIPPED.to_owned(),
            detail: crate::core::budget::json_detail(&event, crate::core::budget::EVENT_DETAIL)?,
        })
    }
}

/// The detail of "Build Retried": a build that failed transiently was
/// started again (StartJob RETRY) by the rollback function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryEvent {
    /// `{appId}/{branchName}/{jobId padded}/retried`.
    pub event_id: String,
    pub environment: Environment,
    pub app_id: AppId,
    pub branch_name: BranchName,
    /// The job that failed.
    pub job_id: JobId,
    /// The RETRY job.
    pub retry_job_id: JobId,
    pub category: String,
    /// 1 for the first retry of the lineage.
    pub attempt: u32,
    pub max_retries: u32,
}

/// The detail of "Build Diagnosed": the alerter's diagnosis of a failed
/// build (the full one, with evidence, is on the deployment record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosisEvent {
    /// `{appId}/{branchName}/{jobId padded}/diagnosed`.
    pub event_id: String,
    pub environment: Environment,
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub job_id: JobId,
    pub commit_id: Option<String>,
    pub category: String,
    pub title: String,
    /// Whether a retry of the same commit can succeed.
    pub transient: bool,
    pub fix: String,
    pub is_rollback: bool,
    pub rollback_of: Option<JobId>,
}

impl DiagnosisEvent {
    pub fn to_outbox(&self, seq: u64) -> Option<OutboxEntry> {
        Some(OutboxEntry {
            id: self.event_id.clone(),
            seq,
            owner: OWNER_ALERTER.to_owned(),
            detail_type: detail_type::BUILD_DIAGNOSED.to_owned(),
            detail: crate::core::budget::json_detail(self, crate::core::budget::EVENT_DETAIL)?,
        })
    }
}

/// The detail of "Rollback Started", "Rollback Succeeded", "Rollback
/// Failed" and "Rollback Recommended" (published by the rollback function).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackEvent {
    pub event_id: String,
    pub environment: Environment,
    pub app_id: AppId,
    pub branch_name: BranchName,
    /// The job that was unhealthy (or failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_job_id: Option<JobId>,
    /// The job started to roll back (its RETRY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_job_id: Option<JobId>,
    /// The last known good job rolled back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_job_id: Option<JobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_commit_id: Option<String>,
    pub reason: String,
    /// Who asked (`automatic`, or the operator's identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_restore_seconds: Option<u64>,
    /// For "Rollback Recommended": the command that performs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// The detail of "Degradation Detected" (published by the metrics
/// collector): a trend that will break builds if left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DegradationEvent {
    pub event_id: String,
    pub environment: Environment,
    pub app_id: AppId,
    pub branch_name: BranchName,
    /// A stable id of the condition (`build-duration-rising`, …).
    pub condition: String,
    pub summary: String,
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// The detail of "Deployment Healthy", "Deployment Unhealthy" and
/// "Deployment Check Inconclusive".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthEvent {
    /// `{appId}/{branchName}/{jobId padded}/health`.
    pub event_id: String,
    pub environment: Environment,
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub job_id: JobId,
    pub commit_id: Option<String>,
    pub verdict: crate::core::verdicts::Verdict,
    pub reason: String,
    pub url: String,
    pub endpoints: Vec<crate::core::verdicts::EndpointReport>,
    pub is_rollback: bool,
    pub rollback_of: Option<JobId>,
    /// From the scheduled check of the live deployment, not a new deploy.
    #[serde(default)]
    pub scheduled: bool,
    /// Whether this verdict may lead to a rollback: always for a new
    /// deploy's Unhealthy; for a scheduled one, as the policy says.
    #[serde(default)]
    pub rollback_allowed: bool,
    /// Set when the verdict is a bake's (its figures before and after).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake: Option<crate::core::bake::BakeEvidence>,
}

impl HealthEvent {
    pub fn detail_type(&self) -> &'static str {
        match self.verdict {
            crate::core::verdicts::Verdict::Healthy if self.bake.is_some() => {
                detail_type::BAKE_PASSED
            }
            crate::core::verdicts::Verdict::Healthy => detail_type::DEPLOYMENT_HEALTHY,
            crate::core::verdicts::Verdict::Unhealthy => detail_type::DEPLOYMENT_UNHEALTHY,
            crate::core::verdicts::Verdict::Inconclusive => {
                detail_type::DEPLOYMENT_CHECK_INCONCLUSIVE
            }
        }
    }

    pub fn to_outbox(&self, seq: u64) -> Option<OutboxEntry> {
        Some(OutboxEntry {
            id: self.event_id.clone(),
            seq,
            owner: OWNER_HEALTH.to_owned(),
            detail_type: self.detail_type().to_owned(),
            detail: crate::core::budget::json_detail(self, crate::core::budget::EVENT_DETAIL)?,
        })
    }
}

/// The detail of "Validation Completed" (every validated job) and
/// "Validation Failed" (a job with error findings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationEvent {
    /// `{appId}/{branchName}/{jobId padded}/validation` (or `/validation-failed`).
    pub event_id: String,
    pub environment: Environment,
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub job_id: JobId,
    pub commit_id: Option<String>,
    pub passed: bool,
    pub errors: usize,
    pub warnings: usize,
    /// The findings, secret values masked.
    pub findings: Vec<crate::core::verdicts::Finding>,
    /// Where the policy came from: `branch`, `app` or `default`.
    pub policy: String,
    /// The validator asked Amplify to stop the build.
    pub stop_requested: bool,
    /// Observe mode: the build would have been stopped, and was not.
    #[serde(default)]
    pub would_stop: bool,
}

impl ValidationEvent {
    pub fn to_outbox(&self, detail_type: &str, seq: u64) -> Option<OutboxEntry> {
        Some(OutboxEntry {
            id: self.event_id.clone(),
            seq,
            owner: OWNER_VALIDATOR.to_owned(),
            detail_type: detail_type.to_owned(),
            detail: crate::core::budget::json_detail(self, crate::core::budget::EVENT_DETAIL)?,
        })
    }
}

/// Any domain event as it arrives from EventBridge (through SQS): the
/// envelope, with the detail left for the consumer to parse.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub id: String,
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: serde_json::Value,
}

impl Envelope {
    /// Parses an envelope from Sentinel's bus of one of the `expected`
    /// detail types, leaving the detail for [`Envelope::detail`].
    pub fn parse(raw: &str, expected: &[&str]) -> Result<Envelope, MalformedEvent> {
        let envelope: Envelope = serde_json::from_str(raw)
            .map_err(|e| MalformedEvent::new("<unknown>", format!("not a domain event: {e}")))?;
        if envelope.source != SOURCE || !expected.contains(&envelope.detail_type.as_str()) {
            return Err(MalformedEvent::new(
                &envelope.id,
                format!(
                    "unexpected {:?} from {:?}; this function takes {expected:?} from {SOURCE:?}",
                    envelope.detail_type, envelope.source
                ),
            ));
        }
        Ok(envelope)
    }

    /// The detail, as the type its detail type carries.
    /// The deployment's app when it is not an Amplify app (a stack's, a
    /// reporting service's): the functions that call Amplify skip those.
    pub fn non_amplify_app(&self) -> Option<AppId> {
        let app: AppId = self.detail.get("appId")?.as_str()?.parse().ok()?;
        (!app.is_amplify()).then_some(app)
    }

    pub fn detail<T: serde::de::DeserializeOwned>(&self) -> Result<T, MalformedEvent> {
        T::deserialize(&self.detail)
            .map_err(|e| MalformedEvent::new(&self.id, format!("{} detail: {e}", self.detail_type)))
    }
}

/// The detail of "Build Started", "Build Succeeded", "Build Failed" and
/// "Build Cancelled".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildEvent {
    /// Deterministic: `{appId}/{branchName}/{jobId padded}/{status}`. Consumers
    /// de-duplicate on it, because publication is at least once.
    pub event_id: String,
    pub environment: Environment,
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub job_id: JobId,
    pub status: BuildStatus,
    pub commit_id: Option<String>,
    pub commit_message: Option<String>,
    pub commit_time: Option<DateTime<Utc>>,
    /// The first commit the branch's previous deploy did not contain
    /// (GitHub on): where lead time starts, else `commit_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_commit_time: Option<DateTime<Utc>>,
    pub job_type: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i64>,
    pub is_rollback: bool,
    pub rollback_of: Option<JobId>,
}

impl BuildEvent {
    /// The event announcing the deployment's current status, or `None` for a
    /// status nobody reacts to (an unknown one).
    pub fn from_deployment(d: &Deployment) -> Option<Self> {
        detail_type_for(&d.status)?;
        Some(Self {
            event_id: d.key.event_id(d.status.as_str()),
            environment: d.environment,
            app_id: d.key.app_id.clone(),
            branch_name: d.key.branch_name.clone(),
            job_id: d.key.job_id,
            status: d.status.clone(),
            commit_id: d.details.commit_id.clone(),
            commit_message: d.details.commit_message.clone(),
            commit_time: d.details.commit_time,
            first_commit_time: d.details.first_commit_at,
            job_type: d.details.job_type.clone(),
            start_time: d.started_at(),
            end_time: d.ended_at(),
            duration_seconds: d.duration_seconds(),
            is_rollback: d.is_rollback(),
            rollback_of: d.rollback_of,
        })
    }

    pub fn detail_type(&self) -> &'static str {
        detail_type_for(&self.status).unwrap_or(detail_type::BUILD_STARTED)
    }

    pub fn to_outbox(&self, seq: u64) -> Option<OutboxEntry> {
        Some(OutboxEntry {
            id: self.event_id.clone(),
            seq,
            owner: OWNER_INGEST.to_owned(),
            detail_type: detail_type_for(&self.status)?.to_owned(),
            detail: crate::core::budget::json_detail(self, crate::core::budget::EVENT_DETAIL)?,
        })
    }
}

fn detail_type_for(status: &BuildStatus) -> Option<&'static str> {
    match status {
        BuildStatus::Started => Some(detail_type::BUILD_STARTED),
        BuildStatus::Succeeded => Some(detail_type::BUILD_SUCCEEDED),
        BuildStatus::Failed => Some(detail_type::BUILD_FAILED),
        BuildStatus::Cancelled => Some(detail_type::BUILD_CANCELLED),
        BuildStatus::Unknown(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::deployment::DeploymentKey;
    use crate::core::transitions::Observation;

    #[test]
    fn build_event_round_trips_through_json() {
        let mut d = Deployment::new(
            DeploymentKey {
                app_id: "dapp1".parse().unwrap(),
                branch_name: "feature/x".parse().unwrap(),
                job_id: JobId::new(12),
            },
            Environment::Prod,
        );
        d.apply(Observation {
            event_id: "e".into(),
            status: BuildStatus::Failed,
            at: Utc::now(),
        });
        let event = BuildEvent::from_deployment(&d).unwrap();
        assert_eq!(event.event_id, "dapp1/feature/x/0000000012/FAILED");
        let entry = event.to_outbox(1).unwrap();
        assert_eq!(entry.detail_type, "Build Failed");
        let back: BuildEvent = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(back, event);
        let json: serde_json::Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(json["jobId"], "12");
        assert_eq!(json["isRollback"], false);
    }

    #[test]
    fn a_secret_in_a_bad_detail_field_is_masked_in_the_error() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Detail {
            seconds: u64,
        }
        let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let raw = serde_json::json!({
            "id": "evt-1",
            "source": SOURCE,
            "detail-type": "Build Failed",
            "detail": {"seconds": token},
        })
        .to_string();
        let envelope = Envelope::parse(&raw, &["Build Failed"]).unwrap();
        let err = envelope.detail::<Detail>().unwrap_err();
        let text = err.to_string();
        assert!(!text.contains(token), "{text}");
        assert!(!err.reason.contains(token), "{}", err.reason);
        assert!(text.contains("ghp_…(40 chars)"), "{text}");
        let err = Envelope::parse(
            &raw.replace("Build Failed", "Build Failed "),
            &["Build Failed"],
        )
        .map(|_| ())
        .unwrap_err();
        assert!(err.reason.contains("unexpected"), "{err}");
    }

    #[test]
    fn a_token_in_a_commit_message_is_masked_when_details_are_kept() {
        use crate::core::deployment::JobDetails;
        let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let mut details = JobDetails::default();
        details.merge(JobDetails {
            commit_message: Some(format!("deploy with {token}\nbody")),
            ..JobDetails::default()
        });
        let kept = details.commit_message.unwrap();
        assert_eq!(kept, "deploy with ghp_…(40 chars)");
    }
}
