//! `sentinel validate`: a build's configuration checked on this machine by
//! the validator's engine: exit 0 without errors, 1 with.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use sentinel_shared::core::model::Environment;
use sentinel_shared::policy::BranchPolicy;
use sentinel_shared::validate::{self, Platform, local};

use crate::commands::Ctx;
use crate::{exit, render};

#[derive(clap::Args)]
pub struct Args {
    /// Directory holding amplify.yml, package.json, package-lock.json.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Read variables from this file (KEY=VALUE) instead of the process environment.
    #[arg(long)]
    env_file: Option<PathBuf>,
    /// WEB (static) or WEB_COMPUTE (SSR).
    #[arg(long, default_value = "WEB_COMPUTE", value_parser = parse_platform)]
    platform: Platform,
    /// Policy file (YAML or JSON); the built-in Next.js policy otherwise.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Memory of the build instance in GiB (8, 16 or 72).
    #[arg(long, default_value_t = 8)]
    memory_gib: u32,
    /// Findings as JSON, with their rule ids.
    #[arg(long)]
    json: bool,
}

fn parse_platform(raw: &str) -> Result<Platform, String> {
    Platform::parse(raw).ok_or_else(|| format!("{raw:?} is not WEB or WEB_COMPUTE"))
}

pub fn run(args: Args, ctx: &Ctx) -> Result<ExitCode> {
    let Args {
        dir,
        env_file,
        platform,
        policy,
        memory_gib,
        json,
    } = args;
    let policy = match &policy {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
            BranchPolicy::parse(&text, &path.display().to_string())?
        }
        None => BranchPolicy::default(),
    };
    let input = local::input_from_dir(
        &dir,
        env_file.as_deref(),
        std::env::vars(),
        ctx.environment.unwrap_or(Environment::Dev),
        Some(platform),
        memory_gib,
    )?;
    let mut input = input;
    if env_file.is_none() {
        // A shell's environment holds far more than the app's
        // variables: only those the policy names count as declared.
        input.declared = policy
            .required
            .values()
            .flatten()
            .chain(&policy.optional)
            .filter(|name| input.variables.contains_key(*name))
            .cloned()
            .collect();
    }
    let report = validate::validate(&input, &policy)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render::report(&report));
    }
    Ok(ExitCode::from(if report.has_errors() {
        exit::FINDING
    } else {
        exit::SUCCESS
    }))
}
