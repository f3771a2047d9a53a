//! [`DeadLetterSink`], [`BakeSteps`] and [`RetryQueue`] over SQS `SendMessage`.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::core::error::PublishError;
use crate::ports::{BakeSteps, DeadLetterSink, RetryQueue};

pub struct SqsDeadLetter {
    client: Client,
    queue_url: String,
}

impl SqsDeadLetter {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

fn attribute(value: &str) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .ok()
}

impl DeadLetterSink for SqsDeadLetter {
    async fn send(
        &self,
        body: &str,
        error_type: &str,
        reason: &str,
        source: Option<&str>,
    ) -> Result<(), String> {
        // SQS attribute values are limited in size; the reason is short by
        // construction, but cap it anyway.
        let reason: String = reason.chars().take(1024).collect();
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .set_message_attributes(Some(
                [("errorType", error_type), ("errorMessage", reason.as_str())]
                    .into_iter()
                    .chain(source.map(|arn| ("sourceQueue", arn)))
                    .filter_map(|(k, v)| Some((k.to_owned(), attribute(v)?)))
                    .collect(),
            ))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| DisplayErrorContext(e).to_string())
    }
}

/// The health checker's own queue: a bake's next step, delayed.
pub struct SqsBakeSteps {
    client: Client,
    queue_url: String,
}

impl SqsBakeSteps {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl BakeSteps for SqsBakeSteps {
    async fn schedule(&self, body: &str, delay_seconds: u32) -> Result<(), PublishError> {
        send_delayed(&self.client, &self.queue_url, body, delay_seconds).await
    }
}

/// The alerter's own queue: a GitHub update's next attempt, delayed
/// (`SENTINEL_ALERTER_QUEUE_URL`).
pub struct SqsRetryQueue {
    client: Client,
    queue_url: String,
}

impl SqsRetryQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl RetryQueue for SqsRetryQueue {
    async fn send_retry(&self, body: &str, delay_seconds: u32) -> Result<(), PublishError> {
        send_delayed(&self.client, &self.queue_url, body, delay_seconds).await
    }
}

/// `SendMessage` with `DelaySeconds`, which SQS takes from 0 to 900
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html>).
async fn send_delayed(
    client: &Client,
    queue_url: &str,
    body: &str,
    delay_seconds: u32,
) -> Result<(), PublishError> {
    client
        .send_message()
        .queue_url(queue_url)
        .message_body(body)
        .delay_seconds(delay_seconds.min(900) as i32)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| match super::sdk::classify(&e) {
            super::sdk::Failure::Transient(t) => PublishError::Unavailable(t),
            super::sdk::Failure::Rejected(t) | super::sdk::Failure::NotFound(t) => {
                PublishError::Rejected(t)
            }
            super::sdk::Failure::ConditionFailed => PublishError::Rejected("condition".into()),
        })
}
