//! `sentinel cleanup`: retention and reconciliation as the daily run does
//! them, in the stack's watch scope; `--dry-run` changes nothing.

use std::process::ExitCode;

use anyhow::{Context, Result};
use sentinel_shared::adapters::Aws;
use sentinel_shared::core::model::AppId;
use sentinel_shared::lambda::aws;

use crate::commands::Ctx;
use crate::{render, stack, term};

#[derive(clap::Args)]
pub struct Args {
    /// Say what it would do, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Limit the run to this app's items and branches (repeatable;
    /// default: the whole table).
    #[arg(long = "app")]
    only_apps: Vec<AppId>,
    /// The apps whose branches are reconciled: the stack's watched apps
    /// (none: every app).
    #[arg(long = "watched", env = "SENTINEL_APP_IDS", value_delimiter = ',')]
    watched_apps: Vec<AppId>,
    /// The watched branch patterns: the stack's WatchedBranches
    /// (`main,release/*`, `!` excludes; none: every branch).
    #[arg(long = "branches", env = "SENTINEL_BRANCHES")]
    watched_branches: Option<String>,
    /// The watched CloudFormation stacks: the stack's WatchedStacks
    /// (names or `shop-*` patterns; none: no stack is reconciled).
    #[arg(long = "stacks", env = "SENTINEL_STACKS")]
    watched_stacks: Option<String>,
    /// Days deployment records are kept: the stack's RetentionDays
    /// (required: a command that deletes never guesses it).
    #[arg(long, env = "SENTINEL_RETENTION_DAYS")]
    retention_days: Option<u32>,
    /// The stack's event bus (for "Cleanup Completed" and reconciled
    /// events); a dry run publishes nothing and does not need it.
    #[arg(long, env = "SENTINEL_EVENT_BUS")]
    bus: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args, ctx: &Ctx) -> Result<ExitCode> {
    let Args {
        dry_run,
        only_apps,
        watched_apps,
        watched_branches,
        watched_stacks,
        retention_days,
        bus,
        json,
    } = args;
    let from_stack = ctx.stack.as_ref();
    let environment = ctx.environment()?;
    let retention_days = stack::settle(
        retention_days,
        from_stack.map(|s| s.retention_days),
        "--retention-days (SENTINEL_RETENTION_DAYS)",
        "RetentionDays",
    )?
    .context(
        "cleanup needs the stack's retention: pass --stack, or --retention-days N \
         (SENTINEL_RETENTION_DAYS, the stack's RetentionDays parameter); it never guesses",
    )?;
    let bus = ctx.bus(bus)?;
    let bus = match (bus, dry_run) {
        (Some(bus), _) => Some(bus),
        (None, true) => None,
        (None, false) => anyhow::bail!(
            "cleanup publishes \"Cleanup Completed\" and reconciled events: pass --bus \
             or set SENTINEL_EVENT_BUS (a --dry-run needs neither)"
        ),
    };
    let scope =
        match stack::watch_scope(from_stack, watched_apps, watched_branches, watched_stacks)? {
            Some(scope) => scope,
            // A dry run changes nothing: it may look at every branch.
            None if dry_run => sentinel_shared::core::scope::Scope::default(),
            None => anyhow::bail!(
                "cleanup acts only on the stack's watch scope: pass --stack, or --branches \
             (SENTINEL_BRANCHES, the stack's WatchedBranches) and --watched; it never guesses"
            ),
        };
    let (store, amplify, publisher) = ctx.operator(bus.as_deref()).await?;
    let cloudformation = sentinel_shared::adapters::cloudformation::CloudFormationClient::new(
        aws_sdk_cloudformation::Client::new(&aws::load().await),
    );
    let cleanup = sentinel_shared::cleanup::Cleanup::<Aws> {
        store: &store,
        amplify: &amplify,
        cloudformation: &cloudformation,
        publisher: &publisher,
        environment,
        retention: sentinel_shared::cleanup::Retention {
            deployment_days: retention_days,
            ..Default::default()
        },
        scope: &scope,
        only_apps: &only_apps,
        dry_run,
    };
    let progress = term::Progress::start(if dry_run {
        "planning the cleanup: reading the table and Amplify"
    } else {
        "cleaning up: reading the table and Amplify, then changing"
    });
    let report = cleanup.run(chrono::Utc::now()).await?;
    drop(progress);
    if json {
        println!("{}", serde_json::to_string_pretty(&report.detailed_json())?);
    } else {
        print!("{}", render::cleanup(&report));
    }
    Ok(ExitCode::SUCCESS)
}
