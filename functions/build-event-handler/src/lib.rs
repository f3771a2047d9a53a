//! The build-event handler: the only function that reads Amplify's events.
//! It de-duplicates, enriches with `GetJob`, records the transition and
//! publishes the domain event (`sentinel_shared::ingest`).
//!
//! It is invoked by the SQS event source of its queue (an SQS batch), and
//! also accepts a bare EventBridge event so that `cargo lambda invoke
//! --data-file events/<fixture>.json` works and a direct EventBridge target
//! remains possible.

use lambda_runtime::LambdaEvent;
use sentinel_shared::core::error::Error;
use sentinel_shared::ingest::amplify_event::AmplifyStatusEvent;
use sentinel_shared::ingest::reaction::{Ingest, IngestOutcome, StackIngest};
use sentinel_shared::ingest::stack_event::{self, StackStatusEvent};
use sentinel_shared::lambda::runtime::{self, Clients};
use sentinel_shared::ports::Stack;
use serde_json::{Value, json};
use tracing::Instrument;

/// What the handler works with: the stack's clients.
pub struct Deps<K: Stack> {
    pub clients: Clients<K>,
}

/// Ingests one event given as JSON text: Amplify's, or CloudFormation's
/// for a watched stack (told apart by `source`; anything else is parsed as
/// Amplify's and named malformed).
pub async fn on_raw<K: Stack>(
    deps: &Deps<K>,
    request_id: &str,
    raw: &str,
) -> Result<IngestOutcome, Error> {
    if is_cloudformation(raw) {
        return on_stack_event(deps, request_id, raw).await;
    }
    let event = AmplifyStatusEvent::parse_str(raw)?;
    let span = tracing::info_span!(
        "ingest",
        request_id,
        event_id = %event.id,
        app = %event.app_id,
        branch = %event.branch_name,
        job = %event.job_id,
        status = %event.status,
    );
    let c = &deps.clients;
    Ingest::<K> {
        store: &c.store,
        amplify: &c.amplify,
        publisher: &c.publisher,
        environment: c.environment,
    }
    .ingest(&event)
    .instrument(span)
    .await
}

fn is_cloudformation(raw: &str) -> bool {
    serde_json::from_str::<Value>(raw)
        .ok()
        .is_some_and(|v| v.get("source").and_then(Value::as_str) == Some(stack_event::SOURCE))
}

/// A watched stack's status change (`docs/stacks.md`); a stack the scope
/// does not name is skipped, like an app outside it.
async fn on_stack_event<K: Stack>(
    deps: &Deps<K>,
    request_id: &str,
    raw: &str,
) -> Result<IngestOutcome, Error> {
    let event = StackStatusEvent::parse_str(raw)?;
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
    runtime::handle(
        event,
        &deps.clients,
        async |request_id: &str, raw: String| {
            let outcome = on_raw(deps, request_id, &raw).await.inspect_err(|e| {
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
