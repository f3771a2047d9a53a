//! The EventBridge envelope of an event from outside the stack (Amplify's,
//! CloudFormation's), parsed strictly in one place: its size, JSON, `id`,
//! `source`, `detail-type`, `time` and `detail`. Each malformation is a
//! [`MalformedEvent`] naming the field, so that the delivery goes to the
//! dead-letter queue at once with its reason.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::core::error::MalformedEvent;
use crate::core::model::preview;

/// EventBridge's own limit on an event.
pub(crate) const MAX_EVENT_BYTES: usize = 256 * 1024;
const MAX_ID_LEN: usize = 128;

/// What every event shares, once checked.
pub(crate) struct Envelope<'a> {
    pub id: String,
    pub time: DateTime<Utc>,
    pub detail: &'a Map<String, Value>,
}

/// Raw bytes (an SQS body, a file) as JSON, within EventBridge's size.
pub(crate) fn json(raw: &str) -> Result<Value, MalformedEvent> {
    if raw.len() > MAX_EVENT_BYTES {
        return Err(malformed(
            "<unknown>",
            format!(
                "event is {} bytes; EventBridge events are at most {MAX_EVENT_BYTES}",
                raw.len()
            ),
        ));
    }
    serde_json::from_str(raw).map_err(|e| {
        malformed(
            "<unknown>",
            format!("not JSON: {e} (body starts {})", preview(raw)),
        )
    })
}

/// The envelope of an event that must come from `source` with
/// `detail_type`.
pub(crate) fn open<'a>(
    value: &'a Value,
    source: &str,
    detail_type: &str,
) -> Result<Envelope<'a>, MalformedEvent> {
    let obj = value.as_object().ok_or_else(|| {
        malformed(
            "<unknown>",
            format!("expected a JSON object, got {}", kind(value)),
        )
    })?;
    let id = match obj.get("id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID_LEN => s.clone(),
        Some(Value::String(s)) => {
            return Err(malformed(
                "<unknown>",
                format!("id must be 1-{MAX_ID_LEN} characters, got {}", s.len()),
            ));
        }
        Some(other) => {
            return Err(malformed(
                "<unknown>",
                format!("id must be a string, got {}", kind(other)),
            ));
        }
        None => return Err(malformed("<unknown>", "id is missing")),
    };
    let got = string_field(obj, "source", &id)?;
    if got != source {
        return Err(malformed(
            &id,
            format!("source is {}, expected {source:?}", preview(got)),
        ));
    }
    let got = string_field(obj, "detail-type", &id)?;
    if got != detail_type {
        return Err(malformed(
            &id,
            format!("detail-type is {}, expected {detail_type:?}", preview(got)),
        ));
    }
    let time = string_field(obj, "time", &id)?;
    let time = DateTime::parse_from_rfc3339(time)
        .map_err(|e| malformed(&id, format!("time {} is not RFC 3339: {e}", preview(time))))?
        .with_timezone(&Utc);
    let detail = object_field(obj, "detail", &id, "")?;
    Ok(Envelope { id, time, detail })
}

pub(crate) fn string_field<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    id: &str,
) -> Result<&'a str, MalformedEvent> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(malformed(
            id,
            format!("{name} must be a string, got {}", kind(other)),
        )),
        None => Err(malformed(id, format!("{name} is missing"))),
    }
}

/// An object field; `path` prefixes its name in the error (`detail.`).
pub(crate) fn object_field<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    id: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, MalformedEvent> {
    match obj.get(name) {
        Some(Value::Object(d)) => Ok(d),
        Some(other) => Err(malformed(
            id,
            format!("{path}{name} must be an object, got {}", kind(other)),
        )),
        None => Err(malformed(id, format!("{path}{name} is missing"))),
    }
}

pub(crate) fn malformed(event_id: &str, reason: impl AsRef<str>) -> MalformedEvent {
    MalformedEvent::new(event_id, reason)
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
