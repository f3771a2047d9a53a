//! The retention planner: given the table's inventory and what Amplify still
//! has, what goes and what is kept, and which jobs need reconciling. Pure:
//! no I/O, so a dry run and a real run plan the same thing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::model::{AppId, BranchName, BuildStatus, Environment, JobId, Source};
use crate::ingest::amplify_event::AmplifyStatusEvent;
// The inventory's data types only: the store traits stay in the reaction.
use crate::cleanup::ports::{ItemKey, StoredEntry, StoredItem};

/// Successful deployments of a production branch always kept.
pub const KEEP_PRODUCTION_SUCCESSES: usize = 10;
/// A job Started for longer than this is looked up (Amplify's default build
/// timeout, 30 minutes, plus a 15-minute margin; a job still running is
/// left alone, so a longer `_BUILD_TIMEOUT` costs one GetJob a day).
pub const STUCK_AFTER_MINUTES: i64 = 45;

/// A reported deploy (`sentinel report started`) whose script never said how
/// it ended: after this long it is marked timed out (no one can be asked).
pub const REPORT_ENDS_WITHIN_HOURS: i64 = 24;
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

/// What a change cleanup makes (or would make) does to its item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
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
    // Named `action` in the report's JSON (`--json`, `--dry-run`): kept.
    pub action: ChangeKind,
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
    /// Whether Amplify still has the branch. A stack's or a reporting
    /// service's state is not Amplify's to judge: it always "exists" here
    /// (retention still applies to its records).
    pub fn branch_exists(&self, app: &AppId, branch: &BranchName) -> bool {
        !app.is_amplify() || self.apps.get(app).is_some_and(|b| b.contains(branch))
    }
}

/// The retention plan of an inventory: what goes, what is pushed back, and
/// how many expired deployments are kept because they are protected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub protected_kept: usize,
}

pub(super) fn epoch(t: DateTime<Utc>) -> i64 {
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
    let mut change =
        |action: ChangeKind, key: &ItemKey, reason: String, expires_at: Option<i64>| {
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
                                ChangeKind::ExtendExpiry,
                                &e.key,
                                format!("kept: {why}"),
                                Some(at),
                            );
                        }
                    }
                    None if expired => change(
                        ChangeKind::DeleteExpiredDeployment,
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
                        ChangeKind::DeleteDeletedBranchState,
                        &e.key,
                        deleted(amplify, app_id, branch_name),
                        None,
                    );
                }
            }
            StoredItem::Alerts(a) => {
                if !amplify.branch_exists(&a.app_id, &a.branch_name) {
                    change(
                        ChangeKind::DeleteDeletedBranchState,
                        &e.key,
                        deleted(amplify, &a.app_id, &a.branch_name),
                        None,
                    );
                } else if !a.open.is_empty() {
                    if e.expires_at.is_some_and(|at| at < soon) {
                        let at = epoch(now + days(retention.alert_days));
                        change(
                            ChangeKind::ExtendExpiry,
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
                            ChangeKind::DeleteExpiredAlertState,
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
                        ChangeKind::DeleteDeletedBranchState,
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
                        ChangeKind::ExtendExpiry,
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
                        ChangeKind::DeleteExpiredClaim,
                        &e.key,
                        "expired (TTL has not removed it yet)".into(),
                        None,
                    ),
                    Some(at) if at > cap => change(
                        ChangeKind::ExtendExpiry,
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
                        ChangeKind::DeleteExpiredSnapshot,
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
        // Amplify is asked about a job (GetJob), CloudFormation about an
        // operation (its stack events); a reported deploy has no one to
        // ask, and is given a day to report its end.
        .filter(|d| {
            let within = match d.key.app_id.source() {
                Source::Report => Duration::hours(REPORT_ENDS_WITHIN_HOURS),
                Source::Amplify | Source::CloudFormation => Duration::minutes(STUCK_AFTER_MINUTES),
            };
            d.started_at().is_some_and(|t| t + within < now)
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
