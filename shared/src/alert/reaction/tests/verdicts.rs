//! A bake's and a check's verdicts alerted: figures and links, inconclusive
//! checks alerted once and resolved, the site link's host.

use super::*;

fn bake_event(detail_type: &str, verdict: &str, id: &str) -> String {
    json!({
        "id": id, "source": "sentinel", "detail-type": detail_type,
        "detail": {
            "eventId": "d1abc/main/0000000008/bake", "environment": "prod",
            "appId": "d1abc", "branchName": "main", "jobId": "8", "commitId": "c0ffee08",
            "verdict": verdict,
            "reason": "bake: 2 of 2 intervals failed; last: 5xx rate 20.00 % (200 of 1000) above 1.00 % — before: 0.10 % 5xx, p90 120 ms, 3000 requests; after: 20.00 % 5xx, p90 130 ms, 2000 requests",
            "url": "https://main.d1abc.amplifyapp.com/", "endpoints": [],
            "isRollback": false, "rollbackOf": null, "rollbackAllowed": verdict == "unhealthy",
            "bake": {
                "outcome": if verdict == "unhealthy" { "failed" } else { "inconclusive" },
                "before": {"requests": 3000, "errors5xx": 3, "errors4xx": 0, "p90LatencyMs": 120, "datapoints": 15},
                "after": {"requests": 2000, "errors5xx": 400, "errors4xx": 0, "p90LatencyMs": 130, "datapoints": 10},
                "failedIntervals": ["step 1 [10:01–10:06]: 5xx rate 20.00 % (200 of 1000) above 1.00 %"],
                "stepsJudged": 2, "stepsTotal": 6,
                "consoleUrl": "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#metricsV2:graph=x"
            }
        }
    })
    .to_string()
}

#[tokio::test]
async fn a_failed_bake_alerts_with_its_figures_before_and_after_and_the_metrics_link() {
    let w = World::new();
    let raw = bake_event("Deployment Unhealthy", "unhealthy", "eb-bake-8");
    w.opens(
        &raw,
        &[
            "failed its bake",
            "before: 0.10 % 5xx, p90 120 ms, 3000 requests",
            "after: 20.00 % 5xx, p90 130 ms, 2000 requests",
            "Failed interval step 1 [10:01–10:06]",
            "cloudwatch/home?region=eu-west-1",
        ],
    )
    .await;
}

#[tokio::test]
async fn an_inconclusive_bake_alerts_a_person() {
    let w = World::new();
    let raw = bake_event("Deployment Check Inconclusive", "inconclusive", "eb-bake-9");
    let outcome = w.deliver(&raw).await;
    assert_eq!(outcome.decision, "opened");
    assert!(w.notifier.sent()[0].email.contains("Bake inconclusive"));
}

/// The probes' verdict on job `n` (no bake), scheduled or after the deploy.
fn check_event(detail_type: &str, verdict: &str, n: u64, scheduled: bool, reason: &str) -> String {
    let suffix = if scheduled { "live/1" } else { "health" };
    json!({
        "id": format!("eb-{verdict}-{n}-{suffix}"), "source": "sentinel", "detail-type": detail_type,
        "detail": {
            "eventId": format!("d1abc/main/{n:010}/{suffix}"), "environment": "prod",
            "appId": "d1abc", "branchName": "main", "jobId": n.to_string(), "commitId": "c0ffee08",
            "verdict": verdict, "reason": reason,
            "url": "https://main.d1abc.amplifyapp.com/",
            "endpoints": [{"url": "https://main.d1abc.amplifyapp.com/", "lastStatus": null,
                           "lastLatencyMs": 3, "verdict": "ourSide", "reason": reason,
                           "attempts": 1, "p50Ms": 3, "p95Ms": 3}],
            "isRollback": false, "rollbackOf": null, "scheduled": scheduled,
            "rollbackAllowed": false
        }
    })
    .to_string()
}

/// Issue #28 item 4: an inconclusive deploy check was never alerted
/// ("probe-inconclusive-not-alerted"), though `sentinel report --wait`
/// exits 3 saying "see the alert".
#[tokio::test]
async fn an_inconclusive_check_is_alerted_once_with_its_reason_and_resolved_when_healthy() {
    let w = World::new();
    let why = "not checked: refused main.d1abc.amplifyapp.com: it resolves to 10.0.0.7, not a public address";
    let raw = check_event(
        "Deployment Check Inconclusive",
        "inconclusive",
        8,
        false,
        why,
    );
    w.opens(
        &raw,
        &[
            "Deployment check inconclusive",
            "could not be judged by the check after the deploy",
            "so nothing was rolled back",
            "it resolves to 10.0.0.7, not a public address",
        ],
    )
    .await;
    // The same verdict delivered again: one alert.
    let again = w.deliver(&raw).await;
    assert_eq!(again.decision, "duplicate");
    // The scheduled check's change to inconclusive joins the open incident
    // (the alert policy's grouping), no second alert.
    let live = check_event(
        "Deployment Check Inconclusive",
        "inconclusive",
        8,
        true,
        why,
    );
    let joined = w.deliver(&live).await;
    assert_eq!(joined.decision, "joined");
    assert_eq!(w.notifier.sent().len(), 1);
    // Judged healthy since: the incident is resolved, and said so.
    let healthy = check_event(
        "Deployment Healthy",
        "healthy",
        9,
        false,
        "2 consecutive rounds passed",
    );
    let resolved = w.deliver(&healthy).await;
    assert_eq!(resolved.decision, "resolved");
    assert_eq!(w.notifier.sent().len(), 2);
}

#[tokio::test]
async fn a_reported_service_s_inconclusive_check_says_what_its_wait_did() {
    let w = World::new();
    let raw = check_event(
        "Deployment Check Inconclusive",
        "inconclusive",
        1_764_000_000_000,
        false,
        "deadline reached without a verdict",
    )
    .replace("d1abc/main", "svc:shop-api/prod")
    .replace("\"d1abc\"", "\"svc:shop-api\"")
    .replace("\"main\"", "\"prod\"");
    let outcome = w.deliver(&raw).await;
    assert_eq!(outcome.decision, "opened");
    let email = &w.notifier.sent()[0].email;
    assert!(
        email.contains("deadline reached without a verdict"),
        "{email}"
    );
    assert!(email.contains("--wait` exited 3"), "{email}");
}

/// The site links of a notification: the e-mail's `Site:` line and the
/// chat message's related resources.
fn site_links(n: &crate::alert::Notification) -> Vec<String> {
    let chat: serde_json::Value = serde_json::from_str(&n.chat).unwrap();
    n.email
        .lines()
        .filter_map(|l| l.strip_prefix("Site: "))
        .map(str::to_owned)
        .chain(
            chat["metadata"]["relatedResources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str().map(str::to_owned)),
        )
        .collect()
}

#[tokio::test]
async fn a_branch_name_cannot_point_the_site_link_at_another_host() {
    let templates = [
        None,
        Some("https://{displayName}.{appId}.amplifyapp.com/{branch}"),
    ];
    for template in templates {
        let w = World::new();
        let alerter = Alerter {
            site_url_template: template,
            extras: None,
            ..w.alerter()
        };
        for (n, branch) in ["x@evil%2Ecom#", "a:b@evil.example", "feature/new.ui"]
            .into_iter()
            .enumerate()
        {
            alerter
                .on_event(&parsed(&alert_test_event(&format!("t{n}"), branch)))
                .await
                .unwrap();
            let sent = w.notifier.sent();
            let links = site_links(&sent[n]);
            for link in &links {
                let url = url::Url::parse(link).unwrap_or_else(|e| panic!("{branch}: {link}: {e}"));
                assert!(
                    url.host_str()
                        .is_some_and(|h| h.ends_with(".d1abc.amplifyapp.com")),
                    "{branch} linked to another host: {link}"
                );
            }
            // A name that makes no host name has no link (the log says why);
            // an ordinary one keeps its link.
            assert_eq!(
                links.is_empty(),
                branch != "feature/new.ui",
                "{branch}: {links:?}"
            );
        }
    }
}
