//! Malformed input, generated: at least 500 broken Amplify events, domain
//! events, policies and build logs. Nothing panics; every event and policy
//! is refused with an error that names what is wrong; every log gets a
//! diagnosis. (The reliability issue's "malformed input" item; proptest
//! shrinks any failure to its smallest input.)

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sentinel_shared::core::events::{BuildEvent, Envelope, HealthEvent};
use sentinel_shared::diagnose::diagnose_bytes;
use sentinel_shared::ingest::amplify_event::AmplifyStatusEvent;
use sentinel_shared::policy::BranchPolicy;
use serde_json::{Value, json};

const CASES: u32 = 200;

fn valid_event() -> Value {
    json!({
        "version": "0", "id": "1c0a4f3e-7b1d-4c55-9e1a-0d6f3a2b4c02",
        "detail-type": "Amplify Deployment Status Change", "source": "aws.amplify",
        "account": "123456789012", "time": "2026-11-22T10:04:41Z", "region": "us-east-1",
        "resources": [],
        "detail": {"appId": "dsentinel0001", "branchName": "main", "jobId": "4", "jobStatus": "SUCCEED"}
    })
}

/// A value of the wrong kind for any field of the event.
fn wrong_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!([])),
        Just(json!({})),
        Just(json!("")),
        "[A-Z !#%&*]{1,12}".prop_map(Value::String),
        Just(Value::String("x".repeat(5000))),
    ]
}

/// Where a broken value goes, with the name the error must mention.
const FIELDS: &[(&str, &str)] = &[
    ("/id", "id"),
    ("/source", "source"),
    ("/detail-type", "detail-type"),
    ("/time", "time"),
    ("/detail", "detail"),
    ("/detail/appId", "appId"),
    ("/detail/branchName", "branchName"),
    ("/detail/jobId", "jobId"),
];

fn set(v: &mut Value, pointer: &str, new: Value) {
    if let Some(slot) = v.pointer_mut(pointer) {
        *slot = new;
    }
}

#[test]
fn broken_amplify_events_are_refused_naming_the_field() {
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    runner
        .run(
            &(0..FIELDS.len(), wrong_value(), any::<bool>()),
            |(field, value, remove)| {
                let (pointer, name) = FIELDS[field];
                let mut event = valid_event();
                if remove {
                    let (parent, key) = pointer.rsplit_once('/').unwrap();
                    let parent = if parent.is_empty() { "" } else { parent };
                    if let Some(obj) = event.pointer_mut(parent).and_then(Value::as_object_mut) {
                        obj.remove(key);
                    }
                } else {
                    set(&mut event, pointer, value.clone());
                }
                match AmplifyStatusEvent::parse_str(&event.to_string()) {
                    // Some values stay valid (an id of capitals, a branch
                    // name of letters): then the field was not broken.
                    Ok(parsed) => {
                        prop_assert!(!remove, "{pointer} removed and still parsed");
                        prop_assert!(
                            value.is_string(),
                            "{pointer} = {value} accepted as {parsed:?}"
                        );
                    }
                    Err(e) => {
                        let text = e.to_string();
                        prop_assert!(
                            text.contains(name)
                                || (pointer == "/detail-type" && text.contains("source")),
                            "{pointer}: {text:?} does not name {name}"
                        );
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn bytes_that_are_not_an_event_are_refused() {
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..400), |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            if let Err(e) = AmplifyStatusEvent::parse_str(&text) {
                prop_assert!(!e.reason.is_empty());
            }
            // Truncations of a valid event.
            let full = valid_event().to_string();
            let cut = bytes.len() % full.len();
            let err = AmplifyStatusEvent::parse_str(&full[..cut]).unwrap_err();
            prop_assert!(
                err.reason.contains("JSON")
                    || err.reason.contains("json")
                    || err.reason.contains("expected"),
                "{}",
                err.reason
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn broken_domain_events_are_refused_naming_the_detail() {
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    runner
        .run(
            &(
                prop_oneof![Just("Build Succeeded"), Just("Deployment Unhealthy")],
                prop_oneof![
                    Just("jobId"),
                    Just("appId"),
                    Just("branchName"),
                    Just("eventId"),
                    Just("environment")
                ],
                wrong_value(),
            ),
            |(kind, field, value)| {
                let mut detail = json!({
                    "eventId": "e", "environment": "prod", "appId": "d1abc", "branchName": "main",
                    "jobId": "4", "status": "SUCCEED", "commitId": null, "commitMessage": null,
                    "commitTime": null, "jobType": null, "startTime": null, "endTime": null,
                    "durationSeconds": null, "isRollback": false, "rollbackOf": null,
                    "verdict": "unhealthy", "reason": "r", "url": "u", "endpoints": [],
                });
                detail[field] = value.clone();
                let raw =
                    json!({"id": "x", "source": "sentinel", "detail-type": kind, "detail": detail})
                        .to_string();
                let result = if kind == "Build Succeeded" {
                    Envelope::parse(&raw, &[kind])
                        .and_then(|e| e.detail::<BuildEvent>())
                        .map(|_| ())
                } else {
                    Envelope::parse(&raw, &[kind])
                        .and_then(|e| e.detail::<HealthEvent>())
                        .map(|_| ())
                };
                if let Err(e) = result {
                    prop_assert!(e.reason.contains(" detail: "), "{}", e.reason);
                } else {
                    prop_assert!(
                        value.is_string() && matches!(field, "eventId" | "branchName"),
                        "{field} = {value} accepted"
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn broken_policies_are_refused_with_their_place() {
    let fields = [
        "required",
        "optional",
        "secret_names",
        "severity",
        "stop_on_error",
        "health",
        "alerts",
        "rollback",
        "version",
        "stop_on_eror",
        "requird",
    ];
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    runner
        .run(
            &(
                0..fields.len(),
                prop_oneof![
                    Just("12".to_owned()),
                    Just("[1, 2]".to_owned()),
                    Just("{a: {b: [}".to_owned()),
                    Just("\"text\"".to_owned()),
                    Just("- a\n- b".to_owned()),
                    Just("{healthy_after: -1}".to_owned()),
                    "[\\t :{}\\[\\]]{1,8}",
                ],
                0..3usize,
            ),
            |(field, value, indent)| {
                let text = format!(
                    "version: 1\n{}{}: {value}\n",
                    " ".repeat(indent),
                    fields[field]
                );
                if let Err(e) = BranchPolicy::parse(&text, "policy.yaml") {
                    let shown = e.to_string();
                    prop_assert!(shown.starts_with("policy.yaml:"), "{shown}");
                    prop_assert!(e.line >= 1 && !e.reason.is_empty(), "{shown}");
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn any_log_gets_a_diagnosis_without_panicking() {
    let line = prop_oneof![
        Just(b"2023-07-28T05:58:08.810Z [ERROR]: !!! Build failed\n".to_vec()),
        Just(b"\x1b[31mnpm ERR! code ERESOLVE\x1b[0m\r\n".to_vec()),
        Just(
            b"FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n"
                .to_vec()
        ),
        Just(b"# Starting phase: build\n".to_vec()),
        Just(vec![0xff, 0xfe, 0x00, b'\n']),
        Just(vec![b'x'; 70_000]),
        proptest::collection::vec(any::<u8>(), 0..200),
    ];
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    runner
        .run(&proptest::collection::vec(line, 0..30), |lines| {
            let log: Vec<u8> = lines.concat();
            let d = diagnose_bytes(&log);
            prop_assert!(!d.category.is_empty());
            prop_assert!(!d.fix.is_empty());
            Ok(())
        })
        .unwrap();
}
