//! [`PolicyStore`] on DynamoDB: one item per app, and per branch that has its
//! own.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{DynamoStore, Read, s, sdk_error};
use crate::core::error::StoreError;
use crate::core::model::{AppId, BranchName};
use crate::policy::BranchPolicy;
use crate::policy::{PolicyStore, StoredPolicy};

fn policy_pk(app_id: &AppId) -> String {
    format!("POLICY#{app_id}")
}

fn policy_sk(branch_name: Option<&BranchName>) -> String {
    branch_name.map_or_else(|| "APP".to_owned(), |b| format!("BRANCH#{b}"))
}

impl PolicyStore for DynamoStore {
    async fn get_policy(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<StoredPolicy>, StoreError> {
        for (sk, scope) in [
            (policy_sk(Some(branch_name)), "branch"),
            (policy_sk(None), "app"),
        ] {
            let Some(item) = self.fetch(policy_pk(app_id), sk, Read::Eventual).await? else {
                continue;
            };
            let Some(AttributeValue::S(text)) = item.get("policy") else {
                return Err(StoreError::Corrupt("policy item without a policy".into()));
            };
            let policy = BranchPolicy::parse_stored(text, "stored policy")
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            return Ok(Some(StoredPolicy {
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
        policy: &BranchPolicy,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(policy)
            .map_err(|e| StoreError::Rejected(format!("cannot encode policy: {e}")))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(policy_pk(app_id)))
            .item("SK", s(policy_sk(branch_name)))
            .item("entity", s("policy"))
            .item("policy", s(text))
            .item("updated_at", s(chrono::Utc::now().to_rfc3339()))
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error)
    }
}
