//! In-memory ports for unit tests. They keep the same contracts as the AWS
//! adapters (conditional writes, per-entry publish failures), and can be told
//! to fail, so domain logic is tested without a server.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::core::deployment::{Deployment, DeploymentKey, JobDetails};
use crate::core::error::{AmplifyError, PublishError, StoreError};
use crate::core::model::{AppId, BranchName, BuildStatus, Environment, JobId};
use crate::core::outbox::OutboxEntry;
use crate::ports::{
    AmplifyApi, AppInfo, BranchInfo, BranchPointer, BranchState, DeadLetterSink, DeploymentFilter,
    DeploymentStore, EventPublisher, JobSummary, StartJob,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another test thread panicked; the data is
    // still usable for the assertion that follows.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The stack in memory, for unit tests.
pub struct InMemory;

impl crate::ports::Stack for InMemory {
    type Store = MemoryStore;
    type Amplify = MemoryAmplify;
    type Publisher = MemoryPublisher;
    type DeadLetter = MemoryDeadLetter;
    type Notifier = MemoryNotifier;
    type Logs = MemoryLogs;
}

#[derive(Default)]
pub struct MemoryStore {
    deployments: Mutex<BTreeMap<(String, String, u64), Deployment>>,
    branches: Mutex<HashMap<(String, String), BranchState>>,
    alerts: Mutex<HashMap<(String, String), crate::alert::AlertState>>,
    rollbacks: Mutex<HashMap<(String, String), crate::rollback::RollbackState>>,
    snapshots: Mutex<HashMap<(String, String), crate::metrics::dora::Figures>>,
    claims: Mutex<std::collections::HashSet<String>>,
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

impl crate::ports::RollbackStore for MemoryStore {
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

impl crate::ports::PolicyStore for MemoryStore {
    async fn get_policy(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<Option<crate::ports::StoredPolicy>, StoreError> {
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

impl crate::ports::AlertStore for MemoryStore {
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

/// Records notifications; `fail_next` rejects the next ones as unavailable.
#[derive(Default)]
pub struct MemoryNotifier {
    pub sent: Mutex<Vec<crate::alert::Notification>>,
    pub fail_next: AtomicUsize,
}

impl MemoryNotifier {
    pub fn sent(&self) -> Vec<crate::alert::Notification> {
        lock(&self.sent).clone()
    }
}

impl crate::ports::Notifier for MemoryNotifier {
    async fn notify(&self, n: &crate::alert::Notification) -> Result<(), PublishError> {
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(PublishError::Unavailable("injected failure".into()));
        }
        lock(&self.sent).push(n.clone());
        Ok(())
    }
}

/// Logs by URL; a URL it does not hold is unavailable (expired).
#[derive(Default)]
pub struct MemoryLogs {
    pub logs: Mutex<HashMap<String, Vec<u8>>>,
}

impl crate::ports::LogSource for MemoryLogs {
    async fn read_log(
        &self,
        url: &str,
        into: &mut crate::diagnose::Diagnoser,
    ) -> Result<(), crate::ports::LogError> {
        let logs = lock(&self.logs);
        let log = logs
            .get(url)
            .ok_or_else(|| crate::ports::LogError::Unavailable("403 Request has expired".into()))?;
        for chunk in log.chunks(8192) {
            into.feed(chunk);
        }
        Ok(())
    }
}

/// Jobs by key; a missing job answers NotFound. `fail_next` makes the next
/// `get_job` calls fail as unavailable.
#[derive(Default)]
pub struct MemoryAmplify {
    pub jobs: Mutex<HashMap<(String, String, u64), JobDetails>>,
    /// GetApp and GetBranch answers; a missing one answers NotFound.
    pub apps: Mutex<HashMap<String, AppInfo>>,
    pub branches: Mutex<HashMap<(String, String), BranchInfo>>,
    /// The failed step's log URL per job.
    pub log_urls: Mutex<HashMap<(String, String, u64), String>>,
    pub fail_next: AtomicUsize,
    pub calls: AtomicUsize,
    /// StartJob calls: (app, branch, job started, what was asked).
    pub started: Mutex<Vec<(String, String, JobId, StartJob)>>,
    /// UpdateBranch enableAutoBuild per (app, branch).
    pub auto_build: Mutex<HashMap<(String, String), bool>>,
    /// The next StartJob calls fail before starting anything.
    pub fail_next_start: AtomicUsize,
    /// The next StartJob calls start their job, then fail as if the answer
    /// had been lost on the way back.
    pub lose_next_start: AtomicUsize,
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
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
    async fn get_app(&self, app_id: &AppId) -> Result<AppInfo, AmplifyError> {
        lock(&self.apps)
            .get(app_id.as_str())
            .cloned()
            .ok_or_else(|| AmplifyError::NotFound(format!("app {app_id}")))
    }
    async fn get_branch(&self, a: &AppId, b: &BranchName) -> Result<BranchInfo, AmplifyError> {
        lock(&self.branches)
            .get(&(a.to_string(), b.to_string()))
            .cloned()
            .ok_or_else(|| AmplifyError::NotFound(format!("branch {a}/{b}")))
    }
    async fn list_apps(&self) -> Result<Vec<AppId>, AmplifyError> {
        let mut apps: Vec<AppId> = lock(&self.apps)
            .values()
            .map(|a| a.app_id.clone())
            .collect();
        apps.sort();
        Ok(apps)
    }
    async fn list_branches(&self, app_id: &AppId) -> Result<Vec<BranchName>, AmplifyError> {
        let mut branches: Vec<BranchName> = lock(&self.branches)
            .iter()
            .filter(|((a, _), _)| a == app_id.as_str())
            .map(|(_, b)| b.branch_name.clone())
            .collect();
        branches.sort();
        Ok(branches)
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
    async fn get_log_url(
        &self,
        key: &DeploymentKey,
    ) -> Result<Option<crate::ports::StepLog>, AmplifyError> {
        Ok(lock(&self.log_urls)
            .get(&dkey(key))
            .map(|url| crate::ports::StepLog {
                step: "BUILD".into(),
                status: BuildStatus::Failed,
                url: url.clone(),
            }))
    }
    async fn list_jobs(
        &self,
        a: &AppId,
        b: &BranchName,
        limit: usize,
    ) -> Result<Vec<JobSummary>, AmplifyError> {
        let mut found: Vec<JobSummary> = lock(&self.jobs)
            .iter()
            .filter(|((app, branch, _), _)| app == a.as_str() && branch == b.as_str())
            .map(|((_, _, n), d)| JobSummary {
                job_id: JobId::new(*n),
                status: d.status.clone().unwrap_or(BuildStatus::Started),
                commit_id: d.commit_id.clone(),
                job_type: d.job_type.clone(),
                start_time: d.start_time,
                end_time: d.end_time,
            })
            .collect();
        found.sort_by_key(|j| std::cmp::Reverse(j.job_id));
        found.truncate(limit);
        Ok(found)
    }
    async fn start_job(
        &self,
        a: &AppId,
        b: &BranchName,
        job: StartJob,
        _reason: &str,
    ) -> Result<JobId, AmplifyError> {
        if take_one(&self.fail_next_start) {
            return Err(AmplifyError::Unavailable(
                "injected StartJob failure".into(),
            ));
        }
        let mut jobs = lock(&self.jobs);
        let next = jobs
            .keys()
            .filter(|(app, branch, _)| app == a.as_str() && branch == b.as_str())
            .map(|(_, _, n)| *n)
            .max()
            .unwrap_or(0)
            + 1;
        let commit = match job {
            StartJob::Retry(old) => jobs
                .get(&(a.to_string(), b.to_string(), old.number()))
                .and_then(|d| d.commit_id.clone()),
            StartJob::Release => None,
        };
        let details = JobDetails {
            commit_id: commit,
            job_type: Some(
                if matches!(job, StartJob::Retry(_)) {
                    "RETRY"
                } else {
                    "RELEASE"
                }
                .into(),
            ),
            start_time: Some(chrono::Utc::now()),
            status: Some(BuildStatus::Started),
            ..Default::default()
        };
        jobs.insert((a.to_string(), b.to_string(), next), details);
        lock(&self.started).push((a.to_string(), b.to_string(), JobId::new(next), job));
        if take_one(&self.lose_next_start) {
            return Err(AmplifyError::Unavailable(
                "injected: the StartJob answer was lost".into(),
            ));
        }
        Ok(JobId::new(next))
    }
    async fn stop_job(&self, _key: &DeploymentKey) -> Result<BuildStatus, AmplifyError> {
        unsupported("StopJob")
    }
    async fn set_auto_build(
        &self,
        a: &AppId,
        b: &BranchName,
        enabled: bool,
    ) -> Result<(), AmplifyError> {
        lock(&self.auto_build).insert((a.to_string(), b.to_string()), enabled);
        Ok(())
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
    pub policies: Mutex<HashMap<(String, Option<String>), crate::policy::BranchPolicy>>,
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
        policy: &crate::policy::BranchPolicy,
    ) -> Result<(), StoreError> {
        lock(&self.policies).insert(
            (app_id.to_string(), branch_name.map(|b| b.to_string())),
            policy.clone(),
        );
        Ok(())
    }
}
