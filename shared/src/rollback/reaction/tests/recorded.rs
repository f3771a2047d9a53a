//! Acting on the record, not on the event (issue #18 item 10): what an event
//! claims is checked against the job's record before anything is done.

use super::*;

/// `raw` with some of its detail's fields replaced: what anything allowed
/// to put events on the bus could send.
fn saying(raw: &str, fields: serde_json::Value) -> String {
    let mut event: serde_json::Value = serde_json::from_str(raw).unwrap();
    for (field, value) in fields.as_object().unwrap() {
        event["detail"][field] = value.clone();
    }
    event.to_string()
}

/// Issue #18 item 10: a "Deployment Unhealthy" saying `rollbackAllowed`
/// is acted on only if the job's record holds the health checker's
/// unhealthy verdict (written before it publishes).
#[tokio::test]
async fn an_unhealthy_event_its_record_does_not_bear_out_starts_nothing() {
    let forged = saying(
        &job_2_unhealthy(),
        json!({"rollbackAllowed": true, "scheduled": false, "isRollback": false}),
    );
    for case in ["healthy", "no verdict", "inconclusive", "no record"] {
        let w = World::new(Environment::Prod, true).await;
        set_branch(&w, true);
        match case {
            "healthy" => w.checked(2, Verdict::Healthy).await,
            "inconclusive" => w.checked(2, Verdict::Inconclusive).await,
            "no verdict" => w.record(2, |_| ()).await,
            _ => {}
        }
        let action = w.deliver("r1", &forged).await;
        let RollbackAction::Refused {
            why,
            recommended: false,
        } = &action
        else {
            panic!("{case}: {action:?}");
        };
        assert!(why.contains("not acted on"), "{case}: {why}");
        w.untouched(case).await;
    }
}

/// The deploy check's unhealthy verdict leads to a rollback whatever the
/// event says, and the reason given is the recorded one.
#[tokio::test]
async fn an_unhealthy_deploy_check_is_rolled_back_on_its_recorded_verdict() {
    let w = World::unhealthy(true).await;
    let event = saying(
        &job_2_unhealthy(),
        json!({"rollbackAllowed": false, "scheduled": true, "reason": "what the sender says"}),
    );
    w.started("r1", &event).await;
    let published = w.publisher.published.lock().unwrap().clone();
    let detail: serde_json::Value = serde_json::from_str(&published[0].detail).unwrap();
    let reason = detail["reason"].as_str().unwrap();
    assert!(reason.contains("recorded: Unhealthy"), "{reason}");
    assert!(!reason.contains("what the sender says"), "{reason}");
}

/// Only a scheduled check found the live job unhealthy: a rollback only
/// with the policy's `health.rollback_on_live_failure`, whatever the
/// event's `scheduled` and `rollbackAllowed` say.
#[tokio::test]
async fn an_unhealthy_scheduled_check_is_rolled_back_only_where_the_policy_says() {
    let w = World::new(Environment::Prod, true).await;
    w.checked(2, Verdict::Healthy).await;
    w.live_checked(2, Verdict::Unhealthy).await;
    let claims_allowed = saying(
        &job_2_unhealthy(),
        json!({"rollbackAllowed": true, "scheduled": false}),
    );
    let action = w.deliver("r1", &claims_allowed).await;
    assert!(matches!(action, RollbackAction::Ignored(_)), "{action:?}");
    w.untouched("no policy flag").await;

    w.policy("health:\n  rollback_on_live_failure: true\n")
        .await;
    let claims_refused = saying(
        &job_2_unhealthy(),
        json!({"rollbackAllowed": false, "scheduled": true}),
    );
    w.started("r2", &claims_refused).await;
    assert_eq!(w.starts().len(), 1);
}

/// A rollback begun on a scheduled verdict is taken over by the redelivery
/// even if a later scheduled check found the site up again: the branch is
/// not left locked with no rollback.
#[tokio::test]
async fn a_rollback_begun_on_a_verdict_since_replaced_is_taken_over() {
    let w = World::new(Environment::Prod, true).await;
    w.policy("health:\n  rollback_on_live_failure: true\n")
        .await;
    w.live_checked(2, Verdict::Unhealthy).await;
    w.amplify.fail_next_start.store(1, Ordering::SeqCst);
    let raw = job_2_unhealthy();
    w.fails("r1", &raw).await;
    w.live_checked(2, Verdict::Healthy).await;
    w.started("r2", &raw).await;
    assert_eq!(w.starts().len(), 1);
}

/// Whether a job is a rollback is its record's word (or the branch's
/// rollback state's), never the event's `isRollback`.
#[tokio::test]
async fn a_rollback_job_is_known_by_its_record_not_by_the_event() {
    let w = World::unhealthy(true).await;
    w.started("r1", &job_2_unhealthy()).await;
    // Job 3, the rollback, is concluded; later it is found unhealthy.
    w.checked(3, Verdict::Healthy).await;
    assert_eq!(
        w.deliver("r2", &health("healthy", 3, GOOD, true)).await,
        RollbackAction::RollbackSucceeded
    );
    w.live_checked(3, Verdict::Unhealthy).await;
    w.policy("health:\n  rollback_on_live_failure: true\n")
        .await;
    let forged = saying(
        &health("unhealthy", 3, GOOD, false),
        json!({"isRollback": false, "rollbackOf": null, "rollbackAllowed": true}),
    );
    let action = w.deliver("r3", &forged).await;
    assert!(
        !matches!(action, RollbackAction::Started { .. }),
        "{action:?}"
    );
    assert_eq!(w.starts().len(), 1, "never a rollback of the rollback");
    assert_eq!(
        w.publisher.detail_types(),
        vec!["Rollback Started", "Rollback Succeeded"]
    );
}

/// A rollback in progress is concluded on what its job's record says
/// only: a forged "Deployment Healthy", "Deployment Unhealthy" or "Build
/// Failed" of the rollback job ends nothing.
#[tokio::test]
async fn a_rollback_is_concluded_on_its_jobs_record_only() {
    let w = World::unhealthy(true).await;
    w.started("r1", &job_2_unhealthy()).await;
    for raw in [
        health("healthy", 3, GOOD, true),
        health("unhealthy", 3, GOOD, true),
        build("FAILED", 3, GOOD),
        build("SUCCEED", 3, "3333333333333333"),
    ] {
        let action = w.deliver("r2", &raw).await;
        assert!(
            matches!(action, RollbackAction::Refused { .. }),
            "{action:?}"
        );
    }
    let state = w.state().await;
    assert!(state.is_rollback_job(JobId::new(3)), "still in progress");
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Started"]);
}

/// "Build Diagnosed" is acted on as the alerter recorded it: a job whose
/// record holds no transient diagnosis, or is a rollback, is not retried
/// whatever the event says.
#[tokio::test]
async fn a_diagnosis_its_record_does_not_bear_out_retries_nothing() {
    let forged = saying(
        &diagnosed(2, true),
        json!({"transient": true, "isRollback": false, "rollbackOf": null}),
    );
    for case in ["not transient", "no diagnosis", "no record", "a rollback"] {
        let w = World::new(Environment::Prod, true).await;
        match case {
            "not transient" => w.diagnosis(2, false).await,
            "no diagnosis" => w.record(2, |_| ()).await,
            "a rollback" => {
                w.diagnosis(2, true).await;
                w.record(2, |d| d.rollback_of = Some(JobId::new(1))).await;
            }
            _ => {}
        }
        let action = w.deliver("r1", &forged).await;
        assert!(
            matches!(action, RollbackAction::NotRetried(_)),
            "{case}: {action:?}"
        );
        w.untouched(case).await;
    }
}

#[tokio::test]
async fn an_unhealthy_reported_service_is_recommended_a_rollback_once_and_amplify_is_never_called()
{
    let w = World::new(Environment::Prod, true).await;
    let svc = DeploymentKey {
        app_id: "svc:shop-api".parse().unwrap(),
        branch_name: "prod".parse().unwrap(),
        job_id: JobId::new(1_764_000_000_000),
    };
    let mut d = Deployment::new(svc.clone(), Environment::Prod);
    d.status = BuildStatus::Succeeded;
    d.health = Some(HealthRecord {
        verdict: Verdict::Unhealthy,
        reason: "3 consecutive rounds failed: status 500".into(),
        url: "https://shop.example.com/".into(),
        checked_at: Utc::now(),
        rounds: 3,
        endpoints: Vec::new(),
    });
    w.store.save_deployment(&d).await.unwrap();
    let raw = health("unhealthy", svc.job_id.number(), BAD, false)
        .replace("d1abc/main", "svc:shop-api/prod")
        .replace("\"d1abc\"", "\"svc:shop-api\"")
        .replace("\"main\"", "\"prod\"");
    for _ in 0..2 {
        let action = w.deliver("r1", &raw).await;
        assert_recommended(&action);
    }
    assert!(w.starts().is_empty());
    assert_eq!(w.amplify.calls.load(Ordering::SeqCst), 0);
    assert_eq!(w.publisher.detail_types(), vec!["Rollback Recommended"]);
    let published = w.publisher.published.lock().unwrap()[0].detail.clone();
    assert!(
        published.contains("cannot roll back a reported service"),
        "{published}"
    );
}
