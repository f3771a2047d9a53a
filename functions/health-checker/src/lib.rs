//! The health-checker function: on "Build Succeeded" (from its queue), checks
//! the deployed site, records the verdict, moves the branch's last known good
//! and publishes the verdict; on its schedule, checks every live deployment
//! (`sentinel_shared::health`).

use lambda_runtime::LambdaEvent;
use sentinel_shared::core::error::Error;
use sentinel_shared::core::events::BuildEvent;
use sentinel_shared::health::reaction::{
    ACCEPTED, DeployCheckOutcome, HealthChecker, ScheduleOutcome,
};
use sentinel_shared::lambda::runtime::{self, Clients, Delivery};
use sentinel_shared::outbound::Outbound;
use sentinel_shared::ports::Stack;
use serde_json::{Value, json};
use tracing::Instrument;

/// What the health checker works with: the stack's clients, and the rules
/// its requests are held to.
pub struct Deps<K: Stack> {
    pub clients: Clients<K>,
    /// [`Outbound::public`] in a deployed stack; a local stack names its
    /// sites' origin in [`SITE_ORIGINS`].
    pub outbound: Outbound,
}

/// The variable naming a local stack's site origins (comma-separated
/// `scheme://host:port`), exempt from https and public-address rules.
/// Never set by the template.
pub const SITE_ORIGINS: &str = "SENTINEL_SITE_ORIGINS";

/// What one delivery led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    Deploy(DeployCheckOutcome),
    Scheduled(ScheduleOutcome),
}

/// Handles one delivery given as JSON text: a "Build Succeeded" envelope,
/// or the schedule.
pub async fn on_raw<K: Stack>(
    deps: &Deps<K>,
    request_id: &str,
    raw: &str,
) -> Result<CheckOutcome, Error> {
    let c = &deps.clients;
    let checker = HealthChecker::<K> {
        store: &c.store,
        amplify: &c.amplify,
        publisher: &c.publisher,
        site_url_template: c.site_url_template.as_deref(),
        outbound: &deps.outbound,
    };
    match Delivery::parse(raw, ACCEPTED)? {
        Delivery::Scheduled(round) => {
            let span = tracing::info_span!("live-check", request_id);
            let outcome = checker
                .on_schedule(c.environment, &c.scope, round)
                .instrument(span)
                .await?;
            Ok(CheckOutcome::Scheduled(outcome))
        }
        Delivery::Event(envelope) => {
            let event: BuildEvent = envelope.detail()?;
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
}

pub async fn handle<K: Stack>(deps: &Deps<K>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    runtime::handle(
        event,
        &deps.clients,
        async |request_id: &str, raw: String| {
            Ok(match on_raw(deps, request_id, &raw).await? {
                CheckOutcome::Deploy(o) => json!({"verdict": o.verdict, "published": o.published}),
                CheckOutcome::Scheduled(o) => {
                    json!({"checked": o.checked, "published": o.published})
                }
            })
        },
    )
    .await
}
