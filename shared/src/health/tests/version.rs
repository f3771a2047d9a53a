//! What the site serves: the deployed commit or version, where it is read,
//! and the content checks.

use super::*;

#[tokio::test]
async fn the_wrong_commit_is_unhealthy_once_the_grace_is_over() {
    let addr =
        serve(|_, _| Reply::ok(r#"<meta name="x-deployed-commit" content="fedcba9876543210">"#))
            .await;
    let report = check(addr, fast(), Some(COMMIT)).await;
    assert_verdict(
        &report,
        Verdict::Unhealthy,
        "does not report commit 0123456789ab",
    );
}

#[tokio::test]
async fn the_old_version_for_a_while_then_the_new_one_is_healthy() {
    let addr = serve(|_, hit| {
        let commit = if hit < 4 {
            "fedcba9876543210fedcba9876543210fedcba98"
        } else {
            COMMIT
        };
        Reply::ok(&format!(
            r#"<meta name="x-deployed-commit" content="{commit}">"#
        ))
    })
    .await;
    let policy = HealthPolicy {
        version_grace_ms: 3_000,
        ..fast()
    };
    let report = check(addr, policy, Some(COMMIT)).await;
    assert_eq!(report.verdict, Verdict::Healthy, "{report:?}");
    // Two rounds saw the old version (not counted against it), two passed.
    assert_eq!(report.rounds, 4, "{report:?}");
}

#[tokio::test]
async fn a_pinned_json_pointer_or_header_is_where_the_version_is_read() {
    let addr = serve(|path, _| {
        let mut r = Reply::ok(&format!(
            r#"{{"status":"ok","build":{{"commit":"{}"}}}}"#,
            &COMMIT[..7]
        ));
        r.headers
            .push(("x-version".into(), "something-else".into()));
        assert!(path.starts_with("/api/health"));
        r
    })
    .await;
    let by_pointer = HealthPolicy {
        version: Some(VersionCheck {
            path: "/api/health".into(),
            json_pointer: Some("/build/commit".into()),
            header: None,
        }),
        endpoints: vec![EndpointCheck {
            path: "/api/health".into(),
            ..EndpointCheck::default()
        }],
        ..fast()
    };
    assert_eq!(
        check(addr, by_pointer.clone(), Some(COMMIT)).await.verdict,
        Verdict::Healthy
    );
    let by_header = HealthPolicy {
        version: Some(VersionCheck {
            path: "/api/health".into(),
            json_pointer: None,
            header: Some("x-version".into()),
        }),
        ..by_pointer
    };
    let report = check(addr, by_header, Some(COMMIT)).await;
    assert_verdict(&report, Verdict::Unhealthy, "serves version something-el");
}

#[tokio::test]
async fn content_checks_name_what_is_missing() {
    let addr = serve(|_, _| Reply::ok(r#"{"status":"degraded"}"#)).await;
    let policy = HealthPolicy {
        endpoints: vec![EndpointCheck {
            path: "/api/health".into(),
            json_equals: Some(("/status".into(), serde_json::json!("ok"))),
            ..EndpointCheck::default()
        }],
        ..fast()
    };
    let report = check(addr, policy, None).await;
    assert_verdict(
        &report,
        Verdict::Unhealthy,
        r#"JSON /status is "degraded", expected "ok""#,
    );
}

#[test]
fn commits_match_by_prefix_of_at_least_seven() {
    assert!(commit_matches(COMMIT, "0123456"));
    assert!(!commit_matches(COMMIT, "012345"));
    assert!(mentions_commit(COMMIT, "deployed 0123456789 ok"));
    assert!(
        mentions_commit("0123456", &format!("deployed {COMMIT}")),
        "a short expected commit"
    );
    assert!(!mentions_commit(COMMIT, "deployed 01234567ff ok"));
    assert!(!mentions_commit(COMMIT, "x90123456789"));
}

#[test]
fn a_reported_version_that_is_not_a_commit_matches_only_itself() {
    assert!(commit_matches("1.4.2", "1.4.2"));
    assert!(commit_matches("v1.4.2", " V1.4.2 "));
    assert!(!commit_matches("1.4.2", "1.4.20"));
    assert!(!commit_matches("1.4.2", "1.4"));
    assert!(mentions_commit("1.4.2", r#"{"version":"1.4.2"}"#));
    assert!(mentions_commit(
        "1.4.2",
        "<meta name=version content=1.4.2>"
    ));
    assert!(!mentions_commit("1.4.2", r#"{"version":"1.4.20"}"#));
    assert!(!mentions_commit("1.4.2", r#"{"version":"11.4.2"}"#));
    assert!(!mentions_commit("1.4.2", "nothing here"));
}
