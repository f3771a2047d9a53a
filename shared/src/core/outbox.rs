//! The outbox kept in each deployment record: the domain events a reaction
//! decided, written in the same conditional write as the state change and
//! published after it (`effects::flush`), so that a failure between the
//! two is completed by the retry.

use serde::{Deserialize, Serialize};

/// A domain event ready to publish: what `PutEvents` needs, kept generic so
/// that later event kinds travel through the same outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEntry {
    pub id: String,
    /// Publication order within one record (entries are published by `seq`).
    #[serde(default)]
    pub seq: u64,
    /// The reaction that decided it and publishes it (`ingest`,
    /// `validator`, …): each flushes only its own entries, so two reactions
    /// to one job never publish each other's events.
    #[serde(default)]
    pub owner: String,
    pub detail_type: String,
    /// The detail as a JSON string, exactly as it will be published.
    pub detail: String,
}

/// An event published directly (not through a record's outbox).
pub fn entry<T: Serialize>(
    id: &str,
    owner: &str,
    detail_type: &str,
    detail: &T,
) -> Option<OutboxEntry> {
    Some(OutboxEntry {
        id: id.to_owned(),
        seq: 0,
        owner: owner.to_owned(),
        detail_type: detail_type.to_owned(),
        detail: crate::core::budget::json_detail(detail, crate::core::budget::EVENT_DETAIL)?,
    })
}
