//! `kallglot completion bash|zsh|fish|powershell`: prints a completion script.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::Failure;

pub fn run(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "kallglot", &mut script);
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .map_err(Failure::output)
}
