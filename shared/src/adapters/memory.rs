//! In-memory ports for unit tests. They keep the same contracts as the AWS
//! adapters (conditional writes, per-entry publish failures), and can be told
//! to fail, so domain logic is tested without a server.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::deployment::{Deployment, DeploymentKey, JobDetails};
use crate::error::{AmplifyError, PublishError, StoreError};
use crate::events::OutboxEntry;
use crate::model::{AppId, BranchName, BuildStatus, Environment, JobId};
use crate::ports::{
    AmplifyApi, AppInfo, BranchInfo, BranchPointer, BranchState, DeadLetterSink, DeploymentFilter,
    DeploymentStore, EventPublisher, JobSummary, StartJob,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another test thread panicked; the data is
    // still usable for the assertion that follows.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
pub struct MemoryStore {
    deployments: Mutex<BTreeMap<(String, String, u64), Deployment>>,
    branches: Mutex<HashMap<(String, String), BranchState>>,
}

fn dkey(k: &DeploymentKey) -> (String, String, u64) {
    (
        k.app_id.to_string(),
        k.branch_name.to_string(),
        k.job_id.number(),
    )
}

impl MemoryStore {
    pub fn deployments(&self) -> Vec<Deployment> {
        lock(&self.deployments).values().cloned().collect()
    }
}

impl DeploymentStore for MemoryStore {
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

/// Jobs by key; a missing job answers NotFound. `fail_next` makes the next
/// `get_job` calls fail as unavailable.
#[derive(Default)]
pub struct MemoryAmplify {
    pub jobs: Mutex<HashMap<(String, String, u64), JobDetails>>,
    pub fail_next: AtomicUsize,
    pub calls: AtomicUsize,
}

impl MemoryAmplify {
    pub fn with_job(key: &DeploymentKey, details: JobDetails) -> Self {
        let amplify = Self::default();
        lock(&amplify.jobs).insert(dkey(key), details);
        amplify
    }
}

fn unsupported<T>(op: &str) -> Result<T, AmplifyError> {
    Err(AmplifyError::Rejected(format!(
        "{op} is not supported by the in-memory Amplify"
    )))
}

impl AmplifyApi for MemoryAmplify {
    async fn get_app(&self, _app_id: &AppId) -> Result<AppInfo, AmplifyError> {
        unsupported("GetApp")
    }
    async fn get_branch(&self, _a: &AppId, _b: &BranchName) -> Result<BranchInfo, AmplifyError> {
        unsupported("GetBranch")
    }
    async fn get_job(&self, key: &DeploymentKey) -> Result<JobDetails, AmplifyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(AmplifyError::Unavailable("injected failure".into()));
        }
        lock(&self.jobs)
            .get(&dkey(key))
            .cloned()
            .ok_or_else(|| AmplifyError::NotFound(format!("job {}", key.job_id)))
    }
    async fn list_jobs(
        &self,
        _a: &AppId,
        _b: &BranchName,
        _limit: usize,
    ) -> Result<Vec<JobSummary>, AmplifyError> {
        unsupported("ListJobs")
    }
    async fn start_job(
        &self,
        _a: &AppId,
        _b: &BranchName,
        _job: StartJob,
        _reason: &str,
    ) -> Result<JobId, AmplifyError> {
        unsupported("StartJob")
    }
    async fn stop_job(&self, _key: &DeploymentKey) -> Result<BuildStatus, AmplifyError> {
        unsupported("StopJob")
    }
    async fn set_auto_build(
        &self,
        _a: &AppId,
        _b: &BranchName,
        _enabled: bool,
    ) -> Result<(), AmplifyError> {
        unsupported("UpdateBranch")
    }
}

/// Records what was published; `fail_next` rejects the next publications.
#[derive(Default)]
pub struct MemoryPublisher {
    pub published: Mutex<Vec<OutboxEntry>>,
    pub fail_next: AtomicUsize,
}

impl MemoryPublisher {
    pub fn detail_types(&self) -> Vec<String> {
        lock(&self.published)
            .iter()
            .map(|e| e.detail_type.clone())
            .collect()
    }
}

impl EventPublisher for MemoryPublisher {
    async fn publish(&self, entries: &[OutboxEntry]) -> Result<(), PublishError> {
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(PublishError::Partial {
                failed: entries.len(),
                total: entries.len(),
                reason: "injected failure".into(),
            });
        }
        lock(&self.published).extend_from_slice(entries);
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryDeadLetter {
    pub messages: Mutex<Vec<(String, String, String)>>,
}

impl DeadLetterSink for MemoryDeadLetter {
    async fn send(&self, body: &str, error_type: &str, reason: &str) -> Result<(), String> {
        lock(&self.messages).push((body.into(), error_type.into(), reason.into()));
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryPolicies {
    pub policies: Mutex<HashMap<(String, Option<String>), crate::validate::Policy>>,
}

impl crate::ports::PolicyStore for MemoryPolicies {
    async fn get_policy(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<crate::ports::StoredPolicy>, StoreError> {
        let all = lock(&self.policies);
        let branch = all.get(&(app_id.to_string(), Some(branch_name.to_string())));
        let found = branch
            .map(|p| (p, "branch"))
            .or_else(|| all.get(&(app_id.to_string(), None)).map(|p| (p, "app")));
        Ok(found.map(|(policy, scope)| crate::ports::StoredPolicy {
            policy: policy.clone(),
            scope: scope.into(),
        }))
    }

    async fn put_policy(
        &self,
        app_id: &AppId,
        branch_name: Option<&BranchName>,
        policy: &crate::validate::Policy,
    ) -> Result<(), StoreError> {
        lock(&self.policies).insert(
            (app_id.to_string(), branch_name.map(|b| b.to_string())),
            policy.clone(),
        );
        Ok(())
    }
}
