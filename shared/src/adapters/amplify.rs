//! [`AmplifyApi`] over aws-sdk-amplify.

use std::collections::BTreeMap;

use aws_sdk_amplify::Client;
use aws_sdk_amplify::types::{JobSummary as SdkJobSummary, JobType};

use super::sdk::{Failure, classify, to_chrono};
use crate::core::deployment::{DeploymentKey, JobDetails, JobStep};
use crate::core::error::AmplifyError;
use crate::core::model::{AppId, BranchName, BuildStatus, JobId};
use crate::ports::{
    AmplifyApi, AppInfo, BasicAuth, BranchInfo, DomainAssociation, JobSummary, StartJob, StepLog,
    SubDomain,
};

pub struct AmplifyClient {
    client: Client,
}

impl AmplifyClient {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn amplify_error(e: Failure) -> AmplifyError {
    match e {
        Failure::Transient(m) => AmplifyError::Unavailable(m),
        Failure::NotFound(m) => AmplifyError::NotFound(m),
        Failure::Rejected(m) => AmplifyError::Rejected(m),
        Failure::ConditionFailed => AmplifyError::Rejected("condition failed".into()),
    }
}

/// Refuses an id that is not an Amplify app's (a CloudFormation stack's or a
/// reporting service's): nothing calls Amplify for those, whatever a
/// reaction forgot. Permanent: retrying cannot help.
fn amplify_app(app: &AppId) -> Result<(), AmplifyError> {
    if app.is_amplify() {
        Ok(())
    } else {
        Err(AmplifyError::Rejected(format!(
            "{app} is a {} deployment, not an Amplify app: Amplify is not called for it",
            app.source()
        )))
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn parse_job_id(raw: &str) -> Result<JobId, AmplifyError> {
    raw.parse()
        .map_err(|e| AmplifyError::Rejected(format!("Amplify answered an invalid job id: {e}")))
}

/// An id from a List answer, as the domain's type.
fn parse_listed<T: std::str::FromStr<Err = crate::core::model::ParseError>>(
    operation: &str,
    raw: &str,
) -> Result<T, AmplifyError> {
    raw.parse().map_err(|e: crate::core::model::ParseError| {
        AmplifyError::Rejected(format!("{operation}: {}", e.reason))
    })
}

fn summary(s: &SdkJobSummary) -> Result<JobSummary, AmplifyError> {
    Ok(JobSummary {
        job_id: parse_job_id(s.job_id())?,
        status: BuildStatus::from_amplify(s.status().as_str()),
        commit_id: non_empty(s.commit_id()),
        job_type: non_empty(s.job_type().as_str()),
        start_time: to_chrono(s.start_time()),
        end_time: s.end_time().and_then(to_chrono),
    })
}

fn env_map(vars: &std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl AmplifyApi for AmplifyClient {
    async fn get_app(&self, app_id: &AppId) -> Result<AppInfo, AmplifyError> {
        amplify_app(app_id)?;
        let out = self
            .client
            .get_app()
            .app_id(app_id.as_str())
            .send()
            .await
            .map_err(|e| amplify_error(classify(&e)))?;
        let app = out
            .app()
            .ok_or_else(|| AmplifyError::Rejected("GetApp answered without an app".into()))?;
        Ok(AppInfo {
            app_id: app_id.clone(),
            name: app.name().to_owned(),
            default_domain: app.default_domain().to_owned(),
            platform: non_empty(app.platform().as_str()),
            environment_variables: env_map(app.environment_variables()),
            build_spec: app.build_spec().map(str::to_owned),
            build_compute_type: app
                .job_config()
                .map(|c| c.build_compute_type().as_str().to_owned()),
            repository: non_empty(app.repository()),
            basic_auth: BasicAuth::from_amplify(
                app.enable_basic_auth(),
                app.basic_auth_credentials(),
            ),
        })
    }

    async fn get_branch(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
    ) -> Result<BranchInfo, AmplifyError> {
        amplify_app(app_id)?;
        let out = self
            .client
            .get_branch()
            .app_id(app_id.as_str())
            .branch_name(branch_name.as_str())
            .send()
            .await
            .map_err(|e| amplify_error(classify(&e)))?;
        let b = out
            .branch()
            .ok_or_else(|| AmplifyError::Rejected("GetBranch answered without a branch".into()))?;
        Ok(BranchInfo {
            branch_name: branch_name.clone(),
            display_name: b.display_name().to_owned(),
            stage: non_empty(b.stage().as_str()),
            enable_auto_build: b.enable_auto_build(),
            active_job_id: b.active_job_id().parse().ok(),
            environment_variables: env_map(b.environment_variables()),
            build_spec: b.build_spec().map(str::to_owned),
            framework: non_empty(b.framework()),
            basic_auth: BasicAuth::from_amplify(b.enable_basic_auth(), b.basic_auth_credentials()),
        })
    }

    async fn get_job(&self, key: &DeploymentKey) -> Result<JobDetails, AmplifyError> {
        amplify_app(&key.app_id)?;
        let out = self
            .client
            .get_job()
            .app_id(key.app_id.as_str())
            .branch_name(key.branch_name.as_str())
            .job_id(key.job_id.to_string())
            .send()
            .await
            .map_err(|e| amplify_error(classify(&e)))?;
        let job = out
            .job()
            .ok_or_else(|| AmplifyError::Rejected("GetJob answered without a job".into()))?;
        let mut details = JobDetails::default();
        if let Some(s) = job.summary() {
            details.commit_id = non_empty(s.commit_id());
            details.commit_message = non_empty(s.commit_message());
            details.commit_time = to_chrono(s.commit_time());
            details.job_type = non_empty(s.job_type().as_str());
            details.start_time = to_chrono(s.start_time());
            details.end_time = s.end_time().and_then(to_chrono);
            details.status = Some(BuildStatus::from_amplify(s.status().as_str()));
        }
        details.steps = job
            .steps()
            .iter()
            .map(|step| JobStep {
                name: step.step_name().to_owned(),
                status: BuildStatus::from_amplify(step.status().as_str()),
                status_reason: step.status_reason().map(str::to_owned),
            })
            .collect();
        let mut merged = JobDetails::default();
        merged.merge(details);
        Ok(merged)
    }

    async fn get_log_url(&self, key: &DeploymentKey) -> Result<Option<StepLog>, AmplifyError> {
        amplify_app(&key.app_id)?;
        let out = self
            .client
            .get_job()
            .app_id(key.app_id.as_str())
            .branch_name(key.branch_name.as_str())
            .job_id(key.job_id.to_string())
            .send()
            .await
            .map_err(|e| amplify_error(classify(&e)))?;
        let steps: Vec<StepLog> = out
            .job()
            .map(|j| j.steps())
            .unwrap_or_default()
            .iter()
            .filter_map(|step| {
                Some(StepLog {
                    step: step.step_name().to_owned(),
                    status: BuildStatus::from_amplify(step.status().as_str()),
                    url: non_empty(step.log_url()?)?,
                })
            })
            .collect();
        let failed = steps.iter().position(|s| s.status == BuildStatus::Failed);
        Ok(match failed {
            Some(i) => steps.into_iter().nth(i),
            None => steps.into_iter().last(),
        })
    }

    async fn list_apps(&self) -> Result<Vec<AppId>, AmplifyError> {
        let apps = self
            .client
            .list_apps()
            .into_paginator()
            .page_size(100)
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| amplify_error(classify(&e)))?;
        apps.iter()
            .map(|app| parse_listed("ListApps", app.app_id()))
            .collect()
    }

    async fn list_domain_associations(
        &self,
        app_id: &AppId,
    ) -> Result<Vec<DomainAssociation>, AmplifyError> {
        amplify_app(app_id)?;
        let domains = self
            .client
            .list_domain_associations()
            .app_id(app_id.as_str())
            .into_paginator()
            .page_size(50)
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| amplify_error(classify(&e)))?;
        Ok(domains
            .iter()
            .map(|d| DomainAssociation {
                domain_name: d.domain_name().to_owned(),
                domain_status: d.domain_status().as_str().to_owned(),
                sub_domains: d
                    .sub_domains()
                    .iter()
                    .filter_map(|sub| {
                        let setting = sub.sub_domain_setting()?;
                        Some(SubDomain {
                            prefix: setting.prefix().to_owned(),
                            branch_name: setting.branch_name().to_owned(),
                            verified: sub.verified(),
                        })
                    })
                    .collect(),
            })
            .collect())
    }

    async fn list_branches(&self, app_id: &AppId) -> Result<Vec<BranchName>, AmplifyError> {
        amplify_app(app_id)?;
        let branches = self
            .client
            .list_branches()
            .app_id(app_id.as_str())
            .into_paginator()
            .page_size(50)
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| amplify_error(classify(&e)))?;
        branches
            .iter()
            .map(|b| parse_listed("ListBranches", b.branch_name()))
            .collect()
    }

    async fn list_jobs(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
        limit: usize,
    ) -> Result<Vec<JobSummary>, AmplifyError> {
        amplify_app(app_id)?;
        // Newest first; stop paging once `limit` jobs are in.
        let mut pages = self
            .client
            .list_jobs()
            .app_id(app_id.as_str())
            .branch_name(branch_name.as_str())
            .into_paginator()
            .page_size(limit.clamp(1, 50) as i32)
            .items()
            .send();
        let mut jobs = Vec::new();
        while jobs.len() < limit {
            match pages.next().await {
                Some(item) => jobs.push(summary(&item.map_err(|e| amplify_error(classify(&e)))?)?),
                None => break,
            }
        }
        Ok(jobs)
    }

    async fn start_job(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
        job: StartJob,
        reason: &str,
    ) -> Result<JobId, AmplifyError> {
        amplify_app(app_id)?;
        let request = self
            .client
            .start_job()
            .app_id(app_id.as_str())
            .branch_name(branch_name.as_str())
            .job_reason(reason.chars().take(255).collect::<String>());
        let request = match job {
            StartJob::Release => request.job_type(JobType::Release),
            StartJob::Retry(id) => request.job_type(JobType::Retry).job_id(id.to_string()),
        };
        // One attempt: StartJob is not idempotent, and a retry after an
        // answer lost on the way back would start a second job. A failed
        // call fails the delivery instead; its redelivery adopts the job the
        // lost call started (see `Rollbacker::rollback`).
        let out = request
            .customize()
            .config_override(
                aws_sdk_amplify::config::Builder::default()
                    .retry_config(aws_sdk_amplify::config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| amplify_error(classify(&e)))?;
        let s = out
            .job_summary()
            .ok_or_else(|| AmplifyError::Rejected("StartJob answered without a job".into()))?;
        parse_job_id(s.job_id())
    }

    async fn stop_job(&self, key: &DeploymentKey) -> Result<BuildStatus, AmplifyError> {
        amplify_app(&key.app_id)?;
        let out = self
            .client
            .stop_job()
            .app_id(key.app_id.as_str())
            .branch_name(key.branch_name.as_str())
            .job_id(key.job_id.to_string())
            .send()
            .await
            .map_err(|e| amplify_error(classify(&e)))?;
        Ok(out
            .job_summary()
            .map(|s| BuildStatus::from_amplify(s.status().as_str()))
            .unwrap_or(BuildStatus::Unknown("CANCELLING".into())))
    }

    async fn set_auto_build(
        &self,
        app_id: &AppId,
        branch_name: &BranchName,
        enabled: bool,
    ) -> Result<(), AmplifyError> {
        amplify_app(app_id)?;
        self.client
            .update_branch()
            .app_id(app_id.as_str())
            .branch_name(branch_name.as_str())
            .enable_auto_build(enabled)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| amplify_error(classify(&e)))
    }
}
