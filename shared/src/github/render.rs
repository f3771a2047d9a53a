//! STAND-IN (branch `ghreport`) for the rendering that branch `ghrender`
//! writes: exactly the agreed API, with simple bodies, so that the
//! reaction (`github::reaction`) compiles and is tested against it. The
//! merge with `ghrender` takes that branch's file whole and drops this one.

use serde::{Deserialize, Serialize};

use crate::core::deployment::Deployment;
use crate::core::model::{BranchName, BuildStatus, JobId};
use crate::core::verdicts::Verdict;
use crate::github::api::{
    CheckRun, CheckStatus, CommitInfo, CommitState, CommitStatus, Conclusion, DeploymentState,
    DeploymentStatus, NewDeployment,
};

/// What the rendering needs beside the record.
pub struct RenderContext<'a> {
    pub region: &'a str,
    pub site_url: Option<&'a str>,
    pub branch_stage: Option<&'a str>,
    pub author: Option<&'a CommitInfo>,
    pub rolled_back_to: Option<JobId>,
    pub replaced: bool,
    pub repo_root_hints: &'a [String],
    pub app_root: Option<&'a str>,
}

/// Everything GitHub should show of one job.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub check_run: CheckRun,
    pub commit_status: CommitStatus,
    pub deployment: Option<DesiredDeployment>,
    pub pr_comment: Option<String>,
    /// Whether a comment may be posted when the PR has none yet (`false`:
    /// edit an existing one only).
    pub pr_comment_may_create: bool,
}

/// A job's deployment and the status it should have now.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredDeployment {
    pub new: NewDeployment,
    pub status: DeploymentStatus,
}

/// The policy's `github.pr_comment`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrComment {
    Always,
    #[default]
    Failures,
    Never,
}

/// Marks Sentinel's one comment on a pull request.
pub const COMMENT_MARKER: &str = "<!-- deploy-sentinel -->";

/// The pull request of an Amplify preview branch (`pr-N`).
pub fn pr_number(branch: &BranchName) -> Option<u64> {
    branch
        .as_str()
        .strip_prefix("pr-")?
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

/// The stand-in rendering: status and conclusion from the record, the
/// diagnosis's category, title and fix in the summary.
pub fn desired(record: &Deployment, ctx: &RenderContext, pr_comment: PrComment) -> Desired {
    let key = &record.key;
    let name = format!("Deploy Sentinel / {}", key.branch_name);
    let unhealthy = record
        .health
        .as_ref()
        .is_some_and(|h| h.verdict == Verdict::Unhealthy);
    let (status, conclusion, title) = match &record.status {
        BuildStatus::Succeeded if unhealthy => (
            CheckStatus::Completed,
            Some(Conclusion::Failure),
            "Deployment unhealthy".to_owned(),
        ),
        BuildStatus::Succeeded => (
            CheckStatus::Completed,
            Some(Conclusion::Success),
            "Deployed".to_owned(),
        ),
        BuildStatus::Failed => (
            CheckStatus::Completed,
            Some(Conclusion::Failure),
            "Build failed".to_owned(),
        ),
        BuildStatus::Cancelled => (
            CheckStatus::Completed,
            Some(Conclusion::Cancelled),
            "Build cancelled".to_owned(),
        ),
        _ => (CheckStatus::InProgress, None, "Building".to_owned()),
    };
    let mut summary = format!("{title}: job {}.", key.job_id);
    if let Some(d) = &record.diagnosis {
        summary.push_str(&format!(
            "\n\n**{}**: {}\n\nFix: {}",
            d.category, d.title, d.fix
        ));
    }
    if let Some(to) = ctx.rolled_back_to {
        summary.push_str(&format!("\n\nRolled back to job {to}."));
    }
    if let Some(a) = ctx.author.and_then(|a| a.author_name.as_deref()) {
        summary.push_str(&format!("\n\nPushed by {a}."));
    }
    let console = format!(
        "https://{}.console.aws.amazon.com/amplify/apps/{}/branches/{}/deployments/{}",
        ctx.region, key.app_id, key.branch_name, key.job_id
    );
    let sha = record.details.commit_id.clone().unwrap_or_default();
    let check_run = CheckRun {
        name: name.clone(),
        head_sha: sha.clone(),
        status,
        conclusion,
        details_url: Some(console.clone()),
        external_id: Some(format!("{}/{}/{}", key.app_id, key.branch_name, key.job_id)),
        started_at: None,
        completed_at: None,
        title: title.clone(),
        summary: summary.clone(),
        annotations: Vec::new(),
    };
    let commit_status = CommitStatus {
        state: match conclusion {
            None => CommitState::Pending,
            Some(Conclusion::Success) => CommitState::Success,
            Some(Conclusion::Cancelled) => CommitState::Error,
            Some(_) => CommitState::Failure,
        },
        context: name,
        description: title.chars().take(140).collect(),
        target_url: Some(console.clone()),
    };
    let state = if ctx.replaced {
        DeploymentState::Inactive
    } else {
        match conclusion {
            None => DeploymentState::InProgress,
            Some(Conclusion::Success) => DeploymentState::Success,
            Some(Conclusion::Cancelled) => DeploymentState::Error,
            Some(_) => DeploymentState::Failure,
        }
    };
    let deployment = (!sha.is_empty()).then(|| DesiredDeployment {
        new: NewDeployment {
            git_ref: sha.clone(),
            environment: ctx
                .branch_stage
                .map_or_else(|| key.branch_name.to_string(), str::to_owned),
            description: format!("Amplify job {}", key.job_id),
            auto_merge: false,
            required_contexts: Vec::new(),
            transient_environment: pr_number(&key.branch_name).is_some(),
            production_environment: false,
            payload: serde_json::json!({
                "app": key.app_id.to_string(),
                "branch": key.branch_name.to_string(),
                "job": key.job_id.to_string(),
            }),
        },
        status: DeploymentStatus {
            state,
            description: title.chars().take(140).collect(),
            environment_url: ctx.site_url.map(str::to_owned),
            log_url: Some(console),
            auto_inactive: false,
        },
    });
    let failed = matches!(conclusion, Some(Conclusion::Failure));
    let comment = pr_comment != PrComment::Never;
    let body = (comment && pr_number(&key.branch_name).is_some())
        .then(|| format!("{COMMENT_MARKER}\n{summary}"));
    Desired {
        check_run,
        commit_status,
        deployment,
        pr_comment: body,
        pr_comment_may_create: failed || pr_comment == PrComment::Always,
    }
}
