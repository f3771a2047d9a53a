//! What leaves the stack, in memory: published events, sent alerts, read
//! logs and dead letters, kept for a test to inspect.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::core::error::PublishError;
use crate::core::outbox::OutboxEntry;
use crate::ports::{DeadLetterSink, EventPublisher};

use super::lock;

/// Records notifications; `fail_next` rejects the next ones as unavailable.
#[derive(Default)]
pub struct MemoryNotifier {
    pub sent: Mutex<Vec<crate::alert::Notification>>,
    pub fail_next: AtomicUsize,
}

impl MemoryNotifier {
    pub fn sent(&self) -> Vec<crate::alert::Notification> {
        lock(&self.sent).clone()
    }
}

impl crate::alert::ports::Notifier for MemoryNotifier {
    async fn notify(&self, n: &crate::alert::Notification) -> Result<(), PublishError> {
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(PublishError::Unavailable("injected failure".into()));
        }
        lock(&self.sent).push(n.clone());
        Ok(())
    }
}

/// Logs by URL; a URL it does not hold is unavailable (expired).
#[derive(Default)]
pub struct MemoryLogs {
    pub logs: Mutex<HashMap<String, Vec<u8>>>,
}

impl crate::diagnose::ports::LogSource for MemoryLogs {
    async fn read_log(
        &self,
        url: &str,
        into: &mut crate::diagnose::Diagnoser,
    ) -> Result<(), crate::diagnose::ports::LogError> {
        let logs = lock(&self.logs);
        let log = logs.get(url).ok_or_else(|| {
            crate::diagnose::ports::LogError::Unavailable("403 Request has expired".into())
        })?;
        for chunk in log.chunks(8192) {
            into.feed(chunk);
        }
        Ok(())
    }
}

/// Records what was published; `fail_next` rejects the next publications.
#[derive(Default)]
pub struct MemoryPublisher {
    pub published: Mutex<Vec<OutboxEntry>>,
    pub fail_next: AtomicUsize,
}

impl MemoryPublisher {
    pub fn detail_types(&self) -> Vec<String> {
        lock(&self.published)
            .iter()
            .map(|e| e.detail_type.clone())
            .collect()
    }
}

impl EventPublisher for MemoryPublisher {
    async fn publish(&self, entries: &[OutboxEntry]) -> Result<(), PublishError> {
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(PublishError::Partial {
                failed: entries.len(),
                total: entries.len(),
                reason: "injected failure".into(),
            });
        }
        lock(&self.published).extend_from_slice(entries);
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryDeadLetter {
    pub messages: Mutex<Vec<(String, String, String)>>,
}

impl DeadLetterSink for MemoryDeadLetter {
    async fn send(
        &self,
        body: &str,
        error_type: &str,
        reason: &str,
        _source: Option<&str>,
    ) -> Result<(), String> {
        lock(&self.messages).push((body.into(), error_type.into(), reason.into()));
        Ok(())
    }
}
