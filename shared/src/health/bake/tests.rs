//! The bake's rules (pure) and its steps against in-memory ports.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::analysis::{self, Limits};
use super::reaction::{BAKE_STEP, BakeStepEvent, Baker, StepResult, plan};
use super::{BakePolicy, Number};
use crate::adapters::memory::{InMemory, MemoryMetrics, MemoryPublisher, MemorySteps, MemoryStore};
use crate::core::bake::{
    Alarm, AlarmState, BakeOutcome, BakeRecord, BakeStep, Baseline, Figures, StepOutcome,
};
use crate::core::deployment::{Deployment, DeploymentKey, HealthRecord};
use crate::core::events::detail_type;
use crate::core::model::{Environment, JobId};
use crate::core::verdicts::Verdict;
use crate::policy::PolicyStore;
use crate::ports::{BranchPointer, DeploymentStore};

fn figures(requests: u64, errors_5xx: u64, p90: u64) -> Figures {
    Figures {
        requests,
        errors_5xx,
        errors_4xx: 0,
        errors_5xx_missing: false,
        p90_latency_ms: Some(p90),
        datapoints: 5,
    }
}

fn on() -> BakePolicy {
    BakePolicy {
        enabled: true,
        duration_minutes: 15,
        interval_minutes: 5,
        ..BakePolicy::default()
    }
}

fn quiet_baseline() -> Baseline {
    Baseline {
        before_deploy: figures(3_000, 3, 120),
        week_ago: figures(2_800, 0, 110),
        alarms: Vec::new(),
    }
}

// ----- the rules -----

#[test]
fn the_bake_is_off_by_default_and_its_defaults_are_usable() {
    let p = BakePolicy::default();
    assert!(!p.enabled, "a first install must not act on a guess");
    assert!(p.problems().is_empty(), "{:?}", p.problems());
    assert_eq!(p.steps(), 6);
    assert_eq!(p.max_error_rate, Number(0.01));
}

#[test]
fn an_interval_longer_than_an_sqs_delay_is_refused() {
    let p = BakePolicy {
        interval_minutes: 15,
        ..on()
    };
    assert!(p.problems()[0].contains("1 to 14"), "{:?}", p.problems());
    let p = BakePolicy {
        max_error_rate: Number(f64::NAN),
        ..on()
    };
    assert!(!p.problems().is_empty());
}

#[test]
fn only_the_production_branch_is_baked_unless_branches_are_named() {
    let p = on();
    assert!(p.covers("main", Some("PRODUCTION")));
    assert!(!p.covers("pr-12", Some("PULL_REQUEST")));
    assert!(!p.covers("main", None));
    let named = BakePolicy {
        branches: vec!["release".into()],
        ..on()
    };
    assert!(named.covers("release", None));
    assert!(!named.covers("main", Some("PRODUCTION")));
}

#[test]
fn the_error_rate_limit_is_the_floor_or_three_times_the_baseline() {
    let p = on();
    let low = analysis::limits(&p, &quiet_baseline());
    assert!((low.error_rate - 0.01).abs() < 1e-9, "{low:?}");
    let noisy = Baseline {
        before_deploy: figures(1_000, 20, 100),
        week_ago: figures(1_000, 10, 100),
        alarms: Vec::new(),
    };
    let high = analysis::limits(&p, &noisy);
    assert!(
        (high.error_rate - 0.06).abs() < 1e-9,
        "3 × the higher rate: {high:?}"
    );
    assert_eq!(
        high.p90_latency_ms,
        Some(1_000),
        "the floor wins over 2 × 100 ms"
    );
}

#[test]
fn a_baseline_without_traffic_is_ignored() {
    let p = on();
    let b = Baseline {
        before_deploy: figures(10, 5, 900),
        week_ago: Figures::default(),
        alarms: Vec::new(),
    };
    let l = analysis::limits(&p, &b);
    assert!((l.error_rate - 0.01).abs() < 1e-9);
    assert_eq!(
        l.p90_latency_ms, None,
        "latency is not judged without a baseline"
    );
    assert_eq!(l.reference, None);
}

#[test]
fn twenty_percent_of_failing_requests_fail_the_interval_with_figures() {
    let p = on();
    let l = analysis::limits(&p, &quiet_baseline());
    let (o, why) = analysis::judge(&p, &l, Some(&figures(1_000, 200, 130)), &[], &[]);
    assert_eq!(o, StepOutcome::Failed);
    assert!(
        why[0].contains("20.00 %") && why[0].contains("200 of 1000"),
        "{why:?}"
    );
}

#[test]
fn a_slower_p90_than_twice_the_baseline_fails_the_interval() {
    let p = on();
    let l = Limits {
        error_rate: 0.01,
        p90_latency_ms: Some(1_200),
        reference: None,
    };
    let (o, why) = analysis::judge(&p, &l, Some(&figures(1_000, 0, 1_500)), &[], &[]);
    assert_eq!(o, StepOutcome::Failed);
    assert!(
        why[0].contains("p90 latency 1500 ms above 1200 ms"),
        "{why:?}"
    );
}

#[test]
fn low_traffic_is_inconclusive_not_failure() {
    let p = on();
    let l = analysis::limits(&p, &quiet_baseline());
    // Half the requests fail, but there are 12 of them.
    let (o, why) = analysis::judge(&p, &l, Some(&figures(12, 6, 100)), &[], &[]);
    assert_eq!(o, StepOutcome::Inconclusive);
    assert!(why[0].contains("below the minimum of 100"), "{why:?}");
}

#[test]
fn missing_datapoints_are_inconclusive() {
    let p = on();
    let l = analysis::limits(&p, &quiet_baseline());
    assert_eq!(
        analysis::judge(&p, &l, None, &[], &[]).0,
        StepOutcome::Inconclusive
    );
    let none = Figures::default();
    let (o, why) = analysis::judge(&p, &l, Some(&none), &[], &[]);
    assert_eq!(o, StepOutcome::Inconclusive);
    assert!(why[0].contains("no datapoints"), "{why:?}");
}

#[test]
fn an_alarm_in_alarm_fails_the_interval_whatever_the_traffic() {
    let p = on();
    let l = analysis::limits(&p, &quiet_baseline());
    let alarms = vec![
        Alarm::new("api-errors", AlarmState::Alarm, None),
        Alarm::new("canary", AlarmState::Ok, None),
    ];
    let (o, why) = analysis::judge(&p, &l, Some(&figures(3, 0, 100)), &alarms, &[]);
    assert_eq!(o, StepOutcome::Failed);
    assert_eq!(why, vec!["alarm api-errors is in ALARM".to_owned()]);
}

#[test]
fn insufficient_data_or_a_missing_alarm_is_inconclusive() {
    let p = on();
    let l = analysis::limits(&p, &quiet_baseline());
    for state in [AlarmState::InsufficientData, AlarmState::Missing] {
        let alarms = vec![Alarm::new("canary", state, None)];
        let (o, _) = analysis::judge(&p, &l, Some(&figures(1_000, 0, 100)), &alarms, &[]);
        assert_eq!(o, StepOutcome::Inconclusive, "{state:?}");
    }
}

fn bake_with(outcomes: &[StepOutcome], total: u32) -> BakeRecord {
    let mut b = plan(
        &on(),
        None,
        Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap(),
    );
    b.steps_total = total;
    b.steps = outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let (from, to) = b.window(i as u32 + 1);
            BakeStep {
                step: i as u32 + 1,
                from,
                to,
                figures: figures(1_000, if *o == StepOutcome::Failed { 200 } else { 0 }, 100),
                outcome: *o,
                reasons: vec![format!("{o:?}")],
            }
        })
        .collect();
    b
}

#[test]
fn failure_limit_failed_intervals_fail_the_bake_at_once() {
    use StepOutcome::*;
    let p = on(); // failure_limit 2
    assert_eq!(analysis::outcome(&p, &bake_with(&[Failed], 3)), None);
    let (o, why) = analysis::outcome(&p, &bake_with(&[Failed, Passed, Failed], 6)).unwrap();
    assert_eq!(o, BakeOutcome::Failed);
    assert!(why.starts_with("bake: 2 of 3 intervals failed"), "{why}");
}

#[test]
fn one_failed_interval_under_the_limit_still_passes() {
    use StepOutcome::*;
    let (o, why) = analysis::outcome(&on(), &bake_with(&[Passed, Failed, Passed], 3)).unwrap();
    assert_eq!(o, BakeOutcome::Passed);
    assert!(why.contains("1 failed"), "{why}");
}

#[test]
fn too_many_inconclusive_intervals_make_the_bake_inconclusive() {
    use StepOutcome::*;
    let p = BakePolicy {
        inconclusive_limit: 1,
        ..on()
    };
    let (o, _) =
        analysis::outcome(&p, &bake_with(&[Inconclusive, Passed, Inconclusive], 3)).unwrap();
    assert_eq!(o, BakeOutcome::Inconclusive);
    let (o, _) = analysis::outcome(&on(), &bake_with(&[Inconclusive; 3], 3)).unwrap();
    assert_eq!(o, BakeOutcome::Inconclusive, "no interval passed");
}

#[test]
fn the_evidence_has_the_figures_before_and_after_and_the_failed_intervals() {
    use StepOutcome::*;
    let mut b = bake_with(&[Failed, Failed], 3);
    b.baseline = Some(quiet_baseline());
    b.outcome = Some(BakeOutcome::Failed);
    b.console_url = analysis::console_url("eu-west-1", "d1abc", "a", "b");
    let e = analysis::evidence(&on(), &b);
    assert_eq!(e.before.requests, 3_000, "the busier baseline window");
    assert_eq!((e.after.requests, e.after.errors_5xx), (2_000, 400));
    assert_eq!(e.failed_intervals.len(), 2);
    assert!(
        e.failed_intervals[0].starts_with("step 1 [10:01–10:06]"),
        "{:?}",
        e.failed_intervals
    );
    assert!(e.console_url.contains("AWS*2fAmplifyHosting") && e.console_url.contains("d1abc"));
    let text = super::reaction::figures_text(&e);
    assert_eq!(
        text,
        "before: 0.10 % 5xx, p90 120 ms, 3000 requests; after: 20.00 % 5xx, p90 100 ms, 2000 requests"
    );
}

// ----- the steps -----

struct World {
    store: MemoryStore,
    publisher: MemoryPublisher,
    metrics: MemoryMetrics,
    steps: MemorySteps,
    bake: BakeRecord,
}

fn key(n: u64) -> DeploymentKey {
    DeploymentKey {
        app_id: "d1abc".parse().unwrap(),
        branch_name: "main".parse().unwrap(),
        job_id: JobId::new(n),
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 30).unwrap()
}

impl World {
    /// Job 2 live and Healthy by its probes, its bake planned at `t0`;
    /// job 1 the last known good.
    async fn new(policy: BakePolicy) -> Self {
        let store = MemoryStore::default();
        let mut branch_policy = crate::policy::BranchPolicy::default();
        branch_policy.health.bake = policy.clone();
        store
            .put_policy(&key(2).app_id, Some(&key(2).branch_name), &branch_policy)
            .await
            .unwrap();
        for n in [1, 2] {
            store
                .advance_pointer(&key(n), Some("c0ffee0"), BranchPointer::Live)
                .await
                .unwrap();
        }
        store
            .advance_pointer(&key(1), Some("c0ffee0"), BranchPointer::LastKnownGood)
            .await
            .unwrap();
        // Deployed 20 s before the probes' verdict.
        let bake = plan(&policy, Some(t0() - Duration::seconds(20)), t0());
        let mut d = Deployment::new(key(2), Environment::Prod);
        d.health = Some(HealthRecord {
            verdict: Verdict::Healthy,
            reason: "2 consecutive rounds passed".into(),
            url: "https://main.d1abc.amplifyapp.com/".into(),
            checked_at: t0(),
            rounds: 2,
            endpoints: Vec::new(),
        });
        d.bake = Some(bake.clone());
        store.save_deployment(&d).await.unwrap();
        let metrics = MemoryMetrics::default();
        metrics.set_default(Some(figures(1_000, 1, 120)));
        Self {
            store,
            publisher: MemoryPublisher::default(),
            metrics,
            steps: MemorySteps::default(),
            bake,
        }
    }

    fn baker(&self) -> Baker<'_, InMemory, MemoryMetrics, MemorySteps> {
        Baker {
            store: &self.store,
            publisher: &self.publisher,
            metrics: &self.metrics,
            steps: &self.steps,
            region: "eu-west-1",
        }
    }

    /// Delivers step `n` just after its window settled.
    async fn step(&self, n: u32) -> StepResult {
        let (_, to) = self.bake.window(n);
        let event = BakeStepEvent {
            app_id: key(2).app_id,
            branch_name: key(2).branch_name,
            job_id: JobId::new(2),
            step: n,
        };
        self.baker()
            .on_step(&event, to + Duration::seconds(61))
            .await
            .unwrap()
    }

    async fn record(&self) -> Deployment {
        self.store.get_deployment(&key(2)).await.unwrap().unwrap()
    }
}

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
    let state = w
        .store
        .get_branch_state(&key(2).app_id, &key(2).branch_name)
        .await
        .unwrap();
    assert_eq!(state.last_known_good_job, Some(JobId::new(1)));
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
    let state = w
        .store
        .get_branch_state(&key(2).app_id, &key(2).branch_name)
        .await
        .unwrap();
    assert_eq!(state.last_known_good_job, Some(JobId::new(2)));
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
async fn an_alarm_in_alarm_fails_the_bake_at_once() {
    let w = World::new(BakePolicy {
        alarms: vec!["checkout-errors".into()],
        ..on()
    })
    .await;
    // Into ALARM during the bake (the deploy was at t0 - 20 s).
    w.metrics.set_alarm_since(
        "checkout-errors",
        AlarmState::Alarm,
        t0() + Duration::minutes(2),
    );
    assert_eq!(w.step(1).await, StepResult::Finished(BakeOutcome::Failed));
    let entry = w.publisher.published.lock().unwrap()[0].clone();
    assert_eq!(entry.detail_type, detail_type::DEPLOYMENT_UNHEALTHY);
    assert!(
        entry.detail.contains("alarm checkout-errors is in ALARM"),
        "{}",
        entry.detail
    );
    assert_eq!(
        *w.metrics.alarm_reads.lock().unwrap(),
        1,
        "one DescribeAlarms per step"
    );
}

#[tokio::test]
async fn a_newer_deploy_stops_the_bake_without_a_verdict() {
    let w = World::new(on()).await;
    w.store
        .advance_pointer(&key(3), Some("beef123"), BranchPointer::Live)
        .await
        .unwrap();
    assert_eq!(
        w.step(1).await,
        StepResult::Finished(BakeOutcome::Superseded)
    );
    assert!(w.publisher.detail_types().is_empty());
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
    assert_eq!(
        w.step(1).await,
        StepResult::Finished(BakeOutcome::Superseded)
    );
    assert!(w.publisher.detail_types().is_empty());
    let bake = w.record().await.bake.unwrap();
    assert_eq!(
        bake.reason.as_deref(),
        Some("the bake was turned off in the policy")
    );
}

// ----- #28 item 10: what a bake may and may not conclude -----

#[tokio::test]
async fn an_alarm_already_in_alarm_before_the_deploy_fails_no_step() {
    let w = World::new(BakePolicy {
        alarms: vec!["checkout-errors".into()],
        ..on()
    })
    .await;
    // Firing for an hour before the deploy, and through the whole bake.
    w.metrics.set_alarm_since(
        "checkout-errors",
        AlarmState::Alarm,
        t0() - Duration::hours(1),
    );
    for n in 1..=3 {
        let result = w.step(n).await;
        assert_ne!(
            result,
            StepResult::Finished(BakeOutcome::Failed),
            "step {n}"
        );
    }
    let bake = w.record().await.bake.unwrap();
    assert_eq!(
        bake.baseline.as_ref().unwrap().alarms,
        vec![Alarm::new(
            "checkout-errors",
            AlarmState::Alarm,
            Some(t0() - Duration::hours(1))
        )],
        "the alarm's state at the deploy is in the baseline"
    );
    assert!(
        bake.steps
            .iter()
            .all(|s| s.outcome == StepOutcome::Inconclusive),
        "an alarm firing throughout says nothing about the deploy: {:?}",
        bake.steps
    );
    assert!(
        bake.steps[0].reasons[0].contains("was in ALARM before the deploy"),
        "{:?}",
        bake.steps[0].reasons
    );
    assert_eq!(bake.outcome, Some(BakeOutcome::Inconclusive));
    assert!(
        !w.publisher
            .detail_types()
            .contains(&detail_type::DEPLOYMENT_UNHEALTHY.to_owned()),
        "no rollback for an alarm the deploy did not cause"
    );
}

#[tokio::test]
async fn an_alarm_that_recovers_and_fires_again_during_the_bake_fails_it() {
    let w = World::new(BakePolicy {
        alarms: vec!["checkout-errors".into()],
        ..on()
    })
    .await;
    let before = t0() - Duration::hours(1);
    w.metrics
        .set_alarm_since("checkout-errors", AlarmState::Alarm, before);
    assert_eq!(
        w.step(1).await,
        StepResult::Judged(StepOutcome::Inconclusive)
    );
    // OK, then into ALARM again: a transition during the bake.
    w.metrics.set_alarm_since(
        "checkout-errors",
        AlarmState::Alarm,
        t0() + Duration::minutes(7),
    );
    assert_eq!(w.step(2).await, StepResult::Finished(BakeOutcome::Failed));
}

#[test]
fn only_a_transition_into_alarm_after_the_deploy_fails_an_interval() {
    let p = on();
    let l = analysis::limits(&p, &quiet_baseline());
    let deploy = t0();
    let good = figures(1_000, 0, 100);
    let readings = vec![
        Alarm::new("old", AlarmState::Alarm, Some(deploy - Duration::days(2))),
        Alarm::new("new", AlarmState::Ok, Some(deploy - Duration::days(2))),
        Alarm::new(
            "moved",
            AlarmState::Ok,
            Some(deploy + Duration::seconds(30)),
        ),
    ];
    let at_deploy = analysis::alarms_at_deploy(&readings, deploy);
    assert_eq!(
        at_deploy
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        vec!["old", "new"],
        "a state entered after the deploy is not the baseline's"
    );
    let (o, why) = analysis::judge(&p, &l, Some(&good), &readings[..1], &at_deploy);
    assert_eq!(o, StepOutcome::Inconclusive, "{why:?}");
    let fired = [Alarm::new(
        "new",
        AlarmState::Alarm,
        Some(deploy + Duration::minutes(4)),
    )];
    let (o, why) = analysis::judge(&p, &l, Some(&good), &fired, &at_deploy);
    assert_eq!(o, StepOutcome::Failed);
    assert_eq!(why, vec!["alarm new is in ALARM".to_owned()]);
}

#[test]
fn a_missing_5xx_series_while_requests_has_data_is_inconclusive_not_zero_errors() {
    let p = on();
    let l = analysis::limits(&p, &quiet_baseline());
    let requests = [1_000.0];
    let samples = [5.0];
    // Requests answered, neither 5xxErrors nor 5XXErrors had a datapoint.
    let f = crate::adapters::cloudwatch::figures_of(&[
        ("requests", &requests[..]),
        ("samples", &samples[..]),
        ("e5", &[]),
        ("e5upper", &[]),
    ]);
    assert!(f.errors_5xx_missing, "{f:?}");
    assert_eq!(f.error_rate(), None, "unknown, not 0 %");
    let (o, why) = analysis::judge(&p, &l, Some(&f), &[], &[]);
    assert_eq!(o, StepOutcome::Inconclusive, "{why:?}");
    assert!(why[0].contains("no datapoints for 5xxErrors"), "{why:?}");
    // Either spelling with data is a judged rate.
    let zero = [0.0];
    let f = crate::adapters::cloudwatch::figures_of(&[
        ("requests", &requests[..]),
        ("samples", &samples[..]),
        ("e5upper", &zero[..]),
    ]);
    assert!(!f.errors_5xx_missing);
    assert_eq!(
        analysis::judge(&p, &l, Some(&f), &[], &[]).0,
        StepOutcome::Passed
    );
    // A baseline window without 5xx data gives no reference rate.
    let unknown = Baseline {
        before_deploy: Figures {
            errors_5xx_missing: true,
            errors_5xx: 0,
            ..figures(3_000, 0, 100)
        },
        week_ago: Figures::default(),
        alarms: Vec::new(),
    };
    assert!((analysis::limits(&p, &unknown).error_rate - 0.01).abs() < 1e-9);
}

#[test]
fn min_requests_of_zero_is_refused_naming_the_field() {
    let p = BakePolicy {
        min_requests: 0,
        ..on()
    };
    let problems = p.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("health.bake.min_requests is 0"),
        "{problems:?}"
    );
    let text = "health:\n  bake:\n    enabled: true\n    min_requests: 0\n";
    let err = crate::policy::BranchPolicy::parse(text, "policy.yaml").unwrap_err();
    assert_eq!(err.line, 4, "{err}");
    assert!(
        err.to_string().contains("health.bake.min_requests is 0"),
        "{err}"
    );
    // One already stored still loads; the health checker runs no bake for it.
    let stored = crate::policy::BranchPolicy::parse_stored(text, "stored policy").unwrap();
    assert!(!stored.health.bake.problems().is_empty());
}

#[test]
fn two_p90_buckets_for_one_window_are_not_summed() {
    // A window not aligned to the period: CloudWatch answers two buckets.
    let requests = [600.0, 400.0];
    let samples = [3.0, 2.0];
    let e5 = [1.0, 2.0];
    let p90 = [0.4, 0.7];
    let f = crate::adapters::cloudwatch::figures_of(&[
        ("requests", &requests[..]),
        ("samples", &samples[..]),
        ("e5", &e5[..]),
        ("p90", &p90[..]),
    ]);
    assert_eq!((f.requests, f.errors_5xx, f.datapoints), (1_000, 3, 5));
    assert_eq!(
        f.p90_latency_ms,
        Some(700),
        "the worse bucket's p90, not 1100 ms"
    );
    let p = on();
    let l = Limits {
        error_rate: 0.01,
        p90_latency_ms: Some(1_000),
        reference: None,
    };
    assert_eq!(
        analysis::judge(&p, &l, Some(&f), &[], &[]).0,
        StepOutcome::Passed
    );
}
