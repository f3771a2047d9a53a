//! One interval judged (pure): the limits from the baseline, error rate,
//! p90, traffic, datapoints and alarms, the figures CloudWatch answers.

use super::*;

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
    let (p, l) = on_quiet();
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
    let (p, l) = on_quiet();
    // Half the requests fail, but there are 12 of them.
    let (o, why) = analysis::judge(&p, &l, Some(&figures(12, 6, 100)), &[], &[]);
    assert_eq!(o, StepOutcome::Inconclusive);
    assert!(why[0].contains("below the minimum of 100"), "{why:?}");
}

#[test]
fn missing_datapoints_are_inconclusive() {
    let (p, l) = on_quiet();
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
    let (p, l) = on_quiet();
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
    let (p, l) = on_quiet();
    for state in [AlarmState::InsufficientData, AlarmState::Missing] {
        let alarms = vec![Alarm::new("canary", state, None)];
        let (o, _) = analysis::judge(&p, &l, Some(&figures(1_000, 0, 100)), &alarms, &[]);
        assert_eq!(o, StepOutcome::Inconclusive, "{state:?}");
    }
}

#[test]
fn a_missing_5xx_series_while_requests_has_data_is_inconclusive_not_zero_errors() {
    let (p, l) = on_quiet();
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
