//! The build-event handler: the only function that reads Amplify's events
//! and the reports of deploys that report themselves (`sentinel report`,
//! source `sentinel.report.<service>`). It de-duplicates, enriches with `GetJob`
//! (Amplify only), records the transition and publishes the domain event
//! (`sentinel_shared::ingest`).
//!
//! It is invoked by the SQS event source of its queue (an SQS batch), and
//! also accepts a bare EventBridge event so that `cargo lambda invoke
//! --data-file events/<fixture>.json` works and a direct EventBridge target
//! remains possible.

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use sentinel_shared::core::error::Error;
use sentinel_shared::ingest;
use sentinel_shared::ingest::amplify_event::AmplifyStatusEvent;
use sentinel_shared::ingest::reaction::{Ingest, IngestOutcome, StackIngest};
use sentinel_shared::ingest::report_event::{self, ReportEvent};
use sentinel_shared::ingest::stack_event::{self, StackStatusEvent};
use sentinel_shared::lambda::runtime::{self, Clients};
use sentinel_shared::stack::Stack;
use serde_json::{Value, json};
use tracing::Instrument;

/// What the handler works with: the stack's clients.
pub struct Deps<K: Stack> {
    pub clients: Clients<K>,
}

/// Ingests one event given as JSON text, parsed once and told apart by
/// `source`: a report (`sentinel.report.<service>`), CloudFormation's for a
/// watched stack (`aws.cloudformation`) or, for any other source, an Amplify
/// event (whose parser names what is wrong with anything else). Received
/// now: see [`on_raw_received`].
pub async fn on_raw<K: Stack>(
    deps: &Deps<K>,
    request_id: &str,
    raw: &str,
) -> Result<IngestOutcome, Error> {
    on_raw_received(deps, request_id, raw, Utc::now()).await
}

/// [`on_raw`] of an event received at `received`, a time its sender cannot
/// set (a report's date is never later).
pub async fn on_raw_received<K: Stack>(
    deps: &Deps<K>,
    request_id: &str,
    raw: &str,
    received: DateTime<Utc>,
) -> Result<IngestOutcome, Error> {
    let value = ingest::parse_json(raw)?;
    let source = value.get("source").and_then(Value::as_str);
    if source == Some(stack_event::SOURCE) {
        return on_stack_event(deps, request_id, &value).await;
    }
    let c = &deps.clients;
    let ingest = Ingest::<K> {
        store: &c.store,
        amplify: &c.amplify,
        publisher: &c.publisher,
        environment: c.environment,
    };
    if source.is_some_and(report_event::is_report_source) {
        let report = ReportEvent::parse(&value, received)?;
        if let Some(sent) = report.clamped_from {
            tracing::warn!(request_id, event_id = %report.id, %sent, kept = %report.reported_at, "reportedAt later than the report's arrival: clamped");
        }
        let span = tracing::info_span!(
            "ingest_report",
            request_id,
            event_id = %report.id,
            app = %report.key.app_id,
            branch = %report.key.branch_name,
            job = %report.key.job_id,
            status = report.status.as_str(),
        );
        return ingest.ingest_report(&report).instrument(span).await;
    }
    let event = AmplifyStatusEvent::parse(&value)?;
    let span = tracing::info_span!(
        "ingest",
        request_id,
        event_id = %event.id,
        app = %event.app_id,
        branch = %event.branch_name,
        job = %event.job_id,
        status = %event.status,
    );
    ingest.ingest(&event).instrument(span).await
}

/// A watched stack's status change (`docs/stacks.md`); a stack the scope
/// does not name is skipped, like an app outside it.
async fn on_stack_event<K: Stack>(
    deps: &Deps<K>,
    request_id: &str,
    value: &Value,
) -> Result<IngestOutcome, Error> {
    let event = StackStatusEvent::parse(value)?;
    let c = &deps.clients;
    if !c.scope.covers_app(&event.app_id) {
        tracing::info!(request_id, stack = %event.stack_name, "stack outside the watch scope; skipped");
        return Ok(IngestOutcome::Skipped {
            why: "outside the watch scope".into(),
        });
    }
    let span = tracing::info_span!(
        "ingest",
        request_id,
        event_id = %event.id,
        app = %event.app_id,
        status = %event.status,
    );
    StackIngest::<K> {
        ingest: Ingest {
            store: &c.store,
            amplify: &c.amplify,
            publisher: &c.publisher,
            environment: c.environment,
        },
        cloudformation: &c.cloudformation,
    }
    .ingest_stack(&event)
    .instrument(span)
    .await
}

/// Entry point for the Lambda runtime.
pub async fn handle<K: Stack>(deps: &Deps<K>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    runtime::handle_received(
        event,
        &deps.clients,
        async |request_id: &str, raw: String, received| {
            let outcome = on_raw_received(deps, request_id, &raw, received)
                .await
                .inspect_err(|e| {
                    if !e.is_retryable() {
                        tracing::error!(request_id, error = %e, "malformed event");
                    }
                })?;
            Ok(outcome_json(&outcome))
        },
    )
    .await
}

fn outcome_json(outcome: &IngestOutcome) -> Value {
    match outcome {
        IngestOutcome::Recorded {
            status,
            status_changed,
            published,
        } => json!({
            "outcome": "recorded",
            "status": status.as_str(),
            "statusChanged": status_changed,
            "published": published,
        }),
        IngestOutcome::Duplicate { published } => json!({
            "outcome": "duplicate",
            "published": published,
        }),
        IngestOutcome::Skipped { why } => json!({"outcome": "skipped", "why": why}),
    }
}

#[cfg(test)]
mod stack_tests;
#[cfg(test)]
mod tests;
