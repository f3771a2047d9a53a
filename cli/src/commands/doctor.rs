//! `sentinel doctor`: the deployed stack checked end to end (the checks
//! are `crate::doctor`); exit 0 when every check passes, 1 otherwise.

use std::process::ExitCode;

use anyhow::{Context, Result};
use sentinel_shared::lambda::aws;

use crate::commands::Ctx;
use crate::{doctor, exit, term};

#[derive(clap::Args)]
pub struct Args {
    /// The checklist as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args, ctx: &Ctx) -> Result<ExitCode> {
    let stack = ctx
        .stack
        .as_ref()
        .context("doctor checks a deployed stack: pass --stack NAME")?;
    let sdk = aws::load().await;
    let progress = term::Progress::start(&format!("checking {}", stack.name));
    let report = doctor::assess(&doctor::gather(&sdk, stack).await?);
    drop(progress);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", doctor::render(&report));
    }
    Ok(ExitCode::from(if report.passed {
        exit::SUCCESS
    } else {
        exit::FINDING
    }))
}
