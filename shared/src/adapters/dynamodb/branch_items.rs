//! [`AlertStore`] and [`RollbackStore`] on DynamoDB: one versioned item per
//! branch each, beside the branch's records.

use super::{ALERTS_SK, DynamoStore, ROLLBACK_SK, Read, branch_pk, decode_item, n, s};
use crate::alert::AlertState;
use crate::alert::ports::AlertStore;
use crate::core::error::StoreError;
use crate::core::model::{AppId, BranchName};
use crate::core::version::Versioned;
use crate::rollback::RollbackState;
use crate::rollback::ports::RollbackStore;

/// Where a kind of per-branch state is kept, and how its item is tagged.
trait BranchItem: Versioned + serde::Serialize + serde::de::DeserializeOwned + Clone {
    const SK: &'static str;
    const ENTITY: &'static str;
}

impl BranchItem for AlertState {
    const SK: &'static str = ALERTS_SK;
    const ENTITY: &'static str = "alerts";
}

impl BranchItem for RollbackState {
    const SK: &'static str = ROLLBACK_SK;
    const ENTITY: &'static str = "rollback";
}

impl DynamoStore {
    async fn get_branch_item<T: BranchItem>(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<T>, StoreError> {
        self.fetch(branch_pk(app_id, branch_name), T::SK, Read::Consistent)
            .await?
            .map(decode_item)
            .transpose()
    }

    async fn save_branch_item<T: BranchItem>(
        &self,
        value: &T,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<(), StoreError> {
        let attributes = [
            ("PK", s(branch_pk(app_id, branch_name))),
            ("SK", s(T::SK)),
            // Kept while the branch is active; a quiet branch's state expires.
            (
                "expires_at",
                n((chrono::Utc::now() + self.retention).timestamp()),
            ),
        ];
        self.save_versioned(value, T::ENTITY, attributes).await
    }
}

impl AlertStore for DynamoStore {
    async fn get_alert_state(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<AlertState>, StoreError> {
        self.get_branch_item(app_id, branch_name).await
    }

    async fn save_alert_state(&self, state: &AlertState) -> Result<(), StoreError> {
        self.save_branch_item(state, &state.app_id, &state.branch_name)
            .await
    }
}

impl RollbackStore for DynamoStore {
    async fn get_rollback_state(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<RollbackState>, StoreError> {
        self.get_branch_item(app_id, branch_name).await
    }

    async fn save_rollback_state(&self, state: &RollbackState) -> Result<(), StoreError> {
        self.save_branch_item(state, &state.app_id, &state.branch_name)
            .await
    }
}
