#![recursion_limit = "256"]

use cleanup::{Deps, handle};
use lambda_runtime::{run, service_fn};
use sentinel_shared::lambda::{config::Config, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    tracing::info!(?config, "cleanup starting");
    let deps = Deps {
        clients: sentinel_shared::lambda::runtime::AwsClients::from_config(&config).await,
        namespace: config.metrics_namespace.clone(),
        retention: sentinel_shared::cleanup::Retention {
            deployment_days: config.retention_days,
            ..Default::default()
        },
    };
    run(service_fn(|event| handle(&deps, event))).await
}
