//! One writer per job: the short lease on the job's GitHub state item
//! that the reconciliation runs under, and the versioned write every change
//! of that item goes through.

use chrono::Utc;

use super::{Failure, GitHubReporter};
use crate::core::deployment::DeploymentKey;
use crate::core::error::Error;
use crate::effects::MAX_WRITE_ATTEMPTS;
use crate::github::ports::GitHubStateStore;
use crate::github::state::{GitHubState, LEASE};
use crate::ports::RetryQueue;
use crate::stack::Stack;

impl<K: Stack, Q: RetryQueue> GitHubReporter<'_, K, Q> {
    /// Under the job's lease: render and apply what differs. The number of
    /// objects written.
    pub(super) async fn reconcile(&self, key: &DeploymentKey) -> Result<usize, Failure> {
        // Unique per reconciliation: two messages of one batch share the
        // invocation's request id, and must not share a lease.
        static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let owner = format!(
            "{}#{}",
            self.owner,
            SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let now = Utc::now();
        let mut state = self
            .modify(key, |s| {
                if s.leased_by_other(&owner, now) {
                    return Err(Failure::busy());
                }
                s.lease_owner = Some(owner.clone());
                s.lease_until = Some(now + LEASE);
                Ok(())
            })
            .await?;
        let result = self.apply(key, &mut state).await;
        let released = self
            .modify(key, |s| {
                if s.lease_owner.as_deref() == Some(owner.as_str()) {
                    s.lease_owner = None;
                    s.lease_until = None;
                }
                Ok(())
            })
            .await;
        if let Err(f) = released {
            // It expires on its own within LEASE.
            tracing::warn!(reason = %f.reason, "the GitHub lease was not released");
        }
        result
    }

    /// Reads the job's state item (a new one if none), changes it, and
    /// writes it under its version; on a conflict, reads and changes again.
    pub(super) async fn modify(
        &self,
        key: &DeploymentKey,
        change: impl Fn(&mut GitHubState) -> Result<(), Failure>,
    ) -> Result<GitHubState, Failure> {
        let mut last = None;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let mut state = self
                .store
                .get_github_state(key)
                .await
                .map_err(Error::from)?
                .unwrap_or_else(|| GitHubState::new(key.clone()));
            change(&mut state)?;
            match self.store.save_github_state(&state).await {
                Ok(()) => {
                    state.version += 1;
                    return Ok(state);
                }
                Err(e @ crate::core::error::StoreError::Conflict) => last = Some(e),
                Err(e) => return Err(Error::from(e).into()),
            }
        }
        Err(Error::from(last.unwrap_or(crate::core::error::StoreError::Conflict)).into())
    }
}
