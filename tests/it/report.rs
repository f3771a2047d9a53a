//! `sentinel report` against the local stack: the real CLI publishes on the
//! stack's bus, the template's ReportRule routes to the ingest queue, the
//! real functions record, check and recommend. The PM2 example
//! (`examples/pm2/deploy.sh`) runs with the real pm2 (`.tools`, installed by
//! `scripts/bootstrap.sh`) and a site on 127.0.0.1:$REPORT_SITE_PORT (the
//! origin the local health checker may request).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, Result};
use sentinel_shared::core::deployment::{Deployment, DeploymentKey};
use sentinel_shared::core::model::{AppId, BuildStatus, JobId};
use sentinel_shared::core::verdicts::Verdict;
use sentinel_shared::ports::DeploymentStore;
use serde_json::json;

use aws_sdk_dynamodb::types::AttributeValue as AttrValue;
use chrono::{DateTime, Utc};
use sentinel_shared::adapters::dynamodb::branch_pk;

use crate::helpers::{Stack, dead_letter_reason, env, eventually, unique_app_id};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sentinel_bin() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    PathBuf::from(format!("{target}/debug/sentinel"))
}

fn sentinel(args: &[&str]) -> Output {
    Command::new(sentinel_bin())
        .args(args)
        .output()
        .expect("the sentinel binary (cargo build --workspace --bins)")
}

/// A service name of its own per test (the `dit…` of a unique app id).
fn unique_service() -> String {
    format!("svc-{}", &unique_app_id().as_str()[1..])
}

fn commit(n: u8) -> String {
    format!("{:040x}", 0xabc0_0000_u64 + u64::from(n))
}

async fn record(stack: &Stack, service: &str, deploy_id: u64) -> Result<Option<Deployment>> {
    let key = DeploymentKey {
        app_id: AppId::service(service)?,
        branch_name: stack.environment().as_str().parse()?,
        job_id: JobId::new(deploy_id),
    };
    Ok(stack.store().get_deployment(&key).await?)
}

#[tokio::test]
async fn reports_twice_and_out_of_order_leave_one_record() -> Result<()> {
    let stack = Stack::new().await;
    let service = unique_service();
    let c = commit(1);
    let id = "424242";
    let report = |status: &str| {
        let out = sentinel(&[
            "report",
            status,
            "--service",
            &service,
            "--commit",
            &c,
            "--deploy-id",
            id,
        ]);
        assert!(
            out.status.success(),
            "{status}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
    };
    // Succeeded before started, each twice.
    report("succeeded");
    report("succeeded");
    report("started");
    report("started");
    let d = eventually(Duration::from_secs(60), "both reports recorded", || async {
        Ok(record(&stack, &service, 424242)
            .await?
            .filter(|d| d.transitions.len() == 2))
    })
    .await?;
    assert_eq!(d.status, BuildStatus::Succeeded);
    assert_eq!(d.details.commit_id.as_deref(), Some(c.as_str()));
    // Four deliveries, two observations: a repeat is the same report.
    assert_eq!(d.event_ids.len(), 2, "{:?}", d.event_ids);
    // Listed with every source, and alone under --source report. By app:
    // other tests fill the environment with reports (health.rs writes 600
    // dated 2099), and a listing of the newest 500 need not reach this one.
    let app = format!("svc:{service}");
    let listed = sentinel(&[
        "deployments",
        "--app",
        &app,
        "--source",
        "report",
        "--limit",
        "500",
        "--json",
    ]);
    assert!(listed.status.success(), "{listed:?}");
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout)?;
    let listed = listed.as_array().context("an array")?;
    assert!(
        listed.iter().all(|d| d["source"] == "report"),
        "{listed:#?}"
    );
    assert!(
        listed
            .iter()
            .any(|d| d["appId"] == format!("svc:{service}")),
        "{listed:#?}"
    );
    let metrics = sentinel(&["metrics", "--window", "1d", "--json"]);
    assert!(metrics.status.success(), "{metrics:?}");
    let metrics: serde_json::Value = serde_json::from_slice(&metrics.stdout)?;
    assert!(
        metrics["bySource"]["report"]["deployments"].as_u64() >= Some(1),
        "{metrics:#}"
    );
    let mut seen: Vec<_> = d.transitions.iter().map(|t| t.status.clone()).collect();
    seen.sort_by_key(|s| s.as_str().to_owned());
    assert_eq!(seen, vec![BuildStatus::Started, BuildStatus::Succeeded]);
    Ok(())
}

/// Publishes a report as any reporter could (PutEvents by hand): `source`
/// and the detail as given, and the envelope's `time` the sender chose.
async fn put_report(stack: &Stack, source: &str, time: DateTime<Utc>, detail: &serde_json::Value) {
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(&stack.bus)
        .source(source)
        .detail_type("Deployment Reported")
        .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
            time.timestamp(),
        ))
        .detail(detail.to_string())
        .build();
    let out = stack
        .events()
        .put_events()
        .entries(entry)
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(out.failed_entry_count(), 0, "{out:?}");
}

fn report_detail(service: &str, env: &str, deploy_id: u64, at: DateTime<Utc>) -> serde_json::Value {
    json!({
        "schema": 1, "service": service, "environment": env,
        "deployId": deploy_id.to_string(), "status": "started",
        "commit": commit(7), "reportedAt": at.to_rfc3339(),
    })
}

#[tokio::test]
async fn a_report_naming_another_service_in_its_detail_is_refused() -> Result<()> {
    let stack = Stack::new().await;
    let (mine, victim) = (unique_service(), unique_service());
    let env = stack.environment();
    let deploy_id = 777_001;
    // Sent as `mine` (what IAM lets its CI role send), about `victim`.
    let detail = report_detail(&victim, env.as_str(), deploy_id, Utc::now());
    put_report(
        &stack,
        &format!("sentinel.report.{mine}"),
        Utc::now(),
        &detail,
    )
    .await;
    let (error_type, reason) = dead_letter_reason(&stack, &victim).await;
    assert_eq!(error_type, "NonRetryable.Event");
    assert!(
        reason.contains("detail.service") && reason.contains(&mine),
        "{reason}"
    );
    assert!(record(&stack, &victim, deploy_id).await?.is_none());
    assert!(record(&stack, &mine, deploy_id).await?.is_none());
    Ok(())
}

#[tokio::test]
async fn a_report_dated_2099_is_stored_with_a_clamped_sort_key_and_capped_expiry() -> Result<()> {
    let stack = Stack::new().await;
    let service = unique_service();
    let env = stack.environment();
    let deploy_id = 2_099_000;
    let future: DateTime<Utc> = "2099-01-01T00:00:00Z".parse()?;
    let before = Utc::now();
    // The sender sets `time` too, so the report passes the clock check.
    let detail = report_detail(&service, env.as_str(), deploy_id, future);
    put_report(
        &stack,
        &format!("sentinel.report.{service}"),
        future,
        &detail,
    )
    .await;
    let d = eventually(Duration::from_secs(60), "the report recorded", || async {
        record(&stack, &service, deploy_id).await
    })
    .await?;
    let after = Utc::now();
    let started = d.started_at().context("a start")?;
    assert!(
        before - chrono::Duration::seconds(5) <= started && started <= after,
        "{started}"
    );
    // The item as stored: its index sort key and its TTL.
    let app = AppId::service(&service)?;
    let item = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name(&stack.table)
        .key("PK", AttrValue::S(branch_pk(&app, &env.as_str().parse()?)))
        .key(
            "SK",
            AttrValue::S(format!("JOB#{}", JobId::new(deploy_id).padded())),
        )
        .send()
        .await?
        .item
        .context("the item")?;
    let sort_key = item["GSI1SK"]
        .as_s()
        .map_err(|_| anyhow::anyhow!("GSI1SK"))?;
    assert!(!sort_key.starts_with("2099"), "{sort_key}");
    assert!(
        sort_key.starts_with(&started.format("%Y-%m-%d").to_string()),
        "{sort_key}"
    );
    let expires: i64 = item["expires_at"]
        .as_n()
        .map_err(|_| anyhow::anyhow!("expires_at"))?
        .parse()?;
    let retention_days: i64 = std::env::var("SENTINEL_RETENTION_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(90);
    let cap = (after + chrono::Duration::days(retention_days)).timestamp();
    assert!(expires <= cap, "expires_at {expires} is past {cap}");
    Ok(())
}

#[tokio::test]
async fn a_bad_report_is_refused_by_the_cli_naming_the_flag() {
    let out = sentinel(&[
        "report",
        "started",
        "--service",
        "a b",
        "--commit",
        "abcdef0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--service"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sentinel(&[
        "report",
        "succeeded",
        "--service",
        "shop",
        "--commit",
        "abcdef0",
        "--deploy-id",
        "1",
        "--url",
        "http://example.com/",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--url"));
}

/// Stops the test's pm2 daemon (its own PM2_HOME) whatever the outcome.
struct Pm2 {
    bin: PathBuf,
    home: PathBuf,
}

impl Drop for Pm2 {
    fn drop(&mut self) {
        // The daemon's and the app's pids, read before `pm2 kill` removes
        // them: what it leaves running is stopped by pid (a stray app would
        // hold REPORT_SITE_PORT for the next run).
        let mut pids: Vec<String> = std::fs::read_to_string(self.home.join("pm2.pid"))
            .into_iter()
            .collect();
        if let Ok(dir) = std::fs::read_dir(self.home.join("pids")) {
            pids.extend(
                dir.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok()),
            );
        }
        let _ = Command::new(&self.bin)
            .arg("kill")
            .env("PM2_HOME", &self.home)
            .output();
        for pid in pids.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            let _ = Command::new("kill").args(["-9", pid]).output();
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// One run of the example's deploy script: `build` is its build command.
fn deploy(app: &Path, pm2: &Pm2, service: &str, commit: &str, build: &str) -> Output {
    let port = env("REPORT_SITE_PORT");
    let origin = format!("http://127.0.0.1:{port}");
    Command::new("bash")
        .arg(root().join("examples/pm2/deploy.sh"))
        .env("SERVICE", service)
        .env("SITE_URL", format!("{origin}/"))
        .env("SENTINEL_SITE_ORIGINS", &origin)
        .env("APP_DIR", app)
        .env("BUILD_CMD", build)
        .env("BUILD_OUTPUT", "build")
        .env("COMMIT", commit)
        .env("PORT", &port)
        .env("INSTANCES", "1")
        .env("WAIT_TIMEOUT", "120")
        .env("PM2", &pm2.bin)
        .env("PM2_HOME", &pm2.home)
        .env("SENTINEL", sentinel_bin())
        .env_remove("SENTINEL_DEPLOY_ID")
        .env_remove("GITHUB_RUN_ID")
        .output()
        .expect("bash")
}

fn release_build(name: &str, commit: &str, status: u16) -> String {
    format!(
        "mkdir -p build && printf '%s' '<html>{name} {commit}</html>' > build/index.html && echo {status} > build/status"
    )
}

async fn served() -> Result<(u16, String)> {
    let url = format!("http://127.0.0.1:{}/", env("REPORT_SITE_PORT"));
    // No pooled connection: a reload closes the old worker's.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    let res = http.get(&url).send().await.context("the site")?;
    Ok((res.status().as_u16(), res.text().await?))
}

fn deploy_id_of(out: &Output) -> u64 {
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .lines()
        .find_map(|l| l.split("deploy id ").nth(1))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no deploy id in:\n{stderr}"))
}

#[tokio::test]
async fn the_pm2_example_keeps_a_healthy_release_and_restores_its_backup_when_unhealthy()
-> Result<()> {
    let stack = Stack::new().await;
    let pm2_bin = root().join(".tools/node_modules/.bin/pm2");
    assert!(
        pm2_bin.exists(),
        "{} is missing: run scripts/bootstrap.sh",
        pm2_bin.display()
    );
    let work = std::env::temp_dir().join(format!("sentinel-pm2-{}", unique_app_id()));
    let app = work.join("app");
    let pm2 = Pm2 {
        bin: pm2_bin,
        home: work.join("pm2"),
    };
    let service = unique_service();
    let rollbacks = stack
        .capture(&stack.bus, json!({"appId": [format!("svc:{service}")]}))
        .await?;

    // The service's own policy (as for an app: `policy push --app svc:…`),
    // tight, so that its checks never hold the shared local health checker
    // long (a site gone after the test is not judged for 5 minutes).
    let policy = work.join("policy.yaml");
    write(
        &policy,
        "version: 1\nhealth:\n  deadline_ms: 30000\n  round_interval_ms: 500\n  version_grace_ms: 5000\n",
    );
    let pushed = sentinel(&[
        "policy",
        "push",
        policy.to_str().unwrap(),
        "--app",
        &format!("svc:{service}"),
    ]);
    assert!(pushed.status.success(), "{pushed:?}");

    // The release running before: started by hand, as on the server.
    write(&app.join("build/index.html"), "<html>release one</html>");
    let started = Command::new(&pm2.bin)
        .args([
            "start",
            root()
                .join("examples/pm2/ecosystem.config.js")
                .to_str()
                .unwrap(),
        ])
        .env("PM2_HOME", &pm2.home)
        .env("APP_DIR", &app)
        .env("BUILD_OUTPUT", "build")
        .env("SERVICE", &service)
        .env("PORT", env("REPORT_SITE_PORT"))
        .env("INSTANCES", "1")
        .output()?;
    assert!(started.status.success(), "{started:?}");
    eventually(Duration::from_secs(20), "release one served", || async {
        Ok(served().await.ok().filter(|(s, _)| *s == 200))
    })
    .await?;

    // A healthy release: kept, and Sentinel's verdict is Healthy.
    let two = commit(2);
    let out = deploy(
        &app,
        &pm2,
        &service,
        &two,
        &release_build("release two", &two, 200),
    );
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{log}");
    let (status, body) = served().await?;
    assert_eq!(
        (status, body.contains("release two")),
        (200, true),
        "{body}"
    );
    let d = record(&stack, &service, deploy_id_of(&out))
        .await?
        .context("release two")?;
    assert_eq!(d.health.as_ref().map(|h| h.verdict), Some(Verdict::Healthy));

    // An unhealthy release: `sentinel report --wait` exits 1 and the script
    // restores its backup of release two, and reloads it.
    let three = commit(3);
    let out = deploy(
        &app,
        &pm2,
        &service,
        &three,
        &release_build("release three", &three, 500),
    );
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("previous release restored"), "{log}");
    let restored = std::fs::read_to_string(app.join("build/index.html"))?;
    assert!(restored.contains("release two"), "{restored}");
    assert!(
        !app.join("build/status").exists()
            || std::fs::read_to_string(app.join("build/status"))?.trim() == "200"
    );
    let (status, body) = served().await?;
    assert_eq!(
        (status, body.contains("release two")),
        (200, true),
        "{body}"
    );
    let d = record(&stack, &service, deploy_id_of(&out))
        .await?
        .context("release three")?;
    assert_eq!(d.status, BuildStatus::Succeeded);
    assert_eq!(
        d.health.as_ref().map(|h| h.verdict),
        Some(Verdict::Unhealthy)
    );
    // Sentinel cannot roll a PM2 server back: it recommends, once.
    let events = rollbacks
        .collect(1, Duration::from_secs(60), Duration::from_secs(3))
        .await?;
    let recommended: Vec<_> = events
        .iter()
        .filter(|e| e["detail-type"] == "Rollback Recommended")
        .collect();
    assert_eq!(recommended.len(), 1, "{events:#?}");
    assert!(
        recommended[0]["detail"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot roll back a reported service"),
        "{:#}",
        recommended[0]
    );

    // A build that fails: reported with its log's diagnosis, never the log.
    let four = commit(4);
    let failing = "echo 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory'; \
                   echo 'NPM_TOKEN=npm_abcdefghijklmnopqrstuvwxyz0123456789'; exit 134";
    let out = deploy(&app, &pm2, &service, &four, failing);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let id = deploy_id_of(&out);
    let d = eventually(Duration::from_secs(60), "the failure recorded", || async {
        Ok(record(&stack, &service, id)
            .await?
            .filter(|d| d.status == BuildStatus::Failed))
    })
    .await?;
    let diagnosis = d.diagnosis.context("the sent diagnosis")?;
    assert_eq!(diagnosis.category, "node-heap-oom", "{diagnosis:?}");
    let stored = serde_json::to_string(&diagnosis)?;
    assert!(
        !stored.contains("npm_abcdefghijklmnopqrstuvwxyz0123456789"),
        "{stored}"
    );
    let (_, body) = served().await?;
    assert!(body.contains("release two"), "{body}");
    drop(pm2);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

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
