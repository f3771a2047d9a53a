use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use reqwest::header::{HeaderMap, HeaderValue};

use super::auth::{AppKey, Claims, EXP_AHEAD, IAT_BACK, REFRESH_BEFORE, Secret, TokenCache};
use super::errors::{REASON_MAX, from_response, reason};
use super::fake::{Fake, Reply, Seen};
use super::*;
use crate::github::api::{CheckStatus, CommitState, Conclusion};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap()
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A throwaway RSA key pair, made for this test run (private PEM, public PEM).
fn key_pair() -> (String, String) {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair as _;
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let private = kp.as_der().unwrap();
    let public = kp.public_key().as_der().unwrap();
    (
        pem("PRIVATE KEY", private.as_ref()),
        pem("PUBLIC KEY", public.as_ref()),
    )
}

fn test_key() -> &'static (String, String) {
    static KEY: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    KEY.get_or_init(key_pair)
}

#[test]
fn the_app_jwt_is_rs256_backdated_a_minute_and_expires_within_ten() {
    let (private, public) = test_key();
    let key = AppKey::from_pem(private, "/p").unwrap();
    let jwt = key.jwt(4242, t0()).unwrap();
    let header = jsonwebtoken::decode_header(jwt.expose()).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false; // t0 is a fixed date
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    validation.set_issuer(&["4242"]);
    let decoded = jsonwebtoken::decode::<Claims>(
        jwt.expose(),
        &jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
        &validation,
    )
    .expect("verifies with the public half");
    let c = decoded.claims;
    assert_eq!(c.iss, "4242");
    assert_eq!(c.iat, t0().timestamp() - 60);
    assert!(c.exp > t0().timestamp() && c.exp <= t0().timestamp() + 600);
    assert_eq!(IAT_BACK.num_seconds(), 60);
    assert!(EXP_AHEAD.num_seconds() <= 600);
    // Another key's public half does not verify it.
    let (_, other_public) = key_pair();
    assert!(
        jsonwebtoken::decode::<Claims>(
            jwt.expose(),
            &jsonwebtoken::DecodingKey::from_rsa_pem(other_public.as_bytes()).unwrap(),
            &validation,
        )
        .is_err()
    );
}

#[test]
fn a_key_that_is_not_pem_is_named_by_its_parameter_never_shown() {
    let err =
        AppKey::from_pem("hunter2-not-a-key", "/deploy-sentinel/prod/github-app-key").unwrap_err();
    assert!(
        err.contains("/deploy-sentinel/prod/github-app-key"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn credentials_never_show_in_debug() {
    let token = Secret::new("ghs_16C7e42F292c6912E7710c838347Ae178B4a");
    assert_eq!(format!("{token:?}"), "Secret(…)");
    let key = AppKey::from_pem(&test_key().0, "/p").unwrap();
    assert_eq!(format!("{key:?}"), "AppKey(…)");
    let client = app_client("http://127.0.0.1:9", t0());
    client.preload_key(&test_key().0);
    let shown = format!("{client:?}");
    assert!(
        !shown.contains("BEGIN") && !shown.contains("ghs_"),
        "{shown}"
    );
}

#[test]
fn an_installation_token_is_reused_until_five_minutes_before_it_expires() {
    let mut cache = TokenCache::default();
    let expires = t0() + chrono::Duration::hours(1);
    cache.put(7, Secret::new("ghs_a"), expires);
    assert_eq!(cache.get(7, t0()), Some(Secret::new("ghs_a")));
    assert_eq!(cache.get(8, t0()), None, "another installation's");
    let edge = expires - REFRESH_BEFORE;
    assert!(cache.get(7, edge - chrono::Duration::seconds(1)).is_some());
    assert_eq!(cache.get(7, edge), None, "too close to expiry");
    assert_eq!(cache.get(7, expires + chrono::Duration::hours(1)), None);
    cache.forget(7);
    assert_eq!(cache.get(7, t0()), None);
}

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

// ---- the client against a scripted server ----

fn app_client(origin: &str, now: DateTime<Utc>) -> GitHubClient {
    client(
        origin,
        Credentials::App {
            app_id: 4242,
            key_parameter: "/test/github-app-key".into(),
        },
        Arc::new(Mutex::new(now)),
    )
}

fn client(origin: &str, credentials: Credentials, now: Arc<Mutex<DateTime<Utc>>>) -> GitHubClient {
    let settings = GitHubSettings {
        api_url: origin.to_owned(),
        credentials,
        outbound: Outbound::parse_list(origin).unwrap(),
    };
    let ssm = aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::Config::builder()
            .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
            .region(aws_sdk_ssm::config::Region::new("us-east-1"))
            .build(),
    );
    GitHubClient::with_clock(settings, ssm, Arc::new(move || *now.lock().unwrap())).unwrap()
}

impl GitHubClient {
    fn preload_key(&self, pem: &str) {
        let key = AppKey::from_pem(pem, "/test").unwrap();
        *lock(&self.loaded) = Some(Arc::new(Loaded::App(Arc::new(key))));
    }

    fn preload_token(&self, token: &str) {
        *lock(&self.loaded) = Some(Arc::new(Loaded::Token(Secret::new(token))));
    }
}

fn repo() -> Repo {
    Repo {
        owner: "sentinel-local".into(),
        name: "shop".into(),
    }
}

fn ok(body: serde_json::Value) -> Reply {
    (200, vec![], body.to_string())
}

/// GitHub as an App sees it: the installation 7 on every repository,
/// tokens `ghs_…<n>` valid one hour from the request, and `answer` for the
/// rest.
fn github(now: DateTime<Utc>, answer: impl Fn(&Seen) -> Reply + Send + 'static) -> Fake {
    let minted = Mutex::new(0);
    Fake::start(move |r, _| {
        if r.path.ends_with("/installation") {
            return ok(serde_json::json!({"id": 7, "permissions": {"checks": "write"}}));
        }
        if r.path == "/app/installations/7/access_tokens" {
            let mut n = minted.lock().unwrap();
            *n += 1;
            return (
                201,
                vec![],
                serde_json::json!({
                    "token": format!("ghs_{:0>36}", *n),
                    "expires_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
                })
                .to_string(),
            );
        }
        answer(r)
    })
}

fn run() -> CheckRun {
    CheckRun {
        name: "Deploy Sentinel / main".into(),
        head_sha: "abc123".into(),
        status: CheckStatus::Completed,
        conclusion: Some(Conclusion::Success),
        details_url: Some("https://console.aws.amazon.com/amplify/x".into()),
        external_id: Some("d1/main/7".into()),
        started_at: Some(t0()),
        completed_at: Some(t0()),
        title: "Deployed".into(),
        summary: "All good".into(),
        annotations: vec![],
    }
}

fn paths(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect()
}

#[tokio::test]
async fn an_app_mints_one_token_for_many_requests_and_sends_githubs_headers() {
    let fake = github(t0(), |_| (201, vec![], r#"{"id": 99}"#.into()));
    let client = app_client(&fake.origin, t0());
    client.preload_key(&test_key().0);
    for _ in 0..3 {
        assert_eq!(client.create_check_run(&repo(), &run()).await.unwrap(), 99);
    }
    let seen = fake.seen();
    assert_eq!(
        paths(&seen),
        [
            "GET /repos/sentinel-local/shop/installation",
            "POST /app/installations/7/access_tokens",
            "POST /repos/sentinel-local/shop/check-runs",
            "POST /repos/sentinel-local/shop/check-runs",
            "POST /repos/sentinel-local/shop/check-runs",
        ]
    );
    // The App's JWT for the App's endpoints, the installation token after.
    for s in &seen[..2] {
        assert!(s.header("authorization").unwrap().starts_with("Bearer eyJ"));
    }
    for s in &seen[2..] {
        assert_eq!(
            s.header("authorization"),
            Some(format!("Bearer ghs_{:0>36}", 1).as_str())
        );
        assert_eq!(s.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(s.header("x-github-api-version"), Some("2022-11-28"));
        assert!(
            s.header("user-agent")
                .unwrap()
                .starts_with("deploy-sentinel/")
        );
    }
    // GitHub's body: output holds title and summary, head_sha on create.
    let body: serde_json::Value = serde_json::from_str(&seen[2].body).unwrap();
    assert_eq!(body["output"]["title"], "Deployed");
    assert_eq!(body["output"]["summary"], "All good");
    assert_eq!(body["head_sha"], "abc123");
    assert_eq!(body["conclusion"], "success");
    assert_eq!(body["completed_at"], "2026-12-07T01:00:00Z");
    assert!(body.get("title").is_none());
}

#[tokio::test]
async fn a_token_near_its_expiry_is_minted_again() {
    let now = Arc::new(Mutex::new(t0()));
    let fake = github(t0(), |_| ok(serde_json::json!({})));
    let client = client(
        &fake.origin,
        Credentials::App {
            app_id: 4242,
            key_parameter: "/k".into(),
        },
        now.clone(),
    );
    client.preload_key(&test_key().0);
    let status = CommitStatus {
        state: CommitState::Success,
        context: "Deploy Sentinel / main".into(),
        description: "ok".into(),
        target_url: None,
    };
    client
        .create_commit_status(&repo(), "abc", &status)
        .await
        .unwrap();
    *now.lock().unwrap() = t0() + chrono::Duration::minutes(56);
    client
        .create_commit_status(&repo(), "abc", &status)
        .await
        .unwrap();
    let mints = paths(&fake.seen())
        .iter()
        .filter(|p| p.ends_with("/access_tokens"))
        .count();
    assert_eq!(mints, 2, "{:?}", paths(&fake.seen()));
}

#[tokio::test]
async fn a_401_on_a_cached_token_mints_a_new_one_and_tries_once_more() {
    // The second request with token 1 is refused (revoked); token 2 works.
    let fake = github(t0(), |r| match r.header("authorization") {
        Some(a) if a.ends_with(&format!("{:0>36}", 1)) && r.method == "PATCH" => {
            (401, vec![], r#"{"message":"Bad credentials"}"#.into())
        }
        _ => ok(serde_json::json!({"id": 5})),
    });
    let client = app_client(&fake.origin, t0());
    client.preload_key(&test_key().0);
    client.create_check_run(&repo(), &run()).await.unwrap();
    client.update_check_run(&repo(), 5, &run()).await.unwrap();
    let seen = paths(&fake.seen());
    assert_eq!(
        seen[2..],
        [
            "POST /repos/sentinel-local/shop/check-runs",
            "PATCH /repos/sentinel-local/shop/check-runs/5",
            "POST /app/installations/7/access_tokens",
            "PATCH /repos/sentinel-local/shop/check-runs/5",
        ]
    );
    // An update carries no head_sha.
    let body: serde_json::Value = serde_json::from_str(&fake.seen()[3].body).unwrap();
    assert!(body.get("head_sha").is_none(), "{body}");
}

#[tokio::test]
async fn a_401_on_a_new_token_is_not_retried() {
    let fake = github(t0(), |_| {
        (401, vec![], r#"{"message":"Bad credentials"}"#.into())
    });
    let client = app_client(&fake.origin, t0());
    client.preload_key(&test_key().0);
    let err = client.create_check_run(&repo(), &run()).await.unwrap_err();
    assert!(
        matches!(err, GitHubError::Rejected { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(fake.seen().len(), 3, "{:?}", paths(&fake.seen()));
}

#[tokio::test]
async fn an_app_not_installed_on_the_repository_is_not_found() {
    let fake = Fake::start(|_, _| (404, vec![], r#"{"message":"Not Found"}"#.into()));
    let client = app_client(&fake.origin, t0());
    client.preload_key(&test_key().0);
    let err = client.commit(&repo(), "abc").await.unwrap_err();
    assert!(
        matches!(err, GitHubError::NotFound(ref m) if m.contains("not installed on sentinel-local/shop")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_token_is_sent_as_it_is_and_no_installation_is_asked_for() {
    let fake = Fake::start(|_, _| (201, vec![], r#"{"id": 31}"#.into()));
    let client = client(
        &fake.origin,
        Credentials::Token {
            parameter: "/t".into(),
        },
        Arc::new(Mutex::new(t0())),
    );
    client.preload_token("github_pat_11AAAAAAA0123456789_abcdefghijklmnopqrstuvwxyz0123456789");
    let deployment = NewDeployment {
        git_ref: "abc".into(),
        environment: "production".into(),
        description: "d".into(),
        auto_merge: false,
        required_contexts: vec![],
        transient_environment: false,
        production_environment: true,
        payload: serde_json::Value::Null,
    };
    assert_eq!(
        client
            .create_deployment(&repo(), &deployment)
            .await
            .unwrap(),
        31
    );
    let seen = fake.seen();
    assert_eq!(
        paths(&seen),
        ["POST /repos/sentinel-local/shop/deployments"]
    );
    assert!(
        seen[0]
            .header("authorization")
            .unwrap()
            .contains("github_pat_")
    );
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body["ref"], "abc");
    assert_eq!(body["required_contexts"], serde_json::json!([]));
    assert!(body.get("payload").is_none(), "{body}");
    assert_eq!(client.auth(), AuthKind::Token);
}

#[tokio::test]
async fn compare_lists_renamed_files_both_ways_and_says_when_github_cut_the_list() {
    let commit = |sha: &str| serde_json::json!({"sha": sha, "commit": {"author": {"name": "Ada", "date": "2026-12-01T10:00:00Z"}, "committer": {"date": "2026-12-01T11:00:00Z"}}, "author": {"login": "ada"}});
    let c1 = commit("c1");
    let fake = Fake::start(move |r, _| {
        if r.path.contains("/compare/") {
            return ok(serde_json::json!({
                "status": "ahead", "total_commits": 1, "commits": [c1.clone()],
                "files": [
                    {"filename": "web/new.ts", "status": "renamed", "previous_filename": "shared/old.ts"},
                    {"filename": "README.md", "status": "modified"}
                ]
            }));
        }
        ok(serde_json::json!({"sha": "c2", "commit": {"author": {"name": "Bob"}}, "author": null}))
    });
    let client = client(
        &fake.origin,
        Credentials::Token {
            parameter: "/t".into(),
        },
        Arc::new(Mutex::new(t0())),
    );
    client.preload_token("ghp_x");
    let c = client.compare(&repo(), "base1", "head/2").await.unwrap();
    assert_eq!(c.files, ["README.md", "shared/old.ts", "web/new.ts"]);
    assert!(!c.truncated);
    assert_eq!(c.commits[0].author_login.as_deref(), Some("ada"));
    assert_eq!(
        c.commits[0].committed_at,
        Some(Utc.with_ymd_and_hms(2026, 12, 1, 11, 0, 0).unwrap())
    );
    let one = client.commit(&repo(), "c2").await.unwrap();
    assert_eq!(one.author_name.as_deref(), Some("Bob"));
    assert_eq!(one.author_login, None);
    // A ref's `/` stays inside its segment.
    assert_eq!(
        fake.seen()[0].path,
        "/repos/sentinel-local/shop/compare/base1...head%2F2"
    );
}

#[test]
fn a_comparison_github_cut_is_truncated() {
    let files: Vec<_> = (0..300)
        .map(|i| serde_json::json!({"filename": format!("f{i}")}))
        .collect();
    let parse = |v: serde_json::Value| -> Comparison {
        serde_json::from_value::<wire::Compare>(v).unwrap().into()
    };
    let many_files = parse(
        serde_json::json!({"status": "ahead", "total_commits": 0, "commits": [], "files": files}),
    );
    assert!(many_files.truncated);
    let more_commits = parse(
        serde_json::json!({"status": "ahead", "total_commits": 400, "commits": [{"sha": "a"}], "files": []}),
    );
    assert!(more_commits.truncated);
    let no_files = parse(
        serde_json::json!({"status": "ahead", "total_commits": 1, "commits": [{"sha": "a"}]}),
    );
    assert!(no_files.truncated, "GitHub listed no files at all");
    let identical = parse(
        serde_json::json!({"status": "identical", "total_commits": 0, "commits": [], "files": []}),
    );
    assert!(!identical.truncated);
}

#[tokio::test]
async fn a_marked_comment_is_found_across_pages_and_the_search_is_bounded() {
    let page = |from: u64, marker_at: Option<u64>| -> String {
        let v: Vec<_> = (from..from + 100)
            .map(|id| {
                let body = if Some(id) == marker_at {
                    "<!-- deploy-sentinel:d1/main -->"
                } else {
                    "lgtm"
                };
                serde_json::json!({"id": id, "body": body})
            })
            .collect();
        serde_json::json!(v).to_string()
    };
    let fake = Fake::start(move |r, _| {
        let n: u64 = r.path.rsplit("page=").next().unwrap().parse().unwrap();
        let marker = r.path.contains("/issues/1/").then_some(150);
        (200, vec![], page((n - 1) * 100, marker))
    });
    let client = client(
        &fake.origin,
        Credentials::Token {
            parameter: "/t".into(),
        },
        Arc::new(Mutex::new(t0())),
    );
    client.preload_token("ghp_x");
    let found = client
        .find_issue_comment(&repo(), 1, "deploy-sentinel:d1/main")
        .await
        .unwrap();
    assert_eq!(found, Some(150));
    assert_eq!(fake.seen().len(), 2);
    assert!(
        fake.seen()[0]
            .path
            .ends_with("/issues/1/comments?per_page=100&page=1")
    );
    // Never found, every page full: ten pages, then none.
    let found = client
        .find_issue_comment(&repo(), 2, "deploy-sentinel:d1/main")
        .await
        .unwrap();
    assert_eq!(found, None);
    assert_eq!(fake.seen().len(), 2 + COMMENT_PAGES as usize);
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
    let client = client(
        &fake.origin,
        Credentials::Token {
            parameter: "/t".into(),
        },
        Arc::new(Mutex::new(t0())),
    );
    client.preload_token("ghp_x");
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
