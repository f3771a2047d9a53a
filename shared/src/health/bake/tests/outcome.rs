//! The bake's outcome over its intervals (pure): the failure limit,
//! inconclusive intervals, the evidence kept.

use super::*;

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
    let text = crate::health::bake::reaction::figures_text(&e);
    assert_eq!(
        text,
        "before: 0.10 % 5xx, p90 120 ms, 3000 requests; after: 20.00 % 5xx, p90 100 ms, 2000 requests"
    );
}
