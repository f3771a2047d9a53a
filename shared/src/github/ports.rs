//! The port of what Sentinel wrote to GitHub for each job
//! ([`GitHubState`]), written with a version condition.

use std::future::Future;

use crate::core::deployment::DeploymentKey;
use crate::core::error::StoreError;

use super::state::GitHubState;

/// What Sentinel wrote to GitHub for each job (`github::state`), written
/// with a version condition.
pub trait GitHubStateStore: Send + Sync {
    fn get_github_state(
        &self,
        key: &DeploymentKey,
    ) -> impl Future<Output = Result<Option<GitHubState>, StoreError>> + Send;

    /// Writes the state if its stored version is still `state.version`
    /// (absent for 0), storing it with version + 1; else
    /// [`StoreError::Conflict`].
    fn save_github_state(
        &self,
        state: &GitHubState,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
