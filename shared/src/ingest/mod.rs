//! Ingest: Amplify's status events ([`amplify_event`], the parser) and the
//! reports of deploys that report themselves ([`report_event`]) become
//! recorded transitions and domain events ([`reaction`]).

pub mod amplify_event;
mod envelope;
pub mod reaction;
pub mod report_conflict;
pub mod report_event;
pub mod stack_event;
#[cfg(test)]
mod stack_guards_tests;
pub mod stack_operation;

/// An incoming event's body as JSON, within EventBridge's size: parsed once
/// by the build-event handler, which reads its `source` and hands the value
/// to the parser it names (each has a `parse(&Value)`). Not JSON, or too
/// large, is a [`MalformedEvent`](crate::core::error::MalformedEvent).
pub fn parse_json(raw: &str) -> Result<serde_json::Value, crate::core::error::MalformedEvent> {
    envelope::json(raw)
}
