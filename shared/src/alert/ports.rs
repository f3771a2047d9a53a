//! The ports the alerter talks to: its per-branch state, and where alerts
//! go (the SNS topic). Implemented in `adapters` (AWS) and
//! `adapters::memory` (unit tests).

use std::future::Future;

use crate::core::error::{PublishError, StoreError};
use crate::core::model::{AppId, BranchName};

use super::message::Notification;
use super::state::AlertState;

/// Per-branch alert state, written with a version condition.
pub trait AlertStore: Send + Sync {
    fn get_alert_state(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> impl Future<Output = Result<Option<AlertState>, StoreError>> + Send;

    /// Writes the state if its stored version is still `state.version`
    /// (absent for 0), storing it with version + 1; else
    /// [`StoreError::Conflict`].
    fn save_alert_state(
        &self,
        state: &AlertState,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Where alerts go (the SNS topic).
pub trait Notifier: Send + Sync {
    fn notify(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}
