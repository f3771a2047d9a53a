//! Processing of an SQS batch (the stack's functions read their events from
//! queues): each record succeeds, is retried, or is dead-lettered.
//!
//! * success — the record is deleted by Lambda;
//! * retryable error — reported in `batchItemFailures`, so SQS delivers it
//!   again; after the queue's `maxReceiveCount` the redrive policy moves it to
//!   the dead-letter queue;
//! * non-retryable error — sent to the dead-letter queue at once with its
//!   error type and reason as message attributes, then reported as done: the
//!   same bytes would fail the same way, so retrying only delays the alarm.

use std::collections::HashMap;
use std::future::Future;

use chrono::{DateTime, Utc};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use tracing::{error, warn};

use crate::core::error::Error;
use crate::ports::DeadLetterSink;

/// When SQS took the message (its `SentTimestamp` attribute, epoch
/// milliseconds): set by SQS, not by whoever wrote the body, so it is the
/// time an event was received that a sender cannot choose.
pub fn sent_at(attributes: &HashMap<String, String>) -> Option<DateTime<Utc>> {
    let millis: i64 = attributes.get("SentTimestamp")?.parse().ok()?;
    DateTime::from_timestamp_millis(millis)
}

pub async fn process<D, F, Fut>(
    event: SqsEvent,
    dead_letter: Option<&D>,
    handle: F,
) -> SqsBatchResponse
where
    D: DeadLetterSink,
    F: Fn(String, Option<DateTime<Utc>>) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let message_id = record.message_id.unwrap_or_default();
        let source = record.event_source_arn;
        let received = sent_at(&record.attributes);
        let body = record.body.unwrap_or_default();
        let Err(e) = handle(body.clone(), received).await else {
            continue;
        };
        let retry = if e.is_retryable() {
            warn!(%message_id, error_type = e.error_type(), error = %e, "will retry");
            true
        } else {
            error!(%message_id, error_type = e.error_type(), error = %e, "dead-lettering");
            match dead_letter {
                Some(dlq) => {
                    // SQS refuses empty bodies; an empty delivery is kept as a marker.
                    let kept = if body.is_empty() {
                        "<empty body>"
                    } else {
                        body.as_str()
                    };
                    match dlq
                        .send(kept, e.error_type(), &e.to_string(), source.as_deref())
                        .await
                    {
                        Ok(()) => false,
                        Err(send_error) => {
                            error!(%message_id, %send_error, "dead-letter queue unavailable; will retry");
                            true
                        }
                    }
                }
                // Without a queue of our own, the redrive policy gets it there.
                None => true,
            }
        };
        if retry {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryDeadLetter;
    use crate::core::error::MalformedEvent;
    use crate::core::error::StoreError;
    use aws_lambda_events::event::sqs::SqsMessage;

    fn batch(bodies: &[&str]) -> SqsEvent {
        let mut event = SqsEvent::default();
        for (i, body) in bodies.iter().enumerate() {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("m{i}"));
            m.body = Some((*body).to_owned());
            event.records.push(m);
        }
        event
    }

    #[tokio::test]
    async fn retryable_errors_are_reported_and_malformed_ones_dead_lettered() {
        let dlq = MemoryDeadLetter::default();
        let response = process(
            batch(&["ok", "retry", "bad"]),
            Some(&dlq),
            |body, _| async move {
                match body.as_str() {
                    "ok" => Ok(()),
                    "retry" => Err(Error::from(StoreError::Unavailable("throttled".into()))),
                    _ => Err(Error::from(MalformedEvent {
                        event_id: "e".into(),
                        reason: "detail is missing".into(),
                    })),
                }
            },
        )
        .await;
        let ids: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(ids, vec!["m1"]);
        let dead = dlq.messages.lock().unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].0, "bad");
        assert_eq!(dead[0].1, "NonRetryable.Event");
        assert!(dead[0].2.contains("detail is missing"));
    }

    #[tokio::test]
    async fn each_body_is_handled_with_the_time_sqs_received_it() {
        let mut event = batch(&["a", "b"]);
        event.records[0]
            .attributes
            .insert("SentTimestamp".into(), "1764237600123".into());
        // A body cannot set it; a garbled attribute is no time at all.
        event.records[1]
            .attributes
            .insert("SentTimestamp".into(), "soon".into());
        let seen = std::sync::Mutex::new(Vec::new());
        process(event, None::<&MemoryDeadLetter>, |body, received| {
            seen.lock().unwrap().push((body, received));
            async { Ok(()) }
        })
        .await;
        let seen = seen.into_inner().unwrap();
        assert_eq!(
            seen[0].1.map(|t| t.to_rfc3339()),
            Some("2025-11-27T10:00:00.123+00:00".to_owned())
        );
        assert_eq!(seen[1].1, None);
    }
}
