#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn};
use sentinel_shared::adapters::github::GitHubClient;
use sentinel_shared::adapters::ssm::SsmSecretNames;
use sentinel_shared::github::settings::GitHubSettings;
use sentinel_shared::lambda::{config::Config, telemetry};
use validator::{Deps, handle};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    tracing::info!(?config, "validator starting");
    // GitHub is off unless the stack names an App or a token; a setting
    // that is wrong stops the start, naming the variable. The client does
    // no I/O here: its credentials are read from SSM on first use.
    let github = GitHubSettings::from_env()?;
    tracing::info!(github = github.is_some(), "GitHub");
    let sdk = sentinel_shared::lambda::aws::load().await;
    let github = github
        .map(|settings| GitHubClient::new(settings, aws_sdk_ssm::Client::new(&sdk)))
        .transpose()?;
    let deps = Deps {
        clients: sentinel_shared::lambda::runtime::AwsClients::from_sdk(&config, &sdk),
        secrets: SsmSecretNames::new(aws_sdk_ssm::Client::new(&sdk)),
        github,
    };
    run(service_fn(|event| handle(&deps, event))).await
}
