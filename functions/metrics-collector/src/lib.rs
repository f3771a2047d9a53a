//! The metrics collector function: domain events from its queue become
//! Embedded Metric Format lines on standard output (CloudWatch Logs turns
//! them into metrics); the hourly schedule computes the delivery figures,
//! stores the snapshots and publishes early warnings
//! (`sentinel_shared::metrics::reaction`).

use std::io::Write;

use lambda_runtime::LambdaEvent;
use sentinel_shared::core::error::Error;
use sentinel_shared::lambda::runtime::{self, Clients, Delivery};
use sentinel_shared::metrics::event_metrics::EventMetrics;
use sentinel_shared::metrics::reaction::{ACCEPTED, Collector};
use sentinel_shared::stack::Stack;
use serde_json::{Value, json};
use tracing::Instrument;

/// The stack's clients, plus the CloudWatch namespace and the metrics'
/// dimensions.
pub struct Deps<K: Stack> {
    pub clients: Clients<K>,
    pub namespace: String,
    pub dimensions: EventMetrics,
}

/// Writes EMF lines to standard output, one per line, as the
/// specification asks (a line is one JSON object).
fn emit(lines: &[String]) {
    let mut out = std::io::stdout().lock();
    for line in lines {
        // A closed stdout cannot be reported anywhere better; the figures
        // are stored anyway.
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
}

pub async fn on_raw<K: Stack>(deps: &Deps<K>, request_id: &str, raw: &str) -> Result<Value, Error> {
    let collector = Collector::<K> {
        store: &deps.clients.store,
        amplify: &deps.clients.amplify,
        publisher: &deps.clients.publisher,
        namespace: &deps.namespace,
        environment: deps.clients.environment,
        dimensions: deps.dimensions,
    };
    let envelope = match Delivery::parse(raw, ACCEPTED)? {
        Delivery::Event(envelope) => envelope,
        Delivery::Scheduled(at) => return on_schedule(&collector, request_id, at).await,
    };
    let span = tracing::info_span!("metrics-event", request_id, event_id = %envelope.id);
    let outcome = collector
        .on_event(&envelope, chrono::Utc::now())
        .instrument(span)
        .await?;
    emit(&outcome.lines);
    Ok(json!({"lines": outcome.lines.len(), "duplicate": outcome.duplicate}))
}

/// The hourly run: the delivery figures, snapshots and early warnings.
async fn on_schedule<K: Stack>(
    collector: &Collector<'_, K>,
    request_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Value, Error> {
    let span = tracing::info_span!("metrics-run", request_id, %at);
    let run = collector.on_schedule(at).instrument(span).await?;
    emit(&run.lines);
    let figures: Vec<Value> = run
        .figures
        .iter()
        .map(|f| {
            json!({
                "windowDays": f.window_days,
                "builds": f.builds,
                "deployments": f.deployments,
                "tiers": f.tiers,
            })
        })
        .collect();
    Ok(json!({
        "itemsRead": run.items_read,
        "dailyMetrics": run.daily_metrics,
        "figures": figures,
        "warningsPublished": run.warnings_published.iter().map(|w| w.condition).collect::<Vec<_>>(),
        "warningsKnown": run.warnings_known,
    }))
}

pub async fn handle<K: Stack>(deps: &Deps<K>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    runtime::handle(
        event,
        &deps.clients,
        async |request_id: &str, raw: String| on_raw(deps, request_id, &raw).await,
    )
    .await
}
