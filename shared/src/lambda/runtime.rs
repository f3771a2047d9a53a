//! What every function's binary shares: the AWS clients built once from the
//! configuration, the dispatch of an invocation (an SQS batch from the
//! function's queue, or one event invoked directly), and the one parser of a
//! delivery (a domain event's envelope, or the schedule).

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

use crate::adapters::Aws;
use crate::adapters::amplify::AmplifyClient;
use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::eventbridge::EventBridgePublisher;
use crate::adapters::sqs::SqsDeadLetter;
use crate::core::error::Error;
use crate::core::error::MalformedEvent;
use crate::core::events::Envelope;
use crate::core::model::Environment;
use crate::lambda::config::Config;
use crate::lambda::sqs_batch;
use crate::ports::{DeadLetterSink, Stack};

/// The adapters every function's handler works with (one per port), and the
/// stack's environment. Generic over the [`Stack`] so that unit tests pass
/// in-memory adapters.
pub struct Clients<K: Stack> {
    pub store: K::Store,
    pub amplify: K::Amplify,
    pub publisher: K::Publisher,
    pub dead_letter: Option<K::DeadLetter>,
    pub environment: Environment,
    /// See [`Config::site_url_template`].
    pub site_url_template: Option<String>,
}

/// The AWS adapters, built once per process.
pub type AwsClients = Clients<Aws>;

impl AwsClients {
    pub async fn from_config(config: &Config) -> Self {
        Self::from_sdk(config, &crate::lambda::aws::load().await)
    }

    /// From an SDK configuration the caller also uses for other clients.
    pub fn from_sdk(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        Self {
            environment: config.environment,
            site_url_template: config.site_url_template.clone(),
            store: DynamoStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                &config.table,
                config.retention_days,
            ),
            amplify: AmplifyClient::new(aws_sdk_amplify::Client::new(sdk)),
            publisher: EventBridgePublisher::new(
                aws_sdk_eventbridge::Client::new(sdk),
                &config.event_bus,
            ),
            dead_letter: config
                .dlq_url
                .as_ref()
                .map(|url| SqsDeadLetter::new(aws_sdk_sqs::Client::new(sdk), url)),
        }
    }
}

/// The entry point every function shares: runs `handle_one(request_id,
/// raw event)` on each record of an SQS batch (answering with
/// `batchItemFailures`), or on the payload itself when invoked directly
/// (answering with its result or its error).
pub async fn handle<D, F>(
    event: LambdaEvent<Value>,
    dead_letter: Option<&D>,
    handle_one: F,
) -> Result<Value, Error>
where
    D: DeadLetterSink,
    F: AsyncFn(&str, String) -> Result<Value, Error>,
{
    let request_id = event.context.request_id;
    let payload = event.payload;
    if payload.get("Records").is_none() {
        return handle_one(&request_id, payload.to_string()).await;
    }
    let batch: SqsEvent = serde_json::from_value(payload).map_err(|e| {
        Error::from(MalformedEvent {
            event_id: "<sqs batch>".into(),
            reason: format!("not an SQS batch: {e}"),
        })
    })?;
    let request_id = request_id.as_str();
    let response = sqs_batch::process(batch, dead_letter, |body| {
        let one = &handle_one;
        async move { one(request_id, body).await.map(|_| ()) }
    })
    .await;
    Ok(serde_json::to_value(response).unwrap_or_else(|_| json!({})))
}

/// EventBridge's scheduled event (`source aws.events`, `Scheduled Event`),
/// and the time it was scheduled for.
pub fn scheduled_time(raw: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let v: Value = serde_json::from_str(raw).ok()?;
    if v["source"] != "aws.events" || v["detail-type"] != "Scheduled Event" {
        return None;
    }
    Some(
        v["time"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(chrono::Utc::now),
    )
}

/// One delivery to a function that reacts to domain events: the stack's
/// schedule, or a domain event from its bus.
#[derive(Debug, Clone)]
pub enum Delivery {
    Scheduled(chrono::DateTime<chrono::Utc>),
    Event(Envelope),
}

impl Delivery {
    /// The one place a domain event's envelope is parsed: a scheduled event,
    /// or an envelope from Sentinel's bus whose detail type is one of
    /// `accepted` (anything else is malformed: never retried). The detail is
    /// left to the reaction ([`Envelope::detail`]).
    pub fn parse(raw: &str, accepted: &[&str]) -> Result<Self, MalformedEvent> {
        if let Some(at) = scheduled_time(raw) {
            return Ok(Self::Scheduled(at));
        }
        Envelope::parse(raw, accepted).map(Self::Event)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::events::{BuildEvent, detail_type};

    const ACCEPTED: &[&str] = &[detail_type::BUILD_SUCCEEDED];

    fn envelope(detail_type: &str, source: &str, detail: Value) -> String {
        json!({"id": "eb-1", "source": source, "detail-type": detail_type, "detail": detail})
            .to_string()
    }

    #[test]
    fn the_schedule_is_a_delivery_at_its_time() {
        let raw = json!({"id": "s", "source": "aws.events", "detail-type": "Scheduled Event",
            "time": "2026-11-27T03:00:00Z", "detail": {}})
        .to_string();
        let Ok(Delivery::Scheduled(at)) = Delivery::parse(&raw, ACCEPTED) else {
            panic!("not a scheduled delivery");
        };
        assert_eq!(at.to_rfc3339(), "2026-11-27T03:00:00+00:00");
    }

    #[test]
    fn an_accepted_domain_event_is_delivered_with_its_detail_unread() {
        let raw = envelope("Build Succeeded", "sentinel", json!({"anything": 1}));
        let Ok(Delivery::Event(e)) = Delivery::parse(&raw, ACCEPTED) else {
            panic!("not an event delivery");
        };
        assert_eq!(
            (e.id.as_str(), e.detail_type.as_str()),
            ("eb-1", "Build Succeeded")
        );
        // The detail is the reaction's to read, and a bad one is named.
        let err = e.detail::<BuildEvent>().unwrap_err();
        assert_eq!(err.event_id, "eb-1");
        assert!(err.reason.starts_with("Build Succeeded detail: "), "{err}");
    }

    #[test]
    fn anything_else_is_malformed_and_named() {
        for (raw, named) in [
            ("not json".to_owned(), "not a domain event"),
            (
                envelope("Build Started", "sentinel", json!({})),
                "unexpected \"Build Started\"",
            ),
            (
                envelope("Build Succeeded", "aws.amplify", json!({})),
                "from \"aws.amplify\"",
            ),
            (
                json!({"source": "aws.events", "detail-type": "Not Scheduled"}).to_string(),
                "not a domain event",
            ),
        ] {
            let err = Delivery::parse(&raw, ACCEPTED).unwrap_err();
            assert!(err.reason.contains(named), "{raw}: {err}");
            assert!(!Error::from(err).is_retryable());
        }
    }
}
