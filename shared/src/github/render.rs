//! What appears on GitHub for one job, as pure functions of its record
//! (`docs/github.md`, "What appears where"): the check run, the commit
//! status that stands in for it with a token, the deployment and its
//! status, and the pull request comment. The alerter's GitHub reaction
//! reads the record, calls [`desired`] and applies the answer; applying
//! the same answer twice changes nothing.
//!
//! Decisions (documented in `docs/github.md`):
//!
//! - **The check run** is `in_progress` while the build runs *and* while
//!   the health checker judges the deploy, so that a required check is
//!   never green before the site is; it completes `success` (healthy),
//!   `failure` (build failed, stopped by validation, unhealthy, bake
//!   failed), `neutral` (health inconclusive), `cancelled`, `skipped` or
//!   `timed_out` (a job that never ended), `neutral` too for a deploy
//!   replaced before it was judged. A bake that fails after the Healthy
//!   verdict turns `success` into `failure`: the reaction applies the
//!   latest record's answer, and a completed run never returns to
//!   `in_progress` for the same record.
//! - **The deployment** exists only for a job that deployed (Amplify's
//!   job succeeded): `None` before (the check run shows the build) and for
//!   a build that failed, was cancelled or skipped, so that no deployment
//!   is left `in_progress` by a build that then failed, and the
//!   environment's history lists deploys only. Its environment is the
//!   **branch name**: each Amplify branch is its own site, so each is a
//!   GitHub environment (Sentinel's `dev`/`staging`/`prod` names the stack,
//!   which serves many branches). Its status is `in_progress` while the
//!   health check runs, `success` only with a Healthy verdict, `failure`
//!   when Unhealthy or the bake failed, `error` when Inconclusive (a
//!   deploy that could not be judged), `inactive` once replaced.
//! - **The pull request comment** is only for Amplify's `pr-N` previews.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::annotate;
use super::api::{
    Annotation, AnnotationLevel, CheckRun, CheckStatus, CommitInfo, CommitState, CommitStatus,
    Conclusion, DeploymentState, DeploymentStatus, NewDeployment,
};
use super::markdown::{self, code_block, code_span, cut, link, text, text_with_code};
use crate::alert::escape::untrusted;
use crate::alert::message::console_url;
use crate::core::bake::{BakeOutcome, StepOutcome};
use crate::core::deployment::Deployment;
use crate::core::enforcement::ObservedKind;
use crate::core::model::{BranchName, BuildStatus, JobId, is_git_commit};
use crate::core::verdicts::{Outcome as EndpointOutcome, Severity, Verdict};

/// The one comment per pull request is found by this marker, which its
/// body starts with.
pub const COMMENT_MARKER: &str = "<!-- deploy-sentinel -->";

/// A check run's `output.summary` holds at most 65,535 characters
/// (docs.github.com/en/rest/checks/runs#create-a-check-run, `output.summary`).
pub const SUMMARY_MAX: usize = 65_535;

/// A commit status's or deployment status's `description` holds at most
/// 140 characters; GitHub refuses longer ones
/// (docs.github.com/en/rest/deployments/statuses#create-a-deployment-status,
/// docs.github.com/en/rest/commits/statuses#create-a-commit-status).
pub const DESCRIPTION_MAX: usize = 140;

/// The pull request comment's budget (GitHub allows 65,536 characters in
/// an issue comment; a comment is read in a pull request's timeline).
pub const COMMENT_MAX: usize = 16_000;

/// What the check run's name keeps of a branch name (up to 255).
pub const BRANCH_IN_NAME_MAX: usize = 100;

const TITLE_MAX: usize = 300;
const FIX_MAX: usize = 2_000;
const FINDING_MAX: usize = 600;
const REASON_MAX: usize = 1_000;
const COMMIT_MESSAGE_MAX: usize = 200;
const AUTHOR_MAX: usize = 100;
/// Each list (findings, endpoints, bake intervals) within this many
/// characters of markdown; the evidence has what remains.
const LIST_MAX: usize = 12_000;
const EVIDENCE_LINE_MAX: usize = 500;
const COMMENT_EVIDENCE_LINES: usize = 10;
/// Room kept for the note that says what was left out.
const NOTE_ROOM: usize = 400;

/// The policy's `github.pr_comment`: when a `pr-N` preview's pull request
/// gets Sentinel's comment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrComment {
    /// On every build, edited in place on every push.
    Always,
    /// Only when the build failed or the deploy is unhealthy; a later
    /// build edits that comment (to say it is fixed), never posts one.
    #[default]
    Failures,
    /// Never.
    Never,
}

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

/// The deployment to create (once per job) and its current status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredDeployment {
    /// Created once per job (the reaction keeps its id): `ref` the commit,
    /// `environment` the branch.
    pub new: NewDeployment,
    /// The status it should have now; a new one is posted when it differs.
    pub status: DeploymentStatus,
}

/// Everything that should appear on GitHub for one job, now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub check_run: CheckRun,
    /// The token's stand-in for the check run: the same verdict in at most
    /// 140 characters.
    pub commit_status: CommitStatus,
    /// `None` for a build that never deployed (running, failed, cancelled,
    /// skipped).
    pub deployment: Option<DesiredDeployment>,
    /// The pull request comment's whole body (starts with
    /// [`COMMENT_MARKER`]): `Some` only for a `pr-N` branch and as the
    /// policy says.
    pub pr_comment: Option<String>,
    /// Whether the reaction may post [`Self::pr_comment`] when the pull
    /// request has none yet; `false`: edit an existing one only (a
    /// `failures` policy's later builds, which say it is fixed).
    pub pr_comment_may_create: bool,
}

/// Amplify's pull request previews are branches named `pr-N`.
pub fn pr_number(branch: &BranchName) -> Option<u64> {
    let digits = branch.as_str().strip_prefix("pr-")?;
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
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
enum Stage {
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
    fn of(record: &Deployment, ctx: &RenderContext) -> Self {
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
    fn is_failure(&self) -> bool {
        matches!(
            self,
            Self::BuildFailed
                | Self::StoppedByValidation
                | Self::Unhealthy
                | Self::BakeFailed
                | Self::TimedOut
        )
    }

    fn check(&self) -> (CheckStatus, Option<Conclusion>) {
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

    fn commit_state(&self) -> CommitState {
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

/// The check run's (and the status's) name: `Deploy Sentinel / <branch>`.
pub fn check_name(branch: &BranchName) -> String {
    format!(
        "Deploy Sentinel / {}",
        cut(&untrusted(branch.as_str()), BRANCH_IN_NAME_MAX)
    )
}

/// The job's title, in plain text: what the check run's title, the commit
/// status and the deployment status say.
fn title(record: &Deployment, stage: &Stage, ctx: &RenderContext) -> String {
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Why an action was observed, without the "would have …: " its summary
/// starts with.
fn observed(record: &Deployment, kind: ObservedKind) -> Option<String> {
    record.observed.iter().find(|o| o.action == kind).map(|o| {
        let prefix = format!("{}: ", kind.would_have());
        o.summary
            .strip_prefix(&prefix)
            .unwrap_or(&o.summary)
            .to_owned()
    })
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Lines joined until `max` characters; the rest counted in a last line.
fn list_within(items: Vec<String>, max: usize, what: &str) -> String {
    let mut out = String::new();
    let mut used = 0;
    let total = items.len();
    for (i, item) in items.into_iter().enumerate() {
        let len = item.chars().count() + 1;
        if used + len > max {
            out.push_str(&format!("- … and {} more {what}\n", total - i));
            break;
        }
        used += len;
        out.push_str(&item);
        out.push('\n');
    }
    out
}

fn diagnosis_section(record: &Deployment) -> Option<String> {
    let d = record.diagnosis.as_ref()?;
    let mut out = format!(
        "**Why:** {} ({})\n\n",
        text(&d.title, TITLE_MAX),
        code_span(&d.category, 100)
    );
    out.push_str(if d.transient {
        "Transient: a retry of the same commit can succeed.\n\n"
    } else {
        "Not transient: retrying the same commit will fail the same way.\n\n"
    });
    out.push_str(&format!("**Fix:** {}\n\n", text_with_code(&d.fix, FIX_MAX)));
    if let Some(command) = &d.command {
        out.push_str(&format!(
            "Failed command: {}{}\n\n",
            code_span(command, 300),
            d.exit_code
                .map(|c| format!(" (exit code {c})"))
                .unwrap_or_default()
        ));
    }
    if !d.secondary.is_empty() {
        out.push_str("Also found:\n");
        for s in d.secondary.iter().take(5) {
            out.push_str(&format!(
                "- {} ({}, line {})\n",
                text(&s.title, TITLE_MAX),
                code_span(&s.category, 100),
                s.line
            ));
        }
        out.push('\n');
    }
    if d.from_report {
        out.push_str("_As the deploy script reported it._\n\n");
    }
    Some(out)
}

fn validation_section(record: &Deployment) -> Option<String> {
    let v = record.validation.as_ref()?;
    let r = &v.report;
    if r.findings.is_empty() {
        return None;
    }
    let mut out = format!(
        "#### Validation: {} error{}, {} warning{} (policy: {})\n\n",
        r.errors,
        plural(r.errors),
        r.warnings,
        plural(r.warnings),
        text(&v.policy, 50)
    );
    let items = r
        .findings
        .iter()
        .map(|f| {
            let severity = match f.severity {
                Severity::Error => "**error**",
                Severity::Warning => "warning",
                Severity::Off => "off",
            };
            let at = f
                .location
                .as_deref()
                .map(|l| code_span(l, 200))
                .filter(|l| !l.is_empty())
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            format!(
                "- {severity} {}{at}: {}\n  **Fix:** {}",
                code_span(&f.rule, 100),
                text_with_code(&f.message, FINDING_MAX),
                text_with_code(&f.fix, FINDING_MAX)
            )
        })
        .collect();
    out.push_str(&list_within(items, LIST_MAX, "findings"));
    if let Some(result) = &v.stop_result {
        out.push_str(&format!("\nStop: {}\n", text(result, 200)));
    }
    out.push('\n');
    Some(out)
}

fn health_section(record: &Deployment) -> Option<String> {
    let h = record.health.as_ref()?;
    let verdict = match h.verdict {
        Verdict::Healthy => "healthy",
        Verdict::Unhealthy => "unhealthy",
        Verdict::Inconclusive => "inconclusive",
    };
    let mut out = format!(
        "#### Health: {verdict}\n\n{}\n\nChecked {} in {} round{}.\n\n",
        text(&h.reason, REASON_MAX),
        link(&cut(&h.url, 200), &h.url),
        h.rounds,
        plural(h.rounds)
    );
    let mut endpoints: Vec<_> = h.endpoints.iter().collect();
    // Failures first, as people look for them.
    endpoints.sort_by_key(|e| e.verdict == EndpointOutcome::Passed);
    let items = endpoints
        .into_iter()
        .map(|e| {
            let mark = match e.verdict {
                EndpointOutcome::Passed => "passed",
                EndpointOutcome::SiteFailed => "**failed**",
                EndpointOutcome::WrongVersion => "**wrong version**",
                EndpointOutcome::OurSide => "not reached",
            };
            format!(
                "- {mark} {}: {}{} ({} attempt{}, p95 {} ms)",
                code_span(&e.url, 300),
                e.last_status
                    .map(|s| format!("HTTP {s}"))
                    .unwrap_or_else(|| "no answer".into()),
                e.reason
                    .as_deref()
                    .map(|r| format!(", {}", text(r, 300)))
                    .unwrap_or_default(),
                e.attempts,
                plural(e.attempts),
                e.p95_ms
            )
        })
        .collect();
    out.push_str(&list_within(items, LIST_MAX, "endpoints"));
    out.push('\n');
    Some(out)
}

fn bake_section(record: &Deployment) -> Option<String> {
    let b = record.bake.as_ref()?;
    let judged = b.steps.len();
    let outcome = match b.outcome {
        None => format!("running (interval {judged} of {} judged)", b.steps_total),
        Some(BakeOutcome::Passed) => "passed".into(),
        Some(BakeOutcome::Failed) => "failed".into(),
        Some(BakeOutcome::Inconclusive) => "inconclusive".into(),
        Some(BakeOutcome::Superseded) => "stopped (superseded)".into(),
    };
    let mut out = format!("#### Bake: {outcome}\n\n");
    if let Some(reason) = &b.reason {
        out.push_str(&format!("{}\n\n", text(reason, REASON_MAX)));
    }
    let items: Vec<String> = b
        .steps
        .iter()
        .filter(|s| s.outcome == StepOutcome::Failed)
        .take(10)
        .map(|s| {
            format!(
                "- interval {}: {}",
                s.step,
                text(&s.reasons.join("; "), 300)
            )
        })
        .collect();
    out.push_str(&list_within(items, LIST_MAX, "intervals"));
    out.push_str(&format!(
        "{}\n\n",
        link("Traffic in CloudWatch", &b.console_url)
    ));
    Some(out)
}

fn rollback_section(record: &Deployment, ctx: &RenderContext) -> Option<String> {
    let mut out = String::new();
    if let Some(target) = record.rollback_of {
        out.push_str(&format!("This job rolls back to job {target}.\n\n"));
    }
    if let Some(to) = ctx.rolled_back_to {
        out.push_str(&format!("**Rolled back to job {to}.**\n\n"));
    } else if ctx.replaced {
        out.push_str("A later deploy replaced this one.\n\n");
    }
    for o in &record.observed {
        let why = observed(record, o.action).unwrap_or_default();
        out.push_str(&format!(
            "**{} (observe mode)**: {}\n\n",
            capitalized(o.action.would_have()),
            text(&why, REASON_MAX)
        ));
    }
    (!out.is_empty()).then_some(out)
}

/// `Name (@login)`, escaped for markdown; the `@` does not mention.
fn author_markdown(author: &CommitInfo) -> Option<String> {
    let login = author.author_login.as_deref().filter(|l| valid_login(l));
    match (author.author_name.as_deref(), login) {
        (Some(name), Some(login)) => Some(format!(
            "{} ({})",
            text(name, AUTHOR_MAX),
            text(&format!("@{login}"), 50)
        )),
        (Some(name), None) => Some(text(name, AUTHOR_MAX)),
        (None, Some(login)) => Some(text(&format!("@{login}"), 50)),
        (None, None) => None,
    }
}

/// GitHub's logins: letters, digits and single hyphens, at most 39.
pub fn valid_login(login: &str) -> bool {
    (1..=39).contains(&login.len())
        && !login.starts_with('-')
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn job_url(record: &Deployment, ctx: &RenderContext) -> Option<String> {
    (!ctx.region.is_empty() && record.key.app_id.is_amplify())
        .then(|| {
            console_url(
                ctx.region,
                &record.key.app_id,
                &record.key.branch_name,
                record.key.job_id,
            )
        })
        .and_then(|u| markdown::url(&u).map(|_| u))
}

fn site_url(ctx: &RenderContext) -> Option<String> {
    ctx.site_url
        .and_then(|u| markdown::url(u).map(|_| u.to_owned()))
}

fn footer(record: &Deployment, ctx: &RenderContext) -> String {
    let mut lines = Vec::new();
    if let Some(sha) = record.details.commit_id.as_deref() {
        let short: String = untrusted(sha).chars().take(12).collect();
        let message = record
            .details
            .commit_message
            .as_deref()
            .map(|m| {
                format!(
                    " {}",
                    text(m.lines().next().unwrap_or_default(), COMMIT_MESSAGE_MAX)
                )
            })
            .unwrap_or_default();
        lines.push(format!("Commit {}{message}", code_span(&short, 12)));
    }
    if let Some(author) = ctx.author.and_then(author_markdown) {
        lines.push(format!("Pushed by {author}"));
    }
    let mut links = Vec::new();
    if let Some(url) = job_url(record, ctx) {
        links.push(link(
            &format!("Job {} in the Amplify console", record.key.job_id),
            &url,
        ));
    }
    if let Some(url) = site_url(ctx) {
        links.push(link("Open the site", &url));
    }
    if !links.is_empty() {
        lines.push(links.join(" · "));
    }
    lines.join("  \n") + "\n"
}

/// The evidence lines as a code block within `room` characters (heading
/// and note included), and how many lines it left out.
fn evidence_section(record: &Deployment, room: usize) -> String {
    let Some(d) = record.diagnosis.as_ref() else {
        return String::new();
    };
    if d.evidence.is_empty() {
        return String::new();
    }
    let heading = if d.from_report {
        "#### Evidence (from the log the deploy script sent; secrets masked)\n\n"
    } else {
        "#### Evidence (from the build log; secrets masked)\n\n"
    };
    let lines: Vec<String> = d
        .evidence
        .iter()
        .map(|e| {
            format!(
                "{:>6}: {}",
                e.line,
                cut(&untrusted(&e.text), EVIDENCE_LINE_MAX)
            )
        })
        .collect();
    // The fence of all the lines is the longest any part of them needs.
    let fence = code_block(lines.iter().map(String::as_str))
        .lines()
        .next()
        .map_or(0, |l| l.chars().count());
    let mut used = heading.chars().count() + 2 * (fence + 1) + NOTE_ROOM;
    let mut kept = 0;
    for line in &lines {
        used += line.chars().count() + 1;
        if used > room {
            break;
        }
        kept += 1;
    }
    if kept == 0 {
        return String::new();
    }
    let block = code_block(lines[..kept].iter().map(String::as_str));
    let mut out = format!("{heading}{block}");
    if kept < lines.len() {
        out.push_str(&format!(
            "\n_{} more evidence line{} left out: GitHub shows at most {SUMMARY_MAX} characters here; the whole log is on the job's page._\n",
            lines.len() - kept,
            plural(lines.len() - kept)
        ));
    }
    if let Some(why) = &d.cut {
        out.push_str(&format!(
            "\n_The log was read in part: {}._\n",
            text(why, 300)
        ));
    }
    out.push('\n');
    out
}

/// The check run's summary: everything the alert says, as GitHub markdown,
/// within [`SUMMARY_MAX`] characters.
fn summary(record: &Deployment, stage: &Stage, title: &str, ctx: &RenderContext) -> String {
    let mut head = format!("### {}\n\n", text(title, TITLE_MAX));
    if *stage == Stage::BuildFailed {
        match diagnosis_section(record) {
            Some(d) => head.push_str(&d),
            None => {
                head.push_str("The diagnosis follows when the alerter has read the build log.\n\n")
            }
        }
    }
    if let Stage::Skipped(reason) = stage {
        head.push_str(&format!(
            "Sentinel skipped this build: {}\n\n",
            text(reason, REASON_MAX)
        ));
    }
    if let Some(r) = rollback_section(record, ctx) {
        head.push_str(&r);
    }
    for section in [
        validation_section(record),
        health_section(record),
        bake_section(record),
    ]
    .into_iter()
    .flatten()
    {
        head.push_str(&section);
    }
    let foot = footer(record, ctx);
    let used = head.chars().count() + foot.chars().count();
    let evidence = evidence_section(record, SUMMARY_MAX.saturating_sub(used));
    let whole = format!("{head}{evidence}{foot}");
    fit_lines(whole, SUMMARY_MAX)
}

/// The last guard: at most `max` characters, cut at a line end with a
/// note (the sections' budgets make this unreachable; a fence left open by
/// the cut would only make the rest code).
fn fit_lines(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let note = "\n\n_(cut: GitHub's limit)_\n";
    let keep = max - note.chars().count();
    let mut out: String = text.chars().take(keep).collect();
    if let Some(end) = out.rfind('\n') {
        out.truncate(end);
    }
    out.push_str(note);
    out
}

fn annotations(record: &Deployment, ctx: &RenderContext) -> Vec<Annotation> {
    let mut out = Vec::new();
    if let Some(d) = &record.diagnosis {
        out = annotate::from_evidence(&d.evidence, &d.title, ctx.repo_root_hints, ctx.app_root);
    }
    if let Some(v) = &record.validation {
        for f in &v.report.findings {
            let level = match f.severity {
                Severity::Error => AnnotationLevel::Failure,
                _ => AnnotationLevel::Warning,
            };
            let Some(a) = f.location.as_deref().and_then(|l| {
                annotate::from_location(
                    l,
                    level,
                    &format!("{} Fix: {}", f.message, f.fix),
                    &f.rule,
                    ctx.app_root,
                )
            }) else {
                continue;
            };
            if out.len() < annotate::MAX
                && !out
                    .iter()
                    .any(|o| o.path == a.path && o.start_line == a.start_line)
            {
                out.push(a);
            }
        }
    }
    out
}

fn completed_at(record: &Deployment) -> Option<DateTime<Utc>> {
    [
        record.ended_at(),
        record.health.as_ref().map(|h| h.checked_at),
        record.bake.as_ref().and_then(|b| b.decided_at),
        record.timed_out_at,
    ]
    .into_iter()
    .flatten()
    .max()
}

fn deployment(
    record: &Deployment,
    stage: &Stage,
    title: &str,
    ctx: &RenderContext,
) -> Option<DesiredDeployment> {
    if record.status != BuildStatus::Succeeded || matches!(stage, Stage::Skipped(_)) {
        return None;
    }
    let branch = record.key.branch_name.as_str();
    let preview =
        ctx.branch_stage == Some("PULL_REQUEST") || pr_number(&record.key.branch_name).is_some();
    let (state, description) = if ctx.replaced {
        (
            DeploymentState::Inactive,
            match ctx.rolled_back_to {
                Some(to) => format!("Rolled back to job {to}"),
                None => "Replaced by a later deploy".to_owned(),
            },
        )
    } else {
        let state = match stage {
            Stage::CheckingSite => DeploymentState::InProgress,
            Stage::Healthy => DeploymentState::Success,
            Stage::Unhealthy | Stage::BakeFailed => DeploymentState::Failure,
            _ => DeploymentState::Error,
        };
        (state, title.to_owned())
    };
    let job = record.key.job_id;
    let mut payload = serde_json::json!({
        "app": record.key.app_id.as_str(),
        "branch": branch,
        "job": job.to_string(),
    });
    if let Some(target) = record.rollback_of {
        payload["rollbackOf"] = serde_json::json!(target.to_string());
    }
    Some(DesiredDeployment {
        new: NewDeployment {
            git_ref: record.details.commit_id.clone().unwrap_or_default(),
            environment: untrusted(branch),
            description: cut(
                &match record.rollback_of {
                    Some(target) => format!("Amplify job {job}: rollback to job {target}"),
                    None => format!("Amplify job {job}"),
                },
                DESCRIPTION_MAX,
            ),
            auto_merge: false,
            required_contexts: Vec::new(),
            transient_environment: preview,
            production_environment: ctx.branch_stage == Some("PRODUCTION"),
            payload,
        },
        status: DeploymentStatus {
            state,
            description: cut(&untrusted(&description), DESCRIPTION_MAX),
            environment_url: site_url(ctx),
            log_url: job_url(record, ctx),
            auto_inactive: false,
        },
    })
}

fn pr_comment(
    record: &Deployment,
    stage: &Stage,
    title: &str,
    ctx: &RenderContext,
    policy: PrComment,
) -> (Option<String>, bool) {
    if policy == PrComment::Never || pr_number(&record.key.branch_name).is_none() {
        return (None, false);
    }
    let may_create = policy == PrComment::Always || stage.is_failure();
    let icon = match stage.check() {
        (CheckStatus::Completed, Some(Conclusion::Success)) => "✅",
        (CheckStatus::Completed, Some(Conclusion::Failure | Conclusion::TimedOut)) => "❌",
        (CheckStatus::Completed, _) => "⚪",
        _ => "⏳",
    };
    let mut body = format!(
        "{COMMENT_MARKER}\n### {icon} Deploy Sentinel: {}\n\n",
        text(title, TITLE_MAX)
    );
    if policy == PrComment::Failures && !stage.is_failure() {
        // This comment exists only because an earlier build failed.
        body.push_str(&match stage {
            Stage::Healthy => "**Fixed:** an earlier build of this pull request failed; this one deployed and the site is healthy.\n\n".to_owned(),
            _ => "An earlier build of this pull request failed; this is the latest job.\n\n".to_owned(),
        });
    }
    if *stage == Stage::BuildFailed
        && let Some(d) = &record.diagnosis
    {
        body.push_str(&format!(
            "**Why:** {} ({})  \n**Fix:** {}\n\n",
            text(&d.title, TITLE_MAX),
            code_span(&d.category, 100),
            text_with_code(&d.fix, FIX_MAX)
        ));
        if !d.evidence.is_empty() {
            let lines: Vec<String> = d
                .evidence
                .iter()
                .take(COMMENT_EVIDENCE_LINES)
                .map(|e| format!("{:>6}: {}", e.line, cut(&untrusted(&e.text), 300)))
                .collect();
            body.push_str(&code_block(lines.iter().map(String::as_str)));
            body.push('\n');
        }
    }
    if let Some(h) = record
        .health
        .as_ref()
        .filter(|h| h.verdict != Verdict::Healthy)
    {
        body.push_str(&format!("**Health:** {}\n\n", text(&h.reason, 500)));
    }
    if let Some(reason) = record
        .bake
        .as_ref()
        .filter(|b| b.outcome == Some(BakeOutcome::Failed))
        .and_then(|b| b.reason.as_deref())
    {
        body.push_str(&format!("**Bake:** {}\n\n", text(reason, 500)));
    }
    if let Some(v) = record
        .validation
        .as_ref()
        .filter(|v| v.report.has_errors() && *stage == Stage::StoppedByValidation)
    {
        for f in v
            .report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .take(5)
        {
            body.push_str(&format!(
                "- {}: {} **Fix:** {}\n",
                code_span(&f.rule, 100),
                text(&f.message, 300),
                text(&f.fix, 300)
            ));
        }
        body.push('\n');
    }
    body.push_str(&footer(record, ctx));
    body.push_str(
        "\n<sub>Deploy Sentinel edits this comment on every push of the pull request.</sub>\n",
    );
    (Some(fit_lines(body, COMMENT_MAX)), may_create)
}

/// Everything that should appear on GitHub for `record` now (see the
/// module's documentation for each mapping). A record without a commit
/// id has an empty `head_sha` and `ref`: GitHub refuses those, and the
/// reaction writes nothing for such a job.
pub fn desired(record: &Deployment, ctx: &RenderContext, pr_comment_policy: PrComment) -> Desired {
    let stage = Stage::of(record, ctx);
    let title = title(record, &stage, ctx);
    let (status, conclusion) = stage.check();
    let details_url = job_url(record, ctx);
    let head_sha = record
        .details
        .commit_id
        .clone()
        .filter(|c| is_git_commit(c))
        .unwrap_or_default();
    let check_run = CheckRun {
        name: check_name(&record.key.branch_name),
        head_sha,
        status,
        conclusion,
        details_url: details_url.clone(),
        external_id: Some(format!(
            "{}/{}/{}",
            record.key.app_id, record.key.branch_name, record.key.job_id
        )),
        started_at: record.started_at(),
        completed_at: (status == CheckStatus::Completed)
            .then(|| completed_at(record))
            .flatten(),
        title: title.clone(),
        summary: summary(record, &stage, &title, ctx),
        annotations: annotations(record, ctx),
    };
    let commit_status = CommitStatus {
        state: stage.commit_state(),
        context: check_run.name.clone(),
        description: cut(&title, DESCRIPTION_MAX),
        target_url: details_url,
    };
    let (pr_comment, pr_comment_may_create) =
        pr_comment(record, &stage, &title, ctx, pr_comment_policy);
    Desired {
        deployment: deployment(record, &stage, &title, ctx),
        check_run,
        commit_status,
        pr_comment,
        pr_comment_may_create,
    }
}

#[cfg(test)]
mod tests;
