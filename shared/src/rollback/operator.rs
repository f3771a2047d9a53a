//! The operator's commands on a branch (`sentinel rollback`, `unlock`,
//! `rollback show`): the same state, lease and lock as the function's
//! reactions (`reaction`).

use chrono::Utc;

use crate::core::error::Error;
use crate::core::model::{AppId, BranchName};
use crate::ports::{AmplifyApi, Stack};
use crate::rollback::reaction::Rollbacker;
use crate::rollback::{BranchLock, RollbackState};

impl<K: Stack> Rollbacker<'_, K> {
    /// Re-enables auto-build and releases the branch's lock, recording who.
    /// Returns the lock that was released, if there was one.
    pub async fn unlock(
        &self,
        app: &AppId,
        branch: &BranchName,
    ) -> Result<Option<BranchLock>, Error> {
        self.amplify.set_auto_build(app, branch, true).await?;
        let now = Utc::now();
        let by = self.holder.clone();
        let (_, released) = self
            .update(app, branch, |state| {
                let lock = state.lock.take();
                state.audit(format!("{} unlocked by {by}", now.to_rfc3339()));
                (true, lock)
            })
            .await?;
        Ok(released)
    }

    /// The branch's rollback state, for `sentinel`.
    pub async fn show(&self, app: &AppId, branch: &BranchName) -> Result<RollbackState, Error> {
        self.state(app, branch).await
    }
}
