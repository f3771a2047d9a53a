//! The validator function: on "Build Started" (from its queue), validates the
//! app's and branch's configuration, records the report, publishes the
//! verdict and stops a build that cannot succeed (`sentinel_shared::validate::reaction`).

use lambda_runtime::LambdaEvent;
use sentinel_shared::core::error::Error;
use sentinel_shared::core::events::{BuildEvent, Envelope, detail_type};
use sentinel_shared::lambda::runtime::{self, Ports};
use sentinel_shared::ports::{
    AmplifyApi, DeadLetterSink, DeploymentStore, EventPublisher, PolicyStore,
};
use sentinel_shared::validate::reaction::{ValidationOutcome, Validator};
use serde_json::{Value, json};
use std::future::Future;
use tracing::Instrument;

pub type Deps<S, A, P, D> = Ports<S, A, P, D>;

/// The validator as a method of the function's ports.
pub trait ValidateExt {
    /// Handles one "Build Started" envelope given as JSON text.
    fn on_raw(
        &self,
        request_id: &str,
        raw: &str,
    ) -> impl Future<Output = Result<ValidationOutcome, Error>>;
}

impl<S, A, P, D> ValidateExt for Deps<S, A, P, D>
where
    S: DeploymentStore + PolicyStore,
    A: AmplifyApi,
    P: EventPublisher,
    D: DeadLetterSink,
{
    async fn on_raw(&self, request_id: &str, raw: &str) -> Result<ValidationOutcome, Error> {
        let (envelope, event): (Envelope, BuildEvent) =
            Envelope::parse(raw, &[detail_type::BUILD_STARTED])?;
        let span = tracing::info_span!(
            "validate",
            request_id,
            event_id = %envelope.id,
            app = %event.app_id,
            branch = %event.branch_name,
            job = %event.job_id,
        );
        Validator {
            store: &self.store,
            amplify: &self.amplify,
            publisher: &self.publisher,
            environment: self.environment,
        }
        .on_build_started(&event)
        .instrument(span)
        .await
    }
}

pub async fn handle<S, A, P, D>(
    deps: &Deps<S, A, P, D>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    S: DeploymentStore + PolicyStore,
    A: AmplifyApi,
    P: EventPublisher,
    D: DeadLetterSink,
{
    runtime::handle(
        event,
        deps.dead_letter.as_ref(),
        async |request_id: &str, raw: String| {
            let outcome = deps.on_raw(request_id, &raw).await?;
            Ok(json!({
                "passed": outcome.passed,
                "stopped": outcome.stopped,
                "published": outcome.published,
            }))
        },
    )
    .await
}
