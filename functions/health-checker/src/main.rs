#![recursion_limit = "256"]

use health_checker::{BAKE_QUEUE_URL, BakeDeps, Deps, SITE_ORIGINS, handle};
use lambda_runtime::{run, service_fn};
use sentinel_shared::lambda::config::{Config, ConfigError};
use sentinel_shared::lambda::telemetry;
use sentinel_shared::outbound::Outbound;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    tracing::info!(?config, "health-checker starting");
    let sdk = sentinel_shared::lambda::aws::load().await;
    let bake = std::env::var(BAKE_QUEUE_URL)
        .ok()
        .filter(|url| !url.trim().is_empty())
        .map(|url| BakeDeps {
            metrics: sentinel_shared::adapters::cloudwatch::CloudWatchMetrics::new(
                aws_sdk_cloudwatch::Client::new(&sdk),
            ),
            steps: sentinel_shared::adapters::sqs::SqsBakeSteps::new(
                aws_sdk_sqs::Client::new(&sdk),
                url,
            ),
            region: sdk
                .region()
                .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string()),
        });
    tracing::info!(bake = bake.is_some(), "bakes (health.bake) can run");
    let deps = Deps {
        clients: sentinel_shared::lambda::runtime::AwsClients::from_sdk(&config, &sdk),
        bake,
        outbound: Outbound::from_env(SITE_ORIGINS).map_err(|reason| ConfigError {
            variable: SITE_ORIGINS,
            reason,
        })?,
    };
    run(service_fn(|event| handle(&deps, event))).await
}
