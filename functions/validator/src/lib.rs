//! The validator function: on "Build Started" (from its queue), validates the
//! app's and branch's configuration, records the report, publishes the
//! verdict and stops a build that cannot succeed (`sentinel_shared::validator`).

use lambda_runtime::LambdaEvent;
use sentinel_shared::config::Config;
use sentinel_shared::error::Error;
use sentinel_shared::events::{BuildEvent, Envelope, detail_type};
use sentinel_shared::model::Environment;
use sentinel_shared::ports::{
    AmplifyApi, DeadLetterSink, DeploymentStore, EventPublisher, PolicyStore,
};
use sentinel_shared::runtime::{self, AwsPorts};
use sentinel_shared::validator::{ValidationOutcome, Validator};
use serde_json::{Value, json};
use tracing::Instrument;

pub struct Deps<S, A, P, D> {
    pub store: S,
    pub amplify: A,
    pub publisher: P,
    pub dead_letter: Option<D>,
    pub environment: Environment,
}

pub async fn from_config(
    config: &Config,
) -> Deps<
    sentinel_shared::adapters::dynamodb::DynamoStore,
    sentinel_shared::adapters::amplify::AmplifyClient,
    sentinel_shared::adapters::eventbridge::EventBridgePublisher,
    sentinel_shared::adapters::sqs::SqsDeadLetter,
> {
    let ports = AwsPorts::from_config(config).await;
    Deps {
        store: ports.store,
        amplify: ports.amplify,
        publisher: ports.publisher,
        dead_letter: ports.dead_letter,
        environment: config.environment,
    }
}

impl<S, A, P, D> Deps<S, A, P, D>
where
    S: DeploymentStore + PolicyStore,
    A: AmplifyApi,
    P: EventPublisher,
    D: DeadLetterSink,
{
    /// Handles one "Build Started" envelope given as JSON text.
    pub async fn on_raw(&self, request_id: &str, raw: &str) -> Result<ValidationOutcome, Error> {
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
    let request_id = event.context.request_id.clone();
    runtime::dispatch(event.payload, deps.dead_letter.as_ref(), |raw| {
        let request_id = request_id.clone();
        async move {
            let outcome = deps.on_raw(&request_id, &raw).await?;
            Ok(json!({
                "passed": outcome.passed,
                "stopped": outcome.stopped,
                "published": outcome.published,
            }))
        }
    })
    .await
}
