//! The port of the rollback function's per-branch state (lease, lock,
//! history), written with a version condition.

use std::future::Future;

use crate::core::error::StoreError;
use crate::core::model::{AppId, BranchName};

use super::state::RollbackState;

/// Per-branch rollback state, written with a version condition.
pub trait RollbackStore: Send + Sync {
    fn get_rollback_state(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> impl Future<Output = Result<Option<RollbackState>, StoreError>> + Send;

    /// Writes the state if its stored version is still `state.version`
    /// (absent for 0), storing it with version + 1; else
    /// [`StoreError::Conflict`].
    fn save_rollback_state(
        &self,
        state: &RollbackState,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
