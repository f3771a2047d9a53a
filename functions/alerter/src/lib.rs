//! The alerter function: takes the stack's domain events from its queue
//! (build failed or succeeded, validation failed, deployment healthy or
//! unhealthy, rollbacks, degradation), diagnoses failed builds, and alerts
//! through SNS once per incident (`sentinel_shared::alert`).

use lambda_runtime::LambdaEvent;
use sentinel_shared::alert::reaction::{ACCEPTED, AlertOutcome, Alerter};
use sentinel_shared::core::error::Error;
use sentinel_shared::core::events::Envelope;
use sentinel_shared::lambda::runtime::{self, Clients};
use sentinel_shared::ports::Stack;
use serde_json::{Value, json};
use tracing::Instrument;

/// The stack's clients, plus where alerts go and how logs are read.
pub struct Deps<K: Stack> {
    pub clients: Clients<K>,
    pub notifier: K::Notifier,
    pub logs: K::Logs,
    /// For links to the Amplify console.
    pub region: String,
}

/// Handles one domain event given as JSON text.
pub async fn on_raw<K: Stack>(
    deps: &Deps<K>,
    request_id: &str,
    raw: &str,
) -> Result<AlertOutcome, Error> {
    let envelope = Envelope::parse(raw, ACCEPTED)?;
    let c = &deps.clients;
    let alerter = Alerter::<K> {
        store: &c.store,
        amplify: &c.amplify,
        cloudformation: &c.cloudformation,
        publisher: &c.publisher,
        notifier: &deps.notifier,
        logs: &deps.logs,
        region: &deps.region,
        site_url_template: c.site_url_template.as_deref(),
    };
    let span = tracing::info_span!("alert", request_id, event_id = %envelope.id);
    alerter.on_event(&envelope).instrument(span).await
}

pub async fn handle<K: Stack>(deps: &Deps<K>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    runtime::handle(
        event,
        &deps.clients,
        async |request_id: &str, raw: String| {
            let o = on_raw(deps, request_id, &raw).await?;
            Ok(json!({"decision": o.decision, "sent": o.sent, "category": o.category}))
        },
    )
    .await
}
