use chrono::{DateTime, Duration, TimeZone, Utc};

use super::plan::{
    AmplifyView, ChangeKind, Plan, Retention, epoch, plan, reconciliation_event, stuck,
};
use crate::alert::AlertState;
use crate::cleanup::ports::{ItemKey, StoredEntry, StoredItem};
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::model::{AppId, BranchName, BuildStatus, Environment, JobId};
use crate::ports::BranchState;
use crate::rollback::{BranchLock, RollbackState};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn app() -> AppId {
    "d1abc".parse().unwrap()
}

fn branch(name: &str) -> BranchName {
    name.parse().unwrap()
}

fn key(pk: &str, sk: &str) -> ItemKey {
    ItemKey {
        pk: pk.into(),
        sk: sk.into(),
    }
}

fn deployment(
    env: Environment,
    b: &str,
    job: u64,
    days_ago: i64,
    status: BuildStatus,
) -> StoredEntry {
    let mut d = Deployment::new(
        DeploymentKey {
            app_id: app(),
            branch_name: branch(b),
            job_id: JobId::new(job),
        },
        env,
    );
    d.status = status;
    let start = now() - Duration::days(days_ago);
    d.details.start_time = Some(start);
    d.details.end_time = Some(start + Duration::minutes(5));
    StoredEntry {
        key: key(&format!("BRANCH#d1abc#{b}"), &format!("JOB#{job:010}")),
        expires_at: Some(epoch(start + Duration::days(90))),
        item: StoredItem::Deployment(Box::new(d)),
    }
}

fn branch_state(b: &str, live: u64, good: u64) -> StoredEntry {
    StoredEntry {
        key: key(&format!("BRANCH#d1abc#{b}"), "STATE"),
        expires_at: None,
        item: StoredItem::BranchState {
            app_id: app(),
            branch_name: branch(b),
            state: BranchState {
                live_job: Some(JobId::new(live)),
                live_commit: None,
                last_known_good_job: Some(JobId::new(good)),
                last_known_good_commit: None,
            },
        },
    }
}

/// A branch's rollback state holding a lock that pins `job`.
fn locked(b: &str, job: u64) -> RollbackState {
    let mut rollback = RollbackState::new(app(), branch(b), Environment::Dev);
    rollback.lock = Some(BranchLock {
        pinned_job: JobId::new(job),
        pinned_commit: None,
        since: now(),
        by: "automatic".into(),
        reason: "r".into(),
        auto_build_before: None,
    });
    rollback
}

fn amplify(branches: &[&str]) -> AmplifyView {
    let mut view = AmplifyView::default();
    view.apps
        .insert(app(), branches.iter().map(|b| branch(b)).collect());
    view
}

fn deleted_jobs(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .filter(|c| c.action == ChangeKind::DeleteExpiredDeployment)
        .map(|c| {
            c.sk.trim_start_matches("JOB#")
                .trim_start_matches('0')
                .to_owned()
        })
        .collect()
}

#[test]
fn only_expired_unprotected_deployments_go() {
    let mut entries = vec![branch_state("main", 7, 6)];
    // Jobs 1–7 of main, 200 days old down to 100: all past 90 days.
    for job in 1..=7 {
        entries.push(deployment(
            Environment::Dev,
            "main",
            job,
            207 - job as i64,
            BuildStatus::Succeeded,
        ));
    }
    // A recent one: kept by age.
    entries.push(deployment(
        Environment::Dev,
        "main",
        8,
        10,
        BuildStatus::Failed,
    ));
    // An open incident on job 2, a lock pinning job 3.
    let mut alerts: AlertState = serde_json::from_value(serde_json::json!({
        "appId": "d1abc", "branchName": "main", "environment": "dev",
    }))
    .unwrap();
    let incident: crate::alert::Incident = serde_json::from_value(serde_json::json!({
        "id": "i1", "key": "build:unknown", "severity": "critical",
        "openedAt": now(), "lastSeen": now(), "count": 1, "firstJob": "2", "lastJob": "2",
        "lastNotifiedAt": now(),
    }))
    .unwrap();
    alerts.open.insert("build:unknown".into(), incident);
    entries.push(StoredEntry {
        key: key("BRANCH#d1abc#main", "ALERTS"),
        expires_at: Some(epoch(now() + Duration::days(2))),
        item: StoredItem::Alerts(Box::new(alerts)),
    });
    let rollback = locked("main", 3);
    entries.push(StoredEntry {
        key: key("BRANCH#d1abc#main", "ROLLBACK"),
        expires_at: Some(epoch(now() + Duration::days(1))),
        item: StoredItem::Rollback(Box::new(rollback)),
    });

    let plan = plan(
        &entries,
        Environment::Dev,
        Retention::default(),
        &amplify(&["main"]),
        now(),
    );
    assert_eq!(deleted_jobs(&plan), ["1", "4", "5"]);
    assert_eq!(
        plan.protected_kept, 4,
        "2 (incident), 3 (lock), 6 (good), 7 (live)"
    );
    let extended: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action == ChangeKind::ExtendExpiry)
        .map(|c| c.sk.as_str())
        .collect();
    // The protected jobs' TTL (already past) and the alert and rollback
    // items' (within a week) are pushed back.
    assert_eq!(
        extended,
        [
            "JOB#0000000002",
            "JOB#0000000003",
            "JOB#0000000006",
            "JOB#0000000007",
            "ALERTS",
            "ROLLBACK"
        ]
    );
    let again = super::plan(
        &entries,
        Environment::Dev,
        Retention::default(),
        &amplify(&["main"]),
        now(),
    );
    assert_eq!(again, plan, "the plan is a function of the inventory");
}

#[test]
fn production_keeps_its_last_ten_successes() {
    let mut entries = vec![];
    for job in 1..=14 {
        entries.push(deployment(
            Environment::Prod,
            "main",
            job,
            300 - job as i64,
            BuildStatus::Succeeded,
        ));
    }
    entries.push(deployment(
        Environment::Prod,
        "main",
        15,
        200,
        BuildStatus::Failed,
    ));
    let plan = plan(
        &entries,
        Environment::Prod,
        Retention::default(),
        &amplify(&["main"]),
        now(),
    );
    assert_eq!(deleted_jobs(&plan), ["1", "2", "3", "4", "15"]);
    // The same history in dev keeps nothing.
    let dev: Vec<StoredEntry> = entries
        .into_iter()
        .map(|mut e| {
            if let StoredItem::Deployment(d) = &mut e.item {
                d.environment = Environment::Dev;
            }
            e
        })
        .collect();
    let plan = super::plan(
        &dev,
        Environment::Dev,
        Retention::default(),
        &amplify(&["main"]),
        now(),
    );
    assert_eq!(deleted_jobs(&plan).len(), 15);
}

#[test]
fn a_deleted_branch_loses_its_state_not_its_history() {
    let rollback = locked("feature", 1);
    let entries = vec![
        branch_state("feature", 1, 1),
        deployment(Environment::Dev, "feature", 1, 3, BuildStatus::Succeeded),
        StoredEntry {
            key: key("BRANCH#d1abc#feature", "ROLLBACK"),
            expires_at: None,
            item: StoredItem::Rollback(Box::new(rollback)),
        },
        branch_state("main", 1, 1),
    ];
    let plan = plan(
        &entries,
        Environment::Dev,
        Retention::default(),
        &amplify(&["main"]),
        now(),
    );
    let gone: Vec<(&str, &str)> = plan
        .changes
        .iter()
        .filter(|c| c.action == ChangeKind::DeleteDeletedBranchState)
        .map(|c| (c.pk.as_str(), c.sk.as_str()))
        .collect();
    assert_eq!(
        gone,
        [
            ("BRANCH#d1abc#feature", "STATE"),
            ("BRANCH#d1abc#feature", "ROLLBACK")
        ]
    );
    assert!(
        plan.changes
            .iter()
            .any(|c| c.reason.contains("stale lock and lease"))
    );
    assert_eq!(
        deleted_jobs(&plan),
        Vec::<String>::new(),
        "its records age out on their own"
    );
    // A whole app gone.
    let plan = super::plan(
        &entries,
        Environment::Dev,
        Retention::default(),
        &AmplifyView::default(),
        now(),
    );
    assert!(
        plan.changes
            .iter()
            .any(|c| c.reason.contains("app d1abc no longer exists"))
    );
}

#[test]
fn claims_and_snapshots_expire_by_their_own_retention() {
    let entries = vec![
        StoredEntry {
            key: key("METRICS#dev", "ONCE#event#old"),
            expires_at: Some(epoch(now() - Duration::hours(3))),
            item: StoredItem::Claim,
        },
        StoredEntry {
            key: key("METRICS#dev", "ONCE#event#new"),
            expires_at: Some(epoch(now() + Duration::days(1))),
            item: StoredItem::Claim,
        },
        StoredEntry {
            key: key("METRICS#dev", "ONCE#written-with-a-year"),
            expires_at: Some(epoch(now() + Duration::days(365))),
            item: StoredItem::Claim,
        },
        StoredEntry {
            key: key("METRICS#dev", "SNAPSHOT#7d#2025-01-01"),
            expires_at: None,
            item: StoredItem::Snapshot(chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()),
        },
        StoredEntry {
            key: key("METRICS#dev", "SNAPSHOT#7d#2026-01-01"),
            expires_at: None,
            item: StoredItem::Snapshot(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
        },
        StoredEntry {
            key: key("POLICY#d1abc", "APP"),
            expires_at: None,
            item: StoredItem::Other,
        },
    ];
    let plan = plan(
        &entries,
        Environment::Dev,
        Retention::default(),
        &amplify(&["main"]),
        now(),
    );
    let actions: Vec<(ChangeKind, &str)> = plan
        .changes
        .iter()
        .map(|c| (c.action.clone(), c.sk.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            (ChangeKind::DeleteExpiredClaim, "ONCE#event#old"),
            (ChangeKind::ExtendExpiry, "ONCE#written-with-a-year"),
            (ChangeKind::DeleteExpiredSnapshot, "SNAPSHOT#7d#2025-01-01"),
        ]
    );
}

#[test]
fn stuck_jobs_are_started_past_the_timeout_and_not_marked() {
    let mut entries = vec![
        deployment(Environment::Dev, "main", 1, 1, BuildStatus::Started),
        deployment(Environment::Dev, "main", 2, 1, BuildStatus::Succeeded),
    ];
    let mut running = deployment(Environment::Dev, "main", 3, 0, BuildStatus::Started);
    if let StoredItem::Deployment(d) = &mut running.item {
        d.details.start_time = Some(now() - Duration::minutes(20));
    }
    entries.push(running);
    let mut marked = deployment(Environment::Dev, "main", 4, 2, BuildStatus::Started);
    if let StoredItem::Deployment(d) = &mut marked.item {
        d.timed_out_at = Some(now());
    }
    entries.push(marked);
    let found: Vec<u64> = stuck(&entries, now())
        .iter()
        .map(|d| d.key.job_id.number())
        .collect();
    assert_eq!(found, [1]);
    let e = reconciliation_event(
        &stuck(&entries, now())[0].key,
        BuildStatus::Succeeded,
        now(),
    );
    assert_eq!(e.id, "reconcile/d1abc/main/0000000001/SUCCEED");
}

#[test]
fn a_reported_services_state_is_not_amplifys_to_delete_and_its_jobs_are_stuck_only_after_a_day() {
    let svc: AppId = "svc:shop-api".parse().unwrap();
    let state = StoredEntry {
        key: key("BRANCH#svc:shop-api#dev", "STATE"),
        expires_at: None,
        item: StoredItem::BranchState {
            app_id: svc.clone(),
            branch_name: branch("dev"),
            state: BranchState {
                live_job: Some(JobId::new(2)),
                live_commit: None,
                last_known_good_job: Some(JobId::new(2)),
                last_known_good_commit: None,
            },
        },
    };
    let mut started = Deployment::new(
        DeploymentKey {
            app_id: svc,
            branch_name: branch("dev"),
            job_id: JobId::new(3),
        },
        Environment::Dev,
    );
    started.status = BuildStatus::Started;
    started.details.start_time = Some(now() - Duration::hours(23));
    let entries = vec![
        state,
        StoredEntry {
            key: key("BRANCH#svc:shop-api#dev", "JOB#0000000003"),
            expires_at: None,
            item: StoredItem::Deployment(Box::new(started)),
        },
    ];
    // Amplify knows nothing of the service (its view has only d1abc/main).
    let plan = plan(
        &entries,
        Environment::Dev,
        Retention::default(),
        &amplify(&["main"]),
        now(),
    );
    assert!(
        !plan
            .changes
            .iter()
            .any(|c| c.action == ChangeKind::DeleteDeletedBranchState),
        "{:?}",
        plan.changes
    );
    assert!(
        stuck(&entries, now()).is_empty(),
        "23 h: its script may still run"
    );
    assert_eq!(
        stuck(&entries, now() + Duration::hours(2)).len(),
        1,
        "25 h without an end: stuck"
    );
}
