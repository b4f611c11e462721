//! `etoro-token completions <SHELL>`: the shell completion script, from clap's own description of the command
//! line (`clap_complete`), so it never falls behind a flag.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::args::Cli;
use crate::cmd::raw;
use crate::exit::Exit;

const EXAMPLES: &str = "\
Examples:
  etoro-token completions bash > ~/.local/share/bash-completion/completions/etoro-token
  etoro-token completions zsh > \"${fpath[1]}/_etoro-token\"
  etoro-token completions fish > ~/.config/fish/completions/etoro-token.fish
  etoro-token completions powershell >> $PROFILE";

/// `etoro-token completions`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// Prints the script on standard output.
pub fn run(args: &CompletionsArgs) -> Exit {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "etoro-token", &mut script);
    raw::bytes(&script).err().unwrap_or(Exit::Success)
}
