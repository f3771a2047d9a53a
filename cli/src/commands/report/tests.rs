use std::collections::HashMap;
use std::io::Write;

use chrono::TimeZone;
use sentinel_shared::adapters::memory::MemoryStore;
use sentinel_shared::core::deployment::HealthRecord;

use super::*;

const COMMIT: &str = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0";

fn args(status: Status) -> Args {
    Args {
        status,
        service: "shop-api".into(),
        commit: COMMIT.into(),
        url: None,
        version: None,
        log: None,
        deploy_id: None,
        wait: false,
        timeout: 300,
        bus: None,
        json: false,
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
}

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn prepared(a: &Args, env: &[(&str, &str)]) -> Result<Prepared> {
    prepare(a, Environment::Prod, &Outbound::public(), vars(env), now())
}

fn error(a: &Args) -> String {
    format!("{:#}", prepared(a, &[]).unwrap_err())
}

#[test]
fn the_deploy_id_is_the_flag_then_the_variable_then_the_ci_run_then_the_time() {
    let started = Status::Started;
    assert_eq!(
        deploy_id(
            Some(7),
            started,
            vars(&[("SENTINEL_DEPLOY_ID", "9")]),
            now()
        )
        .unwrap()
        .0,
        7
    );
    assert_eq!(
        deploy_id(None, started, vars(&[("SENTINEL_DEPLOY_ID", "9")]), now())
            .unwrap()
            .0,
        9
    );
    let ci = vars(&[
        ("GITHUB_RUN_ID", "12345678901"),
        ("GITHUB_RUN_ATTEMPT", "2"),
    ]);
    assert_eq!(
        deploy_id(None, Status::Succeeded, ci, now()).unwrap().0,
        12_345_678_901_002
    );
    assert_eq!(
        deploy_id(None, started, vars(&[]), now()).unwrap().0,
        now().timestamp_millis() as u64
    );
    let err = deploy_id(None, Status::Succeeded, vars(&[]), now()).unwrap_err();
    assert!(err.to_string().contains("--deploy-id"), "{err}");
    let err = deploy_id(None, started, vars(&[("SENTINEL_DEPLOY_ID", "x1")]), now()).unwrap_err();
    assert!(err.to_string().contains("SENTINEL_DEPLOY_ID"), "{err}");
    let err = deploy_id(
        None,
        started,
        vars(&[("GITHUB_RUN_ID", "1"), ("GITHUB_RUN_ATTEMPT", "0")]),
        now(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("GITHUB_RUN_ATTEMPT"), "{err}");
}

#[test]
fn a_report_is_keyed_by_service_environment_and_deploy_id() {
    let mut a = args(Status::Succeeded);
    a.url = Some("https://shop.example.com".into());
    a.deploy_id = Some(42);
    let p = prepared(&a, &[]).unwrap();
    assert_eq!(p.key.app_id.as_str(), "svc:shop-api");
    assert_eq!(p.key.branch_name.as_str(), "prod");
    assert_eq!(p.key.job_id.number(), 42);
    assert_eq!(p.detail.url.as_deref(), Some("https://shop.example.com/"));
    assert_eq!(p.detail.deploy_id, "42");
    // What the CLI sends, the handler reads.
    let event = serde_json::json!({
        "id": "eb-1",
        "source": p.source(),
        "detail-type": report_event::DETAIL_TYPE,
        "time": now().to_rfc3339(),
        "detail": p.detail,
    });
    assert_eq!(p.source(), "sentinel.report.shop-api");
    let parsed = report_event::ReportEvent::parse(&event, now()).unwrap();
    assert_eq!(parsed.key, p.key);
}

#[test]
fn each_bad_argument_is_named() {
    let mut a = args(Status::Started);
    a.service = "shop api".into();
    assert!(error(&a).starts_with("--service:"), "{}", error(&a));

    let mut a = args(Status::Started);
    a.commit = "HEAD".into();
    assert!(error(&a).starts_with("--commit:"), "{}", error(&a));

    let mut a = args(Status::Succeeded);
    a.url = Some("http://shop.example.com/".into());
    assert!(error(&a).starts_with("--url:"), "{}", error(&a));

    let mut a = args(Status::Succeeded);
    a.url = Some("https://127.0.0.1:8443/".into());
    assert!(error(&a).starts_with("--url:"), "{}", error(&a));

    let mut a = args(Status::Succeeded);
    a.version = Some("1 2".into());
    assert!(error(&a).starts_with("--version:"), "{}", error(&a));

    let mut a = args(Status::Succeeded);
    a.log = Some("build.log".into());
    assert!(error(&a).starts_with("--log:"), "{}", error(&a));

    let mut a = args(Status::Failed);
    a.url = Some("https://shop.example.com/".into());
    assert!(error(&a).starts_with("--url:"), "{}", error(&a));

    let mut a = args(Status::Started);
    a.wait = true;
    assert!(error(&a).starts_with("--wait:"), "{}", error(&a));

    let mut a = args(Status::Succeeded);
    a.wait = true;
    assert!(error(&a).contains("--wait needs --url"), "{}", error(&a));

    let mut a = args(Status::Failed);
    a.deploy_id = Some(1);
    a.log = Some("/nonexistent/build.log".into());
    assert!(
        error(&a).starts_with("--log /nonexistent/build.log"),
        "{}",
        error(&a)
    );
}

#[test]
fn a_local_origin_named_in_the_environment_may_be_http() {
    let mut a = args(Status::Succeeded);
    a.deploy_id = Some(1);
    a.url = Some("http://127.0.0.1:8080/".into());
    let local = Outbound::parse_list("http://127.0.0.1:8080").unwrap();
    assert!(prepare(&a, Environment::Prod, &local, vars(&[]), now()).is_ok());
}

#[test]
fn a_failed_log_is_sent_as_its_masked_diagnosis_never_as_the_log() {
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let mut file = tempfile();
    writeln!(
        file.1,
        "2026-11-27T09:59:00.000Z [INFO]: a line only the log has"
    )
    .unwrap();
    for i in 0..30 {
        writeln!(
            file.1,
            "2026-11-27T09:59:30.000Z [INFO]: compiling module {i}"
        )
        .unwrap();
    }
    writeln!(
        file.1,
        "2026-11-27T10:00:00.000Z [INFO]: # Executing command: npm run build"
    )
    .unwrap();
    writeln!(
        file.1,
        "2026-11-27T10:00:01.000Z [INFO]: GITHUB_TOKEN={token}"
    )
    .unwrap();
    writeln!(
        file.1,
        "2026-11-27T10:00:02.000Z [INFO]: FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"
    )
    .unwrap();
    let mut a = args(Status::Failed);
    a.deploy_id = Some(1);
    a.log = Some(file.0.clone());
    let p = prepared(&a, &[]).unwrap();
    let d = p.detail.diagnosis.as_ref().unwrap();
    assert_ne!(d.category, "unknown", "{d:?}");
    let sent = serde_json::to_string(&p.detail).unwrap();
    assert!(!sent.contains(token), "{sent}");
    assert!(!sent.contains("a line only the log has"), "{sent}");
    let _ = std::fs::remove_file(&file.0);
}

fn tempfile() -> (PathBuf, std::fs::File) {
    let path = std::env::temp_dir().join(format!(
        "sentinel-report-{}-{}.log",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let file = std::fs::File::create(&path).unwrap();
    (path, file)
}

#[tokio::test]
async fn wait_returns_the_recorded_verdict_or_times_out() {
    let store = MemoryStore::default();
    let mut a = args(Status::Succeeded);
    a.deploy_id = Some(5);
    a.url = Some("https://shop.example.com/".into());
    let p = prepared(&a, &[]).unwrap();
    let waited = wait(&store, &p.key, Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(waited, Waited::TimedOut);
    assert_eq!(waited.exit_code(), exit::TIMEOUT);

    for (verdict, code) in [
        (Verdict::Healthy, exit::SUCCESS),
        (Verdict::Unhealthy, exit::FINDING),
        (Verdict::Inconclusive, exit::INCONCLUSIVE),
    ] {
        let store = MemoryStore::default();
        let mut d = Deployment::new(p.key.clone(), Environment::Prod);
        d.health = Some(HealthRecord {
            verdict,
            reason: "r".into(),
            url: "https://shop.example.com/".into(),
            checked_at: now(),
            rounds: 1,
            endpoints: vec![],
        });
        store.save_deployment(&d).await.unwrap();
        let waited = wait(&store, &p.key, Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(waited.exit_code(), code, "{verdict:?}");
    }
}
