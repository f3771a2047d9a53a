//! Every store port of [`crate::ports`] over one DynamoDB table.
//!
//! Item layout (single table):
//!
//! | item | PK | SK | GSI1PK / GSI1SK |
//! |---|---|---|---|
//! | deployment | `BRANCH#{appId}#{branch}` | `JOB#{jobId padded to 10}` | `ENV#{env}` / `{startedAt}#{appId}#{branch}#{job}` |
//! | branch state | `BRANCH#{appId}#{branch}` | `STATE` | `LIVE#{source}` / `{appId}#{branch}` (once a job is live) |
//! | alert state | `BRANCH#{appId}#{branch}` | `ALERTS` | — |
//! | rollback state | `BRANCH#{appId}#{branch}` | `ROLLBACK` | — |
//! | GitHub state of a job | `BRANCH#{appId}#{branch}` | `GITHUB#{jobId padded to 10}` | — |
//! | policy | `POLICY#{appId}` | `APP`, `BRANCH#{branch}` | — |
//! | metrics snapshot | `METRICS#{env}` | `LATEST#{days}d`, `SNAPSHOT#{days}d#{date}` | — |
//! | once-only claim | `METRICS#{env}` | `ONCE#{key}` | — |
//!
//! The GSI (`by-environment-time`) answers "deployments of an environment in
//! a time window" without a scan, and "the live branches of a source" (the
//! scheduled check's list) from the branch states' live pointers. `expires_at` (epoch seconds) drives TTL.
//!
//! One file per port: `deployments.rs` (records, outbox, branch state),
//! `policies.rs`, `branch_items.rs` (alert and rollback state),
//! `github_state.rs` (what was written to GitHub per job), `metrics.rs`,
//! `inventory.rs` (cleanup's view of the whole table). This file holds the
//! keys, codecs and requests they share.

mod branch_items;
mod deployments;
mod github_state;
mod inventory;
mod metrics;
mod policies;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration;

use super::sdk::{Failure, HasStatus, classify};
use crate::core::error::StoreError;
use crate::core::model::{AppId, BranchName};
use crate::core::version::Versioned;

pub const GSI_ENV_TIME: &str = "by-environment-time";
const STATE_SK: &str = "STATE";
const ALERTS_SK: &str = "ALERTS";
const ROLLBACK_SK: &str = "ROLLBACK";
/// The GitHub state items' sort keys start with it (then the job, padded).
const GITHUB_SK_PREFIX: &str = "GITHUB#";

pub struct DynamoStore {
    client: Client,
    table: String,
    retention: Duration,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, retention_days: u32) -> Self {
        Self {
            client,
            table: table.into(),
            retention: Duration::days(i64::from(retention_days)),
        }
    }
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn branch_pk(app_id: &AppId, branch_name: &BranchName) -> String {
    format!("BRANCH#{app_id}#{branch_name}")
}

/// Fixed-width RFC 3339 (milliseconds, `Z`): the start times in GSI1SK and
/// the window bounds queried against them must sort alike as text.
fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn decode_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn store_error(e: Failure) -> StoreError {
    match e {
        Failure::Transient(m) => StoreError::Unavailable(m),
        Failure::Rejected(m) | Failure::NotFound(m) => StoreError::Rejected(m),
        Failure::ConditionFailed => StoreError::Conflict,
    }
}

fn sdk_error<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HasStatus,
{
    store_error(classify(&e))
}

/// A conditional write's outcome: `false` when its condition did not hold,
/// which for these writes is an answer, not a failure.
fn written<T>(result: Result<T, StoreError>) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Where the next page starts: nowhere after the last page, whose key is
/// absent or empty.
fn next_page(last_evaluated_key: Option<Item>) -> Option<Item> {
    last_evaluated_key.filter(|k| !k.is_empty())
}

#[derive(Clone, Copy)]
enum Read {
    /// Sees every write acknowledged before it.
    Consistent,
    /// The table's default (no `ConsistentRead` is sent).
    Eventual,
}

impl DynamoStore {
    async fn fetch(
        &self,
        pk: impl Into<String>,
        sk: impl Into<String>,
        read: Read,
    ) -> Result<Option<Item>, StoreError> {
        let consistent = match read {
            Read::Consistent => Some(true),
            Read::Eventual => None,
        };
        self.client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .set_consistent_read(consistent)
            .send()
            .await
            .map(|out| out.item)
            .map_err(sdk_error)
    }

    async fn remove(&self, pk: impl Into<String>, sk: impl Into<String>) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Writes `value` one version on, tagged `entity` and with `attributes`
    /// (its keys, its TTL) beside its fields, if the table still holds the
    /// version it was read at: no item at all, for version 0.
    async fn save_versioned<T: Versioned + serde::Serialize + Clone>(
        &self,
        value: &T,
        entity: &str,
        attributes: impl IntoIterator<Item = (&'static str, AttributeValue)>,
    ) -> Result<(), StoreError> {
        let expected = value.version();
        let mut stored = value.clone();
        stored.bump_version();
        let mut item: Item = serde_dynamo::to_item(&stored)
            .map_err(|e| StoreError::Rejected(format!("cannot encode {entity}: {e}")))?;
        item.extend(attributes.into_iter().map(|(k, v)| (k.to_owned(), v)));
        item.insert("entity".into(), s(entity));
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = if expected == 0 {
            request.condition_expression("attribute_not_exists(PK)")
        } else {
            request
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(expected))
        };
        request.send().await.map(|_| ()).map_err(sdk_error)
    }
}
