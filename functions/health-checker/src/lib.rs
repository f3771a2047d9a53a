//! The health-checker function: on "Build Succeeded" (from its queue), checks
//! the deployed site, records the verdict, moves the branch's last known good
//! and publishes the verdict (`sentinel_shared::health::reaction`).

use lambda_runtime::LambdaEvent;
use sentinel_shared::core::error::Error;
use sentinel_shared::core::events::{BuildEvent, Envelope, detail_type};
use sentinel_shared::health::reaction::{
    CheckOutcome as DeployOutcome, HealthChecker, ScheduleOutcome,
};
use sentinel_shared::lambda::runtime::{self, Ports};
use sentinel_shared::ports::{
    AmplifyApi, DeadLetterSink, DeploymentStore, EventPublisher, PolicyStore,
};
use serde_json::{Value, json};
use std::future::Future;
use tracing::Instrument;

pub type Deps<S, A, P, D> = Ports<S, A, P, D>;

/// The health checker as a method of the function's ports.
pub trait CheckExt {
    /// Handles one "Build Succeeded" envelope given as JSON text.
    fn on_raw(
        &self,
        request_id: &str,
        raw: &str,
    ) -> impl Future<Output = Result<CheckOutcome, Error>>;
}

impl<S, A, P, D> CheckExt for Deps<S, A, P, D>
where
    S: DeploymentStore + PolicyStore,
    A: AmplifyApi,
    P: EventPublisher,
    D: DeadLetterSink,
{
    async fn on_raw(&self, request_id: &str, raw: &str) -> Result<CheckOutcome, Error> {
        let checker = HealthChecker {
            store: &self.store,
            amplify: &self.amplify,
            publisher: &self.publisher,
            site_url_template: self.site_url_template.as_deref(),
        };
        if runtime::scheduled_time(raw).is_some() {
            let span = tracing::info_span!("live-check", request_id);
            let outcome = checker
                .on_schedule(self.environment)
                .instrument(span)
                .await?;
            return Ok(CheckOutcome::Scheduled(outcome));
        }
        let (envelope, event): (Envelope, BuildEvent) =
            Envelope::parse(raw, &[detail_type::BUILD_SUCCEEDED])?;
        let span = tracing::info_span!(
            "health",
            request_id,
            event_id = %envelope.id,
            app = %event.app_id,
            branch = %event.branch_name,
            job = %event.job_id,
        );
        let outcome = checker.on_build_succeeded(&event).instrument(span).await?;
        Ok(CheckOutcome::Deploy(outcome))
    }
}

/// What one delivery led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    Deploy(DeployOutcome),
    Scheduled(ScheduleOutcome),
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
            Ok(match deps.on_raw(request_id, &raw).await? {
                CheckOutcome::Deploy(o) => json!({"verdict": o.verdict, "published": o.published}),
                CheckOutcome::Scheduled(o) => {
                    json!({"checked": o.checked, "published": o.published})
                }
            })
        },
    )
    .await
}
