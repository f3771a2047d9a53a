//! One alert in the three forms subscribers take: an SNS subject (ASCII,
//! at most 100 characters), an e-mail body, and AWS Chatbot's custom
//! notification JSON (`{"version":"1.0","source":"custom",…}`), which
//! Slack and Teams receive through Chatbot without webhooks; plus message
//! attributes for subscription filter policies.

use std::collections::BTreeMap;

use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use super::console::console_url;
use super::escape::{chat_code, chat_link, chat_text, untrusted};
use super::{Decision, Incident, Severity};
use crate::core::model::{AppId, BranchName, Environment, JobId, Source};
use crate::diagnose::Evidence;

/// SNS's limit on a subject.
pub const SUBJECT_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Unique per message (the event's id, plus a suffix for a resolve).
    pub id: String,
    pub subject: String,
    pub email: String,
    /// AWS Chatbot's custom notification, as JSON text.
    pub chat: String,
    /// `environment`, `severity`, `category`, `app`, `branch`, `event`.
    pub attributes: BTreeMap<String, String>,
}

/// Where an alert is about.
#[derive(Debug, Clone)]
pub struct Context {
    pub environment: Environment,
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub job_id: Option<JobId>,
    pub commit_id: Option<String>,
    pub commit_message: Option<String>,
    /// The job in the Amplify console.
    pub console_url: Option<String>,
    pub site_url: Option<String>,
    /// Who pushed the commit, as GitHub knows it (GitHub on): the alert
    /// says "Pushed by Jane Doe (@jdoe)". `None`: not said.
    pub author: Option<Author>,
    /// The branch's site on its custom domain, when Amplify reports one
    /// available (`health::site::branch_url` with the domain's host):
    /// "Open the site" links it rather than `site_url`.
    pub custom_site_url: Option<String>,
}

/// The author of a commit, as GitHub's commit answer names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Author {
    /// The git author's name (free text: the committer chose it).
    pub name: Option<String>,
    /// The GitHub account, when GitHub matched one.
    pub login: Option<String>,
}

impl From<&crate::github::api::CommitInfo> for Author {
    fn from(c: &crate::github::api::CommitInfo) -> Self {
        Self {
            name: c.author_name.clone(),
            login: c.author_login.clone(),
        }
    }
}

/// What an author's name keeps (git lets it be any length).
pub const AUTHOR_MAX: usize = 100;

impl Author {
    /// `Jane Doe (@jdoe)`, through [`untrusted`] and within
    /// [`AUTHOR_MAX`]; a login that is none of GitHub's is left out.
    fn line(&self) -> Option<String> {
        let name = self
            .name
            .as_deref()
            .map(|n| crate::github::markdown::cut(&untrusted(n), AUTHOR_MAX))
            .filter(|n| !n.trim().is_empty());
        let login = self
            .login
            .as_deref()
            .filter(|l| crate::github::api::valid_login(l));
        match (name, login) {
            (Some(name), Some(login)) => Some(format!("{name} (@{login})")),
            (Some(name), None) => Some(name),
            (None, Some(login)) => Some(format!("@{login}")),
            (None, None) => None,
        }
    }
}

/// Chat text in which no `@` starts a mention (`@here`, `@channel`): a
/// zero-width joiner follows it.
fn chat_no_mention(text: &str) -> String {
    chat_text(text).replace('@', "@\u{200D}")
}

/// What happened, as the alerter describes it.
#[derive(Debug, Clone)]
pub struct Content {
    /// The domain event's `detail-type`.
    pub event_type: String,
    /// "Build failed", "Deployment unhealthy", …
    pub headline: String,
    /// A diagnosis category, or the event's kind (`unhealthy`, `rollback`).
    pub category: String,
    pub severity: Severity,
    /// One paragraph: what happened.
    pub summary: String,
    /// The diagnosis's title, and whether a retry can help.
    pub diagnosis: Option<(String, bool)>,
    pub fix: Option<String>,
    pub evidence: Vec<Evidence>,
    /// Further facts, one per line (endpoints, findings, secondary causes).
    pub details: Vec<String>,
}

/// Every text field of an alert, through [`untrusted`] (secrets masked,
/// no control or bidi characters): what [`render`] reads, so that no
/// field reaches a target unescaped. Each target escapes further
/// ([`super::escape`]).
struct Safe {
    app: String,
    branch: String,
    commit: Option<String>,
    console_url: Option<String>,
    site_url: Option<String>,
    author: Option<String>,
    headline: String,
    category: String,
    event_type: String,
    severity: Severity,
    summary: String,
    diagnosis: Option<(String, bool)>,
    fix: Option<String>,
    evidence: Vec<(u64, String)>,
    details: Vec<String>,
}

impl Safe {
    fn new(ctx: &Context, content: &Content) -> Self {
        let opt = |s: &Option<String>| s.as_deref().map(untrusted);
        let commit = ctx.commit_id.as_deref().map(|id| {
            let id = untrusted(id);
            let short: String = id.chars().take(12).collect();
            match ctx.commit_message.as_deref() {
                Some(m) => format!(
                    "{short} \"{}\"",
                    untrusted(m.lines().next().unwrap_or_default())
                ),
                None => short,
            }
        });
        Self {
            app: untrusted(ctx.app_id.as_str()),
            branch: untrusted(ctx.branch_name.as_str()),
            commit,
            console_url: opt(&ctx.console_url),
            site_url: opt(&ctx.custom_site_url).or_else(|| opt(&ctx.site_url)),
            author: ctx.author.as_ref().and_then(Author::line),
            headline: untrusted(&content.headline),
            category: untrusted(&content.category),
            event_type: untrusted(&content.event_type),
            severity: content.severity,
            summary: untrusted(&content.summary),
            diagnosis: content
                .diagnosis
                .as_ref()
                .map(|(t, transient)| (untrusted(t), *transient)),
            fix: opt(&content.fix),
            evidence: content
                .evidence
                .iter()
                .map(|e| (e.line, untrusted(&e.text)))
                .collect(),
            details: content.details.iter().map(|d| untrusted(d)).collect(),
        }
    }
}

/// A duration as people read it: `45s`, `3m05s`, `2h10m`, `1d04h`.
pub fn human(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// An SNS subject: printable ASCII, no line breaks, at most 100 characters.
pub fn subject(text: &str) -> String {
    let ascii: String = text
        .chars()
        .map(|c| match c {
            '—' | '–' => '-',
            '×' => 'x',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .collect();
    if ascii.len() <= SUBJECT_MAX {
        return ascii;
    }
    format!("{}...", &ascii[..SUBJECT_MAX - 3])
}

/// `[env] app/branch: what`, the branch shortened in the middle when the
/// whole would pass SNS's limit, so that what happened always shows.
fn subject_for(env: Environment, safe: &Safe, what: &str) -> String {
    let what = subject(what);
    let head = format!("[{env}] {}/", subject(&safe.app));
    let branch = subject(&safe.branch);
    let room = SUBJECT_MAX.saturating_sub(head.len() + 2 + what.len());
    let branch = if branch.len() <= room {
        branch
    } else if room >= 8 {
        let keep = room - 3;
        format!(
            "{}...{}",
            &branch[..keep / 2],
            &branch[branch.len() - (keep - keep / 2)..]
        )
    } else {
        String::new()
    };
    subject(&format!("{head}{branch}: {what}"))
}

/// Renders the message a decision calls for (`None` when it sends nothing).
pub fn render(
    id: &str,
    ctx: &Context,
    content: &Content,
    decision: &Decision,
    suppressed: u32,
) -> Option<Notification> {
    let env = ctx.environment;
    let safe = Safe::new(ctx, content);
    let content = &safe;
    let (subject_text, severity, incident_line, id) = match decision {
        Decision::Opened(i) => (
            format!("{} ({})", content.headline, content.category),
            content.severity,
            Some(incident_summary(i)),
            id.to_owned(),
        ),
        Decision::Reminder(i) => (
            format!(
                "still {} x{} ({})",
                content.headline.to_lowercase(),
                i.count,
                content.category
            ),
            content.severity,
            Some(incident_summary(i)),
            id.to_owned(),
        ),
        Decision::Resolved(incidents) => {
            let longest = incidents
                .iter()
                .filter_map(Incident::time_to_restore)
                .max()
                .unwrap_or_default();
            (
                format!(
                    "RESOLVED {} after {}",
                    incidents
                        .iter()
                        .map(|i| i.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    human(longest)
                ),
                Severity::Info,
                Some(
                    incidents
                        .iter()
                        .map(|i| {
                            format!(
                                "{} resolved by job {} after {} ({} occurrence{}, first job {})",
                                i.key,
                                i.resolved_by_job.map_or("?".into(), |j| j.to_string()),
                                human(i.time_to_restore().unwrap_or_default()),
                                i.count,
                                if i.count == 1 { "" } else { "s" },
                                i.first_job.map_or("?".into(), |j| j.to_string()),
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
                format!("{id}/resolved"),
            )
        }
        Decision::Notice => (
            format!("{} ({})", content.headline, content.category),
            content.severity,
            None,
            id.to_owned(),
        ),
        Decision::Duplicate | Decision::Stale | Decision::Joined(_) | Decision::NothingOpen => {
            return None;
        }
    };
    let resolved = matches!(decision, Decision::Resolved(_));
    let subject = subject_for(env, &safe, &untrusted(&subject_text));
    let held_back = (suppressed > 0).then(|| {
        format!("{suppressed} message(s) about this branch were held back in the last hour (too many alerts; it may be flapping).")
    });
    let email = email_body(
        ctx,
        &safe,
        resolved,
        incident_line.as_deref(),
        held_back.as_deref(),
    );
    let chat = chat_json(
        &id,
        ctx,
        &safe,
        &subject,
        resolved,
        incident_line.as_deref(),
        held_back.as_deref(),
    );
    let mut attributes = BTreeMap::new();
    attributes.insert("environment".into(), env.to_string());
    attributes.insert("severity".into(), severity.as_str().into());
    attributes.insert(
        "category".into(),
        if resolved {
            "resolved".into()
        } else {
            content.category.clone()
        },
    );
    attributes.insert("app".into(), safe.app.clone());
    attributes.insert("branch".into(), safe.branch.clone());
    attributes.insert(
        "event".into(),
        if resolved {
            "Incident Resolved".into()
        } else {
            content.event_type.clone()
        },
    );
    Some(Notification {
        id,
        subject,
        email,
        chat,
        attributes,
    })
}

fn incident_summary(i: &Incident) -> String {
    format!(
        "Incident {} opened {} ({} occurrence{}{}).",
        i.key,
        i.opened_at.format("%Y-%m-%d %H:%M UTC"),
        i.count,
        if i.count == 1 { "" } else { "s" },
        if i.reminders > 0 {
            format!(", reminder {}", i.reminders)
        } else {
            String::new()
        }
    )
}

fn email_body(
    ctx: &Context,
    content: &Safe,
    resolved: bool,
    incident: Option<&str>,
    held_back: Option<&str>,
) -> String {
    let mut out = String::new();
    let title = if resolved {
        "Resolved"
    } else {
        content.headline.as_str()
    };
    // What was deployed, in its own words: an app's branch, a stack's or a
    // reported service's environment.
    let (kind, name, place) = match ctx.app_id.source() {
        Source::Amplify => ("app", content.app.as_str(), "branch"),
        Source::CloudFormation => (
            "stack",
            content
                .app
                .strip_prefix(AppId::STACK_PREFIX)
                .unwrap_or(&content.app),
            "environment",
        ),
        Source::Report => (
            "service",
            content
                .app
                .strip_prefix(AppId::SERVICE_PREFIX)
                .unwrap_or(&content.app),
            "environment",
        ),
    };
    out.push_str(&format!(
        "{title}: {kind} {name} / {place} {} ({})\n\n",
        content.branch, ctx.environment
    ));
    if let Some(line) = held_back {
        out.push_str(&format!("NOTE: {line}\n\n"));
    }
    if resolved {
        for line in incident.unwrap_or_default().lines() {
            out.push_str(&untrusted(line));
            out.push('\n');
        }
    } else {
        out.push_str("WHAT HAPPENED\n");
        out.push_str(&content.summary);
        out.push('\n');
        if let Some((title, transient)) = &content.diagnosis {
            out.push_str(&format!("\nDIAGNOSIS [{}]\n{title}\n", content.category));
            out.push_str(if *transient {
                "Transient: a retry of the same commit can succeed.\n"
            } else {
                "Not transient: retrying the same commit will fail the same way.\n"
            });
        }
        if let Some(fix) = &content.fix {
            out.push_str(&format!("\nFIX\n{fix}\n"));
        }
        if !content.evidence.is_empty() {
            out.push_str(match ctx.app_id.source() {
                Source::Amplify => "\nEVIDENCE (from the build log)\n",
                Source::CloudFormation => "\nEVIDENCE (from the stack's events)\n",
                Source::Report => "\nEVIDENCE (from the log `sentinel report --log` read)\n",
            });
            for (line, text) in &content.evidence {
                out.push_str(&format!("{line:>6}: {text}\n"));
            }
        }
        if !content.details.is_empty() {
            out.push_str("\nDETAILS\n");
            for d in &content.details {
                out.push_str(&format!("- {d}\n"));
            }
        }
        if let Some(line) = incident {
            out.push_str(&format!("\n{}\n", untrusted(line)));
        }
    }
    out.push_str("\nWHERE\n");
    if let Some(job) = ctx.job_id {
        out.push_str(&format!("Job:    {job}\n"));
    }
    if let Some(commit) = &content.commit {
        out.push_str(&format!("Commit: {commit}\n"));
    }
    if let Some(author) = &content.author {
        out.push_str(&format!("Pushed by: {author}\n"));
    }
    if let Some(url) = &content.console_url {
        out.push_str(&format!("Amplify console: {url}\n"));
    }
    if let Some(url) = &content.site_url {
        out.push_str(&format!("Site: {url}\n"));
    }
    out.push_str(&format!("\n-- Deploy Sentinel ({})\n", ctx.environment));
    out
}

fn chat_json(
    id: &str,
    ctx: &Context,
    content: &Safe,
    subject: &str,
    resolved: bool,
    incident: Option<&str>,
    held_back: Option<&str>,
) -> String {
    let icon = match (resolved, content.severity) {
        (true, _) => ":white_check_mark:",
        (_, Severity::Critical) => ":rotating_light:",
        (_, Severity::Error) => ":x:",
        (_, Severity::Warning) => ":warning:",
        (_, Severity::Info) => ":information_source:",
    };
    let headline = if resolved {
        "Resolved".to_owned()
    } else {
        chat_text(&content.headline)
    };
    let (app, branch) = (chat_text(&content.app), chat_text(&content.branch));
    let mut description = String::new();
    if let Some(line) = held_back {
        description.push_str(&format!("_{}_\n", chat_text(line)));
    }
    if resolved {
        let lines: Vec<String> = incident
            .unwrap_or_default()
            .lines()
            .map(chat_text)
            .collect();
        description.push_str(&lines.join("\n"));
    } else {
        description.push_str(&chat_text(&content.summary));
        if let Some((title, transient)) = &content.diagnosis {
            description.push_str(&format!(
                "\n*{}* (`{}`{})",
                chat_text(title),
                chat_code(&content.category),
                if *transient { ", transient" } else { "" }
            ));
        }
        if !content.evidence.is_empty() {
            description.push_str("\n```\n");
            for (line, text) in content.evidence.iter().take(4) {
                description.push_str(&format!("{line}: {}\n", chat_code(text)));
            }
            description.push_str("```");
        }
    }
    if let Some(commit) = &content.commit {
        description.push_str(&format!("\nCommit {}", chat_text(commit)));
    }
    if let Some(author) = &content.author {
        description.push_str(&format!("\nPushed by {}", chat_no_mention(author)));
    }
    let mut next_steps: Vec<String> = Vec::new();
    if !resolved && let Some(fix) = &content.fix {
        next_steps.push(chat_text(fix));
    }
    for (url, text) in [
        (&content.console_url, "Open the job in the Amplify console"),
        (&content.site_url, "Open the site"),
    ] {
        let Some(url) = url else { continue };
        next_steps.push(match chat_link(url) {
            Some(target) => format!("<{target}|{text}>"),
            None => format!("{text}: {}", chat_text(url)),
        });
    }
    let mut additional = serde_json::Map::new();
    additional.insert("category".into(), json!(content.category));
    if let Some(job) = ctx.job_id {
        additional.insert("jobId".into(), json!(job.to_string()));
    }
    if let Some(commit) = &ctx.commit_id {
        additional.insert("commitId".into(), json!(untrusted(commit)));
    }
    json!({
        "version": "1.0",
        "source": "custom",
        "id": id,
        "content": {
            "textType": "client-markdown",
            "title": format!("{icon} {headline}: {app}/{branch} ({})", ctx.environment),
            "description": description,
            "nextSteps": next_steps,
            "keywords": [ctx.environment.to_string(), app, branch, chat_text(&content.category)],
        },
        "metadata": {
            "threadId": format!("{}/{}", content.app, content.branch),
            "summary": subject,
            "eventType": if resolved { "Incident Resolved" } else { content.event_type.as_str() },
            "relatedResources": content.console_url.iter().chain(content.site_url.iter()).collect::<Vec<_>>(),
            "additionalContext": additional,
        }
    })
    .to_string()
}
