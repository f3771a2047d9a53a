//! `sentinel check`: a site checked as the health checker does: exit 0
//! healthy, 1 unhealthy, 3 inconclusive.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use sentinel_shared::policy::BranchPolicy;

use crate::{exit, render, term};

#[derive(clap::Args)]
pub struct Args {
    /// The site's root URL.
    url: String,
    /// The commit the site must report (a prefix of 7+ characters counts).
    #[arg(long)]
    expect_commit: Option<String>,
    /// Paths to check (GET, expecting 2xx); default: the policy's, else `/`.
    #[arg(long = "path")]
    paths: Vec<String>,
    /// Seconds to reach a verdict.
    #[arg(long, default_value_t = 60)]
    deadline: u64,
    /// Hosts requests and redirects may also go to (the URL's own always may).
    #[arg(long = "allow-host")]
    allow_hosts: Vec<String>,
    /// Seconds an old version may still be served before it counts as a
    /// failure (by hand: 0, you check now; the health checker waits).
    #[arg(long, default_value_t = 0)]
    grace: u64,
    /// A policy file whose `health` section to use.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> Result<ExitCode> {
    let Args {
        url,
        expect_commit,
        paths,
        deadline,
        allow_hosts,
        grace,
        policy,
        json,
    } = args;
    let mut health = match &policy {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
            BranchPolicy::parse(&text, &path.display().to_string())?.health
        }
        None => sentinel_shared::health::HealthPolicy::default(),
    };
    if !paths.is_empty() {
        health.endpoints = paths
            .into_iter()
            .map(|path| sentinel_shared::health::EndpointCheck {
                path,
                ..Default::default()
            })
            .collect();
    }
    health.deadline_ms = deadline * 1000;
    health.version_grace_ms = grace * 1000;
    health.allowed_hosts.extend(allow_hosts);
    // The user named this URL: its origin may be a dev server on
    // 127.0.0.1 or plain http. Every other host, and every redirect
    // (scheme and port pinned), is held to the functions' rules.
    let rules = sentinel_shared::outbound::Outbound::named_by_a_person(&url);
    let checker = sentinel_shared::health::Checker::new(&url, health, &rules)?;
    let progress = term::Progress::start(&format!("checking {url}"));
    let report = checker.run(expect_commit.as_deref()).await;
    drop(progress);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render::health(&report));
    }
    Ok(ExitCode::from(match report.verdict {
        sentinel_shared::health::Verdict::Healthy => exit::SUCCESS,
        sentinel_shared::health::Verdict::Unhealthy => exit::FINDING,
        sentinel_shared::health::Verdict::Inconclusive => exit::INCONCLUSIVE,
    }))
}
