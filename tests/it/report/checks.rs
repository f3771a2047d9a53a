//! A reported service's health check: a refused URL inconclusive and
//! alerted, refused connections unhealthy with a recommended rollback, a
//! service past its rate limit not checked.

use super::*;

/// The alerts of `app` only: the environment's name is every reported
/// service's branch, shared with the tests running beside.
async fn subscribe_app_alerts(stack: &Stack, app: &str) -> Result<crate::helpers::Capture> {
    stack.subscribe_alerts_where("app", app).await
}

/// `sentinel report succeeded --url URL --wait`, timed.
fn report_and_wait(service: &str, url: &str, origins: &str) -> (Output, Duration) {
    let started = std::time::Instant::now();
    let out = Command::new(sentinel_bin())
        .args([
            "report",
            "succeeded",
            "--service",
            service,
            "--commit",
            &commit(7),
            "--deploy-id",
            "7",
            "--url",
            url,
            "--wait",
            "--timeout",
            "120",
        ])
        .env("SENTINEL_SITE_ORIGINS", origins)
        .env_remove("SENTINEL_DEPLOY_ID")
        .env_remove("GITHUB_RUN_ID")
        .output()
        .expect("the sentinel binary (cargo build --workspace --bins)");
    (out, started.elapsed())
}

fn subjects(alerts: &[serde_json::Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|m| m["Subject"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Issue #28 item 4: a URL the outbound rules refuse (a name resolving to
/// a private address) waited for the check's 5-minute deadline, and its
/// Inconclusive verdict was never alerted though `--wait` says "see the
/// alert".
#[tokio::test]
async fn a_refused_url_is_inconclusive_at_once_and_alerted_with_the_reason() -> Result<()> {
    let stack = Stack::new().await;
    let service = unique_service();
    let inbox = subscribe_app_alerts(&stack, &format!("svc:{service}")).await?;
    // https on a name: the CLI cannot tell; the health checker's resolver
    // finds 127.0.0.1 (not a local origin by that name) and refuses it.
    let url = format!("https://localhost:{}/", env("REPORT_SITE_PORT"));
    let (out, took) = report_and_wait(&service, &url, "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "inconclusive: {stderr}");
    assert!(took < Duration::from_secs(90), "took {took:?}: {stderr}");
    let d = record(&stack, &service, 7).await?.context("recorded")?;
    let health = d.health.context("a verdict")?;
    assert_eq!(health.verdict, Verdict::Inconclusive);
    assert!(
        health.reason.starts_with("not checked: refused localhost"),
        "{}",
        health.reason
    );
    let alerts = inbox
        .collect(1, Duration::from_secs(60), Duration::from_secs(3))
        .await?;
    assert_eq!(alerts.len(), 1, "one alert: {:?}", subjects(&alerts));
    assert!(
        subjects(&alerts)[0].contains("Deployment check inconclusive"),
        "{:?}",
        subjects(&alerts)
    );
    // The reason is said (the chat body the queue receives).
    let message = alerts[0]["Message"].as_str().unwrap_or_default();
    assert!(
        message.contains("not checked: refused localhost")
            && message.contains("not a public address"),
        "{message}"
    );
    Ok(())
}

/// Issue #28 item 4: the team's own server refusing connections after its
/// deploy is Unhealthy (exit 1, "Rollback Recommended"), not Inconclusive
/// after 5 minutes. Port REPORT_SITE_PORT + 1 is a local origin of the
/// stack (tests/localstack/provision.py) where nothing listens.
#[tokio::test]
async fn a_reported_service_refusing_connections_is_unhealthy_and_recommended_a_rollback()
-> Result<()> {
    let stack = Stack::new().await;
    let service = unique_service();
    let inbox = subscribe_app_alerts(&stack, &format!("svc:{service}")).await?;
    let port: u16 = env("REPORT_SITE_PORT").parse()?;
    let origin = format!("http://127.0.0.1:{}", port + 1);
    let (out, took) = report_and_wait(&service, &format!("{origin}/"), &origin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "unhealthy: {stderr}");
    assert!(took < Duration::from_secs(90), "took {took:?}: {stderr}");
    let health = record(&stack, &service, 7)
        .await?
        .and_then(|d| d.health)
        .context("a verdict")?;
    assert_eq!(health.verdict, Verdict::Unhealthy);
    assert!(
        health.reason.contains("connection refused"),
        "{}",
        health.reason
    );
    let alerts = inbox
        .collect(2, Duration::from_secs(60), Duration::from_secs(3))
        .await?;
    let subjects = subjects(&alerts);
    assert_eq!(alerts.len(), 2, "{subjects:?}");
    assert!(
        subjects.iter().any(|s| s.contains("Deployment unhealthy"))
            && subjects.iter().any(|s| s.contains("Rollback recommended")),
        "{subjects:?}"
    );
    Ok(())
}

/// Issue #28 item 3: one service's reports cannot hold the health checker:
/// past its rate limit in one window, a reported deploy's check ends
/// Inconclusive at once, naming the limit (the DynamoDB slot on moto, the
/// reported services' own queue and mapping, the real binaries).
#[tokio::test]
async fn a_service_past_its_rate_limit_is_not_checked() -> Result<()> {
    use sentinel_shared::health::rate::{CHECKS_PER_WINDOW, WINDOW_SECONDS};
    let stack = Stack::new().await;
    let service = unique_service();
    // Refused by the outbound rules at the first round: each check that
    // starts ends at once, and takes its slot.
    let url = format!("https://localhost:{}/", env("REPORT_SITE_PORT"));
    let window = || Utc::now().timestamp().div_euclid(WINDOW_SECONDS);
    let first_window = window();
    let deploys = CHECKS_PER_WINDOW as u64 + 1;
    // One after another, each waited for: a newer deploy of the service
    // supersedes an older one not yet checked (never checked at all).
    let mut reasons = Vec::new();
    for id in 1..=deploys {
        let out = Command::new(sentinel_bin())
            .args(["report", "succeeded", "--service", &service, "--commit"])
            .arg(commit(id as u8))
            .args(["--deploy-id", &id.to_string(), "--url", &url])
            .args(["--wait", "--timeout", "60"])
            .env("SENTINEL_SITE_ORIGINS", "")
            .env_remove("SENTINEL_DEPLOY_ID")
            .env_remove("GITHUB_RUN_ID")
            .output()?;
        assert_eq!(out.status.code(), Some(3), "inconclusive: {out:?}");
        let health = record(&stack, &service, id)
            .await?
            .and_then(|d| d.health)
            .context("a verdict")?;
        reasons.push((health.verdict, health.reason));
    }
    if window() != first_window {
        // The reports straddled a window's end: each window has its own slots.
        eprintln!("the reports straddled a rate window; nothing to compare");
        return Ok(());
    }
    let limited: Vec<_> = reasons
        .iter()
        .filter(|(_, r)| r.starts_with("not checked: rate limit"))
        .collect();
    assert_eq!(limited.len(), 1, "{reasons:#?}");
    assert_eq!(limited[0].0, Verdict::Inconclusive);
    assert!(
        limited[0].1.contains(&format!("svc:{service}")),
        "{reasons:#?}"
    );
    assert_eq!(
        reasons
            .iter()
            .filter(|(_, r)| r.starts_with("not checked: refused localhost"))
            .count(),
        CHECKS_PER_WINDOW,
        "{reasons:#?}"
    );
    Ok(())
}
