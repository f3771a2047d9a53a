//! [`EventPublisher`] over EventBridge `PutEvents`.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::sdk::{Failure, classify};
use crate::core::error::PublishError;
use crate::core::events::SOURCE;
use crate::core::outbox::OutboxEntry;
use crate::ports::EventPublisher;

/// `PutEvents` takes at most ten entries per call.
const MAX_BATCH: usize = 10;

pub struct EventBridgePublisher {
    client: Client,
    /// `None` for an operator's command that publishes nothing.
    bus: Option<String>,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: Some(bus.into()),
        }
    }

    /// A publisher for a command given no bus: every publication is
    /// refused (never sent to a bus nobody named, nor to the default one).
    pub fn unnamed(client: Client) -> Self {
        Self { client, bus: None }
    }
}

impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, entries: &[OutboxEntry]) -> Result<(), PublishError> {
        let Some(bus) = self.bus.as_deref() else {
            return match entries.first() {
                None => Ok(()),
                Some(e) => Err(PublishError::Rejected(format!(
                    "no event bus was given, and {:?} must be published: pass --bus or set \
                     SENTINEL_EVENT_BUS",
                    e.detail_type
                ))),
            };
        };
        for batch in entries.chunks(MAX_BATCH) {
            let request: Vec<PutEventsRequestEntry> = batch
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(bus)
                        .source(SOURCE)
                        .detail_type(&e.detail_type)
                        .detail(&e.detail)
                        .build()
                })
                .collect();
            let out = self
                .client
                .put_events()
                .set_entries(Some(request))
                .send()
                .await
                .map_err(|e| match classify(&e) {
                    Failure::Transient(m) => PublishError::Unavailable(m),
                    Failure::Rejected(m) | Failure::NotFound(m) => PublishError::Rejected(m),
                    Failure::ConditionFailed => PublishError::Rejected("condition failed".into()),
                })?;
            // PutEvents succeeds as a call even when entries fail: each
            // entry carries its own error, and all must be checked.
            let failed = out.failed_entry_count() as usize;
            if failed > 0 {
                let reason = out
                    .entries()
                    .iter()
                    .filter_map(|r| {
                        r.error_code()
                            .map(|c| format!("{c}: {}", r.error_message().unwrap_or_default()))
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(PublishError::Partial {
                    failed,
                    total: batch.len(),
                    reason,
                });
            }
        }
        Ok(())
    }
}
