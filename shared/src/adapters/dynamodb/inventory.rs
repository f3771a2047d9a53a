//! [`CleanupStore`] on DynamoDB: the whole table decoded (a paged scan),
//! deletes and TTL updates.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{
    ALERTS_SK, DynamoStore, Item, ROLLBACK_SK, STATE_SK, n, next_page, s, sdk_error, written,
};
use crate::cleanup::ports::{CleanupStore, ItemKey, StoredEntry, StoredItem};
use crate::core::deployment::Deployment;
use crate::core::error::StoreError;
use crate::core::model::{AppId, BranchName};
use crate::ports::BranchState;

/// Cleanup leaves what it cannot read alone, so a bad item is `Other`, not
/// an error.
fn decode<T: serde::de::DeserializeOwned>(item: Item) -> Option<T> {
    serde_dynamo::from_item(item).ok()
}

/// `BRANCH#{app}#{branch}` → the app and the branch (branch names may hold
/// `#`; app ids never do).
fn parse_branch_pk(pk: &str) -> Option<(AppId, BranchName)> {
    let rest = pk.strip_prefix("BRANCH#")?;
    let (app, branch) = rest.split_once('#')?;
    Some((app.parse().ok()?, branch.parse().ok()?))
}

fn stored_item(key: &ItemKey, item: Item) -> StoredItem {
    let (pk, sk) = (key.pk.as_str(), key.sk.as_str());
    if pk.starts_with("BRANCH#") {
        if sk.starts_with("JOB#") {
            return decode::<Deployment>(item)
                .map_or(StoredItem::Other, |d| StoredItem::Deployment(Box::new(d)));
        }
        return match sk {
            STATE_SK => match (parse_branch_pk(pk), decode::<BranchState>(item)) {
                (Some((app_id, branch_name)), Some(state)) => StoredItem::BranchState {
                    app_id,
                    branch_name,
                    state,
                },
                _ => StoredItem::Other,
            },
            ALERTS_SK => {
                decode(item).map_or(StoredItem::Other, |a| StoredItem::Alerts(Box::new(a)))
            }
            ROLLBACK_SK => {
                decode(item).map_or(StoredItem::Other, |r| StoredItem::Rollback(Box::new(r)))
            }
            _ => StoredItem::Other,
        };
    }
    if pk.starts_with("METRICS#") {
        if sk.starts_with("ONCE#") {
            return StoredItem::Claim;
        }
        if sk.starts_with("SNAPSHOT#") {
            return sk
                .rsplit('#')
                .next()
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .map_or(StoredItem::Other, StoredItem::Snapshot);
        }
    }
    StoredItem::Other
}

impl CleanupStore for DynamoStore {
    async fn inventory(&self) -> Result<Vec<StoredEntry>, StoreError> {
        let mut entries = Vec::new();
        let mut start_key: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                    (item.get("PK"), item.get("SK"))
                else {
                    continue;
                };
                let key = ItemKey {
                    pk: pk.clone(),
                    sk: sk.clone(),
                };
                let expires_at = match item.get("expires_at") {
                    Some(AttributeValue::N(v)) => v.parse().ok(),
                    _ => None,
                };
                let decoded = stored_item(&key, item);
                entries.push(StoredEntry {
                    key,
                    expires_at,
                    item: decoded,
                });
            }
            let Some(next) = next_page(out.last_evaluated_key) else {
                return Ok(entries);
            };
            start_key = Some(next);
        }
    }

    async fn delete_item(&self, key: &ItemKey) -> Result<(), StoreError> {
        self.remove(&key.pk, &key.sk).await
    }

    async fn set_expiry(&self, key: &ItemKey, at: i64) -> Result<(), StoreError> {
        // Only on an item that still exists (never recreate a deleted one);
        // one already gone needs no expiry.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(&key.pk))
            .key("SK", s(&key.sk))
            .update_expression("SET expires_at = :at")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", n(at))
            .send()
            .await;
        written(result.map_err(sdk_error))?;
        Ok(())
    }
}
