//! The App's and the token's credentials: the JWT, keys never shown, the
//! installation token minted, cached, refreshed and retried on a 401.

use super::*;

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
    let client = token_client(
        &fake.origin,
        "github_pat_11AAAAAAA0123456789_abcdefghijklmnopqrstuvwxyz0123456789",
    );
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
