use chrono::TimeZone;

use super::*;

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn state() -> RollbackState {
    RollbackState::new(
        "d1abc".parse().unwrap(),
        "main".parse().unwrap(),
        Environment::Prod,
    )
}

fn record(s: &RollbackState, from: u64, automatic: bool, now: DateTime<Utc>) -> RollbackRecord {
    RollbackRecord {
        id: s.rollback_id(JobId::new(from)),
        from_job: JobId::new(from),
        from_commit: Some(format!("bad{from}")),
        target_job: JobId::new(from - 1),
        target_commit: Some("good".into()),
        rollback_job: None,
        reason: "Deployment Unhealthy".into(),
        requested_by: "automatic".into(),
        automatic,
        started_at: now,
        outcome: None,
        finished_at: None,
        outcome_reason: None,
        auto_build_before: None,
    }
}

#[test]
fn the_lease_lets_one_invocation_in() {
    let policy = RollbackPolicy::default();
    let mut s = state();
    let r = record(&s, 5, true, at(0));
    assert!(s.begin(r.clone(), "a", at(0), &policy).is_ok());
    assert_eq!(
        s.begin(r.clone(), "b", at(0), &policy),
        Err(Refusal::AlreadyHandled)
    );
    let other = record(&s, 6, true, at(0));
    assert_eq!(s.begin(other, "b", at(0), &policy), Err(Refusal::Leased));
}

#[test]
fn an_abandoned_start_can_be_taken_over_after_the_lease() {
    let policy = RollbackPolicy::default();
    let mut s = state();
    s.begin(record(&s, 5, false, at(0)), "a", at(0), &policy)
        .unwrap();
    let later = at(0) + Duration::seconds(policy.lease_seconds as i64 + 1);
    assert!(
        s.begin(record(&s, 5, false, later), "b", later, &policy)
            .is_ok(),
        "taken over"
    );
    assert_eq!(s.lease.as_ref().unwrap().holder, "b");
    s.active.as_mut().unwrap().rollback_job = Some(JobId::new(9));
    assert_eq!(
        s.begin(record(&s, 5, false, later), "c", later, &policy),
        Err(Refusal::AlreadyHandled)
    );
}

#[test]
fn automatic_rollbacks_are_limited_per_window_manual_ones_not() {
    let policy = RollbackPolicy::default();
    let mut s = state();
    s.begin(record(&s, 5, true, at(0)), "a", at(0), &policy)
        .unwrap();
    s.active.as_mut().unwrap().rollback_job = Some(JobId::new(7));
    s.finish(Outcome::Succeeded, "healthy", at(10)).unwrap();
    assert_eq!(
        s.begin(record(&s, 8, true, at(60)), "a", at(60), &policy),
        Err(Refusal::LimitReached { max: 1, hours: 6 })
    );
    assert!(
        s.begin(record(&s, 8, false, at(60)), "op", at(60), &policy)
            .is_ok(),
        "a person may"
    );
    s.finish(Outcome::Failed, "x", at(70));
    assert!(
        s.begin(record(&s, 9, true, at(7 * 60)), "a", at(7 * 60), &policy)
            .is_ok(),
        "the window has passed"
    );
}

#[test]
fn a_finished_rollback_has_its_time_to_restore() {
    let policy = RollbackPolicy::default();
    let mut s = state();
    s.begin(record(&s, 5, true, at(0)), "a", at(0), &policy)
        .unwrap();
    let done = s.finish(Outcome::Succeeded, "healthy", at(12)).unwrap();
    assert_eq!(done.time_to_restore(), Some(Duration::minutes(12)));
    assert!(
        s.finish(Outcome::Failed, "again", at(13)).is_none(),
        "finished once"
    );
    assert!(s.lease.is_none());
}

#[test]
fn retries_count_per_lineage() {
    let mut s = state();
    assert_eq!(s.lineage(JobId::new(3)), (JobId::new(3), 0));
    s.retries.insert(
        "3".into(),
        RetryRecord {
            root: JobId::new(3),
            attempt: 1,
            retry_job: Some(JobId::new(4)),
            at: at(0),
        },
    );
    assert_eq!(
        s.lineage(JobId::new(4)),
        (JobId::new(3), 1),
        "a retry of a retry counts against the root"
    );
}

#[test]
fn automatic_rollback_follows_the_environment_unless_the_policy_says() {
    let p = RollbackPolicy::default();
    assert!(!p.automatic_in(Environment::Dev, AutoRollback::Auto));
    assert!(p.automatic_in(Environment::Staging, AutoRollback::Auto));
    assert!(!p.automatic_in(Environment::Prod, AutoRollback::Off));
    let forced = RollbackPolicy {
        automatic: Some(true),
        ..p
    };
    assert!(forced.automatic_in(Environment::Dev, AutoRollback::Off));
    assert_eq!(AutoRollback::parse("sometimes"), None);
}

#[test]
fn retries_are_pruned_by_age_then_by_count() {
    let mut s = state();
    for n in 0..500u64 {
        s.retries.insert(
            n.to_string(),
            RetryRecord {
                root: JobId::new(n),
                attempt: 1,
                retry_job: None,
                at: at(n as i64),
            },
        );
    }
    s.prune_retries(at(500));
    assert_eq!(s.retries.len(), RETRIES_KEPT - 1);
    assert!(s.retries.contains_key("499") && !s.retries.contains_key("0"));
    s.prune_retries(at(450) + Duration::days(RETRIES_KEPT_DAYS));
    assert!(s.retries.len() < 50 && s.retries.contains_key("499"));
}
