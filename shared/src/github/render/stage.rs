//! Where a job stands, as GitHub shows it: the record and its
//! [`RenderContext`] read into one [`Stage`] (building, failed, checking the
//! site, healthy, …), and the title every surface says (the check run's,
//! the commit status's, the deployment status's).

use crate::alert::escape::untrusted;
use crate::core::bake::BakeOutcome;
use crate::core::deployment::Deployment;
use crate::core::enforcement::ObservedKind;
use crate::core::model::{BuildStatus, JobId};
use crate::core::verdicts::Verdict;
use crate::github::api::{CheckStatus, CommitInfo, CommitState, Conclusion};
use crate::github::markdown::cut;

pub(super) const TITLE_MAX: usize = 300;

/// What [`desired`] needs besides the record, filled by the reaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderContext<'a> {
    /// For the Amplify console's job URL (`details_url`, `log_url`).
    pub region: &'a str,
    /// Where users reach the branch (its custom domain when available).
    pub site_url: Option<&'a str>,
    /// Amplify's stage of the branch: `PRODUCTION`, `PULL_REQUEST`, …
    pub branch_stage: Option<&'a str>,
    /// The commit's author, as GitHub knows it.
    pub author: Option<&'a CommitInfo>,
    /// This job's deploy was replaced by a rollback to job N.
    pub rolled_back_to: Option<JobId>,
    /// A later deploy (rollback or not) replaced this one: its GitHub
    /// deployment is inactive.
    pub replaced: bool,
    /// Build-path prefixes to strip for annotations (e.g.
    /// `/codebuild/output/src123/src/<repo>/`); Amplify's checkout prefix
    /// is known without them.
    pub repo_root_hints: &'a [String],
    /// The app's root in a monorepo (`AMPLIFY_MONOREPO_APP_ROOT`, e.g.
    /// `apps/web`): relative paths the build prints are under it.
    pub app_root: Option<&'a str>,
}

/// The reason Sentinel skipped this build (superseded, or no change under
/// a monorepo app's paths: the record's `skipped`), once StopJob stopped it;
/// a skip that came too late (the job had ended) shows as what the job did.
fn skipped_reason(record: &Deployment) -> Option<String> {
    record
        .skipped
        .as_ref()
        .filter(|s| s.stop_result.as_deref() == Some("stopped"))
        .map(|s| s.reason.clone())
}

/// Where the job stands, as GitHub shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stage {
    Building,
    TimedOut,
    Skipped(String),
    Cancelled,
    StoppedByValidation,
    BuildFailed,
    CheckingSite,
    /// Replaced by a later deploy before the health checker judged it.
    ReplacedUnjudged,
    Healthy,
    Unhealthy,
    BakeFailed,
    Inconclusive,
}

impl Stage {
    pub(super) fn of(record: &Deployment, ctx: &RenderContext) -> Self {
        if let Some(reason) = skipped_reason(record) {
            return Self::Skipped(reason);
        }
        match &record.status {
            BuildStatus::Failed => Self::BuildFailed,
            BuildStatus::Cancelled
                if record.validation.as_ref().is_some_and(|v| v.stop_requested) =>
            {
                Self::StoppedByValidation
            }
            BuildStatus::Cancelled => Self::Cancelled,
            BuildStatus::Succeeded => match record.health.as_ref().map(|h| h.verdict) {
                None if ctx.replaced => Self::ReplacedUnjudged,
                None => Self::CheckingSite,
                Some(Verdict::Unhealthy) => Self::Unhealthy,
                Some(Verdict::Inconclusive) => Self::Inconclusive,
                Some(Verdict::Healthy)
                    if record
                        .bake
                        .as_ref()
                        .is_some_and(|b| b.outcome == Some(BakeOutcome::Failed)) =>
                {
                    Self::BakeFailed
                }
                Some(Verdict::Healthy) => Self::Healthy,
            },
            BuildStatus::Started | BuildStatus::Unknown(_) if record.timed_out_at.is_some() => {
                Self::TimedOut
            }
            BuildStatus::Started | BuildStatus::Unknown(_) => Self::Building,
        }
    }

    /// A failure the pull request comment is posted for.
    pub(super) fn is_failure(&self) -> bool {
        matches!(
            self,
            Self::BuildFailed
                | Self::StoppedByValidation
                | Self::Unhealthy
                | Self::BakeFailed
                | Self::TimedOut
        )
    }

    pub(super) fn check(&self) -> (CheckStatus, Option<Conclusion>) {
        let done = |c| (CheckStatus::Completed, Some(c));
        match self {
            Self::Building | Self::CheckingSite => (CheckStatus::InProgress, None),
            Self::TimedOut => done(Conclusion::TimedOut),
            Self::Skipped(_) => done(Conclusion::Skipped),
            Self::Cancelled => done(Conclusion::Cancelled),
            Self::StoppedByValidation | Self::BuildFailed | Self::Unhealthy | Self::BakeFailed => {
                done(Conclusion::Failure)
            }
            Self::Healthy => done(Conclusion::Success),
            Self::Inconclusive | Self::ReplacedUnjudged => done(Conclusion::Neutral),
        }
    }

    pub(super) fn commit_state(&self) -> CommitState {
        match self.check() {
            (CheckStatus::Completed, Some(Conclusion::Failure | Conclusion::TimedOut)) => {
                CommitState::Failure
            }
            (CheckStatus::Completed, Some(Conclusion::Cancelled)) => CommitState::Error,
            (CheckStatus::Completed, _) => CommitState::Success,
            _ => CommitState::Pending,
        }
    }
}

/// The job's title, in plain text: what the check run's title, the commit
/// status and the deployment status say.
pub(super) fn title(record: &Deployment, stage: &Stage, ctx: &RenderContext) -> String {
    let job = record.key.job_id;
    let mut title = match stage {
        Stage::Building => format!("Building job {job}"),
        Stage::TimedOut => format!("Job {job} never ended (timed out)"),
        Stage::Skipped(reason) => format!("Skipped: {}", untrusted(reason)),
        Stage::Cancelled => format!("Build of job {job} cancelled"),
        Stage::StoppedByValidation => {
            let errors = record.validation.as_ref().map_or(0, |v| v.report.errors);
            format!(
                "Stopped: the configuration cannot build ({errors} error{})",
                plural(errors)
            )
        }
        Stage::BuildFailed => match &record.diagnosis {
            Some(d) => format!("Build failed: {}", untrusted(&d.title)),
            None => format!("Build of job {job} failed"),
        },
        Stage::CheckingSite => format!("Deployed job {job}; checking the site"),
        Stage::ReplacedUnjudged => {
            format!("Deployed job {job}; replaced before the site was judged")
        }
        Stage::Healthy => match record.bake.as_ref().map(|b| b.outcome) {
            Some(None) => format!("Deployed job {job}; healthy, baking"),
            _ => format!("Deployed job {job}; the site is healthy"),
        },
        Stage::Unhealthy => format!("Deployed job {job}; the site is unhealthy"),
        Stage::BakeFailed => format!("Deployed job {job}; the bake failed"),
        Stage::Inconclusive => format!("Deployed job {job}; health inconclusive"),
    };
    if let Some(target) = record.rollback_of {
        title = format!("Rollback to job {target}: {title}");
    }
    if let Some(to) = ctx.rolled_back_to {
        title.push_str(&format!("; rolled back to job {to}"));
    } else if observed(record, ObservedKind::Rollback).is_some() {
        title.push_str("; would have rolled back (observe mode)");
    }
    cut(&title, TITLE_MAX)
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Why an action was observed, without the "would have …: " its summary
/// starts with.
pub(super) fn observed(record: &Deployment, kind: ObservedKind) -> Option<String> {
    record.observed.iter().find(|o| o.action == kind).map(|o| {
        let prefix = format!("{}: ", kind.would_have());
        o.summary
            .strip_prefix(&prefix)
            .unwrap_or(&o.summary)
            .to_owned()
    })
}
