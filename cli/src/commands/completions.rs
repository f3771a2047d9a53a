//! `sentinel completions SHELL`: the shell completion script, from the
//! command line's own definition.

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

#[derive(clap::Args)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

pub fn run(args: Args) -> Result<ExitCode> {
    clap_complete::generate(
        args.shell,
        &mut crate::Cli::command(),
        "sentinel",
        &mut std::io::stdout(),
    );
    Ok(ExitCode::SUCCESS)
}
