//! The two effects every reaction shares: the read-decide-write loop under
//! optimistic concurrency, and the outbox flush.
//!
//! **Read, decide, write.** Every item a reaction changes (a deployment
//! record, a branch's alert or rollback state) carries a version; a write
//! succeeds only if the stored version is still the one read. On a conflict
//! the loop reads again and decides again — the decision is a pure function
//! of what was read — at most [`MAX_WRITE_ATTEMPTS`] times, then fails the
//! delivery (retryable: the queue brings it back).
//!
//! **The outbox.** A reaction decides its domain events and writes them into
//! the record in the same conditional write as the state change; only then
//! does it publish them and remove them. A failure between the two leaves
//! them in the record, and the retry of the same delivery publishes them —
//! never twice in a clean run, at least once if a crash falls between publish
//! and removal (consumers de-duplicate on the event id).

use tracing::warn;

use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{Error, StoreError};
pub use crate::core::version::Versioned;
use crate::ports::{DeploymentStore, EventPublisher};

/// Optimistic-concurrency attempts before the delivery is failed (and
/// retried later by the queue). The same for every item.
pub const MAX_WRITE_ATTEMPTS: usize = 10;

/// What a decision over the item read leads to, and what it concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided<O> {
    /// Write the changed item (on the version read).
    Write(O),
    /// Nothing to write: the reaction already happened, or has nothing to do.
    Keep(O),
}

/// Reads the item, lets `decide` change it, and writes it back on the
/// condition that nobody wrote in between; on a conflict, reads and decides
/// again. Returns the item as stored (its version bumped when written) and
/// what `decide` concluded the last time.
pub async fn read_decide_write<T, O>(
    mut read: impl AsyncFnMut() -> Result<T, Error>,
    mut decide: impl FnMut(&mut T) -> Result<Decided<O>, Error>,
    mut write: impl AsyncFnMut(&T) -> Result<(), StoreError>,
) -> Result<(T, O), Error>
where
    T: Versioned,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut item = read().await?;
        let out = match decide(&mut item)? {
            Decided::Keep(out) => return Ok((item, out)),
            Decided::Write(out) => out,
        };
        match write(&item).await {
            Ok(()) => {
                item.bump_version();
                return Ok((item, out));
            }
            Err(StoreError::Conflict) if attempt < MAX_WRITE_ATTEMPTS => {
                warn!(attempt, "write conflict, re-reading");
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// [`read_decide_write`] on a deployment record that must exist: `change`
/// answers whether there is anything to write. Returns the record as stored.
pub async fn update<S, F>(
    store: &S,
    key: &DeploymentKey,
    mut change: F,
) -> Result<Deployment, Error>
where
    S: DeploymentStore,
    F: FnMut(&mut Deployment) -> Result<bool, Error>,
{
    let (record, ()) = read_decide_write(
        async || {
            store.get_deployment(key).await?.ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "deployment {}/{}/{} is not recorded yet",
                    key.app_id, key.branch_name, key.job_id
                ))
                .into()
            })
        },
        |record| {
            Ok(if change(record)? {
                Decided::Write(())
            } else {
                Decided::Keep(())
            })
        },
        async |record| store.save_deployment(record).await,
    )
    .await?;
    Ok(record)
}

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
