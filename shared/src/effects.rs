//! The outbox kept in each deployment record, and the read-modify-write loop
//! every reaction to an event uses.
//!
//! A reaction decides its domain events and writes them into the record in
//! the same conditional write as the state change; only then does it publish
//! them and remove them. A failure between the two leaves them in the record,
//! and the retry of the same delivery publishes them — never twice in a clean
//! run, at least once if a crash falls between publish and removal (consumers
//! de-duplicate on the event id).

use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{Error, StoreError};
use crate::ports::{DeploymentStore, EventPublisher};

/// Optimistic-concurrency attempts before the delivery is failed (and
/// retried later by the queue).
pub const MAX_WRITE_ATTEMPTS: usize = 5;

/// Publishes the entries of `owner` the record's outbox holds, in order,
/// then removes them.
pub async fn flush<S: DeploymentStore, P: EventPublisher>(
    store: &S,
    publisher: &P,
    record: &Deployment,
    owner: &str,
) -> Result<usize, Error> {
    let mut entries: Vec<_> = record
        .outbox
        .values()
        .filter(|e| e.owner == owner)
        .cloned()
        .collect();
    if entries.is_empty() {
        return Ok(0);
    }
    entries.sort_by_key(|e| e.seq);
    publisher.publish(&entries).await?;
    let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
    match store.clear_outbox(&record.key, &ids).await {
        // Conflict: someone else cleared it or rewrote the record; the events
        // are out either way.
        Ok(()) | Err(StoreError::Conflict) => Ok(entries.len()),
        Err(e) => Err(e.into()),
    }
}

/// Reads the record, lets `change` modify it, and writes it back on the
/// condition that nobody wrote in between; on a conflict, reads again and
/// re-applies. `change` returns `false` when there is nothing to write (the
/// reaction already happened). Returns the record as stored.
pub async fn update<S, F>(
    store: &S,
    key: &DeploymentKey,
    mut change: F,
) -> Result<Deployment, Error>
where
    S: DeploymentStore,
    F: FnMut(&mut Deployment) -> Result<bool, Error>,
{
    for attempt in 1..=MAX_WRITE_ATTEMPTS {
        let Some(mut record) = store.get_deployment(key).await? else {
            return Err(StoreError::Unavailable(format!(
                "deployment {}/{}/{} is not recorded yet",
                key.app_id, key.branch_name, key.job_id
            ))
            .into());
        };
        if !change(&mut record)? {
            return Ok(record);
        }
        match store.save_deployment(&record).await {
            Ok(()) => {
                record.version += 1;
                return Ok(record);
            }
            Err(StoreError::Conflict) if attempt < MAX_WRITE_ATTEMPTS => {
                tracing::warn!(attempt, "write conflict, re-reading");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict.into())
}
