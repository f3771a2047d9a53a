//! Amplify in memory: apps, branches and jobs a test sets up, and faults
//! it asks for.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::core::deployment::{DeploymentKey, JobDetails};
use crate::core::error::AmplifyError;
use crate::core::model::{AppId, BranchName, BuildStatus, JobId};
use crate::ports::{AmplifyApi, AppInfo, BranchInfo, DomainAssociation, JobSummary, StartJob};

use super::{dkey, lock, take_one};

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
    /// ListDomainAssociations answers per app (none: no custom domain).
    pub domains: Mutex<HashMap<String, Vec<DomainAssociation>>>,
    /// The next ListDomainAssociations calls fail with this error.
    pub fail_domains: Mutex<Option<AmplifyError>>,
    /// The next StartJob calls fail before starting anything.
    pub fail_next_start: AtomicUsize,
    /// The next StartJob calls start their job, then fail as if the answer
    /// had been lost on the way back.
    pub lose_next_start: AtomicUsize,
    /// The next StartJob calls are refused for good (e.g. the job to
    /// rebuild was deleted), starting nothing.
    pub reject_next_start: AtomicUsize,
    /// The next UpdateBranch calls switching auto-build on fail (as
    /// unavailable), changing nothing.
    pub fail_next_enable: AtomicUsize,
    /// StopJob calls, by job (the job is cancelled).
    pub stopped: Mutex<Vec<DeploymentKey>>,
}

impl MemoryAmplify {
    pub fn with_job(key: &DeploymentKey, details: JobDetails) -> Self {
        let amplify = Self::default();
        lock(&amplify.jobs).insert(dkey(key), details);
        amplify
    }

    /// A Next.js SSR app (`WEB_COMPUTE`, "shop", no variables) with the
    /// branch of `key`; `branch` adjusts the branch as a test needs it.
    pub fn with_branch(key: &DeploymentKey, branch: impl FnOnce(&mut BranchInfo)) -> Self {
        let amplify = Self::default();
        let app = key.app_id.clone();
        lock(&amplify.apps).insert(
            app.to_string(),
            AppInfo {
                name: "shop".into(),
                default_domain: format!("{app}.amplifyapp.com"),
                platform: Some("WEB_COMPUTE".into()),
                environment_variables: Default::default(),
                build_spec: None,
                build_compute_type: None,
                repository: None,
                basic_auth: None,
                app_id: app,
            },
        );
        let mut info = BranchInfo {
            branch_name: key.branch_name.clone(),
            display_name: key.branch_name.display_name(),
            stage: None,
            enable_auto_build: true,
            active_job_id: None,
            environment_variables: Default::default(),
            build_spec: None,
            framework: None,
            basic_auth: None,
        };
        branch(&mut info);
        lock(&amplify.branches).insert((key.app_id.to_string(), key.branch_name.to_string()), info);
        amplify
    }
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
    async fn list_domain_associations(
        &self,
        app_id: &AppId,
    ) -> Result<Vec<DomainAssociation>, AmplifyError> {
        if let Some(e) = lock(&self.fail_domains).take() {
            return Err(e);
        }
        Ok(lock(&self.domains)
            .get(app_id.as_str())
            .cloned()
            .unwrap_or_default())
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
        if take_one(&self.reject_next_start) {
            return Err(AmplifyError::Rejected(
                "injected: StartJob refused (job not found)".into(),
            ));
        }
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
    async fn stop_job(&self, key: &DeploymentKey) -> Result<BuildStatus, AmplifyError> {
        lock(&self.stopped).push(key.clone());
        if let Some(job) = lock(&self.jobs).get_mut(&dkey(key)) {
            job.status = Some(BuildStatus::Cancelled);
        }
        Ok(BuildStatus::Cancelled)
    }
    async fn set_auto_build(
        &self,
        a: &AppId,
        b: &BranchName,
        enabled: bool,
    ) -> Result<(), AmplifyError> {
        if enabled && take_one(&self.fail_next_enable) {
            return Err(AmplifyError::Unavailable(
                "injected UpdateBranch failure".into(),
            ));
        }
        lock(&self.auto_build).insert((a.to_string(), b.to_string()), enabled);
        Ok(())
    }
}
