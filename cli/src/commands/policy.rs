//! `sentinel policy push|show`: the branch policy of an app or branch, in
//! the stack's table.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use sentinel_shared::core::model::{AppId, BranchName};
use sentinel_shared::policy::BranchPolicy;
use sentinel_shared::policy::PolicyStore;

use crate::commands::Ctx;

#[derive(Subcommand)]
pub enum Action {
    /// Store FILE as the policy of --app (and --branch, if given).
    Push {
        /// The policy file (YAML or JSON, `docs/policy.md`).
        file: PathBuf,
        /// The app it applies to.
        #[arg(long)]
        app: AppId,
        /// The branch it applies to (none: the whole app).
        #[arg(long)]
        branch: Option<BranchName>,
        /// What was stored, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the policy that applies to --app/--branch, and where it comes from.
    Show {
        /// The app.
        #[arg(long)]
        app: AppId,
        /// The branch (its policy, else the app's, else the built-in one).
        #[arg(long, default_value = "main")]
        branch: BranchName,
        /// One JSON document: app, branch, where it comes from, the policy.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(action: Action, ctx: &Ctx) -> Result<ExitCode> {
    match action {
        Action::Push {
            file,
            app,
            branch,
            json,
        } => push(ctx, file, app, branch, json).await,
        Action::Show { app, branch, json } => show(ctx, app, branch, json).await,
    }
}

async fn push(
    ctx: &Ctx,
    file: PathBuf,
    app: AppId,
    branch: Option<BranchName>,
    json: bool,
) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
    let policy = BranchPolicy::parse(&text, &file.display().to_string())?;
    ctx.store()
        .await?
        .put_policy(&app, branch.as_ref(), &policy)
        .await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "stored": true,
                "app": app.as_str(),
                "branch": branch.as_ref().map(|b| b.as_str()),
                "policy": policy,
            }))?
        );
    } else {
        let scope = branch.map_or_else(
            || format!("app {app}"),
            |b| format!("branch {b} of app {app}"),
        );
        println!("policy stored for {scope}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(ctx: &Ctx, app: AppId, branch: BranchName, json: bool) -> Result<ExitCode> {
    let found = ctx.store().await?.get_policy(&app, &branch).await?;
    let (policy, scope) = found.map_or_else(
        || (BranchPolicy::default(), "default".to_owned()),
        |s| (s.policy, s.scope),
    );
    if json {
        let value = serde_json::json!({
            "app": app.as_str(),
            "branch": branch.as_str(),
            "from": scope,
            "policy": policy,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("# policy for {app}/{branch} (from: {scope})");
        println!("{}", serde_json::to_string_pretty(&policy)?);
    }
    Ok(ExitCode::SUCCESS)
}
