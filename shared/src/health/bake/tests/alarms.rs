//! CloudWatch alarms during the bake (#28 item 10: what a bake may and may
//! not conclude): only a transition into ALARM after the deploy fails an
//! interval.

use super::*;

#[tokio::test]
async fn an_alarm_in_alarm_fails_the_bake_at_once() {
    let w = World::watching_checkout_errors().await;
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
async fn an_alarm_already_in_alarm_before_the_deploy_fails_no_step() {
    let w = World::watching_checkout_errors().await;
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
    let w = World::watching_checkout_errors().await;
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
    let (p, l) = on_quiet();
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
