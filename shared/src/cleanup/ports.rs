//! The port of the one job that must see every item of the table
//! (cleanup): the items, decoded as far as cleanup needs, and their
//! deletion.

use std::future::Future;

use crate::alert::state::AlertState;
use crate::core::deployment::Deployment;
use crate::core::error::StoreError;
use crate::core::model::{AppId, BranchName};
use crate::ports::BranchState;
use crate::rollback::state::RollbackState;

/// One item of the table, as cleanup sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", self.pk, self.sk)
    }
}

/// What an item holds, decoded; what cleanup cannot read is `Other` and is
/// never touched.
#[derive(Debug, Clone)]
pub enum StoredItem {
    Deployment(Box<Deployment>),
    BranchState {
        app_id: AppId,
        branch_name: BranchName,
        state: BranchState,
    },
    Alerts(Box<AlertState>),
    Rollback(Box<RollbackState>),
    /// A dated metrics snapshot (the daily roll-up) of that day.
    Snapshot(chrono::NaiveDate),
    /// A once-only claim (idempotency record).
    Claim,
    /// Policies, the latest snapshots, anything unknown.
    Other,
}

#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub key: ItemKey,
    /// The TTL attribute (epoch seconds), if the item has one.
    pub expires_at: Option<i64>,
    pub item: StoredItem,
}

/// The whole table, for the one job that must see every item (cleanup).
pub trait CleanupStore: Send + Sync {
    /// Every item, decoded (a paged Scan: cleanup runs daily; every other
    /// read is a key or index lookup).
    fn inventory(&self) -> impl Future<Output = Result<Vec<StoredEntry>, StoreError>> + Send;

    fn delete_item(&self, key: &ItemKey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Sets the TTL attribute (epoch seconds).
    fn set_expiry(
        &self,
        key: &ItemKey,
        at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
