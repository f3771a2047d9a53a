//! When GitHub fails: rate limits, outages and their backoff, errors no
//! retry mends, retries that cannot be queued, retry bodies, the breaker.

use super::*;

#[tokio::test]
async fn a_rate_limit_schedules_a_retry_after_github_s_delay_and_opens_the_breaker() {
    let w = World::new("main");
    w.record("main", 1, BuildStatus::Failed).await;
    w.record("main", 2, BuildStatus::Failed).await;
    // The author is read first; the check run is refused.
    w.github.script_commit(CommitInfo {
        sha: "c0ffee01".into(),
        author_name: Some("Jane".into()),
        author_login: None,
        authored_at: None,
        committed_at: None,
    });
    w.github.outage(GitHubError::RateLimited {
        retry_after: Duration::from_secs(120),
        kind: "secondary",
    });
    let o = w.reporter().update(&key("main", 1), 0).await;
    assert_eq!((o.applied, o.scheduled, o.dropped), (0, 1, 0), "{o:?}");
    let sent = w.retries.sent();
    assert_eq!(sent[0].1, 120);
    let request = RetryRequest::parse(&sent[0].0).unwrap().unwrap();
    assert_eq!(request.key(), key("main", 1));
    assert_eq!(request.attempt, 1);
    assert!(
        sent[0].0.starts_with(r#"{"githubRetry":{"#),
        "{}",
        sent[0].0
    );

    // The next job's update skips GitHub while the breaker is open.
    let calls = w.github.calls().len();
    let o = w.reporter().update(&key("main", 2), 0).await;
    assert_eq!(o.scheduled, 1);
    assert_eq!(w.github.calls().len(), calls, "no request while open");
    let delay = w.retries.sent()[1].1;
    assert!((30..=120).contains(&delay), "{delay}");

    // GitHub is back, the breaker closed: the retry converges.
    w.github.recover();
    w.breaker.close(&key("main", 1).app_id);
    let o = w.reporter().on_retry(&request).await;
    assert!(o.applied >= 1, "{o:?}");
    assert_eq!(only_run(&w).conclusion, Some(Conclusion::Failure));
}

#[tokio::test]
async fn an_outage_backs_off_and_the_last_attempt_is_dropped_and_counted() {
    assert_eq!(
        (1..=MAX_ATTEMPTS)
            .map(|a| retry_delay(a, None))
            .collect::<Vec<_>>(),
        [30, 60, 120, 240, 480, 900, 900, 900, 900, 900]
    );
    // Ten attempts cover more than an hour.
    assert!(
        (1..=MAX_ATTEMPTS)
            .map(|a| retry_delay(a, None))
            .sum::<u32>()
            > 3600
    );
    assert_eq!(retry_delay(1, Some(Duration::from_secs(0))), 30);
    assert_eq!(retry_delay(1, Some(Duration::from_secs(4000))), 900);

    let w = World::failed_main().await;
    w.github.outage(GitHubError::Unavailable {
        reason: "HTTP 500 token=ghs_abcdefghijklmnopqrstuvwxyz0123456789".into(),
        retry_after: None,
    });
    let o = w.reporter().update(&key("main", 1), 2).await;
    assert_eq!(o.scheduled, 1);
    assert_eq!(w.retries.sent()[0].1, 120, "the third retry waits 120 s");

    let w = World::failed_main().await;
    w.github.outage(GitHubError::Unavailable {
        reason: "HTTP 500 token=ghs_abcdefghijklmnopqrstuvwxyz0123456789".into(),
        retry_after: None,
    });
    let o = w.reporter().update(&key("main", 1), MAX_ATTEMPTS).await;
    assert_eq!((o.scheduled, o.dropped), (0, 1), "{o:?}");
    assert!(w.retries.sent().is_empty());
    let line = &o.metric_lines[0];
    crate::metrics::emf::validate(line).unwrap();
    let v: Value = serde_json::from_str(line).unwrap();
    assert_eq!(v[DROPPED_METRIC], 1.0);
    assert_eq!(v["job"], "1");
    assert!(!line.contains("ghs_abcdefghijklmnopqrstuvwxyz"), "{line}");
}

#[tokio::test]
async fn an_error_retrying_cannot_mend_is_dropped_at_once() {
    let w = World::failed_main().await;
    w.github.outage(GitHubError::Rejected {
        status: 422,
        reason: "Validation Failed".into(),
    });
    let o = w.reporter().update(&key("main", 1), 0).await;
    assert_eq!((o.scheduled, o.dropped), (0, 1), "{o:?}");
    assert!(
        w.breaker.remaining(&key("main", 1).app_id).is_none(),
        "a 422 is no outage"
    );
}

#[tokio::test]
async fn a_retry_that_cannot_be_queued_is_dropped_not_failed() {
    let w = World::failed_main().await;
    w.github.outage(GitHubError::Unavailable {
        reason: "HTTP 502".into(),
        retry_after: None,
    });
    *w.retries.fail.lock().unwrap() = true;
    let o = w.reporter().update(&key("main", 1), 0).await;
    assert_eq!((o.scheduled, o.dropped), (0, 1), "{o:?}");
}

#[test]
fn retry_bodies_are_recognised_and_bad_ones_named() {
    let r = RetryRequest {
        app: "d1abc".parse().unwrap(),
        branch: "main".parse().unwrap(),
        job: JobId::new(5),
        attempt: 3,
    };
    assert_eq!(RetryRequest::parse(&r.to_body()).unwrap().unwrap(), r);
    assert!(RetryRequest::parse(r#"{"id":"x","detail":{}}"#).is_none());
    assert!(RetryRequest::parse("not json").is_none());
    let bad = RetryRequest::parse(r#"{"githubRetry":{"app":"d1abc"}}"#)
        .unwrap()
        .unwrap_err();
    assert!(bad.reason.contains("githubRetry"), "{bad}");
}

#[test]
fn the_breaker_holds_back_only_the_app_whose_github_failed() {
    let breaker = Breaker::default();
    let (a, b): (AppId, AppId) = ("d1abc".parse().unwrap(), "d2abc".parse().unwrap());
    breaker.trip(&a, Duration::from_secs(30));
    assert!(breaker.remaining(&a).is_some());
    assert_eq!(
        breaker.remaining(&b),
        None,
        "another app's GitHub is not held back"
    );
    // A shorter opening never shortens the one in force.
    breaker.trip(&a, Duration::from_secs(1));
    assert!(breaker.remaining(&a).unwrap() > Duration::from_secs(20));
    breaker.close(&a);
    assert_eq!(breaker.remaining(&a), None);
}
