//! The lead time's first commit, read from GitHub's compare, and a build
//! skipped for no change that supersedes nothing.

use super::*;

#[tokio::test]
async fn lead_time_runs_from_the_first_new_commit_when_github_is_on() {
    let w = monorepo("", Ok(comparison(&["apps/web/a.ts"], false))).await;
    w.started(7, Enforcement::Enforce, true).await.unwrap();
    let mut d = w.record(7).await;
    assert_eq!(
        d.details.first_commit_at,
        Some(at(-3_600)),
        "the oldest listed"
    );
    assert_eq!(d.details.lead_time_from(), Some(at(-3_600)));
    let end = at(600);
    d.details.end_time = Some(end);
    d.apply(Observation {
        event_id: "amplify-7-done".into(),
        status: BuildStatus::Succeeded,
        at: end,
    });
    let event = BuildEvent::from_deployment(&d).unwrap();
    assert_eq!(event.first_commit_time, Some(at(-3_600)));
    assert_eq!(lead_time(&d), Some(4_200.0));

    // GitHub off: from the head commit's time, as before.
    let w = monorepo("", Ok(comparison(&["apps/web/a.ts"], false))).await;
    w.started(7, Enforcement::Enforce, false).await.unwrap();
    let mut d = w.record(7).await;
    assert_eq!(d.details.first_commit_at, None);
    d.details.end_time = Some(end);
    d.apply(Observation {
        event_id: "amplify-7-done".into(),
        status: BuildStatus::Succeeded,
        at: end,
    });
    // The head commit's time is at(700): after the end, so not counted;
    // move it back an hour before the end.
    assert_eq!(lead_time(&d), None);
    d.details.commit_time = Some(at(0));
    assert_eq!(lead_time(&d), Some(600.0));
}

#[tokio::test]
async fn a_build_skipped_for_no_change_never_supersedes_the_older_one_carrying_the_change() {
    for stack in [Enforcement::Observe, Enforcement::Enforce] {
        let w = monorepo("", Ok(comparison(&["docs/x.md"], false))).await;
        // Job 6 (apps/web's change) still runs when job 7 (docs only) starts.
        w.job(6, BuildStatus::Started, "WEB_HOOK", BASE).await;
        for n in [7, 6, 7] {
            w.started(n, stack, true).await.unwrap();
        }
        let six = w.record(6).await;
        assert!(
            six.skipped.is_none() && six.observed.is_empty(),
            "{stack}: {six:?}"
        );
        let seven = w.record(7).await;
        match stack {
            Enforcement::Enforce => assert_eq!(w.stopped(), vec![7], "{stack}"),
            Enforcement::Observe => {
                assert!(w.stopped().is_empty());
                assert_eq!(seven.observed[0].action, ObservedKind::Skip);
            }
        }
    }
}

/// The lead time's median over a day either side of `d` alone.
fn lead_time(d: &Deployment) -> Option<f64> {
    crate::metrics::dora::compute(
        Environment::Prod,
        at(-86_400),
        at(86_400),
        std::slice::from_ref(d),
    )
    .lead_time_median_seconds
}
