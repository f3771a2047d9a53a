//! Rounds and their verdict: passes, errors, slowness, flapping, refused
//! connections, a check stopped between rounds, masked reasons.

use super::*;

#[tokio::test]
async fn a_healthy_site_passes_after_two_rounds() {
    let addr = serve(|_, _| Reply::ok("<html>ok</html>")).await;
    let report = check(addr, fast(), None).await;
    assert_eq!(report.verdict, Verdict::Healthy, "{report:?}");
    assert_eq!(report.rounds, 2);
    assert_eq!(report.endpoints[0].last_status, Some(200));
    assert_eq!(report.endpoints[0].attempts, 2);
}

#[tokio::test]
async fn errors_make_it_unhealthy_with_the_reason() {
    let addr = serve(|_, _| Reply {
        status: 500,
        ..Reply::ok("boom")
    })
    .await;
    let report = check(addr, fast(), None).await;
    assert_eq!(report.verdict, Verdict::Unhealthy);
    assert_eq!(report.rounds, 3);
    assert!(
        report.reason.contains("status 500, expected 2xx"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn an_answer_slower_than_the_limit_fails() {
    let addr = serve(|_, _| Reply {
        delay_ms: 300,
        ..Reply::ok("slow")
    })
    .await;
    let policy = HealthPolicy {
        latency_limit_ms: 100,
        ..fast()
    };
    let report = check(addr, policy, None).await;
    assert_verdict(&report, Verdict::Unhealthy, "over the 100 ms limit");
}

/// #28 item 3: a URL answering 200 and 500 in turn never gave consecutive
/// rounds, so its check held a slot of the health checker until the
/// deadline (300 s by default) and ended Inconclusive.
#[tokio::test]
async fn flapping_is_unhealthy_within_a_bounded_number_of_rounds() {
    let addr = serve(|_, hit| {
        if hit % 2 == 0 {
            Reply::ok("up")
        } else {
            Reply {
                status: 500,
                ..Reply::ok("down")
            }
        }
    })
    .await;
    let policy = HealthPolicy {
        deadline_ms: 300_000,
        ..fast()
    };
    let report = tokio::time::timeout(Duration::from_secs(20), check(addr, policy, None))
        .await
        .expect("a verdict long before the deadline");
    assert_eq!(report.verdict, Verdict::Unhealthy, "{report:?}");
    assert!(
        report.rounds <= 6,
        "2 × unhealthy_after rounds at most: {report:?}"
    );
    assert!(
        report
            .reason
            .starts_with("failing intermittently: 3 of the last"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn one_failed_round_among_passes_is_not_flapping() {
    // Fails the second round only: then passes, Healthy as before.
    let addr = serve(|_, hit| {
        if hit == 1 {
            Reply {
                status: 500,
                ..Reply::ok("down")
            }
        } else {
            Reply::ok("up")
        }
    })
    .await;
    let report = check(addr, fast(), None).await;
    assert_eq!(report.verdict, Verdict::Healthy, "{report:?}");
}

#[tokio::test]
async fn connection_refused_is_our_side_and_inconclusive() {
    let addr = closed_port();
    let policy = HealthPolicy {
        deadline_ms: 500,
        ..fast()
    };
    let report = check(addr, policy, None).await;
    assert_eq!(report.verdict, Verdict::Inconclusive);
    assert_eq!(report.endpoints[0].verdict, Outcome::OurSide);
    assert!(
        report.endpoints[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("could not connect")
    );
}

/// Issue #28 item 4: a team's own server (a reported service) refusing
/// connections after its deploy is down, not "our side".
#[tokio::test]
async fn a_team_s_own_server_refusing_connections_is_unhealthy() {
    let addr = closed_port();
    let policy = HealthPolicy {
        deadline_ms: 60_000,
        ..fast()
    };
    let started = std::time::Instant::now();
    let report = Checker::new(&format!("http://{addr}/"), policy, &local(addr))
        .unwrap()
        .refused_connection_fails(true)
        .run(None)
        .await;
    assert_eq!(report.verdict, Verdict::Unhealthy, "{report:?}");
    assert_eq!(report.endpoints[0].verdict, Outcome::SiteFailed);
    assert!(
        report.reason.contains("connection refused"),
        "{}",
        report.reason
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn a_check_no_longer_wanted_stops_between_rounds() {
    let addr = serve(|_, _| Reply {
        status: 503,
        ..Reply::ok("down")
    })
    .await;
    let checker = Checker::new(&format!("http://{addr}/"), fast(), &local(addr)).unwrap();
    let stopped = checker
        .run_while(None, || async { false })
        .await
        .unwrap_err();
    assert_eq!(stopped.rounds, 1);
    assert!(stopped.reason.contains("superseded"), "{}", stopped.reason);
}

#[test]
fn a_secret_in_a_reason_is_masked_where_the_reason_is_built() {
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let a = attempt(
        "https://x.example/".into(),
        Some(500),
        3,
        Outcome::SiteFailed,
        Some(format!(
            "body does not contain \"ok\": {{\"error\":\"bad TOKEN={token}\"}}"
        )),
    );
    let why = a.reason.unwrap();
    assert!(!why.contains(token), "{why}");
    assert!(why.contains("ghp_…(40 chars)"), "{why}");
}
