#![recursion_limit = "256"]

use health_checker::{Deps, SITE_ORIGINS, handle};
use lambda_runtime::{run, service_fn};
use sentinel_shared::lambda::config::{Config, ConfigError};
use sentinel_shared::lambda::telemetry;
use sentinel_shared::outbound::Outbound;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    tracing::info!(?config, "health-checker starting");
    let deps = Deps {
        clients: sentinel_shared::lambda::runtime::AwsClients::from_config(&config).await,
        outbound: Outbound::from_env(SITE_ORIGINS).map_err(|reason| ConfigError {
            variable: SITE_ORIGINS,
            reason,
        })?,
    };
    run(service_fn(|event| handle(&deps, event))).await
}
