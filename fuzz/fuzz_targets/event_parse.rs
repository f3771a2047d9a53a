//! Amplify's "Amplify Deployment Status Change" event (the strict parse of an
//! SQS body / file) and the stack's own domain-event envelope.
//!
//! Beyond "no panic":
//! - an accepted Amplify event is well-formed (id 1-128 bytes, status in
//!   Amplify's alphabet) and round-trips: re-serialised as an EventBridge
//!   envelope it parses to the same value;
//! - a rejection names the event (`<unknown>` or its id) and gives a reason;
//! - `parse_str` and `parse(&Value)` agree on any JSON;
//! - an accepted domain envelope has the expected source and detail-type.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sentinel_shared::core::error::MalformedEvent;
use sentinel_shared::core::events::{self, BuildEvent, Envelope, detail_type};
use sentinel_shared::ingest::amplify_event::{AmplifyStatusEvent, DETAIL_TYPE, SOURCE};
use serde_json::{Value, json};

const BUILD_TYPES: &[&str] = &[
    detail_type::BUILD_STARTED,
    detail_type::BUILD_SUCCEEDED,
    detail_type::BUILD_FAILED,
    detail_type::BUILD_CANCELLED,
];

fn check_rejection(e: &MalformedEvent) {
    assert!(
        !e.event_id.is_empty(),
        "rejection without an event id: {e:?}"
    );
    assert!(
        !e.reason.trim().is_empty(),
        "rejection without a reason: {e:?}"
    );
    assert!(
        e.to_string().starts_with("malformed event "),
        "unexpected Display: {e}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };

    // Amplify's event.
    match AmplifyStatusEvent::parse_str(raw) {
        Ok(event) => {
            assert!(!event.id.is_empty() && event.id.len() <= 128);
            let status = event.status.as_str();
            assert!(
                !status.is_empty()
                    && status
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "accepted status {status:?}"
            );
            assert_eq!(event.key().job_id, event.job_id);
            assert_eq!(event.observation().event_id, event.id);

            let mut detail = json!({
                "appId": event.app_id.as_str(),
                "branchName": event.branch_name.as_str(),
                "jobId": event.job_id.to_string(),
                "jobStatus": status,
            });
            if let Some(step) = &event.job_step {
                detail["jobStep"] = Value::String(step.clone());
            }
            let again = json!({
                "version": "0",
                "id": event.id,
                "source": SOURCE,
                "detail-type": DETAIL_TYPE,
                "time": event.time.to_rfc3339(),
                "detail": detail,
            });
            // RFC 3339 has four-digit years only: a time that a non-UTC offset
            // pushed out of 0000-9999 cannot be written back (reported, not a
            // library panic).
            if (0..=9999).contains(&chrono::Datelike::year(&event.time)) {
                let reparsed = AmplifyStatusEvent::parse(&again)
                    .unwrap_or_else(|e| panic!("accepted event does not round-trip: {e}\n{again}"));
                assert_eq!(reparsed, event, "round-trip changed the event");
            }
        }
        Err(e) => check_rejection(&e),
    }

    // parse_str and parse(&Value) agree on JSON within EventBridge's limit.
    if raw.len() <= 256 * 1024 {
        if let Ok(value) = serde_json::from_str::<Value>(raw) {
            assert_eq!(
                AmplifyStatusEvent::parse_str(raw),
                AmplifyStatusEvent::parse(&value),
                "parse_str and parse disagree"
            );
        }
    }

    // The stack's own envelope (what validator and health-checker read).
    match Envelope::parse(raw, BUILD_TYPES).and_then(|e| e.detail::<BuildEvent>().map(|b| (e, b))) {
        Ok((envelope, build)) => {
            assert_eq!(envelope.source, events::SOURCE);
            assert!(BUILD_TYPES.contains(&envelope.detail_type.as_str()));
            let value = serde_json::to_value(&build).expect("a BuildEvent serialises");
            if let Ok(back) = serde_json::from_value::<BuildEvent>(value) {
                assert_eq!(back, build, "BuildEvent JSON round-trip changed it");
            }
        }
        Err(e) => {
            assert!(!e.event_id.is_empty());
            assert!(!e.reason.trim().is_empty());
        }
    }
});
