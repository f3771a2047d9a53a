//! `sentinel completions SHELL`: the shell completion script, from the
//! command line's own definition.

use std::process::ExitCode;

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

/// `cli`: the whole command line's definition (`Cli::command()`, which
/// `main.rs` owns).
pub fn run(args: Args, mut cli: clap::Command) -> Result<ExitCode> {
    clap_complete::generate(args.shell, &mut cli, "sentinel", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
