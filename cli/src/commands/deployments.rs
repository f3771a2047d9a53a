//! `sentinel deployments`: the recorded deployments of the environment,
//! newest first, as a table or JSON.

use std::process::ExitCode;

use anyhow::{Context, Result};
use sentinel_shared::core::model::{AppId, BranchName, Source};
use sentinel_shared::ports::{DeploymentFilter, DeploymentStore};

use crate::commands::Ctx;
use crate::{render, term};

#[derive(clap::Args)]
pub struct Args {
    /// Only this app's deployments.
    #[arg(long)]
    app: Option<AppId>,
    /// Only this branch's deployments.
    #[arg(long)]
    branch: Option<BranchName>,
    /// Only deployments of this source: amplify, cloudformation or
    /// report (every source by default, side by side).
    #[arg(long)]
    source: Option<Source>,
    /// At most this many.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// One JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args, ctx: &Ctx) -> Result<ExitCode> {
    let environment = ctx.environment()?;
    // The index is by environment and time, not by source: a
    // source filter reads more and keeps the newest `limit`.
    let filter = DeploymentFilter {
        app_id: args.app,
        branch_name: args.branch,
        limit: if args.source.is_some() {
            args.limit.saturating_mul(10).max(500)
        } else {
            args.limit
        },
    };
    let progress = term::Progress::start("reading deployments");
    let mut found = ctx
        .store()
        .await?
        .list_deployments(environment, &filter)
        .await
        .context("reading deployments")?;
    if let Some(source) = args.source {
        found.retain(|d| d.key.app_id.source() == source);
        found.truncate(args.limit);
    }
    drop(progress);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&render::json(&found))?);
    } else {
        print!("{}", render::table(&found));
    }
    Ok(ExitCode::SUCCESS)
}
