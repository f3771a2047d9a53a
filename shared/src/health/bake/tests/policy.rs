//! The bake's policy section: off by default, its limits checked where the
//! policy is parsed, the branches it applies to.

use super::*;

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
