//! [`DeadLetterSink`] over SQS `SendMessage`.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::ports::DeadLetterSink;

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
