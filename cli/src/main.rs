//! `sentinel`: the operator CLI. It uses the same engine and the same table,
//! through the same adapters, as the functions.
//!
//! Here: the global flags, the commands (one variant each, its arguments
//! and its `run` in `commands/`), the dispatch and the exit codes.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand};
use sentinel_shared::core::model::Environment;

// `doctor` is the checks' module; its command is `commands::doctor`.
use commands::{
    Ctx, alert, check, cleanup, completions, deployments, diagnose, dlq, github, metrics, policy,
    report, rollback, validate,
};

mod commands;
mod doctor;
mod exit;
mod render;
mod stack;
mod term;

#[derive(Parser)]
#[command(
    name = "sentinel",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SENTINEL_COMMIT"), ")"),
    about = "Deploy Sentinel operator CLI",
    after_help = exit::HELP
)]
struct Cli {
    /// DynamoDB table of the stack.
    #[arg(long, env = "SENTINEL_TABLE", global = true)]
    table: Option<String>,
    /// Environment (dev, staging, prod): the stack's, or the build's for `validate`.
    #[arg(long = "env", env = "SENTINEL_ENVIRONMENT", global = true)]
    environment: Option<Environment>,
    /// The deployed stack (`deploy-sentinel-prod`): its table, bus,
    /// environment, retention and watch scope are read from CloudFormation
    /// (outputs and parameters); a flag that disagrees is refused.
    #[arg(long, env = "SENTINEL_STACK", global = true)]
    stack: Option<String>,
    /// Show times in this machine's time zone instead of UTC.
    #[arg(long, global = true)]
    local: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report a deploy Sentinel cannot see (a PM2 script, a CI job):
    /// started, succeeded (with --url: health-checked; --wait for the
    /// verdict) or failed (with --log: its diagnosis, never the log).
    /// Prints the deploy id. The environment is --env (the stack's).
    Report(report::Args),
    /// List recorded deployments, newest first.
    Deployments(deployments::Args),
    /// Validate a build's configuration: exit 0 when no error (warnings
    /// allowed), 1 on errors, 2 on bad usage or unreadable input.
    Validate(validate::Args),
    /// Check a site like the health checker does: exit 0 healthy, 1
    /// unhealthy, 3 inconclusive, 2 bad usage.
    Check(check::Args),
    /// Read or write the validation policy of an app or branch.
    #[command(subcommand)]
    Policy(policy::Action),
    /// Roll a branch back to its last known good job (or --to JOB): the same
    /// path and guards as the automatic rollback; locks the branch.
    Rollback(rollback::Args),
    /// Release a branch's lock: auto-build as it was before the lock (a manual
    /// branch stays manual), recorded with who. Without a lock, nothing changes.
    Unlock(rollback::UnlockArgs),
    /// Delivery figures of the environment (--env) over a window: build
    /// success rate and durations, and the four DORA keys with their tier.
    /// Computed from the table like the metrics collector does; --app and
    /// --branch narrow it to an app's or a branch's deployments.
    Metrics(metrics::Args),
    /// Cleanup and reconciliation, as the daily run does: retention, state of
    /// deleted branches, stuck and missed jobs. --dry-run prints what would be
    /// done and changes nothing.
    Cleanup(cleanup::Args),
    /// The dead-letter queue: what is in it and why (`show`), and the
    /// redrive that sends each message back to its own source queue.
    Dlq(dlq::Args),
    /// Print a shell completion script: `sentinel completions bash >
    /// /etc/bash_completion.d/sentinel` (zsh: into a directory of
    /// `$fpath` as `_sentinel`; fish: `~/.config/fish/completions/`).
    Completions(completions::Args),
    /// Explain a failed build's log: the root cause, the fix, the evidence.
    Diagnose(diagnose::Args),
    /// Check the deployed stack (--stack) end to end: ✓ or ✗ with the fix
    /// for each piece; exit 0 when every check passes, 1 otherwise.
    Doctor(commands::doctor::Args),
    /// Alerts of the stack (--stack).
    #[command(subcommand)]
    Alert(alert::Action),
    /// GitHub: the App that writes verdicts where developers look.
    #[command(subcommand)]
    Github(github::Action),
}

fn main() -> ExitCode {
    term::default_sigpipe();
    let cli = Cli::parse();
    term::use_local_time(cli.local);
    // A diagnosis reads a file and needs neither AWS nor a runtime, whose
    // start-up would be a good part of a small log's time.
    let result = match &cli.command {
        Command::Diagnose(args) => diagnose::run(args),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
            .and_then(|runtime| runtime.block_on(run(cli))),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let (code, hint) = exit::classify(&e);
            eprintln!("sentinel: {e:#}");
            if let Some(hint) = hint {
                eprintln!("sentinel: {hint}");
            }
            ExitCode::from(code)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    // `github setup` makes no call: the stack may not be deployed yet.
    let read_stack = !matches!(cli.command, Command::Github(_));
    let ctx = &Ctx::settle(cli.table, cli.environment, cli.stack, read_stack).await?;
    match cli.command {
        Command::Report(args) => report::run(args, ctx).await,
        Command::Deployments(args) => deployments::run(args, ctx).await,
        Command::Validate(args) => validate::run(args, ctx),
        Command::Check(args) => check::run(args).await,
        Command::Policy(args) => policy::run(args, ctx).await,
        Command::Rollback(args) => rollback::run(args, ctx).await,
        Command::Unlock(args) => rollback::unlock(args, ctx).await,
        Command::Metrics(args) => metrics::run(args, ctx).await,
        Command::Cleanup(args) => cleanup::run(args, ctx).await,
        Command::Dlq(args) => dlq::run(args, ctx).await,
        Command::Completions(args) => completions::run(args, Cli::command()),
        Command::Diagnose(args) => diagnose::run(&args),
        Command::Doctor(args) => commands::doctor::run(args, ctx).await,
        Command::Alert(args) => alert::run(args, ctx).await,
        Command::Github(args) => github::run(args, ctx),
    }
}
