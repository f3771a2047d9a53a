#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn};
use metrics_collector::{Deps, handle};
use sentinel_shared::lambda::{config::Config, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    tracing::info!(?config, "metrics-collector starting");
    let deps = Deps {
        clients: sentinel_shared::lambda::runtime::AwsClients::from_config(&config).await,
        namespace: config.metrics_namespace.clone(),
        dimensions: config.event_metrics,
    };
    run(service_fn(|event| handle(&deps, event))).await
}
