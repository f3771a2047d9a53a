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
                record.fit_budget();
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

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use super::*;

    /// A stored item: its value and the version it was read at.
    #[derive(Debug, Clone, PartialEq)]
    struct Item {
        value: u32,
        version: u64,
    }

    crate::core::version::versioned!(Item);

    /// A store of one item whose next `conflicts` writes lose the race to
    /// another writer (which adds 100 each time).
    struct Racy {
        stored: RefCell<Item>,
        conflicts: Cell<usize>,
        writes: Cell<usize>,
    }

    impl Racy {
        fn new(conflicts: usize) -> Self {
            Self {
                stored: RefCell::new(Item {
                    value: 1,
                    version: 3,
                }),
                conflicts: Cell::new(conflicts),
                writes: Cell::new(0),
            }
        }

        async fn read(&self) -> Result<Item, Error> {
            Ok(self.stored.borrow().clone())
        }

        async fn write(&self, item: &Item) -> Result<(), StoreError> {
            self.writes.set(self.writes.get() + 1);
            if self.conflicts.get() > 0 {
                self.conflicts.set(self.conflicts.get() - 1);
                let mut s = self.stored.borrow_mut();
                s.value += 100;
                s.version += 1;
                return Err(StoreError::Conflict);
            }
            let mut s = self.stored.borrow_mut();
            if s.version != item.version {
                return Err(StoreError::Conflict);
            }
            *s = Item {
                value: item.value,
                version: item.version + 1,
            };
            Ok(())
        }
    }

    fn double(item: &mut Item) -> Result<Decided<u32>, Error> {
        item.value *= 2;
        Ok(Decided::Write(item.value))
    }

    #[tokio::test]
    async fn a_conflict_reads_again_and_decides_on_what_won() {
        let store = Racy::new(2);
        let (item, decided) = read_decide_write(
            async || store.read().await,
            double,
            async |i| store.write(i).await,
        )
        .await
        .unwrap();
        // 1 + 100 + 100, doubled: the decision is the last one, on the
        // item the other writer left.
        assert_eq!(decided, 402);
        assert_eq!(item, *store.stored.borrow());
        assert_eq!(item.version, 6);
        assert_eq!(store.writes.get(), 3);
    }

    #[tokio::test]
    async fn nothing_to_write_writes_nothing() {
        let store = Racy::new(0);
        let (item, decided) = read_decide_write(
            async || store.read().await,
            |item: &mut Item| Ok(Decided::Keep(item.value)),
            async |i| store.write(i).await,
        )
        .await
        .unwrap();
        assert_eq!((decided, item.version), (1, 3));
        assert_eq!(store.writes.get(), 0);
    }

    #[tokio::test]
    async fn endless_conflicts_give_up_retryable_after_the_last_attempt() {
        let store = Racy::new(usize::MAX);
        let err = read_decide_write(
            async || store.read().await,
            double,
            async |i| store.write(i).await,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Store(StoreError::Conflict)), "{err}");
        assert!(err.is_retryable());
        assert_eq!(store.writes.get(), MAX_WRITE_ATTEMPTS);
    }

    #[tokio::test]
    async fn another_store_error_is_not_retried_here() {
        let writes = Cell::new(0);
        let err = read_decide_write(
            async || {
                Ok(Item {
                    value: 1,
                    version: 0,
                })
            },
            double,
            async |_| {
                writes.set(writes.get() + 1);
                Err(StoreError::Unavailable("throttled".into()))
            },
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("throttled"), "{err}");
        assert_eq!(writes.get(), 1);
    }

    #[tokio::test]
    async fn a_decision_that_refuses_ends_the_loop_with_its_error() {
        let store = Racy::new(0);
        let err = read_decide_write(
            async || store.read().await,
            |_: &mut Item| -> Result<Decided<()>, Error> {
                Err(crate::core::error::MalformedEvent {
                    event_id: "e".into(),
                    reason: "cannot decide".into(),
                }
                .into())
            },
            async |i| store.write(i).await,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("cannot decide"), "{err}");
        assert_eq!(store.writes.get(), 0);
    }
}
