//! The health-checker function: on "Build Succeeded" (from its queue), checks
//! the deployed site, records the verdict, moves the branch's last known good
//! and publishes the verdict; on its schedule, checks every live deployment
//! (`sentinel_shared::health`); on "Bake Step" (its own delayed messages),
//! judges the next interval of a bake (`sentinel_shared::health::bake`).

use lambda_runtime::LambdaEvent;
use sentinel_shared::adapters::cloudwatch::CloudWatchMetrics;
use sentinel_shared::adapters::sqs::SqsBakeSteps;
use sentinel_shared::core::deployment::DeploymentKey;
use sentinel_shared::core::error::Error;
use sentinel_shared::core::events::{BuildEvent, detail_type};
use sentinel_shared::health::bake::reaction::{BAKE_STEP, BakeStepEvent, Baker, StepResult};
use sentinel_shared::health::reaction::{DeployCheckOutcome, HealthChecker, ScheduleOutcome};
use sentinel_shared::lambda::runtime::{self, Clients, Delivery};
use sentinel_shared::outbound::Outbound;
use sentinel_shared::ports::{BakeSteps, HostingMetrics};
use sentinel_shared::stack::Stack;
use serde_json::{Value, json};
use tracing::Instrument;

/// What the health checker works with: the stack's clients, and the rules
/// its requests are held to.
pub struct Deps<K: Stack, M = CloudWatchMetrics, Q = SqsBakeSteps> {
    pub clients: Clients<K>,
    /// [`Outbound::public`] in a deployed stack; a local stack names its
    /// sites' origin in [`SITE_ORIGINS`].
    pub outbound: Outbound,
    /// CloudWatch and the function's own queue, for bakes; `None` when
    /// [`BAKE_QUEUE_URL`] is not set (no bake starts then).
    pub bake: Option<BakeDeps<M, Q>>,
}

/// What a bake's steps need.
pub struct BakeDeps<M, Q> {
    pub metrics: M,
    pub steps: Q,
    /// For the console link in the alert.
    pub region: String,
}

/// The variable naming the function's own queue (its URL), where a bake's
/// steps are sent delayed. Set by the template.
pub const BAKE_QUEUE_URL: &str = "SENTINEL_BAKE_QUEUE_URL";

/// The detail types the function takes: its queue's rule, and its own steps.
pub const TAKES: &[&str] = &[detail_type::BUILD_SUCCEEDED, BAKE_STEP];

/// The variable naming a local stack's site origins (comma-separated
/// `scheme://host:port`), exempt from https and public-address rules.
/// Never set by the template.
pub const SITE_ORIGINS: &str = "SENTINEL_SITE_ORIGINS";

/// What one delivery led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    Deploy(DeployCheckOutcome),
    Scheduled(ScheduleOutcome),
    Bake(StepResult),
}

/// Handles one delivery given as JSON text: a "Build Succeeded" envelope,
/// or the schedule.
pub async fn on_raw<K: Stack, M: HostingMetrics, Q: BakeSteps>(
    deps: &Deps<K, M, Q>,
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
    match Delivery::parse(raw, TAKES)? {
        Delivery::Scheduled(round) => {
            let span = tracing::info_span!("live-check", request_id);
            let outcome = checker
                .on_schedule(c.environment, &c.scope, round)
                .instrument(span)
                .await?;
            Ok(CheckOutcome::Scheduled(outcome))
        }
        Delivery::Event(envelope) if envelope.detail_type == BAKE_STEP => {
            let step: BakeStepEvent = envelope.detail()?;
            let Some(bake) = &deps.bake else {
                tracing::warn!("a bake step, but no bake queue configured; dropped");
                return Ok(CheckOutcome::Bake(StepResult::NotBaking));
            };
            let span = tracing::info_span!(
                "bake",
                request_id,
                event_id = %envelope.id,
                app = %step.app_id,
                branch = %step.branch_name,
                job = %step.job_id,
                step = step.step,
            );
            let outcome = baker(c, bake)
                .on_step(&step, chrono::Utc::now())
                .instrument(span)
                .await?;
            Ok(CheckOutcome::Bake(outcome))
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
            let outcome = checker
                .on_build_succeeded(&event)
                .instrument(span.clone())
                .await?;
            if outcome.verdict == Some(sentinel_shared::health::Verdict::Healthy)
                && let Some(bake) = &deps.bake
            {
                let key = DeploymentKey {
                    app_id: event.app_id.clone(),
                    branch_name: event.branch_name.clone(),
                    job_id: event.job_id,
                };
                baker(c, bake)
                    .start(&key, chrono::Utc::now())
                    .instrument(span)
                    .await?;
            }
            Ok(CheckOutcome::Deploy(outcome))
        }
    }
}

fn baker<'a, K: Stack, M: HostingMetrics, Q: BakeSteps>(
    c: &'a Clients<K>,
    bake: &'a BakeDeps<M, Q>,
) -> Baker<'a, K, M, Q> {
    Baker {
        store: &c.store,
        publisher: &c.publisher,
        metrics: &bake.metrics,
        steps: &bake.steps,
        region: &bake.region,
    }
}

pub async fn handle<K: Stack, M: HostingMetrics, Q: BakeSteps>(
    deps: &Deps<K, M, Q>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    runtime::handle(
        event,
        &deps.clients,
        async |request_id: &str, raw: String| {
            Ok(match on_raw(deps, request_id, &raw).await? {
                CheckOutcome::Deploy(o) => json!({"verdict": o.verdict, "published": o.published}),
                CheckOutcome::Scheduled(o) => {
                    json!({"checked": o.checked, "published": o.published})
                }
                CheckOutcome::Bake(o) => json!({"bake": format!("{o:?}")}),
            })
        },
    )
    .await
}
