//! `sentinel alert test`: sent once, marked as a test, touching no incident
//! and no metric.

use super::*;

#[tokio::test]
async fn a_test_alert_is_sent_once_marked_as_a_test_and_touches_no_incident() {
    let w = World::new();
    // An incident is open on the branch: the test neither joins nor resolves it.
    let failed = w.failed_job(1, Some(OOM_LOG)).await;
    w.deliver(&failed).await;
    let out = w.deliver(&alert_test_event("t1", "main")).await;
    assert_eq!((out.decision.as_str(), out.sent), ("notice", 1));
    let again = w.deliver(&alert_test_event("t1", "main")).await;
    assert_eq!(again.sent, 0, "a redelivery sends nothing");
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 2);
    let test = &sent[1];
    assert!(test.subject.contains("[test]"), "{}", test.subject);
    assert_eq!(test.attributes["category"], "test");
    assert_eq!(test.attributes["event"], "Alert Test");
    assert_eq!(test.attributes["severity"], "info");
    assert!(test.email.contains("sentinel alert test"), "{}", test.email);
    assert!(test.email.contains("ana"), "{}", test.email);
    let state = w.alert_state("main").await;
    assert_eq!(state.open.len(), 1, "the build's incident, still open");
    assert!(state.open.keys().all(|k| k.starts_with("build:")));
    // On a quiet branch, nothing is opened.
    w.deliver(&alert_test_event("t2", "quiet")).await;
    let quiet = w.alert_state("quiet").await;
    assert!(quiet.open.is_empty() && quiet.resolved.is_empty());
}

/// The resource `name`'s lines in template.yaml.
fn resource(name: &str) -> String {
    crate::template_text::resource(include_str!("../../../../../template.yaml"), name)
}

#[test]
fn the_test_alert_reaches_the_alerter_and_no_metric() {
    assert!(ACCEPTED.contains(&dt::ALERT_TEST));
    assert!(!crate::metrics::reaction::ACCEPTED.contains(&dt::ALERT_TEST));
    let alert_rule = resource("AlertRule");
    assert!(alert_rule.contains("- Alert Test"), "{alert_rule}");
    let metrics_rule = resource("MetricsRule");
    assert!(metrics_rule.contains("Build Succeeded"), "{metrics_rule}");
    assert!(!metrics_rule.contains("Alert Test"), "{metrics_rule}");
}
