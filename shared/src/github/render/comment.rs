//! The pull request comment of an Amplify `pr-N` preview: one per pull
//! request, found by [`COMMENT_MARKER`], and posted or edited as the
//! policy's `github.pr_comment` says ([`PrComment`]).

use serde::{Deserialize, Serialize};

use super::check_run::{FIX_MAX, fit_lines};
use super::footer::footer;
use super::stage::{RenderContext, Stage, TITLE_MAX};
use crate::alert::escape::untrusted;
use crate::core::bake::BakeOutcome;
use crate::core::deployment::Deployment;
use crate::core::model::BranchName;
use crate::core::verdicts::{Severity, Verdict};
use crate::github::api::{CheckStatus, Conclusion};
use crate::github::markdown::{code_block, code_span, cut, text, text_with_code};

/// The one comment per pull request is found by this marker, which its
/// body starts with.
pub const COMMENT_MARKER: &str = "<!-- deploy-sentinel -->";

/// The pull request comment's budget (GitHub allows 65,536 characters in
/// an issue comment; a comment is read in a pull request's timeline).
pub const COMMENT_MAX: usize = 16_000;

const COMMENT_EVIDENCE_LINES: usize = 10;

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

/// Amplify's pull request previews are branches named `pr-N`.
pub fn pr_number(branch: &BranchName) -> Option<u64> {
    let digits = branch.as_str().strip_prefix("pr-")?;
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

pub(super) fn pr_comment(
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
