#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn};
use sentinel_shared::adapters::ssm::SsmSecretNames;
use sentinel_shared::lambda::{config::Config, telemetry};
use validator::{Deps, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    tracing::info!(?config, "validator starting");
    let sdk = sentinel_shared::lambda::aws::load().await;
    let deps = Deps {
        clients: sentinel_shared::lambda::runtime::AwsClients::from_sdk(&config, &sdk),
        secrets: SsmSecretNames::new(aws_sdk_ssm::Client::new(&sdk)),
    };
    run(service_fn(|event| handle(&deps, event))).await
}
