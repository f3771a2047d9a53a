//! The table's stores in memory: records, branch state, policies, alert
//! and rollback state, metrics snapshots and claims.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::StoreError;
use crate::core::model::{AppId, BranchName, Environment};
use crate::ports::{BranchPointer, BranchState, DeploymentFilter, DeploymentStore};

use super::{dkey, lock, take_one};

#[derive(Default)]
pub struct MemoryStore {
    deployments: Mutex<BTreeMap<(String, String, u64), Deployment>>,
    branches: Mutex<HashMap<(String, String), BranchState>>,
    alerts: Mutex<HashMap<(String, String), crate::alert::AlertState>>,
    rollbacks: Mutex<HashMap<(String, String), crate::rollback::RollbackState>>,
    snapshots: Mutex<HashMap<(String, String), crate::metrics::dora::Figures>>,
    github: Mutex<HashMap<(String, String), crate::github::state::GitHubState>>,
    claims: Mutex<std::collections::HashSet<String>>,
    /// Reported services' check places: (service, window start) → jobs.
    check_slots: Mutex<HashMap<(String, i64), std::collections::BTreeSet<String>>>,
    pub policies: MemoryPolicies,
    /// The next alert-state writes take effect, then answer `Conflict`, as a
    /// conditional write whose answer was lost does when the SDK retries it.
    pub lose_next_alert_write: AtomicUsize,
}

impl crate::ports::MetricsStore for MemoryStore {
    async fn deployments_between(
        &self,
        environment: Environment,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::ports::WindowRead, StoreError> {
        let deployments: Vec<Deployment> = lock(&self.deployments)
            .values()
            .filter(|d| d.environment == environment)
            .filter(|d| d.started_at().is_some_and(|t| t >= from && t < to))
            .cloned()
            .collect();
        Ok(crate::ports::WindowRead {
            items_read: deployments.len(),
            deployments,
        })
    }

    async fn put_snapshot(
        &self,
        figures: &crate::metrics::dora::Figures,
        dated: bool,
    ) -> Result<(), StoreError> {
        let window = if dated {
            format!("{}d#{}", figures.window_days, figures.to.format("%Y-%m-%d"))
        } else {
            figures.window_days.to_string()
        };
        lock(&self.snapshots).insert((figures.environment.to_string(), window), figures.clone());
        Ok(())
    }

    async fn latest_snapshot(
        &self,
        environment: Environment,
        window_days: u32,
    ) -> Result<Option<crate::metrics::dora::Figures>, StoreError> {
        Ok(lock(&self.snapshots)
            .get(&(environment.to_string(), window_days.to_string()))
            .cloned())
    }

    async fn claim_once(
        &self,
        environment: Environment,
        key: &str,
        _days: u32,
    ) -> Result<bool, StoreError> {
        Ok(lock(&self.claims).insert(format!("{environment}#{key}")))
    }

    async fn release_claim(&self, environment: Environment, key: &str) -> Result<(), StoreError> {
        lock(&self.claims).remove(&format!("{environment}#{key}"));
        Ok(())
    }
}

/// A versioned write to one of the memory maps.
fn save_versioned<T: Clone>(
    map: &Mutex<HashMap<(String, String), T>>,
    key: (String, String),
    value: &T,
    version: impl Fn(&T) -> u64,
    bump: impl Fn(&mut T),
) -> Result<(), StoreError> {
    let mut all = lock(map);
    let stored_version = all.get(&key).map(&version);
    let expected = version(value);
    if stored_version != (expected != 0).then_some(expected) {
        return Err(StoreError::Conflict);
    }
    let mut stored = value.clone();
    bump(&mut stored);
    all.insert(key, stored);
    Ok(())
}

impl crate::rollback::ports::RollbackStore for MemoryStore {
    async fn get_rollback_state(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<crate::rollback::RollbackState>, StoreError> {
        Ok(lock(&self.rollbacks)
            .get(&(app_id.to_string(), branch_name.to_string()))
            .cloned())
    }

    async fn save_rollback_state(
        &self,
        state: &crate::rollback::RollbackState,
    ) -> Result<(), StoreError> {
        save_versioned(
            &self.rollbacks,
            (state.app_id.to_string(), state.branch_name.to_string()),
            state,
            |s| s.version,
            |s| s.version += 1,
        )
    }
}

impl crate::policy::PolicyStore for MemoryStore {
    async fn get_policy(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<crate::policy::StoredPolicy>, StoreError> {
        self.policies.get_policy(app_id, branch_name).await
    }

    async fn put_policy(
        &self,
        app_id: &AppId,
        branch_name: Option<&BranchName>,
        policy: &crate::policy::BranchPolicy,
    ) -> Result<(), StoreError> {
        self.policies.put_policy(app_id, branch_name, policy).await
    }
}

impl MemoryStore {
    pub fn deployments(&self) -> Vec<Deployment> {
        lock(&self.deployments).values().cloned().collect()
    }
}

impl DeploymentStore for MemoryStore {
    async fn take_check_slot(&self, slot: &crate::ports::CheckSlot) -> Result<bool, StoreError> {
        let mut all = lock(&self.check_slots);
        let jobs = all
            .entry((slot.app_id.to_string(), slot.window_start))
            .or_default();
        if jobs.contains(&slot.job) {
            return Ok(true);
        }
        if jobs.len() >= slot.max {
            return Ok(false);
        }
        jobs.insert(slot.job.clone());
        Ok(true)
    }

    async fn get_deployment(&self, key: &DeploymentKey) -> Result<Option<Deployment>, StoreError> {
        Ok(lock(&self.deployments).get(&dkey(key)).cloned())
    }

    async fn save_deployment(&self, d: &Deployment) -> Result<(), StoreError> {
        let mut all = lock(&self.deployments);
        let stored_version = all.get(&dkey(&d.key)).map(|x| x.version);
        let expected = (d.version != 0).then_some(d.version);
        if stored_version != expected {
            return Err(StoreError::Conflict);
        }
        let mut stored = d.clone();
        stored.version += 1;
        all.insert(dkey(&d.key), stored);
        Ok(())
    }

    async fn clear_outbox(&self, key: &DeploymentKey, ids: &[String]) -> Result<(), StoreError> {
        let mut all = lock(&self.deployments);
        let d = all.get_mut(&dkey(key)).ok_or(StoreError::Conflict)?;
        for id in ids {
            d.outbox.remove(id);
        }
        d.version += 1;
        Ok(())
    }

    async fn list_deployments(
        &self,
        environment: Environment,
        filter: &DeploymentFilter,
    ) -> Result<Vec<Deployment>, StoreError> {
        let mut found: Vec<Deployment> = lock(&self.deployments)
            .values()
            .filter(|d| d.environment == environment)
            .filter(|d| filter.app_id.as_ref().is_none_or(|a| *a == d.key.app_id))
            .filter(|d| {
                filter
                    .branch_name
                    .as_ref()
                    .is_none_or(|b| *b == d.key.branch_name)
            })
            .cloned()
            .collect();
        found.sort_by_key(|d| std::cmp::Reverse(d.started_at()));
        found.truncate(if filter.limit == 0 { 50 } else { filter.limit });
        Ok(found)
    }

    async fn get_branch_state(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<BranchState, StoreError> {
        Ok(lock(&self.branches)
            .get(&(app_id.to_string(), branch_name.to_string()))
            .cloned()
            .unwrap_or_default())
    }

    async fn live_branches(
        &self,
        source: crate::core::model::Source,
        limit: usize,
    ) -> Result<Vec<(AppId, BranchName)>, StoreError> {
        let mut found: Vec<(AppId, BranchName)> = lock(&self.branches)
            .iter()
            .filter(|(_, state)| state.live_job.is_some())
            .filter_map(|((app, branch), _)| Some((app.parse().ok()?, branch.parse().ok()?)))
            .filter(|(app, _): &(AppId, BranchName)| app.source() == source)
            .collect();
        found.sort();
        found.truncate(limit);
        Ok(found)
    }

    async fn advance_pointer(
        &self,
        key: &DeploymentKey,
        commit_id: Option<&str>,
        pointer: BranchPointer,
    ) -> Result<bool, StoreError> {
        let mut branches = lock(&self.branches);
        let state = branches
            .entry((key.app_id.to_string(), key.branch_name.to_string()))
            .or_default();
        let (job, commit) = match pointer {
            BranchPointer::Live => (&mut state.live_job, &mut state.live_commit),
            BranchPointer::LastKnownGood => (
                &mut state.last_known_good_job,
                &mut state.last_known_good_commit,
            ),
        };
        if job.is_some_and(|current| current >= key.job_id) {
            return Ok(false);
        }
        *job = Some(key.job_id);
        *commit = commit_id.map(str::to_owned);
        Ok(true)
    }
}

impl crate::alert::ports::AlertStore for MemoryStore {
    async fn get_alert_state(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<crate::alert::AlertState>, StoreError> {
        Ok(lock(&self.alerts)
            .get(&(app_id.to_string(), branch_name.to_string()))
            .cloned())
    }

    async fn save_alert_state(&self, state: &crate::alert::AlertState) -> Result<(), StoreError> {
        save_versioned(
            &self.alerts,
            (state.app_id.to_string(), state.branch_name.to_string()),
            state,
            |s| s.version,
            |s| s.version += 1,
        )?;
        if take_one(&self.lose_next_alert_write) {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryPolicies {
    pub policies: Mutex<HashMap<(String, Option<String>), crate::policy::BranchPolicy>>,
}

impl crate::policy::PolicyStore for MemoryPolicies {
    async fn get_policy(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<crate::policy::StoredPolicy>, StoreError> {
        let all = lock(&self.policies);
        let branch = all.get(&(app_id.to_string(), Some(branch_name.to_string())));
        let found = branch
            .map(|p| (p, "branch"))
            .or_else(|| all.get(&(app_id.to_string(), None)).map(|p| (p, "app")));
        Ok(found.map(|(policy, scope)| crate::policy::StoredPolicy {
            policy: policy.clone(),
            scope: scope.into(),
        }))
    }

    async fn put_policy(
        &self,
        app_id: &AppId,
        branch_name: Option<&BranchName>,
        policy: &crate::policy::BranchPolicy,
    ) -> Result<(), StoreError> {
        lock(&self.policies).insert(
            (app_id.to_string(), branch_name.map(|b| b.to_string())),
            policy.clone(),
        );
        Ok(())
    }
}

impl crate::github::ports::GitHubStateStore for MemoryStore {
    async fn get_github_state(
        &self,
        key: &DeploymentKey,
    ) -> Result<Option<crate::github::state::GitHubState>, StoreError> {
        Ok(lock(&self.github).get(&github_key(key)).cloned())
    }

    async fn save_github_state(
        &self,
        state: &crate::github::state::GitHubState,
    ) -> Result<(), StoreError> {
        save_versioned(
            &self.github,
            github_key(&state.key),
            state,
            |s| s.version,
            |s| s.version += 1,
        )
    }
}

/// The GitHub state's key: the branch, and the job.
fn github_key(key: &DeploymentKey) -> (String, String) {
    (
        format!("{}#{}", key.app_id, key.branch_name),
        key.job_id.padded(),
    )
}
