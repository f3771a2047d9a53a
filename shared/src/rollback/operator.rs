//! The operator's commands on a branch (`sentinel rollback`, `unlock`,
//! `rollback show`): the same state, lease and lock as the function's
//! reactions (`reaction`).

use chrono::Utc;

use crate::core::error::Error;
use crate::core::model::{AppId, BranchName};
use crate::ports::AmplifyApi;
use crate::rollback::reaction::Rollbacker;
use crate::rollback::{BranchLock, RollbackState};
use crate::stack::Stack;

impl<K: Stack> Rollbacker<'_, K> {
    /// Releases the branch's lock, recording who, and gives the branch back
    /// its auto-build as it was before the lock: a branch the team keeps on
    /// manual builds stays manual. Without a lock, changes nothing and
    /// answers `None`. Returns the lock that was released.
    pub async fn unlock(
        &self,
        app: &AppId,
        branch: &BranchName,
    ) -> Result<Option<BranchLock>, Error> {
        let Some(lock) = self.state(app, branch).await?.lock else {
            return Ok(None);
        };
        // Amplify first: if it fails, the lock is still there to retry.
        if lock.auto_build_before != Some(false) {
            self.amplify.set_auto_build(app, branch, true).await?;
        }
        let now = Utc::now();
        let by = self.holder.clone();
        let (_, released) = self
            .update(app, branch, |state| match state.lock.take() {
                Some(lock) => {
                    state.audit(format!("{} unlocked by {by}", now.to_rfc3339()));
                    (true, Some(lock))
                }
                None => (false, None),
            })
            .await?;
        Ok(released.or(Some(lock)))
    }

    /// The branch's rollback state, for `sentinel`.
    pub async fn show(&self, app: &AppId, branch: &BranchName) -> Result<RollbackState, Error> {
        self.state(app, branch).await
    }
}
