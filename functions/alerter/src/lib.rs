//! The alerter function: takes the stack's domain events from its queue
//! (build failed or succeeded, validation failed, deployment healthy or
//! unhealthy, rollbacks, degradation), diagnoses failed builds, and alerts
//! through SNS once per incident (`sentinel_shared::alert::reaction`).

use lambda_runtime::LambdaEvent;
use sentinel_shared::alert::reaction::{AlertOutcome, Alerter};
use sentinel_shared::core::error::Error;
use sentinel_shared::lambda::runtime::{self, Ports};
use sentinel_shared::ports::{
    AlertStore, AmplifyApi, DeadLetterSink, DeploymentStore, EventPublisher, LogSource, Notifier,
    PolicyStore,
};
use serde_json::{Value, json};
use std::future::Future;
use tracing::Instrument;

/// The shared ports, plus where alerts go and how logs are read.
pub struct Deps<S, A, P, D, N, L> {
    pub ports: Ports<S, A, P, D>,
    pub notifier: N,
    pub logs: L,
    /// For links to the Amplify console.
    pub region: String,
}

/// The alerter as a method of the function's ports.
pub trait AlertExt {
    /// Handles one domain event given as JSON text.
    fn on_raw(
        &self,
        request_id: &str,
        raw: &str,
    ) -> impl Future<Output = Result<AlertOutcome, Error>>;
}

impl<S, A, P, D, N, L> AlertExt for Deps<S, A, P, D, N, L>
where
    S: DeploymentStore + PolicyStore + AlertStore,
    A: AmplifyApi,
    P: EventPublisher,
    D: DeadLetterSink,
    N: Notifier,
    L: LogSource,
{
    async fn on_raw(&self, request_id: &str, raw: &str) -> Result<AlertOutcome, Error> {
        let alerter = Alerter {
            store: &self.ports.store,
            amplify: &self.ports.amplify,
            publisher: &self.ports.publisher,
            notifier: &self.notifier,
            logs: &self.logs,
            region: &self.region,
            site_url_template: self.ports.site_url_template.as_deref(),
        };
        let span = tracing::info_span!("alert", request_id);
        alerter.on_raw(raw).instrument(span).await
    }
}

pub async fn handle<S, A, P, D, N, L>(
    deps: &Deps<S, A, P, D, N, L>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    S: DeploymentStore + PolicyStore + AlertStore,
    A: AmplifyApi,
    P: EventPublisher,
    D: DeadLetterSink,
    N: Notifier,
    L: LogSource,
{
    runtime::handle(
        event,
        deps.ports.dead_letter.as_ref(),
        async |request_id: &str, raw: String| {
            let o = deps.on_raw(request_id, &raw).await?;
            Ok(json!({"decision": o.decision, "sent": o.sent, "category": o.category}))
        },
    )
    .await
}
