//! [`GitHubStateStore`] on DynamoDB: one versioned item per job, beside the
//! job's record (`BRANCH#{appId}#{branch}` / `GITHUB#{job padded}`), kept
//! as long as records are (`expires_at`, the table's TTL).

use super::{DynamoStore, GITHUB_SK_PREFIX, Read, branch_pk, decode_item, n, s};
use crate::core::deployment::DeploymentKey;
use crate::core::error::StoreError;
use crate::github::ports::GitHubStateStore;
use crate::github::state::GitHubState;

/// The item's sort key.
pub fn github_sk(key: &DeploymentKey) -> String {
    format!("{GITHUB_SK_PREFIX}{}", key.job_id.padded())
}

impl GitHubStateStore for DynamoStore {
    async fn get_github_state(
        &self,
        key: &DeploymentKey,
    ) -> Result<Option<GitHubState>, StoreError> {
        self.fetch(
            branch_pk(&key.app_id, &key.branch_name),
            github_sk(key),
            Read::Consistent,
        )
        .await?
        .map(decode_item)
        .transpose()
    }

    async fn save_github_state(&self, state: &GitHubState) -> Result<(), StoreError> {
        let key = &state.key;
        let attributes = [
            ("PK", s(branch_pk(&key.app_id, &key.branch_name))),
            ("SK", s(github_sk(key))),
            // As long as the job's record: GitHub's objects outlive neither.
            (
                "expires_at",
                n((chrono::Utc::now() + self.retention).timestamp()),
            ),
        ];
        self.save_versioned(state, "github", attributes).await
    }
}
