#![recursion_limit = "256"]

use alerter::{ALERTER_QUEUE_URL, Deps, GitHubDeps, handle};
use lambda_runtime::{run, service_fn};
use sentinel_shared::adapters::github::GitHubClient;
use sentinel_shared::adapters::http_log::HttpLogSource;
use sentinel_shared::adapters::sns::SnsNotifier;
use sentinel_shared::adapters::sqs::SqsRetryQueue;
use sentinel_shared::github::reaction::Breaker;
use sentinel_shared::github::settings::GitHubSettings;
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
    let github = match GitHubSettings::from_env()? {
        None => None,
        Some(settings) => {
            let queue = std::env::var(ALERTER_QUEUE_URL)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError {
                    variable: ALERTER_QUEUE_URL,
                    reason: "is not set, but GitHub is on (the alerter's own queue, where GitHub updates are retried)".into(),
                })?;
            tracing::info!(api = %settings.api_url, "GitHub is on");
            Some(GitHubDeps {
                client: GitHubClient::new(settings, aws_sdk_ssm::Client::new(&sdk)).map_err(
                    |reason| ConfigError {
                        variable: GitHubSettings::API_URL,
                        reason,
                    },
                )?,
                retries: SqsRetryQueue::new(aws_sdk_sqs::Client::new(&sdk), queue),
                breaker: Breaker::default(),
                metrics_namespace: config.metrics_namespace.clone(),
            })
        }
    };
    let deps = Deps {
        clients: sentinel_shared::lambda::runtime::AwsClients::from_sdk(&config, &sdk),
        notifier: SnsNotifier::new(aws_sdk_sns::Client::new(&sdk), topic),
        logs: HttpLogSource::from_env().map_err(|reason| ConfigError {
            variable: HttpLogSource::ORIGINS,
            reason,
        })?,
        region: config.region.clone(),
        github,
    };
    run(service_fn(|event| handle(&deps, event))).await
}
