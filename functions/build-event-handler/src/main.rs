#![recursion_limit = "256"]

use build_event_handler::{Deps, handle};
use lambda_runtime::{run, service_fn};
use sentinel_shared::lambda::{config::Config, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    tracing::info!(?config, "build-event-handler starting");
    let deps = Deps {
        clients: sentinel_shared::lambda::runtime::AwsClients::from_config(&config).await,
    };
    run(service_fn(|event| handle(&deps, event))).await
}
