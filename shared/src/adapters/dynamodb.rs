//! [`DeploymentStore`] over one DynamoDB table.
//!
//! Item layout (single table):
//!
//! | item | PK | SK | GSI1PK / GSI1SK |
//! |---|---|---|---|
//! | deployment | `BRANCH#{appId}#{branch}` | `JOB#{jobId padded to 10}` | `ENV#{env}` / `{startedAt}#{appId}#{branch}#{job}` |
//! | branch state | `BRANCH#{appId}#{branch}` | `STATE` | — |
//! | alert state | `BRANCH#{appId}#{branch}` | `ALERTS` | — |
//! | rollback state | `BRANCH#{appId}#{branch}` | `ROLLBACK` | — |
//! | metrics snapshot | `METRICS#{env}` | `LATEST#{days}d`, `SNAPSHOT#{days}d#{date}` | — |
//! | once-only claim | `METRICS#{env}` | `ONCE#{key}` | — |
//!
//! The GSI (`by-environment-time`) answers "deployments of an environment in
//! a time window" without a scan. `expires_at` (epoch seconds) drives TTL.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration;

use super::{Failure, classify};
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::StoreError;
use crate::core::model::{AppId, BranchName, Environment};
use crate::ports::{BranchPointer, BranchState, DeploymentFilter, DeploymentStore};

pub const GSI_ENV_TIME: &str = "by-environment-time";
const STATE_SK: &str = "STATE";
const ALERTS_SK: &str = "ALERTS";
const ROLLBACK_SK: &str = "ROLLBACK";

pub struct DynamoStore {
    client: Client,
    table: String,
    retention: Duration,
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

fn job_sk(key: &DeploymentKey) -> String {
    format!("JOB#{}", key.job_id.padded())
}

fn store_error(e: Failure) -> StoreError {
    match e {
        Failure::Transient(m) => StoreError::Unavailable(m),
        Failure::Rejected(m) | Failure::NotFound(m) => StoreError::Rejected(m),
        Failure::ConditionFailed => StoreError::Conflict,
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, retention_days: u32) -> Self {
        Self {
            client,
            table: table.into(),
            retention: Duration::days(i64::from(retention_days)),
        }
    }

    fn deployment_item(&self, d: &Deployment) -> Result<Item, StoreError> {
        let mut stored = d.clone();
        stored.version = d.version + 1;
        let mut item: Item = serde_dynamo::to_item(&stored)
            .map_err(|e| StoreError::Rejected(format!("cannot encode deployment: {e}")))?;
        let started = d.started_at().unwrap_or_default();
        item.insert("PK".into(), s(branch_pk(&d.key.app_id, &d.key.branch_name)));
        item.insert("SK".into(), s(job_sk(&d.key)));
        item.insert("GSI1PK".into(), s(format!("ENV#{}", d.environment)));
        item.insert(
            "GSI1SK".into(),
            s(format!(
                "{}#{}#{}#{}",
                started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                d.key.app_id,
                d.key.branch_name,
                d.key.job_id.padded()
            )),
        );
        item.insert("entity".into(), s("deployment"));
        // Counted from the job's start, not from the write, so the same
        // events in any order give the same item.
        item.insert(
            "expires_at".into(),
            n((started + self.retention).timestamp()),
        );
        Ok(item)
    }
}

fn decode_deployment(item: Item) -> Result<Deployment, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl DeploymentStore for DynamoStore {
    async fn get_deployment(&self, key: &DeploymentKey) -> Result<Option<Deployment>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(branch_pk(&key.app_id, &key.branch_name)))
            .key("SK", s(job_sk(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(classify(&e)))?;
        out.item.map(decode_deployment).transpose()
    }

    async fn save_deployment(&self, d: &Deployment) -> Result<(), StoreError> {
        let item = self.deployment_item(d)?;
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = if d.version == 0 {
            request.condition_expression("attribute_not_exists(PK)")
        } else {
            request
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(d.version))
        };
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_error(classify(&e)))
    }

    async fn clear_outbox(&self, key: &DeploymentKey, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(branch_pk(&key.app_id, &key.branch_name)))
            .key("SK", s(job_sk(key)))
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#outbox", "outbox")
            .expression_attribute_values(":one", n(1));
        let mut removals = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let name = format!("#o{i}");
            removals.push(format!("#outbox.{name}"));
            request = request.expression_attribute_names(name, id);
        }
        request
            .update_expression(format!(
                "SET version = version + :one REMOVE {}",
                removals.join(", ")
            ))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_error(classify(&e)))
    }

    async fn list_deployments(
        &self,
        environment: Environment,
        filter: &DeploymentFilter,
    ) -> Result<Vec<Deployment>, StoreError> {
        let limit = if filter.limit == 0 { 50 } else { filter.limit };
        let mut found = Vec::new();
        let mut start_key: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .scan_index_forward(false)
                .set_exclusive_start_key(start_key.take());
            q = match (&filter.app_id, &filter.branch_name) {
                (Some(app), Some(branch)) => q
                    .key_condition_expression("PK = :pk AND begins_with(SK, :job)")
                    .expression_attribute_values(":pk", s(branch_pk(app, branch)))
                    .expression_attribute_values(":job", s("JOB#")),
                _ => q
                    .index_name(GSI_ENV_TIME)
                    .key_condition_expression("GSI1PK = :env")
                    .expression_attribute_values(":env", s(format!("ENV#{environment}"))),
            };
            let out = q.send().await.map_err(|e| store_error(classify(&e)))?;
            for item in out.items.unwrap_or_default() {
                let d = decode_deployment(item)?;
                let wanted = filter.app_id.as_ref().is_none_or(|a| *a == d.key.app_id)
                    && filter
                        .branch_name
                        .as_ref()
                        .is_none_or(|b| *b == d.key.branch_name);
                if wanted {
                    found.push(d);
                }
                if found.len() >= limit {
                    return Ok(found);
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start_key = Some(k),
                _ => return Ok(found),
            }
        }
    }

    async fn get_branch_state(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<BranchState, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(branch_pk(app_id, branch_name)))
            .key("SK", s(STATE_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(classify(&e)))?;
        match out.item {
            None => Ok(BranchState::default()),
            Some(item) => {
                serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
            }
        }
    }

    async fn advance_pointer(
        &self,
        key: &DeploymentKey,
        commit_id: Option<&str>,
        pointer: BranchPointer,
    ) -> Result<bool, StoreError> {
        let p = pointer.attribute();
        let mut set = vec![
            format!("{p}Job = :job"),
            format!("{p}JobNumber = :n"),
            "entity = :entity".to_owned(),
        ];
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(branch_pk(&key.app_id, &key.branch_name)))
            .key("SK", s(STATE_SK))
            .condition_expression(format!(
                "attribute_not_exists({p}JobNumber) OR {p}JobNumber < :n"
            ))
            .expression_attribute_values(":job", s(key.job_id.to_string()))
            .expression_attribute_values(":n", n(key.job_id.number()))
            .expression_attribute_values(":entity", s("branch-state"));
        let update = match commit_id {
            Some(commit) => {
                set.push(format!("{p}Commit = :commit"));
                request = request.expression_attribute_values(":commit", s(commit));
                format!("SET {}", set.join(", "))
            }
            None => format!("SET {} REMOVE {p}Commit", set.join(", ")),
        };
        match request.update_expression(update).send().await {
            Ok(_) => Ok(true),
            Err(e) => match classify(&e) {
                Failure::ConditionFailed => Ok(false),
                other => Err(store_error(other)),
            },
        }
    }
}

fn policy_sk(branch_name: Option<&BranchName>) -> String {
    branch_name.map_or_else(|| "APP".to_owned(), |b| format!("BRANCH#{b}"))
}

impl crate::ports::PolicyStore for DynamoStore {
    async fn get_policy(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<crate::ports::StoredPolicy>, StoreError> {
        for (sk, scope) in [
            (policy_sk(Some(branch_name)), "branch"),
            (policy_sk(None), "app"),
        ] {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("PK", s(format!("POLICY#{app_id}")))
                .key("SK", s(sk))
                .send()
                .await
                .map_err(|e| store_error(classify(&e)))?;
            let Some(item) = out.item else { continue };
            let Some(AttributeValue::S(text)) = item.get("policy") else {
                return Err(StoreError::Corrupt("policy item without a policy".into()));
            };
            let policy = crate::policy::BranchPolicy::parse(text, "stored policy")
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            return Ok(Some(crate::ports::StoredPolicy {
                policy,
                scope: scope.into(),
            }));
        }
        Ok(None)
    }

    async fn put_policy(
        &self,
        app_id: &AppId,
        branch_name: Option<&BranchName>,
        policy: &crate::policy::BranchPolicy,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(policy)
            .map_err(|e| StoreError::Rejected(format!("cannot encode policy: {e}")))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(format!("POLICY#{app_id}")))
            .item("SK", s(policy_sk(branch_name)))
            .item("entity", s("policy"))
            .item("policy", s(text))
            .item("updated_at", s(chrono::Utc::now().to_rfc3339()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_error(classify(&e)))
    }
}

/// A versioned per-branch item holding one serialized value (alert state,
/// rollback state).
trait Versioned: serde::Serialize + serde::de::DeserializeOwned + Clone {
    fn version(&self) -> u64;
    fn set_version(&mut self, version: u64);
    fn pk(&self) -> String;
}

impl Versioned for crate::alert::AlertState {
    fn version(&self) -> u64 {
        self.version
    }
    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
    fn pk(&self) -> String {
        branch_pk(&self.app_id, &self.branch_name)
    }
}

impl Versioned for crate::rollback::RollbackState {
    fn version(&self) -> u64 {
        self.version
    }
    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
    fn pk(&self) -> String {
        branch_pk(&self.app_id, &self.branch_name)
    }
}

impl DynamoStore {
    async fn get_versioned<T: Versioned>(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(classify(&e)))?;
        out.item
            .map(|item| {
                serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .transpose()
    }

    async fn put_versioned<T: Versioned>(
        &self,
        value: &T,
        sk: &str,
        entity: &str,
    ) -> Result<(), StoreError> {
        let mut stored = value.clone();
        stored.set_version(value.version() + 1);
        let mut item: Item = serde_dynamo::to_item(&stored)
            .map_err(|e| StoreError::Rejected(format!("cannot encode {entity}: {e}")))?;
        item.insert("PK".into(), s(value.pk()));
        item.insert("SK".into(), s(sk));
        item.insert("entity".into(), s(entity));
        // Kept while the branch is active; a quiet branch's state expires.
        item.insert(
            "expires_at".into(),
            n((chrono::Utc::now() + self.retention).timestamp()),
        );
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = if value.version() == 0 {
            request.condition_expression("attribute_not_exists(PK)")
        } else {
            request
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(value.version()))
        };
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_error(classify(&e)))
    }
}

impl crate::ports::AlertStore for DynamoStore {
    async fn get_alert_state(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<crate::alert::AlertState>, StoreError> {
        self.get_versioned(branch_pk(app_id, branch_name), ALERTS_SK)
            .await
    }

    async fn save_alert_state(&self, state: &crate::alert::AlertState) -> Result<(), StoreError> {
        self.put_versioned(state, ALERTS_SK, "alerts").await
    }
}

impl crate::ports::RollbackStore for DynamoStore {
    async fn get_rollback_state(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<crate::rollback::RollbackState>, StoreError> {
        self.get_versioned(branch_pk(app_id, branch_name), ROLLBACK_SK)
            .await
    }

    async fn save_rollback_state(
        &self,
        state: &crate::rollback::RollbackState,
    ) -> Result<(), StoreError> {
        self.put_versioned(state, ROLLBACK_SK, "rollback").await
    }
}

fn metrics_pk(environment: Environment) -> String {
    format!("METRICS#{environment}")
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl crate::ports::MetricsStore for DynamoStore {
    async fn deployments_between(
        &self,
        environment: Environment,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::ports::WindowRead, StoreError> {
        let mut read = crate::ports::WindowRead::default();
        let mut start_key: Option<Item> = None;
        loop {
            // GSI1SK starts with the start time (fixed-width RFC 3339), so
            // the key condition selects exactly the window.
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI_ENV_TIME)
                .key_condition_expression("GSI1PK = :env AND GSI1SK BETWEEN :from AND :to")
                .expression_attribute_values(":env", s(format!("ENV#{environment}")))
                .expression_attribute_values(":from", s(iso(from)))
                .expression_attribute_values(":to", s(iso(to)))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| store_error(classify(&e)))?;
            read.items_read += out.scanned_count.max(out.count).max(0) as usize;
            for item in out.items.unwrap_or_default() {
                read.deployments.push(decode_deployment(item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start_key = Some(k),
                _ => return Ok(read),
            }
        }
    }

    async fn put_snapshot(
        &self,
        figures: &crate::metrics::dora::Figures,
        dated: bool,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(figures)
            .map_err(|e| StoreError::Rejected(format!("cannot encode figures: {e}")))?;
        let keys = if dated {
            // The day the window covers last (it ends at midnight).
            let day = figures.to - Duration::seconds(1);
            vec![(
                format!(
                    "SNAPSHOT#{}d#{}",
                    figures.window_days,
                    day.format("%Y-%m-%d")
                ),
                Some(figures.to + Duration::days(400)),
            )]
        } else {
            vec![(format!("LATEST#{}d", figures.window_days), None)]
        };
        for (sk, expires) in keys {
            let mut request = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("PK", s(metrics_pk(figures.environment)))
                .item("SK", s(sk))
                .item("entity", s("metrics"))
                .item("figures", s(body.clone()));
            if let Some(at) = expires {
                request = request.item("expires_at", n(at.timestamp()));
            }
            request
                .send()
                .await
                .map_err(|e| store_error(classify(&e)))?;
        }
        Ok(())
    }

    async fn latest_snapshot(
        &self,
        environment: Environment,
        window_days: u32,
    ) -> Result<Option<crate::metrics::dora::Figures>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(metrics_pk(environment)))
            .key("SK", s(format!("LATEST#{window_days}d")))
            .send()
            .await
            .map_err(|e| store_error(classify(&e)))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let Some(AttributeValue::S(body)) = item.get("figures") else {
            return Err(StoreError::Corrupt(
                "a metrics snapshot without figures".into(),
            ));
        };
        serde_json::from_str(body)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    async fn claim_once(
        &self,
        environment: Environment,
        key: &str,
        days: u32,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(metrics_pk(environment)))
            .item("SK", s(format!("ONCE#{key}")))
            .item("entity", s("once"))
            .item(
                "expires_at",
                n((chrono::Utc::now() + Duration::days(i64::from(days))).timestamp()),
            )
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match result.map_err(|e| store_error(classify(&e))) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn release_claim(&self, environment: Environment, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(metrics_pk(environment)))
            .key("SK", s(format!("ONCE#{key}")))
            .send()
            .await
            .map_err(|e| store_error(classify(&e)))?;
        Ok(())
    }
}

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

fn stored_item(key: &crate::ports::ItemKey, item: Item) -> crate::ports::StoredItem {
    use crate::ports::StoredItem;
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

impl crate::ports::CleanupStore for DynamoStore {
    async fn inventory(&self) -> Result<Vec<crate::ports::StoredEntry>, StoreError> {
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
                .map_err(|e| store_error(classify(&e)))?;
            for item in out.items.unwrap_or_default() {
                let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                    (item.get("PK"), item.get("SK"))
                else {
                    continue;
                };
                let key = crate::ports::ItemKey {
                    pk: pk.clone(),
                    sk: sk.clone(),
                };
                let expires_at = match item.get("expires_at") {
                    Some(AttributeValue::N(v)) => v.parse().ok(),
                    _ => None,
                };
                let decoded = stored_item(&key, item);
                entries.push(crate::ports::StoredEntry {
                    key,
                    expires_at,
                    item: decoded,
                });
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start_key = Some(k),
                _ => return Ok(entries),
            }
        }
    }

    async fn delete_item(&self, key: &crate::ports::ItemKey) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(&key.pk))
            .key("SK", s(&key.sk))
            .send()
            .await
            .map_err(|e| store_error(classify(&e)))?;
        Ok(())
    }

    async fn set_expiry(&self, key: &crate::ports::ItemKey, at: i64) -> Result<(), StoreError> {
        // Only on an item that still exists (never recreate a deleted one).
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
        match result.map_err(|e| store_error(classify(&e))) {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
