//! GitHub's JSON answers, the fields Sentinel reads, and their conversion
//! to the port's types (pure).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::github::api::{CheckRun, CommitInfo, Comparison, NewDeployment};

/// Files GitHub lists in a comparison at most
/// (<https://docs.github.com/en/rest/commits/commits#compare-two-commits>:
/// "the list of changed files is only shown if there are less than 300").
pub const COMPARE_MAX_FILES: usize = 300;

/// Anything with an `id` (a created check run, deployment or comment).
#[derive(Debug, Deserialize)]
pub struct Created {
    pub id: u64,
}

#[derive(Debug, Default, Deserialize)]
struct GitPerson {
    name: Option<String>,
    date: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize)]
struct GitCommit {
    #[serde(default)]
    author: Option<GitPerson>,
    #[serde(default)]
    committer: Option<GitPerson>,
}

#[derive(Debug, Deserialize)]
struct Account {
    login: String,
}

/// A commit as GitHub lists it (`GET …/commits/{sha}`, a comparison's
/// `commits[]`).
#[derive(Debug, Deserialize)]
pub struct Commit {
    sha: String,
    #[serde(default)]
    commit: GitCommit,
    /// `null` when no account matches the git author's e-mail.
    #[serde(default)]
    author: Option<Account>,
}

impl From<Commit> for CommitInfo {
    fn from(c: Commit) -> Self {
        let author = c.commit.author.unwrap_or_default();
        Self {
            sha: c.sha,
            author_name: author.name,
            author_login: c.author.map(|a| a.login),
            authored_at: author.date,
            committed_at: c.commit.committer.and_then(|p| p.date),
        }
    }
}

#[derive(Debug, Deserialize)]
struct File {
    filename: String,
    #[serde(default)]
    previous_filename: Option<String>,
}

/// `GET …/compare/{base}...{head}`.
#[derive(Debug, Deserialize)]
pub struct Compare {
    status: String,
    total_commits: u64,
    #[serde(default)]
    commits: Vec<Commit>,
    /// Absent when the diff is too large for GitHub to list.
    #[serde(default)]
    files: Option<Vec<File>>,
}

impl From<Compare> for Comparison {
    fn from(c: Compare) -> Self {
        // No `files` at all: GitHub would not list them (too large a diff).
        let truncated = c
            .files
            .as_ref()
            .map_or(c.total_commits > 0, |f| f.len() >= COMPARE_MAX_FILES)
            || c.total_commits > c.commits.len() as u64;
        let mut files: Vec<String> = Vec::new();
        for f in c.files.unwrap_or_default() {
            files.push(f.filename);
            if let Some(previous) = f.previous_filename {
                files.push(previous);
            }
        }
        files.sort();
        files.dedup();
        Self {
            status: c.status,
            total_commits: c.total_commits,
            commits: c.commits.into_iter().map(CommitInfo::from).collect(),
            files,
            truncated,
        }
    }
}

/// One of `GET …/issues/{n}/comments`.
#[derive(Debug, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
}

/// `GET /repos/{o}/{r}/installation`, `GET /app/installations/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Installation {
    pub id: u64,
    /// `{"checks": "write", "metadata": "read", …}`.
    #[serde(default)]
    pub permissions: BTreeMap<String, String>,
}

/// `POST /app/installations/{id}/access_tokens`.
#[derive(Deserialize)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// `GET /app`: the App the JWT names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct App {
    pub id: u64,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// GitHub's timestamps: ISO 8601, to the second, in UTC.
fn iso(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A check run as GitHub's create and update bodies take it: the title,
/// summary and annotations under `output`; no `head_sha` on an update
/// (<https://docs.github.com/en/rest/checks/runs#update-a-check-run>).
pub fn check_run(run: &CheckRun, create: bool) -> serde_json::Value {
    let mut output = serde_json::json!({ "title": run.title, "summary": run.summary });
    if !run.annotations.is_empty() {
        output["annotations"] = serde_json::json!(run.annotations);
    }
    let mut body = serde_json::json!({
        "name": run.name,
        "status": run.status,
        "output": output,
    });
    if create {
        body["head_sha"] = serde_json::json!(run.head_sha);
    }
    if let Some(c) = run.conclusion {
        body["conclusion"] = serde_json::json!(c);
    }
    for (field, value) in [
        ("details_url", run.details_url.clone()),
        ("external_id", run.external_id.clone()),
        ("started_at", run.started_at.as_ref().map(iso)),
        ("completed_at", run.completed_at.as_ref().map(iso)),
    ] {
        if let Some(v) = value {
            body[field] = serde_json::json!(v);
        }
    }
    body
}

/// A deployment as GitHub's create body takes it: `payload` left out when
/// there is none (GitHub takes an object or a string, not `null`).
/// <https://docs.github.com/en/rest/deployments/deployments#create-a-deployment>
pub fn deployment(d: &NewDeployment) -> serde_json::Value {
    let mut body = serde_json::json!(d);
    if d.payload.is_null()
        && let Some(o) = body.as_object_mut()
    {
        o.remove("payload");
    }
    body
}
