#![recursion_limit = "256"]

use alerter::{Deps, handle};
use lambda_runtime::{run, service_fn};
use sentinel_shared::adapters::http_log::HttpLogSource;
use sentinel_shared::adapters::sns::SnsNotifier;
use sentinel_shared::lambda::config::{Config, ConfigError};
use sentinel_shared::lambda::telemetry;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    tracing::info!(?config, "alerter starting");
    let topic = config.alert_topic_arn.clone().ok_or(ConfigError {
        variable: Config::ALERT_TOPIC_ARN,
        reason: "is not set (the alerter needs the SNS topic)".into(),
    })?;
    let sdk = sentinel_shared::lambda::aws::load().await;
    let deps = Deps {
        clients: sentinel_shared::lambda::runtime::AwsClients::from_sdk(&config, &sdk),
        notifier: SnsNotifier::new(aws_sdk_sns::Client::new(&sdk), topic),
        logs: HttpLogSource::from_env().map_err(|reason| ConfigError {
            variable: HttpLogSource::ORIGINS,
            reason,
        })?,
        region: config.region.clone(),
    };
    run(service_fn(|event| handle(&deps, event))).await
}
