//! `sentinel diagnose`: a failed build's log explained, streamed through
//! the diagnosis engine: synchronous, without the async runtime.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::{render, term};

#[derive(clap::Args)]
pub struct Args {
    /// The log file, or `-` for standard input. Streamed: any size.
    file: String,
    /// Print JSON: {"category","title","transient","fix","evidence":[{"line","text"}],"secondary":[…],"exitCode",…}.
    #[arg(long)]
    json: bool,
    /// Print the catalogue's trigger literals as `grep -E -f` patterns.
    #[arg(long, hide = true)]
    print_patterns: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let Args {
        file,
        json,
        print_patterns,
    } = args;
    if *print_patterns {
        for p in sentinel_shared::diagnose::trigger_patterns() {
            println!("{p}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let progress = term::Progress::start(&format!("reading {file}"));
    let diagnosis = if file == "-" {
        sentinel_shared::diagnose::diagnose_reader(std::io::stdin().lock())
            .context("reading standard input")?
    } else {
        let f = std::fs::File::open(file).with_context(|| file.to_owned())?;
        sentinel_shared::diagnose::diagnose_reader(f).with_context(|| file.to_owned())?
    };
    drop(progress);
    if *json {
        println!("{}", serde_json::to_string_pretty(&diagnosis)?);
    } else {
        print!("{}", render::diagnosis(&diagnosis));
    }
    Ok(ExitCode::SUCCESS)
}
