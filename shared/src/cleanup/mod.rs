//! Cleanup and reconciliation: nothing piles up, nothing is missed.
//!
//! Once a day (and on demand, `sentinel cleanup [--dry-run]`):
//!
//! 1. **Reconcile stuck jobs**: a deployment still Started past the build
//!    timeout plus a margin is looked up with GetJob; an ended job's status
//!    goes through ingest — the same state machine, outbox and domain events
//!    as an Amplify event, so the other functions run — and a job Amplify no
//!    longer has is marked timed out.
//! 2. **Ingest missed jobs**: each watched branch's recent jobs (ListJobs)
//!    that no event reported are ingested the same way.
//! 3. **Retention** ([`plan`]): what TTL cannot do — items written before a
//!    retention change, state of deleted branches and apps (ListApps,
//!    ListBranches), stale leases and locks of deleted branches, and TTL
//!    pushed back on what must never go (a branch's live job and last known
//!    good, the last 10 successful production deployments of a branch, any
//!    job an open incident or a lock refers to).
//! 4. **Report**: counts per action, published as "Cleanup Completed" and
//!    emitted as metrics.
//!
//! A dry run calls only read APIs and changes nothing. Every step is
//! idempotent: reconciliation events have deterministic ids, deletions and
//! expiry changes converge, so two runs in a row do what one run does.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{AmplifyError, Error, StoreError};
use crate::core::events;
use crate::core::model::{AppId, BranchName, BuildStatus, Environment, JobId};
use crate::ingest::amplify_event::AmplifyStatusEvent;
use crate::ingest::reaction::Ingest;
use crate::metrics::emf::{self, Unit};
use crate::ports::{
    AmplifyApi, CleanupStore, DeploymentStore, EventPublisher, ItemKey, StoredEntry, StoredItem,
};

/// Who publishes "Cleanup Completed".
pub const OWNER_CLEANUP: &str = "cleanup";
pub const CLEANUP_COMPLETED: &str = "Cleanup Completed";

/// Successful deployments of a production branch always kept.
pub const KEEP_PRODUCTION_SUCCESSES: usize = 10;
/// A job Started for longer than this is looked up (Amplify's default build
/// timeout, 30 minutes, plus a 15-minute margin; a job still running is
/// left alone, so a longer `_BUILD_TIMEOUT` costs one GetJob a day).
pub const STUCK_AFTER_MINUTES: i64 = 45;
/// ListJobs looks at this many recent jobs per branch.
pub const RECENT_JOBS: usize = 20;
/// TTL closer than this on an item that must stay is pushed back.
const EXTEND_WHEN_WITHIN_DAYS: i64 = 7;

/// How long each kind of item is kept (days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    pub deployment_days: u32,
    pub alert_days: u32,
    pub claim_days: u32,
    pub snapshot_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            deployment_days: 90,
            alert_days: 30,
            claim_days: 30,
            snapshot_days: 400,
        }
    }
}

/// One change cleanup makes (or would make).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    DeleteExpiredDeployment,
    DeleteDeletedBranchState,
    DeleteExpiredAlertState,
    DeleteExpiredClaim,
    DeleteExpiredSnapshot,
    ExtendExpiry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub action: Action,
    pub pk: String,
    pub sk: String,
    pub reason: String,
    /// For `ExtendExpiry`: the new TTL (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// What Amplify has: every app of the account, and the branches of those
/// that were listed.
#[derive(Debug, Clone, Default)]
pub struct AmplifyView {
    pub apps: BTreeMap<AppId, BTreeSet<BranchName>>,
}

impl AmplifyView {
    pub fn branch_exists(&self, app: &AppId, branch: &BranchName) -> bool {
        self.apps.get(app).is_some_and(|b| b.contains(branch))
    }
}

/// The retention plan of an inventory: what goes, what is pushed back, and
/// how many expired deployments are kept because they are protected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub protected_kept: usize,
}

fn epoch(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// The jobs of each branch that must never be deleted, with why.
pub fn protected_jobs(
    entries: &[StoredEntry],
    environment: Environment,
) -> HashMap<(AppId, BranchName), BTreeMap<JobId, &'static str>> {
    let mut out: HashMap<(AppId, BranchName), BTreeMap<JobId, &'static str>> = HashMap::new();
    let mut protect = |app: &AppId, branch: &BranchName, job: Option<JobId>, why: &'static str| {
        if let Some(job) = job {
            out.entry((app.clone(), branch.clone()))
                .or_default()
                .entry(job)
                .or_insert(why);
        }
    };
    let mut successes: HashMap<(AppId, BranchName), Vec<JobId>> = HashMap::new();
    for e in entries {
        match &e.item {
            StoredItem::BranchState {
                app_id,
                branch_name,
                state,
            } => {
                protect(app_id, branch_name, state.live_job, "the branch's live job");
                protect(
                    app_id,
                    branch_name,
                    state.last_known_good_job,
                    "the branch's last known good",
                );
            }
            StoredItem::Alerts(a) => {
                for i in a.open.values() {
                    for job in [i.first_job, i.last_job] {
                        protect(
                            &a.app_id,
                            &a.branch_name,
                            job,
                            "an open incident refers to it",
                        );
                    }
                }
            }
            StoredItem::Rollback(r) => {
                if let Some(lock) = &r.lock {
                    protect(
                        &r.app_id,
                        &r.branch_name,
                        Some(lock.pinned_job),
                        "the branch's lock pins it",
                    );
                }
                if let Some(active) = &r.active {
                    for job in [
                        Some(active.from_job),
                        Some(active.target_job),
                        active.rollback_job,
                    ] {
                        protect(
                            &r.app_id,
                            &r.branch_name,
                            job,
                            "a rollback in progress refers to it",
                        );
                    }
                }
            }
            StoredItem::Deployment(d)
                if environment == Environment::Prod && d.status == BuildStatus::Succeeded =>
            {
                successes
                    .entry((d.key.app_id.clone(), d.key.branch_name.clone()))
                    .or_default()
                    .push(d.key.job_id);
            }
            _ => {}
        }
    }
    for ((app, branch), mut jobs) in successes {
        jobs.sort_unstable_by(|a, b| b.cmp(a));
        for job in jobs.into_iter().take(KEEP_PRODUCTION_SUCCESSES) {
            protect(
                &app,
                &branch,
                Some(job),
                "one of the last 10 successful production deployments",
            );
        }
    }
    out
}

/// The retention plan for `entries` at `now`.
pub fn plan(
    entries: &[StoredEntry],
    environment: Environment,
    retention: Retention,
    amplify: &AmplifyView,
    now: DateTime<Utc>,
) -> Plan {
    let protected = protected_jobs(entries, environment);
    let days = |d: u32| Duration::days(i64::from(d));
    let soon = epoch(now + Duration::days(EXTEND_WHEN_WITHIN_DAYS));
    let mut plan = Plan::default();
    let mut change = |action: Action, key: &ItemKey, reason: String, expires_at: Option<i64>| {
        plan.changes.push(Change {
            action,
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            reason,
            expires_at,
        });
    };
    let mut kept = 0;
    for e in entries {
        match &e.item {
            StoredItem::Deployment(d) => {
                let branch = (d.key.app_id.clone(), d.key.branch_name.clone());
                let why_kept = protected.get(&branch).and_then(|p| p.get(&d.key.job_id));
                let expired = d
                    .started_at()
                    .is_some_and(|t| t + days(retention.deployment_days) < now);
                match why_kept {
                    Some(why) => {
                        if expired {
                            kept += 1;
                        }
                        if e.expires_at.is_some_and(|at| at < soon) {
                            let at = epoch(now + days(retention.deployment_days));
                            change(
                                Action::ExtendExpiry,
                                &e.key,
                                format!("kept: {why}"),
                                Some(at),
                            );
                        }
                    }
                    None if expired => change(
                        Action::DeleteExpiredDeployment,
                        &e.key,
                        format!(
                            "started {} — older than {} days",
                            d.started_at()
                                .map(|t| t.format("%Y-%m-%d").to_string())
                                .unwrap_or_default(),
                            retention.deployment_days
                        ),
                        None,
                    ),
                    None => {}
                }
            }
            StoredItem::BranchState {
                app_id,
                branch_name,
                ..
            } => {
                if !amplify.branch_exists(app_id, branch_name) {
                    change(
                        Action::DeleteDeletedBranchState,
                        &e.key,
                        deleted(amplify, app_id, branch_name),
                        None,
                    );
                }
            }
            StoredItem::Alerts(a) => {
                if !amplify.branch_exists(&a.app_id, &a.branch_name) {
                    change(
                        Action::DeleteDeletedBranchState,
                        &e.key,
                        deleted(amplify, &a.app_id, &a.branch_name),
                        None,
                    );
                } else if !a.open.is_empty() {
                    if e.expires_at.is_some_and(|at| at < soon) {
                        let at = epoch(now + days(retention.alert_days));
                        change(
                            Action::ExtendExpiry,
                            &e.key,
                            "kept: open incidents".into(),
                            Some(at),
                        );
                    }
                } else {
                    let last = a
                        .resolved
                        .iter()
                        .map(|i| i.resolved_at.unwrap_or(i.last_seen))
                        .chain(a.sent_at.iter().copied())
                        .max();
                    let idle = match last {
                        Some(t) => t + days(retention.alert_days) < now,
                        None => e.expires_at.is_some_and(|at| at < epoch(now)),
                    };
                    if idle {
                        change(
                            Action::DeleteExpiredAlertState,
                            &e.key,
                            format!(
                                "no open incident, quiet for over {} days",
                                retention.alert_days
                            ),
                            None,
                        );
                    }
                }
            }
            StoredItem::Rollback(r) => {
                if !amplify.branch_exists(&r.app_id, &r.branch_name) {
                    let what = if r.lock.is_some() {
                        "lock and lease"
                    } else {
                        "lease"
                    };
                    change(
                        Action::DeleteDeletedBranchState,
                        &e.key,
                        format!(
                            "stale {what}: {}",
                            deleted(amplify, &r.app_id, &r.branch_name)
                        ),
                        None,
                    );
                } else if (r.lock.is_some() || r.active.is_some())
                    && e.expires_at.is_some_and(|at| at < soon)
                {
                    let at = epoch(now + days(retention.deployment_days));
                    change(
                        Action::ExtendExpiry,
                        &e.key,
                        "kept: the branch is locked".into(),
                        Some(at),
                    );
                }
            }
            StoredItem::Claim => {
                // Claims are written with their own short expiry; one
                // written before a retention change is capped by it.
                let cap = epoch(now + days(retention.claim_days));
                match e.expires_at {
                    Some(at) if at < epoch(now) => change(
                        Action::DeleteExpiredClaim,
                        &e.key,
                        "expired (TTL has not removed it yet)".into(),
                        None,
                    ),
                    Some(at) if at > cap => change(
                        Action::ExtendExpiry,
                        &e.key,
                        format!("capped to {} days", retention.claim_days),
                        Some(cap),
                    ),
                    _ => {}
                }
            }
            StoredItem::Snapshot(day) => {
                if *day + days(retention.snapshot_days) < now.date_naive() {
                    change(
                        Action::DeleteExpiredSnapshot,
                        &e.key,
                        format!(
                            "roll-up of {day}, older than {} days",
                            retention.snapshot_days
                        ),
                        None,
                    );
                }
            }
            StoredItem::Other => {}
        }
    }
    plan.protected_kept = kept;
    plan
}

fn deleted(amplify: &AmplifyView, app: &AppId, branch: &BranchName) -> String {
    if amplify.apps.contains_key(app) {
        format!("branch {branch} no longer exists in app {app}")
    } else {
        format!("app {app} no longer exists")
    }
}

/// Deployments still Started (or in an unknown, non-final state) long past
/// the build timeout, not yet marked timed out.
pub fn stuck(entries: &[StoredEntry], now: DateTime<Utc>) -> Vec<&Deployment> {
    entries
        .iter()
        .filter_map(|e| match &e.item {
            StoredItem::Deployment(d) => Some(d.as_ref()),
            _ => None,
        })
        .filter(|d| !d.status.is_terminal() && d.timed_out_at.is_none())
        .filter(|d| {
            d.started_at()
                .is_some_and(|t| t + Duration::minutes(STUCK_AFTER_MINUTES) < now)
        })
        .collect()
}

/// The event a reconciliation ingests: Amplify's shape, a deterministic id
/// (so a second run is a duplicate), the status Amplify reports now.
pub fn reconciliation_event(
    key: &DeploymentKey,
    status: BuildStatus,
    at: DateTime<Utc>,
) -> AmplifyStatusEvent {
    AmplifyStatusEvent {
        id: format!(
            "reconcile/{}/{}/{}/{status}",
            key.app_id,
            key.branch_name,
            key.job_id.padded()
        ),
        time: at,
        app_id: key.app_id.clone(),
        branch_name: key.branch_name.clone(),
        job_id: key.job_id,
        status,
        job_step: None,
    }
}

/// Counts per action of one run: the detail of "Cleanup Completed".
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
    /// Every change, for `--dry-run` and the logs (not in the event).
    #[serde(skip)]
    pub changes: Vec<Change>,
    /// Reconciliations, as `app/branch/job: what` (not in the event).
    #[serde(skip)]
    pub reconciled: Vec<String>,
}

impl Report {
    fn count(&mut self, plan: &Plan) {
        for c in &plan.changes {
            match c.action {
                Action::DeleteExpiredDeployment => self.deployments_expired += 1,
                Action::DeleteDeletedBranchState => self.deleted_branch_state += 1,
                Action::DeleteExpiredAlertState => self.alert_states_expired += 1,
                Action::DeleteExpiredClaim => self.claims_expired += 1,
                Action::DeleteExpiredSnapshot => self.snapshots_expired += 1,
                Action::ExtendExpiry => self.expiry_extended += 1,
            }
        }
        self.protected_kept = plan.protected_kept;
        self.changes = plan.changes.clone();
    }

    /// Whether the run changed (or would change) anything.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.stuck_reconciled + self.timed_out + self.missed_ingested == 0
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

pub struct Cleanup<'a, S, A, P> {
    pub store: &'a S,
    pub amplify: &'a A,
    pub publisher: &'a P,
    pub environment: Environment,
    pub retention: Retention,
    /// The apps whose branches are reconciled (empty: every app).
    pub watched_apps: &'a [AppId],
    /// Limits the whole run to these apps' items and branches (empty: the
    /// whole table). For an operator cleaning one app, and for tests that
    /// share a table.
    pub only_apps: &'a [AppId],
    pub dry_run: bool,
}

/// The app an item belongs to, if it belongs to one.
fn app_of(item: &StoredItem) -> Option<&AppId> {
    match item {
        StoredItem::Deployment(d) => Some(&d.key.app_id),
        StoredItem::BranchState { app_id, .. } => Some(app_id),
        StoredItem::Alerts(a) => Some(&a.app_id),
        StoredItem::Rollback(r) => Some(&r.app_id),
        StoredItem::Snapshot(_) | StoredItem::Claim | StoredItem::Other => None,
    }
}

impl<S, A, P> Cleanup<'_, S, A, P>
where
    S: DeploymentStore + CleanupStore,
    A: AmplifyApi,
    P: EventPublisher,
{
    pub async fn run(&self, now: DateTime<Utc>) -> Result<Report, Error> {
        let mut report = Report {
            event_id: format!(
                "cleanup/{}/{}",
                self.environment,
                now.format("%Y-%m-%dT%H:%M")
            ),
            environment: Some(self.environment),
            dry_run: self.dry_run,
            ..Report::default()
        };
        let mut entries = self.store.inventory().await?;
        report.items_scanned = entries.len();
        if !self.only_apps.is_empty() {
            entries.retain(|e| app_of(&e.item).is_some_and(|a| self.only_apps.contains(a)));
        }
        let view = self.amplify_view(&entries).await?;

        let mut handled = HashSet::new();
        for d in stuck(&entries, now) {
            handled.insert(d.key.clone());
            self.reconcile_stuck(d, now, &mut report).await?;
        }
        self.ingest_missed(&entries, &view, &handled, now, &mut report)
            .await?;

        let plan = plan(&entries, self.environment, self.retention, &view, now);
        report.count(&plan);
        if !self.dry_run {
            for c in &plan.changes {
                let key = ItemKey {
                    pk: c.pk.clone(),
                    sk: c.sk.clone(),
                };
                match (c.action.clone(), c.expires_at) {
                    (Action::ExtendExpiry, Some(at)) => self.store.set_expiry(&key, at).await?,
                    (Action::ExtendExpiry, None) => {}
                    _ => self.store.delete_item(&key).await?,
                }
            }
            if let Some(entry) =
                events::entry(&report.event_id, OWNER_CLEANUP, CLEANUP_COMPLETED, &report)
            {
                self.publisher.publish(&[entry]).await?;
            }
        }
        tracing::info!(
            dry_run = self.dry_run,
            scanned = report.items_scanned,
            changes = report.changes.len(),
            reconciled = report.stuck_reconciled + report.missed_ingested,
            timed_out = report.timed_out,
            "cleanup"
        );
        Ok(report)
    }

    /// ListApps, then ListBranches of the watched apps and of every listed
    /// app the table holds state for.
    async fn amplify_view(&self, entries: &[StoredEntry]) -> Result<AmplifyView, Error> {
        let listed: BTreeSet<AppId> = self.amplify.list_apps().await?.into_iter().collect();
        let mut wanted: BTreeSet<AppId> = self.watched().into_iter().collect();
        let listed: BTreeSet<AppId> = if self.only_apps.is_empty() {
            listed
        } else {
            listed
                .into_iter()
                .filter(|a| self.only_apps.contains(a))
                .collect()
        };
        for e in entries {
            if let StoredItem::BranchState { app_id, .. } = &e.item {
                wanted.insert(app_id.clone());
            }
            if let StoredItem::Alerts(a) = &e.item {
                wanted.insert(a.app_id.clone());
            }
            if let StoredItem::Rollback(r) = &e.item {
                wanted.insert(r.app_id.clone());
            }
        }
        let mut view = AmplifyView::default();
        for app in &listed {
            let branches = if wanted.contains(app) {
                match self.amplify.list_branches(app).await {
                    Ok(b) => b.into_iter().collect(),
                    // Deleted between the two calls.
                    Err(AmplifyError::NotFound(_)) => BTreeSet::new(),
                    Err(e) => return Err(e.into()),
                }
            } else {
                BTreeSet::new()
            };
            view.apps.insert(app.clone(), branches);
        }
        Ok(view)
    }

    fn watched(&self) -> Vec<AppId> {
        if self.only_apps.is_empty() {
            self.watched_apps.to_vec()
        } else {
            self.only_apps.to_vec()
        }
    }

    fn ingest(&self) -> Ingest<'_, S, A, P> {
        Ingest {
            store: self.store,
            amplify: self.amplify,
            publisher: self.publisher,
            environment: self.environment,
        }
    }

    async fn reconcile_stuck(
        &self,
        d: &Deployment,
        now: DateTime<Utc>,
        report: &mut Report,
    ) -> Result<(), Error> {
        let key = &d.key;
        let name = format!("{}/{}/{}", key.app_id, key.branch_name, key.job_id);
        match self.amplify.get_job(key).await {
            Ok(job) => match job.status {
                Some(status) if status.is_terminal() => {
                    report.stuck_reconciled += 1;
                    report.reconciled.push(format!(
                        "{name}: stuck in {}, Amplify says {status}",
                        d.status
                    ));
                    if !self.dry_run {
                        let at = job.end_time.unwrap_or(now);
                        self.ingest()
                            .ingest(&reconciliation_event(key, status, at))
                            .await?;
                    }
                }
                _ => report.stuck_still_running += 1,
            },
            Err(AmplifyError::NotFound(_)) => {
                report.timed_out += 1;
                report
                    .reconciled
                    .push(format!("{name}: Amplify has no such job; marked timed out"));
                if !self.dry_run {
                    self.mark_timed_out(key, now).await?;
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    async fn mark_timed_out(&self, key: &DeploymentKey, now: DateTime<Utc>) -> Result<(), Error> {
        for _ in 0..crate::effects::MAX_WRITE_ATTEMPTS {
            let Some(mut d) = self.store.get_deployment(key).await? else {
                return Ok(());
            };
            if d.status.is_terminal() || d.timed_out_at.is_some() {
                return Ok(());
            }
            d.timed_out_at = Some(now);
            match self.store.save_deployment(&d).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    async fn ingest_missed(
        &self,
        entries: &[StoredEntry],
        view: &AmplifyView,
        handled: &HashSet<DeploymentKey>,
        now: DateTime<Utc>,
        report: &mut Report,
    ) -> Result<(), Error> {
        let recorded: HashMap<&DeploymentKey, &Deployment> = entries
            .iter()
            .filter_map(|e| match &e.item {
                StoredItem::Deployment(d) => Some((&d.key, d.as_ref())),
                _ => None,
            })
            .collect();
        let oldest = now - Duration::days(i64::from(self.retention.deployment_days));
        let watched = self.watched();
        for (app, branches) in &view.apps {
            if !watched.is_empty() && !watched.contains(app) {
                continue;
            }
            for branch in branches {
                let jobs = match self.amplify.list_jobs(app, branch, RECENT_JOBS).await {
                    Ok(jobs) => jobs,
                    Err(AmplifyError::NotFound(_)) => continue,
                    Err(e) => return Err(e.into()),
                };
                for job in jobs {
                    let key = DeploymentKey {
                        app_id: app.clone(),
                        branch_name: branch.clone(),
                        job_id: job.job_id,
                    };
                    // Never bring back what retention removed.
                    if job.start_time.is_some_and(|t| t < oldest) || handled.contains(&key) {
                        continue;
                    }
                    let known = recorded.get(&key).map(|d| &d.status);
                    let missing = match known {
                        None => true,
                        Some(status) => job.status.is_terminal() && *status != job.status,
                    };
                    if !missing || matches!(job.status, BuildStatus::Unknown(_)) {
                        continue;
                    }
                    report.missed_ingested += 1;
                    report.reconciled.push(format!(
                        "{app}/{branch}/{}: {} by Amplify, {} here",
                        job.job_id,
                        job.status,
                        known.map_or("not recorded".to_owned(), |s| s.to_string())
                    ));
                    if !self.dry_run {
                        let at = if job.status.is_terminal() {
                            job.end_time
                        } else {
                            job.start_time
                        };
                        self.ingest()
                            .ingest(&reconciliation_event(
                                &key,
                                job.status.clone(),
                                at.unwrap_or(now),
                            ))
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
