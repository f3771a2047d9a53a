//! The footer the check run's summary and the pull request comment end
//! with: the commit, who pushed it, and links to the job in the Amplify
//! console and to the site (the check run's and the deployment's URLs too).

use super::stage::RenderContext;
use crate::alert::console::console_url;
use crate::alert::escape::untrusted;
use crate::core::deployment::Deployment;
use crate::github::api::{CommitInfo, valid_login};
use crate::github::markdown::{self, code_span, link, text};

const COMMIT_MESSAGE_MAX: usize = 200;
const AUTHOR_MAX: usize = 100;

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

pub(super) fn job_url(record: &Deployment, ctx: &RenderContext) -> Option<String> {
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

pub(super) fn site_url(ctx: &RenderContext) -> Option<String> {
    ctx.site_url
        .and_then(|u| markdown::url(u).map(|_| u.to_owned()))
}

pub(super) fn footer(record: &Deployment, ctx: &RenderContext) -> String {
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
