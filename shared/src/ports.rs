//! The ports every feature shares: deployments and branch state, Amplify,
//! CloudFormation, EventBridge, the dead-letter queue, secrets' names,
//! metrics windows and snapshots, CloudWatch, the bake's queue. They name
//! only `core` types (`make lint` holds it). A port that carries one
//! feature's own state lives in that feature (`alert::ports`,
//! `rollback::ports`, `github::ports`, `diagnose::ports`,
//! `cleanup::ports`, `policy::PolicyStore`); `stack::Stack` names one set
//! of all of them. Adapters for AWS live in `adapters`, in-memory ones in
//! `adapters::memory` (unit tests).

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::deployment::{Deployment, DeploymentKey, JobDetails};
pub use crate::core::error::SecretsError;
use crate::core::error::{
    AmplifyError, CloudFormationError, MetricsError, PublishError, StoreError,
};
pub use crate::core::model::BasicAuth;
use crate::core::model::{AppId, BranchName, BuildStatus, Environment, JobId};
use crate::core::outbox::OutboxEntry;

/// Per-branch state: which job is live, and (later) the last known good job,
/// open incident, rollback lease and auto-build lock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BranchState {
    /// The last succeeded job (highest job number wins, whatever the order
    /// events arrive in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_job: Option<JobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_commit: Option<String>,
    /// The last job verified healthy (set by the health checker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_known_good_job: Option<JobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_known_good_commit: Option<String>,
}

/// The two pointers a branch keeps to its jobs. Both only move forward
/// (to a higher job number), whatever the order events arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchPointer {
    /// The last succeeded job.
    Live,
    /// The last job verified healthy.
    LastKnownGood,
}

impl BranchPointer {
    /// The attribute prefix in the branch-state item (`liveJob`, …).
    pub fn attribute(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::LastKnownGood => "lastKnownGood",
        }
    }
}

/// Which deployments to list.
#[derive(Debug, Clone, Default)]
pub struct DeploymentFilter {
    pub app_id: Option<AppId>,
    pub branch_name: Option<BranchName>,
    pub limit: usize,
}

pub trait DeploymentStore: Send + Sync {
    fn get_deployment(
        &self,
        key: &DeploymentKey,
    ) -> impl Future<Output = Result<Option<Deployment>, StoreError>> + Send;

    /// Writes the record if its stored version is still `deployment.version`
    /// (absent for version 0), storing it with version + 1.
    /// Fails with [`StoreError::Conflict`] otherwise.
    fn save_deployment(
        &self,
        deployment: &Deployment,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes published entries from the record's outbox (and bumps its
    /// version, so a concurrent writer holding the old outbox re-reads).
    fn clear_outbox(
        &self,
        key: &DeploymentKey,
        ids: &[String],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Newest first, in the store's environment.
    fn list_deployments(
        &self,
        environment: Environment,
        filter: &DeploymentFilter,
    ) -> impl Future<Output = Result<Vec<Deployment>, StoreError>> + Send;

    fn get_branch_state(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> impl Future<Output = Result<BranchState, StoreError>> + Send;

    /// The branches of `source` whose live pointer is set (at most
    /// `limit`, in app and branch order): the scheduled check's list, read
    /// from the pointers themselves, so no number of records of any kind
    /// pushes a live branch out of it.
    fn live_branches(
        &self,
        source: crate::core::model::Source,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(AppId, BranchName)>, StoreError>> + Send;

    /// Points `pointer` at `job` unless it already points at a higher one.
    /// Returns whether it changed anything.
    fn advance_pointer(
        &self,
        key: &DeploymentKey,
        commit_id: Option<&str>,
        pointer: BranchPointer,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes `slot.job`'s place among the checks of `slot.app_id` started
    /// in the window beginning at `slot.window_start`, unless `slot.max`
    /// other jobs hold one. A job that holds one keeps it: a redelivered
    /// check takes no second place. Returns whether the job holds a place.
    fn take_check_slot(
        &self,
        slot: &CheckSlot,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// A place among one reported service's checks of one window
/// ([`crate::health::rate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSlot {
    pub app_id: AppId,
    /// The window's start, in seconds since the epoch.
    pub window_start: i64,
    /// The job holding the place (`{branch}#{job}`): the same job, the
    /// same place.
    pub job: String,
    pub max: usize,
    /// When the stored window may go (seconds since the epoch; the table's
    /// TTL).
    pub expires_at: i64,
}

/// An Amplify app as the domain needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub app_id: AppId,
    pub name: String,
    pub default_domain: String,
    pub platform: Option<String>,
    pub environment_variables: BTreeMap<String, String>,
    pub build_spec: Option<String>,
    /// The build instance: STANDARD_8GB, LARGE_16GB or XLARGE_72GB.
    pub build_compute_type: Option<String>,
    /// The connected repository as GetApp gives it
    /// (`https://github.com/<owner>/<repo>`), absent for manual deployments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The app's basic auth, when it is on (it covers every branch without
    /// its own).
    #[serde(skip)]
    pub basic_auth: Option<BasicAuth>,
}

/// An Amplify branch as the domain needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BranchInfo {
    pub branch_name: BranchName,
    pub display_name: String,
    pub stage: Option<String>,
    pub enable_auto_build: bool,
    pub active_job_id: Option<JobId>,
    pub environment_variables: BTreeMap<String, String>,
    pub build_spec: Option<String>,
    pub framework: Option<String>,
    /// The branch's own basic auth, when it is on.
    #[serde(skip)]
    pub basic_auth: Option<BasicAuth>,
}

/// A custom domain of an app (ListDomainAssociations), as the health
/// checker needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainAssociation {
    pub domain_name: String,
    /// `AVAILABLE` once DNS and the certificate are in place; `CREATING`,
    /// `PENDING_VERIFICATION`, `AWAITING_APP_CNAME`, `FAILED`, … before.
    pub domain_status: String,
    pub sub_domains: Vec<SubDomain>,
}

/// One sub-domain of a custom domain: `{prefix}.{domainName}` (the apex
/// for an empty prefix) serves `branch_name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubDomain {
    pub prefix: String,
    pub branch_name: String,
    /// Amplify verified its DNS record.
    pub verified: bool,
}

/// One row of `ListJobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSummary {
    pub job_id: JobId,
    pub status: BuildStatus,
    pub commit_id: Option<String>,
    pub job_type: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
}

/// A job to start: `Retry(job)` rebuilds that job's commit, `Release` builds
/// the branch head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartJob {
    Release,
    Retry(JobId),
}

/// Where a job step's log is: the URL GetJob gives (pre-signed, short-lived:
/// a credential while it lives, never logged or stored).
#[derive(Clone, PartialEq, Eq)]
pub struct StepLog {
    pub step: String,
    pub status: BuildStatus,
    pub url: String,
}

impl std::fmt::Debug for StepLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepLog")
            .field("step", &self.step)
            .field("status", &self.status)
            .field("url", &"<pre-signed>")
            .finish()
    }
}

pub trait AmplifyApi: Send + Sync {
    fn get_app(&self, app_id: &AppId)
    -> impl Future<Output = Result<AppInfo, AmplifyError>> + Send;

    fn get_branch(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> impl Future<Output = Result<BranchInfo, AmplifyError>> + Send;

    fn get_job(
        &self,
        key: &DeploymentKey,
    ) -> impl Future<Output = Result<JobDetails, AmplifyError>> + Send;

    /// The log of the job's failed step (else its last step), if it has one.
    fn get_log_url(
        &self,
        key: &DeploymentKey,
    ) -> impl Future<Output = Result<Option<StepLog>, AmplifyError>> + Send;

    /// Every app of the account and region (ListApps, all pages).
    fn list_apps(&self) -> impl Future<Output = Result<Vec<AppId>, AmplifyError>> + Send;

    /// The app's custom domains (ListDomainAssociations, all pages).
    fn list_domain_associations(
        &self,
        app_id: &AppId,
    ) -> impl Future<Output = Result<Vec<DomainAssociation>, AmplifyError>> + Send;

    /// Every branch of the app (ListBranches, all pages).
    fn list_branches(
        &self,
        app_id: &AppId,
    ) -> impl Future<Output = Result<Vec<BranchName>, AmplifyError>> + Send;

    /// Newest first, at most `limit`.
    fn list_jobs(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<JobSummary>, AmplifyError>> + Send;

    fn start_job(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
        job: StartJob,
        reason: &str,
    ) -> impl Future<Output = Result<JobId, AmplifyError>> + Send;

    fn stop_job(
        &self,
        key: &DeploymentKey,
    ) -> impl Future<Output = Result<BuildStatus, AmplifyError>> + Send;

    fn set_auto_build(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
        enabled: bool,
    ) -> impl Future<Output = Result<(), AmplifyError>> + Send;
}

/// A CloudFormation stack as DescribeStacks gives it (the parts Sentinel
/// reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInfo {
    /// The stack's ARN (its id: it names a deleted stack too).
    pub stack_id: String,
    pub stack_name: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Set on a nested stack: the stack that owns it.
    pub parent_id: Option<String>,
}

/// One row of DescribeStackEvents: a stack's own status change (its
/// `resource_type` is `AWS::CloudFormation::Stack` and its logical id the
/// stack's name) or one of its resources'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    pub event_id: String,
    pub stack_id: String,
    pub stack_name: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
    pub resource_type: String,
    pub timestamp: DateTime<Utc>,
    pub resource_status: String,
    pub resource_status_reason: Option<String>,
    /// Shared by every event of one operation (absent on operations started
    /// without one).
    pub client_request_token: Option<String>,
}

impl StackEvent {
    /// The stack's own status change, not one of its resources'.
    pub fn is_stack_level(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
            && self.logical_resource_id == self.stack_name
            && self
                .physical_resource_id
                .as_deref()
                .is_none_or(|p| p == self.stack_id)
    }
}

/// One page of DescribeStackEvents, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackEventsPage {
    pub events: Vec<StackEvent>,
    pub next_token: Option<String>,
}

/// CloudFormation, read only: watched stacks' status and events
/// (`docs/stacks.md`).
pub trait CloudFormationApi: Send + Sync {
    /// DescribeStacks of one stack, by name or id (an id finds a deleted
    /// stack too).
    fn describe_stack(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<StackInfo, CloudFormationError>> + Send;

    /// One page of DescribeStackEvents, newest first.
    fn stack_events(
        &self,
        stack: &str,
        next_token: Option<&str>,
    ) -> impl Future<Output = Result<StackEventsPage, CloudFormationError>> + Send;
}

/// The names — never the values — of the parameters an Amplify build reads
/// as secrets (`/amplify/{appId}/{branch}/NAME`, `/amplify/shared/{appId}/NAME`).
pub trait SecretNames: Send + Sync {
    /// The last segment of each parameter directly under `path` (one level,
    /// as the build's own GetParametersByPath reads it): `/amplify/d1/main`
    /// holding `/amplify/d1/main/DATABASE_URL` gives `DATABASE_URL`.
    fn names_under(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Vec<String>, SecretsError>> + Send;
}

pub trait EventPublisher: Send + Sync {
    /// Publishes the entries in order; succeeds only when every entry was
    /// accepted.
    fn publish(
        &self,
        entries: &[OutboxEntry],
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

/// Where a record that can never succeed goes, with its reason.
pub trait DeadLetterSink: Send + Sync {
    /// `source` is the queue the record came from (its ARN), so that a
    /// redrive can send it back where it belongs.
    fn send(
        &self,
        body: &str,
        error_type: &str,
        reason: &str,
        source: Option<&str>,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// The alerter's own queue, for a GitHub update to try again later: a
/// message delivered after `delay_seconds` (at most 900, SQS's limit).
pub trait RetryQueue: Send + Sync {
    fn send_retry(
        &self,
        body: &str,
        delay_seconds: u32,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

/// What a window read through the environment-and-time index found, and
/// how many items it read (the index returns only the window's).
#[derive(Debug, Clone, Default)]
pub struct WindowRead {
    pub deployments: Vec<Deployment>,
    pub items_read: usize,
}

/// Metrics: window reads, snapshots, and once-only claims.
pub trait MetricsStore: Send + Sync {
    /// The environment's deployments whose job started in `[from, to)`,
    /// through the environment-and-time index (never a scan).
    fn deployments_between(
        &self,
        environment: Environment,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<WindowRead, StoreError>> + Send;

    /// Stores the figures as the window's latest, or — `dated` — as the
    /// snapshot of the day the window ends (the daily roll-up).
    fn put_snapshot(
        &self,
        figures: &crate::core::figures::Figures,
        dated: bool,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn latest_snapshot(
        &self,
        environment: Environment,
        window_days: u32,
    ) -> impl Future<Output = Result<Option<crate::core::figures::Figures>, StoreError>> + Send;

    /// Records `key` once: true the first time (a conditional write),
    /// false after. The record expires after `days`.
    fn claim_once(
        &self,
        environment: Environment,
        key: &str,
        days: u32,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Undoes [`MetricsStore::claim_once`] (when what it guarded failed).
    fn release_claim(
        &self,
        environment: Environment,
        key: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Amplify Hosting's metrics and the team's alarms, in CloudWatch (a bake).
pub trait HostingMetrics: Send + Sync {
    /// The app's `AWS/AmplifyHosting` figures over `[from, to)` (whole
    /// minutes): every metric in one GetMetricData call, one datapoint per
    /// metric for the window.
    fn hosting_figures(
        &self,
        app_id: &AppId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<crate::core::bake::Figures, MetricsError>> + Send;

    /// The state of each named alarm (DescribeAlarms), in the order given,
    /// with when it entered it; a name CloudWatch does not know is `Missing`.
    fn alarm_states(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<crate::core::bake::Alarm>, MetricsError>> + Send;
}

/// The health checker's own queue, for the next step of a bake: a message
/// delivered after `delay_seconds` (at most 900, SQS's limit), so that no
/// invocation waits through a bake.
pub trait BakeSteps: Send + Sync {
    fn schedule(
        &self,
        body: &str,
        delay_seconds: u32,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}
