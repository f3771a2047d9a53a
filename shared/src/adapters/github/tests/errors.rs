//! GitHub's answers as errors: statuses and headers, masked messages,
//! outages and rate limits reaching the caller, paths that cannot leave the
//! API.

use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in pairs {
        h.insert(*n, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn statuses_and_headers_map_to_errors() {
    let now = t0();
    let what = "POST /repos/o/r/check-runs";
    let body = br#"{"message":"You have exceeded a secondary rate limit."}"#;
    // Secondary: retry-after, on 403 or 429.
    for status in [403, 429] {
        assert_eq!(
            from_response(what, status, &headers(&[("retry-after", "30")]), body, now),
            GitHubError::RateLimited {
                retry_after: Duration::from_secs(30),
                kind: "secondary"
            }
        );
    }
    // Secondary without a header: at least a minute.
    assert_eq!(
        from_response(what, 403, &HeaderMap::new(), body, now),
        GitHubError::RateLimited {
            retry_after: Duration::from_secs(60),
            kind: "secondary"
        }
    );
    // Primary: until the reset.
    let reset = (now.timestamp() + 1200).to_string();
    assert_eq!(
        from_response(
            what,
            403,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset)
            ]),
            br#"{"message":"API rate limit exceeded"}"#,
            now
        ),
        GitHubError::RateLimited {
            retry_after: Duration::from_secs(1200),
            kind: "primary"
        }
    );
    // A reset already past still waits a second, never zero.
    let past = (now.timestamp() - 5).to_string();
    assert_eq!(
        from_response(
            what,
            429,
            &headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &past)]),
            b"",
            now
        )
        .retry_after(),
        Some(Duration::from_secs(1))
    );
    // 5xx: an outage, with GitHub's wait when it gives one.
    let e = from_response(what, 503, &headers(&[("retry-after", "7")]), b"<html>", now);
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(
        matches!(from_response(what, 500, &HeaderMap::new(), b"", now), GitHubError::Unavailable { retry_after: None, ref reason } if reason.contains("500"))
    );
    // 404.
    assert!(matches!(
        from_response(what, 404, &HeaderMap::new(), br#"{"message":"Not Found"}"#, now),
        GitHubError::NotFound(ref m) if m.contains("check-runs")
    ));
    // Other 4xx: refused, with GitHub's message; a 403 that is no limit too.
    assert_eq!(
        from_response(
            what,
            422,
            &HeaderMap::new(),
            br#"{"message":"Validation Failed","errors":[]}"#,
            now
        ),
        GitHubError::Rejected {
            status: 422,
            reason: format!("{what}: Validation Failed")
        }
    );
    let e = from_response(
        what,
        403,
        &headers(&[("x-ratelimit-remaining", "4999")]),
        br#"{"message":"Resource not accessible by integration"}"#,
        now,
    );
    assert!(!e.is_retryable(), "{e:?}");
    assert!(matches!(e, GitHubError::Rejected { status: 403, .. }));
}

#[test]
fn githubs_message_is_masked_and_cut() {
    let token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
    let long = format!(
        r#"{{"message":"bad credentials {token} {}"}}"#,
        "x".repeat(2000)
    );
    let r = reason(long.as_bytes());
    assert!(!r.contains(token), "{r}");
    assert!(r.chars().count() <= REASON_MAX + 1, "{}", r.len());
    assert_eq!(reason(b"line\none"), "line one");
}

#[tokio::test]
async fn an_unreachable_github_is_an_outage_and_a_path_cannot_leave_the_api() {
    // Nothing listens on port 9 of 127.0.0.1.
    let client = app_client("http://127.0.0.1:9", t0());
    client.preload_token("ghp_x");
    let err = client.commit(&repo(), "abc").await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    // Segments are encoded: `..` and `/` stay in theirs.
    assert_eq!(seg(".."), "%2E%2E");
    assert_eq!(seg("a/../b?c#d"), "a%2F..%2Fb%3Fc%23d");
    let odd = Repo {
        owner: "..".into(),
        name: "x".into(),
    };
    assert_eq!(repo_path(&odd), "/repos/%2E%2E/x");
    assert!(client.url("/repos/%2E%2E/x").is_ok());
    assert!(client.url("@evil.example/x").is_err());
}

#[tokio::test]
async fn rate_limits_and_outages_from_github_reach_the_caller_unretried() {
    let fake = Fake::start(|r, _| match r.path.as_str() {
        p if p.contains("/commits/limited") => (
            403,
            vec![("retry-after", "42".into())],
            r#"{"message":"You have exceeded a secondary rate limit"}"#.into(),
        ),
        _ => (502, vec![], "<html>bad gateway</html>".into()),
    });
    let client = token_client(&fake.origin, "ghp_x");
    assert_eq!(
        client.commit(&repo(), "limited").await.unwrap_err(),
        GitHubError::RateLimited {
            retry_after: Duration::from_secs(42),
            kind: "secondary"
        }
    );
    let err = client.commit(&repo(), "down").await.unwrap_err();
    assert!(matches!(err, GitHubError::Unavailable { .. }), "{err:?}");
    assert_eq!(fake.seen().len(), 2, "no retry");
}

#[test]
fn enterprise_servers_api_path_is_kept_and_cannot_be_left() {
    let settings = GitHubSettings {
        api_url: "https://ghe.example.com/api/v3".into(),
        credentials: Credentials::Token {
            parameter: "/t".into(),
        },
        outbound: Outbound::public(),
    };
    let ssm = aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::Config::builder()
            .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
            .region(aws_sdk_ssm::config::Region::new("us-east-1"))
            .build(),
    );
    let c = GitHubClient::new(settings, ssm).unwrap();
    assert_eq!(
        c.url("/repos/o/r/commits/abc").unwrap().as_str(),
        "https://ghe.example.com/api/v3/repos/o/r/commits/abc"
    );
    // A path that climbs out of /api/v3 is refused (paths are built from
    // encoded segments, so this is the second line of defence).
    assert!(c.url("/../../x").is_err());
}
