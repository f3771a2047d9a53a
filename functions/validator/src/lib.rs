//! The validator function: on "Build Started" (from its queue), validates the
//! app's and branch's configuration, records the report, publishes the
//! verdict and stops a build that cannot succeed (`sentinel_shared::validate`).

use lambda_runtime::LambdaEvent;
use sentinel_shared::core::error::Error;
use sentinel_shared::core::events::{BuildEvent, Envelope};
use sentinel_shared::lambda::runtime::{self, Clients};
use sentinel_shared::stack::Stack;
use sentinel_shared::validate::reaction::{ACCEPTED, ValidationOutcome, Validator};
use serde_json::{Value, json};
use tracing::Instrument;

/// What the validator works with: the stack's clients, the names of
/// Amplify's secrets (SSM) for required variables kept there, and GitHub
/// when the stack connects it (the monorepo filter's compare, the lead
/// time's first commit).
pub struct Deps<K: Stack> {
    pub clients: Clients<K>,
    pub secrets: K::Secrets,
    pub github: Option<K::GitHub>,
}

/// Handles one "Build Started" envelope given as JSON text.
pub async fn on_raw<K: Stack>(
    deps: &Deps<K>,
    request_id: &str,
    raw: &str,
) -> Result<ValidationOutcome, Error> {
    let envelope = Envelope::parse(raw, ACCEPTED)?;
    let event: BuildEvent = envelope.detail()?;
    let span = tracing::info_span!(
        "validate",
        request_id,
        event_id = %envelope.id,
        app = %event.app_id,
        branch = %event.branch_name,
        job = %event.job_id,
    );
    let c = &deps.clients;
    Validator::<K> {
        store: &c.store,
        amplify: &c.amplify,
        secrets: &deps.secrets,
        publisher: &c.publisher,
        github: deps.github.as_ref(),
        environment: c.environment,
        enforcement: c.enforcement,
    }
    .on_build_started(&event)
    .instrument(span)
    .await
}

pub async fn handle<K: Stack>(deps: &Deps<K>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    runtime::handle(
        event,
        &deps.clients,
        async |request_id: &str, raw: String| {
            let outcome = on_raw(deps, request_id, &raw).await?;
            Ok(json!({
                "passed": outcome.passed,
                "stopped": outcome.stopped,
                "wouldStop": outcome.would_stop,
                "published": outcome.published,
                "skipped": outcome.skipped,
                "wouldSkip": outcome.would_skip,
                "superseded": outcome.superseded.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }))
        },
    )
    .await
}
