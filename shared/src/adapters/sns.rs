//! [`Notifier`] over SNS: one publish per alert, with a message per protocol
//! (`MessageStructure: json`): the e-mail body for e-mail subscribers, AWS
//! Chatbot's custom notification for everything else (Chatbot's HTTPS
//! endpoint, SQS, Lambda), and message attributes for filter policies.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use serde_json::json;

use super::sdk::classify;
use crate::alert::Notification;
use crate::alert::ports::Notifier;
use crate::core::error::PublishError;

/// The SNS message of `n` (`MessageStructure: json`): a body per protocol.
pub fn message(n: &Notification) -> String {
    json!({
        "default": n.chat,
        "email": n.email,
    })
    .to_string()
}

pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

impl Notifier for SnsNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), PublishError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&n.subject)
            .message_structure("json")
            .message(message(n));
        for (name, value) in &n.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PublishError::Rejected(format!("message attribute {name}: {e}")))?;
            request = request.message_attributes(name, attribute);
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|e| match classify(&e) {
                super::sdk::Failure::Transient(m) => PublishError::Unavailable(m),
                super::sdk::Failure::Rejected(m) | super::sdk::Failure::NotFound(m) => {
                    PublishError::Rejected(m)
                }
                super::sdk::Failure::ConditionFailed => {
                    PublishError::Rejected("condition failed".into())
                }
            })
    }
}
