//! The monorepo path filter over GitHub's compare (scripted): a push that
//! changes nothing under the app's root is stopped, unless the compare
//! fails, is cut, or a shared path changed.

use super::*;

#[tokio::test]
async fn a_push_changing_nothing_under_the_app_root_is_stopped() {
    let w = monorepo("", Ok(comparison(&["apps/api/x.ts", "README.md"], false))).await;
    let outcome = w.started(7, Enforcement::Enforce, true).await.unwrap();
    assert!(outcome.skipped && !outcome.stopped, "{outcome:?}");
    assert_eq!(w.stopped(), vec![7]);
    let d = w.record(7).await;
    let skip = d.skipped.clone().unwrap();
    assert_eq!(
        (skip.kind, skip.reason.as_str(), skip.by_job),
        (
            SkipKind::NoChange,
            "no change under apps/web",
            JobId::new(7)
        )
    );
    assert_eq!(d.status, BuildStatus::Cancelled);
    let skipped = w.published("Build Skipped");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["kind"], "no-change");
    assert_eq!(skipped[0]["reason"], "no change under apps/web");
    // Once per build: a redelivery neither compares nor stops again.
    w.started(7, Enforcement::Enforce, true).await.unwrap();
    let compares = w
        .github
        .calls()
        .iter()
        .filter(|c| matches!(c, GitHubCall::Compare(..)))
        .count();
    assert_eq!(compares, 1);
    assert_eq!(w.stopped(), vec![7]);
    assert_eq!(w.published("Build Skipped").len(), 1);
}

#[tokio::test]
async fn policy_paths_filter_an_app_without_a_root() {
    let w = World::new("paths: [libs/web/**]\n", None).await;
    w.deployed(BASE).await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.github
        .script_compare(BASE, HEAD, Ok(comparison(&["libs/api/x.ts"], false)));
    w.started(7, Enforcement::Enforce, true).await.unwrap();
    assert_eq!(
        w.record(7).await.skipped.unwrap().reason,
        "no change under libs/web/**"
    );
}

#[tokio::test]
async fn never_stopped_when_the_compare_fails_is_truncated_or_a_shared_path_changed() {
    let outside = &["apps/api/x.ts"][..];
    let cases: Vec<(&str, &str, Result<Comparison, GitHubError>)> = vec![
        (
            "compare fails",
            "",
            Err(GitHubError::Unavailable {
                reason: "502".into(),
                retry_after: None,
            }),
        ),
        (
            "rate limited",
            "",
            Err(GitHubError::RateLimited {
                retry_after: std::time::Duration::from_secs(60),
                kind: "secondary",
            }),
        ),
        ("truncated", "", Ok(comparison(outside, true))),
        (
            "shared path",
            "shared_paths: [packages/**, pnpm-lock.yaml]\n",
            Ok(comparison(&["apps/api/x.ts", "pnpm-lock.yaml"], false)),
        ),
        ("inside", "", Ok(comparison(&["apps/web/page.tsx"], false))),
    ];
    for (what, policy, answer) in cases {
        let failed = answer.is_err();
        let w = monorepo(policy, answer).await;
        let outcome = w.started(7, Enforcement::Enforce, true).await;
        let outcome = outcome.unwrap_or_else(|e| panic!("{what}: the validation failed: {e}"));
        assert!(!outcome.skipped, "{what}");
        assert!(w.stopped().is_empty(), "{what}");
        let d = w.record(7).await;
        assert!(d.skipped.is_none(), "{what}");
        let compared = d.compare.unwrap();
        assert_eq!(compared.error.is_some(), failed, "{what}: {compared:?}");
        assert!(compared.outcome.contains("built"), "{what}: {compared:?}");
        // Never retried: a second delivery does not compare again.
        w.started(7, Enforcement::Enforce, true).await.unwrap();
        assert_eq!(w.github.calls().len(), 1, "{what}");
    }
}

#[tokio::test]
async fn in_observe_mode_the_filter_stops_nothing_and_says_would_have_skipped() {
    let w = monorepo("", Ok(comparison(&["docs/x.md"], false))).await;
    let outcome = w.started(7, Enforcement::Observe, true).await.unwrap();
    assert!(outcome.would_skip && !outcome.skipped);
    assert!(w.stopped().is_empty());
    let d = w.record(7).await;
    assert_eq!(d.status, BuildStatus::Started);
    assert_eq!(
        d.observed[0].summary,
        "would have skipped this build: no change under apps/web"
    );
    assert_eq!(w.published("Action Observed").len(), 1);
    assert!(w.published("Build Skipped").is_empty());
}

#[tokio::test]
async fn without_github_or_a_previous_deploy_nothing_is_compared() {
    // GitHub off.
    let w = monorepo("", Ok(comparison(&["docs/x.md"], false))).await;
    w.started(7, Enforcement::Enforce, false).await.unwrap();
    assert!(w.github.calls().is_empty() && w.stopped().is_empty());
    assert!(w.record(7).await.compare.is_none());
    // No successful deploy yet.
    let w = World::new("", Some("apps/web")).await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.started(7, Enforcement::Enforce, true).await.unwrap();
    assert!(w.github.calls().is_empty() && w.stopped().is_empty());
    // The deployed commit is not a git commit (a manual deploy's HEAD).
    let w = World::new("", Some("apps/web")).await;
    w.deployed("HEAD").await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.started(7, Enforcement::Enforce, true).await.unwrap();
    assert!(w.github.calls().is_empty());
}

#[tokio::test]
async fn a_rollback_build_is_never_filtered() {
    let w = monorepo("", Ok(comparison(&["docs/x.md"], false))).await;
    let mut d = w.record(7).await;
    d.rollback_of = Some(JobId::new(4));
    w.store.save_deployment(&d).await.unwrap();
    w.started(7, Enforcement::Enforce, true).await.unwrap();
    assert!(w.stopped().is_empty());
    assert_eq!(
        w.record(7).await.compare.unwrap().outcome,
        "a rollback: never skipped"
    );
}
