//! The check run: its name, its summary (everything the alert says, as
//! GitHub markdown, one section per part of the record, within
//! [`SUMMARY_MAX`] characters), its annotations, and when it completed.

use chrono::{DateTime, Utc};

use super::footer::footer;
use super::stage::{RenderContext, Stage, TITLE_MAX, observed, plural};
use crate::alert::escape::untrusted;
use crate::core::bake::{BakeOutcome, StepOutcome};
use crate::core::deployment::Deployment;
use crate::core::model::BranchName;
use crate::core::verdicts::{Outcome as EndpointOutcome, Severity, Verdict};
use crate::github::annotate;
use crate::github::api::{Annotation, AnnotationLevel};
use crate::github::markdown::{code_block, code_span, cut, link, text, text_with_code};

/// A check run's `output.summary` holds at most 65,535 characters
/// (docs.github.com/en/rest/checks/runs#create-a-check-run, `output.summary`).
pub const SUMMARY_MAX: usize = 65_535;

/// What the check run's name keeps of a branch name (up to 255).
pub const BRANCH_IN_NAME_MAX: usize = 100;

pub(super) const FIX_MAX: usize = 2_000;
const FINDING_MAX: usize = 600;
const REASON_MAX: usize = 1_000;
/// Each list (findings, endpoints, bake intervals) within this many
/// characters of markdown; the evidence has what remains.
const LIST_MAX: usize = 12_000;
const EVIDENCE_LINE_MAX: usize = 500;
/// Room kept for the note that says what was left out.
const NOTE_ROOM: usize = 400;

/// The check run's (and the status's) name: `Deploy Sentinel / <branch>`.
pub fn check_name(branch: &BranchName) -> String {
    format!(
        "Deploy Sentinel / {}",
        cut(&untrusted(branch.as_str()), BRANCH_IN_NAME_MAX)
    )
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
pub(super) fn summary(
    record: &Deployment,
    stage: &Stage,
    title: &str,
    ctx: &RenderContext,
) -> String {
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
pub(super) fn fit_lines(text: String, max: usize) -> String {
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

pub(super) fn annotations(record: &Deployment, ctx: &RenderContext) -> Vec<Annotation> {
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

pub(super) fn completed_at(record: &Deployment) -> Option<DateTime<Utc>> {
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
