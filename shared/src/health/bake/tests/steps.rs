//! The bake's steps over in-memory ports: when each is sent, the window it
//! reads, redeliveries, its verdict and what follows it.

use super::*;

#[tokio::test]
async fn the_first_step_is_sent_to_arrive_after_its_window_settled() {
    let w = World::new(on()).await;
    assert!(w.baker().start(&key(2), t0()).await.unwrap());
    let sent = w.steps.sent();
    assert_eq!(sent.len(), 1);
    // The window is 10:01–10:06; read at 10:07, 6.5 minutes after t0.
    assert_eq!(sent[0].1, 390);
    let body: serde_json::Value = serde_json::from_str(&sent[0].0).unwrap();
    assert_eq!(body["detail-type"], BAKE_STEP);
    assert_eq!(body["detail"]["step"], 1);
}

#[tokio::test]
async fn each_step_reads_only_its_window_in_one_call() {
    let w = World::new(on()).await;
    assert_eq!(w.step(1).await, StepResult::Judged(StepOutcome::Passed));
    let reads = w.metrics.reads();
    let start = w.bake.started_at;
    // The first step reads the two baselines once, then its own window.
    // The baseline ends with the minute the deploy went live in (10:00).
    let live = start - Duration::minutes(1);
    assert_eq!(
        reads,
        vec![
            (live - Duration::minutes(15), live),
            (
                start - Duration::days(7),
                start - Duration::days(7) + Duration::minutes(15)
            ),
            w.bake.window(1),
        ]
    );
    assert_eq!(w.step(2).await, StepResult::Judged(StepOutcome::Passed));
    assert_eq!(
        w.metrics.reads()[3..],
        [w.bake.window(2)],
        "one GetMetricData"
    );
    assert_eq!(
        *w.metrics.alarm_reads.lock().unwrap(),
        0,
        "no alarms named, none read"
    );
}

#[tokio::test]
async fn a_step_delivered_twice_decides_once() {
    let w = World::new(on()).await;
    w.step(1).await;
    let reads = w.metrics.reads().len();
    let record = w.record().await;
    assert_eq!(w.step(1).await, StepResult::AlreadyDecided);
    assert_eq!(w.metrics.reads().len(), reads, "not read again");
    let again = w.record().await;
    assert_eq!(again.bake, record.bake, "nothing changed");
    // The redelivery re-sends step 2, in case that send was lost.
    let sent: Vec<u32> = w
        .steps
        .sent()
        .iter()
        .map(|(b, _)| {
            serde_json::from_str::<serde_json::Value>(b).unwrap()["detail"]["step"]
                .as_u64()
                .unwrap() as u32
        })
        .collect();
    assert_eq!(sent, vec![2, 2]);
}

#[tokio::test]
async fn a_step_before_its_window_settled_is_sent_again_for_later() {
    let w = World::new(on()).await;
    let event = BakeStepEvent {
        app_id: key(2).app_id,
        branch_name: key(2).branch_name,
        job_id: JobId::new(2),
        step: 1,
    };
    let r = w.baker().on_step(&event, t0()).await.unwrap();
    assert_eq!(r, StepResult::NotYet);
    assert!(w.metrics.reads().is_empty());
    assert_eq!(w.steps.sent()[0].1, 390);
}

#[tokio::test]
async fn failing_checkout_traffic_fails_the_bake_and_asks_for_a_rollback() {
    let w = World::new(on()).await;
    w.metrics.set_window(
        w.bake.window(1).0,
        w.bake.window(1).1,
        figures(1_000, 200, 130),
    );
    w.metrics.set_window(
        w.bake.window(2).0,
        w.bake.window(2).1,
        figures(1_100, 220, 130),
    );
    let live = w.bake.baseline_until();
    w.metrics
        .set_window(live - Duration::minutes(15), live, figures(3_000, 3, 120));
    assert_eq!(w.step(1).await, StepResult::Judged(StepOutcome::Failed));
    assert!(w.publisher.detail_types().is_empty());
    assert_eq!(w.step(2).await, StepResult::Finished(BakeOutcome::Failed));
    assert_eq!(
        w.publisher.detail_types(),
        vec![detail_type::DEPLOYMENT_UNHEALTHY]
    );
    let entry = w.publisher.published.lock().unwrap()[0].clone();
    let e: crate::core::events::HealthEvent = serde_json::from_str(&entry.detail).unwrap();
    assert!(e.rollback_allowed);
    assert!(
        e.reason.starts_with("bake: 2 of 2 intervals failed"),
        "{}",
        e.reason
    );
    assert!(e.reason.contains("before: 0.10 % 5xx"), "{}", e.reason);
    assert!(e.reason.contains("after: 20.00 % 5xx"), "{}", e.reason);
    let evidence = e.bake.unwrap();
    assert_eq!(evidence.failed_intervals.len(), 2);
    let record = w.record().await;
    assert_eq!(record.bake.unwrap().outcome, Some(BakeOutcome::Failed));
    // The last known good stays the job before: the rollback's target.
    assert_eq!(w.last_known_good().await, Some(JobId::new(1)));
    assert_eq!(w.steps.sent().len(), 1, "no step after the verdict");
}

#[tokio::test]
async fn a_clean_bake_passes_and_then_moves_the_last_known_good() {
    let w = World::new(on()).await;
    for n in 1..=2 {
        assert_eq!(w.step(n).await, StepResult::Judged(StepOutcome::Passed));
    }
    assert_eq!(w.step(3).await, StepResult::Finished(BakeOutcome::Passed));
    assert_eq!(w.publisher.detail_types(), vec![detail_type::BAKE_PASSED]);
    assert_eq!(w.last_known_good().await, Some(JobId::new(2)));
}

#[tokio::test]
async fn a_quiet_site_ends_inconclusive_and_is_never_rolled_back() {
    let w = World::new(on()).await;
    w.metrics.set_default(Some(figures(20, 10, 100)));
    for n in 1..=2 {
        assert_eq!(
            w.step(n).await,
            StepResult::Judged(StepOutcome::Inconclusive)
        );
    }
    assert_eq!(
        w.step(3).await,
        StepResult::Finished(BakeOutcome::Inconclusive)
    );
    assert_eq!(
        w.publisher.detail_types(),
        vec![detail_type::DEPLOYMENT_CHECK_INCONCLUSIVE]
    );
    let entry = w.publisher.published.lock().unwrap()[0].clone();
    let e: crate::core::events::HealthEvent = serde_json::from_str(&entry.detail).unwrap();
    assert!(!e.rollback_allowed);
}

#[tokio::test]
async fn a_newer_deploy_stops_the_bake_without_a_verdict() {
    let w = World::new(on()).await;
    w.store
        .advance_pointer(&key(3), Some("beef123"), BranchPointer::Live)
        .await
        .unwrap();
    w.stops_without_verdict().await;
    assert!(w.metrics.reads().is_empty());
}

#[tokio::test]
async fn cloudwatch_unavailable_retries_the_step() {
    let w = World::new(on()).await;
    *w.metrics.fail_next.lock().unwrap() = Some(crate::core::error::MetricsError::Unavailable(
        "Throttling".into(),
    ));
    let event = BakeStepEvent {
        app_id: key(2).app_id,
        branch_name: key(2).branch_name,
        job_id: JobId::new(2),
        step: 1,
    };
    let (_, to) = w.bake.window(1);
    let err = w
        .baker()
        .on_step(&event, to + Duration::seconds(61))
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert!(w.record().await.bake.unwrap().steps.is_empty());
}

#[tokio::test]
async fn a_bake_turned_off_in_the_policy_stops_without_a_verdict() {
    let w = World::new(on()).await;
    let mut off = crate::policy::BranchPolicy::default();
    off.health.bake = BakePolicy::default();
    w.store
        .put_policy(&key(2).app_id, Some(&key(2).branch_name), &off)
        .await
        .unwrap();
    w.stops_without_verdict().await;
    let bake = w.record().await.bake.unwrap();
    assert_eq!(
        bake.reason.as_deref(),
        Some("the bake was turned off in the policy")
    );
}
