//! [`DeploymentStore`] on DynamoDB: deployment records (with their outbox)
//! and the branch-state pointers.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{
    DynamoStore, GSI_ENV_TIME, Item, Read, STATE_SK, branch_pk, decode_item, iso, n, next_page, s,
    sdk_error, written,
};
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::StoreError;
use crate::core::model::{AppId, BranchName, Environment, Source};
use crate::ports::{BranchPointer, BranchState, DeploymentFilter, DeploymentStore};

/// A reported service's check places (`health::rate`): beside its records,
/// never among them (`BRANCH#…` items are the inventory's), and gone with
/// the table's TTL.
fn rate_pk(app_id: &AppId) -> String {
    format!("RATE#{app_id}")
}

fn job_sk(key: &DeploymentKey) -> String {
    format!("JOB#{}", key.job_id.padded())
}

/// The index partition (`GSI1PK`, not the table's key) of one source's
/// live branches: beside the environment's records (`ENV#…`), never among
/// them, and one per source, so that reported services cannot crowd out
/// Amplify's branches. A table holds one environment (one stack each).
/// Not named `*_pk`: `least_privilege.py` reads those as table keys.
fn live_index_key(source: Source) -> String {
    format!("LIVE#{source}")
}

/// `(app, branch)` from a live-branch entry's `GSI1SK` (`{app}#{branch}`:
/// app ids hold no `#`, branch names may).
fn live_entry(item: &Item) -> Option<(AppId, BranchName)> {
    let AttributeValue::S(sk) = item.get("GSI1SK")? else {
        return None;
    };
    let (app, branch) = sk.split_once('#')?;
    Some((app.parse().ok()?, branch.parse().ok()?))
}

impl DynamoStore {
    /// The keys, index keys and TTL stored beside a record's fields.
    fn deployment_attributes(&self, d: &Deployment) -> [(&'static str, AttributeValue); 5] {
        let started = d.started_at().unwrap_or_default();
        [
            ("PK", s(branch_pk(&d.key.app_id, &d.key.branch_name))),
            ("SK", s(job_sk(&d.key))),
            ("GSI1PK", s(format!("ENV#{}", d.environment))),
            (
                "GSI1SK",
                s(format!(
                    "{}#{}#{}#{}",
                    iso(started),
                    d.key.app_id,
                    d.key.branch_name,
                    d.key.job_id.padded()
                )),
            ),
            // Counted from the job's start, not from the write, so the same
            // events in any order give the same item.
            ("expires_at", n((started + self.retention).timestamp())),
        ]
    }
}

impl DeploymentStore for DynamoStore {
    async fn take_check_slot(&self, slot: &crate::ports::CheckSlot) -> Result<bool, StoreError> {
        // One item per service and window holding the set of jobs with a
        // place: adding a job already in it changes nothing (a redelivery),
        // and a new job goes in only while the set has room.
        written(
            self.client
                .update_item()
                .table_name(&self.table)
                .key("PK", s(rate_pk(&slot.app_id)))
                .key("SK", s(format!("WINDOW#{}", slot.window_start)))
                .update_expression("ADD jobs :jobs SET expires_at = :expires")
                .condition_expression(
                    "attribute_not_exists(jobs) OR contains(jobs, :job) OR size(jobs) < :max",
                )
                .expression_attribute_values(":jobs", AttributeValue::Ss(vec![slot.job.clone()]))
                .expression_attribute_values(":job", s(slot.job.clone()))
                .expression_attribute_values(":max", n(slot.max))
                .expression_attribute_values(":expires", n(slot.expires_at))
                .send()
                .await
                .map_err(sdk_error),
        )
    }

    async fn get_deployment(&self, key: &DeploymentKey) -> Result<Option<Deployment>, StoreError> {
        let pk = branch_pk(&key.app_id, &key.branch_name);
        self.fetch(pk, job_sk(key), Read::Consistent)
            .await?
            .map(decode_item)
            .transpose()
    }

    async fn save_deployment(&self, d: &Deployment) -> Result<(), StoreError> {
        // The last guard: an oversized record is shrunk, never refused.
        let mut fitted = d.clone();
        let d = if fitted.fit_budget() { &fitted } else { d };
        self.save_versioned(d, "deployment", self.deployment_attributes(d))
            .await
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
            .map_err(sdk_error)
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
            let out = q.send().await.map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                let d: Deployment = decode_item(item)?;
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
            let Some(next) = next_page(out.last_evaluated_key) else {
                return Ok(found);
            };
            start_key = Some(next);
        }
    }

    async fn get_branch_state(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<BranchState, StoreError> {
        let item = self
            .fetch(branch_pk(app_id, branch_name), STATE_SK, Read::Consistent)
            .await?;
        Ok(item.map(decode_item).transpose()?.unwrap_or_default())
    }

    async fn live_branches(
        &self,
        source: Source,
        limit: usize,
    ) -> Result<Vec<(AppId, BranchName)>, StoreError> {
        let mut found = Vec::new();
        let mut start_key: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI_ENV_TIME)
                .key_condition_expression("GSI1PK = :live")
                .expression_attribute_values(":live", s(live_index_key(source)))
                .projection_expression("GSI1SK")
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                match live_entry(&item) {
                    Some(entry) => found.push(entry),
                    // Not a key this adapter wrote: skipped, not fatal to
                    // every other branch's check.
                    None => tracing::warn!(?item, "unreadable live-branch entry; skipped"),
                }
                if found.len() >= limit {
                    return Ok(found);
                }
            }
            let Some(next) = next_page(out.last_evaluated_key) else {
                return Ok(found);
            };
            start_key = Some(next);
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
        if pointer == BranchPointer::Live {
            // The branch's entry in the live-branch list (the index, under
            // its source's own partition): written with the pointer itself.
            set.push("GSI1PK = :livepk".to_owned());
            set.push("GSI1SK = :livesk".to_owned());
            request = request
                .expression_attribute_values(":livepk", s(live_index_key(key.app_id.source())))
                .expression_attribute_values(
                    ":livesk",
                    s(format!("{}#{}", key.app_id, key.branch_name)),
                );
        }
        let update = match commit_id {
            Some(commit) => {
                set.push(format!("{p}Commit = :commit"));
                request = request.expression_attribute_values(":commit", s(commit));
                format!("SET {}", set.join(", "))
            }
            None => format!("SET {} REMOVE {p}Commit", set.join(", ")),
        };
        // A pointer already at this job or a later one is not an error:
        // events arrive in any order.
        written(
            request
                .update_expression(update)
                .send()
                .await
                .map_err(sdk_error),
        )
    }
}
