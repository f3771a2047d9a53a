//! `sentinel rollback` and `sentinel unlock`: a branch rolled back by an
//! operator, through the same path and guards as the automatic rollback,
//! and its lock released.

use std::process::ExitCode;

use anyhow::{Context, Result};
use sentinel_shared::adapters::Aws;
use sentinel_shared::core::model::{AppId, BranchName, Environment};

use crate::commands::Ctx;
use crate::{exit, stack};

#[derive(clap::Args)]
pub struct Args {
    /// The app whose branch to roll back.
    #[arg(long)]
    app: AppId,
    /// The branch to roll back.
    #[arg(long)]
    branch: BranchName,
    /// The job to go back to (default: the branch's last known good).
    #[arg(long)]
    to: Option<sentinel_shared::core::model::JobId>,
    /// Why (recorded with the rollback and told in its alert).
    #[arg(long, default_value = "requested by an operator")]
    reason: String,
    /// Who asks (recorded; default: $USER).
    #[arg(long, env = "USER", default_value = "operator")]
    by: String,
    /// The stack's event bus (or --stack).
    #[arg(long, env = "SENTINEL_EVENT_BUS")]
    bus: Option<String>,
    /// The stack's watched apps: a branch outside the watch scope is
    /// never rolled back (none: every app).
    #[arg(long = "watched", env = "SENTINEL_APP_IDS", value_delimiter = ',')]
    watched_apps: Vec<AppId>,
    /// The stack's watched branch patterns (none: every branch).
    #[arg(long = "branches", env = "SENTINEL_BRANCHES")]
    watched_branches: Option<String>,
    /// What happened as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct UnlockArgs {
    /// The app whose branch to unlock.
    #[arg(long)]
    app: AppId,
    /// The branch to unlock.
    #[arg(long)]
    branch: BranchName,
    /// Who releases it (recorded; default: $USER).
    #[arg(long, env = "USER", default_value = "operator")]
    by: String,
    /// What happened as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args, ctx: &Ctx) -> Result<ExitCode> {
    let Args {
        app,
        branch,
        to,
        reason,
        by,
        bus,
        watched_apps,
        watched_branches,
        json,
    } = args;
    let from_stack = ctx.stack.as_ref();
    let bus = ctx.bus(bus)?.context(
        "rollback publishes \"Rollback Started\": pass --stack, or --bus (SENTINEL_EVENT_BUS)",
    )?;
    let scope =
        stack::watch_scope(from_stack, watched_apps, watched_branches, None)?.unwrap_or_default();
    anyhow::ensure!(
        scope.covers(&app, &branch),
        "{app}/{branch} is outside the stack's watch scope ({scope}): not rolled back"
    );
    let (store, amplify, publisher) = ctx.operator(Some(&bus)).await?;
    let rollbacker = sentinel_shared::rollback::reaction::Rollbacker::<Aws> {
        store: &store,
        amplify: &amplify,
        publisher: &publisher,
        environment: ctx.environment()?,
        auto_rollback: sentinel_shared::rollback::AutoRollback::Auto,
        // The operator asked for it: it acts in either mode.
        enforcement: sentinel_shared::core::enforcement::Enforcement::Enforce,
        holder: by,
    };
    let action = rollbacker
        .rollback(&app, &branch, to, None, &reason, false)
        .await?;
    use sentinel_shared::rollback::reaction::RollbackAction;
    let (code, text, value) = match action {
        RollbackAction::Started {
            rollback_job,
            target_job,
        } => (
            exit::SUCCESS,
            format!(
                "rollback started: job {rollback_job} rebuilds job {target_job}; auto-build is off for {branch} until `sentinel unlock --app {app} --branch {branch}`"
            ),
            serde_json::json!({"started": true, "rollbackJobId": rollback_job, "targetJobId": target_job}),
        ),
        RollbackAction::RollbackFailed(why) => (
            exit::FINDING,
            format!("rollback failed: {why}"),
            serde_json::json!({"started": false, "failed": why}),
        ),
        RollbackAction::Refused { why, recommended } => (
            exit::FINDING,
            format!("no rollback: {why}"),
            serde_json::json!({"started": false, "refused": why, "recommended": recommended}),
        ),
        other => {
            let why = format!("{other:?}");
            (
                exit::FINDING,
                format!("no rollback: {why}"),
                serde_json::json!({"started": false, "refused": why}),
            )
        }
    };
    if json {
        let mut value = value;
        value["app"] = serde_json::json!(app.as_str());
        value["branch"] = serde_json::json!(branch.as_str());
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{text}");
    }
    Ok(ExitCode::from(code))
}

pub async fn unlock(args: UnlockArgs, ctx: &Ctx) -> Result<ExitCode> {
    let UnlockArgs {
        app,
        branch,
        by,
        json,
    } = args;
    // Unlock publishes nothing: it needs no bus.
    let (store, amplify, publisher) = ctx.operator(None).await?;
    let rollbacker = sentinel_shared::rollback::reaction::Rollbacker::<Aws> {
        store: &store,
        amplify: &amplify,
        publisher: &publisher,
        environment: ctx.environment.unwrap_or(Environment::Dev),
        auto_rollback: sentinel_shared::rollback::AutoRollback::Auto,
        enforcement: sentinel_shared::core::enforcement::Enforcement::Enforce,
        holder: by.clone(),
    };
    let released = rollbacker.unlock(&app, &branch).await?;
    if json {
        let value = serde_json::json!({
            "app": app.as_str(),
            "branch": branch.as_str(),
            "unlocked": released.is_some(),
            "by": by,
            "autoBuild": released.as_ref().map(|l| l.auto_build_before != Some(false)),
            "lock": released,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    match released {
        Some(lock) if lock.auto_build_before == Some(false) => println!(
            "unlocked by {by}: auto-build stays off, as it was before the lock (was {})",
            lock.describe()
        ),
        Some(lock) => println!(
            "unlocked by {by}: auto-build is on again (was {})",
            lock.describe()
        ),
        None => println!("{branch} has no lock; nothing changed"),
    }
    Ok(ExitCode::SUCCESS)
}
