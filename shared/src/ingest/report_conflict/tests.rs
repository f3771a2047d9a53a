use serde_json::json;

use super::*;
use crate::core::deployment::Deployment;
use crate::core::model::Environment;
use crate::ingest::reaction::merge_report;

fn report(status: &str, commit: &str, url: Option<&str>) -> ReportEvent {
    let mut detail = json!({
        "schema": 1, "service": "shop-api", "environment": "prod",
        "deployId": "42", "status": status, "commit": commit,
        "reportedAt": "2026-11-27T10:00:00Z"
    });
    if let Some(url) = url {
        detail["url"] = json!(url);
    }
    let event = json!({
        "id": "eb-1", "source": "sentinel.report.shop-api",
        "detail-type": "Deployment Reported", "time": "2026-11-27T10:00:00Z",
        "detail": detail
    });
    ReportEvent::parse(&event, "2026-11-27T10:00:01Z".parse().unwrap()).unwrap()
}

/// The record after `reports`, each merged and applied as ingest does.
fn after(reports: &[&ReportEvent]) -> Deployment {
    let mut d = Deployment::new(reports[0].key.clone(), Environment::Prod);
    for r in reports {
        if let Some(c) = detect(&d, r) {
            c.record(&mut d);
        }
        merge_report(&mut d, r);
        d.apply(r.observation());
    }
    d
}

const A: &str = "aaaaaaa";
const B: &str = "bbbbbbb";

#[test]
fn the_same_report_again_or_a_start_conflicts_with_nothing() {
    let ok = report("succeeded", A, Some("https://shop.example.com/"));
    let d = after(&[&ok]);
    assert_eq!(detect(&d, &ok), None);
    assert_eq!(detect(&d, &report("started", B, None)), None);
    // A terminal report without a URL leaves the first one's.
    assert_eq!(detect(&d, &report("succeeded", A, None)), None);
}

#[test]
fn failed_after_succeeded_is_a_conflict_naming_both() {
    let d = after(&[&report("succeeded", A, Some("https://shop.example.com/"))]);
    let c = detect(&d, &report("failed", B, None)).unwrap().event;
    assert_eq!(
        c.recorded,
        "succeeded, commit aaaaaaa, URL https://shop.example.com/"
    );
    assert_eq!(c.reported, "failed, commit bbbbbbb");
    assert!(c.kept.contains("latest reportedAt"), "{}", c.kept);
}

#[test]
fn the_same_status_with_another_url_is_a_conflict_and_is_queued_once() {
    let first = report("succeeded", A, Some("https://shop.example.com/"));
    let other = report("succeeded", A, Some("https://evil.example.net/"));
    let mut d = after(&[&first]);
    let c = detect(&d, &other).unwrap();
    assert!(c.event.reported.contains("evil.example.net"), "{c:?}");
    assert!(c.record(&mut d));
    // Delivered again: the same id, nothing more queued.
    let again = detect(&d, &other).unwrap();
    assert_eq!(again.event.event_id, c.event.event_id);
    assert!(!again.record(&mut d));
    let queued: Vec<_> = d
        .outbox
        .values()
        .filter(|e| e.detail_type == "Report Conflict")
        .collect();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].owner, "ingest");
}

#[test]
fn once_both_statuses_are_recorded_a_redelivery_is_no_new_conflict() {
    let ok = report("succeeded", A, None);
    let failed = report("failed", B, None);
    let d = after(&[&ok, &failed]);
    assert_eq!(detect(&d, &ok), None);
    assert_eq!(detect(&d, &failed), None);
    let conflicts = d
        .outbox
        .values()
        .filter(|e| e.detail_type == "Report Conflict")
        .count();
    assert_eq!(conflicts, 1);
}
