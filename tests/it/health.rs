//! The health checker through the real binaries: "Build Succeeded" for the
//! emulator's branch → the emulator's site is checked → "Deployment Healthy"
//! (or Unhealthy), the last known good moves only on Healthy, and a second
//! delivery publishes no second verdict.

use std::time::Duration;

use sentinel_shared::core::deployment::DeploymentKey;
use sentinel_shared::core::model::JobId;
use sentinel_shared::health::Verdict;
use sentinel_shared::ports::DeploymentStore;
use serde_json::json;

use crate::end_to_end::{ensure_watched_app, put_watched_policy, watched_app, watched_build};
use crate::helpers::*;

async fn played_build(
    stack: &Stack,
    branch: &str,
    commit: &str,
    create: bool,
) -> (DeploymentKey, Capture) {
    if create {
        ensure_watched_app(stack, branch, commit).await;
    }
    let capture = stack
        .capture(&stack.bus, json!({"branchName": [branch]}))
        .await
        .unwrap();
    let job = watched_build(
        stack,
        branch,
        json!({"commitId": commit, "outcome": "SUCCEED", "mode": "auto", "emit": true, "stepDelayMs": 100}),
    )
    .await;
    let key = DeploymentKey {
        app_id: watched_app(),
        branch_name: branch.parse().unwrap(),
        job_id: job,
    };
    (key, capture)
}

async fn verdict_of(
    stack: &Stack,
    key: &DeploymentKey,
) -> sentinel_shared::core::deployment::Deployment {
    let store = stack.store();
    eventually(Duration::from_secs(90), "the health verdict", || async {
        Ok(store
            .get_deployment(key)
            .await?
            .filter(|d| d.health.is_some() && !d.outbox.values().any(|e| e.owner == "health")))
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_good_deploy_is_healthy_once_and_becomes_the_last_known_good() {
    let stack = Stack::new().await;
    let branch = format!("hc-{}", unique_app_id());
    let commit = "4ea1f4ea1f4ea1f4ea1f4ea1f4ea1f4ea1f4ea1f";
    let (key, capture) = played_build(&stack, &branch, commit, true).await;

    let record = verdict_of(&stack, &key).await;
    let health = record.health.unwrap();
    assert_eq!(health.verdict, Verdict::Healthy, "{health:?}");
    assert!(
        health.url.contains("/_sites/"),
        "the emulator's site, never a real domain: {}",
        health.url
    );
    let state = stack
        .store()
        .get_branch_state(&key.app_id, &key.branch_name)
        .await
        .unwrap();
    assert_eq!(state.last_known_good_job, Some(key.job_id));
    assert_eq!(state.last_known_good_commit.as_deref(), Some(commit));

    let mut events = capture
        .collect(4, Duration::from_secs(30), Duration::from_secs(2))
        .await
        .unwrap();
    let succeeded = events
        .iter()
        .find(|e| e["detail-type"] == "Build Succeeded")
        .cloned()
        .unwrap();
    stack
        .send_to_queue("SENTINEL_QUEUE_HEALTH_CHECK_QUEUE", &succeeded.to_string())
        .await;
    events.extend(
        capture
            .collect(0, Duration::from_secs(1), Duration::from_secs(4))
            .await
            .unwrap(),
    );
    let healthy: Vec<_> = events
        .iter()
        .filter(|e| e["detail-type"] == "Deployment Healthy")
        .collect();
    assert_eq!(healthy.len(), 1, "{events:#?}");
    assert_eq!(healthy[0]["detail"]["commitId"], commit);
}

#[tokio::test]
async fn a_broken_site_is_unhealthy_and_not_the_last_known_good() {
    let stack = Stack::new().await;
    let branch = format!("hc-{}", unique_app_id());
    let commit = "bad0bad0bad0bad0bad0bad0bad0bad0bad0bad0";
    ensure_watched_app(&stack, &branch, commit).await;
    stack
        .control(
            &format!("/apps/{}/branches/{}/site", watched_app(), encode(&branch)),
            json!({"status": 500}),
        )
        .await
        .unwrap();
    let (key, capture) = played_build(&stack, &branch, commit, false).await;

    let record = verdict_of(&stack, &key).await;
    let health = record.health.unwrap();
    assert_eq!(health.verdict, Verdict::Unhealthy, "{health:?}");
    assert!(health.reason.contains("status 500"), "{}", health.reason);
    let state = stack
        .store()
        .get_branch_state(&key.app_id, &key.branch_name)
        .await
        .unwrap();
    assert_eq!(state.last_known_good_job, None);
    let events = capture
        .collect(4, Duration::from_secs(30), Duration::from_secs(2))
        .await
        .unwrap();
    let unhealthy = events
        .iter()
        .filter(|e| e["detail-type"] == "Deployment Unhealthy")
        .count();
    assert_eq!(unhealthy, 1, "{events:#?}");
}

/// A round of the schedule, fired now: each is a new round (a redelivery
/// of one carries its time, and skips what that round checked already).
fn scheduled_event() -> String {
    json!({
        "version": "0", "id": format!("sched-{}", unique_app_id()),
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": chrono::Utc::now().to_rfc3339(), "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/deploy-sentinel-dev-LiveHealthScheduleRule"],
        "detail": {}
    })
    .to_string()
}

#[tokio::test]
async fn the_scheduled_check_reports_a_live_site_that_breaks_once() {
    let stack = Stack::new().await;
    let branch = format!("live-{}", unique_app_id());
    let commit = "11ae11ae11ae11ae11ae11ae11ae11ae11ae11ae";
    let (key, capture) = played_build(&stack, &branch, commit, true).await;
    assert_eq!(
        verdict_of(&stack, &key).await.health.unwrap().verdict,
        Verdict::Healthy
    );
    capture
        .collect(4, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();

    // The live site breaks; two scheduled runs see it.
    stack
        .control(
            &format!("/apps/{}/branches/{}/site", watched_app(), encode(&branch)),
            json!({"status": 502}),
        )
        .await
        .unwrap();
    let store = stack.store();
    let mut seen = None;
    for _ in 0..2 {
        stack
            .send_to_queue("SENTINEL_QUEUE_HEALTH_CHECK_QUEUE", scheduled_event())
            .await;
        let before = seen;
        let record = eventually(Duration::from_secs(90), "a scheduled check", || async {
            Ok(store.get_deployment(&key).await?.filter(|d| {
                d.live_check
                    .as_ref()
                    .is_some_and(|c| Some(c.checked_at) != before)
                    && !d.outbox.values().any(|e| e.owner == "health")
            }))
        })
        .await
        .unwrap();
        let live = record.live_check.unwrap();
        assert_eq!(live.verdict, Verdict::Unhealthy, "{live:?}");
        seen = Some(live.checked_at);
    }
    let events = capture
        .collect(1, Duration::from_secs(10), Duration::from_secs(3))
        .await
        .unwrap();
    let unhealthy: Vec<_> = events
        .iter()
        .filter(|e| e["detail-type"] == "Deployment Unhealthy")
        .collect();
    assert_eq!(
        unhealthy.len(),
        1,
        "once per change, not per run: {events:#?}"
    );
    assert_eq!(unhealthy[0]["detail"]["scheduled"], true);
    assert_eq!(
        unhealthy[0]["detail"]["rollbackAllowed"], false,
        "alert only by default"
    );
}

#[tokio::test]
async fn a_password_protected_branch_is_checked_with_its_own_credentials() {
    let stack = Stack::new().await;
    let branch = format!("pw-{}", unique_app_id());
    let commit = "5eb25eb25eb25eb25eb25eb25eb25eb25eb25eb2";
    ensure_watched_app(&stack, &branch, commit).await;
    // base64 of `preview:CANARYbasicAuth42`: the site answers 401 without it.
    let credentials = "cHJldmlldzpDQU5BUlliYXNpY0F1dGg0Mg==";
    stack
        .amplify_sdk()
        .update_branch()
        .app_id(watched_app().as_str())
        .branch_name(&branch)
        .enable_basic_auth(true)
        .basic_auth_credentials(credentials)
        .send()
        .await
        .unwrap();
    let (key, _capture) = played_build(&stack, &branch, commit, false).await;
    let record = verdict_of(&stack, &key).await;
    let health = record.health.clone().unwrap();
    assert_eq!(health.verdict, Verdict::Healthy, "{health:?}");
    // The credentials are nowhere: not in the record, not in the logs.
    let everything = format!(
        "{}{}",
        serde_json::to_string(&record).unwrap(),
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/lambda.log")
        )
        .unwrap_or_default()
    );
    assert!(!everything.contains(credentials), "the credentials leaked");
    assert!(
        !everything.contains("CANARYbasicAuth42"),
        "the password leaked"
    );
}

#[tokio::test]
async fn a_branch_on_a_custom_domain_is_checked_there_once_amplify_serves_it() {
    let stack = Stack::new().await;
    let app = watched_app();
    let branch = format!("cd-{}", unique_app_id());
    let domain = format!("{}.example.test", unique_app_id());
    let commit = "c0de0c0de0c0de0c0de0c0de0c0de0c0de0c0de";
    ensure_watched_app(&stack, &branch, commit).await;
    let created = stack
        .amplify_sdk()
        .create_domain_association()
        .app_id(app.as_str())
        .domain_name(&domain)
        .sub_domain_settings(
            aws_sdk_amplify::types::SubDomainSetting::builder()
                .prefix("www")
                .branch_name(&branch)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        created
            .domain_association()
            .unwrap()
            .domain_status()
            .as_str(),
        "CREATING"
    );

    // Being set up: checked where Amplify serves it.
    let (key, _capture) = played_build(&stack, &branch, commit, false).await;
    let health = verdict_of(&stack, &key).await.health.unwrap();
    assert_eq!(health.verdict, Verdict::Healthy, "{health:?}");
    let amplify_host = format!("{}.{}.amplifyapp.com", key.branch_name.display_name(), app);
    assert!(
        health.url.ends_with(&format!("/_sites/{amplify_host}/")),
        "{}",
        health.url
    );

    // DNS and certificate done, and the branch password-protected: the next
    // deploy is checked at its custom domain, with its own credentials.
    stack
        .control(
            &format!("/apps/{app}/domains/{domain}"),
            json!({"domainStatus": "AVAILABLE", "verified": true}),
        )
        .await
        .unwrap();
    stack
        .amplify_sdk()
        .update_branch()
        .app_id(app.as_str())
        .branch_name(&branch)
        .enable_basic_auth(true)
        .basic_auth_credentials("Y3VzdG9tOmRvbWFpbi1wYXNz") // custom:domain-pass
        .send()
        .await
        .unwrap();
    let next = "c0de1c0de1c0de1c0de1c0de1c0de1c0de1c0de1";
    let (key, _capture) = played_build(&stack, &branch, next, false).await;
    let health = verdict_of(&stack, &key).await.health.unwrap();
    assert_eq!(health.verdict, Verdict::Healthy, "{health:?}");
    assert!(
        health.url.ends_with(&format!("/_sites/www.{domain}/")),
        "{}",
        health.url
    );
}

#[tokio::test]
async fn a_site_url_on_the_metadata_service_is_never_requested_and_the_verdict_says_why() {
    let stack = Stack::new().await;
    let branch = format!("ssrf-{}", unique_app_id());
    let commit = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
    ensure_watched_app(&stack, &branch, commit).await;
    // https, as a deployed checker requires: only the address refuses it.
    put_watched_policy(
        &stack,
        &branch,
        "rollback:\n  automatic: true\nhealth:\n  url: https://169.254.169.254/latest/meta-data/iam/\n  healthy_after: 1\n",
    )
    .await;
    let (key, capture) = played_build(&stack, &branch, commit, false).await;

    let record = verdict_of(&stack, &key).await;
    let health = record.health.clone().unwrap();
    assert_eq!(health.verdict, Verdict::Inconclusive, "{health:?}");
    assert!(
        health.reason.starts_with("not checked: refused")
            && health
                .reason
                .contains("169.254.169.254 is not a public address"),
        "{}",
        health.reason
    );
    let events = capture
        .collect(4, Duration::from_secs(30), Duration::from_secs(2))
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["detail-type"] == "Deployment Check Inconclusive"),
        "the refusal is published (and so alerted): {events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| e["detail-type"] == "Rollback Started"),
        "an inconclusive check never rolls back"
    );
}

/// #28 item 2: the scheduled run once listed the environment's 500 newest
/// records and kept the Amplify ones, so reports dated in the future (or a
/// busy CI) pushed every Amplify branch out of the live checks for good.
#[tokio::test]
async fn six_hundred_future_dated_reports_do_not_stop_an_amplify_branchs_scheduled_check() {
    use futures::StreamExt;
    use sentinel_shared::core::deployment::Deployment;
    use sentinel_shared::core::model::BuildStatus;

    let stack = Stack::new().await;
    let branch = format!("flood-{}", unique_app_id());
    let commit = "f100df100df100df100df100df100df100df100d";
    let (key, _capture) = played_build(&stack, &branch, commit, true).await;
    assert_eq!(
        verdict_of(&stack, &key).await.health.unwrap().verdict,
        Verdict::Healthy
    );
    // 600 reported deploys, recorded as the ingest records a report (a
    // `svc:` app, the environment as its branch), each dated 2099.
    let store = stack.store();
    let dated = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2099, 1, 1, 0, 0, 0).unwrap();
    let flood = unique_app_id();
    let written: Vec<_> = futures::stream::iter(0..600u64)
        .map(|n| {
            let store = &store;
            let environment = stack.environment();
            let flood = &flood;
            async move {
                let mut record = Deployment::new(
                    DeploymentKey {
                        app_id: format!("svc:{flood}-{n}").parse().unwrap(),
                        branch_name: environment.as_str().parse().unwrap(),
                        job_id: JobId::new(n + 1),
                    },
                    environment,
                );
                record.status = BuildStatus::Succeeded;
                record.details.start_time = Some(dated + chrono::Duration::seconds(n as i64));
                store.save_deployment(&record).await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(written.iter().all(Result::is_ok), "600 reports recorded");

    stack
        .send_to_queue("SENTINEL_QUEUE_HEALTH_CHECK_QUEUE", scheduled_event())
        .await;
    let record = eventually(
        Duration::from_secs(90),
        "the branch's scheduled check",
        || async {
            Ok(store
                .get_deployment(&key)
                .await?
                .filter(|d| d.live_check.is_some()))
        },
    )
    .await
    .expect("the Amplify branch is still checked on schedule");
    assert_eq!(record.live_check.unwrap().verdict, Verdict::Healthy);
}
