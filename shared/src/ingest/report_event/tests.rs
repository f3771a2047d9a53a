use serde_json::{Value, json};

use super::*;

const COMMIT: &str = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0";

fn event(status: &str) -> Value {
    json!({
        "version": "0",
        "id": "eb-1",
        "source": "sentinel.report.shop-api",
        "detail-type": DETAIL_TYPE,
        "account": "000000000000",
        "time": "2026-11-27T10:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "schema": 1,
            "service": "shop-api",
            "environment": "prod",
            "deployId": "1764237600000",
            "status": status,
            "commit": COMMIT,
            "url": "https://shop.example.com/",
            "version": "1.4.2",
            "reportedAt": "2026-11-27T10:00:00Z"
        }
    })
}

/// When the stack received the events above (a few seconds after they
/// were sent).
fn received() -> DateTime<Utc> {
    "2026-11-27T10:00:05Z".parse().unwrap()
}

fn with(mut v: Value, pointer: &str, value: Value) -> Value {
    let (parent, field) = pointer.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() {
        &mut v
    } else {
        v.pointer_mut(parent).unwrap()
    };
    parent[field] = value;
    v
}

fn without(mut v: Value, field: &str) -> Value {
    v["detail"].as_object_mut().unwrap().remove(field);
    v
}

fn reason(v: &Value) -> String {
    ReportEvent::parse_str(&v.to_string(), received())
        .unwrap_err()
        .reason
}

#[test]
fn a_report_becomes_a_deployment_key_of_the_service_and_environment() {
    let r = ReportEvent::parse(&event("succeeded"), received()).unwrap();
    assert_eq!(r.key.app_id.as_str(), "svc:shop-api");
    assert_eq!(r.key.branch_name.as_str(), "prod");
    assert_eq!(r.key.job_id.number(), 1_764_237_600_000);
    assert_eq!(r.status, ReportStatus::Succeeded);
    assert_eq!(r.reported.url.as_deref(), Some("https://shop.example.com/"));
    assert_eq!(r.reported.version.as_deref(), Some("1.4.2"));
    let obs = r.observation();
    assert_eq!(obs.status, BuildStatus::Succeeded);
    assert_eq!(
        obs.event_id,
        "svc:shop-api/prod/1764237600000/report-succeeded"
    );
}

#[test]
fn the_same_report_under_two_eventbridge_ids_is_one_observation() {
    let a = ReportEvent::parse(&event("started"), received()).unwrap();
    let b = ReportEvent::parse(&with(event("started"), "/id", json!("eb-2")), received()).unwrap();
    assert_eq!(a.observation(), b.observation());
}

#[test]
fn a_wrong_source_is_refused() {
    let r = reason(&with(event("started"), "/source", json!("sentinel")));
    assert!(r.starts_with("source:"), "{r}");
    let r = reason(&with(
        event("started"),
        "/source",
        json!("sentinel.report.shop api"),
    ));
    assert!(r.starts_with("source:"), "{r}");
}

#[test]
fn a_report_from_a_cli_that_names_no_service_in_its_source_says_to_update_it() {
    let r = reason(&with(event("started"), "/source", json!("sentinel.report")));
    assert!(
        r.starts_with("source:") && r.contains("update the CLI"),
        "{r}"
    );
}

#[test]
fn the_service_is_the_one_the_source_names() {
    let v = with(event("started"), "/source", json!("sentinel.report.cart"));
    let v = with(v, "/detail/service", json!("cart"));
    let r = ReportEvent::parse(&v, received()).unwrap();
    assert_eq!(r.key.app_id.as_str(), "svc:cart");
}

#[test]
fn a_report_whose_detail_names_another_service_than_its_source_is_refused() {
    // A reporter allowed `sentinel.report.cart` reporting for shop-api.
    let r = reason(&with(
        event("failed"),
        "/source",
        json!("sentinel.report.cart"),
    ));
    assert!(r.starts_with("detail.service:"), "{r}");
    assert!(r.contains("\"shop-api\"") && r.contains("\"cart\""), "{r}");
}

#[test]
fn a_report_dated_after_its_arrival_is_dated_by_its_arrival() {
    // The sender sets `time` as well: both say 2099.
    let v = with(event("started"), "/time", json!("2099-01-01T00:00:00Z"));
    let v = with(v, "/detail/reportedAt", json!("2099-01-01T00:00:00Z"));
    let r = ReportEvent::parse(&v, received()).unwrap();
    assert_eq!(r.reported_at, received());
    assert_eq!(r.observation().at, received());
    assert_eq!(
        r.clamped_from.map(|t| t.to_rfc3339()),
        Some("2099-01-01T00:00:00+00:00".to_owned())
    );
}

#[test]
fn a_report_that_arrives_late_keeps_its_own_time() {
    // EventBridge retried it for an hour, or an archive replayed it.
    let late: DateTime<Utc> = "2026-11-27T11:00:00Z".parse().unwrap();
    let r = ReportEvent::parse(&event("started"), late).unwrap();
    assert_eq!(r.reported_at.to_rfc3339(), "2026-11-27T10:00:00+00:00");
    assert_eq!(r.clamped_from, None);
}

#[test]
fn a_wrong_detail_type_is_refused() {
    let r = reason(&with(
        event("started"),
        "/detail-type",
        json!("Build Started"),
    ));
    assert!(r.starts_with("detail-type:"), "{r}");
}

#[test]
fn a_missing_id_is_refused() {
    let mut v = event("started");
    v.as_object_mut().unwrap().remove("id");
    let e = ReportEvent::parse_str(&v.to_string(), received()).unwrap_err();
    assert_eq!(e.event_id, "<unknown>");
    assert!(e.reason.starts_with("id"), "{}", e.reason);
}

#[test]
fn a_time_that_is_not_rfc3339_is_refused() {
    let r = reason(&with(event("started"), "/time", json!("yesterday")));
    assert!(r.starts_with("time:"), "{r}");
}

#[test]
fn a_detail_that_is_not_an_object_is_refused() {
    let r = reason(&with(event("started"), "/detail", json!("x")));
    assert!(r.starts_with("detail:"), "{r}");
}

#[test]
fn an_unknown_status_is_refused() {
    let r = reason(&event("rolled-back"));
    assert!(r.starts_with("detail:") && r.contains("rolled-back"), "{r}");
}

#[test]
fn another_schema_is_refused() {
    let r = reason(&with(event("started"), "/detail/schema", json!(2)));
    assert!(r.starts_with("detail.schema:"), "{r}");
}

#[test]
fn a_bad_service_name_is_refused() {
    let r = reason(&with(event("started"), "/detail/service", json!("../etc")));
    assert!(r.starts_with("detail.service:"), "{r}");
}

#[test]
fn an_unknown_environment_is_refused() {
    let r = reason(&with(event("started"), "/detail/environment", json!("qa")));
    assert!(r.starts_with("detail:") && r.contains("qa"), "{r}");
}

#[test]
fn a_deploy_id_that_is_not_a_number_is_refused() {
    let r = reason(&with(event("started"), "/detail/deployId", json!("12a")));
    assert!(r.starts_with("detail.deployId:"), "{r}");
}

#[test]
fn a_commit_that_is_not_hex_is_refused() {
    let r = reason(&with(event("started"), "/detail/commit", json!("main")));
    assert!(r.starts_with("detail.commit:"), "{r}");
    let r = reason(&with(event("started"), "/detail/commit", json!("abc12")));
    assert!(r.starts_with("detail.commit:"), "{r}");
}

#[test]
fn a_missing_commit_is_refused() {
    let r = reason(&without(event("started"), "commit"));
    assert!(r.starts_with("detail:") && r.contains("commit"), "{r}");
}

#[test]
fn a_url_that_is_not_http_is_refused() {
    let r = reason(&with(
        event("started"),
        "/detail/url",
        json!("file:///etc/passwd"),
    ));
    assert!(r.starts_with("detail.url:"), "{r}");
}

#[test]
fn a_url_with_credentials_is_refused() {
    let r = reason(&with(
        event("started"),
        "/detail/url",
        json!("https://user:pw@shop.example.com/"),
    ));
    assert!(r.starts_with("detail.url:") && !r.contains("pw@"), "{r}");
}

#[test]
fn a_version_with_spaces_is_refused() {
    let r = reason(&with(event("started"), "/detail/version", json!("1 2")));
    assert!(r.starts_with("detail.version:"), "{r}");
}

#[test]
fn a_report_from_a_wrong_clock_is_refused() {
    let r = reason(&with(
        event("started"),
        "/detail/reportedAt",
        json!("2026-11-27T12:00:00Z"),
    ));
    assert!(r.starts_with("detail.reportedAt:"), "{r}");
}

#[test]
fn a_diagnosis_on_a_success_is_refused() {
    let d = crate::diagnose::Diagnosis::log_unavailable("x");
    let r = reason(&with(
        event("succeeded"),
        "/detail/diagnosis",
        serde_json::to_value(d).unwrap(),
    ));
    assert!(r.starts_with("detail.diagnosis:"), "{r}");
}

#[test]
fn a_diagnosis_with_a_bad_category_is_refused() {
    let mut d = crate::diagnose::Diagnosis::log_unavailable("x");
    d.category = "<script>".into();
    let r = reason(&with(
        event("failed"),
        "/detail/diagnosis",
        serde_json::to_value(d).unwrap(),
    ));
    assert!(r.starts_with("detail.diagnosis:"), "{r}");
}

#[test]
fn a_diagnosis_of_a_category_the_catalogue_does_not_have_is_refused() {
    // Shaped like an id, but no rule of the catalogue's.
    let mut d = crate::diagnose::Diagnosis::log_unavailable("x");
    d.category = "database-was-hacked".into();
    let r = reason(&with(
        event("failed"),
        "/detail/diagnosis",
        serde_json::to_value(d).unwrap(),
    ));
    assert!(
        r.starts_with("detail.diagnosis:") && r.contains("catalogue"),
        "{r}"
    );
}

#[test]
fn a_sent_diagnosis_is_marked_as_the_reporters_and_its_transient_flag_is_the_catalogues() {
    let mut d = crate::diagnose::Diagnosis::log_unavailable("x");
    d.category = "node-heap-oom".into();
    d.transient = true;
    d.from_report = false;
    d.secondary = vec![
        Secondary {
            category: "made-up".into(),
            title: "t".into(),
            line: 1,
        },
        Secondary {
            category: "unknown".into(),
            title: "t".into(),
            line: 2,
        },
    ];
    let v = with(
        event("failed"),
        "/detail/diagnosis",
        serde_json::to_value(d).unwrap(),
    );
    let d = ReportEvent::parse(&v, received())
        .unwrap()
        .diagnosis
        .unwrap();
    assert!(d.from_report);
    let rule = crate::diagnose::catalogue::by_id("node-heap-oom").unwrap();
    assert_eq!(d.transient, rule.transient);
    assert!(!d.transient);
    let kept: Vec<_> = d.secondary.iter().map(|s| s.category.as_str()).collect();
    assert_eq!(kept, vec!["unknown"]);
}

#[test]
fn a_secret_in_a_bad_field_does_not_reach_the_error() {
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let r = reason(&with(event("started"), "/detail/commit", json!(token)));
    assert!(!r.contains(token), "{r}");
}

#[test]
fn a_sent_diagnosis_is_masked_and_cut_on_arrival() {
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let mut d = crate::diagnose::Diagnosis::log_unavailable("x");
    d.category = "node-heap-oom".into();
    d.evidence = (0..100)
        .map(|i| Evidence {
            line: i,
            text: format!("GITHUB_TOKEN={token} {}", "x".repeat(2000)),
        })
        .collect();
    let v = with(
        event("failed"),
        "/detail/diagnosis",
        serde_json::to_value(d).unwrap(),
    );
    let r = ReportEvent::parse(&v, received()).unwrap();
    let d = r.diagnosis.unwrap();
    assert_eq!(d.evidence.len(), budget::EVIDENCE_LINES);
    for e in &d.evidence {
        assert!(!e.text.contains(token), "{}", e.text);
        assert!(
            e.text.len() <= budget::EVIDENCE_LINE + 8,
            "{}",
            e.text.len()
        );
    }
}
